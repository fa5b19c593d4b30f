//! Reading one card at a named PC/SC reader, as the CLI (`idcheck read`, `verify --reader`) and
//! the daemon do it: the BAC key derived from the acceptance record's MRZ data, a bounded
//! connection (`pcsc_transport`), the whole read with reconnects (`chip::read`). Owns nothing
//! else: it only wires the two layers together, so both callers read cards the same way.

use std::time::Duration;

use idcheck_chip::read::{AccessPolicy, ChipReader, ReadOptions, ReadOutcome};
use idcheck_chip::bac::BacError;
use idcheck_chip::{BacKey, ReadFailure, ReadStep};
use idcheck_core::lds::{LdsError, Mrz};
use idcheck_core::model::{AcceptanceRecord, ValidUntil};
use crate::{ConnectOptions, PcscCard, PcscError};

/// How one read is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveReadOptions {
    /// Bound on one APDU exchange (a mute card never hangs the caller).
    pub exchange_timeout: Duration,
    /// How long to wait for a card to be placed when none is there.
    pub wait_for_card: Duration,
    /// Whole-read attempts when the card leaves the field mid-read.
    pub attempts: u32,
    /// PACE when offered, BAC only, PACE only.
    pub access: AccessPolicy,
}

impl Default for LiveReadOptions {
    fn default() -> Self {
        LiveReadOptions { exchange_timeout: Duration::from_secs(3), wait_for_card: Duration::ZERO, attempts: 3, access: AccessPolicy::Auto }
    }
}

/// The BAC key of the card made for this record (its MRZ data: document number, birth, expiry).
pub fn bac_key(record: &AcceptanceRecord) -> Result<BacKey, KeyError> {
    let expiry = match record.valid_until {
        ValidUntil::Date(d) => Some(d),
        ValidUntil::LongTerm => None,
    };
    let sex = if record.sex == "2" { 'F' } else { 'M' };
    let mrz = Mrz::resident(&record.id_number, record.birth_date, sex, expiry, "X<<X")?;
    Ok(BacKey::from_mrz(&mrz)?)
}

/// Why a record gives no BAC key (its data cannot form an MRZ).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the record's data forms no MRZ: {0}")]
    Mrz(#[from] LdsError),
    #[error("the record's MRZ gives no BAC key: {0}")]
    Bac(#[from] BacError),
}

/// The reader a name designates: `Some(part)` must name one reader uniquely; `None` is the first
/// reader holding a card.
pub fn pick_reader(wanted: Option<&str>) -> Result<String, PcscError> {
    match wanted {
        Some(r) => crate::resolve_reader(r),
        None => crate::list_readers().and_then(|l| {
            l.into_iter().find(|r| r.card_present).map(|r| r.name).ok_or(PcscError::UnknownReader {
                reader: "(any reader with a card)".into(),
                available: Vec::new(),
            })
        }),
    }
}

/// Connects to `reader` (its exact name) and reads the chip: PACE with the CAN when one is given,
/// else with the MRZ, when the chip offers PACE; BAC otherwise (as `opts.access` allows).
/// `Err(ReadFailure)` carries the step for the verdict (`verify::failures` classifies it).
pub fn read_card(reader: &str, key: &BacKey, can: Option<&str>, opts: LiveReadOptions) -> Result<ReadOutcome, ReadFailure> {
    let copts = ConnectOptions {
        exchange_timeout: opts.exchange_timeout,
        wait_for_card: opts.wait_for_card,
        ..ConnectOptions::default()
    };
    let mut card = PcscCard::connect(reader, copts).map_err(|e| ReadFailure::from_transport(ReadStep::Connect, &e.into()))?;
    let mut chip_reader = ChipReader::new(key, ReadOptions { access: opts.access, ..ReadOptions::default() });
    if let Some(can) = can {
        chip_reader = chip_reader.with_can(can);
    }
    let out = chip_reader.read_with_reconnect(&mut card, opts.attempts.max(1));
    let _ = card.disconnect(false);
    out
}
