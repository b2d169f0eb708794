//! The Page-Hinkley test (Page 1954): a CUSUM of deviations from the running
//! mean, with a forgetting factor, for increases and/or decreases of a
//! stream's mean.
//!
//! For each value `x`, with `mean` the running mean including `x`:
//! `up = alpha up + (x - mean) - delta`, `down = alpha down + (x - mean) +
//! delta`; drift is declared once at least `min_instances` values are seen
//! and `up - min(up)` (an increase) or `max(down) - down` (a decrease)
//! exceeds `threshold`. After a detection the next value starts a fresh
//! test. This is River's `drift.PageHinkley` (River 0.26), including its
//! starting point `max(down) = -1`; `tests/drift_reference.rs` compares the
//! flagged indices with River's.
//!
//! ```
//! use refit::drift::page_hinkley::{Direction, PageHinkley, PageHinkleyParams};
//! let mut d = PageHinkley::new(PageHinkleyParams {
//!     direction: Direction::Up,
//!     ..Default::default()
//! });
//! let flagged = (0..2_000).position(|i| d.update(if i < 1_000 { 0.0 } else { 1.0 }));
//! assert!(matches!(flagged, Some(i) if (1_000..1_100).contains(&i)));
//! ```

use serde::{Deserialize, Serialize};

/// Which changes of the mean to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Increases only (a loss stream getting worse).
    Up,
    /// Decreases only.
    Down,
    /// Both.
    Both,
}

/// Page-Hinkley parameters (River's names and defaults; `mode` is
/// `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PageHinkleyParams {
    /// Values seen before any detection.
    pub min_instances: u64,
    /// Magnitude of change tolerated per value.
    pub delta: f64,
    /// Detection threshold (lambda).
    pub threshold: f64,
    /// Forgetting factor of the cumulative sums (1: no forgetting).
    pub alpha: f64,
    /// Which changes to report.
    pub direction: Direction,
}

impl Default for PageHinkleyParams {
    fn default() -> Self {
        Self {
            min_instances: 30,
            delta: 0.005,
            threshold: 50.0,
            alpha: 1.0 - 0.0001,
            direction: Direction::Both,
        }
    }
}

impl PageHinkleyParams {
    /// Checks the ranges, naming the first bad parameter.
    pub fn check(&self) -> Result<(), String> {
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            return Err(format!("delta = {} must be finite and >= 0", self.delta));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(format!(
                "threshold = {} must be finite and > 0",
                self.threshold
            ));
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(format!("alpha = {} must be in (0, 1]", self.alpha));
        }
        Ok(())
    }
}

/// The detector. See the module documentation.
#[derive(Debug, Clone)]
pub struct PageHinkley {
    params: PageHinkleyParams,
    n: u64,
    mean: f64,
    up: f64,
    down: f64,
    min_up: f64,
    max_down: f64,
    detected: bool,
    detections: u64,
}

impl PageHinkley {
    /// A fresh test.
    pub fn new(params: PageHinkleyParams) -> Self {
        Self {
            params,
            n: 0,
            mean: 0.0,
            up: 0.0,
            down: 0.0,
            min_up: f64::INFINITY,
            max_down: -1.0,
            detected: false,
            detections: 0,
        }
    }

    /// Adds a value; true when it completes a detected change.
    pub fn update(&mut self, x: f64) -> bool {
        if self.detected {
            let detections = self.detections;
            *self = Self::new(self.params);
            self.detections = detections;
        }
        self.n += 1;
        // (1 / n) (x - mean), in this order, as River computes it.
        self.mean += (1.0 / self.n as f64) * (x - self.mean);
        let dev = x - self.mean;
        let p = self.params;
        self.up = p.alpha * self.up + dev - p.delta;
        self.down = p.alpha * self.down + dev + p.delta;
        self.min_up = self.min_up.min(self.up);
        self.max_down = self.max_down.max(self.down);
        if self.n >= p.min_instances {
            let increase = self.up - self.min_up > p.threshold;
            let decrease = self.max_down - self.down > p.threshold;
            self.detected = match p.direction {
                Direction::Up => increase,
                Direction::Down => decrease,
                Direction::Both => increase || decrease,
            };
        }
        if self.detected {
            self.detections += 1;
        }
        self.detected
    }

    /// How far the increase statistic is from the threshold, as a fraction
    /// of it (1 or more: detected).
    pub fn increase_level(&self) -> f64 {
        (self.up - self.min_up) / self.params.threshold
    }

    /// Changes detected so far.
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// The parameters.
    pub fn params(&self) -> &PageHinkleyParams {
        &self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_named() {
        let p = PageHinkleyParams {
            alpha: 1.5,
            ..Default::default()
        };
        assert!(p.check().unwrap_err().contains("alpha"));
        let p = PageHinkleyParams {
            threshold: 0.0,
            ..Default::default()
        };
        assert!(p.check().unwrap_err().contains("threshold"));
    }

    #[test]
    fn no_detection_before_min_instances() {
        let mut d = PageHinkley::new(PageHinkleyParams {
            threshold: 1.0,
            ..Default::default()
        });
        for i in 0..29 {
            assert!(!d.update(if i < 10 { 0.0 } else { 100.0 }));
        }
    }
}
