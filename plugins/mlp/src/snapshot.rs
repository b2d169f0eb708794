use std::sync::Arc;

use refit_plugin::{ModelSpec, PluginError, Predictor, Row, Task};
use refit_plugin_kit::label_scale::Unscale;
use refit_plugin_kit::preprocess::Preprocessor;

use crate::net::HostLayer;

/// The serving snapshot of an [`crate::MlpModel`]: the frozen preprocessor,
/// the weights copied to the host and a plain forward pass, tested equal to the Burn forward pass.
#[derive(Debug, Clone)]
pub struct MlpSnapshot {
    spec: ModelSpec,
    pre: Arc<Preprocessor>,
    layers: Vec<HostLayer>,
    /// A regressor's answer in label units (label scaling).
    out: Unscale,
}

impl MlpSnapshot {
    pub(crate) fn new(spec: ModelSpec, pre: Arc<Preprocessor>, layers: Vec<HostLayer>) -> Self {
        Self {
            spec,
            pre,
            layers,
            out: Unscale::IDENTITY,
        }
    }

    /// Answers a regressor's raw output `z` as `out.apply(z)`.
    pub(crate) fn with_output(mut self, out: Unscale) -> Self {
        self.out = out;
        self
    }

    pub(crate) fn layers(&self) -> &[HostLayer] {
        &self.layers
    }
}

impl Predictor for MlpSnapshot {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn predict_row(&self, row: Row<'_>) -> Result<f32, PluginError> {
        let row = row.dense(&self.spec)?;
        let mut h = vec![0.0; self.pre.encoded_width()];
        self.pre.encode_row(row, &mut h)?;
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            let mut out = l.bias.clone();
            for (x, w_row) in h.iter().zip(l.weight.chunks_exact(l.outputs)) {
                for (o, w) in out.iter_mut().zip(w_row) {
                    *o += x * w;
                }
            }
            if i < last {
                out.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            h = out;
        }
        let z = h[0];
        Ok(match self.spec.task {
            Task::Classification => 1.0 / (1.0 + (-z).exp()),
            Task::Regression => self.out.apply(z),
        })
    }
}
