//! Fuzzes the JPEG 2000 decode of a chip photo (`FaceImage::decode_jpeg2000`, hayro-jpeg2000):
//! DG2 comes from the chip, so its image bytes are hostile. The decode wraps the third-party
//! decoder in `catch_unwind` (a panic there is an error, by design), so this target installs a
//! panic hook that only counts: a panic the crate catches is not a crash of the daemon, and one
//! that escapes is still caught by libFuzzer's own `catch_unwind` and reported as a crash.
//! Hangs and memory blow-ups inside the decoder are what this target is after.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use idcheck_core::lds::{FaceImage, ImageFormat};
use idcheck_core::model::Biometric;
use libfuzzer_sys::fuzz_target;

static HOOK: Once = Once::new();
static CAUGHT: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let n = CAUGHT.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                eprintln!("jp2: panic #{n} inside the decoder (caught by decode_jpeg2000): {info}");
            }
        }));
    });
    let face = FaceImage { format: ImageFormat::Jpeg2000, width: 0, height: 0, data: Biometric(data.to_vec()) };
    if let Ok(img) = face.decode_jpeg2000() {
        assert!(img.width() > 0 && img.height() > 0);
    }
});
