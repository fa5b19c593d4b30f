//! Chip Authentication version 1, the computations only (ICAO 9303-11 section 6.2, BSI TR-03110-1
//! section 3.4; no APDUs): the host takes the chip's static key-agreement key from DG14 (domain
//! and public key, [`Domain::from_spki`]), generates an ephemeral key pair on that domain, agrees on
//! K = KA(SK_IFD, PK_IC, D_IC) and derives the new session keys KSEnc = KDF(K, 1) and
//! KSMac = KDF(K, 2) (ICAO 9303-11 9.7.1); the chip computes the same from its private key and
//! the host's ephemeral public key PK_IFD. This module owns that sequence; the group arithmetic,
//! the validation of the other side's public key and the encodings are [`crate::group`]'s, the key
//! derivation is [`crate::sm`]'s. Sending PK_IFD (MSE:Set KAT for 3DES, MSE:Set AT and General
//! Authenticate for AES) and switching the secure messaging session belong to the caller.

use crate::access::Randomness;
use crate::group::{Domain, GroupError, KeyPair};
use crate::sm::{SessionKeys, SmCipher};

/// The host side: an ephemeral key pair on the chip's domain, the key agreement with the chip's
/// static public key `chip_public` (validated: on the curve / in the group, not the identity), and
/// the session keys of `cipher`. Returns PK_IFD (`04 || X || Y` or `y`, padded to the field
/// length: what the host sends) and the keys. The ephemeral private key is dropped (zeroed) here.
pub fn host_agree(
    domain: &Domain,
    chip_public: &[u8],
    cipher: SmCipher,
    rng: &mut dyn Randomness,
) -> Result<(Vec<u8>, SessionKeys), GroupError> {
    domain.validate_public(chip_public)?;
    let ephemeral = domain.generate(rng)?;
    let k = domain.agree(&ephemeral, chip_public)?;
    Ok((ephemeral.public().to_vec(), SessionKeys::derive(cipher, k.secret_bytes())))
}

/// The chip side (the emulator): the key agreement of the chip's static key with the host's
/// ephemeral public key `pk_ifd` (validated) and the session keys of `cipher`.
pub fn card_agree(domain: &Domain, chip_key: &KeyPair, pk_ifd: &[u8], cipher: SmCipher) -> Result<SessionKeys, GroupError> {
    let k = domain.agree(chip_key, pk_ifd)?;
    Ok(SessionKeys::derive(cipher, k.secret_bytes()))
}

/// A static Chip Authentication key pair for a test chip, on `domain` (usually a standard one,
/// so that [`Domain::spki_der`] can write it into DG14).
pub fn generate_chip_key(domain: &Domain, rng: &mut dyn Randomness) -> Result<KeyPair, GroupError> {
    domain.generate(rng)
}

#[cfg(test)]
#[path = "chip_auth_tests.rs"]
mod tests;
