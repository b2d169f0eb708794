//! Offline drift: compare a reference data set with a current one, feature
//! by feature, with the same PSI (and optional KS) the Drift actor computes
//! online. `refit drift --reference A.csv --current B.csv` prints it.
//!
//! ```
//! use refit::config::DriftConfig;
//! use refit::drift::compare::{Table, compare};
//! let names = vec!["x".to_string()];
//! let reference: Vec<f32> = (0..1000).map(|i| (i % 100) as f32).collect();
//! let current: Vec<f32> = (0..1000).map(|i| (i % 100) as f32 + 50.0).collect();
//! let config = DriftConfig { ks: true, ..DriftConfig::default() };
//! let table: Table = compare(
//!     (&names, &reference),
//!     (&names, &current),
//!     &config,
//!     &[],
//! )
//! .unwrap();
//! assert!(table.max_psi > config.psi_severe);
//! assert_eq!(table.features[0].severity, refit::Severity::Severe);
//! assert!(table.features[0].ks.unwrap().p_value < 1e-6);
//! ```

use serde::Serialize;

use crate::config::DriftConfig;
use crate::drift::Severity;
use crate::drift::ks::{Ks, ks_2samp};
use crate::drift::psi::{BinEdges, psi};

/// Why two data sets cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompareError {
    /// The column lists differ.
    #[error("the current data's columns differ from the reference's: {0}")]
    Columns(String),
    /// A side has no rows.
    #[error("the {0} data has no rows")]
    Empty(&'static str),
    /// A categorical feature that is not a column.
    #[error("categorical feature `{0}` is not a column")]
    UnknownFeature(String),
}

/// One feature's drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    /// Feature name.
    pub feature: String,
    /// Compared by levels rather than quantile bins.
    pub categorical: bool,
    /// Bins used, the missing bin included.
    pub bins: usize,
    /// PSI of current against reference.
    pub psi: f64,
    /// Severity of that PSI under the config's thresholds.
    pub severity: Severity,
    /// KS test (numeric features, when `ks` is on).
    pub ks: Option<Ks>,
}

/// The comparison of two data sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Rows of the reference.
    pub reference_rows: usize,
    /// Rows of the current data.
    pub current_rows: usize,
    /// Per feature, in column order.
    pub features: Vec<FeatureDrift>,
    /// The largest PSI.
    pub max_psi: f64,
    /// The severity of the largest PSI.
    pub severity: Severity,
}

fn column(rows: &[f32], width: usize, j: usize) -> Vec<f32> {
    rows.iter().skip(j).step_by(width).copied().collect()
}

/// Compares `current` (names, row-major values) with `reference`; features
/// named in `categorical` use level bins.
pub fn compare(
    reference: (&[String], &[f32]),
    current: (&[String], &[f32]),
    config: &DriftConfig,
    categorical: &[String],
) -> Result<Table, CompareError> {
    let (names, width) = (reference.0, reference.0.len());
    if current.0 != names {
        let first = names
            .iter()
            .zip(current.0)
            .position(|(a, b)| a != b)
            .map_or_else(
                || format!("{} columns vs {}", width, current.0.len()),
                |i| format!("column {} is `{}` vs `{}`", i + 1, names[i], current.0[i]),
            );
        return Err(CompareError::Columns(first));
    }
    if let Some(unknown) = categorical.iter().find(|c| !names.contains(c)) {
        return Err(CompareError::UnknownFeature(unknown.clone()));
    }
    if width == 0 || reference.1.is_empty() {
        return Err(CompareError::Empty("reference"));
    }
    if current.1.is_empty() {
        return Err(CompareError::Empty("current"));
    }
    let features: Vec<FeatureDrift> = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let (r, c) = (column(reference.1, width, j), column(current.1, width, j));
            let is_categorical = categorical.contains(name);
            let edges = if is_categorical {
                BinEdges::from_levels(&r)
            } else {
                BinEdges::from_reference(&r, config.bins)
            };
            let value = psi(&edges.counts(&r), &edges.counts(&c), config.empty_bin_floor);
            FeatureDrift {
                feature: name.clone(),
                categorical: is_categorical,
                bins: edges.bins(),
                psi: value,
                severity: config.psi_severity(value),
                ks: (config.ks && !is_categorical).then(|| ks_2samp(&r, &c)),
            }
        })
        .collect();
    let max_psi = features.iter().map(|f| f.psi).fold(0.0, f64::max);
    Ok(Table {
        reference_rows: reference.1.len() / width,
        current_rows: current.1.len() / width,
        features,
        max_psi,
        severity: config.psi_severity(max_psi),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatched_columns_are_named() {
        let a = vec!["x".to_string(), "y".to_string()];
        let b = vec!["x".to_string(), "z".to_string()];
        let err = compare(
            (&a, &[1.0, 2.0]),
            (&b, &[1.0, 2.0]),
            &DriftConfig::default(),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the current data's columns differ from the reference's: column 2 is `y` vs `z`"
        );
        let err = compare((&a, &[1.0, 2.0]), (&a, &[]), &DriftConfig::default(), &[]).unwrap_err();
        assert_eq!(err, CompareError::Empty("current"));
    }
}
