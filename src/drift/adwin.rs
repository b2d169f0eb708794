//! ADWIN (adaptive windowing, Bifet and Gavaldà 2007): a change detector for
//! the mean of a stream with a bound on false alarms.
//!
//! The window is kept as an exponential histogram: level `i` holds up to
//! `max_buckets` buckets (one more, briefly, before two merge), each the
//! total and variance of `2^i` values. Every `clock` values, once the window
//! is longer than `grace_period`, every split of the window into an older
//! part `W0` and a newer part `W1` at a bucket boundary (oldest first) is
//! tested: with `n0`, `n1` their lengths (each at least
//! `min_window_length`), `m = 1/(n0 - L + 1) + 1/(n1 - L + 1)`,
//! `d' = ln(2 ln(W) / delta)` and `s2` the window's variance, drift is
//! declared when `|mean(W0) - mean(W1)| > sqrt(2 m s2 d') + 2/3 d' m`; then
//! the oldest bucket is dropped and the test repeats. The parameters and the
//! order of the tests are those of River's `drift.ADWIN` (River 0.26), whose
//! flagged indices `tests/drift_reference.rs` compares with ours; as in
//! River, [`Adwin::update`] starts from an empty window after a detection.
//!
//! ```
//! use refit::drift::adwin::{Adwin, AdwinParams};
//! let mut d = Adwin::new(AdwinParams::default());
//! let mut flagged = None;
//! for i in 0..4_000 {
//!     let v = if i < 2_000 { 0.2 } else { 0.8 };
//!     if d.update(v) && flagged.is_none() {
//!         flagged = Some(i);
//!     }
//! }
//! let at = flagged.expect("the jump is found");
//! assert!((2_000..2_100).contains(&at));
//! ```

use serde::{Deserialize, Serialize};

/// ADWIN's parameters (River's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdwinParams {
    /// Confidence: smaller means fewer false alarms, later detections.
    pub delta: f64,
    /// Test for a cut every this many values.
    pub clock: u32,
    /// Buckets per level of the histogram.
    pub max_buckets: usize,
    /// Least length of each side of a cut.
    pub min_window_length: u32,
    /// No test until the window is longer than this.
    pub grace_period: u32,
}

impl Default for AdwinParams {
    fn default() -> Self {
        Self {
            delta: 0.002,
            clock: 32,
            max_buckets: 5,
            min_window_length: 5,
            grace_period: 10,
        }
    }
}

impl AdwinParams {
    /// Checks the ranges, naming the first bad parameter.
    pub fn check(&self) -> Result<(), String> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(format!("delta = {} must be in (0, 1)", self.delta));
        }
        if self.clock == 0 {
            return Err("clock must be at least 1".into());
        }
        if self.max_buckets < 2 {
            return Err(format!(
                "max_buckets = {} must be at least 2",
                self.max_buckets
            ));
        }
        Ok(())
    }
}

/// One summary: the total and the variance (sum of squared deviations) of
/// `2^level` values.
#[derive(Debug, Clone, Copy)]
struct Summary {
    total: f64,
    variance: f64,
}

/// The detector. See the module documentation.
#[derive(Debug, Clone)]
pub struct Adwin {
    params: AdwinParams,
    /// `levels[i]`: buckets of `2^i` values, oldest first.
    levels: Vec<Vec<Summary>>,
    width: f64,
    total: f64,
    variance: f64,
    tick: u64,
    detected: bool,
    detections: u64,
    /// At the last detection, the newer part's mean was the higher.
    increased: bool,
}

impl Adwin {
    /// An empty detector.
    pub fn new(params: AdwinParams) -> Self {
        Self {
            params,
            levels: vec![Vec::new()],
            width: 0.0,
            total: 0.0,
            variance: 0.0,
            tick: 0,
            detected: false,
            detections: 0,
            increased: false,
        }
    }

    /// Adds a value; true when this value completes a detected change.
    pub fn update(&mut self, value: f64) -> bool {
        if self.detected {
            let detections = self.detections;
            *self = Self::new(self.params);
            self.detections = detections;
        }
        self.insert(value);
        self.detected = self.detect();
        if self.detected {
            self.detections += 1;
        }
        self.detected
    }

    /// Values in the current window.
    pub fn width(&self) -> u64 {
        self.width as u64
    }

    /// Mean of the current window (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.width > 0.0 {
            self.total / self.width
        } else {
            0.0
        }
    }

    /// Whether the last detected change raised the mean (the newer side of
    /// its first cut had the higher mean).
    pub fn last_change_increased(&self) -> bool {
        self.increased
    }

    /// Changes detected so far.
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// The parameters.
    pub fn params(&self) -> &AdwinParams {
        &self.params
    }

    fn insert(&mut self, value: f64) {
        self.levels[0].push(Summary {
            total: value,
            variance: 0.0,
        });
        self.width += 1.0;
        if self.width > 1.0 {
            let d = value - self.total / (self.width - 1.0);
            self.variance += (self.width - 1.0) * d * d / self.width;
        }
        self.total += value;
        self.merge();
    }

    /// Merges the two oldest buckets of every overfull level into the next.
    fn merge(&mut self) {
        let mut level = 0;
        while self.levels[level].len() > self.params.max_buckets {
            let n = (1u64 << level) as f64;
            let a = self.levels[level][0];
            let b = self.levels[level][1];
            let (ma, mb) = (a.total / n, b.total / n);
            let merged = Summary {
                total: a.total + b.total,
                variance: a.variance + b.variance + n * 0.5 * (ma - mb) * (ma - mb),
            };
            self.levels[level].drain(..2);
            if level + 1 == self.levels.len() {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(merged);
            level += 1;
        }
    }

    /// Drops the oldest bucket.
    fn drop_oldest(&mut self) {
        let last = self.levels.len() - 1;
        let n = (1u64 << last) as f64;
        let oldest = self.levels[last].remove(0);
        self.width -= n;
        self.total -= oldest.total;
        let (mu, mu_window) = (oldest.total / n, self.total / self.width);
        self.variance -= oldest.variance
            + n * self.width * (mu - mu_window) * (mu - mu_window) / (n + self.width);
        if self.levels[last].is_empty() && last > 0 {
            self.levels.pop();
        }
    }

    fn detect(&mut self) -> bool {
        self.tick += 1;
        let p = self.params;
        if !self.tick.is_multiple_of(u64::from(p.clock)) || self.width <= f64::from(p.grace_period)
        {
            return false;
        }
        let mut changed = false;
        'again: loop {
            let (mut n0, mut n1) = (0.0f64, self.width);
            let (mut u0, mut u1) = (0.0f64, self.total);
            for level in (0..self.levels.len()).rev() {
                let size = (1u64 << level) as f64;
                let buckets = self.levels[level].len();
                for k in 0..buckets {
                    let t = self.levels[level][k].total;
                    n0 += size;
                    n1 -= size;
                    u0 += t;
                    u1 -= t;
                    if level == 0 && k + 1 == buckets {
                        break 'again;
                    }
                    let min = f64::from(p.min_window_length);
                    if n0 >= min && n1 >= min && self.cut(n0, n1, u0 / n0 - u1 / n1) {
                        if !changed {
                            self.increased = u1 / n1 > u0 / n0;
                        }
                        changed = true;
                        if self.width > 0.0 {
                            self.drop_oldest();
                            continue 'again;
                        }
                    }
                }
            }
            break;
        }
        changed
    }

    fn cut(&self, n0: f64, n1: f64, mean_diff: f64) -> bool {
        let min = f64::from(self.params.min_window_length);
        let d = (2.0 * self.width.ln() / self.params.delta).ln();
        let m = 1.0 / (n0 - min + 1.0) + 1.0 / (n1 - min + 1.0);
        let eps = (2.0 * m * (self.variance / self.width) * d).sqrt() + 2.0 / 3.0 * d * m;
        mean_diff.abs() > eps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_statistics_match_a_direct_computation() {
        let mut d = Adwin::new(AdwinParams::default());
        let values: Vec<f64> = (0..1_000).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
        for &v in &values {
            d.update(v);
        }
        assert_eq!(d.width(), 1_000);
        let mean = values.iter().sum::<f64>() / 1_000.0;
        assert!((d.mean() - mean).abs() < 1e-12);
        let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
        assert!((d.variance - ss).abs() < 1e-9 * ss);
        // Buckets cover the window exactly.
        let covered: u64 = d
            .levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.len() as u64) << i)
            .sum();
        assert_eq!(covered, 1_000);
    }

    #[test]
    fn a_constant_stream_never_drifts() {
        let mut d = Adwin::new(AdwinParams::default());
        assert!((0..10_000).all(|_| !d.update(1.0)));
        assert_eq!(d.detections(), 0);
    }

    #[test]
    fn bad_parameters_are_named() {
        let p = AdwinParams {
            delta: 0.0,
            ..Default::default()
        };
        assert!(p.check().unwrap_err().contains("delta"));
        let p = AdwinParams {
            clock: 0,
            ..Default::default()
        };
        assert!(p.check().unwrap_err().contains("clock"));
    }
}
