//! Keeps the certificate in use current without a restart: picks up certificate files
//! changed on disk (a vendor's certbot, a pair copied in), and renews the self-signed
//! certificate licd made when it nears its end (hourly). ACME renewals are
//! `service::acme::run`.
use crate::service::App;
use std::sync::Arc;
use tokio::sync::watch;

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let every = app.config.tls_reload;
    let mut rounds: u64 = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        rounds += 1;
        let Some(live) = app.tls.get().cloned() else {
            continue;
        };
        if rounds * every.as_secs().max(1) % 3600 < every.as_secs().max(1) {
            match live.renew_if_due() {
                Ok(true) => tracing::info!("self-signed certificate renewed and in use"),
                Ok(false) => {}
                Err(e) => tracing::warn!("self-signed certificate not renewed: {e}"),
            }
        }
        let l = live.clone();
        match tokio::task::spawn_blocking(move || l.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!(
                cert = %live.cert_path.display(),
                "certificate files changed on disk: the new certificate is in use"
            ),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(
                "certificate files changed but do not load ({e}): the previous certificate stays in use"
            ),
            Err(e) => tracing::warn!("certificate check: {e}"),
        }
    }
}
