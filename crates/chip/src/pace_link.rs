//! PACE on the wire (ICAO 9303-11 4.4.4): which of the protocols EF.CardAccess offers this
//! station runs ([`choose`]), then MSE:Set AT and the chain of four General Authenticate commands,
//! each answer handed to the pure state machine [`crate::pace::HostPace`]. The cryptography and
//! the parsing of the dynamic authentication data live there; this module only moves APDUs and
//! names the step of every failure. A refused MSE:Set AT is reported apart ([`PaceRun::Refused`]):
//! the chip does not run what its EF.CardAccess announced, and the reader may fall back to BAC.

use idcheck_core::lds::{Cipher, KeyAgreement, Mapping, PaceInfo, SecurityInfos};

use super::access::Randomness;
use super::apdu::{Command, StatusWord};
use super::failure::{ReadFailure, ReadFailureKind, ReadStep};
use super::group::StandardDomain;
use super::link::Link;
use super::pace::{mse_set_at_data, HostPace, PaceError, PacePassword, PaceSetup};
use super::sm::{SecureChannel, SmCipher};

/// The PACE protocol chosen from EF.CardAccess, for the verdict's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaceChoice {
    /// `id-PACE-ECDH-GM-AES-CBC-CMAC-128` and the like.
    pub protocol: String,
    pub oid: String,
    /// `brainpoolP256r1`, `modp2048-256`, ...
    pub domain: &'static str,
    pub parameter_id: u32,
    /// `mrz` or `can`.
    pub password: &'static str,
}

/// The secure messaging cipher of a PACE or CA protocol.
pub fn sm_cipher(c: Cipher) -> SmCipher {
    match c {
        Cipher::Tdes => SmCipher::Tdes,
        Cipher::Aes128 => SmCipher::Aes128,
        Cipher::Aes192 => SmCipher::Aes192,
        Cipher::Aes256 => SmCipher::Aes256,
    }
}

/// How much this station likes a protocol: Generic Mapping only; ECDH before DH, AES before 3DES,
/// then the longer key.
fn rank(info: &PaceInfo) -> Option<u32> {
    if info.protocol.mapping != Mapping::Generic || info.version != 2 {
        return None;
    }
    let agreement = match info.protocol.agreement {
        KeyAgreement::Ecdh => 10,
        KeyAgreement::Dh => 0,
    };
    let cipher = match info.protocol.cipher {
        Cipher::Tdes => 0,
        Cipher::Aes128 => 1,
        Cipher::Aes192 => 2,
        Cipher::Aes256 => 3,
    };
    Some(agreement + cipher)
}

/// The best PACE protocol of EF.CardAccess this station runs, with the password. `Err` says why
/// none is usable (for the evidence, and for a PACE-only read's failure).
pub fn choose(infos: &SecurityInfos, password: PacePassword) -> Result<(PaceSetup, PaceChoice), String> {
    let mut offered = 0usize;
    let mut reasons = Vec::new();
    let mut best: Option<(u32, &PaceInfo, StandardDomain)> = None;
    for info in infos.pace() {
        offered += 1;
        let Some(r) = rank(info) else {
            reasons.push(format!("{} version {} is not generic mapping version 2", info.protocol, info.version));
            continue;
        };
        let Some(id) = info.parameter_id else {
            reasons.push(format!("{} names no standardized domain parameters (explicit parameters are not supported)", info.protocol));
            continue;
        };
        let domain = match StandardDomain::from_parameter_id(id) {
            Ok(d) => d,
            Err(e) => {
                reasons.push(format!("{}: {e}", info.protocol));
                continue;
            }
        };
        if domain.is_ec() != (info.protocol.agreement == KeyAgreement::Ecdh) {
            reasons.push(format!("{}: domain parameters {id} do not fit its key agreement", info.protocol));
            continue;
        }
        if best.as_ref().is_none_or(|(b, _, _)| r > *b) {
            best = Some((r, info, domain));
        }
    }
    let Some((_, info, domain)) = best else {
        return Err(if offered == 0 {
            "ef.cardaccess offers no pace protocol".to_string()
        } else {
            format!("no pace protocol of ef.cardaccess is supported: {}", reasons.join("; "))
        });
    };
    let choice = PaceChoice {
        protocol: info.protocol.to_string(),
        oid: info.protocol.oid(),
        domain: domain.name(),
        parameter_id: domain.parameter_id(),
        password: match password {
            PacePassword::Mrz(_) => "mrz",
            PacePassword::Can(_) => "can",
        },
    };
    let setup = PaceSetup { oid: info.protocol.oid(), cipher: sm_cipher(info.protocol.cipher), domain, password };
    Ok((setup, choice))
}

/// The end of a PACE run.
#[derive(Debug)]
pub enum PaceRun {
    /// Secure messaging with the PACE session keys (SSC zero).
    Done(SecureChannel),
    /// The chip refused MSE:Set AT: it does not run the protocol EF.CardAccess announced.
    Refused(ReadFailure),
}

/// Run PACE: MSE:Set AT, General Authenticate x4. Every failure names its step; a wrong
/// password is the chip's 6300 (or 63CX) to the last step, reported as access refused.
pub fn run(link: &mut Link<'_>, setup: PaceSetup, rng: &mut dyn Randomness) -> Result<PaceRun, ReadFailure> {
    let step = ReadStep::PaceSetAt;
    let r = link.send(&Command::mse_set_at_pace(&mse_set_at_data(&setup, true))).map_err(|e| ReadFailure::from_link(step, &e))?;
    if !r.is_success() {
        return Ok(PaceRun::Refused(
            ReadFailure::new(step, ReadFailureKind::AccessDenied).with_sw(r.sw).with_detail("the chip refuses the pace protocol its ef.cardaccess offers"),
        ));
    }
    let mut host = HostPace::new(setup);

    let nonce = exchange(link, ReadStep::PaceNonce, &HostPace::first_command_data(), true)?;
    let data = host.on_nonce(&nonce, rng).map_err(|e| pace_failure(ReadStep::PaceNonce, e))?;
    let mapping = exchange(link, ReadStep::PaceMapping, &data, true)?;
    let data = host.on_mapping(&mapping, rng).map_err(|e| pace_failure(ReadStep::PaceMapping, e))?;
    let key = exchange(link, ReadStep::PaceKeyAgreement, &data, true)?;
    let data = host.on_key(&key).map_err(|e| pace_failure(ReadStep::PaceKeyAgreement, e))?;
    let token = exchange(link, ReadStep::PaceMutualAuthenticate, &data, false)?;
    let result = host.finish(&token).map_err(|e| pace_failure(ReadStep::PaceMutualAuthenticate, e))?;
    Ok(PaceRun::Done(SecureChannel::from_session_keys(result.keys)))
}

/// One General Authenticate: the answer's data field, or the step's failure.
fn exchange(link: &mut Link<'_>, step: ReadStep, data: &[u8], chained: bool) -> Result<Vec<u8>, ReadFailure> {
    let r = link.send(&Command::general_authenticate(data, chained)).map_err(|e| ReadFailure::from_link(step, &e))?;
    if r.is_success() {
        return Ok(r.data);
    }
    // 6300, or 63CX (X tries left) as some chips count wrong passwords.
    let wrong_password = r.sw == StatusWord::VerificationFailed || (r.sw.to_u16() & 0xFFF0) == 0x63C0;
    let detail = if wrong_password && step == ReadStep::PaceMutualAuthenticate {
        "the chip refuses the terminal's token: wrong password (mrz or can)"
    } else {
        "the chip refuses the pace step"
    };
    Err(ReadFailure::new(step, ReadFailureKind::AccessDenied).with_sw(r.sw).with_detail(detail))
}

/// A failure of the host-side computation on the chip's answer.
fn pace_failure(step: ReadStep, e: PaceError) -> ReadFailure {
    match e {
        PaceError::Randomness { .. } | PaceError::Setup(_) | PaceError::OutOfOrder { .. } | PaceError::Over { .. } => {
            ReadFailure::new(step, ReadFailureKind::HostFault).with_detail(e.to_string())
        }
        PaceError::Malformed { .. } | PaceError::NonceLength { .. } => ReadFailure::malformed(step, e.to_string()),
        _ => ReadFailure::new(step, ReadFailureKind::AuthenticationInvalid).with_detail(e.to_string()),
    }
}
