//! Rows as the API takes them: an array of values in the model's feature
//! order, or an object keyed by feature name (`{"tenure": 1.5, "plan":
//! null}`). In both, `null` is a missing value; in an object, so is a
//! missing key. Either goes through the model's missing-value policy. An
//! object key that names no feature is an error naming it.

use serde_json::Value;

/// `rows` (JSON arrays or objects) as row-major values for a model with
/// the features `features`, or an error naming the row, and the feature or
/// key.
pub(crate) fn flatten(rows: &[Value], features: &[String]) -> Result<Vec<f32>, String> {
    let width = features.len();
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
                    out.push(number(v).map_err(|e| format!("row {i}, value {j}: {e}"))?);
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
                for f in features {
                    let v = named.get(f).unwrap_or(&Value::Null);
                    out.push(number(v).map_err(|e| format!("row {i}, feature `{f}`: {e}"))?);
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

/// A value as a number (`null`: missing, NaN).
fn number(v: &Value) -> Result<f32, String> {
    match v {
        Value::Null => Ok(f32::NAN),
        Value::Number(n) => n
            .as_f64()
            .map(|x| x as f32)
            .ok_or_else(|| format!("{n} is not a number this model takes")),
        other => Err(format!(
            "{} where a number is expected (text categories are given as their numeric level codes)",
            kind(other)
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

    fn features() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn arrays_and_objects_give_the_same_rows() {
        let rows = [
            json!([1.0, null]),
            json!({"b": 2.5, "a": 3}),
            json!({"b": 1}),
        ];
        let out = flatten(&rows, &features()).unwrap();
        assert_eq!(out[0], 1.0);
        assert!(out[1].is_nan());
        assert_eq!(&out[2..4], [3.0, 2.5]);
        assert!(out[4].is_nan(), "a missing key is a missing value");
        assert_eq!(out[5], 1.0);
    }

    #[test]
    fn errors_name_the_row_and_the_feature_or_key() {
        let f = features();
        let err = flatten(&[json!({"a": 1, "c": 2})], &f).unwrap_err();
        assert!(err.contains("row 0: no feature named [\"c\"]"), "{err}");
        let err = flatten(&[json!([1]), json!([1, 2])], &f).unwrap_err();
        assert!(err.contains("row 0 has 1 values"), "{err}");
        let err = flatten(&[json!([1, 2]), json!({"a": "gold"})], &f).unwrap_err();
        assert!(
            err.contains("row 1, feature `a`: text where a number"),
            "{err}"
        );
        let err = flatten(&[json!(7)], &f).unwrap_err();
        assert!(err.contains("row 0 is a number"), "{err}");
    }
}
