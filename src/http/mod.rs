//! The HTTP API (actix-web): the embedded agent over JSON, for hosts in
//! other languages and for operators. `refit serve` starts it; a host can
//! start it next to its own agent with [`serve`].
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /healthz` | | `{"status": "ok", "serving": "online_003"}` |
//! | `POST /v1/samples` | `{"rows": [[..]], "labels": [..]}` | `{"accepted", "pending", "buffered"}` |
//! | `POST /v1/predict` | `{"rows": [[..]], "key"?: "user-1"}` | `{"values", "version", "variant", "ensemble", "request_id"}` |
//! | `POST /v1/feedback` | `{"request_id": 7, "labels": [..]}` | `{"counted": n}` |
//! | `POST /v1/clicks` | `{"clicks": [{"query", "doc_id", "position", "clicked"}]}` | `{"accepted", "pending", "buffered"}` |
//! | `POST /v1/rank` | `{"query": "red shoes", "doc_ids": [..]}` | `{"docs": [{"doc_id", "score"}], "version", "ensemble"}` |
//! | `GET /v1/stats` | | the agent's stats |
//! | `GET /v1/versions` | | stored versions, active marker |
//! | `POST /v1/rollback` | `{"version": "v3"}` | the version's manifest entry |
//! | `POST /v1/promote` | | the promoted challenger's entry |
//! | `POST /v1/challenger` | `{"version": "v3", "share": 0.1}` or `{"version": null}` | the A/B stats |
//! | `POST /v1/shadow` | `{"version": "v2"}` or `{"version": null}` | the A/B stats |
//! | `PUT /v1/ensemble` | `{"weight": 0.3}` (kept in the config file) | `{"weight"}` |
//! | `POST /v1/train` | `{"source": "log"}` or `{"source": "csv", "csv": "..", "label": "y"}` | 202 `{"samples", "reason"}`; progress and result as events |
//! | `GET`, `PUT /v1/online` | `{"enabled"?, "min_samples_per_update"?}` | the `[online]` toggle and threshold |
//! | `GET /v1/drift` | | the latest drift report |
//! | `GET /v1/history` | | the dashboard's time series ([`history`]) |
//! | `GET /` | | the dashboard page |
//! | `GET /metrics` | | Prometheus text format |
//! | `GET /v1/openapi.json` | | the OpenAPI description |
//!
//! Errors are JSON `{"error": "..."}` naming the problem: 400 for bad
//! input (malformed JSON, wrong feature count, bad labels), 404 for unknown
//! versions and requests, 409 for a state that does not allow the call,
//! 413 for a body over `http.max_body_bytes` or more samples in one call
//! than `online.max_pending_samples` (split it), 429 for back-pressure, 503
//! once the agent stopped. `PUT /v1/online` edits the config file in place
//! (comments kept; the result is validated before it is written
//! atomically); the agent's watcher then reloads it, so file and API never
//! disagree.

mod access;
mod dashboard;
mod experiments;
mod handlers;
pub mod history;
mod metrics;
mod online;
mod slot;

use std::net::SocketAddr;

use actix::Actor;
use actix_web::{App, HttpServer, web};

pub use access::{Access, TOKEN_ENV};
pub use online::set_online;
pub use slot::{HttpState, Starter};

/// A running HTTP server.
pub struct HttpServerHandle {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    recorder: Option<std::thread::JoinHandle<()>>,
}

/// How long a stopping server lets the requests in flight finish.
pub const SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Stops a running server from any thread (a signal handler's, say): it
/// stops accepting connections at once and lets the requests in flight
/// finish, for at most [`SHUTDOWN_TIMEOUT`]; [`HttpServerHandle::wait`]
/// then returns.
#[derive(Clone)]
pub struct ServerStopper(actix_web::dev::ServerHandle);

impl ServerStopper {
    /// Asks the server to stop, without waiting for it.
    pub fn stop(&self) {
        // The command is sent when `stop` is called; the future only
        // waits for its completion.
        drop(self.0.stop(true));
    }
}

impl HttpServerHandle {
    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// A way to stop the server from another thread.
    pub fn stopper(&self) -> ServerStopper {
        ServerStopper(self.handle.clone())
    }

    fn shutdown(&mut self) {
        futures::executor::block_on(self.handle.stop(true));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(t) = self.recorder.take() {
            let _ = t.join();
        }
    }

    /// Blocks until the server ends (e.g. on Ctrl-C).
    pub fn wait(mut self) -> std::io::Result<()> {
        let result = match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| std::io::Error::other("the HTTP thread panicked"))?,
            None => Ok(()),
        };
        if let Some(t) = self.recorder.take() {
            let _ = t.join();
        }
        result
    }
}

impl Drop for HttpServerHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown();
        }
    }
}

/// How often the dashboard's history records the agent's stats.
pub const RECORD_PERIOD: std::time::Duration = std::time::Duration::from_millis(500);

/// The routes, for [`serve`] and for tests that build their own app (which
/// then give `/v1/history` a `web::Data<Addr<history::History>>`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(dashboard::page))
        .route("/healthz", web::get().to(handlers::healthz))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/v1/samples", web::post().to(handlers::samples))
        .route("/v1/predict", web::post().to(handlers::predict))
        .route("/v1/feedback", web::post().to(handlers::feedback))
        .route("/v1/clicks", web::post().to(handlers::clicks))
        .route("/v1/rank", web::post().to(handlers::rank))
        .route("/v1/stats", web::get().to(handlers::stats))
        .route("/v1/versions", web::get().to(handlers::versions))
        .route("/v1/rollback", web::post().to(handlers::rollback))
        .route("/v1/promote", web::post().to(handlers::promote))
        .route("/v1/challenger", web::post().to(experiments::challenger))
        .route("/v1/shadow", web::post().to(experiments::shadow))
        .route("/v1/ensemble", web::put().to(experiments::ensemble))
        .route("/v1/train", web::post().to(experiments::train))
        .route("/v1/online", web::get().to(online::get))
        .route("/v1/online", web::put().to(online::put))
        .route("/v1/drift", web::get().to(handlers::drift))
        .route("/v1/history", web::get().to(dashboard::history))
        .route("/v1/openapi.json", web::get().to(handlers::openapi));
}

/// Serves `state` on `bind` (e.g. `127.0.0.1:8080`; port 0 picks one) from
/// a thread of its own, with bodies up to `max_body_bytes`, and records the
/// dashboard's history from then on. Access follows the default `[http]`
/// rules: loopback host names, and the token in `REFIT_TOKEN` if set (see
/// [`serve_with`]).
pub fn serve(
    state: HttpState,
    bind: &str,
    max_body_bytes: usize,
) -> std::io::Result<HttpServerHandle> {
    let access = Access::from_config(&crate::config::HttpConfig::default())?;
    serve_with(state, bind, max_body_bytes, access)
}

/// [`serve`] under the access rules `access` (see [`Access`]; the `refit`
/// binary builds them from `[http]`).
pub fn serve_with(
    state: HttpState,
    bind: &str,
    max_body_bytes: usize,
    access: Access,
) -> std::io::Result<HttpServerHandle> {
    let (tx, rx) = std::sync::mpsc::channel();
    let bind = bind.to_owned();
    let thread = std::thread::Builder::new()
        .name("refit-http".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let features = state
                    .agent()
                    .map(|a| a.spec().features.clone())
                    .unwrap_or_default();
                let history = history::History::new(features).start();
                let http_metrics = metrics::HttpMetrics::default();
                let recorder = match history::record_with(
                    state.clone(),
                    history.clone(),
                    RECORD_PERIOD,
                    Some(http_metrics.clone()),
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return Ok(());
                    }
                };
                let data = web::Data::new(state);
                let history = web::Data::new(history);
                let access = web::Data::new(access);
                let http_metrics = web::Data::new(http_metrics);
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(actix_web::middleware::from_fn(access::guard))
                        // Outermost: refused requests are counted too.
                        .wrap(actix_web::middleware::from_fn(metrics::track))
                        .app_data(access.clone())
                        .app_data(http_metrics.clone())
                        .app_data(data.clone())
                        .app_data(history.clone())
                        .app_data(handlers::json_config(max_body_bytes))
                        .configure(routes)
                        .default_service(web::to(handlers::not_found))
                })
                .workers(2)
                // Signals are the host's (the `refit` binary stops through
                // a `ServerStopper`).
                .disable_signals()
                .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs())
                .bind(&bind);
                let server = match server {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return Ok(());
                    }
                };
                let addr = server.addrs().first().copied();
                let running = server.run();
                let _ = tx.send(Ok((addr, running.handle(), recorder)));
                running.await
            })
        })?;
    let (addr, handle, recorder) = rx
        .recv()
        .map_err(|_| std::io::Error::other("the HTTP thread ended before listening"))??;
    Ok(HttpServerHandle {
        addr: addr.ok_or_else(|| std::io::Error::other("no address bound"))?,
        handle,
        thread: Some(thread),
        recorder: Some(recorder),
    })
}
