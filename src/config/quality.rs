//! `[online.quality]`: the data-quality checks every online update passes
//! before the model learns from it.

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid};

/// `[online.quality]`. An update that fails a check is skipped: the
/// `UpdateSkipped` event says which check and by how much; its samples
/// are not learned online, and stay in the sample log, where the next full
/// retrain learns them. Both checks are off by default.
///
/// ```
/// use refit::config::QualityChecks;
/// let q = QualityChecks { min_samples: 50, min_minority_share: 0.05 };
/// assert_eq!(q.problem(&[0.0; 60], 2), Some("one class only: every one of the 60 samples is class 0 (online.quality.min_minority_share = 0.05)".into()));
/// assert!(q.problem(&[0.0; 20], 2).unwrap().starts_with("too few samples: 20"));
/// let mixed: Vec<f32> = (0..60).map(|i| f32::from(i % 10 == 0)).collect();
/// assert_eq!(q.problem(&mixed, 2), None);
/// assert_eq!(q.problem(&[3.5; 60], 0), None, "regression: no class balance");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityChecks {
    /// Least samples an update needs (default 1: any).
    pub min_samples: usize,
    /// Classifiers: least share of an update's samples outside its most
    /// common class (default 0: any balance; a click-through model wants
    /// it below its click rate, e.g. 0.005).
    pub min_minority_share: f64,
}

impl Default for QualityChecks {
    fn default() -> Self {
        Self {
            min_samples: 1,
            min_minority_share: 0.0,
        }
    }
}

impl QualityChecks {
    /// Why an update with `labels` fails a check, or `None` when it
    /// passes; `classes` is the model's class count (0 for a regressor).
    pub fn problem(&self, labels: &[f32], classes: usize) -> Option<String> {
        let n = labels.len();
        if n < self.min_samples {
            return Some(format!(
                "too few samples: {n} (online.quality.min_samples = {})",
                self.min_samples
            ));
        }
        if classes == 0 || self.min_minority_share <= 0.0 || n == 0 {
            return None;
        }
        let mut counts = vec![0usize; classes];
        for &y in labels {
            if let Some(c) = counts.get_mut(y as usize) {
                *c += 1;
            }
        }
        let (top, most) = counts
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| **c)
            .map_or((0, 0), |(k, c)| (k, *c));
        let share = (n - most) as f64 / n as f64;
        if share >= self.min_minority_share {
            return None;
        }
        Some(if most == n {
            format!(
                "one class only: every one of the {n} samples is class {top} (online.quality.min_minority_share = {})",
                self.min_minority_share
            )
        } else {
            format!(
                "class balance: {:.4} of the {n} samples are outside class {top} (online.quality.min_minority_share = {})",
                share, self.min_minority_share
            )
        })
    }

    pub(crate) fn check(&self) -> Result<(), Invalid> {
        if self.min_samples == 0 {
            return invalid("online.quality.min_samples", "must be at least 1");
        }
        if !(0.0..0.5).contains(&self.min_minority_share) {
            return invalid(
                "online.quality.min_minority_share",
                format!(
                    "= {} must be at least 0 and below 0.5",
                    self.min_minority_share
                ),
            );
        }
        Ok(())
    }
}
