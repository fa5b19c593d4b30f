//! Chip Authentication v1 (ICAO 9303-11 6.2, DG14) and Active Authentication (6.1, DG15) over a
//! secured session: the APDUs (MSE:Set KAT, or MSE:Set AT + General Authenticate for AES; INTERNAL
//! AUTHENTICATE) and what each run found ([`AuthRun`]). The key agreement is `chip_auth`'s, the
//! signature check `active_auth`'s; this module puts them on the wire. After Chip Authentication
//! secure messaging restarts with the new keys (SSC zero); a chip that does not hold the DG14 private
//! key cannot answer under them, which the reader turns into a Chip Authentication failure on the
//! next command ([`ReadFailureKind::ChipAuthenticationFailed`]).
//!
//! DG14 and DG15 come from the chip itself: a pass here means the chip holds the private key of the
//! DG14 / DG15 it gave, which proves it genuine only once passive authentication has verified DG14 /
//! DG15 (`verify` decides that).

use idcheck_core::lds::{ActiveAuthenticationInfo, ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo};
use idcheck_core::tlv;

use super::access::Randomness;
use super::active_auth::{self, AaPublicKey};
use super::apdu::Command;
use super::chip_auth;
use super::failure::{ReadFailure, ReadFailureKind, ReadStep};
use super::group::Domain;
use super::pace_link::sm_cipher;
use super::session::{Secured, Session};
use super::sm::{SecureChannel, SmCipher};

/// Ne of the Chip Authentication General Authenticate (its answer is 7C 00 for version 1).
const CA_ANSWER_LE: usize = 64;

/// What one of the two chip-genuineness protocols found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuthRun {
    /// The chip does not offer it (no DG14 Chip Authentication info / no DG15).
    #[default]
    NotOffered,
    /// Offered, not run (switched off, or the chip image came from a directory).
    NotRun(String),
    /// Ran and verified; the detail names protocol and key.
    Passed(String),
    /// Ran and failed (Active Authentication; a failed Chip Authentication fails the read).
    Failed(String),
}

impl AuthRun {
    pub fn passed(&self) -> bool {
        matches!(self, AuthRun::Passed(_))
    }
}

/// Chip Authentication v1 with one DG14 key. On success the session runs on the new keys; the
/// caller confirms them with the next command.
pub fn chip_authenticate(
    s: &mut Session<'_, Secured>,
    info: &ChipAuthenticationInfo,
    key: &ChipAuthenticationPublicKeyInfo,
    rng: &mut dyn Randomness,
) -> Result<String, ReadFailure> {
    let step = ReadStep::ChipAuthentication;
    let (domain, chip_public) = Domain::from_spki(&key.spki_der)
        .map_err(|e| ReadFailure::new(step, ReadFailureKind::Unsupported).with_detail(format!("dg14 chip authentication key: {e}")))?;
    let cipher = info.cipher.map(sm_cipher).unwrap_or(SmCipher::Tdes);
    let (pk_ifd, keys) = chip_auth::host_agree(&domain, &chip_public, cipher, rng).map_err(|e| {
        ReadFailure::new(step, ReadFailureKind::ChipAuthenticationFailed).with_detail(format!("key agreement with the dg14 key: {e}"))
    })?;
    let key_id = info.key_id.or(key.key_id).map(|id| tlv::encode(0x84, &minimal_be(id)));
    let refused = |r: super::apdu::Response, what: &str| {
        ReadFailure::new(step, ReadFailureKind::ChipAuthenticationFailed).with_sw(r.sw).with_detail(format!("the chip refuses {what}"))
    };
    if cipher == SmCipher::Tdes {
        let mut data = tlv::encode(0x91, &pk_ifd);
        data.extend(key_id.unwrap_or_default());
        let r = s.send(step, &Command::mse_set_kat(&data))?;
        if !r.is_success() {
            return Err(refused(r, "mse:set kat"));
        }
    } else {
        let mut data = tlv::encode(0x80, &oid_content(&info.oid()).map_err(|e| ReadFailure::new(step, ReadFailureKind::HostFault).with_detail(e))?);
        data.extend(key_id.unwrap_or_default());
        let r = s.send(step, &Command::mse_set_at_chip_authentication(&data))?;
        if !r.is_success() {
            return Err(refused(r, "mse:set at for chip authentication"));
        }
        let ga = tlv::encode(0x7C, &tlv::encode(0x80, &pk_ifd));
        // The answer is 7C 00 (version 1) or a few dozen bytes: a short Le keeps the protected
        // command short on chips without extended length.
        let r = s.send(step, &Command::general_authenticate(&ga, false).with_le(CA_ANSWER_LE))?;
        if !r.is_success() {
            return Err(refused(r, "general authenticate for chip authentication"));
        }
    }
    s.restart_secure_messaging(SecureChannel::from_session_keys(keys));
    Ok(format!("{info} with {}", domain.standard_domain().map_or("explicit domain parameters", |d| d.name())))
}

/// Active Authentication: a fresh 8-byte challenge, the chip's signature checked with the DG15
/// key. `Ok(AuthRun::Failed)` when the signature does not verify; `Err` when the exchange fails.
pub fn active_authenticate(
    s: &mut Session<'_, Secured>,
    dg15_spki: &[u8],
    info: Option<&ActiveAuthenticationInfo>,
    rng: &mut dyn Randomness,
) -> Result<AuthRun, ReadFailure> {
    let step = ReadStep::ActiveAuthentication;
    let key = match AaPublicKey::from_spki(dg15_spki) {
        Ok(k) => k,
        Err(e) => return Ok(AuthRun::Failed(format!("dg15 key unusable: {e}"))),
    };
    let mut challenge = [0u8; 8];
    rng.fill(&mut challenge).map_err(|e| ReadFailure::new(step, ReadFailureKind::HostFault).with_detail(e.to_string()))?;
    let cmd = Command::internal_authenticate(&challenge).with_le(key.signature_len().clamp(1, 256));
    let r = s.send(step, &cmd)?;
    if !r.is_success() {
        return Ok(AuthRun::Failed(format!("the chip refuses internal authenticate (status {})", r.sw)));
    }
    let hash_oid = info.map(|i| i.signature_algorithm.as_str());
    Ok(match active_auth::verify(&key, hash_oid, &challenge, &r.data) {
        Ok(scheme) => AuthRun::Passed(format!("{} ({scheme})", key.describe())),
        Err(e) => AuthRun::Failed(format!("{}: {e}", key.describe())),
    })
}

/// The content octets of a dotted OID.
fn oid_content(dotted: &str) -> Result<Vec<u8>, String> {
    let oid = const_oid::ObjectIdentifier::new(dotted).map_err(|e| format!("oid {dotted}: {e}"))?;
    Ok(oid.as_bytes().to_vec())
}

/// A key identifier as the shortest big-endian unsigned integer.
fn minimal_be(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let first = b.iter().position(|&x| x != 0).unwrap_or(3);
    b[first..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_minimal() {
        assert_eq!(minimal_be(0), vec![0]);
        assert_eq!(minimal_be(1), vec![1]);
        assert_eq!(minimal_be(0x0100), vec![1, 0]);
    }
}
