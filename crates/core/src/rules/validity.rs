//! Cause-4 rules on the validity period (Resident Identity Card Law art. 5): the start is not
//! before the acceptance date, and the end follows from the age on the start date (under 16: 5
//! years, 16–25: 10, 26–45: 20, 46 and over: long-term), keeping month and day (29 February ->
//! 1 March in a non-leap year). A person is N years old from their Nth birthday on (born on
//! 29 February: from 1 March in a non-leap year). Also the date arithmetic the fixture generator
//! uses to produce valid records.

use time::{Date, Month};

use crate::model::{iso_date, AcceptanceRecord, ValidUntil};
use crate::verdict::{Cause, Finding, Sources};

/// `d` moved `years` years on, same month and day; 29 February becomes 1 March in a non-leap
/// year. None outside the representable range.
pub fn anniversary(d: Date, years: i32) -> Option<Date> {
    let year = d.year().checked_add(years)?;
    if d.month() == Month::February && d.day() == 29 && !time::util::is_leap_year(year) {
        return Date::from_calendar_date(year, Month::March, 1).ok();
    }
    Date::from_calendar_date(year, d.month(), d.day()).ok()
}

/// Age in whole years on `date` (0 before birth).
pub fn age_on(birth: Date, date: Date) -> u32 {
    if date <= birth {
        return 0;
    }
    let years = date.year() - birth.year();
    let reached = anniversary(birth, years).is_some_and(|b| date >= b);
    let age = if reached { years } else { years - 1 };
    u32::try_from(age).unwrap_or(0)
}

/// Validity length in years for an age on the start date; None = long-term.
pub fn validity_years(age: u32) -> Option<i32> {
    match age {
        0..=15 => Some(5),
        16..=25 => Some(10),
        26..=45 => Some(20),
        _ => None,
    }
}

/// The end of validity that the law gives; None when the end date is not representable.
pub fn try_expected_until(birth: Date, valid_from: Date) -> Option<ValidUntil> {
    match validity_years(age_on(birth, valid_from)) {
        Some(n) => anniversary(valid_from, n).map(ValidUntil::Date),
        None => Some(ValidUntil::LongTerm),
    }
}

/// The end of validity that the law gives (saturating at the last representable date, which
/// only a start in year 9980 or later reaches).
pub fn expected_until(birth: Date, valid_from: Date) -> ValidUntil {
    try_expected_until(birth, valid_from).unwrap_or(ValidUntil::Date(Date::MAX))
}

fn length_words(age: u32) -> String {
    match validity_years(age) {
        Some(n) => format!("{n} years"),
        None => "long-term".into(),
    }
}

fn finding(
    item: &str,
    detail: String,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> Finding {
    Finding::new(Cause::AcceptanceIncorrect, item, Sources::A, detail).values(expected, actual)
}

/// Judge the validity period of a record.
pub fn check(record: &AcceptanceRecord) -> Vec<Finding> {
    check_period(
        record.birth_date,
        record.accepted_on,
        record.valid_from,
        record.valid_until,
    )
}

/// Judge a validity period given the birth date and the acceptance date.
pub fn check_period(
    birth: Date,
    accepted_on: Date,
    valid_from: Date,
    valid_until: ValidUntil,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if valid_from < accepted_on {
        out.push(finding(
            "valid_from",
            format!(
                "valid_from {} is before the acceptance date {}",
                iso_date(valid_from),
                iso_date(accepted_on)
            ),
            format!("{} or later", iso_date(accepted_on)),
            iso_date(valid_from),
        ));
    }
    if valid_from < birth {
        out.push(finding(
            "valid_from",
            format!(
                "valid_from {} is before the birth date {}",
                iso_date(valid_from),
                iso_date(birth)
            ),
            format!("{} or later", iso_date(birth)),
            iso_date(valid_from),
        ));
    }
    let age = age_on(birth, valid_from);
    match try_expected_until(birth, valid_from) {
        Some(expected) if expected == valid_until => {}
        Some(expected) => out.push(finding(
            "valid_until",
            format!(
                "age {age} on valid_from {}: validity {}, expected end {expected}, the record has {valid_until}",
                iso_date(valid_from),
                length_words(age)
            ),
            expected.to_string(),
            valid_until.to_string(),
        )),
        None => out.push(finding(
            "valid_until",
            format!("age {age} on valid_from {}: the end of validity is past the last representable date", iso_date(valid_from)),
            length_words(age),
            valid_until.to_string(),
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Date {
        crate::records::parse_date(s).expect("test date")
    }

    #[test]
    fn age_table() {
        let cases = [
            ("1986-09-11", "2011-03-03", 24),
            ("1986-09-11", "2011-09-10", 24),
            ("1986-09-11", "2011-09-11", 25),
            ("1986-09-11", "1986-09-11", 0),
            ("1986-09-11", "1980-01-01", 0),
            ("1986-09-11", "1987-09-10", 0),
            ("1986-09-11", "1987-09-11", 1),
            // Born 29 February: N years old on 1 March of a non-leap year, 29 Feb of a leap year.
            ("2000-02-29", "2001-02-28", 0),
            ("2000-02-29", "2001-03-01", 1),
            ("2000-02-29", "2004-02-28", 3),
            ("2000-02-29", "2004-02-29", 4),
            ("2000-02-29", "2016-02-28", 15),
            ("2000-02-29", "2016-02-29", 16),
            ("2000-02-29", "2018-02-28", 17),
            ("2000-02-29", "2018-03-01", 18),
            ("1996-02-29", "2100-02-28", 103),
            ("1996-02-29", "2100-03-01", 104),
            // Born 1 March: not affected by leap years.
            ("2000-03-01", "2016-02-29", 15),
            ("2000-03-01", "2016-03-01", 16),
            ("1999-12-31", "2015-12-30", 15),
            ("1999-12-31", "2015-12-31", 16),
        ];
        for (b, on, age) in cases {
            assert_eq!(age_on(d(b), d(on)), age, "born {b}, on {on}");
        }
    }

    #[test]
    fn expected_end_table() {
        let lt = ValidUntil::LongTerm;
        let dt = |s| ValidUntil::Date(d(s));
        let cases = [
            // (birth, valid_from, expected end)
            ("1986-09-11", "2011-03-03", dt("2021-03-03")), // age 24: 10 years (the published dump)
            ("2002-01-13", "2024-04-08", dt("2034-04-08")), // the sample: age 22
            ("2010-05-05", "2025-05-04", dt("2030-05-04")), // 14: 5 years
            ("2010-05-05", "2026-05-04", dt("2031-05-04")), // 15 the day before the 16th birthday
            ("2010-05-05", "2026-05-05", dt("2036-05-05")), // 16 on the birthday: 10 years
            ("2000-05-05", "2026-05-04", dt("2036-05-04")), // 25: 10 years
            ("2000-05-05", "2026-05-05", dt("2046-05-05")), // 26: 20 years
            ("1980-05-05", "2026-05-04", dt("2046-05-04")), // 45: 20 years
            ("1980-05-05", "2026-05-05", lt),               // 46: long-term
            ("1949-12-31", "2011-03-03", lt),
            // Start on 29 February: the end keeps the day, or 1 March in a non-leap year.
            ("1990-01-01", "2024-02-29", dt("2044-02-29")),
            ("2050-01-01", "2080-02-29", dt("2100-03-01")), // 2100 is not a leap year
            ("2010-01-01", "2024-02-29", dt("2029-03-01")),
            ("2000-01-01", "2024-02-29", dt("2034-03-01")),
            ("1990-01-01", "2028-02-29", dt("2048-02-29")),
            // Born 29 February: 16 only on 1 March of a non-leap year.
            ("2004-02-29", "2020-02-28", dt("2025-02-28")),
            ("2004-02-29", "2020-02-29", dt("2030-03-01")),
            ("2003-03-01", "2019-02-28", dt("2024-02-28")),
            ("2001-03-01", "2017-03-01", dt("2027-03-01")),
        ];
        for (b, from, end) in cases {
            assert_eq!(expected_until(d(b), d(from)), end, "born {b}, from {from}");
            let f = check_period(d(b), d(from), d(from), end);
            assert!(f.is_empty(), "born {b}, from {from}: {f:?}");
        }
    }

    #[test]
    fn born_29_feb_turns_16_on_1_march_in_non_leap_year() {
        let b = d("2000-02-29");
        assert_eq!(
            expected_until(b, d("2016-02-28")),
            ValidUntil::Date(d("2021-02-28")),
            "15: 5 years"
        );
        assert_eq!(
            expected_until(b, d("2016-02-29")),
            ValidUntil::Date(d("2026-03-01")),
            "16: 10 years, 29 Feb -> 1 Mar"
        );
        let b = d("1996-02-29");
        assert_eq!(age_on(b, d("2012-02-28")), 15);
        assert_eq!(age_on(b, d("2012-02-29")), 16);
        assert_eq!(age_on(b, d("2013-02-28")), 16);
        let b = d("1997-02-28");
        assert_eq!(age_on(b, d("2013-02-27")), 15);
        assert_eq!(age_on(b, d("2013-02-28")), 16);
    }

    #[test]
    fn findings_name_age_and_expected_end() {
        let f = check_period(
            d("1986-09-11"),
            d("2011-02-24"),
            d("2011-03-03"),
            ValidUntil::Date(d("2031-03-03")),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (
                f[0].item.as_str(),
                f[0].expected.as_deref(),
                f[0].actual.as_deref()
            ),
            ("valid_until", Some("2021-03-03"), Some("2031-03-03"))
        );
        assert!(
            f[0].detail.contains("age 24")
                && f[0].detail.contains("2021-03-03")
                && f[0].detail.contains("10 years"),
            "{}",
            f[0].detail
        );
        assert_eq!(f[0].cause, Cause::AcceptanceIncorrect);

        let f = check_period(
            d("1950-01-01"),
            d("2011-02-24"),
            d("2011-03-03"),
            ValidUntil::Date(d("2031-03-03")),
        );
        assert_eq!(f[0].expected.as_deref(), Some("long-term"));
        assert!(f[0].detail.contains("age 61"), "{}", f[0].detail);

        let f = check_period(
            d("1986-09-11"),
            d("2011-03-04"),
            d("2011-03-03"),
            ValidUntil::Date(d("2021-03-03")),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].item.as_str(), f[0].expected.as_deref()),
            ("valid_from", Some("2011-03-04 or later"))
        );

        let f = check_period(
            d("2011-09-11"),
            d("2011-03-03"),
            d("2011-03-03"),
            ValidUntil::Date(d("2016-03-03")),
        );
        assert_eq!(f.len(), 1, "valid_from before birth: {f:?}");
        assert!(f[0].detail.contains("birth date"));

        // 29 Feb not mapped: a record ending on 29 Feb of a non-leap year cannot exist; ending on
        // 28 Feb is reported with the 1 March end.
        let f = check_period(
            d("2050-01-01"),
            d("2080-02-29"),
            d("2080-02-29"),
            ValidUntil::Date(d("2100-02-28")),
        );
        assert_eq!(f[0].expected.as_deref(), Some("2100-03-01"));
    }

    #[test]
    fn exhaustive_birthdays_in_leap_cycles() {
        // Every birth date of 1999-2001 (1999-03-01 .. 2001-03-01 includes 29 Feb 2000), every age 1..=50:
        // the age changes exactly on the (mapped) birthday.
        let mut b = d("1999-01-01");
        let end = d("2001-12-31");
        while b <= end {
            for n in 1..=50 {
                let day = anniversary(b, n).expect("representable");
                assert_eq!(
                    age_on(b, day),
                    n as u32,
                    "born {}, {n}th birthday {}",
                    iso_date(b),
                    iso_date(day)
                );
                let before = day.previous_day().expect("representable");
                assert_eq!(
                    age_on(b, before),
                    n as u32 - 1,
                    "born {}, day before {}",
                    iso_date(b),
                    iso_date(day)
                );
                if b.month() == Month::February
                    && b.day() == 29
                    && !time::util::is_leap_year(b.year() + n)
                {
                    assert_eq!((day.month(), day.day()), (Month::March, 1));
                } else {
                    assert_eq!((day.month(), day.day()), (b.month(), b.day()));
                }
            }
            b = b.next_day().expect("representable");
        }
    }

    #[test]
    fn exhaustive_validity_lengths() {
        // For each start day over two leap cycles and each age band boundary, the end is the
        // start moved on by the band's years.
        let birth = d("1980-02-29");
        let mut from = d("1995-01-01");
        while from <= d("2031-12-31") {
            let age = age_on(birth, from);
            let end = expected_until(birth, from);
            match validity_years(age) {
                Some(n) => {
                    let ValidUntil::Date(e) = end else {
                        panic!("dated end expected at age {age}")
                    };
                    assert_eq!(
                        age_on(from, e),
                        n as u32,
                        "from {}: end {}",
                        iso_date(from),
                        iso_date(e)
                    );
                    assert!(e.day() == from.day() || (from.day() == 29 && e.day() == 1));
                }
                None => assert_eq!(end, ValidUntil::LongTerm),
            }
            from = from.next_day().expect("representable");
        }
    }

    proptest! {
        #[test]
        fn never_panics(bj in -700_000i32..3_000_000, fj in -700_000i32..3_000_000, aj in -700_000i32..3_000_000) {
            let to = |j| Date::from_julian_day(j).unwrap_or(Date::MIN);
            let _ = check_period(to(bj), to(aj), to(fj), ValidUntil::LongTerm);
            let _ = expected_until(to(bj), Date::MAX);
        }
    }
}
