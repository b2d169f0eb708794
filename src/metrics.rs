//! Progressive-validation metrics: AUC and log loss for binary
//! classifiers; accuracy, macro-F1 and log loss for multiclass ones; MAE
//! and RMSE for regressors.
//!
//! ```
//! use refit::metrics;
//! let scores = [0.1, 0.4, 0.35, 0.8];
//! let labels = [0.0, 0.0, 1.0, 1.0];
//! assert_eq!(metrics::auc(&scores, &labels), Some(0.75));
//! assert!((metrics::mae(&[1.0, 2.0], &[2.0, 4.0]) - 1.5).abs() < 1e-12);
//! ```

use refit_plugin::{ModelSpec, Task};
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

/// Share of rows whose predicted class is the label.
///
/// ```
/// assert_eq!(refit::metrics::accuracy(&[0.0, 2.0, 1.0, 1.0], &[0.0, 1.0, 1.0, 1.0]), 0.75);
/// ```
pub fn accuracy(predicted: &[f32], labels: &[f32]) -> f64 {
    let right = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    right as f64 / predicted.len().max(1) as f64
}

/// Macro-averaged F1 over `classes` classes (labels and predictions are
/// class indices): the mean over classes of `2 tp / (2 tp + fp + fn)`,
/// counting only classes that occur among the labels or the predictions
/// (scikit-learn's `f1_score(average="macro")` over the classes present).
///
/// ```
/// // Class 0: tp 1, fn 1 -> 2/3; class 1: tp 1, fp 1 -> 2/3; class 2: absent.
/// let f1 = refit::metrics::macro_f1(&[0.0, 1.0, 1.0], &[0.0, 0.0, 1.0], 3);
/// assert!((f1 - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn macro_f1(predicted: &[f32], labels: &[f32], classes: usize) -> f64 {
    let (mut tp, mut fp, mut fn_) = (
        vec![0u64; classes],
        vec![0u64; classes],
        vec![0u64; classes],
    );
    for (&p, &y) in predicted.iter().zip(labels) {
        let (p, y) = (p as usize, y as usize);
        if p >= classes || y >= classes {
            continue;
        }
        if p == y {
            tp[y] += 1;
        } else {
            fp[p] += 1;
            fn_[y] += 1;
        }
    }
    let f1: Vec<f64> = (0..classes)
        .filter(|&k| tp[k] + fp[k] + fn_[k] > 0)
        .map(|k| 2.0 * tp[k] as f64 / (2 * tp[k] + fp[k] + fn_[k]) as f64)
        .collect();
    f1.iter().sum::<f64>() / f1.len().max(1) as f64
}

/// The index of the largest value (the first of equals).
pub use refit_plugin_kit::multiclass::argmax;

/// Mean multiclass log loss from the probability each row gave its true
/// class (clipped at [`EPS`]).
pub fn log_loss_of_true(p_true: &[f32]) -> f64 {
    let sum: f64 = p_true
        .iter()
        .map(|&p| -f64::from(p).clamp(EPS, 1.0).ln())
        .sum();
    sum / p_true.len().max(1) as f64
}

/// One progressively scored row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The prediction: P(class 1), the value, or a multiclass model's top
    /// class.
    pub value: f32,
    /// The label (a class index for a multiclass model).
    pub label: f32,
    /// The probability the model gave the true class (classifiers; NaN for
    /// a regressor).
    pub p_true: f32,
}

impl Scored {
    /// A binary classifier's or a regressor's row.
    pub fn of(task: Task, value: f32, label: f32) -> Self {
        let p_true = match task {
            Task::Classification if label > 0.5 => value,
            Task::Classification => 1.0 - value,
            Task::Regression => f32::NAN,
        };
        Self {
            value,
            label,
            p_true,
        }
    }

    /// The row's loss: log loss of the true class for a classifier, the
    /// absolute error for a regressor.
    pub fn loss(&self) -> f32 {
        if self.p_true.is_nan() {
            (self.value - self.label).abs()
        } else {
            -f64::from(self.p_true).clamp(EPS, 1.0).ln() as f32
        }
    }
}

/// Metrics of one window of predictions, by task.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Scores {
    /// Classifier metrics; `auc` is `None` when the window holds one class;
    /// `accuracy` counts P(class 1) >= 0.5 as predicting class 1 (absent in
    /// metrics stored before it existed: 0).
    Classification {
        auc: Option<f64>,
        log_loss: f64,
        #[serde(default)]
        accuracy: f64,
    },
    /// Regressor metrics.
    Regression { mae: f64, rmse: f64 },
    /// Multiclass metrics.
    Multiclass {
        accuracy: f64,
        macro_f1: f64,
        log_loss: f64,
    },
}

impl Scores {
    /// Classifier scores of `p` against `labels`.
    pub fn classification(p: &[f32], labels: &[f32]) -> Self {
        let predicted: Vec<f32> = p.iter().map(|&v| f32::from(u8::from(v >= 0.5))).collect();
        Scores::Classification {
            auc: auc(p, labels),
            log_loss: log_loss(p, labels),
            accuracy: accuracy(&predicted, labels),
        }
    }

    /// Regressor scores of `pred` against `truth`.
    pub fn regression(pred: &[f32], truth: &[f32]) -> Self {
        Scores::Regression {
            mae: mae(pred, truth),
            rmse: rmse(pred, truth),
        }
    }

    /// Multiclass scores of the predicted classes `predicted` against
    /// `labels` (class indices), with `p_true` the probability each row
    /// gave its true class.
    pub fn multiclass(predicted: &[f32], labels: &[f32], p_true: &[f32], classes: usize) -> Self {
        Scores::Multiclass {
            accuracy: accuracy(predicted, labels),
            macro_f1: macro_f1(predicted, labels, classes),
            log_loss: log_loss_of_true(p_true),
        }
    }

    /// The scores of rows scored by a model of `spec`: multiclass ones for
    /// a multiclass model, else those of its task.
    pub fn of_scored(spec: &ModelSpec, scored: &[Scored]) -> Self {
        let value: Vec<f32> = scored.iter().map(|s| s.value).collect();
        let label: Vec<f32> = scored.iter().map(|s| s.label).collect();
        if spec.is_multiclass() {
            let p_true: Vec<f32> = scored.iter().map(|s| s.p_true).collect();
            Self::multiclass(&value, &label, &p_true, spec.classes.len())
        } else {
            Self::for_task(spec.task, &value, &label)
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
            Scores::Classification {
                auc,
                log_loss,
                accuracy,
            } => match auc {
                Some(a) => write!(
                    f,
                    "AUC {a:.4}  log loss {log_loss:.4}  accuracy {accuracy:.4}"
                ),
                None => write!(
                    f,
                    "AUC  n/a    log loss {log_loss:.4}  accuracy {accuracy:.4}"
                ),
            },
            Scores::Regression { mae, rmse } => write!(f, "MAE {mae:.4}  RMSE {rmse:.4}"),
            Scores::Multiclass {
                accuracy,
                macro_f1,
                log_loss,
            } => write!(
                f,
                "accuracy {accuracy:.4}  macro-F1 {macro_f1:.4}  log loss {log_loss:.4}"
            ),
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

    #[test]
    fn multiclass_metrics_match_scikit_learn() {
        // sklearn.metrics on y_true = [0, 1, 2, 2, 1], y_pred = [0, 2, 2, 2, 1]:
        // accuracy_score 0.8, f1_score(average="macro") 0.8222222222222223
        // (class 0: 1, class 1: 2/3, class 2: 0.8).
        let (y, p) = ([0.0, 1.0, 2.0, 2.0, 1.0], [0.0, 2.0, 2.0, 2.0, 1.0]);
        assert!((accuracy(&p, &y) - 0.8).abs() < 1e-12);
        assert!((macro_f1(&p, &y, 3) - 0.822_222_222_222_222_3).abs() < 1e-12);
        // log_loss with the true classes' probabilities 0.5 and 0.25.
        let l = log_loss_of_true(&[0.5, 0.25]);
        assert!((l - (2f64.ln() + 4f64.ln()) / 2.0).abs() < 1e-12);
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
