//! The saved form of a [`LinearModel`] (inside the plugin envelope).

use refit_plugin::{PluginError, envelope};
use refit_plugin_kit::label_scale::LabelScaler;
use refit_plugin_kit::preprocess::Preprocessor;
use serde::{Deserialize, Serialize};

use crate::model::{FORMAT_VERSION, LinearModel, State};
use crate::params::{LinearParams, Loss, Optimizer};

/// The payload: weights and the optimizer's state as exact `f32` bit
/// patterns, the preprocessor's and the label scaler's statistics, so a
/// round trip is bit-identical. Version 1 had neither optimizer state nor
/// label scaler (both default when absent).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Payload {
    pub(crate) params: LinearParams,
    pub(crate) preprocessor: Preprocessor,
    pub(crate) coefficients: Vec<u32>,
    pub(crate) intercept: u32,
    pub(crate) steps: u64,
    #[serde(default)]
    pub(crate) accumulators: Vec<u32>,
    #[serde(default)]
    pub(crate) label: LabelScaler,
}

impl LinearModel {
    /// Loads bytes written by [`Model::save`](refit_plugin::Model::save) of a
    /// model with this `loss`.
    pub fn load(loss: Loss, bytes: &[u8]) -> Result<Self, PluginError> {
        let (header, payload) = envelope::decode_for(bytes, loss.kind(), FORMAT_VERSION)?;
        let mut p: Payload = serde_json::from_slice(payload)
            .map_err(|e| PluginError::Corrupt(format!("{} payload: {e}", loss.kind())))?;
        p.preprocessor = p.preprocessor.checked()?;
        p.label.refresh();
        if header.format_version == 1 {
            // Written before the optimizer and label scaling existed: it
            // learned by constant SGD on raw labels.
            p.params.optimizer = Optimizer::Sgd;
            p.params.scale_label = false;
        }
        let spec = header.spec();
        if p.preprocessor.raw_width() != spec.width()
            || p.coefficients.len() != p.preprocessor.encoded_width()
        {
            return Err(PluginError::Corrupt(format!(
                "{} coefficients and {} preprocessed features for {} features",
                p.coefficients.len(),
                p.preprocessor.raw_width(),
                spec.width()
            )));
        }
        let state = State {
            w: p.coefficients.into_iter().map(f32::from_bits).collect(),
            b: f32::from_bits(p.intercept),
            accumulators: p.accumulators.into_iter().map(f32::from_bits).collect(),
            label: p.label,
            steps: p.steps,
        };
        Self::from_parts(spec, loss, p.params, p.preprocessor, state)
            .map_err(|e| PluginError::Corrupt(e.to_string()))
    }
}
