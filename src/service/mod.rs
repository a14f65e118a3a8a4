//! Use cases. Each write is one closure run by the store's writer in one transaction,
//! mail queued in that same transaction; reads use a read snapshot.
pub mod acme;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod cabinet;
pub mod clients;
pub mod coupons;
pub mod distributors;
pub mod holdings;
pub mod keys;
pub mod leases;
pub mod limits;
pub mod mail;
pub mod outbox;
pub mod products;
pub mod releases;
pub mod reminders;
pub mod search;
pub mod sessions;
pub mod settings;
pub mod signing;
pub mod stats;
pub mod system;
pub mod trial;
pub mod usage;
pub mod users;
pub mod views;

use crate::clock::Clock;
use crate::config::Config;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use time::OffsetDateTime;

/// Everything a request handler or a job needs, shared by reference.
pub struct App {
    pub store: Store,
    pub clock: Clock,
    pub config: Config,
    pub signer: signing::Signer,
    pub leases: leases::LeaseClock,
    pub search: search::SearchIndex,
    /// Products by feature number (a cache of the products table).
    pub catalog: products::Catalog,
    /// Usage counters not yet written (flushed every few seconds).
    pub usage: usage::UsageBuffer,
    pub limits: limits::Limiter,
    /// Wakes the outbox sender when new mail is queued.
    pub mail_queued: tokio::sync::Notify,
    /// Seats nearly exhausted, reported by captures to the alert job.
    pub alerts: alerts::Alerts,
    pub started_at: OffsetDateTime,
    /// One backup at a time.
    pub backups: backups::Gate,
    /// The certificate the listener presents (set when the server starts).
    pub tls: std::sync::OnceLock<std::sync::Arc<crate::http::tls::LiveCert>>,
    /// Requests per second, sampled by the load job.
    pub load: system::Load,
    /// Prometheus counters and gauges of this server (`GET /api/admin/v1/metrics`).
    pub metrics: crate::metrics::Metrics,
}

impl App {
    /// What queueing a mail needs from the configuration.
    pub fn mail_env(&self) -> mail::MailEnv {
        mail::MailEnv::of(&self.config)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(std::path::PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key: {0}")]
    Signing(String),
}

impl App {
    /// Opens the data directory: store, signing key, in-memory indexes.
    pub fn open(config: Config, clock: Clock) -> Result<Arc<App>, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::DataDir(config.data_dir.clone(), e))?;
        let store = Store::open(&config.db_path())?;
        let signer = signing::Signer::load_or_create(&config.data_dir)
            .map_err(|e| StartError::Signing(e.to_string()))?;
        let now = clock.now();
        let search = search::SearchIndex::load(&store)?;
        let lease_clock = leases::LeaseClock::new(now);
        let catalog = products::Catalog::load(&store)?;
        let limits = limits::Limiter::new(config.abuse_per_minute);
        let metrics = crate::metrics::Metrics::new(now.unix_timestamp(), store.stats.clone());
        Ok(Arc::new(App {
            store,
            leases: lease_clock,
            clock,
            config,
            signer,
            search,
            catalog,
            usage: usage::UsageBuffer::default(),
            limits,
            mail_queued: tokio::sync::Notify::new(),
            alerts: alerts::Alerts::default(),
            metrics,
            started_at: now,
            backups: backups::Gate::default(),
            tls: std::sync::OnceLock::new(),
            load: system::Load::default(),
        }))
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

impl Drop for App {
    /// The last handle closes the store cleanly (writer stopped, file closed), also on
    /// the error paths of command-line tools.
    fn drop(&mut self) {
        self.store.close();
    }
}
