//! Prometheus metrics (`GET /api/admin/v1/metrics`, README "Metrics").
//!
//! One registry per `App`, not a process global, so servers started side by side (the
//! tests) count apart. Counters are bumped where things happen (captures and denials in
//! `service::leases`, mail in `jobs::outbox`, answers in `http::observe`); what the store
//! already knows (live leases, seats taken, queued mail, the writer's counters) is read
//! at scrape time from O(1) table lengths and atomics, so a scrape costs the same at a
//! million leases as at none.
use crate::service::App;
use crate::store::{Snapshot, StoreError, WriterStats, tables};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use redb::ReadableTableMetadata;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The exposition format: Prometheus text 0.0.4, what API.md promises and every
/// Prometheus-compatible scraper reads. prometheus-client's `prometheus_text` encoder
/// writes it (counter `# TYPE` lines name the `_total` series, no `# EOF`), not the
/// OpenMetrics text of its default encoder.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Statuses licd answers with, counted through a counter handle taken at start (no
/// lock, no label hashing per request) and exported from the first scrape at 0, so
/// `rate()` sees their first increase. Sorted: looked up by binary search. Any other
/// status goes through the family's map.
const STATUSES: [u16; 20] = [
    200, 201, 204, 206, 301, 302, 303, 304, 400, 401, 403, 404, 405, 409, 410, 413, 415, 429, 500,
    503,
];

/// Codes of a refused capture on a known key (API.md): exported from the start at 0.
const DENIAL_CODES: [u32; 4] = [1021, 1030, 1031, 1032];

/// Bounds of the answer-time histogram, in seconds: 0.25 ms (a heartbeat on an idle
/// server) to 10 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

pub struct Metrics {
    registry: Registry,
    captures: Counter,
    denials: Family<CodeLabel, Counter>,
    /// Handles of `denials` for `DENIAL_CODES`, in that order.
    denials_known: Vec<Counter>,
    mail_sent: Counter,
    mail_failed: Counter,
    http_requests: Family<StatusLabel, Counter>,
    /// Handles of `http_requests` for `STATUSES`, in that order.
    http_known: Vec<Counter>,
    http_duration: Histogram,
    leases_live: Gauge,
    seats_used: Gauge,
    outbox_pending: Gauge,
    db_size: Gauge,
    backup_last_success: Gauge,
}

impl Metrics {
    /// `started` is the process's start (unix seconds); `store` the writer's counters.
    pub fn new(started_unix: i64, store: Arc<WriterStats>) -> Metrics {
        let mut r = Registry::with_prefix("licd");
        let captures = Counter::default();
        r.register(
            "captures",
            "Seat captures granted (POST /api/v1/leases answered 201)",
            captures.clone(),
        );
        let denials = Family::<CodeLabel, Counter>::default();
        r.register(
            "denials",
            "Seat captures refused on a known key, by the contract's error code (1021 blocked, 1030 no free seat, 1031 no such feature, 1032 expired)",
            denials.clone(),
        );
        let denials_known = DENIAL_CODES
            .iter()
            .map(|&code| denials.get_or_create(&CodeLabel { code }).clone())
            .collect();
        let leases_live = Gauge::default();
        r.register(
            "leases_live",
            "Leases held in the store (a lapsed one is dropped by the reaper within 30 s)",
            leases_live.clone(),
        );
        let seats_used = Gauge::default();
        r.register(
            "seats_used",
            "Seats taken over all keys and features (a seat whose leases all lapsed counts until it is freed)",
            seats_used.clone(),
        );
        let outbox_pending = Gauge::default();
        r.register(
            "outbox_pending",
            "Mails queued in the outbox, not yet sent (sent, failed and dropped ones are kept apart)",
            outbox_pending.clone(),
        );
        let mail_sent = Counter::default();
        r.register(
            "mail_sent",
            "Mails the SMTP server accepted",
            mail_sent.clone(),
        );
        let mail_failed = Counter::default();
        r.register(
            "mail_failed",
            "Failed attempts to send a mail (each is retried with backoff)",
            mail_failed.clone(),
        );
        let http_requests = Family::<StatusLabel, Counter>::default();
        r.register(
            "http_requests",
            "HTTP answers, by status",
            http_requests.clone(),
        );
        let http_known = STATUSES
            .iter()
            .map(|&status| http_requests.get_or_create(&StatusLabel { status }).clone())
            .collect();
        let http_duration = Histogram::new(DURATION_BUCKETS);
        r.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's headers, every route",
            http_duration.clone(),
        );
        let backup_last_success = Gauge::default();
        r.register(
            "backup_last_success_timestamp_seconds",
            "When the last backup succeeded (unix seconds); 0 before the first",
            backup_last_success.clone(),
        );
        let db_size = Gauge::default();
        r.register(
            "db_size_bytes",
            "Size of the database file",
            db_size.clone(),
        );
        r.register(
            "start_time_seconds",
            "When this server started (unix seconds); uptime is time() minus this",
            ConstGauge::new(started_unix),
        );
        let build = Family::<VersionLabel, Gauge>::default();
        build
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        r.register("build_info", "The running licd's version (always 1)", build);
        r.register_collector(Box::new(StoreCounters(store)));
        Metrics {
            registry: r,
            captures,
            denials,
            denials_known,
            mail_sent,
            mail_failed,
            http_requests,
            http_known,
            http_duration,
            leases_live,
            seats_used,
            outbox_pending,
            db_size,
            backup_last_success,
        }
    }

    pub fn captured(&self) {
        self.captures.inc();
    }

    /// A refused capture, by its error code.
    pub fn denied(&self, code: u32) {
        match DENIAL_CODES.iter().position(|&c| c == code) {
            Some(i) => self.denials_known[i].inc(),
            None => self.denials.get_or_create(&CodeLabel { code }).inc(),
        };
    }

    pub fn mail_sent(&self) {
        self.mail_sent.inc();
    }

    pub fn mail_failed(&self) {
        self.mail_failed.inc();
    }

    /// One HTTP answer: its status and how long it took.
    pub fn http_answered(&self, status: u16, took: Duration) {
        match STATUSES.binary_search(&status) {
            Ok(i) => self.http_known[i].inc(),
            Err(_) => self
                .http_requests
                .get_or_create(&StatusLabel { status })
                .inc(),
        };
        self.http_duration.observe(took.as_secs_f64());
    }

    /// Answers counted so far (statuses outside `STATUSES` aside: they are rare).
    pub fn requests_total(&self) -> u64 {
        self.http_known.iter().map(Counter::get).sum()
    }

    /// A backup finished and is safe on disk, at `unix_seconds`.
    pub fn backup_succeeded(&self, unix_seconds: i64) {
        self.backup_last_success.set(unix_seconds);
    }

    /// The exposition, with the store's gauges read now (`CONTENT_TYPE`).
    pub fn scrape(&self, app: &App) -> Result<String, StoreError> {
        let tx = app.store.read()?;
        let len = |n: Result<u64, redb::StorageError>| -> Result<i64, StoreError> {
            Ok(i64::try_from(n?).unwrap_or(i64::MAX))
        };
        self.leases_live
            .set(len(tx.table(tables::LEASE_INDEX)?.len())?);
        // One HOLDERS row per seat taken: the sum of SEAT_COUNTS without reading it.
        self.seats_used
            .set(len(tx.table(tables::HOLDERS.def)?.len())?);
        self.outbox_pending
            .set(len(tx.table(tables::MAIL_PENDING)?.len())?);
        drop(tx);
        self.db_size
            .set(i64::try_from(app.store.file_size()).unwrap_or(i64::MAX));
        Ok(self.render())
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The store writer's counters (`store.stats`), read at each scrape. (A collector's help
/// text is written as given; `register` adds the full stop itself.)
#[derive(Debug)]
struct StoreCounters(Arc<WriterStats>);

impl Collector for StoreCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let counters: [(&str, &str, u64); 3] = [
            (
                "store_commits",
                "Commits of the store's writer (a commit holds a batch of writes).",
                s.commits.load(Ordering::Relaxed),
            ),
            (
                "store_writes",
                "Write transactions run by the store's writer.",
                s.jobs.load(Ordering::Relaxed),
            ),
            (
                "store_logged_commits",
                "Commits made durable by the redo log rather than by a durable database commit.",
                s.logged.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, v) in counters {
            let c = ConstCounter::new(v);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let secs = ConstCounter::new(s.durable_us.load(Ordering::Relaxed) as f64 / 1e6);
        secs.encode(encoder.encode_descriptor(
            "store_durable_commit_seconds",
            "Time spent in durable database commits (checkpoints and unlogged batches).",
            None,
            secs.metric_type(),
        )?)?;
        let failed = ConstGauge::new(i64::from(s.wal_failed.load(Ordering::Relaxed)));
        failed.encode(encoder.encode_descriptor(
            "store_redo_log_failed",
            "1 when the redo log could not be written (every batch then gets a durable commit).",
            None,
            failed.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new(1_700_000_000, Arc::new(WriterStats::default()))
    }

    /// A strict reading of the 0.0.4 text format, as Prometheus's and the Python
    /// client's parsers apply it: every sample belongs to the family of the `# TYPE`
    /// line before it, under that family's own name (a counter's `# TYPE` names its
    /// `_total` series), and there is no OpenMetrics `# EOF` or `# UNIT`.
    fn check_004(text: &str) {
        let mut family: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                family = Some((name.to_owned(), kind.to_owned()));
            } else if line.starts_with("# HELP ") {
            } else {
                assert!(!line.starts_with('#'), "not 0.0.4: {line}");
                let name = line.split(['{', ' ']).next().expect("sample name");
                let (fam, kind) = family.as_ref().expect("a sample after its TYPE");
                let ok = match kind.as_str() {
                    "histogram" => ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name == format!("{fam}{s}")),
                    _ => name == fam,
                };
                assert!(ok, "{name} under # TYPE {fam} {kind}");
                let value = line.rsplit(' ').next().expect("value");
                assert!(value.parse::<f64>().is_ok(), "{line}");
            }
        }
    }

    #[test]
    fn exposition_is_prometheus_text_004_with_the_contract_names() {
        let m = metrics();
        m.captured();
        m.denied(1030);
        m.denied(1099);
        m.http_answered(200, Duration::from_micros(300));
        m.http_answered(418, Duration::from_millis(3));
        m.mail_sent();
        m.backup_succeeded(1_800_000_000);
        let text = m.render();
        check_004(&text);
        for sample in [
            "licd_captures_total 1\n",
            "licd_denials_total{code=\"1030\"} 1\n",
            "licd_denials_total{code=\"1021\"} 0\n",
            "licd_denials_total{code=\"1099\"} 1\n",
            "licd_mail_sent_total 1\n",
            "licd_http_requests_total{status=\"200\"} 1\n",
            "licd_http_requests_total{status=\"418\"} 1\n",
            "licd_http_requests_total{status=\"404\"} 0\n",
            "licd_http_request_duration_seconds_bucket{le=\"0.0005\"} 1\n",
            "licd_http_request_duration_seconds_bucket{le=\"+Inf\"} 2\n",
            "licd_http_request_duration_seconds_count 2\n",
            "licd_backup_last_success_timestamp_seconds 1800000000\n",
            "licd_start_time_seconds 1700000000\n",
            "licd_build_info{version=\"",
            "licd_store_commits_total 0\n",
            "# TYPE licd_captures_total counter\n",
            "# TYPE licd_leases_live gauge\n",
        ] {
            assert!(text.contains(sample), "no {sample:?} in\n{text}");
        }
        assert!(text.contains("licd_http_request_duration_seconds_sum 0.0033"));
        assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    }

    #[test]
    fn known_statuses_are_sorted_for_the_binary_search() {
        assert!(STATUSES.windows(2).all(|w| w[0] < w[1]));
    }
}
