//! The daemon's shared state: the configuration in force, the verifier built from it, the store,
//! the readers and their cards (as the monitor reports them), planned maintenance, the station's
//! faults, the event bus and the shutdown signal. Owns the one answer to "can the station judge a
//! card right now?" (`Shared::unavailable_reason`): every cause of unavailability is decided here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::{broadcast, watch, Notify};

use super::config::Config;
use super::events::DaemonEvent;
use crate::audit::StationKey;
use idcheck_core::pki::TrustStore;
use idcheck_core::rules::RuleConfig;
use idcheck_store::Store;
use idcheck_verify::Verifier;

/// What the monitor last said about one reader's card.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardState {
    pub present: bool,
    pub atr: Option<Vec<u8>>,
    /// A card in the field that gave no ATR.
    pub unresponsive: bool,
    /// Counts insertions: a job that wants a freshly placed card waits for it to move.
    pub generation: u64,
}

/// One reader the station uses.
#[derive(Debug)]
pub struct ReaderSlot {
    pub card: CardState,
    /// Held by the job using the reader: one read at a time per reader.
    pub busy: Arc<tokio::sync::Mutex<()>>,
    /// Jobs waiting for a card on this reader.
    pub waiting: usize,
}

/// Planned maintenance, remembered across restarts (state_dir/maintenance.json).
pub use crate::wire::Maintenance;

/// Station faults that make it unable to judge (besides maintenance and readers).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// pcscd not reachable (the monitor's last word).
    pub pcsc_down: Option<String>,
    /// The store could not be opened or written.
    pub store: Option<String>,
}

pub struct Shared {
    pub config_path: PathBuf,
    config: RwLock<Arc<Config>>,
    verifier: RwLock<Arc<Verifier>>,
    store: Mutex<Option<Store>>,
    faults: Mutex<Faults>,
    readers: Mutex<BTreeMap<String, ReaderSlot>>,
    maintenance: Mutex<Option<Maintenance>>,
    pub events: broadcast::Sender<DaemonEvent>,
    /// Woken on every reader, card, fault or maintenance change: waiting jobs look again.
    pub changed: Notify,
    shutdown: watch::Sender<bool>,
    /// The station's Ed25519 key: signs the audit chain's checkpoints.
    pub station_key: Option<Arc<StationKey>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(
        config_path: PathBuf,
        config: Config,
        store: Option<Store>,
        store_fault: Option<String>,
        station_key: Option<Arc<StationKey>>,
    ) -> Arc<Shared> {
        let verifier = build_verifier(&config);
        let maintenance = load_maintenance(&config.store.state_dir);
        let (events, _) = broadcast::channel(1024);
        let (shutdown, _) = watch::channel(false);
        Arc::new(Shared {
            config_path,
            config: RwLock::new(Arc::new(config)),
            verifier: RwLock::new(Arc::new(verifier)),
            store: Mutex::new(store),
            faults: Mutex::new(Faults { pcsc_down: None, store: store_fault }),
            readers: Mutex::new(BTreeMap::new()),
            maintenance: Mutex::new(maintenance),
            events,
            changed: Notify::new(),
            shutdown,
            station_key,
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn verifier(&self) -> Arc<Verifier> {
        self.verifier.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts a reloaded configuration in force (the caller checked what may change).
    pub fn set_config(&self, config: Config) {
        let verifier = build_verifier(&config);
        *self.verifier.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(verifier);
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        self.changed.notify_waiters();
    }

    /// Re-reads the configured trust directory and puts it in force (the rules stay as
    /// configured). A directory that does not load is refused with the reason and the running
    /// trust store stays: a half-loaded store is worse than the one in force, and an import
    /// checks the directory before it asks. The answer: (directory, CSCAs, CRLs).
    pub fn reload_trust(&self) -> Result<(PathBuf, usize, usize), String> {
        let config = self.config();
        let dir = config.trust.directory.clone();
        let trust = TrustStore::load_dir(&dir).map_err(|e| e.to_string())?;
        let counts = (dir, trust.len(), trust.crls().len());
        *self.verifier.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(verifier_with(&config, trust));
        self.changed.notify_waiters();
        Ok(counts)
    }

    pub fn emit(&self, e: DaemonEvent) {
        let _ = self.events.send(e);
    }

    // ------------------------------------------------------------------ shutdown

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
        self.changed.notify_waiters();
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    // ------------------------------------------------------------------ store

    /// Runs `f` with the open store, reopening it if a previous open failed. The error is the
    /// store fault (also remembered for `unavailable_reason` until a later call succeeds).
    pub fn with_store<T, E: std::fmt::Display>(&self, f: impl FnOnce(&Store) -> Result<T, E>) -> Result<T, String> {
        let mut guard = lock(&self.store);
        if guard.is_none() {
            let path = self.config().store.database.clone();
            match Store::open(&path) {
                Ok(s) => *guard = Some(s),
                Err(e) => {
                    let msg = format!("store unavailable: {e}");
                    self.set_store_fault(Some(msg.clone()));
                    return Err(msg);
                }
            }
        }
        let Some(store) = guard.as_ref() else { return Err("store unavailable".into()) };
        match f(store) {
            Ok(v) => {
                self.set_store_fault(None);
                Ok(v)
            }
            Err(e) => {
                let msg = format!("store not writable: {e}");
                // a broken connection is reopened next time
                *guard = None;
                self.set_store_fault(Some(msg.clone()));
                Err(msg)
            }
        }
    }

    /// Reads from the store without touching the fault state (a failed read is the caller's
    /// error, not a station fault).
    pub fn read_store<T, E: std::fmt::Display>(&self, f: impl FnOnce(&Store) -> Result<T, E>) -> Result<T, String> {
        let mut guard = lock(&self.store);
        if guard.is_none() {
            let path = self.config().store.database.clone();
            *guard = Some(Store::open(&path).map_err(|e| format!("store unavailable: {e}"))?);
        }
        match guard.as_ref() {
            Some(store) => f(store).map_err(|e| e.to_string()),
            None => Err("store unavailable".into()),
        }
    }

    pub fn set_store_fault(&self, fault: Option<String>) {
        let changed = {
            let mut f = lock(&self.faults);
            let changed = f.store != fault;
            f.store = fault.clone();
            changed
        };
        if changed {
            match &fault {
                Some(m) => tracing::warn!(fault = %m, "station unavailable: store"),
                None => tracing::info!("store writable again"),
            }
            self.changed.notify_waiters();
        }
    }

    pub fn store_fault(&self) -> Option<String> {
        lock(&self.faults).store.clone()
    }

    // ------------------------------------------------------------------ pc/sc and readers

    pub fn set_pcsc_down(&self, reason: Option<String>) {
        lock(&self.faults).pcsc_down = reason;
        self.changed.notify_waiters();
    }

    pub fn pcsc_down(&self) -> Option<String> {
        lock(&self.faults).pcsc_down.clone()
    }

    /// Adds a reader the configuration uses (ignored otherwise). True when added.
    pub fn reader_added(&self, name: &str) -> bool {
        if !self.config().uses_reader(name) {
            return false;
        }
        let mut r = lock(&self.readers);
        let added = !r.contains_key(name);
        r.entry(name.to_string()).or_insert_with(|| ReaderSlot {
            card: CardState::default(),
            busy: Arc::new(tokio::sync::Mutex::new(())),
            waiting: 0,
        });
        drop(r);
        self.changed.notify_waiters();
        added
    }

    pub fn reader_removed(&self, name: &str) -> bool {
        let removed = lock(&self.readers).remove(name).is_some();
        self.changed.notify_waiters();
        removed
    }

    /// Records a card change; returns whether the reader is one the station uses, and whether a
    /// job waits on it.
    pub fn card_changed(&self, name: &str, present: bool, atr: Option<Vec<u8>>, unresponsive: bool) -> Option<bool> {
        let mut r = lock(&self.readers);
        let slot = r.get_mut(name)?;
        if present && !slot.card.present {
            slot.card.generation += 1;
        }
        slot.card.present = present;
        slot.card.atr = atr;
        slot.card.unresponsive = unresponsive;
        let awaited = slot.waiting > 0;
        drop(r);
        self.changed.notify_waiters();
        Some(awaited)
    }

    /// Every reader in use with its card and whether a job holds it.
    pub fn readers(&self) -> Vec<(String, CardState, bool)> {
        lock(&self.readers)
            .iter()
            .map(|(n, s)| (n.clone(), s.card.clone(), s.busy.try_lock().is_err()))
            .collect()
    }

    /// The reader slot's card state and busy lock.
    pub fn reader(&self, name: &str) -> Option<(CardState, Arc<tokio::sync::Mutex<()>>)> {
        lock(&self.readers).get(name).map(|s| (s.card.clone(), s.busy.clone()))
    }

    pub fn set_waiting(&self, name: &str, delta: isize) {
        if let Some(s) = lock(&self.readers).get_mut(name) {
            s.waiting = s.waiting.saturating_add_signed(delta);
        }
    }

    /// Drops readers the (reloaded) configuration no longer uses.
    pub fn prune_readers(&self) {
        let config = self.config();
        lock(&self.readers).retain(|n, _| config.uses_reader(n));
    }

    // ------------------------------------------------------------------ maintenance

    pub fn maintenance(&self) -> Option<Maintenance> {
        lock(&self.maintenance).clone()
    }

    /// Sets or clears planned maintenance and remembers it on disk. The error says why it could
    /// not be remembered (it is in force anyway).
    pub fn set_maintenance(&self, m: Option<Maintenance>) -> Result<(), String> {
        *lock(&self.maintenance) = m.clone();
        self.changed.notify_waiters();
        save_maintenance(&self.config().store.state_dir, m.as_ref())
    }

    // ------------------------------------------------------------------ the one decision

    /// Why the station cannot judge a card on `reader` (any reader when `None`) right now, or
    /// `None` when it can. Order: maintenance, shutdown, pcscd, store, disk, trust, readers.
    pub fn unavailable_reason(&self, reader: Option<&str>) -> Option<String> {
        if let Some(m) = self.maintenance() {
            return Some(format!("under maintenance: {}", m.reason));
        }
        if self.shutting_down() {
            return Some("the station is shutting down".into());
        }
        if let Some(r) = self.pcsc_down() {
            return Some(format!("smart-card service unavailable: {r}"));
        }
        if let Some(r) = self.store_fault() {
            return Some(r);
        }
        let config = self.config();
        if let Some(r) = disk_space_fault(&config.store.database, config.store.min_free_mib) {
            return Some(r);
        }
        if self.verifier().trust.is_empty() {
            return Some(format!(
                "no trust anchors in {}: passive authentication impossible",
                config.trust.directory.display()
            ));
        }
        let readers = lock(&self.readers);
        match reader {
            Some(name) if !readers.contains_key(name) => Some(format!("reader {name:?} is not connected")),
            None if readers.is_empty() => Some("no card reader connected".into()),
            _ => None,
        }
    }
}

/// The verifier a configuration asks for (trust anchors loaded now; a directory that cannot be
/// read gives an empty trust store, which `unavailable_reason` reports).
fn build_verifier(config: &Config) -> Verifier {
    let trust = match TrustStore::load_dir(&config.trust.directory) {
        Ok(t) => t.with_revocation_policy(config.trust.revocation),
        Err(e) => {
            tracing::warn!(error = %e, "trust anchors not loaded");
            TrustStore::empty()
        }
    };
    verifier_with(config, trust)
}

/// The verifier of `config` with the trust store `trust`.
fn verifier_with(config: &Config, trust: TrustStore) -> Verifier {
    let mut v = Verifier::new(trust);
    v.rules = RuleConfig {
        min_fingerprint_quality: config.thresholds.min_fingerprint_quality,
        min_minutiae: config.thresholds.min_minutiae,
        ..RuleConfig::default()
    };
    v
}

/// "disk full" when the database's file system has less than `min_free_mib` available.
fn disk_space_fault(db: &Path, min_free_mib: u64) -> Option<String> {
    if min_free_mib == 0 {
        return None;
    }
    let dir = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    #[allow(clippy::useless_conversion)] // the field types differ between targets
    let free = u64::from(st.blocks_available()).saturating_mul(st.fragment_size());
    let need = min_free_mib.saturating_mul(1 << 20);
    (free < need).then(|| format!("disk full: {} MiB free on {}, {} MiB needed", free >> 20, dir.display(), min_free_mib))
}

const MAINTENANCE_FILE: &str = "maintenance.json";

fn load_maintenance(state_dir: &Path) -> Option<Maintenance> {
    let text = std::fs::read_to_string(state_dir.join(MAINTENANCE_FILE)).ok()?;
    match serde_json::from_str(&text) {
        Ok(m) => Some(m),
        Err(e) => {
            // a damaged file must not silently end maintenance
            tracing::warn!(error = %e, "maintenance.json unreadable: staying in maintenance");
            Some(Maintenance { reason: "maintenance state file unreadable".into(), by: "idcheck".into(), since: String::new() })
        }
    }
}

fn save_maintenance(state_dir: &Path, m: Option<&Maintenance>) -> Result<(), String> {
    let path = state_dir.join(MAINTENANCE_FILE);
    match m {
        None => match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
        },
        Some(m) => {
            std::fs::create_dir_all(state_dir).map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
            let tmp = state_dir.join(".maintenance.json.tmp");
            let text = serde_json::to_string_pretty(m).map_err(|e| e.to_string())?;
            std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, &path).map_err(|e| format!("cannot rename to {}: {e}", path.display()))
        }
    }
}
