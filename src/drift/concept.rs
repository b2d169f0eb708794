//! Concept drift on the model's own loss stream: the Trainer scores every
//! sample before learning from it, and [`ConceptMonitor`] runs ADWIN and/or
//! Page-Hinkley on those per-sample losses ([`sample_loss`]).
//!
//! Only a *rising* loss is an alarm (a falling loss is the model learning).
//! Two levels: **warning** (ADWIN at the looser `warning_delta`, or the
//! Page-Hinkley statistic above `warning_fraction` of its threshold) and
//! **drift** (ADWIN at `delta`, or Page-Hinkley over its threshold). A level
//! holds for `hold` further samples after the alarm, so the raised learning
//! rate lasts long enough to relearn, and every alarm shows in at least one
//! report.
//!
//! ```
//! use refit::drift::concept::{ConceptConfig, ConceptLevel, ConceptMonitor};
//! let mut m = ConceptMonitor::new(ConceptConfig::default());
//! let calm: Vec<f32> = (0..3_000).map(|i| 0.3 + 0.1 * ((i % 7) as f32 / 7.0)).collect();
//! m.observe(0, &calm);
//! assert_eq!(m.take_level(), ConceptLevel::None);
//! let worse: Vec<f32> = calm.iter().map(|l| l + 0.5).collect();
//! m.observe(3_000, &worse);
//! assert_eq!(m.take_level(), ConceptLevel::Drift);
//! assert!(m.last_alarm().unwrap().sample >= 3_000);
//! ```

use refit_plugin::Task;
use serde::{Deserialize, Serialize};

use crate::drift::adwin::{Adwin, AdwinParams};
use crate::drift::page_hinkley::{PageHinkley, PageHinkleyParams};

/// Which detectors run on the loss stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// ADWIN only (default).
    Adwin,
    /// Page-Hinkley only.
    PageHinkley,
    /// Both; either can raise an alarm.
    Both,
    /// No concept-drift detection.
    None,
}

/// `[drift.concept]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConceptConfig {
    /// Detectors to run (default `"adwin"`).
    pub detector: Detector,
    /// ADWIN's parameters (`[drift.concept.adwin]`, River's defaults).
    pub adwin: AdwinParams,
    /// ADWIN confidence of the warning level (default 0.02; larger than
    /// `adwin.delta`, so it fires earlier and more often).
    pub adwin_warning_delta: f64,
    /// Page-Hinkley's parameters (`[drift.concept.page_hinkley]`); the
    /// direction defaults to `"up"` here.
    pub page_hinkley: PageHinkleyParams,
    /// Page-Hinkley warning level as a fraction of its threshold (default 0.5).
    pub page_hinkley_warning: f64,
    /// Samples a level holds after its alarm (default 2000).
    pub hold: u64,
    /// The ranking detector on the scores of a binary classifier
    /// (`[drift.concept.auc_drop]`, on by default; see
    /// [`crate::drift::auc_drop`]).
    pub auc_drop: crate::drift::auc_drop::AucDropParams,
}

impl Default for ConceptConfig {
    fn default() -> Self {
        Self {
            detector: Detector::Adwin,
            adwin: AdwinParams::default(),
            adwin_warning_delta: 0.02,
            page_hinkley: PageHinkleyParams {
                direction: crate::drift::page_hinkley::Direction::Up,
                ..PageHinkleyParams::default()
            },
            page_hinkley_warning: 0.5,
            hold: 2_000,
            auc_drop: crate::drift::auc_drop::AucDropParams::default(),
        }
    }
}

impl ConceptConfig {
    /// Checks the ranges; the error names the key under `drift.concept`.
    pub fn check(&self) -> Result<(), (String, String)> {
        self.adwin
            .check()
            .map_err(|e| ("drift.concept.adwin".to_owned(), e))?;
        self.page_hinkley
            .check()
            .map_err(|e| ("drift.concept.page_hinkley".to_owned(), e))?;
        if !(self.adwin_warning_delta >= self.adwin.delta && self.adwin_warning_delta < 1.0) {
            return Err((
                "drift.concept.adwin_warning_delta".into(),
                format!(
                    "= {} must be in [drift.concept.adwin.delta, 1)",
                    self.adwin_warning_delta
                ),
            ));
        }
        self.auc_drop.check()?;
        if !(self.page_hinkley_warning > 0.0 && self.page_hinkley_warning <= 1.0) {
            return Err((
                "drift.concept.page_hinkley_warning".into(),
                format!("= {} must be in (0, 1]", self.page_hinkley_warning),
            ));
        }
        Ok(())
    }
}

/// How strongly the loss stream signals a concept change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConceptLevel {
    /// No alarm.
    #[default]
    None,
    /// A possible change.
    Warning,
    /// A change.
    Drift,
}

/// The latest alarm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConceptAlarm {
    /// `"adwin"`, `"page_hinkley"` or `"auc_drop"`.
    pub detector: &'static str,
    /// Warning or drift.
    pub level: ConceptLevel,
    /// Index of the sample whose loss completed the alarm.
    pub sample: u64,
}

/// An alarm read back (forwarded to another replica): its detector is one
/// of the names the detectors raise, else `"unknown"`.
#[derive(Deserialize)]
struct AlarmRecord {
    detector: String,
    level: ConceptLevel,
    sample: u64,
}

impl<'de> Deserialize<'de> for ConceptAlarm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = AlarmRecord::deserialize(d)?;
        Ok(Self {
            detector: ["adwin", "page_hinkley", "auc_drop"]
                .into_iter()
                .find(|known| *known == r.detector)
                .unwrap_or("unknown"),
            level: r.level,
            sample: r.sample,
        })
    }
}

/// The per-sample loss fed to the detectors: log loss (probabilities
/// clamped to [1e-7, 1 - 1e-7]) for classification, absolute error for
/// regression.
pub fn sample_loss(task: Task, prediction: f32, label: f32) -> f32 {
    match task {
        Task::Classification => {
            let p = f64::from(prediction).clamp(1e-7, 1.0 - 1e-7);
            let y = f64::from(label);
            (-(y * p.ln() + (1.0 - y) * (1.0 - p).ln())) as f32
        }
        Task::Regression => (prediction - label).abs(),
    }
}

/// Runs the configured detectors on a loss stream. See the module docs.
#[derive(Debug, Clone)]
pub struct ConceptMonitor {
    config: ConceptConfig,
    adwin: Option<(Adwin, Adwin)>,
    page_hinkley: Option<PageHinkley>,
    auc_drop: Option<crate::drift::auc_drop::AucDrop>,
    seen: u64,
    drift_until: u64,
    warning_until: u64,
    /// Highest level raised since the last [`ConceptMonitor::take_level`].
    pending: ConceptLevel,
    last_alarm: Option<ConceptAlarm>,
    alarms: u64,
}

impl ConceptMonitor {
    /// A monitor with fresh detectors.
    pub fn new(config: ConceptConfig) -> Self {
        let adwin = matches!(config.detector, Detector::Adwin | Detector::Both).then(|| {
            let warning = AdwinParams {
                delta: config.adwin_warning_delta,
                ..config.adwin
            };
            (Adwin::new(config.adwin), Adwin::new(warning))
        });
        let page_hinkley = matches!(config.detector, Detector::PageHinkley | Detector::Both)
            .then(|| PageHinkley::new(config.page_hinkley));
        let auc_drop = (config.auc_drop.enabled && config.detector != Detector::None)
            .then(|| crate::drift::auc_drop::AucDrop::new(config.auc_drop));
        Self {
            config,
            adwin,
            page_hinkley,
            auc_drop,
            seen: 0,
            drift_until: 0,
            warning_until: 0,
            pending: ConceptLevel::None,
            last_alarm: None,
            alarms: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ConceptConfig {
        &self.config
    }

    /// Feeds the losses of samples `first_sample ..`.
    pub fn observe(&mut self, first_sample: u64, losses: &[f32]) {
        for (i, &loss) in losses.iter().enumerate() {
            if !loss.is_finite() {
                continue;
            }
            let sample = first_sample + i as u64;
            let loss = f64::from(loss);
            let mut raised = ConceptLevel::None;
            let mut by = "adwin";
            if let Some((drift, warning)) = &mut self.adwin {
                if drift.update(loss) && drift.last_change_increased() {
                    raised = ConceptLevel::Drift;
                }
                if warning.update(loss) && warning.last_change_increased() {
                    raised = raised.max(ConceptLevel::Warning);
                }
            }
            if let Some(ph) = &mut self.page_hinkley {
                let level = if ph.update(loss) {
                    ConceptLevel::Drift
                } else if ph.increase_level() >= self.config.page_hinkley_warning
                    && ph.params().direction != crate::drift::page_hinkley::Direction::Down
                {
                    ConceptLevel::Warning
                } else {
                    ConceptLevel::None
                };
                if level > raised {
                    raised = level;
                    by = "page_hinkley";
                }
            }
            self.seen += 1;
            self.raise(raised, by, sample);
        }
    }

    /// Feeds a binary classifier's (score, label) pairs of samples
    /// `first_sample ..` (after their losses: [`ConceptMonitor::observe`])
    /// to the ranking detector.
    pub fn observe_scored(&mut self, first_sample: u64, scored: &[(f32, f32)]) {
        let Some(detector) = &mut self.auc_drop else {
            return;
        };
        let level = detector.observe(scored);
        let last = first_sample + scored.len().saturating_sub(1) as u64;
        self.raise(level, "auc_drop", last);
    }

    /// Records a level raised at `sample`: it holds for `hold` samples.
    fn raise(&mut self, raised: ConceptLevel, by: &'static str, sample: u64) {
        match raised {
            ConceptLevel::Drift => self.drift_until = self.seen + self.config.hold,
            ConceptLevel::Warning => self.warning_until = self.seen + self.config.hold,
            ConceptLevel::None => return,
        }
        if raised == ConceptLevel::Drift
            || self
                .last_alarm
                .is_none_or(|a| a.sample + self.config.hold < sample)
        {
            self.alarms += u64::from(raised == ConceptLevel::Drift);
            self.last_alarm = Some(ConceptAlarm {
                detector: by,
                level: raised,
                sample,
            });
        }
        self.pending = self.pending.max(raised);
    }

    /// The level now: the highest raised since the last call, or one still
    /// holding. Resets the "since the last call" part.
    pub fn take_level(&mut self) -> ConceptLevel {
        let held = if self.seen < self.drift_until {
            ConceptLevel::Drift
        } else if self.seen < self.warning_until {
            ConceptLevel::Warning
        } else {
            ConceptLevel::None
        };
        std::mem::take(&mut self.pending).max(held)
    }

    /// The latest alarm.
    pub fn last_alarm(&self) -> Option<ConceptAlarm> {
        self.last_alarm
    }

    /// Drift-level alarms so far.
    pub fn alarms(&self) -> u64 {
        self.alarms
    }

    /// Losses seen.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_falling_loss_is_no_alarm() {
        let mut m = ConceptMonitor::new(ConceptConfig {
            detector: Detector::Both,
            ..Default::default()
        });
        let losses: Vec<f32> = (0..5_000)
            .map(|i| if i < 2_500 { 1.0 } else { 0.2 })
            .collect();
        m.observe(0, &losses);
        assert_eq!(m.take_level(), ConceptLevel::None);
        assert_eq!(m.alarms(), 0);
    }

    #[test]
    fn a_level_holds_then_clears() {
        let mut m = ConceptMonitor::new(ConceptConfig {
            hold: 500,
            ..Default::default()
        });
        let mut losses: Vec<f32> = vec![0.2; 2_000];
        losses.extend(vec![1.5; 200]);
        m.observe(0, &losses);
        assert_eq!(m.take_level(), ConceptLevel::Drift);
        m.observe(2_200, &[1.5; 100]);
        assert_eq!(m.take_level(), ConceptLevel::Drift, "still held");
        m.observe(2_300, &[1.5; 600]);
        assert_eq!(m.take_level(), ConceptLevel::None);
    }

    #[test]
    fn log_loss_and_absolute_error() {
        let l = sample_loss(Task::Classification, 0.8, 1.0);
        assert!((l - (-(0.8f32).ln())).abs() < 1e-6);
        assert!(sample_loss(Task::Classification, 0.0, 1.0).is_finite());
        assert_eq!(sample_loss(Task::Regression, 2.0, 3.5), 1.5);
    }
}
