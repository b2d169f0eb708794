//! Multinomial logistic regression: the `logistic` kind of more than two
//! classes.
//!
//! For an encoded row `x` (the same [`Preprocessor`] as the binary model)
//! and `K` classes, the scores are `z_k = w_k . x + b_k`, the probabilities
//! `p = softmax(z)` and the loss `-ln p_y`. Each row takes one step per
//! class with the residual `e_k = p_k - [y = k]`, exactly the binary
//! model's step with `e` replaced by `e_k` (AdaGrad or constant SGD, `l2`,
//! the [`Safeguard`](refit_plugin_kit::safeguard::Safeguard) on the row's
//! gradient norm over every class, the weight bound after the call). Rows
//! are learned in order (`update = "per_sample"`; the mini-batch path is
//! the binary and regression models').
//!
//! A softmax rather than one-vs-rest for the linear kind: its probabilities
//! are calibrated as one distribution (one-vs-rest normalises `K`
//! independent sigmoids), and on `load_digits` through `refit run` it
//! learns faster (see `benches/peers/RESULTS.md`). River's
//! `SoftmaxRegression` is the same model.
//!
//! ```
//! use refit_linear::{LinearParams, SoftmaxModel};
//! use refit_plugin::{Batch, Model, ModelSpec, Task};
//!
//! let spec = ModelSpec::new("logistic", Task::Classification, ["x"]).with_classes(["low", "mid", "high"]);
//! let mut model = SoftmaxModel::new(spec, LinearParams::default()).unwrap();
//! let x = [-2.0, 0.0, 2.0];
//! for _ in 0..200 {
//!     model.partial_fit(Batch::new(&x, 1).unwrap().into(), &[0.0, 1.0, 2.0], 0.1).unwrap();
//! }
//! let serving = model.snapshot();
//! assert_eq!(serving.predict_row((&[2.1]).into()).unwrap(), 2.0);
//! let mut p = [0.0; 3];
//! serving.predict_proba_row((&[-2.0]).into(), &mut p).unwrap();
//! assert!(p[0] > 0.8 && (p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! ```

use std::sync::Arc;

use refit_plugin::{
    FitReport, Input, Model, ModelSpec, PluginError, Predictor, Row, Task, envelope, validate,
};
use refit_plugin_kit::preprocess::Preprocessor;
use serde::{Deserialize, Serialize};

use crate::params::{LinearParams, Optimizer, Update};
use crate::step::{AdagradStep, ConstantStep, StepRule, dot_and_norm};

/// Payload format version of a softmax model.
pub const SOFTMAX_FORMAT_VERSION: u32 = 1;

/// Multinomial logistic regression (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct SoftmaxModel {
    spec: Arc<ModelSpec>,
    params: LinearParams,
    snapshot: Arc<SoftmaxSnapshot>,
    /// AdaGrad's sums of squared gradients, per class: its coefficients,
    /// then its intercept (empty with constant SGD).
    accumulators: Vec<f32>,
    steps: u64,
}

/// The serving snapshot of a [`SoftmaxModel`].
#[derive(Debug, Clone)]
pub struct SoftmaxSnapshot {
    spec: Arc<ModelSpec>,
    pre: Arc<Preprocessor>,
    /// `K` rows of the encoded width.
    w: Vec<f32>,
    b: Vec<f32>,
}

/// The saved form: weights as exact bit patterns (bit-identical round
/// trips) and the preprocessor.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    params: LinearParams,
    preprocessor: Preprocessor,
    coefficients: Vec<u32>,
    intercepts: Vec<u32>,
    accumulators: Vec<u32>,
    steps: u64,
}

impl SoftmaxModel {
    /// A zero-initialised model of `spec` (a classifier of more than two
    /// classes).
    pub fn new(spec: ModelSpec, params: LinearParams) -> Result<Self, PluginError> {
        let pre = Preprocessor::new(&spec.features, &params.preprocessing)?;
        let k = spec.classes.len();
        let d = pre.encoded_width();
        Self::from_parts(
            spec,
            params,
            pre,
            vec![0.0; k * d],
            vec![0.0; k],
            Vec::new(),
            0,
        )
    }

    fn from_parts(
        spec: ModelSpec,
        params: LinearParams,
        pre: Preprocessor,
        w: Vec<f32>,
        b: Vec<f32>,
        accumulators: Vec<f32>,
        steps: u64,
    ) -> Result<Self, PluginError> {
        params.check()?;
        if spec.task != Task::Classification || !spec.is_multiclass() {
            return Err(PluginError::InvalidParams(format!(
                "a softmax model is a classifier of more than two classes; the spec has {:?}",
                spec.classes
            )));
        }
        if spec.width() == 0 {
            return Err(PluginError::InvalidParams(
                "a model needs at least one feature".into(),
            ));
        }
        if params.update == Update::MiniBatch {
            return Err(PluginError::InvalidParams(
                "a multiclass logistic model learns per sample: update = \"mini_batch\" is for binary and regression models".into(),
            ));
        }
        let (k, d) = (spec.classes.len(), pre.encoded_width());
        if w.len() != k * d || b.len() != k || !w.iter().chain(&b).all(|v| v.is_finite()) {
            return Err(PluginError::InvalidParams(format!(
                "{k} x {d} finite coefficients and {k} intercepts are needed, {} and {} given",
                w.len(),
                b.len()
            )));
        }
        let accumulators = match params.optimizer {
            Optimizer::Sgd => Vec::new(),
            Optimizer::Adagrad if accumulators.is_empty() => {
                vec![params.initial_accumulator; k * (d + 1)]
            }
            Optimizer::Adagrad => accumulators,
        };
        if !accumulators.is_empty()
            && (accumulators.len() != k * (d + 1)
                || !accumulators.iter().all(|g| g.is_finite() && *g >= 0.0))
        {
            return Err(PluginError::InvalidParams(format!(
                "AdaGrad needs {} finite, non-negative accumulators, {} given",
                k * (d + 1),
                accumulators.len()
            )));
        }
        let spec = Arc::new(spec);
        Ok(Self {
            snapshot: Arc::new(SoftmaxSnapshot {
                spec: spec.clone(),
                pre: Arc::new(pre),
                w,
                b,
            }),
            spec,
            params,
            accumulators,
            steps,
        })
    }

    /// Loads bytes written by [`Model::save`] of a softmax model.
    pub fn load(bytes: &[u8]) -> Result<Self, PluginError> {
        let (header, payload) = envelope::decode_for(bytes, "logistic", SOFTMAX_FORMAT_VERSION)?;
        let p: Payload = serde_json::from_slice(payload)
            .map_err(|e| PluginError::Corrupt(format!("softmax payload: {e}")))?;
        let pre = p.preprocessor.checked()?;
        let spec = header.spec();
        if pre.raw_width() != spec.width() {
            return Err(PluginError::Corrupt(format!(
                "a preprocessor of {} features for {} features",
                pre.raw_width(),
                spec.width()
            )));
        }
        let bits = |v: Vec<u32>| v.into_iter().map(f32::from_bits).collect::<Vec<f32>>();
        Self::from_parts(
            spec,
            p.params,
            pre,
            bits(p.coefficients),
            bits(p.intercepts),
            bits(p.accumulators),
            p.steps,
        )
        .map_err(|e| PluginError::Corrupt(e.to_string()))
    }

    /// The coefficients, one row of the encoded width per class.
    pub fn coefficients(&self) -> &[f32] {
        &self.snapshot.w
    }

    /// The intercepts, one per class.
    pub fn intercepts(&self) -> &[f32] {
        &self.snapshot.b
    }

    /// Steps taken so far (one per row learned).
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

/// `p = softmax(z)` in place, stable for any finite scores.
fn softmax(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    z.iter_mut().for_each(|v| *v /= sum);
}

/// Scores `w_k . x + b_k` of one encoded row into `z`; answers `|x|^2`.
fn scores(w: &[f32], b: &[f32], x: &[f32], z: &mut [f32]) -> f32 {
    let mut norm = 0.0;
    for (k, zk) in z.iter_mut().enumerate() {
        let (dot, sq) = dot_and_norm(x, &w[k * x.len()..(k + 1) * x.len()]);
        *zk = dot + b[k];
        norm = sq;
    }
    norm
}

impl Model for SoftmaxModel {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Labels are class indices; the reported loss is the mean of `-ln p_y`
    /// before each row's step.
    fn partial_fit(&mut self, x: Input<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError> {
        let x = &x.dense(&self.spec)?;
        validate::learning_rate(lr)?;
        let mut pre = (*self.snapshot.pre).clone();
        let encoded = pre.learn_and_encode_borrowed(x)?;
        validate::labels(&self.spec, x.rows(), y)?;
        let (k, d) = (self.spec.classes.len(), pre.encoded_width());
        let (mut w, mut b) = (self.snapshot.w.clone(), self.snapshot.b.clone());
        let mut acc = self.accumulators.clone();
        let (l2, intercept) = (self.params.l2, self.params.fit_intercept);
        let mut z = vec![0.0f32; k];
        let (mut loss, mut max_norm, mut clipped) = (0.0f64, 0.0f64, false);
        for (row, &label) in encoded.chunks_exact(d).zip(y) {
            let sq = scores(&w, &b, row, &mut z);
            softmax(&mut z);
            let label = label as usize;
            loss -= f64::from(z[label].max(f32::MIN_POSITIVE)).ln();
            // e_k = p_k - [y = k]; the gradient's norm over every class
            // (coefficients and intercepts; the l2 term left out, as the
            // binary model leaves it out).
            z[label] -= 1.0;
            let e2: f32 = z.iter().map(|e| e * e).sum();
            let norm = f64::from(e2 * (sq + f32::from(u8::from(intercept)))).sqrt();
            let scale = self.params.safeguard.gradient_scale(norm)?;
            clipped |= scale < 1.0;
            max_norm = max_norm.max(norm);
            for (c, &e) in z.iter().enumerate() {
                let wc = &mut w[c * d..(c + 1) * d];
                if acc.is_empty() {
                    let mut rule = ConstantStep;
                    rule.weights(wc, row, e, l2, lr, scale);
                    if intercept {
                        rule.intercept(&mut b[c], e, lr, scale);
                    }
                } else {
                    let (coefficients, rest) = acc[c * (d + 1)..(c + 1) * (d + 1)].split_at_mut(d);
                    let mut rule = AdagradStep {
                        weights: coefficients,
                        intercept: &mut rest[0],
                    };
                    rule.weights(wc, row, e, l2, lr, scale);
                    if intercept {
                        rule.intercept(&mut b[c], e, lr, scale);
                    }
                }
            }
        }
        let names = pre.encoded_names();
        self.params.safeguard.check_weights(&w, lr, |i| {
            format!(
                "coefficient of `{}` for class `{}`",
                names.get(i % d.max(1)).map_or("?", String::as_str),
                self.spec.classes[i / d.max(1)]
            )
        })?;
        self.params.safeguard.check_weights(&b, lr, |i| {
            format!("intercept of class `{}`", self.spec.classes[i])
        })?;
        self.accumulators = acc;
        self.steps += y.len() as u64;
        self.snapshot = Arc::new(SoftmaxSnapshot {
            spec: self.spec.clone(),
            pre: Arc::new(pre),
            w,
            b,
        });
        Ok(FitReport::new(y.len(), loss / y.len() as f64).with_gradient(max_norm, clipped))
    }

    fn snapshot(&self) -> Arc<dyn Predictor> {
        self.snapshot.clone()
    }

    fn save(&self) -> Result<Vec<u8>, PluginError> {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let payload = Payload {
            params: self.params.clone(),
            preprocessor: (*self.snapshot.pre).clone(),
            coefficients: bits(&self.snapshot.w),
            intercepts: bits(&self.snapshot.b),
            accumulators: bits(&self.accumulators),
            steps: self.steps,
        };
        let payload = serde_json::to_vec(&payload)
            .map_err(|e| PluginError::Corrupt(format!("softmax payload: {e}")))?;
        let header = envelope::Header::new("logistic", SOFTMAX_FORMAT_VERSION, &self.spec);
        Ok(envelope::encode(&header, &payload))
    }
}

impl Predictor for SoftmaxSnapshot {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The index of the likeliest class.
    fn predict_row(&self, row: Row<'_>) -> Result<f32, PluginError> {
        let mut p = vec![0.0; self.b.len()];
        self.predict_proba_row(row, &mut p)?;
        Ok(refit_plugin_kit::multiclass::argmax(&p) as f32)
    }

    fn predict_proba_row(&self, row: Row<'_>, out: &mut [f32]) -> Result<(), PluginError> {
        let row = row.dense(&self.spec)?;
        validate::row(&self.spec, row)?;
        if out.len() != self.b.len() {
            return Err(PluginError::WidthMismatch {
                expected: self.b.len(),
                got: out.len(),
            });
        }
        let mut x = vec![0.0; self.pre.encoded_width()];
        self.pre.encode_row(row, &mut x)?;
        scores(&self.w, &self.b, &x, out);
        softmax(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_matches_a_hand_computation() {
        // Two features passed through unchanged, three classes, zero
        // weights: p = (1/3, 1/3, 1/3); label 1; constant SGD at lr 0.3:
        // w_k -= 0.3 (p_k - [k = 1]) x, b_k -= 0.3 (p_k - [k = 1]).
        let spec = ModelSpec::new("logistic", Task::Classification, ["a", "b"])
            .with_classes(["x", "y", "z"]);
        let params = LinearParams {
            optimizer: Optimizer::Sgd,
            preprocessing: refit_plugin_kit::preprocess::PreprocessConfig::identity(),
            ..LinearParams::default()
        };
        let mut m = SoftmaxModel::new(spec, params).unwrap();
        let x = [1.0, 2.0];
        let r = m
            .partial_fit(refit_plugin::Batch::new(&x, 2).unwrap().into(), &[1.0], 0.3)
            .unwrap();
        assert!((r.mean_loss_before - 3f64.ln()).abs() < 1e-6);
        let (other, own) = (-0.3 / 3.0, 0.3 * 2.0 / 3.0);
        let want = [other, 2.0 * other, own, 2.0 * own, other, 2.0 * other];
        for (got, want) in m.coefficients().iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert!((m.intercepts()[1] - own).abs() < 1e-6);
    }

    #[test]
    fn softmax_is_stable_and_sums_to_one() {
        let mut z = [1000.0, 0.0, -1000.0];
        softmax(&mut z);
        assert_eq!(z[0], 1.0);
        assert!((z.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
