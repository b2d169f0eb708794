//! The `refit._refit` extension module of the `refit` Python package: the
//! embedded agent ([`agent::PyAgent`], `refit.Agent`) and a bare model
//! plugin ([`model::PyModel`], `refit.Model`, under the scikit-learn and
//! River adapters written in Python). Every call that trains, ingests,
//! predicts a batch or waits releases the GIL; every error is a Python
//! exception carrying the Rust error's message, never a panic across the
//! boundary.

mod agent;
mod convert;
mod model;

use pyo3::prelude::*;

pyo3::create_exception!(
    _refit,
    RefitError,
    pyo3::exceptions::PyException,
    "An error of the refit agent (the base of the others)."
);
pyo3::create_exception!(
    _refit,
    BackpressureError,
    RefitError,
    "Ingest refused: `online.max_pending_samples` samples wait for training; retry later."
);
pyo3::create_exception!(_refit, StoppedError, RefitError, "The agent was shut down.");

#[pymodule]
fn _refit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RefitError", py.get_type::<RefitError>())?;
    m.add("BackpressureError", py.get_type::<BackpressureError>())?;
    m.add("StoppedError", py.get_type::<StoppedError>())?;
    m.add_class::<agent::PyAgent>()?;
    m.add_class::<agent::EventIterator>()?;
    m.add_class::<model::PyModel>()?;
    Ok(())
}
