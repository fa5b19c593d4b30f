//! How verdict values are kept in SQL: a `Status` as its lower-case name, a batch item's status
//! likewise (or `error`), and a cause set as a JSON array of cause numbers (`[1,2]`, `[]`),
//! through `ToSql` / `FromSql`, read back strictly (a value that does not parse is a column
//! error naming it, never a silent default).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::de::DeserializeOwned;
use serde::Serialize;

use idcheck_core::qc::Carry;
use idcheck_core::verdict::{Cause, Status};

/// What became of one scanned card: its verdict's status, or `Error` (no verdict: no record for
/// the scan, no card, a read that could not start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Pass,
    Invalid,
    Unavailable,
    #[default]
    Error,
}

impl ItemStatus {
    pub const ALL: [ItemStatus; 4] = [ItemStatus::Pass, ItemStatus::Invalid, ItemStatus::Unavailable, ItemStatus::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pass => "pass",
            ItemStatus::Invalid => "invalid",
            ItemStatus::Unavailable => "unavailable",
            ItemStatus::Error => "error",
        }
    }
}

impl From<Status> for ItemStatus {
    fn from(s: Status) -> ItemStatus {
        match s {
            Status::Pass => ItemStatus::Pass,
            Status::Invalid => ItemStatus::Invalid,
            Status::Unavailable => ItemStatus::Unavailable,
        }
    }
}

impl std::fmt::Display for ItemStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ItemStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<ItemStatus, String> {
        ItemStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not pass, invalid, unavailable or error"))
    }
}

/// A `Status` column.
pub(crate) struct StatusSql(pub Status);

impl ToSql for StatusSql {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.as_str()))
    }
}

impl FromSql for StatusSql {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        v.as_str()?.parse().map(StatusSql).map_err(|e: String| FromSqlError::Other(e.into()))
    }
}

/// A batch item's status column.
pub(crate) struct ItemStatusSql(pub ItemStatus);

impl ToSql for ItemStatusSql {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.as_str()))
    }
}

impl FromSql for ItemStatusSql {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        v.as_str()?.parse().map(ItemStatusSql).map_err(|e: String| FromSqlError::Other(e.into()))
    }
}

/// A column that holds a value as JSON, read back strictly: a text that does not parse as `T`
/// is a column error naming the column and the shape it must have.
pub(crate) struct JsonSql<T>(pub T);

/// What a JSON column holds, for its read errors.
pub(crate) trait JsonColumn: Serialize + DeserializeOwned + Clone {
    const NAME: &'static str;
    const SHAPE: &'static str;
}

impl JsonColumn for Vec<Cause> {
    const NAME: &'static str = "causes";
    const SHAPE: &'static str = "a JSON array of 1..4";
}

impl JsonColumn for Vec<Carry> {
    const NAME: &'static str = "carries";
    const SHAPE: &'static str = "a JSON array of {record_id, by, score}";
}

/// A cause-set column: a JSON array of cause numbers.
pub(crate) type CausesSql = JsonSql<Vec<Cause>>;
/// A batch item's `carries` column: a JSON array of `{record_id, by, score}`.
pub(crate) type CarriesSql = JsonSql<Vec<Carry>>;

impl<T: JsonColumn> JsonSql<T> {
    pub(crate) fn of(value: &T) -> JsonSql<T> {
        JsonSql(value.clone())
    }
}

impl<T: JsonColumn> ToSql for JsonSql<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let text = serde_json::to_string(&self.0).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        Ok(ToSqlOutput::from(text))
    }
}

impl<T: JsonColumn> FromSql for JsonSql<T> {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = v.as_str()?;
        serde_json::from_str::<T>(text)
            .map(JsonSql)
            .map_err(|e| FromSqlError::Other(format!("{} `{text}` is not {}: {e}", T::NAME, T::SHAPE).into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_bad_ones_are_errors() {
        let c = Connection::open_in_memory().expect("db");
        let c = &c;
        let causes = vec![Cause::AcceptanceVsSurface, Cause::ChipUnreadable];
        let text: String = c.query_row("SELECT ?1", [CausesSql::of(&causes)], |r| r.get(0)).expect("text");
        assert_eq!(text, "[1,3]");
        let back: CausesSql = c.query_row("SELECT '[1,3]'", [], |r| r.get(0)).expect("causes");
        assert_eq!(back.0, causes);
        for bad in ["'1,3'", "'[5]'", "'[]x'"] {
            assert!(c.query_row(&format!("SELECT {bad}"), [], |r| r.get::<_, CausesSql>(0)).is_err(), "{bad}");
        }
        let s: StatusSql = c.query_row("SELECT ?1", [StatusSql(Status::Invalid)], |r| r.get(0)).expect("status");
        assert_eq!(s.0, Status::Invalid);
        assert!(c.query_row("SELECT 'passed'", [], |r| r.get::<_, StatusSql>(0)).is_err());
        let i: ItemStatusSql = c.query_row("SELECT 'error'", [], |r| r.get(0)).expect("item status");
        assert_eq!(i.0, ItemStatus::Error);
        let carries = vec![Carry { record_id: "r1".into(), by: idcheck_core::qc::CarryBy::Photo, score: 0.04 }];
        let back: CarriesSql = c.query_row("SELECT ?1", [CarriesSql::of(&carries)], |r| r.get(0)).expect("carries");
        assert_eq!(back.0, carries);
        for bad in ["'[{\"record_id\":\"r\",\"by\":\"face\",\"score\":1}]'", "'x'", "''"] {
            assert!(c.query_row(&format!("SELECT {bad}"), [], |r| r.get::<_, CarriesSql>(0)).is_err(), "{bad}");
        }
    }

    use rusqlite::Connection;
}
