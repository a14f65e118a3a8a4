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
                            features: vec![products::NewFeature {
                                number: FEATURE,
                                name: "Seeded seat".into(),
                                unit: Unit::User,
                            }],
                            trial: None,
                        },
                    )
                    .await
                }
            }
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
    while done < keys_n {
        let n = args.batch.min(keys_n - done);
        let now = app.now();
        let owners: Vec<u64> = (done..done + n)
            .map(|i| client_ids[(i % clients_n) as usize])
            .collect();
        let want_leases = leases_n.saturating_sub(leased).min(n);
        let made = app
            .store
            .write_blocking(move |tx| {
                let mut made = 0;
                for (j, owner) in owners.iter().enumerate() {
                    let mut k = keys::insert_new(tx, *owner, now)?;
                    k.add_grant(Grant {
                        id: 0,
                        product: "seed".into(),
                        feature: FEATURE,
                        seats: 5,
                        expires_at: None,
                        trial: false,
                        source: GrantSource::Manual,
                        added_at: now,
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
                Ok(made)
            })
            .map_err(|e| anyhow::anyhow!(e.message(crate::i18n::Lang::En)))?;
        leased += made;
        done += n;
        eprint!("\rkeys {done}/{keys_n}, leases {leased}");
    }
    eprintln!();
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
