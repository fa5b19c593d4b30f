//! DG2 (tag 75 / 7F61 / 02 count / 7F60 / A1 header / 5F2E or 7F2E): the facial image, an
//! ISO/IEC 19794-5:2005 face record ("FAC\0", version "010\0") holding a JPEG or JPEG 2000 image.
//! Parsing of the record headers (never the pixels, except the JPEG 2000 decode helper), and the
//! writer of a record like the ones cards carry.

use super::{field_err, tlv_err, FileId, LdsError};
use crate::model::Biometric;
use crate::tlv;

const F: FileId = FileId::Dg2;

/// Image data type of the face record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Jpeg2000,
}

/// The facial image of DG2: its encoding, the size given by the record, and the image bytes.
/// Debug prints the image as REDACTED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceImage {
    pub format: ImageFormat,
    pub width: u16,
    pub height: u16,
    pub data: Biometric,
}

/// Everything else DG2 records about the image, kept so that a parsed DG2 can be written back
/// byte for byte ([`parse_dg2_full`], [`encode_dg2_with`]). The default is what [`encode_dg2`]
/// writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceInfo {
    /// Value of the biometric header template (A1), kept raw.
    pub header_template: Vec<u8>,
    /// Tag of the biometric data block: 0x5F2E (plain) or 0x7F2E.
    pub data_block_tag: u32,
    pub gender: u8,
    pub eye_colour: u8,
    pub hair_colour: u8,
    /// 24-bit property mask.
    pub property_mask: u32,
    pub expression: u16,
    pub pose_angle: [u8; 3],
    pub pose_angle_uncertainty: [u8; 3],
    /// Feature points, 8 bytes each, kept raw.
    pub feature_points: Vec<[u8; 8]>,
    /// 1 = full frontal.
    pub face_image_type: u8,
    /// 1 = 24-bit RGB.
    pub colour_space: u8,
    /// 2 = digital still camera.
    pub source_type: u8,
    pub device_type: u16,
    pub quality: u16,
}

impl Default for FaceInfo {
    fn default() -> Self {
        FaceInfo {
            // ICAO header version 0101, format owner 0101 (JTC 1/SC 37), format type 0008 (face).
            header_template: [tlv::encode(0x80, &[1, 1]), tlv::encode(0x87, &[1, 1]), tlv::encode(0x88, &[0, 8])].concat(),
            data_block_tag: 0x5F2E,
            gender: 0,
            eye_colour: 0,
            hair_colour: 0,
            property_mask: 0,
            expression: 0,
            pose_angle: [0; 3],
            pose_angle_uncertainty: [0; 3],
            feature_points: Vec::new(),
            face_image_type: 1,
            colour_space: 1,
            source_type: 2,
            device_type: 0,
            quality: 0,
        }
    }
}

impl FaceImage {
    /// Decode a JPEG 2000 facial image (JP2 file or raw codestream) to 8-bit RGB. Grey images
    /// are expanded, an alpha channel is dropped. Errors name DG2.
    pub fn decode_jpeg2000(&self) -> Result<image::RgbImage, LdsError> {
        if self.format != ImageFormat::Jpeg2000 {
            return Err(field_err(F, "image data", None, "the facial image is not JPEG 2000"));
        }
        let data = self.data.bytes();
        let dec = |m: String| field_err(F, "image data", None, format!("JPEG 2000 decoding failed: {m}"));
        // The header first: an implausible size or tiling is refused before the decoder spends
        // time on it (a few hundred bytes can declare 175,000 tiles).
        let siz = super::j2k::parse_siz(data).map_err(|e| field_err(F, "image data", None, format!("JPEG 2000 header refused: {e}")))?;
        // The decoder is third-party code fed untrusted bytes: a panic inside it becomes an error.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<image::RgbImage, LdsError> {
            use hayro_jpeg2000::{ColorSpace, DecodeSettings, DecoderContext, Image};
            let img = Image::new(data, &DecodeSettings::default()).map_err(|e| dec(format!("{e:?}")))?;
            let (w, h) = (img.width(), img.height());
            if !super::j2k::size_allowed(w, h) {
                return Err(dec(format!("image size {w}x{h} is out of range (header: {:?})", siz.size())));
            }
            let channels = usize::from(img.color_space().num_channels());
            let alpha = usize::from(img.has_alpha());
            let gray = matches!(img.color_space(), ColorSpace::Gray)
                || matches!(img.color_space(), ColorSpace::Icc { num_channels: 1, .. });
            if !(gray || channels == 3) {
                return Err(dec(format!("unsupported colour space {:?} with {channels} channels", img.color_space())));
            }
            let mut ctx = DecoderContext::default();
            let decoded = img.decode(&mut ctx).map_err(|e| dec(format!("{e:?}")))?;
            let samples = decoded.data_u8();
            let stride = channels + alpha;
            let pixels = (w as usize) * (h as usize);
            if samples.len() != pixels * stride {
                return Err(dec(format!("decoder returned {} samples for {w}x{h}x{stride}", samples.len())));
            }
            let mut rgb = Vec::with_capacity(pixels * 3);
            for px in samples.chunks_exact(stride) {
                if gray {
                    let g = px.first().copied().unwrap_or(0);
                    rgb.extend_from_slice(&[g, g, g]);
                } else {
                    rgb.extend_from_slice(px.get(..3).unwrap_or(&[0, 0, 0]));
                }
            }
            image::RgbImage::from_raw(w, h, rgb).ok_or_else(|| dec("pixel buffer size mismatch".to_string()))
        }));
        out.unwrap_or_else(|_| Err(dec("the decoder panicked".to_string())))
    }
}

/// DG2 holding `face` with the default record fields ([`FaceInfo::default`]).
pub fn encode_dg2(face: &FaceImage) -> Vec<u8> {
    encode_dg2_with(face, &FaceInfo::default())
}

/// DG2 holding `face` with the given record fields.
pub fn encode_dg2_with(face: &FaceImage, info: &FaceInfo) -> Vec<u8> {
    let img = face.data.bytes();
    let facial_len = 20 + 8 * info.feature_points.len() + 12 + img.len();
    let record_len = 14 + facial_len;
    let mut r = Vec::with_capacity(record_len);
    r.extend_from_slice(b"FAC\0");
    r.extend_from_slice(b"010\0");
    r.extend_from_slice(&(record_len as u32).to_be_bytes());
    r.extend_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&(facial_len as u32).to_be_bytes());
    r.extend_from_slice(&(info.feature_points.len() as u16).to_be_bytes());
    r.extend_from_slice(&[info.gender, info.eye_colour, info.hair_colour]);
    r.extend_from_slice(&info.property_mask.to_be_bytes()[1..]);
    r.extend_from_slice(&info.expression.to_be_bytes());
    r.extend_from_slice(&info.pose_angle);
    r.extend_from_slice(&info.pose_angle_uncertainty);
    for p in &info.feature_points {
        r.extend_from_slice(p);
    }
    r.push(info.face_image_type);
    r.push(match face.format {
        ImageFormat::Jpeg => 0,
        ImageFormat::Jpeg2000 => 1,
    });
    r.extend_from_slice(&face.width.to_be_bytes());
    r.extend_from_slice(&face.height.to_be_bytes());
    r.push(info.colour_space);
    r.push(info.source_type);
    r.extend_from_slice(&info.device_type.to_be_bytes());
    r.extend_from_slice(&info.quality.to_be_bytes());
    r.extend_from_slice(img);
    let bdb_tag = if info.data_block_tag == 0x7F2E { 0x7F2E } else { 0x5F2E };
    let template = tlv::encode_seq(0x7F60, &[tlv::encode(0xA1, &info.header_template), tlv::encode(bdb_tag, &r)]);
    let group = tlv::encode_seq(0x7F61, &[tlv::encode(0x02, &[1]), template]);
    tlv::encode(0x75, &group)
}

/// Parse DG2: the first facial image.
pub fn parse_dg2(bytes: &[u8]) -> Result<FaceImage, LdsError> {
    parse_dg2_full(bytes).map(|(face, _)| face)
}

/// Parse DG2: the first facial image and the record fields needed to write it back.
pub fn parse_dg2_full(bytes: &[u8]) -> Result<(FaceImage, FaceInfo), LdsError> {
    let top = tlv::parse_single(bytes, 0x75).map_err(tlv_err(F))?;
    let group = top.children().expect(0x7F61).map_err(tlv_err(F))?;
    let mut r = group.children();
    let count_tlv = r.expect(0x02).map_err(tlv_err(F))?;
    let count = read_count(count_tlv.value).ok_or_else(|| {
        field_err(F, "number of instances (02)", Some(count_tlv.value_offset), format!("{:02X?} is not a count of 1 to 65535", count_tlv.value))
    })?;
    let mut templates = Vec::new();
    while !r.is_empty() {
        let t = r.next_tlv().map_err(tlv_err(F))?;
        if t.tag != 0x7F60 {
            return Err(field_err(F, "biometric information template", Some(t.offset), format!("expected tag 7F60, found {:X}", t.tag)));
        }
        templates.push(t);
    }
    if templates.len() != count {
        return Err(field_err(
            F,
            "number of instances (02)",
            Some(count_tlv.value_offset),
            format!("says {count} but the group holds {} templates", templates.len()),
        ));
    }
    let Some(first) = templates.first() else {
        return Err(field_err(F, "number of instances (02)", Some(count_tlv.value_offset), "no facial image"));
    };
    let mut tr = first.children();
    let bht = tr.expect(0xA1).map_err(tlv_err(F))?;
    let bdb_offset = tr.offset();
    let bdb = tr.next_tlv().map_err(tlv_err(F))?;
    if bdb.tag != 0x5F2E && bdb.tag != 0x7F2E {
        return Err(field_err(F, "biometric data block", Some(bdb_offset), format!("expected tag 5F2E or 7F2E, found {:X}", bdb.tag)));
    }
    if !tr.is_empty() {
        return Err(field_err(F, "biometric information template", Some(tr.offset()), "unexpected data after the biometric data block"));
    }
    let (face, mut info) = parse_face_record(bdb.value, bdb.value_offset)?;
    info.header_template = bht.value.to_vec();
    info.data_block_tag = bdb.tag;
    Ok((face, info))
}

/// A BER INTEGER count of one or two bytes, at least 1.
fn read_count(v: &[u8]) -> Option<usize> {
    let n = match v {
        [a] => usize::from(*a),
        [a, b] => usize::from(*a) << 8 | usize::from(*b),
        _ => return None,
    };
    (n >= 1).then_some(n)
}

/// Big-endian reader over the face record with absolute offsets for errors.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], LdsError> {
        let s = self.buf.get(self.pos..self.pos.saturating_add(n)).ok_or_else(|| {
            field_err(F, field, Some(self.base + self.pos), format!("record truncated: needs {n} bytes, {} remain", self.buf.len().saturating_sub(self.pos)))
        })?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, field: &'static str) -> Result<u8, LdsError> {
        Ok(self.take(1, field)?.first().copied().unwrap_or(0))
    }
    fn u16(&mut self, field: &'static str) -> Result<u16, LdsError> {
        let b = self.take(2, field)?;
        Ok(b.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
    }
    fn u24(&mut self, field: &'static str) -> Result<u32, LdsError> {
        let b = self.take(3, field)?;
        Ok(b.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)))
    }
    fn u32(&mut self, field: &'static str) -> Result<u32, LdsError> {
        let b = self.take(4, field)?;
        Ok(b.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)))
    }
    fn arr3(&mut self, field: &'static str) -> Result<[u8; 3], LdsError> {
        let b = self.take(3, field)?;
        Ok([b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0), b.get(2).copied().unwrap_or(0)])
    }
    fn abs(&self) -> usize {
        self.base + self.pos
    }
}

/// Parse an ISO/IEC 19794-5:2005 face record starting at file offset `base`.
fn parse_face_record(rec: &[u8], base: usize) -> Result<(FaceImage, FaceInfo), LdsError> {
    let mut c = Cursor { buf: rec, pos: 0, base };
    let magic = c.take(4, "face record format identifier")?;
    if magic != b"FAC\0" {
        return Err(field_err(F, "face record format identifier", Some(base), format!("expected \"FAC\\0\", found {magic:02X?}")));
    }
    let version = c.take(4, "face record version")?;
    if version != b"010\0" {
        return Err(field_err(F, "face record version", Some(base + 4), format!("expected \"010\\0\" (ISO/IEC 19794-5:2005), found {version:02X?}")));
    }
    let len_at = c.abs();
    let record_len = c.u32("face record length")? as usize;
    if record_len != rec.len() {
        return Err(field_err(F, "face record length", Some(len_at), format!("says {record_len} bytes, the data block holds {}", rec.len())));
    }
    let faces_at = c.abs();
    let faces = c.u16("number of facial images")?;
    if faces == 0 {
        return Err(field_err(F, "number of facial images", Some(faces_at), "is 0"));
    }
    let start = c.pos;
    let flen_at = c.abs();
    let facial_len = c.u32("facial record data length")? as usize;
    let nfp = usize::from(c.u16("number of feature points")?);
    let min_len = 20 + 8 * nfp + 12;
    if facial_len < min_len || facial_len > rec.len().saturating_sub(start) {
        return Err(field_err(
            F,
            "facial record data length",
            Some(flen_at),
            format!("{facial_len} bytes does not fit: at least {min_len} needed, {} available", rec.len().saturating_sub(start)),
        ));
    }
    if faces == 1 && start + facial_len != rec.len() {
        return Err(field_err(F, "facial record data length", Some(flen_at), format!("{} bytes follow the only facial record", rec.len() - start - facial_len)));
    }
    let mut info = FaceInfo {
        gender: c.u8("gender")?,
        eye_colour: c.u8("eye colour")?,
        hair_colour: c.u8("hair colour")?,
        property_mask: c.u24("property mask")?,
        expression: c.u16("expression")?,
        pose_angle: c.arr3("pose angle")?,
        pose_angle_uncertainty: c.arr3("pose angle uncertainty")?,
        ..FaceInfo::default()
    };
    for _ in 0..nfp {
        let p = c.take(8, "feature point")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(p);
        info.feature_points.push(a);
    }
    info.face_image_type = c.u8("face image type")?;
    let type_at = c.abs();
    let data_type = c.u8("image data type")?;
    let format = match data_type {
        0 => ImageFormat::Jpeg,
        1 => ImageFormat::Jpeg2000,
        other => return Err(field_err(F, "image data type", Some(type_at), format!("{other} is neither 0 (JPEG) nor 1 (JPEG 2000)"))),
    };
    let width = c.u16("image width")?;
    let height = c.u16("image height")?;
    info.colour_space = c.u8("image colour space")?;
    info.source_type = c.u8("source type")?;
    info.device_type = c.u16("device type")?;
    info.quality = c.u16("quality")?;
    let img_at = c.abs();
    let img = c.take(facial_len - min_len, "image data")?;
    let magic_ok = match format {
        ImageFormat::Jpeg => img.starts_with(&[0xFF, 0xD8]),
        ImageFormat::Jpeg2000 => img.starts_with(&[0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || img.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]),
    };
    if !magic_ok {
        return Err(field_err(F, "image data", Some(img_at), format!("does not start like a {format:?} image: {:02X?}", img.get(..4).unwrap_or(img))));
    }
    Ok((FaceImage { format, width, height, data: Biometric(img.to_vec()) }, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg_like(n: usize) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
        v.extend((0..n).map(|i| (i * 7) as u8));
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    #[test]
    fn round_trip_default_and_custom() {
        let face = FaceImage { format: ImageFormat::Jpeg, width: 240, height: 320, data: Biometric(jpeg_like(300)) };
        let dg2 = encode_dg2(&face);
        let (back, info) = parse_dg2_full(&dg2).expect("parses");
        assert_eq!(back, face);
        assert_eq!(info, FaceInfo::default());
        let info2 = FaceInfo {
            gender: 2,
            feature_points: vec![[1, 2, 3, 4, 5, 6, 7, 8]],
            data_block_tag: 0x7F2E,
            quality: 77,
            ..FaceInfo::default()
        };
        let face2 = FaceImage { format: ImageFormat::Jpeg2000, width: 1, height: 65535, data: Biometric(std::fs::read(concat!(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."), "/fixtures/lds/face-24x32.j2k")).expect("fixture")) };
        let dg2b = encode_dg2_with(&face2, &info2);
        let (b2, i2) = parse_dg2_full(&dg2b).expect("parses");
        assert_eq!((b2, i2), (face2, info2));
    }

    #[test]
    fn malformed_records() {
        let face = FaceImage { format: ImageFormat::Jpeg, width: 2, height: 2, data: Biometric(jpeg_like(10)) };
        let good = encode_dg2(&face);
        // Record starts after 75 len 7F61 len 02 01 01 7F60 len A1 0C ... 5F2E len.
        let rec_at = good.windows(4).position(|w| w == b"FAC\0").expect("record");
        let mut bad = good.clone();
        bad[rec_at] = b'X';
        assert!(matches!(parse_dg2(&bad), Err(LdsError::Field { field: "face record format identifier", offset: Some(o), .. }) if o == rec_at));
        let mut bad = good.clone();
        bad[rec_at + 11] ^= 1;
        assert!(matches!(parse_dg2(&bad), Err(LdsError::Field { field: "face record length", offset: Some(o), .. }) if o == rec_at + 8));
        let mut bad = good.clone();
        bad[rec_at + 14 + 20 + 1] = 7;
        assert!(matches!(parse_dg2(&bad), Err(LdsError::Field { field: "image data type", offset: Some(o), .. }) if o == rec_at + 35));
        let mut bad = good.clone();
        bad[rec_at + 14 + 20 + 1] = 1;
        assert!(matches!(parse_dg2(&bad), Err(LdsError::Field { field: "image data", .. })));
        let mut bad = good.clone();
        bad[rec_at + 17] ^= 0x40;
        assert!(matches!(parse_dg2(&bad), Err(LdsError::Field { field: "facial record data length", .. })));
        let mut bad = good.clone();
        bad[0] = 0x76;
        assert!(matches!(parse_dg2(&bad), Err(LdsError::Tlv { file: FileId::Dg2, .. })));
        assert!(matches!(parse_dg2(&good[..good.len() - 1]), Err(LdsError::Tlv { .. })));
    }

    #[test]
    fn decodes_jpeg2000_fixtures() {
        for name in ["face-24x32.jp2", "face-24x32.j2k"] {
            let path = format!("{}/fixtures/lds/{name}", concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
            let data = std::fs::read(&path).expect("fixture");
            let face = FaceImage { format: ImageFormat::Jpeg2000, width: 24, height: 32, data: Biometric(data) };
            let face = parse_dg2(&encode_dg2(&face)).expect("round trip");
            let img = face.decode_jpeg2000().expect("decodes");
            assert_eq!(img.dimensions(), (24, 32));
            for (x, y, p) in img.enumerate_pixels() {
                let want = [(x * 10 % 256) as u8, (y * 8 % 256) as u8, ((x + y) * 4 % 256) as u8];
                assert_eq!(p.0, want, "{name} pixel ({x},{y}) (lossless)");
            }
        }
        let jpeg = FaceImage { format: ImageFormat::Jpeg, width: 1, height: 1, data: Biometric(jpeg_like(3)) };
        assert!(jpeg.decode_jpeg2000().is_err());
        let junk = FaceImage { format: ImageFormat::Jpeg2000, width: 1, height: 1, data: Biometric(vec![0xFF, 0x4F, 0xFF, 0x51, 0, 0]) };
        assert!(junk.decode_jpeg2000().is_err());
    }
}
