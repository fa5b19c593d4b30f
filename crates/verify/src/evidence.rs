//! What a verification looked at, for people: the text items of the acceptance record, the
//! printed card and the chip side by side (comparable forms), the fingerprint slots, and the three
//! photos as small PNGs (the acceptance photo, the printed photo as cropped from the scan, the
//! chip's face). The QC station's page and batch report show this beside the verdict. Pure: bytes
//! in, values and PNG bytes out; a source that cannot be decoded is simply absent.
//! This is personal data (it is kept in the station's store, never in logs): Debug is REDACTED.

use std::fmt;

use image::RgbImage;
use serde::Serialize;

use idcheck_core::compare::{photo, text};
use idcheck_core::lds::{self, ChipImage, ImageFormat};
use idcheck_core::model::{AcceptanceRecord, SurfaceRecord, TextItem};
use idcheck_core::rules::RuleConfig;

/// Height of the photos kept, pixels.
pub const PHOTO_HEIGHT: u32 = 320;

/// One text item in the three sources (comparable forms; `None`: the source does not carry it).
#[derive(Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    pub item: &'static str,
    pub label: &'static str,
    pub acceptance: Option<String>,
    pub surface: Option<String>,
    pub chip: Option<String>,
}

/// One side of a fingerprint position.
#[derive(Clone, Serialize, PartialEq, Eq)]
pub struct FingerSide {
    pub finger: String,
    pub quality: Option<u8>,
    pub minutiae: Option<usize>,
}

/// A fingerprint position (1, 2): the acceptance finger and the chip slot.
#[derive(Clone, Serialize, PartialEq, Eq)]
pub struct FingerView {
    pub position: usize,
    pub acceptance: Option<FingerSide>,
    pub chip: Option<FingerSide>,
}

/// Everything shown beside a verdict.
#[derive(Clone, Default, Serialize)]
pub struct Evidence {
    pub rows: Vec<Row>,
    pub fingers: Vec<FingerView>,
    /// `("acceptance" | "surface" | "chip", PNG bytes)`.
    #[serde(skip)]
    pub photos: Vec<(&'static str, Vec<u8>)>,
}

impl fmt::Debug for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Evidence")
            .field("rows", &self.rows.len())
            .field("fingers", &self.fingers.len())
            .field("photos", &"REDACTED")
            .finish()
    }
}

fn label(item: TextItem) -> &'static str {
    match item {
        TextItem::Name => "姓名 name",
        TextItem::Sex => "性别 sex",
        TextItem::Ethnicity => "民族 ethnicity",
        TextItem::BirthDate => "出生 birth date",
        TextItem::Address => "住址 address",
        TextItem::IdNumber => "公民身份号码 ID number",
        TextItem::IssuingAuthority => "签发机关 issuing authority",
        TextItem::ValidFrom => "有效期限起 valid from",
        TextItem::ValidUntil => "有效期限至 valid until",
    }
}

/// The finger a code names (chip-profile.md: 11-15 right thumb..little, 16-20 left, 97-99 unknown).
pub fn finger_name(code: u8) -> String {
    const NAMES: [&str; 5] = ["thumb", "index", "middle", "ring", "little"];
    match code {
        11..=15 => format!("right {}", NAMES[usize::from(code - 11)]),
        16..=20 => format!("left {}", NAMES[usize::from(code - 16)]),
        97 => "right, finger unknown".into(),
        98 => "left, finger unknown".into(),
        99 => "unknown finger".into(),
        c => format!("code {c}"),
    }
}

/// A text row's value as a person reads it: the compared (normalised) value and, where the card
/// prints it differently (a code), its printed form beside it — 1 男, 01 汉.
fn shown(item: TextItem, value: &str, rules: &RuleConfig) -> String {
    let printed = text::printed_form(item, value, |code| rules.ethnicities.short_name(code).map(str::to_string));
    if printed == value {
        value.to_string()
    } else {
        format!("{value} {printed}")
    }
}

/// Builds the evidence of one verification from its inputs.
pub fn build(record: &AcceptanceRecord, surface: Option<&SurfaceRecord>, chip: Option<&ChipImage>, rules: &RuleConfig) -> Evidence {
    let a = text::from_acceptance(record);
    let s = surface.map(|s| text::from_surface(s, |name| rules.ethnicities.code_for_short_name(name).map(str::to_string)));
    let chip_data = chip.and_then(|c| lds::parse_chip(c).ok());
    let c = chip_data.as_ref().map(super::texts::chip_values);
    let rows = TextItem::ALL
        .iter()
        .map(|&item| Row {
            item: item.name(),
            label: label(item),
            acceptance: a.get(item).map(|v| shown(item, v, rules)),
            surface: s.as_ref().and_then(|s| s.get(item)).map(|v| shown(item, v, rules)),
            chip: c.as_ref().and_then(|c| c.get(item)).map(|v| shown(item, v, rules)),
        })
        .collect();

    let n = record.fingerprints.len().max(chip_data.as_ref().map(|c| c.fingers.len()).unwrap_or(0)).min(4);
    let fingers = (0..n)
        .map(|i| FingerView {
            position: i + 1,
            acceptance: record.fingerprints.get(i).map(|f| FingerSide {
                finger: finger_name(f.finger),
                quality: f.quality,
                minutiae: f
                    .template
                    .as_ref()
                    .and_then(|t| idcheck_core::biometrics::iso19794_2::MinutiaeRecord::parse(t.bytes()).ok())
                    .map(|r| r.minutiae.len()),
            }),
            chip: chip_data.as_ref().and_then(|c| c.fingers.get(i)).map(|s| FingerSide {
                finger: finger_name(s.finger_code),
                quality: (s.quality > 0).then_some(s.quality),
                minutiae: Some(s.minutiae.len()),
            }),
        })
        .collect();

    let mut photos = Vec::new();
    if let Some(png) = photo::decode(record.photo.bytes()).ok().and_then(|i| small_png(&i)) {
        photos.push(("acceptance", png));
    }
    if let Some(png) = surface.and_then(|s| photo::crop_printed_photo_from_png(s.front.bytes(), s.dpi).ok()).and_then(|i| small_png(&i)) {
        photos.push(("surface", png));
    }
    if let Some(face) = chip_data.as_ref().map(|c| &c.face) {
        let img = match face.format {
            ImageFormat::Jpeg => photo::decode(face.data.bytes()).ok(),
            ImageFormat::Jpeg2000 => face.decode_jpeg2000().ok(),
        };
        if let Some(png) = img.and_then(|i| small_png(&i)) {
            photos.push(("chip", png));
        }
    }
    Evidence { rows, fingers, photos }
}

/// The image scaled to `PHOTO_HEIGHT` (never up), as PNG.
fn small_png(img: &RgbImage) -> Option<Vec<u8>> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return None;
    }
    let scaled;
    let img = if h > PHOTO_HEIGHT {
        let nw = ((u64::from(w) * u64::from(PHOTO_HEIGHT)) / u64::from(h)).max(1) as u32;
        scaled = image::imageops::resize(img, nw, PHOTO_HEIGHT, image::imageops::FilterType::Triangle);
        &scaled
    } else {
        img
    };
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .ok()?;
    Some(out)
}

use image::ImageEncoder;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn repo() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    #[test]
    fn the_sample_card_in_three_columns() {
        let s = repo().join("fixtures/samples/pass-case");
        let record = idcheck_core::records::acceptance::load_dir(&s.join("acceptance/451022202404011140")).expect("record");
        let surface = idcheck_core::records::surface::load_dir(&s.join("surface/QC-20240408-9308")).expect("surface");
        let chip = ChipImage::load_dir(&s.join("chip")).expect("chip");
        let e = build(&record, Some(&surface), Some(&chip), &RuleConfig::default());
        assert_eq!(e.rows.len(), 9);
        let name = e.rows.iter().find(|r| r.item == "name").expect("name row");
        assert_eq!(name.acceptance.as_deref(), Some("尹思"));
        assert_eq!(name.surface, name.acceptance);
        assert_eq!(name.chip, name.acceptance);
        // Codes are shown with their names, in all three columns alike.
        let sex = e.rows.iter().find(|r| r.item == "sex").expect("sex row");
        assert_eq!(sex.acceptance.as_deref(), Some("1 男"));
        assert_eq!((&sex.surface, &sex.chip), (&sex.acceptance, &sex.acceptance));
        let ethnicity = e.rows.iter().find(|r| r.item == "ethnicity").expect("ethnicity row");
        assert_eq!(ethnicity.acceptance.as_deref(), Some("01 汉"));
        assert_eq!((&ethnicity.surface, &ethnicity.chip), (&ethnicity.acceptance, &ethnicity.acceptance));
        assert_eq!(e.fingers.len(), 2);
        assert!(e.fingers.iter().all(|f| f.acceptance.is_some() && f.chip.is_some()));
        let names: Vec<&str> = e.photos.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, vec!["acceptance", "surface", "chip"]);
        for (_, png) in &e.photos {
            let img = image::load_from_memory(png).expect("png decodes");
            assert!(img.height() <= PHOTO_HEIGHT && img.height() > 100);
        }
        assert!(!format!("{e:?}").contains("尹思"), "Debug must not print personal data");
        // a kiosk: no surface column, and a chip that does not parse gives no chip column
        let e = build(&record, None, Some(&ChipImage::default()), &RuleConfig::default());
        assert!(e.rows.iter().all(|r| r.surface.is_none() && r.chip.is_none()));
        assert_eq!(e.photos.len(), 1);
    }
}
