use std::collections::VecDeque;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;
use refit_plugin::{Batch, InputKind, ModelSpec, PluginError, validate};
use refit_plugin_kit::preprocess::Preprocessor;

use crate::clock::Clock;
use crate::config::{Config, Durability, OnlineConfig, SamplesConfig};
use crate::error::AgentError;
use crate::events::{IngestAck, IngestStats, Trigger};
use crate::messages::{
    Barrier, ConfigChanged, DropBuffer, FlushBuffer, GetIngestStats, IngestSamples, LogCommitted,
    LogFailure, ObserveBatch, Replay, TrainedCount,
};
use crate::rows::Rows;
use crate::sample_log::writer::{Command, LogWriter, RETENTION_EVERY, ToWriter};
use crate::sample_log::{SampleLog, SharedLog, encode};

/// A call handed to the sample log's thread, waiting for its commit.
enum Pending {
    /// An `ingest` call: accepted into the buffer once committed.
    Call {
        rows: Rows,
        labels: Vec<f32>,
        /// One past the log number of its last sample.
        log_end: u64,
        reply: oneshot::Sender<Result<IngestAck, AgentError>>,
    },
    /// A flush: emits the buffer once every call before it is committed.
    Flush { reply: oneshot::Sender<usize> },
}

/// Validates, counts and buffers samples; emits batches for training.
pub struct Ingest {
    spec: ModelSpec,
    /// The configured preprocessing, used only for its input checks (width,
    /// no infinity, NaN only where imputed): the same checks the model runs.
    schema: Preprocessor,
    online: OnlineConfig,
    drift: Recipient<ObserveBatch>,
    /// Drift again: the barrier's next stop, after every batch handed on.
    barrier: Recipient<Barrier>,
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
    /// The sample log while Ingest holds it (none: with its thread, or
    /// `samples.enabled = false`); see [`crate::sample_log::writer`].
    log: Option<SampleLog>,
    /// The log's directory (for errors).
    log_dir: PathBuf,
    /// The log's thread, which does its disk work.
    writer: Option<LogWriter>,
    /// Operations waiting to be handed to the log's thread with the log.
    queued: Vec<Command>,
    /// A group commit's window is open (`"batch"`): its calls wait in
    /// `queued` until it ends.
    group_open: bool,
    /// When retention was last asked for (ms, by `clock`).
    retention_asked_ms: u64,
    /// The log number the next logged sample gets. Numbers of calls whose
    /// write failed are not given again.
    log_next: u64,
    /// One past the log number of the newest buffered sample.
    buffer_log_end: u64,
    /// The next call's sequence number for the log's thread.
    seq: u64,
    /// Calls and flushes waiting for the log's thread, in sequence order.
    writes: VecDeque<(u64, Pending)>,
    /// Samples in `writes`.
    waiting_rows: u64,
    samples: SamplesConfig,
    /// Fleet mode: the shared stream every accepted call goes to instead
    /// of the local log; training takes samples from it (on the training
    /// replica, as [`Replay`]s), not from host calls.
    shared: Option<Arc<dyn SharedLog>>,
    /// Fleet mode: samples of calls waiting for the stream's
    /// acknowledgement.
    publishing: u64,
    /// Fleet mode: samples the stream acknowledged.
    published: u64,
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
        (log, log_next): (Option<SampleLog>, u64),
        clock: Arc<dyn Clock>,
        (drift, barrier): (Recipient<ObserveBatch>, Recipient<Barrier>),
    ) -> Self {
        Self {
            spec,
            schema,
            online: config.online.clone(),
            drift,
            barrier,
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
            log_dir: log.as_ref().map(|l| l.dir().to_owned()).unwrap_or_default(),
            log,
            writer: None,
            queued: Vec::new(),
            group_open: false,
            retention_asked_ms: 0,
            log_next,
            buffer_log_end: log_next,
            seq: 0,
            writes: VecDeque::new(),
            waiting_rows: 0,
            samples: config.samples.clone(),
            shared: None,
            publishing: 0,
            published: 0,
        }
    }

    /// Fleet mode: accepted calls go to `shared` instead of the local log.
    pub fn sharing(mut self, shared: Option<Arc<dyn SharedLog>>) -> Self {
        self.shared = shared;
        self
    }

    /// Fleet mode: stores the call in the shared stream and acknowledges
    /// it once stored; a call the stream does not store fails, retryably,
    /// and nothing of it is accepted.
    fn publish(
        &mut self,
        shared: Arc<dyn SharedLog>,
        msg: IngestSamples,
    ) -> ResponseActFuture<Self, Result<IngestAck, AgentError>> {
        let n = msg.labels.len() as u64;
        let max = self.online.max_pending_samples as u64;
        if self.publishing + n > max {
            self.refusals += 1;
            let pending = self.publishing;
            return Box::pin(fut::ready(Err(AgentError::Backpressure { pending, max })));
        }
        self.publishing += n;
        let first = self.log_next;
        self.log_next += n;
        let stored = shared.append(
            first,
            self.clock.now_ms(),
            (msg.rows, msg.labels),
            msg.idempotency_key,
        );
        Box::pin(stored.into_actor(self).map(move |stored, act, _| {
            act.publishing -= n;
            let _ = stored.map_err(AgentError::FleetUnavailable)?;
            act.published += n;
            Ok(IngestAck {
                accepted: n as usize,
                pending: act.publishing as usize,
                buffered: act.labels.len(),
                until_update: act.threshold().saturating_sub(act.labels.len()),
            })
        }))
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
            log_end: self.buffer_log_end,
            trigger,
            emitted: std::time::Instant::now(),
        });
        self.handed += n as u64;
        self.last_update_ms = self.clock.now_ms();
        let now = self.clock.now_ms();
        if self.writer.is_some()
            && u128::from(now.saturating_sub(self.retention_asked_ms))
                >= RETENTION_EVERY.as_millis()
        {
            self.retention_asked_ms = now;
            self.queued.push(Command::Retention {
                max_age: self.samples.max_age.0,
                max_bytes: self.samples.max_bytes,
            });
            self.hand_over();
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
        if self.log.is_some() {
            match LogWriter::spawn(ctx.address().recipient()) {
                Ok(w) => self.writer = Some(w),
                // Every ingest call the log's thread is needed for then
                // fails, naming the log.
                Err(e) => {
                    tracing::error!(dir = %self.log_dir.display(), error = %e, "sample log: no thread")
                }
            }
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        // The log's last fsync, on its thread (which is then joined).
        if let (Some(log), Some(writer)) = (self.log.take(), &self.writer)
            && writer.send(ToWriter::Close(log)).is_err()
        {
            tracing::error!("sample log: closed without its last fsync");
        }
        self.writer.take();
    }
}

impl Ingest {
    /// Samples accepted, waiting for their commit, or both.
    fn pending_with_waiting(&self) -> u64 {
        self.pending() + self.waiting_rows
    }

    /// Takes logged (and, as `durability` says, synced) samples, numbered
    /// in the log up to `log_end`, into the training buffer; may start an
    /// update.
    fn accept(
        &mut self,
        rows: &Rows,
        labels: &[f32],
        log_end: u64,
    ) -> Result<IngestAck, AgentError> {
        if let Err(kind) = self.rows.append(rows) {
            // `check` refused other kinds already.
            return Err(refit_plugin::wrong_input(&self.spec, self.input, kind).into());
        }
        let n = labels.len();
        self.labels.extend_from_slice(labels);
        self.accepted += n as u64;
        self.buffer_log_end = log_end;
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

    /// Queues `command` (numbered `seq`) for the log's thread, answered
    /// through `pending`.
    fn queue(&mut self, seq: u64, command: Command, pending: Pending) {
        if let Pending::Call { labels, .. } = &pending {
            self.waiting_rows += labels.len() as u64;
        }
        self.queued.push(command);
        self.writes.push_back((seq, pending));
        self.seq += 1;
    }

    /// Hands the log and the queued operations to the log's thread, when
    /// Ingest holds the log and no group commit's window is open.
    fn hand_over(&mut self) {
        if self.group_open || self.queued.is_empty() {
            return;
        }
        let (Some(log), Some(writer)) = (self.log.take(), &self.writer) else {
            return;
        };
        let commands = std::mem::take(&mut self.queued);
        if let Err(back) = writer.send(ToWriter::Work { log, commands }) {
            let (ToWriter::Work { log, .. } | ToWriter::Close(log)) = *back;
            // The thread is gone: every waiting call fails.
            self.log = Some(log);
            let gone: LogFailure = (
                "append",
                Arc::new(std::io::Error::other(
                    "the sample log's thread is not running",
                )),
            );
            let end = self.seq;
            self.answer(0..end, &Err(gone));
        }
    }

    /// Answers the waiting calls numbered in `seqs` with `result`: accepts
    /// them, or fails them naming the log.
    fn answer(&mut self, seqs: Range<u64>, result: &Result<(), LogFailure>) {
        while self.writes.front().is_some_and(|(seq, _)| *seq < seqs.end) {
            let Some((_, pending)) = self.writes.pop_front() else {
                break;
            };
            let failure =
                |(op, e): &LogFailure| AgentError::sample_log(&self.log_dir, op, e.clone());
            match pending {
                Pending::Call {
                    rows,
                    labels,
                    log_end,
                    reply,
                } => {
                    self.waiting_rows -= labels.len() as u64;
                    let answer = match result {
                        Ok(()) => self.accept(&rows, &labels, log_end),
                        Err(f) => Err(failure(f)),
                    };
                    let _ = reply.send(answer);
                }
                Pending::Flush { reply } => {
                    if let Err(f) = result {
                        tracing::error!(error = %failure(f), "sample log: flush");
                    }
                    let _ = reply.send(self.emit(Trigger::Flush));
                }
            }
        }
    }
}

impl Handler<IngestSamples> for Ingest {
    type Result = ResponseActFuture<Self, Result<IngestAck, AgentError>>;

    fn handle(&mut self, msg: IngestSamples, ctx: &mut Context<Self>) -> Self::Result {
        let _span = tracing::debug_span!("ingest", rows = msg.labels.len()).entered();
        let ready = |r: Result<IngestAck, AgentError>| -> Self::Result { Box::pin(fut::ready(r)) };
        if let Err(e) = self.check(&msg) {
            return ready(Err(e.into()));
        }
        if let Some(shared) = self.shared.clone() {
            return self.publish(shared, msg);
        }
        let n = msg.labels.len();
        let max = self.online.max_pending_samples as u64;
        if n as u64 > max {
            return ready(Err(AgentError::TooManySamples {
                samples: n as u64,
                max,
            }));
        }
        if self.pending_with_waiting() + n as u64 > max {
            self.refusals += 1;
            return ready(Err(AgentError::Backpressure {
                pending: self.pending_with_waiting(),
                max,
            }));
        }
        if !self.samples.enabled {
            let log_end = self.buffer_log_end;
            return ready(self.accept(&msg.rows, &msg.labels, log_end));
        }
        let first = self.log_next;
        let payload = match encode(first, self.clock.now_ms(), &msg.rows, &msg.labels, self.dim) {
            Ok(p) => p,
            Err(e) => return ready(Err(AgentError::sample_log(&self.log_dir, "append", e))),
        };
        // Numbers are never given twice, even when this call fails.
        self.log_next += n as u64;
        let log_end = first + n as u64;
        let durability = self.samples.durability;
        // The fast path: one write(2) to the open segment, here.
        if durability == Durability::None
            && self.queued.is_empty()
            && let Some(log) = &mut self.log
            && log.has_room()
        {
            let answer = log
                .append_encoded(&payload)
                .map_err(|e| AgentError::sample_log(&self.log_dir, "append", e))
                .and_then(|()| self.accept(&msg.rows, &msg.labels, log_end));
            return ready(answer);
        }
        let seq = self.seq;
        let (reply, answer) = oneshot::channel();
        let call = Pending::Call {
            rows: msg.rows,
            labels: msg.labels,
            log_end,
            reply,
        };
        let command = Command::Append {
            seq,
            payload,
            durability,
        };
        self.queue(seq, command, call);
        if durability == Durability::Batch && !self.group_open {
            // The group commit's window, from this call on (even while the
            // log's thread holds the log): calls within it share one fsync.
            self.group_open = true;
            ctx.run_later(self.samples.group_commit.0, |act, _| {
                act.group_open = false;
                act.hand_over();
            });
        } else {
            self.hand_over();
        }
        Box::pin(async move { answer.await.unwrap_or(Err(AgentError::Stopped)) }.into_actor(self))
    }
}

impl Handler<DropBuffer> for Ingest {
    type Result = usize;
    fn handle(&mut self, _: DropBuffer, _: &mut Context<Self>) -> usize {
        let n = self.labels.len();
        self.rows.take();
        self.labels.clear();
        // Not trained here: no longer pending either.
        self.done += n as u64;
        if n > 0 {
            tracing::info!(
                samples = n,
                "no longer training: buffered samples dropped (the stream keeps them)"
            );
        }
        n
    }
}

impl Handler<LogCommitted> for Ingest {
    type Result = ();
    fn handle(&mut self, msg: LogCommitted, _: &mut Context<Self>) {
        self.log = Some(msg.log);
        for (seqs, result) in &msg.answers {
            self.answer(seqs.clone(), result);
        }
        // What queued while the thread held the log goes now.
        self.hand_over();
    }
}

impl Handler<Replay> for Ingest {
    type Result = ();
    fn handle(&mut self, msg: Replay, _: &mut Context<Self>) {
        let n = msg.labels.len();
        if let Err(e) = self.accept(&msg.rows, &msg.labels, msg.log_end) {
            tracing::error!(error = %e, samples = n, "replayed samples refused");
        }
    }
}

impl Handler<FlushBuffer> for Ingest {
    type Result = ResponseFuture<usize>;
    fn handle(&mut self, _: FlushBuffer, _: &mut Context<Self>) -> Self::Result {
        if self.writer.is_none() {
            let n = self.emit(Trigger::Flush);
            return Box::pin(async move { n });
        }
        // After every call before it is committed (an open group commit
        // is handed over at once), and the log fsynced.
        let seq = self.seq;
        let (reply, emitted) = oneshot::channel();
        self.queue(seq, Command::Sync { seq }, Pending::Flush { reply });
        self.group_open = false;
        self.hand_over();
        Box::pin(async move { emitted.await.unwrap_or(0) })
    }
}

impl Handler<Barrier> for Ingest {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        // After every batch this actor handed on (replayed ones included).
        self.barrier.do_send(msg);
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
            published: self.published,
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
        // Durability and retention hot-reload; calls already waiting keep
        // their commit. (`enabled` and `segment_bytes` need a restart.)
        self.samples.durability = msg.0.samples.durability;
        self.samples.group_commit = msg.0.samples.group_commit;
        self.samples.max_age = msg.0.samples.max_age;
        self.samples.max_bytes = msg.0.samples.max_bytes;
        if old != self.online.update_frequency {
            // The schedule tick follows the new frequency.
            self.schedule(ctx);
        }
        self.maybe_emit();
    }
}
