//! Background work, each job stopping cleanly when the server does.
pub mod certs;
pub mod notices;
pub mod outbox;
pub mod reaper;
pub mod smtp;

use crate::service::App;
use std::sync::Arc;
use tokio::sync::watch;

/// Starts every job on the current runtime; they stop when `stop` turns true.
pub fn start(app: Arc<App>, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(outbox::run(app.clone(), stop.clone())),
        tokio::spawn(notices::run(app.clone(), stop.clone())),
        tokio::spawn(reaper::run(app.clone(), stop.clone())),
        tokio::spawn(crate::service::backups::run(app.clone(), stop.clone())),
        tokio::spawn(certs::run(app.clone(), stop.clone())),
        tokio::spawn(crate::service::acme::run(app.clone(), stop.clone())),
        tokio::spawn(crate::service::system::run_load(app, stop)),
    ]
}
