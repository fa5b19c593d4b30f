//! Logging of the daemon (tracing): to journald when run by systemd (JOURNAL_STREAM set, or
//! `log.target = "journald"`), to stderr otherwise; the level reloadable on SIGHUP. Info-level
//! events carry ids, reader names, statuses and causes, never personal text or biometrics.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use super::config::{ConfigError, LogConfig};
use super::DaemonError;

/// Changes the level of the running subscriber.
pub struct LogHandle(reload::Handle<EnvFilter, Registry>);

impl LogHandle {
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        let f = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
        self.0.reload(f).map_err(|e| e.to_string())
    }
}

/// Installs the global subscriber.
pub fn init(cfg: &LogConfig) -> Result<LogHandle, DaemonError> {
    let filter = EnvFilter::try_new(&cfg.level).map_err(|e| {
        DaemonError::Config(ConfigError::Invalid { path: "log.level".into(), key: "log.level", message: e.to_string() })
    })?;
    let (filter, handle) = reload::Layer::new(filter);
    let journald = match cfg.target.as_str() {
        "journald" => true,
        "stderr" => false,
        _ => std::env::var_os("JOURNAL_STREAM").is_some(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if journald {
        match tracing_journald::layer() {
            Ok(l) => registry.with(l.with_syslog_identifier("idcheck".into())).try_init(),
            Err(e) => {
                eprintln!("idcheck: journald not reachable ({e}); logging to stderr");
                registry.with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)).try_init()
            }
        }
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(std::io::stderr().is_terminal()))
            .try_init()
    };
    result.map_err(|e| DaemonError::Logging(e.to_string()))?;
    Ok(LogHandle(handle))
}
