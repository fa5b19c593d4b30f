//! `idcheck serve`, `check-config` and `maintenance`: the daemon and its small clients.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, CliResult, EX_SOFTWARE};

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file.
    #[arg(long, default_value = "/etc/idcheck/idcheck.toml")]
    config: PathBuf,
}

#[derive(Args)]
pub struct CheckConfigArgs {
    /// Configuration file.
    #[arg(default_value = "/etc/idcheck/idcheck.toml")]
    config: PathBuf,
}

#[derive(Subcommand)]
pub enum MaintenanceCmd {
    /// Start planned maintenance.
    On,
}

pub fn serve(a: ServeArgs) -> CliResult {
    Err(CliError::new(EX_SOFTWARE, format!("serve is not built yet ({})", a.config.display())))
}

pub fn check_config(a: CheckConfigArgs) -> CliResult {
    Err(CliError::new(EX_SOFTWARE, format!("check-config is not built yet ({})", a.config.display())))
}

pub fn maintenance(cmd: MaintenanceCmd) -> CliResult {
    match cmd {
        MaintenanceCmd::On => Err(CliError::new(EX_SOFTWARE, "maintenance is not built yet")),
    }
}
