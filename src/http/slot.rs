//! The agent an HTTP server serves: given at the start, or started by the
//! first named samples when the config lists no features (`refit serve`
//! with the shipped config). Until then every call that needs the model
//! answers 409 saying what to send; `/healthz` answers that it waits.

use std::sync::{Arc, Mutex, OnceLock};

use actix_web::http::StatusCode;
use serde_json::Value;

use crate::http::handlers::ApiError;
use crate::{Agent, AgentError};

/// Starts the agent for the first named samples (their rows and labels
/// fix the schema, see [`crate::schema::infer`]). Called again after a
/// failure, so a bad first request does not end the server.
pub type Starter = Box<dyn Fn(&[Value], &[Value]) -> Result<Agent, AgentError> + Send + Sync>;

pub(crate) struct AgentSlot {
    agent: OnceLock<Agent>,
    starter: Mutex<Option<Starter>>,
}

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    slot: Arc<AgentSlot>,
    /// The config file `PUT /v1/online` edits (none: that call answers 409).
    pub config_path: Option<std::path::PathBuf>,
}

/// The answer to a call that needs a model before there is one.
pub(crate) const NO_MODEL_YET: &str = "no model yet: the config lists no features, so the first named samples fix them (POST /v1/samples with rows keyed by feature name, e.g. {\"rows\": [{\"tenure\": 3, \"plan\": \"gold\"}], \"labels\": [1]}), or list them in [model] features";

impl HttpState {
    /// Serves `agent`.
    pub fn new(agent: Agent, config_path: Option<std::path::PathBuf>) -> Self {
        let slot = AgentSlot {
            agent: OnceLock::new(),
            starter: Mutex::new(None),
        };
        let _ = slot.agent.set(agent);
        Self {
            slot: Arc::new(slot),
            config_path,
        }
    }

    /// Serves the agent `start` starts for the first named samples.
    pub fn starting_on_first_samples(
        start: Starter,
        config_path: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            slot: Arc::new(AgentSlot {
                agent: OnceLock::new(),
                starter: Mutex::new(Some(start)),
            }),
            config_path,
        }
    }

    /// The agent, once there is one.
    pub fn agent(&self) -> Option<&Agent> {
        self.slot.agent.get()
    }

    /// The agent, or the 409 answer saying how to get one.
    pub(crate) fn ready(&self) -> Result<&Agent, ApiError> {
        self.agent()
            .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, NO_MODEL_YET))
    }

    /// The agent, started for `rows` and `labels` when there is none yet
    /// (blocking: call it off the async workers).
    pub(crate) fn ready_for(&self, rows: &[Value], labels: &[Value]) -> Result<Agent, AgentError> {
        if let Some(agent) = self.agent() {
            return Ok(agent.clone());
        }
        let starter = self
            .slot
            .starter
            .lock()
            .map_err(|_| AgentError::Start("a previous start panicked".into()))?;
        // Another request may have started it while this one waited.
        if let Some(agent) = self.agent() {
            return Ok(agent.clone());
        }
        let start = starter.as_ref().ok_or_else(|| {
            AgentError::Start("the server has no agent and cannot start one".into())
        })?;
        let agent = start(rows, labels)?;
        tracing::info!(features = ?agent.spec().features, "the first named samples fixed the schema");
        let _ = self.slot.agent.set(agent.clone());
        Ok(agent)
    }
}
