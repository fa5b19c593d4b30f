//! The independent sample card's chip files, compiled into the fuzz targets that need a real
//! chip (no file I/O per input).

use idcheck_core::lds::{ChipImage, FileId};

pub const SAMPLE: [(FileId, &[u8]); 8] = [
    (FileId::Com, include_bytes!("../../../fixtures/samples/pass-case/chip/com.bin")),
    (FileId::Sod, include_bytes!("../../../fixtures/samples/pass-case/chip/sod.bin")),
    (FileId::Dg1, include_bytes!("../../../fixtures/samples/pass-case/chip/dg1.bin")),
    (FileId::Dg2, include_bytes!("../../../fixtures/samples/pass-case/chip/dg2.bin")),
    (FileId::Dg3, include_bytes!("../../../fixtures/samples/pass-case/chip/dg3.bin")),
    (FileId::Dg11, include_bytes!("../../../fixtures/samples/pass-case/chip/dg11.bin")),
    (FileId::Dg12, include_bytes!("../../../fixtures/samples/pass-case/chip/dg12.bin")),
    (FileId::Dg13, include_bytes!("../../../fixtures/samples/pass-case/chip/dg13.bin")),
];

/// The sample card's chip image.
pub fn sample_chip() -> ChipImage {
    let mut image = ChipImage::new();
    for (id, bytes) in SAMPLE {
        image.insert(id, bytes.to_vec());
    }
    image
}
