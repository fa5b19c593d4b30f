//! The exchange rules above the transport, in one place: encode a command, transmit it, follow
//! 61XX with GET RESPONSE (ISO/IEC 7816-4 transmission handling), resend once with the card's
//! Le after 6CXX, and wrap / unwrap secure messaging when a session is given. It counts every
//! APDU on the wire, the bytes each way and the time spent in the transport ([`IoCounters`]).

use std::time::{Duration, Instant};

use super::apdu::{ApduError, Command, Response, StatusWord};
use super::sm::{SecureChannel, SmError};
use super::transport::{Transport, TransportError};

/// Totals of what went over the transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// Command APDUs transmitted (GET RESPONSE and resends included).
    pub apdus: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// 6CXX resends.
    pub wrong_le_retries: u32,
    /// GET RESPONSE commands sent after 61XX.
    pub get_responses: u32,
    /// Time spent inside `Transport::transmit`.
    pub transmit_time: Duration,
}

impl IoCounters {
    /// The difference `self - earlier` (counters only grow).
    pub fn since(&self, earlier: &IoCounters) -> IoCounters {
        IoCounters {
            apdus: self.apdus.saturating_sub(earlier.apdus),
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
            wrong_le_retries: self.wrong_le_retries.saturating_sub(earlier.wrong_le_retries),
            get_responses: self.get_responses.saturating_sub(earlier.get_responses),
            transmit_time: self.transmit_time.saturating_sub(earlier.transmit_time),
        }
    }

    /// Sum of two counters.
    pub fn plus(&self, other: &IoCounters) -> IoCounters {
        IoCounters {
            apdus: self.apdus.saturating_add(other.apdus),
            bytes_sent: self.bytes_sent.saturating_add(other.bytes_sent),
            bytes_received: self.bytes_received.saturating_add(other.bytes_received),
            wrong_le_retries: self.wrong_le_retries.saturating_add(other.wrong_le_retries),
            get_responses: self.get_responses.saturating_add(other.get_responses),
            transmit_time: self.transmit_time.saturating_add(other.transmit_time),
        }
    }
}

impl IoCounters {
    /// Transmit through `transport`, counting the APDU, its bytes, its time, and GET RESPONSE.
    pub fn transmit(&mut self, transport: &mut dyn Transport, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.apdus = self.apdus.saturating_add(1);
        if apdu.get(1) == Some(&0xC0) {
            self.get_responses = self.get_responses.saturating_add(1);
        }
        self.bytes_sent = self.bytes_sent.saturating_add(apdu.len() as u64);
        let t = Instant::now();
        let r = transport.transmit(apdu);
        self.transmit_time = self.transmit_time.saturating_add(t.elapsed());
        let bytes = r?;
        self.bytes_received = self.bytes_received.saturating_add(bytes.len() as u64);
        Ok(bytes)
    }
}

/// A transport wrapper that counts everything going through it, whatever session uses it.
pub struct CountingTransport<'a> {
    inner: &'a mut dyn Transport,
    counters: IoCounters,
}

impl<'a> CountingTransport<'a> {
    pub fn new(inner: &'a mut dyn Transport) -> Self {
        CountingTransport { inner, counters: IoCounters::default() }
    }

    pub fn counters(&self) -> IoCounters {
        self.counters
    }
}

impl Transport for CountingTransport<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.counters.transmit(&mut *self.inner, apdu)
    }
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.inner.reset()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Why an exchange failed below the level of commands' meaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("{0}")]
    Transport(TransportError),
    #[error("response: {0}")]
    Response(ApduError),
    #[error("{0}")]
    Sm(SmError),
    #[error("command: {0}")]
    Command(ApduError),
    #[error("get response chain of {rounds} rounds and {bytes} bytes does not end")]
    GetResponseOverflow { rounds: u32, bytes: usize },
}

impl From<ApduError> for LinkError {
    fn from(e: ApduError) -> Self {
        LinkError::Command(e)
    }
}

/// Most GET RESPONSE rounds followed for one command.
pub const MAX_GET_RESPONSE_ROUNDS: u32 = 300;
/// Most bytes gathered by a GET RESPONSE chain (an extended answer and its status word).
pub const MAX_CHAINED_BYTES: usize = 65_538;

/// A transport plus the exchange rules and counters.
pub struct Link<'t> {
    transport: &'t mut dyn Transport,
    counters: IoCounters,
}

impl<'t> Link<'t> {
    pub fn new(transport: &'t mut dyn Transport) -> Self {
        Link { transport, counters: IoCounters::default() }
    }

    pub fn counters(&self) -> IoCounters {
        self.counters
    }

    /// The transport underneath (for a reset between attempts).
    pub fn transport(&mut self) -> &mut dyn Transport {
        &mut *self.transport
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        self.counters.transmit(&mut *self.transport, apdu).map_err(LinkError::Transport)
    }

    /// Transmit encoded bytes and follow 61XX: the whole answer, status word last.
    fn transmit_chained(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        let mut answer = self.transmit(apdu)?;
        let mut rounds = 0u32;
        loop {
            let (data_len, sw) = match answer.split_last_chunk::<2>() {
                Some((d, sw)) => (d.len(), StatusWord::from_u16(u16::from_be_bytes(*sw))),
                None => return Err(LinkError::Response(ApduError::ResponseTooShort(answer.len()))),
            };
            let StatusWord::BytesRemaining(n) = sw else { return Ok(answer) };
            rounds += 1;
            if rounds > MAX_GET_RESPONSE_ROUNDS || answer.len() > MAX_CHAINED_BYTES {
                return Err(LinkError::GetResponseOverflow { rounds, bytes: answer.len() });
            }
            answer.truncate(data_len);
            let le = if n == 0 { 256 } else { n as usize };
            let get = Command::get_response(le).encode()?;
            let more = self.transmit(&get)?;
            answer.extend_from_slice(&more);
        }
    }

    /// Send a plain command; on 6CXX resend it once with Le = XX.
    pub fn send(&mut self, cmd: &Command) -> Result<Response, LinkError> {
        let bytes = self.transmit_chained(&cmd.encode()?)?;
        let resp = Response::from_bytes(&bytes).map_err(LinkError::Response)?;
        if let StatusWord::WrongLe(xx) = resp.sw {
            if cmd.le.is_some() {
                self.counters.wrong_le_retries = self.counters.wrong_le_retries.saturating_add(1);
                let retry = cmd.clone().with_le(if xx == 0 { 256 } else { xx as usize });
                let bytes = self.transmit_chained(&retry.encode()?)?;
                return Response::from_bytes(&bytes).map_err(LinkError::Response);
            }
        }
        Ok(resp)
    }

    /// Send a command under secure messaging; on a (protected or bare) 6CXX resend it once,
    /// freshly protected, with Ne = XX in DO'97'. GET RESPONSE after 61XX goes unprotected, as
    /// it is a transmission matter below secure messaging.
    pub fn send_secure(&mut self, channel: &mut SecureChannel, cmd: &Command) -> Result<Response, LinkError> {
        let resp = self.send_secure_once(channel, cmd)?;
        if let StatusWord::WrongLe(xx) = resp.sw {
            if cmd.le.is_some() {
                self.counters.wrong_le_retries = self.counters.wrong_le_retries.saturating_add(1);
                let retry = cmd.clone().with_le(if xx == 0 { 256 } else { xx as usize });
                return self.send_secure_once(channel, &retry);
            }
        }
        Ok(resp)
    }

    fn send_secure_once(&mut self, channel: &mut SecureChannel, cmd: &Command) -> Result<Response, LinkError> {
        let protected = channel.protect_command(cmd);
        let bytes = self.transmit_chained(&protected.encode()?)?;
        channel.unprotect_response(&bytes).map_err(LinkError::Sm)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::transport::ScriptedTransport;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("test hex")
    }

    #[test]
    fn get_response_chain_is_followed_and_counted() {
        let mut t = ScriptedTransport::new().answer(hex("0102 6103")).answer(hex("030405 9000"));
        let mut link = Link::new(&mut t);
        let r = link.send(&Command::get_challenge(5)).unwrap();
        assert_eq!(r.data, hex("0102030405"));
        assert!(r.is_success());
        let c = link.counters();
        assert_eq!((c.apdus, c.get_responses, c.bytes_sent, c.bytes_received), (2, 1, 10, 9));
        assert_eq!(t.sent[1], hex("00C0000003"));
    }

    #[test]
    fn wrong_le_is_resent_once() {
        let mut t = ScriptedTransport::new().answer(hex("6C02")).answer(hex("AABB 9000"));
        let mut link = Link::new(&mut t);
        let r = link.send(&Command::read_binary(0, 10).unwrap()).unwrap();
        assert_eq!(r.data, hex("AABB"));
        assert_eq!(link.counters().wrong_le_retries, 1);
        assert_eq!(t.sent[1], hex("00B0000002"));

        // A second 6CXX is handed up, not chased.
        let mut t = ScriptedTransport::new().answer(hex("6C02")).answer(hex("6C01"));
        let r = Link::new(&mut t).send(&Command::read_binary(0, 10).unwrap()).unwrap();
        assert_eq!(r.sw, StatusWord::WrongLe(1));
    }

    #[test]
    fn endless_get_response_is_cut() {
        let mut t = ScriptedTransport::new();
        for _ in 0..400 {
            t = t.answer(hex("00 6100"));
        }
        let mut link = Link::new(&mut t);
        assert!(matches!(link.send(&Command::get_challenge(8)), Err(LinkError::GetResponseOverflow { .. })));
    }

    #[test]
    fn short_answers_and_transport_errors() {
        let mut t = ScriptedTransport::new().answer(vec![0x90]).fail(TransportError::CardRemoved);
        let mut link = Link::new(&mut t);
        assert!(matches!(link.send(&Command::get_challenge(8)), Err(LinkError::Response(_))));
        assert_eq!(link.send(&Command::get_challenge(8)), Err(LinkError::Transport(TransportError::CardRemoved)));
    }
}
