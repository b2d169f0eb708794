//! Rows and labels as users hold them: JSON arrays in the model's feature
//! order, or objects keyed by feature name, with numbers, text categories
//! and `null`; labels as numbers or class names. This module turns them
//! into the dense `f32` rows and labels a model takes, by the model's
//! [`ModelSpec`], and fixes a schema from the first named rows when the
//! config lists no features ([`infer`]).
//!
//! - In an object, a missing key is a missing value, as `null` is; both go
//!   through the model's missing-value policy. A key that names no feature
//!   is an error naming it.
//! - A categorical feature takes numbers (level codes) and text (its code
//!   is [`level_code`]); a numeric feature refuses text, naming the
//!   feature.
//! - A label is a number (0/1 for a binary classifier, the value for a
//!   regressor) or, for a model with a class list, a class name (a number
//!   is read as its name: `2` is class `"2"`).
//!
//! ```
//! use refit::plugins::{ModelSpec, Task};
//! use serde_json::json;
//!
//! let spec = ModelSpec::new("logistic", Task::Classification, ["plan", "tenure"])
//!     .with_categorical(["plan"])
//!     .with_classes(["basic", "gold", "none"]);
//! let rows = refit::schema::encode_rows(&spec, &[json!({"tenure": 2, "plan": "gold"}), json!([1, null])]).unwrap();
//! assert_eq!(rows[..2], [refit::plugins::level_code("gold"), 2.0]);
//! assert!(rows[3].is_nan());
//! assert_eq!(refit::schema::encode_labels(&spec, &[json!("none"), json!("basic")]).unwrap(), [2.0, 0.0]);
//!
//! let err = refit::schema::encode_rows(&spec, &[json!({"tenure": "long"})]).unwrap_err();
//! assert!(err.contains("feature `tenure`"), "{err}");
//! ```

use std::collections::{BTreeMap, BTreeSet};

use refit_plugin::{ModelSpec, Task};
use refit_plugin_kit::preprocess::level_code;
use serde_json::Value;

/// `rows` (JSON arrays or objects) as row-major values for a model of
/// `spec`, or an error naming the row, and the feature or key.
pub fn encode_rows(spec: &ModelSpec, rows: &[Value]) -> Result<Vec<f32>, String> {
    let features = &spec.features;
    let width = features.len();
    let categorical: Vec<bool> = (0..width).map(|i| spec.is_categorical(i)).collect();
    let mut out = Vec::with_capacity(rows.len() * width);
    for (i, row) in rows.iter().enumerate() {
        match row {
            Value::Array(values) => {
                if values.len() != width {
                    return Err(format!(
                        "row {i} has {} values; the model has {width} features",
                        values.len()
                    ));
                }
                for (j, v) in values.iter().enumerate() {
                    out.push(
                        value(v, categorical[j])
                            .map_err(|e| format!("row {i}, feature `{}`: {e}", features[j]))?,
                    );
                }
            }
            Value::Object(named) => {
                let unknown: Vec<&str> = named
                    .keys()
                    .filter(|k| !features.iter().any(|f| f == *k))
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    return Err(format!(
                        "row {i}: no feature named {unknown:?} (the model's features: {features:?})"
                    ));
                }
                if named.is_empty() && width > 0 {
                    return Err(format!(
                        "row {i} is an empty object: name at least one of the features {features:?}"
                    ));
                }
                for (j, f) in features.iter().enumerate() {
                    let v = named.get(f).unwrap_or(&Value::Null);
                    out.push(
                        value(v, categorical[j])
                            .map_err(|e| format!("row {i}, feature `{f}`: {e}"))?,
                    );
                }
            }
            other => {
                return Err(format!(
                    "row {i} is {}; a row is an array of values or an object keyed by feature name",
                    kind(other)
                ));
            }
        }
    }
    Ok(out)
}

/// `labels` as the model's labels: numbers as they are, or, for a model
/// with a class list, each class name's index. Errors name the label's
/// position and, for an unknown class, the model's classes.
pub fn encode_labels(spec: &ModelSpec, labels: &[Value]) -> Result<Vec<f32>, String> {
    labels
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if !spec.classes.is_empty() {
                let name = class_name(v).map_err(|e| format!("label {i}: {e}"))?;
                return spec
                    .class_index(&name)
                    .map(|c| c as f32)
                    .ok_or_else(|| {
                        format!(
                            "label {i}: `{name}` is not one of the model's classes {:?}",
                            spec.classes
                        )
                    });
            }
            match v {
                Value::Number(n) => n
                    .as_f64()
                    .map(|x| x as f32)
                    .ok_or_else(|| format!("label {i}: {n} is not a number this model takes")),
                Value::String(s) => s.trim().parse::<f32>().map_err(|_| {
                    format!(
                        "label {i}: `{s}` is text, and the model has no class list (declare [model] classes, or label with numbers)"
                    )
                }),
                other => Err(format!("label {i} is {}; a label is a number or a class name", kind(other))),
            }
        })
        .collect()
}

/// A class name as text: a string as it is, a number as it prints (an
/// integral number without a fraction: `2.0` is `"2"`).
fn class_name(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
            _ => n.to_string(),
        }),
        other => Err(format!("{} where a class name is expected", kind(other))),
    }
}

/// The class list of `names`: sorted as numbers when every name is one,
/// else as text.
///
/// ```
/// let c = refit::schema::sorted_classes(["10", "9", "2"].iter().map(|s| s.to_string()));
/// assert_eq!(c, ["2", "9", "10"]);
/// ```
pub fn sorted_classes(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let set: BTreeSet<String> = names.into_iter().collect();
    let mut classes: Vec<String> = set.into_iter().collect();
    if classes.iter().all(|c| c.parse::<f64>().is_ok()) {
        classes.sort_by(|a, b| {
            let (x, y) = (
                a.parse::<f64>().unwrap_or(0.0),
                b.parse::<f64>().unwrap_or(0.0),
            );
            x.total_cmp(&y)
        });
    }
    classes
}

/// The class list labels call for: `None` when they are numbers that a
/// model of `task` takes as they are (0/1 for a classifier, anything for
/// a regressor), else their sorted distinct names.
pub fn classes_of(task: Task, names: &[String]) -> Option<Vec<String>> {
    let numeric = names.iter().all(|n| n.parse::<f32>().is_ok());
    let binary = names
        .iter()
        .all(|n| matches!(n.parse::<f32>(), Ok(v) if v == 0.0 || v == 1.0));
    match task {
        Task::Regression => None,
        Task::Classification if numeric && binary => None,
        Task::Classification => Some(sorted_classes(names.iter().cloned())),
    }
}

/// A schema fixed from data: feature names in order, which are
/// categorical, and the class names (empty: labels are numbers as they
/// are).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inferred {
    /// Feature names in column order.
    pub features: Vec<String>,
    /// The features whose values are text.
    pub categorical: Vec<String>,
    /// Class names, when the labels call for a class list.
    pub classes: Vec<String>,
}

impl Inferred {
    /// The schema a model's spec holds.
    pub fn of(spec: &ModelSpec) -> Self {
        Self {
            features: spec.features.clone(),
            categorical: spec.categorical.clone(),
            classes: spec.classes.clone(),
        }
    }
}

/// The schema of the first named rows, for a model of `task` that has
/// none yet: the features are every key of every row, in name order; a
/// feature with a text value is categorical; text labels (or, for a
/// classifier, numbers other than 0 and 1) give the class list.
///
/// Every row must be an object (array rows have no names to take), and a
/// class list needs at least two classes: declare the classes in the
/// config (`[model] classes`) when the first rows show fewer.
///
/// ```
/// use refit::plugins::Task;
/// use serde_json::json;
/// let rows = [json!({"tenure": 1.5, "plan": "gold"}), json!({"tenure": 3, "plan": null})];
/// let s = refit::schema::infer(&rows, &[json!("stay"), json!("churn")], Task::Classification).unwrap();
/// assert_eq!(s.features, ["plan", "tenure"]);
/// assert_eq!(s.categorical, ["plan"]);
/// assert_eq!(s.classes, ["churn", "stay"]);
/// ```
pub fn infer(rows: &[Value], labels: &[Value], task: Task) -> Result<Inferred, String> {
    let mut kinds: BTreeMap<String, bool> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let Value::Object(named) = row else {
            return Err(format!(
                "row {i} is {}: the model has no features yet, and the first rows fix them by name, so send them as objects keyed by feature name (or list [model] features)",
                kind(row)
            ));
        };
        for (key, v) in named {
            if key.trim().is_empty() {
                return Err(format!("row {i}: a feature name is empty"));
            }
            let text = match v {
                Value::String(s) => s.trim().parse::<f32>().is_err(),
                Value::Number(_) | Value::Null => false,
                other => {
                    return Err(format!(
                        "row {i}, feature `{key}`: {} where a number or a text category is expected",
                        kind(other)
                    ));
                }
            };
            *kinds.entry(key.clone()).or_default() |= text;
        }
    }
    if kinds.is_empty() {
        return Err("the first rows name no feature".into());
    }
    let names = labels
        .iter()
        .enumerate()
        .map(|(i, v)| class_name(v).map_err(|e| format!("label {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let text_labels = names.iter().any(|n| n.parse::<f32>().is_err());
    if task == Task::Regression && text_labels {
        return Err("text labels for a regression model: labels must be numbers".into());
    }
    let classes = classes_of(task, &names).unwrap_or_default();
    if task == Task::Classification && text_labels && classes.len() < 2 {
        return Err(format!(
            "the first labels show one class ({classes:?}): send rows of at least two classes first, or declare them in [model] classes"
        ));
    }
    Ok(Inferred {
        categorical: kinds
            .iter()
            .filter(|(_, text)| **text)
            .map(|(k, _)| k.clone())
            .collect(),
        features: kinds.into_keys().collect(),
        classes,
    })
}

/// A value as a number (`null`: missing, NaN); text is a level code for a
/// categorical feature and an error for a numeric one.
fn value(v: &Value, categorical: bool) -> Result<f32, String> {
    match v {
        Value::Null => Ok(f32::NAN),
        Value::Number(n) => n
            .as_f64()
            .map(|x| x as f32)
            .ok_or_else(|| format!("{n} is not a number this model takes")),
        Value::String(s) if categorical => Ok(level_code(s)),
        Value::String(s) => Err(format!(
            "text `{s}` for a numeric feature (text is taken by categorical features only)"
        )),
        other => Err(format!(
            "{} where a number{} is expected",
            kind(other),
            if categorical {
                " or a text category"
            } else {
                ""
            }
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> ModelSpec {
        ModelSpec::new("logistic", Task::Classification, ["a", "b"])
    }

    #[test]
    fn arrays_and_objects_give_the_same_rows() {
        let rows = [
            json!([1.0, null]),
            json!({"b": 2.5, "a": 3}),
            json!({"b": 1}),
        ];
        let out = encode_rows(&spec(), &rows).unwrap();
        assert_eq!(out[0], 1.0);
        assert!(out[1].is_nan());
        assert_eq!(&out[2..4], [3.0, 2.5]);
        assert!(out[4].is_nan(), "a missing key is a missing value");
        assert_eq!(out[5], 1.0);
    }

    #[test]
    fn errors_name_the_row_and_the_feature_or_key() {
        let s = spec();
        let err = encode_rows(&s, &[json!({"a": 1, "c": 2})]).unwrap_err();
        assert!(err.contains("row 0: no feature named [\"c\"]"), "{err}");
        let err = encode_rows(&s, &[json!([1]), json!([1, 2])]).unwrap_err();
        assert!(err.contains("row 0 has 1 values"), "{err}");
        let err = encode_rows(&s, &[json!([1, 2]), json!({"a": "gold"})]).unwrap_err();
        assert!(
            err.contains("row 1, feature `a`: text `gold` for a numeric feature"),
            "{err}"
        );
        let err = encode_rows(&s, &[json!(7)]).unwrap_err();
        assert!(err.contains("row 0 is a number"), "{err}");
        let err = encode_rows(&s, &[json!({})]).unwrap_err();
        assert!(err.contains("row 0 is an empty object"), "{err}");
        let err = encode_rows(&s, &[json!([true, 1])]).unwrap_err();
        assert!(err.contains("feature `a`: a boolean"), "{err}");
    }

    #[test]
    fn text_categories_take_their_level_codes_and_numbers_stay_codes() {
        let s = spec().with_categorical(["a"]);
        let out = encode_rows(&s, &[json!({"a": "gold", "b": 1}), json!(["3", 2])]).unwrap();
        assert_eq!(out, [level_code("gold"), 1.0, 3.0, 2.0]);
    }

    #[test]
    fn labels_are_numbers_or_class_names() {
        assert_eq!(
            encode_labels(&spec(), &[json!(1), json!("0")]).unwrap(),
            [1.0, 0.0]
        );
        let err = encode_labels(&spec(), &[json!("yes")]).unwrap_err();
        assert!(err.contains("no class list"), "{err}");
        let s = spec().with_classes(["3", "5", "7"]);
        assert_eq!(
            encode_labels(&s, &[json!(7), json!("3"), json!(5.0)]).unwrap(),
            [2.0, 0.0, 1.0]
        );
        let err = encode_labels(&s, &[json!(4)]).unwrap_err();
        assert!(
            err.contains("`4` is not one of the model's classes"),
            "{err}"
        );
        let err = encode_labels(&s, &[json!(null)]).unwrap_err();
        assert!(err.contains("label 0: null"), "{err}");
    }

    #[test]
    fn the_first_named_rows_fix_the_schema() {
        let rows = [
            json!({"x": 1, "c": "a"}),
            json!({"x": null, "c": 2, "z": "4"}),
        ];
        let s = infer(&rows, &[json!(0), json!(1)], Task::Classification).unwrap();
        assert_eq!(s.features, ["c", "x", "z"]);
        assert_eq!(s.categorical, ["c"], "numbers as text are numbers");
        assert!(s.classes.is_empty(), "0/1 labels need no class list");
        let s = infer(&rows, &[json!(2), json!(10)], Task::Classification).unwrap();
        assert_eq!(s.classes, ["2", "10"]);
        let s = infer(&rows, &[json!(2.5), json!(10)], Task::Regression).unwrap();
        assert!(s.classes.is_empty());
        let err = infer(&[json!([1, 2])], &[json!(1)], Task::Classification).unwrap_err();
        assert!(err.contains("objects keyed by feature name"), "{err}");
        let err = infer(&rows, &[json!("a"), json!("a")], Task::Classification).unwrap_err();
        assert!(err.contains("one class"), "{err}");
        let err = infer(&[json!({"x": [1]})], &[json!(1)], Task::Classification).unwrap_err();
        assert!(err.contains("feature `x`: an array"), "{err}");
    }
}
