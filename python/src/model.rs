//! `refit.Model`: one model plugin without the agent, for the
//! scikit-learn and River adapters of the Python package.

use numpy::PyArray2;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use refit_plugin::{Batch, Model, ModelSpec, Task};

use crate::convert::{array1, labels, plugin_err, rows};

/// A built-in model (`logistic`, `linear`, `mlp`) learning with
/// `partial_fit` at the rate it is given.
#[pyclass(name = "Model", module = "refit")]
pub struct PyModel {
    /// Locked for each call (Python objects may be shared across threads).
    model: std::sync::Mutex<Box<dyn Model>>,
    /// Column of each feature name, for rows given as dicts.
    columns: std::collections::HashMap<String, usize>,
    /// The feature names as Python strings (their hashes cached), made at
    /// the first dict row.
    names: std::sync::OnceLock<Vec<Py<PyString>>>,
}

impl PyModel {
    fn of(model: Box<dyn Model>) -> Self {
        let columns = model
            .spec()
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), i))
            .collect();
        Self {
            model: std::sync::Mutex::new(model),
            columns,
            names: std::sync::OnceLock::new(),
        }
    }

    /// A dict row (feature name to number; a missing name is 0) in column
    /// order; an unknown name is a `ValueError` naming it.
    fn dict_row(&self, x: &Bound<'_, PyDict>) -> PyResult<Vec<f32>> {
        let py = x.py();
        let names = self.names.get_or_init(|| {
            let mut by_column: Vec<(usize, &String)> =
                self.columns.iter().map(|(n, &i)| (i, n)).collect();
            by_column.sort();
            by_column
                .into_iter()
                .map(|(_, n)| PyString::intern(py, n).unbind())
                .collect()
        });
        let mut row = vec![0.0f32; names.len()];
        let mut found = 0;
        for (slot, name) in row.iter_mut().zip(names) {
            if let Some(v) = x.get_item(name.bind(py))? {
                *slot = v.extract::<f64>()? as f32;
                found += 1;
            }
        }
        if found == x.len() {
            return Ok(row);
        }
        // A key that names no feature: find it for the error.
        for (k, v) in x.iter() {
            let name = k.cast::<PyString>()?;
            let name = name.to_cow()?;
            let Some(&i) = self.columns.get(name.as_ref()) else {
                return Err(PyValueError::new_err(format!(
                    "no feature named `{name}` (the model's features are fixed by the first row)"
                )));
            };
            row[i] = v.extract::<f64>()? as f32;
        }
        Ok(row)
    }

    /// The model, for one call (a panic in another call cannot have left it
    /// half-changed: a refused update changes nothing).
    fn model(&self) -> std::sync::MutexGuard<'_, Box<dyn Model>> {
        self.model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn width(&self) -> usize {
        self.model().spec().width()
    }
}

#[pymethods]
impl PyModel {
    /// A fresh model of `kind` over `n_features` features for `task`
    /// (`"classification"` or `"regression"`), with `classes` (more than two
    /// make it multiclass; labels are then class indices) and `params`, a
    /// JSON object of the kind's `[model.params]` (plus `preprocessing`).
    #[new]
    #[pyo3(signature = (kind, n_features, task=None, classes=None, params=None, features=None))]
    fn new(
        kind: &str,
        n_features: usize,
        task: Option<&str>,
        classes: Option<Vec<String>>,
        params: Option<&str>,
        features: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let registry = refit::plugins::builtin();
        let task = match task {
            None => registry
                .get(kind)
                .map_or(Task::Classification, |f| f.default_task()),
            Some("classification") => Task::Classification,
            Some("regression") => Task::Regression,
            Some(other) => {
                return Err(PyValueError::new_err(format!(
                    "task {other:?}: use \"classification\" or \"regression\""
                )));
            }
        };
        let features: Vec<String> = match features {
            Some(f) if f.len() == n_features => f,
            Some(f) => {
                return Err(PyValueError::new_err(format!(
                    "{} feature names for {n_features} features",
                    f.len()
                )));
            }
            None => (0..n_features).map(|i| format!("x{i}")).collect(),
        };
        let spec = ModelSpec::new(kind, task, features).with_classes(classes.unwrap_or_default());
        let params: refit_plugin::Params = match params {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| PyValueError::new_err(format!("params: {e}")))?,
            None => refit_plugin::Params::new(),
        };
        let model = registry.create(spec, &params).map_err(plugin_err)?;
        Ok(Self::of(model))
    }

    /// Loads bytes written by `save`.
    #[staticmethod]
    fn load(bytes: &[u8]) -> PyResult<Self> {
        let model = refit::plugins::builtin().load(bytes).map_err(plugin_err)?;
        Ok(Self::of(model))
    }

    /// The model file's bytes (its envelope: kind, task, features, classes,
    /// checksum).
    fn save<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.model().save().map_err(plugin_err)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Number of features.
    #[getter]
    fn n_features(&self) -> usize {
        self.width()
    }

    /// The class names (empty: binary 0/1, or regression).
    #[getter]
    fn classes(&self) -> Vec<String> {
        self.model().spec().classes.clone()
    }

    /// One incremental update on rows `X` with labels `y` (class indices for
    /// a classifier) at learning rate `lr`; answers the mean loss before
    /// the update. Refused input changes nothing.
    fn partial_fit(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        lr: f32,
    ) -> PyResult<f64> {
        let width = self.width();
        let rows = rows(x, width)?;
        let values = rows.values()?;
        let y = labels(y)?;
        let report = py
            .detach(|| {
                let batch = Batch::new(&values, width)?;
                self.model().partial_fit(batch.into(), &y, lr)
            })
            .map_err(plugin_err)?;
        Ok(report.mean_loss_before)
    }

    /// One value per row: P(class 1), the value, or the likeliest class's
    /// index.
    fn predict<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let width = self.width();
        let rows = rows(x, width)?;
        let values = rows.values()?;
        let out = py
            .detach(|| self.model().predict(Batch::new(&values, width)?.into()))
            .map_err(plugin_err)?;
        Ok(array1(py, out).into_any())
    }

    /// Class probabilities of a classifier, one row per row.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let width = self.width();
        let rows = rows(x, width)?;
        let values = rows.values()?;
        let snapshot = self.model().snapshot();
        let k = snapshot.spec().class_count().ok_or_else(|| {
            PyValueError::new_err("a regression model has no class probabilities")
        })?;
        let flat = py
            .detach(|| snapshot.predict_proba(Batch::new(&values, width)?.into()))
            .map_err(plugin_err)?;
        let table: Vec<Vec<f32>> = flat.chunks(k).map(<[f32]>::to_vec).collect();
        Ok(PyArray2::from_vec2(py, &table)
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .into_any())
    }

    /// One row's prediction (a list or 1-D array of floats), without
    /// numpy arrays on the way: the per-row path of the River adapter.
    fn predict_one(&self, row: Vec<f32>) -> PyResult<f32> {
        self.model()
            .snapshot()
            .predict_row((&row[..]).into())
            .map_err(plugin_err)
    }

    /// One dict row's prediction (feature name to number; a missing name
    /// is 0): the per-row path of the River adapter.
    fn predict_dict(&self, x: &Bound<'_, PyDict>) -> PyResult<f32> {
        let row = self.dict_row(x)?;
        self.predict_one(row)
    }

    /// Learns one dict row with label `y` at rate `lr`.
    fn learn_dict(&self, x: &Bound<'_, PyDict>, y: f32, lr: f32) -> PyResult<f64> {
        let row = self.dict_row(x)?;
        let width = row.len();
        let report = self
            .model()
            .partial_fit(
                Batch::new(&row, width).map_err(plugin_err)?.into(),
                &[y],
                lr,
            )
            .map_err(plugin_err)?;
        Ok(report.mean_loss_before)
    }

    /// One row's class probabilities.
    fn predict_proba_one(&self, row: Vec<f32>) -> PyResult<Vec<f32>> {
        let snapshot = self.model().snapshot();
        let k = snapshot.spec().class_count().ok_or_else(|| {
            PyValueError::new_err("a regression model has no class probabilities")
        })?;
        let mut out = vec![0.0; k];
        snapshot
            .predict_proba_row((&row[..]).into(), &mut out)
            .map_err(plugin_err)?;
        Ok(out)
    }
}
