//! The daemon's configuration: one TOML file (default /etc/idcheck/idcheck.toml), parsed
//! strictly (an unknown key is an error naming the key and its line), validated as a whole
//! (`Config::load`), and split into what SIGHUP may change and what needs a restart
//! (`Config::reload_diff`). Owns no I/O beyond reading the file and checking referenced paths.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use idcheck_core::pki::RevocationPolicy;

/// The default configuration file.
pub const DEFAULT_PATH: &str = "/etc/idcheck/idcheck.toml";

/// A configuration that cannot be used, with the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("configuration {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("configuration {path}: `{key}`: {message}")]
    Invalid { path: PathBuf, key: &'static str, message: String },
}

/// The whole configuration. Every section and key is optional except where said; defaults suit
/// a station PC installed by the package (systemd's StateDirectory / RuntimeDirectory).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub store: StoreConfig,
    pub trust: TrustConfig,
    pub readers: ReadersConfig,
    pub jobs: JobsConfig,
    pub thresholds: ThresholdsConfig,
    pub api: ApiConfig,
    pub audit: AuditConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The SQLite database (records, verifications, audit log).
    pub database: PathBuf,
    /// Below this much free space on the database's file system the station is unavailable
    /// ("disk full") rather than risking a verdict it cannot store.
    pub min_free_mib: u64,
    /// Where planned maintenance is remembered across restarts.
    pub state_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustConfig {
    /// Directory of CSCA certificates (PEM or DER). Without anchors every verification is
    /// `unavailable` (no chip can be authenticated): the station's fault, never the card's.
    /// CRLs (`*.crl`) published by those CSCAs sit in the same directory.
    pub directory: PathBuf,
    /// A CSCA without a current CRL: `warn` (the default: the verdict stands, with a not-checked
    /// note) or `require` (the verification is `unavailable` until a current CRL is imported).
    pub revocation: RevocationPolicy,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReadersConfig {
    /// Readers to use: a reader is used when its name contains one of these (case-insensitive);
    /// `["*"]` (the default) uses every reader.
    pub include: Vec<String>,
    /// Readers never used, same matching; wins over `include`.
    pub exclude: Vec<String>,
    /// Bound on one APDU exchange, milliseconds.
    pub exchange_timeout_ms: u64,
    /// Whole-read attempts when the card leaves the field mid-read.
    pub read_attempts: u32,
    /// Deadline of one whole read (all attempts), seconds; past it the read is a cause-3 timeout.
    pub read_deadline_secs: u64,
    /// Access control: `auto` (PACE when EF.CardAccess offers it, else BAC), `bac`, `pace`.
    pub access: AccessSetting,
}

/// `readers.access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccessSetting {
    #[default]
    Auto,
    Bac,
    Pace,
}

impl AccessSetting {
    pub fn policy(self) -> idcheck_chip::AccessPolicy {
        match self {
            AccessSetting::Auto => idcheck_chip::AccessPolicy::Auto,
            AccessSetting::Bac => idcheck_chip::AccessPolicy::BacOnly,
            AccessSetting::Pace => idcheck_chip::AccessPolicy::PaceOnly,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How long a verification waits for a card by default, seconds.
    pub card_wait_secs: u64,
    /// The longest wait a client may ask for, seconds.
    pub max_card_wait_secs: u64,
    /// How many verifications may wait or run at once (beyond: 503, try later).
    pub max_pending: usize,
    /// On SIGTERM, how long a read in hand may take to finish before it is aborted, seconds.
    pub shutdown_grace_secs: u64,
}

/// Optional overrides of the cause-4 rule settings. Comparison thresholds are calibrated
/// (calibration/*.json, compiled in) and are not configurable: a station must not loosen them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThresholdsConfig {
    /// Fingerprint quality pass mark (resident-id.md: 55). May only be raised.
    pub min_fingerprint_quality: u8,
    /// Fewest minutiae of a usable template. May only be raised.
    pub min_minutiae: usize,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// The kiosk / QC API socket (HTTP/JSON). Who may connect is decided by its group and mode.
    pub socket: PathBuf,
    /// Group owning the socket (a name); unset keeps the daemon's group.
    pub socket_group: Option<String>,
    /// Socket permissions, octal (default "0660": owner and group).
    pub socket_mode: String,
    /// Optional loopback TCP listener (e.g. "127.0.0.1:8740"); needs `token_file`.
    pub tcp: Option<SocketAddr>,
    /// File holding the bearer token TCP clients must send (one line).
    pub token_file: Option<PathBuf>,
    /// The auditors' read-only socket (audit export and verification only).
    pub auditor_socket: Option<PathBuf>,
    pub auditor_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The station's Ed25519 signing key (PKCS#8), created on first start with mode 0600.
    pub key: PathBuf,
    /// How often the chain head is signed (and at shutdown), seconds.
    pub checkpoint_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: "info", "debug", "idcheck=debug,warn" ...
    pub level: String,
    /// "auto" (journald under systemd, stderr otherwise), "journald" or "stderr".
    pub target: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            database: PathBuf::from("/var/lib/idcheck/idcheck.db"),
            min_free_mib: 64,
            state_dir: PathBuf::from("/var/lib/idcheck"),
        }
    }
}

impl Default for TrustConfig {
    fn default() -> Self {
        TrustConfig { directory: PathBuf::from("/etc/idcheck/trust"), revocation: RevocationPolicy::Warn }
    }
}

impl Default for ReadersConfig {
    fn default() -> Self {
        ReadersConfig {
            include: vec!["*".into()],
            exclude: Vec::new(),
            exchange_timeout_ms: 3000,
            read_attempts: 3,
            access: AccessSetting::Auto,
            read_deadline_secs: 30,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { card_wait_secs: 30, max_card_wait_secs: 600, max_pending: 64, shutdown_grace_secs: 5 }
    }
}

impl Default for ThresholdsConfig {
    fn default() -> Self {
        let r = idcheck_core::rules::RuleConfig::default();
        ThresholdsConfig { min_fingerprint_quality: r.min_fingerprint_quality, min_minutiae: r.min_minutiae }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            socket: PathBuf::from("/run/idcheck/idcheck.sock"),
            socket_group: None,
            socket_mode: "0660".into(),
            tcp: None,
            token_file: None,
            auditor_socket: None,
            auditor_group: None,
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { key: PathBuf::from("/var/lib/idcheck/station-key.pk8"), checkpoint_secs: 300 }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), target: "auto".into() }
    }
}

impl Config {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(&text, path)
    }

    /// Parses and validates configuration text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: describe_toml_error(text, &e),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &'static str, message: String| ConfigError::Invalid { path: path.to_path_buf(), key, message };
        if self.store.database.as_os_str().is_empty() {
            return Err(bad("store.database", "must not be empty".into()));
        }
        if self.readers.include.is_empty() {
            return Err(bad("readers.include", "names no reader; use [\"*\"] for every reader".into()));
        }
        if self.readers.exchange_timeout_ms == 0 || self.readers.exchange_timeout_ms > 60_000 {
            return Err(bad("readers.exchange_timeout_ms", format!("{} is outside 1..=60000", self.readers.exchange_timeout_ms)));
        }
        if self.readers.read_attempts == 0 || self.readers.read_attempts > 10 {
            return Err(bad("readers.read_attempts", format!("{} is outside 1..=10", self.readers.read_attempts)));
        }
        if self.readers.read_deadline_secs == 0 {
            return Err(bad("readers.read_deadline_secs", "must be at least 1".into()));
        }
        if self.jobs.card_wait_secs > self.jobs.max_card_wait_secs {
            return Err(bad(
                "jobs.card_wait_secs",
                format!("{} is longer than jobs.max_card_wait_secs ({})", self.jobs.card_wait_secs, self.jobs.max_card_wait_secs),
            ));
        }
        if self.jobs.max_pending == 0 {
            return Err(bad("jobs.max_pending", "must be at least 1".into()));
        }
        let defaults = idcheck_core::rules::RuleConfig::default();
        if self.thresholds.min_fingerprint_quality < defaults.min_fingerprint_quality {
            return Err(bad(
                "thresholds.min_fingerprint_quality",
                format!("{} is below the rule's {} (thresholds may only be raised)", self.thresholds.min_fingerprint_quality, defaults.min_fingerprint_quality),
            ));
        }
        if self.thresholds.min_minutiae < defaults.min_minutiae {
            return Err(bad(
                "thresholds.min_minutiae",
                format!("{} is below the rule's {} (thresholds may only be raised)", self.thresholds.min_minutiae, defaults.min_minutiae),
            ));
        }
        self.socket_mode().map_err(|m| bad("api.socket_mode", m))?;
        if let Some(addr) = self.api.tcp {
            if !addr.ip().is_loopback() {
                return Err(bad("api.tcp", format!("{addr} is not a loopback address (the API is local only)")));
            }
            if self.api.token_file.is_none() {
                return Err(bad("api.token_file", "is required when api.tcp is set".into()));
            }
        }
        if self.api.auditor_socket.is_some() && self.api.auditor_socket.as_deref() == Some(self.api.socket.as_path()) {
            return Err(bad("api.auditor_socket", "must differ from api.socket".into()));
        }
        if self.audit.checkpoint_secs == 0 {
            return Err(bad("audit.checkpoint_secs", "must be at least 1".into()));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| bad("log.level", format!("{:?}: {e}", self.log.level)))?;
        if !matches!(self.log.target.as_str(), "auto" | "journald" | "stderr") {
            return Err(bad("log.target", format!("{:?}: expected \"auto\", \"journald\" or \"stderr\"", self.log.target)));
        }
        Ok(())
    }

    /// The API socket's permission bits.
    pub fn socket_mode(&self) -> Result<u32, String> {
        let m = u32::from_str_radix(self.api.socket_mode.trim_start_matches("0o"), 8)
            .map_err(|_| format!("{:?} is not an octal mode", self.api.socket_mode))?;
        if m > 0o777 {
            return Err(format!("{:?} is larger than 0777", self.api.socket_mode));
        }
        if m & 0o007 != 0 {
            return Err(format!("{:?} lets every local user in; clear the last digit", self.api.socket_mode));
        }
        Ok(m)
    }

    /// Is the reader `name` one the station uses?
    pub fn uses_reader(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        let hit = |p: &String| p == "*" || lower.contains(&p.to_lowercase());
        self.readers.include.iter().any(hit) && !self.readers.exclude.iter().any(hit)
    }

    pub fn card_wait(&self) -> Duration {
        Duration::from_secs(self.jobs.card_wait_secs)
    }

    /// The settings a SIGHUP cannot change (the daemon keeps the old ones and says so).
    pub fn restart_only_changes(&self, new: &Config) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.store.database != new.store.database {
            out.push("store.database");
        }
        if self.store.state_dir != new.store.state_dir {
            out.push("store.state_dir");
        }
        if self.api != new.api {
            out.push("api");
        }
        if self.audit.key != new.audit.key {
            out.push("audit.key");
        }
        if self.log.target != new.log.target {
            out.push("log.target");
        }
        out
    }
}

/// toml's message with the line and column of the error.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map(|l| l.chars().count() + 1).unwrap_or(1);
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("t.toml"))
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let c = parse("").expect("defaults");
        assert_eq!(c, Config::default());
        assert!(c.uses_reader("Any Reader 00 00"));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = parse("[store]\ndatabase = \"/tmp/x.db\"\ndatabse = 1\n").expect_err("must be refused").to_string();
        assert!(e.contains("databse") && e.contains("line 3"), "{e}");
        let e = parse("[nope]\n").expect_err("must be refused").to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn wrong_types_and_values_are_named() {
        let e = parse("[readers]\nread_attempts = \"three\"\n").expect_err("must be refused").to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("[readers]\nread_attempts = 0\n").expect_err("must be refused").to_string();
        assert!(e.contains("readers.read_attempts"), "{e}");
        let e = parse("[api]\ntcp = \"0.0.0.0:8740\"\ntoken_file = \"/t\"\n").expect_err("must be refused").to_string();
        assert!(e.contains("loopback"), "{e}");
        let e = parse("[api]\ntcp = \"127.0.0.1:8740\"\n").expect_err("must be refused").to_string();
        assert!(e.contains("api.token_file"), "{e}");
        let e = parse("[api]\nsocket_mode = \"0666\"\n").expect_err("must be refused").to_string();
        assert!(e.contains("every local user"), "{e}");
        let e = parse("[thresholds]\nmin_fingerprint_quality = 40\n").expect_err("must be refused").to_string();
        assert!(e.contains("only be raised"), "{e}");
        let e = parse("[log]\nlevel = \"info,=[\"\n").expect_err("must be refused").to_string();
        assert!(e.contains("log.level"), "{e}");
        let e = parse("[jobs]\ncard_wait_secs = 700\n").expect_err("must be refused").to_string();
        assert!(e.contains("max_card_wait_secs"), "{e}");
    }

    #[test]
    fn revocation_policy() {
        assert_eq!(parse("").expect("defaults").trust.revocation, RevocationPolicy::Warn);
        assert_eq!(parse("[trust]\nrevocation = \"require\"\n").expect("require").trust.revocation, RevocationPolicy::Require);
        let e = parse("[trust]\nrevocation = \"sometimes\"\n").expect_err("must be refused").to_string();
        assert!(e.contains("sometimes") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn reader_patterns() {
        let c = parse("[readers]\ninclude = [\"virtual pcd\"]\nexclude = [\"01\"]\n").expect("config");
        assert!(c.uses_reader("Virtual PCD 00 00"));
        assert!(!c.uses_reader("Virtual PCD 00 01"));
        assert!(!c.uses_reader("ACS ACR1252 00 00"));
    }

    #[test]
    fn reload_reports_restart_only_sections() {
        let a = Config::default();
        let mut b = a.clone();
        b.readers.read_attempts = 2;
        assert!(a.restart_only_changes(&b).is_empty());
        b.api.socket = PathBuf::from("/tmp/other.sock");
        assert_eq!(a.restart_only_changes(&b), vec!["api"]);
    }
}
