//! The inspection system's side of PACE-GM: [`HostPace`] walks AwaitNonce -> AwaitMapping ->
//! AwaitKey -> AwaitToken -> done, one GENERAL AUTHENTICATE answer per step, and ends with the
//! session keys and the chip's ephemeral public key ([`PaceResult`]). Any refused answer ends
//! the run: PACE starts over from MSE:Set AT.

use std::fmt;

use p256::elliptic_curve::subtle::ConstantTimeEq;

use super::data::{self, Slot};
use super::{token_input, validate, KeyAgreement, PaceError, PaceSetup, PaceStep};
use crate::access::Randomness;
use crate::group::{Domain, KeyPair};
use crate::sm::{decrypt_cbc_zero_iv, kdf, mac8, SecureChannel, SessionKeys, SmCipher};

/// Longest encrypted nonce accepted: four AES blocks (the chip sends one block; a New Zealand
/// passport with 3DES sends two, see the tests).
const MAX_NONCE: usize = 32;
/// Longest public key accepted: a 2048-bit DH value is 256 bytes, a 521-bit point 133.
pub(crate) const MAX_PUBLIC: usize = 512;
/// Longest certification authority reference (a CHR: country, mnemonic, sequence number).
pub(crate) const MAX_CAR: usize = 16;

const NONCE_ANSWER: [Slot; 1] = [Slot::required(0x80, 1, MAX_NONCE)];
const MAPPING_ANSWER: [Slot; 1] = [Slot::required(0x82, 1, MAX_PUBLIC)];
const KEY_ANSWER: [Slot; 1] = [Slot::required(0x84, 1, MAX_PUBLIC)];
const TOKEN_ANSWER: [Slot; 3] = [Slot::required(0x86, 8, 8), Slot::optional(0x87, 1, MAX_CAR), Slot::optional(0x88, 1, MAX_CAR)];

/// What a successful PACE gives: the session keys (KSenc, KSmac; the SSC starts at zero) and the
/// chip's ephemeral public key PK_IC as it travelled, which Chip Authentication (version 3) and
/// the eID protocols use as ID_IC.
pub struct PaceResult {
    pub keys: SessionKeys,
    pub chip_public: Vec<u8>,
}

impl fmt::Debug for PaceResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaceResult").field("keys", &"REDACTED").field("chip_public_len", &self.chip_public.len()).finish()
    }
}

impl PaceResult {
    /// The secure messaging session the keys open (SSC zero).
    pub fn channel(&self) -> SecureChannel {
        SecureChannel::from_session_keys(self.keys.clone())
    }
}

enum HostState {
    AwaitNonce,
    AwaitMapping { nonce: Vec<u8>, domain: Domain, map_key: KeyPair },
    AwaitKey { mapped: Domain, key: KeyPair },
    AwaitToken { keys: SessionKeys, expected: [u8; 8], chip_public: Vec<u8> },
    Over,
}

impl HostState {
    fn expects(&self) -> Option<PaceStep> {
        match self {
            HostState::AwaitNonce => Some(PaceStep::Nonce),
            HostState::AwaitMapping { .. } => Some(PaceStep::Mapping),
            HostState::AwaitKey { .. } => Some(PaceStep::KeyAgreement),
            HostState::AwaitToken { .. } => Some(PaceStep::Token),
            HostState::Over => None,
        }
    }
}

/// The host's PACE-GM state machine. Feed it the data field of each GENERAL AUTHENTICATE answer
/// (without the status word) in order; each step returns the next command's data field. The
/// commands: [`HostPace::first_command_data`] and the answers of `on_nonce`, `on_mapping` go
/// with command chaining, the answer of `on_key` (T_IFD) is the last command.
pub struct HostPace {
    setup: PaceSetup,
    state: HostState,
}

impl fmt::Debug for HostPace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostPace").field("oid", &self.setup.oid).field("domain", &self.setup.domain).field("awaiting", &self.state.expects()).finish()
    }
}

impl HostPace {
    /// A run with this setup. The setup is checked at the first step (`on_nonce` answers
    /// [`PaceError::Setup`] for an OID that is not PACE-GM or disagrees with cipher or domain).
    pub fn new(setup: PaceSetup) -> Self {
        HostPace { setup, state: HostState::AwaitNonce }
    }

    /// The data field of the first GENERAL AUTHENTICATE: empty dynamic authentication data.
    pub fn first_command_data() -> Vec<u8> {
        data::encode(&[])
    }

    /// The step whose answer the machine waits for; `None` once it failed or finished.
    pub fn awaiting(&self) -> Option<PaceStep> {
        self.state.expects()
    }

    fn take(&mut self, step: PaceStep) -> Result<HostState, PaceError> {
        let state = std::mem::replace(&mut self.state, HostState::Over);
        match state.expects() {
            Some(s) if s == step => Ok(state),
            Some(expected) => Err(PaceError::OutOfOrder { step, expected }),
            None => Err(PaceError::Over { step }),
        }
    }

    fn cipher(&self) -> SmCipher {
        self.setup.cipher
    }

    /// Answer 1, `7C {80 z}`: s = D(K_pi, z) with K_pi = KDF_pi(password) (ICAO 9303-11
    /// 9.7.3); draws the mapping key pair and returns `7C {81 PK_map_IFD}`.
    pub fn on_nonce(&mut self, answer: &[u8], rng: &mut dyn Randomness) -> Result<Vec<u8>, PaceError> {
        let step = PaceStep::Nonce;
        self.take(step)?;
        validate(&self.setup.oid, self.setup.cipher, self.setup.domain)?;
        let objs = data::parse(answer, &NONCE_ANSWER).map_err(|source| PaceError::Malformed { step, source })?;
        let z = objs[0].unwrap_or_default();
        let block = self.cipher().block_len();
        if z.is_empty() || !z.len().is_multiple_of(block) {
            return Err(PaceError::NonceLength { len: z.len(), block, max: MAX_NONCE });
        }
        let k_pi = kdf(self.cipher(), &self.setup.password.key(), 3);
        let nonce = decrypt_cbc_zero_iv(self.cipher(), &k_pi, z).map_err(|source| PaceError::Cipher { step, source })?;
        let domain = Domain::standard(self.setup.domain);
        let map_key = domain.generate(rng).map_err(|source| PaceError::Group { step, source })?;
        let out = data::encode(&[(0x81, map_key.public())]);
        self.state = HostState::AwaitMapping { nonce, domain, map_key };
        Ok(out)
    }

    /// Answer 2, `7C {82 PK_map_IC}`: H = KA(SK_map_IFD, PK_map_IC) (the peer key validated),
    /// the ephemeral domain parameters G' = Map(G, s, H); draws the ephemeral key pair on G' and
    /// returns `7C {83 PK_IFD}`.
    pub fn on_mapping(&mut self, answer: &[u8], rng: &mut dyn Randomness) -> Result<Vec<u8>, PaceError> {
        let step = PaceStep::Mapping;
        let HostState::AwaitMapping { nonce, domain, map_key } = self.take(step)? else {
            return Err(PaceError::Over { step });
        };
        let objs = data::parse(answer, &MAPPING_ANSWER).map_err(|source| PaceError::Malformed { step, source })?;
        let chip_map = objs[0].unwrap_or_default();
        if chip_map == map_key.public() {
            return Err(PaceError::ReflectedKey { step });
        }
        let group = |source| PaceError::Group { step, source };
        let h = domain.agree(&map_key, chip_map).map_err(group)?;
        let mapped = domain.map_generic(&nonce, &h).map_err(group)?;
        let key = mapped.generate(rng).map_err(group)?;
        let out = data::encode(&[(0x83, key.public())]);
        self.state = HostState::AwaitKey { mapped, key };
        Ok(out)
    }

    /// Answer 3, `7C {84 PK_IC}`: checks PK_IC differs from PK_IFD, K = KA(SK_IFD, PK_IC, G'),
    /// KSenc = KDF(K, 1), KSmac = KDF(K, 2) (9.7.1), and returns `7C {85 T_IFD}`, T_IFD the MAC
    /// of PK_IC's template. This is the last command (no chaining).
    pub fn on_key(&mut self, answer: &[u8]) -> Result<Vec<u8>, PaceError> {
        let step = PaceStep::KeyAgreement;
        let HostState::AwaitKey { mapped, key } = self.take(step)? else {
            return Err(PaceError::Over { step });
        };
        let objs = data::parse(answer, &KEY_ANSWER).map_err(|source| PaceError::Malformed { step, source })?;
        let chip_public = objs[0].unwrap_or_default();
        if chip_public == key.public() {
            return Err(PaceError::ReflectedKey { step });
        }
        let shared = mapped.agree(&key, chip_public).map_err(|source| PaceError::Group { step, source })?;
        let oid = data::oid_to_der(&self.setup.oid).ok_or_else(|| PaceError::Setup(format!("{} is not an object identifier", self.setup.oid)))?;
        let agreement = if self.setup.domain.is_ec() { KeyAgreement::Ecdh } else { KeyAgreement::Dh };
        let secret = shared.secret_bytes();
        let keys = SessionKeys::derive(self.cipher(), secret);
        let k_mac = keys.k_mac();
        let t_ifd = mac8(self.cipher(), k_mac, &token_input(&oid, agreement, chip_public));
        let expected = mac8(self.cipher(), k_mac, &token_input(&oid, agreement, key.public()));
        self.state = HostState::AwaitToken { keys, expected, chip_public: chip_public.to_vec() };
        Ok(data::encode(&[(0x85, &t_ifd)]))
    }

    /// Answer 4, `7C {86 T_IC [87 CAR] [88 CAR]}`: verifies T_IC (constant time) over PK_IFD's
    /// template; the certification authority references (for Terminal Authentication) are
    /// parsed and ignored.
    pub fn finish(mut self, answer: &[u8]) -> Result<PaceResult, PaceError> {
        let step = PaceStep::Token;
        let HostState::AwaitToken { keys, expected, chip_public } = self.take(step)? else {
            return Err(PaceError::Over { step });
        };
        let objs = data::parse(answer, &TOKEN_ANSWER).map_err(|source| PaceError::Malformed { step, source })?;
        let t_ic = objs[0].unwrap_or_default();
        if !bool::from(expected.ct_eq(t_ic)) {
            return Err(PaceError::BadToken);
        }
        Ok(PaceResult { keys, chip_public })
    }
}
