//! Starting and stopping the whole server: store, jobs, HTTPS.
use crate::clock::Clock;
use crate::config::Config;
use crate::http;
use crate::service::App;
use actix_web::dev::ServerHandle;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// A server started in this process (by `licd serve` or a test).
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub handle: ServerHandle,
    pub cert_path: PathBuf,
    server: Option<actix_web::dev::Server>,
    stop: tokio::sync::watch::Sender<bool>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

/// Opens the data directory and binds the HTTPS listener; the server runs once
/// `Running::wait` (or a spawned task) drives it.
pub fn start(mut config: Config, clock: Clock) -> anyhow::Result<Running> {
    http::tls::install_provider();
    crate::ops::perms::private_by_default();
    match crate::ops::perms::secure_dir(&config.data_dir) {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            "{n} entries of the data directory were readable by others: made private (0700/0600)"
        ),
        Err(e) => tracing::warn!("data directory permissions not checked: {e}"),
    }
    let (tls, live_cert) = http::tls::server_config(&config)?;
    let cert_path = live_cert.cert_path.clone();
    let workers = config.workers;
    // Bound first, so a port chosen by the system (`:0`) is known to the links licd makes.
    let listener = std::net::TcpListener::bind(config.listen)?;
    let bound = listener.local_addr()?;
    if bound != config.listen {
        if config.public_url == crate::config::default_public_url(config.listen) {
            config.public_url = crate::config::default_public_url(bound);
        }
        config.listen = bound;
    }
    let app = App::open(config, clock)?;
    let _ = app.tls.set(live_cert);
    match crate::service::releases::remove_orphans(&app) {
        Ok(0) => {}
        Ok(n) => tracing::info!("removed {n} release file(s) no release names (cut-off uploads)"),
        Err(e) => tracing::warn!("release files not checked: {e}"),
    }
    let factory_app = app.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(http::security_headers())
            // Outermost: counts and times every answer (metrics, access log).
            .wrap(http::observe::Observe(factory_app.clone()))
            .configure(http::configure(factory_app.clone()))
            // Before routing: HEAD is routed as GET.
            .wrap(actix_web::middleware::from_fn(http::head_as_get))
    })
    .workers(workers)
    // Small answers go out at once (no Nagle wait for the peer's delayed ACK).
    .tcp_nodelay(true)
    .shutdown_timeout(10)
    .listen_rustls_0_23(listener, tls)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no listening address"))?;
    let server = server.run();
    let handle = server.handle();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let jobs = crate::jobs::start(app.clone(), stop_rx);
    Ok(Running {
        addr,
        app,
        handle,
        cert_path,
        server: Some(server),
        stop,
        jobs,
    })
}

impl Running {
    /// Serves until the server stops (SIGTERM / Ctrl-C or `handle.stop`), then stops the
    /// jobs.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        if let Some(server) = self.server.take() {
            server.await?;
        }
        self.shutdown_jobs().await;
        Ok(())
    }

    /// Runs the server in the background (tests).
    pub fn spawn(&mut self) {
        if let Some(server) = self.server.take() {
            tokio::spawn(server);
        }
    }

    async fn shutdown_jobs(&mut self) {
        let _ = self.stop.send(true);
        for j in self.jobs.drain(..) {
            let _ = j.await;
        }
        if let Err(e) = crate::service::usage::flush(&self.app).await {
            tracing::warn!("usage flush at shutdown: {e}");
        }
        let app = self.app.clone();
        let _ = tokio::task::spawn_blocking(move || app.store.close()).await;
    }

    /// Stops serving gracefully and stops the jobs.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        self.shutdown_jobs().await;
    }
}
