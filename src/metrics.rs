//! Progressive-validation metrics: AUC and log loss for classifiers, MAE and
//! RMSE for regressors.
//!
//! ```
//! use refit::metrics;
//! let scores = [0.1, 0.4, 0.35, 0.8];
//! let labels = [0.0, 0.0, 1.0, 1.0];
//! assert_eq!(metrics::auc(&scores, &labels), Some(0.75));
//! assert!((metrics::mae(&[1.0, 2.0], &[2.0, 4.0]) - 1.5).abs() < 1e-12);
//! ```

use refit_plugin::Task;
use serde::Serialize;

/// Probabilities are clipped to `[EPS, 1 - EPS]` in [`log_loss`] (the same
/// clip scikit-learn applies for float32 input).
pub const EPS: f64 = 1e-7;

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, ties counting one half (Mann-Whitney U with
/// average ranks). `None` when the labels hold only one class.
pub fn auc(scores: &[f32], labels: &[f32]) -> Option<f64> {
    debug_assert_eq!(scores.len(), labels.len());
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&y| y > 0.5).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        let pos_in_tie = order[i..=j].iter().filter(|&&k| labels[k] > 0.5).count();
        rank_sum += avg_rank * pos_in_tie as f64;
        i = j + 1;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Mean log loss of probabilities `p` against 0/1 labels.
pub fn log_loss(p: &[f32], labels: &[f32]) -> f64 {
    let sum: f64 = p
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = f64::from(p).clamp(EPS, 1.0 - EPS);
            if y > 0.5 { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    sum / p.len().max(1) as f64
}

/// Mean absolute error.
pub fn mae(pred: &[f32], truth: &[f32]) -> f64 {
    let sum: f64 = pred
        .iter()
        .zip(truth)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
        .sum();
    sum / pred.len().max(1) as f64
}

/// Root mean squared error.
pub fn rmse(pred: &[f32], truth: &[f32]) -> f64 {
    let sum: f64 = pred
        .iter()
        .zip(truth)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    (sum / pred.len().max(1) as f64).sqrt()
}

/// Metrics of one window of predictions, by task.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Scores {
    /// Classifier metrics; `auc` is `None` when the window holds one class.
    Classification { auc: Option<f64>, log_loss: f64 },
    /// Regressor metrics.
    Regression { mae: f64, rmse: f64 },
}

impl Scores {
    /// Classifier scores of `p` against `labels`.
    pub fn classification(p: &[f32], labels: &[f32]) -> Self {
        Scores::Classification {
            auc: auc(p, labels),
            log_loss: log_loss(p, labels),
        }
    }

    /// Regressor scores of `pred` against `truth`.
    pub fn regression(pred: &[f32], truth: &[f32]) -> Self {
        Scores::Regression {
            mae: mae(pred, truth),
            rmse: rmse(pred, truth),
        }
    }

    /// The scores of `task`.
    pub fn for_task(task: Task, pred: &[f32], truth: &[f32]) -> Self {
        match task {
            Task::Classification => Self::classification(pred, truth),
            Task::Regression => Self::regression(pred, truth),
        }
    }
}

impl std::fmt::Display for Scores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scores::Classification { auc, log_loss } => match auc {
                Some(a) => write!(f, "AUC {a:.4}  log loss {log_loss:.4}"),
                None => write!(f, "AUC  n/a    log loss {log_loss:.4}"),
            },
            Scores::Regression { mae, rmse } => write!(f, "MAE {mae:.4}  RMSE {rmse:.4}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The O(n^2) definition: pairs where the positive scores higher, ties half.
    fn auc_pairs(s: &[f32], y: &[f32]) -> Option<f64> {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..s.len() {
            for j in 0..s.len() {
                if y[i] > 0.5 && y[j] < 0.5 {
                    den += 1.0;
                    num += if s[i] > s[j] {
                        1.0
                    } else if s[i] == s[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        (den > 0.0).then(|| num / den)
    }

    #[test]
    fn auc_hand_computed_with_ties() {
        // Positives 0.5, 0.9; negatives 0.5, 0.1, 0.3: pairs won 2+3 with one
        // tie: (1 tie/2 + 2 + 3) / 6.
        let s = [0.5, 0.9, 0.5, 0.1, 0.3];
        let y = [1.0, 1.0, 0.0, 0.0, 0.0];
        assert!((auc(&s, &y).unwrap() - 5.5 / 6.0).abs() < 1e-12);
        assert_eq!(auc(&s, &[1.0; 5]), None);
    }

    #[test]
    fn log_loss_matches_formula() {
        let l = log_loss(&[0.8, 0.3], &[1.0, 0.0]);
        let want = -(0.8f64.ln() + 0.7f64.ln()) / 2.0;
        assert!((l - want).abs() < 1e-7);
        // Clipped, never infinite.
        assert!(log_loss(&[0.0], &[1.0]).is_finite());
    }

    #[test]
    fn rmse_hand_computed() {
        assert!((rmse(&[1.0, 3.0], &[2.0, 1.0]) - (2.5f64).sqrt()).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn auc_equals_pairwise_definition(
            rows in proptest::collection::vec((0u8..6, any::<bool>()), 2..60)
        ) {
            let s: Vec<f32> = rows.iter().map(|r| f32::from(r.0) / 5.0).collect();
            let y: Vec<f32> = rows.iter().map(|r| if r.1 { 1.0 } else { 0.0 }).collect();
            match (auc(&s, &y), auc_pairs(&s, &y)) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-9),
                (a, b) => prop_assert_eq!(a, b),
            }
        }

        #[test]
        fn metrics_are_non_negative_and_finite(
            pairs in proptest::collection::vec((0f32..1.0, any::<bool>()), 1..50)
        ) {
            let p: Vec<f32> = pairs.iter().map(|r| r.0).collect();
            let y: Vec<f32> = pairs.iter().map(|r| if r.1 { 1.0 } else { 0.0 }).collect();
            let l = log_loss(&p, &y);
            prop_assert!(l.is_finite() && l >= 0.0);
            prop_assert!(rmse(&p, &y) + 1e-12 >= mae(&p, &y));
        }
    }
}
