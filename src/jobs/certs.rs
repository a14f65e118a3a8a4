//! Keeps the certificate in use current without a restart: picks up certificate files
//! changed on disk (a vendor's certbot, a pair copied in), and renews the self-signed
//! certificate licd made when it nears its end (hourly). ACME renewals are
//! `service::acme::run`.
use crate::service::App;
use std::sync::Arc;
use tokio::sync::watch;

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let every = app.config.tls_reload;
    let hour = std::time::Duration::from_secs(3600);
    let mut renewal_checked = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let Some(live) = app.tls.get().cloned() else {
            continue;
        };
        if renewal_checked.elapsed() >= hour {
            renewal_checked = std::time::Instant::now();
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
