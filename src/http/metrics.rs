//! `GET /metrics`: the agent's counters and gauges, and the HTTP API's own
//! request counts and durations, in the OpenMetrics text format, produced
//! with `prometheus-client`. Label values are bounded: features come from
//! the config, routes from the router (`unmatched` for any other path),
//! statuses from HTTP.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::http::HttpState;
use crate::http::handlers::agent_error;
use crate::metrics::Scores;

/// An HTTP request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// The route pattern (`/v1/predict`), or `unmatched`.
    route: String,
    /// GET, POST, ...
    method: String,
    /// The answer's status code.
    status: u16,
}

/// What the HTTP API counts itself (the rest comes from the agent's stats
/// at each scrape).
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
    /// Rows answered by `/v1/predict` and `/v1/rank`.
    predictions: Counter,
    /// From the agent's events: each update's training time, its lag from
    /// ingest to served, and each checkpoint's write time.
    update_seconds: Histogram,
    lag_seconds: Histogram,
    checkpoint_seconds: Histogram,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            // 50 µs to about 1.6 s.
            durations: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(5e-5, 2.0, 16))
            }),
            predictions: Counter::default(),
            update_seconds: Histogram::new(exponential_buckets(1e-5, 2.0, 20)),
            lag_seconds: Histogram::new(exponential_buckets(1e-5, 2.0, 24)),
            checkpoint_seconds: Histogram::new(exponential_buckets(1e-4, 2.0, 18)),
        }
    }
}

impl HttpMetrics {
    /// Counts `rows` predictions served.
    pub(crate) fn served(&self, rows: usize) {
        self.predictions.inc_by(rows as u64);
    }

    /// Observes the durations an event reports.
    pub(crate) fn observe(&self, event: &crate::events::Event) {
        use crate::events::Event;
        match event {
            Event::UpdateApplied {
                train_seconds,
                lag_seconds,
                ..
            } => {
                self.update_seconds.observe(*train_seconds);
                self.lag_seconds.observe(*lag_seconds);
            }
            Event::Checkpointed { write_seconds, .. } => {
                self.checkpoint_seconds.observe(*write_seconds)
            }
            _ => {}
        }
    }
}

/// The middleware counting and timing every request.
pub(crate) async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        let labels = RequestLabels {
            route,
            method,
            status: res.status().as_u16(),
        };
        m.requests.get_or_create(&labels).inc();
        m.durations
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    // `prometheus-client` adds the `_total` suffix.
    let name = name.strip_suffix("_total").unwrap_or(name);
    // ... and ends the help with a full stop.
    registry.register(name, help.trim_end_matches('.'), ConstCounter::new(value));
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    registry.register(name, help.trim_end_matches('.'), ConstGauge::new(value));
}

/// The exposition text of the agent's state and the API's own metrics.
fn render(state: &HttpState, http: Option<&HttpMetrics>) -> Result<String, crate::AgentError> {
    let Some(agent) = state.agent() else {
        // No model yet: the API's own metrics only.
        let mut registry = Registry::default();
        if let Some(http) = http {
            http.register(&mut registry);
        }
        return encode(&registry);
    };
    let s = agent.stats()?;
    let ab = agent.ab_stats()?;
    let mut registry = Registry::default();
    let counters = [
        (
            "refit_samples_accepted_total",
            "Samples accepted by ingest.",
            s.ingest.accepted as f64,
        ),
        (
            "refit_samples_trained_total",
            "Samples trained on.",
            s.trainer.trained as f64,
        ),
        (
            "refit_samples_skipped_total",
            "Samples of skipped or refused updates.",
            s.trainer.skipped as f64,
        ),
        (
            "refit_updates_total",
            "Online updates applied.",
            s.trainer.updates as f64,
        ),
        (
            "refit_updates_skipped_total",
            "Online updates skipped or refused.",
            s.trainer.updates_skipped as f64,
        ),
        (
            "refit_backpressure_refusals_total",
            "Ingest calls refused by back-pressure.",
            s.ingest.backpressure_refusals as f64,
        ),
        (
            "refit_checkpoints_written_total",
            "Versions written since start.",
            s.registry.checkpoints_written as f64,
        ),
        (
            "refit_checkpoint_failures_total",
            "Checkpoint writes that failed.",
            s.registry.checkpoint_failures as f64,
        ),
        (
            "refit_retrains_total",
            "Full retrains started.",
            s.trainer.retrains as f64,
        ),
        (
            "refit_ab_demotions_total",
            "Challengers demoted by the guardrail.",
            ab.demoted as f64,
        ),
    ];
    for (name, help, value) in counters {
        counter(&mut registry, name, help, value as u64);
    }
    let severity = match s.trainer.severity {
        crate::Severity::Stable => 0.0,
        crate::Severity::Moderate => 1.0,
        crate::Severity::Severe => 2.0,
    };
    let gauges = [
        (
            "refit_samples_pending",
            "Accepted samples not yet trained on.",
            (s.ingest.buffered + s.ingest.in_flight) as f64,
        ),
        (
            "refit_learning_rate",
            "Learning rate of the last update.",
            f64::from(s.trainer.learning_rate),
        ),
        (
            "refit_drift_severity",
            "Drift severity of the last update (0 stable, 1 moderate, 2 severe).",
            severity,
        ),
        (
            "refit_drift_max_psi",
            "Largest PSI of the latest drift report.",
            s.drift.as_ref().map_or(0.0, |d| d.max_psi),
        ),
        (
            "refit_checkpoints_kept",
            "Online checkpoints on disk.",
            s.registry.kept as f64,
        ),
        (
            "refit_model_disk_bytes",
            "Bytes on disk under the model's version directories.",
            s.registry.disk_bytes as f64,
        ),
        (
            "refit_ab_challenger_share",
            "Traffic share of the A/B challenger.",
            ab.share,
        ),
        (
            "refit_ab_pending_feedback",
            "Keyed predictions waiting for an outcome.",
            ab.pending as f64,
        ),
    ];
    for (name, help, value) in gauges {
        gauge(&mut registry, name, help, value);
    }
    counter(
        &mut registry,
        "refit_events_dropped",
        "Events dropped for subscribers that did not read them.",
        s.serving.events_dropped,
    );
    match s.trainer.metrics {
        Some(Scores::Classification {
            auc,
            log_loss,
            accuracy,
        }) => {
            if let Some(auc) = auc {
                let help = "Progressive AUC over the recent window.";
                gauge(&mut registry, "refit_progressive_auc", help, auc);
            }
            let help = "Progressive log loss over the recent window.";
            gauge(&mut registry, "refit_progressive_log_loss", help, log_loss);
            let help = "Progressive accuracy (P >= 0.5 is class 1) over the recent window.";
            gauge(&mut registry, "refit_progressive_accuracy", help, accuracy);
        }
        Some(Scores::Regression { mae, rmse }) => {
            let help = "Progressive MAE over the recent window.";
            gauge(&mut registry, "refit_progressive_mae", help, mae);
            let help = "Progressive RMSE over the recent window.";
            gauge(&mut registry, "refit_progressive_rmse", help, rmse);
        }
        Some(Scores::Multiclass {
            accuracy,
            macro_f1,
            log_loss,
        }) => {
            let help = "Progressive accuracy over the recent window.";
            gauge(&mut registry, "refit_progressive_accuracy", help, accuracy);
            let help = "Progressive macro-F1 over the recent window.";
            gauge(&mut registry, "refit_progressive_macro_f1", help, macro_f1);
            let help = "Progressive log loss over the recent window.";
            gauge(&mut registry, "refit_progressive_log_loss", help, log_loss);
        }
        None => {}
    }
    if let Some(d) = &s.drift {
        let psi = Family::<Vec<(String, String)>, Gauge<f64, AtomicU64>>::default();
        for (feature, value) in &d.psi {
            psi.get_or_create(&vec![("feature".to_owned(), feature.clone())])
                .set(*value);
        }
        registry.register(
            "refit_drift_psi",
            "PSI per feature in the latest drift report",
            psi,
        );
    }
    registry.register(
        "refit_serving",
        "The version being served",
        Info::new(vec![("version".to_owned(), s.serving_version.to_string())]),
    );
    if let Some(http) = http {
        http.register(&mut registry);
    }
    encode(&registry)
}

fn encode(registry: &Registry) -> Result<String, crate::AgentError> {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)
        .map_err(|e| crate::AgentError::InvalidArgument(format!("encoding the metrics: {e}")))?;
    Ok(out)
}

impl HttpMetrics {
    /// Registers the API's own metrics.
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "refit_predictions_served",
            "Rows answered by /v1/predict and /v1/rank",
            self.predictions.clone(),
        );
        registry.register(
            "refit_http_requests",
            "HTTP requests by route, method and status",
            self.requests.clone(),
        );
        registry.register(
            "refit_http_request_duration_seconds",
            "HTTP request durations by route, method and status",
            self.durations.clone(),
        );
        registry.register(
            "refit_update_seconds",
            "Training time of each online update",
            self.update_seconds.clone(),
        );
        registry.register(
            "refit_ingest_to_served_seconds",
            "Time from a batch leaving ingest to its update being served",
            self.lag_seconds.clone(),
        );
        registry.register(
            "refit_checkpoint_write_seconds",
            "Time to write each checkpoint",
            self.checkpoint_seconds.clone(),
        );
    }
}

pub(crate) async fn metrics(
    state: web::Data<HttpState>,
    http: Option<web::Data<HttpMetrics>>,
) -> HttpResponse {
    let state = state.get_ref().clone();
    let http = http.map(|h| h.get_ref().clone());
    match web::block(move || render(&state, http.as_ref())).await {
        Ok(Ok(text)) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Ok(Err(e)) => agent_error(e),
        Err(e) => {
            crate::http::handlers::error(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR, e)
        }
    }
}
