//! `idcheck serve`, `check-config` and `maintenance`: the daemon, its configuration check, and
//! the small client that switches planned maintenance through the daemon's socket.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use idcheck::daemon::client::{Client, ClientError};
use idcheck::daemon::config::{Config, DEFAULT_PATH};
use idcheck::daemon::{self, DaemonError};
use idcheck::wire::{MaintenanceChanged, MaintenanceRequest};

use super::{CliError, CliResult, EX_IOERR, EX_SOFTWARE};

/// sysexits EX_CONFIG: the configuration is wrong.
pub(super) const EX_CONFIG: u8 = 78;
/// sysexits EX_UNAVAILABLE: the daemon is not reachable.
pub(super) const EX_UNAVAILABLE: u8 = 69;

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long, default_value = DEFAULT_PATH, env = "IDCHECK_CONFIG")]
    config: PathBuf,
}

#[derive(Args)]
pub struct CheckConfigArgs {
    /// Configuration file (TOML).
    #[arg(default_value = DEFAULT_PATH)]
    config: PathBuf,
}

/// Where the daemon's API socket is: `--socket`, else the configuration's `api.socket`.
#[derive(Args, Clone)]
pub struct SocketArgs {
    /// The daemon's API socket.
    #[arg(long, env = "IDCHECK_SOCKET")]
    socket: Option<PathBuf>,
    /// Configuration file naming the socket (when --socket is not given).
    #[arg(long, default_value = DEFAULT_PATH, env = "IDCHECK_CONFIG")]
    config: PathBuf,
}

impl SocketArgs {
    pub(super) fn path(&self) -> Result<PathBuf, CliError> {
        match &self.socket {
            Some(s) => Ok(s.clone()),
            None => Ok(Config::load(&self.config).map_err(|e| CliError::new(EX_CONFIG, e.to_string()))?.api.socket),
        }
    }
}

#[derive(Subcommand)]
pub enum MaintenanceCmd {
    /// Start planned maintenance: every verification answers `unavailable` with the reason.
    On {
        /// Why (shown to kiosks and kept in the audit log).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        socket: SocketArgs,
    },
    /// End planned maintenance.
    Off {
        #[command(flatten)]
        socket: SocketArgs,
    },
    /// Show whether the station is in maintenance.
    Status {
        #[command(flatten)]
        socket: SocketArgs,
    },
}

pub fn serve(a: ServeArgs) -> CliResult {
    match daemon::serve(&a.config) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(DaemonError::Config(e)) => Err(CliError::new(EX_CONFIG, e.to_string())),
        Err(e) => Err(CliError::new(EX_SOFTWARE, e.to_string())),
    }
}

pub fn check_config(a: CheckConfigArgs) -> CliResult {
    let c = Config::load(&a.config).map_err(|e| CliError::new(EX_CONFIG, e.to_string()))?;
    println!("{}: ok", a.config.display());
    println!("  database      {}", c.store.database.display());
    println!("  trust         {}", c.trust.directory.display());
    println!("  readers       include {:?}, exclude {:?}", c.readers.include, c.readers.exclude);
    println!("  api socket    {} (mode {}, group {})", c.api.socket.display(), c.api.socket_mode, c.api.socket_group.as_deref().unwrap_or("-"));
    if let Some(t) = c.api.tcp {
        println!("  api tcp       {t}");
    }
    if let Some(s) = &c.api.auditor_socket {
        println!("  auditors      {}", s.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn maintenance(cmd: MaintenanceCmd) -> CliResult {
    let (socket, body) = match &cmd {
        MaintenanceCmd::On { reason, socket } => (socket, Some(MaintenanceRequest { on: true, reason: Some(reason.clone()) })),
        MaintenanceCmd::Off { socket } => (socket, Some(MaintenanceRequest { on: false, reason: None })),
        MaintenanceCmd::Status { socket } => (socket, None),
    };
    let path = socket.path()?;
    let client = Client::new(&path).map_err(|e| CliError::new(EX_SOFTWARE, e.to_string()))?;
    let out: Result<MaintenanceChanged, ClientError> = match &body {
        Some(b) => client.post_as("/v1/maintenance", b),
        None => client.get_as("/v1/maintenance"),
    };
    let v = out.map_err(|e| match e {
        ClientError::Refused { .. } | ClientError::Decode { .. } => CliError::new(EX_IOERR, format!("daemon refused: {e}")),
        e => CliError::new(EX_UNAVAILABLE, e.to_string()),
    })?;
    match &v.maintenance {
        Some(m) => println!("maintenance on since {}: {} (by {})", m.since, m.reason, m.by),
        None => println!("maintenance off"),
    }
    if let Some(w) = &v.warning {
        eprintln!("idcheck: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
