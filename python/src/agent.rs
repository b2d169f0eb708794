//! `refit.Agent`: the embedded agent from Python.

use std::path::PathBuf;
use std::time::Duration;

use numpy::PyArray2;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use refit::Agent;
use refit::config::Config;
use refit::events::Event;

use crate::StoppedError;
use crate::convert::{agent_err, array1, is_named, json_list, labels, rows, to_py};

/// The embedded online-learning agent (see the package docs).
#[pyclass(name = "Agent", module = "refit")]
pub struct PyAgent {
    agent: Option<Agent>,
    events: Option<crossbeam_channel::Receiver<Event>>,
}

impl PyAgent {
    fn agent(&self) -> PyResult<&Agent> {
        self.agent
            .as_ref()
            .ok_or_else(|| StoppedError::new_err("the agent is stopped"))
    }

    fn receiver(&mut self) -> PyResult<crossbeam_channel::Receiver<Event>> {
        if self.events.is_none() {
            let rx = self.agent()?.subscribe().map_err(agent_err)?;
            self.events = Some(rx);
        }
        Ok(self.events.clone().expect("set above"))
    }
}

#[pymethods]
impl PyAgent {
    /// Starts an agent from `config_path` (a config.toml; `None`: the
    /// defaults), with `features` when the config lists none, its data in
    /// `data_dir` when given, from a new model when `fresh`.
    #[new]
    #[pyo3(signature = (config_path=None, features=None, data_dir=None, fresh=false))]
    fn new(
        py: Python<'_>,
        config_path: Option<PathBuf>,
        features: Option<Vec<String>>,
        data_dir: Option<PathBuf>,
        fresh: bool,
    ) -> PyResult<Self> {
        let mut config = match &config_path {
            Some(p) => Config::from_path(p).map_err(|e| agent_err(e.into()))?,
            None => Config::default(),
        };
        if let Some(d) = data_dir {
            config.agent.data_dir = d;
        }
        let mut builder = Agent::builder(config).resume(!fresh);
        if let Some(f) = features {
            builder = builder.features(f);
        }
        if let Some(p) = &config_path {
            builder = builder.watch(p);
        }
        let agent = py.detach(|| builder.start()).map_err(agent_err)?;
        Ok(Self {
            agent: Some(agent),
            events: None,
        })
    }

    /// Feature names, in column order.
    #[getter]
    fn features(&self) -> PyResult<Vec<String>> {
        Ok(self.agent()?.spec().features.clone())
    }

    /// Class names of a classifier with classes (else empty).
    #[getter]
    fn classes(&self) -> PyResult<Vec<String>> {
        Ok(self.agent()?.spec().classes.clone())
    }

    /// Feeds labelled rows: `X` a 2-D float32 (no copy) or float64 array,
    /// or a list of dicts keyed by feature name (text categories, `None`
    /// for a missing value); `y` numbers, or class names. Answers the
    /// acknowledgement as a dict. In fleet mode, a call retried under the
    /// same `idempotency_key` is stored once.
    #[pyo3(signature = (x, y, idempotency_key=None))]
    fn ingest<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        idempotency_key: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let agent = self.agent()?.clone();
        let ack = if is_named(x) || y.extract::<Vec<String>>().is_ok() {
            let (x, y) = (json_list(x)?, json_list(y)?);
            let x = if x.iter().all(|r| r.is_array()) || x.iter().all(|r| r.is_object()) {
                x
            } else {
                return Err(PyValueError::new_err(
                    "rows must all be dicts or all be lists",
                ));
            };
            py.detach(|| match &idempotency_key {
                Some(key) => agent.ingest_named_once(key, &x, &y),
                None => agent.ingest_named(&x, &y),
            })
        } else {
            let rows = rows(x, agent.spec().width())?;
            let values = rows.values()?;
            let y = labels(y)?;
            py.detach(|| match &idempotency_key {
                Some(key) => agent.ingest_once(key, &values, &y),
                None => agent.ingest(&values, &y),
            })
        }
        .map_err(agent_err)?;
        to_py(py, &ack)
    }

    /// Predictions of rows (as `ingest` takes them), one per row: P(class
    /// 1), the value, or a multiclass model's likeliest class index.
    fn predict<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let p = self.predict_rows(py, x)?;
        Ok(array1(py, p.values).into_any())
    }

    /// Class probabilities, one row per row (columns: `classes`, or
    /// `[0, 1]` for a binary classifier).
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let p = self.predict_rows(py, x)?;
        let rows: Vec<Vec<f32>> = match p.probabilities {
            Some(probs) => {
                let k = self.agent()?.spec().classes.len().max(1);
                probs.chunks(k).map(<[f32]>::to_vec).collect()
            }
            None => p.values.iter().map(|&v| vec![1.0 - v, v]).collect(),
        };
        Ok(PyArray2::from_vec2(py, &rows)
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .into_any())
    }

    /// Trains on what is buffered, serves it and writes the checkpoint.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let agent = self.agent()?.clone();
        py.detach(|| agent.flush()).map_err(agent_err)
    }

    /// Waits until every accepted sample is trained, served and on disk.
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        let agent = self.agent()?.clone();
        py.detach(|| agent.sync()).map_err(agent_err)
    }

    /// Counters and metrics, as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let agent = self.agent()?.clone();
        let stats = py.detach(|| agent.stats()).map_err(agent_err)?;
        to_py(py, &stats)
    }

    /// The stored versions (dicts), offline first.
    fn versions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let agent = self.agent()?.clone();
        let v = py.detach(|| agent.versions()).map_err(agent_err)?;
        to_py(py, &v)
    }

    /// Serves the stored `version` ("v3", "online_012") and continues
    /// learning from it; answers its manifest entry.
    fn rollback<'py>(&self, py: Python<'py>, version: &str) -> PyResult<Bound<'py, PyAny>> {
        let v = version
            .parse::<refit::store::VersionId>()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let agent = self.agent()?.clone();
        let entry = py.detach(|| agent.rollback(v)).map_err(agent_err)?;
        to_py(py, &entry)
    }

    /// Trains a new offline version on `X`, `y` (waits; answers the report).
    fn train_offline<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let agent = self.agent()?.clone();
        let rows = rows(x, agent.spec().width())?;
        let values = rows.values()?;
        let y = labels(y)?;
        let report = py
            .detach(|| agent.train_offline(&values, &y))
            .map_err(agent_err)?;
        to_py(py, &report)
    }

    /// Records one click event of a CTR model (`kind = "ftrl"`).
    fn record_click<'py>(
        &self,
        py: Python<'py>,
        query: &str,
        doc_id: &str,
        position: u32,
        clicked: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        if position == 0 {
            return Err(PyValueError::new_err("positions start at 1"));
        }
        let agent = self.agent()?.clone();
        let ack = py
            .detach(|| agent.record_click(query, doc_id, position, clicked))
            .map_err(agent_err)?;
        to_py(py, &ack)
    }

    /// A query's documents by predicted CTR: a list of (doc_id, score).
    fn rank(
        &self,
        py: Python<'_>,
        query: &str,
        doc_ids: Vec<String>,
    ) -> PyResult<Vec<(String, f32)>> {
        let agent = self.agent()?.clone();
        let r = py
            .detach(|| agent.rank(query, &doc_ids))
            .map_err(agent_err)?;
        Ok(r.docs.into_iter().map(|d| (d.doc_id, d.score)).collect())
    }

    /// An iterator over the agent's events (dicts). Each step waits at most
    /// `timeout` seconds (`None`: until one comes; 0: only those queued)
    /// and the iterator ends when none came.
    #[pyo3(signature = (timeout=None))]
    fn events(&mut self, timeout: Option<f64>) -> PyResult<EventIterator> {
        if timeout.is_some_and(|t| !(t >= 0.0 && t.is_finite())) {
            return Err(PyValueError::new_err(
                "timeout must be a number of seconds, 0 or more",
            ));
        }
        Ok(EventIterator {
            events: self.receiver()?,
            timeout: timeout.map(Duration::from_secs_f64),
        })
    }

    /// The events queued since the last call (never waits).
    fn poll_events<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let rx = self.receiver()?;
        rx.try_iter().map(|e| to_py(py, &e)).collect()
    }

    /// Stops the agent: trains what is buffered, writes the last checkpoint,
    /// joins its threads. Later calls raise `StoppedError`.
    fn shutdown(&mut self, py: Python<'_>) -> PyResult<()> {
        self.events = None;
        match self.agent.take() {
            Some(agent) => py.detach(|| agent.shutdown()).map_err(agent_err),
            None => Ok(()),
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(
        &mut self,
        py: Python<'_>,
        _args: &Bound<'_, pyo3::types::PyTuple>,
    ) -> PyResult<bool> {
        self.shutdown(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        match &self.agent {
            Some(a) => format!(
                "refit.Agent(kind={:?}, features={:?})",
                a.spec().kind,
                a.spec().features
            ),
            None => "refit.Agent(stopped)".into(),
        }
    }
}

impl PyAgent {
    fn predict_rows(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<refit::Prediction> {
        let agent = self.agent()?.clone();
        if is_named(x) {
            let x = json_list(x)?;
            return py.detach(|| agent.predict_named(&x)).map_err(agent_err);
        }
        let rows = rows(x, agent.spec().width())?;
        let values = rows.values()?;
        py.detach(|| agent.predict(&values)).map_err(agent_err)
    }
}

/// `Agent.events()`: yields event dicts until none comes within the
/// timeout.
#[pyclass(module = "refit")]
pub struct EventIterator {
    events: crossbeam_channel::Receiver<Event>,
    timeout: Option<Duration>,
}

#[pymethods]
impl EventIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let rx = self.events.clone();
        let timeout = self.timeout;
        let next = py.detach(move || match timeout {
            Some(t) if t.is_zero() => rx.try_recv().ok(),
            Some(t) => rx.recv_timeout(t).ok(),
            None => rx.recv().ok(),
        });
        next.map(|e| to_py(py, &e)).transpose()
    }
}
