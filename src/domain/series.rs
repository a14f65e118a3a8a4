//! Daily statistics series: the rows the charts, tables and CSV downloads show, and the
//! seats a set of keys owned on each day, computed from their grants.
use super::days::{Day, DayRange};
use super::model::Key;
use std::collections::BTreeMap;

/// One day of one feature.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SeriesRow {
    pub day: Day,
    pub feature: u32,
    /// Granted captures.
    pub captures: u64,
    /// Refused captures.
    pub denials: u64,
    /// Most seats in use at once. Summed over keys (each key's own daily peak), so
    /// for several keys it is an upper bound: their peaks need not have coincided.
    pub peak: u64,
    /// Seats the keys owned that day (grants added by the day's end and not expired
    /// by its start); `None` where it is not computed (the all-clients series).
    pub seats_owned: Option<u64>,
}

/// The day range of a grant's validity clipped to `range`, if any of it falls inside.
fn grant_days(
    added_at: time::OffsetDateTime,
    expires_at: Option<time::OffsetDateTime>,
    range: DayRange,
) -> Option<DayRange> {
    let first = Day::of(added_at).max(range.from);
    let last = match expires_at {
        None => range.to,
        // The grant counts on a day when it expires after the day's start.
        Some(e) => {
            let d = Day::of(e);
            let last = if e == d.start() { d.plus(-1) } else { d };
            last.min(range.to)
        }
    };
    (first <= last).then_some(DayRange {
        from: first,
        to: last,
    })
}

/// Seats owned per (day, feature) across `keys` over `range`; only features some grant
/// of which falls in the range appear, and only on days they are owned.
pub fn seats_owned(keys: &[Key], range: DayRange) -> BTreeMap<(Day, u32), u64> {
    let mut out = BTreeMap::new();
    for k in keys {
        for g in &k.grants {
            if let Some(r) = grant_days(g.added_at, g.expires_at, range) {
                for d in r.days() {
                    *out.entry((d, g.feature)).or_insert(0) += u64::from(g.seats);
                }
            }
        }
    }
    out
}

/// The series as CSV: a header, then one line per row (`seats_owned` empty when not
/// computed).
pub fn series_csv(rows: &[SeriesRow]) -> String {
    let mut s = String::from("day,feature,captures,denials,peak,seats_owned\n");
    for r in rows {
        use std::fmt::Write;
        let owned = r.seats_owned.map(|o| o.to_string()).unwrap_or_default();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{}",
            r.day, r.feature, r.captures, r.denials, r.peak, owned
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Grant, GrantSource};
    use time::macros::datetime;

    fn grant(
        feature: u32,
        seats: u32,
        added: time::OffsetDateTime,
        exp: Option<time::OffsetDateTime>,
    ) -> Grant {
        Grant {
            id: 0,
            product: "p".into(),
            feature,
            seats,
            expires_at: exp,
            trial: false,
            source: GrantSource::Manual,
            added_at: added,
        }
    }

    fn key(grants: Vec<Grant>) -> Key {
        Key {
            regnum: "K".into(),
            client_id: 1,
            blocked: false,
            created_at: datetime!(2026-01-01 0:00 UTC),
            grants,
            trials: vec![],
            next_grant: 0,
        }
    }

    #[test]
    fn seats_count_from_the_day_added_until_the_day_they_expire() {
        let d = |s: &str| Day::parse(s).expect("day");
        let range = DayRange {
            from: d("2026-03-01"),
            to: d("2026-03-10"),
        };
        let keys = vec![
            key(vec![
                // Added mid-day on the 3rd: counts from the 3rd.
                grant(7, 5, datetime!(2026-03-03 15:00 UTC), None),
                // Expires mid-day on the 5th: counts up to the 5th.
                grant(
                    7,
                    2,
                    datetime!(2025-01-01 0:00 UTC),
                    Some(datetime!(2026-03-05 12:00 UTC)),
                ),
                // Expires at midnight starting the 8th: the 8th is not counted.
                grant(
                    8,
                    1,
                    datetime!(2025-01-01 0:00 UTC),
                    Some(datetime!(2026-03-08 0:00 UTC)),
                ),
                // Wholly before the range.
                grant(
                    9,
                    1,
                    datetime!(2025-01-01 0:00 UTC),
                    Some(datetime!(2026-02-01 0:00 UTC)),
                ),
            ]),
            key(vec![grant(7, 10, datetime!(2026-03-09 0:00 UTC), None)]),
        ];
        let o = seats_owned(&keys, range);
        let at = |day: &str, f: u32| o.get(&(d(day), f)).copied();
        assert_eq!(at("2026-03-01", 7), Some(2));
        assert_eq!(at("2026-03-03", 7), Some(7));
        assert_eq!(at("2026-03-05", 7), Some(7));
        assert_eq!(at("2026-03-06", 7), Some(5));
        assert_eq!(at("2026-03-09", 7), Some(15));
        assert_eq!(at("2026-03-07", 8), Some(1));
        assert_eq!(at("2026-03-08", 8), None);
        assert!(o.keys().all(|(_, f)| *f != 9));
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let day = Day::parse("2026-03-01").expect("day");
        let rows = vec![
            SeriesRow {
                day,
                feature: 7,
                captures: 3,
                denials: 1,
                peak: 2,
                seats_owned: Some(5),
            },
            SeriesRow {
                day: day.plus(1),
                feature: 7,
                captures: 0,
                denials: 0,
                peak: 0,
                seats_owned: None,
            },
        ];
        assert_eq!(
            series_csv(&rows),
            "day,feature,captures,denials,peak,seats_owned\n2026-03-01,7,3,1,2,5\n2026-03-02,7,0,0,0,\n"
        );
    }
}
