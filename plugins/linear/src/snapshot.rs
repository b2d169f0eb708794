use refit_plugin::{ModelSpec, PluginError, Predictor, validate};

use crate::Loss;

/// The serving snapshot of a [`crate::LinearModel`]: a plain copy of the
/// weights whose single-row predict is a dot product (tens of nanoseconds),
/// tested equal to the Burn forward pass.
#[derive(Debug, Clone)]
pub struct LinearSnapshot {
    spec: ModelSpec,
    loss: Loss,
    w: Vec<f32>,
    b: f32,
}

impl LinearSnapshot {
    pub(crate) fn new(spec: ModelSpec, loss: Loss, w: Vec<f32>, b: f32) -> Self {
        Self { spec, loss, w, b }
    }

    /// Coefficients in feature order.
    pub fn weights(&self) -> &[f32] {
        &self.w
    }

    /// Intercept.
    pub fn intercept(&self) -> f32 {
        self.b
    }

    /// The linear score `w . row + b`, without checks.
    #[inline]
    fn score(&self, row: &[f32]) -> f32 {
        let mut acc = [0.0f32; 4];
        let chunks = row.chunks_exact(4).zip(self.w.chunks_exact(4));
        for (x, w) in chunks {
            for k in 0..4 {
                acc[k] += x[k] * w[k];
            }
        }
        let tail = row.len() - row.len() % 4;
        let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        for (x, w) in row[tail..].iter().zip(&self.w[tail..]) {
            sum += x * w;
        }
        sum + self.b
    }
}

impl Predictor for LinearSnapshot {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    #[inline]
    fn predict_row(&self, row: &[f32]) -> Result<f32, PluginError> {
        validate::row(&self.spec, row)?;
        let z = self.score(row);
        Ok(match self.loss {
            Loss::Log => 1.0 / (1.0 + (-z).exp()),
            Loss::Squared => z,
        })
    }
}
