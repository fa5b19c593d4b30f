//! The virtual contactless ICAO LDS1 chip: a pure APDU processor over a [`ChipImage`] that behaves
//! as real eMRTD chips do (ICAO 9303-10/11, ISO/IEC 7816-4): SELECT of the eMRTD application by
//! AID, BAC (GET CHALLENGE, EXTERNAL/MUTUAL AUTHENTICATE) with keys from the image's own DG1 MRZ,
//! then only secure-messaging access to the files (plain SELECT/READ BINARY of application files
//! answer 6982; a plain APDU ends the session; a bad MAC answers a plain 6988 and ends it), READ
//! BINARY B0 (offset in P1-P2 or SFI form) and B1 (offset in DO 54, answer in DO 53), short Le
//! (at most 256 bytes on the wire, so at most 231 plain bytes fit under secure messaging) and
//! extended length only when configured, 6A82 for absent files, 6B00 past the end, 6282 for a
//! read that hits the end. Content faults (see `faults`) are applied here; delivery faults
//! (mute, leaving the field, slowness) by [`VirtualCard::exchange`] and its callers. The
//! secure-messaging and BAC cryptography are the chip layer's card-side halves (`chip::sm`,
//! `chip::bac`); none is written here.

use std::fmt;
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::capdu;
use super::eac::{self, AccessMode, CardRng, ChipSecrets, Protocols};
use super::faults::{Faults, MaxLeBehaviour, WrongAnswerKind};
use super::{atr, EmulatorError};
use idcheck_chip::apdu::{Response, StatusWord, EMRTD_AID};
use idcheck_chip::bac::{self, BacKey};
use idcheck_chip::pace::CardPace;
use idcheck_chip::sm::{SecureChannel, SessionKeys, SmCipher};
use idcheck_core::lds::{self, ChipImage, FileId};

/// FID of EF.ATR/INFO under the MF (ISO/IEC 7816-4 8.2.1.1); served only with extended length.
pub const EF_ATR_INFO_FID: u16 = 0x2F01;
/// SFI of EF.ATR/INFO.
pub const EF_ATR_INFO_SFI: u8 = 0x01;
/// Largest response data of a short APDU.
const SHORT_RESPONSE_MAX: usize = 256;
/// Upper bound of the extended response buffer (a vpcd frame holds at most 65535 bytes).
pub const EXTENDED_RESPONSE_LIMIT: usize = 32768;

/// How the card is built, beside its faults. `Default` is a type B chip without extended length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardConfig {
    /// Accept extended-length APDUs, advertise them in the ATR (type A card capabilities) and in
    /// EF.ATR/INFO. Off by default, as on most eMRTDs.
    pub extended_length: bool,
    /// Largest response data field (bytes, secure messaging included) of an extended APDU.
    pub max_extended_response: usize,
    /// An ATR to report instead of the built-in one.
    pub atr: Option<Vec<u8>>,
    /// MRZ information (document number + check, birth + check, expiry + check) the BAC keys are
    /// derived from, instead of DG1's: a chip whose BAC key disagrees with its DG1.
    pub bac_mrz_information: Option<String>,
    /// Seed of the card's random numbers (RND.IC, K.IC, garbage) for reproducible runs; `None`
    /// seeds from the system's random source.
    pub rng_seed: Option<u64>,
    /// PACE and BAC, PACE only or BAC only.
    pub access: AccessMode,
    /// The CAN and the private keys of Chip and Active Authentication.
    pub secrets: ChipSecrets,
}

impl Default for CardConfig {
    fn default() -> Self {
        CardConfig {
            extended_length: false,
            max_extended_response: 1024,
            atr: None,
            bac_mrz_information: None,
            rng_seed: None,
            access: AccessMode::Both,
            secrets: ChipSecrets::default(),
        }
    }
}

/// Counters of everything the card did since it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardStats {
    /// APDUs processed (answered or not).
    pub apdus: u64,
    /// APDUs that arrived under secure messaging.
    pub secured_apdus: u64,
    /// Response bytes produced (data and status words, as transmitted).
    pub response_bytes: u64,
    /// Plain file bytes returned by READ BINARY.
    pub file_bytes: u64,
    pub bac_successes: u64,
    pub bac_failures: u64,
    pub pace_successes: u64,
    pub pace_failures: u64,
    pub chip_authentications: u64,
    pub active_authentications: u64,
    /// Protected APDUs refused for their secure messaging (6988), each ending the session.
    pub sm_errors: u64,
    /// APDUs left unanswered (mute) or whose answer was lost (card left the field).
    pub unanswered: u64,
    /// Answers corrupted by the wrong-answers fault.
    pub corrupted: u64,
    pub power_ons: u64,
    /// Times the card left the field.
    pub removals: u64,
}

/// One line of the card's log for an APDU: what was asked and answered, never file contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApduSummary {
    /// 1-based APDU number since the card was created.
    pub number: u64,
    pub ins: u8,
    /// What the command is (`SELECT AID`, `READ BINARY`, `GET CHALLENGE`, ...).
    pub command: &'static str,
    /// Arrived under secure messaging.
    pub secured: bool,
    /// The file concerned, when there is one (`EF.COM`, `DG2`, `EF.ATR/INFO`).
    pub file: Option<String>,
    pub offset: Option<usize>,
    /// Ne of the (unprotected) command.
    pub le: Option<usize>,
    /// Plain data bytes returned (before secure messaging).
    pub data_len: usize,
    /// The status word of the answer (the inner one under secure messaging).
    pub sw: u16,
    /// Bytes of the answer as transmitted.
    pub response_len: usize,
    /// A fault or protocol event that shaped the answer.
    pub note: Option<String>,
}

impl ApduSummary {
    fn new(number: u64, apdu: &[u8]) -> Self {
        ApduSummary {
            number,
            ins: apdu.get(1).copied().unwrap_or(0),
            command: "?",
            secured: false,
            file: None,
            offset: None,
            le: None,
            data_len: 0,
            sw: 0,
            response_len: 0,
            note: None,
        }
    }

    fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        self.note = Some(match self.note.take() {
            Some(prev) => format!("{prev}; {s}"),
            None => s,
        });
    }
}

impl fmt::Display for ApduSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:<4} {}{}", self.number, self.command, if self.secured { " [SM]" } else { "" })?;
        if let Some(file) = &self.file {
            write!(f, " {file}")?;
        }
        if let Some(o) = self.offset {
            write!(f, " @{o}")?;
        }
        if let Some(le) = self.le {
            write!(f, " le={le}")?;
        }
        if self.response_len == 0 && self.sw == 0 {
            f.write_str(" -> no answer")?;
        } else {
            write!(f, " -> {:04X}", self.sw)?;
        }
        if self.data_len > 0 {
            write!(f, " {} bytes", self.data_len)?;
        }
        if let Some(n) = &self.note {
            write!(f, " ({n})")?;
        }
        Ok(())
    }
}

/// What became of one APDU handed to [`VirtualCard::exchange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The answer to deliver (response data and status word).
    Answer(Vec<u8>),
    /// The card stays silent (mute fault).
    Mute,
    /// The card has left the field: no answer now or later (until reinserted).
    LeftField,
}

/// The selected dedicated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Df {
    Master,
    Application,
}

/// A file the card can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ef {
    Lds(FileId),
    AtrInfo,
}

/// Chip Authentication with AES: MSE:Set AT chose it, General Authenticate carries the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaState {
    Idle,
    SetAt,
}

impl fmt::Display for Ef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ef::Lds(id) => write!(f, "{id}"),
            Ef::AtrInfo => f.write_str("EF.ATR/INFO"),
        }
    }
}

/// Volatile state, lost at power off or reset.
struct Session {
    powered: bool,
    df: Df,
    ef: Option<Ef>,
    /// RND.IC of a GET CHALLENGE not yet used by an authentication.
    challenge: Option<[u8; 8]>,
    sm: Option<SecureChannel>,
    /// PACE under way (after MSE:Set AT).
    pace: Option<CardPace>,
    /// General Authenticate steps of the PACE under way.
    pace_step: u8,
    ca: CaState,
    /// Keys that replace the secure messaging ones once the current answer is protected.
    rekey: Option<SessionKeys>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and nonces never shown.
        f.debug_struct("Session")
            .field("powered", &self.powered)
            .field("df", &self.df)
            .field("ef", &self.ef)
            .field("secured", &self.sm.is_some())
            .field("pace_step", &self.pace.as_ref().map(|_| self.pace_step))
            .field("ca", &self.ca)
            .finish()
    }
}

impl Session {
    fn off() -> Self {
        Session { powered: false, df: Df::Master, ef: None, challenge: None, sm: None, pace: None, pace_step: 0, ca: CaState::Idle, rekey: None }
    }
}

/// A command after secure messaging was removed.
struct Cmd {
    ins: u8,
    p1: u8,
    p2: u8,
    data: Vec<u8>,
    ne: Option<usize>,
}

/// How the command arrived.
#[derive(Clone, Copy)]
struct Ctx {
    secured: bool,
    extended: bool,
}

/// A plain answer before protection.
struct Answer {
    data: Vec<u8>,
    sw: u16,
}

impl Answer {
    fn sw(sw: u16) -> Self {
        Answer { data: Vec::new(), sw }
    }
    fn ok(data: Vec<u8>) -> Self {
        Answer { data, sw: 0x9000 }
    }
}

/// A virtual ICAO chip serving one chip image. See the module notes for its behaviour.
pub struct VirtualCard {
    image: ChipImage,
    faults: Faults,
    config: CardConfig,
    bac_key: BacKey,
    protocols: Protocols,
    /// The leave-during-PACE fault fired on this answer.
    leave_now: bool,
    atr: Vec<u8>,
    session: Session,
    stats: CardStats,
    rng: ChaCha20Rng,
    next_challenge: Option<[u8; 8]>,
    next_key_ic: Option<[u8; 16]>,
    last: Option<ApduSummary>,
    /// Response bytes delivered, for the leave-the-field fault.
    delivered: usize,
    left_at: Option<Instant>,
    leave_disarmed: bool,
    wrong_done: bool,
}

impl fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The image is personal data and the MRZ information is the BAC secret: neither shown.
        f.debug_struct("VirtualCard")
            .field("image", &self.image)
            .field("faults", &self.faults)
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl VirtualCard {
    /// A card serving `image` with `faults` and the default configuration. The BAC keys come
    /// from the image's DG1, which must be present and parse.
    pub fn new(image: ChipImage, faults: Faults) -> Result<VirtualCard, EmulatorError> {
        VirtualCard::with_config(image, faults, CardConfig::default())
    }

    /// A card with an explicit configuration.
    pub fn with_config(image: ChipImage, faults: Faults, mut config: CardConfig) -> Result<VirtualCard, EmulatorError> {
        let mrz_information = match &config.bac_mrz_information {
            Some(info) => {
                if info.len() != 24 || !info.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<') {
                    return Err(EmulatorError::BacMrzInformation(info.chars().count()));
                }
                info.clone()
            }
            None => {
                let dg1 = image.get(FileId::Dg1).ok_or(EmulatorError::NoDg1)?;
                lds::parse_dg1(dg1).map_err(EmulatorError::Dg1)?.mrz_information()
            }
        };
        let bac_key = BacKey::from_mrz_information(&mrz_information).map_err(EmulatorError::Bac)?;
        let protocols = Protocols::from_image(&image, &mrz_information, &config.secrets, config.access).map_err(EmulatorError::Protocols)?;
        config.max_extended_response = config.max_extended_response.clamp(SHORT_RESPONSE_MAX, EXTENDED_RESPONSE_LIMIT);
        let atr = match &config.atr {
            Some(a) => a.clone(),
            None if config.extended_length => atr::type_a(true),
            None => atr::type_b(),
        };
        let rng = match config.rng_seed {
            Some(seed) => ChaCha20Rng::seed_from_u64(seed),
            None => ChaCha20Rng::from_seed(system_seed()),
        };
        Ok(VirtualCard {
            image,
            faults,
            config,
            bac_key,
            protocols,
            leave_now: false,
            atr,
            session: Session::off(),
            stats: CardStats::default(),
            rng,
            next_challenge: None,
            next_key_ic: None,
            last: None,
            delivered: 0,
            left_at: None,
            leave_disarmed: false,
            wrong_done: false,
        })
    }

    /// The chip image served.
    pub fn image(&self) -> &ChipImage {
        &self.image
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn config(&self) -> &CardConfig {
        &self.config
    }

    /// The ATR the card reports (also given by [`VirtualCard::power_on`] and `reset`).
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// Counters since the card was created.
    pub fn stats(&self) -> &CardStats {
        &self.stats
    }

    /// APDUs processed since the card was created.
    pub fn apdus_served(&self) -> u64 {
        self.stats.apdus
    }

    /// The summary of the last APDU processed.
    pub fn last_summary(&self) -> Option<&ApduSummary> {
        self.last.as_ref()
    }

    /// True while a BAC secure messaging session is open.
    pub fn is_secured(&self) -> bool {
        self.session.sm.is_some()
    }

    /// Open a secure messaging session directly (tests of the secure messaging paths).
    #[cfg(test)]
    pub(crate) fn open_session_for_test(&mut self, channel: SecureChannel) {
        if !self.session.powered {
            self.power_on();
        }
        self.session.sm = Some(channel);
    }

    /// Use this RND.IC for the next GET CHALLENGE (test vectors), instead of a random one.
    pub fn set_next_challenge(&mut self, rnd_ic: [u8; 8]) {
        self.next_challenge = Some(rnd_ic);
    }

    /// Use this K.IC for the next mutual authentication (test vectors), instead of a random one.
    pub fn set_next_key_ic(&mut self, k_ic: [u8; 16]) {
        self.next_key_ic = Some(k_ic);
    }

    /// Power the card on (field on): fresh state, returns the ATR.
    pub fn power_on(&mut self) -> Vec<u8> {
        self.session = Session::off();
        self.session.powered = true;
        self.stats.power_ons += 1;
        self.atr.clone()
    }

    /// Warm reset: like power on.
    pub fn reset(&mut self) -> Vec<u8> {
        self.power_on()
    }

    /// Power the card off: selected files and the secure messaging session are forgotten.
    pub fn power_off(&mut self) {
        self.session = Session::off();
    }

    /// Response bytes delivered by [`VirtualCard::exchange`] since the card was created.
    pub fn delivered_bytes(&self) -> usize {
        self.delivered
    }

    /// True once the card has left the field (leave fault) and was not reinserted.
    pub fn has_left_field(&self) -> bool {
        self.left_at.is_some()
    }

    /// When the card left the field and the reinsert fault says it comes back: the instant.
    pub fn reinsert_due(&self) -> Option<Instant> {
        let left = self.left_at?;
        let ms = self.faults.reinsert_after_ms?;
        Some(left + Duration::from_millis(ms))
    }

    /// Put the card back into the field (powered off, fresh state); the leave fault does not
    /// fire again.
    pub fn reinsert(&mut self) {
        self.left_at = None;
        self.leave_disarmed = true;
        self.session = Session::off();
    }

    /// The delay the slow fault puts before every answer.
    pub fn answer_delay(&self) -> Option<Duration> {
        self.faults.slow_ms.map(Duration::from_millis)
    }

    /// Hand one APDU to the card as a reader would, applying the delivery faults: a mute card
    /// stays silent, a card that has left the field never answers, and the answer that takes the
    /// delivered total past the leave threshold is lost as the card leaves. The slow fault is
    /// left to the caller ([`VirtualCard::answer_delay`]), which owns the clock.
    pub fn exchange(&mut self, apdu: &[u8]) -> Delivery {
        if self.left_at.is_some() {
            return Delivery::LeftField;
        }
        let number = self.stats.apdus + 1;
        if self.faults.mute_at(number) {
            self.stats.apdus = number;
            self.stats.unanswered += 1;
            let mut s = ApduSummary::new(number, apdu);
            s.command = command_name(apdu);
            s.secured = apdu.first().is_some_and(|cla| cla & 0x0C == 0x0C);
            s.le = capdu::parse(apdu).ok().and_then(|c| c.ne);
            s.note("mute: no answer");
            self.last = Some(s);
            return Delivery::Mute;
        }
        let answer = self.process(apdu);
        if std::mem::take(&mut self.leave_now) {
            self.left_at = Some(Instant::now());
            self.stats.unanswered += 1;
            self.stats.removals += 1;
            self.session = Session::off();
            if let Some(s) = self.last.as_mut() {
                s.note("fault: card left the field during PACE; answer lost");
            }
            return Delivery::LeftField;
        }
        if let (Some(limit), false) = (self.faults.leave_after_bytes, self.leave_disarmed) {
            if self.delivered.saturating_add(answer.len()) > limit {
                self.left_at = Some(Instant::now());
                self.stats.unanswered += 1;
                self.stats.removals += 1;
                self.session = Session::off();
                if let Some(s) = self.last.as_mut() {
                    s.note(format!("card left the field after {} response bytes; answer lost", self.delivered));
                }
                return Delivery::LeftField;
            }
        }
        self.delivered = self.delivered.saturating_add(answer.len());
        Delivery::Answer(answer)
    }

    /// Process one command APDU and return the response APDU (data and status word). Pure
    /// protocol: content faults apply, delivery faults do not. An unpowered card is powered on
    /// first, as a reader does.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        if !self.session.powered {
            self.power_on();
        }
        self.stats.apdus += 1;
        let mut summary = ApduSummary::new(self.stats.apdus, apdu);
        summary.command = command_name(apdu);
        let (out, protected) = self.dispatch(apdu, &mut summary);
        let out = self.apply_wrong_answer(out, protected, &mut summary);
        summary.response_len = out.len();
        self.stats.response_bytes += out.len() as u64;
        self.last = Some(summary);
        out
    }

    /// Returns the answer bytes and whether they were protected by secure messaging.
    fn dispatch(&mut self, apdu: &[u8], summary: &mut ApduSummary) -> (Vec<u8>, bool) {
        let raw = match capdu::parse(apdu) {
            Ok(r) => r,
            Err(e) => {
                summary.note(e.to_string());
                if apdu.first().is_some_and(|cla| cla & 0x0C == 0x0C) && self.session.sm.is_some() {
                    self.end_sm(summary, "malformed protected APDU");
                }
                summary.sw = 0x6700;
                return (plain(0x6700), false);
            }
        };
        if raw.extended && !self.config.extended_length {
            summary.note("extended length not supported");
            if raw.cla & 0x0C == 0x0C && self.session.sm.is_some() {
                self.end_sm(summary, "extended protected APDU");
            }
            summary.sw = 0x6700;
            return (plain(0x6700), false);
        }
        let ctx = Ctx { secured: raw.cla & 0x0C == 0x0C, extended: raw.extended };
        // Command chaining (CLA b5) only for the General Authenticate steps of PACE.
        let cla = if raw.cla & 0x10 != 0 && raw.ins == 0x86 { raw.cla & !0x10 } else { raw.cla };
        match cla {
            0x00 => {
                if self.session.sm.is_some() {
                    self.end_sm(summary, "plain APDU ends the secure messaging session");
                }
                let cmd = Cmd { ins: raw.ins, p1: raw.p1, p2: raw.p2, data: raw.data, ne: raw.ne };
                summary.le = cmd.ne;
                let a = self.execute(&cmd, ctx, summary);
                summary.sw = a.sw;
                summary.data_len = a.data.len();
                let mut out = a.data;
                out.extend_from_slice(&a.sw.to_be_bytes());
                (out, false)
            }
            0x0C => self.dispatch_secured(apdu, ctx, summary),
            cla if cla & 0x10 != 0 => {
                summary.sw = 0x6884;
                summary.note("command chaining not supported");
                (plain(0x6884), false)
            }
            cla if cla & 0x03 != 0 && cla & 0x80 == 0 => {
                summary.sw = 0x6881;
                summary.note("logical channels not supported");
                (plain(0x6881), false)
            }
            _ => {
                summary.sw = 0x6E00;
                (plain(0x6E00), false)
            }
        }
    }

    fn dispatch_secured(&mut self, apdu: &[u8], ctx: Ctx, summary: &mut ApduSummary) -> (Vec<u8>, bool) {
        summary.secured = true;
        self.stats.secured_apdus += 1;
        let Some(channel) = self.session.sm.as_mut() else {
            summary.note("no secure messaging session");
            summary.sw = 0x6988;
            return (plain(0x6988), false);
        };
        let cmd = match channel.unprotect_command(apdu) {
            Ok(c) => c,
            Err(e) => {
                self.stats.sm_errors += 1;
                self.end_sm(summary, &format!("secure messaging error: {e}"));
                summary.sw = 0x6988;
                return (plain(0x6988), false);
            }
        };
        let cmd = Cmd { ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: cmd.data, ne: cmd.le };
        summary.le = cmd.ne;
        let a = self.execute(&cmd, ctx, summary);
        summary.sw = a.sw;
        summary.data_len = a.data.len();
        match self.session.sm.as_mut() {
            Some(channel) => {
                let resp = Response::new(a.data, StatusWord::from_u16(a.sw));
                let out = channel.protect_response(&resp);
                // Chip Authentication: the answer goes under the old keys, then the new ones rule.
                if let Some(keys) = self.session.rekey.take() {
                    self.session.sm = Some(SecureChannel::from_session_keys(keys));
                    summary.note("secure messaging restarted with the chip authentication keys");
                }
                (out, true)
            }
            // The command ended the session (cannot happen today): answer plainly.
            None => {
                let mut out = a.data;
                out.extend_from_slice(&a.sw.to_be_bytes());
                (out, false)
            }
        }
    }

    fn end_sm(&mut self, summary: &mut ApduSummary, why: &str) {
        self.session.sm = None;
        summary.note(format!("{why}; session closed"));
    }

    fn execute(&mut self, cmd: &Cmd, ctx: Ctx, summary: &mut ApduSummary) -> Answer {
        match cmd.ins {
            0xA4 => self.select(cmd, ctx, summary),
            0xB0 | 0xB1 => self.read_binary(cmd, ctx, summary),
            0x84 | 0x82 if self.config.access == AccessMode::PaceOnly => {
                summary.note("pace-only chip: no bac");
                Answer::sw(0x6D00)
            }
            0x84 => self.get_challenge(cmd),
            0x82 => self.external_authenticate(cmd, ctx, summary),
            0x22 => self.manage_security_environment(cmd, ctx, summary),
            0x86 => self.general_authenticate(cmd, ctx, summary),
            0x88 => self.internal_authenticate(cmd, ctx, summary),
            0xC0 => Answer::sw(0x6985),
            _ => Answer::sw(0x6D00),
        }
    }

    // ---- SELECT ------------------------------------------------------------------------------

    fn select(&mut self, cmd: &Cmd, ctx: Ctx, summary: &mut ApduSummary) -> Answer {
        match cmd.p1 {
            0x04 => {
                summary.command = "SELECT AID";
                if !matches!(cmd.p2, 0x00 | 0x04 | 0x0C) {
                    return Answer::sw(0x6A86);
                }
                if cmd.data != EMRTD_AID {
                    summary.note("unknown AID");
                    return Answer::sw(0x6A82);
                }
                if self.faults.no_application {
                    summary.note("fault: no application");
                    return Answer::sw(0x6A82);
                }
                self.session.df = Df::Application;
                self.session.ef = None;
                Answer::sw(0x9000)
            }
            0x00 | 0x02 => {
                summary.command = "SELECT EF";
                match cmd.data.as_slice() {
                    [] | [0x3F, 0x00] if cmd.p1 == 0x00 => {
                        summary.command = "SELECT MF";
                        self.session.df = Df::Master;
                        self.session.ef = None;
                        Answer::sw(0x9000)
                    }
                    [hi, lo] => self.select_ef(u16::from_be_bytes([*hi, *lo]), ctx, summary),
                    _ => Answer::sw(0x6A80),
                }
            }
            _ => Answer::sw(0x6A86),
        }
    }

    fn select_ef(&mut self, fid: u16, ctx: Ctx, summary: &mut ApduSummary) -> Answer {
        summary.file = Some(Lookup::Fid(fid).to_string());
        match self.resolve(Lookup::Fid(fid), ctx) {
            Ok(ef) => {
                summary.file = Some(ef.to_string());
                self.session.ef = Some(ef);
                Answer::sw(0x9000)
            }
            Err(sw) => Answer::sw(sw),
        }
    }

    /// Find a file in the current DF, applying the access rules: application files only under
    /// secure messaging (6982), absent files 6A82.
    fn resolve(&self, what: Lookup, ctx: Ctx) -> Result<Ef, u16> {
        match self.session.df {
            Df::Application => {
                if !ctx.secured {
                    return Err(0x6982);
                }
                let id = match what {
                    Lookup::Fid(fid) => FileId::from_fid(fid),
                    Lookup::Sfi(sfi) => FileId::ALL.into_iter().find(|f| f.sfi() == sfi),
                };
                // EF.CardAccess lives in the master file.
                match id.filter(|f| *f != FileId::CardAccess) {
                    Some(id) if self.image.get(id).is_some() => Ok(Ef::Lds(id)),
                    _ => Err(0x6A82),
                }
            }
            Df::Master => {
                let card_access = match what {
                    Lookup::Fid(fid) => fid == FileId::CardAccess.fid(),
                    Lookup::Sfi(sfi) => sfi == FileId::CardAccess.sfi(),
                };
                if card_access {
                    return if self.protocols.offers_pace() { Ok(Ef::Lds(FileId::CardAccess)) } else { Err(0x6A82) };
                }
                let found = match what {
                    Lookup::Fid(fid) => fid == EF_ATR_INFO_FID,
                    Lookup::Sfi(sfi) => sfi == EF_ATR_INFO_SFI,
                };
                if found && self.config.extended_length {
                    Ok(Ef::AtrInfo)
                } else {
                    Err(0x6A82)
                }
            }
        }
    }

    fn file_bytes(&self, ef: Ef) -> Vec<u8> {
        match ef {
            Ef::Lds(id) => self.image.get(id).map(<[u8]>::to_vec).unwrap_or_default(),
            Ef::AtrInfo => self.atr_info(),
        }
    }

    /// EF.ATR/INFO (ISO/IEC 7816-4 12.7.1): card capabilities (DO 47; third byte: chaining,
    /// extended Lc/Le, extended length information here) and the extended length information
    /// DO 7F66 with the largest command and response APDU lengths as INTEGERs.
    fn atr_info(&self) -> Vec<u8> {
        let mut v = vec![0x47, 0x03, 0x80, 0x01, 0xE0];
        let max_cmd = (EXTENDED_RESPONSE_LIMIT as u16).to_be_bytes();
        // The largest response APDU: data field and status word.
        let max_resp = ((self.config.max_extended_response + 2).min(0xFFFF) as u16).to_be_bytes();
        v.extend_from_slice(&[0x7F, 0x66, 0x08, 0x02, 0x02, max_cmd[0], max_cmd[1], 0x02, 0x02, max_resp[0], max_resp[1]]);
        v
    }

    // ---- READ BINARY -------------------------------------------------------------------------

    fn read_binary(&mut self, cmd: &Cmd, ctx: Ctx, summary: &mut ApduSummary) -> Answer {
        let odd = cmd.ins == 0xB1;
        summary.command = "READ BINARY";
        let (ef, offset) = if odd {
            let lookup = match u16::from_be_bytes([cmd.p1, cmd.p2]) {
                0 => None,
                _ if cmd.p1 == 0 && cmd.p2 & 0xE0 == 0 => Some(Lookup::Sfi(cmd.p2)),
                fid => Some(Lookup::Fid(fid)),
            };
            if let Some(l) = lookup {
                summary.file = Some(l.to_string());
            }
            let found = match lookup {
                None => self.current_ef(ctx),
                Some(l) => self.resolve(l, ctx),
            };
            let ef = match found {
                Ok(ef) => ef,
                Err(sw) => return Answer::sw(sw),
            };
            let offset = match parse_offset_do(&cmd.data) {
                Some(o) => o,
                None => {
                    summary.file = Some(ef.to_string());
                    return Answer::sw(0x6A80);
                }
            };
            (ef, offset)
        } else if cmd.p1 & 0x80 != 0 {
            if cmd.p1 & 0x60 != 0 {
                return Answer::sw(0x6A86);
            }
            let sfi = cmd.p1 & 0x1F;
            summary.file = Some(Lookup::Sfi(sfi).to_string());
            match self.resolve(Lookup::Sfi(sfi), ctx) {
                Ok(ef) => (ef, usize::from(cmd.p2)),
                Err(sw) => return Answer::sw(sw),
            }
        } else {
            match self.current_ef(ctx) {
                Ok(ef) => (ef, usize::from(u16::from_be_bytes([cmd.p1 & 0x7F, cmd.p2]))),
                Err(sw) => return Answer::sw(sw),
            }
        };
        self.session.ef = Some(ef);
        summary.file = Some(ef.to_string());
        summary.offset = Some(offset);
        if self.faults.dg3_protected && ef == Ef::Lds(FileId::Dg3) {
            summary.note("fault: DG3 protected");
            return Answer::sw(0x6982);
        }
        let Some(ne) = cmd.ne else {
            return Answer::sw(0x6700);
        };
        let file = self.file_bytes(ef);
        if offset >= file.len() {
            return Answer::sw(0x6B00);
        }
        let remaining = file.len() - offset;
        let capacity = self.capacity(ctx, odd);
        // Plain data the answer can hold, and the budget Ne gives (B1: the DO 53 counts).
        let fit = |budget: usize| if odd { do53_content_fitting(budget) } else { budget };
        let slice = |n: usize| file.get(offset..offset + n).map(<[u8]>::to_vec).unwrap_or_default();
        let wrap = |data: Vec<u8>| if odd { idcheck_core::tlv::encode(0x53, &data) } else { data };

        if let Some(m) = self.faults.max_le {
            if ne > m.limit {
                let n = fit(m.limit.min(capacity)).min(remaining);
                summary.note(format!("fault: max le {}", m));
                let a = match m.behaviour {
                    MaxLeBehaviour::WrongLe => {
                        // XX counts the whole answer data (with DO 53 for B1); 00 means 256.
                        let total = if odd { do53_len(n) } else { n };
                        Answer::sw(0x6C00 | (total % 256) as u16)
                    }
                    MaxLeBehaviour::WrongLength => Answer::sw(0x6700),
                    MaxLeBehaviour::WrongParameters => Answer::sw(0x6B00),
                    MaxLeBehaviour::EndOfFileWarning => Answer { data: wrap(slice(n)), sw: 0x6282 },
                    MaxLeBehaviour::SilentTruncation => Answer { data: wrap(slice(n)), sw: 0x9000 },
                };
                if a.sw & 0xFF00 != 0x6C00 {
                    self.stats.file_bytes += if a.data.is_empty() { 0 } else { n as u64 };
                }
                return a;
            }
        }
        let budget = fit(ne.min(capacity));
        let n = budget.min(remaining);
        // 6282 when the file ends before Ne bytes could be returned.
        let asked = if odd { do53_content_fitting(ne) } else { ne };
        let sw = if n == remaining && asked > remaining { 0x6282 } else { 0x9000 };
        self.stats.file_bytes += n as u64;
        Answer { data: wrap(slice(n)), sw }
    }

    fn current_ef(&self, ctx: Ctx) -> Result<Ef, u16> {
        let ef = self.session.ef.ok_or(0x6986u16)?;
        if matches!(ef, Ef::Lds(id) if id != FileId::CardAccess) && !ctx.secured {
            return Err(0x6982);
        }
        Ok(ef)
    }

    /// The most plain response data that fits one answer: 256 bytes for a short APDU, the
    /// configured buffer for an extended one, less the secure messaging objects when secured.
    fn capacity(&self, ctx: Ctx, odd: bool) -> usize {
        let max = if ctx.extended { self.config.max_extended_response } else { SHORT_RESPONSE_MAX };
        if !ctx.secured {
            return max;
        }
        let mut n = max;
        // The session's block size decides the padding (8 for 3DES, 16 for AES).
        let cipher = self.session.sm.as_ref().map_or(SmCipher::Tdes, |c| c.cipher());
        while n > 0 && cipher.protected_response_len(n, odd) > max {
            n -= 1;
        }
        n
    }

    // ---- BAC ---------------------------------------------------------------------------------

    fn get_challenge(&mut self, cmd: &Cmd) -> Answer {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Answer::sw(0x6A86);
        }
        if cmd.ne != Some(8) {
            return Answer::sw(0x6700);
        }
        let rnd = match self.next_challenge.take() {
            Some(r) => r,
            None => {
                let mut r = [0u8; 8];
                self.rng.fill_bytes(&mut r);
                r
            }
        };
        self.session.challenge = Some(rnd);
        Answer::ok(rnd.to_vec())
    }

    fn external_authenticate(&mut self, cmd: &Cmd, ctx: Ctx, summary: &mut ApduSummary) -> Answer {
        summary.command = "MUTUAL AUTHENTICATE";
        if ctx.secured {
            summary.note("BAC under secure messaging refused");
            return Answer::sw(0x6985);
        }
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Answer::sw(0x6A86);
        }
        if cmd.data.len() != 40 || cmd.ne.is_some_and(|ne| ne < 40) {
            return Answer::sw(0x6700);
        }
        let Some(rnd_ic) = self.session.challenge.take() else {
            summary.note("no challenge issued");
            return Answer::sw(0x6985);
        };
        let k_ic = match self.next_key_ic.take() {
            Some(k) => k,
            None => {
                let mut k = [0u8; 16];
                self.rng.fill_bytes(&mut k);
                k
            }
        };
        match bac::card_respond(&self.bac_key, &rnd_ic, &k_ic, &cmd.data) {
            Ok((answer, channel)) => {
                self.stats.bac_successes += 1;
                self.session.sm = Some(channel);
                summary.note("BAC established");
                Answer::ok(answer)
            }
            Err(e) => {
                self.stats.bac_failures += 1;
                summary.note(format!("BAC refused: {e}"));
                Answer::sw(0x6300)
            }
        }
    }

    // ---- PACE, Chip Authentication, Active Authentication --------------------------------------

    /// MSE:Set AT for PACE (P1 C1, plain) or for Chip Authentication with AES (P1 41, secured);
    /// MSE:Set KAT (P1 41 P2 A6, secured) is Chip Authentication with 3DES itself.
    fn manage_security_environment(&mut self, cmd: &Cmd, ctx: Ctx, summary: &mut ApduSummary) -> Answer {
        summary.command = "MSE:SET";
        match (cmd.p1, cmd.p2) {
            (0xC1, 0xA4) => {
                summary.command = "MSE:SET AT (PACE)";
                let Some(mut pace) = self.protocols.card_pace() else {
                    summary.note("no pace");
                    return Answer::sw(0x6A80);
                };
                if self.session.sm.is_some() {
                    self.session.sm = None;
                }
                match pace.mse_set_at(&cmd.data) {
                    Ok(()) => {
                        self.session.pace = Some(pace);
                        self.session.pace_step = 0;
                        Answer::sw(0x9000)
                    }
                    Err(e) => {
                        summary.note(format!("pace refused: {e}"));
                        Answer::sw(eac::pace_error_sw(&e))
                    }
                }
            }
            (0x41, 0xA4) if ctx.secured => {
                summary.command = "MSE:SET AT (CA)";
                self.session.ca = CaState::SetAt;
                Answer::sw(0x9000)
            }
            (0x41, 0xA6) if ctx.secured => {
                summary.command = "MSE:SET KAT";
                match eac::ca_public_key(&cmd.data, false) {
                    Some(pk) => self.ca_agree(&pk, summary),
                    None => Answer::sw(0x6A80),
                }
            }
            _ => Answer::sw(if ctx.secured { 0x6A86 } else { 0x6982 }),
        }
    }

    fn ca_agree(&mut self, pk_ifd: &[u8], summary: &mut ApduSummary) -> Answer {
        match eac::chip_authenticate(&self.protocols, pk_ifd, self.faults.ca_wrong_key, &mut self.rng) {
            eac::Outcome::Rekey(data, keys) => {
                self.stats.chip_authentications += 1;
                if self.faults.ca_wrong_key {
                    summary.note("fault: chip authentication with a key that does not match dg14");
                }
                self.session.rekey = Some(keys);
                Answer::ok(data)
            }
            eac::Outcome::Answer(data, sw) => Answer { data, sw },
        }
    }

    /// GENERAL AUTHENTICATE: a PACE step (plain), or Chip Authentication with AES (secured).
    fn general_authenticate(&mut self, cmd: &Cmd, ctx: Ctx, summary: &mut ApduSummary) -> Answer {
        summary.command = "GENERAL AUTHENTICATE";
        if ctx.secured {
            if self.session.ca != CaState::SetAt {
                return Answer::sw(0x6985);
            }
            self.session.ca = CaState::Idle;
            return match eac::ca_public_key(&cmd.data, true) {
                Some(pk) => {
                    let a = self.ca_agree(&pk, summary);
                    if a.sw == 0x9000 {
                        Answer::ok(vec![0x7C, 0x00])
                    } else {
                        a
                    }
                }
                None => Answer::sw(0x6A80),
            };
        }
        let Some(pace) = self.session.pace.as_mut() else {
            summary.note("no mse:set at");
            return Answer::sw(0x6985);
        };
        self.session.pace_step += 1;
        let step = self.session.pace_step;
        summary.note(format!("pace step {step}"));
        if self.faults.leave_during_pace == Some(step) && !self.leave_disarmed {
            self.leave_now = true;
        }
        match pace.general_authenticate(&cmd.data, &mut CardRng(&mut self.rng)) {
            Ok((data, Some(keys))) => {
                self.session.pace = None;
                self.session.sm = Some(SecureChannel::from_session_keys(keys));
                self.stats.pace_successes += 1;
                summary.note("PACE established");
                Answer::ok(data)
            }
            Ok((data, None)) => Answer::ok(data),
            Err(e) => {
                self.session.pace = None;
                self.stats.pace_failures += 1;
                summary.note(format!("pace refused: {e}"));
                Answer::sw(eac::pace_error_sw(&e))
            }
        }
    }

    /// INTERNAL AUTHENTICATE (Active Authentication), under secure messaging only.
    fn internal_authenticate(&mut self, cmd: &Cmd, ctx: Ctx, summary: &mut ApduSummary) -> Answer {
        summary.command = "INTERNAL AUTHENTICATE";
        if !ctx.secured {
            return Answer::sw(0x6982);
        }
        match eac::active_authenticate(&self.protocols, &cmd.data, self.faults.aa_bad_signature) {
            eac::Outcome::Answer(data, sw) => {
                if sw == 0x9000 {
                    self.stats.active_authentications += 1;
                    if self.faults.aa_bad_signature {
                        summary.note("fault: active authentication signature corrupted");
                    }
                }
                Answer { data, sw }
            }
            eac::Outcome::Rekey(data, _) => Answer::ok(data),
        }
    }

    // ---- wrong answers -----------------------------------------------------------------------

    fn apply_wrong_answer(&mut self, mut out: Vec<u8>, protected: bool, summary: &mut ApduSummary) -> Vec<u8> {
        let Some(w) = self.faults.wrong_answers else {
            return out;
        };
        if self.stats.apdus < w.nth || (self.wrong_done && !w.repeat) {
            return out;
        }
        let len = out.len();
        let applied = match w.kind {
            WrongAnswerKind::Mac => {
                // Protected answers end with 8E 08 <mac> SW1 SW2.
                if protected && len >= 12 {
                    if let Some(b) = out.get_mut(len - 3) {
                        *b ^= 0x01;
                    }
                    true
                } else {
                    false
                }
            }
            WrongAnswerKind::Data => match cryptogram_index(&out) {
                Some(i) if protected => {
                    if let Some(b) = out.get_mut(i) {
                        *b ^= 0x80;
                    }
                    true
                }
                _ => false,
            },
            WrongAnswerKind::Garbage => {
                self.rng.fill_bytes(&mut out);
                true
            }
            WrongAnswerKind::StatusWord => {
                out = vec![0x6F, 0x00];
                true
            }
            WrongAnswerKind::Short => {
                out.pop();
                true
            }
        };
        if applied {
            self.wrong_done = true;
            self.stats.corrupted += 1;
            summary.note(format!("fault: wrong answer ({})", w.kind.name()));
        }
        out
    }
}

/// How a file is named in a command.
#[derive(Clone, Copy)]
enum Lookup {
    Fid(u16),
    Sfi(u8),
}

impl fmt::Display for Lookup {
    /// The LDS name when the identifier is one (`EF.COM`, `DG2`), else the identifier.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Lookup::Fid(fid) => match FileId::from_fid(fid) {
                Some(id) => write!(f, "{id}"),
                None if fid == EF_ATR_INFO_FID => f.write_str("EF.ATR/INFO"),
                None => write!(f, "FID {fid:04X}"),
            },
            Lookup::Sfi(sfi) => match FileId::ALL.into_iter().find(|id| id.sfi() == sfi) {
                Some(id) => write!(f, "{id}"),
                None => write!(f, "SFI {sfi:02X}"),
            },
        }
    }
}

fn plain(sw: u16) -> Vec<u8> {
    sw.to_be_bytes().to_vec()
}

/// A name for the log line, from the INS byte (refined later for SELECT).
fn command_name(apdu: &[u8]) -> &'static str {
    match apdu.get(1) {
        Some(0xA4) => "SELECT",
        Some(0xB0) | Some(0xB1) => "READ BINARY",
        Some(0x84) => "GET CHALLENGE",
        Some(0x82) => "MUTUAL AUTHENTICATE",
        Some(0xC0) => "GET RESPONSE",
        Some(0x88) => "INTERNAL AUTHENTICATE",
        Some(0x22) => "MSE",
        Some(0x86) => "GENERAL AUTHENTICATE",
        Some(_) => "UNKNOWN INS",
        None => "MALFORMED",
    }
}

/// The offset of an odd-INS READ BINARY: DO 54 with 1 to 3 value bytes.
fn parse_offset_do(data: &[u8]) -> Option<usize> {
    match data {
        [0x54, len, rest @ ..] if usize::from(*len) == rest.len() && (1..=3).contains(&rest.len()) => {
            Some(rest.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
        }
        _ => None,
    }
}

/// Bytes of a BER length field for `n`.
fn len_of_len(n: usize) -> usize {
    match n {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        0x100..=0xFFFF => 3,
        _ => 4,
    }
}

/// Size of DO 53 holding `n` bytes.
fn do53_len(n: usize) -> usize {
    1 + len_of_len(n) + n
}

/// The most content bytes a DO 53 of at most `budget` bytes can hold.
fn do53_content_fitting(budget: usize) -> usize {
    let mut n = budget.saturating_sub(2);
    while n > 0 && do53_len(n) > budget {
        n -= 1;
    }
    n
}


/// Index of the first cryptogram byte of a protected answer (after DO 87's padding indicator).
fn cryptogram_index(out: &[u8]) -> Option<usize> {
    let tag = *out.first()?;
    if tag != 0x87 && tag != 0x85 {
        return None;
    }
    let header = match *out.get(1)? {
        l if l < 0x80 => 2,
        0x81 => 3,
        0x82 => 4,
        _ => return None,
    };
    let i = header + usize::from(tag == 0x87);
    (i < out.len().saturating_sub(16)).then_some(i)
}

/// 32 bytes from the system's random source; a time-derived seed if that fails.
fn system_seed() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut seed = [0u8; 32];
    if ring::rand::SystemRandom::new().fill(&mut seed).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        seed[..16].copy_from_slice(&t.to_le_bytes());
    }
    seed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod unit {
    use super::*;

    #[test]
    fn capacity_under_secure_messaging_is_231_for_short_apdus() {
        assert_eq!(SmCipher::Tdes.protected_response_len(231, false), 250);
        assert!(SmCipher::Tdes.protected_response_len(232, false) > 256);
        assert!(SmCipher::Tdes.protected_response_len(223, false) <= 256);
        assert!(SmCipher::Tdes.protected_response_len(231, true) <= 256);
        assert!(SmCipher::Tdes.protected_response_len(232, true) > 256);
    }

    #[test]
    fn do53_fitting() {
        assert_eq!(do53_content_fitting(256), 253);
        assert_eq!(do53_len(253), 256);
        assert_eq!(do53_content_fitting(129), 127);
        assert_eq!(do53_content_fitting(130), 127);
        assert_eq!(do53_content_fitting(131), 128);
        assert_eq!(do53_content_fitting(1), 0);
    }

    #[test]
    fn offset_do() {
        assert_eq!(parse_offset_do(&[0x54, 0x01, 0x10]), Some(16));
        assert_eq!(parse_offset_do(&[0x54, 0x03, 0x01, 0x00, 0x00]), Some(65536));
        assert_eq!(parse_offset_do(&[0x54, 0x02, 0x01]), None);
        assert_eq!(parse_offset_do(&[0x53, 0x01, 0x01]), None);
        assert_eq!(parse_offset_do(&[]), None);
    }
}
