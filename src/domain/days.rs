//! Calendar days as the statistics count them: whole UTC days, numbered from
//! 1970-01-01 (the numbering `usage::day_number` writes into `usage`).
use time::{Date, Month, OffsetDateTime};

/// A UTC day. Shown and serialised as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

/// Julian day number of 1970-01-01.
const EPOCH_JULIAN: i32 = 2_440_588;
/// The longest range a query takes (a little over the denials' retention).
pub const MAX_RANGE_DAYS: i32 = 1_000;

impl Day {
    pub fn of(t: OffsetDateTime) -> Day {
        Day(t.unix_timestamp().div_euclid(86_400) as i32)
    }

    pub fn number(self) -> i32 {
        self.0
    }

    /// Parses `YYYY-MM-DD` (surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Day> {
        let mut it = s.trim().splitn(3, '-');
        let y: i32 = it.next()?.parse().ok()?;
        let m: u8 = it.next()?.parse().ok()?;
        let d: u8 = it.next()?.parse().ok()?;
        if !(1970..=9999).contains(&y) {
            return None;
        }
        let date = Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()?;
        Some(Day(date.to_julian_day() - EPOCH_JULIAN))
    }

    pub fn date(self) -> Date {
        Date::from_julian_day(self.0 + EPOCH_JULIAN).unwrap_or(Date::MIN)
    }

    /// 00:00:00 UTC of the day.
    pub fn start(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(i64::from(self.0) * 86_400)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// 00:00:00 UTC of the next day (the day is `start() .. next_start()`).
    pub fn next_start(self) -> OffsetDateTime {
        Day(self.0 + 1).start()
    }

    pub fn plus(self, days: i32) -> Day {
        Day(self.0 + days)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.date();
        write!(
            f,
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Days `from..=to`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DayRange {
    pub from: Day,
    pub to: Day,
}

/// Why a range was refused: the query field and what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeError {
    pub field: &'static str,
    pub why: &'static str,
}

/// The ranges the statistics screens offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Preset {
    D7,
    #[default]
    D30,
    D90,
    D365,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Preset::D7, Preset::D30, Preset::D90, Preset::D365];

    pub fn days(self) -> i32 {
        match self {
            Preset::D7 => 7,
            Preset::D30 => 30,
            Preset::D90 => 90,
            Preset::D365 => 365,
        }
    }

    /// "7", "30", "90" or "365".
    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL
            .into_iter()
            .find(|p| p.days().to_string() == s.trim())
    }

    /// The preset's days ending `today` (included).
    pub fn range(self, today: Day) -> DayRange {
        DayRange::last(self.days(), today)
    }
}

impl DayRange {
    /// The `days` days ending `today`, today included.
    pub fn last(days: i32, today: Day) -> DayRange {
        DayRange {
            from: today.plus(1 - days.max(1)),
            to: today,
        }
    }

    /// A range from optional `from` / `to` query values (`YYYY-MM-DD`): a missing `to`
    /// is today, a missing `from` is `default_days` days ending `to`. Refused: a bad
    /// date, `from` after `to`, more than `MAX_RANGE_DAYS` days.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: Day,
        default_days: i32,
    ) -> Result<DayRange, RangeError> {
        let bad = |field| RangeError {
            field,
            why: "a date as YYYY-MM-DD",
        };
        fn present(s: Option<&str>) -> Option<&str> {
            s.filter(|s| !s.trim().is_empty())
        }
        let to = match present(to) {
            Some(s) => Day::parse(s).ok_or(bad("to"))?,
            None => today,
        };
        let from = match present(from) {
            Some(s) => Day::parse(s).ok_or(bad("from"))?,
            None => DayRange::last(default_days, to).from,
        };
        if from > to {
            return Err(RangeError {
                field: "from",
                why: "not after to",
            });
        }
        let r = DayRange { from, to };
        if r.len() > MAX_RANGE_DAYS {
            return Err(RangeError {
                field: "from",
                why: "at most 1000 days before to",
            });
        }
        Ok(r)
    }

    /// Number of days in the range.
    pub fn len(&self) -> i32 {
        self.to.0 - self.from.0 + 1
    }

    pub fn is_empty(&self) -> bool {
        self.to < self.from
    }

    pub fn contains(&self, d: Day) -> bool {
        self.from <= d && d <= self.to
    }

    pub fn days(&self) -> impl Iterator<Item = Day> + use<> {
        (self.from.0..=self.to.0).map(Day)
    }

    /// Which preset this range is, when it ends `today` and has a preset's length.
    pub fn preset(&self, today: Day) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.range(today) == *self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_match_the_usage_numbering() {
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        let d = Day::parse("2026-12-02").expect("date");
        assert_eq!(d.to_string(), "2026-12-02");
        let t = time::macros::datetime!(2026-12-02 23:59:59 UTC);
        assert_eq!(Day::of(t), d);
        assert_eq!(crate::service::usage::day_number(t), d.0);
        assert_eq!(d.start(), time::macros::datetime!(2026-12-02 0:00 UTC));
        assert_eq!(d.next_start(), time::macros::datetime!(2026-12-03 0:00 UTC));
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "26-1-1",
            "2026-01",
            "x-1-1",
            "1969-12-31",
        ] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
        assert_eq!(serde_json::to_string(&d).expect("json"), "\"2026-12-02\"");
    }

    #[test]
    fn ranges_default_validate_and_name_their_preset() {
        let today = Day::parse("2026-12-02").expect("date");
        let r = DayRange::parse(None, None, today, 30).expect("default");
        assert_eq!(r.len(), 30);
        assert_eq!(r.to, today);
        assert_eq!(r.from.to_string(), "2026-11-03");
        assert_eq!(r.preset(today), Some(Preset::D30));
        let r = DayRange::parse(Some("2026-01-01"), Some(" 2026-01-31 "), today, 30).expect("r");
        assert_eq!(r.len(), 31);
        assert_eq!(r.preset(today), None);
        assert_eq!(r.days().count(), 31);
        let r = DayRange::parse(None, Some("2026-01-10"), today, 7).expect("r");
        assert_eq!(r.from.to_string(), "2026-01-04");
        assert_eq!(
            DayRange::parse(Some("2026-02-01"), Some("2026-01-01"), today, 30)
                .expect_err("reversed")
                .field,
            "from"
        );
        assert_eq!(
            DayRange::parse(Some("bad"), None, today, 30)
                .expect_err("bad")
                .field,
            "from"
        );
        assert_eq!(
            DayRange::parse(None, Some("2026-02-31"), today, 30)
                .expect_err("bad")
                .field,
            "to"
        );
        assert!(DayRange::parse(Some("2020-01-01"), None, today, 30).is_err());
        assert_eq!(Preset::D365.range(today).len(), 365);
        assert_eq!(Preset::parse("90"), Some(Preset::D90));
        assert_eq!(Preset::parse("91"), None);
        assert_eq!(
            Preset::parse("7").map(|p| p.range(today).preset(today)),
            Some(Some(Preset::D7))
        );
    }
}
