//! Fuzzes the APDU layer of `idcheck_chip` and the emulator: command parsing (host type and
//! the card's `capdu::parse`, which must agree), response splitting, the odd-INS DO'53'
//! unwrap, secure messaging unprotect on the host side (hostile chip responses: the main threat)
//! and on the card side, and the BAC answers. Raw modes feed the bytes as they are (the MAC
//! check rejects nearly all of them); "MAC-fixed" modes take the fuzz bytes as the data objects
//! and append the right DO'8E' for the fixed test keys, so the parsing after the MAC check
//! (status, cryptogram, padding) is reached; round-trip modes protect a fuzzed command or
//! response on one side and require the other side to recover it exactly.
#![no_main]

use idcheck_chip::apdu::unwrap_odd_read;
use idcheck_chip::bac::{self, BacKey};
use idcheck_chip::sm::{encrypt_3des, retail_mac, SecureChannel, SmKeys};
use idcheck_chip::{Command, Response, StatusWord};
use idcheck_testkit::emulator::capdu;
use idcheck_core::tlv;
use libfuzzer_sys::fuzz_target;

const SEED: [u8; 16] = *b"idcheck-fuzz-key";
const SSC: [u8; 8] = [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];

fn keys() -> SmKeys {
    SmKeys::derive(&SEED)
}

fn channel() -> SecureChannel {
    SecureChannel::new(keys(), SSC)
}

/// The SSC the next protected APDU uses.
fn next_ssc() -> [u8; 8] {
    (u64::from_be_bytes(SSC) + 1).to_be_bytes()
}

fn mac_do(parts: &[&[u8]]) -> Vec<u8> {
    let mut m = next_ssc().to_vec();
    for p in parts {
        m.extend_from_slice(p);
    }
    tlv::encode(0x8E, &retail_mac(&keys().k_mac, &m))
}

fn pad(data: &[u8]) -> Vec<u8> {
    idcheck_chip::sm::pad(data)
}

fn sw_of(b: &[u8]) -> u16 {
    u16::from_be_bytes([b.first().copied().unwrap_or(0x90), b.get(1).copied().unwrap_or(0)])
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    match sel % 10 {
        0 => {
            let host = Command::parse(bytes);
            let card = capdu::parse(bytes);
            if let Ok(c) = &host {
                let _ = format!("{c:?}");
                let enc = c.encode().expect("a parsed command encodes");
                assert_eq!(Command::parse(&enc).as_ref(), Ok(c), "command does not round-trip");
            }
            if let (Ok(h), Ok(c)) = (&host, &card) {
                assert_eq!((h.cla, h.ins, h.p1, h.p2, &h.data, h.le), (c.cla, c.ins, c.p1, c.p2, &c.data, c.ne), "host and card parse differently");
            }
        }
        1 => {
            if let Ok(r) = Response::from_bytes(bytes) {
                let _ = r.sw.meaning();
                assert_eq!(StatusWord::from_u16(r.sw.to_u16()), r.sw);
                assert_eq!(r.to_bytes(), bytes);
                let _ = unwrap_odd_read(&r.data);
            }
            let _ = unwrap_odd_read(bytes);
        }
        2 => {
            let _ = channel().unprotect_response(bytes);
        }
        3 => {
            // Host side, MAC fixed: bytes = status word (2) then data objects before DO'8E'.
            let (sw, body) = bytes.split_at(bytes.len().min(2));
            let mut apdu = body.to_vec();
            apdu.extend_from_slice(&mac_do(&[body]));
            apdu.extend_from_slice(&sw_of(sw).to_be_bytes());
            let _ = format!("{:?}", channel().unprotect_response(&apdu));
        }
        4 => {
            // Host side, the fuzz bytes are the plain text of DO'87' (zero-filled to whole
            // blocks, so the padding check sees arbitrary text), with a DO'99' and the MAC.
            let (sw, plain) = bytes.split_at(bytes.len().min(2));
            let mut blocks = plain.to_vec();
            blocks.resize(plain.len().div_ceil(8).max(1) * 8, 0);
            let mut do87 = vec![0x01];
            do87.extend_from_slice(&encrypt_3des(&keys().k_enc, &blocks));
            let mut body = tlv::encode(0x87, &do87);
            body.extend_from_slice(&tlv::encode(0x99, &sw_of(sw).to_be_bytes()));
            let mut apdu = body.clone();
            apdu.extend_from_slice(&mac_do(&[&body]));
            apdu.extend_from_slice(&[0x90, 0x00]);
            if let Ok(r) = channel().unprotect_response(&apdu) {
                assert!(r.data.len() <= blocks.len());
            }
        }
        5 => {
            let _ = channel().unprotect_command(bytes);
        }
        6 => {
            // Card side, MAC fixed: bytes = header (4), Le flag, then data objects before DO'8E'.
            if bytes.len() < 5 {
                return;
            }
            let (head, rest) = bytes.split_at(5);
            let header = [head[0] | 0x0C, head[1], head[2], head[3]];
            let mut body = rest.to_vec();
            body.truncate(1000);
            let mac = mac_do(&[&pad(&header), &body]);
            body.extend_from_slice(&mac);
            let mut cmd = Command::new(header[0], header[1], header[2], header[3]).with_data(body);
            if head[4] & 1 == 1 {
                cmd = cmd.with_le(if head[4] & 2 == 2 { 65536 } else { 256 });
            }
            if let Ok(enc) = cmd.encode() {
                let _ = format!("{:?}", channel().unprotect_command(&enc));
            }
        }
        7 => {
            // Round trip: host protects a command, card unprotects it; card protects an answer,
            // host unprotects it. Both must come back exactly.
            if bytes.len() < 9 {
                return;
            }
            let (head, rest) = bytes.split_at(9);
            let (cmd_data, resp_data) = rest.split_at(rest.len() / 2);
            let mut cmd = Command::new(head[0], head[1], head[2], head[3]).with_data(cmd_data.to_vec());
            if head[4] & 1 == 1 {
                cmd = cmd.with_le(usize::from(u16::from_be_bytes([head[5], head[6]])) + 1);
            }
            let (mut host, mut card) = (channel(), channel());
            let protected = host.protect_command(&cmd);
            let Ok(enc) = protected.encode() else { return };
            let got = card.unprotect_command(&enc).expect("card unprotects what the host protected");
            let mut want = cmd.clone();
            want.cla &= !0x0C;
            assert_eq!(got, want, "protected command does not round-trip");
            let resp = Response::new(resp_data.to_vec(), StatusWord::from_u16(u16::from_be_bytes([head[7], head[8]])));
            let answer = card.protect_response(&resp);
            let back = host.unprotect_response(&answer).expect("host unprotects what the card protected");
            assert_eq!(back, resp, "protected response does not round-trip");
            assert_eq!(host.ssc(), card.ssc());
        }
        8 => {
            if let Ok(c) = capdu::parse(bytes) {
                assert!(c.data.len() <= bytes.len());
                if let Some(ne) = c.ne {
                    assert!((1..=65536).contains(&ne));
                }
            }
        }
        _ => {
            // BAC: the chip's answer to MUTUAL AUTHENTICATE on the host side (raw, then with the
            // MAC fixed), and the IFD's command on the card side.
            let key = BacKey::from_mrz_information("L898902C<369080619406236").expect("ICAO example MRZ");
            let k = key.keys();
            let rnd_ic = [1u8; 8];
            let rnd_ifd = [2u8; 8];
            let k_ifd = [3u8; 16];
            let _ = bac::host_finish(k, &rnd_ic, &rnd_ifd, &k_ifd, bytes);
            let mut e = bytes.to_vec();
            e.resize(32, 0);
            let mac = retail_mac(&k.k_mac, &e);
            let mut answer = e.clone();
            answer.extend_from_slice(&mac);
            let _ = bac::host_finish(k, &rnd_ic, &rnd_ifd, &k_ifd, &answer);
            let _ = bac::card_respond(&key, &rnd_ic, &[4u8; 16], bytes);
            let _ = bac::card_respond(&key, &rnd_ic, &[4u8; 16], &answer);
        }
    }
});
