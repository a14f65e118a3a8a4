//! The Outbox page's use cases: mail listed newest first with filters, one mail, the
//! count per state, and an admin's "retry now" and "drop" (each one write transaction
//! with its audit entry). Sending is `jobs::outbox`'s.
use crate::domain::mailing::StateKind;
use crate::domain::{Mail, MailState};
use crate::error::{AppError, AppResult};
use crate::service::{App, audit};
use crate::store::{Snapshot, StoreError, codec, tables};
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use time::{Duration, OffsetDateTime};

/// Mails on one page of the list.
pub const PAGE: usize = 50;
/// At most this many mails are read for one page: a filter that matches few mails stops
/// there (the page then offers to look further back), so a page costs the same on an
/// outbox of 100,000 mails.
pub const SCAN: usize = 5_000;
/// The counts per state read at most this many of the newest mails (`Counts::complete`).
pub const COUNT_SCAN: usize = 5_000;
/// A mail retried by hand after its give-up time is given this long again.
pub const RETRY_WINDOW: Duration = Duration::hours(72);

/// What the list shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub state: Option<StateKind>,
    /// A part of an address in To or Cc, any case.
    pub recipient: String,
}

impl Filter {
    fn matches(&self, m: &Mail, needle: &str) -> bool {
        self.state.is_none_or(|s| m.state.kind() == s)
            && (needle.is_empty()
                || m.to
                    .iter()
                    .chain(&m.cc)
                    .any(|a| a.to_lowercase().contains(needle)))
    }
}

/// One page of the list, newest first.
#[derive(Debug)]
pub struct Page {
    pub mails: Vec<Mail>,
    /// The next, older page: the mails with ids below this one (none: this is the last).
    pub older: Option<u64>,
    /// The page stopped after reading `SCAN` mails, not because it was full.
    pub scan_stopped: bool,
}

/// The mails with ids below `before` (all when `None`) that match `filter`, newest
/// first, at most `limit`.
pub fn list(
    tx: &impl Snapshot,
    filter: &Filter,
    before: Option<u64>,
    limit: usize,
) -> Result<Page, StoreError> {
    let outbox = tx.table(tables::OUTBOX.def)?;
    let needle = filter.recipient.trim().to_lowercase();
    let limit = limit.max(1);
    let mut mails = Vec::new();
    let mut older = None;
    let mut scan_stopped = false;
    // Every queued mail has its pending row: the few queued ones are found there.
    let pending = tx.table(tables::MAIL_PENDING)?;
    let below = ..before.unwrap_or(u64::MAX);
    let ids: Box<dyn Iterator<Item = Result<u64, StoreError>>> =
        if filter.state == Some(StateKind::Queued) {
            Box::new(
                pending
                    .range(below)?
                    .rev()
                    .map(|r| r.map(|(k, _)| k.value()).map_err(StoreError::from)),
            )
        } else {
            Box::new(
                outbox
                    .range(below)?
                    .rev()
                    .map(|r| r.map(|(k, _)| k.value()).map_err(StoreError::from)),
            )
        };
    for (scanned, id) in ids.enumerate() {
        let id = id?;
        if scanned >= SCAN {
            older = Some(id + 1);
            scan_stopped = true;
            break;
        }
        let Some(m) = tables::OUTBOX.get(&outbox, id)? else {
            continue;
        };
        if !filter.matches(&m, &needle) {
            continue;
        }
        if mails.len() == limit {
            // One more match exists: there is an older page, starting below the last shown.
            older = mails.last().map(|m: &Mail| m.id);
            break;
        }
        mails.push(m);
    }
    Ok(Page {
        mails,
        older,
        scan_stopped,
    })
}

pub fn get(tx: &impl Snapshot, id: u64) -> Result<Option<Mail>, StoreError> {
    let t = tx.table(tables::OUTBOX.def)?;
    tables::OUTBOX.get(&t, id)
}

/// Mails per state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    /// In `StateKind::ALL` order.
    pub by_state: [u64; 5],
    /// Every mail in the outbox.
    pub total: u64,
    /// Every mail was counted; otherwise only the newest `COUNT_SCAN` (the queued count
    /// is always exact).
    pub complete: bool,
}

impl Counts {
    pub fn of(&self, k: StateKind) -> u64 {
        let i = StateKind::ALL.iter().position(|x| *x == k).unwrap_or(0);
        self.by_state[i]
    }
}

/// How many mails are in each state (see `Counts::complete`).
pub fn counts(tx: &impl Snapshot) -> Result<Counts, StoreError> {
    let outbox = tx.table(tables::OUTBOX.def)?;
    let total = outbox.len()?;
    let mut by_state = [0u64; 5];
    let mut scanned = 0;
    for row in outbox.iter()?.rev().take(COUNT_SCAN) {
        let (_, v) = row?;
        let state = codec::decode::<Mail>(v.value())?.state;
        if state != MailState::Queued {
            let i = StateKind::ALL
                .iter()
                .position(|k| *k == state.kind())
                .unwrap_or(0);
            by_state[i] += 1;
        }
        scanned += 1;
    }
    by_state[0] = tx.table(tables::MAIL_PENDING)?.len()?;
    Ok(Counts {
        by_state,
        total,
        complete: scanned as u64 >= total,
    })
}

fn not_found() -> AppError {
    AppError::NotFound { what: "mail" }
}

fn refused(reason: &'static str, m: &Mail) -> AppError {
    AppError::Conflict {
        reason,
        details: serde_json::json!({ "state": m.state.kind().as_str() }),
    }
}

/// "Retry now" in `tx`: a queued, failed or sending mail is queued for now, given
/// `RETRY_WINDOW` again when its give-up time has passed. Answers the mail before.
pub fn retry_in(tx: &WriteTransaction, id: u64, now: OffsetDateTime) -> AppResult<Mail> {
    let mut t = tx.open_table(tables::OUTBOX.def)?;
    let before = tables::OUTBOX.get(&t, id)?.ok_or_else(not_found)?;
    if !before.state.retryable() {
        return Err(refused("mail_not_retryable", &before));
    }
    let mut m = before.clone();
    m.state = MailState::Queued;
    m.next_attempt_at = now;
    if m.give_up_at <= now {
        m.give_up_at = now + RETRY_WINDOW;
    }
    tables::OUTBOX.put(&mut t, id, &m)?;
    tx.open_table(tables::MAIL_PENDING)?
        .insert(id, now.unix_timestamp())?;
    Ok(before)
}

/// "Drop" in `tx`: a mail not sent is never sent. Answers the mail before.
pub fn drop_in(tx: &WriteTransaction, id: u64, now: OffsetDateTime) -> AppResult<Mail> {
    let mut t = tx.open_table(tables::OUTBOX.def)?;
    let before = tables::OUTBOX.get(&t, id)?.ok_or_else(not_found)?;
    if !before.state.droppable() {
        return Err(refused("mail_not_droppable", &before));
    }
    let mut m = before.clone();
    m.state = MailState::Dropped(now);
    m.forget_secret();
    tables::OUTBOX.put(&mut t, id, &m)?;
    tx.open_table(tables::MAIL_PENDING)?.remove(id)?;
    Ok(before)
}

fn detail(m: &Mail) -> String {
    format!(
        "{} ({}) to {}: {}",
        m.event,
        m.state.kind().as_str(),
        m.to.join(", "),
        m.subject
    )
}

/// Retries mail `id` now (audited as `actor`), and wakes the sender.
pub async fn retry(app: &App, id: u64, actor: &str) -> AppResult<()> {
    let now = app.now();
    let actor = actor.to_owned();
    app.store
        .write(move |tx| {
            let before = retry_in(tx, id, now)?;
            audit::append(
                tx,
                &audit::entry(
                    &actor,
                    now,
                    "mail_retry",
                    &format!("mail {id}"),
                    &detail(&before),
                ),
            )?;
            Ok(())
        })
        .await?;
    app.mail_queued.notify_one();
    Ok(())
}

/// Drops mail `id` (audited as `actor`).
pub async fn drop_mail(app: &App, id: u64, actor: &str) -> AppResult<()> {
    let now = app.now();
    let actor = actor.to_owned();
    app.store
        .write(move |tx| {
            let before = drop_in(tx, id, now)?;
            audit::append(
                tx,
                &audit::entry(
                    &actor,
                    now,
                    "mail_drop",
                    &format!("mail {id}"),
                    &detail(&before),
                ),
            )?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    fn mail(id: u64, to: &str, state: MailState) -> Mail {
        Mail {
            id,
            event: "code".into(),
            key: format!("code:{id}"),
            to: vec![to.into()],
            cc: if id.is_multiple_of(2) {
                vec!["Manager@Vendor.test".into()]
            } else {
                Vec::new()
            },
            subject: format!("Mail {id}"),
            text: "text".into(),
            html: String::new(),
            client_id: None,
            created_at: T0,
            state,
            attempts: 0,
            next_attempt_at: T0,
            give_up_at: T0 + Duration::days(3),
            last_error: String::new(),
        }
    }

    async fn store_with(mails: Vec<Mail>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("t.redb")).expect("open");
        store
            .write(move |tx| {
                let mut t = tx.open_table(tables::OUTBOX.def)?;
                let mut p = tx.open_table(tables::MAIL_PENDING)?;
                for m in &mails {
                    tables::OUTBOX.put(&mut t, m.id, m)?;
                    if m.state == MailState::Queued {
                        p.insert(m.id, m.next_attempt_at.unix_timestamp())?;
                    }
                }
                Ok(())
            })
            .await
            .expect("write");
        (dir, store)
    }

    fn ids(p: &Page) -> Vec<u64> {
        p.mails.iter().map(|m| m.id).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lists_newest_first_with_filters_and_pages() {
        let mut mails = Vec::new();
        for id in 1..=120u64 {
            let state = match id % 4 {
                0 => MailState::Queued,
                1 => MailState::Sent(T0),
                2 => MailState::Failed(T0),
                _ => MailState::Sending(T0),
            };
            let to = if id % 3 == 0 {
                "ivan@romashka.ru"
            } else {
                "ops@acme.test"
            };
            mails.push(mail(id, to, state));
        }
        let (_dir, store) = store_with(mails).await;
        let tx = store.read().expect("read");

        let all = Filter::default();
        let p = list(&tx, &all, None, PAGE).expect("list");
        assert_eq!(ids(&p), (71..=120).rev().collect::<Vec<_>>());
        assert_eq!(p.older, Some(71));
        let p = list(&tx, &all, p.older, PAGE).expect("page 2");
        assert_eq!(ids(&p), (21..=70).rev().collect::<Vec<_>>());
        let p = list(&tx, &all, p.older, PAGE).expect("page 3");
        assert_eq!(ids(&p), (1..=20).rev().collect::<Vec<_>>());
        assert_eq!((p.older, p.scan_stopped), (None, false));

        // By state, through the pending rows for the queued ones.
        let queued = Filter {
            state: Some(StateKind::Queued),
            ..Default::default()
        };
        let p = list(&tx, &queued, None, 10).expect("queued");
        assert_eq!(ids(&p), vec![120, 116, 112, 108, 104, 100, 96, 92, 88, 84]);
        assert_eq!(p.older, Some(84));
        let p = list(&tx, &queued, p.older, 100).expect("queued 2");
        assert_eq!(p.mails.len(), 20);
        assert!(p.mails.iter().all(|m| m.state == MailState::Queued));
        let failed = Filter {
            state: Some(StateKind::Failed),
            ..Default::default()
        };
        let p = list(&tx, &failed, None, PAGE).expect("failed");
        assert_eq!(p.mails.len(), 30);
        assert!(p.mails.iter().all(|m| m.id % 4 == 2));

        // By recipient: a part of To or Cc, any case.
        let who = |s: &str, state| Filter {
            state,
            recipient: s.into(),
        };
        let p = list(&tx, &who("ROMASHKA", None), None, PAGE).expect("to");
        assert_eq!(p.mails.len(), 40);
        assert!(p.mails.iter().all(|m| m.to[0] == "ivan@romashka.ru"));
        let p = list(&tx, &who("manager@vendor", None), None, PAGE).expect("cc");
        assert_eq!(p.mails.len(), 50);
        assert_eq!(p.older, Some(22));
        let p = list(&tx, &who("romashka", Some(StateKind::Queued)), None, PAGE).expect("both");
        assert_eq!(ids(&p), (1..=10).map(|i| 132 - 12 * i).collect::<Vec<_>>());
        let p = list(&tx, &who("nobody", None), None, PAGE).expect("none");
        assert!(p.mails.is_empty() && p.older.is_none());

        let c = counts(&tx).expect("counts");
        assert_eq!(c.by_state, [30, 30, 30, 30, 0]);
        assert_eq!((c.total, c.complete), (120, true));
        assert_eq!(c.of(StateKind::Failed), 30);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sparse_filter_stops_after_the_scan_limit() {
        let n = SCAN as u64 + 10;
        let mails = (1..=n)
            .map(|id| {
                let to = if id == 3 { "rare@x.test" } else { "a@b.test" };
                mail(id, to, MailState::Sent(T0))
            })
            .collect();
        let (_dir, store) = store_with(mails).await;
        let tx = store.read().expect("read");
        let f = Filter {
            recipient: "rare".into(),
            ..Default::default()
        };
        let p = list(&tx, &f, None, PAGE).expect("list");
        assert!(p.mails.is_empty());
        assert!(p.scan_stopped);
        assert_eq!(p.older, Some(11));
        let p = list(&tx, &f, p.older, PAGE).expect("further");
        assert_eq!(ids(&p), vec![3]);
        assert!(!p.scan_stopped && p.older.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retry_and_drop_move_the_mail_and_its_pending_row() {
        let past = T0 - Duration::days(5);
        let mut failed = mail(1, "a@b.test", MailState::Failed(past));
        failed.give_up_at = past;
        failed.attempts = 9;
        let sending = mail(2, "a@b.test", MailState::Sending(T0));
        let sent = mail(3, "a@b.test", MailState::Sent(T0));
        let queued = mail(4, "a@b.test", MailState::Queued);
        let (_dir, store) = store_with(vec![failed, sending, sent, queued]).await;
        let now = T0 + Duration::hours(1);
        let pending = |s: &Store| -> Vec<(u64, i64)> {
            let tx = s.read().expect("read");
            let t = tx.table(tables::MAIL_PENDING).expect("pending");
            t.iter()
                .expect("iter")
                .map(|r| r.map(|(k, v)| (k.value(), v.value())).expect("row"))
                .collect()
        };
        let state = |s: &Store, id| {
            get(&s.read().expect("read"), id)
                .expect("get")
                .expect("mail")
        };

        // A failed mail past its give-up time: queued for now, three more days.
        store
            .write(move |tx| retry_in(tx, 1, now))
            .await
            .expect("retry failed");
        let m = state(&store, 1);
        assert_eq!(m.state, MailState::Queued);
        assert_eq!((m.next_attempt_at, m.give_up_at), (now, now + RETRY_WINDOW));
        assert_eq!(m.attempts, 9, "the attempts made stay counted");
        // A sending one (may have been delivered): the admin says send it again.
        store
            .write(move |tx| retry_in(tx, 2, now))
            .await
            .expect("retry sending");
        let m = state(&store, 2);
        assert_eq!(m.state, MailState::Queued);
        assert_eq!(m.give_up_at, T0 + Duration::days(3), "not past: kept");
        let ts = now.unix_timestamp();
        assert_eq!(
            pending(&store),
            vec![(1, ts), (2, ts), (4, T0.unix_timestamp())]
        );
        // A sent one is neither retried nor dropped.
        for r in [
            store.write(move |tx| retry_in(tx, 3, now)).await,
            store.write(move |tx| drop_in(tx, 3, now)).await,
        ] {
            assert!(matches!(r, Err(AppError::Conflict { .. })), "{r:?}");
        }
        assert!(matches!(
            store.write(move |tx| retry_in(tx, 99, now)).await,
            Err(AppError::NotFound { .. })
        ));

        // Drop: never sent, off the pending rows; then it cannot be dropped or retried.
        store
            .write(move |tx| drop_in(tx, 4, now))
            .await
            .expect("drop");
        assert_eq!(state(&store, 4).state, MailState::Dropped(now));
        assert_eq!(pending(&store), vec![(1, ts), (2, ts)]);
        assert!(store.write(move |tx| drop_in(tx, 4, now)).await.is_err());
        assert!(store.write(move |tx| retry_in(tx, 4, now)).await.is_err());
        let c = counts(&store.read().expect("read")).expect("counts");
        assert_eq!(c.by_state, [2, 0, 1, 0, 1]);
        store.close();
    }
}
