//! Fuzzes a whole chip read (`chip::ChipReader`: link, session, BAC, secure messaging, adaptive
//! READ BINARY, file assembly) against a hostile card. The honest card is the emulator's
//! `VirtualCard` holding the sample chip; between it and the reader sits a transport that, for
//! each APDU, takes an action byte from the fuzz input: answer honestly, answer with fuzzed
//! data and status word (properly protected under the live secure messaging session, which the
//! transport mirrors from the BAC exchange it observes, so the hostile answer passes the MAC
//! check and reaches the reader's parsing), answer raw fuzzed bytes, or corrupt or cut the honest
//! answer. When the input runs out the card is honest. Oracles: no panic, the read stays within
//! the APDU budget, and a read with no hostile answer succeeds with the sample's files.
#![no_main]

use idcheck_chip::bac::{self, BacKey};
use idcheck_chip::sm::decrypt_3des;
use idcheck_chip::{ChipReader, FixedRandomness, ReadOptions, Response, SecureChannel, StatusWord, Transport, TransportError};
use idcheck_testkit::emulator::{capdu, CardConfig, Faults, VirtualCard};
use idcheck_core::lds;
use libfuzzer_sys::fuzz_target;

#[path = "common/cursor.rs"]
mod cursor;
#[path = "common/sample.rs"]
mod sample;
use sample::{sample_chip, SAMPLE};

const RND_IC: [u8; 8] = [0x46, 0x08, 0xF9, 0x19, 0x88, 0x70, 0x22, 0x12];
const K_IC: [u8; 16] = [0x0B, 0x4F, 0x80, 0x32, 0x3E, 0xB3, 0x19, 0x1C, 0xB0, 0x49, 0x70, 0xCB, 0x40, 0x52, 0x79, 0x0B];
/// APDUs one read may send; a sample read takes about 40.
const BUDGET: u32 = 600;

struct Hostile<'a> {
    card: VirtualCard,
    key: BacKey,
    input: cursor::Cursor<'a>,
    /// The card's secure messaging session as the card holds it (same keys and SSC).
    mirror: Option<SecureChannel>,
    sent: u32,
    hostile: bool,
}

impl Hostile<'_> {
    fn byte(&mut self) -> Option<u8> {
        self.input.byte()
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.input.take(n)
    }

    /// Learn the session keys from a successful MUTUAL AUTHENTICATE: decrypt S = RND.IFD ||
    /// RND.IC || K.IFD from the command with the BAC keys, K.IC and RND.IC are ours.
    fn observe_bac(&mut self, apdu: &[u8], answer: &[u8]) {
        let Ok(cmd) = capdu::parse(apdu) else { return };
        if cmd.cla != 0 || cmd.ins != 0x82 || !answer.ends_with(&[0x90, 0x00]) || cmd.data.len() != 40 {
            return;
        }
        let Ok(s) = decrypt_3des(&self.key.keys().k_enc, &cmd.data[..32]) else { return };
        let rnd_ifd: [u8; 8] = s[..8].try_into().expect("8 bytes");
        let k_ifd: [u8; 16] = s[16..32].try_into().expect("16 bytes");
        self.mirror = Some(bac::session_from(&k_ifd, &K_IC, &RND_IC, &rnd_ifd));
    }
}

impl Transport for Hostile<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.sent += 1;
        if self.sent > BUDGET {
            return Err(TransportError::Protocol("apdu budget of the fuzz card exhausted".into()));
        }
        let protected = apdu.first().is_some_and(|c| c & 0x0C == 0x0C);
        if protected {
            if let Some(m) = self.mirror.as_mut() {
                // Moves the mirror's SSC exactly as the card's (errors end the card's session too).
                if m.unprotect_command(apdu).is_err() {
                    self.mirror = None;
                }
            }
        } else {
            self.mirror = None;
        }
        self.card.set_next_challenge(RND_IC);
        self.card.set_next_key_ic(K_IC);
        let honest = self.card.process(apdu);
        self.observe_bac(apdu, &honest);
        let action = self.byte().unwrap_or(0);
        if action < 0x80 {
            if protected && honest.len() > 2 {
                if let Some(m) = self.mirror.as_mut() {
                    let _ = m.protect_response(&Response::status(StatusWord::Success));
                }
            }
            return Ok(honest);
        }
        self.hostile = true;
        match action % 4 {
            0 => {
                // Fuzzed data and status word, protected if a session is up.
                let n = usize::from(self.byte().unwrap_or(0)) * 2;
                let data = self.take(n);
                let sw = self.take(2);
                let sw = StatusWord::from_u16(u16::from_be_bytes([sw.first().copied().unwrap_or(0x90), sw.get(1).copied().unwrap_or(0)]));
                let resp = Response::new(data, sw);
                Ok(match self.mirror.as_mut() {
                    Some(m) if protected => m.protect_response(&resp),
                    _ => resp.to_bytes(),
                })
            }
            1 => {
                let n = usize::from(self.byte().unwrap_or(0));
                self.mirror = None;
                Ok(self.take(n))
            }
            2 => {
                let mut out = honest;
                let at = usize::from(self.byte().unwrap_or(0));
                let x = self.byte().unwrap_or(1);
                if !out.is_empty() {
                    let i = at % out.len();
                    out[i] ^= x;
                }
                self.mirror = None;
                Ok(out)
            }
            _ => {
                let mut out = honest;
                let cut = usize::from(self.byte().unwrap_or(1)).min(out.len());
                out.truncate(out.len() - cut);
                self.mirror = None;
                Ok(out)
            }
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.mirror = None;
        Ok(self.card.reset())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else { return };
    let image = sample_chip();
    let mrz = lds::parse_dg1(SAMPLE[2].1).expect("sample DG1");
    let key = BacKey::from_mrz(&mrz).expect("sample BAC key");
    let config = CardConfig { extended_length: sel & 1 == 1, rng_seed: Some(7), ..CardConfig::default() };
    let card = VirtualCard::with_config(image.clone(), Faults::default(), config).expect("sample card");
    let mut t = Hostile { card, key: key.clone(), input: cursor::Cursor::new(input), mirror: None, sent: 0, hostile: false };
    let mut opts = ReadOptions::default();
    opts.use_sfi = sel & 2 == 2;
    let rng = FixedRandomness::new((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<u8>>());
    let mut reader = ChipReader::new(&key, opts).with_randomness(Box::new(rng));
    let result = reader.read_with_reconnect(&mut t, 2);
    match result {
        Ok(outcome) => {
            let _ = format!("{:?}", lds::parse_chip(&outcome.image));
            if !t.hostile {
                assert_eq!(outcome.image, image, "an honest card was read wrong");
            }
        }
        Err(f) => {
            let _ = format!("{f:?} {f}");
            assert!(t.hostile, "an honest card could not be read: {f}");
        }
    }
});
