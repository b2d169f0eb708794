//! The JSON endpoints (see the module docs of `http`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, error, web};
use serde::Deserialize;

use crate::AgentError;
use crate::http::HttpState;
use crate::http::metrics::HttpMetrics;
use crate::store::{StoreError, VersionId};

/// An error answer of the API: a status and a message, sent as
/// `{"error": message}`. Every error the API answers goes through its one
/// [`ResponseError`] implementation; an [`AgentError`] takes its status from
/// what happened ([`ApiError::from`]).
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        Self {
            status,
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<AgentError> for ApiError {
    /// Bad input 400, unknown ids 404, a state that forbids the call 409,
    /// a call larger than the pending limit 413 (split it), back-pressure
    /// 429 (retry later), a stopped agent or a fleet that cannot reach NATS 503 (retry), and what the
    /// caller cannot fix (disk, an unreadable stored file, a bug) 500.
    fn from(e: AgentError) -> Self {
        let status = match &e {
            AgentError::Plugin(_) | AgentError::Config(_) | AgentError::InvalidArgument(_) => {
                StatusCode::BAD_REQUEST
            }
            AgentError::Backpressure { .. } => StatusCode::TOO_MANY_REQUESTS,
            AgentError::TooManySamples { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AgentError::UnknownRequest(_) | AgentError::Store(StoreError::Unknown(_)) => {
                StatusCode::NOT_FOUND
            }
            AgentError::Incompatible { .. } | AgentError::NoChallenger => StatusCode::CONFLICT,
            AgentError::Stopped | AgentError::FleetUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(serde_json::json!({ "error": self.message }))
    }
}

/// A JSON error answer.
pub(crate) fn error(status: StatusCode, message: impl std::fmt::Display) -> HttpResponse {
    ApiError::new(status, message).error_response()
}

/// The answer to an agent error, with its status.
pub(crate) fn agent_error(e: AgentError) -> HttpResponse {
    ApiError::from(e).error_response()
}

/// Runs a blocking agent call off the async workers.
pub(crate) async fn blocking<T: serde::Serialize + Send + 'static>(
    f: impl FnOnce() -> Result<T, AgentError> + Send + 'static,
) -> HttpResponse {
    match web::block(f).await {
        Ok(Ok(v)) => HttpResponse::Ok().json(v),
        Ok(Err(e)) => agent_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// JSON bodies: size limit and errors that name the problem.
pub(crate) fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            let response = match &err {
                error::JsonPayloadError::Overflow { .. }
                | error::JsonPayloadError::OverflowKnownLength { .. } => error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than http.max_body_bytes = {limit}"),
                ),
                error::JsonPayloadError::ContentType => error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send the body as JSON (Content-Type: application/json)",
                ),
                other => error(StatusCode::BAD_REQUEST, format!("malformed JSON: {other}")),
            };
            error::InternalError::from_response(err, response).into()
        })
}

/// Dense rows (and labels) for the agent's model, or the 400 answer: the
/// model must take dense rows; rows and labels must fit its schema
/// ([`crate::schema`]).
fn dense_rows(
    agent: &crate::Agent,
    rows: &[serde_json::Value],
    labels: Option<&[serde_json::Value]>,
) -> Result<(Vec<f32>, Vec<f32>), Box<HttpResponse>> {
    agent
        .encode_named(rows, labels)
        .map_err(|e| Box::new(agent_error(e)))
}

/// The agent, or the 409 answer that there is none yet.
pub(crate) fn ready(state: &HttpState) -> Result<crate::Agent, Box<HttpResponse>> {
    state
        .ready()
        .cloned()
        .map_err(|e| Box::new(e.error_response()))
}

/// Reads the serving pointer only: it never waits for an actor, so a busy
/// Trainer (a full retrain) cannot stall it or the worker it runs on.
pub(crate) async fn healthz(state: web::Data<HttpState>) -> HttpResponse {
    let Some(agent) = state.agent() else {
        return HttpResponse::Ok().json(serde_json::json!({
            "status": "waiting",
            "serving": null,
            "waiting_for": super::slot::NO_MODEL_YET,
        }));
    };
    match agent.serving_version() {
        Ok(v) => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok",
            "serving": v.to_string(),
        })),
        Err(e) => agent_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Samples {
    /// Arrays in feature order, or objects keyed by feature name.
    rows: Vec<serde_json::Value>,
    /// Numbers, or class names for a model with classes.
    labels: Vec<serde_json::Value>,
}

pub(crate) async fn samples(
    req: actix_web::HttpRequest,
    state: web::Data<HttpState>,
    body: web::Json<Samples>,
) -> HttpResponse {
    // Fleet mode: a retry under the same key is stored once.
    let key = match req.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.trim().is_empty() && k.len() <= 256 => Some(k.trim().to_owned()),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the Idempotency-Key header must be 1 to 256 visible ASCII characters",
            );
        }
    };
    let body = body.into_inner();
    let agent = match state.agent() {
        Some(agent) => agent.clone(),
        None => {
            // The first named samples fix the schema and start the agent.
            let (state, body) = (state.clone(), (body.rows.clone(), body.labels.clone()));
            match web::block(move || state.ready_for(&body.0, &body.1)).await {
                Ok(Ok(agent)) => agent,
                Ok(Err(e)) => return agent_error(e),
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
            }
        }
    };
    let (rows, labels) = match dense_rows(&agent, &body.rows, Some(&body.labels)) {
        Ok(r) => r,
        Err(answer) => return *answer,
    };
    blocking(move || match &key {
        Some(key) => agent.ingest_once(key, &rows, &labels),
        None => agent.ingest(&rows, &labels),
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Predict {
    /// Arrays in feature order, or objects keyed by feature name.
    rows: Vec<serde_json::Value>,
    key: Option<String>,
}

/// Counts answered rows in the API's metrics (when the app has them).
fn count_served(metrics: Option<&web::Data<HttpMetrics>>, rows: usize) {
    if let Some(m) = metrics {
        m.served(rows);
    }
}

pub(crate) async fn predict(
    state: web::Data<HttpState>,
    metrics: Option<web::Data<HttpMetrics>>,
    body: web::Json<Predict>,
) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let rows = match dense_rows(&agent, &body.rows, None) {
        Ok((x, _)) => x,
        Err(answer) => return *answer,
    };
    let answer = match &body.key {
        Some(key) => agent.predict_keyed(key, &rows),
        None => agent.predict(&rows),
    };
    match answer {
        Ok(p) => {
            count_served(metrics.as_ref(), p.values.len());
            let mut answer = serde_json::json!({
            "values": p.values,
            "version": p.version.to_string(),
            "variant": p.variant,
            "ensemble": p.ensemble.map(|v| v.to_string()),
            "request_id": p.request_id,
            });
            add_classes(&mut answer, agent.spec(), &p);
            HttpResponse::Ok().json(answer)
        }
        Err(e) => agent_error(e),
    }
}

/// A classifier's class names in a prediction's answer; for a multiclass
/// model also each row's likeliest class (`labels`) and its class
/// probabilities (`probabilities`, one array per row).
fn add_classes(
    answer: &mut serde_json::Value,
    spec: &refit_plugin::ModelSpec,
    p: &crate::Prediction,
) {
    if spec.classes.is_empty() {
        return;
    }
    answer["classes"] = serde_json::json!(spec.classes);
    if let Some(probabilities) = &p.probabilities {
        let rows: Vec<&[f32]> = probabilities.chunks(spec.classes.len()).collect();
        answer["probabilities"] = serde_json::json!(rows);
        let labels: Vec<&str> = p
            .values
            .iter()
            .map(|&i| spec.classes.get(i as usize).map_or("", String::as_str))
            .collect();
        answer["labels"] = serde_json::json!(labels);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackBody {
    request_id: u64,
    /// Numbers, or class names for a model with classes.
    labels: Vec<serde_json::Value>,
}

pub(crate) async fn feedback(
    state: web::Data<HttpState>,
    body: web::Json<FeedbackBody>,
) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let body = body.into_inner();
    blocking(move || {
        agent
            .feedback_named(body.request_id, &body.labels)
            .map(|counted| serde_json::json!({ "counted": counted }))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Clicks {
    clicks: Vec<crate::ctr::Click>,
}

/// `POST /v1/clicks`: click events for a sparse (CTR) model.
pub(crate) async fn clicks(state: web::Data<HttpState>, body: web::Json<Clicks>) -> HttpResponse {
    let clicks = body.into_inner().clicks;
    if let Some(i) = clicks.iter().position(|c| c.position == 0) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("click {i}: positions start at 1"),
        );
    }
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    blocking(move || agent.record_clicks(&clicks)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rank {
    query: String,
    doc_ids: Vec<String>,
    /// The A/B key (user or session id): a keyed ranking.
    key: Option<String>,
}

/// `POST /v1/rank`: a query's documents by predicted CTR.
pub(crate) async fn rank(
    state: web::Data<HttpState>,
    metrics: Option<web::Data<HttpMetrics>>,
    body: web::Json<Rank>,
) -> HttpResponse {
    let body = body.into_inner();
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let ranked = match &body.key {
        Some(key) => agent.rank_keyed(key, &body.query, &body.doc_ids),
        None => agent.rank(&body.query, &body.doc_ids),
    };
    match ranked {
        Ok(r) => {
            count_served(metrics.as_ref(), body.doc_ids.len());
            HttpResponse::Ok().json(serde_json::json!({
            "docs": r.docs,
            "version": r.version.to_string(),
            "ensemble": r.ensemble.map(|v| v.to_string()),
            "variant": r.variant,
            "request_id": r.request_id,
            }))
        }
        Err(e) => agent_error(e),
    }
}

pub(crate) async fn stats(state: web::Data<HttpState>) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    blocking(move || {
        let stats = agent.stats()?;
        let ab = agent.ab_stats()?;
        Ok(serde_json::json!({ "agent": stats, "ab": ab }))
    })
    .await
}

pub(crate) async fn versions(state: web::Data<HttpState>) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    blocking(move || agent.versions()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    version: String,
}

pub(crate) async fn rollback(
    state: web::Data<HttpState>,
    body: web::Json<Rollback>,
) -> HttpResponse {
    let version: VersionId = match body.version.parse() {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    blocking(move || agent.rollback(version)).await
}

/// `POST /v1/promote` takes an empty JSON object: a call that changes
/// something always has a JSON body (a plain cross-site form cannot send
/// one).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Promote {}

pub(crate) async fn promote(
    state: web::Data<HttpState>,
    _body: web::Json<Promote>,
) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    blocking(move || agent.promote_challenger()).await
}

pub(crate) async fn drift(state: web::Data<HttpState>) -> HttpResponse {
    let agent = match ready(&state) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    blocking(move || agent.stats().map(|s| s.drift)).await
}

pub(crate) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(include_str!("openapi.json"))
}

pub(crate) async fn not_found(req: HttpRequest) -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no endpoint {} {} (see /v1/openapi.json)",
            req.method(),
            req.path()
        ),
    )
}
