//! `idcheck pki ...` as an operator runs it: master lists and CRLs of the test PKI imported into
//! a temporary trust directory (idempotent, refused when unsigned, untrusted or malformed, every
//! import audit-logged), the listing, and the running daemon asked to reload (a real
//! `idcheck serve` without readers: no pcscd needed).
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod daemon_common;
mod pcsc_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use idcheck::wire::{DaemonEvent, TrustReloaded};
use idcheck_core::pki::trust::pem_encode;
use idcheck_core::pki::trust_dir::Listing;
use idcheck_testkit::testpki::TestPki;
use serde_json::Value;
use time::macros::datetime;

const SIGNED_AT: time::OffsetDateTime = datetime!(2026-01-05 09:00:00 UTC);

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_idcheck"));
    // Nothing from the machine's station: no configuration, database or socket of its own.
    c.env_remove("IDCHECK_DB").env_remove("IDCHECK_SOCKET").env("IDCHECK_CONFIG", "/nonexistent/idcheck.toml");
    c
}

/// A station's files in a temporary directory: a trust directory holding the home CSCA placed by
/// hand, a database, and a socket nobody listens on.
struct Station {
    _tmp: tempfile::TempDir,
    trust: PathBuf,
    db: PathBuf,
    socket: PathBuf,
    home: TestPki,
}

impl Station {
    fn new() -> Station {
        let tmp = tempfile::tempdir().expect("tempdir");
        let trust = tmp.path().join("trust");
        std::fs::create_dir_all(&trust).expect("trust dir");
        let home = TestPki::generate(61, "UT");
        std::fs::write(trust.join("home-csca.pem"), pem_encode("CERTIFICATE", &home.csca.der)).expect("write");
        Station { trust, db: tmp.path().join("idcheck.db"), socket: tmp.path().join("none.sock"), home, _tmp: tmp }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.db.with_file_name(name);
        std::fs::write(&p, bytes).expect("write input");
        p
    }

    fn pki(&self, args: &[&str], file: &Path, extra: &[&str]) -> Output {
        bin()
            .arg("pki")
            .args(args)
            .arg(file)
            .args(extra)
            .arg("--trust")
            .arg(&self.trust)
            .arg("--db")
            .arg(&self.db)
            .arg("--socket")
            .arg(&self.socket)
            .env("USER", "trust-operator")
            .output()
            .expect("runs")
    }

    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.trust).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    /// The `trust_import` entries of the audit log (through `audit export`).
    fn imports(&self) -> Vec<Value> {
        if !self.db.exists() {
            return Vec::new();
        }
        let out = bin().args(["audit", "export", "--no-sign", "--db"]).arg(&self.db).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
            .filter(|e| e["kind"] == "trust_import")
            .map(|e| e["payload"].clone())
            .collect()
    }

    fn list(&self) -> Listing {
        let out = bin().args(["pki", "list", "--json", "--trust"]).arg(&self.trust).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("listing json")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn others() -> Vec<TestPki> {
    vec![TestPki::generate(62, "AA"), TestPki::generate(63, "BB"), TestPki::generate(64, "CC")]
}

#[test]
fn master_list_import_is_verified_idempotent_and_logged() {
    let st = Station::new();
    let others = others();
    let signer = st.home.master_list_signer(1).expect("generated pki");
    let mut listed: Vec<&[u8]> = others.iter().map(|p| p.csca.der.as_slice()).collect();
    listed.push(&st.home.csca.der);
    listed.push(&others[0].csca.der); // listed twice
    let ml = st.file("home.ml", &signer.sign(&listed, SIGNED_AT));

    let out = st.pki(&["import-master-list"], &ml, &[]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("5 certificates listed, 3 added, 1 already present, 1 listed twice"), "{said}");
    assert!(said.contains("vouched C=UT, O=idcheck test PKI, CN=idcheck test CSCA UT 61 (trust store)"), "{said}");
    assert!(said.contains("no daemon is running at"), "{said}");
    let files = st.files();
    assert_eq!(files.len(), 4, "{files:?}");
    for p in &others {
        let name = idcheck_core::pki::trust_dir::csca_file_name(&p.csca);
        assert!(files.contains(&name), "{name} in {files:?}");
        let body = std::fs::read_to_string(st.trust.join(&name)).expect("read");
        assert!(body.starts_with("# idcheck-origin: master-list\n# source: "), "{body}");
        assert!(body.contains("# signer: C=UT, O=idcheck test PKI, CN=idcheck test master list signer 1\n"), "{body}");
        assert!(body.contains("# imported-by: cli:"), "{body}");
    }
    let log = st.imports();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["what"], "master_list");
    assert_eq!((log[0]["listed"].as_u64(), log[0]["added"].as_u64(), log[0]["present"].as_u64()), (Some(5), Some(3), Some(1)));
    assert_eq!(log[0]["sha256"], idcheck_core::model::sha256_hex(&std::fs::read(&ml).expect("ml")));
    assert_eq!(log[0]["signer"], "C=UT, O=idcheck test PKI, CN=idcheck test master list signer 1");
    assert_eq!(log[0]["anchor_how"], "trust store");
    assert_eq!(log[0]["added_sha256"].as_array().map(Vec::len), Some(3));
    assert!(log[0]["by"].as_str().is_some_and(|b| b.starts_with("cli:")), "{}", log[0]);

    // Again: nothing added, no file touched, the daemon not asked; the attempt is logged.
    let before: Vec<_> = files.iter().map(|f| std::fs::read(st.trust.join(f)).expect("read")).collect();
    let out = st.pki(&["import-master-list"], &ml, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("0 added, 4 already present") && said.contains("nothing new: the daemon was not asked to reload"), "{said}");
    assert_eq!(st.files(), files);
    let after: Vec<_> = files.iter().map(|f| std::fs::read(st.trust.join(f)).expect("read")).collect();
    assert_eq!(before, after);
    assert_eq!(st.imports().len(), 2);

    // The listing: four CSCAs, three with the master list as origin, one placed by hand.
    let l = st.list();
    assert_eq!(l.cscas.len(), 4);
    assert_eq!(l.cscas.iter().filter(|c| c.origin.as_ref().is_some_and(|o| o.kind == "master-list")).count(), 3);
    let hand = l.cscas.iter().find(|c| c.file == "home-csca.pem").expect("home csca listed");
    assert!(hand.origin.is_none() && hand.self_signed);
    assert_eq!((hand.key.algorithm.as_str(), hand.key.curve.as_deref(), hand.key.bits), ("ec", Some("P-256"), Some(256)));
    assert_eq!(hand.serial, st.home.csca.serial_hex());
    assert_eq!((hand.not_before.as_str(), hand.not_after.as_str()), ("2015-01-01T00:00:00Z", "2045-12-31T00:00:00Z"));
    let out = bin().args(["pki", "list", "--trust"]).arg(&st.trust).output().expect("runs");
    let said = text(&out.stdout);
    assert!(said.contains("csca  C=AA, O=idcheck test PKI, CN=idcheck test CSCA AA 62  serial "), "{said}");
    assert!(said.contains("  2015-01-01..2045-12-31  ec P-256  master list "), "{said}");
    assert!(said.contains("  placed by hand  home-csca.pem"), "{said}");
    assert!(said.trim_end().ends_with(&format!("4 CSCAs, 0 CRLs in {}", st.trust.display())), "{said}");
}

#[test]
fn unsigned_untrusted_and_malformed_lists_are_refused_whole() {
    let st = Station::new();
    let others = others();
    let listed: Vec<&[u8]> = others.iter().map(|p| p.csca.der.as_slice()).collect();
    let refused = |file: &Path, extra: &[&str], says: &[&str]| {
        let out = st.pki(&["import-master-list"], file, extra);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(65), "{err}{}", text(&out.stdout));
        for s in says {
            assert!(err.contains(s), "{s:?} not in {err}");
        }
        assert_eq!(st.files(), vec!["home-csca.pem".to_string()], "nothing written");
        assert!(st.imports().is_empty(), "nothing logged");
    };
    let home_signer = st.home.master_list_signer(2).expect("generated");

    // Unsigned: no signer certificate embedded; a flipped signature byte.
    refused(&st.file("unembedded.ml", &home_signer.sign_with(&listed, SIGNED_AT, false)), &[], &["refused, nothing imported", "no embedded certificate matches the signer"]);
    let mut flipped = home_signer.sign(&listed, SIGNED_AT);
    let n = flipped.len();
    flipped[n - 3] ^= 0x01;
    refused(&st.file("flipped.ml", &flipped), &[], &["the signature does not verify with the signer certificate"]);

    // Untrusted: signed under another CSCA, which is not in the store (and only listed by it).
    let foreign = others[1].master_list_signer(3).expect("generated");
    let foreign_ml = st.file("foreign.ml", &foreign.sign(&listed, SIGNED_AT));
    refused(&foreign_ml, &[], &["is not issued by a csca of the trust store", "C=BB, O=idcheck test PKI, CN=idcheck test CSCA BB 63 is not there", "--trust-signer"]);
    // Pinned to the wrong certificate.
    let wrong = st.file("wrong.pem", pem_encode("CERTIFICATE", &others[0].csca.der).as_bytes());
    refused(&foreign_ml, &["--trust-signer", wrong.to_str().unwrap()], &["neither the pinned certificate (C=AA, O=idcheck test PKI, CN=idcheck test CSCA AA 62) nor issued by it"]);

    // Malformed: the second listed certificate is no certificate.
    let junk = idcheck_core::tlv::encode_seq(0x30, &[idcheck_core::tlv::encode(0x02, &[9])]);
    let bad = st.file("malformed.ml", &home_signer.sign(&[&others[0].csca.der, &junk], SIGNED_AT));
    refused(&bad, &[], &["not a master list", "certificate 1 at offset", "is malformed"]);
    refused(&st.file("garbage.ml", b"not a master list"), &[], &["not a master list"]);
    let missing = bin().args(["pki", "import-master-list", "/nonexistent/x.ml", "--trust"]).arg(&st.trust).output().expect("runs");
    assert_eq!(missing.status.code(), Some(66), "{}", text(&missing.stderr));

    // Pinned right: the foreign list's issuer, or its signer itself.
    let issuer = st.file("bb.pem", pem_encode("CERTIFICATE", &others[1].csca.der).as_bytes());
    let out = st.pki(&["import-master-list"], &foreign_ml, &["--trust-signer", issuer.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("3 certificates listed, 3 added, 0 already present"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("(pinned issuer)"), "{}", text(&out.stdout));
    assert_eq!(st.imports()[0]["anchor_how"], "pinned issuer");
    let other = foreign.sign(&[&st.home.csca.der, &others[2].csca.der], SIGNED_AT);
    let pin_signer = st.file("signer.der", &foreign.cert.der);
    let out = st.pki(&["import-master-list"], &st.file("foreign2.ml", &other), &["--trust-signer", pin_signer.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(pinned signer)"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("2 certificates listed, 0 added, 2 already present"), "{}", text(&out.stdout));
}

#[test]
fn crl_import_good_bad_replaced() {
    let st = Station::new();
    let crl = |pki: &TestPki, this: time::OffsetDateTime, n: u32| {
        pki.issue_crl(&[(&pki.ds.serial, this)], this, this + time::Duration::days(30), n).expect("generated pki")
    };
    let jan = datetime!(2026-01-01 00:00:00 UTC);
    let feb = datetime!(2026-02-01 00:00:00 UTC);
    let first = st.file("jan.crl", &crl(&st.home, jan, 1));
    let out = st.pki(&["import-crl"], &first, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("issuer C=UT, O=idcheck test PKI, CN=idcheck test CSCA UT 61, thisUpdate 2026-01-01, 1 revoked, signed by C=UT"), "{said}");
    let crl_files: Vec<String> = st.files().into_iter().filter(|f| f.ends_with(".crl")).collect();
    assert_eq!(crl_files.len(), 1);
    assert!(crl_files[0].starts_with("crl-UT-"), "{crl_files:?}");
    let body = std::fs::read_to_string(st.trust.join(&crl_files[0])).expect("read");
    assert!(body.starts_with("# idcheck-origin: crl\n") && body.contains("-----BEGIN X509 CRL-----"), "{body}");

    // The same again: nothing new. PEM input of the same CRL: the same.
    let out = st.pki(&["import-crl"], &first, &[]);
    assert!(out.status.success() && text(&out.stdout).contains("nothing new"), "{}", text(&out.stdout));
    let pem = st.file("jan.pem.crl", pem_encode("X509 CRL", &crl(&st.home, jan, 1)).as_bytes());
    assert!(text(&st.pki(&["import-crl"], &pem, &[]).stdout).contains("nothing new"));

    // A newer CRL of the same CSCA replaces the imported one; an older one is then refused.
    let out = st.pki(&["import-crl"], &st.file("feb.crl", &crl(&st.home, feb, 2)), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("replaced {}", st.trust.join(&crl_files[0]).display())), "{}", text(&out.stdout));
    let now: Vec<String> = st.files().into_iter().filter(|f| f.ends_with(".crl") || f.contains("replaced")).collect();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0], crl_files[0]);
    let out = st.pki(&["import-crl"], &st.file("dec.crl", &crl(&st.home, datetime!(2025-12-01 00:00:00 UTC), 0)), &[]);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("is older than the crl of the same csca"), "{}", text(&out.stderr));

    let log = st.imports();
    assert_eq!(log.len(), 2, "two imports changed the store");
    assert_eq!((log[0]["what"].as_str(), log[1]["replaced"].as_u64()), (Some("crl"), Some(1)));

    // A CRL of a CSCA not in the store, and one whose signature does not verify with the CSCA
    // its issuer names (another key under the same name): refused, nothing written.
    let stranger = TestPki::generate(65, "ZZ");
    let out = st.pki(&["import-crl"], &st.file("zz.crl", &crl(&stranger, jan, 1)), &[]);
    assert_eq!(out.status.code(), Some(65));
    assert!(text(&out.stderr).contains("crl issuer C=ZZ, O=idcheck test PKI, CN=idcheck test CSCA ZZ 65 is not a csca of the trust store"), "{}", text(&out.stderr));
    let mut forged = crl(&st.home, datetime!(2026-03-01 00:00:00 UTC), 3);
    let n = forged.len();
    forged[n - 4] ^= 0x01; // inside the signature
    let out = st.pki(&["import-crl"], &st.file("forged.crl", &forged), &[]);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("crl signature does not verify with the csca of the trust store named as its issuer"), "{}", text(&out.stderr));
    assert_eq!(st.imports().len(), 2);

    // The listing shows the CRL, checked against the store.
    let l = st.list();
    assert_eq!(l.crls.len(), 1);
    assert_eq!(l.crls[0].this_update, "2026-02-01T00:00:00Z");
    assert_eq!(l.crls[0].revoked, 1);
    assert_eq!(l.crls[0].verified_by.as_deref(), Some("C=UT, O=idcheck test PKI, CN=idcheck test CSCA UT 61"));
    assert_eq!(l.crls[0].origin.as_ref().map(|o| o.kind.as_str()), Some("crl"));
}

#[test]
fn trust_dir_from_the_configuration_and_errors() {
    let st = Station::new();
    let config = st.db.with_file_name("idcheck.toml");
    std::fs::write(&config, format!("[trust]\ndirectory = {:?}\n[store]\ndatabase = {:?}\n[api]\nsocket = {:?}\n", st.trust, st.db, st.socket)).expect("config");
    let out = bin().args(["pki", "list", "--config"]).arg(&config).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 CSCAs, 0 CRLs in"), "{}", text(&out.stdout));
    let out = bin().args(["pki", "list"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(78), "IDCHECK_CONFIG names a missing file: {}", text(&out.stderr));
    // A trust directory that does not load is named, and nothing is imported into it.
    std::fs::write(st.trust.join("broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("write");
    let out = bin().args(["pki", "list", "--config"]).arg(&config).output().expect("runs");
    assert_eq!(out.status.code(), Some(65));
    assert!(text(&out.stderr).contains("broken.pem"), "{}", text(&out.stderr));
    let signer = st.home.master_list_signer(4).expect("generated");
    let ml = st.file("x.ml", &signer.sign(&[&st.home.csca.der], SIGNED_AT));
    let out = bin().args(["pki", "import-master-list"]).arg(&ml).arg("--config").arg(&config).output().expect("runs");
    assert_eq!(out.status.code(), Some(65));
    assert!(text(&out.stderr).contains("does not load, nothing imported") && text(&out.stderr).contains("broken.pem"), "{}", text(&out.stderr));
}

/// A running daemon (no readers, no pcscd needed) is asked to reload after an import and puts
/// the new CSCAs in force; the reload is audit-logged and announced; a trust directory that no
/// longer loads is refused by the daemon and the import says so.
#[test]
fn the_running_daemon_reloads() {
    // A reader name no pcscd has: the configuration must name one.
    let none = pcsc_common::Reader { port: 0, name: "idcheck test: no such reader".into() };
    let d = daemon_common::Daemon::start(&[none], daemon_common::Extra::default());
    let trust = d.dir.join("trust");
    let before: TrustReloaded = d.client().call(hyper::Method::POST, "/v1/trust/reload", None::<&()>).expect("reload").1;
    assert_eq!(before.directory, trust);
    let listener = d.client();
    let mut events = listener.events().expect("event stream");
    let home = TestPki::generate(66, "UT");
    let others = others();
    std::fs::write(trust.join("home.pem"), pem_encode("CERTIFICATE", &home.csca.der)).expect("write");
    let signer = home.master_list_signer(5).expect("generated");
    let ml = d.dir.join("home.ml");
    std::fs::write(&ml, signer.sign(&[&others[0].csca.der, &others[1].csca.der], SIGNED_AT)).expect("write");
    let out = bin().args(["pki", "import-master-list"]).arg(&ml).arg("--config").arg(&d.config).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let said = text(&out.stdout);
    let want = format!("daemon reloaded: {} CSCAs and 0 CRLs in force", before.cscas + 3);
    assert!(said.contains("2 added") && said.contains(&want), "{said}");
    let ev = events.wait_for("trust_reloaded", std::time::Duration::from_secs(10), |_| true).expect("stream").expect("event");
    assert_eq!(ev.parse::<DaemonEvent>().expect("typed"), DaemonEvent::TrustReloaded { cscas: before.cscas + 3, crls: 0 });
    // The daemon logged both reloads, the CLI the import, in the same chain.
    let out = bin().args(["audit", "export", "--no-sign", "--db"]).arg(&d.db).output().expect("runs");
    let kinds: Vec<String> = text(&out.stdout).lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter_map(|e| e["kind"].as_str().map(String::from)).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "trust_reload").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "trust_import").count(), 1, "{kinds:?}");

    // A directory that does not load: the daemon keeps what it has and answers 422.
    std::fs::write(trust.join("broken.pem"), "not a certificate").expect("write");
    let e = d.client().call::<TrustReloaded>(hyper::Method::POST, "/v1/trust/reload", None::<&()>).expect_err("refused");
    assert!(e.to_string().contains("422") && e.to_string().contains("broken.pem"), "{e}");
    std::fs::remove_file(trust.join("broken.pem")).expect("rm");
    let again: TrustReloaded = d.client().call(hyper::Method::POST, "/v1/trust/reload", None::<&()>).expect("reload").1;
    assert_eq!(again.cscas, before.cscas + 3);
}
