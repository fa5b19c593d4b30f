//! Fuzzes photo decoding in `idcheck_core::compare::photo`: `decode` (JPEG through zune-jpeg or the
//! image crate, PNG), `PhotoFeatures::from_bytes` (with the reduced-size JPEG decoder of
//! `jpeg_quarter`) and the printed-photo path from a PNG scan, `Probe::from_printed_png` (the
//! hand-written PNG row reader of `png_rows`, then the png crate). Bit 0 of the first byte:
//! rewrite every PNG chunk's CRC-32 first, so the fuzzer gets past the checksums into the chunk
//! contents and the compressed data; the other bits pick the scan resolution. Oracles: no
//! panic; what decodes has the size limits `decode` promises. (Comparison is left out: it is
//! slow and takes no bytes.)
#![no_main]

use idcheck_core::compare::photo::{self, PhotoFeatures, Probe, MAX_SIDE, MIN_SIDE};
use libfuzzer_sys::fuzz_target;

const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
const DPIS: [u32; 4] = [100, 120, 150, 99];

/// CRC-32 (ISO-HDLC, as PNG uses), bitwise: only for fixing up fuzz inputs.
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for p in parts {
        for &b in *p {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
            }
        }
    }
    !c
}

fn fix_png_crcs(b: &mut [u8]) {
    if !b.starts_with(PNG_SIG) {
        return;
    }
    let mut at = PNG_SIG.len();
    while at + 12 <= b.len() {
        let len = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e + 4 <= b.len()) else { return };
        let crc = crc32(&[&b[at + 4..end]]);
        b[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if sel & 1 == 1 {
        fix_png_crcs(&mut bytes);
    }
    let dpi = DPIS[usize::from(sel >> 1) % DPIS.len()];
    if let Ok(img) = photo::decode(&bytes) {
        assert!((MIN_SIDE..=MAX_SIDE).contains(&img.width()) && (MIN_SIDE..=MAX_SIDE).contains(&img.height()));
    }
    let features = PhotoFeatures::from_bytes(&bytes);
    if let Ok(f) = &features {
        let _ = f.phash();
    }
    if let Ok(probe) = Probe::from_printed_png(&bytes, dpi) {
        assert!(probe.is_printed());
    }
});
