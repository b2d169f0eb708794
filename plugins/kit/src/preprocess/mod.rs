//! Feature preprocessing inside a model: online standardisation of numeric
//! features, categorical encoding and missing values.
//!
//! A [`Preprocessor`] turns a raw row (one `f32` per declared feature) into
//! the encoded row the model's weights see. Its statistics are learned from
//! training batches only ([`Preprocessor::learn`]); encoding never changes
//! them, so predicting is pure. It serialises with the model (serde) and is
//! shared unchanged by the serving snapshot.
//!
//! - Numeric feature: `(x - running mean) / running standard deviation`
//!   (Welford's algorithm in `f64`; population variance; a deviation below
//!   1e-12 counts as 1). With `standardize = false` the value passes through
//!   (and when no numeric feature standardises or imputes, and none is
//!   categorical, no statistics are kept at all: nothing would read them).
//! - Categorical feature: the raw value is a level code (any `f32`, compared
//!   by bit pattern; text levels get theirs from [`level_code`]). The first `onehot_max` levels seen in training get a
//!   one-hot slot each; later levels share `hash_buckets` slots by a stable
//!   hash of the code; one more slot marks a missing value. A level never
//!   seen in training encodes as all zeros while one-hot slots are free, and
//!   to its hash bucket once they are full: no error either way.
//! - Missing value: NaN. With `missing = "impute"` a numeric feature takes
//!   the running mean (0 after standardisation) and a categorical one its
//!   "missing" slot; with `missing = "error"` (the default) NaN is refused
//!   with an error that names the feature. Infinite values are always refused.
//!
//! ```
//! use refit_plugin_kit::preprocess::{PreprocessConfig, Preprocessor};
//! use refit_plugin::Batch;
//!
//! let mut p = Preprocessor::new(&["date_ordinal".to_string()], &PreprocessConfig::default()).unwrap();
//! p.learn(&Batch::new(&[700_000.0, 700_010.0, 700_020.0], 1).unwrap()).unwrap();
//! let mut out = [0.0];
//! p.encode_row(&[700_010.0], &mut out).unwrap();
//! assert_eq!(out, [0.0]);
//! p.encode_row(&[700_020.0], &mut out).unwrap();
//! assert!((out[0] - 1.2247449).abs() < 1e-5); // 10 / sqrt(200/3)
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

mod config;
mod levels;
mod state;

use serde::{Deserialize, Serialize};

pub use config::{FeatureOverride, FeatureType, Missing, PreprocessConfig};
pub use levels::level_code;
use state::{CategoricalState, Fast, FeatureState, NumericState, canonical_bits};

use refit_plugin::{Batch, PluginError};

/// The most encoded columns a loaded preprocessor may have (16 M).
pub const MAX_ENCODED_WIDTH: usize = 1 << 24;

/// The preprocessing stage of a model. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocessor {
    /// Shared: a model clones its preprocessor on every update.
    names: Arc<[String]>,
    features: Vec<FeatureState>,
    /// Set when every feature is numeric: encoding is then one column per
    /// feature and the vectorisable fast paths apply.
    #[serde(skip)]
    fast: Option<Fast>,
    #[serde(skip)]
    width: usize,
}

impl Preprocessor {
    /// A preprocessor for the raw features `names` under `config`. Fails on
    /// an override for an unknown feature or a categorical feature without
    /// any slot.
    pub fn new(names: &[String], config: &PreprocessConfig) -> Result<Self, PluginError> {
        if let Some(unknown) = config.features.keys().find(|k| !names.contains(k)) {
            return Err(PluginError::InvalidParams(format!(
                "[model.preprocessing.features] names `{unknown}`, which is not a configured feature"
            )));
        }
        let features = names
            .iter()
            .map(|name| {
                let o = config.features.get(name).cloned().unwrap_or_default();
                let missing = o.missing.unwrap_or(config.missing);
                match o.kind.unwrap_or_default() {
                    FeatureType::Numeric => Ok(FeatureState::Numeric(NumericState {
                        standardize: o.standardize.unwrap_or(config.standardize),
                        missing,
                        count: 0,
                        mean: 0.0,
                        m2: 0.0,
                        center: 0.0,
                        scale: 1.0,
                        impute: 0.0,
                    })),
                    FeatureType::Categorical => {
                        if o.standardize.is_some() {
                            return Err(PluginError::InvalidParams(format!(
                                "feature `{name}` is categorical; `standardize` applies to numeric features"
                            )));
                        }
                        if config.onehot_max + config.hash_buckets == 0 {
                            return Err(PluginError::InvalidParams(format!(
                                "categorical feature `{name}` needs onehot_max + hash_buckets >= 1"
                            )));
                        }
                        Ok(FeatureState::Categorical(CategoricalState {
                            missing,
                            onehot_max: config.onehot_max,
                            hash_buckets: config.hash_buckets,
                            levels: Vec::new(),
                            index: HashMap::new(),
                        }))
                    }
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut p = Self {
            names: names.into(),
            features,
            fast: None,
            width: 0,
        };
        p.refresh();
        Ok(p)
    }

    /// Checks a deserialised preprocessor before it is used (a damaged or
    /// crafted file gives an error, never a panic or a huge allocation):
    /// one state per feature name; a categorical feature with at least one
    /// slot, at most `onehot_max` distinct levels and a width that fits;
    /// finite numeric statistics; at most [`MAX_ENCODED_WIDTH`] columns in
    /// all. Then [`Preprocessor::refresh`] derives the rest.
    ///
    /// ```
    /// use refit_plugin_kit::preprocess::{FeatureType, Preprocessor, PreprocessConfig};
    /// let mut config = PreprocessConfig::default();
    /// config.onehot_max = 2;
    /// config.features.insert("c".into(), refit_plugin_kit::preprocess::FeatureOverride {
    ///     kind: Some(FeatureType::Categorical),
    ///     ..Default::default()
    /// });
    /// let p = Preprocessor::new(&["c".to_string()], &config).unwrap();
    /// let mut json: serde_json::Value = serde_json::to_value(&p).unwrap();
    /// // Three levels for two one-hot slots: the third would index past them.
    /// json["features"][0]["levels"] = serde_json::json!([1, 2, 3]);
    /// let loaded: Preprocessor = serde_json::from_value(json).unwrap();
    /// let err = loaded.checked().unwrap_err();
    /// assert!(err.to_string().contains("3 levels for 2 one-hot slots"), "{err}");
    /// ```
    pub fn checked(mut self) -> Result<Self, PluginError> {
        let corrupt = |m: String| PluginError::Corrupt(format!("preprocessor: {m}"));
        if self.names.len() != self.features.len() {
            return Err(corrupt(format!(
                "{} states for {} features",
                self.features.len(),
                self.names.len()
            )));
        }
        let mut width = 0usize;
        for (name, f) in self.names.iter().zip(&self.features) {
            let columns = match f {
                FeatureState::Numeric(n) => {
                    if !(n.mean.is_finite() && n.m2.is_finite() && n.m2 >= 0.0) {
                        return Err(corrupt(format!("`{name}`: statistics not finite")));
                    }
                    1
                }
                FeatureState::Categorical(c) => {
                    if c.levels.len() > c.onehot_max {
                        return Err(corrupt(format!(
                            "`{name}`: {} levels for {} one-hot slots",
                            c.levels.len(),
                            c.onehot_max
                        )));
                    }
                    let distinct: std::collections::HashSet<u32> = c
                        .levels
                        .iter()
                        .map(|&l| canonical_bits(f32::from_bits(l)))
                        .collect();
                    if distinct.len() != c.levels.len() {
                        return Err(corrupt(format!("`{name}`: a level is listed twice")));
                    }
                    c.onehot_max
                        .checked_add(c.hash_buckets)
                        .and_then(|w| w.checked_add(1))
                        .ok_or_else(|| corrupt(format!("`{name}`: width overflows")))?
                }
            };
            width = width
                .checked_add(columns)
                .filter(|&w| w <= MAX_ENCODED_WIDTH)
                .ok_or_else(|| {
                    corrupt(format!(
                        "more than {MAX_ENCODED_WIDTH} encoded columns at `{name}`"
                    ))
                })?;
        }
        self.refresh();
        Ok(self)
    }

    /// Recomputes derived fields; call after deserialising (see
    /// [`Preprocessor::checked`], which checks first).
    pub fn refresh(&mut self) {
        let mut width = 0;
        let mut all_numeric = true;
        for f in &mut self.features {
            match f {
                FeatureState::Numeric(n) => {
                    n.refresh();
                    width += 1;
                }
                FeatureState::Categorical(c) => {
                    c.refresh();
                    width += c.width();
                    all_numeric = false;
                }
            }
        }
        self.width = width;
        self.fast = all_numeric.then(|| {
            let center = self.numeric_field(|n| n.center);
            let scale = self.numeric_field(|n| n.scale);
            let identity = center.iter().all(|&c| c == 0.0) && scale.iter().all(|&s| s == 1.0);
            let stateless = self.features.iter().all(|f| {
                matches!(f, FeatureState::Numeric(n) if !n.standardize && n.missing != Missing::Impute)
            });
            Fast {
                center,
                scale,
                identity,
                stateless,
            }
        });
    }

    /// Number of raw features.
    pub fn raw_width(&self) -> usize {
        self.names.len()
    }

    /// Number of encoded columns.
    pub fn encoded_width(&self) -> usize {
        self.width
    }

    /// Names of the encoded columns (`name`, `name=level`, `name#bucket`,
    /// `name=missing`).
    pub fn encoded_names(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.width);
        for (name, f) in self.names.iter().zip(&self.features) {
            match f {
                FeatureState::Numeric(_) => out.push(name.clone()),
                FeatureState::Categorical(c) => {
                    for i in 0..c.onehot_max {
                        match c.levels.get(i) {
                            Some(&l) => out.push(format!("{name}={}", f32::from_bits(l))),
                            None => out.push(format!("{name}=<free {i}>")),
                        }
                    }
                    out.extend((0..c.hash_buckets).map(|b| format!("{name}#{b}")));
                    out.push(format!("{name}=missing"));
                }
            }
        }
        out
    }

    /// Checks one raw row: width, no infinity, NaN only where imputed.
    pub fn check_row(&self, index: usize, row: &[f32]) -> Result<(), PluginError> {
        if row.len() != self.names.len() {
            return Err(PluginError::WidthMismatch {
                expected: self.names.len(),
                got: row.len(),
            });
        }
        for (j, (&v, f)) in row.iter().zip(&self.features).enumerate() {
            if !(v.is_finite() || (v.is_nan() && f.missing() == Missing::Impute)) {
                return Err(PluginError::NonFiniteFeature {
                    row: index,
                    feature: self.names[j].clone(),
                    value: v,
                });
            }
        }
        Ok(())
    }

    /// Checks a raw batch: non-empty and every row as in [`Self::check_row`].
    pub fn check_batch(&self, x: &Batch<'_>) -> Result<(), PluginError> {
        self.check_batch_complete(x).map(|_| ())
    }

    /// [`Self::check_batch`], also saying whether every value is present:
    /// `true` when none is NaN (infinities are refused), so the learning
    /// and encoding fast paths need no scan of their own.
    fn check_batch_complete(&self, x: &Batch<'_>) -> Result<bool, PluginError> {
        if x.is_empty() {
            return Err(PluginError::EmptyBatch);
        }
        if x.width() != self.names.len() {
            return Err(PluginError::WidthMismatch {
                expected: self.names.len(),
                got: x.width(),
            });
        }
        // A branch-free scan that vectorises; the rows are only walked one
        // by one to name a problem.
        if !x.values().iter().fold(false, |bad, v| bad | !v.is_finite()) {
            return Ok(true);
        }
        x.rows_iter()
            .enumerate()
            .try_for_each(|(i, r)| self.check_row(i, r))?;
        Ok(false)
    }

    /// Updates the statistics and vocabularies from a training batch.
    ///
    /// Numeric statistics merge the batch's own mean and squared deviations
    /// into the running ones (Chan et al.'s pairwise update), which equals
    /// learning the rows one by one (Welford) up to rounding.
    pub fn learn(&mut self, x: &Batch<'_>) -> Result<(), PluginError> {
        let complete = self.check_batch_complete(x)?;
        self.learn_checked(x, complete);
        Ok(())
    }

    /// [`Self::learn`], then [`Self::encode_batch`] with the updated
    /// statistics, checking the batch once: the training path of a model.
    pub fn learn_and_encode(&mut self, x: &Batch<'_>) -> Result<Vec<f32>, PluginError> {
        self.learn_and_encode_borrowed(x).map(Cow::into_owned)
    }

    /// [`Self::learn_and_encode`] that borrows the batch when encoding
    /// would copy it unchanged (every feature numeric, none standardised,
    /// no value missing).
    pub fn learn_and_encode_borrowed<'a>(
        &mut self,
        x: &Batch<'a>,
    ) -> Result<Cow<'a, [f32]>, PluginError> {
        let complete = self.check_batch_complete(x)?;
        self.learn_checked(x, complete);
        if complete && self.fast.as_ref().is_some_and(|f| f.identity) {
            return Ok(Cow::Borrowed(x.values()));
        }
        Ok(Cow::Owned(self.encode_checked(x, complete)))
    }

    /// Learns from a checked batch; `complete`: no value is missing.
    fn learn_checked(&mut self, x: &Batch<'_>, complete: bool) {
        if self.fast.as_ref().is_some_and(|f| f.stateless) {
            return;
        }
        if complete && self.fast.is_some() {
            self.learn_numeric_complete(x);
            return;
        }
        let d = self.names.len();
        // Column sums in f64, branch-free (a NaN adds nothing and counts
        // nothing), so the loops vectorise.
        let mut count = vec![0u64; d];
        let mut sum = vec![0.0f64; d];
        for row in x.rows_iter() {
            for ((c, s), &v) in count.iter_mut().zip(sum.iter_mut()).zip(row) {
                let present = !v.is_nan();
                *c += u64::from(present);
                *s += if present { f64::from(v) } else { 0.0 };
            }
        }
        let mean: Vec<f64> = count
            .iter()
            .zip(&sum)
            .map(|(&c, &s)| if c > 0 { s / c as f64 } else { 0.0 })
            .collect();
        let mut m2 = vec![0.0f64; d];
        for row in x.rows_iter() {
            for ((m, mu), &v) in m2.iter_mut().zip(&mean).zip(row) {
                let dev = f64::from(v) - mu;
                *m += if v.is_nan() { 0.0 } else { dev * dev };
            }
        }
        for (j, f) in self.features.iter_mut().enumerate() {
            match f {
                FeatureState::Numeric(n) => n.merge(count[j], mean[j], m2[j]),
                FeatureState::Categorical(c) => {
                    for row in x.rows_iter() {
                        c.learn(row[j]);
                    }
                }
            }
        }
        self.refresh();
    }

    /// [`Self::learn_checked`] for the common case: every feature numeric and
    /// no value missing, so every count is the row count and the column
    /// loops are plain `f64` sums that vectorise.
    fn learn_numeric_complete(&mut self, x: &Batch<'_>) {
        let d = self.names.len();
        let n = x.rows();
        // One pass of shifted sums: with a shift near the mean (the running
        // mean, or the batch's first row) sum((v - k)^2) - sum(v - k)^2 / n
        // has no harmful cancellation.
        let shift: Vec<f64> = self
            .features
            .iter()
            .zip(x.row(0))
            .map(|(f, &first)| match f {
                FeatureState::Numeric(s) if s.count > 0 => s.mean,
                _ => f64::from(first),
            })
            .collect();
        let (mut s1, mut s2) = (vec![0.0f64; d], vec![0.0f64; d]);
        for row in x.rows_iter() {
            for (((a, q), k), &v) in s1.iter_mut().zip(s2.iter_mut()).zip(&shift).zip(row) {
                let dev = f64::from(v) - k;
                *a += dev;
                *q += dev * dev;
            }
        }
        let nf = n as f64;
        for (j, f) in self.features.iter_mut().enumerate() {
            if let FeatureState::Numeric(state) = f {
                let mean = shift[j] + s1[j] / nf;
                let m2 = (s2[j] - s1[j] * s1[j] / nf).max(0.0);
                state.merge(n as u64, mean, m2);
            }
        }
        self.refresh();
    }

    /// Encodes one checked raw row into `out` (length
    /// [`Self::encoded_width`]). Never changes state.
    pub fn encode_row(&self, row: &[f32], out: &mut [f32]) -> Result<(), PluginError> {
        self.check_row(0, row)?;
        if out.len() != self.width {
            return Err(PluginError::WidthMismatch {
                expected: self.width,
                got: out.len(),
            });
        }
        self.encode_unchecked(row, out);
        Ok(())
    }

    fn encode_unchecked(&self, row: &[f32], out: &mut [f32]) {
        if let Some(fast) = &self.fast
            && row.iter().all(|v| !v.is_nan())
        {
            for ((o, &v), (c, s)) in out
                .iter_mut()
                .zip(row)
                .zip(fast.center.iter().zip(&fast.scale))
            {
                *o = (v - c) * s;
            }
            return;
        }
        let mut col = 0;
        for (&v, f) in row.iter().zip(&self.features) {
            match f {
                FeatureState::Numeric(n) => {
                    out[col] = n.encode(v);
                    col += 1;
                }
                FeatureState::Categorical(c) => {
                    let block = &mut out[col..col + c.width()];
                    block.fill(0.0);
                    if let Some(s) = c.slot(v) {
                        block[s] = 1.0;
                    }
                    col += c.width();
                }
            }
        }
    }

    /// Encodes a checked raw batch, row-major, `rows x encoded_width`.
    pub fn encode_batch(&self, x: &Batch<'_>) -> Result<Vec<f32>, PluginError> {
        let complete = self.check_batch_complete(x)?;
        Ok(self.encode_checked(x, complete))
    }

    /// Encodes a checked batch; `complete`: no value is missing.
    fn encode_checked(&self, x: &Batch<'_>, complete: bool) -> Vec<f32> {
        if complete && let Some(fast) = &self.fast {
            // Every column numeric and present: one pass, no per-row checks.
            let mut out = Vec::with_capacity(x.values().len());
            for row in x.rows_iter() {
                out.extend(
                    row.iter()
                        .zip(fast.center.iter().zip(&fast.scale))
                        .map(|(&v, (c, s))| (v - c) * s),
                );
            }
            return out;
        }
        let mut out = vec![0.0; x.rows() * self.width];
        for (row, o) in x.rows_iter().zip(out.chunks_exact_mut(self.width)) {
            self.encode_unchecked(row, o);
        }
        out
    }

    /// `weights . encode(row)` without building the encoded row: the linear
    /// serving path. `weights` must have [`Self::encoded_width`] entries.
    /// Checks the row.
    #[inline]
    pub fn dot(&self, row: &[f32], weights: &[f32]) -> Result<f32, PluginError> {
        if weights.len() != self.width {
            return Err(PluginError::WidthMismatch {
                expected: self.width,
                got: weights.len(),
            });
        }
        if let Some(fast) = &self.fast
            && row.len() == fast.center.len()
        {
            // Branch-free over the row. A NaN or infinite value makes its
            // term, and so the sum, non-finite (inf * 0 is NaN, and the
            // scales are finite and positive): such a sum falls back to the
            // checked path below, which imputes or names the feature.
            let mut acc = [0.0f32; 8];
            let n = row.len();
            let (r8, rt) = row.as_chunks::<8>();
            let (c8, ct) = fast.center[..n].as_chunks::<8>();
            let (s8, st) = fast.scale[..n].as_chunks::<8>();
            let (w8, wt) = weights[..n].as_chunks::<8>();
            for (((r, c), s), w) in r8.iter().zip(c8).zip(s8).zip(w8) {
                for i in 0..8 {
                    acc[i] += w[i] * ((r[i] - c[i]) * s[i]);
                }
            }
            let mut tail = 0.0f32;
            for (((r, c), s), w) in rt.iter().zip(ct).zip(st).zip(wt) {
                tail += w * ((r - c) * s);
            }
            let sum = ((acc[0] + acc[1]) + (acc[2] + acc[3]))
                + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
                + tail;
            if sum.is_finite() {
                return Ok(sum);
            }
        }
        self.check_row(0, row)?;
        let mut sum = 0.0f32;
        let mut col = 0;
        for (&v, f) in row.iter().zip(&self.features) {
            match f {
                FeatureState::Numeric(n) => {
                    sum += weights[col] * n.encode(v);
                    col += 1;
                }
                FeatureState::Categorical(c) => {
                    if let Some(s) = c.slot(v) {
                        sum += weights[col + s];
                    }
                    col += c.width();
                }
            }
        }
        Ok(sum)
    }

    /// Expresses linear weights over the encoded columns as weights over the
    /// raw features: `w_raw = w * scale`, `b_raw = b - sum(w * scale *
    /// center)`, so that `w_raw . row + b_raw` equals `w . encode(row) + b`.
    /// `None` when a feature is categorical (it has no single raw weight).
    pub fn unfold_linear(&self, w: &[f32], b: f32) -> Option<(Vec<f32>, f32)> {
        if self.fast.is_none() || w.len() != self.width {
            return None;
        }
        let mut raw = Vec::with_capacity(w.len());
        let mut bias = f64::from(b);
        for (wj, f) in w.iter().zip(&self.features) {
            let FeatureState::Numeric(n) = f else {
                return None;
            };
            let r = f64::from(*wj) * f64::from(n.scale);
            bias -= r * f64::from(n.center);
            raw.push(r as f32);
        }
        Some((raw, bias as f32))
    }

    fn numeric_field(&self, get: impl Fn(&NumericState) -> f32) -> Vec<f32> {
        self.features
            .iter()
            .map(|f| match f {
                FeatureState::Numeric(n) => get(n),
                FeatureState::Categorical(_) => 0.0,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn running_mean_and_variance_match_two_pass() {
        let data = [3.0f32, 7.0, 7.0, 19.0, -4.5, 1e5];
        let mut p = Preprocessor::new(&names(&["x"]), &PreprocessConfig::default()).unwrap();
        p.learn(&Batch::new(&data[..2], 1).unwrap()).unwrap();
        p.learn(&Batch::new(&data[2..], 1).unwrap()).unwrap();
        let mean = data.iter().map(|&v| f64::from(v)).sum::<f64>() / 6.0;
        let var = data
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / 6.0;
        let mut out = [0.0];
        p.encode_row(&[19.0], &mut out).unwrap();
        let want = (19.0 - mean) / var.sqrt();
        assert!(
            (f64::from(out[0]) - want).abs() < 1e-6,
            "{} vs {want}",
            out[0]
        );
    }

    #[test]
    fn categorical_onehot_then_hash_then_missing() {
        let mut cfg = PreprocessConfig {
            onehot_max: 2,
            hash_buckets: 3,
            ..Default::default()
        };
        cfg.features.insert(
            "plan".into(),
            FeatureOverride {
                kind: Some(FeatureType::Categorical),
                missing: Some(Missing::Impute),
                ..Default::default()
            },
        );
        let mut p = Preprocessor::new(&names(&["plan"]), &cfg).unwrap();
        assert_eq!(p.encoded_width(), 6);
        let mut out = [0.0; 6];
        // Unseen level while one-hot slots are free: all zeros.
        p.encode_row(&[5.0], &mut out).unwrap();
        assert_eq!(out, [0.0; 6]);
        p.learn(&Batch::new(&[5.0, 9.0, 11.0, 5.0], 1).unwrap())
            .unwrap();
        p.encode_row(&[5.0], &mut out).unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        p.encode_row(&[9.0], &mut out).unwrap();
        assert_eq!(out, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        // 11 came after the one-hot slots filled: one hash bucket.
        p.encode_row(&[11.0], &mut out).unwrap();
        assert_eq!(out[..2], [0.0, 0.0]);
        assert_eq!(out[2..5].iter().sum::<f32>(), 1.0);
        assert_eq!(out[5], 0.0);
        p.encode_row(&[f32::NAN], &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(p.encoded_names()[0], "plan=5");
    }

    #[test]
    fn without_standardisation_or_imputation_values_pass_through() {
        let cfg = PreprocessConfig {
            standardize: false,
            ..Default::default()
        };
        let mut p = Preprocessor::new(&names(&["a", "b"]), &cfg).unwrap();
        let rows = [3.0, -7.5, 1e6, 0.25];
        let x = Batch::new(&rows, 2).unwrap();
        assert_eq!(&*p.learn_and_encode_borrowed(&x).unwrap(), &rows);
        assert_eq!(p.encode_batch(&x).unwrap(), rows);
        let err = p
            .learn(&Batch::new(&[1.0, f32::NAN], 2).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("feature `b`"), "{err}");
        // Standardisation on: the same rows are centred once learned.
        let mut q = Preprocessor::new(&names(&["a", "b"]), &PreprocessConfig::default()).unwrap();
        let encoded = q.learn_and_encode_borrowed(&x).unwrap();
        assert!(
            (encoded[0] - -1.0).abs() < 1e-6 && (encoded[2] - 1.0).abs() < 1e-6,
            "{encoded:?}"
        );
    }

    #[test]
    fn missing_is_an_error_unless_imputed() {
        let mut p = Preprocessor::new(&names(&["a", "b"]), &PreprocessConfig::default()).unwrap();
        let err = p
            .learn(&Batch::new(&[1.0, f32::NAN], 2).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("feature `b`"), "{err}");
        let cfg = PreprocessConfig {
            missing: Missing::Impute,
            ..Default::default()
        };
        p = Preprocessor::new(&names(&["a", "b"]), &cfg).unwrap();
        p.learn(&Batch::new(&[1.0, 2.0, 3.0, f32::NAN], 2).unwrap())
            .unwrap();
        let mut out = [9.0; 2];
        p.encode_row(&[3.0, f32::NAN], &mut out).unwrap();
        assert_eq!(out[1], 0.0, "imputed by the mean, standardised to 0");
        assert!(p.encode_row(&[f32::INFINITY, 0.0], &mut out).is_err());
    }

    #[test]
    fn unknown_override_is_refused() {
        let mut cfg = PreprocessConfig::default();
        cfg.features
            .insert("nope".into(), FeatureOverride::default());
        let err = Preprocessor::new(&names(&["a"]), &cfg).unwrap_err();
        assert!(err.to_string().contains("`nope`"));
    }

    #[test]
    fn serde_round_trip_is_exact() {
        let mut p = Preprocessor::new(&names(&["a"]), &PreprocessConfig::default()).unwrap();
        p.learn(&Batch::new(&[0.1, 0.7, 123.456], 1).unwrap())
            .unwrap();
        let mut q: Preprocessor =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        q.refresh();
        assert_eq!(p, q);
        let (mut a, mut b) = ([0.0], [0.0]);
        p.encode_row(&[5.5], &mut a).unwrap();
        q.encode_row(&[5.5], &mut b).unwrap();
        assert_eq!(a[0].to_bits(), b[0].to_bits());
    }

    proptest! {
        #[test]
        fn dot_equals_encode_then_dot(
            rows in proptest::collection::vec(proptest::collection::vec(-1e3f32..1e3, 3), 1..20),
            w in proptest::collection::vec(-2f32..2.0, 3),
        ) {
            let mut p = Preprocessor::new(&names(&["a", "b", "c"]), &PreprocessConfig::default()).unwrap();
            let flat: Vec<f32> = rows.concat();
            p.learn(&Batch::new(&flat, 3).unwrap()).unwrap();
            for r in &rows {
                let mut enc = [0.0; 3];
                p.encode_row(r, &mut enc).unwrap();
                let want: f32 = enc.iter().zip(&w).map(|(a, b)| a * b).sum();
                let got = p.dot(r, &w).unwrap();
                prop_assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()));
            }
        }

        #[test]
        fn batched_statistics_match_two_pass_with_large_offsets(
            offset in -1e6f64..1e6,
            noise in proptest::collection::vec(-10f32..10.0, 4..300),
            split in 1usize..4,
        ) {
            // Two features: offset + noise and the noise alone, learned in
            // `split` batches (the NaN-free path), against a two-pass f64
            // reference on the same f32 values.
            let rows: Vec<f32> = noise
                .iter()
                .flat_map(|&v| [(offset + f64::from(v)) as f32, v])
                .collect();
            let n = noise.len();
            let mut p = Preprocessor::new(&names(&["a", "b"]), &PreprocessConfig::default()).unwrap();
            let per = n.div_ceil(split);
            for chunk in rows.chunks(per * 2) {
                p.learn(&Batch::new(chunk, 2).unwrap()).unwrap();
            }
            for j in 0..2 {
                let col: Vec<f64> = rows.iter().skip(j).step_by(2).map(|&v| f64::from(v)).collect();
                let mean = col.iter().sum::<f64>() / n as f64;
                let m2 = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
                let FeatureState::Numeric(state) = &p.features[j] else { unreachable!() };
                prop_assert_eq!(state.count, n as u64);
                prop_assert!((state.mean - mean).abs() <= 1e-12 * mean.abs().max(1.0),
                    "feature {} mean {} vs {}", j, state.mean, mean);
                prop_assert!((state.m2 - m2).abs() <= 1e-9 * m2.max(1.0),
                    "feature {} m2 {} vs {}", j, state.m2, m2);
            }
        }

        #[test]
        fn standardised_training_data_has_zero_mean_unit_variance(
            data in proptest::collection::vec(-1e6f32..1e6, 2..200)
        ) {
            let mut p = Preprocessor::new(&names(&["x"]), &PreprocessConfig::default()).unwrap();
            p.learn(&Batch::new(&data, 1).unwrap()).unwrap();
            let enc = p.encode_batch(&Batch::new(&data, 1).unwrap()).unwrap();
            let n = enc.len() as f64;
            let mean = enc.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = enc.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
            prop_assert!(mean.abs() < 1e-3);
            let spread = data.iter().any(|&v| (v - data[0]).abs() > 1e-3);
            if spread { prop_assert!((var - 1.0).abs() < 1e-2, "var {}", var); }
        }
    }
}
