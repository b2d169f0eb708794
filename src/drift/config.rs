//! `[drift]`: data-drift measurement (PSI, KS) and, in `[drift.concept]`,
//! the loss-stream detectors.

use serde::{Deserialize, Serialize};

use crate::drift::{PsiThresholds, Severity};

/// `[drift]`: data-drift measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    /// Max PSI above this is moderate drift (default 0.15).
    pub psi_moderate: f64,
    /// Max PSI above this is severe drift (default 0.3).
    pub psi_severe: f64,
    /// Quantile bins per feature (default 10).
    pub bins: usize,
    /// Recent samples compared with the reference (default 5000).
    pub window: usize,
    /// The first this many samples form the reference (default 5000).
    pub reference_size: usize,
    /// Floor for an empty bin's share (default 1e-4).
    pub empty_bin_floor: f64,
    /// After this many consecutive drift reports above `psi_moderate`, the
    /// reference is re-based on the current window: the model has been
    /// learning from the new distribution at the raised rate, which becomes
    /// the new normal (default 4; 0 never re-bases).
    pub rebase_after: usize,
    /// How the current window moves (default sliding).
    pub window_mode: WindowMode,
    /// Also run the two-sample Kolmogorov-Smirnov test per numeric feature
    /// (reported, does not change the severity; default false).
    pub ks: bool,
    /// Concept drift on the loss stream (`[drift.concept]`).
    pub concept: crate::drift::ConceptConfig,
}

impl DriftConfig {
    /// The severity of a PSI value under these thresholds.
    ///
    /// ```
    /// use refit::{Severity, config::DriftConfig};
    /// let c = DriftConfig::default();
    /// assert_eq!(c.psi_severity(0.15), Severity::Stable); // "above" is strict
    /// assert_eq!(c.psi_severity(0.2), Severity::Moderate);
    /// assert_eq!(c.psi_severity(0.31), Severity::Severe);
    /// ```
    pub fn psi_severity(&self, psi: f64) -> Severity {
        Severity::from_psi(psi, &self.thresholds())
    }

    /// The PSI thresholds of the severities.
    pub fn thresholds(&self) -> PsiThresholds {
        PsiThresholds {
            moderate: self.psi_moderate,
            severe: self.psi_severe,
        }
    }

    /// The fewest window samples whose PSI raises the severity: 20 per bin
    /// (at most the whole window). The PSI of `n` samples drawn from the
    /// reference itself is about `(bins - 1) / n` (a chi-square over `n`),
    /// so a window of a few dozen samples, as right after the reference
    /// completes or is re-based, would cross the thresholds by chance; at
    /// 20 per bin that noise is about 0.05.
    ///
    /// ```
    /// let c = refit::config::DriftConfig::default();
    /// assert_eq!(c.min_psi_window(), 200);
    /// ```
    pub fn min_psi_window(&self) -> usize {
        self.window.min(20 * self.bins)
    }
}

/// How the drift window moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// The last `window` samples, one in, one out.
    #[default]
    Sliding,
    /// Consecutive blocks of `window` samples; a full block starts over.
    Tumbling,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            psi_moderate: 0.15,
            psi_severe: 0.3,
            bins: 10,
            window: 5000,
            reference_size: 5000,
            empty_bin_floor: 1e-4,
            rebase_after: 4,
            window_mode: WindowMode::Sliding,
            ks: false,
            concept: crate::drift::ConceptConfig::default(),
        }
    }
}

impl DriftConfig {
    /// Ordered positive thresholds, at least two bins, non-empty windows, a
    /// floor in (0, 1), and the loss-stream detectors' own checks.
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        let invalid = |key: &str, problem: String| Err((key.to_owned(), problem));
        if !(self.psi_moderate > 0.0 && self.psi_moderate.is_finite()) {
            return invalid(
                "drift.psi_moderate",
                format!("= {} must be positive", self.psi_moderate),
            );
        }
        if !(self.psi_severe > self.psi_moderate && self.psi_severe.is_finite()) {
            return invalid(
                "drift.psi_severe",
                format!(
                    "= {} must be above drift.psi_moderate = {}",
                    self.psi_severe, self.psi_moderate
                ),
            );
        }
        if self.bins < 2 {
            return invalid("drift.bins", "must be at least 2".into());
        }
        if self.window == 0 || self.reference_size == 0 {
            return invalid(
                "drift.window",
                "and drift.reference_size must be at least 1".into(),
            );
        }
        if !(self.empty_bin_floor > 0.0 && self.empty_bin_floor < 1.0) {
            return invalid("drift.empty_bin_floor", "must be between 0 and 1".into());
        }
        self.concept.check()
    }
}
