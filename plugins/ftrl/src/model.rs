//! The sparse logistic-regression model and its serving snapshot.

use std::sync::Arc;

use refit_plugin::{
    FitReport, Input, InputKind, Model, ModelSpec, PluginError, Predictor, Row, SparseBatch, Task,
    envelope, validate,
};
use serde::{Deserialize, Serialize};

use crate::weights::ChunkedWeights;

/// The plugin kind.
pub const KIND: &str = "ftrl";
/// Payload format version.
pub const FORMAT_VERSION: u32 = 1;

/// How the weights learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// FTRL-Proximal (McMahan et al. 2013): per-coordinate adaptive rates
    /// from `alpha` and `beta`, L1 and L2; each coordinate's rate falls as
    /// its gradients accumulate. The agent's learning rate is a plasticity
    /// signal: when it rises (drift severity rose from stable to moderate
    /// or severe), every accumulated sum of squared gradients is scaled by
    /// `f = (old rate / new rate)^2`, which multiplies every coordinate's
    /// rate by `new / old` (rates go as `1 / sqrt(n)`), and every weight by
    /// `f^forget` ([`FtrlParams::forget`]: what the data that changed
    /// taught is partly forgotten). A falling rate changes nothing: the
    /// sums grow back as the model learns.
    Ftrl,
    /// Plain SGD at the agent's (drift-driven) learning rate, with L2 on
    /// the coordinates a row touches.
    Sgd,
}

/// `[model.params]` of `kind = "ftrl"`.
///
/// ```
/// let p: refit_ftrl::FtrlParams = serde_json::from_str(r#"{"bits": 20, "l1": 0.5}"#).unwrap();
/// assert_eq!((p.bits, p.l1, p.alpha), (20, 0.5, 0.1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FtrlParams {
    /// `ftrl` (default) or `sgd`.
    pub mode: Mode,
    /// The model has `2^bits` hashed coordinates plus a bias (default 18;
    /// 1 to 28). Memory is bounded by this, never by the data.
    pub bits: u32,
    /// FTRL's per-coordinate base rate (default 0.1).
    pub alpha: f64,
    /// FTRL's rate smoothing (default 1.0).
    pub beta: f64,
    /// L1 strength (FTRL mode; default 1.0): coordinates whose accumulated
    /// gradient stays below it keep weight 0.
    pub l1: f64,
    /// L2 strength (default 1.0 in FTRL mode; in SGD mode the step adds
    /// `l2 * w` to each touched coordinate's gradient).
    pub l2: f64,
    /// FTRL mode: how much of the weights a rise of the agent's rate
    /// forgets (default 0.25): they scale by `f^forget`, `f` the factor
    /// the accumulated squared gradients scale by (see [`Mode::Ftrl`]). 0
    /// keeps the weights; with the default rate table a rise to severe
    /// (50x the stable rate) divides them by about 7, to moderate (10x) by
    /// about 3.
    pub forget: f64,
}

impl Default for FtrlParams {
    fn default() -> Self {
        Self {
            mode: Mode::Ftrl,
            bits: 18,
            alpha: 0.1,
            beta: 1.0,
            l1: 1.0,
            l2: 1.0,
            forget: 0.25,
        }
    }
}

impl FtrlParams {
    /// Checks the values; the error names the bad key.
    pub fn validate(&self) -> Result<(), PluginError> {
        let bad = |key: &str, why: String| {
            Err(PluginError::InvalidParams(format!(
                "[model.params] {key} of `ftrl`: {why}"
            )))
        };
        if !(1..=28).contains(&self.bits) {
            return bad("bits", format!("= {} must be 1 to 28", self.bits));
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return bad("alpha", format!("= {} must be positive", self.alpha));
        }
        if !(0.0..=1.0).contains(&self.forget) {
            return bad("forget", format!("= {} must be 0 to 1", self.forget));
        }
        for (key, v) in [("beta", self.beta), ("l1", self.l1), ("l2", self.l2)] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(key, format!("= {v} must be 0 or more"));
            }
        }
        Ok(())
    }

    /// Hashed coordinates (`2^bits`).
    pub fn dim(&self) -> usize {
        1 << self.bits
    }
}

/// Sparse logistic regression over `2^bits` hashed coordinates and a bias.
///
/// ```
/// use refit_ftrl::{FtrlModel, FtrlParams};
/// use refit_plugin::{Model, ModelSpec, SparseBatch, Task};
/// let spec = ModelSpec::new("ftrl", Task::Classification, Vec::<String>::new());
/// let params = FtrlParams { bits: 4, ..FtrlParams::default() };
/// let mut m = FtrlModel::new(spec, params).unwrap();
/// // Coordinate 3 clicks, coordinate 5 does not.
/// let x = SparseBatch::new(&[0, 1, 2], &[3, 5], &[1.0, 1.0], 16).unwrap();
/// for _ in 0..200 {
///     m.partial_fit(x.into(), &[1.0, 0.0], 0.01).unwrap();
/// }
/// let p = m.snapshot().predict(x.into()).unwrap();
/// assert!(p[0] > 0.8 && p[1] < 0.2, "{p:?}");
/// ```
#[derive(Debug, Clone)]
pub struct FtrlModel {
    spec: ModelSpec,
    params: FtrlParams,
    /// FTRL: the `z` accumulators; SGD: the weights. `dim + 1` entries, the
    /// last for the bias.
    z: Vec<f64>,
    /// FTRL: the sums of squared gradients (empty in SGD mode).
    n: Vec<f64>,
    /// Serving copy of the weights, kept current as training writes.
    serving: ChunkedWeights,
    /// The learning rate of the last update (FTRL mode: a rise regains
    /// plasticity). Not saved: a loaded model starts from its next rate.
    last_lr: Option<f64>,
}

/// `log(1 + e^s) - y s`: the log loss at score `s`, finite for any `s`.
fn log_loss(s: f64, y: f64) -> f64 {
    s.max(0.0) + (-s.abs()).exp().ln_1p() - y * s
}

fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

impl FtrlModel {
    /// A zero model of `spec` (classification only).
    pub fn new(spec: ModelSpec, params: FtrlParams) -> Result<Self, PluginError> {
        params.validate()?;
        if spec.is_multiclass() {
            return Err(PluginError::InvalidParams(format!(
                "ftrl predicts click-through (two classes); the spec has {} classes",
                spec.classes.len()
            )));
        }
        if spec.task != Task::Classification {
            return Err(PluginError::InvalidParams(format!(
                "`ftrl` is a classifier (click-through rates); the model's task is {}",
                spec.task
            )));
        }
        let len = params.dim() + 1;
        Ok(Self {
            spec,
            params,
            z: vec![0.0; len],
            n: match params.mode {
                Mode::Ftrl => vec![0.0; len],
                Mode::Sgd => Vec::new(),
            },
            serving: ChunkedWeights::zeros(len),
            last_lr: None,
        })
    }

    /// Multiplies every coordinate's FTRL rate by `1 / sqrt(factor)`
    /// (`factor` in (0, 1): more plasticity) by scaling its accumulated
    /// squared gradients `n` by `factor`, and its weight by
    /// `factor^forget`, `z` moved to match (see [`Mode::Ftrl`]).
    ///
    /// ```
    /// use refit_ftrl::{FtrlModel, FtrlParams};
    /// use refit_plugin::{Model, ModelSpec, SparseBatch, Task};
    /// let spec = ModelSpec::new("ftrl", Task::Classification, Vec::<String>::new());
    /// let mut m = FtrlModel::new(spec, FtrlParams { bits: 4, l1: 0.0, ..FtrlParams::default() }).unwrap();
    /// let x = SparseBatch::new(&[0, 1], &[3], &[1.0], 16).unwrap();
    /// for _ in 0..50 {
    ///     m.partial_fit(x.into(), &[1.0], 0.01).unwrap();
    /// }
    /// let before = m.weight(3);
    /// m.regain_plasticity(0.01); // forget = 0.25: weights scale by 0.01^0.25
    /// assert!((m.weight(3) - before * 0.01f64.powf(0.25)).abs() < 1e-9);
    /// ```
    pub fn regain_plasticity(&mut self, factor: f64) {
        if self.params.mode != Mode::Ftrl || !(factor > 0.0 && factor < 1.0) {
            return;
        }
        let p = self.params;
        for i in 0..self.z.len() {
            if self.n[i] == 0.0 {
                continue;
            }
            let w = self.weight(i) * factor.powf(p.forget);
            self.n[i] *= factor;
            if w != 0.0 {
                let l1 = if i == self.dim() { 0.0 } else { p.l1 };
                let denominator = (p.beta + self.n[i].sqrt()) / p.alpha + p.l2;
                self.z[i] = -w * denominator + self.z[i].signum() * l1;
            }
        }
    }

    /// The parameters.
    pub fn params(&self) -> &FtrlParams {
        &self.params
    }

    /// Number of hashed coordinates (the bias not counted).
    pub fn dim(&self) -> usize {
        self.params.dim()
    }

    /// The weight of coordinate `i` (`dim()` is the bias), in full precision.
    pub fn weight(&self, i: usize) -> f64 {
        match self.params.mode {
            Mode::Ftrl => {
                let (z, n) = (self.z[i], self.n[i]);
                let p = &self.params;
                // No L1 on the bias: it is not a feature to select away.
                let l1 = if i == self.dim() { 0.0 } else { p.l1 };
                if z.abs() <= l1 {
                    0.0
                } else {
                    -(z - z.signum() * l1) / ((p.beta + n.sqrt()) / p.alpha + p.l2)
                }
            }
            Mode::Sgd => self.z[i],
        }
    }

    /// Score of one row: the bias plus the weighted values.
    fn score(&self, indices: &[u32], values: &[f32]) -> f64 {
        indices
            .iter()
            .zip(values)
            .map(|(&i, &v)| self.weight(i as usize) * f64::from(v))
            .sum::<f64>()
            + self.weight(self.dim())
    }

    /// Learns one row; `undo` gets each coordinate's state before it changed.
    fn learn_row(
        &mut self,
        indices: &[u32],
        values: &[f32],
        y: f64,
        lr: f64,
        undo: &mut Vec<(usize, f64, f64)>,
    ) -> f64 {
        let bias = self.dim();
        // A repeated index (a hash collision) is one coordinate whose value
        // is the sum: its n gets g^2 (sum x)^2, not g^2 sum x^2.
        let mut merged: Vec<(usize, f64)> = indices
            .iter()
            .map(|&i| i as usize)
            .zip(values.iter().map(|&v| f64::from(v)))
            .collect();
        merged.sort_by_key(|e| e.0);
        merged.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
        merged.push((bias, 1.0));
        let entries = merged.iter().copied();
        let s: f64 = entries.clone().map(|(i, x)| self.weight(i) * x).sum();
        let g = sigmoid(s) - y;
        match self.params.mode {
            Mode::Ftrl => {
                // Weights as they were for the prediction (McMahan et al.,
                // Algorithm 1).
                let w: Vec<f64> = entries.clone().map(|(i, _)| self.weight(i)).collect();
                for ((i, x), w) in entries.zip(w) {
                    undo.push((i, self.z[i], self.n[i]));
                    let gi = g * x;
                    let sigma =
                        ((self.n[i] + gi * gi).sqrt() - self.n[i].sqrt()) / self.params.alpha;
                    self.z[i] += gi - sigma * w;
                    self.n[i] += gi * gi;
                }
            }
            Mode::Sgd => {
                for (i, x) in entries {
                    undo.push((i, self.z[i], 0.0));
                    let l2 = if i == bias { 0.0 } else { self.params.l2 };
                    self.z[i] -= lr * (g * x + l2 * self.z[i]);
                }
            }
        }
        log_loss(s, y)
    }

    /// Puts back the state `undo` recorded, newest change first.
    fn roll_back(&mut self, undo: &[(usize, f64, f64)]) {
        for &(i, z, n) in undo.iter().rev() {
            self.z[i] = z;
            if self.params.mode == Mode::Ftrl {
                self.n[i] = n;
            }
        }
    }

    /// Raw state for saving: (index, z, n) of every coordinate that moved.
    fn touched(&self) -> impl Iterator<Item = (usize, f64, f64)> + '_ {
        (0..self.z.len())
            .map(|i| (i, self.z[i], self.n.get(i).copied().unwrap_or(0.0)))
            .filter(|&(_, z, n)| z != 0.0 || n != 0.0)
    }

    /// The payload: params as JSON (length-prefixed), then `(u32 index,
    /// f64 z, f64 n)` little-endian for each coordinate that moved.
    fn payload(&self) -> Result<Vec<u8>, PluginError> {
        let params =
            serde_json::to_vec(&self.params).map_err(|e| PluginError::Corrupt(e.to_string()))?;
        let mut out = Vec::with_capacity(4 + params.len());
        out.extend_from_slice(&(params.len() as u32).to_le_bytes());
        out.extend_from_slice(&params);
        for (i, z, n) in self.touched() {
            out.extend_from_slice(&(i as u32).to_le_bytes());
            out.extend_from_slice(&z.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        Ok(out)
    }

    /// Loads a model saved by [`Model::save`].
    pub fn load(bytes: &[u8]) -> Result<Self, PluginError> {
        let (header, payload) = envelope::decode_for(bytes, KIND, FORMAT_VERSION)?;
        let corrupt = |what: &str| PluginError::Corrupt(format!("ftrl payload: {what}"));
        let len = payload
            .get(..4)
            .ok_or_else(|| corrupt("no parameter length"))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let params: FtrlParams = payload
            .get(4..4 + len)
            .ok_or_else(|| corrupt("parameters cut short"))
            .and_then(|p| serde_json::from_slice(p).map_err(|e| corrupt(&e.to_string())))?;
        let mut model = Self::new(header.spec(), params)?;
        let entries = &payload[4 + len..];
        if entries.len() % 20 != 0 {
            return Err(corrupt("a coordinate record is cut short"));
        }
        for rec in entries.chunks_exact(20) {
            let i = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]) as usize;
            let f = |a: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rec[a..a + 8]);
                f64::from_le_bytes(b)
            };
            if i >= model.z.len() {
                return Err(corrupt(&format!("coordinate {i} beyond 2^{}", params.bits)));
            }
            let (z, n) = (f(4), f(12));
            if !z.is_finite() || !n.is_finite() || n < 0.0 {
                return Err(corrupt(&format!("coordinate {i} has state ({z}, {n})")));
            }
            model.z[i] = z;
            if params.mode == Mode::Ftrl {
                model.n[i] = n;
            }
            model.serving.set(i, model.weight(i) as f32);
        }
        Ok(model)
    }
}

impl Model for FtrlModel {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn input(&self) -> InputKind {
        InputKind::Sparse
    }

    fn input_dim(&self) -> usize {
        self.dim()
    }

    fn uses_learning_rate(&self) -> bool {
        // Plain SGD steps at the agent's rate; FTRL-Proximal's rates are
        // per coordinate, and a rise of the agent's rate scales them
        // (`Mode::Ftrl`).
        true
    }

    fn partial_fit(&mut self, x: Input<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError> {
        let x = &x.sparse(&self.spec)?;
        check_dim(self.dim(), x)?;
        if x.is_empty() {
            return Err(PluginError::EmptyBatch);
        }
        validate::learning_rate(lr)?;
        validate::labels(&self.spec, x.rows(), y)?;
        let lr64 = f64::from(lr);
        if let Some(previous) = self.last_lr
            && lr64 > previous
        {
            // Severity rose: regain plasticity (see `Mode::Ftrl`).
            self.regain_plasticity((previous / lr64).powi(2));
        }
        self.last_lr = Some(lr64);
        let mut undo = Vec::new();
        let mut loss = 0.0;
        for (r, &label) in y.iter().enumerate() {
            let (i, v) = x.row(r);
            loss += self.learn_row(i, v, f64::from(label), f64::from(lr), &mut undo);
        }
        if let Some(&(i, _, _)) = undo
            .iter()
            .find(|&&(i, _, _)| !self.z[i].is_finite() || !(self.weight(i) as f32).is_finite())
        {
            self.roll_back(&undo);
            return Err(PluginError::Diverged(format!(
                "coordinate {i} would leave the f32 range; the batch was not learned"
            )));
        }
        for &(i, _, _) in &undo {
            self.serving.set(i, self.weight(i) as f32);
        }
        Ok(FitReport::new(y.len(), loss / y.len() as f64))
    }

    fn predict(&self, x: Input<'_>) -> Result<Vec<f32>, PluginError> {
        let x = &x.sparse(&self.spec)?;
        check_dim(self.dim(), x)?;
        if x.is_empty() {
            return Err(PluginError::EmptyBatch);
        }
        Ok((0..x.rows())
            .map(|r| {
                let (i, v) = x.row(r);
                sigmoid(self.score(i, v)) as f32
            })
            .collect())
    }

    fn snapshot(&self) -> Arc<dyn Predictor> {
        Arc::new(FtrlPredictor {
            spec: self.spec.clone(),
            weights: self.serving.clone(),
        })
    }

    fn save(&self) -> Result<Vec<u8>, PluginError> {
        Ok(envelope::encode(
            &envelope::Header::new(KIND, FORMAT_VERSION, &self.spec),
            &self.payload()?,
        ))
    }
}

fn check_dim(dim: usize, x: &SparseBatch<'_>) -> Result<(), PluginError> {
    if x.dim() != dim {
        return Err(PluginError::BadSparse(format!(
            "the batch has {} coordinates, the model 2^{} = {dim}",
            x.dim(),
            dim.trailing_zeros()
        )));
    }
    Ok(())
}

/// The serving snapshot: `f32` weights in shared chunks.
#[derive(Debug)]
pub struct FtrlPredictor {
    spec: ModelSpec,
    weights: ChunkedWeights,
}

impl FtrlPredictor {
    /// Hashed coordinates (the bias not counted).
    pub fn dim(&self) -> usize {
        self.weights.len() - 1
    }
}

impl Predictor for FtrlPredictor {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn input(&self) -> InputKind {
        InputKind::Sparse
    }

    fn predict_row(&self, row: Row<'_>) -> Result<f32, PluginError> {
        let (indices, values) = row.sparse(&self.spec)?;
        let dim = self.dim();
        let mut s = self.weights.get(dim);
        for (&i, &v) in indices.iter().zip(values) {
            let i = i as usize;
            if i >= dim || !v.is_finite() {
                return Err(PluginError::BadSparse(format!(
                    "entry ({i}, {v}): indices go below {dim}, values must be finite"
                )));
            }
            s += self.weights.get(i) * v;
        }
        Ok(1.0 / (1.0 + (-s).exp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refit_plugin::Task;

    fn model() -> FtrlModel {
        let params = FtrlParams {
            bits: 4,
            ..FtrlParams::default()
        };
        FtrlModel::new(
            ModelSpec::new("ftrl", Task::Classification, Vec::<String>::new()),
            params,
        )
        .unwrap()
    }

    /// A repeated index is one coordinate with the summed value: its `n`
    /// grows by g^2 (x1 + x2)^2, exactly as a single entry of x1 + x2.
    #[test]
    fn a_repeated_index_learns_as_one_coordinate_with_the_summed_value() {
        let (mut twice, mut once) = (model(), model());
        let mut undo = Vec::new();
        for y in [1.0, 0.0, 1.0] {
            twice.learn_row(&[3, 5, 3], &[1.0, 0.5, 1.0], y, 0.1, &mut undo);
            once.learn_row(&[3, 5], &[2.0, 0.5], y, 0.1, &mut undo);
        }
        assert_eq!((twice.z[3], twice.n[3]), (once.z[3], once.n[3]));
        assert_eq!(twice.weight(5), once.weight(5));
    }

    /// L1 never zeroes the bias: a bias whose |z| is under L1 still has a
    /// weight.
    #[test]
    fn the_bias_gets_no_l1() {
        let mut m = model();
        let bias = m.dim();
        m.z[bias] = -0.5;
        m.z[0] = -0.5;
        assert_eq!(m.weight(0), 0.0, "a feature under L1 = 1 is zeroed");
        assert!(m.weight(bias) > 0.0);
    }
}
