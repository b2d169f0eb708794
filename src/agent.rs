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
//! assert_eq!(p.version.to_string(), "online_001"); // served from checkpoint 1
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
use refit_plugin::{Batch, InputKind, Model, ModelSpec, PluginError, PluginRegistry};
use serde::Serialize;

use crate::actors::drift::Drift;
use crate::actors::ingest::Ingest;
use crate::actors::registry::Registry;
use crate::actors::server::{AbStats, Server};
use crate::actors::trainer::{FreshModel, Trainer, TrainerSetup};
#[cfg(feature = "watch")]
use crate::actors::watcher::Watcher;
use crate::clock::Clock;
use crate::config::{Config, WhenFull};
pub use crate::drift::Severity;
use crate::drift::reference::ReferenceSource;
pub use crate::error::AgentError;
use crate::messages::{
    Activate, Barrier, ConnectDrift, DriftReport, Event, FlushBuffer, GetDriftReport,
    GetIngestStats, GetRegistryStats, GetTrainerStats, IngestAck, IngestSamples, IngestStats,
    RegistryStats, SetReference, Subscribe, TrainerStats,
};
use crate::messages::{
    Feedback, GetAbStats, OfflineReport, RecordKeyed, ResumeFrom, SetServingRole, TrainOffline,
    UseStoredReference,
};
use crate::registry::{Listed, Store, VersionEntry, VersionId};
use crate::rows::{Rows, SparseRows};
use crate::sample_log::SampleLog;
use crate::serving::{Served, ServingSet, Variant};

/// A batch of predictions and the model version that made them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// One value per row: P(class 1) or the regression value.
    pub values: Vec<f32>,
    /// The version of the model that answered (`online_000`: not yet
    /// trained).
    pub version: VersionId,
    /// Champion or challenger.
    pub variant: Variant,
    /// The offline version blended in, when the ensemble is on.
    pub ensemble: Option<VersionId>,
    /// The id to report the outcome with ([`Agent::feedback`]); keyed
    /// predictions only.
    pub request_id: Option<u64>,
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
    /// The latest drift report (none before the first batch).
    pub drift: Option<DriftReport>,
    /// Version being served.
    pub serving_version: VersionId,
}

/// Builds and starts an [`Agent`].
pub struct AgentBuilder {
    config: Config,
    #[cfg(feature = "watch")]
    watch: Option<std::path::PathBuf>,
    features: Option<Vec<String>>,
    plugins: PluginRegistry,
    flush_timeout: Duration,
    clock: Arc<dyn Clock>,
    resume: bool,
    warm_start: Option<WarmStart>,
    storage: Arc<dyn crate::storage::Storage>,
}

/// Where online learning starts when not from the store's active version
/// (the guide's `initialize_from_batch_model`).
#[derive(Debug, Clone)]
pub enum WarmStart {
    /// A stored version (typically an offline one), made active.
    Version(VersionId),
    /// Coefficients of a batch-trained linear model (see
    /// `refit_linear::Coefficients`, `tools/export_sklearn.py`); they are
    /// stored as the next offline version (reason `"import"`) and made
    /// active. Their feature names must be the agent's.
    Coefficients(refit_linear::Coefficients),
}

impl AgentBuilder {
    /// Starts online learning from `from` instead of the store's active
    /// version.
    pub fn warm_start(mut self, from: WarmStart) -> Self {
        self.warm_start = Some(from);
        self
    }

    /// Write model versions, manifests and the sample log through
    /// `storage` (e.g. [`crate::storage::Faulty`] to test disk faults).
    pub fn storage(mut self, storage: Arc<dyn crate::storage::Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// Whether to start from the store's active version (default true).
    /// With false the agent starts from a fresh model; stored versions stay
    /// and numbering continues after them.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// The clock every time-based rule reads (default: the system clock);
    /// tests pass a [`crate::clock::ManualClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The feature names, when the config does not list them.
    pub fn features<S: Into<String>>(mut self, features: impl IntoIterator<Item = S>) -> Self {
        self.features = Some(features.into_iter().map(Into::into).collect());
        self
    }

    /// Hot-reloads the config from `path` (the file `config` was read from):
    /// learning rates, drift thresholds and `[online]` settings take effect
    /// for the next decision; an invalid file is reported as
    /// [`Event::ConfigRejected`] and the previous config stays. (Cargo
    /// feature `watch`.)
    #[cfg(feature = "watch")]
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
            // A sparse (hashed) model may have no named features; a dense
            // one is refused below once the plugin says which it is.
            (None, true) => Vec::new(),
        };
        let spec: ModelSpec = config.model.spec(&features);
        let store =
            Store::for_config(&config, self.clock.clone()).with_storage(self.storage.clone());
        let recovery = match &self.warm_start {
            Some(from) => {
                let id = match from {
                    WarmStart::Version(id) => *id,
                    WarmStart::Coefficients(c) => {
                        import_coefficients(&store, c, &spec, &config.model.plugin_params()?)?
                    }
                };
                let (entry, bytes) = store.read_version(id)?;
                check_stored_spec(&id, self.plugins.load(&bytes)?.spec(), &spec)?;
                store.activate(id)?;
                crate::registry::Recovery {
                    active: Some((entry, bytes)),
                    skipped: Vec::new(),
                }
            }
            None if self.resume => store.recover()?,
            None => Default::default(),
        };
        for s in &recovery.skipped {
            tracing::warn!(version = %s.version, problem = %s.problem, "stored version skipped");
        }
        let (model, version, stored_reference, learned) = match recovery.active {
            Some((entry, bytes)) => {
                let model = self.plugins.load(&bytes)?;
                check_stored_spec(&entry.id(), model.spec(), &spec)?;
                tracing::info!(version = %entry.id(), "resuming from the stored version");
                (
                    model,
                    entry.id(),
                    store.drift_reference(&entry),
                    entry.samples_seen,
                )
            }
            None => (
                self.plugins
                    .create(spec.clone(), &config.model.plugin_params()?)?,
                VersionId::online(0),
                None,
                0,
            ),
        };
        if model.input() == InputKind::Dense && spec.width() == 0 {
            return Err(AgentError::Start(
                "model.features is empty: list the features in the config or give them to the builder".into(),
            ));
        }
        let input = (model.input(), model.input_dim());
        let active = (version.number > 0).then_some(version);
        let skipped = recovery.skipped;
        let host_store = store.clone();
        // Degradation is judged against the newest offline version.
        let offline_metrics = store
            .manifest(crate::registry::Mode::Offline)?
            .versions
            .last()
            .and_then(|v| v.metrics);
        let fresh: FreshModel = {
            let (plugins, spec, params) = (
                self.plugins.clone(),
                spec.clone(),
                config.model.plugin_params()?,
            );
            Arc::new(move || plugins.create(spec.clone(), &params))
        };
        let log = if config.samples.enabled {
            let dir = config.samples_dir();
            Some(
                SampleLog::open_with(
                    &dir,
                    spec.width(),
                    config.samples.segment_bytes,
                    self.clock.clone(),
                    self.storage.clone(),
                )
                .map_err(|e| AgentError::sample_log(&dir, "open", e))?,
            )
        } else {
            None
        };
        let clock = self.clock.clone();
        let first_snapshot = model.snapshot();
        let kind_rates = self
            .plugins
            .get(&spec.kind)?
            .learning_rates(&config.model.plugin_params()?);
        let setup = TrainerSetup {
            model,
            fresh,
            config: Arc::new(config.clone()),
            kind_rates,
            clock: self.clock.clone(),
            offline_metrics,
            samples: config.samples.enabled.then(|| config.samples_dir()),
        };
        let schema = Preprocessor::new(&spec.features, &config.model.preprocessing)?;
        let categorical: Vec<bool> = spec
            .features
            .iter()
            .map(|f| {
                config
                    .model
                    .preprocessing
                    .features
                    .get(f)
                    .and_then(|o| o.kind)
                    == Some(refit_plugin::preprocess::FeatureType::Categorical)
            })
            .collect();
        let mut set = ServingSet::of(Served {
            snapshot: first_snapshot,
            version,
        });
        // The ensemble's offline member: the newest offline version.
        if let Some(newest) = store
            .manifest(crate::registry::Mode::Offline)?
            .versions
            .last()
            && let Ok((_, bytes)) = store.read_version(newest.id())
            && let Ok(model) = self.plugins.load(&bytes)
            && check_stored_spec(&newest.id(), model.spec(), &spec).is_ok()
        {
            set.ensemble = Some((
                Served {
                    snapshot: model.snapshot(),
                    version: newest.id(),
                },
                config.serving.ensemble_offline_weight,
            ));
        }
        let serving = Arc::new(ArcSwap::from_pointee(set));
        let classification = spec.task == refit_plugin::Task::Classification;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let shared = serving.clone();
        let thread_spec = spec.clone();
        let when_full = config.online.when_full;
        #[cfg(feature = "watch")]
        let watch = self.watch.clone();
        let thread = std::thread::Builder::new()
            .name("refit-agent".into())
            .spawn(move || {
                let system = System::new();
                system.block_on(async move {
                    let server = Server::new(shared, &config, classification).start();
                    // The Registry's fsyncs get a thread of their own, so they
                    // never hold up Ingest.
                    let registry_arbiter = Arbiter::new();
                    let (retention, s1) = (config.online.checkpoint_retention, server.clone());
                    let registry =
                        Registry::start_in_arbiter(&registry_arbiter.handle(), move |_| {
                            Registry::new(store, retention, active, skipped, s1)
                        });
                    let ingest_ctx = Context::<Ingest>::new();
                    let ingest = ingest_ctx.address();
                    // Trainer and Drift each get a thread of their own; Ingest
                    // and Server share the system thread.
                    let arbiter = Arbiter::new();
                    let drift_arbiter = Arbiter::new();
                    let (i2, r2, s2) = (ingest.clone(), registry.clone(), server.clone());
                    let trainer = Trainer::start_in_arbiter(&arbiter.handle(), move |_| {
                        Trainer::new(setup, i2, r2, s2)
                    });
                    let (features, drift_config) =
                        (thread_spec.features.clone(), config.drift.clone());
                    let (t2, s3) = (trainer.clone(), server.clone());
                    let drift = Drift::start_in_arbiter(&drift_arbiter.handle(), move |_| {
                        Drift::new(features, categorical, drift_config, t2, s3)
                    });
                    // Before any batch can reach the Trainer.
                    trainer.do_send(ConnectDrift(drift.clone()));
                    // The resumed version's reference, before any batch.
                    if let Some(r) = stored_reference {
                        drift.do_send(UseStoredReference(r));
                    }
                    ingest_ctx.run(Ingest::new(
                        thread_spec,
                        input,
                        schema,
                        learned,
                        &config,
                        log,
                        clock,
                        drift.clone(),
                    ));
                    #[cfg(feature = "watch")]
                    if let Some(path) = watch {
                        Watcher::new(
                            path,
                            config.clone(),
                            ingest.clone(),
                            drift.clone(),
                            trainer.clone(),
                            server.clone(),
                        )
                        .start_watching();
                    }
                    let _ = tx.send(Addrs {
                        ingest,
                        drift,
                        trainer,
                        registry,
                        server,
                        system: System::current(),
                        arbiter,
                        drift_arbiter,
                        registry_arbiter,
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
                input,
                when_full,
                flush_timeout: self.flush_timeout,
                store: host_store,
                plugins: self.plugins,
                thread: Mutex::new(Some(thread)),
                stopped: AtomicBool::new(false),
                requests: std::sync::atomic::AtomicU64::new(1),
            }),
        })
    }
}

/// Stores batch-model coefficients as the next offline version.
fn import_coefficients(
    store: &Store,
    c: &refit_linear::Coefficients,
    spec: &ModelSpec,
    params: &refit_plugin::Params,
) -> Result<VersionId, AgentError> {
    if c.kind != spec.kind {
        return Err(AgentError::InvalidArgument(format!(
            "the coefficient file is for a `{}` model, the config asks for `{}`",
            c.kind, spec.kind
        )));
    }
    c.check_features(&spec.features)?;
    let params: refit_linear::LinearParams = refit_plugin::parse_params(&spec.kind, params)?;
    let model = refit_linear::LinearModel::from_coefficients(c, params)?;
    let meta = crate::registry::VersionMeta {
        parent: None,
        samples_seen: 0,
        learning_rate: 0.0,
        severity: Severity::Stable,
        metrics: None,
        reason: "import".into(),
    };
    let written = store.write_version(
        crate::registry::Mode::Offline,
        &refit_plugin::Model::save(&model)?,
        meta,
        None,
        None,
    )?;
    tracing::info!(version = %written.entry.id(), "coefficients imported as an offline version");
    Ok(written.entry.id())
}

/// Refuses a stored model whose kind, task or features differ from the
/// configured ones.
fn check_stored_spec(
    version: &VersionId,
    stored: &ModelSpec,
    configured: &ModelSpec,
) -> Result<(), AgentError> {
    let problem = if stored.kind != configured.kind {
        format!(
            "is a `{}` model, the config asks for `{}`",
            stored.kind, configured.kind
        )
    } else if stored.task != configured.task {
        format!(
            "is for {}, the config asks for {}",
            stored.task, configured.task
        )
    } else if stored.features != configured.features {
        stored
            .features
            .iter()
            .zip(&configured.features)
            .position(|(a, b)| a != b)
            .map_or_else(
                || {
                    format!(
                        "has {} features, the config {}",
                        stored.features.len(),
                        configured.features.len()
                    )
                },
                |i| {
                    format!(
                        "has feature `{}` in column {}, the config `{}`",
                        stored.features[i],
                        i + 1,
                        configured.features[i]
                    )
                },
            )
    } else {
        return Ok(());
    };
    Err(AgentError::Incompatible {
        version: *version,
        problem,
    })
}

struct Addrs {
    ingest: Addr<Ingest>,
    drift: Addr<Drift>,
    trainer: Addr<Trainer>,
    registry: Addr<Registry>,
    server: Addr<Server>,
    system: System,
    arbiter: Arbiter,
    drift_arbiter: Arbiter,
    registry_arbiter: Arbiter,
}

struct Inner {
    addrs: Addrs,
    serving: Arc<ArcSwap<ServingSet>>,
    /// Ids of keyed predictions.
    requests: std::sync::atomic::AtomicU64,
    spec: ModelSpec,
    /// What the model takes, and its row's coordinates.
    input: (InputKind, usize),
    when_full: WhenFull,
    flush_timeout: Duration,
    /// Read access to the model store (the Registry actor writes).
    store: Store,
    plugins: PluginRegistry,
    /// The system thread, taken once by shutdown.
    thread: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    stopped: AtomicBool,
}

/// The embedded agent: a cheap, cloneable, `Send + Sync` handle.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("spec", &self.inner.spec)
            .field("serving", &self.inner.serving.load().champion.version)
            .field("stopped", &self.inner.stopped.load(Ordering::Acquire))
            .finish()
    }
}

/// The offline member blended into champion answers, if any.
fn ensemble_of(set: &ServingSet) -> Option<VersionId> {
    set.ensemble
        .as_ref()
        .filter(|(offline, w)| *w > 0.0 && offline.version != set.champion.version)
        .map(|(offline, _)| offline.version)
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
            #[cfg(feature = "watch")]
            watch: None,
            features: None,
            plugins: crate::plugins::builtin(),
            flush_timeout: Duration::from_secs(60),
            clock: crate::clock::system(),
            resume: true,
            warm_start: None,
            storage: crate::storage::disk(),
        }
    }

    /// Starts an agent whose config lists its features.
    pub fn start(config: Config) -> Result<Self, AgentError> {
        Self::builder(config).start()
    }

    /// Starts an agent from a config file (which lists its features) and
    /// hot-reloads that file. (Cargo feature `watch`.)
    #[cfg(feature = "watch")]
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
        self.ingest_rows(|| Rows::Dense(rows.to_vec()), labels)
    }

    /// Feeds labelled sparse rows to a sparse model (see
    /// [`Agent::record_click`] for click events); as [`Agent::ingest`]
    /// otherwise.
    pub fn ingest_sparse(
        &self,
        rows: &SparseRows,
        labels: &[f32],
    ) -> Result<IngestAck, AgentError> {
        self.ingest_rows(|| Rows::Sparse(rows.clone()), labels)
    }

    /// Sends the rows `rows` makes (one copy per attempt: a refused
    /// message is gone) until Ingest takes them or refuses for good.
    fn ingest_rows(
        &self,
        rows: impl Fn() -> Rows,
        labels: &[f32],
    ) -> Result<IngestAck, AgentError> {
        self.live()?;
        loop {
            let msg = IngestSamples {
                rows: rows(),
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
        self.dense_only()?;
        let serving = self.inner.serving.load();
        let x = Batch::new(rows, self.inner.spec.width())?;
        Ok(Prediction {
            values: serving.champion_predict(&x)?,
            version: serving.champion.version,
            variant: Variant::Champion,
            ensemble: ensemble_of(&serving),
            request_id: None,
        })
    }

    /// Predicts sparse rows (for a sparse model) with the serving snapshot,
    /// blended with the ensemble's offline member when there is one.
    pub fn predict_sparse(&self, rows: &SparseRows) -> Result<Prediction, AgentError> {
        self.require_input(InputKind::Sparse)?;
        let dim = self.inner.input.1;
        if rows.dim != dim {
            return Err(PluginError::BadSparse(format!(
                "the rows have {} coordinates, the model {dim}",
                rows.dim
            ))
            .into());
        }
        let x = rows.batch()?;
        let serving = self.inner.serving.load();
        Ok(Prediction {
            values: serving.champion_with(|p| p.predict_sparse(&x))?,
            version: serving.champion.version,
            variant: Variant::Champion,
            ensemble: ensemble_of(&serving),
            request_id: None,
        })
    }

    /// What the model takes (dense rows or sparse ones) and the
    /// coordinates of a row (its features, or its hashed coordinates).
    pub fn input(&self) -> (InputKind, usize) {
        self.inner.input
    }

    /// Refuses rows of kind `got` when the model takes the other kind,
    /// naming both.
    pub(crate) fn require_input(&self, got: InputKind) -> Result<(), AgentError> {
        let expected = self.inner.input.0;
        if expected == got {
            Ok(())
        } else {
            Err(refit_plugin::wrong_input(&self.inner.spec, expected, got).into())
        }
    }

    /// Refuses dense rows for a sparse model.
    fn dense_only(&self) -> Result<(), AgentError> {
        self.require_input(InputKind::Dense)
    }

    /// Predicts for a caller-given key (user or query id) under the A/B
    /// test: the key is assigned, stickily, to the challenger when it hashes
    /// into its traffic share, else to the champion; the shadow (if any)
    /// scores the rows too, never answering. Report the outcomes with
    /// [`Agent::feedback`] and the returned `request_id`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
    /// let p = agent.predict_keyed("user-7", &[0.5, 1.0])?;
    /// assert_eq!(p.variant, refit::serving::Variant::Champion); // no challenger yet
    /// agent.feedback(p.request_id.unwrap(), &[1.0])?;
    /// assert_eq!(agent.ab_stats()?.variants[0].samples, 1);
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn predict_keyed(&self, key: &str, rows: &[f32]) -> Result<Prediction, AgentError> {
        self.live()?;
        self.dense_only()?;
        let serving = self.inner.serving.load();
        let x = Batch::new(rows, self.inner.spec.width())?;
        let (variant, version, values) = match &serving.challenger {
            Some((challenger, share))
                if crate::serving::assign(key, *share) == Variant::Challenger =>
            {
                (
                    Variant::Challenger,
                    challenger.version,
                    challenger.snapshot.predict(&x)?,
                )
            }
            _ => (
                Variant::Champion,
                serving.champion.version,
                serving.champion_predict(&x)?,
            ),
        };
        let mut scored = vec![(variant, version, values.clone())];
        if let Some(shadow) = &serving.shadow {
            scored.push((
                Variant::Shadow,
                shadow.version,
                shadow.snapshot.predict(&x)?,
            ));
        }
        let request_id = self
            .inner
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner
            .addrs
            .server
            .do_send(RecordKeyed { request_id, scored });
        Ok(Prediction {
            values,
            version,
            variant,
            ensemble: (variant == Variant::Champion)
                .then(|| ensemble_of(&serving))
                .flatten(),
            request_id: Some(request_id),
        })
    }

    /// Reports the outcomes (one label per predicted row) of a keyed
    /// prediction; they count for the variant that answered (and the
    /// shadow), and the guardrail may demote a worse challenger.
    pub fn feedback(&self, request_id: u64, labels: &[f32]) -> Result<usize, AgentError> {
        self.live()?;
        block(self.inner.addrs.server.send(Feedback {
            request_id,
            labels: labels.to_vec(),
        }))?
    }

    /// A/B counters and per-variant outcome metrics.
    pub fn ab_stats(&self) -> Result<AbStats, AgentError> {
        self.live()?;
        block(self.inner.addrs.server.send(GetAbStats))
    }

    /// Loads a stored version for a serving role, checked like a rollback.
    /// The stored `version`, loaded and checked against the configured
    /// model.
    fn load_stored(&self, version: VersionId) -> Result<Box<dyn Model>, AgentError> {
        let (_, bytes) = self.inner.store.read_version(version)?;
        let model = self
            .inner
            .plugins
            .load(&bytes)
            .map_err(|source| AgentError::Unreadable { version, source })?;
        check_stored_spec(&version, model.spec(), &self.inner.spec)?;
        Ok(model)
    }

    fn served(&self, version: VersionId) -> Result<Served, AgentError> {
        let model = self.load_stored(version)?;
        Ok(Served {
            snapshot: model.snapshot(),
            version,
        })
    }

    /// Starts an A/B test: the stored `version` answers keys that hash into
    /// `share` (0 to 1) of the traffic. Replaces any challenger.
    pub fn set_challenger(&self, version: VersionId, share: f64) -> Result<(), AgentError> {
        self.live()?;
        if !(0.0..=1.0).contains(&share) {
            return Err(AgentError::InvalidArgument(format!(
                "challenger share {share} must be in [0, 1]"
            )));
        }
        let served = self.served(version)?;
        block(
            self.inner
                .addrs
                .server
                .send(SetServingRole::Challenger(Some((served, share)))),
        )
    }

    /// Ends the A/B test without a change of champion.
    pub fn clear_challenger(&self) -> Result<(), AgentError> {
        self.live()?;
        block(
            self.inner
                .addrs
                .server
                .send(SetServingRole::Challenger(None)),
        )
    }

    /// Scores keyed requests with the stored `version` too, never returning
    /// its answers (`None` removes the shadow).
    pub fn set_shadow(&self, version: Option<VersionId>) -> Result<(), AgentError> {
        self.live()?;
        let served = version.map(|v| self.served(v)).transpose()?;
        block(self.inner.addrs.server.send(SetServingRole::Shadow(served)))
    }

    /// Makes the challenger the champion (as a rollback to its version:
    /// served for all traffic, online training continues from it) and ends
    /// the A/B test.
    pub fn promote_challenger(&self) -> Result<VersionEntry, AgentError> {
        self.live()?;
        let Some((challenger, _)) = self.inner.serving.load().challenger.clone() else {
            return Err(AgentError::NoChallenger);
        };
        let entry = self.rollback(challenger.version)?;
        block(
            self.inner
                .addrs
                .server
                .send(SetServingRole::ChampionFromChallenger),
        )?;
        Ok(entry)
    }

    /// Counters and metrics.
    pub fn stats(&self) -> Result<Stats, AgentError> {
        self.live()?;
        Ok(Stats {
            ingest: block(self.inner.addrs.ingest.send(GetIngestStats))?,
            trainer: block(self.inner.addrs.trainer.send(GetTrainerStats))?,
            registry: block(self.inner.addrs.registry.send(GetRegistryStats))?,
            drift: block(self.inner.addrs.drift.send(GetDriftReport))?,
            serving_version: self.inner.serving.load().champion.version,
        })
    }

    /// Makes a kept version (an online checkpoint or an offline version)
    /// active: it is served at once, online training continues from it, and
    /// the next checkpoint records it as its parent. The file is checked
    /// against the manifest's checksum first, and a model of another kind or
    /// with other features is refused; either way nothing changes on error.
    pub fn rollback(&self, version: VersionId) -> Result<VersionEntry, AgentError> {
        self.live()?;
        let model = self.load_stored(version)?;
        let (entry, _) = block(self.inner.addrs.registry.send(Activate(version)))??;
        block(self.inner.addrs.trainer.send(ResumeFrom { model, version }))?;
        if let Some(r) = self.inner.store.drift_reference(&entry) {
            block(self.inner.addrs.drift.send(UseStoredReference(r)))??;
        }
        self.sync()?;
        Ok(entry)
    }

    /// Trains a fresh model on a full data set (`rows` row-major, the
    /// agent's features): `[offline]` epochs over the rows but the newest
    /// `offline.holdout` share, which gives the version's metric. The model
    /// is saved as the next offline version and becomes active: it is
    /// served, online learning continues from it, and the drift reference is
    /// re-based on its training rows. Online updates wait meanwhile.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// let s = refit::demo::churn(1, 5_000);
    /// let agent = refit::Agent::builder(config).features(s.features.clone()).start()?;
    /// let report = agent.train_offline(&s.x, &s.y)?;
    /// assert_eq!(report.version.to_string(), "v1");
    /// assert_eq!(agent.predict(&s.x[..8])?.version, report.version);
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn train_offline(&self, rows: &[f32], labels: &[f32]) -> Result<OfflineReport, AgentError> {
        self.dense_only()?;
        self.train_offline_rows(Rows::Dense(rows.to_vec()), labels)
    }

    /// [`Agent::train_offline`] for a sparse model (e.g. a day of hashed
    /// click events): the next offline version, e.g.
    /// `models/ctr_offline/ctr_model_v1.refit`.
    pub fn train_offline_sparse(
        &self,
        rows: SparseRows,
        labels: &[f32],
    ) -> Result<OfflineReport, AgentError> {
        self.train_offline_rows(Rows::Sparse(rows), labels)
    }

    fn train_offline_rows(&self, rows: Rows, labels: &[f32]) -> Result<OfflineReport, AgentError> {
        self.live()?;
        let report = block(self.inner.addrs.trainer.send(TrainOffline {
            rows,
            labels: labels.to_vec(),
            reason: "manual".into(),
        }))??;
        self.sync()?;
        Ok(report)
    }

    /// The versions in the store, offline first, with their active marker.
    pub fn versions(&self) -> Result<Vec<Listed>, AgentError> {
        Ok(self.inner.store.list()?)
    }

    /// Replaces the drift reference with `rows` (row-major, the agent's
    /// features), e.g. the data a batch model was trained on. PSI bins are
    /// learned from it and the current window starts empty.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
    /// agent.set_reference(&[0.0, 1.0, 0.5, 2.0, 1.0, 3.0])?;
    /// assert!(agent.set_reference(&[0.0, 1.0, 0.5]).is_err()); // not whole rows
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn set_reference(&self, rows: &[f32]) -> Result<(), AgentError> {
        self.live()?;
        block(self.inner.addrs.drift.send(SetReference {
            rows: rows.to_vec(),
            source: ReferenceSource::Host,
        }))??;
        Ok(())
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
        self.addrs.drift_arbiter.stop();
        self.addrs.registry_arbiter.stop();
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
