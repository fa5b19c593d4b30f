//! The chip's side of PACE-GM, for the emulator: [`CardPace`] answers MSE:Set AT (choice of
//! protocol, domain parameters and password) and the four GENERAL AUTHENTICATE steps with the
//! data fields a chip sends, ending with the session keys once T_IFD verifies. Its errors map to
//! the status words a chip answers ([`CardPaceError::status_word`]).

use std::fmt;

use p256::elliptic_curve::subtle::ConstantTimeEq;

use super::data::{self, DadError, Slot};
use super::host::MAX_PUBLIC;
use super::{oid_to_der, token_input, validate, KeyAgreement, PaceError, PacePassword, PaceStep};
use crate::access::{Randomness, RandomnessError};
use crate::apdu::StatusWord;
use crate::group::{Domain, GroupError, KeyPair, StandardDomain};
use crate::sm::{encrypt_cbc_zero_iv, kdf, mac8, SessionKeys, SmCipher, SmError};
use idcheck_core::tlv;

/// Why the chip refused a PACE command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardPaceError {
    #[error("mse:set at: {0}")]
    MalformedSetup(String),
    #[error("mse:set at: protocol {0} not supported")]
    UnsupportedProtocol(String),
    #[error("mse:set at: domain parameters {parameter_id} not supported with {oid}")]
    UnsupportedParameters { oid: String, parameter_id: u32 },
    #[error("mse:set at: no password with reference {0:02X}")]
    UnknownPassword(u8),
    #[error("general authenticate without a preceding mse:set at for pace")]
    NotSetUp,
    #[error("general authenticate {step}: malformed dynamic authentication data: {source}")]
    Malformed { step: PaceStep, source: DadError },
    #[error("general authenticate {step}: the terminal's public key equals the chip's")]
    ReflectedKey { step: PaceStep },
    #[error("general authenticate {step}: {source}")]
    Group { step: PaceStep, source: GroupError },
    #[error("general authenticate {step}: {source}")]
    Cipher { step: PaceStep, source: SmError },
    #[error("general authenticate {step}: {source}")]
    Randomness { step: PaceStep, source: RandomnessError },
    #[error("general authenticate token: the terminal's authentication token does not verify (wrong password?)")]
    Token,
}

impl CardPaceError {
    /// The status word a chip answers: 6A80 for a malformed or unsupported command data field,
    /// 6A88 for an unknown password, 6985 for a step out of sequence, 6300 for a wrong token,
    /// 6F00 for the chip's own failures (randomness).
    pub fn status_word(&self) -> StatusWord {
        match self {
            CardPaceError::UnknownPassword(_) => StatusWord::ReferencedDataNotFound,
            CardPaceError::NotSetUp => StatusWord::ConditionsNotSatisfied,
            CardPaceError::Token => StatusWord::VerificationFailed,
            CardPaceError::Randomness { .. } => StatusWord::NoPreciseDiagnosis,
            CardPaceError::MalformedSetup(_)
            | CardPaceError::UnsupportedProtocol(_)
            | CardPaceError::UnsupportedParameters { .. }
            | CardPaceError::Malformed { .. }
            | CardPaceError::ReflectedKey { .. }
            | CardPaceError::Group { .. }
            | CardPaceError::Cipher { .. } => StatusWord::IncorrectData,
        }
    }
}

/// What MSE:Set AT selected.
#[derive(Clone)]
struct Selection {
    oid_der: Vec<u8>,
    cipher: SmCipher,
    domain: StandardDomain,
    agreement: KeyAgreement,
    password: PacePassword,
}

enum CardState {
    /// No PACE selected.
    Idle,
    /// Selected; waiting for GENERAL AUTHENTICATE 1 (7C 00).
    Ready,
    AwaitMapping { nonce: Vec<u8>, domain: Domain },
    AwaitKey { mapped: Domain },
    AwaitToken { keys: SessionKeys, expected: [u8; 8], token: [u8; 8] },
}

impl CardState {
    fn name(&self) -> &'static str {
        match self {
            CardState::Idle => "idle",
            CardState::Ready => "ready",
            CardState::AwaitMapping { .. } => "await mapping",
            CardState::AwaitKey { .. } => "await key",
            CardState::AwaitToken { .. } => "await token",
        }
    }
}

const MSE_SLOTS: [Slot; 3] = [Slot::required(0x80, 1, 32), Slot::required(0x83, 1, 1), Slot::optional(0x84, 1, 4)];
const STEP1: [Slot; 0] = [];
const STEP2: [Slot; 1] = [Slot::required(0x81, 1, MAX_PUBLIC)];
const STEP3: [Slot; 1] = [Slot::required(0x83, 1, MAX_PUBLIC)];
const STEP4: [Slot; 1] = [Slot::required(0x85, 8, 8)];

/// The chip's PACE-GM state: the protocols it offers (as its EF.CardAccess lists them), its
/// passwords and the run in progress. A failed step ends the run; the terminal starts over with
/// GENERAL AUTHENTICATE 1 (the MSE:Set AT selection stays) or a new MSE:Set AT.
pub struct CardPace {
    supported: Vec<(String, SmCipher, StandardDomain)>,
    passwords: Vec<PacePassword>,
    selection: Option<Selection>,
    state: CardState,
}

impl fmt::Debug for CardPace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardPace")
            .field("supported", &self.supported)
            .field("passwords", &self.passwords.len())
            .field("state", &self.state.name())
            .finish()
    }
}

/// One PACE protocol a chip offers: the PACEInfo's OID, its cipher and its domain.
pub type CardProtocol = (String, SmCipher, StandardDomain);

impl CardPace {
    /// A chip offering these (OID, cipher, domain) triples, in order of preference, and knowing
    /// these passwords (one per reference; the first of a reference counts).
    pub fn new(supported: Vec<CardProtocol>, passwords: Vec<PacePassword>) -> Self {
        CardPace { supported, passwords, selection: None, state: CardState::Idle }
    }

    /// MSE:Set AT (00 22 C1 A4): DO'80' protocol OID, DO'83' password reference, optional DO'84'
    /// parameter id (without it the first supported entry of the OID is used). Anything else in
    /// the data field is refused. Resets any run in progress.
    pub fn mse_set_at(&mut self, data: &[u8]) -> Result<(), CardPaceError> {
        self.selection = None;
        self.state = CardState::Idle;
        // The MSE data field is a plain list of objects: wrap it to reuse the strict parser.
        if data.len() > 64 {
            return Err(CardPaceError::MalformedSetup(format!("data field of {} bytes", data.len())));
        }
        let wrapped = tlv::encode(data::TAG_DAD, data);
        let objs = data::parse(&wrapped, &MSE_SLOTS).map_err(|e| CardPaceError::MalformedSetup(e.to_string()))?;
        let oid_der = objs[0].unwrap_or_default();
        let reference = objs[1].and_then(|r| r.first().copied()).unwrap_or(0);
        let parameter_id = objs[2].map(|p| p.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)));
        let entry = self
            .supported
            .iter()
            .filter(|(oid, _, _)| oid_to_der(oid).as_deref() == Some(oid_der))
            .find(|(_, _, d)| parameter_id.is_none_or(|p| d.parameter_id() == p));
        let Some((oid, cipher, domain)) = entry.cloned() else {
            let oid = hex::encode_upper(oid_der);
            return Err(match parameter_id {
                Some(p) if self.supported.iter().any(|(o, _, _)| oid_to_der(o).as_deref() == Some(oid_der)) => {
                    CardPaceError::UnsupportedParameters { oid, parameter_id: p }
                }
                _ => CardPaceError::UnsupportedProtocol(oid),
            });
        };
        let alg = validate(&oid, cipher, domain).map_err(|e| match e {
            PaceError::Setup(m) => CardPaceError::UnsupportedProtocol(m),
            other => CardPaceError::UnsupportedProtocol(other.to_string()),
        })?;
        let password = self.passwords.iter().find(|p| p.reference() == reference).cloned().ok_or(CardPaceError::UnknownPassword(reference))?;
        self.selection = Some(Selection { oid_der: oid_der.to_vec(), cipher, domain, agreement: alg.agreement, password });
        self.state = CardState::Ready;
        Ok(())
    }

    /// GENERAL AUTHENTICATE (x0 86 00 00): the data field of the command in, the data field of
    /// the answer out; the session keys come with the last answer (T_IC). A wrong T_IFD (the
    /// terminal used another password) is [`CardPaceError::Token`].
    pub fn general_authenticate(&mut self, data: &[u8], rng: &mut dyn Randomness) -> Result<(Vec<u8>, Option<SessionKeys>), CardPaceError> {
        let Some(sel) = self.selection.clone() else {
            return Err(CardPaceError::NotSetUp);
        };
        let state = std::mem::replace(&mut self.state, CardState::Ready);
        let cipher = sel.cipher;
        match state {
            CardState::Idle => Err(CardPaceError::NotSetUp),
            CardState::Ready => {
                let step = PaceStep::Nonce;
                data::parse(data, &STEP1).map_err(|source| CardPaceError::Malformed { step, source })?;
                let mut nonce = vec![0u8; cipher.block_len()];
                rng.fill(&mut nonce).map_err(|source| CardPaceError::Randomness { step, source })?;
                let k_pi = kdf(cipher, &sel.password.key(), 3);
                let z = encrypt_cbc_zero_iv(cipher, &k_pi, &nonce).map_err(|source| CardPaceError::Cipher { step, source })?;
                self.state = CardState::AwaitMapping { nonce, domain: Domain::standard(sel.domain) };
                Ok((data::encode(&[(0x80, &z)]), None))
            }
            CardState::AwaitMapping { nonce, domain } => {
                let step = PaceStep::Mapping;
                let objs = data::parse(data, &STEP2).map_err(|source| CardPaceError::Malformed { step, source })?;
                let terminal_map = objs[0].unwrap_or_default();
                let group = |source| CardPaceError::Group { step, source };
                let map_key = domain.generate(rng).map_err(group)?;
                if terminal_map == map_key.public() {
                    return Err(CardPaceError::ReflectedKey { step });
                }
                let h = domain.agree(&map_key, terminal_map).map_err(group)?;
                let mapped = domain.map_generic(&nonce, &h).map_err(group)?;
                let out = data::encode(&[(0x82, map_key.public())]);
                self.state = CardState::AwaitKey { mapped };
                Ok((out, None))
            }
            CardState::AwaitKey { mapped } => {
                let step = PaceStep::KeyAgreement;
                let objs = data::parse(data, &STEP3).map_err(|source| CardPaceError::Malformed { step, source })?;
                let terminal_public = objs[0].unwrap_or_default();
                let group = |source| CardPaceError::Group { step, source };
                let key: KeyPair = mapped.generate(rng).map_err(group)?;
                if terminal_public == key.public() {
                    return Err(CardPaceError::ReflectedKey { step });
                }
                let shared = mapped.agree(&key, terminal_public).map_err(group)?;
                let secret = shared.secret_bytes();
                let keys = SessionKeys::derive(cipher, secret);
                let k_mac = keys.k_mac();
                let expected = mac8(cipher, k_mac, &token_input(&sel.oid_der, sel.agreement, key.public()));
                let token = mac8(cipher, k_mac, &token_input(&sel.oid_der, sel.agreement, terminal_public));
                let out = data::encode(&[(0x84, key.public())]);
                self.state = CardState::AwaitToken { keys, expected, token };
                Ok((out, None))
            }
            CardState::AwaitToken { keys, expected, token } => {
                let step = PaceStep::Token;
                let objs = data::parse(data, &STEP4).map_err(|source| CardPaceError::Malformed { step, source })?;
                if !bool::from(expected.ct_eq(objs[0].unwrap_or_default())) {
                    return Err(CardPaceError::Token);
                }
                self.state = CardState::Ready;
                Ok((data::encode(&[(0x86, &token)]), Some(keys)))
            }
        }
    }
}
