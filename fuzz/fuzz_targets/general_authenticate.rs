//! Fuzzes PACE-GM (`idcheck_chip::pace`). Host mode drives `HostPace` through its four GENERAL
//! AUTHENTICATE steps against an honest in-process `CardPace`: for each step an action byte
//! from the input says whether the host gets the card's honest answer, the honest answer with
//! fuzzed edits (a byte changed, the data cut, bytes appended) or raw fuzzed bytes. Card mode
//! feeds `CardPace` a fuzzed MSE:Set AT and fuzzed GENERAL AUTHENTICATE data fields (the honest
//! MSE first when the fuzzed one is refused, so the steps are reached). Oracles: no panic; an
//! all-honest run ends with the same session keys on both sides; the host never accepts a
//! changed mapping, key or token answer.
#![no_main]

use idcheck_chip::access::{Randomness, RandomnessError};
use idcheck_chip::group::StandardDomain;
use idcheck_chip::pace::{mse_set_at_data, CardPace, HostPace, KeyAgreement, PaceAlgorithm, PacePassword, PaceSetup, PaceStep};
use idcheck_chip::sm::SmCipher;
use libfuzzer_sys::fuzz_target;

#[path = "common/cursor.rs"]
mod cursor;
use cursor::Cursor;

/// A deterministic generator (xorshift64*) so every input replays exactly.
struct Xorshift(u64);

impl Randomness for Xorshift {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        for b in dest.iter_mut() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
        Ok(())
    }
}

/// brainpoolP256r1, NIST P-256, the 1024-bit MODP group, brainpoolP384r1.
const DOMAINS: [u32; 4] = [13, 12, 0, 15];
const CIPHERS: [SmCipher; 4] = [SmCipher::Tdes, SmCipher::Aes128, SmCipher::Aes192, SmCipher::Aes256];

fn setup(sel: u8) -> PaceSetup {
    let id = DOMAINS[usize::from(sel & 3)];
    let cipher = CIPHERS[usize::from((sel >> 2) & 3)];
    let domain = StandardDomain::from_parameter_id(id).expect("a standardized domain");
    let agreement = if domain.is_ec() { KeyAgreement::Ecdh } else { KeyAgreement::Dh };
    PaceSetup { oid: PaceAlgorithm::generic(agreement, cipher).oid(), cipher, domain, password: PacePassword::Can("123456".to_string()) }
}

/// The answer the host gets at one step: (bytes, whether they are the honest answer). An edit
/// that changes nothing (bytes appended when the input has none left) is honest.
fn answer(input: &mut Cursor<'_>, honest: &[u8]) -> (Vec<u8>, bool) {
    let a = edit(input, honest);
    let same = a == honest;
    (a, same)
}

fn edit(input: &mut Cursor<'_>, honest: &[u8]) -> Vec<u8> {
    match input.byte().unwrap_or(0) % 5 {
        1 => {
            let mut a = honest.to_vec();
            let pos = usize::from(input.byte().unwrap_or(0)) % a.len().max(1);
            let x = input.byte().unwrap_or(1).max(1);
            if let Some(b) = a.get_mut(pos) {
                *b ^= x;
            }
            a
        }
        2 => {
            let mut a = honest.to_vec();
            a.truncate(usize::from(input.byte().unwrap_or(0)) % a.len().max(1));
            a
        }
        3 => {
            let mut a = honest.to_vec();
            let n = usize::from(input.byte().unwrap_or(1));
            a.extend(input.take(n.max(1)));
            a
        }
        4 => {
            let n = usize::from(input.byte().unwrap_or(0));
            input.take(n)
        }
        _ => honest.to_vec(),
    }
}

fn host_mode(sel: u8, input: &mut Cursor<'_>) {
    let s = setup(sel);
    let mut card = CardPace::new(vec![(s.oid.clone(), s.cipher, s.domain)], vec![s.password.clone()]);
    card.mse_set_at(&mse_set_at_data(&s, true)).expect("the honest mse:set at");
    let mut host = HostPace::new(s);
    let mut host_rng = Xorshift(0x1234_5678_9ABC_DEF1);
    let mut card_rng = Xorshift(0x0FED_CBA9_8765_4321);
    let mut command = HostPace::first_command_data();
    let mut all_honest = true;
    for step in [PaceStep::Nonce, PaceStep::Mapping, PaceStep::KeyAgreement, PaceStep::Token] {
        let Ok((honest, card_keys)) = card.general_authenticate(&command, &mut card_rng) else {
            // The card refuses what the host derived from a changed nonce: the run is over.
            assert!(!all_honest, "the card refused an honest host at {step}");
            return;
        };
        let (a, is_honest) = answer(input, &honest);
        all_honest &= is_honest;
        let next = match step {
            PaceStep::Nonce => host.on_nonce(&a, &mut host_rng),
            PaceStep::Mapping => host.on_mapping(&a, &mut host_rng),
            PaceStep::KeyAgreement => host.on_key(&a),
            _ => {
                let r = host.finish(&a);
                if all_honest {
                    let r = r.expect("an honest run succeeds");
                    assert!(card_keys.is_some_and(|k| k == r.keys), "both sides hold the same keys");
                } else if !is_honest {
                    assert!(r.is_err(), "a changed token was accepted");
                }
                return;
            }
        };
        match next {
            Ok(c) => {
                // A changed mapping or key answer must not pass (a changed nonce can: it only
                // changes s, which the card then refuses later).
                assert!(is_honest || step == PaceStep::Nonce, "a changed answer at {step} was accepted");
                command = c;
            }
            Err(e) => {
                let _ = e.to_string();
                assert!(!all_honest, "an honest answer at {step} was refused: {e}");
                return;
            }
        }
    }
}

fn card_mode(sel: u8, input: &mut Cursor<'_>) {
    let s = setup(sel);
    let mut card = CardPace::new(vec![(s.oid.clone(), s.cipher, s.domain)], vec![s.password.clone()]);
    let mut rng = Xorshift(0x5555_AAAA_1234_4321);
    let n = usize::from(input.byte().unwrap_or(0));
    let mse = input.take(n % 48);
    if let Err(e) = card.mse_set_at(&mse) {
        let _ = (e.to_string(), e.status_word());
        card.mse_set_at(&mse_set_at_data(&s, sel & 0x40 != 0)).expect("the honest mse:set at");
    }
    while let Some(len) = input.byte() {
        let data = input.take(usize::from(len));
        match card.general_authenticate(&data, &mut rng) {
            Ok((out, _)) => assert!(out.first() == Some(&0x7C), "answers are dynamic authentication data"),
            Err(e) => {
                let _ = (e.to_string(), e.status_word());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let mut input = Cursor::new(rest);
    if sel & 0x80 == 0 {
        host_mode(sel, &mut input);
    } else {
        card_mode(sel, &mut input);
    }
});
