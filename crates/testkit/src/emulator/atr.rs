//! The answer-to-reset a PC/SC reader synthesises for an ISO/IEC 14443-4 contactless card
//! (PC/SC Part 3, 3.1.3.2.3): `3B 8n 80 01` + n historical bytes + TCK. For type B the
//! historical bytes are the ATQB application data (4), the protocol info (3) and the MBLI byte;
//! for type A they are the historical bytes of the ATS, here a card-capabilities object that
//! advertises extended Lc/Le when the card supports it.

/// A contactless ATR as a PC/SC reader reports a type B ICAO chip: application data
/// `00 00 00 00`, protocol info `00 81 81` (106 kbit/s, frames of 256 bytes, ISO 14443-4,
/// FWI 8, CID supported), MBLI 0.
pub fn type_b() -> Vec<u8> {
    contactless(&[0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0x81, 0x00])
}

/// A contactless ATR as a PC/SC reader reports a type A chip whose ATS historical bytes hold
/// the ISO 7816-4 card capabilities (category 80, compact-TLV 73): selection by full DF name,
/// and in the third byte command chaining plus, when `extended_length`, extended Lc/Le and
/// extended length information in EF.ATR/INFO.
pub fn type_a(extended_length: bool) -> Vec<u8> {
    let third = if extended_length { 0xE0 } else { 0x80 };
    contactless(&[0x80, 0x73, 0x80, 0x01, third])
}

/// `3B 8n 80 01 <historical> TCK`. At most 15 historical bytes are used.
pub fn contactless(historical: &[u8]) -> Vec<u8> {
    let hist = historical.get(..historical.len().min(15)).unwrap_or(&[]);
    // Length fits in the low nibble: at most 15.
    let k = hist.len() as u8;
    let mut atr = vec![0x3B, 0x80 | k, 0x80, 0x01];
    atr.extend_from_slice(hist);
    let tck = tck(&atr);
    atr.push(tck);
    atr
}

/// The check byte: XOR of every byte from T0 to the last historical byte.
fn tck(atr_without_tck: &[u8]) -> u8 {
    atr_without_tck.iter().skip(1).fold(0, |x, b| x ^ b)
}

/// True when `atr` is a well-formed contactless ATR of the shape above with a correct TCK
/// (the XOR from T0 through TCK is zero).
pub fn is_valid_contactless(atr: &[u8]) -> bool {
    match atr {
        [0x3B, t0, 0x80, 0x01, rest @ ..] => {
            let k = usize::from(t0 & 0x0F);
            t0 & 0xF0 == 0x80 && rest.len() == k + 1 && atr.iter().skip(1).fold(0u8, |x, b| x ^ b) == 0
        }
        _ => false,
    }
}

/// Parse an ATR given as hex on the command line (spaces and colons allowed).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    let bytes = hex::decode(&clean).map_err(|e| format!("atr `{s}`: not hex ({e})"))?;
    if bytes.len() < 2 || bytes.len() > 33 {
        return Err(format!("atr `{s}`: {} bytes, an ATR has 2 to 33", bytes.len()));
    }
    Ok(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn type_b_atr_has_the_pcsc_part3_shape_and_a_correct_tck() {
        let atr = type_b();
        assert_eq!(&atr[..4], &[0x3B, 0x88, 0x80, 0x01]);
        assert_eq!(atr.len(), 4 + 8 + 1);
        // TCK by hand: 88 ^ 80 ^ 01 ^ 00 ^ 00 ^ 00 ^ 00 ^ 00 ^ 81 ^ 81 ^ 00 = 09
        assert_eq!(atr.last(), Some(&0x09));
        assert!(is_valid_contactless(&atr));
    }

    #[test]
    fn type_a_atr_advertises_extended_length_only_when_asked() {
        let plain = type_a(false);
        let ext = type_a(true);
        assert!(is_valid_contactless(&plain) && is_valid_contactless(&ext));
        assert_eq!(plain[1], 0x85);
        assert_eq!(ext[8] & 0x40, 0x40);
        assert_eq!(plain[8] & 0x40, 0);
    }

    #[test]
    fn a_broken_tck_is_detected() {
        let mut atr = type_b();
        if let Some(last) = atr.last_mut() {
            *last ^= 1;
        }
        assert!(!is_valid_contactless(&atr));
        assert!(!is_valid_contactless(&[0x3B]));
    }

    #[test]
    fn hex_atr() {
        assert_eq!(parse_hex("3B 80 80 01 01"), Ok(vec![0x3B, 0x80, 0x80, 0x01, 0x01]));
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("3B").is_err());
    }
}
