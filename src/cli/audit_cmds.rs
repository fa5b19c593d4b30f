//! `idcheck audit`: export and verify the auditors' tamper-evident log (issue 5).

use clap::Subcommand;

use super::{CliError, CliResult, EX_SOFTWARE};

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check the chain and its signatures (not built yet).
    Verify,
}

pub fn audit(cmd: AuditCmd) -> CliResult {
    match cmd {
        AuditCmd::Verify => Err(CliError::new(EX_SOFTWARE, "audit verify is not built yet")),
    }
}
