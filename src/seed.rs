//! `licd seed`: fills a (stopped) data directory with many clients, keys and live
//! leases, for measuring licd at scale. Writes in large transactions through the same
//! tables and records the server uses.
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::seats::{Claimant, Decision, LeaseSlot, SeatBook};
use crate::domain::{Client, Grant, GrantSource, Unit};
use crate::error::AppError;
use crate::service::{App, clients, keys, leases, products};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    /// Data directory (the server must be stopped).
    #[arg(long, env = "LICD_DATA")]
    pub data: Option<PathBuf>,
    /// Clients to add.
    #[arg(long, default_value_t = 1_000_000)]
    pub clients: u64,
    /// Keys to add (one per client, round-robin when there are more keys than clients).
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Live leases to add (one per key, round-robin).
    #[arg(long, default_value_t = 1_000_000)]
    pub leases: u64,
    /// Rows per transaction.
    #[arg(long, default_value_t = 20_000)]
    pub batch: u64,
    /// Days of usage and denials to add for the seeded keys, ending today: every key
    /// has usage every day (every tenth key on a second feature too) and about 5 % of
    /// key-days have 1–5 denials (codes 1030, 1032, 1021); the rollups and indexes are
    /// written as the server keeps them.
    #[arg(long, default_value_t = 0)]
    pub days: u32,
}

const WORDS: &[&str] = &[
    "Ромашка",
    "Лютик",
    "Василёк",
    "Альфа",
    "Вектор",
    "Гранит",
    "Север",
    "Восток",
    "Профит",
    "Телеком",
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
];
const FEATURE: u32 = 4_800_000;
/// A second feature of the seeded product, granted on every tenth key (so a feature
/// filter has something to filter).
const FEATURE2: u32 = 4_800_001;
/// Distributors the seed assigns every fifth client to, round-robin.
const DISTRIBUTORS: u64 = 10;

pub fn run(args: SeedArgs) -> anyhow::Result<()> {
    let config = Config::resolve(&crate::config::ServeArgs {
        data: args.data.clone(),
        ..Default::default()
    })?;
    let app = App::open(config, Clock::system())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let product = rt
        .block_on(async {
            let tx = app.store.read()?;
            match products::by_code(&tx, "seed")? {
                Some(p) => Ok::<_, AppError>(p),
                None => {
                    products::create(
                        &app,
                        products::NewProduct {
                            code: "seed".into(),
                            name: "Seeded product".into(),
                            heartbeat_s: Some(60),
                            features: vec![
                                products::NewFeature {
                                    number: FEATURE,
                                    name: "Seeded seat".into(),
                                    unit: Unit::User,
                                },
                                products::NewFeature {
                                    number: FEATURE2,
                                    name: "Seeded report".into(),
                                    unit: Unit::User,
                                },
                            ],
                            trial: None,
                        },
                    )
                    .await
                }
            }
        })
        .map_err(|e| anyhow::anyhow!(e.message(crate::i18n::Lang::En)))?;
    let with_feature2 = product.feature(FEATURE2).is_some();
    rt.block_on(async {
        for d in 0..DISTRIBUTORS {
            let code = format!("seed-d{d}");
            let tx = app.store.read()?;
            if crate::service::distributors::get(&tx, &code)?.is_none() {
                drop(tx);
                crate::service::distributors::create(
                    &app,
                    &code,
                    &format!("Seed distributor {d}"),
                    &format!("{code}@seed.test"),
                )
                .await?;
            }
        }
        Ok::<_, AppError>(())
    })
    .map_err(|e| anyhow::anyhow!(e.message(crate::i18n::Lang::En)))?;
    let clients_n = args.clients.max(1);
    let mut client_ids: Vec<u64> = Vec::with_capacity(clients_n as usize);
    let mut done = 0;
    while done < clients_n {
        let n = args.batch.min(clients_n - done);
        let now = app.now();
        let first = done;
        let ids = app
            .store
            .write_blocking(move |tx| {
                let mut ids = Vec::with_capacity(n as usize);
                for i in first..first + n {
                    let w1 = WORDS[(i % 20) as usize];
                    let w2 = WORDS[((i / 20) % 20) as usize];
                    let c = clients::insert(
                        tx,
                        Client {
                            company: format!("{w1} {w2} {i}"),
                            contact: format!("Контакт {i}"),
                            phone: format!("+7 495 {:07}", i % 10_000_000),
                            email: format!("client{i}@seed.test"),
                            crm_id1: format!("77{i:08}"),
                            distributor: if i % 5 == 0 {
                                format!("seed-d{}", (i / 5) % DISTRIBUTORS)
                            } else {
                                String::new()
                            },
                            origin: "manual".into(),
                            created_at: Some(now),
                            updated_at: Some(now),
                            ..Default::default()
                        },
                    )?;
                    ids.push(c.id);
                }
                Ok(ids)
            })
            .map_err(|e| anyhow::anyhow!(e.message(crate::i18n::Lang::En)))?;
        client_ids.extend(ids);
        done += n;
        eprint!("\rclients {done}/{clients_n}");
    }
    eprintln!();
    let keys_n = args.keys;
    let leases_n = args.leases.min(keys_n.max(1) * 5);
    let term = product.heartbeat_s;
    let mut done = 0;
    let mut leased = 0u64;
    let mut seeded_keys: Vec<(String, u64)> = Vec::with_capacity(keys_n as usize);
    while done < keys_n {
        let n = args.batch.min(keys_n - done);
        let now = app.now();
        let owners: Vec<u64> = (done..done + n)
            .map(|i| client_ids[(i % clients_n) as usize])
            .collect();
        let want_leases = leases_n.saturating_sub(leased).min(n);
        let first = done;
        let (made, made_keys) = app
            .store
            .write_blocking(move |tx| {
                let mut made = 0;
                let mut made_keys = Vec::with_capacity(owners.len());
                for (j, owner) in owners.iter().enumerate() {
                    let mut k = keys::insert_new(tx, *owner, now)?;
                    if with_feature2 && (first + j as u64).is_multiple_of(10) {
                        k.add_grant(Grant {
                            id: 0,
                            product: "seed".into(),
                            feature: FEATURE2,
                            seats: 2,
                            expires_at: None,
                            trial: false,
                            source: GrantSource::Manual,
                            added_at: now - time::Duration::days(400),
                        });
                    }
                    made_keys.push((k.regnum.clone(), *owner));
                    k.add_grant(Grant {
                        id: 0,
                        product: "seed".into(),
                        feature: FEATURE,
                        seats: 5,
                        expires_at: None,
                        trial: false,
                        source: GrantSource::Manual,
                        added_at: now - time::Duration::days(400),
                    });
                    keys::save(tx, &k)?;
                    if (j as u64) < want_leases {
                        let user = format!("user{j}");
                        let c = Claimant {
                            host: "seed-host",
                            database: "",
                            user: &user,
                            session: "",
                        };
                        let id = leases::new_lease_id();
                        let expires_at = now + leases::lease_life(term);
                        let mut book = SeatBook::default();
                        book.take(
                            &Decision::NewSeat,
                            Unit::User,
                            user.clone(),
                            &c,
                            LeaseSlot {
                                id: id.clone(),
                                session: String::new(),
                                app: "seed".into(),
                                version: String::new(),
                                since: now,
                                expires_at,
                            },
                        );
                        {
                            use crate::store::tables::{HOLDERS, LEASE_INDEX, SEAT_COUNTS};
                            let mut t = tx.open_table(HOLDERS.def)?;
                            for h in &book.holders {
                                HOLDERS.put(
                                    &mut t,
                                    (k.regnum.as_str(), FEATURE, h.unit_key.as_str()),
                                    h,
                                )?;
                            }
                            tx.open_table(SEAT_COUNTS)?
                                .insert((k.regnum.as_str(), FEATURE), book.used())?;
                            tx.open_table(LEASE_INDEX)?.insert(
                                id.as_str(),
                                (
                                    k.regnum.as_str(),
                                    FEATURE,
                                    user.as_str(),
                                    term,
                                    expires_at.unix_timestamp(),
                                ),
                            )?;
                        }
                        made += 1;
                    }
                }
                Ok((made, made_keys))
            })
            .map_err(|e| anyhow::anyhow!(e.message(crate::i18n::Lang::En)))?;
        seeded_keys.extend(made_keys);
        leased += made;
        done += n;
        eprint!("\rkeys {done}/{keys_n}, leases {leased}");
    }
    eprintln!();
    if args.days > 0 {
        history::write(&app, seeded_keys, args.days, with_feature2)
            .map_err(|e| anyhow::anyhow!(e.message(crate::i18n::Lang::En)))?;
    }
    let size = app.store.file_size();
    let rows = clients_n + keys_n + leased;
    eprintln!(
        "seeded {clients_n} clients, {keys_n} keys, {leased} leases in {:.1} s; database {:.1} MiB ({:.1} MiB per million rows of clients+keys+leases)",
        started.elapsed().as_secs_f64(),
        size as f64 / 1048576.0,
        size as f64 / 1048576.0 / (rows as f64 / 1e6)
    );
    app.store.close();
    Ok(())
}

/// `--days`: a history of usage and denials for the seeded keys, written table by
/// table in key order (the first pass, key-major: `usage`, `denials`) and day order
/// (the second, day-major: the day and time indexes and the rollups), so every insert
/// lands near the previous one. Every number comes from a hash of (key, day), so both
/// passes agree without keeping the history in memory.
mod history {
    use super::{FEATURE, FEATURE2};
    use crate::domain::Denial;
    use crate::domain::days::Day;
    use crate::error::AppResult;
    use crate::service::App;
    use crate::service::stats::blocks;
    use crate::store::tables;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Instant;

    fn mix(mut z: u64) -> u64 {
        // splitmix64's finaliser.
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn h(i: usize, day: i32, salt: u64) -> u64 {
        mix(((i as u64) << 32) ^ u64::from(day as u32) ^ salt.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }

    /// (captures, peak) of key `i`'s feature `f` (0 or 1) on `day`.
    fn usage(i: usize, day: i32, f: usize) -> (u32, u32) {
        if f == 0 {
            (
                1 + (h(i, day, 1) % 20) as u32,
                1 + (h(i, day, 2) % 5) as u32,
            )
        } else {
            let c = (h(i, day, 5) % 6) as u32;
            (c, c.min(1 + (h(i, day, 6) % 2) as u32))
        }
    }

    /// Denials of key `i` on `day` (of `FEATURE`): 5 % of key-days have 1–5.
    fn denials(i: usize, day: i32) -> u32 {
        if h(i, day, 3) % 100 < 5 {
            1 + (h(i, day, 4) % 5) as u32
        } else {
            0
        }
    }

    /// The `j`th denial of key `i` on `day`: (unix ms, sequence, code).
    fn denial(i: usize, day: i32, j: u32, first_day: i32, now_ms: i64) -> (i64, u64, u32) {
        let start = i64::from(day) * 86_400_000;
        let span = (now_ms - start).clamp(1, 86_400_000) as u64;
        let ms = start + (h(i, day, 10 + u64::from(j)) % span) as i64;
        let seq = ((i as u64) << 24) | (((day - first_day) as u64) << 3) | u64::from(j);
        let code = match h(i, day, 20 + u64::from(j)) % 10 {
            0..=6 => 1030,
            7 | 8 => 1032,
            _ => 1021,
        };
        (ms, seq, code)
    }

    fn record(regnum: &str, ms: i64, code: u32, j: u32) -> Denial {
        Denial {
            regnum: regnum.to_owned(),
            feature: FEATURE,
            at: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            host: format!("seed-host-{j}"),
            user: format!("user{j}"),
            database: String::new(),
            code,
        }
    }

    pub fn write(
        app: &App,
        mut keys: Vec<(String, u64)>,
        days: u32,
        feature2: bool,
    ) -> AppResult<()> {
        let started = Instant::now();
        keys.sort();
        let keys = Arc::new(keys);
        let now = app.now();
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let today = Day::of(now).0;
        let first_day = today - days as i32 + 1;
        let feats: &[u32] = if feature2 {
            &[FEATURE, FEATURE2]
        } else {
            &[FEATURE]
        };
        let has2 = move |i: usize, f: usize| f == 0 || i.is_multiple_of(10);
        // Pass 1, key-major: `usage` and `denials`, ~500,000 rows per commit.
        let per_tx = (500_000 / days as usize).max(1);
        let mut done = 0;
        let mut denial_rows = 0u64;
        while done < keys.len() {
            let (from, to) = (done, (done + per_tx).min(keys.len()));
            let ks = keys.clone();
            denial_rows += app.store.write_blocking(move |tx| {
                let mut usage_t = tx.open_table(tables::USAGE)?;
                let mut denials_t = tx.open_table(tables::DENIALS.def)?;
                let mut n = 0u64;
                for (i, (regnum, _)) in ks.iter().enumerate().take(to).skip(from) {
                    for (f, feature) in feats.iter().enumerate() {
                        if !has2(i, f) {
                            continue;
                        }
                        for day in first_day..=today {
                            let (c, p) = usage(i, day, f);
                            let d = if f == 0 { denials(i, day) } else { 0 };
                            if c + d > 0 {
                                usage_t.insert((regnum.as_str(), *feature, day), (c, d, p))?;
                            }
                        }
                    }
                    for day in first_day..=today {
                        for j in 0..denials(i, day) {
                            let (ms, seq, code) = denial(i, day, j, first_day, now_ms);
                            let bytes = crate::store::codec::encode(&record(regnum, ms, code, j))?;
                            denials_t.insert((regnum.as_str(), ms, seq), bytes.as_slice())?;
                            n += 1;
                        }
                    }
                }
                Ok(n)
            })?;
            done = to;
            eprint!(
                "\rhistory: keys {done}/{}, denials {denial_rows}",
                keys.len()
            );
        }
        eprintln!();
        // Pass 2, day-major: the day and time indexes and the rollups.
        let days_per_tx = (500_000 / keys.len().max(1)).clamp(1, 30) as i32;
        let mut day0 = first_day;
        while day0 <= today {
            let day1 = (day0 + days_per_tx - 1).min(today);
            let ks = keys.clone();
            app.store.write_blocking(move |tx| {
                let mut days_t = tx.open_table(tables::DENIAL_DAYS)?;
                let mut times_t = tx.open_table(tables::DENIAL_TIMES)?;
                let mut feat_t = tx.open_table(tables::DENIAL_FEATURE_TIMES)?;
                let mut daily_t = tx.open_table(tables::USAGE_DAILY)?;
                let mut blocks_t = tx.open_table(tables::DENIAL_CLIENT_DAYS)?;
                for day in day0..=day1 {
                    let mut sums = vec![(0u64, 0u64, 0u64); feats.len()];
                    let mut times: Vec<(i64, u64, usize, u32)> = Vec::new();
                    let mut per_block: BTreeMap<u64, BTreeMap<u16, u32>> = BTreeMap::new();
                    for (i, (regnum, client)) in ks.iter().enumerate() {
                        for (f, s) in sums.iter_mut().enumerate() {
                            if has2(i, f) {
                                let (c, p) = usage(i, day, f);
                                s.0 += u64::from(c);
                                s.2 += u64::from(p);
                            }
                        }
                        let n = denials(i, day);
                        if n == 0 {
                            continue;
                        }
                        sums[0].1 += u64::from(n);
                        days_t.insert((day, regnum.as_str()), ())?;
                        let (block, lo) = blocks::split(*client);
                        *per_block.entry(block).or_default().entry(lo).or_default() += n;
                        for j in 0..n {
                            let (ms, seq, code) = denial(i, day, j, first_day, now_ms);
                            times.push((ms, seq, i, code));
                        }
                    }
                    times.sort_unstable();
                    for (ms, seq, i, code) in &times {
                        let regnum = ks[*i].0.as_str();
                        times_t.insert((*ms, *seq), (regnum, FEATURE, *code))?;
                        feat_t.insert((FEATURE, *ms, *seq), (regnum, *code))?;
                    }
                    for (f, s) in sums.iter().enumerate() {
                        daily_t.insert((day, feats[f]), *s)?;
                    }
                    for (block, counts) in &per_block {
                        blocks_t.insert((day, *block), blocks::encode(counts).as_slice())?;
                    }
                }
                Ok(())
            })?;
            eprint!("\rhistory: days {}/{days}", day1 - first_day + 1);
            day0 = day1 + 1;
        }
        eprintln!();
        eprintln!(
            "history: {days} days of {} keys, {denial_rows} denials in {:.1} s",
            keys.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
