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

mod ab;
mod builder;
mod cached;
mod fleet;
mod named;
mod versions;

pub use builder::{AgentBuilder, WarmStart};
pub use cached::CachedPredictor;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix::prelude::*;
use arc_swap::ArcSwap;
use refit_plugin::{Batch, InputKind, Model, ModelSpec, PluginRegistry};
use refit_plugin_kit::preprocess::Preprocessor;
use serde::Serialize;

use crate::actors::checkpointer::{Checkpointer, CheckpointerPeers};
use crate::actors::drift::{Drift, DriftPeers};
use crate::actors::ingest::Ingest;
use crate::actors::serving::ServingActor;
pub use crate::actors::trainer::RETRAIN_CHECK;
use crate::actors::trainer::{FreshModel, Trainer, TrainerPeers, TrainerSetup};
#[cfg(feature = "watch")]
use crate::actors::watcher::Watcher;
use crate::clock::Clock;
use crate::config::{Config, WhenFull};
pub use crate::drift::Severity;
use crate::drift::reference::ReferenceSource;
pub use crate::error::AgentError;
use crate::events::AbStats;
use crate::events::OfflineReport;
use crate::events::{
    CheckpointStats, DriftReport, Event, IngestAck, IngestStats, ServingStats, TrainerStats,
};
use crate::messages::{
    Barrier, ConnectDrift, FlushBuffer, GetCheckpointStats, GetDriftReport, GetIngestStats,
    GetServingStats, GetTrainerStats, IngestSamples, Replay, SetReference, Subscribe,
};
use crate::messages::{
    Feedback, GetAbStats, RecordKeyed, ResumeFrom, SetServingRole, StartTraining, TrainOffline,
    UseStoredReference,
};
use crate::rows::{Rows, SparseRows};
use crate::sample_log::SampleLog;
use crate::serving::{Served, ServingSet, Variant};
use crate::store::{Listed, Store, VersionEntry, VersionId};

/// A batch of predictions and the model version that made them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// One value per row: P(class 1), the regression value, or for a
    /// multiclass model the index of the likeliest class (its name is
    /// `spec().classes[index]`).
    pub values: Vec<f32>,
    /// A multiclass model's class probabilities, row-major, one per class
    /// in `spec().classes` order (none for other models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f32>>,
    /// The version of the model that answered (`online_000`: not yet
    /// trained).
    pub version: VersionId,
    /// Champion or challenger.
    pub variant: Variant,
    /// The offline version blended in, when the ensemble is on.
    pub ensemble: Option<VersionId>,
    /// The id to report the outcome with ([`Agent::feedback`]); keyed
    /// predictions only. Random (53 bits from a cryptographically secure
    /// generator), so one caller cannot guess another's. None also when the
    /// serving actor's mailbox is full (65,536 messages): the prediction is
    /// answered, but its outcome cannot be reported.
    pub request_id: Option<u64>,
}

/// The likeliest class of each row of `probabilities` (row-major,
/// `classes` per row), and the probabilities.
pub(crate) fn top_classes(probabilities: Vec<f32>, classes: usize) -> (Vec<f32>, Option<Vec<f32>>) {
    let top = probabilities
        .chunks_exact(classes)
        .map(|p| crate::metrics::argmax(p) as f32)
        .collect();
    (top, Some(probabilities))
}

/// The unread events a subscriber's channel holds by default; when it is
/// full, the oldest is dropped.
pub const EVENT_CAPACITY: usize = 10_000;

/// Counters and metrics of a running agent.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Ingest counters.
    pub ingest: IngestStats,
    /// Training counters and progressive metrics.
    pub trainer: TrainerStats,
    /// Checkpoint counters.
    pub registry: CheckpointStats,
    /// The latest drift report (none before the first batch).
    pub drift: Option<DriftReport>,
    /// The serving actor's counters (events dropped for slow subscribers).
    pub serving: ServingStats,
    /// Version being served.
    pub serving_version: VersionId,
    /// Fleet mode: this replica's role and what every replica serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<crate::events::FleetStats>,
}

struct Addrs {
    ingest: Addr<Ingest>,
    drift: Addr<Drift>,
    trainer: Addr<Trainer>,
    registry: Addr<Checkpointer>,
    server: Addr<ServingActor>,
    system: System,
    /// The Trainer's (and Drift's) and the Checkpointer's threads, taken
    /// and joined once by [`Inner::stop`].
    arbiters: Mutex<Vec<Arbiter>>,
}

struct Inner {
    addrs: Addrs,
    serving: Arc<ArcSwap<ServingSet>>,
    spec: ModelSpec,
    /// What the model takes, and its row's coordinates.
    input: (InputKind, usize),
    when_full: WhenFull,
    flush_timeout: Duration,
    /// Read access to the model store (the Checkpointer actor writes).
    store: Store,
    /// `[feedback] enabled`: predictions keep their rows for delayed labels.
    keep_rows: bool,
    /// The agent's clock (when a prediction was made).
    clock: Arc<dyn crate::clock::Clock>,
    /// The store's writer lock, released once the actors stopped.
    store_lock: Mutex<Option<crate::store::StoreLock>>,
    plugins: PluginRegistry,
    /// The system thread, taken once by shutdown.
    thread: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    stopped: AtomicBool,
    /// Fleet mode: the membership, left first when the agent stops.
    #[cfg(feature = "fleet")]
    fleet: Mutex<Option<crate::fleet::Fleet>>,
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
        AgentBuilder::new(config)
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

    /// The version the champion answers with: one atomic load, no actor is
    /// asked (what a health probe reads). Fails once the agent stopped.
    pub fn serving_version(&self) -> Result<VersionId, AgentError> {
        self.live()?;
        Ok(self.inner.serving.load().champion.version)
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

    /// [`Agent::ingest`] under the caller's `key` for this call (a UUID,
    /// say): in fleet mode, a call retried with the same key within
    /// JetStream's duplicate window (two minutes) is stored once, also
    /// when the first try was stored but its acknowledgement was lost.
    /// Without a fleet a refused call is never stored, and the key is not
    /// needed (nor kept).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
    /// let ack = agent.ingest_once("3f1c-call-1", &[0.5, 1.0], &[1.0])?;
    /// assert_eq!(ack.accepted, 1);
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn ingest_once(
        &self,
        key: &str,
        rows: &[f32],
        labels: &[f32],
    ) -> Result<IngestAck, AgentError> {
        self.ingest_rows_once(|| Rows::Dense(rows.to_vec()), labels, Some(key))
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
    pub(crate) fn ingest_rows(
        &self,
        rows: impl Fn() -> Rows,
        labels: &[f32],
    ) -> Result<IngestAck, AgentError> {
        self.ingest_rows_once(rows, labels, None)
    }

    /// [`Agent::ingest_rows`] under the caller's idempotency key.
    pub(crate) fn ingest_rows_once(
        &self,
        rows: impl Fn() -> Rows,
        labels: &[f32],
        key: Option<&str>,
    ) -> Result<IngestAck, AgentError> {
        self.live()?;
        loop {
            let msg = IngestSamples {
                rows: rows(),
                labels: labels.to_vec(),
                idempotency_key: key.map(str::to_owned),
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
    /// training. Under `[feedback] enabled` the answer has a `request_id`
    /// whose labels [`Agent::feedback`] turns into training samples (the
    /// allocation-free [`Agent::predict_into`] keeps nothing).
    pub fn predict(&self, rows: &[f32]) -> Result<Prediction, AgentError> {
        self.dense_only()?;
        let serving = self.inner.serving.load();
        let x = Batch::new(rows, self.inner.spec.width())?;
        let (values, probabilities) = if self.inner.spec.is_multiclass() {
            top_classes(serving.champion_proba(&x)?, self.inner.spec.classes.len())
        } else {
            (serving.champion_predict(&x)?, None)
        };
        let version = serving.champion.version;
        // Under `[feedback] enabled` the rows wait for their labels.
        let request_id = if self.inner.keep_rows {
            self.record(vec![(Variant::Champion, version, values.clone())], rows)
        } else {
            None
        };
        Ok(Prediction {
            values,
            probabilities,
            version,
            variant: Variant::Champion,
            ensemble: ensemble_of(&serving),
            request_id,
        })
    }

    /// Predicts `rows` (row-major) into `out`, one value per row, with the
    /// serving snapshot: [`Agent::predict`] without allocating (the same
    /// values and checks). Returns the version that answered.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
    /// let mut out = [0.0f32; 2];
    /// let version = agent.predict_into(&[0.5, 1.0, -1.0, 0.0], &mut out)?;
    /// assert_eq!(out.to_vec(), agent.predict(&[0.5, 1.0, -1.0, 0.0])?.values);
    /// assert_eq!(version.to_string(), "online_000");
    /// // Two rows of two features need two answers.
    /// assert!(agent.predict_into(&[0.5, 1.0, -1.0, 0.0], &mut [0.0; 3]).is_err());
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn predict_into(&self, rows: &[f32], out: &mut [f32]) -> Result<VersionId, AgentError> {
        self.dense_only()?;
        cached::predict_rows_into(&self.inner.serving.load(), rows, self.inner.input.1, out)
    }

    /// A per-thread handle for the hottest prediction loops: it predicts
    /// into a caller's buffer like [`Agent::predict_into`] and keeps the
    /// serving snapshot between calls (see [`CachedPredictor`]).
    pub fn cached_predictor(&self) -> CachedPredictor {
        CachedPredictor::new(self.clone(), self.inner.serving.clone())
    }

    /// Predicts sparse rows (for a sparse model) with the serving snapshot,
    /// blended with the ensemble's offline member when there is one.
    pub fn predict_sparse(&self, rows: &SparseRows) -> Result<Prediction, AgentError> {
        self.require_input(InputKind::Sparse)?;
        let x = rows.batch_for(self.inner.input.1)?;
        let serving = self.inner.serving.load();
        Ok(Prediction {
            values: serving.champion_with(|p| p.predict(x.into()))?,
            probabilities: None,
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
    pub(crate) fn dense_only(&self) -> Result<(), AgentError> {
        self.require_input(InputKind::Dense)
    }

    /// Counters and metrics.
    pub fn stats(&self) -> Result<Stats, AgentError> {
        self.live()?;
        Ok(Stats {
            ingest: block(self.inner.addrs.ingest.send(GetIngestStats))?,
            trainer: block(self.inner.addrs.trainer.send(GetTrainerStats))?,
            registry: block(self.inner.addrs.registry.send(GetCheckpointStats))?,
            drift: block(self.inner.addrs.drift.send(GetDriftReport))?,
            serving: block(self.inner.addrs.server.send(GetServingStats))?,
            serving_version: self.inner.serving.load().champion.version,
            fleet: self.fleet_stats(),
        })
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

    /// A channel of [`Event`]s from now on, holding up to
    /// [`EVENT_CAPACITY`] unread events (see
    /// [`Agent::subscribe_with_capacity`]).
    pub fn subscribe(&self) -> Result<crossbeam_channel::Receiver<Event>, AgentError> {
        self.subscribe_with_capacity(EVENT_CAPACITY)
    }

    /// [`Agent::subscribe`] with a channel of `capacity` events (at least
    /// 1). A subscriber that does not keep up loses its oldest events,
    /// counted in `stats().serving.events_dropped`: it never grows memory
    /// without bound nor slows serving down.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// config.online.min_samples_per_update = 2;
    /// config.online.cold_start = false;
    /// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
    /// let events = agent.subscribe_with_capacity(1)?;
    /// for _ in 0..3 {
    ///     agent.ingest(&[0.0, 1.0, 1.0, 0.0], &[0.0, 1.0])?;
    ///     agent.sync()?;
    /// }
    /// assert_eq!(events.len(), 1);
    /// assert!(agent.stats()?.serving.events_dropped > 0);
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn subscribe_with_capacity(
        &self,
        capacity: usize,
    ) -> Result<crossbeam_channel::Receiver<Event>, AgentError> {
        self.live()?;
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        block(
            self.inner
                .addrs
                .server
                .send(Subscribe { tx, rx: rx.clone() }),
        )?;
        Ok(rx)
    }

    /// Trains on every buffered sample and returns when the resulting model
    /// is served and written as a checkpoint.
    pub fn flush(&self) -> Result<(), AgentError> {
        self.live()?;
        block(self.inner.addrs.ingest.send(FlushBuffer))?;
        self.barrier(true, true)
    }

    /// Waits until every update already started (not the buffer) is
    /// trained and served, and every checkpoint already handed to the
    /// Checkpointer is written (newer served updates may wait for the
    /// cadence; [`Agent::flush`] writes them).
    pub fn sync(&self) -> Result<(), AgentError> {
        self.barrier(false, true)
    }

    /// Waits until every update already started (not the buffer) is
    /// trained and served; unlike [`Agent::sync`], not for any checkpoint
    /// to be written. What a stream that predicts each chunk with the
    /// newest model needs between chunks (`refit run`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// config.online.min_samples_per_update = 2;
    /// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
    /// agent.ingest(&[0.0, 1.0, 1.0, 0.0], &[0.0, 1.0])?; // starts an update
    /// agent.wait_served()?;
    /// assert_eq!(agent.predict(&[0.5, 0.5])?.version.to_string(), "online_001");
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn wait_served(&self) -> Result<(), AgentError> {
        self.barrier(false, false)
    }

    fn barrier(&self, persist: bool, written: bool) -> Result<(), AgentError> {
        self.live()?;
        let (reply, rx) = crossbeam_channel::bounded(1);
        // Through Ingest: after every batch it handed on, the replayed
        // ones at start included.
        block(self.inner.addrs.ingest.send(Barrier {
            reply,
            persist,
            written,
        }))?;
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
        // The lease is given up first: another replica trains at once.
        #[cfg(feature = "fleet")]
        drop(self.fleet.lock().ok().and_then(|mut f| f.take()));
        let arbiters = match self.addrs.arbiters.lock() {
            Ok(mut a) => std::mem::take(&mut *a),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for arbiter in &arbiters {
            arbiter.stop();
        }
        self.addrs.system.stop();
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the agent thread panicked");
        }
        // Every thread the agent started ends before `stop` returns.
        for arbiter in arbiters {
            if arbiter.join().is_err() {
                tracing::error!("an actor thread panicked");
            }
        }
        // Nothing writes the store any more: another writer may start.
        match self.store_lock.lock() {
            Ok(mut held) => drop(held.take()),
            Err(poisoned) => drop(poisoned.into_inner().take()),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone without shutdown: stop the threads.
        self.stop();
    }
}
