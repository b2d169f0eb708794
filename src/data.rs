//! Reading labelled samples from CSV files.
//!
//! A header row names the columns; one column is the label, every other
//! column is a feature. A column whose values are not all numbers is
//! categorical: its text cells become level codes
//! ([`refit_plugin_kit::preprocess::level_code`]; numeric cells stay
//! numbers, which is their code too). A label column with text holds class
//! names: the labels become indices into the sorted class list. An empty
//! cell is a missing value (NaN; the model's preprocessing decides whether
//! it is allowed). Errors name the file, the line and the column.
//!
//! ```
//! let text = "tenure,charges,churned\n1.5,0.7,1\n3,,0\n";
//! let data = refit::data::read_csv(text.as_bytes(), "inline.csv", "churned").unwrap();
//! assert_eq!(data.features, ["tenure", "charges"]);
//! assert_eq!(data.labels, [1.0, 0.0]);
//! assert!(data.rows[3].is_nan());
//!
//!
//! let text = "plan,tenure,y\ngold,1,stay\nbasic,2,churn\n";
//! let data = refit::data::read_csv(text.as_bytes(), "plans.csv", "y").unwrap();
//! assert_eq!(data.categorical, ["plan"]);
//! assert_eq!(data.rows[0], refit::plugins::level_code("gold"));
//! assert_eq!((data.classes.clone(), data.labels.clone()), (vec!["churn".to_string(), "stay".into()], vec![1.0, 0.0]));
//! ```

use std::path::Path;

/// A labelled data set, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Feature names in column order.
    pub features: Vec<String>,
    /// Row-major features.
    pub rows: Vec<f32>,
    /// One label per row: the number, or the index of its class in
    /// `classes`.
    pub labels: Vec<f32>,
    /// The feature columns holding text, in column order.
    pub categorical: Vec<String>,
    /// Where each column of `categorical` first holds text: (line, cell).
    pub first_text: Vec<(u64, String)>,
    /// The class names, sorted, when the label column holds text (empty
    /// when every label is a number).
    pub classes: Vec<String>,
}

impl Dataset {
    /// The columns named `features`, in that order (a file's columns are
    /// matched by header name, not position). A named feature the file
    /// lacks, or a file column no feature names, is an error naming it.
    ///
    /// ```
    /// let csv = "b,y,a\n2,1,1\n4,0,3\n";
    /// let data = refit::data::read_csv(csv.as_bytes(), "t.csv", "y").unwrap();
    /// let picked = data.select(&["a".to_string(), "b".to_string()]).unwrap();
    /// assert_eq!(picked.rows, [1.0, 2.0, 3.0, 4.0]);
    /// let err = data.select(&["a".to_string(), "c".to_string()]).unwrap_err();
    /// assert!(err.contains("no column `c`"), "{err}");
    /// let err = data.select(&["a".to_string()]).unwrap_err();
    /// assert!(err.contains(r#"columns ["b"] name no feature"#), "{err}");
    /// ```
    pub fn select(&self, features: &[String]) -> Result<Dataset, String> {
        if self.features == features {
            return Ok(self.clone());
        }
        let missing: Vec<&String> = features
            .iter()
            .filter(|f| !self.features.contains(f))
            .collect();
        if let Some(f) = missing.first() {
            return Err(format!(
                "no column `{f}` for that feature (the file's columns: {:?})",
                self.features
            ));
        }
        let extra: Vec<&String> = self
            .features
            .iter()
            .filter(|c| !features.contains(c))
            .collect();
        if !extra.is_empty() {
            return Err(format!(
                "columns {extra:?} name no feature of the model (its features: {features:?})"
            ));
        }
        let width = self.features.len();
        let index: Vec<usize> = features
            .iter()
            .filter_map(|f| self.features.iter().position(|c| c == f))
            .collect();
        let rows = self
            .rows
            .chunks(width.max(1))
            .flat_map(|row| index.iter().map(move |&i| row[i]))
            .collect();
        Ok(Dataset {
            features: features.to_vec(),
            rows,
            labels: self.labels.clone(),
            categorical: self.categorical.clone(),
            first_text: self.first_text.clone(),
            classes: self.classes.clone(),
        })
    }

    /// The labels as names: the class names, or the numbers as they print
    /// (integral ones without a fraction).
    pub fn label_names(&self) -> Vec<String> {
        self.labels
            .iter()
            .map(|&v| match self.classes.get(v as usize) {
                Some(name) if !self.classes.is_empty() => name.clone(),
                _ => number_name(v),
            })
            .collect()
    }

    /// Relabels by the class list `classes` (label `i` is `classes[i]`),
    /// for a classifier whose classes are declared or learned from the
    /// labels; a label that is not among them is an error naming its row
    /// and the classes.
    ///
    /// ```
    /// let mut d = refit::data::read_csv("a,y\n1,7\n2,3\n".as_bytes(), "t.csv", "y").unwrap();
    /// d.use_classes(&["3".into(), "7".into()]).unwrap();
    /// assert_eq!(d.labels, [1.0, 0.0]);
    /// let err = d.use_classes(&["3".into(), "5".into()]).unwrap_err();
    /// assert!(err.contains("row 1: label `7`"), "{err}");
    /// ```
    pub fn use_classes(&mut self, classes: &[String]) -> Result<(), String> {
        let labels = self
            .label_names()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                classes
                    .iter()
                    .position(|c| c == name)
                    .map(|c| c as f32)
                    .ok_or_else(|| {
                        format!(
                            "row {}: label `{name}` is not one of the classes {classes:?}",
                            i + 1
                        )
                    })
            })
            .collect::<Result<Vec<f32>, String>>()?;
        self.labels = labels;
        self.classes = classes.to_vec();
        Ok(())
    }
}

/// A number's name as a class: integral values without a fraction.
fn number_name(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened.
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    /// A problem at a place in the file.
    #[error("{file}, line {line}{column}: {problem}")]
    At {
        file: String,
        line: u64,
        column: String,
        problem: String,
    },
}

/// Reads a CSV file (see the module docs).
pub fn read_csv_path(path: &Path, label: &str) -> Result<Dataset, DataError> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        file: path.display().to_string(),
        source,
    })?;
    read_csv(
        std::io::BufReader::new(file),
        &path.display().to_string(),
        label,
    )
}

/// Reads CSV text from `reader`; `name` is used in errors.
pub fn read_csv(reader: impl std::io::Read, name: &str, label: &str) -> Result<Dataset, DataError> {
    read_table(reader, name, Some(label))
}

/// Reads a CSV file of features only (no label column: every column is a
/// feature; `labels` stays empty).
///
/// ```
/// let d = refit::data::read_features("a,b\n1,2\n3,\n".as_bytes(), "f.csv").unwrap();
/// assert_eq!(d.features, ["a", "b"]);
/// assert_eq!(d.rows[..3], [1.0, 2.0, 3.0]);
/// assert!(d.rows[3].is_nan() && d.labels.is_empty());
/// ```
pub fn read_features(reader: impl std::io::Read, name: &str) -> Result<Dataset, DataError> {
    read_table(reader, name, None)
}

/// [`read_features`] from a file.
pub fn read_features_path(path: &Path) -> Result<Dataset, DataError> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        file: path.display().to_string(),
        source,
    })?;
    read_features(std::io::BufReader::new(file), &path.display().to_string())
}

fn read_table(
    reader: impl std::io::Read,
    name: &str,
    label: Option<&str>,
) -> Result<Dataset, DataError> {
    let at = |line: u64, column: String, problem: String| DataError::At {
        file: name.to_owned(),
        line,
        column,
        problem,
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let header = csv
        .headers()
        .map_err(|e| at(1, String::new(), e.to_string()))?
        .clone();
    let label_col = match label {
        None => usize::MAX,
        Some(label) => header
            .iter()
            .position(|h| h.trim() == label)
            .ok_or_else(|| {
                at(
                    1,
                    String::new(),
                    format!(
                        "no label column `{label}` in the header (columns: {})",
                        header.iter().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?,
    };
    let features: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != label_col)
        .map(|(_, h)| h.trim().to_owned())
        .collect();
    if features.is_empty() {
        return Err(at(1, String::new(), "no feature columns".into()));
    }
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    // Per column: where it first held text.
    let mut text_at: Vec<Option<(u64, String)>> = vec![None; header.len()];
    // The label column's names, from its first text label on.
    let mut label_names: Option<Vec<String>> = None;
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let problem = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => {
                    format!("{len} fields where the header has {expected_len}")
                }
                _ => e.to_string(),
            };
            at(line, String::new(), problem)
        })?;
        let line = record.position().map_or(0, |p| p.line());
        for (i, cell) in record.iter().enumerate() {
            let cell = cell.trim();
            let number = if cell.is_empty() {
                if i == label_col {
                    // Named only on an error: formatting it for every cell
                    // cost about as much as parsing the number.
                    let column = format!(", column {} (`{}`)", i + 1, &header[i]);
                    return Err(at(line, column, "the label is empty".into()));
                }
                Some(f32::NAN)
            } else {
                cell.parse::<f32>().ok().filter(|v| v.is_finite())
            };
            if i == label_col {
                match (number, &mut label_names) {
                    (Some(v), None) => labels.push(v),
                    (Some(v), Some(names)) => names.push(number_name(v)),
                    (None, names) => {
                        let names = names.get_or_insert_with(|| {
                            labels.iter().map(|&v| number_name(v)).collect()
                        });
                        names.push(cell.to_owned());
                    }
                }
                continue;
            }
            let value = match number {
                Some(v) => v,
                None => {
                    if text_at[i].is_none() {
                        text_at[i] = Some((line, cell.to_owned()));
                    }
                    refit_plugin_kit::preprocess::level_code(cell)
                }
            };
            rows.push(value);
        }
    }
    let mut data = Dataset {
        features,
        rows,
        labels,
        categorical: Vec::new(),
        first_text: Vec::new(),
        classes: Vec::new(),
    };
    for (i, first) in text_at.into_iter().enumerate() {
        if let Some(first) = first {
            data.categorical.push(header[i].trim().to_owned());
            data.first_text.push(first);
        }
    }
    if let Some(names) = label_names {
        let classes = crate::schema::sorted_classes(names.iter().cloned());
        data.labels = names
            .iter()
            .map(|n| classes.iter().position(|c| c == n).unwrap_or(0) as f32)
            .collect();
        data.classes = classes;
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use refit_plugin_kit::preprocess::level_code;

    #[test]
    fn errors_name_line_and_column() {
        let err = read_csv("a,b,y\n1,2,0\n1,2\n".as_bytes(), "f.csv", "y").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv, line 3: 2 fields where the header has 3"
        );
        let err = read_csv("a,y\n1,0\n".as_bytes(), "f.csv", "label").unwrap_err();
        assert!(err.to_string().contains("no label column `label`"), "{err}");
        let err = read_csv("a,y\n1,\n".as_bytes(), "f.csv", "y").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv, line 2, column 2 (`y`): the label is empty"
        );
    }

    #[test]
    fn text_columns_are_categorical_and_text_labels_are_classes() {
        let csv = "a,c,y\n1,x,b\n2,3,2\ninf,x,a\n";
        let d = read_csv(csv.as_bytes(), "f.csv", "y").unwrap();
        assert_eq!(d.categorical, ["a", "c"], "`inf` is text, not a number");
        assert_eq!(d.first_text, [(4, "inf".to_string()), (2, "x".to_string())]);
        assert_eq!(d.rows[..4], [1.0, level_code("x"), 2.0, 3.0]);
        assert_eq!(d.classes, ["2", "a", "b"]);
        assert_eq!(d.labels, [2.0, 0.0, 1.0]);
        assert_eq!(d.label_names(), ["b", "2", "a"]);
    }

    #[test]
    #[cfg(feature = "demo")]
    fn round_trips_a_demo_stream() {
        let s = crate::demo::clv(1, 50);
        let d = read_csv(s.to_csv().as_bytes(), "clv.csv", "label").unwrap();
        assert_eq!(d.features, s.features);
        assert_eq!(d.rows, s.x);
        assert_eq!(d.labels, s.y);
    }
}
