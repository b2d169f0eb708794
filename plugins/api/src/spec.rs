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
    /// The features read as categories (level codes or text levels), by
    /// name; the rest are numbers. Stored with the model, so a model
    /// fixed from data keeps its schema across restarts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<String>,
    /// Class names of a classifier, in label order: label `i` is
    /// `classes[i]`. Empty for a binary classifier with labels 0/1 and for
    /// a regressor; more than two make the model multiclass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
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
            categorical: Vec::new(),
            classes: Vec::new(),
        }
    }

    /// The same spec with these features read as categories.
    pub fn with_categorical<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.categorical = names.into_iter().map(Into::into).collect();
        self
    }

    /// The same spec with these class names (label `i` is `classes[i]`).
    ///
    /// ```
    /// use refit_plugin::{ModelSpec, Task};
    /// let spec = ModelSpec::new("logistic", Task::Classification, ["a"])
    ///     .with_classes(["setosa", "versicolor", "virginica"]);
    /// assert_eq!((spec.outputs(), spec.is_multiclass()), (3, true));
    /// assert_eq!(spec.class_index("virginica"), Some(2));
    /// ```
    pub fn with_classes<S: Into<String>>(mut self, classes: impl IntoIterator<Item = S>) -> Self {
        self.classes = classes.into_iter().map(Into::into).collect();
        self
    }

    /// Number of features.
    pub fn width(&self) -> usize {
        self.features.len()
    }

    /// Whether the feature in column `i` is categorical.
    pub fn is_categorical(&self, i: usize) -> bool {
        self.features
            .get(i)
            .is_some_and(|f| self.categorical.contains(f))
    }

    /// A classifier of more than two classes.
    pub fn is_multiclass(&self) -> bool {
        self.task == Task::Classification && self.classes.len() > 2
    }

    /// Values a prediction has per row: the class count of a multiclass
    /// model, else 1 (P(class 1), or the value).
    pub fn outputs(&self) -> usize {
        if self.is_multiclass() {
            self.classes.len()
        } else {
            1
        }
    }

    /// Classes of a classifier (2 for a binary one without names), none
    /// for a regressor.
    pub fn class_count(&self) -> Option<usize> {
        match self.task {
            Task::Regression => None,
            Task::Classification => Some(self.classes.len().max(2)),
        }
    }

    /// The label of class `name`.
    pub fn class_index(&self, name: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == name)
    }
}
