//! Warm start: coefficients of a batch-trained linear model in a small JSON
//! format, so online learning can start where a batch model left off
//! (scikit-learn's `coef_` and `intercept_`, exported by
//! `tools/export_sklearn.py`).
//!
//! ```json
//! {
//!   "format": "refit-coefficients",
//!   "version": 1,
//!   "kind": "logistic",
//!   "features": ["tenure", "charges"],
//!   "coefficients": [-0.8, 0.35],
//!   "intercept": -1.2,
//!   "source": "sklearn.linear_model.SGDClassifier"
//! }
//! ```
//!
//! `kind` is `"logistic"` (coefficients of the log-odds) or `"linear"`;
//! `source` is free text and optional. `tools/export_sklearn.py` writes this
//! file from a fitted scikit-learn `SGDClassifier`, `LogisticRegression` or
//! `SGDRegressor`.
//!
//! ```
//! use refit_linear::{Coefficients, LinearModel, LinearParams};
//! use refit_plugin::Model;
//! let json = r#"{"format":"refit-coefficients","version":1,"kind":"linear",
//!   "features":["x"],"coefficients":[2.0],"intercept":1.0}"#;
//! let c = Coefficients::from_json(json).unwrap();
//! c.check_features(&["x".to_string()]).unwrap();
//! let m = LinearModel::from_coefficients(&c, LinearParams::default()).unwrap();
//! assert_eq!(m.snapshot().predict_row((&[3.0]).into()).unwrap(), 7.0);
//! ```

use refit_plugin::PluginError;
use serde::{Deserialize, Serialize};

/// The `format` tag of a coefficient file.
pub const COEFFICIENTS_FORMAT: &str = "refit-coefficients";
/// The coefficient file version this build reads and writes.
pub const COEFFICIENTS_VERSION: u32 = 1;

/// Coefficients, intercept and feature names of a linear model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coefficients {
    /// Always [`COEFFICIENTS_FORMAT`].
    pub format: String,
    /// Always [`COEFFICIENTS_VERSION`] for files this build writes.
    pub version: u32,
    /// `"logistic"` or `"linear"`.
    pub kind: String,
    /// Feature names in column order.
    pub features: Vec<String>,
    /// One coefficient per feature.
    pub coefficients: Vec<f32>,
    /// The intercept.
    pub intercept: f32,
    /// Where the coefficients came from (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Coefficients {
    /// Coefficients of a model of `kind`.
    pub fn new(kind: &str, features: Vec<String>, coefficients: Vec<f32>, intercept: f32) -> Self {
        Self {
            format: COEFFICIENTS_FORMAT.into(),
            version: COEFFICIENTS_VERSION,
            kind: kind.into(),
            features,
            coefficients,
            intercept,
            source: None,
        }
    }

    /// Parses and checks a coefficient file.
    pub fn from_json(text: &str) -> Result<Self, PluginError> {
        let c: Self = serde_json::from_str(text)
            .map_err(|e| PluginError::InvalidParams(format!("coefficient file: {e}")))?;
        c.check()?;
        Ok(c)
    }

    /// The file's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks the file's own consistency: format tag, version, one finite
    /// coefficient per distinct feature name, a finite intercept.
    pub fn check(&self) -> Result<(), PluginError> {
        let bad = |m: String| Err(PluginError::InvalidParams(format!("coefficient file: {m}")));
        if self.format != COEFFICIENTS_FORMAT {
            return bad(format!(
                "format is `{}`, expected `{COEFFICIENTS_FORMAT}`",
                self.format
            ));
        }
        if self.version == 0 || self.version > COEFFICIENTS_VERSION {
            return bad(format!(
                "version {} is not supported (this build reads 1..={COEFFICIENTS_VERSION})",
                self.version
            ));
        }
        if self.features.is_empty() {
            return bad("no features".into());
        }
        if self.coefficients.len() != self.features.len() {
            return bad(format!(
                "{} coefficients for {} features",
                self.coefficients.len(),
                self.features.len()
            ));
        }
        if let Some(i) = self.coefficients.iter().position(|v| !v.is_finite()) {
            return bad(format!(
                "coefficient of `{}` is {}",
                self.features[i], self.coefficients[i]
            ));
        }
        if !self.intercept.is_finite() {
            return bad(format!("intercept is {}", self.intercept));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.features.iter().find(|f| !seen.insert(f.as_str())) {
            return bad(format!("feature `{dup}` appears twice"));
        }
        Ok(())
    }

    /// Checks that the file's features are exactly `expected`, in order,
    /// naming the first difference.
    pub fn check_features(&self, expected: &[String]) -> Result<(), PluginError> {
        if self.features == expected {
            return Ok(());
        }
        let detail = match self.features.iter().zip(expected).position(|(a, b)| a != b) {
            Some(i) => format!(
                "column {i} is `{}` in the file but `{}` in the config",
                self.features[i], expected[i]
            ),
            None => format!(
                "the file has {} features, the config {}",
                self.features.len(),
                expected.len()
            ),
        };
        Err(PluginError::InvalidParams(format!(
            "coefficient file does not match the configured features: {detail}"
        )))
    }
}
