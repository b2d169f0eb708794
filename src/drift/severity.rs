//! How severe a drift is: the scale the learning-rate table is indexed by.

use serde::{Deserialize, Serialize};

/// Drift severity: the higher of the data-drift severity (max PSI against
/// the config thresholds) and the concept-drift level of the loss stream
/// (warning: moderate, drift: severe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Max PSI at most `psi_moderate`, no concept alarm.
    #[default]
    Stable,
    /// Max PSI above `psi_moderate`, or a concept-drift warning.
    Moderate,
    /// Max PSI above `psi_severe`, or a concept drift.
    Severe,
}

/// PSI thresholds of the severities (`drift.psi_moderate`, `drift.psi_severe`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct PsiThresholds {
    /// Max PSI above this is moderate drift.
    pub moderate: f64,
    /// Max PSI above this is severe drift.
    pub severe: f64,
}

impl Severity {
    /// The severity of a PSI value: above `severe` is severe, above
    /// `moderate` moderate ("above" is strict).
    ///
    /// ```
    /// use refit::drift::{PsiThresholds, Severity};
    /// let t = PsiThresholds { moderate: 0.15, severe: 0.3 };
    /// assert_eq!(Severity::from_psi(0.15, &t), Severity::Stable);
    /// assert_eq!(Severity::from_psi(0.2, &t), Severity::Moderate);
    /// assert_eq!(Severity::from_psi(0.31, &t), Severity::Severe);
    /// ```
    pub fn from_psi(psi: f64, thresholds: &PsiThresholds) -> Self {
        if psi > thresholds.severe {
            Severity::Severe
        } else if psi > thresholds.moderate {
            Severity::Moderate
        } else {
            Severity::Stable
        }
    }
}
