use serde::{Deserialize, Serialize};

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Binary classification: labels 0/1, predictions are P(class 1).
    Classification,
    /// Regression: real-valued labels and predictions.
    Regression,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        })
    }
}

/// Kind, task and feature names of a model.
///
/// ```
/// use refit_plugin::{ModelSpec, Task};
/// let spec = ModelSpec::new("logistic", Task::Classification, ["tenure", "charges"]);
/// assert_eq!(spec.width(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The plugin kind, e.g. `"logistic"`.
    pub kind: String,
    /// Classification or regression.
    pub task: Task,
    /// Feature names, in column order.
    pub features: Vec<String>,
}

impl ModelSpec {
    /// Builds a spec.
    pub fn new<S: Into<String>>(
        kind: impl Into<String>,
        task: Task,
        features: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            kind: kind.into(),
            task,
            features: features.into_iter().map(Into::into).collect(),
        }
    }

    /// Number of features.
    pub fn width(&self) -> usize {
        self.features.len()
    }
}
