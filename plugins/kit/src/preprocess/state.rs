//! What a preprocessor learns per feature: running statistics of a
//! numeric feature, the vocabulary of a categorical one.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Missing;

/// Running statistics and settings of one numeric feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NumericState {
    pub(super) standardize: bool,
    pub(super) missing: Missing,
    pub(super) count: u64,
    pub(super) mean: f64,
    pub(super) m2: f64,
    /// `f32` copies used for encoding, derived from the `f64` statistics.
    #[serde(skip)]
    pub(super) center: f32,
    #[serde(skip)]
    pub(super) scale: f32,
    #[serde(skip)]
    pub(super) impute: f32,
}

impl NumericState {
    pub(super) fn refresh(&mut self) {
        let var = if self.count > 0 {
            self.m2 / self.count as f64
        } else {
            0.0
        };
        let sd = var.sqrt();
        self.impute = self.mean as f32;
        if self.standardize {
            self.center = self.mean as f32;
            self.scale = if sd > 1e-12 { (1.0 / sd) as f32 } else { 1.0 };
        } else {
            self.center = 0.0;
            self.scale = 1.0;
        }
    }

    /// The encoded value of `v` (NaN imputed by the running mean).
    #[inline(always)]
    pub(super) fn encode(&self, v: f32) -> f32 {
        let v = if v.is_nan() { self.impute } else { v };
        (v - self.center) * self.scale
    }

    /// Merges a batch of `count` values with mean `mean` and squared
    /// deviations `m2`.
    pub(super) fn merge(&mut self, count: u64, mean: f64, m2: f64) {
        if count == 0 {
            return;
        }
        let total = self.count + count;
        let delta = mean - self.mean;
        self.mean += delta * count as f64 / total as f64;
        self.m2 += m2 + delta * delta * (self.count as f64 * count as f64 / total as f64);
        self.count = total;
    }
}

/// Vocabulary and settings of one categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CategoricalState {
    pub(super) missing: Missing,
    pub(super) onehot_max: usize,
    pub(super) hash_buckets: usize,
    /// Level codes (as `f32` bits) in one-hot slot order.
    pub(super) levels: Vec<u32>,
    #[serde(skip)]
    pub(super) index: HashMap<u32, usize>,
}

impl CategoricalState {
    pub(super) fn width(&self) -> usize {
        self.onehot_max + self.hash_buckets + 1
    }

    pub(super) fn refresh(&mut self) {
        self.index = self
            .levels
            .iter()
            .enumerate()
            .map(|(i, &l)| (l, i))
            .collect();
    }

    /// The slot of a level, relative to the feature's first column.
    pub(super) fn slot(&self, v: f32) -> Option<usize> {
        if v.is_nan() {
            return Some(self.onehot_max + self.hash_buckets);
        }
        let code = canonical_bits(v);
        if let Some(&i) = self.index.get(&code) {
            return Some(i);
        }
        if self.levels.len() < self.onehot_max || self.hash_buckets == 0 {
            return None;
        }
        Some(self.onehot_max + (mix(code) % self.hash_buckets as u64) as usize)
    }

    pub(super) fn learn(&mut self, v: f32) {
        if v.is_nan() || self.levels.len() >= self.onehot_max {
            return;
        }
        let code = canonical_bits(v);
        if !self.index.contains_key(&code) {
            self.index.insert(code, self.levels.len());
            self.levels.push(code);
        }
    }
}

/// `-0.0` and `0.0` are one level.
pub(super) fn canonical_bits(v: f32) -> u32 {
    if v == 0.0 { 0 } else { v.to_bits() }
}

/// A fixed 64-bit mixer (splitmix64's finaliser): stable across builds and
/// platforms, so hashed slots survive save and load.
pub(super) fn mix(code: u32) -> u64 {
    let mut z = u64::from(code).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Per-feature arrays of an all-numeric preprocessor.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fast {
    pub(super) center: Vec<f32>,
    pub(super) scale: Vec<f32>,
    /// Every center 0 and every scale 1 (now): a NaN-free batch encodes to
    /// itself.
    pub(super) identity: bool,
    /// No feature standardises or imputes: raw values pass through, NaN is
    /// refused, and no statistic is ever read, so none is learned.
    pub(super) stateless: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum FeatureState {
    Numeric(NumericState),
    Categorical(CategoricalState),
}

impl FeatureState {
    pub(super) fn missing(&self) -> Missing {
        match self {
            FeatureState::Numeric(n) => n.missing,
            FeatureState::Categorical(c) => c.missing,
        }
    }
}
