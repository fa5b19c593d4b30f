//! Test-only: a small scripted eMRTD card (BAC + secure messaging over a chip image) with exact
//! fault switches, built from the card-side halves of `sm` and `bac`. It lets the read engine be
//! tested without the emulator; tests against `emulator::VirtualCard` live beside it.

use super::access::FixedRandomness;
use super::apdu::{Command, Response, StatusWord};
use super::bac::{BacKey, CardBac};
use super::sm::SecureChannel;
use super::transport::{Transport, TransportError};
use idcheck_core::lds::{ChipImage, FileId};
use idcheck_core::tlv;

/// How the card treats an Le above its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeBehaviour {
    WrongLength,
    WrongLe,
    Truncate,
    EndOfFile,
    WrongParameters,
}

#[derive(Debug, Clone, Default)]
pub struct MockFaults {
    pub max_le: Option<(usize, LeBehaviour)>,
    /// Leave the field when this many APDUs have been answered (until `reset`).
    pub remove_after: Option<u32>,
    /// Answer these files with this status word.
    pub refuse: Vec<(FileId, StatusWord)>,
    /// Refuse READ BINARY by short EF identifier (6A86).
    pub no_sfi: bool,
    /// Offer extended length in EF.ATR/INFO.
    pub extended: bool,
    /// Accept extended length even if not announced (for probes).
    pub accepts_extended: bool,
    /// Corrupt the MAC of the answer to APDU number n (1-based).
    pub bad_mac_at: Option<u32>,
    /// Replace the answer to APDU number n with these bytes.
    pub garbage_at: Option<(u32, Vec<u8>)>,
    /// Answer GET RESPONSE-style: split protected answers longer than this with 61XX.
    pub chain_above: Option<usize>,
}

pub struct MockCard {
    image: ChipImage,
    bac: CardBac,
    rng: FixedRandomness,
    selected: bool,
    channel: Option<SecureChannel>,
    current: Option<FileId>,
    removed: bool,
    pending: Vec<u8>,
    pub faults: MockFaults,
    pub apdus: u32,
    /// (INS, Le) of every plain command served under secure messaging.
    pub reads: Vec<(u8, usize)>,
}

impl MockCard {
    pub fn new(image: ChipImage, key: BacKey, faults: MockFaults) -> Self {
        MockCard {
            image,
            bac: CardBac::new(key),
            rng: FixedRandomness::new((0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<u8>>()),
            selected: false,
            channel: None,
            current: None,
            removed: false,
            pending: Vec::new(),
            faults,
            apdus: 0,
            reads: Vec::new(),
        }
    }

    fn plain(&mut self, cmd: &Command) -> Response {
        match (cmd.ins, cmd.p1, cmd.p2) {
            (0xB0, 0x81, 0x00) if !self.selected => {
                if self.faults.extended {
                    let info = [tlv::encode(0x47, &[0x00, 0xDF, 0x40]), tlv::encode(0x7F66, &[2, 2, 0x08, 0x00, 2, 2, 0x08, 0x00])].concat();
                    Response::new(info, StatusWord::Success)
                } else {
                    Response::status(StatusWord::FileNotFound)
                }
            }
            (0xA4, 0x04, _) => {
                if cmd.data == super::apdu::EMRTD_AID {
                    self.selected = true;
                    self.channel = None;
                    Response::status(StatusWord::Success)
                } else {
                    Response::status(StatusWord::FileNotFound)
                }
            }
            (0x84, _, _) if self.selected => match self.bac.get_challenge(&mut self.rng) {
                Ok(c) => Response::new(c.to_vec(), StatusWord::Success),
                Err(_) => Response::status(StatusWord::NoPreciseDiagnosis),
            },
            (0x82, _, _) if self.selected => match self.bac.mutual_authenticate(&cmd.data, &mut self.rng) {
                Ok((answer, ch)) => {
                    self.channel = Some(ch);
                    Response::new(answer, StatusWord::Success)
                }
                Err(_) => Response::status(StatusWord::VerificationFailed),
            },
            (0xB0 | 0xB1, _, _) => Response::status(StatusWord::SecurityNotSatisfied),
            _ => Response::status(StatusWord::InsNotSupported),
        }
    }

    fn refused(&self, f: FileId) -> Option<StatusWord> {
        self.faults.refuse.iter().find(|(id, _)| *id == f).map(|(_, sw)| *sw)
    }

    fn secured(&mut self, cmd: &Command) -> Response {
        self.reads.push((cmd.ins, cmd.le.unwrap_or(0)));
        match cmd.ins {
            0xA4 if cmd.p1 == 0x02 => {
                let fid = match cmd.data.as_slice() {
                    [a, b] => u16::from_be_bytes([*a, *b]),
                    _ => return Response::status(StatusWord::WrongLength),
                };
                match FileId::from_fid(fid).filter(|f| self.image.get(*f).is_some()) {
                    Some(f) => {
                        if let Some(sw) = self.refused(f) {
                            return Response::status(sw);
                        }
                        self.current = Some(f);
                        Response::status(StatusWord::Success)
                    }
                    None => Response::status(StatusWord::FileNotFound),
                }
            }
            0xB0 | 0xB1 => {
                let offset = if cmd.ins == 0xB0 && cmd.p1 & 0x80 != 0 {
                    if self.faults.no_sfi {
                        return Response::status(StatusWord::IncorrectP1P2);
                    }
                    let sfi = cmd.p1 & 0x1F;
                    match FileId::ALL.into_iter().find(|f| f.sfi() == sfi && self.image.get(*f).is_some()) {
                        Some(f) => {
                            if let Some(sw) = self.refused(f) {
                                return Response::status(sw);
                            }
                            self.current = Some(f);
                        }
                        None => return Response::status(StatusWord::FileNotFound),
                    }
                    cmd.p2 as usize
                } else if cmd.ins == 0xB0 {
                    (((cmd.p1 & 0x7F) as usize) << 8) | cmd.p2 as usize
                } else {
                    match tlv::parse_single(&cmd.data, 0x54) {
                        Ok(t) if !t.value.is_empty() && t.value.len() <= 3 => t.value.iter().fold(0usize, |a, &b| (a << 8) | b as usize),
                        _ => return Response::status(StatusWord::IncorrectData),
                    }
                };
                let Some(f) = self.current else { return Response::status(StatusWord::CommandNotAllowed) };
                let file = self.image.get(f).unwrap_or_default();
                let le = cmd.le.unwrap_or(256);
                if le > 256 && !(self.faults.extended || self.faults.accepts_extended) {
                    return Response::status(StatusWord::WrongLength);
                }
                let mut n = le;
                let mut trunc_sw = None;
                if let Some((max, beh)) = self.faults.max_le {
                    if le > max {
                        match beh {
                            LeBehaviour::WrongLength => return Response::status(StatusWord::WrongLength),
                            LeBehaviour::WrongLe => return Response::status(StatusWord::WrongLe(max as u8)),
                            LeBehaviour::WrongParameters => return Response::status(StatusWord::WrongParameters),
                            LeBehaviour::Truncate => n = max,
                            LeBehaviour::EndOfFile => {
                                n = max;
                                trunc_sw = Some(StatusWord::EndOfFileWarning)
                            }
                        }
                    }
                }
                if offset >= file.len() {
                    return Response::status(StatusWord::WrongParameters);
                }
                if cmd.ins == 0xB1 {
                    let overhead = 1 + if n < 0x80 { 1 } else if n < 0x100 { 2 } else { 3 };
                    n = n.saturating_sub(overhead);
                }
                let end = (offset + n).min(file.len());
                let data = file[offset..end].to_vec();
                let sw = if end - offset < n { StatusWord::EndOfFileWarning } else { trunc_sw.unwrap_or(StatusWord::Success) };
                let data = if cmd.ins == 0xB1 { tlv::encode(0x53, &data) } else { data };
                Response::new(data, sw)
            }
            _ => Response::status(StatusWord::InsNotSupported),
        }
    }

    fn answer(&mut self, apdu: &[u8]) -> Vec<u8> {
        if apdu.get(1) == Some(&0xC0) && !self.pending.is_empty() {
            return self.chain(Vec::new());
        }
        let is_sm = apdu.first().is_some_and(|c| c & 0x0C == 0x0C);
        match (&mut self.channel, is_sm) {
            (Some(ch), true) => {
                let cmd = match ch.unprotect_command(apdu) {
                    Ok(c) => c,
                    Err(_) => {
                        self.channel = None;
                        return SecureChannel::plain_status(StatusWord::SmDataObjectsIncorrect);
                    }
                };
                let resp = self.secured(&cmd);
                let ch = match &mut self.channel {
                    Some(ch) => ch,
                    None => return SecureChannel::plain_status(StatusWord::SmDataObjectsIncorrect),
                };
                // Bare errors for length problems, as many real chips do; protected otherwise.
                let bytes = if resp.data.is_empty() && matches!(resp.sw, StatusWord::WrongLength | StatusWord::WrongLe(_)) {
                    SecureChannel::plain_status(resp.sw)
                } else {
                    ch.protect_response(&resp)
                };
                self.chain(bytes)
            }
            (Some(_), false) => {
                // Plain command during SM: the session ends, as on real chips.
                self.channel = None;
                SecureChannel::plain_status(StatusWord::SmDataObjectsMissing)
            }
            (None, _) => match Command::parse(apdu) {
                Ok(cmd) => self.plain(&cmd).to_bytes(),
                Err(_) => StatusWord::WrongLength.to_bytes().to_vec(),
            },
        }
    }

    fn chain(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let Some(limit) = self.faults.chain_above else { return bytes };
        let mut all = if bytes.is_empty() { std::mem::take(&mut self.pending) } else { bytes };
        if all.len() <= limit + 2 {
            return all;
        }
        let rest = all.split_off(limit);
        let left = rest.len();
        self.pending = rest;
        all.extend_from_slice(&[0x61, if left - 2 > 255 { 0 } else { (left - 2) as u8 }]);
        // When what is left fits, the next GET RESPONSE returns it whole (data + status word).
        all
    }
}

impl Transport for MockCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.removed {
            return Err(TransportError::CardRemoved);
        }
        if self.faults.remove_after.is_some_and(|n| self.apdus >= n) {
            self.removed = true;
            return Err(TransportError::CardRemoved);
        }
        self.apdus += 1;
        if let Some((n, bytes)) = &self.faults.garbage_at {
            if *n == self.apdus {
                return Ok(bytes.clone());
            }
        }
        let mut out = self.answer(apdu);
        if self.faults.bad_mac_at == Some(self.apdus) && out.len() > 4 {
            let i = out.len() - 3;
            out[i] ^= 0x01;
        }
        Ok(out)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.removed = false;
        self.faults.remove_after = None;
        self.selected = false;
        self.channel = None;
        self.current = None;
        self.pending.clear();
        Ok(vec![0x3B, 0x80, 0x80, 0x01, 0x01])
    }
}
