//! Experiments and offline training over HTTP: the challenger and the
//! shadow of the A/B test, the ensemble weight (kept in the config file),
//! and offline trainings started from the sample log or an uploaded CSV,
//! whose progress and result are events.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::http::HttpState;
use crate::http::handlers::{blocking, error, ready};
use crate::store::VersionId;

/// A version named in a body, or the 400 answer.
fn version(text: &str) -> Result<VersionId, Box<HttpResponse>> {
    text.parse()
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Challenger {
    /// The stored version to test; `null` ends the test.
    version: Option<String>,
    /// Its share of the keys, 0 to 1 (needed with a version).
    share: Option<f64>,
}

/// `POST /v1/challenger`: `{"version": "v3", "share": 0.1}` starts (or
/// replaces) the A/B test; `{"version": null}` ends it.
pub(crate) async fn challenger(
    state: web::Data<HttpState>,
    body: web::Json<Challenger>,
) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let body = body.into_inner();
    let set = match (body.version, body.share) {
        (None, None) => None,
        (None, Some(_)) => {
            return error(StatusCode::BAD_REQUEST, "a share needs a version");
        }
        (Some(_), None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "give the challenger's share of the keys, 0 to 1 (\"share\")",
            );
        }
        (Some(v), Some(share)) => match version(&v) {
            Ok(v) => Some((v, share)),
            Err(answer) => return *answer,
        },
    };
    blocking(move || {
        match set {
            Some((v, share)) => agent.set_challenger(v, share)?,
            None => agent.clear_challenger()?,
        }
        agent.ab_stats()
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Shadow {
    /// The stored version that scores without answering; `null` removes it.
    version: Option<String>,
}

/// `POST /v1/shadow`: `{"version": "v2"}` or `{"version": null}`.
pub(crate) async fn shadow(state: web::Data<HttpState>, body: web::Json<Shadow>) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let set = match body
        .into_inner()
        .version
        .as_deref()
        .map(version)
        .transpose()
    {
        Ok(v) => v,
        Err(answer) => return *answer,
    };
    blocking(move || {
        agent.set_shadow(set)?;
        agent.ab_stats()
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ensemble {
    /// The offline member's weight, 0 (off) to 1.
    weight: f64,
}

/// `PUT /v1/ensemble`: `{"weight": 0.3}` sets `[serving]
/// ensemble_offline_weight` in the config file (comments kept); the
/// agent's watcher applies it.
pub(crate) async fn ensemble(
    state: web::Data<HttpState>,
    body: web::Json<Ensemble>,
) -> HttpResponse {
    let weight = body.weight;
    match crate::http::online::edit(&state, move |text| {
        crate::http::online::set_in(
            text,
            "serving",
            vec![("ensemble_offline_weight", weight.into())],
        )
    })
    .await
    {
        Ok(c) => HttpResponse::Ok().json(serde_json::json!({
            "weight": c.serving.ensemble_offline_weight,
        })),
        Err(answer) => answer,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "source", rename_all = "snake_case")]
pub(crate) enum Train {
    /// The sample log's newest `retrain.max_rows` samples (dense or CTR).
    Log,
    /// A CSV file's text with a header row (dense models): its columns are
    /// matched to the features by name.
    Csv { csv: String, label: String },
}

/// `POST /v1/train`: starts an offline training and answers 202 with the
/// samples it trains on; `RetrainTriggered`, `OfflineProgress`, then
/// `OfflineTrained` or `RetrainFailed` follow as events.
pub(crate) async fn train(state: web::Data<HttpState>, body: web::Json<Train>) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let started = web::block(move || match body.into_inner() {
        Train::Log => agent.start_retrain().map(|n| (n, "requested")),
        Train::Csv { csv, label } => {
            let bad = |e: String| crate::AgentError::InvalidArgument(e);
            let mut data = crate::data::read_csv(csv.as_bytes(), "the uploaded CSV", &label)
                .map_err(|e| bad(e.to_string()))?;
            let spec = agent.spec();
            if let Some(text) = data.categorical.iter().find(|c| !spec.categorical.contains(c)) {
                return Err(bad(format!(
                    "the uploaded CSV: column `{text}` holds text, and the model reads it as a number"
                )));
            }
            data = data
                .select(&spec.features)
                .map_err(|e| bad(format!("the uploaded CSV: {e}")))?;
            if !spec.classes.is_empty() {
                data.use_classes(&spec.classes)
                    .map_err(|e| bad(format!("the uploaded CSV: {e}")))?;
            }
            agent
                .start_training(&data.rows, &data.labels)
                .map(|n| (n, "upload"))
        }
    })
    .await;
    match started {
        Ok(Ok((samples, reason))) => HttpResponse::Accepted().json(serde_json::json!({
            "samples": samples,
            "reason": reason,
        })),
        Ok(Err(e)) => crate::http::handlers::agent_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
