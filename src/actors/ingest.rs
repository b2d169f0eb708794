use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use refit_plugin::{Batch, InputKind, ModelSpec, PluginError, validate};
use refit_plugin_kit::preprocess::Preprocessor;

use crate::clock::Clock;
use crate::config::{Config, Durability, OnlineConfig, SamplesConfig};
use crate::error::AgentError;
use crate::events::{IngestAck, IngestStats, Trigger};
use crate::messages::{
    ConfigChanged, FlushBuffer, GetIngestStats, IngestSamples, ObserveBatch, Replay, TrainedCount,
};
use crate::rows::Rows;
use crate::sample_log::SampleLog;

/// A call logged under `durability = "batch"`, waiting for the group
/// commit.
struct Waiting {
    rows: Rows,
    labels: Vec<f32>,
    reply: futures::channel::oneshot::Sender<Result<IngestAck, AgentError>>,
}

/// Validates, counts and buffers samples; emits batches for training.
pub struct Ingest {
    spec: ModelSpec,
    /// The configured preprocessing, used only for its input checks (width,
    /// no infinity, NaN only where imputed): the same checks the model runs.
    schema: Preprocessor,
    online: OnlineConfig,
    drift: Recipient<ObserveBatch>,
    /// What the model takes: dense rows, or sparse ones over `dim`
    /// coordinates.
    input: InputKind,
    dim: usize,
    rows: Rows,
    labels: Vec<f32>,
    accepted: u64,
    /// Samples the starting model had learned (its stored count), for the
    /// cold-start schedule.
    learned_before: u64,
    handed: u64,
    done: u64,
    refusals: u64,
    positive: u64,
    negative: u64,
    clock: Arc<dyn Clock>,
    /// When the last batch was emitted (ms since the epoch, by `clock`).
    last_update_ms: u64,
    tick: Option<SpawnHandle>,
    /// Where accepted samples are logged (none: `samples.enabled = false`).
    log: Option<SampleLog>,
    /// The log number of the first sample this run accepted (replayed or
    /// ingested); accepted samples are numbered on from it.
    log_base: u64,
    /// Calls logged and waiting for their group commit.
    waiting: Vec<Waiting>,
    waiting_rows: u64,
    commit_scheduled: bool,
    samples: SamplesConfig,
}

impl Ingest {
    /// An ingest actor for `spec` under `config`, checking rows against
    /// `schema` (dense) or the model's `dim` coordinates (sparse), logging
    /// accepted samples to `log`, and sending batches to `drift`; the model
    /// it feeds has learned `learned` samples before.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: ModelSpec,
        input: (InputKind, usize),
        schema: Preprocessor,
        learned: u64,
        config: &Config,
        (log, log_base): (Option<SampleLog>, u64),
        clock: Arc<dyn Clock>,
        drift: Recipient<ObserveBatch>,
    ) -> Self {
        Self {
            spec,
            schema,
            online: config.online.clone(),
            drift,
            input: input.0,
            dim: input.1,
            rows: Rows::empty(input.0, input.1),
            labels: Vec::new(),
            accepted: 0,
            learned_before: learned,
            handed: 0,
            done: 0,
            refusals: 0,
            positive: 0,
            negative: 0,
            last_update_ms: clock.now_ms(),
            clock,
            tick: None,
            log,
            log_base,
            waiting: Vec::new(),
            waiting_rows: 0,
            commit_scheduled: false,
            samples: config.samples.clone(),
        }
    }

    fn pending(&self) -> u64 {
        self.accepted - self.done
    }

    /// Buffered samples that start the next update (the schedule of
    /// [`OnlineConfig::update_size`]).
    fn threshold(&self) -> usize {
        self.online.update_size(self.learned_before + self.handed)
    }

    /// Emits an update when the buffer has reached the threshold.
    fn maybe_emit(&mut self) {
        if self.labels.len() >= self.threshold() {
            self.emit(Trigger::Threshold);
        }
    }

    fn check(&self, msg: &IngestSamples) -> Result<(), PluginError> {
        let rows = match (&msg.rows, self.input) {
            (Rows::Dense(v), InputKind::Dense) => {
                let x = Batch::new(v, self.spec.width())?;
                self.schema.check_batch(&x)?;
                x.rows()
            }
            (Rows::Sparse(s), InputKind::Sparse) => s.batch_for(self.dim)?.rows(),
            (rows, expected) => return Err(rows.mismatch(&self.spec, expected)),
        };
        validate::labels(&self.spec, rows, &msg.labels)
    }

    fn emit(&mut self, trigger: Trigger) -> usize {
        let n = self.labels.len();
        if n == 0 {
            return 0;
        }
        let rows = self.rows.take();
        let labels = std::mem::take(&mut self.labels);
        tracing::info!(
            new_samples = n,
            accepted = self.accepted,
            ?trigger,
            "training triggered"
        );
        self.drift.do_send(ObserveBatch {
            rows,
            labels,
            first_sample: self.handed,
            log_end: self.log_base + self.handed + n as u64,
            trigger,
        });
        self.handed += n as u64;
        self.last_update_ms = self.clock.now_ms();
        if let Some(log) = &mut self.log {
            match log.apply_retention(self.samples.max_age.0, self.samples.max_bytes) {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!(segments = removed.len(), "sample log retention")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sample log retention"),
            }
        }
        n
    }
}

impl Ingest {
    /// (Re)starts the tick that applies `update_frequency`.
    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.tick.take() {
            ctx.cancel_future(h);
        }
        let tick = self
            .online
            .update_frequency
            .0
            .min(Duration::from_millis(100));
        self.tick = Some(ctx.run_interval(tick, move |act, _| {
            let elapsed = act.clock.now_ms().saturating_sub(act.last_update_ms);
            if !act.labels.is_empty()
                && u128::from(elapsed) >= act.online.update_frequency.0.as_millis()
            {
                act.emit(Trigger::Schedule);
            }
        }));
    }
}

impl Actor for Ingest {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.schedule(ctx);
    }
}

impl Ingest {
    /// Samples accepted, waiting for their group commit, or both.
    fn pending_with_waiting(&self) -> u64 {
        self.pending() + self.waiting_rows
    }

    /// Takes logged (and, as `durability` says, synced) samples into the
    /// training buffer; may start an update.
    fn accept(&mut self, rows: &Rows, labels: &[f32]) -> Result<IngestAck, AgentError> {
        if let Err(kind) = self.rows.append(rows) {
            // `check` refused other kinds already.
            return Err(refit_plugin::wrong_input(&self.spec, self.input, kind).into());
        }
        let n = labels.len();
        self.labels.extend_from_slice(labels);
        self.accepted += n as u64;
        if self.spec.task == refit_plugin::Task::Classification {
            let pos = labels.iter().filter(|&&y| y == 1.0).count() as u64;
            self.positive += pos;
            self.negative += n as u64 - pos;
        }
        self.maybe_emit();
        Ok(IngestAck {
            accepted: n,
            pending: self.pending() as usize,
            buffered: self.labels.len(),
            until_update: self.threshold().saturating_sub(self.labels.len()),
        })
    }

    /// fsyncs the sample log; an error comes with the log's directory, and
    /// shared, since one failed group commit answers every waiting call.
    fn sync_log_shared(&mut self) -> Result<(), (PathBuf, Arc<std::io::Error>)> {
        match &mut self.log {
            Some(log) => log.sync().map_err(|e| (log.dir().to_owned(), Arc::new(e))),
            None => Ok(()),
        }
    }

    /// The group commit: one fsync for every waiting call, then their
    /// acknowledgements (or, when the fsync failed, the error; their
    /// records are in the log but were never acknowledged).
    fn commit(&mut self) {
        self.commit_scheduled = false;
        let waiting = std::mem::take(&mut self.waiting);
        self.waiting_rows = 0;
        if waiting.is_empty() {
            return;
        }
        let synced = self.sync_log_shared();
        for w in waiting {
            let answer = match &synced {
                Ok(()) => self.accept(&w.rows, &w.labels),
                Err((dir, e)) => Err(AgentError::sample_log(dir, "fsync", e.clone())),
            };
            let _ = w.reply.send(answer);
        }
    }
}

impl Handler<IngestSamples> for Ingest {
    type Result = ResponseFuture<Result<IngestAck, AgentError>>;

    fn handle(&mut self, msg: IngestSamples, ctx: &mut Context<Self>) -> Self::Result {
        let _span = tracing::debug_span!("ingest", rows = msg.labels.len()).entered();
        let ready =
            |r: Result<IngestAck, AgentError>| -> Self::Result { Box::pin(async move { r }) };
        if let Err(e) = self.check(&msg) {
            return ready(Err(e.into()));
        }
        let n = msg.labels.len();
        let max = self.online.max_pending_samples as u64;
        if self.pending_with_waiting() + n as u64 > max {
            self.refusals += 1;
            return ready(Err(AgentError::Backpressure {
                pending: self.pending_with_waiting(),
                max,
            }));
        }
        if let Some(log) = &mut self.log {
            let first = self.log_base + self.accepted + self.waiting_rows;
            if let Err(e) = log.append_rows(first, &msg.rows, &msg.labels) {
                return ready(Err(AgentError::sample_log(log.dir(), "append", e)));
            }
        }
        match self.samples.durability {
            Durability::None => ready(self.accept(&msg.rows, &msg.labels)),
            Durability::Always => {
                let answer = self
                    .sync_log_shared()
                    .map_err(|(dir, e)| AgentError::sample_log(&dir, "fsync", e))
                    .and_then(|()| self.accept(&msg.rows, &msg.labels));
                ready(answer)
            }
            Durability::Batch => {
                let (reply, answer) = futures::channel::oneshot::channel();
                self.waiting_rows += n as u64;
                self.waiting.push(Waiting {
                    rows: msg.rows,
                    labels: msg.labels,
                    reply,
                });
                if !self.commit_scheduled {
                    self.commit_scheduled = true;
                    ctx.run_later(self.samples.group_commit.0, |act, _| act.commit());
                }
                Box::pin(async move { answer.await.unwrap_or(Err(AgentError::Stopped)) })
            }
        }
    }
}

impl Handler<Replay> for Ingest {
    type Result = ();
    fn handle(&mut self, msg: Replay, _: &mut Context<Self>) {
        let n = msg.labels.len();
        if let Err(e) = self.accept(&msg.rows, &msg.labels) {
            tracing::error!(error = %e, samples = n, "replayed samples refused");
        }
    }
}

impl Handler<FlushBuffer> for Ingest {
    type Result = usize;
    fn handle(&mut self, _: FlushBuffer, _: &mut Context<Self>) -> usize {
        // Calls waiting for a group commit are committed first.
        self.commit();
        if let Err((dir, e)) = self.sync_log_shared() {
            let e = AgentError::sample_log(&dir, "fsync", e);
            tracing::error!(error = %e, "sample log: fsync failed");
        }
        self.emit(Trigger::Flush)
    }
}

impl Handler<TrainedCount> for Ingest {
    type Result = ();
    fn handle(&mut self, msg: TrainedCount, _: &mut Context<Self>) {
        self.done += msg.0 as u64;
    }
}

impl Handler<GetIngestStats> for Ingest {
    type Result = MessageResult<GetIngestStats>;
    fn handle(&mut self, _: GetIngestStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(IngestStats {
            accepted: self.accepted,
            buffered: self.labels.len() as u64,
            in_flight: self.handed - self.done,
            backpressure_refusals: self.refusals,
            positive: self.positive,
            negative: self.negative,
            at_last_training: self.handed,
            threshold: self.threshold() as u64,
            until_trigger: (self.threshold() as u64).saturating_sub(self.labels.len() as u64),
        })
    }
}

impl Handler<ConfigChanged> for Ingest {
    type Result = ();
    fn handle(&mut self, msg: ConfigChanged, ctx: &mut Context<Self>) {
        let old = self.online.update_frequency;
        self.online = msg.0.online.clone();
        // Durability hot-reloads; calls already waiting keep their commit.
        self.samples.durability = msg.0.samples.durability;
        self.samples.group_commit = msg.0.samples.group_commit;
        if old != self.online.update_frequency {
            // The schedule tick follows the new frequency.
            self.schedule(ctx);
        }
        self.maybe_emit();
    }
}
