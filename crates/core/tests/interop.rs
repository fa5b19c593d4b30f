//! Interop on data nobody here wrote: every file of `fixtures/interop/` (EF.SOD, data groups, CSCA
//! and document signer certificates, CRLs from other readers' test resources) against what that
//! reader's own tests say of it, as recorded in `fixtures/interop/manifest.json` (the sets, their
//! sources and licences: `fixtures/interop/README.md` and each set's `SOURCE.md`).
//!
//! For each entry the file is parsed with the parser of its kind (`Sod::parse`,
//! `pki::trust::read_certificates`, `pki::trust::read_crls`, a BER-TLV with the data group's
//! ICAO tag) and the outcome compared; for an EF.SOD that parses, every passive authentication run
//! the entry lists (its trust anchors, day and data groups) must end as listed: `ok`, or failing at
//! the named [`PaFailure::step`]. The sets carry no DG1 / DG2 of a real person, and
//! `passive_authentication` fails without them, so each run is checked twice: by the steps of
//! passive authentication taken one by one here (data groups handed in, messageDigest, signature
//! with the embedded document signer, trust store, certificate signature, validity), and by
//! `passive_authentication` itself, which must give the same answer up to its DG1 / DG2 rule.
//! Where idcheck knowingly answers otherwise, the entry's `divergence` says what it does instead
//! and why; the check holds idcheck to that and reports it (a finding to decide, the upstream
//! expectation left as it is). A file listed but missing, a file of a set not listed, an entry the
//! checker cannot read, and fewer expectations evaluated than listed are failures too;
//! `checker_fails_when_it_should` shows that on a doctored manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use idcheck_core::pki::trust::{read_certificates, read_crls};
use idcheck_core::pki::{self, Certificate, PaFailure, Sod, TrustStore};
use idcheck_core::tlv;
use serde::Deserialize;
use time::Date;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[allow(dead_code)]
    about: String,
    sets: Vec<SetInfo>,
    files: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetInfo {
    name: String,
    repository: String,
    commit: String,
    licence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Sod,
    Certificate,
    Crl,
    Dg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Ok,
    Error,
    Fail,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    set: String,
    path: String,
    kind: Kind,
    expected: Expected,
    upstream: String,
    /// What idcheck does instead where it knowingly differs from `expected` (a finding to decide,
    /// not an expectation): the check then holds idcheck to this, so a change either way is seen.
    divergence: Option<Divergence>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Divergence {
    parse: Outcome,
    reason: Option<String>,
    note: String,
}

/// What the upstream tests say of one file. `pa` / `step` / `trust` / `at` / `dgs` are the main
/// passive authentication run, `more_pa` further runs of the same EF.SOD.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    parse: Option<Outcome>,
    /// A parse error's text must contain this (which field it is about).
    reason: Option<String>,
    pa: Option<Outcome>,
    step: Option<String>,
    trust: Option<Vec<String>>,
    /// `null`: no validity date; `signing_time`: the day of the signingTime attribute (none if
    /// absent); else a `YYYY-MM-DD` day.
    at: Option<String>,
    #[serde(default)]
    dgs: BTreeMap<String, String>,
    #[serde(default)]
    more_pa: Vec<PaRun>,
    /// The embedded document signer certificate is exactly this file.
    ds: Option<String>,
    /// Data group number -> hash (hex) the LDSSecurityObject lists: exactly these.
    dg_hashes: Option<BTreeMap<String, String>>,
    message_digest: Option<String>,
    lds_digest: Option<String>,
    signer_digest: Option<String>,
    signature_oid: Option<String>,
    /// `none`, or an RFC 3339 time.
    signing_time: Option<String>,
    lds_version: Option<u32>,
    /// This certificate's signature verifies with that certificate's key.
    signed_by: Option<String>,
    /// A data group file: its number.
    dg: Option<u8>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaRun {
    trust: Vec<String>,
    at: Option<String>,
    #[serde(default)]
    dgs: BTreeMap<String, String>,
    pa: Outcome,
    step: Option<String>,
}

/// The counts the check measured.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    parsed_ok: usize,
    expected_errors: usize,
    pa_ok: usize,
    pa_expected_fail: usize,
    signed_by_ok: usize,
    /// Entries where idcheck differs from upstream as recorded in their `divergence`.
    known_divergences: usize,
}

struct Report {
    failures: Vec<String>,
    counts: Counts,
    /// One line per EF.SOD that parsed: its algorithms (for the README table).
    algorithms: Vec<String>,
    /// One line per known divergence: the file and what idcheck says.
    divergences: Vec<String>,
}

/// ICAO 9303-10 data group tags, DG1..DG16.
const DG_TAGS: [u8; 16] = [0x61, 0x75, 0x63, 0x76, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70];

/// Files of a set directory that are documentation, not data.
fn is_doc(name: &str) -> bool {
    name == "SOURCE.md" || name.starts_with("LICENSE")
}

fn interop_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/interop")
}

struct Checker<'a> {
    root: &'a Path,
    failures: Vec<String>,
    counts: Counts,
    algorithms: Vec<String>,
    divergences: Vec<String>,
}

impl Checker<'_> {
    fn report(self) -> Report {
        Report { failures: self.failures, counts: self.counts, algorithms: self.algorithms, divergences: self.divergences }
    }

    fn fail(&mut self, path: &str, what: impl std::fmt::Display) {
        self.failures.push(format!("{path}: {what}"));
    }

    fn read(&mut self, owner: &str, rel: &str) -> Option<Vec<u8>> {
        match std::fs::read(self.root.join(rel)) {
            Ok(b) => Some(b),
            Err(e) => {
                self.fail(owner, format!("cannot read {rel}: {e}"));
                None
            }
        }
    }

    fn certificate(&mut self, owner: &str, rel: &str) -> Option<Certificate> {
        let bytes = self.read(owner, rel)?;
        match read_certificates(&bytes) {
            Ok(mut v) if v.len() == 1 => v.pop(),
            Ok(v) => {
                self.fail(owner, format!("{rel} holds {} certificates, expected one", v.len()));
                None
            }
            Err(e) => {
                self.fail(owner, format!("{rel} does not parse as a certificate: {e}"));
                None
            }
        }
    }

    fn check(&mut self, e: &Entry) {
        if e.upstream.trim().is_empty() {
            self.fail(&e.path, "no upstream statement recorded");
        }
        if !e.path.starts_with(&format!("{}/", e.set)) {
            self.fail(&e.path, format!("path is not inside its set {}", e.set));
        }
        let Some(upstream_parse) = e.expected.parse else {
            self.fail(&e.path, "expected.parse missing");
            return;
        };
        let (parse, reason) = match &e.divergence {
            Some(d) if d.parse != upstream_parse && !d.note.trim().is_empty() => (d.parse, &d.reason),
            Some(_) => {
                self.fail(&e.path, "a divergence must differ from the upstream outcome and say why");
                return;
            }
            None => (upstream_parse, &e.expected.reason),
        };
        let Some(bytes) = self.read(&e.path, &e.path) else { return };
        let result: Result<(), String> = match e.kind {
            Kind::Sod => match Sod::parse(&bytes) {
                Ok(sod) => {
                    if parse == Outcome::Ok {
                        self.check_sod(e, &bytes, &sod);
                    }
                    Ok(())
                }
                Err(err) => Err(err.to_string()),
            },
            Kind::Certificate => match read_certificates(&bytes) {
                Ok(v) if v.len() == 1 => {
                    if parse == Outcome::Ok {
                        self.check_certificate(e, &v[0]);
                    }
                    Ok(())
                }
                Ok(v) => Err(format!("{} certificates in one file", v.len())),
                Err(err) => Err(err.to_string()),
            },
            Kind::Crl => match read_crls(&bytes) {
                Ok(v) if v.len() == 1 => Ok(()),
                Ok(v) => Err(format!("{} crls in one file", v.len())),
                Err(err) => Err(err.to_string()),
            },
            Kind::Dg => match e.expected.dg.filter(|n| (1..=16).contains(n)) {
                Some(n) => tlv::parse_single(&bytes, tlv::Tag::from(DG_TAGS[usize::from(n - 1)])).map(|_| ()).map_err(|err| err.to_string()),
                None => {
                    self.fail(&e.path, "expected.dg (1..=16) missing");
                    return;
                }
            },
        };
        let who = if e.divergence.is_some() { "the recorded divergence" } else { "upstream" };
        match (parse, result) {
            (Outcome::Ok, Ok(())) if e.divergence.is_some() => self.counts.known_divergences += 1,
            (Outcome::Ok, Ok(())) => self.counts.parsed_ok += 1,
            (Outcome::Error, Err(err)) => match reason {
                Some(r) if !err.contains(r.as_str()) => self.fail(&e.path, format!("parse error is not about {r}: {err}")),
                _ if e.divergence.is_some() => {
                    self.divergences.push(format!("{}: {err}", e.path));
                    self.counts.known_divergences += 1;
                }
                _ => self.counts.expected_errors += 1,
            },
            (Outcome::Ok, Err(err)) => self.fail(&e.path, format!("does not parse, {who} says it does: {err}")),
            (Outcome::Error, Ok(())) => self.fail(&e.path, format!("parses, {who} says it must not")),
            (Outcome::Fail, _) => self.fail(&e.path, "expected.parse is ok or error"),
        }
    }

    fn check_certificate(&mut self, e: &Entry, cert: &Certificate) {
        if let Some(issuer) = &e.expected.signed_by {
            if let Some(issuer_cert) = self.certificate(&e.path, issuer) {
                match cert.verify_signed_by(&issuer_cert) {
                    Ok(()) => self.counts.signed_by_ok += 1,
                    Err(err) => self.fail(&e.path, format!("signature does not verify with {issuer}: {err:?}")),
                }
            }
        }
    }

    fn check_sod(&mut self, e: &Entry, bytes: &[u8], sod: &Sod) {
        let x = &e.expected;
        let ds = sod.signer_certificate();
        let anchors: Vec<String> = x
            .trust
            .iter()
            .flatten()
            .filter_map(|t| self.certificate(&e.path, t))
            .map(|c| format!("{:?} {}", c.public_key, pki::alg::signature_name(&c.signature_alg.oid)))
            .collect();
        self.algorithms.push(format!(
            "{}: lds {} / signer {} / {} / ds key {} / ds cert {} / signing time {} / csca {:?}",
            e.path,
            sod.digest_alg,
            sod.signer.digest_alg,
            pki::alg::signature_name(&sod.signer.signature_alg.oid),
            ds.map(|c| format!("{:?}", c.public_key)).unwrap_or_else(|| "no ds".into()),
            ds.map(|c| pki::alg::signature_name(&c.signature_alg.oid)).unwrap_or_default(),
            sod.signer.signing_time.map(|t| t.date().to_string()).unwrap_or_else(|| "none".into()),
            anchors,
        ));
        if let Some(want) = &x.lds_digest {
            if sod.digest_alg.name() != want {
                self.fail(&e.path, format!("ldsSecurityObject digest {} , upstream {want}", sod.digest_alg));
            }
        }
        if let Some(want) = &x.signer_digest {
            if sod.signer.digest_alg.name() != want {
                self.fail(&e.path, format!("signer digest {}, upstream {want}", sod.signer.digest_alg));
            }
        }
        if let Some(want) = &x.signature_oid {
            if sod.signer.signature_alg.oid != want.as_str() {
                self.fail(&e.path, format!("signature algorithm {}, upstream {want}", sod.signer.signature_alg.oid));
            }
        }
        if let Some(want) = x.lds_version {
            if sod.lds_version != want {
                self.fail(&e.path, format!("ldsSecurityObject version {}, upstream {want}", sod.lds_version));
            }
        }
        if let Some(want) = &x.signing_time {
            let got = sod.signer.signing_time.map(|t| t.to_string()).unwrap_or_else(|| "none".into());
            let same = match sod.signer.signing_time {
                None => want == "none",
                Some(t) => time::OffsetDateTime::parse(want, &time::format_description::well_known::Rfc3339).is_ok_and(|w| w == t),
            };
            if !same {
                self.fail(&e.path, format!("signingTime {got}, upstream {want}"));
            }
        }
        if let Some(want) = &x.message_digest {
            if hex::encode(&sod.signer.message_digest) != want.to_ascii_lowercase() {
                self.fail(&e.path, format!("messageDigest {}, upstream {want}", hex::encode(&sod.signer.message_digest)));
            }
        }
        if let Some(want) = &x.dg_hashes {
            let got: BTreeMap<String, String> = sod.dg_hashes.iter().map(|(n, h)| (n.to_string(), hex::encode(h))).collect();
            let want: BTreeMap<String, String> = want.iter().map(|(n, h)| (n.clone(), h.to_ascii_lowercase())).collect();
            // gmrtd asserts DG1 and DG2 only: compare the data groups upstream names.
            for (n, h) in &want {
                if got.get(n) != Some(h) {
                    self.fail(&e.path, format!("dg{n} hash {:?}, upstream {h}", got.get(n)));
                }
            }
            if want.len() > 2 && got.len() != want.len() {
                self.fail(&e.path, format!("lists data groups {:?}, upstream {:?}", got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>()));
            }
        }
        if let Some(ds_file) = &x.ds {
            match (ds, self.certificate(&e.path, ds_file)) {
                (Some(ds), Some(want)) if ds.der == want.der => {}
                (Some(_), Some(_)) => self.fail(&e.path, format!("embedded document signer differs from {ds_file}")),
                (None, _) => self.fail(&e.path, "no embedded document signer certificate matches the SignerInfo"),
                (_, None) => {}
            }
        }
        let main = match (x.pa, &x.trust) {
            (Some(pa), Some(trust)) => Some(PaRun { trust: trust.clone(), at: x.at.clone(), dgs: x.dgs.clone(), pa, step: x.step.clone() }),
            (None, None) => None,
            _ => {
                self.fail(&e.path, "expected.pa and expected.trust go together");
                None
            }
        };
        if main.is_none() && !x.more_pa.is_empty() {
            self.fail(&e.path, "more_pa without a main pa run");
        }
        for run in main.iter().chain(x.more_pa.iter()) {
            self.check_pa(&e.path, bytes, sod, run);
        }
    }

    fn check_pa(&mut self, path: &str, bytes: &[u8], sod: &Sod, run: &PaRun) {
        let mut trust = TrustStore::empty();
        for t in &run.trust {
            match self.certificate(path, t) {
                Some(c) => trust.add(c),
                None => return,
            }
        }
        let mut dg_bytes = Vec::new();
        for (n, file) in &run.dgs {
            let Ok(n) = n.parse::<u8>() else {
                self.fail(path, format!("data group number {n:?}"));
                return;
            };
            let Some(b) = self.read(path, file) else { return };
            dg_bytes.push((n, b));
        }
        let dgs: Vec<(u8, &[u8])> = dg_bytes.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let at = match run.at.as_deref() {
            None => None,
            Some("signing_time") => sod.signer.signing_time.map(|t| t.date()),
            Some(day) => match Date::parse(day, time::macros::format_description!("[year]-[month]-[day]")) {
                Ok(d) => Some(d),
                Err(err) => {
                    self.fail(path, format!("at {day:?}: {err}"));
                    return;
                }
            },
        };
        let label = format!("pa (trust {:?}, at {:?}, dgs {:?})", run.trust, at, run.dgs.keys().collect::<Vec<_>>());
        let stepwise = steps(sod, &dgs, &trust, at);
        let real = pki::passive_authentication(bytes, &dgs, &trust, at);
        // passive_authentication fails a listed DG1 / DG2 not handed in, after the data group
        // hashes and before everything else.
        let mandatory_absent = [1u8, 2].into_iter().find(|n| sod.dg_hashes.contains_key(n) && !dgs.iter().any(|(d, _)| d == n));
        let real_expected: Result<(), (&str, Option<u8>)> = match (&stepwise, mandatory_absent) {
            (Err(f), _) if matches!(f.step(), "dg_hash" | "dg_list") => Err((f.step(), f.data_group())),
            (_, Some(dg)) => Err(("dg_list", Some(dg))),
            (r, None) => r.as_ref().map(|_| ()).map_err(|f| (f.step(), f.data_group())),
        };
        let real_got = real.as_ref().map(|_| ()).map_err(|f| (f.step(), f.data_group()));
        if real_got != real_expected {
            self.fail(path, format!("{label}: passive_authentication gives {real:?}, its steps one by one {stepwise:?}"));
        }
        match (run.pa, &stepwise, run.step.as_deref()) {
            (Outcome::Ok, Ok(()), None) => self.counts.pa_ok += 1,
            (Outcome::Fail, Err(f), Some(step)) if f.step() == step => self.counts.pa_expected_fail += 1,
            (Outcome::Ok, Err(f), _) => self.fail(path, format!("{label}: fails at {}: {f}; upstream says it verifies", f.step())),
            (Outcome::Fail, Ok(()), Some(step)) => self.fail(path, format!("{label}: verifies; upstream says it fails ({step})")),
            (Outcome::Fail, Err(f), Some(step)) => self.fail(path, format!("{label}: fails at {} ({f}), upstream at {step}", f.step())),
            _ => self.fail(path, format!("{label}: expected pa is ok without step, or fail with one")),
        }
    }
}

/// The steps of [`pki::passive_authentication`] in its order, without its rule that DG1 and DG2
/// be handed in: the data groups given, messageDigest, the signature with the embedded document
/// signer, the path to a CSCA of `trust` with its rules, validity on `at`.
fn steps(sod: &Sod, dgs: &[(u8, &[u8])], trust: &TrustStore, at: Option<Date>) -> Result<(), PaFailure> {
    for &(dg, data) in dgs {
        let expected = sod.dg_hashes.get(&dg).ok_or(PaFailure::DgNotInSod { dg })?;
        let actual = sod.digest_alg.digest(data);
        if &actual != expected {
            return Err(PaFailure::DgHashMismatch { dg, expected: expected.clone(), actual });
        }
    }
    // messageDigest and the signature (the station's own step), then the certification path
    // with its rules and revocation (policy warn: these sets publish no current CRL).
    let ds = pki::check_signer(sod)?;
    pki::chain::verify_chain(ds, trust, sod.signer.signing_time, at)?;
    Ok(())
}

/// Check every entry of the manifest at `root/manifest.json`, and that every data file of every
/// set directory it names is listed.
fn check_dir(root: &Path) -> Report {
    let mut c = Checker { root, failures: Vec::new(), counts: Counts::default(), algorithms: Vec::new(), divergences: Vec::new() };
    let manifest: Manifest = match std::fs::read(root.join("manifest.json")).map_err(|e| e.to_string()).and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string())) {
        Ok(m) => m,
        Err(e) => {
            c.fail("manifest.json", e);
            return c.report();
        }
    };
    let set_names: BTreeSet<&str> = manifest.sets.iter().map(|s| s.name.as_str()).collect();
    for s in &manifest.sets {
        if s.repository.is_empty() || s.commit.len() != 40 || s.licence.is_empty() {
            c.fail(&s.name, "set without repository, commit or licence");
        }
        if !root.join(&s.name).join("SOURCE.md").is_file() {
            c.fail(&s.name, "no SOURCE.md");
        }
    }
    let mut listed = BTreeSet::new();
    for e in &manifest.files {
        if !set_names.contains(e.set.as_str()) {
            c.fail(&e.path, format!("set {} is not in the manifest's sets", e.set));
        }
        if !listed.insert(e.path.clone()) {
            c.fail(&e.path, "listed twice");
        }
        c.check(e);
    }
    // Every expectation listed was evaluated (none skipped on the way): the counts follow from the
    // manifest alone. Only meaningful when nothing failed.
    if c.failures.is_empty() {
        let mut want = Counts::default();
        for e in &manifest.files {
            if e.divergence.is_some() {
                want.known_divergences += 1;
                continue;
            }
            let x = &e.expected;
            match x.parse {
                Some(Outcome::Ok) => want.parsed_ok += 1,
                _ => {
                    want.expected_errors += 1;
                    continue;
                }
            }
            want.signed_by_ok += usize::from(x.signed_by.is_some());
            for pa in x.pa.iter().chain(x.more_pa.iter().map(|r| &r.pa)) {
                match pa {
                    Outcome::Ok => want.pa_ok += 1,
                    _ => want.pa_expected_fail += 1,
                }
            }
        }
        if want != c.counts {
            c.fail("manifest.json", format!("evaluated {:?}, the manifest lists {want:?}", c.counts));
        }
    }
    for s in &set_names {
        match std::fs::read_dir(root.join(s)) {
            Ok(dir) => {
                for f in dir.flatten() {
                    let name = f.file_name().to_string_lossy().into_owned();
                    let rel = format!("{s}/{name}");
                    if !is_doc(&name) && !listed.contains(&rel) {
                        c.fail(&rel, "not in manifest.json");
                    }
                }
            }
            Err(e) => c.fail(s, format!("set directory: {e}")),
        }
    }
    c.report()
}

#[test]
fn interop_fixtures_behave_as_their_sources_say() {
    let report = check_dir(&interop_dir());
    for a in &report.algorithms {
        println!("{a}");
    }
    for d in &report.divergences {
        println!("known divergence: {d}");
    }
    println!("{:?}", report.counts);
    assert!(report.failures.is_empty(), "{} failures:\n{}", report.failures.len(), report.failures.join("\n"));
    // The manifest is not allowed to shrink unnoticed.
    let c = &report.counts;
    assert!(c.parsed_ok >= 90 && c.expected_errors >= 14 && c.pa_ok >= 17 && c.pa_expected_fail >= 18, "{c:?}");
}

/// The checker reports a missing file, an unlisted file, an outcome other than the one listed and
/// a malformed entry.
#[test]
fn checker_fails_when_it_should() {
    let src = interop_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir(root.join("s")).expect("mkdir");
    std::fs::write(root.join("s/SOURCE.md"), "test").expect("write");
    for (from, to) in [("port-py/ef.sod_si_454CB206.bin", "s/si.sod.bin"), ("port-py/csca_si_448831f1.cer", "s/csca.cer"), ("port-py/csca_de_1.cer", "s/other.cer")] {
        std::fs::copy(src.join(from), root.join(to)).expect("copy");
    }
    std::fs::write(root.join("s/unlisted.bin"), [0u8]).expect("write");
    let manifest = serde_json::json!({
        "about": "doctored",
        "sets": [{"name": "s", "repository": "r", "commit": "0123456789012345678901234567890123456789", "licence": "l"}],
        "files": [
            {"set": "s", "path": "s/si.sod.bin", "kind": "sod", "upstream": "u",
             "expected": {"parse": "ok", "pa": "ok", "trust": ["s/other.cer"], "at": "2014-05-08"}},
            {"set": "s", "path": "s/csca.cer", "kind": "certificate", "upstream": "u", "expected": {"parse": "error"}},
            {"set": "s", "path": "s/other.cer", "kind": "crl", "upstream": "u", "expected": {"parse": "ok"}},
            {"set": "s", "path": "s/missing.bin", "kind": "sod", "upstream": "u", "expected": {"parse": "ok"}},
        ]
    });
    std::fs::write(root.join("manifest.json"), manifest.to_string()).expect("write");
    let report = check_dir(root);
    let all = report.failures.join("\n");
    for want in [
        "s/si.sod.bin: pa (trust [\"s/other.cer\"]",
        "s/csca.cer: parses, upstream says it must not",
        "s/other.cer: does not parse, upstream says it does",
        "s/missing.bin: cannot read s/missing.bin",
        "s/unlisted.bin: not in manifest.json",
    ] {
        assert!(all.contains(want), "missing failure {want:?} in:\n{all}");
    }
    assert_eq!(report.failures.len(), 5, "{all}");

    // An unknown key in an entry is an error, not silently ignored.
    let bad = manifest.to_string().replace("\"at\":\"2014-05-08\"", "\"at\":\"2014-05-08\",\"atx\":1");
    std::fs::write(root.join("manifest.json"), bad).expect("write");
    let report = check_dir(root);
    assert!(report.failures.iter().any(|f| f.starts_with("manifest.json") && f.contains("atx")), "{:?}", report.failures);
}
