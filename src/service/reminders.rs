//! Expiry reminders (a grant expires in 30, 7 or 1 days — the vendor's thresholds —
//! and a grant expired) and the weekly digest of managers and distributors. Each grant
//! and threshold is mailed once: the idempotency keys in `mail_keys` outlive restarts and
//! clock changes, and mailing a threshold also marks the larger ones as done.
use crate::domain::{Grant, Key};
use crate::error::AppResult;
use crate::mail::{DigestRow, Event};
use crate::service::{App, clients, keys, mail, settings};
use crate::store::{Snapshot, StoreError, tables};
use redb::{ReadableTable, WriteTransaction};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// An expired grant is mailed only this long after it expired: a server that was down
/// longer (or a first start on an old database) does not mail old news.
const EXPIRED_LOOKBACK: Duration = Duration::days(2);

/// Grants with an expiry in `(from, to]`, by key: (registration number → grant ids).
pub fn expiring_between(
    tx: &impl Snapshot,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<BTreeMap<String, Vec<u64>>, StoreError> {
    let t = tx.table(tables::GRANT_EXPIRY)?;
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let lo = (from.unix_timestamp() + 1, "", 0u64);
    let hi = (to.unix_timestamp() + 1, "", 0u64);
    for row in t.range(lo..hi)? {
        let (k, _) = row?;
        let (_, regnum, id) = k.value();
        out.entry(regnum.to_owned()).or_default().push(id);
    }
    Ok(out)
}

/// Whether the key's hold on the grant's feature really ends with this grant: a later
/// or endless grant of the same feature (a renewal) makes the reminder pointless.
fn ends_with(key: &Key, g: &Grant, now: OffsetDateTime) -> bool {
    let Some(e) = g.expires_at else { return false };
    !key.grants.iter().any(|o| {
        o.id != g.id && o.feature == g.feature && o.live(now) && o.expires_at.is_none_or(|x| x > e)
    })
}

/// The reminder a grant is due at `now`: `Some(Some(threshold))` for "expires within
/// threshold days", `Some(None)` for "expired", `None` for nothing. A threshold already
/// passed when the grant was added is skipped (a 14-day trial gets no 30-day reminder:
/// its end date was in the mail that granted it).
fn due(
    thresholds: &[u32],
    added: OffsetDateTime,
    e: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<Option<u32>> {
    if e <= now {
        return (now - e <= EXPIRED_LOOKBACK).then_some(None);
    }
    let left = e - now;
    thresholds
        .iter()
        .rev()
        .find(|&&d| left <= Duration::days(i64::from(d)))
        .filter(|&&d| e - added > Duration::days(i64::from(d)))
        .map(|&d| Some(d))
}

/// Whole days left until `e`, rounded up (at least 1).
fn days_left(e: OffsetDateTime, now: OffsetDateTime) -> u32 {
    let secs = (e - now).whole_seconds().max(1);
    secs.div_euclid(86_400) as u32 + u32::from(secs.rem_euclid(86_400) > 0)
}

fn marker(regnum: &str, g: &Grant, what: Option<u32>) -> String {
    let e = g.expires_at.map_or(0, |e| e.unix_timestamp());
    match what {
        Some(d) => format!("expiring:{regnum}:{}:{e}:{d}", g.id),
        None => format!("expired:{regnum}:{}:{e}", g.id),
    }
}

fn marked(tx: &WriteTransaction, key: &str) -> Result<bool, StoreError> {
    Ok(tx.open_table(tables::MAIL_KEYS)?.get(key)?.is_some())
}

fn mark(tx: &WriteTransaction, key: &str, id: u64, now: OffsetDateTime) -> Result<(), StoreError> {
    tx.open_table(tables::MAIL_KEYS)?
        .insert(key, (id, now.unix_timestamp()))?;
    Ok(())
}

/// Queues the expiry reminders due now; answers how many mails were queued.
pub async fn expiry(app: &App) -> AppResult<usize> {
    let now = app.now();
    let env = app.mail_env();
    let n = app
        .store
        .write(move |tx| {
            let mut thresholds = settings::read(tx)?.expiry_days;
            thresholds.retain(|d| *d > 0);
            thresholds.sort_unstable_by(|a, b| b.cmp(a));
            let horizon = thresholds.first().copied().unwrap_or(0);
            let candidates = expiring_between(
                tx,
                now - EXPIRED_LOOKBACK,
                now + Duration::days(i64::from(horizon)),
            )?;
            let mut queued = 0;
            for (regnum, ids) in candidates {
                let Some(key) = keys::load(tx, &regnum)? else {
                    continue;
                };
                if key.blocked {
                    continue;
                }
                // Grants due the same reminder go in one mail.
                let mut groups: BTreeMap<Option<u32>, Vec<&Grant>> = BTreeMap::new();
                for g in key.grants.iter().filter(|g| ids.contains(&g.id)) {
                    let Some(e) = g.expires_at else { continue };
                    let Some(what) = due(&thresholds, g.added_at, e, now) else {
                        continue;
                    };
                    if !ends_with(&key, g, now) || marked(tx, &marker(&regnum, g, what))? {
                        continue;
                    }
                    groups.entry(what).or_default().push(g);
                }
                if groups.is_empty() {
                    continue;
                }
                let Some(client) = clients::load(tx, key.client_id)? else {
                    continue;
                };
                for (what, grants) in groups {
                    let lines = mail::seat_lines(tx, &grants)?;
                    let soonest = grants.iter().filter_map(|g| g.expires_at).min();
                    let event = match what {
                        Some(_) => Event::Expiring {
                            regnum: regnum.clone(),
                            days: soonest.map_or(1, |e| days_left(e, now)),
                            lines,
                        },
                        None => Event::Expired {
                            regnum: regnum.clone(),
                            lines,
                        },
                    };
                    let ids: Vec<String> = grants.iter().map(|g| g.id.to_string()).collect();
                    let first = marker(&regnum, grants[0], what);
                    let mail_key = format!("{first}:{}", ids.join(","));
                    let id = mail::to_client(tx, &env, now, &client, &event, &mail_key)?;
                    queued += usize::from(id.is_some());
                    // Done for this threshold and every larger one (also when the client
                    // opted out: it is not asked again later).
                    for g in &grants {
                        mark(tx, &marker(&regnum, g, what), id.unwrap_or(0), now)?;
                        if let Some(d) = what {
                            for &larger in thresholds.iter().filter(|&&t| t > d) {
                                mark(tx, &marker(&regnum, g, Some(larger)), 0, now)?;
                            }
                        }
                    }
                }
            }
            Ok(queued)
        })
        .await?;
    if n > 0 {
        app.mail_queued.notify_one();
    }
    Ok(n)
}

/// The ISO week of `now` in the vendor's time zone, once it is Monday 09:00 there or
/// later: "2026-W49".
pub fn digest_week(now: OffsetDateTime, tz: &jiff::tz::TimeZone) -> Option<String> {
    let ts =
        jiff::Timestamp::from_second(now.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned(tz.clone());
    let monday_morning = z.weekday() != jiff::civil::Weekday::Monday || z.hour() >= 9;
    let w = z.date().iso_week_date();
    monday_morning.then(|| format!("{}-W{:02}", w.year(), w.week()))
}

/// Queues this week's digest to every manager and distributor with an e-mail whose
/// clients have grants expiring in the next 30 days (once per ISO week each).
pub async fn digest(app: &App) -> AppResult<usize> {
    let now = app.now();
    let tz =
        crate::service::backups::zone(app.config.ops.backup_timezone.as_deref().unwrap_or("UTC"))
            .unwrap_or(jiff::tz::TimeZone::UTC);
    let Some(week) = digest_week(now, &tz) else {
        return Ok(0);
    };
    let env = app.mail_env();
    let n = app
        .store
        .write(move |tx| {
            let soon = expiring_between(tx, now, now + Duration::days(30))?;
            // Client id → its rows.
            let mut by_client: BTreeMap<u64, Vec<DigestRow>> = BTreeMap::new();
            for (regnum, ids) in &soon {
                let Some(key) = keys::load(tx, regnum)? else {
                    continue;
                };
                let grants: Vec<&Grant> = key
                    .grants
                    .iter()
                    .filter(|g| ids.contains(&g.id) && ends_with(&key, g, now))
                    .collect();
                if grants.is_empty() || key.blocked {
                    continue;
                }
                let Some(c) = clients::load(tx, key.client_id)? else {
                    continue;
                };
                for line in mail::seat_lines(tx, &grants)? {
                    by_client.entry(c.id).or_default().push(DigestRow {
                        company: c.company.clone(),
                        regnum: regnum.clone(),
                        line,
                    });
                }
            }
            let mut queued = 0;
            let mut send = |tx: &WriteTransaction,
                            who: &str,
                            name: &str,
                            email: &str,
                            lang: Option<crate::i18n::Lang>,
                            clients: Vec<u64>|
             -> Result<(), StoreError> {
                let mut rows: Vec<DigestRow> = clients
                    .iter()
                    .filter_map(|id| by_client.get(id))
                    .flatten()
                    .cloned()
                    .collect();
                if rows.is_empty() || email.trim().is_empty() {
                    return Ok(());
                }
                rows.sort_by_key(|r| r.line.expires_at);
                let event = Event::Digest {
                    name: name.to_owned(),
                    rows,
                };
                let key = format!("digest:{who}:{week}");
                let id =
                    mail::to_addresses(tx, &env, now, &[email.to_owned()], lang, &event, &key)?;
                queued += usize::from(id.is_some());
                Ok(())
            };
            for u in crate::service::users::list(tx)? {
                if u.disabled
                    || u.email.trim().is_empty()
                    || u.role == crate::domain::Role::Distributor
                {
                    continue;
                }
                let lang = match crate::service::users::prefs(tx, &u.login)?.lang.as_str() {
                    "en" => Some(crate::i18n::Lang::En),
                    "ru" => Some(crate::i18n::Lang::Ru),
                    _ => None,
                };
                let ids = clients::ids_by_manager(tx, &u.login)?;
                send(
                    tx,
                    &format!("user:{}", u.login),
                    &u.login,
                    &u.email,
                    lang,
                    ids,
                )?;
            }
            for d in crate::service::distributors::list(tx)? {
                let ids = clients::ids_by_distributor(tx, &d.code)?;
                send(
                    tx,
                    &format!("distributor:{}", d.code),
                    &d.name,
                    &d.email,
                    None,
                    ids,
                )?;
            }
            Ok(queued)
        })
        .await?;
    if n > 0 {
        app.mail_queued.notify_one();
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_threshold_is_due() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let th = [30, 7, 1];
        let added = now - Duration::days(300);
        assert_eq!(due(&th, added, now + Duration::days(40), now), None);
        assert_eq!(
            due(&th, added, now + Duration::days(30), now),
            Some(Some(30))
        );
        assert_eq!(
            due(&th, added, now + Duration::days(8), now),
            Some(Some(30))
        );
        assert_eq!(due(&th, added, now + Duration::days(5), now), Some(Some(7)));
        assert_eq!(
            due(&th, added, now + Duration::hours(3), now),
            Some(Some(1))
        );
        assert_eq!(due(&th, added, now - Duration::hours(3), now), Some(None));
        assert_eq!(due(&th, added, now - Duration::days(3), now), None);
        // A 14-day trial: no 30-day reminder; the 7-day one when a week is left.
        assert_eq!(due(&th, now, now + Duration::days(14), now), None);
        let later = now + Duration::days(8);
        assert_eq!(
            due(&th, now, now + Duration::days(14), later),
            Some(Some(7))
        );
        assert_eq!(days_left(now + Duration::hours(3), now), 1);
        assert_eq!(
            days_left(now + Duration::days(4) - Duration::hours(1), now),
            4
        );
        assert_eq!(days_left(now + Duration::days(7), now), 7);
    }

    #[test]
    fn the_digest_waits_for_monday_morning() {
        let tz = jiff::tz::TimeZone::UTC;
        // 2026-12-07 is a Monday.
        let monday_8 = OffsetDateTime::from_unix_timestamp(1_796_601_600 + 8 * 3600).expect("t");
        assert_eq!(digest_week(monday_8, &tz), None);
        let monday_9 = monday_8 + Duration::hours(1);
        assert_eq!(digest_week(monday_9, &tz).as_deref(), Some("2026-W50"));
        let friday = monday_8 + Duration::days(4);
        assert_eq!(digest_week(friday, &tz).as_deref(), Some("2026-W50"));
    }
}
