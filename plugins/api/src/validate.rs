//! Input checks shared by every plugin, run before any weight is touched.
//!
//! ```
//! use refit_plugin::{validate, Batch, ModelSpec, PluginError, Task};
//! let spec = ModelSpec::new("logistic", Task::Classification, ["a", "b"]);
//! let x = Batch::new(&[0.5, 1.0], 2).unwrap();
//! assert!(validate::fit_input(&spec, &x, &[1.0], 0.01).is_ok());
//! assert!(matches!(
//!     validate::fit_input(&spec, &x, &[2.0], 0.01),
//!     Err(PluginError::InvalidLabel { row: 0, .. })
//! ));
//! ```

use crate::{Batch, ModelSpec, PluginError, Task};

/// Checks a learning rate: finite and positive.
pub fn learning_rate(lr: f32) -> Result<(), PluginError> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(PluginError::InvalidLearningRate(lr))
    }
}

/// Checks one row: the spec's width, finite values.
pub fn row(spec: &ModelSpec, row: &[f32]) -> Result<(), PluginError> {
    if row.len() != spec.width() {
        return Err(PluginError::WidthMismatch {
            expected: spec.width(),
            got: row.len(),
        });
    }
    finite_row(spec, 0, row)
}

fn finite_row(spec: &ModelSpec, index: usize, row: &[f32]) -> Result<(), PluginError> {
    match row.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(col) => Err(PluginError::NonFiniteFeature {
            row: index,
            feature: spec.features[col].clone(),
            value: row[col],
        }),
    }
}

/// Checks a batch for prediction: non-empty, the spec's width, finite values.
pub fn batch(spec: &ModelSpec, x: &Batch<'_>) -> Result<(), PluginError> {
    if x.is_empty() {
        return Err(PluginError::EmptyBatch);
    }
    if x.width() != spec.width() {
        return Err(PluginError::WidthMismatch {
            expected: spec.width(),
            got: x.width(),
        });
    }
    // Fast path: one pass without branches per value.
    if x.values().iter().all(|v| v.is_finite()) {
        return Ok(());
    }
    x.rows_iter()
        .enumerate()
        .try_for_each(|(i, r)| finite_row(spec, i, r))
}

/// Checks labels for the spec's task: one per row, finite, 0/1 for a
/// binary classifier and a class index `0..classes` for a multiclass one.
pub fn labels(spec: &ModelSpec, rows: usize, y: &[f32]) -> Result<(), PluginError> {
    if y.len() != rows {
        return Err(PluginError::LabelCount {
            rows,
            labels: y.len(),
        });
    }
    for (i, &v) in y.iter().enumerate() {
        if !v.is_finite() {
            return Err(PluginError::NonFiniteLabel { row: i, value: v });
        }
        let classes = if spec.is_multiclass() {
            spec.classes.len()
        } else {
            2
        };
        if spec.task == Task::Classification
            && (v < 0.0 || v.fract() != 0.0 || v as usize >= classes)
        {
            return Err(PluginError::InvalidLabel { row: i, value: v });
        }
    }
    Ok(())
}

/// Everything [`crate::Model::partial_fit`] must check before learning.
pub fn fit_input(spec: &ModelSpec, x: &Batch<'_>, y: &[f32], lr: f32) -> Result<(), PluginError> {
    learning_rate(lr)?;
    batch(spec, x)?;
    labels(spec, x.rows(), y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec::new("t", Task::Classification, ["a", "b"])
    }

    #[test]
    fn names_the_feature_and_row_of_a_nan() {
        let x = Batch::new(&[0.0, 1.0, 2.0, f32::NAN], 2).unwrap();
        let err = batch(&spec(), &x).unwrap_err();
        assert_eq!(
            err.to_string(),
            "non-finite value NaN in row 1, feature `b`"
        );
    }

    #[test]
    fn rejects_each_bad_learning_rate() {
        for lr in [0.0, -0.1, f32::NAN, f32::INFINITY] {
            assert!(matches!(
                learning_rate(lr),
                Err(PluginError::InvalidLearningRate(_))
            ));
        }
        assert!(learning_rate(1e-9).is_ok());
    }

    #[test]
    fn regression_accepts_any_finite_label() {
        let s = ModelSpec::new("t", Task::Regression, ["a"]);
        assert!(labels(&s, 2, &[-3.5, 1e6]).is_ok());
        assert!(matches!(
            labels(&s, 2, &[1.0, f32::NEG_INFINITY]),
            Err(PluginError::NonFiniteLabel { row: 1, .. })
        ));
        assert!(matches!(
            labels(&s, 2, &[1.0]),
            Err(PluginError::LabelCount { rows: 2, labels: 1 })
        ));
    }
}
