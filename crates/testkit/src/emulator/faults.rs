//! Fault switches of the virtual card: what a misbehaving chip or a hurried hand does to a read.
//! Every fault is off by default ([`Faults::default`]); each maps to one `idcheck-testkit emulate` switch
//! and parses from the same text the switch takes (`FromStr`), so tests and the CLI share one
//! vocabulary. Delivery faults (mute, leaving the field, slowness) are applied where answers are
//! delivered (vpcd loop, in-process transport); content faults (wrong answers, a maximum Le, a
//! missing application, a protected DG3) inside the card's APDU processing.

use std::fmt;
use std::str::FromStr;

/// The faults a virtual card shows. `Faults::default()` is a well-behaved chip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Never answer an APDU (the ATR is still given, so the reader sees a card). Over vpcd the
    /// emulator simply does not reply; in-process the transport reports a timeout.
    pub mute: bool,
    /// Go mute from the Nth APDU on (1-based, counted since the card was created); the first N-1
    /// APDUs are answered normally. `Some(1)` is the same as `mute`.
    pub mute_after_apdus: Option<u64>,
    /// Leave the field once N response bytes (data and status words, as transmitted) have been
    /// delivered: the answer that would take the total past N is never delivered and every later
    /// APDU fails as a removed card.
    pub leave_after_bytes: Option<usize>,
    /// After leaving the field, come back (a fresh, powered-off card) after this many
    /// milliseconds; the leave fault does not fire again. `None`: stay away.
    pub reinsert_after_ms: Option<u64>,
    /// Corrupt answers (see [`WrongAnswers`]).
    pub wrong_answers: Option<WrongAnswers>,
    /// Delay every answer by this many milliseconds.
    pub slow_ms: Option<u64>,
    /// Refuse or cut reads asking for more than a number of bytes (see [`MaxLe`]).
    pub max_le: Option<MaxLe>,
    /// The ICAO application is absent: SELECT by AID answers 6A82.
    pub no_application: bool,
    /// DG3 is protected by EAC as on ordinary passports: reading it answers 6982.
    pub dg3_protected: bool,
    /// A clone: Chip Authentication runs with a private key that does not match DG14.
    pub ca_wrong_key: bool,
    /// Active Authentication answers a signature with one bit flipped.
    pub aa_bad_signature: bool,
    /// Leave the field on the Nth General Authenticate of PACE (1..=4), its answer lost.
    pub leave_during_pace: Option<u8>,
}

impl Faults {
    /// True when no fault is switched on.
    pub fn is_none(&self) -> bool {
        *self == Faults::default()
    }

    /// True when the card stays silent for the APDU with this 1-based number.
    pub fn mute_at(&self, apdu_number: u64) -> bool {
        self.mute || self.mute_after_apdus.is_some_and(|n| apdu_number >= n)
    }

    /// One line naming every fault that is on, for the emulator's start banner.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.mute {
            parts.push("mute".to_string());
        }
        if let Some(n) = self.mute_after_apdus {
            parts.push(format!("mute from APDU {n}"));
        }
        if let Some(n) = self.leave_after_bytes {
            parts.push(format!("leaves the field after {n} response bytes"));
        }
        if let Some(ms) = self.reinsert_after_ms {
            parts.push(format!("comes back {ms} ms after leaving"));
        }
        if let Some(w) = &self.wrong_answers {
            parts.push(format!("wrong answers: {w}"));
        }
        if let Some(ms) = self.slow_ms {
            parts.push(format!("answers after {ms} ms"));
        }
        if let Some(m) = &self.max_le {
            parts.push(format!("max Le {m}"));
        }
        if self.no_application {
            parts.push("no ICAO application".to_string());
        }
        if self.dg3_protected {
            parts.push("DG3 protected (6982)".to_string());
        }
        if self.ca_wrong_key {
            parts.push("chip authentication key does not match DG14".to_string());
        }
        if self.aa_bad_signature {
            parts.push("active authentication signature corrupted".to_string());
        }
        if let Some(n) = self.leave_during_pace {
            parts.push(format!("leaves the field at PACE step {n}"));
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Why a fault switch's text could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultParseError {
    #[error("max Le `{0}`: expected N or N:BEHAVIOUR with BEHAVIOUR one of 6c, 6700, 6282, 6b00, truncate")]
    MaxLe(String),
    #[error("wrong answer `{0}`: expected KIND[:N][+] with KIND one of mac, data, garbage, sw, short (N = APDU number from 1, + = every answer from then on)")]
    WrongAnswer(String),
}

/// What a chip does when asked for more bytes than it can return in one answer. These are the
/// variants JMRTD meets on real documents (and chip-profile.md lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaxLeBehaviour {
    /// 6CXX: wrong Le, XX = the number of bytes the chip would return.
    WrongLe,
    /// 6700: wrong length, no data.
    WrongLength,
    /// Returns at most the limit with 6282 (end of file reached before Le bytes), although the
    /// file goes on.
    EndOfFileWarning,
    /// 6B00: wrong parameters, no data.
    WrongParameters,
    /// Returns at most the limit with 9000.
    SilentTruncation,
}

impl MaxLeBehaviour {
    pub const ALL: [MaxLeBehaviour; 5] = [
        MaxLeBehaviour::WrongLe,
        MaxLeBehaviour::WrongLength,
        MaxLeBehaviour::EndOfFileWarning,
        MaxLeBehaviour::WrongParameters,
        MaxLeBehaviour::SilentTruncation,
    ];

    /// The switch spelling: `6c`, `6700`, `6282`, `6b00`, `truncate`.
    pub fn name(self) -> &'static str {
        match self {
            MaxLeBehaviour::WrongLe => "6c",
            MaxLeBehaviour::WrongLength => "6700",
            MaxLeBehaviour::EndOfFileWarning => "6282",
            MaxLeBehaviour::WrongParameters => "6b00",
            MaxLeBehaviour::SilentTruncation => "truncate",
        }
    }
}

/// A limit on the bytes one READ BINARY may return (the plain data, before secure messaging),
/// and what the chip does when Le asks for more (`Le = 00` asks for 256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxLe {
    pub limit: usize,
    pub behaviour: MaxLeBehaviour,
}

impl fmt::Display for MaxLe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.limit, self.behaviour.name())
    }
}

impl FromStr for MaxLe {
    type Err = FaultParseError;

    /// `N` (answers 6CXX) or `N:6c|6700|6282|6b00|truncate`, N from 1 to 65536.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || FaultParseError::MaxLe(s.to_string());
        let (n, b) = match s.split_once(':') {
            Some((n, b)) => (n, Some(b)),
            None => (s, None),
        };
        let limit: usize = n.trim().parse().map_err(|_| err())?;
        if limit == 0 || limit > 65536 {
            return Err(err());
        }
        let behaviour = match b.map(|b| b.trim().to_ascii_lowercase()) {
            None => MaxLeBehaviour::WrongLe,
            Some(b) => match b.as_str() {
                "6c" | "6cxx" => MaxLeBehaviour::WrongLe,
                "6700" => MaxLeBehaviour::WrongLength,
                "6282" => MaxLeBehaviour::EndOfFileWarning,
                "6b00" => MaxLeBehaviour::WrongParameters,
                "truncate" | "silent" => MaxLeBehaviour::SilentTruncation,
                _ => return Err(err()),
            },
        };
        Ok(MaxLe { limit, behaviour })
    }
}

/// How an answer is made wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrongAnswerKind {
    /// Flip a bit of the secure-messaging MAC (DO8E): the host must see an SM error. Waits for
    /// the first protected answer at or after the chosen APDU.
    Mac,
    /// Flip a bit of the encrypted data (DO87/DO85), MAC left as it was. Waits for the first
    /// protected answer carrying data at or after the chosen APDU.
    Data,
    /// Replace the answer by random bytes of the same length.
    Garbage,
    /// Replace the answer by the bare status word 6F00 (no precise diagnosis).
    StatusWord,
    /// Drop the last byte of the answer (a cut status word).
    Short,
}

impl WrongAnswerKind {
    pub const ALL: [WrongAnswerKind; 5] =
        [WrongAnswerKind::Mac, WrongAnswerKind::Data, WrongAnswerKind::Garbage, WrongAnswerKind::StatusWord, WrongAnswerKind::Short];

    /// The switch spelling.
    pub fn name(self) -> &'static str {
        match self {
            WrongAnswerKind::Mac => "mac",
            WrongAnswerKind::Data => "data",
            WrongAnswerKind::Garbage => "garbage",
            WrongAnswerKind::StatusWord => "sw",
            WrongAnswerKind::Short => "short",
        }
    }
}

/// Which answers are made wrong: from APDU number `nth` (1-based, counted since the card was
/// created), once or (`repeat`) every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WrongAnswers {
    pub kind: WrongAnswerKind,
    pub nth: u64,
    pub repeat: bool,
}

impl fmt::Display for WrongAnswers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}{}", self.kind.name(), self.nth, if self.repeat { "+" } else { "" })
    }
}

impl FromStr for WrongAnswers {
    type Err = FaultParseError;

    /// `KIND[:N][+]`: `mac:7` corrupts the MAC of the first protected answer from APDU 7 on,
    /// `garbage:3+` garbles every answer from APDU 3 on. N defaults to 1.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || FaultParseError::WrongAnswer(s.to_string());
        let t = s.trim();
        let (t, repeat) = match t.strip_suffix('+') {
            Some(t) => (t, true),
            None => (t, false),
        };
        let (k, n) = match t.split_once(':') {
            Some((k, n)) => (k, Some(n)),
            None => (t, None),
        };
        let kind = WrongAnswerKind::ALL
            .into_iter()
            .find(|w| w.name().eq_ignore_ascii_case(k.trim()))
            .ok_or_else(err)?;
        let nth = match n {
            None => 1,
            Some(n) => n.trim().parse::<u64>().map_err(|_| err())?,
        };
        if nth == 0 {
            return Err(err());
        }
        Ok(WrongAnswers { kind, nth, repeat })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn max_le_parses_every_behaviour_and_round_trips() {
        for b in MaxLeBehaviour::ALL {
            let m = MaxLe { limit: 200, behaviour: b };
            assert_eq!(m.to_string().parse::<MaxLe>(), Ok(m));
        }
        assert_eq!("128".parse::<MaxLe>().map(|m| m.behaviour), Ok(MaxLeBehaviour::WrongLe));
        for bad in ["", "0", "abc", "12:9000", "70000", "-3"] {
            assert!(bad.parse::<MaxLe>().is_err(), "{bad}");
        }
    }

    #[test]
    fn wrong_answers_parse() {
        assert_eq!(
            "mac:7".parse::<WrongAnswers>(),
            Ok(WrongAnswers { kind: WrongAnswerKind::Mac, nth: 7, repeat: false })
        );
        assert_eq!(
            "GARBAGE:3+".parse::<WrongAnswers>(),
            Ok(WrongAnswers { kind: WrongAnswerKind::Garbage, nth: 3, repeat: true })
        );
        assert_eq!("sw".parse::<WrongAnswers>().map(|w| w.nth), Ok(1));
        for k in WrongAnswerKind::ALL {
            let w = WrongAnswers { kind: k, nth: 12, repeat: true };
            assert_eq!(w.to_string().parse::<WrongAnswers>(), Ok(w));
        }
        for bad in ["", "mac:0", "nope:2", "mac:x", "mac:-1"] {
            assert!(bad.parse::<WrongAnswers>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mute_after() {
        let f = Faults { mute_after_apdus: Some(3), ..Faults::default() };
        assert!(!f.mute_at(2));
        assert!(f.mute_at(3));
        assert!(Faults { mute: true, ..Faults::default() }.mute_at(1));
        assert!(Faults::default().is_none());
        assert_eq!(Faults::default().describe(), "none");
    }
}
