//! PC/SC transport through a real pcscd + vpcd + the card emulator (run under
//! scripts/pcsc-env.sh --readers 2): listing readers, an empty reader, plain exchanges, a mute
//! card bounded by the exchange deadline, a card leaving the field, a reset by another
//! application, the transaction, the reader monitor, and two readers at once.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod pcsc_common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use idcheck_chip::transport::{Transport, TransportError};
use idcheck_testkit::emulator::Faults;
use idcheck_pcsc::{
    list_readers, live_workers, ConnectOptions, Monitor, MonitorOptions, PcscCard, PcscError, ReaderEvent,
};
use pcsc_common::*;

/// SELECT the ICAO LDS1 application (plain, as every read starts).
const SELECT_ICAO: [u8; 13] = [0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01, 0x00];
/// A plain READ BINARY of EF.COM by short file identifier: refused (6982) before BAC.
const READ_COM_PLAIN: [u8; 5] = [0x00, 0xB0, 0x9E, 0x00, 0x04];

fn sw(resp: &[u8]) -> u16 {
    assert!(resp.len() >= 2, "response {resp:02X?} has no status word");
    u16::from_be_bytes([resp[resp.len() - 2], resp[resp.len() - 1]])
}

#[test]
fn lists_every_vpcd_reader() {
    let Some(env) = env("lists_every_vpcd_reader") else { return };
    let list = list_readers().expect("list readers");
    for r in &env.readers {
        assert!(list.iter().any(|i| i.name == r.name), "reader '{}' not listed: {list:?}", r.name);
    }
}

#[test]
fn reader_listed_without_card_is_no_card() {
    let Some(env) = env("reader_listed_without_card_is_no_card") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    assert!(wait_card(r, false, Duration::from_secs(5)), "reader '{}' still shows a card", r.name);
    let info = list_readers().expect("list").into_iter().find(|i| i.name == r.name).expect("listed");
    assert!(!info.card_present && info.atr.is_none(), "{info:?}");
    let t = Instant::now();
    let e = PcscCard::connect(&r.name, ConnectOptions { wait_for_card: Duration::ZERO, ..opts() }).unwrap_err();
    assert!(matches!(e, PcscError::NoCard { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "no-card took {:?}", t.elapsed());
    // nothing presented is not the card's fault
    assert!(matches!(TransportError::from(e), TransportError::ReaderUnavailable(m) if m.contains("no card")));
    // waiting for a card that never comes is bounded too
    let t = Instant::now();
    let e = PcscCard::connect(&r.name, ConnectOptions { wait_for_card: Duration::from_millis(600), ..opts() }).unwrap_err();
    assert!(matches!(e, PcscError::NoCard { .. }), "{e}");
    assert!(t.elapsed() >= Duration::from_millis(500) && t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn unknown_reader_is_reader_unavailable() {
    let Some(_env) = env("unknown_reader_is_reader_unavailable") else { return };
    let e = PcscCard::connect("no such reader 4711", opts()).unwrap_err();
    assert!(matches!(&e, PcscError::UnknownReader { available, .. } if !available.is_empty()), "{e}");
    assert!(matches!(TransportError::from(e), TransportError::ReaderUnavailable(_)));
}

#[test]
fn plain_exchanges_through_pcscd() {
    let Some(env) = env("plain_exchanges_through_pcscd") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let _emu = Emulator::start(r, pass_case_image(), Faults::default());
    let mut card = connect(r);
    assert_eq!(card.reader(), r.name);
    assert!(!card.atr().is_empty());
    let listed = list_readers().expect("list").into_iter().find(|i| i.name == r.name).expect("listed");
    assert_eq!(listed.atr.as_deref(), Some(card.atr()), "listed ATR differs from the connect ATR");
    let resp = card.transmit(&SELECT_ICAO).expect("select");
    assert_eq!(sw(&resp), 0x9000, "select answered {resp:02X?}");
    let resp = card.transmit(&READ_COM_PLAIN).expect("plain read");
    assert_eq!(sw(&resp), 0x6982, "a plain read after SELECT must be refused, got {resp:02X?}");
    let s = card.stats();
    assert_eq!(s.exchanges, 2);
    assert_eq!(s.bytes_sent, (SELECT_ICAO.len() + READ_COM_PLAIN.len()) as u64);
    assert!(card.describe().contains(&r.name));
    // a too-short APDU never reaches pcscd
    assert!(matches!(card.transmit(&[0x00, 0xA4]), Err(TransportError::Protocol(_))));
    // a warm reset gives the ATR back and a fresh card state
    let atr = card.reset().expect("reset");
    assert_eq!(atr, card.atr());
    assert_eq!(sw(&card.transmit(&SELECT_ICAO).expect("select after reset")), 0x9000);
    card.disconnect(true).expect("disconnect");
}

#[test]
fn mute_card_times_out_instead_of_hanging() {
    let Some(env) = env("mute_card_times_out_instead_of_hanging") else { return };
    let lease = lease(env, 1);
    let r = lease.readers[0].clone();
    let emu = Emulator::start(&r, pass_case_image(), Faults { mute: true, ..Faults::default() });
    let r2 = r.clone();
    let (card, took, err, again) = within("mute card exchange", Duration::from_secs(20), move || {
        let mut card = PcscCard::connect(
            &r2.name,
            ConnectOptions { exchange_timeout: Duration::from_millis(1500), ..opts() },
        )
        .expect("connect to the mute card (its ATR is given)");
        let t = Instant::now();
        let err = card.transmit(&SELECT_ICAO).unwrap_err();
        let took = t.elapsed();
        let again = card.transmit(&SELECT_ICAO).unwrap_err();
        (card, took, err, again)
    });
    assert!(matches!(err, TransportError::CardMute { after_ms: 1500 }), "{err:?}");
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_millis(3000), "timeout took {took:?}");
    assert!(!card.is_open(), "the session must be closed after a timeout");
    assert!(matches!(again, TransportError::CardMute { after_ms: 0 }), "{again:?}");
    // the card leaves: the abandoned worker's stuck SCardTransmit returns and the worker ends
    let before = live_workers();
    emu.stop();
    let end = Instant::now() + Duration::from_secs(10);
    while live_workers() >= before && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(live_workers() < before, "the abandoned worker did not end after the card left ({} live)", live_workers());
    // a good card in the same reader: reset reopens the session
    let _emu = Emulator::start(&r, pass_case_image(), Faults::default());
    assert!(wait_card(&r, true, Duration::from_secs(5)));
    let mut card = card;
    card.reset().expect("reset reopens the session");
    assert!(card.is_open());
    assert_eq!(sw(&card.transmit(&SELECT_ICAO).expect("select")), 0x9000);
}

#[test]
fn card_leaving_the_field_is_card_removed_then_reset_reconnects() {
    let Some(env) = env("card_leaving_the_field_is_card_removed_then_reset_reconnects") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    // leaves after the SELECT answer (2 bytes); back 300 ms later as a fresh card
    let faults = Faults { leave_after_bytes: Some(3), reinsert_after_ms: Some(300), ..Faults::default() };
    let _emu = Emulator::start(r, pass_case_image(), faults);
    let mut card = connect(r);
    assert_eq!(sw(&card.transmit(&SELECT_ICAO).expect("select")), 0x9000);
    let t = Instant::now();
    let e = card.transmit(&SELECT_ICAO).unwrap_err();
    assert_eq!(e, TransportError::CardRemoved, "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "removal took {:?}", t.elapsed());
    assert_eq!(card.transmit(&SELECT_ICAO).unwrap_err(), TransportError::CardRemoved);
    let atr = card.reset().expect("reset after the card came back");
    assert!(!atr.is_empty());
    assert_eq!(sw(&card.transmit(&SELECT_ICAO).expect("select on the card that came back")), 0x9000);
}

#[test]
fn reset_by_another_application_is_reported_then_reconnected() {
    let Some(env) = env("reset_by_another_application_is_reported_then_reconnected") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let _emu = Emulator::start(r, pass_case_image(), Faults::default());
    let shared = ConnectOptions { transaction: false, ..opts() };
    let mut a = PcscCard::connect(&r.name, shared.clone()).expect("connect a");
    let mut b = PcscCard::connect(&r.name, shared).expect("connect b");
    assert_eq!(sw(&a.transmit(&SELECT_ICAO).expect("a select")), 0x9000);
    b.reset().expect("b resets the card");
    let e = a.transmit_apdu(&SELECT_ICAO).unwrap_err();
    assert!(matches!(e, PcscError::CardReset { .. }), "{e}");
    assert!(TransportError::from(e).is_transient());
    // a reconnected by itself: its next exchange works
    assert_eq!(sw(&a.transmit(&SELECT_ICAO).expect("a select after the reset")), 0x9000);
}

#[test]
fn transaction_keeps_other_applications_out() {
    let Some(env) = env("transaction_keeps_other_applications_out") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let _emu = Emulator::start(r, pass_case_image(), Faults::default());
    let mut a = connect(r); // holds the transaction
    assert_eq!(sw(&a.transmit(&SELECT_ICAO).expect("a select")), 0x9000);
    // pcscd holds SCardConnect back while another handle has the transaction: bounded here
    let t = Instant::now();
    let quick = ConnectOptions {
        connect_timeout: Duration::from_millis(600),
        exchange_timeout: Duration::from_millis(400),
        wait_for_card: Duration::ZERO,
        ..opts()
    };
    let e = PcscCard::connect(&r.name, quick).unwrap_err();
    assert!(matches!(e, PcscError::Timeout { .. } | PcscError::Busy { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_millis(2500), "busy connect took {:?}", t.elapsed());
    // a goes on undisturbed
    assert_eq!(sw(&a.transmit(&READ_COM_PLAIN).expect("a read")), 0x6982);
    a.end_transaction().expect("a ends its transaction");
    let mut b = connect(r);
    assert_eq!(sw(&b.transmit(&SELECT_ICAO).expect("b select once a let go")), 0x9000);
    b.disconnect(false).expect("b leaves the card as it is");
    // the abandoned connect of b left the card alone (no reset): a's next exchange just works
    assert_eq!(sw(&a.transmit(&READ_COM_PLAIN).expect("a read after b")), 0x6982);
}

#[test]
fn monitor_reports_readers_and_cards_and_stops() {
    let Some(env) = env("monitor_reports_readers_and_cards_and_stops") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    assert!(wait_card(r, false, Duration::from_secs(5)));
    let (tx, rx) = mpsc::sync_channel(64);
    let mon = Monitor::spawn_with(tx, MonitorOptions { wait: Duration::from_millis(500), ..MonitorOptions::default() });
    let next = |want: &dyn Fn(&ReaderEvent) -> bool, what: &str| {
        let end = Instant::now() + Duration::from_secs(8);
        let mut seen = Vec::new();
        while Instant::now() < end {
            if let Ok(e) = rx.recv_timeout(Duration::from_millis(100)) {
                if want(&e) {
                    return e;
                }
                seen.push(e);
            }
        }
        panic!("monitor: no {what} within 8 s; saw {seen:?}");
    };
    next(&|e| matches!(e, ReaderEvent::ReaderAdded { reader } if *reader == r.name), "ReaderAdded");
    let emu = Emulator::start(r, pass_case_image(), Faults::default());
    let ins = next(&|e| matches!(e, ReaderEvent::CardInserted { reader, .. } if *reader == r.name), "CardInserted");
    let ReaderEvent::CardInserted { atr, .. } = ins else { unreachable!() };
    assert!(!atr.is_empty());
    emu.stop();
    next(&|e| matches!(e, ReaderEvent::CardRemoved { reader } if *reader == r.name), "CardRemoved");
    let t = Instant::now();
    mon.stop();
    assert!(t.elapsed() < Duration::from_secs(2), "stopping the monitor took {:?}", t.elapsed());
}

#[test]
fn two_readers_at_once() {
    let Some(env) = env("two_readers_at_once") else { return };
    let lease = lease(env, 2);
    let mut emus = Vec::new();
    let mut threads = Vec::new();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    for r in lease.readers.clone() {
        // each answer takes 25 ms: long enough for exchanges on two readers to overlap
        emus.push(Emulator::start(&r, pass_case_image(), Faults { slow_ms: Some(25), ..Faults::default() }));
        let barrier = barrier.clone();
        threads.push(std::thread::spawn(move || {
            let mut card = connect(&r);
            barrier.wait(); // both connected: exchange at the same time
            let mut spans = Vec::new();
            for i in 0..20 {
                let t = Instant::now();
                let resp = card.transmit(&SELECT_ICAO).unwrap_or_else(|e| panic!("{} exchange {i}: {e}", r.name));
                spans.push((t, Instant::now()));
                assert_eq!(sw(&resp), 0x9000);
            }
            (r.name.clone(), spans)
        }));
    }
    let done: Vec<(String, Vec<(Instant, Instant)>)> =
        threads.into_iter().map(|t| t.join().expect("reader thread")).collect();
    let (a, b) = (&done[0].1, &done[1].1);
    // A transport that serialised the readers would never have two exchanges in flight at once;
    // with independent readers, exchanges of the two overlap. No timing threshold.
    let overlapping = a.iter().filter(|x| b.iter().any(|y| x.0 < y.1 && y.0 < x.1)).count();
    assert!(overlapping > 0, "no exchange of '{}' overlapped one of '{}': the readers were serialised", done[0].0, done[1].0);
    // Overlap seen from here could also be queueing in front of a serialising transport. The
    // cards' answers are 25 ms sleeps: served one after the other, the 2 x 20 exchanges cannot
    // take less than 1 s; in parallel they take about half. 0.9 s leaves room for load.
    let first = a[0].0.min(b[0].0);
    let last = a[a.len() - 1].1.max(b[b.len() - 1].1);
    let serial_floor = Duration::from_millis(25) * (a.len() + b.len()) as u32;
    let wall = last - first;
    eprintln!("two readers: {overlapping} of {} exchanges overlapped, wall {wall:?} (serialised floor {serial_floor:?})", a.len());
    assert!(wall < serial_floor.mul_f64(0.9), "the readers were serialised: wall {wall:?}, serialised floor {serial_floor:?}");
}
