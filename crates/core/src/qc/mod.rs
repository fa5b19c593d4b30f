//! The QC station's logic that is not a verdict: pairing a scanned card with its acceptance record
//! among a batch's records, and, for a card that fails for cause 1 or 2, whose data it carries
//! (the batch records whose photo or fingerprints match the card's chip or printed photo). Pure:
//! records and images in memory in, matches out; the daemon (`daemon::qc`) does the I/O.

use serde::Serialize;

use crate::biometrics::iso19794_2::MinutiaeRecord;
use crate::compare::fingerprint::{self, FingerCase, Template};
use crate::compare::photo::{self, CompareKind, PhotoFeatures, Probe};
use crate::lds::{self, ChipImage, ImageFormat};
use crate::model::{AcceptanceRecord, SurfaceRecord};

/// A batch record that matches the card.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Carry {
    pub record_id: String,
    pub by: CarryBy,
    /// Photo: the distance (lower is closer); fingerprint: the score (higher is closer).
    pub score: f64,
}

/// What a wrong card carries of another batch record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarryBy {
    Photo,
    Fingerprint,
}

/// The record of `records` a surface scan belongs to: the one with the printed ID number
/// (the last one accepted when several are).
pub fn pair<'a>(surface: &SurfaceRecord, records: &'a [AcceptanceRecord]) -> Option<&'a AcceptanceRecord> {
    let printed = surface.id_number.trim().to_ascii_uppercase();
    records.iter().filter(|r| r.id_number.eq_ignore_ascii_case(&printed)).max_by(|x, y| x.accepted_at.cmp(&y.accepted_at))
}

/// The prepared references of a batch: each record's photo features and fingerprint templates.
pub struct Gallery {
    entries: Vec<GalleryEntry>,
}

struct GalleryEntry {
    record_id: String,
    photo: Option<PhotoFeatures>,
    fingers: Vec<Template>,
}

impl Gallery {
    pub fn build(records: &[AcceptanceRecord]) -> Gallery {
        let entries = records
            .iter()
            .map(|r| GalleryEntry {
                record_id: r.application_id.clone(),
                photo: PhotoFeatures::from_bytes(r.photo.bytes()).ok(),
                fingers: r
                    .fingerprints
                    .iter()
                    .filter_map(|f| f.template.as_ref())
                    .filter_map(|t| MinutiaeRecord::parse(t.bytes()).ok())
                    .map(|m| Template::prepare(&m.minutiae))
                    .collect(),
            })
            .collect();
        Gallery { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The batch records (other than `own`) whose photo matches the chip's face or the printed
    /// photo, or whose fingerprints match a chip slot; best first.
    pub fn carries(&self, own: &str, chip: Option<&ChipImage>, surface: Option<&SurfaceRecord>) -> Vec<Carry> {
        let chip = chip.and_then(|c| lds::parse_chip(c).ok());
        let mut probes: Vec<(Probe, CompareKind)> = Vec::new();
        if let Some(c) = &chip {
            let img = match c.face.format {
                ImageFormat::Jpeg => photo::decode(c.face.data.bytes()).ok(),
                ImageFormat::Jpeg2000 => c.face.decode_jpeg2000().ok(),
            };
            if let Some(img) = img {
                probes.push((Probe::from_photo(&img), CompareKind::ChipVsAcceptance));
            }
        }
        if let Some(s) = surface {
            if let Ok(probe) = Probe::from_printed_png(s.front.bytes(), s.dpi) {
                probes.push((probe, CompareKind::PrintedVsAcceptance));
            }
        }
        let slots: Vec<Template> = chip.as_ref().map(|c| c.fingers.iter().map(|s| Template::prepare(&s.minutiae)).collect()).unwrap_or_default();

        let mut out: Vec<Carry> = Vec::new();
        for e in self.entries.iter().filter(|e| e.record_id != own) {
            if let Some(reference) = &e.photo {
                let best = probes
                    .iter()
                    .map(|(p, kind)| (photo::compare_distance(reference, p, *kind), *kind))
                    .filter(|(d, kind)| photo::decide(*kind, *d).0)
                    .map(|(d, _)| d)
                    .min_by(|a, b| a.total_cmp(b));
                if let Some(d) = best {
                    out.push(Carry { record_id: e.record_id.clone(), by: CarryBy::Photo, score: d });
                }
            }
            let best = slots
                .iter()
                .flat_map(|s| e.fingers.iter().map(move |f| fingerprint::match_score(s, f)))
                // A card carries another record's finger when a chip slot is that record's
                // acceptance capture re-encoded: the card threshold.
                .filter(|&score| fingerprint::decide(FingerCase::Card, score).is_match())
                .max_by(|a, b| a.total_cmp(b));
            if let Some(score) = best {
                out.push(Carry { record_id: e.record_id.clone(), by: CarryBy::Fingerprint, score });
            }
        }
        out.sort_by(|a, b| a.record_id.cmp(&b.record_id).then(a.by.cmp(&b.by)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn repo() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    #[test]
    fn a_card_carrying_another_records_data_is_traced_to_it() {
        let sample = repo().join("fixtures/samples/pass-case");
        let own = crate::records::acceptance::load_dir(&sample.join("acceptance/451022202404011140")).expect("record");
        let other = crate::records::acceptance::load_dir(&repo().join("fixtures/cases/pass-kiosk/acceptance/410105202507030001")).expect("record");
        let chip = ChipImage::load_dir(&sample.join("chip")).expect("chip");
        let surface = crate::records::surface::load_dir(&sample.join("surface/QC-20240408-9308")).expect("surface");
        let records = vec![own.clone(), other.clone()];
        assert_eq!(pair(&surface, &records).map(|r| r.application_id.as_str()), Some("451022202404011140"));

        let gallery = Gallery::build(&records);
        assert_eq!(gallery.len(), 2);
        // the sample card, checked against the other application: it carries the sample's data
        let c = gallery.carries(&other.application_id, Some(&chip), Some(&surface));
        assert!(c.iter().any(|c| c.record_id == own.application_id && c.by == CarryBy::Photo), "{c:?}");
        assert!(c.iter().any(|c| c.record_id == own.application_id && c.by == CarryBy::Fingerprint), "{c:?}");
        assert!(c.iter().all(|c| c.record_id != other.application_id));
        // checked against its own application: nobody else's data
        assert!(gallery.carries(&own.application_id, Some(&chip), Some(&surface)).is_empty());
    }
}
