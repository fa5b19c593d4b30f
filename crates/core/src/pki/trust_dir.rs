//! What idcheck writes into a trust directory when it imports a master list or a CRL, and how it
//! reads that back for listing. This module owns the file layout of imports (names, the origin
//! lines), the plan of a master list import (which CSCAs are new), which CSCA of the store signed
//! a CRL, and the listing of a directory ([`list_dir`]); the writing itself is the station's
//! (`idcheck pki ...`), so nothing here writes a file.
//!
//! Layout (decided here; README "Trust store"):
//! - One PEM file per imported CSCA, `csca-<C>-<h>.pem`, and per imported CRL, `crl-<C>-<h>.crl`
//!   (PEM `X509 CRL`): `<C>` is the subject's (issuer's) countryName reduced to letters and digits
//!   (`XX` when absent), `<h>` the first 16 hex digits of the SHA-256 of the DER. The name is a
//!   function of the bytes, so re-importing writes nothing, and a certificate already in the
//!   store under any name (placed by hand, or from another list) is not written again.
//! - The origin is kept in the file itself, as `# key: value` lines right before the PEM block
//!   ([`Origin`], [`Origin::header`]): `idcheck-origin` (`master-list` or `crl`), `source` (the
//!   imported file as named on the command line), `source-sha256`, `signer` (the master list
//!   signer, or the CSCA that signed the CRL), `imported` (UTC, RFC 3339), `imported-by`, and an
//!   informational `subject` / `issuer`. [`super::trust::pem_blocks`] ignores text outside PEM
//!   blocks, so the store loads these files like any other. Values are single-line: control
//!   characters become `?`.
//! - A file without such lines (placed by hand, DER, several blocks) has no origin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ::der::Decode;
use const_oid::db::rfc4519::COUNTRY_NAME;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::alg::{self, KeyKind, PublicKey, VerifyError};
use super::cert::Certificate;
use super::crl::Crl;
use super::masterlist::MasterList;
use super::trust::{pem_blocks, pem_encode, trust_files, TrustFile, TrustStore};
use super::PkiError;
use crate::model::sha256_hex;

/// Where an imported certificate or CRL came from (the `# key: value` lines of its file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// `master-list` or `crl`.
    pub kind: String,
    /// The imported file, as named when importing.
    pub source: String,
    pub source_sha256: String,
    /// The master list signer, or the CSCA whose key verified the CRL.
    pub signer: String,
    /// When (UTC, RFC 3339).
    pub imported: String,
    /// Who (`cli:<user>`).
    pub imported_by: String,
}

/// Origin kind of a CSCA taken from a master list.
pub const FROM_MASTER_LIST: &str = "master-list";
/// Origin kind of an imported CRL.
pub const FROM_CRL: &str = "crl";

/// A value on one line.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

impl Origin {
    /// The `# key: value` lines written before a PEM block, with `extra` informational lines.
    pub fn header(&self, extra: &[(&str, &str)]) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: &str| {
            out.push_str(&format!("# {k}: {}\n", one_line(v)));
        };
        line("idcheck-origin", &self.kind);
        line("source", &self.source);
        line("source-sha256", &self.source_sha256);
        line("signer", &self.signer);
        line("imported", &self.imported);
        line("imported-by", &self.imported_by);
        for (k, v) in extra {
            line(k, v);
        }
        out
    }

    fn from_lines(lines: &BTreeMap<String, String>) -> Option<Origin> {
        let get = |k: &str| lines.get(k).cloned().unwrap_or_default();
        let kind = lines.get("idcheck-origin")?.clone();
        Some(Origin {
            kind,
            source: get("source"),
            source_sha256: get("source-sha256"),
            signer: get("signer"),
            imported: get("imported"),
            imported_by: get("imported-by"),
        })
    }
}

/// One PEM block of a file with the origin lines before it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub label: String,
    pub der: Vec<u8>,
    pub origin: Option<Origin>,
}

/// The PEM blocks of `text` (as [`pem_blocks`] decodes them), each with the `# key: value` lines
/// directly above its BEGIN line read as its [`Origin`].
pub fn annotated_blocks(text: &str) -> Result<Vec<Block>, PkiError> {
    let mut origins = Vec::new();
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if inside {
            inside = !line.starts_with("-----END ");
        } else if line.starts_with("-----BEGIN ") {
            origins.push(Origin::from_lines(&std::mem::take(&mut pending)));
            inside = true;
        } else if let Some(comment) = line.strip_prefix('#') {
            if let Some((k, v)) = comment.split_once(':') {
                pending.insert(k.trim().to_string(), v.trim().to_string());
            }
        } else {
            pending.clear();
        }
    }
    let blocks = pem_blocks(text)?;
    Ok(blocks.into_iter().zip(origins.into_iter().chain(std::iter::repeat(None))).map(|((label, der), origin)| Block { label, der, origin }).collect())
}

/// The countryName of a name encoding, letters and digits only, upper case; `XX` when absent.
fn country(raw_name: &[u8]) -> String {
    let c = x509_cert::name::Name::from_der(raw_name)
        .ok()
        .and_then(|n| {
            n.0.iter().flat_map(|rdn| rdn.0.iter()).find(|atv| atv.oid == COUNTRY_NAME).map(|atv| super::der::directory_string((&atv.value).into()))
        })
        .unwrap_or_default();
    let c: String = c.chars().filter(char::is_ascii_alphanumeric).take(3).collect::<String>().to_ascii_uppercase();
    if c.is_empty() {
        "XX".into()
    } else {
        c
    }
}

/// `csca-<C>-<h>.pem` (module doc).
pub fn csca_file_name(cert: &Certificate) -> String {
    format!("csca-{}-{}.pem", country(&cert.subject.raw), sha256_hex(&cert.der).get(..16).unwrap_or_default())
}

/// `crl-<C>-<h>.crl` (module doc).
pub fn crl_file_name(crl: &Crl) -> String {
    format!("crl-{}-{}.crl", country(&crl.issuer.raw), sha256_hex(&crl.der).get(..16).unwrap_or_default())
}

/// One file an import writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// File name within the trust directory.
    pub name: String,
    /// The whole file: origin lines and one PEM block.
    pub text: String,
    /// SHA-256 of the certificate's or CRL's DER.
    pub sha256: String,
}

/// What importing a master list into a store adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterListPlan {
    /// One file per CSCA not yet in the store, in list order.
    pub add: Vec<PlannedFile>,
    /// Listed CSCAs already in the store (by DER).
    pub present: usize,
    /// Listed more than once (counted once).
    pub repeated: usize,
}

/// The files that importing `ml` into `store` writes (module doc): every listed CSCA whose DER is
/// not in the store yet, once.
pub fn plan_master_list(ml: &MasterList, store: &TrustStore, origin: &Origin) -> MasterListPlan {
    let mut plan = MasterListPlan { add: Vec::new(), present: 0, repeated: 0 };
    let mut seen = std::collections::HashSet::new();
    for c in &ml.cscas {
        if !seen.insert(c.der.as_slice()) {
            plan.repeated += 1;
        } else if store.certificates().iter().any(|s| s.der == c.der) {
            plan.present += 1;
        } else {
            let text = origin.header(&[("subject", &c.subject.text), ("serial", &c.serial_hex())]) + &pem_encode("CERTIFICATE", &c.der);
            plan.add.push(PlannedFile { name: csca_file_name(c), text, sha256: sha256_hex(&c.der) });
        }
    }
    plan
}

/// The file an imported CRL is written as.
pub fn crl_file(crl: &Crl, origin: &Origin) -> PlannedFile {
    let text = origin.header(&[("issuer", &crl.issuer.text)]) + &pem_encode("X509 CRL", &crl.der);
    PlannedFile { name: crl_file_name(crl), text, sha256: sha256_hex(&crl.der) }
}

/// Why no CSCA of the store vouches for a CRL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlNotTrusted {
    #[error("crl issuer {issuer} is not a csca of the trust store")]
    IssuerUnknown { issuer: String },
    #[error("crl signature does not verify with the csca of the trust store named as its issuer ({})", .tried.join("; "))]
    SignatureInvalid { issuer: String, tried: Vec<String> },
    #[error("crl signature: unsupported algorithm {oid}")]
    UnsupportedAlgorithm { oid: String },
}

/// The CSCA of `store` whose key verifies `crl`'s signature (candidates: the certificates whose
/// subject names the CRL's issuer, key identifiers agreeing).
pub fn crl_signer<'a>(crl: &Crl, store: &'a TrustStore) -> Result<&'a Certificate, CrlNotTrusted> {
    let mut tried = Vec::new();
    let mut unsupported = None;
    for c in store.certificates().iter().filter(|c| crl.names_issuer(c)) {
        match crl.verify_signed_by(c) {
            Ok(()) => return Ok(c),
            Err(VerifyError::Unsupported { oid }) => unsupported = Some(oid),
            Err(VerifyError::Invalid) => tried.push(c.subject.text.clone()),
        }
    }
    match (tried.is_empty(), unsupported) {
        (false, _) => Err(CrlNotTrusted::SignatureInvalid { issuer: crl.issuer.text.clone(), tried }),
        (true, Some(oid)) => Err(CrlNotTrusted::UnsupportedAlgorithm { oid }),
        (true, None) => Err(CrlNotTrusted::IssuerUnknown { issuer: crl.issuer.text.clone() }),
    }
}

/// A public key as listed: algorithm, curve, size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// `ec`, `rsa`, or `unsupported`.
    pub algorithm: String,
    /// The curve's name (`brainpoolP384r1`, `P-256`), or the OID of a curve this crate does not
    /// verify with.
    pub curve: Option<String>,
    /// Field size (EC) or modulus size (RSA), when known.
    pub bits: Option<u32>,
    /// EC parameters given explicitly rather than by name.
    pub explicit_parameters: bool,
    /// What is not supported, for `unsupported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Bits of the RSAPublicKey modulus.
fn rsa_bits(key: &[u8]) -> Option<u32> {
    let seq = super::der::parse_one(key, super::der::SEQUENCE, "rsaPublicKey").ok()?;
    let kids = super::der::children(&seq, "rsaPublicKey").ok()?;
    let n = super::der::integer(kids.first()?, "rsaPublicKey.modulus").ok()?;
    let start = n.iter().position(|&b| b != 0)?;
    let first = *n.get(start)?;
    let bytes = u32::try_from(n.len() - start).ok()?;
    Some(bytes * 8 - first.leading_zeros())
}

impl KeyInfo {
    pub fn of(key: &PublicKey) -> KeyInfo {
        match &key.kind {
            KeyKind::Rsa => KeyInfo { algorithm: "rsa".into(), curve: None, bits: rsa_bits(&key.key), explicit_parameters: false, detail: None },
            KeyKind::Unsupported(what) => KeyInfo {
                algorithm: "unsupported".into(),
                curve: key.curve.as_ref().map(ToString::to_string),
                bits: None,
                explicit_parameters: false,
                detail: Some(what.clone()),
            },
            ec => {
                let curve = ec.curve();
                KeyInfo {
                    algorithm: "ec".into(),
                    curve: curve.map(|c| c.name().to_string()),
                    bits: curve.and_then(|c| u32::try_from(c.field_bits()).ok()),
                    explicit_parameters: key.explicit_curve,
                    detail: None,
                }
            }
        }
    }

    /// `rsa 4096`, `ec brainpoolP384r1 (explicit parameters)`.
    pub fn describe(&self) -> String {
        let mut s = self.algorithm.clone();
        if let Some(c) = &self.curve {
            s.push(' ');
            s.push_str(c);
        } else if let Some(b) = self.bits {
            s.push_str(&format!(" {b}"));
        }
        if self.explicit_parameters {
            s.push_str(" (explicit parameters)");
        }
        if let Some(d) = &self.detail {
            s.push_str(&format!(" ({d})"));
        }
        s
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// One CSCA of a trust directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CscaEntry {
    pub subject: String,
    pub issuer: String,
    /// Serial number, hex as encoded.
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub key: KeyInfo,
    pub signature_algorithm: String,
    pub self_signed: bool,
    /// SHA-256 of the DER.
    pub sha256: String,
    pub origin: Option<Origin>,
    pub file: String,
}

/// One CRL of a trust directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlEntry {
    pub issuer: String,
    pub this_update: String,
    pub next_update: Option<String>,
    /// cRLNumber, hex as encoded.
    pub crl_number: Option<String>,
    pub revoked: usize,
    pub signature_algorithm: String,
    /// The CSCA of the directory whose key verifies the CRL's signature, if any.
    pub verified_by: Option<String>,
    pub sha256: String,
    pub origin: Option<Origin>,
    pub file: String,
}

/// Everything a trust directory holds, file by file (a certificate in two files is listed twice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub directory: String,
    pub cscas: Vec<CscaEntry>,
    pub crls: Vec<CrlEntry>,
}

/// Blocks of one trust file: PEM with origins, or one DER element.
fn file_blocks(path: &Path, bytes: &[u8], label: &str) -> Result<Vec<Block>, PkiError> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![Block { label: label.into(), der: bytes.to_vec(), origin: None }]);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| PkiError::Invalid { field: "trust file", offset: e.valid_up_to(), what: "neither DER nor PEM text".into() }.in_file(path))?;
    annotated_blocks(text).map_err(|e| e.in_file(path))
}

/// Every CSCA and CRL of the trust directory `dir` (the files [`TrustStore::load_dir`] reads),
/// with origin and file; each CRL is checked against the directory's CSCAs. A file that does not
/// load is an error naming it, as for the store.
pub fn list_dir(dir: &Path) -> Result<Listing, PkiError> {
    let store = TrustStore::load_dir(dir)?;
    let mut listing = Listing { directory: dir.display().to_string(), cscas: Vec::new(), crls: Vec::new() };
    for (path, kind) in trust_files(dir)? {
        let bytes = std::fs::read(&path).map_err(|e| PkiError::File { path: path.clone(), what: e.to_string() })?;
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match kind {
            TrustFile::Certificates => {
                for b in file_blocks(&path, &bytes, "CERTIFICATE")? {
                    if b.label != "CERTIFICATE" && b.label != "X509 CERTIFICATE" {
                        continue;
                    }
                    let c = Certificate::parse(&b.der).map_err(|e| e.in_file(&path))?;
                    listing.cscas.push(csca_entry(&c, b.origin, &file));
                }
            }
            TrustFile::Crls => {
                for b in file_blocks(&path, &bytes, "X509 CRL")? {
                    if b.label != "X509 CRL" {
                        continue;
                    }
                    let c = Crl::parse(&b.der).map_err(|e| e.in_file(&path))?;
                    listing.crls.push(CrlEntry {
                        issuer: c.issuer.text.clone(),
                        this_update: rfc3339(c.this_update),
                        next_update: c.next_update.map(rfc3339),
                        crl_number: c.crl_number.as_deref().map(hex::encode),
                        revoked: c.revoked.len(),
                        signature_algorithm: alg::signature_name(&c.signature_alg.oid),
                        verified_by: crl_signer(&c, &store).ok().map(|s| s.subject.text.clone()),
                        sha256: sha256_hex(&c.der),
                        origin: b.origin,
                        file: file.clone(),
                    });
                }
            }
        }
    }
    Ok(listing)
}

fn csca_entry(c: &Certificate, origin: Option<Origin>, file: &str) -> CscaEntry {
    CscaEntry {
        subject: c.subject.text.clone(),
        issuer: c.issuer.text.clone(),
        serial: c.serial_hex(),
        not_before: rfc3339(c.not_before),
        not_after: rfc3339(c.not_after),
        key: KeyInfo::of(&c.public_key),
        signature_algorithm: alg::signature_name(&c.signature_alg.oid),
        self_signed: c.subject.matches(&c.issuer),
        sha256: sha256_hex(&c.der),
        origin,
        file: file.to_string(),
    }
}

/// The paths of a trust directory's imported files of one origin kind (`FROM_CRL` ...), with
/// their blocks: for the importer to find an earlier import to replace.
pub fn imported_files(dir: &Path, kind: &str) -> Result<Vec<(PathBuf, Vec<Block>)>, PkiError> {
    let mut out = Vec::new();
    for (path, _) in trust_files(dir)? {
        let bytes = std::fs::read(&path).map_err(|e| PkiError::File { path: path.clone(), what: e.to_string() })?;
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };
        let blocks = annotated_blocks(text).map_err(|e| e.in_file(&path))?;
        if !blocks.is_empty() && blocks.iter().all(|b| b.origin.as_ref().is_some_and(|o| o.kind == kind)) {
            out.push((path, blocks));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::testutil::{sample_csca_der, sample_trust_dir};

    fn origin() -> Origin {
        Origin {
            kind: FROM_MASTER_LIST.into(),
            source: "/tmp/de.ml\n-----BEGIN CERTIFICATE-----".into(),
            source_sha256: "ab".repeat(32),
            signer: "C=DE, CN=Signer".into(),
            imported: "2026-12-07T10:00:00Z".into(),
            imported_by: "cli:op".into(),
        }
    }

    #[test]
    fn origin_lines_round_trip_and_stay_outside_the_block() {
        let der = sample_csca_der();
        let c = Certificate::parse(&der).expect("csca");
        let text = origin().header(&[("subject", &c.subject.text)]) + &pem_encode("CERTIFICATE", &der);
        // The newline in the source became '?': one line, no second BEGIN.
        assert_eq!(text.lines().filter(|l| l.trim().starts_with("-----BEGIN")).count(), 1, "{text}");
        let blocks = annotated_blocks(&text).expect("parses");
        assert_eq!(blocks.len(), 1);
        let o = blocks[0].origin.clone().expect("origin read back");
        assert_eq!(o.source, "/tmp/de.ml?-----BEGIN CERTIFICATE-----");
        assert_eq!(Origin { source: origin().source.replace('\n', "?"), ..origin() }, o);
        assert_eq!(crate::pki::trust::read_certificates(text.as_bytes()).expect("the store reads it")[0].der, der);
        // Two blocks, the second without lines of its own; a plain PEM has no origin.
        let two = format!("{text}\n{}", pem_encode("CERTIFICATE", &der));
        let b = annotated_blocks(&two).expect("two");
        assert!(b[0].origin.is_some() && b[1].origin.is_none());
        assert!(annotated_blocks(&pem_encode("CERTIFICATE", &der)).expect("plain")[0].origin.is_none());
        // Comment lines separated from the block by other text do not count.
        let loose = origin().header(&[]) + "some text\n" + &pem_encode("CERTIFICATE", &der);
        assert!(annotated_blocks(&loose).expect("loose")[0].origin.is_none());
    }

    #[test]
    fn names_are_a_function_of_the_bytes() {
        let c = Certificate::parse(&sample_csca_der()).expect("csca");
        let n = csca_file_name(&c);
        assert!(n.starts_with("csca-CN-") && n.ends_with(".pem") && n.len() == "csca-CN-.pem".len() + 16, "{n}");
        assert_eq!(n, csca_file_name(&c.clone()));
        assert_eq!(country(&[0x30, 0x00]), "XX");
    }

    #[test]
    fn the_sample_trust_dir_lists() {
        let l = list_dir(&sample_trust_dir()).expect("lists");
        assert_eq!(l.cscas.len(), 1);
        let e = &l.cscas[0];
        assert_eq!(e.subject, "C=CN, O=Hidden Corpus, CN=Hidden Corpus CSCA");
        assert_eq!(e.key, KeyInfo { algorithm: "ec".into(), curve: Some("P-256".into()), bits: Some(256), explicit_parameters: false, detail: None });
        assert_eq!(e.key.describe(), "ec P-256");
        assert!(e.self_signed && e.origin.is_none() && e.file == "csca.pem");
        assert!(l.crls.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn annotated_blocks_never_panic(lines in proptest::collection::vec("(# [a-z-]{0,12}: .{0,20}|-----(BEGIN|END) (CERTIFICATE|X509 CRL)-----|[A-Za-z0-9+/=]{0,20}|.{0,10})", 0..12)) {
            let text = lines.join("\n");
            if let Ok(blocks) = annotated_blocks(&text) {
                proptest::prop_assert_eq!(blocks.len(), pem_blocks(&text).map(|b| b.len()).unwrap_or(usize::MAX));
            }
            let _ = rsa_bits(text.as_bytes());
        }
    }

    #[test]
    fn rsa_modulus_bits() {
        use crate::tlv::{encode, encode_seq};
        let mut n = vec![0x00, 0x80];
        n.extend([0u8; 255]);
        assert_eq!(rsa_bits(&encode_seq(0x30, &[encode(0x02, &n), encode(0x02, &[1, 0, 1])])), Some(2048));
        assert_eq!(rsa_bits(&encode_seq(0x30, &[encode(0x02, &[0x01, 0xFF]), encode(0x02, &[3])])), Some(9));
        assert_eq!(rsa_bits(&[0x30, 0x00]), None);
    }
}
