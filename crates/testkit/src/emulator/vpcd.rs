//! Client side of the vsmartcard virtual reader protocol (vpcd, the pcscd driver of
//! virtualsmartcard; vicc.py is its reference client). vpcd listens on TCP (35963 for the first
//! reader slot, +1 per further slot) and the virtual card connects to it. Every message either
//! way is a 2-byte big-endian length and that many bytes. From vpcd, a 1-byte message is a
//! control code: 00 power off, 01 power on, 02 reset (none answered), 04 get ATR (answered with
//! the ATR; vpcd also sends it to poll for presence); anything longer is a command APDU, answered
//! with the response APDU. A closed connection is a removed card: the emulator leaves the field
//! by closing it, and vpcd restarting closes it from the other side, after which the emulator
//! reconnects. Stopping (the `stop` flag) closes the connection cleanly.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::card::{ApduSummary, CardStats, Delivery, VirtualCard};
use super::EmulatorError;

/// vpcd's default address (pcscd's reader.conf: `DEVICENAME /dev/null:0x8C7B`).
pub const DEFAULT_VPCD_ADDR: &str = "127.0.0.1:35963";

const CTRL_OFF: u8 = 0x00;
const CTRL_ON: u8 = 0x01;
const CTRL_RESET: u8 = 0x02;
const CTRL_ATR: u8 = 0x04;

/// Where and how to reach vpcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcdOptions {
    /// `HOST:PORT` of vpcd.
    pub addr: String,
    /// Pause between connection attempts while vpcd is not there.
    pub reconnect_delay: Duration,
    /// Timeout of one connection attempt.
    pub connect_timeout: Duration,
    /// How often the stop flag is looked at while waiting.
    pub poll: Duration,
}

impl Default for VpcdOptions {
    fn default() -> Self {
        VpcdOptions {
            addr: DEFAULT_VPCD_ADDR.to_string(),
            reconnect_delay: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(2),
            poll: Duration::from_millis(50),
        }
    }
}

/// What happened, for the caller's log. Never carries file contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// vpcd cannot be reached (reported once per outage).
    Waiting { addr: String, error: String },
    Connected { addr: String },
    /// The connection ended from vpcd's side or broke.
    Disconnected { reason: String },
    PowerOn,
    PowerOff,
    Reset,
    /// A control code this client does not know (ignored, as vicc.py does).
    UnknownControl(u8),
    /// An empty message (a protocol error, ignored).
    EmptyMessage,
    /// One APDU and what became of it.
    Apdu { summary: ApduSummary, answered: bool },
    /// The card left the field (leave fault): the connection is closed.
    LeftField { delivered_bytes: u64 },
    /// The card came back (reinsert fault).
    Reinserted,
    /// The stop flag was seen; the connection is closed.
    Stopped,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Waiting { addr, error } => write!(f, "waiting for vpcd at {addr} ({error}); is pcscd running with the vpcd reader?"),
            Event::Connected { addr } => write!(f, "connected to vpcd at {addr}: card in the field"),
            Event::Disconnected { reason } => write!(f, "vpcd connection lost ({reason}); reconnecting"),
            Event::PowerOn => f.write_str("power on"),
            Event::PowerOff => f.write_str("power off"),
            Event::Reset => f.write_str("reset"),
            Event::UnknownControl(c) => write!(f, "unknown vpcd control code {c:02X} ignored"),
            Event::EmptyMessage => f.write_str("empty vpcd message ignored"),
            Event::Apdu { summary, answered } => {
                write!(f, "{summary}")?;
                if !answered {
                    f.write_str(" [not answered]")?;
                }
                Ok(())
            }
            Event::LeftField { delivered_bytes } => write!(f, "card left the field after {delivered_bytes} response bytes"),
            Event::Reinserted => f.write_str("card back in the field"),
            Event::Stopped => f.write_str("stopped"),
        }
    }
}

/// What a `serve` run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeReport {
    /// Connections made to vpcd.
    pub connections: u64,
    /// The card's counters at the end.
    pub stats: CardStats,
}

/// How one connection ended.
enum End {
    Stopped,
    Closed(String),
    LeftField,
}

/// Serve `card` on vpcd until `stop` is set: connect (retrying while vpcd is absent), answer
/// control codes and APDUs, reconnect when vpcd goes away, leave and (with the reinsert fault)
/// come back as the card's faults say. Errors only on an address that is not `HOST:PORT`.
pub fn serve(
    card: &mut VirtualCard,
    opts: &VpcdOptions,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&Event),
) -> Result<ServeReport, EmulatorError> {
    check_addr(&opts.addr)?;
    let mut report = ServeReport::default();
    let mut waiting_reported = false;
    while !stop.load(Ordering::SeqCst) {
        if card.has_left_field() {
            match card.reinsert_due() {
                Some(due) if Instant::now() >= due => {
                    card.reinsert();
                    on_event(&Event::Reinserted);
                }
                _ => {
                    sleep_unless_stopped(opts.poll, opts.poll, stop);
                    continue;
                }
            }
        }
        let stream = match connect(&opts.addr, opts.connect_timeout) {
            Ok(s) => s,
            Err(e) => {
                if !waiting_reported {
                    on_event(&Event::Waiting { addr: opts.addr.clone(), error: e.to_string() });
                    waiting_reported = true;
                }
                sleep_unless_stopped(opts.reconnect_delay, opts.poll, stop);
                continue;
            }
        };
        waiting_reported = false;
        report.connections += 1;
        on_event(&Event::Connected { addr: opts.addr.clone() });
        match session(stream, card, opts, stop, on_event) {
            End::Stopped => break,
            End::Closed(reason) => {
                card.power_off();
                on_event(&Event::Disconnected { reason });
                sleep_unless_stopped(opts.reconnect_delay, opts.poll, stop);
            }
            End::LeftField => {}
        }
    }
    on_event(&Event::Stopped);
    report.stats = card.stats().clone();
    Ok(report)
}

/// One connection to vpcd.
fn session(
    mut stream: TcpStream,
    card: &mut VirtualCard,
    opts: &VpcdOptions,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&Event),
) -> End {
    if let Err(e) = stream.set_read_timeout(Some(opts.poll)).and_then(|_| stream.set_nodelay(true)) {
        return End::Closed(e.to_string());
    }
    let mut frames = FrameReader::default();
    loop {
        if stop.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Both);
            return End::Stopped;
        }
        // Acknowledge at once: with the kernel's delayed ACK, vpcd (Nagle on) waits for it
        // before sending on, and every APDU stalls ~40 ms (measured through pcscd 1.9.9 and
        // vpcd 3.3: 48 ms per APDU without, 0.07 ms with). Linux clears the flag after use.
        // Needs Rust 1.89 (TcpStreamExt::set_quickack); Cargo.toml's rust-version says 1.85.
        #[cfg(target_os = "linux")]
        #[allow(clippy::incompatible_msrv)]
        {
            use std::os::linux::net::TcpStreamExt;
            let _ = stream.set_quickack(true);
        }
        let msg = match frames.next(&mut stream) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return End::Closed("closed by vpcd".to_string()),
            Err(e) => return End::Closed(e.to_string()),
        };
        match msg.as_slice() {
            [] => on_event(&Event::EmptyMessage),
            [CTRL_OFF] => {
                card.power_off();
                on_event(&Event::PowerOff);
            }
            [CTRL_ON] => {
                card.power_on();
                on_event(&Event::PowerOn);
            }
            [CTRL_RESET] => {
                card.reset();
                on_event(&Event::Reset);
            }
            [CTRL_ATR] => {
                if let Err(e) = write_frame(&mut stream, card.atr()) {
                    return End::Closed(e.to_string());
                }
            }
            [other] => on_event(&Event::UnknownControl(*other)),
            apdu => match card.exchange(apdu) {
                Delivery::Answer(bytes) => {
                    if let Some(d) = card.answer_delay() {
                        sleep_unless_stopped(d, opts.poll, stop);
                    }
                    if let Some(s) = card.last_summary() {
                        on_event(&Event::Apdu { summary: s.clone(), answered: true });
                    }
                    if let Err(e) = write_frame(&mut stream, &bytes) {
                        return End::Closed(e.to_string());
                    }
                }
                Delivery::Mute => {
                    if let Some(s) = card.last_summary() {
                        on_event(&Event::Apdu { summary: s.clone(), answered: false });
                    }
                }
                Delivery::LeftField => {
                    if let Some(s) = card.last_summary() {
                        on_event(&Event::Apdu { summary: s.clone(), answered: false });
                    }
                    let _ = stream.shutdown(Shutdown::Both);
                    on_event(&Event::LeftField { delivered_bytes: card.delivered_bytes() as u64 });
                    return End::LeftField;
                }
            },
        }
    }
}

fn check_addr(addr: &str) -> Result<(), EmulatorError> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(EmulatorError::Address(addr.to_string())),
    }
}

fn connect(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Sleep `total` in slices of `slice`, returning early once `stop` is set.
fn sleep_unless_stopped(total: Duration, slice: Duration, stop: &AtomicBool) {
    let end = Instant::now() + total;
    let slice = slice.max(Duration::from_millis(1));
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep(slice.min(end - now));
    }
}

/// Write one message: 2-byte big-endian length, then the bytes.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("vpcd message of {} bytes exceeds 65535", payload.len())))?;
    let mut buf = Vec::with_capacity(payload.len() + 2);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()
}

/// Reassembles length-prefixed messages from a stream read with a timeout.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// The next whole message, `Ok(None)` when the read timed out first, `UnexpectedEof` when
    /// the peer closed the connection.
    pub fn next(&mut self, r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(msg) = self.take() {
                return Ok(Some(msg));
            }
            let mut tmp = [0u8; 4096];
            match r.read(&mut tmp) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")),
                Ok(n) => self.buf.extend_from_slice(tmp.get(..n).unwrap_or_default()),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn take(&mut self) -> Option<Vec<u8>> {
        let len = match self.buf.as_slice() {
            [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
            _ => return None,
        };
        if self.buf.len() < 2 + len {
            return None;
        }
        let msg = self.buf.get(2..2 + len)?.to_vec();
        self.buf.drain(..2 + len);
        Some(msg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod unit {
    use super::*;

    #[test]
    fn frames_split_and_join() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &[0x04]).unwrap();
        write_frame(&mut wire, &[0x00, 0xA4, 0x04, 0x0C]).unwrap();
        write_frame(&mut wire, &[]).unwrap();
        assert_eq!(&wire[..3], &[0x00, 0x01, 0x04]);
        let mut fr = FrameReader::default();
        let mut cur = io::Cursor::new(wire);
        assert_eq!(fr.next(&mut cur).unwrap(), Some(vec![0x04]));
        assert_eq!(fr.next(&mut cur).unwrap(), Some(vec![0x00, 0xA4, 0x04, 0x0C]));
        assert_eq!(fr.next(&mut cur).unwrap(), Some(vec![]));
        assert_eq!(fr.next(&mut cur).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn byte_by_byte_delivery() {
        struct OneByte(Vec<u8>, usize);
        impl Read for OneByte {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match (self.0.get(self.1), buf.first_mut()) {
                    (Some(b), Some(out)) => {
                        *out = *b;
                        self.1 += 1;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let mut wire = Vec::new();
        write_frame(&mut wire, &[1, 2, 3, 4, 5]).unwrap();
        let mut fr = FrameReader::default();
        assert_eq!(fr.next(&mut OneByte(wire, 0)).unwrap(), Some(vec![1, 2, 3, 4, 5]));
    }

    #[test]
    fn addresses() {
        assert!(check_addr("127.0.0.1:35963").is_ok());
        assert!(check_addr("localhost:1").is_ok());
        assert!(check_addr("127.0.0.1").is_err());
        assert!(check_addr(":35963").is_err());
        assert!(check_addr("h:99999").is_err());
    }

    #[test]
    fn oversized_frames_are_refused() {
        let mut sink = Vec::new();
        assert!(write_frame(&mut sink, &vec![0u8; 70000]).is_err());
    }
}
