//! EF.COM (tag 60): the LDS version, the Unicode version and the tag list of the data groups
//! present. Parsing of untrusted bytes and the writer.

use super::{field_err, tlv_err, FileId, LdsError};
use crate::tlv;

/// Parsed EF.COM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Com {
    /// Four digits, e.g. `0107` (LDS 1.7).
    pub lds_version: String,
    /// Six digits, e.g. `040000` (Unicode 4.0.0).
    pub unicode_version: String,
    /// The data groups of the tag list that this profile knows, in list order.
    pub data_groups: Vec<FileId>,
    /// Tag list values this profile does not model (DG14 0x6E, DG15 0x6F, ...), in list order.
    pub other_tags: Vec<u8>,
}

/// LDS version written by [`encode_com`].
pub const LDS_VERSION: &str = "0107";
/// Unicode version written by [`encode_com`].
pub const UNICODE_VERSION: &str = "040000";

impl Com {
    /// True when the tag list names `dg`.
    pub fn lists(&self, dg: FileId) -> bool {
        self.data_groups.contains(&dg)
    }

    /// Encode exactly this EF.COM (versions are written as given).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut tags: Vec<u8> = self.data_groups.iter().filter(|f| f.dg_number().is_some()).map(|f| f.lds_tag()).collect();
        tags.extend_from_slice(&self.other_tags);
        tlv::encode_seq(
            0x60,
            &[
                tlv::encode(0x5F01, self.lds_version.as_bytes()),
                tlv::encode(0x5F36, self.unicode_version.as_bytes()),
                tlv::encode(0x5C, &tags),
            ],
        )
    }
}

/// EF.COM listing `data_groups` (EF.COM and EF.SOD in the slice are skipped), LDS 1.7, Unicode
/// 4.0.0.
pub fn encode_com(data_groups: &[FileId]) -> Vec<u8> {
    Com {
        lds_version: LDS_VERSION.to_string(),
        unicode_version: UNICODE_VERSION.to_string(),
        data_groups: data_groups.iter().copied().filter(|f| f.dg_number().is_some()).collect(),
        other_tags: Vec::new(),
    }
    .to_bytes()
}

/// Parse EF.COM.
pub fn parse_com(bytes: &[u8]) -> Result<Com, LdsError> {
    const F: FileId = FileId::Com;
    let top = tlv::parse_single(bytes, 0x60).map_err(tlv_err(F))?;
    let version = |tag: u32, field: &'static str, digits: usize| -> Result<String, LdsError> {
        let t = tlv::require(&top, tag).map_err(tlv_err(F))?;
        if t.value.len() != digits || !t.value.iter().all(u8::is_ascii_digit) {
            return Err(field_err(F, field, Some(t.value_offset), format!("expected {digits} ASCII digits, found {:02X?}", t.value)));
        }
        Ok(t.value.iter().map(|&b| b as char).collect())
    };
    let lds_version = version(0x5F01, "LDS version (5F01)", 4)?;
    let unicode_version = version(0x5F36, "Unicode version (5F36)", 6)?;
    let list = tlv::require(&top, 0x5C).map_err(tlv_err(F))?;
    let mut data_groups = Vec::new();
    let mut other_tags = Vec::new();
    for (i, &tag) in list.value.iter().enumerate() {
        match FileId::from_lds_tag(tag) {
            Some(dg) if data_groups.contains(&dg) => {
                return Err(field_err(F, "tag list (5C)", Some(list.value_offset + i), format!("tag {tag:02X} listed twice")));
            }
            Some(dg) => data_groups.push(dg),
            None => other_tags.push(tag),
        }
    }
    Ok(Com { lds_version, unicode_version, data_groups, other_tags })
}
