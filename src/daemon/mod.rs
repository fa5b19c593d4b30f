//! The daemon (`idcheck serve`): wires the configuration, the store, the reader monitor, the
//! verification jobs and the local API together, and owns the process's life: readiness and
//! watchdog notifications to systemd, SIGTERM (stop taking work, let the read in hand finish or
//! abort it, close the store), SIGHUP (reload what can change safely). Nothing here decides a
//! verdict: jobs call `verify`, and `state::Shared::unavailable_reason` is the one place that
//! says the station cannot judge.

pub mod api;
mod audit_api;
pub mod client;
pub mod config;
pub mod events;
pub mod jobs;
mod logging;
pub mod qc;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use crate::audit::SignedChain;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use crate::audit::{AuditEvent, StationKey};
use idcheck_pcsc::{Monitor, MonitorHandle, MonitorOptions, ReaderEvent};
use idcheck_store::Store;
use config::{Config, ConfigError};
use events::DaemonEvent;
use state::Shared;

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot start: logging: {0}")]
    Logging(String),
    #[error("cannot start: tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot start: station key: {0}")]
    StationKey(#[source] crate::audit::AuditError),
    /// The API socket's mode, binding, group or token file.
    #[error("cannot start: api socket {what}: {message}")]
    Socket { what: &'static str, message: String },
    #[error("cannot start: cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("cannot start: {signal} handler: {source}")]
    Signal { signal: &'static str, source: std::io::Error },
}

fn socket_err(what: &'static str) -> impl Fn(String) -> DaemonError {
    move |message| DaemonError::Socket { what, message }
}

/// Appends what the daemon itself logs (start, stop, configuration loads, maintenance) to the
/// auditors' chain; verifications and imports are appended by the store in the same transaction
/// as their rows. A failure makes the store faulty: the station does not judge cards while its
/// log cannot be written.
pub fn audit_log(shared: &Shared, event: AuditEvent) {
    let kind = event.kind();
    if let Err(e) = shared.with_store(|s| s.audit_append(&event)) {
        tracing::error!(error = %e, kind = kind.as_str(), "audit entry not written");
    }
}

/// Runs the daemon until SIGTERM / SIGINT. Blocking; builds its own runtime.
pub fn serve(config_path: &Path) -> Result<(), DaemonError> {
    let config = Config::load(config_path)?;
    let log = logging::init(&config.log)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(32)
        .thread_name("idcheck")
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    rt.block_on(run(config_path.to_path_buf(), config, log))
}

async fn run(config_path: PathBuf, config: Config, log: logging::LogHandle) -> Result<(), DaemonError> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %config_path.display(), "idcheck starting");
    let config_text = std::fs::read(&config_path).unwrap_or_default();

    // the store: a failure is a station fault (unavailable), not a reason to stop
    let (store, store_fault) = match Store::open(&config.store.database) {
        Ok(s) => (Some(s), None),
        Err(e) => {
            tracing::error!(error = %e, "store unavailable at start");
            (None, Some(format!("store unavailable: {e}")))
        }
    };
    // the station key signs the audit chain; without it the log cannot be vouched for
    let key = StationKey::load_or_create(&config.audit.key).map_err(DaemonError::StationKey)?;
    let start = crate::audit::key::daemon_start_event(&key);
    let shared = Shared::new(config_path.clone(), config.clone(), store, store_fault, Some(Arc::new(key)));
    audit_log(&shared, start);
    audit_log(&shared, AuditEvent::config_load(&config_path, &config_text));
    // sign the head now: entries left unsigned by an earlier crash get their signature at once
    checkpoint(&shared);

    // the reader monitor: its own thread, a bounded channel, a bridge thread into the state
    let monitor = start_monitor(shared.clone());

    // the API sockets
    let api = api::Api { shared: shared.clone(), jobs: Arc::new(jobs::Jobs::default()) };
    let mode = config.socket_mode().map_err(socket_err("mode"))?;
    let listener = api::bind_unix(&config.api.socket, mode, config.api.socket_group.as_deref()).map_err(socket_err("bind"))?;
    let mut servers = tokio::task::JoinSet::new();
    {
        let app = api::unix_router(api.clone()).into_make_service_with_connect_info::<api::UnixPeer>();
        let mut stop = shared.shutdown_signal();
        servers.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
    }
    if let Some(addr) = config.api.tcp {
        let token_file = config.api.token_file.clone().unwrap_or_default();
        let token = Arc::new(api::read_token(&token_file).map_err(socket_err("token"))?);
        let l = tokio::net::TcpListener::bind(addr).await.map_err(|source| DaemonError::Listen { addr, source })?;
        let app = api::tcp_router(api.clone(), token);
        let mut stop = shared.shutdown_signal();
        servers.spawn(async move {
            let _ = axum::serve(l, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
    }
    if let Some(path) = &config.api.auditor_socket {
        let l = api::bind_unix(path, mode, config.api.auditor_group.as_deref()).map_err(socket_err("auditor bind"))?;
        let app = audit_api::auditor_router(api.clone()).into_make_service_with_connect_info::<api::UnixPeer>();
        let mut stop = shared.shutdown_signal();
        servers.spawn(async move {
            let _ = axum::serve(l, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
    }
    tracing::info!(api = %api::describe(&config.api.socket, config.api.tcp), "listening");

    // housekeeping: watchdog, store recovery, audit checkpoints
    let housekeeping = tokio::spawn(housekeeping(shared.clone()));
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status("ready")]);

    // signals
    let mut term = signal(SignalKind::terminate()).map_err(|source| DaemonError::Signal { signal: "SIGTERM", source })?;
    let mut int = signal(SignalKind::interrupt()).map_err(|source| DaemonError::Signal { signal: "SIGINT", source })?;
    let mut hup = signal(SignalKind::hangup()).map_err(|source| DaemonError::Signal { signal: "SIGHUP", source })?;
    let reason = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => reload(&shared, &log),
        }
    };

    // shutdown: stop taking work; reads in hand get the grace period; then close everything
    tracing::info!(signal = reason, "shutting down");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping, sd_notify::NotifyState::Status("stopping")]);
    shared.emit(DaemonEvent::ShuttingDown);
    shared.begin_shutdown();
    let grace = Duration::from_secs(shared.config().jobs.shutdown_grace_secs) + Duration::from_secs(3);
    let _ = tokio::time::timeout(grace, async {
        while servers.join_next().await.is_some() {}
    })
    .await;
    housekeeping.abort();
    audit_log(&shared, AuditEvent::DaemonStop { reason: reason.into() });
    checkpoint(&shared);
    tokio::task::spawn_blocking(move || monitor.stop()).await.ok();
    drop(shared);
    tracing::info!("stopped");
    Ok(())
}

/// SIGHUP: reload the configuration; what cannot change without a restart is kept (and said).
fn reload(shared: &Arc<Shared>, log: &logging::LogHandle) {
    let path = shared.config_path.clone();
    let new = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "reload refused: the running configuration stays");
            return;
        }
    };
    let old = shared.config();
    let mut effective = new.clone();
    let kept = old.restart_only_changes(&new);
    if !kept.is_empty() {
        tracing::warn!(sections = ?kept, "these settings need a restart; kept as they were");
        effective.store.database = old.store.database.clone();
        effective.store.state_dir = old.store.state_dir.clone();
        effective.api = old.api.clone();
        effective.audit.key = old.audit.key.clone();
        effective.log.target = old.log.target.clone();
    }
    if let Err(e) = log.set_level(&effective.log.level) {
        tracing::warn!(error = %e, "log level not changed");
    }
    shared.set_config(effective);
    shared.prune_readers();
    let text = std::fs::read(&path).unwrap_or_default();
    audit_log(shared, AuditEvent::config_load(&path, &text));
    shared.emit(DaemonEvent::ConfigReloaded { path: path.display().to_string() });
    tracing::info!(config = %path.display(), "configuration reloaded");
}

/// Watchdog pings, store recovery probes, periodic audit checkpoints.
async fn housekeeping(shared: Arc<Shared>) {
    let mut usec = 0u64;
    let watchdog = sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2));
    let tick = watchdog.unwrap_or(Duration::from_secs(2)).min(Duration::from_secs(2));
    let mut last_checkpoint = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        if watchdog.is_some() {
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
        }
        if shared.store_fault().is_some() {
            let sh = shared.clone();
            let _ = tokio::task::spawn_blocking(move || sh.with_store(|s| s.schema_version())).await;
        }
        let every = Duration::from_secs(shared.config().audit.checkpoint_secs);
        if last_checkpoint.elapsed() >= every {
            last_checkpoint = tokio::time::Instant::now();
            let sh = shared.clone();
            let _ = tokio::task::spawn_blocking(move || checkpoint(&sh)).await;
        }
    }
}

/// Signs the audit chain's head with the station key (nothing when no entry is new).
fn checkpoint(shared: &Shared) {
    let Some(key) = shared.station_key.clone() else { return };
    match shared.with_store(|s| s.audit_checkpoint(&key)) {
        Ok(Some(c)) => tracing::debug!(?c, "audit checkpoint signed"),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "audit checkpoint not signed"),
    }
}

/// Starts the PC/SC monitor and the thread that applies its events to the state.
fn start_monitor(shared: Arc<Shared>) -> MonitorHandle {
    let (tx, rx) = mpsc::sync_channel::<ReaderEvent>(256);
    let handle = Monitor::spawn_with(tx, MonitorOptions { wait: Duration::from_millis(500), service_retry: Duration::from_millis(250) });
    let _ = std::thread::Builder::new().name("reader-events".into()).spawn(move || {
        for ev in rx {
            apply_reader_event(&shared, ev);
        }
    });
    handle
}

fn apply_reader_event(shared: &Shared, ev: ReaderEvent) {
    match ev {
        ReaderEvent::ReaderAdded { reader } => {
            if shared.reader_added(&reader) {
                tracing::info!(%reader, "reader added");
                shared.emit(DaemonEvent::ReaderAdded { reader });
            } else {
                tracing::debug!(%reader, "reader not used by the configuration");
            }
        }
        ReaderEvent::ReaderRemoved { reader } => {
            if shared.reader_removed(&reader) {
                tracing::warn!(%reader, "reader removed");
                shared.emit(DaemonEvent::ReaderRemoved { reader });
            }
        }
        ReaderEvent::CardInserted { reader, atr } => {
            if let Some(awaited) = shared.card_changed(&reader, true, Some(atr.clone()), false) {
                tracing::info!(%reader, awaited, "card inserted");
                shared.emit(DaemonEvent::CardInserted { reader, atr: hex::encode_upper(atr), awaited });
            }
        }
        ReaderEvent::CardUnresponsive { reader } => {
            if shared.card_changed(&reader, true, None, true).is_some() {
                tracing::warn!(%reader, "card in the field gives no ATR");
                shared.emit(DaemonEvent::CardUnresponsive { reader });
            }
        }
        ReaderEvent::CardRemoved { reader } => {
            if shared.card_changed(&reader, false, None, false).is_some() {
                tracing::info!(%reader, "card removed");
                shared.emit(DaemonEvent::CardRemoved { reader });
            }
        }
        ReaderEvent::ServiceDown { reason } => {
            tracing::error!(%reason, "smart-card service down");
            shared.set_pcsc_down(Some(reason.clone()));
            shared.emit(DaemonEvent::ServiceDown { reason });
        }
        ReaderEvent::ServiceUp => {
            tracing::info!("smart-card service up");
            shared.set_pcsc_down(None);
            shared.emit(DaemonEvent::ServiceUp);
        }
    }
}
