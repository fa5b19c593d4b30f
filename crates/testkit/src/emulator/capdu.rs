//! The card's view of a command APDU: splits the raw bytes a reader sends into header, data and
//! Ne exactly as ISO/IEC 7816-4 (5.1) defines the four cases in short and extended form, and
//! says which form was used (a chip without extended length refuses the extended form). Never
//! panics; a malformed APDU is an error the card answers with 6700.

/// A command APDU as received by the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCommand {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Ne: the maximum number of response data bytes expected (`00` short = 256,
    /// `0000` extended = 65536); `None` when the Le field is absent.
    pub ne: Option<usize>,
    /// True when the extended length form was used.
    pub extended: bool,
}

/// Why the bytes are not a command APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapduError {
    #[error("command APDU of {0} bytes is shorter than the 4-byte header")]
    TooShort(usize),
    #[error("command APDU of {len} bytes does not match its length fields (Lc {lc}{})", if *.extended { ", extended" } else { "" })]
    LengthMismatch { len: usize, lc: usize, extended: bool },
}

/// Parse a command APDU (ISO/IEC 7816-4 cases 1, 2S, 3S, 4S, 2E, 3E, 4E).
pub fn parse(apdu: &[u8]) -> Result<RawCommand, CapduError> {
    let (header, body) = match apdu {
        [cla, ins, p1, p2, body @ ..] => ([*cla, *ins, *p1, *p2], body),
        _ => return Err(CapduError::TooShort(apdu.len())),
    };
    let [cla, ins, p1, p2] = header;
    let mk = |data: &[u8], ne: Option<usize>, extended: bool| RawCommand { cla, ins, p1, p2, data: data.to_vec(), ne, extended };
    let short_ne = |b: u8| if b == 0 { 256 } else { usize::from(b) };
    let ext_ne = |hi: u8, lo: u8| {
        let n = usize::from(u16::from_be_bytes([hi, lo]));
        if n == 0 {
            65536
        } else {
            n
        }
    };
    match body {
        // case 1
        [] => Ok(mk(&[], None, false)),
        // case 2S
        [le] => Ok(mk(&[], Some(short_ne(*le)), false)),
        // extended forms start with a 00 byte
        [0, rest @ ..] => match rest {
            // case 2E
            [hi, lo] => Ok(mk(&[], Some(ext_ne(*hi, *lo)), true)),
            [lc_hi, lc_lo, tail @ ..] => {
                let lc = usize::from(u16::from_be_bytes([*lc_hi, *lc_lo]));
                let mismatch = CapduError::LengthMismatch { len: apdu.len(), lc, extended: true };
                if lc == 0 {
                    return Err(mismatch);
                }
                match tail.len().checked_sub(lc) {
                    Some(0) => Ok(mk(tail, None, true)),
                    Some(2) => {
                        let (data, le) = tail.split_at(lc);
                        match le {
                            [hi, lo] => Ok(mk(data, Some(ext_ne(*hi, *lo)), true)),
                            _ => Err(mismatch),
                        }
                    }
                    _ => Err(mismatch),
                }
            }
            _ => Err(CapduError::LengthMismatch { len: apdu.len(), lc: 0, extended: true }),
        },
        [lc, tail @ ..] => {
            let lc = usize::from(*lc);
            let mismatch = CapduError::LengthMismatch { len: apdu.len(), lc, extended: false };
            match tail.len().checked_sub(lc) {
                Some(0) => Ok(mk(tail, None, false)),
                Some(1) => {
                    let (data, le) = tail.split_at(lc);
                    match le {
                        [le] => Ok(mk(data, Some(short_ne(*le)), false)),
                        _ => Err(mismatch),
                    }
                }
                _ => Err(mismatch),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seven_cases() {
        let c = parse(&[0x00, 0xA4, 0x04, 0x0C]).unwrap();
        assert_eq!((c.data.len(), c.ne, c.extended), (0, None, false));
        assert_eq!(parse(&[0x00, 0x84, 0, 0, 0x08]).unwrap().ne, Some(8));
        assert_eq!(parse(&[0x00, 0xB0, 0, 0, 0x00]).unwrap().ne, Some(256));
        let c = parse(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1E]).unwrap();
        assert_eq!((c.data, c.ne), (vec![0x01, 0x1E], None));
        let c = parse(&[0x0C, 0xB0, 0, 0, 0x02, 0x97, 0x00, 0x00]).unwrap();
        assert_eq!((c.data, c.ne, c.extended), (vec![0x97, 0x00], Some(256), false));
        let c = parse(&[0x00, 0xB0, 0, 0, 0x00, 0x04, 0x00]).unwrap();
        assert_eq!((c.ne, c.extended), (Some(1024), true));
        assert_eq!(parse(&[0x00, 0xB0, 0, 0, 0x00, 0x00, 0x00]).unwrap().ne, Some(65536));
        let c = parse(&[0x00, 0xA4, 0x02, 0x0C, 0x00, 0x00, 0x02, 0x01, 0x1E]).unwrap();
        assert_eq!((c.data, c.ne, c.extended), (vec![0x01, 0x1E], None, true));
        let c = parse(&[0x00, 0xA4, 0x02, 0x0C, 0x00, 0x00, 0x02, 0x01, 0x1E, 0x01, 0x00]).unwrap();
        assert_eq!((c.ne, c.extended), (Some(256), true));
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(&[0x00, 0xA4]), Err(CapduError::TooShort(2)));
        assert!(parse(&[0x00, 0xA4, 0x02, 0x0C, 0x03, 0x01]).is_err());
        assert!(parse(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1E, 0x00, 0x00]).is_err());
        assert!(parse(&[0x00, 0xB0, 0, 0, 0x00, 0x00]).is_err());
        assert!(parse(&[0x00, 0xB0, 0, 0, 0x00, 0x00, 0x00, 0x00]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }
    }
}
