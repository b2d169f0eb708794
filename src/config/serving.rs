//! `[http]`, `[ab]` and `[serving]`: the API, A/B tests and the serving set.

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid};

/// `[http]`: the HTTP API of `refit serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on (default `"127.0.0.1:8080"`).
    pub bind: String,
    /// Largest request body in bytes (default 1 MiB).
    pub max_body_bytes: usize,
    /// A file holding the bearer token that every changing call must send
    /// (`Authorization: Bearer ...`); the environment variable
    /// `REFIT_TOKEN`, when set, is used instead. Default: none, no token.
    pub token_file: Option<std::path::PathBuf>,
    /// The host names requests may be addressed to (the `Host` header,
    /// and the `Origin` header of a browser's request): DNS rebinding
    /// cannot reach the API under another name. `"*"` allows any.
    /// Default: the loopback names.
    pub allowed_hosts: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            max_body_bytes: 1 << 20,
            token_file: None,
            allowed_hosts: ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec(),
        }
    }
}

/// `[ab]`: A/B tests between the champion and a challenger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AbConfig {
    /// Outcomes each side needs before the guardrail judges (default 1000).
    pub min_samples: usize,
    /// The guardrail demotes a challenger whose AUC is below the
    /// champion's by more than this (regressors: whose MAE is above it by
    /// this share); default 0.02.
    pub margin: f64,
    /// Keyed predictions kept while they wait for their outcome; the
    /// oldest are dropped beyond (default 100000).
    pub max_pending: usize,
}

impl Default for AbConfig {
    fn default() -> Self {
        Self {
            min_samples: 1_000,
            margin: 0.02,
            max_pending: 100_000,
        }
    }
}

/// `[serving]`: what answers predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServingConfig {
    /// Weight of the newest offline version in the offline + online
    /// ensemble: answers are `w * offline + (1 - w) * online` (default 0:
    /// the online model alone).
    pub ensemble_offline_weight: f64,
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self {
            ensemble_offline_weight: 0.0,
        }
    }
}

/// `[feedback]`: labels that arrive after the prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackConfig {
    /// Keep the rows of every prediction for a while, so that
    /// `feedback(request_id, labels)` turns them into training samples
    /// (default false: only keyed predictions are kept, for the A/B
    /// metrics). `predict` then returns a `request_id` too.
    pub enabled: bool,
    /// How long a prediction's rows wait for their labels (default 7
    /// days); later feedback is refused as expired.
    pub ttl: super::HumanDuration,
    /// Predictions kept at most; beyond it the oldest is dropped (and
    /// counted). Memory is about this many times a request's rows.
    pub max_pending: usize,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            ttl: super::HumanDuration(std::time::Duration::from_secs(7 * 86_400)),
            max_pending: 100_000,
        }
    }
}

impl FeedbackConfig {
    /// A TTL longer than 0, room for at least one prediction.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        if self.ttl.0.is_zero() {
            return invalid("feedback.ttl", "must be longer than 0");
        }
        if self.max_pending == 0 {
            return invalid("feedback.max_pending", "must be at least 1");
        }
        Ok(())
    }
}

impl AbConfig {
    /// A margin of 0 or more, room for at least one pending prediction.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return invalid(
                "ab.margin",
                format!("= {} must be finite and >= 0", self.margin),
            );
        }
        if self.max_pending == 0 {
            return invalid("ab.max_pending", "must be at least 1");
        }
        Ok(())
    }
}

impl ServingConfig {
    /// An ensemble weight in [0, 1].
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        let w = self.ensemble_offline_weight;
        if !(0.0..=1.0).contains(&w) {
            return invalid(
                "serving.ensemble_offline_weight",
                format!("= {w} must be in [0, 1]"),
            );
        }
        Ok(())
    }
}
