//! The configured trust store of country signing (CSCA) certificates and the CRLs their CSCAs
//! published, and PEM / DER certificate and CRL file decoding. This module owns loading trust
//! anchors and CRLs from a directory and finding the candidate issuers of a document signer
//! certificate; every certificate in the store is trusted as an anchor, so what goes into the
//! directory is the operator's decision. A CRL is stored as read: whether its signature verifies
//! with a CSCA of the store, and what a missing or stale CRL means, is decided by passive
//! authentication ([`super::passive_authentication`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;

use super::cert::Certificate;
use super::crl::Crl;
use super::PkiError;

/// A set of trusted CSCA certificates.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    certs: Vec<Certificate>,
    crls: Vec<Crl>,
    /// What a document signer without a current CRL means (see [`RevocationPolicy`]).
    revocation: RevocationPolicy,
    /// SHA-256 of (document signer DER, issuer DER) of the pairs whose certificate signature has
    /// verified: a production batch's cards share one document signer, so its certificate's
    /// signature is checked once, not once per card. Only successes are kept, and a signature
    /// over the same bytes with the same key verifies the same way every time, so this changes
    /// no outcome. Shared by clones; bounded by [`VERIFIED_CACHE`].
    verified: Arc<Mutex<HashSet<[u8; 32]>>>,
}

/// What passive authentication does when the CSCA of a chain has no CRL in the store, or only
/// one whose nextUpdate has passed. A CRL that lists the document signer is a revocation under
/// either policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationPolicy {
    /// The station cannot judge without a current CRL: passive authentication fails with
    /// [`super::PaFailure::RevocationUnknown`], which the verdict layer reports as `unavailable`
    /// (never as the card's fault).
    Require,
    /// Passive authentication goes on, and its report says revocation was not checked and why
    /// (the verdict carries it as a not-checked item).
    #[default]
    Warn,
}

impl RevocationPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationPolicy::Require => "require",
            RevocationPolicy::Warn => "warn",
        }
    }
}

/// Most (signer, issuer) pairs remembered as verified; the set starts afresh when full.
pub const VERIFIED_CACHE: usize = 1024;

/// File name endings `load_dir` reads (case-insensitive).
pub const CERT_EXTENSIONS: [&str; 4] = ["pem", "der", "crt", "cer"];

/// File name ending `load_dir` reads CRLs from (case-insensitive): DER, or PEM `X509 CRL` blocks.
pub const CRL_EXTENSION: &str = "crl";

impl TrustStore {
    /// A store that trusts nothing: every passive authentication fails as signer unknown.
    pub fn empty() -> TrustStore {
        TrustStore::default()
    }

    /// A store of the given certificates (duplicates dropped).
    pub fn from_certs(certs: impl IntoIterator<Item = Certificate>) -> TrustStore {
        let mut s = TrustStore::empty();
        for c in certs {
            s.add(c);
        }
        s
    }

    /// Every `*.pem`, `*.der`, `*.crt`, `*.cer` file directly in `dir` (not recursive) as
    /// certificates and every `*.crl` file as CRLs, in file name order. A PEM file may hold several
    /// CERTIFICATE (or X509 CRL) blocks; other PEM blocks are skipped. A file that is unreadable,
    /// holds nothing of its kind or holds a malformed one is an error naming the file: a
    /// half-loaded trust store is worse than none.
    pub fn load_dir(dir: &Path) -> Result<TrustStore, PkiError> {
        let mut store = TrustStore::empty();
        for (path, kind) in trust_files(dir)? {
            let bytes = std::fs::read(&path).map_err(|e| PkiError::File { path: path.clone(), what: e.to_string() })?;
            match kind {
                TrustFile::Certificates => {
                    for c in read_certificates(&bytes).map_err(|e| e.in_file(&path))? {
                        store.add(c);
                    }
                }
                TrustFile::Crls => {
                    for c in read_crls(&bytes).map_err(|e| e.in_file(&path))? {
                        store.add_crl(c);
                    }
                }
            }
        }
        Ok(store)
    }

    /// Add a CRL unless an identical one is present.
    pub fn add_crl(&mut self, crl: Crl) {
        if !self.crls.iter().any(|c| c.der == crl.der) {
            self.crls.push(crl);
        }
    }

    /// The CRLs of the store, as loaded (not yet checked against any CSCA).
    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    pub fn revocation_policy(&self) -> RevocationPolicy {
        self.revocation
    }

    pub fn set_revocation_policy(&mut self, policy: RevocationPolicy) {
        self.revocation = policy;
    }

    /// The store with `policy` in force.
    pub fn with_revocation_policy(mut self, policy: RevocationPolicy) -> TrustStore {
        self.revocation = policy;
        self
    }

    /// Add a certificate unless an identical one is present.
    pub fn add(&mut self, cert: Certificate) {
        if !self.certs.iter().any(|c| c.der == cert.der) {
            self.certs.push(cert);
        }
    }

    pub fn certificates(&self) -> &[Certificate] {
        &self.certs
    }

    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// Trusted certificates whose subject is `cert`'s issuer (and whose key identifier agrees
    /// when both sides carry one): the candidates to verify `cert` with.
    pub fn issuers_of<'a>(&'a self, cert: &'a Certificate) -> impl Iterator<Item = &'a Certificate> + 'a {
        self.certs.iter().filter(move |c| cert.names_issuer(c))
    }

    /// [`Certificate::verify_signed_by`] of `cert` by `issuer` (one of [`TrustStore::issuers_of`]),
    /// remembering successes (see the `verified` field).
    pub fn verify_issued(&self, cert: &Certificate, issuer: &Certificate) -> Result<(), super::alg::VerifyError> {
        self.cached(b"cert", &cert.der, &issuer.der, || cert.verify_signed_by(issuer))
    }

    /// [`Crl::verify_signed_by`] of `crl` by `issuer`, remembering successes like
    /// [`TrustStore::verify_issued`]: a station checks the same CRL on every card.
    pub fn verify_crl(&self, crl: &Crl, issuer: &Certificate) -> Result<(), super::alg::VerifyError> {
        self.cached(b"crl", &crl.der, &issuer.der, || crl.verify_signed_by(issuer))
    }

    fn cached(
        &self,
        kind: &[u8],
        signed: &[u8],
        issuer: &[u8],
        verify: impl FnOnce() -> Result<(), super::alg::VerifyError>,
    ) -> Result<(), super::alg::VerifyError> {
        let key: [u8; 32] = {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(kind);
            ctx.update(&(signed.len() as u64).to_be_bytes());
            ctx.update(signed);
            ctx.update(issuer);
            let d = ctx.finish();
            let mut k = [0u8; 32];
            k.copy_from_slice(d.as_ref());
            k
        };
        if self.verified.lock().is_ok_and(|set| set.contains(&key)) {
            return Ok(());
        }
        verify()?;
        if let Ok(mut set) = self.verified.lock() {
            if set.len() >= VERIFIED_CACHE {
                set.clear();
            }
            set.insert(key);
        }
        Ok(())
    }
}

/// What a file of a trust directory holds, by its name's ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustFile {
    Certificates,
    Crls,
}

/// The files of a trust directory that [`TrustStore::load_dir`] reads, in file name order, with
/// what each holds.
pub fn trust_files(dir: &Path) -> Result<Vec<(PathBuf, TrustFile)>, PkiError> {
    let io = |path: &Path, e: std::io::Error| PkiError::File { path: path.to_path_buf(), what: e.to_string() };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        let kind = if CERT_EXTENSIONS.iter().any(|w| w.eq_ignore_ascii_case(ext)) {
            TrustFile::Certificates
        } else if ext.eq_ignore_ascii_case(CRL_EXTENSION) {
            TrustFile::Crls
        } else {
            continue;
        };
        if path.is_file() {
            paths.push((path, kind));
        }
    }
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(paths)
}

/// Decode PEM text (`-----BEGIN <label>-----` blocks) into (label, DER) pairs.
pub fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, PkiError> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) {
            if current.is_some() {
                return Err(PkiError::Invalid { field: "pem", offset: lineno + 1, what: "BEGIN inside an open block".into() });
            }
            current = Some((label.to_string(), String::new(), lineno + 1));
        } else if let Some(label) = line.strip_prefix("-----END ").and_then(|l| l.strip_suffix("-----")) {
            let (open, body, start) = current
                .take()
                .ok_or_else(|| PkiError::Invalid { field: "pem", offset: lineno + 1, what: format!("END {label} without BEGIN") })?;
            if open != label {
                return Err(PkiError::Invalid { field: "pem", offset: lineno + 1, what: format!("END {label} closes BEGIN {open}") });
            }
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|e| PkiError::Invalid { field: "pem", offset: start, what: format!("{label} block is not base64: {e}") })?;
            out.push((open, der));
        } else if let Some((_, body, _)) = current.as_mut() {
            if line.contains(':') {
                continue; // RFC 1421 headers (Proc-Type, DEK-Info)
            }
            body.push_str(line);
        }
    }
    if let Some((label, _, start)) = current {
        return Err(PkiError::Invalid { field: "pem", offset: start, what: format!("BEGIN {label} is never closed") });
    }
    Ok(out)
}

/// PEM text encoding of DER bytes with 64-character lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// The certificates of one file: PEM (every CERTIFICATE block, at least one) or a single DER
/// certificate.
pub fn read_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, PkiError> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![Certificate::parse(bytes)?]);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| PkiError::Invalid { field: "certificate file", offset: e.valid_up_to(), what: "neither DER nor PEM text".into() })?;
    let certs = pem_blocks(text)?
        .into_iter()
        .filter(|(label, _)| label == "CERTIFICATE" || label == "X509 CERTIFICATE")
        .map(|(_, der)| Certificate::parse(&der))
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(PkiError::Invalid { field: "certificate file", offset: 0, what: "no CERTIFICATE block".into() });
    }
    Ok(certs)
}

/// The CRLs of one file: PEM (every `X509 CRL` block, at least one) or a single DER CRL.
pub fn read_crls(bytes: &[u8]) -> Result<Vec<Crl>, PkiError> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![Crl::parse(bytes)?]);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| PkiError::Invalid { field: "crl file", offset: e.valid_up_to(), what: "neither DER nor PEM text".into() })?;
    let crls = pem_blocks(text)?
        .into_iter()
        .filter(|(label, _)| label == "X509 CRL")
        .map(|(_, der)| Crl::parse(&der))
        .collect::<Result<Vec<_>, _>>()?;
    if crls.is_empty() {
        return Err(PkiError::Invalid { field: "crl file", offset: 0, what: "no X509 CRL block".into() });
    }
    Ok(crls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::testutil::{sample_csca_der, sample_trust_dir};
    use proptest::prelude::*;

    #[test]
    fn loads_the_sample_trust_dir() {
        let store = TrustStore::load_dir(&sample_trust_dir()).expect("loads");
        assert_eq!(store.len(), 1);
        assert_eq!(store.certificates()[0].subject.text, "C=CN, O=Hidden Corpus, CN=Hidden Corpus CSCA");
        assert_eq!(store.certificates()[0].der, sample_csca_der());
    }

    #[test]
    fn load_dir_reads_every_kind_and_dedups() {
        let dir = tempfile::tempdir().expect("tempdir");
        let der = sample_csca_der();
        std::fs::write(dir.path().join("a.der"), &der).expect("write");
        std::fs::write(dir.path().join("b.CRT"), pem_encode("CERTIFICATE", &der)).expect("write");
        std::fs::write(dir.path().join("notes.txt"), "not a certificate").expect("write");
        let store = TrustStore::load_dir(dir.path()).expect("loads");
        assert_eq!(store.len(), 1, "same certificate twice is one anchor");

        std::fs::write(dir.path().join("c.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("write");
        let e = TrustStore::load_dir(dir.path()).expect_err("bad file");
        assert!(e.to_string().contains("c.pem"), "{e}");
        std::fs::write(dir.path().join("c.pem"), "hello").expect("write");
        let e = TrustStore::load_dir(dir.path()).expect_err("no block");
        assert!(e.to_string().contains("c.pem") && e.to_string().contains("no CERTIFICATE block"), "{e}");

        let e = TrustStore::load_dir(&dir.path().join("missing")).expect_err("missing dir");
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn pem_round_trip_and_errors() {
        let der = sample_csca_der();
        let pem = pem_encode("CERTIFICATE", &der);
        assert_eq!(pem_blocks(&pem).expect("decodes"), vec![("CERTIFICATE".to_string(), der)]);
        assert!(pem_blocks("-----BEGIN X-----\nAA==\n").is_err());
        assert!(pem_blocks("-----BEGIN X-----\nAA==\n-----END Y-----\n").is_err());
        assert!(pem_blocks("-----BEGIN X-----\n!!\n-----END X-----\n").is_err());
    }

    proptest! {
        #[test]
        fn read_certificates_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_certificates(&data);
            let _ = read_crls(&data);
            let _ = pem_blocks(&String::from_utf8_lossy(&data));
        }
    }
}
