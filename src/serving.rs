//! What predictions are answered from, and how A/B traffic is split and
//! judged.
//!
//! The serving set (champion, optional challenger with a traffic share,
//! optional shadow, optional offline member of an offline + online
//! ensemble) is one immutable value behind one atomic pointer: a reader
//! never blocks and never sees half of a change.
//!
//! A/B assignment is sticky: a caller-given key (user or query id) is hashed
//! (CRC-32, stable across runs and builds) into [0, 1); keys below the
//! challenger's share go to the challenger.
//!
//! ```
//! use refit::serving::{Variant, assign};
//! assert_eq!(assign("user-42", 0.0), Variant::Champion);
//! assert_eq!(assign("user-42", 1.0), Variant::Challenger);
//! assert_eq!(assign("user-42", 0.1), assign("user-42", 0.1)); // sticky
//! let share = (0..10_000).filter(|i| assign(&format!("k{i}"), 0.1) == Variant::Challenger).count();
//! assert!((900..1_100).contains(&share));
//! ```

use std::sync::Arc;

use refit_plugin::{Batch, PluginError, Predictor};
use serde::Serialize;

use crate::metrics::{auc, log_loss, mae};
use crate::store::VersionId;

/// A model being served.
#[derive(Clone)]
pub struct Served {
    /// Its serving snapshot.
    pub snapshot: Arc<dyn Predictor>,
    /// Its version.
    pub version: VersionId,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Served({})", self.version)
    }
}

/// Which model answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The champion (or the ensemble built on it).
    Champion,
    /// The challenger of an A/B test.
    Challenger,
    /// The shadow: scored, never returned.
    Shadow,
}

/// The whole serving set: one value, swapped atomically.
#[derive(Debug, Clone)]
pub struct ServingSet {
    /// The model that answers by default.
    pub champion: Served,
    /// A/B challenger and its traffic share in [0, 1].
    pub challenger: Option<(Served, f64)>,
    /// Scored on keyed requests and tracked, never returned.
    pub shadow: Option<Served>,
    /// Offline member of the ensemble and its weight in (0, 1]: champion
    /// answers are `w * offline + (1 - w) * champion`.
    pub ensemble: Option<(Served, f64)>,
}

impl ServingSet {
    /// A set serving `champion` alone.
    pub fn of(champion: Served) -> Self {
        Self {
            champion,
            challenger: None,
            shadow: None,
            ensemble: None,
        }
    }

    /// The champion's answer (blended with the ensemble's offline member
    /// when there is one).
    ///
    /// A multiclass model answers the index of its likeliest class; with
    /// an ensemble, of the likeliest class of the blended probabilities
    /// ([`ServingSet::champion_proba`]).
    pub fn champion_predict(&self, x: &Batch<'_>) -> Result<Vec<f32>, PluginError> {
        if self.blends_classes() {
            let classes = self.champion.snapshot.spec().classes.len();
            return Ok(self
                .champion_proba(x)?
                .chunks_exact(classes)
                .map(|p| crate::metrics::argmax(p) as f32)
                .collect());
        }
        self.champion_with(|p| p.predict((*x).into()))
    }

    /// The champion's class probabilities (row-major, one per class),
    /// blended with the ensemble's offline member as values are.
    pub fn champion_proba(&self, x: &Batch<'_>) -> Result<Vec<f32>, PluginError> {
        self.champion_with(|p| p.predict_proba((*x).into()))
    }

    /// Whether answers must be blended as class probabilities: a
    /// multiclass model with an ensemble.
    fn blends_classes(&self) -> bool {
        self.blending().is_some() && self.champion.snapshot.spec().is_multiclass()
    }

    /// The ensemble's offline member and weight, when it blends in.
    fn blending(&self) -> Option<(&Served, f32)> {
        match &self.ensemble {
            Some((offline, w)) if *w > 0.0 && offline.version != self.champion.version => {
                Some((offline, *w as f32))
            }
            _ => None,
        }
    }

    /// The champion's answer for one row, blended as
    /// [`ServingSet::champion_predict`] blends; allocates nothing (but for
    /// a multiclass ensemble).
    #[inline]
    pub fn champion_row(&self, row: refit_plugin::Row<'_>) -> Result<f32, PluginError> {
        if self.blends_classes() {
            let classes = self.champion.snapshot.spec().classes.len();
            let (mut p, mut q) = (vec![0.0; classes], vec![0.0; classes]);
            self.champion.snapshot.predict_proba_row(row, &mut p)?;
            if let Some((offline, w)) = self.blending() {
                offline.snapshot.predict_proba_row(row, &mut q)?;
                p.iter_mut()
                    .zip(&q)
                    .for_each(|(a, b)| *a = w * b + (1.0 - w) * *a);
            }
            return Ok(crate::metrics::argmax(&p) as f32);
        }
        let p = self.champion.snapshot.predict_row(row)?;
        match &self.ensemble {
            Some((offline, w)) if *w > 0.0 && offline.version != self.champion.version => {
                let q = offline.snapshot.predict_row(row)?;
                let w = *w as f32;
                Ok(w * q + (1.0 - w) * p)
            }
            _ => Ok(p),
        }
    }

    /// The champion's answer through `predict` (e.g. a sparse batch's),
    /// blended as [`ServingSet::champion_predict`] blends.
    pub fn champion_with(
        &self,
        predict: impl Fn(&dyn Predictor) -> Result<Vec<f32>, PluginError>,
    ) -> Result<Vec<f32>, PluginError> {
        let p = predict(self.champion.snapshot.as_ref())?;
        match &self.ensemble {
            Some((offline, w)) if *w > 0.0 && offline.version != self.champion.version => {
                let q = predict(offline.snapshot.as_ref())?;
                let w = *w as f32;
                Ok(p.iter()
                    .zip(q)
                    .map(|(a, b)| w * b + (1.0 - w) * a)
                    .collect())
            }
            _ => Ok(p),
        }
    }
}

/// The key's position in [0, 1): CRC-32 of its bytes over 2^32.
pub fn bucket(key: &str) -> f64 {
    f64::from(crc32fast::hash(key.as_bytes())) / 4_294_967_296.0
}

/// The variant `key` is assigned to with a challenger `share`.
pub fn assign(key: &str, share: f64) -> Variant {
    if bucket(key) < share {
        Variant::Challenger
    } else {
        Variant::Champion
    }
}

/// A metric with a 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Estimate {
    /// The value.
    pub value: f64,
    /// Lower end of the 95% interval.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// Outcome metrics of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct VariantStats {
    /// The variant.
    pub variant: Variant,
    /// Its version.
    pub version: Option<VersionId>,
    /// Outcomes reported.
    pub samples: usize,
    /// AUC (Hanley-McNeil interval); classifiers, both classes seen.
    pub auc: Option<Estimate>,
    /// Mean log loss (normal interval); classifiers.
    pub log_loss: Option<Estimate>,
    /// Share of positive outcomes (Wilson interval); classifiers.
    pub ctr: Option<Estimate>,
    /// Mean absolute error (normal interval); regressors.
    pub mae: Option<Estimate>,
    /// Share of rows whose predicted class was the outcome (Wilson
    /// interval); multiclass classifiers.
    pub accuracy: Option<Estimate>,
}

/// The Hanley-McNeil (1982) standard error of an AUC `a` from `n1`
/// positives and `n0` negatives.
fn hanley_mcneil_se(a: f64, n1: f64, n0: f64) -> f64 {
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    let var = (a * (1.0 - a) + (n1 - 1.0) * (q1 - a * a) + (n0 - 1.0) * (q2 - a * a)) / (n1 * n0);
    var.max(0.0).sqrt()
}

/// AUC with the Hanley-McNeil interval.
fn auc_estimate(p: &[f32], y: &[f32]) -> Option<Estimate> {
    let a = auc(p, y)?;
    let n1 = y.iter().filter(|&&v| v > 0.5).count() as f64;
    let n0 = y.len() as f64 - n1;
    let half = 1.96 * hanley_mcneil_se(a, n1, n0);
    Some(Estimate {
        value: a,
        low: (a - half).max(0.0),
        high: (a + half).min(1.0),
    })
}

/// Mean of `values` with a normal 95% interval.
fn mean_estimate(values: impl Iterator<Item = f64>) -> Option<Estimate> {
    let v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let half = 1.96 * (var / n).sqrt();
    Some(Estimate {
        value: mean,
        low: mean - half,
        high: mean + half,
    })
}

/// A share with the Wilson 95% interval.
fn wilson(positives: f64, n: f64) -> Estimate {
    let z: f64 = 1.96;
    let p = positives / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    Estimate {
        value: p,
        low: centre - half,
        high: centre + half,
    }
}

/// How a model's outcomes are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcomes {
    /// A binary classifier: AUC, log loss, share of positives.
    Binary,
    /// A multiclass classifier (predictions are class indices): accuracy.
    Multiclass,
    /// A regressor: MAE.
    Regression,
}

impl Outcomes {
    /// The outcomes of a model of `spec`.
    pub fn of(spec: &refit_plugin::ModelSpec) -> Self {
        match spec.task {
            _ if spec.is_multiclass() => Outcomes::Multiclass,
            refit_plugin::Task::Classification => Outcomes::Binary,
            refit_plugin::Task::Regression => Outcomes::Regression,
        }
    }
}

/// Outcome metrics of predictions `p` against outcomes `y`.
pub fn variant_stats(
    variant: Variant,
    version: Option<VersionId>,
    outcomes: Outcomes,
    p: &[f32],
    y: &[f32],
) -> VariantStats {
    let n = y.len();
    let mut s = VariantStats {
        variant,
        version,
        samples: n,
        auc: None,
        log_loss: None,
        ctr: None,
        mae: None,
        accuracy: None,
    };
    if n == 0 {
        return s;
    }
    match outcomes {
        Outcomes::Binary => {
            s.auc = auc_estimate(p, y);
            s.log_loss = mean_estimate(p.iter().zip(y).map(|(&p, &y)| log_loss(&[p], &[y])));
            let positives = y.iter().filter(|&&v| v > 0.5).count() as f64;
            s.ctr = Some(wilson(positives, n as f64));
        }
        Outcomes::Multiclass => {
            let right = p.iter().zip(y).filter(|(p, y)| p == y).count() as f64;
            s.accuracy = Some(wilson(right, n as f64));
        }
        Outcomes::Regression => {
            s.mae = mean_estimate(p.iter().zip(y).map(|(&p, &y)| mae(&[p], &[y])));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_published_value() {
        // 81 successes in 263 trials: Wilson 95% interval 0.2553-0.3662
        // (Newcombe 1998, method 3).
        let e = wilson(81.0, 263.0);
        assert!((e.low - 0.2553).abs() < 5e-4, "{e:?}");
        assert!((e.high - 0.3662).abs() < 5e-4, "{e:?}");
    }

    #[test]
    fn hanley_mcneil_standard_error() {
        // Hanley & McNeil (1982), Table 3: AUC 0.8 with 50 + 50 cases has a
        // standard error of 0.0445.
        let se = hanley_mcneil_se(0.8, 50.0, 50.0);
        assert!((se - 0.0445).abs() < 1e-4, "{se}");
    }
}
