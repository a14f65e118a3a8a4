//! What the HTTP layer tells operators: one middleware around every route that counts
//! each answer in the metrics (status, duration) and, at `debug` level, writes one
//! access-log line (target `licd::access`), and the admin API's scrape endpoint.
//!
//! The access line has the method, the route's pattern (`/api/v1/keys/{regnum}`, never
//! the raw path, so registration numbers, lease ids and link secrets stay out of the
//! log), the status and the milliseconds; never a header, a cookie, a body or the query
//! string. The pattern is only looked up when that level is on; counting allocates
//! nothing, and its one lock is the histogram's (~115 ns an answer in all, BENCHMARKS.md).
use crate::error::AppResult;
use crate::http::extract::Staff;
use crate::service::App;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{HttpResponse, web};
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// The middleware; `wrap` it outermost so it times everything inside.
pub struct Observe(pub Arc<App>);

impl<S, B> Transform<S, ServiceRequest> for Observe
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = ObserveService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ObserveService {
            service,
            app: Rc::new(self.0.clone()),
        }))
    }
}

/// A worker's services and futures stay on its thread: an `Rc` clone per request is a
/// plain increment, where cloning the `Arc` that every worker shares is an atomic one.
type Handle = Rc<Arc<App>>;

pub struct ObserveService<S> {
    service: S,
    app: Handle,
}

impl<S, B> Service<ServiceRequest> for ObserveService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Observed<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        Observed {
            start: Instant::now(),
            app: self.app.clone(),
            inner: self.service.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, counted and logged when it is ready.
    pub struct Observed<F> {
        #[pin]
        inner: F,
        start: Instant,
        app: Handle,
    }
}

impl<F, B> Future for Observed<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = std::task::ready!(this.inner.poll(cx));
        let took = this.start.elapsed();
        let status = match &res {
            Ok(r) => r.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        this.app.metrics.http_answered(status.as_u16(), took);
        if tracing::enabled!(target: "licd::access", tracing::Level::DEBUG) {
            let (method, route) = match &res {
                Ok(r) => (r.request().method().as_str(), r.request().match_pattern()),
                Err(_) => ("-", None),
            };
            tracing::debug!(
                target: "licd::access",
                method,
                route = route.as_deref().unwrap_or("-"),
                status = status.as_u16(),
                ms = took.as_micros() as f64 / 1000.0,
                "request"
            );
        }
        Poll::Ready(res)
    }
}

/// Prometheus metrics, text format 0.0.4 (admin). Every name, type and label is listed
/// in README.md's "Metrics" section.
#[utoipa::path(get, path = "/api/admin/v1/metrics", tag = "admin", security(("bearer" = [])),
    responses((status = 200, content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 401), (status = 403)))]
pub async fn metrics(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(crate::domain::Role::Admin)?;
    // Table lengths and atomics: cheap enough for the executor at any size.
    let body = app.metrics.scrape(&app)?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(body))
}
