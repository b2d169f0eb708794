//! A concept-drift detector that sees a broken ranking: the progressive
//! AUC of consecutive windows of scored samples, against the mean of the
//! windows before.
//!
//! A click model whose preferences reversed keeps the same click rate, so
//! its mean log loss barely moves and the loss-stream detectors stay
//! silent while its ranking is wrong. The AUC of the scores it gave
//! before learning (progressive validation) falls at once. Each window of
//! `window` scored samples (with both classes) gives one AUC; a window
//! whose AUC is `warning_drop` below the mean of the previous `history`
//! windows raises a warning, `drift_drop` below a drift. After an alarm
//! the history restarts, so the model's recovery becomes the new normal.
//!
//! The drops are in AUC units: a window of 2 000 impressions at a 10%
//! click rate has an AUC standard error near 0.02, so the default 0.1
//! drift level is five of them and the 0.05 warning two and a half.
//!
//! ```
//! use refit::drift::auc_drop::{AucDrop, AucDropParams};
//! use refit::drift::concept::ConceptLevel;
//! let mut d = AucDrop::new(AucDropParams { window: 100, ..AucDropParams::default() });
//! // Scores that rank the clicks first, then scores that rank them last.
//! let good: Vec<(f32, f32)> = (0..600).map(|i| ((i % 10) as f32 / 10.0, f32::from(i % 10 >= 8))).collect();
//! assert_eq!(d.observe(&good), ConceptLevel::None);
//! let bad: Vec<(f32, f32)> = good.iter().map(|&(s, y)| (1.0 - s, y)).collect();
//! assert_eq!(d.observe(&bad[..100]), ConceptLevel::Drift);
//! ```

use serde::{Deserialize, Serialize};

use crate::drift::concept::ConceptLevel;
use crate::metrics::auc;

/// `[drift.concept.auc_drop]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AucDropParams {
    /// Run it (default true; binary classifiers only).
    pub enabled: bool,
    /// Scored samples per window (default 2000).
    pub window: usize,
    /// Earlier windows whose mean AUC is the reference (default 5).
    pub history: usize,
    /// Drop below the reference that is a warning (default 0.05).
    pub warning_drop: f64,
    /// Drop below the reference that is a drift (default 0.1).
    pub drift_drop: f64,
}

impl Default for AucDropParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 2_000,
            history: 5,
            warning_drop: 0.05,
            drift_drop: 0.1,
        }
    }
}

impl AucDropParams {
    /// Checks the values; the error names the key.
    pub fn check(&self) -> Result<(), (String, String)> {
        let key = |k: &str| format!("drift.concept.auc_drop.{k}");
        if self.window < 10 {
            return Err((
                key("window"),
                format!("= {} must be at least 10", self.window),
            ));
        }
        if self.history == 0 {
            return Err((key("history"), "must be at least 1".into()));
        }
        if !(self.warning_drop > 0.0
            && self.warning_drop <= self.drift_drop
            && self.drift_drop < 1.0)
        {
            return Err((
                key("warning_drop"),
                format!(
                    "= {} must be positive and at most drift_drop = {} (below 1)",
                    self.warning_drop, self.drift_drop
                ),
            ));
        }
        Ok(())
    }
}

/// The detector's state (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct AucDrop {
    params: AucDropParams,
    current: Vec<(f32, f32)>,
    history: std::collections::VecDeque<f64>,
    /// The AUC of the last complete window.
    last: Option<f64>,
}

impl AucDrop {
    /// A detector with no history.
    pub fn new(params: AucDropParams) -> Self {
        Self {
            params,
            current: Vec::with_capacity(params.window),
            history: std::collections::VecDeque::new(),
            last: None,
        }
    }

    /// The AUC of the last complete window.
    pub fn last_auc(&self) -> Option<f64> {
        self.last
    }

    /// Feeds (score, label) pairs; answers the highest level a window
    /// completed by them raised.
    pub fn observe(&mut self, scored: &[(f32, f32)]) -> ConceptLevel {
        let mut raised = ConceptLevel::None;
        for &pair in scored {
            self.current.push(pair);
            if self.current.len() < self.params.window {
                continue;
            }
            let (s, y): (Vec<f32>, Vec<f32>) = self.current.drain(..).unzip();
            let Some(now) = auc(&s, &y) else { continue };
            self.last = Some(now);
            let level = if self.history.len() == self.params.history {
                let reference = self.history.iter().sum::<f64>() / self.history.len() as f64;
                let drop = reference - now;
                if drop >= self.params.drift_drop {
                    ConceptLevel::Drift
                } else if drop >= self.params.warning_drop {
                    ConceptLevel::Warning
                } else {
                    ConceptLevel::None
                }
            } else {
                ConceptLevel::None
            };
            if level == ConceptLevel::None {
                if self.history.len() == self.params.history {
                    self.history.pop_front();
                }
                self.history.push_back(now);
            } else {
                // Recovery is the new normal.
                self.history.clear();
            }
            raised = raised.max(level);
        }
        raised
    }
}
