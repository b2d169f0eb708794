use serde::{Deserialize, Serialize};

/// The learning rate for each drift severity, as the agent passes it to
/// [`Model::partial_fit`](crate::Model::partial_fit).
///
/// What a rate means is the plugin's: a per-row SGD step, an AdaGrad base
/// rate, an Adam rate. So each kind names the table it learns well with
/// ([`PluginFactory::learning_rates`](crate::PluginFactory::learning_rates)),
/// and the agent's `[learning_rate]` config overrides it key by key.
///
/// ```
/// use refit_plugin::LearningRates;
/// let t = LearningRates::SGD;
/// assert!(t.stable < t.moderate && t.moderate < t.severe);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningRates {
    /// No significant drift.
    pub stable: f32,
    /// Moderate drift.
    pub moderate: f32,
    /// Severe drift.
    pub severe: f32,
}

impl LearningRates {
    /// Per-row constant SGD steps (scikit-learn's `eta0`): 0.001, 0.01,
    /// 0.05. The default of a plugin that names no table of its own.
    pub const SGD: Self = Self {
        stable: 0.001,
        moderate: 0.01,
        severe: 0.05,
    };
}

impl Default for LearningRates {
    fn default() -> Self {
        Self::SGD
    }
}
