//! Label scaling for regressors: the model learns on standardised labels
//! and answers in label units.
//!
//! A regression label of about 40 (an approval rating, a lifetime value in
//! dollars) is far from the zero a fresh model predicts: with a small
//! learning rate the intercept takes thousands of rows to walk there, and
//! until it does every prediction is off by the label's size. A
//! [`LabelScaler`] keeps the running mean and standard deviation of the
//! training labels (Welford's algorithm in `f64`, population variance, as
//! River's `TargetStandardScaler`): the model fits `(y - mean) / sd` and its
//! raw output `z` is mapped back as `mean + sd * z`. The statistics are part
//! of the model's saved bytes, so a reloaded model answers exactly as the
//! saved one did.
//!
//! ```
//! use refit_plugin_kit::label_scale::LabelScaler;
//!
//! let mut s = LabelScaler::default();
//! s.learn(&[38.0, 40.0, 42.0]);
//! assert_eq!(s.mean(), 40.0);
//! // Population deviation: sqrt(8 / 3).
//! assert!((s.sd() - 1.6329932).abs() < 1e-6);
//! assert_eq!(s.scale(40.0), 0.0);
//! assert!((s.unscale(s.scale(42.0)) - 42.0).abs() < 1e-5);
//! ```

use serde::{Deserialize, Serialize};

/// Running mean and deviation of training labels (see the module docs).
///
/// With no label seen, or a deviation below `1e-12`, the deviation counts
/// as 1, so scaling is then a shift only (and the identity before the first
/// label).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelScaler {
    count: u64,
    mean: f64,
    m2: f64,
    /// `f32` copies used on the prediction path.
    #[serde(skip)]
    center: f32,
    #[serde(skip)]
    sd: f32,
}

impl Default for LabelScaler {
    fn default() -> Self {
        Self {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            center: 0.0,
            sd: 1.0,
        }
    }
}

impl LabelScaler {
    /// Learns a batch of labels (Chan et al.'s pairwise merge of the batch's
    /// mean and squared deviations: learning row by row gives the same up to
    /// rounding).
    pub fn learn(&mut self, y: &[f32]) {
        if y.is_empty() {
            return;
        }
        let n = y.len() as f64;
        let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let m2: f64 = y.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
        let total = self.count as f64 + n;
        let delta = mean - self.mean;
        self.mean += delta * n / total;
        self.m2 += m2 + delta * delta * (self.count as f64 * n / total);
        self.count += y.len() as u64;
        self.refresh();
    }

    /// Recomputes the `f32` copies after loading.
    pub fn refresh(&mut self) {
        let sd = if self.count > 0 {
            (self.m2 / self.count as f64).sqrt()
        } else {
            0.0
        };
        self.center = self.mean as f32;
        self.sd = if sd > 1e-12 { sd as f32 } else { 1.0 };
    }

    /// Labels learned so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Running mean of the labels (0 before the first).
    pub fn mean(&self) -> f32 {
        self.center
    }

    /// Running standard deviation of the labels (1 while undefined).
    pub fn sd(&self) -> f32 {
        self.sd
    }

    /// A label in the model's units: `(y - mean) / sd`.
    #[inline]
    pub fn scale(&self, y: f32) -> f32 {
        (y - self.center) / self.sd
    }

    /// A raw model output in label units: `mean + sd * z`.
    #[inline]
    pub fn unscale(&self, z: f32) -> f32 {
        self.center + self.sd * z
    }

    /// The current mapping back to label units, frozen (for a serving
    /// snapshot).
    pub fn unscaling(&self) -> Unscale {
        Unscale {
            center: self.center,
            sd: self.sd,
        }
    }

    /// Whether the statistics are finite (a loaded file is checked with it).
    pub fn is_finite(&self) -> bool {
        self.mean.is_finite() && self.m2.is_finite() && self.m2 >= 0.0
    }
}

/// A frozen `z -> center + sd * z`: how a serving snapshot answers in
/// label units ([`Unscale::IDENTITY`] when labels are not scaled).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unscale {
    center: f32,
    sd: f32,
}

impl Unscale {
    /// Answers unchanged.
    pub const IDENTITY: Self = Self {
        center: 0.0,
        sd: 1.0,
    };

    /// A raw model output in label units.
    #[inline]
    pub fn apply(self, z: f32) -> f32 {
        self.center + self.sd * z
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Batches of any split give the statistics of the whole stream,
        /// computed directly in f64.
        #[test]
        fn batches_equal_the_direct_statistics(
            y in proptest::collection::vec(-1e4f32..1e4, 1..200),
            cut in 0usize..200,
        ) {
            let cut = cut.min(y.len());
            let mut s = LabelScaler::default();
            s.learn(&y[..cut]);
            s.learn(&y[cut..]);
            let n = y.len() as f64;
            let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = y.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
            prop_assert_eq!(s.count(), y.len() as u64);
            prop_assert!((f64::from(s.mean()) - mean).abs() <= 1e-3 + 1e-6 * mean.abs());
            let sd = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
            prop_assert!((f64::from(s.sd()) - sd).abs() <= 1e-3 * sd.max(1.0));
            for &v in &y {
                prop_assert!((s.unscale(s.scale(v)) - v).abs() <= 1e-2 * v.abs().max(1.0));
            }
        }
    }

    #[test]
    fn before_any_label_it_is_the_identity() {
        let s = LabelScaler::default();
        let mut loaded: LabelScaler =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).expect("round trip");
        loaded.refresh();
        assert_eq!(loaded.scale(3.5), 3.5);
        assert_eq!(loaded.unscale(3.5), 3.5);
    }

    #[test]
    fn one_label_shifts_without_scaling() {
        let mut s = LabelScaler::default();
        s.learn(&[41.0]);
        assert_eq!(s.sd(), 1.0);
        assert_eq!(s.scale(41.0), 0.0);
        assert_eq!(s.unscale(2.0), 43.0);
    }
}
