//! The chip image (ICAO 9303 LDS1 plus the DG13 national text record): the raw files as read from
//! a chip or a chip image directory ([`ChipImage`]), their parsing into typed data ([`parse_chip`],
//! one `parse_*` per file) and the writers that personalise a card (`encode_*`), which round-trip
//! exactly with the parsers. EF.SOD is kept as raw bytes here; its CMS lives in `pki`. Every parser
//! takes untrusted bytes, never panics, and reports errors naming the file, the field, the offset
//! in the file and what is wrong ([`LdsError`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::tlv::TlvError;

mod com;
mod dg11;
mod face;
mod finger;
pub mod j2k;
mod mrz;
pub mod secinfo;
mod text;

#[cfg(test)]
mod tests;

pub use com::{encode_com, parse_com, Com};
pub use dg11::{encode_dg11, encode_dg12, parse_dg11, parse_dg12, Dg11, Dg12};
pub use face::{encode_dg2, encode_dg2_with, parse_dg2, parse_dg2_full, FaceImage, FaceInfo, ImageFormat};
pub use finger::{crc8, encode_dg3, finger_code_from_iso_position, iso_position_from_finger_code, parse_dg3, FingerSlot, SlotResult};
pub use mrz::{check_digit, encode_dg1, parse_dg1, Mrz, MrzFormat};
pub use secinfo::{
    encode_card_access, encode_dg14, encode_dg15, parse_card_access, parse_dg14, parse_dg15, AaKeyAlgorithm, ActiveAuthenticationInfo,
    ChipAuthenticationDomainParameterInfo, ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo, Cipher, Dg15, KeyAgreement, Mapping,
    PaceDomainParameterInfo, PaceInfo, PaceProtocol, SecurityInfo, SecurityInfos,
};
pub use text::{encode_dg13, parse_dg13, NationalText, LONG_TERM};

/// Largest chip file accepted from a chip image directory (real DG2 photos are 15-30 KB).
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// The files of the chip application (chip-profile.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileId {
    Com,
    Sod,
    Dg1,
    Dg2,
    Dg3,
    Dg11,
    Dg12,
    Dg13,
    /// DG14: the security infos of Chip Authentication (and of Active Authentication with ECDSA).
    Dg14,
    /// DG15: the Active Authentication public key.
    Dg15,
    /// EF.CardAccess (in the master file, outside the eMRTD application): the PACE security infos,
    /// read in plain before access control.
    CardAccess,
}

impl FileId {
    /// Every file, in the order of the chip image directory listing.
    pub const ALL: [FileId; 11] = [
        FileId::Com,
        FileId::Sod,
        FileId::Dg1,
        FileId::Dg2,
        FileId::Dg3,
        FileId::Dg11,
        FileId::Dg12,
        FileId::Dg13,
        FileId::Dg14,
        FileId::Dg15,
        FileId::CardAccess,
    ];

    /// File identifier for SELECT.
    pub fn fid(self) -> u16 {
        match self {
            FileId::Com => 0x011E,
            FileId::Sod => 0x011D,
            FileId::Dg1 => 0x0101,
            FileId::Dg2 => 0x0102,
            FileId::Dg3 => 0x0103,
            FileId::Dg11 => 0x010B,
            FileId::Dg12 => 0x010C,
            FileId::Dg13 => 0x010D,
            FileId::Dg14 => 0x010E,
            FileId::Dg15 => 0x010F,
            FileId::CardAccess => 0x011C,
        }
    }

    /// Short EF identifier for READ BINARY.
    pub fn sfi(self) -> u8 {
        (self.fid() & 0x1F) as u8
    }

    /// Name in a chip image directory: `com.bin`, `sod.bin`, `dg1.bin`, ...
    pub fn file_name(self) -> &'static str {
        match self {
            FileId::Com => "com.bin",
            FileId::Sod => "sod.bin",
            FileId::Dg1 => "dg1.bin",
            FileId::Dg2 => "dg2.bin",
            FileId::Dg3 => "dg3.bin",
            FileId::Dg11 => "dg11.bin",
            FileId::Dg12 => "dg12.bin",
            FileId::Dg13 => "dg13.bin",
            FileId::Dg14 => "dg14.bin",
            FileId::Dg15 => "dg15.bin",
            FileId::CardAccess => "card_access.bin",
        }
    }

    /// Data group number, `None` for EF.COM and EF.SOD.
    pub fn dg_number(self) -> Option<u8> {
        match self {
            FileId::Com | FileId::Sod | FileId::CardAccess => None,
            FileId::Dg1 => Some(1),
            FileId::Dg2 => Some(2),
            FileId::Dg3 => Some(3),
            FileId::Dg11 => Some(11),
            FileId::Dg12 => Some(12),
            FileId::Dg13 => Some(13),
            FileId::Dg14 => Some(14),
            FileId::Dg15 => Some(15),
        }
    }

    /// The data group with this number, if this profile knows it.
    pub fn from_dg_number(n: u8) -> Option<FileId> {
        FileId::ALL.into_iter().find(|f| f.dg_number() == Some(n))
    }

    /// Outer tag of the file (0x60 EF.COM, 0x77 EF.SOD, 0x61 DG1, 0x75 DG2, ...; EF.CardAccess is
    /// a bare SET OF SecurityInfo, 0x31).
    pub fn lds_tag(self) -> u8 {
        match self {
            FileId::Com => 0x60,
            FileId::Sod => 0x77,
            FileId::Dg1 => 0x61,
            FileId::Dg2 => 0x75,
            FileId::Dg3 => 0x63,
            FileId::Dg11 => 0x6B,
            FileId::Dg12 => 0x6C,
            FileId::Dg13 => 0x6D,
            FileId::Dg14 => 0x6E,
            FileId::Dg15 => 0x6F,
            FileId::CardAccess => 0x31,
        }
    }

    /// The data group named by a value of the EF.COM tag list (0x61, 0x75, 0x63, 0x6B, 0x6C,
    /// 0x6D). EF.COM and EF.SOD are not data groups and are never returned.
    pub fn from_lds_tag(tag: u8) -> Option<FileId> {
        FileId::ALL.into_iter().find(|f| f.dg_number().is_some() && f.lds_tag() == tag)
    }

    /// The file with this FID.
    pub fn from_fid(fid: u16) -> Option<FileId> {
        FileId::ALL.into_iter().find(|f| f.fid() == fid)
    }

    /// The file with this chip image directory name.
    pub fn from_file_name(name: &str) -> Option<FileId> {
        FileId::ALL.into_iter().find(|f| f.file_name() == name)
    }

    /// True for the files a resident card must carry (chip-profile.md).
    pub fn mandatory_for_resident(self) -> bool {
        matches!(self, FileId::Com | FileId::Sod | FileId::Dg1 | FileId::Dg2 | FileId::Dg3 | FileId::Dg13)
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileId::Com => f.write_str("EF.COM"),
            FileId::Sod => f.write_str("EF.SOD"),
            FileId::CardAccess => f.write_str("EF.CardAccess"),
            other => write!(f, "DG{}", other.dg_number().unwrap_or(0)),
        }
    }
}

/// Why a chip file could not be loaded or parsed. Offsets count from the first byte of the file.
#[derive(Debug, thiserror::Error)]
pub enum LdsError {
    #[error("{}: mandatory file {} is missing from the chip image", .0.file_name(), .0)]
    Missing(FileId),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: file is {size} bytes, more than the {limit}-byte limit for a chip file", .path.display())]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("{}: {source}", .file.file_name())]
    Tlv {
        file: FileId,
        #[source]
        source: TlvError,
    },
    #[error("{}: {field}{}: {message}", .file.file_name(), OffsetSuffix(*.offset))]
    Field { file: FileId, field: &'static str, offset: Option<usize>, message: String },
}

impl LdsError {
    /// The chip file the error is about, when there is one.
    pub fn file(&self) -> Option<FileId> {
        match self {
            LdsError::Missing(f) => Some(*f),
            LdsError::Tlv { file, .. } | LdsError::Field { file, .. } => Some(*file),
            LdsError::Io { path, .. } | LdsError::TooLarge { path, .. } => {
                path.file_name().and_then(|n| n.to_str()).and_then(FileId::from_file_name)
            }
        }
    }

    /// The offset in the file the error points at, when known.
    pub fn offset(&self) -> Option<usize> {
        match self {
            LdsError::Field { offset, .. } => *offset,
            LdsError::Tlv { source, .. } => Some(tlv_offset(source)),
            _ => None,
        }
    }
}

fn tlv_offset(e: &TlvError) -> usize {
    match e {
        TlvError::TruncatedTag { offset }
        | TlvError::TagTooLong { offset }
        | TlvError::TruncatedLength { offset }
        | TlvError::IndefiniteLength { offset }
        | TlvError::LengthTooLong { offset, .. }
        | TlvError::ValueOverrun { offset, .. }
        | TlvError::UnexpectedTag { offset, .. }
        | TlvError::TrailingBytes { offset, .. } => *offset,
        TlvError::Missing { .. } => 0,
    }
}

struct OffsetSuffix(Option<usize>);

impl fmt::Display for OffsetSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(o) => write!(f, " at offset {o}"),
            None => Ok(()),
        }
    }
}

/// Shorthand for a field error.
pub(crate) fn field_err(file: FileId, field: &'static str, offset: Option<usize>, message: impl Into<String>) -> LdsError {
    LdsError::Field { file, field, offset, message: message.into() }
}

/// Map a TLV error to one naming `file`.
pub(crate) fn tlv_err(file: FileId) -> impl Fn(TlvError) -> LdsError {
    move |source| LdsError::Tlv { file, source }
}

/// The raw files of a chip, as read from a reader or a chip image directory.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ChipImage {
    pub files: BTreeMap<FileId, Vec<u8>>,
}

impl fmt::Debug for ChipImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // File contents are personal data: only names and lengths.
        let mut m = f.debug_map();
        for (id, bytes) in &self.files {
            m.entry(&id.file_name(), &format_args!("{} bytes", bytes.len()));
        }
        m.finish()
    }
}

impl ChipImage {
    pub fn new() -> Self {
        ChipImage::default()
    }

    /// Load a chip image directory: each known file that exists is read; absent files are simply
    /// absent. A file larger than [`MAX_FILE_SIZE`] is refused.
    pub fn load_dir(dir: &Path) -> Result<ChipImage, LdsError> {
        let meta = std::fs::metadata(dir).map_err(|source| LdsError::Io { path: dir.to_path_buf(), source })?;
        if !meta.is_dir() {
            return Err(LdsError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory"),
            });
        }
        let mut image = ChipImage::default();
        for id in FileId::ALL {
            let path = dir.join(id.file_name());
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(LdsError::Io { path, source }),
            };
            let size = file.metadata().map_err(|source| LdsError::Io { path: path.clone(), source })?.len();
            if size > MAX_FILE_SIZE {
                return Err(LdsError::TooLarge { path, size, limit: MAX_FILE_SIZE });
            }
            let mut bytes = Vec::with_capacity(size as usize);
            // Bounded read: a file that grows while being read is still refused.
            file.take(MAX_FILE_SIZE + 1)
                .read_to_end(&mut bytes)
                .map_err(|source| LdsError::Io { path: path.clone(), source })?;
            if bytes.len() as u64 > MAX_FILE_SIZE {
                return Err(LdsError::TooLarge { path, size: bytes.len() as u64, limit: MAX_FILE_SIZE });
            }
            image.files.insert(id, bytes);
        }
        Ok(image)
    }

    /// Write the image into `dir` (created if needed). Known file names that the image does not
    /// hold are removed, so that loading the directory gives this image back.
    pub fn save_dir(&self, dir: &Path) -> Result<(), LdsError> {
        std::fs::create_dir_all(dir).map_err(|source| LdsError::Io { path: dir.to_path_buf(), source })?;
        for id in FileId::ALL {
            let path = dir.join(id.file_name());
            match self.files.get(&id) {
                Some(bytes) => std::fs::write(&path, bytes).map_err(|source| LdsError::Io { path, source })?,
                None => match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(LdsError::Io { path, source }),
                },
            }
        }
        Ok(())
    }

    /// The content of a file, if present.
    pub fn get(&self, id: FileId) -> Option<&[u8]> {
        self.files.get(&id).map(Vec::as_slice)
    }

    /// Set the content of a file; returns the previous content.
    pub fn insert(&mut self, id: FileId, bytes: Vec<u8>) -> Option<Vec<u8>> {
        self.files.insert(id, bytes)
    }

    /// Remove a file; returns its content.
    pub fn remove(&mut self, id: FileId) -> Option<Vec<u8>> {
        self.files.remove(&id)
    }

    fn require(&self, id: FileId) -> Result<&[u8], LdsError> {
        self.get(id).ok_or(LdsError::Missing(id))
    }
}

/// Everything the chip says, parsed. Debug output redacts biometrics and personal text (each
/// part's own Debug does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipData {
    pub com: Com,
    pub mrz: Mrz,
    pub face: FaceImage,
    /// DG3 slots in file order; empty when DG3 is absent (a passport protecting it with EAC).
    pub fingers: Vec<FingerSlot>,
    pub dg11: Option<Dg11>,
    pub dg12: Option<Dg12>,
    /// DG13, the national text record; `None` for a plain ICAO document.
    pub text: Option<NationalText>,
}

/// The files a resident card must carry are all present: EF.COM, EF.SOD, DG1, DG2, DG3, DG13.
/// The first one missing is reported.
pub fn check_mandatory_resident(image: &ChipImage) -> Result<(), LdsError> {
    for id in FileId::ALL {
        if id.mandatory_for_resident() && image.get(id).is_none() {
            return Err(LdsError::Missing(id));
        }
    }
    Ok(())
}

/// Parse every file of the image. EF.COM, DG1 and DG2 are required (an ICAO document always has
/// them); DG3, DG11, DG12 and DG13 are parsed when present. EF.SOD is not parsed here. For a
/// resident card call [`check_mandatory_resident`] as well.
pub fn parse_chip(image: &ChipImage) -> Result<ChipData, LdsError> {
    let com = parse_com(image.require(FileId::Com)?)?;
    let mrz = parse_dg1(image.require(FileId::Dg1)?)?;
    let face = parse_dg2(image.require(FileId::Dg2)?)?;
    let fingers = match image.get(FileId::Dg3) {
        Some(b) => parse_dg3(b)?,
        None => Vec::new(),
    };
    let dg11 = image.get(FileId::Dg11).map(parse_dg11).transpose()?;
    let dg12 = image.get(FileId::Dg12).map(parse_dg12).transpose()?;
    let text = image.get(FileId::Dg13).map(parse_dg13).transpose()?;
    Ok(ChipData { com, mrz, face, fingers, dg11, dg12, text })
}

/// Encode a whole chip image (without EF.SOD, which `pki` signs over the data groups) from parsed
/// data: EF.COM lists the data groups written.
pub fn encode_chip(data: &ChipData) -> Result<ChipImage, LdsError> {
    let mut image = ChipImage::new();
    image.insert(FileId::Dg1, encode_dg1(&data.mrz));
    image.insert(FileId::Dg2, encode_dg2(&data.face));
    if !data.fingers.is_empty() {
        image.insert(FileId::Dg3, encode_dg3(&data.fingers)?);
    }
    if let Some(d) = &data.dg11 {
        image.insert(FileId::Dg11, encode_dg11(d));
    }
    if let Some(d) = &data.dg12 {
        image.insert(FileId::Dg12, encode_dg12(d));
    }
    if let Some(t) = &data.text {
        image.insert(FileId::Dg13, encode_dg13(t)?);
    }
    let com = Com {
        lds_version: data.com.lds_version.clone(),
        unicode_version: data.com.unicode_version.clone(),
        data_groups: image.files.keys().copied().collect(),
        other_tags: Vec::new(),
    };
    image.insert(FileId::Com, com.to_bytes());
    Ok(image)
}
