//! DG1 (tag 61 / 5F1F): the machine readable zone. Parses TD1 (3 x 30, resident cards and ID
//! cards), TD2 (2 x 36) and TD3 (2 x 44, passports), verifies every check digit (ICAO 9303
//! Part 3, weights 7 3 1, including the composite), and writes the resident card's TD1.

use std::fmt;

use time::Date;

use super::{field_err, tlv_err, FileId, LdsError};
use crate::tlv;

const F: FileId = FileId::Dg1;

/// The MRZ layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MrzFormat {
    /// 3 lines of 30 characters (ID cards, the resident card).
    Td1,
    /// 2 lines of 36 characters.
    Td2,
    /// 2 lines of 44 characters (passports).
    Td3,
}

impl MrzFormat {
    /// Total characters of the MRZ.
    pub fn total_chars(self) -> usize {
        match self {
            MrzFormat::Td1 => 90,
            MrzFormat::Td2 => 72,
            MrzFormat::Td3 => 88,
        }
    }

    /// Characters per line.
    pub fn line_len(self) -> usize {
        match self {
            MrzFormat::Td1 => 30,
            MrzFormat::Td2 => 36,
            MrzFormat::Td3 => 44,
        }
    }

    fn from_len(n: usize) -> Option<MrzFormat> {
        [MrzFormat::Td1, MrzFormat::Td2, MrzFormat::Td3].into_iter().find(|f| f.total_chars() == n)
    }
}

/// A parsed MRZ. Text fields have their trailing `<` fillers removed (inner fillers stay, as in
/// `YIN<<SI`); `birth` and `expiry` are the six characters as written (YYMMDD).
#[derive(Clone, PartialEq, Eq)]
pub struct Mrz {
    pub format: MrzFormat,
    /// `I` for the resident card (`I<` in the MRZ), `P` for a passport.
    pub document_code: String,
    pub issuing_state: String,
    /// The (first nine characters of the) document number.
    pub document_number: String,
    /// TD1: optional data of line 1 (the first 15 characters of the citizen ID number);
    /// TD3: the personal number; TD2: the optional data.
    pub optional1: String,
    /// YYMMDD.
    pub birth: String,
    /// `M`, `F`, `<` (or `X`).
    pub sex: char,
    /// YYMMDD; `991231` for a long-term resident card.
    pub expiry: String,
    pub nationality: String,
    /// TD1 only: optional data of line 2 (the last 3 characters of the citizen ID number).
    pub optional2: String,
    /// `SURNAME<<GIVEN<NAMES`, trailing fillers removed.
    pub name_latin: String,
}

impl fmt::Debug for Mrz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: only the document type is shown.
        f.debug_struct("Mrz")
            .field("format", &self.format)
            .field("document_code", &self.document_code)
            .field("issuing_state", &self.issuing_state)
            .field("personal_fields", &"REDACTED")
            .finish()
    }
}

/// Numeric value of an MRZ character: digits 0-9, `A`-`Z` 10-35, `<` 0.
fn char_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as u32),
        b'A'..=b'Z' => Some((c - b'A') as u32 + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// ICAO 9303 Part 3 check digit of `field` (weights 7, 3, 1 repeating; `<` counts 0, `A`-`Z`
/// 10-35). `None` when the field holds a character outside the MRZ set.
pub fn check_digit(field: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, b) in field.bytes().enumerate() {
        let w = [7, 3, 1][i % 3];
        sum += w * char_value(b)?;
    }
    char::from_digit(sum % 10, 10)
}

/// `field` cut or `<`-padded to `width`; characters outside the MRZ set become `<`, so the result
/// is always `width` ASCII bytes.
fn pad(field: &str, width: usize) -> String {
    let mut s: String =
        field.chars().take(width).map(|c| if c.is_ascii_digit() || c.is_ascii_uppercase() { c } else { '<' }).collect();
    while s.chars().count() < width {
        s.push('<');
    }
    s
}

fn sub(s: &str, from: usize, to: usize) -> &str {
    s.get(from..to).unwrap_or("")
}

fn trim_fill(s: &str) -> String {
    s.trim_end_matches('<').to_string()
}

fn yymmdd(d: Date) -> String {
    format!("{:02}{:02}{:02}", d.year().rem_euclid(100), u8::from(d.month()), d.day())
}

impl Mrz {
    /// The MRZ of a resident card (chip-profile.md): document number = last 9 characters of the
    /// citizen ID number, optional data = its first 15 and last 3 characters; `expiry` `None`
    /// means a long-term card (`991231`). `name_latin` is the ICAO form `SURNAME<<GIVEN`.
    pub fn resident(id_number: &str, birth: Date, sex: char, expiry: Option<Date>, name_latin: &str) -> Result<Mrz, LdsError> {
        if id_number.len() != 18 || !id_number.bytes().all(|b| b.is_ascii_digit() || b == b'X') {
            return Err(field_err(F, "citizen id number", None, format!("expected 18 characters 0-9 or X, found {} characters", id_number.chars().count())));
        }
        if !matches!(sex, 'M' | 'F' | '<') {
            return Err(field_err(F, "sex", None, format!("expected M, F or <, found {sex:?}")));
        }
        if name_latin.is_empty() || name_latin.len() > 30 || !name_latin.bytes().all(|b| b.is_ascii_uppercase() || b == b'<') {
            return Err(field_err(F, "name", None, "expected 1 to 30 characters A-Z or <"));
        }
        let (Some(first15), Some(last9), Some(last3)) = (id_number.get(..15), id_number.get(9..), id_number.get(15..)) else {
            return Err(field_err(F, "citizen id number", None, "not 18 ASCII characters"));
        };
        Ok(Mrz {
            format: MrzFormat::Td1,
            document_code: "I".to_string(),
            issuing_state: "CHN".to_string(),
            document_number: last9.to_string(),
            optional1: first15.to_string(),
            birth: yymmdd(birth),
            sex,
            expiry: expiry.map(yymmdd).unwrap_or_else(|| "991231".to_string()),
            nationality: "CHN".to_string(),
            optional2: last3.to_string(),
            name_latin: trim_fill(name_latin),
        })
    }

    /// The citizen ID number carried by a resident card's MRZ: the first 15 characters of the
    /// line-1 optional data followed by the first 3 of the line-2 optional data (fewer when the
    /// fields are shorter, as on other documents).
    pub fn citizen_id(&self) -> String {
        let a: String = self.optional1.chars().take(15).collect();
        let b: String = self.optional2.chars().take(3).collect();
        a + &b
    }

    /// The MRZ information used to derive the BAC keys: document number (9, padded) + check
    /// digit + birth + check digit + expiry + check digit.
    pub fn mrz_information(&self) -> String {
        let doc = pad(&self.document_number, 9);
        let birth = pad(&self.birth, 6);
        let expiry = pad(&self.expiry, 6);
        let cd = |s: &str| check_digit(s).unwrap_or('<');
        format!("{doc}{}{birth}{}{expiry}{}", cd(&doc), cd(&birth), cd(&expiry))
    }

    /// The MRZ lines, check digits computed. Fields are padded with `<` (or cut) to their widths.
    pub fn lines(&self) -> Vec<String> {
        let cd = |s: &str| check_digit(s).unwrap_or('<');
        let sex = if self.sex.is_ascii_uppercase() || self.sex == '<' { self.sex } else { '<' };
        let code = pad(&self.document_code, 2);
        let state = pad(&self.issuing_state, 3);
        let nat = pad(&self.nationality, 3);
        let doc = pad(&self.document_number, 9);
        let birth = pad(&self.birth, 6);
        let expiry = pad(&self.expiry, 6);
        match self.format {
            MrzFormat::Td1 => {
                let opt1 = pad(&self.optional1, 15);
                let opt2 = pad(&self.optional2, 11);
                let l1 = format!("{code}{state}{doc}{}{opt1}", cd(&doc));
                let head = format!("{birth}{}{sex}{expiry}{}{nat}{opt2}", cd(&birth), cd(&expiry));
                let composite = format!("{}{}{}{}", sub(&l1, 5, 30), sub(&head, 0, 7), sub(&head, 8, 15), sub(&head, 18, 29));
                let l2 = format!("{head}{}", cd(&composite));
                vec![l1, l2, pad(&self.name_latin, 30)]
            }
            MrzFormat::Td2 => {
                let opt = pad(&self.optional1, 7);
                let l1 = format!("{code}{state}{}", pad(&self.name_latin, 31));
                let head = format!("{doc}{}{nat}{birth}{}{sex}{expiry}{}{opt}", cd(&doc), cd(&birth), cd(&expiry));
                let composite = format!("{}{}{}", sub(&head, 0, 10), sub(&head, 13, 20), sub(&head, 21, 35));
                let l2 = format!("{head}{}", cd(&composite));
                vec![l1, l2]
            }
            MrzFormat::Td3 => {
                let pn = pad(&self.optional1, 14);
                let pn_cd = if self.optional1.is_empty() { '<' } else { cd(&pn) };
                let l1 = format!("{code}{state}{}", pad(&self.name_latin, 39));
                let head = format!("{doc}{}{nat}{birth}{}{sex}{expiry}{}{pn}{pn_cd}", cd(&doc), cd(&birth), cd(&expiry));
                let composite = format!("{}{}{}", sub(&head, 0, 10), sub(&head, 13, 20), sub(&head, 21, 43));
                let l2 = format!("{head}{}", cd(&composite));
                vec![l1, l2]
            }
        }
    }
}

/// DG1 holding `mrz`.
pub fn encode_dg1(mrz: &Mrz) -> Vec<u8> {
    let text: String = mrz.lines().concat();
    tlv::encode(0x61, &tlv::encode(0x5F1F, text.as_bytes()))
}

/// Parse DG1 and verify every check digit.
pub fn parse_dg1(bytes: &[u8]) -> Result<Mrz, LdsError> {
    let top = tlv::parse_single(bytes, 0x61).map_err(tlv_err(F))?;
    let mrz = tlv::require(&top, 0x5F1F).map_err(tlv_err(F))?;
    let base = mrz.value_offset;
    let v = mrz.value;
    let format = MrzFormat::from_len(v.len()).ok_or_else(|| {
        field_err(F, "MRZ (5F1F)", Some(base), format!("{} characters, expected 90 (TD1), 72 (TD2) or 88 (TD3)", v.len()))
    })?;
    if let Some(i) = v.iter().position(|&b| char_value(b).is_none()) {
        return Err(field_err(F, "MRZ (5F1F)", Some(base + i), format!("byte {:02X} is not an MRZ character (0-9, A-Z, <)", v[i])));
    }
    // From here on every byte is ASCII, so byte slicing of `s` is on character boundaries.
    let s: String = v.iter().map(|&b| b as char).collect();
    let p = Parser { s: &s, base };
    match format {
        MrzFormat::Td1 => p.td1(),
        MrzFormat::Td2 => p.td2(),
        MrzFormat::Td3 => p.td3(),
    }
}

struct Parser<'a> {
    s: &'a str,
    base: usize,
}

impl Parser<'_> {
    fn get(&self, from: usize, to: usize) -> &str {
        self.s.get(from..to).unwrap_or("")
    }

    fn at(&self, i: usize) -> char {
        self.s.as_bytes().get(i).map(|&b| b as char).unwrap_or('<')
    }

    /// Verify the check digit at `pos` over `data`.
    fn check(&self, field: &'static str, data: &str, pos: usize) -> Result<(), LdsError> {
        let expected = check_digit(data).unwrap_or('?');
        let found = self.at(pos);
        if found != expected {
            return Err(field_err(F, field, Some(self.base + pos), format!("check digit is {found:?}, expected {expected:?} for {data:?}")));
        }
        Ok(())
    }

    fn sex(&self, pos: usize) -> Result<char, LdsError> {
        let c = self.at(pos);
        if !matches!(c, 'M' | 'F' | '<' | 'X') {
            return Err(field_err(F, "sex", Some(self.base + pos), format!("expected M, F, X or <, found {c:?}")));
        }
        Ok(c)
    }

    fn td1(&self) -> Result<Mrz, LdsError> {
        // Document number: when longer than 9 characters, position 15 holds `<` and the number
        // continues in the optional data, its check digit last before the fillers.
        if self.at(14) == '<' && self.at(15) != '<' {
            let rest = self.get(15, 30).trim_end_matches('<');
            let (cont, cd_pos) = match rest.len().checked_sub(1) {
                Some(n) => (&rest[..n], 15 + n),
                None => ("", 15),
            };
            self.check("document number check digit", &format!("{}{cont}", self.get(5, 14)), cd_pos)?;
        } else {
            self.check("document number check digit", self.get(5, 14), 14)?;
        }
        self.check("birth date check digit", self.get(30, 36), 36)?;
        self.check("expiry date check digit", self.get(38, 44), 44)?;
        let composite = format!("{}{}{}{}", self.get(5, 30), self.get(30, 37), self.get(38, 45), self.get(48, 59));
        self.check("composite check digit", &composite, 59)?;
        Ok(Mrz {
            format: MrzFormat::Td1,
            document_code: trim_fill(self.get(0, 2)),
            issuing_state: trim_fill(self.get(2, 5)),
            document_number: trim_fill(self.get(5, 14)),
            optional1: trim_fill(self.get(15, 30)),
            birth: self.get(30, 36).to_string(),
            sex: self.sex(37)?,
            expiry: self.get(38, 44).to_string(),
            nationality: trim_fill(self.get(45, 48)),
            optional2: trim_fill(self.get(48, 59)),
            name_latin: trim_fill(self.get(60, 90)),
        })
    }

    fn td2(&self) -> Result<Mrz, LdsError> {
        self.check("document number check digit", self.get(36, 45), 45)?;
        self.check("birth date check digit", self.get(49, 55), 55)?;
        self.check("expiry date check digit", self.get(57, 63), 63)?;
        let composite = format!("{}{}{}", self.get(36, 46), self.get(49, 56), self.get(57, 71));
        self.check("composite check digit", &composite, 71)?;
        Ok(Mrz {
            format: MrzFormat::Td2,
            document_code: trim_fill(self.get(0, 2)),
            issuing_state: trim_fill(self.get(2, 5)),
            name_latin: trim_fill(self.get(5, 36)),
            document_number: trim_fill(self.get(36, 45)),
            nationality: trim_fill(self.get(46, 49)),
            birth: self.get(49, 55).to_string(),
            sex: self.sex(56)?,
            expiry: self.get(57, 63).to_string(),
            optional1: trim_fill(self.get(64, 71)),
            optional2: String::new(),
        })
    }

    fn td3(&self) -> Result<Mrz, LdsError> {
        self.check("document number check digit", self.get(44, 53), 53)?;
        self.check("birth date check digit", self.get(57, 63), 63)?;
        self.check("expiry date check digit", self.get(65, 71), 71)?;
        let pn = self.get(72, 86);
        // An all-filler personal number may carry `<` (or 0) as its check digit.
        if !(pn.bytes().all(|b| b == b'<') && self.at(86) == '<') {
            self.check("personal number check digit", pn, 86)?;
        }
        let composite = format!("{}{}{}", self.get(44, 54), self.get(57, 64), self.get(65, 87));
        self.check("composite check digit", &composite, 87)?;
        Ok(Mrz {
            format: MrzFormat::Td3,
            document_code: trim_fill(self.get(0, 2)),
            issuing_state: trim_fill(self.get(2, 5)),
            name_latin: trim_fill(self.get(5, 44)),
            document_number: trim_fill(self.get(44, 53)),
            nationality: trim_fill(self.get(54, 57)),
            birth: self.get(57, 63).to_string(),
            sex: self.sex(64)?,
            expiry: self.get(65, 71).to_string(),
            optional1: trim_fill(pn),
            optional2: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn dg1(text: &str) -> Vec<u8> {
        tlv::encode(0x61, &tlv::encode(0x5F1F, text.as_bytes()))
    }

    #[test]
    fn check_digits_icao_examples() {
        assert_eq!(check_digit("L898902C<"), Some('3'));
        assert_eq!(check_digit("690806"), Some('1'));
        assert_eq!(check_digit("940623"), Some('6'));
        assert_eq!(check_digit("D23145890"), Some('7'));
        assert_eq!(check_digit("740812"), Some('2'));
        assert_eq!(check_digit("120415"), Some('9'));
        assert_eq!(check_digit("<<<<<<"), Some('0'));
        assert_eq!(check_digit("abc"), None);
    }

    #[test]
    fn bac_mrz_information_of_the_icao_example() {
        let m = Mrz {
            format: MrzFormat::Td3,
            document_code: "P".into(),
            issuing_state: "UTO".into(),
            document_number: "L898902C".into(),
            optional1: String::new(),
            birth: "690806".into(),
            sex: 'F',
            expiry: "940623".into(),
            nationality: "UTO".into(),
            optional2: String::new(),
            name_latin: "ERIKSSON<<ANNA<MARIA".into(),
        };
        assert_eq!(m.mrz_information(), "L898902C<369080619406236");
    }

    #[test]
    fn icao_td1_example() {
        let text = "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        let m = parse_dg1(&dg1(text)).expect("ICAO TD1 specimen parses");
        assert_eq!(m.format, MrzFormat::Td1);
        assert_eq!(m.document_number, "D23145890");
        assert_eq!(m.birth, "740812");
        assert_eq!(m.sex, 'F');
        assert_eq!(m.expiry, "120415");
        assert_eq!(m.name_latin, "ERIKSSON<<ANNA<MARIA");
        assert_eq!(m.lines().concat(), text);
    }

    #[test]
    fn icao_td3_example() {
        let text = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10";
        let m = parse_dg1(&dg1(text)).expect("ICAO TD3 specimen parses");
        assert_eq!(m.format, MrzFormat::Td3);
        assert_eq!(m.document_number, "L898902C3");
        assert_eq!(m.optional1, "ZE184226B");
        assert_eq!(m.lines().concat(), text);
        assert_eq!(encode_dg1(&m), dg1(text));
    }

    #[test]
    fn icao_td2_example() {
        let text = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<D231458907UTO7408122F1204159<<<<<<<6";
        let m = parse_dg1(&dg1(text)).expect("ICAO TD2 specimen parses");
        assert_eq!(m.format, MrzFormat::Td2);
        assert_eq!(m.lines().concat(), text);
    }

    #[test]
    fn bad_check_digits_name_field_and_offset() {
        let good = "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        for (pos, field) in [
            (14, "document number check digit"),
            (36, "birth date check digit"),
            (44, "expiry date check digit"),
            (59, "composite check digit"),
        ] {
            let mut t = good.as_bytes().to_vec();
            t[pos] = if t[pos] == b'1' { b'2' } else { b'1' };
            let text = String::from_utf8(t).expect("ascii");
            match parse_dg1(&dg1(&text)) {
                Err(LdsError::Field { file: FileId::Dg1, field: f, offset: Some(o), .. }) => {
                    assert_eq!(f, field);
                    assert_eq!(o, 5 + pos, "offset of {field}");
                }
                other => panic!("{field}: unexpected {other:?}"),
            }
        }
        // A data character changed (the birth date) breaks its own check digit first.
        let mut t = good.as_bytes().to_vec();
        t[31] = b'5';
        let text = String::from_utf8(t).expect("ascii");
        assert!(matches!(parse_dg1(&dg1(&text)), Err(LdsError::Field { field: "birth date check digit", .. })));
    }

    #[test]
    fn wrong_shapes() {
        assert!(matches!(parse_dg1(&dg1("I<UTO")), Err(LdsError::Field { field: "MRZ (5F1F)", offset: Some(5), .. })));
        let lower = "i<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        assert!(matches!(parse_dg1(&dg1(lower)), Err(LdsError::Field { offset: Some(5), .. })));
        assert!(matches!(parse_dg1(&tlv::encode(0x62, b"x")), Err(LdsError::Tlv { file: FileId::Dg1, .. })));
        assert!(matches!(parse_dg1(&[0x61, 0x05, 0x5F, 0x1F]), Err(LdsError::Tlv { .. })));
    }

    #[test]
    fn resident_mrz_round_trips() {
        let m = Mrz::resident("13032319860911446X", date!(1986 - 09 - 11), 'F', Some(date!(2021 - 03 - 03)), "WANG<<MEINA")
            .expect("valid");
        let lines = m.lines();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() == 30));
        assert_eq!(lines[0], "I<CHN60911446X4130323198609114", "document number = last 9, optional = first 15");
        assert_eq!(&lines[1][15..29], "CHN46X<<<<<<<<", "optional data 2 = last 3");
        assert_eq!(m.citizen_id(), "13032319860911446X");
        let back = parse_dg1(&encode_dg1(&m)).expect("parses");
        assert_eq!(back, m);
        let long = Mrz::resident("11010519491231002X", date!(1949 - 12 - 31), 'M', None, "LI<<MING").expect("valid");
        assert_eq!(long.expiry, "991231");
        assert_eq!(parse_dg1(&encode_dg1(&long)).expect("parses"), long);
        assert!(Mrz::resident("1303231986091144", date!(1986 - 09 - 11), 'F', None, "A").is_err());
        assert!(Mrz::resident("13032319860911446X", date!(1986 - 09 - 11), 'Q', None, "A").is_err());
        assert!(Mrz::resident("13032319860911446X", date!(1986 - 09 - 11), 'F', None, "wang").is_err());
    }
}
