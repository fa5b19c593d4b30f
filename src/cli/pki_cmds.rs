//! `idcheck pki ...`: the trust directory of CSCA certificates and CRLs. `import-master-list`
//! and `import-crl` verify what they are given (master list: CMS signature and a signer vouched
//! for by a CSCA of the store or the pinned `--trust-signer`; CRL: signed by a CSCA of the
//! store), write the new files with their origin (layout: `idcheck_core::pki::trust_dir`),
//! check that the directory still loads, append a `trust_import` audit entry (the files are
//! removed again when it cannot be written), and ask the running daemon to reload
//! (`POST /v1/trust/reload`); `list` shows what the directory holds. Where things are: `--trust`,
//! `--db`, `--socket`, else the configuration's `trust.directory`, `store.database`,
//! `api.socket`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use hyper::Method;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use idcheck::audit::{cli_requester, AuditEvent, TrustImportSummary};
use idcheck::daemon::client::{Client, ClientError};
use idcheck::daemon::config::{Config, DEFAULT_PATH};
use idcheck::wire::TrustReloaded;
use idcheck_core::model::sha256_hex;
use idcheck_core::pki::masterlist::MasterListFailure;
use idcheck_core::pki::trust::{read_certificates, read_crls};
use idcheck_core::pki::trust_dir::{self, Listing, Origin, PlannedFile, FROM_CRL, FROM_MASTER_LIST};
use idcheck_core::pki::{Certificate, Crl, MasterList, TrustStore};
use idcheck_store::Store;

use super::daemon_cmds::{EX_CONFIG, EX_UNAVAILABLE};
use super::{CliError, CliResult, EX_IOERR, EX_NOINPUT};

#[derive(Subcommand)]
pub enum PkiCmd {
    /// Import the CSCAs of an ICAO master list (ICAO 9303-12 section 9) into the trust directory.
    ImportMasterList(ImportMasterListArgs),
    /// Import a CRL signed by a CSCA of the trust directory.
    ImportCrl(ImportCrlArgs),
    /// Every CSCA and CRL of the trust directory, with origin and file.
    List(ListArgs),
}

/// Where the trust directory is.
#[derive(Args, Clone)]
pub struct TrustPlace {
    /// Trust directory [default: the configuration's trust.directory]
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Configuration naming the trust directory, database and daemon socket not given here
    /// [env: IDCHECK_CONFIG; default: /etc/idcheck/idcheck.toml when it exists]
    #[arg(long, env = "IDCHECK_CONFIG")]
    config: Option<PathBuf>,
}

/// Where an import writes: the trust directory, the audit log's database, the daemon to tell.
#[derive(Args, Clone)]
pub struct ImportPlace {
    #[command(flatten)]
    place: TrustPlace,
    /// Database holding the audit log [env: IDCHECK_DB; default: the configuration's
    /// store.database, else ~/.local/share/idcheck/idcheck.db]
    #[arg(long, env = "IDCHECK_DB")]
    db: Option<PathBuf>,
    /// The running daemon's API socket, asked to reload [env: IDCHECK_SOCKET; default: the
    /// configuration's api.socket]
    #[arg(long, env = "IDCHECK_SOCKET")]
    socket: Option<PathBuf>,
}

#[derive(Args)]
pub struct ImportMasterListArgs {
    /// The master list (DER or BER CMS; `.ml` as the BSI and the ICAO PKD publish it).
    file: PathBuf,
    /// A certificate (PEM or DER) vouching for the list's signer: the signer itself or its
    /// issuer. Without it the signer must be issued by a CSCA already in the trust directory.
    #[arg(long, value_name = "CERT")]
    trust_signer: Option<PathBuf>,
    #[command(flatten)]
    place: ImportPlace,
}

#[derive(Args)]
pub struct ImportCrlArgs {
    /// The CRL (DER or PEM `X509 CRL`).
    file: PathBuf,
    #[command(flatten)]
    place: ImportPlace,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    place: TrustPlace,
    /// One JSON object: `directory`, `cscas`, `crls`.
    #[arg(long)]
    json: bool,
}

pub fn pki(cmd: PkiCmd) -> CliResult {
    match cmd {
        PkiCmd::ImportMasterList(a) => import_master_list(a),
        PkiCmd::ImportCrl(a) => import_crl(a),
        PkiCmd::List(a) => list(a),
    }
}

// ------------------------------------------------------------------------------------ places

impl TrustPlace {
    /// The configuration: `--config` / IDCHECK_CONFIG (must load), else the default file when it
    /// exists.
    fn config(&self) -> Result<Option<Config>, CliError> {
        let load = |p: &Path| Config::load(p).map(Some).map_err(|e| CliError::new(EX_CONFIG, e.to_string()));
        match &self.config {
            Some(p) => load(p),
            None if Path::new(DEFAULT_PATH).exists() => load(Path::new(DEFAULT_PATH)),
            None => Ok(None),
        }
    }

    fn directory(&self, config: &mut Option<Option<Config>>) -> Result<PathBuf, CliError> {
        if let Some(t) = &self.trust {
            return Ok(t.clone());
        }
        match lazy(config, || self.config())? {
            Some(c) => Ok(c.trust.directory.clone()),
            None => Err(CliError::new(super::EX_USAGE, format!("no --trust given and no configuration at {DEFAULT_PATH} (--config) naming trust.directory"))),
        }
    }
}

fn lazy(slot: &mut Option<Option<Config>>, load: impl FnOnce() -> Result<Option<Config>, CliError>) -> Result<Option<&Config>, CliError> {
    if slot.is_none() {
        *slot = Some(load()?);
    }
    Ok(slot.as_ref().and_then(Option::as_ref))
}

struct Resolved {
    trust: PathBuf,
    db: PathBuf,
    socket: Option<PathBuf>,
}

impl ImportPlace {
    fn resolve(&self) -> Result<Resolved, CliError> {
        let mut config = None;
        let trust = self.place.directory(&mut config)?;
        let db = match &self.db {
            Some(d) => d.clone(),
            None => match lazy(&mut config, || self.place.config())? {
                Some(c) => c.store.database.clone(),
                None => idcheck_store::default_db_path().map_err(CliError::io)?,
            },
        };
        let socket = match &self.socket {
            Some(s) => Some(s.clone()),
            None => lazy(&mut config, || self.place.config())?.map(|c| c.api.socket.clone()),
        };
        Ok(Resolved { trust, db, socket })
    }
}

// ------------------------------------------------------------------------------------ helpers

fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound { EX_NOINPUT } else { EX_IOERR };
        CliError::new(code, format!("{}: {e}", path.display()))
    })
}

/// The trust directory's store, creating the directory when it does not exist yet.
fn load_store(dir: &Path) -> Result<TrustStore, CliError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| CliError::io(format!("cannot create the trust directory {}: {e}", dir.display())))?;
        eprintln!("idcheck: created the trust directory {}", dir.display());
    }
    TrustStore::load_dir(dir).map_err(|e| CliError::data(format!("the trust directory {} does not load, nothing imported: {e}", dir.display())))
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

fn short(sha: &str) -> &str {
    sha.get(..16).unwrap_or(sha)
}

/// Files written by one import, removed again if the import cannot be completed.
struct Written {
    paths: Vec<PathBuf>,
    done: bool,
}

impl Drop for Written {
    fn drop(&mut self) {
        if !self.done {
            for p in &self.paths {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// Write each planned file (a temporary name, then renamed into place). A name already taken
/// is an error (its content is not what the name says: the store did not hold that DER).
fn write_files(dir: &Path, files: &[PlannedFile]) -> Result<Written, CliError> {
    let mut written = Written { paths: Vec::new(), done: false };
    for f in files {
        let path = dir.join(&f.name);
        if path.exists() {
            return Err(CliError::data(format!("{} exists and does not hold the certificate its name says (sha256 {}…): nothing imported", path.display(), short(&f.sha256))));
        }
        let tmp = dir.join(format!(".{}.tmp", f.name));
        let io = |e: std::io::Error| CliError::io(format!("writing {}: {e}", tmp.display()));
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(io)?;
        file.write_all(f.text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CliError::io(format!("renaming {} to {}: {e}", tmp.display(), path.display()))
        })?;
        written.paths.push(path);
    }
    Ok(written)
}

/// After writing: the directory still loads, then the audit entry; either failing removes the
/// files written (`written` is dropped undone).
fn commit(dir: &Path, db: &Path, written: &mut Written, summary: TrustImportSummary) -> Result<u64, CliError> {
    TrustStore::load_dir(dir).map_err(|e| CliError::data(format!("the trust directory {} does not load with the new files, nothing imported: {e}", dir.display())))?;
    let store = Store::open(db).map_err(|e| CliError::io(format!("audit log {}: {e}: nothing imported", db.display())))?;
    let entry = store
        .audit_append(&AuditEvent::TrustImport(summary))
        .map_err(|e| CliError::io(format!("audit log {}: {e}: nothing imported", db.display())))?;
    written.done = true;
    Ok(entry.seq)
}

/// Ask the daemon to re-read the trust directory. No socket or no daemon listening: said, and
/// not an error (the daemon loads the directory when it starts). A daemon that refuses, or
/// reloads another directory, is reported; a refusal is exit 69.
fn ask_reload(socket: Option<&Path>, dir: &Path) -> Result<(), CliError> {
    let Some(socket) = socket else {
        println!("no daemon socket configured (--socket, api.socket): a daemon loads the trust directory when it starts");
        return Ok(());
    };
    let client = Client::new(socket).map_err(|e| CliError::new(EX_UNAVAILABLE, e.to_string()))?.with_timeout(Duration::from_secs(60));
    match client.call::<TrustReloaded>(Method::POST, "/v1/trust/reload", None::<&()>) {
        Ok((_, r)) => {
            let same = match (std::fs::canonicalize(&r.directory), std::fs::canonicalize(dir)) {
                (Ok(a), Ok(b)) => a == b,
                _ => r.directory == dir,
            };
            if same {
                println!("daemon reloaded: {} CSCAs and {} CRLs in force", r.cscas, r.crls);
            } else {
                eprintln!(
                    "idcheck: warning: the daemon at {} reloaded its trust directory {}, not {}: this import is not in force there",
                    socket.display(),
                    r.directory.display(),
                    dir.display()
                );
            }
            Ok(())
        }
        Err(ClientError::Connect { source, .. })
            if matches!(source.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) =>
        {
            println!("no daemon is running at {}: it loads the trust directory when it starts", socket.display());
            Ok(())
        }
        Err(e) => Err(CliError::new(EX_UNAVAILABLE, format!("imported, but the daemon at {} did not reload: {e}", socket.display()))),
    }
}

// ------------------------------------------------------------------------------------ master list

fn import_master_list(a: ImportMasterListArgs) -> CliResult {
    let started = Instant::now();
    let file = a.file.display().to_string();
    let bytes = read_input(&a.file)?;
    let ml = MasterList::parse(&bytes).map_err(|e| CliError::data(format!("{file}: not a master list: {e}")))?;
    let pinned = match &a.trust_signer {
        Some(p) => {
            let certs = read_certificates(&read_input(p)?).map_err(|e| CliError::data(format!("{}: {e}", p.display())))?;
            match <[Certificate; 1]>::try_from(certs) {
                Ok([c]) => Some(c),
                Err(v) => return Err(CliError::data(format!("{}: holds {} certificates; --trust-signer takes one", p.display(), v.len()))),
            }
        }
        None => None,
    };
    let place = a.place.resolve()?;
    let store = load_store(&place.trust)?;
    let today = OffsetDateTime::now_utc().date();
    let v = ml.verify(&store, pinned.as_ref(), Some(today)).map_err(|e| {
        let hint = match (&e, &pinned) {
            (MasterListFailure::SignerNotTrusted { .. }, None) => {
                "; put the signer's issuer in the trust directory, or give the signer or its issuer with --trust-signer"
            }
            _ => "",
        };
        CliError::data(format!("{file}: refused, nothing imported: {e}{hint}"))
    })?;
    let sha256 = sha256_hex(&bytes);
    let origin = Origin {
        kind: FROM_MASTER_LIST.into(),
        source: file.clone(),
        source_sha256: sha256.clone(),
        signer: v.signer.subject.text.clone(),
        imported: now_rfc3339(),
        imported_by: cli_requester(),
    };
    let plan = trust_dir::plan_master_list(&ml, &store, &origin);
    let mut written = write_files(&place.trust, &plan.add)?;
    let summary = TrustImportSummary {
        what: "master_list".into(),
        file: file.clone(),
        sha256: sha256.clone(),
        signer: v.signer.subject.text.clone(),
        anchor: v.anchor.subject.text.clone(),
        anchor_how: v.how.as_str().into(),
        listed: ml.cscas.len() as u64,
        added: plan.add.len() as u64,
        present: plan.present as u64,
        replaced: 0,
        added_sha256: plan.add.iter().map(|f| f.sha256.clone()).collect(),
        trust_dir: place.trust.display().to_string(),
        by: origin.imported_by.clone(),
    };
    let seq = commit(&place.trust, &place.db, &mut written, summary)?;
    println!(
        "imported master list {file} (sha256 {}…): {} certificates listed, {} added, {} already present{}",
        short(&sha256),
        ml.cscas.len(),
        plan.add.len(),
        plan.present,
        if plan.repeated > 0 { format!(", {} listed twice", plan.repeated) } else { String::new() }
    );
    println!("  signer  {} ({})", v.signer.subject.text, idcheck_core::pki::alg::signature_name(&ml.signed.signer.signature_alg.oid));
    println!("  vouched {} ({})", v.anchor.subject.text, v.how.as_str());
    println!("  into    {} (csca-<C>-<sha256>.pem), audit entry {seq}, {:.2} s", place.trust.display(), started.elapsed().as_secs_f64());
    if plan.add.is_empty() {
        println!("nothing new: the daemon was not asked to reload");
        return Ok(ExitCode::SUCCESS);
    }
    ask_reload(place.socket.as_deref(), &place.trust)?;
    Ok(ExitCode::SUCCESS)
}

// ------------------------------------------------------------------------------------ crl

fn import_crl(a: ImportCrlArgs) -> CliResult {
    let file = a.file.display().to_string();
    let bytes = read_input(&a.file)?;
    let crl = match <[Crl; 1]>::try_from(read_crls(&bytes).map_err(|e| CliError::data(format!("{file}: not a crl: {e}")))?) {
        Ok([c]) => c,
        Err(v) => return Err(CliError::data(format!("{file}: holds {} CRLs; import them one by one", v.len()))),
    };
    let place = a.place.resolve()?;
    let store = load_store(&place.trust)?;
    let signer = trust_dir::crl_signer(&crl, &store).map_err(|e| CliError::data(format!("{file}: refused, nothing imported: {e}")))?;
    let sha256 = sha256_hex(&bytes);
    if store.crls().iter().any(|c| c.der == crl.der) {
        println!("crl {file} (issuer {}, thisUpdate {}) is already in {}: nothing new", crl.issuer, crl.this_update.date(), place.trust.display());
        return Ok(ExitCode::SUCCESS);
    }
    // An earlier import of the same CSCA's CRL: replaced by a newer one; a newer one present
    // refuses this one.
    let mut replace = Vec::new();
    for (path, blocks) in trust_dir::imported_files(&place.trust, FROM_CRL).map_err(CliError::data)? {
        for b in blocks {
            let Ok(old) = Crl::parse(&b.der) else { continue };
            if !old.issuer.matches(&crl.issuer) || old.authority_key_id != crl.authority_key_id {
                continue;
            }
            if old.this_update > crl.this_update {
                return Err(CliError::data(format!(
                    "{file}: refused, nothing imported: thisUpdate {} is older than the crl of the same csca in {} (thisUpdate {})",
                    crl.this_update.date(),
                    path.display(),
                    old.this_update.date()
                )));
            }
            replace.push(path.clone());
        }
    }
    replace.dedup();
    let origin = Origin {
        kind: FROM_CRL.into(),
        source: file.clone(),
        source_sha256: sha256.clone(),
        signer: signer.subject.text.clone(),
        imported: now_rfc3339(),
        imported_by: cli_requester(),
    };
    let planned = trust_dir::crl_file(&crl, &origin);
    let mut written = write_files(&place.trust, std::slice::from_ref(&planned))?;
    // The directory as it will be: the replaced files aside while it is checked.
    let aside: Vec<(PathBuf, PathBuf)> = replace.iter().map(|p| (p.clone(), p.with_extension("crl.replaced"))).collect();
    for (from, to) in &aside {
        std::fs::rename(from, to).map_err(|e| CliError::io(format!("moving {} aside: {e}", from.display())))?;
    }
    let summary = TrustImportSummary {
        what: "crl".into(),
        file: file.clone(),
        sha256: sha256.clone(),
        signer: crl.issuer.text.clone(),
        anchor: signer.subject.text.clone(),
        anchor_how: "trust store".into(),
        listed: 1,
        added: 1,
        present: 0,
        replaced: aside.len() as u64,
        added_sha256: vec![planned.sha256.clone()],
        trust_dir: place.trust.display().to_string(),
        by: origin.imported_by.clone(),
    };
    match commit(&place.trust, &place.db, &mut written, summary) {
        Ok(seq) => {
            for (_, to) in &aside {
                let _ = std::fs::remove_file(to);
            }
            println!(
                "imported crl {file} (sha256 {}…): issuer {}, thisUpdate {}, {} revoked, signed by {}",
                short(&sha256),
                crl.issuer,
                crl.this_update.date(),
                crl.revoked.len(),
                signer.subject
            );
            println!("  into {}/{}, audit entry {seq}", place.trust.display(), planned.name);
            for (from, _) in &aside {
                println!("  replaced {}", from.display());
            }
            if crl.next_update.is_some_and(|n| n < OffsetDateTime::now_utc()) {
                eprintln!("idcheck: warning: the crl's nextUpdate has passed: a newer one should exist");
            }
            ask_reload(place.socket.as_deref(), &place.trust)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for (from, to) in &aside {
                let _ = std::fs::rename(to, from);
            }
            Err(e)
        }
    }
}

// ------------------------------------------------------------------------------------ list

fn origin_text(o: Option<&Origin>) -> String {
    match o {
        Some(o) if o.kind == FROM_MASTER_LIST => format!("master list {} ({} by {})", o.source, o.imported, o.imported_by),
        Some(o) => format!("{} {} ({} by {})", o.kind, o.source, o.imported, o.imported_by),
        None => "placed by hand".into(),
    }
}

fn day(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

fn list(a: ListArgs) -> CliResult {
    let dir = a.place.directory(&mut None)?;
    let l: Listing = trust_dir::list_dir(&dir).map_err(|e| CliError::data(format!("the trust directory {} does not load: {e}", dir.display())))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&l).map_err(|e| CliError::new(super::EX_SOFTWARE, e.to_string()))?);
        return Ok(ExitCode::SUCCESS);
    }
    for c in &l.cscas {
        println!(
            "csca  {}  serial {}  {}..{}  {}  {}  {}",
            c.subject,
            c.serial,
            day(&c.not_before),
            day(&c.not_after),
            c.key.describe(),
            origin_text(c.origin.as_ref()),
            c.file
        );
    }
    for c in &l.crls {
        let verified = match &c.verified_by {
            Some(s) => format!("signed by {s}"),
            None => "NOT signed by a csca of this directory".into(),
        };
        println!(
            "crl   {}  thisUpdate {}  nextUpdate {}  {} revoked  {}  {}  {}",
            c.issuer,
            day(&c.this_update),
            c.next_update.as_deref().map(day).unwrap_or("-"),
            c.revoked,
            verified,
            origin_text(c.origin.as_ref()),
            c.file
        );
    }
    println!("{} CSCAs, {} CRLs in {}", l.cscas.len(), l.crls.len(), l.directory);
    Ok(ExitCode::SUCCESS)
}
