//! Python values in and out: numpy arrays as rows (float32 without a copy
//! where the array is C-contiguous, float64 converted), lists of dicts as
//! named rows, labels as numbers or class names, errors as exceptions.

use std::borrow::Cow;

use numpy::{PyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use refit::AgentError;
use refit_plugin::PluginError;
use serde_json::Value;

use crate::{BackpressureError, RefitError, StoppedError};

/// An agent error as the exception a Python caller expects: bad input is a
/// `ValueError`, back-pressure a `BackpressureError`, a stopped agent a
/// `StoppedError`, the rest a `RefitError`; each with the Rust message.
pub(crate) fn agent_err(e: AgentError) -> PyErr {
    let message = e.to_string();
    match e {
        AgentError::Backpressure { .. } => BackpressureError::new_err(message),
        AgentError::Stopped => StoppedError::new_err(message),
        AgentError::Plugin(_)
        | AgentError::InvalidArgument(_)
        | AgentError::Config(_)
        | AgentError::TooManySamples { .. }
        | AgentError::NoFeatures => PyValueError::new_err(message),
        _ => RefitError::new_err(message),
    }
}

/// A plugin error: bad input is a `ValueError`.
pub(crate) fn plugin_err(e: PluginError) -> PyErr {
    match e {
        PluginError::Diverged(_) | PluginError::Backend(_) | PluginError::Corrupt(_) => {
            RefitError::new_err(e.to_string())
        }
        other => PyValueError::new_err(other.to_string()),
    }
}

/// Rows as row-major `f32`, and their count: a 2-D numpy array of float32
/// (borrowed when C-contiguous) or float64 (converted), or a list of
/// numbers' lists. The width must be `width` when given.
pub(crate) enum Rows<'py> {
    /// A C-contiguous float32 array, borrowed.
    Borrowed(PyReadonlyArray2<'py, f32>),
    /// Converted values.
    Owned(Vec<f32>),
}

impl Rows<'_> {
    /// The values, row-major.
    pub(crate) fn values(&self) -> Result<Cow<'_, [f32]>, PyErr> {
        match self {
            Rows::Borrowed(a) => match a.as_slice() {
                Ok(s) => Ok(Cow::Borrowed(s)),
                Err(_) => Ok(Cow::Owned(a.as_array().iter().copied().collect())),
            },
            Rows::Owned(v) => Ok(Cow::Borrowed(v)),
        }
    }
}

/// `X` as rows of `width` features (see [`Rows`]); errors name the shape
/// or type.
pub(crate) fn rows<'py>(x: &Bound<'py, PyAny>, width: usize) -> PyResult<Rows<'py>> {
    let (_, cols) = if let Ok(a) = x.cast::<numpy::PyUntypedArray>() {
        if a.ndim() != 2 {
            return Err(PyValueError::new_err(format!(
                "X must be 2-D (rows x features), got shape {:?}",
                a.shape()
            )));
        }
        (a.shape()[0], a.shape()[1])
    } else {
        (0, 0)
    };
    let rows_out = if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f32>>() {
        Rows::Borrowed(a)
    } else if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f64>>() {
        Rows::Owned(a.as_array().iter().map(|&v| v as f32).collect())
    } else if let Ok(a) = x.cast::<numpy::PyUntypedArray>() {
        return Err(PyTypeError::new_err(format!(
            "X must hold float32 or float64 values, got dtype {}",
            a.dtype()
        )));
    } else if let Ok(list) = x.extract::<Vec<Vec<f64>>>() {
        if let Some(bad) = list.iter().position(|r| r.len() != width) {
            return Err(PyValueError::new_err(format!(
                "row {bad} has {} values; the model has {width} features",
                list[bad].len()
            )));
        }
        Rows::Owned(list.into_iter().flatten().map(|v| v as f32).collect())
    } else {
        return Err(PyTypeError::new_err(
            "X must be a 2-D numpy array of float32 or float64 (or a list of rows)",
        ));
    };
    if cols != 0 && cols != width {
        return Err(PyValueError::new_err(format!(
            "X has {cols} features per row; the model has {width}"
        )));
    }
    Ok(rows_out)
}

/// Labels as `f32`: a 1-D numpy array or a list of numbers.
pub(crate) fn labels(y: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    if let Ok(a) = y.cast::<numpy::PyUntypedArray>()
        && a.ndim() != 1
    {
        return Err(PyValueError::new_err(format!(
            "y must be 1-D, got shape {:?}",
            a.shape()
        )));
    }
    if let Ok(a) = y.extract::<numpy::PyReadonlyArray1<'_, f32>>() {
        return Ok(a.as_array().to_vec());
    }
    if let Ok(a) = y.extract::<numpy::PyReadonlyArray1<'_, f64>>() {
        return Ok(a.as_array().iter().map(|&x| x as f32).collect());
    }
    if let Ok(a) = y.extract::<numpy::PyReadonlyArray1<'_, i64>>() {
        return Ok(a.as_array().iter().map(|&x| x as f32).collect());
    }
    if let Ok(v) = y.extract::<Vec<f64>>() {
        return Ok(v.into_iter().map(|x| x as f32).collect());
    }
    let numbers = y
        .call_method1("astype", ("float64",))
        .and_then(|a| a.extract::<Vec<f64>>());
    numbers
        .map(|v| v.into_iter().map(|x| x as f32).collect())
        .map_err(|_| {
            PyTypeError::new_err("y must be numbers (or, for a model with classes, class names)")
        })
}

/// Whether `x` is a list of dicts (named rows).
pub(crate) fn is_named(x: &Bound<'_, PyAny>) -> bool {
    x.cast::<PyList>()
        .is_ok_and(|l| l.len() > 0 && l.iter().all(|r| r.is_instance_of::<PyDict>()))
}

/// A Python value as JSON: numbers, strings, `None`, bools, lists, dicts.
pub(crate) fn json(v: &Bound<'_, PyAny>) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.extract::<bool>()
        && v.is_instance_of::<pyo3::types::PyBool>()
    {
        return Ok(Value::Bool(b));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Value::String(v.extract::<String>()?));
    }
    if let Ok(i) = v.extract::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, val) in d.iter() {
            let key: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err("feature names must be strings"))?;
            map.insert(key, json(&val)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = v.extract::<Vec<Bound<'_, PyAny>>>() {
        return l
            .iter()
            .map(json)
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    Err(PyTypeError::new_err(format!(
        "{} is not a number, text or None",
        v.get_type().name()?
    )))
}

/// A list of values as JSON values.
pub(crate) fn json_list(v: &Bound<'_, PyAny>) -> PyResult<Vec<Value>> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(a) = v.call_method0("tolist") {
        a.extract()?
    } else {
        v.extract()?
    };
    items.iter().map(json).collect()
}

/// A serialisable value as a Python object (through `json.loads`).
pub(crate) fn to_py<'py, T: serde::Serialize>(
    py: Python<'py>,
    v: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| RefitError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Values as a 1-D numpy array.
pub(crate) fn array1<'py>(py: Python<'py>, v: Vec<f32>) -> Bound<'py, PyArray1<f32>> {
    PyArray1::from_vec(py, v)
}
