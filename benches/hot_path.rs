//! Micro-benchmarks of the hot path's pure parts: the seat decision, registration
//! number parsing, response signing, metrics counting. `cargo bench --bench hot_path`.
use criterion::{Criterion, criterion_group, criterion_main};
use licd::domain::seats::{Claimant, LeaseSlot, SeatBook, unit_key};
use licd::domain::{NumberKind, Unit, generate_number, normalize_number};
use std::hint::black_box;
use time::OffsetDateTime;

fn book_of(n: usize, now: OffsetDateTime) -> SeatBook {
    let mut b = SeatBook::default();
    for i in 0..n {
        let user = format!("user{i}");
        let c = Claimant {
            host: "host",
            database: "db",
            user: &user,
            session: "",
        };
        let d = b.decide(&user, u32::MAX);
        b.take(
            &d,
            Unit::User,
            user.clone(),
            &c,
            LeaseSlot {
                id: format!("{i:032x}"),
                session: String::new(),
                app: "app".into(),
                version: "1".into(),
                since: now,
                expires_at: now + time::Duration::minutes(3),
            },
        );
    }
    b
}

fn seat_decision(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    for n in [5usize, 50, 500] {
        let book = book_of(n, now);
        c.bench_function(
            &format!("seat decision: prune + decide, {n} holders"),
            |b| {
                b.iter(|| {
                    let mut book = book.clone();
                    let gone = book.prune(now, |l| l.expires_at);
                    let claimant = Claimant {
                        host: "h",
                        database: "",
                        user: "newcomer",
                        session: "",
                    };
                    let k = unit_key(Unit::User, &claimant, "x").unwrap_or_default();
                    black_box((gone, book.decide(&k, n as u32 + 1)))
                })
            },
        );
        let bytes = licd::store::codec::encode(&book).unwrap_or_default();
        c.bench_function(&format!("seat book decode + encode, {n} holders"), |b| {
            b.iter(|| {
                let book: SeatBook =
                    licd::store::codec::decode(black_box(&bytes)).unwrap_or_default();
                black_box(licd::store::codec::encode(&book).unwrap_or_default())
            })
        });
    }
}

fn regnums(c: &mut Criterion) {
    let r = generate_number("MIKO", NumberKind::Regnum).to_lowercase();
    let padded = format!("  {r} ");
    c.bench_function("regnum parse (trim, upper-case, check)", |b| {
        b.iter(|| black_box(normalize_number(black_box(&padded))))
    });
    c.bench_function("regnum generate (OS randomness)", |b| {
        b.iter(|| black_box(generate_number("MIKO", NumberKind::Regnum)))
    });
}

fn signing(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let signer = licd::service::signing::Signer::load_or_create(dir.path())
        .unwrap_or_else(|e| panic!("signer: {e}"));
    let body = br#"{"lease":"0123456789abcdef0123456789abcdef","feature":48,"expires_at":"2026-11-23T15:00:00Z","heartbeat_s":60,"seats":{"total":5,"used":3}}"#;
    c.bench_function("sign a capture answer (Ed25519 + base64)", |b| {
        b.iter(|| black_box(signer.sign(black_box(body))))
    });
}

/// What the observe middleware adds to every request: its two clock reads, the status
/// counter and the duration histogram (and the access log's level check, off here).
fn metrics(c: &mut Criterion) {
    let m = licd::metrics::Metrics::new(0, std::sync::Arc::new(Default::default()));
    c.bench_function(
        "count one HTTP answer (2 clock reads, counter, histogram)",
        |b| {
            b.iter(|| {
                let start = std::time::Instant::now();
                let took = start.elapsed();
                m.http_answered(black_box(200), took);
                black_box(tracing::enabled!(target: "licd::access", tracing::Level::DEBUG))
            })
        },
    );
    c.bench_function("count one capture", |b| b.iter(|| m.captured()));
}

criterion_group!(benches, seat_decision, regnums, signing, metrics);
criterion_main!(benches);
