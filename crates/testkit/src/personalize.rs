//! The chip-image writer: what a personalisation system writes on a card for an acceptance
//! record (DG1, DG2, DG3, DG11, DG12, DG13, EF.COM and an EF.SOD signed by a document signer).
//! [`ChipContent::from_record`] is the standard mapping; callers may change the content before
//! [`ChipContent::write`] (the fixture generator injects defects this way). The chip photo it
//! stores ([`chip_photo`]: the acceptance photo at 102x126, JPEG quality 60) is made here too.

use image::codecs::jpeg::JpegEncoder;
use image::imageops::{self, FilterType};
use image::{ImageEncoder, RgbImage};
use time::OffsetDateTime;

use idcheck_core::biometrics::MinutiaeRecord;
use idcheck_core::lds::{self, ChipImage, Dg11, Dg12, FaceImage, FileId, FingerSlot, ImageFormat, Mrz, NationalText, SlotResult};
use idcheck_core::model::{iso_date, AcceptanceRecord, Biometric, Registration, ValidUntil};
use crate::emulator::ChipSecrets;
use crate::testpki::TestPki;
use idcheck_chip::access::{Randomness, RandomnessError};
use idcheck_chip::active_auth::AaPrivateKey;
use idcheck_chip::group::{Domain, StandardDomain};
use idcheck_core::lds::{
    ActiveAuthenticationInfo, ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo, Cipher, KeyAgreement, Mapping, PaceInfo,
    PaceProtocol, SecurityInfo, SecurityInfos,
};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use idcheck_core::pki::DigestAlg;

/// Chip photo size and JPEG quality written by our chip writer.
pub const CHIP_SIZE: (u32, u32) = (102, 126);
pub const CHIP_QUALITY: u8 = 60;

/// The chip photo our writer stores: the acceptance photo scaled to 102x126, JPEG quality 60.
pub fn chip_photo(acceptance: &RgbImage) -> Vec<u8> {
    let (w, h) = CHIP_SIZE;
    jpeg(
        &imageops::resize(acceptance, w, h, FilterType::CatmullRom),
        CHIP_QUALITY,
    )
}

/// JPEG encoding at `quality` (the test material's one JPEG writer: the chip photo here, the fixtures' photos).
pub(crate) fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = JpegEncoder::new_with_quality(&mut out, quality);
    // Writing into a Vec cannot fail and the sizes here are fixed and valid; an error would leave
    // an empty (undecodable) result that every consumer reports.
    if enc
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .is_err()
    {
        out.clear();
    }
    out
}

/// Why a chip image could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PersonalizeError {
    #[error("acceptance photo does not decode: {0}")]
    Photo(String),
    #[error("fingerprint {index}: template does not parse: {message}")]
    Template { index: usize, message: String },
    #[error("chip file: {0}")]
    Lds(#[from] lds::LdsError),
    #[error("chip security: {0}")]
    Security(String),
}

/// What is written on the chip, before encoding.
#[derive(Debug, Clone)]
pub struct ChipContent {
    pub mrz: Mrz,
    pub face: FaceImage,
    pub slots: Vec<FingerSlot>,
    pub dg11: Option<Dg11>,
    pub dg12: Option<Dg12>,
    pub text: NationalText,
}

fn compact(d: time::Date) -> String {
    iso_date(d).replace('-', "")
}

/// What the chip can hold of a text field: at most `max` UTF-16 units (a character outside the
/// BMP is written as a surrogate pair, two units). A record that needs the cut fails a cause-4
/// rule anyway.
fn fit(s: &str, max: usize) -> String {
    let mut units = 0;
    s.chars()
        .take_while(|c| {
            units += c.len_utf16();
            units <= max
        })
        .collect()
}

impl ChipContent {
    /// The standard mapping of an acceptance record to chip content.
    pub fn from_record(r: &AcceptanceRecord) -> Result<ChipContent, PersonalizeError> {
        let sex = match r.sex.as_str() {
            "1" => 'M',
            "2" => 'F',
            _ => '<',
        };
        let expiry = match r.valid_until {
            ValidUntil::Date(d) => Some(d),
            ValidUntil::LongTerm => None,
        };
        let latin = r.name_latin.as_ref().map_or("X<<X", |l| l.as_str());
        let mrz = Mrz::resident(&r.id_number, r.birth_date, sex, expiry, latin)?;
        let photo = idcheck_core::compare::photo::decode(r.photo.bytes()).map_err(|e| PersonalizeError::Photo(e.to_string()))?;
        let chip_jpeg = chip_photo(&photo);
        let (w, h) = CHIP_SIZE;
        let face = FaceImage { format: ImageFormat::Jpeg, width: w as u16, height: h as u16, data: Biometric(chip_jpeg) };
        let mut slots = Vec::new();
        for (i, fp) in r.fingerprints.iter().enumerate() {
            let (result, minutiae) = match (fp.result, &fp.template) {
                (Registration::Ok, Some(t)) => {
                    let rec = MinutiaeRecord::parse(t.bytes())
                        .map_err(|e| PersonalizeError::Template { index: i + 1, message: e.to_string() })?;
                    (SlotResult::Ok, rec.minutiae.into_iter().take(83).collect())
                }
                (Registration::Ok, None) => (SlotResult::Unknown, Vec::new()),
                (Registration::Failed, _) => (SlotResult::Failed, Vec::new()),
                (Registration::NotRegistered, _) => (SlotResult::NotRegistered, Vec::new()),
            };
            slots.push(FingerSlot { result, finger_code: fp.finger, quality: fp.quality.unwrap_or(0).min(100), minutiae });
        }
        let text = NationalText {
            name: fit(&r.name, 15),
            sex: fit(&r.sex, 1),
            ethnicity: fit(&r.ethnicity, 2),
            birth: compact(r.birth_date),
            address: fit(&r.address, 35),
            id_number: fit(&r.id_number, 18),
            authority: fit(&r.issuing_authority, 15),
            valid_from: compact(r.valid_from),
            valid_until: match r.valid_until {
                ValidUntil::Date(d) => compact(d),
                ValidUntil::LongTerm => lds::LONG_TERM.to_string(),
            },
            permit: None,
        };
        let dg11 = Some(Dg11 {
            full_name: Some(text.name.clone()),
            personal_number: Some(text.id_number.clone()),
            birth_date: Some(text.birth.clone()),
            address: Some(text.address.clone()),
        });
        let dg12 = Some(Dg12 { issuing_authority: Some(text.authority.clone()), date_of_issue: Some(text.valid_from.clone()) });
        Ok(ChipContent { mrz, face, slots, dg11, dg12, text })
    }

    /// Encode every file without EF.SOD (defect injection may change them before signing).
    pub fn encode(&self) -> Result<ChipImage, PersonalizeError> {
        let mut image = ChipImage::default();
        image.insert(FileId::Dg1, lds::encode_dg1(&self.mrz));
        image.insert(FileId::Dg2, lds::encode_dg2(&self.face));
        image.insert(FileId::Dg3, lds::encode_dg3(&self.slots)?);
        if let Some(d) = &self.dg11 {
            image.insert(FileId::Dg11, lds::encode_dg11(d));
        }
        if let Some(d) = &self.dg12 {
            image.insert(FileId::Dg12, lds::encode_dg12(d));
        }
        image.insert(FileId::Dg13, lds::encode_dg13(&self.text)?);
        Ok(image)
    }

    /// Encode and sign: the complete chip image.
    pub fn write(&self, pki: &TestPki, signing_time: OffsetDateTime) -> Result<ChipImage, PersonalizeError> {
        let mut image = self.encode()?;
        sign(&mut image, pki, signing_time);
        Ok(image)
    }

    /// Encode, add the files of `security` (EF.CardAccess, DG14, DG15) and sign: the chip image
    /// and the secrets the chip keeps (CAN, private keys) for the emulator.
    pub fn write_secured(
        &self,
        pki: &TestPki,
        signing_time: OffsetDateTime,
        security: &ChipSecurity,
        seed: u64,
    ) -> Result<(ChipImage, ChipSecrets), PersonalizeError> {
        let mut image = self.encode()?;
        let secrets = security.install(&mut image, seed)?;
        sign(&mut image, pki, signing_time);
        Ok((image, secrets))
    }
}

/// What a chip offers beyond BAC, as a personalisation system writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipSecurity {
    /// PACE protocols for EF.CardAccess: (protocol, standardized domain parameter id).
    pub pace: Vec<(PaceProtocol, u32)>,
    /// Chip Authentication in DG14: key agreement cipher and domain parameter id of the chip key.
    pub chip_authentication: Option<(Cipher, u32)>,
    /// Active Authentication in DG15.
    pub active_authentication: Option<AaKey>,
    /// The card access number printed on the card.
    pub can: Option<String>,
}

/// The kind of Active Authentication key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AaKey {
    Rsa(usize),
    /// `P-256`, `brainpoolP256r1`, ...
    Ec(String),
}

impl ChipSecurity {
    /// PACE ECDH-GM AES-128 on brainpoolP256r1, CA ECDH AES-128 on brainpoolP256r1, AA ECDSA
    /// P-256, CAN 123456: a chip as EU states issue them.
    pub fn modern() -> ChipSecurity {
        ChipSecurity {
            pace: vec![(PaceProtocol { agreement: KeyAgreement::Ecdh, mapping: Mapping::Generic, cipher: Cipher::Aes128 }, 13)],
            chip_authentication: Some((Cipher::Aes128, 13)),
            active_authentication: Some(AaKey::Ec("P-256".to_string())),
            can: Some("123456".to_string()),
        }
    }

    /// A name for each preset (`modern`, `pace-only-files`), for the CLI.
    pub fn preset(name: &str) -> Option<ChipSecurity> {
        match name {
            "modern" => Some(ChipSecurity::modern()),
            "pace" => Some(ChipSecurity { chip_authentication: None, active_authentication: None, ..ChipSecurity::modern() }),
            "ca" => Some(ChipSecurity { pace: Vec::new(), active_authentication: None, ..ChipSecurity::modern() }),
            "aa-rsa" => Some(ChipSecurity { pace: Vec::new(), chip_authentication: None, active_authentication: Some(AaKey::Rsa(1024)), ..ChipSecurity::modern() }),
            _ => None,
        }
    }

    /// Insert EF.CardAccess, DG14 and DG15 into `image` (before signing) and return the secrets.
    pub fn install(&self, image: &mut ChipImage, seed: u64) -> Result<ChipSecrets, PersonalizeError> {
        let mut rng = SeededRng(ChaCha20Rng::seed_from_u64(seed));
        let mut secrets = ChipSecrets { can: self.can.clone(), ..ChipSecrets::default() };
        if !self.pace.is_empty() {
            let infos = SecurityInfos {
                infos: self
                    .pace
                    .iter()
                    .map(|(protocol, id)| SecurityInfo::Pace(PaceInfo { protocol: *protocol, version: 2, parameter_id: Some(*id) }))
                    .collect(),
            };
            image.insert(FileId::CardAccess, lds::encode_card_access(&infos));
        }
        let mut dg14 = Vec::new();
        if let Some((cipher, id)) = self.chip_authentication {
            let d = StandardDomain::from_parameter_id(id).map_err(|e| PersonalizeError::Security(e.to_string()))?;
            let domain = Domain::standard(d);
            let pair = domain.generate(&mut rng).map_err(|e| PersonalizeError::Security(e.to_string()))?;
            let spki = domain.spki_der(pair.public()).map_err(|e| PersonalizeError::Security(e.to_string()))?;
            let agreement = if d.is_ec() { KeyAgreement::Ecdh } else { KeyAgreement::Dh };
            dg14.push(SecurityInfo::ChipAuthentication(ChipAuthenticationInfo { agreement, cipher: Some(cipher), version: 1, key_id: None }));
            dg14.push(SecurityInfo::ChipAuthenticationPublicKey(ChipAuthenticationPublicKeyInfo { agreement, spki_der: spki, key_id: None }));
            secrets.ca_private_key = Some(hex::encode_upper(pair.private_bytes()));
        }
        if let Some(aa) = &self.active_authentication {
            let key = match aa {
                AaKey::Rsa(bits) => AaPrivateKey::generate_rsa(*bits),
                AaKey::Ec(curve) => AaPrivateKey::generate_ec(curve),
            }
            .map_err(|e| PersonalizeError::Security(e.to_string()))?;
            if let Some(oid) = key.ecdsa_hash_oid() {
                dg14.push(SecurityInfo::ActiveAuthentication(ActiveAuthenticationInfo { version: 1, signature_algorithm: oid.to_string() }));
            }
            image.insert(FileId::Dg15, lds::encode_dg15(&key.spki_der()));
            let der = key.to_pkcs8_der().map_err(|e| PersonalizeError::Security(e.to_string()))?;
            secrets.aa_private_key = Some(hex::encode_upper(der));
        }
        if !dg14.is_empty() {
            image.insert(FileId::Dg14, lds::encode_dg14(&SecurityInfos { infos: dg14 }));
        }
        Ok(secrets)
    }
}

/// Seeded randomness for key generation (test chips are reproducible).
struct SeededRng(ChaCha20Rng);

impl Randomness for SeededRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// Write EF.COM (listing the data groups present) and EF.SOD (SHA-256 over every data group).
pub fn sign(image: &mut ChipImage, pki: &TestPki, signing_time: OffsetDateTime) {
    let dgs: Vec<FileId> = image.files.keys().copied().filter(|f| f.dg_number().is_some()).collect();
    image.insert(FileId::Com, lds::encode_com(&dgs));
    let hashed: Vec<(u8, &[u8])> = image
        .files
        .iter()
        .filter_map(|(id, bytes)| id.dg_number().map(|n| (n, bytes.as_slice())))
        .collect();
    let sod = pki.sign_sod(DigestAlg::Sha256, &hashed, signing_time);
    image.insert(FileId::Sod, sod);
}
