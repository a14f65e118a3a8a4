//! Time comes from here, so tests can fix it and move it.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// The server's clock: the system time plus an offset that only tests move.
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> OffsetDateTime {
        let off = self.offset_ms.load(Ordering::Relaxed);
        // The one place allowed to read the wall clock.
        OffsetDateTime::now_utc() + time::Duration::milliseconds(off)
    }

    /// Moves this clock forward (tests: lapse leases, expire grants without sleeping).
    pub fn advance(&self, by: time::Duration) {
        self.offset_ms
            .fetch_add(by.whole_milliseconds() as i64, Ordering::Relaxed);
    }
}

/// RFC 3339 text of a time, truncated to whole seconds, always UTC.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// serde adapters for RFC 3339 times in API bodies.
pub mod serde_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
            .map_err(serde::de::Error::custom)
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::OffsetDateTime;
        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::rfc3339(*t)),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            let s: Option<String> = Option::deserialize(d)?;
            match s {
                None => Ok(None),
                Some(s) => {
                    OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                        .map(Some)
                        .map_err(serde::de::Error::custom)
                }
            }
        }
    }
}
