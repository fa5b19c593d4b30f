//! PC/SC access: the ONLY module of idcheck that names the `pcsc` crate. It owns listing readers
//! ([`list_readers`]), connecting to a card with retries ([`PcscCard::connect`]: shared mode, T=1
//! preferred, an exclusive PC/SC transaction held for the session, reconnection after another
//! application resets the card), the byte-level `chip::transport::Transport` implementation of
//! [`PcscCard`], and the reader / card monitor ([`Monitor`]) that watches `SCardGetStatusChange`
//! with the PnP notification reader so reader hot-plug, card insertion / removal and the PC/SC
//! service going away and coming back are all seen.
//!
//! Every blocking PC/SC call runs on a thread of its own and every call made for a caller is bounded
//! by a deadline. This matters: pcsc-lite's SCardTransmit has no timeout of its own, and a reader
//! driver such as vpcd (virtual reader) waits forever for a card that stops answering. When a
//! deadline passes, the context is cancelled (`SCardCancel`), the worker thread is abandoned (it
//! disconnects with a card reset and ends as soon as the stuck call returns, e.g. when the card
//! leaves the field), and the caller gets [`PcscError::Timeout`] at once; [`PcscCard::reset`]
//! opens a fresh session. Nothing here panics on what a reader or card sends.
//!
//! idcheck-pcsc is the only crate of the workspace with a `pcsc` dependency, so "only the PC/SC
//! module names pcsc" is a fact Cargo enforces. It must never decide anything about a card:
//! it moves bytes and reports what the reader said.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod live;

use std::ffi::{CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use idcheck_chip::transport::{Transport, TransportError};

use pcsc::{Card, Context, Disposition, Error as PErr, Protocols, ReaderState, Scope, ShareMode, State};

// ------------------------------------------------------------------------------------------------
// errors

/// What went wrong at the PC/SC layer. `op` names the operation ("connect", "transmit", ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcscError {
    /// pcscd is not running or went away (SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED, ...).
    #[error("pc/sc service unavailable during {op}: {reason}")]
    ServiceUnavailable { op: &'static str, reason: String },
    /// No reader of that name (or no reader at all).
    #[error("no reader matching '{reader}' (readers present: {})", fmt_list(.available))]
    UnknownReader { reader: String, available: Vec<String> },
    /// The reader is there but failing (SCARD_F_COMM_ERROR, SCARD_E_READER_UNAVAILABLE, ...).
    #[error("reader '{reader}' unavailable during {op}: {reason}")]
    ReaderUnavailable { reader: String, op: &'static str, reason: String },
    /// Connecting found no card in the reader.
    #[error("no card in reader '{reader}'")]
    NoCard { reader: String },
    /// The card left the reader (SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD).
    #[error("card removed from reader '{reader}' during {op}")]
    CardRemoved { reader: String, op: &'static str },
    /// Another application reset the card (SCARD_W_RESET_CARD): the handle was reconnected but
    /// the card's state (selected application, secure messaging) is lost.
    #[error("card in reader '{reader}' was reset by another application during {op}; its session state is lost")]
    CardReset { reader: String, op: &'static str },
    /// The reader reports the card does not answer (SCARD_W_UNRESPONSIVE_CARD, mute ATR).
    #[error("card in reader '{reader}' does not answer during {op}: {reason}")]
    CardMute { reader: String, op: &'static str, reason: String },
    /// Another application holds the reader exclusively (after the connect retries).
    #[error("reader '{reader}' busy during {op}: another application holds it")]
    Busy { reader: String, op: &'static str },
    /// The deadline of the operation passed; the session was closed (see the module doc).
    #[error("{op} on reader '{reader}' got no answer within {after_ms} ms; session closed")]
    Timeout { reader: String, op: &'static str, after_ms: u64 },
    /// The session was closed earlier (timeout, disconnect) and must be reopened with `reset`.
    #[error("{op} on reader '{reader}': session closed ({reason}); reset to reconnect")]
    SessionClosed { reader: String, op: &'static str, reason: String },
    /// Any other PC/SC failure (bad parameter, buffer, internal error ...).
    #[error("{op} on reader '{reader}' failed: {reason}")]
    Failed { reader: String, op: &'static str, reason: String },
}

fn fmt_list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
    }
}

/// Maps a pcsc error to ours (the one mapping table of this module).
fn map_err(e: PErr, reader: &str, op: &'static str) -> PcscError {
    let reader = reader.to_string();
    let reason = format!("{e} ({e:?})");
    match e {
        PErr::NoService | PErr::ServiceStopped | PErr::Shutdown | PErr::NoReadersAvailable
            if reader.is_empty() =>
        {
            PcscError::ServiceUnavailable { op, reason }
        }
        PErr::NoService | PErr::ServiceStopped | PErr::Shutdown => PcscError::ServiceUnavailable { op, reason },
        PErr::UnknownReader | PErr::NoReadersAvailable => {
            PcscError::UnknownReader { reader, available: Vec::new() }
        }
        PErr::ReaderUnavailable | PErr::CommError | PErr::ReaderUnsupported | PErr::NotReady
        | PErr::CommDataLost | PErr::DuplicateReader => PcscError::ReaderUnavailable { reader, op, reason },
        PErr::RemovedCard | PErr::NoSmartcard => PcscError::CardRemoved { reader, op },
        PErr::ResetCard => PcscError::CardReset { reader, op },
        PErr::UnresponsiveCard | PErr::UnpoweredCard | PErr::UnsupportedCard | PErr::InvalidAtr => {
            PcscError::CardMute { reader, op, reason }
        }
        PErr::SharingViolation => PcscError::Busy { reader, op },
        PErr::Timeout | PErr::WaitedTooLong => PcscError::Timeout { reader, op, after_ms: 0 },
        _ => PcscError::Failed { reader, op, reason },
    }
}

// ------------------------------------------------------------------------------------------------
// listing readers

/// One reader and what is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    pub name: String,
    /// A card is in the field / slot.
    pub card_present: bool,
    /// A card is present but gave no ATR (SCARD_STATE_MUTE).
    pub card_mute: bool,
    /// Another application holds the card exclusively.
    pub exclusive: bool,
    /// The card's answer to reset, when a card is present and answered.
    pub atr: Option<Vec<u8>>,
}

/// Default bound on [`list_readers`].
pub const LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// Lists the readers pcscd knows and whether a card is in each (bounded by [`LIST_TIMEOUT`]).
/// An empty list is `Ok(vec![])`; a missing pcscd is [`PcscError::ServiceUnavailable`].
pub fn list_readers() -> Result<Vec<ReaderInfo>, PcscError> {
    list_readers_within(LIST_TIMEOUT)
}

/// [`list_readers`] with an explicit deadline.
pub fn list_readers_within(deadline: Duration) -> Result<Vec<ReaderInfo>, PcscError> {
    bounded("list readers", "", deadline, || {
        let ctx = Context::establish(Scope::User).map_err(|e| map_err(e, "", "list readers"))?;
        snapshot(&ctx)
    })
}

/// Resolves a reader argument: the exact name, else the one reader whose name contains the
/// argument (case-insensitive). Bounded by [`LIST_TIMEOUT`].
pub fn resolve_reader(wanted: &str) -> Result<String, PcscError> {
    let names: Vec<String> = list_readers()?.into_iter().map(|r| r.name).collect();
    pick_reader(wanted, &names)
}

fn pick_reader(wanted: &str, names: &[String]) -> Result<String, PcscError> {
    if let Some(n) = names.iter().find(|n| n.as_str() == wanted) {
        return Ok(n.clone());
    }
    let lw = wanted.to_lowercase();
    let hits: Vec<&String> = names.iter().filter(|n| !lw.is_empty() && n.to_lowercase().contains(&lw)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(PcscError::UnknownReader { reader: wanted.to_string(), available: names.to_vec() }),
    }
}

fn reader_names(ctx: &Context) -> Result<Vec<CString>, PcscError> {
    match ctx.list_readers_owned() {
        Ok(v) => Ok(v),
        Err(PErr::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(map_err(e, "", "list readers")),
    }
}

fn snapshot(ctx: &Context) -> Result<Vec<ReaderInfo>, PcscError> {
    let names = reader_names(ctx)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut states: Vec<ReaderState> = names.iter().map(|n| ReaderState::new(n.clone(), State::UNAWARE)).collect();
    match ctx.get_status_change(Duration::ZERO, &mut states) {
        Ok(()) | Err(PErr::Timeout) => {}
        Err(e) => return Err(map_err(e, "", "list readers")),
    }
    Ok(states.iter().map(reader_info).collect())
}

fn reader_info(s: &ReaderState) -> ReaderInfo {
    let ev = s.event_state();
    let present = ev.contains(State::PRESENT);
    let mute = present && ev.contains(State::MUTE);
    let atr = s.atr();
    ReaderInfo {
        name: name_of(s.name()),
        card_present: present,
        card_mute: mute,
        exclusive: ev.contains(State::EXCLUSIVE),
        atr: (present && !mute && !atr.is_empty()).then(|| atr.to_vec()),
    }
}

fn name_of(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

/// Runs `f` on a thread of its own and waits at most `deadline` for it (the thread is abandoned
/// when the deadline passes; a panic inside is reported as an error, never propagated).
fn bounded<T: Send + 'static>(
    op: &'static str,
    reader: &str,
    deadline: Duration,
    f: impl FnOnce() -> Result<T, PcscError> + Send + 'static,
) -> Result<T, PcscError> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new().name(format!("pcsc-{op}")).spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err(PcscError::Failed { reader: String::new(), op, reason: "pc/sc call panicked".into() }));
        let _ = tx.send(r);
    });
    if let Err(e) = spawned {
        return Err(PcscError::Failed { reader: reader.to_string(), op, reason: format!("cannot start a thread: {e}") });
    }
    match rx.recv_timeout(deadline) {
        Ok(r) => r,
        Err(RecvTimeoutError::Timeout) => {
            Err(PcscError::Timeout { reader: reader.to_string(), op, after_ms: deadline.as_millis() as u64 })
        }
        Err(RecvTimeoutError::Disconnected) => {
            Err(PcscError::Failed { reader: reader.to_string(), op, reason: "pc/sc thread stopped unexpectedly".into() })
        }
    }
}

// ------------------------------------------------------------------------------------------------
// connecting to a card

/// Which transmission protocols to accept when connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolPreference {
    /// T=1 (what contactless readers present), falling back to any protocol the reader offers.
    #[default]
    T1ThenAny,
    /// T=1 only.
    T1Only,
    /// T=0 or T=1, as the reader chooses.
    Any,
}

/// How [`PcscCard::connect`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Bound on one exchange (one APDU and its answer). vpcd and some drivers never time out by
    /// themselves; when this passes the session is closed and `Timeout` returned.
    pub exchange_timeout: Duration,
    /// Bound on connecting (all retries included) and on a reset.
    pub connect_timeout: Duration,
    /// How long to wait for a card when the reader is empty (zero: fail at once with `NoCard`).
    pub wait_for_card: Duration,
    /// Hold a PC/SC transaction for the whole session so no other application can interleave
    /// APDUs (which would break secure messaging). Re-taken after a reset.
    pub transaction: bool,
    /// Reset the card right after connecting (a known, fresh card state).
    pub reset_on_connect: bool,
    pub protocol: ProtocolPreference,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            exchange_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            wait_for_card: Duration::ZERO,
            transaction: true,
            reset_on_connect: false,
            protocol: ProtocolPreference::T1ThenAny,
        }
    }
}

/// Counters of one [`PcscCard`] session (every exchange through PC/SC, GET RESPONSE included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    pub exchanges: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Time spent waiting for answers.
    pub busy: Duration,
}

static LIVE_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// Number of card worker threads still alive (abandoned ones included, until their stuck call
/// returns). For diagnostics and tests.
pub fn live_workers() -> usize {
    LIVE_WORKERS.load(Ordering::SeqCst)
}

enum Req {
    Transmit(Vec<u8>),
    Status,
    Reset,
    BeginTransaction,
    EndTransaction,
    Disconnect { reset: bool },
}

enum Rep {
    Ctx(Context),
    Connected { reader: String, atr: Vec<u8> },
    Data(Vec<u8>),
    Done,
    Err(PcscError),
}

struct WorkerLink {
    tx: Sender<Req>,
    rx: Receiver<Rep>,
    ctx: Option<Context>,
    /// Set when the caller gives up on the worker (deadline passed): from then on the worker
    /// only cleans up, and leaves the card alone (it may by then be another session's card).
    abandoned: Arc<AtomicBool>,
}

/// A card session through PC/SC. Its calls are bounded by the deadlines of its
/// [`ConnectOptions`]; the blocking PC/SC calls run on a worker thread owned by the session.
pub struct PcscCard {
    /// Resolved reader name.
    reader: String,
    opts: ConnectOptions,
    atr: Vec<u8>,
    link: Option<WorkerLink>,
    closed_reason: String,
    stats: TransportStats,
}

impl std::fmt::Debug for PcscCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscCard")
            .field("reader", &self.reader)
            .field("atr", &hex::encode_upper(&self.atr))
            .field("open", &self.link.is_some())
            .field("stats", &self.stats)
            .finish()
    }
}

impl PcscCard {
    /// Connects to the card in `reader` (exact name, or a unique case-insensitive part of one) in
    /// shared mode. Transient failures (sharing violation, card still powering, protocol
    /// mismatch, reset) are retried until `opts.connect_timeout`.
    pub fn connect(reader: &str, opts: ConnectOptions) -> Result<PcscCard, PcscError> {
        let mut card = PcscCard {
            reader: reader.to_string(),
            opts,
            atr: Vec::new(),
            link: None,
            closed_reason: "not connected".into(),
            stats: TransportStats::default(),
        };
        card.open(card.opts.reset_on_connect)?;
        Ok(card)
    }

    /// The reader's full name.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// The ATR of the last connect / reset.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    pub fn options(&self) -> &ConnectOptions {
        &self.opts
    }

    /// Counters since connect.
    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// True while the session is usable (not closed by a timeout or disconnect).
    pub fn is_open(&self) -> bool {
        self.link.is_some()
    }

    /// Sends one command APDU and returns the response APDU (data + SW1 SW2), bounded by
    /// `exchange_timeout`.
    pub fn transmit_apdu(&mut self, apdu: &[u8]) -> Result<Vec<u8>, PcscError> {
        if apdu.len() < 4 {
            return Err(PcscError::Failed {
                reader: self.reader.clone(),
                op: "transmit",
                reason: format!("command apdu of {} bytes is shorter than its 4-byte header", apdu.len()),
            });
        }
        let started = Instant::now();
        let r = self.call(Req::Transmit(apdu.to_vec()), "transmit", self.opts.exchange_timeout);
        self.stats.busy += started.elapsed();
        match r? {
            Rep::Data(d) => {
                self.stats.exchanges += 1;
                self.stats.bytes_sent += apdu.len() as u64;
                self.stats.bytes_received += d.len() as u64;
                Ok(d)
            }
            _ => Err(self.unexpected("transmit")),
        }
    }

    /// Resets the card (warm reset through SCardReconnect) and returns its ATR. When the session
    /// was closed (timeout) or the card was removed, connects anew (waiting up to
    /// `connect_timeout` for a card). Bounded by `connect_timeout + exchange_timeout`.
    pub fn reset_card(&mut self) -> Result<Vec<u8>, PcscError> {
        if self.link.is_none() {
            self.open(true)?;
            return Ok(self.atr.clone());
        }
        let within = self.opts.connect_timeout + self.opts.exchange_timeout;
        match self.call(Req::Reset, "reset", within)? {
            Rep::Data(atr) => {
                self.atr = atr.clone();
                Ok(atr)
            }
            _ => Err(self.unexpected("reset")),
        }
    }

    /// The card's current ATR as pcscd reports it (also a cheap "is the card still there").
    pub fn status(&mut self) -> Result<Vec<u8>, PcscError> {
        match self.call(Req::Status, "status", self.opts.exchange_timeout)? {
            Rep::Data(atr) => Ok(atr),
            _ => Err(self.unexpected("status")),
        }
    }

    /// Takes the PC/SC transaction (if not held) and keeps it until [`end_transaction`]
    /// (also re-taken after resets). Waits at most `exchange_timeout` for another holder.
    ///
    /// [`end_transaction`]: PcscCard::end_transaction
    pub fn begin_transaction(&mut self) -> Result<(), PcscError> {
        self.call(Req::BeginTransaction, "begin transaction", self.opts.exchange_timeout).map(|_| ())
    }

    /// Releases the PC/SC transaction (leaving the card powered).
    pub fn end_transaction(&mut self) -> Result<(), PcscError> {
        self.call(Req::EndTransaction, "end transaction", self.opts.exchange_timeout).map(|_| ())
    }

    /// Ends the session: resets (`reset`) or leaves the card as it is. Bounded; a stuck worker is
    /// abandoned. (Dropping a `PcscCard` disconnects with a reset.)
    pub fn disconnect(mut self, reset: bool) -> Result<(), PcscError> {
        let r = self.call(Req::Disconnect { reset }, "disconnect", self.opts.exchange_timeout).map(|_| ());
        self.link = None;
        r
    }

    fn unexpected(&self, op: &'static str) -> PcscError {
        PcscError::Failed { reader: self.reader.clone(), op, reason: "unexpected answer from the pc/sc worker".into() }
    }

    /// Starts a worker: establishes a context, resolves the reader, connects (with retries).
    fn open(&mut self, reset: bool) -> Result<(), PcscError> {
        self.abandon("reopened");
        let (req_tx, req_rx) = mpsc::channel::<Req>();
        let (rep_tx, rep_rx) = mpsc::channel::<Rep>();
        let wanted = self.reader.clone();
        let opts = self.opts.clone();
        let abandoned = Arc::new(AtomicBool::new(false));
        let gave_up = abandoned.clone();
        let spawned = thread::Builder::new().name("pcsc-card".into()).spawn(move || {
            LIVE_WORKERS.fetch_add(1, Ordering::SeqCst);
            let reply = rep_tx.clone();
            let r = catch_unwind(AssertUnwindSafe(|| worker_main(wanted, opts, reset, gave_up, req_rx, rep_tx)));
            if r.is_err() {
                let _ = reply.send(Rep::Err(PcscError::Failed {
                    reader: String::new(),
                    op: "pc/sc worker",
                    reason: "pc/sc call panicked".into(),
                }));
            }
            LIVE_WORKERS.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            return Err(PcscError::Failed {
                reader: self.reader.clone(),
                op: "connect",
                reason: format!("cannot start the pc/sc worker thread: {e}"),
            });
        }
        let mut link = WorkerLink { tx: req_tx, rx: rep_rx, ctx: None, abandoned };
        // the worker bounds its own retries by connect_timeout; one stuck SCardConnect is bounded here
        let deadline = Instant::now() + self.opts.connect_timeout + self.opts.exchange_timeout + self.opts.wait_for_card;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match link.rx.recv_timeout(left) {
                Ok(Rep::Ctx(c)) => link.ctx = Some(c),
                Ok(Rep::Connected { reader, atr }) => {
                    self.reader = reader;
                    self.atr = atr;
                    self.link = Some(link);
                    return Ok(());
                }
                Ok(Rep::Err(e)) => return Err(e),
                Ok(_) => return Err(self.unexpected("connect")),
                Err(RecvTimeoutError::Timeout) => {
                    link.abandoned.store(true, Ordering::SeqCst);
                    if let Some(c) = &link.ctx {
                        let _ = c.cancel();
                    }
                    self.closed_reason = "connect timed out".into();
                    let waited = self.opts.connect_timeout + self.opts.exchange_timeout + self.opts.wait_for_card;
                    return Err(PcscError::Timeout {
                        reader: self.reader.clone(),
                        op: "connect",
                        after_ms: waited.as_millis() as u64,
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PcscError::Failed {
                        reader: self.reader.clone(),
                        op: "connect",
                        reason: "pc/sc worker stopped unexpectedly".into(),
                    })
                }
            }
        }
    }

    /// Drops the link to the worker after cancelling its context; the worker ends as soon as its
    /// current call returns, leaving the card as it is then (see `WorkerLink::abandoned`).
    fn abandon(&mut self, why: &str) {
        if let Some(link) = self.link.take() {
            link.abandoned.store(true, Ordering::SeqCst);
            if let Some(c) = &link.ctx {
                let _ = c.cancel();
            }
            self.closed_reason = why.to_string();
        }
    }

    fn call(&mut self, req: Req, op: &'static str, within: Duration) -> Result<Rep, PcscError> {
        let Some(link) = self.link.as_ref() else {
            return Err(PcscError::SessionClosed { reader: self.reader.clone(), op, reason: self.closed_reason.clone() });
        };
        if link.tx.send(req).is_err() {
            self.link = None;
            self.closed_reason = "pc/sc worker stopped".into();
            return Err(PcscError::Failed { reader: self.reader.clone(), op, reason: "pc/sc worker stopped".into() });
        }
        match link.rx.recv_timeout(within) {
            Ok(Rep::Err(e)) => Err(e),
            Ok(r) => Ok(r),
            Err(RecvTimeoutError::Timeout) => {
                let after_ms = within.as_millis() as u64;
                self.abandon(&format!("{op} timed out after {after_ms} ms"));
                Err(PcscError::Timeout { reader: self.reader.clone(), op, after_ms })
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.link = None;
                self.closed_reason = "pc/sc worker stopped".into();
                Err(PcscError::Failed {
                    reader: self.reader.clone(),
                    op,
                    reason: "pc/sc worker stopped unexpectedly".into(),
                })
            }
        }
    }
}

impl Drop for PcscCard {
    /// Ends the session with a card reset (its secure messaging state must not outlive it) and
    /// waits for that, bounded by `min(exchange_timeout, 2 s)`, so the card is in a known state
    /// when the next session (or a card swap) comes.
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            if link.tx.send(Req::Disconnect { reset: true }).is_ok() {
                let _ = link.rx.recv_timeout(self.opts.exchange_timeout.min(Duration::from_secs(2)));
            }
        }
    }
}

impl From<PcscError> for TransportError {
    /// The byte-level view: timeouts and mute cards are `CardMute`, a removed / reset card is
    /// `CardRemoved`, reader faults, busy readers and an empty reader are `ReaderUnavailable`, a
    /// missing pcscd is `ServiceUnavailable`, anything else is `Protocol`. The message of the
    /// PC/SC error is kept where the variant carries text.
    fn from(e: PcscError) -> TransportError {
        let msg = e.to_string();
        match e {
            PcscError::ServiceUnavailable { .. } => TransportError::ServiceUnavailable(msg),
            // an empty reader is not a card's fault: nothing was presented
            PcscError::UnknownReader { .. }
            | PcscError::ReaderUnavailable { .. }
            | PcscError::Busy { .. }
            | PcscError::NoCard { .. } => TransportError::ReaderUnavailable(msg),
            PcscError::CardRemoved { .. } | PcscError::CardReset { .. } => TransportError::CardRemoved,
            PcscError::Timeout { after_ms, .. } => TransportError::CardMute { after_ms },
            PcscError::CardMute { .. } | PcscError::SessionClosed { .. } => TransportError::CardMute { after_ms: 0 },
            PcscError::Failed { .. } => TransportError::Protocol(msg),
        }
    }
}

impl Transport for PcscCard {
    /// One APDU through SCardTransmit, bounded by `exchange_timeout` (a card that stops
    /// answering gives `CardMute { after_ms }` and closes the session; `reset` reopens it).
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.transmit_apdu(apdu).map_err(TransportError::from)
    }

    /// Warm reset through SCardReconnect (or a fresh connect after a timeout / removal).
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.reset_card().map_err(TransportError::from)
    }

    fn describe(&self) -> String {
        format!("pc/sc reader '{}'", self.reader)
    }
}

// ------------------------------------------------------------------------------------------------
// the card worker (owns the pcsc Context and Card; runs every blocking call)

struct Worker {
    abandoned: Arc<AtomicBool>,
    ctx: Context,
    reader: String,
    reader_c: CString,
    opts: ConnectOptions,
    card: Option<Card>,
    want_tx: bool,
    out: Sender<Rep>,
}

/// Why `serve` gave the card back to the outer loop.
enum Outcome {
    Quit,
    Disconnect { reset: bool },
    Begin,
    End,
    Reset,
    /// The card was reset by someone else: reconnect and go on.
    WasReset,
    /// The card is gone.
    Gone,
    /// The transaction cannot be taken: go on without it.
    NoTransaction,
}

impl Worker {
    fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::SeqCst)
    }
}

impl Drop for Worker {
    /// A session that ends normally resets the card (its secure messaging state must not
    /// outlive the session); an abandoned one leaves it alone.
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            let d = if self.is_abandoned() { Disposition::LeaveCard } else { Disposition::ResetCard };
            let _ = card.disconnect(d);
        }
    }
}

fn worker_main(
    wanted: String,
    opts: ConnectOptions,
    reset: bool,
    abandoned: Arc<AtomicBool>,
    rx: Receiver<Req>,
    out: Sender<Rep>,
) {
    let ctx = match Context::establish(Scope::User) {
        Ok(c) => c,
        Err(e) => {
            let _ = out.send(Rep::Err(map_err(e, &wanted, "connect")));
            return;
        }
    };
    let _ = out.send(Rep::Ctx(ctx.clone()));
    let names: Vec<String> = match reader_names(&ctx) {
        Ok(n) => n.iter().map(|c| name_of(c)).collect(),
        Err(e) => {
            let _ = out.send(Rep::Err(e));
            return;
        }
    };
    let reader = match pick_reader(&wanted, &names) {
        Ok(r) => r,
        Err(e) => {
            let _ = out.send(Rep::Err(e));
            return;
        }
    };
    let Ok(reader_c) = CString::new(reader.clone()) else {
        let _ = out.send(Rep::Err(PcscError::UnknownReader { reader, available: names }));
        return;
    };
    let mut w = Worker { abandoned, ctx, reader, reader_c, want_tx: opts.transaction, opts, card: None, out };
    let wait = w.opts.wait_for_card;
    match w.connect_fresh(reset, wait) {
        Ok(atr) => {
            if w.out.send(Rep::Connected { reader: w.reader.clone(), atr }).is_err() {
                // the caller gave up waiting (connect deadline): Worker::drop leaves the card as
                // it is, it may be in use by the application whose transaction held us up
                w.abandoned.store(true, Ordering::SeqCst);
                return;
            }
        }
        Err(e) => {
            let _ = w.out.send(Rep::Err(e));
            return;
        }
    }
    w.run(&rx);
}

impl Worker {
    fn err(&self, e: PErr, op: &'static str) -> PcscError {
        map_err(e, &self.reader, op)
    }

    fn protocols(&self, first: bool) -> Protocols {
        match (self.opts.protocol, first) {
            (ProtocolPreference::T1Only, _) | (ProtocolPreference::T1ThenAny, true) => Protocols::T1,
            _ => Protocols::ANY,
        }
    }

    /// SCardConnect with retries of the transient failures; `wait` extends the window while the
    /// reader is empty. Returns the ATR.
    fn connect_fresh(&mut self, reset: bool, wait: Duration) -> Result<Vec<u8>, PcscError> {
        self.card = None;
        let start = Instant::now();
        let deadline = start + self.opts.connect_timeout.max(Duration::from_millis(1));
        let card_deadline = start + wait;
        let mut first_proto = true;
        let mut backoff = Duration::from_millis(20);
        loop {
            let proto = self.protocols(first_proto);
            let r = self.ctx.connect(&self.reader_c, ShareMode::Shared, proto);
            let e = match r {
                Ok(card) if self.is_abandoned() => {
                    // the caller is gone: this may be someone else's card by now
                    let _ = card.disconnect(Disposition::LeaveCard);
                    return Err(PcscError::SessionClosed {
                        reader: self.reader.clone(),
                        op: "connect",
                        reason: "abandoned".into(),
                    });
                }
                Ok(mut card) => {
                    if reset {
                        if let Err(e) = card.reconnect(ShareMode::Shared, proto, Disposition::ResetCard) {
                            if !transient(e) || Instant::now() >= deadline {
                                return Err(self.err(e, "connect"));
                            }
                            thread::sleep(backoff);
                            continue;
                        }
                    }
                    let atr = match card.status2_owned() {
                        Ok(s) => s.atr().to_vec(),
                        Err(e) => return Err(self.err(e, "connect")),
                    };
                    self.card = Some(card);
                    return Ok(atr);
                }
                Err(e) => e,
            };
            match e {
                PErr::ProtoMismatch if first_proto && self.opts.protocol == ProtocolPreference::T1ThenAny => {
                    first_proto = false;
                    continue;
                }
                PErr::NoSmartcard | PErr::RemovedCard => {
                    if Instant::now() >= card_deadline {
                        return Err(PcscError::NoCard { reader: self.reader.clone() });
                    }
                }
                e if transient(e) => {
                    if Instant::now() >= deadline {
                        return Err(self.err(e, "connect"));
                    }
                }
                e => return Err(self.err(e, "connect")),
            }
            thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }

    /// The outer loop: owns the card mutably, lends it to `serve` (inside a transaction when
    /// wanted) and handles whatever needs `&mut Card`.
    fn run(&mut self, rx: &Receiver<Req>) {
        let mut begin_failures = 0u32;
        loop {
            let p = self.protocols(false);
            // time given to pcscd's presence poll (400 ms in pcsc-lite) after a failed exchange
            let settle = (self.opts.exchange_timeout / 3).min(Duration::from_millis(1500));
            let outcome = match self.card.as_mut() {
                None => serve_no_card(&self.reader, rx, &self.out),
                Some(card) if self.want_tx => match card.transaction2() {
                    Ok(tx) => {
                        begin_failures = 0;
                        serve(&tx, &self.reader, settle, &self.abandoned, rx, &self.out)
                        // the transaction ends here (LeaveCard)
                    }
                    Err((card, e)) => {
                        begin_failures += 1;
                        match e {
                            PErr::ResetCard if begin_failures < 4 => {
                                if card.reconnect(ShareMode::Shared, p, Disposition::LeaveCard).is_err() {
                                    Outcome::Gone
                                } else {
                                    continue;
                                }
                            }
                            PErr::RemovedCard | PErr::NoSmartcard | PErr::InvalidHandle => Outcome::Gone,
                            _ => {
                                // cannot take the transaction: serve without it rather than fail
                                Outcome::NoTransaction
                            }
                        }
                    }
                },
                Some(card) => serve(card, &self.reader, settle, &self.abandoned, rx, &self.out),
            };
            match outcome {
                Outcome::Quit => return,
                Outcome::Disconnect { reset } => {
                    if let Some(card) = self.card.take() {
                        let d = if reset { Disposition::ResetCard } else { Disposition::LeaveCard };
                        let _ = card.disconnect(d);
                    }
                    let _ = self.out.send(Rep::Done);
                    return;
                }
                Outcome::Begin => {
                    self.want_tx = true;
                    let _ = self.out.send(if self.card.is_some() {
                        Rep::Done
                    } else {
                        Rep::Err(PcscError::CardRemoved { reader: self.reader.clone(), op: "begin transaction" })
                    });
                }
                Outcome::End => {
                    self.want_tx = false;
                    let _ = self.out.send(Rep::Done);
                }
                Outcome::Reset => {
                    let r = self.reset();
                    let _ = self.out.send(match r {
                        Ok(atr) => Rep::Data(atr),
                        Err(e) => Rep::Err(e),
                    });
                }
                Outcome::WasReset => {
                    let p = self.protocols(false);
                    if let Some(card) = self.card.as_mut() {
                        if card.reconnect(ShareMode::Shared, p, Disposition::LeaveCard).is_err() {
                            self.card = None;
                        }
                    }
                }
                Outcome::Gone => self.card = None,
                Outcome::NoTransaction => self.want_tx = false,
            }
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, PcscError> {
        let p = self.protocols(false);
        if let Some(card) = self.card.as_mut() {
            match card.reconnect(ShareMode::Shared, p, Disposition::ResetCard) {
                Ok(()) => {
                    return match card.status2_owned() {
                        Ok(s) => Ok(s.atr().to_vec()),
                        Err(e) => Err(map_err(e, &self.reader, "reset")),
                    }
                }
                Err(PErr::RemovedCard | PErr::NoSmartcard | PErr::InvalidHandle | PErr::ResetCard) => {}
                Err(e) => return Err(map_err(e, &self.reader, "reset")),
            }
        }
        let wait = self.opts.connect_timeout;
        self.connect_fresh(true, wait)
    }
}

fn transient(e: PErr) -> bool {
    matches!(
        e,
        PErr::SharingViolation
            | PErr::NotReady
            | PErr::UnpoweredCard
            | PErr::UnresponsiveCard
            | PErr::ResetCard
            | PErr::ReaderUnavailable
            | PErr::Timeout
            | PErr::ServerTooBusy
    )
}

/// Serves requests that only need `&Card`, until one needs more.
fn serve(
    card: &Card,
    reader: &str,
    settle: Duration,
    abandoned: &AtomicBool,
    rx: &Receiver<Req>,
    out: &Sender<Rep>,
) -> Outcome {
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    loop {
        if abandoned.load(Ordering::SeqCst) {
            return Outcome::Quit;
        }
        let Ok(req) = rx.recv() else { return Outcome::Quit };
        match req {
            Req::Transmit(apdu) => match card.transmit(&apdu, &mut buf) {
                Ok(resp) if resp.len() >= 2 => {
                    let _ = out.send(Rep::Data(resp.to_vec()));
                }
                Ok(resp) => {
                    // No status word: some drivers (vpcd) answer "success, 0 bytes" when the card
                    // left mid-exchange. Ask pcscd whether the card is still there.
                    let n = resp.len();
                    if card_gone(card, settle) {
                        let _ = out.send(Rep::Err(PcscError::CardRemoved { reader: reader.to_string(), op: "transmit" }));
                        return Outcome::Gone;
                    }
                    // the card gave no status word: as good as no answer
                    let _ = out.send(Rep::Err(PcscError::CardMute {
                        reader: reader.to_string(),
                        op: "transmit",
                        reason: format!("response apdu of {n} bytes has no status word"),
                    }));
                }
                // pcsc-lite reports a failed exchange with the card (IFD_COMMUNICATION_ERROR) as
                // SCARD_E_NOT_TRANSACTED or SCARD_F_COMM_ERROR: a card leaving the field mid-APDU
                // or a reader fault. pcscd tells which once its presence poll has run.
                Err(e @ (PErr::NotTransacted | PErr::CommError)) => {
                    if card_gone(card, settle) {
                        let _ = out.send(Rep::Err(PcscError::CardRemoved { reader: reader.to_string(), op: "transmit" }));
                        return Outcome::Gone;
                    }
                    // NOT_TRANSACTED is what contactless readers give for a failed RF exchange
                    // (card at the edge of the field): the card's side. COMM_ERROR is the
                    // reader's or pcscd's.
                    let _ = out.send(Rep::Err(if e == PErr::NotTransacted {
                        PcscError::CardMute {
                            reader: reader.to_string(),
                            op: "transmit",
                            reason: format!("the exchange with the card failed ({e:?}) and the card is still present"),
                        }
                    } else {
                        PcscError::ReaderUnavailable {
                            reader: reader.to_string(),
                            op: "transmit",
                            reason: format!("exchange failed and the card is still present: {e} ({e:?})"),
                        }
                    }));
                }
                Err(e) => {
                    let _ = out.send(Rep::Err(map_err(e, reader, "transmit")));
                    match e {
                        PErr::ResetCard => return Outcome::WasReset,
                        PErr::RemovedCard | PErr::NoSmartcard | PErr::InvalidHandle => return Outcome::Gone,
                        _ => {}
                    }
                }
            },
            Req::Status => match card.status2_owned() {
                Ok(s) => {
                    let _ = out.send(Rep::Data(s.atr().to_vec()));
                }
                Err(e) => {
                    let _ = out.send(Rep::Err(map_err(e, reader, "status")));
                    match e {
                        PErr::ResetCard => return Outcome::WasReset,
                        PErr::RemovedCard | PErr::NoSmartcard | PErr::InvalidHandle => return Outcome::Gone,
                        _ => {}
                    }
                }
            },
            Req::Reset => return Outcome::Reset,
            Req::BeginTransaction => return Outcome::Begin,
            Req::EndTransaction => return Outcome::End,
            Req::Disconnect { reset } => return Outcome::Disconnect { reset },
        }
    }
}

/// Polls the card's status for up to `settle`: true once pcscd reports it absent / removed.
fn card_gone(card: &Card, settle: Duration) -> bool {
    let end = Instant::now() + settle;
    loop {
        match card.status2_owned() {
            Ok(s) if !s.status().contains(pcsc::Status::PRESENT) => return true,
            Ok(_) => {}
            Err(PErr::RemovedCard | PErr::NoSmartcard | PErr::InvalidHandle) => return true,
            Err(_) => return false,
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Serves requests while the card is gone: everything but reset / disconnect is `CardRemoved`.
fn serve_no_card(reader: &str, rx: &Receiver<Req>, out: &Sender<Rep>) -> Outcome {
    loop {
        let Ok(req) = rx.recv() else { return Outcome::Quit };
        let op = match req {
            Req::Reset => return Outcome::Reset,
            Req::Disconnect { reset } => return Outcome::Disconnect { reset },
            Req::EndTransaction => return Outcome::End,
            Req::Transmit(_) => "transmit",
            Req::Status => "status",
            Req::BeginTransaction => "begin transaction",
        };
        let _ = out.send(Rep::Err(PcscError::CardRemoved { reader: reader.to_string(), op }));
    }
}

// ------------------------------------------------------------------------------------------------
// the monitor

/// What the monitor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    ReaderAdded { reader: String },
    ReaderRemoved { reader: String },
    CardInserted { reader: String, atr: Vec<u8> },
    /// A card is in the field but gave no ATR.
    CardUnresponsive { reader: String },
    CardRemoved { reader: String },
    /// pcscd is not reachable; the monitor keeps trying to reconnect.
    ServiceDown { reason: String },
    /// pcscd is reachable again (after a `ServiceDown`).
    ServiceUp,
}

/// How the monitor polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorOptions {
    /// Longest single SCardGetStatusChange wait (also the worst-case stop latency).
    pub wait: Duration,
    /// Pause between attempts to reach a missing pcscd.
    pub service_retry: Duration,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions { wait: Duration::from_millis(1000), service_retry: Duration::from_millis(250) }
    }
}

/// Reader / card monitor. On start it reports the present readers (`ReaderAdded`) and cards
/// (`CardInserted`), or `ServiceDown` when pcscd is not there; then every change.
pub struct Monitor;

/// Handle of a running monitor; `stop` (or dropping it) cancels the wait and joins the thread.
pub struct MonitorHandle {
    stop: Arc<AtomicBool>,
    ctx: Arc<Mutex<Option<Context>>>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Spawns the monitor with default options. The channel is bounded: when it is full the
    /// monitor waits (still stoppable); when the receiver is gone the monitor ends.
    pub fn spawn(events: SyncSender<ReaderEvent>) -> MonitorHandle {
        Monitor::spawn_with(events, MonitorOptions::default())
    }

    pub fn spawn_with(events: SyncSender<ReaderEvent>, opts: MonitorOptions) -> MonitorHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let ctx: Arc<Mutex<Option<Context>>> = Arc::new(Mutex::new(None));
        let (s2, c2) = (stop.clone(), ctx.clone());
        let thread = thread::Builder::new()
            .name("pcsc-monitor".into())
            .spawn(move || {
                let ev = events.clone();
                let r = catch_unwind(AssertUnwindSafe(|| monitor_main(&events, &s2, &c2, opts)));
                if r.is_err() {
                    let _ = ev.try_send(ReaderEvent::ServiceDown { reason: "reader monitor stopped: pc/sc call panicked".into() });
                }
            })
            .ok();
        MonitorHandle { stop, ctx, thread }
    }
}

impl MonitorHandle {
    /// Stops the monitor: cancels its current wait (SCardCancel) and joins its thread.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    /// True while the monitor thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn stop_inner(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(g) = self.ctx.lock() {
            if let Some(c) = g.as_ref() {
                let _ = c.cancel();
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Sends without blocking a stop: retries while the channel is full. False when the receiver is
/// gone or a stop was asked.
fn emit(events: &SyncSender<ReaderEvent>, stop: &AtomicBool, mut ev: ReaderEvent) -> bool {
    loop {
        match events.try_send(ev) {
            Ok(()) => return true,
            Err(TrySendError::Disconnected(_)) => return false,
            Err(TrySendError::Full(e)) => {
                if stop.load(Ordering::SeqCst) {
                    return false;
                }
                ev = e;
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Card state of one watched reader, as last reported.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Empty,
    Card,
    Mute,
}

fn slot_of(ev: State) -> Slot {
    if ev.contains(State::PRESENT) {
        if ev.contains(State::MUTE) {
            Slot::Mute
        } else {
            Slot::Card
        }
    } else {
        Slot::Empty
    }
}

fn monitor_main(
    events: &SyncSender<ReaderEvent>,
    stop: &AtomicBool,
    shared_ctx: &Mutex<Option<Context>>,
    opts: MonitorOptions,
) {
    let mut service_down = false;
    // readers known to the consumer, with their card state
    let mut known: Vec<(String, Slot)> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let ctx = match Context::establish(Scope::User) {
            Ok(c) => c,
            Err(e) => {
                if !service_down {
                    service_down = true;
                    if !report_down(events, stop, &mut known, &format!("{e}")) {
                        return;
                    }
                }
                sleep_unless_stopped(stop, opts.service_retry);
                continue;
            }
        };
        if let Ok(mut g) = shared_ctx.lock() {
            *g = Some(ctx.clone());
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if std::mem::take(&mut service_down) && !emit(events, stop, ReaderEvent::ServiceUp) {
            return;
        }
        match watch(&ctx, events, stop, &mut known, opts) {
            Watch::Stop => break,
            Watch::ServiceLost(reason) => {
                if let Ok(mut g) = shared_ctx.lock() {
                    *g = None;
                }
                service_down = true;
                if !report_down(events, stop, &mut known, &reason) {
                    return;
                }
                sleep_unless_stopped(stop, opts.service_retry);
            }
        }
    }
    if let Ok(mut g) = shared_ctx.lock() {
        *g = None;
    }
}

/// Reports the loss of the service: every known card and reader goes, then `ServiceDown`.
fn report_down(events: &SyncSender<ReaderEvent>, stop: &AtomicBool, known: &mut Vec<(String, Slot)>, reason: &str) -> bool {
    for (name, slot) in known.drain(..) {
        if slot != Slot::Empty && !emit(events, stop, ReaderEvent::CardRemoved { reader: name.clone() }) {
            return false;
        }
        if !emit(events, stop, ReaderEvent::ReaderRemoved { reader: name }) {
            return false;
        }
    }
    emit(events, stop, ReaderEvent::ServiceDown { reason: reason.to_string() })
}

enum Watch {
    Stop,
    ServiceLost(String),
}

fn is_service_loss(e: PErr) -> bool {
    matches!(e, PErr::NoService | PErr::ServiceStopped | PErr::Shutdown | PErr::InvalidHandle | PErr::CommError)
}

fn watch(
    ctx: &Context,
    events: &SyncSender<ReaderEvent>,
    stop: &AtomicBool,
    known: &mut Vec<(String, Slot)>,
    opts: MonitorOptions,
) -> Watch {
    let mut states: Vec<ReaderState> = vec![ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE)];
    let mut relist = true;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Watch::Stop;
        }
        if relist {
            relist = false;
            let names = match ctx.list_readers_owned() {
                Ok(v) => v,
                Err(PErr::NoReadersAvailable) => Vec::new(),
                Err(e) if is_service_loss(e) => return Watch::ServiceLost(format!("{e}")),
                Err(e) => return Watch::ServiceLost(format!("listing readers failed: {e}")),
            };
            let names_s: Vec<String> = names.iter().map(|c| name_of(c)).collect();
            // readers gone
            let mut i = 0;
            while i < known.len() {
                if names_s.contains(&known[i].0) {
                    i += 1;
                    continue;
                }
                let (name, slot) = known.remove(i);
                states.retain(|s| name_of(s.name()) != name);
                if slot != Slot::Empty && !emit(events, stop, ReaderEvent::CardRemoved { reader: name.clone() }) {
                    return Watch::Stop;
                }
                if !emit(events, stop, ReaderEvent::ReaderRemoved { reader: name }) {
                    return Watch::Stop;
                }
            }
            // readers new
            for (c, s) in names.iter().zip(names_s.iter()) {
                if known.iter().any(|(n, _)| n == s) {
                    continue;
                }
                known.push((s.clone(), Slot::Empty));
                states.push(ReaderState::new(c.clone(), State::UNAWARE));
                if !emit(events, stop, ReaderEvent::ReaderAdded { reader: s.clone() }) {
                    return Watch::Stop;
                }
            }
        }
        match ctx.get_status_change(opts.wait, &mut states) {
            Ok(()) => {}
            Err(PErr::Timeout) => continue,
            Err(PErr::Cancelled) => {
                if stop.load(Ordering::SeqCst) {
                    return Watch::Stop;
                }
                continue;
            }
            Err(PErr::UnknownReader) => {
                relist = true;
                continue;
            }
            Err(e) if is_service_loss(e) => return Watch::ServiceLost(format!("{e}")),
            Err(e) => return Watch::ServiceLost(format!("waiting for reader events failed: {e}")),
        }
        for st in states.iter_mut() {
            let ev = st.event_state();
            if !ev.contains(State::CHANGED) {
                continue;
            }
            let name = name_of(st.name());
            let atr = st.atr().to_vec();
            st.sync_current_state();
            if name.as_bytes() == pcsc::PNP_NOTIFICATION().to_bytes() {
                relist = true;
                continue;
            }
            if ev.intersects(State::UNKNOWN | State::UNAVAILABLE | State::IGNORE) {
                relist = true;
                continue;
            }
            let new = slot_of(ev);
            let Some(entry) = known.iter_mut().find(|(n, _)| *n == name) else { continue };
            let old = entry.1;
            if old == new {
                continue;
            }
            entry.1 = new;
            if old != Slot::Empty && !emit(events, stop, ReaderEvent::CardRemoved { reader: name.clone() }) {
                return Watch::Stop;
            }
            let next = match new {
                Slot::Empty => None,
                Slot::Card => Some(ReaderEvent::CardInserted { reader: name, atr }),
                Slot::Mute => Some(ReaderEvent::CardUnresponsive { reader: name }),
            };
            if let Some(e) = next {
                if !emit(events, stop, e) {
                    return Watch::Stop;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_reader_exact_then_unique_part() {
        let names = vec!["idcheck vpcd 4000 00 00".to_string(), "idcheck vpcd 4000 00 01".to_string()];
        assert_eq!(pick_reader("idcheck vpcd 4000 00 00", &names).expect("exact"), names[0]);
        assert_eq!(pick_reader("VPCD 4000 00 01", &names).expect("unique part"), names[1]);
        // "00 00" is also inside "4000 00 01": ambiguous
        assert!(matches!(pick_reader("00 00", &names), Err(PcscError::UnknownReader { .. })));
        assert!(matches!(pick_reader("vpcd", &names), Err(PcscError::UnknownReader { .. })));
        assert!(matches!(pick_reader("", &names), Err(PcscError::UnknownReader { .. })));
        assert!(matches!(pick_reader("x", &[]), Err(PcscError::UnknownReader { .. })));
    }

    proptest::proptest! {
        #[test]
        fn pick_reader_never_panics(wanted in ".{0,40}", names in proptest::collection::vec(".{0,40}", 0..5)) {
            let r = pick_reader(&wanted, &names);
            if let Ok(n) = r {
                proptest::prop_assert!(names.contains(&n));
            }
        }
    }

    #[test]
    fn error_mapping_covers_the_taxonomy() {
        assert!(matches!(map_err(PErr::NoService, "r", "connect"), PcscError::ServiceUnavailable { .. }));
        assert!(matches!(map_err(PErr::ServiceStopped, "r", "transmit"), PcscError::ServiceUnavailable { .. }));
        assert!(matches!(map_err(PErr::UnknownReader, "r", "connect"), PcscError::UnknownReader { .. }));
        assert!(matches!(map_err(PErr::RemovedCard, "r", "transmit"), PcscError::CardRemoved { .. }));
        assert!(matches!(map_err(PErr::NoSmartcard, "r", "transmit"), PcscError::CardRemoved { .. }));
        assert!(matches!(map_err(PErr::ResetCard, "r", "transmit"), PcscError::CardReset { .. }));
        assert!(matches!(map_err(PErr::CommError, "r", "transmit"), PcscError::ReaderUnavailable { .. }));
        assert!(matches!(map_err(PErr::UnresponsiveCard, "r", "connect"), PcscError::CardMute { .. }));
        assert!(matches!(map_err(PErr::SharingViolation, "r", "connect"), PcscError::Busy { .. }));
        let m = map_err(PErr::CommError, "Reader X", "transmit").to_string();
        assert!(m.contains("Reader X") && m.contains("transmit"), "{m}");
    }

    #[test]
    fn empty_apdu_is_refused_without_pcsc() {
        let mut c = PcscCard {
            reader: "r".into(),
            opts: ConnectOptions::default(),
            atr: vec![],
            link: None,
            closed_reason: "test".into(),
            stats: TransportStats::default(),
        };
        assert!(matches!(c.transmit_apdu(&[0x00]), Err(PcscError::Failed { .. })));
        assert!(matches!(c.transmit_apdu(&[0, 0xA4, 4, 0]), Err(PcscError::SessionClosed { .. })));
    }
}
