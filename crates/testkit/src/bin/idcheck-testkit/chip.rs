//! `idcheck-testkit personalize`, `idcheck-testkit pki init` and `idcheck-testkit emulate`: the chip-image writer and the test PKI, for
//! building virtual cards (the card emulator serves what these write).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use idcheck_testkit::personalize::{ChipContent, ChipSecurity};
use idcheck_testkit::testpki::TestPki;
use idcheck_core::records;

use super::{CliError, CliResult};

#[derive(Args)]
pub struct PersonalizeArgs {
    /// Acceptance record directory to write a chip for.
    #[arg(long)]
    record: PathBuf,
    /// Output chip image directory.
    #[arg(long)]
    out: PathBuf,
    /// Test PKI directory (from `idcheck-testkit pki init`): its document signer signs EF.SOD.
    #[arg(long)]
    pki: PathBuf,
    /// Beyond BAC: `modern` (EF.CardAccess with PACE ECDH-GM AES-128 brainpoolP256r1, DG14 Chip
    /// Authentication, DG15 Active Authentication ECDSA P-256, CAN 123456), `pace` (PACE only),
    /// `ca` (Chip Authentication only), `aa-rsa` (Active Authentication RSA-1024 only). The chip's
    /// secrets go to chip-secrets.json beside the files.
    #[arg(long, value_name = "PRESET")]
    security: Option<String>,
    /// Seed of the chip's keys (with --security).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Subcommand)]
pub enum PkiCmd {
    /// Create a test PKI (CSCA and document signer) in DIR; DIR/csca.pem is the trust anchor.
    Init {
        dir: PathBuf,
        /// Seed of the keys (the same seed gives the same PKI).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value = "CN")]
        country: String,
    },
}

pub fn personalize(a: PersonalizeArgs) -> CliResult {
    let record = records::acceptance::load_dir(&a.record).map_err(CliError::data)?;
    let pki = TestPki::load_dir(&a.pki).map_err(|e| CliError::data(format!("{}: {e}", a.pki.display())))?;
    let content = ChipContent::from_record(&record).map_err(CliError::data)?;
    let now = time::OffsetDateTime::now_utc();
    let image = match &a.security {
        None => content.write(&pki, now).map_err(CliError::data)?,
        Some(name) => {
            let security = ChipSecurity::preset(name)
                .ok_or_else(|| CliError::data(format!("--security {name}: expected modern, pace, ca or aa-rsa")))?;
            let (image, secrets) = content.write_secured(&pki, now, &security, a.seed).map_err(CliError::data)?;
            image.save_dir(&a.out).map_err(CliError::io)?;
            secrets.save_dir(&a.out).map_err(CliError::io)?;
            image
        }
    };
    image.save_dir(&a.out).map_err(CliError::io)?;
    println!(
        "wrote {} files for application {} to {}",
        image.files.len(),
        record.application_id,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn pki(cmd: PkiCmd) -> CliResult {
    let PkiCmd::Init { dir, seed, country } = cmd;
    let seed = match seed {
        Some(s) => s,
        None => {
            let mut b = [0u8; 8];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
                .map_err(|_| CliError::new(super::EX_SOFTWARE, "no system randomness for the PKI seed"))?;
            u64::from_le_bytes(b)
        }
    };
    let pki = TestPki::generate(seed, &country);
    pki.save_dir(&dir).map_err(|e| CliError::io(format!("{}: {e}", dir.display())))?;
    // The trust directory holds the CSCA alone (the PKI directory also holds the signer).
    let trust = dir.join("trust");
    std::fs::create_dir_all(&trust).map_err(|e| CliError::io(format!("{}: {e}", trust.display())))?;
    let pem = idcheck_core::pki::trust::pem_encode("CERTIFICATE", &pki.csca.der);
    std::fs::write(trust.join("csca.pem"), pem).map_err(|e| CliError::io(format!("{}: {e}", trust.display())))?;
    println!("test PKI written to {}; trust directory for --trust: {}", dir.display(), trust.display());
    Ok(ExitCode::SUCCESS)
}

pub fn emulate(a: idcheck_testkit::emulator::cli_args::EmulateArgs) -> CliResult {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let report = a.run(stop, &mut std::io::stderr()).map_err(|e| CliError::new(super::EX_IOERR, e.to_string()))?;
    eprintln!("{report:?}");
    Ok(ExitCode::SUCCESS)
}
