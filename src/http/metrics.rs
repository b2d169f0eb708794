//! `GET /metrics`: the agent's counters and gauges in the Prometheus text
//! exposition format (version 0.0.4).

use std::fmt::Write;

use actix_web::{HttpResponse, web};

use crate::http::HttpState;
use crate::http::handlers::agent_error;
use crate::metrics::Scores;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// The exposition text of the agent's state.
fn render(state: &HttpState) -> Result<String, crate::AgentError> {
    let s = state.agent.stats()?;
    let ab = state.agent.ab_stats()?;
    let mut out = String::new();
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
        metric(&mut out, name, "counter", help, value);
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
        metric(&mut out, name, "gauge", help, value);
    }
    match s.trainer.metrics {
        Some(Scores::Classification { auc, log_loss }) => {
            if let Some(auc) = auc {
                metric(
                    &mut out,
                    "refit_progressive_auc",
                    "gauge",
                    "Progressive AUC over the recent window.",
                    auc,
                );
            }
            metric(
                &mut out,
                "refit_progressive_log_loss",
                "gauge",
                "Progressive log loss over the recent window.",
                log_loss,
            );
        }
        Some(Scores::Regression { mae, rmse }) => {
            metric(
                &mut out,
                "refit_progressive_mae",
                "gauge",
                "Progressive MAE over the recent window.",
                mae,
            );
            metric(
                &mut out,
                "refit_progressive_rmse",
                "gauge",
                "Progressive RMSE over the recent window.",
                rmse,
            );
        }
        None => {}
    }
    if let Some(d) = &s.drift {
        let _ = writeln!(
            out,
            "# HELP refit_drift_psi PSI per feature in the latest drift report."
        );
        let _ = writeln!(out, "# TYPE refit_drift_psi gauge");
        for (feature, psi) in &d.psi {
            let label = feature.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(out, "refit_drift_psi{{feature=\"{label}\"}} {psi}");
        }
    }
    let _ = writeln!(out, "# HELP refit_serving_info The version being served.");
    let _ = writeln!(out, "# TYPE refit_serving_info gauge");
    let _ = writeln!(
        out,
        "refit_serving_info{{version=\"{}\"}} 1",
        s.serving_version
    );
    Ok(out)
}

pub(crate) async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    let state = state.get_ref().clone();
    match web::block(move || render(&state)).await {
        Ok(Ok(text)) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Ok(Err(e)) => agent_error(e),
        Err(e) => {
            crate::http::handlers::error(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR, e)
        }
    }
}
