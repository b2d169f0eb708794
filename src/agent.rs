//! The embedded handle: [`Agent`].
//!
//! `Agent::builder(config).features(..).start()` runs the actor system on a
//! dedicated thread (the host never touches actix types) and returns a cheap,
//! cloneable, `Send + Sync` handle. Predictions read the atomically swapped
//! serving snapshot directly, with no actor round trip.
//!
//! ```
//! use refit::config::Config;
//! use refit::Agent;
//!
//! let dir = std::env::temp_dir().join(format!("refit-doc-{}", std::process::id()));
//! let mut config = Config::default();
//! config.agent.data_dir = dir.clone();
//! config.online.min_samples_per_update = 4;
//! let agent = Agent::builder(config).features(["tenure", "charges"]).start().unwrap();
//! agent.ingest(&[0.5, 1.0, 3.0, 0.2, 0.1, 0.9, 2.5, 0.4], &[1.0, 0.0, 1.0, 0.0]).unwrap();
//! agent.flush().unwrap();
//! let p = agent.predict(&[0.5, 1.0]).unwrap();
//! assert_eq!(p.version, 1); // served from checkpoint 1
//! assert_eq!(agent.stats().unwrap().trainer.trained, 4);
//! agent.shutdown().unwrap();
//! # std::fs::remove_dir_all(dir).ok();
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix::prelude::*;
use arc_swap::ArcSwap;
use refit_plugin::preprocess::Preprocessor;
use refit_plugin::{Batch, ModelSpec, PluginError, PluginRegistry};
use serde::{Deserialize, Serialize};

use crate::actors::drift::Drift;
use crate::actors::ingest::Ingest;
use crate::actors::registry::Registry;
use crate::actors::server::{Server, Serving};
use crate::actors::trainer::Trainer;
use crate::actors::watcher::Watcher;
use crate::config::{Config, ConfigError, WhenFull};
use crate::messages::{
    Barrier, Event, FlushBuffer, GetIngestStats, GetRegistryStats, GetTrainerStats, IngestAck,
    IngestSamples, IngestStats, RegistryStats, Subscribe, TrainerStats,
};

/// Drift severity, from the max PSI and the config thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Below `psi_moderate`.
    #[default]
    Stable,
    /// Above `psi_moderate`.
    Moderate,
    /// Above `psi_severe`.
    Severe,
}

/// Errors of the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Input or model error.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// `max_pending_samples` accepted samples are waiting for training.
    #[error(
        "back-pressure: {pending} samples are waiting for training (online.max_pending_samples = {max}); retry later"
    )]
    Backpressure { pending: u64, max: u64 },
    /// The agent has been shut down (or its thread died).
    #[error("the agent is stopped")]
    Stopped,
    /// The agent could not start.
    #[error("starting the agent: {0}")]
    Start(String),
    /// A flush did not complete in time.
    #[error("timed out after {0:?} waiting for training to catch up")]
    Timeout(Duration),
}

/// A batch of predictions and the model version that made them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// One value per row: P(class 1) or the regression value.
    pub values: Vec<f32>,
    /// Checkpoint number of the serving model (0: not yet trained).
    pub version: u64,
}

/// Counters and metrics of a running agent.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Ingest counters.
    pub ingest: IngestStats,
    /// Training counters and progressive metrics.
    pub trainer: TrainerStats,
    /// Checkpoint counters.
    pub registry: RegistryStats,
    /// Version being served.
    pub serving_version: u64,
}

/// Builds and starts an [`Agent`].
pub struct AgentBuilder {
    config: Config,
    watch: Option<std::path::PathBuf>,
    features: Option<Vec<String>>,
    plugins: PluginRegistry,
    flush_timeout: Duration,
}

impl AgentBuilder {
    /// The feature names, when the config does not list them.
    pub fn features<S: Into<String>>(mut self, features: impl IntoIterator<Item = S>) -> Self {
        self.features = Some(features.into_iter().map(Into::into).collect());
        self
    }

    /// Hot-reloads the config from `path` (the file `config` was read from):
    /// learning rates, drift thresholds and `[online]` settings take effect
    /// for the next decision; an invalid file is reported as
    /// [`Event::ConfigRejected`] and the previous config stays.
    pub fn watch(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.watch = Some(path.into());
        self
    }

    /// The plugin registry (default: the built-in plugins).
    pub fn plugins(mut self, plugins: PluginRegistry) -> Self {
        self.plugins = plugins;
        self
    }

    /// How long `flush` and `shutdown` wait for training (default 60 s).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Starts the actor system and returns the handle.
    pub fn start(self) -> Result<Agent, AgentError> {
        let config = self.config;
        config.validate("config")?;
        let features = match (&self.features, config.model.features.is_empty()) {
            (_, false) => config.model.features.clone(),
            (Some(f), true) => f.clone(),
            (None, true) => {
                return Err(AgentError::Start(
                    "model.features is empty: list the features in the config or give them to the builder".into(),
                ));
            }
        };
        let spec: ModelSpec = config.model.spec(&features);
        let model = self
            .plugins
            .create(spec.clone(), &config.model.plugin_params()?)?;
        let schema = Preprocessor::new(&spec.features, &config.model.preprocessing)?;
        let serving = Arc::new(ArcSwap::from_pointee(Serving {
            snapshot: model.snapshot(),
            version: 0,
        }));
        let (tx, rx) = crossbeam_channel::bounded(1);
        let shared = serving.clone();
        let thread_spec = spec.clone();
        let when_full = config.online.when_full;
        let watch = self.watch.clone();
        let thread = std::thread::Builder::new()
            .name("refit-agent".into())
            .spawn(move || {
                let system = System::new();
                system.block_on(async move {
                    let server = Server::new(shared).start();
                    let registry = Registry::new(
                        &config.agent.data_dir,
                        &config.agent.name,
                        config.online.checkpoint_retention,
                        server.clone(),
                    )
                    .start();
                    let ingest_ctx = Context::<Ingest>::new();
                    let ingest = ingest_ctx.address();
                    let arbiter = Arbiter::new();
                    let (rates, online) = (config.learning_rate, config.online.clone());
                    let (i2, r2, s2) = (ingest.clone(), registry.clone(), server.clone());
                    let trainer = Trainer::start_in_arbiter(&arbiter.handle(), move |_| {
                        Trainer::new(model, rates, online, i2, r2, s2)
                    });
                    let drift = Drift::new(
                        thread_spec.features.clone(),
                        config.drift.clone(),
                        trainer.clone(),
                        server.clone(),
                    )
                    .start();
                    ingest_ctx.run(Ingest::new(thread_spec, schema, &config, drift.clone()));
                    if let Some(path) = watch {
                        Watcher::new(
                            path,
                            config.clone(),
                            ingest.clone(),
                            drift.clone(),
                            trainer.clone(),
                            server.clone(),
                        )
                        .start();
                    }
                    let _ = tx.send(Addrs {
                        ingest,
                        drift,
                        trainer,
                        registry,
                        server,
                        system: System::current(),
                        arbiter,
                    });
                });
                system.run()
            })
            .map_err(|e| AgentError::Start(e.to_string()))?;
        let addrs = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|e| AgentError::Start(format!("actor system did not come up: {e}")))?;
        Ok(Agent {
            inner: Arc::new(Inner {
                addrs,
                serving,
                spec,
                when_full,
                flush_timeout: self.flush_timeout,
                thread: Mutex::new(Some(thread)),
                stopped: AtomicBool::new(false),
            }),
        })
    }
}

struct Addrs {
    ingest: Addr<Ingest>,
    drift: Addr<Drift>,
    trainer: Addr<Trainer>,
    registry: Addr<Registry>,
    server: Addr<Server>,
    system: System,
    arbiter: Arbiter,
}

struct Inner {
    addrs: Addrs,
    serving: Arc<ArcSwap<Serving>>,
    spec: ModelSpec,
    when_full: WhenFull,
    flush_timeout: Duration,
    /// The system thread, taken once by shutdown.
    thread: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    stopped: AtomicBool,
}

/// The embedded agent: a cheap, cloneable, `Send + Sync` handle.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

fn block<T>(
    fut: impl std::future::Future<Output = Result<T, MailboxError>>,
) -> Result<T, AgentError> {
    futures::executor::block_on(fut).map_err(|_| AgentError::Stopped)
}

impl Agent {
    /// A builder for `config`.
    pub fn builder(config: Config) -> AgentBuilder {
        AgentBuilder {
            config,
            watch: None,
            features: None,
            plugins: crate::plugins::builtin(),
            flush_timeout: Duration::from_secs(60),
        }
    }

    /// Starts an agent whose config lists its features.
    pub fn start(config: Config) -> Result<Self, AgentError> {
        Self::builder(config).start()
    }

    /// Starts an agent from a config file (which lists its features) and
    /// hot-reloads that file.
    pub fn start_from_path(path: impl AsRef<std::path::Path>) -> Result<Self, AgentError> {
        let path = path.as_ref();
        Self::builder(Config::from_path(path)?).watch(path).start()
    }

    fn live(&self) -> Result<(), AgentError> {
        if self.inner.stopped.load(Ordering::Acquire) {
            Err(AgentError::Stopped)
        } else {
            Ok(())
        }
    }

    /// The model's kind, task and features.
    pub fn spec(&self) -> &ModelSpec {
        &self.inner.spec
    }

    /// Feeds labelled rows (row-major). Returns once they are accepted;
    /// invalid input is refused whole with an error naming the problem.
    /// When `max_pending_samples` are waiting, returns
    /// [`AgentError::Backpressure`] or waits, as `online.when_full` says.
    pub fn ingest(&self, rows: &[f32], labels: &[f32]) -> Result<IngestAck, AgentError> {
        self.live()?;
        loop {
            let msg = IngestSamples {
                rows: rows.to_vec(),
                labels: labels.to_vec(),
            };
            match block(self.inner.addrs.ingest.send(msg))? {
                Err(AgentError::Backpressure { .. }) if self.inner.when_full == WhenFull::Wait => {
                    std::thread::sleep(Duration::from_millis(1));
                    self.live()?;
                }
                other => return other,
            }
        }
    }

    /// Predicts rows (row-major) with the serving snapshot. Never waits for
    /// training.
    pub fn predict(&self, rows: &[f32]) -> Result<Prediction, AgentError> {
        let serving = self.inner.serving.load();
        let x = Batch::new(rows, self.inner.spec.width())?;
        Ok(Prediction {
            values: serving.snapshot.predict(&x)?,
            version: serving.version,
        })
    }

    /// Counters and metrics.
    pub fn stats(&self) -> Result<Stats, AgentError> {
        self.live()?;
        Ok(Stats {
            ingest: block(self.inner.addrs.ingest.send(GetIngestStats))?,
            trainer: block(self.inner.addrs.trainer.send(GetTrainerStats))?,
            registry: block(self.inner.addrs.registry.send(GetRegistryStats))?,
            serving_version: self.inner.serving.load().version,
        })
    }

    /// A channel of [`Event`]s from now on.
    pub fn subscribe(&self) -> Result<crossbeam_channel::Receiver<Event>, AgentError> {
        self.live()?;
        let (tx, rx) = crossbeam_channel::unbounded();
        block(self.inner.addrs.server.send(Subscribe(tx)))?;
        Ok(rx)
    }

    /// Trains on every buffered sample and returns when the resulting model
    /// is checkpointed and served.
    pub fn flush(&self) -> Result<(), AgentError> {
        self.live()?;
        block(self.inner.addrs.ingest.send(FlushBuffer))?;
        self.sync()
    }

    /// Waits until every update already started (not the buffer) is
    /// trained, checkpointed and served.
    pub fn sync(&self) -> Result<(), AgentError> {
        self.live()?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        block(self.inner.addrs.drift.send(Barrier(tx)))?;
        rx.recv_timeout(self.inner.flush_timeout)
            .map_err(|_| AgentError::Timeout(self.inner.flush_timeout))
    }

    /// Graceful shutdown: trains on the buffered samples, writes the last
    /// checkpoint, stops the actors and joins every thread the agent
    /// started. Later calls on any clone return [`AgentError::Stopped`].
    pub fn shutdown(&self) -> Result<(), AgentError> {
        if self.inner.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        let flushed = self.flush();
        self.inner.stop();
        flushed
    }
}

impl Inner {
    fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.addrs.arbiter.stop();
        self.addrs.system.stop();
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the agent thread panicked");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone without shutdown: stop the threads.
        self.stop();
    }
}
