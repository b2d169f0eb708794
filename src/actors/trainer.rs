use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use actix::prelude::*;
use refit_plugin::{Model, PluginError};

use crate::actors::cadence::Cadence;
use crate::clock::Clock;
use crate::config::{Config, LearningRates, OfflineConfig, OnlineConfig, RetrainConfig};
use crate::drift::Severity;
use crate::drift::reference::{DriftReference, ReferenceSource};
use crate::error::AgentError;
use crate::events::{DriftReport, Event, OfflineReport, TrainerStats};
use crate::messages::{
    Activate, Adopt, Barrier, Checkpoint, ConfigChanged, ConnectDrift, GetTrainerStats,
    ObserveLosses, Promote, Publish, ResumeFrom, SaveOffline, SetFleetRole, SetReference,
    SetServingRole, StartTraining, TrainBatch, TrainOffline, TrainedCount,
};
use crate::metrics::{Scored, Scores};
use crate::offline;
use crate::rows::Rows;
use crate::sample_log::read_rows;
use crate::store::{VersionEntry, VersionId, VersionMeta};

/// Scored samples kept for the rolling progressive metrics.
pub const METRIC_WINDOW: usize = 5_000;

/// Makes a fresh, untrained model of the configured kind.
pub type FreshModel = Arc<dyn Fn() -> Result<Box<dyn Model>, PluginError> + Send + Sync>;

/// What a [`Trainer`] starts with.
pub struct TrainerSetup {
    /// The model to continue from.
    pub model: Box<dyn Model>,
    /// Fresh models for offline training.
    pub fresh: FreshModel,
    /// `[learning_rate]`, `[online]`, `[offline]`, `[retrain]`.
    pub config: Arc<Config>,
    /// The model kind's learning rates, for the keys `[learning_rate]`
    /// leaves out.
    pub kind_rates: LearningRates,
    /// The clock of the schedule rules.
    pub clock: Arc<dyn Clock>,
    /// Holdout metrics of the version the model comes from, when offline.
    pub offline_metrics: Option<Scores>,
    /// Where accepted samples are logged (full retrains read it).
    pub samples: Option<PathBuf>,
    /// Fleet mode: the shared stream full retrains read instead.
    pub shared: Option<Arc<dyn crate::sample_log::SharedLog>>,
    /// The version the model is (served at start).
    pub version: VersionId,
    /// Samples that version has learned (its manifest's `samples_seen`).
    pub learned: u64,
    /// The number the next online version gets.
    pub next_online: u64,
    /// Logged samples numbered below this one are in the model (none:
    /// unknown, as for imported coefficients).
    pub learned_through: Option<u64>,
    /// Where `retrain.full_every` counts from (ms since the epoch): the
    /// newest offline version's creation, else the first logged sample's
    /// segment, else now. Restarts do not move it.
    pub schedule_origin_ms: u64,
}

/// How often the Trainer checks whether a full retrain is due (besides
/// after each update), so the schedule fires without traffic too.
pub const RETRAIN_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Where the Trainer's messages go.
pub struct TrainerPeers {
    /// Ingest: samples that left the pending count.
    pub trained: Recipient<TrainedCount>,
    /// Checkpointer: online checkpoints to write.
    pub checkpoint: Recipient<Checkpoint>,
    /// Checkpointer: offline versions to write.
    pub save_offline: Recipient<SaveOffline>,
    /// Checkpointer: a rollback's new active version.
    pub activate: Recipient<Activate>,
    /// Checkpointer: the barrier's next stop.
    pub barrier: Recipient<Barrier>,
    /// ServingActor: the next stop of a barrier that does not wait for
    /// the disk.
    pub served_barrier: Recipient<Barrier>,
    /// ServingActor: the new champion.
    pub promote: Recipient<Promote>,
    /// ServingActor: the ensemble's offline member.
    pub role: Recipient<SetServingRole>,
    /// ServingActor: events to publish.
    pub events: Recipient<Publish>,
}

/// An offline training in progress: the online batches trained since it
/// started, replayed into its model before that model takes over, so no
/// update made meanwhile is lost.
#[derive(Default)]
struct Retraining {
    backlog: Vec<(Rows, Vec<f32>, f32)>,
}

/// What an offline training thread hands back: the model, what its
/// training reported, its saved bytes, and the rows it trained on.
type OfflineResult = Result<(Box<dyn Model>, offline::Trained, Vec<u8>, Rows), AgentError>;

/// Owns the model being trained. Runs on its own arbiter; offline
/// trainings run on a thread of their own, and online updates go on
/// meanwhile.
pub struct Trainer {
    model: Box<dyn Model>,
    fresh: FreshModel,
    /// The rates in force: `[learning_rate]` over `kind_rates`.
    rates: LearningRates,
    kind_rates: LearningRates,
    online: OnlineConfig,
    offline: OfflineConfig,
    retrain: RetrainConfig,
    clock: Arc<dyn Clock>,
    /// When the last offline version was trained (or the trainer started),
    /// ms since the epoch.
    last_offline_ms: u64,
    /// When the last retrain for degradation started (agent clock).
    last_degradation_ms: Option<u64>,
    /// The sample store full retrains read.
    samples: Option<PathBuf>,
    /// Fleet mode: the shared stream full retrains read instead.
    shared: Option<Arc<dyn crate::sample_log::SharedLog>>,
    peers: TrainerPeers,
    /// Set by [`ConnectDrift`] before the first batch.
    drift: Option<ConnectDrift>,
    cadence: Cadence,
    /// The interval timer of the cadence, when armed.
    cadence_timer: Option<SpawnHandle>,
    /// The number the next online version gets.
    next_online: u64,
    /// The version last served.
    served: VersionId,
    /// Logged samples numbered below this one are learned (or skipped).
    learned_through: Option<u64>,
    /// What the newest update's checkpoint records besides the model:
    /// learning rate, severity, drift reference.
    last_update: (Option<f32>, Severity, Option<Arc<DriftReference>>),
    stats: TrainerStats,
    /// The offline training running on its own thread, if one is.
    retraining: Option<Retraining>,
    /// Fleet mode: who trains (none: not in a fleet). Only the trainer
    /// runs scheduled and requested retrains.
    fleet: Option<SetFleetRole>,
    /// Grows with every rollback or promotion: an offline training that
    /// finishes under another generation is not made active.
    generation: u64,
    /// The last scored samples.
    scored: VecDeque<Scored>,
    /// Samples scored since `stats.metrics` was last computed: the window's
    /// metrics (a sort of up to METRIC_WINDOW scores) are computed when
    /// asked for, not after every update.
    unmeasured: usize,
}

impl Trainer {
    /// A trainer as `setup` says.
    pub fn new(setup: TrainerSetup, peers: TrainerPeers) -> Self {
        let c = setup.config;
        let rates = c.learning_rate.resolve(setup.kind_rates);
        let now = setup.clock.now_ms();
        Self {
            model: setup.model,
            fresh: setup.fresh,
            rates,
            kind_rates: setup.kind_rates,
            stats: TrainerStats {
                learning_rate: rates.stable,
                offline_metrics: setup.offline_metrics,
                samples_seen: setup.learned,
                ..TrainerStats::default()
            },
            cadence: Cadence::new(c.online.checkpoint_every, now),
            cadence_timer: None,
            next_online: setup.next_online,
            served: setup.version,
            learned_through: setup.learned_through,
            last_update: (None, Severity::Stable, None),
            online: c.online.clone(),
            offline: resolve_offline(&c.offline, rates),
            retrain: c.retrain.clone(),
            last_offline_ms: setup.schedule_origin_ms,
            last_degradation_ms: None,
            clock: setup.clock,
            samples: setup.samples,
            shared: setup.shared,
            peers,
            drift: None,
            retraining: None,
            fleet: None,
            generation: 0,
            scored: VecDeque::new(),
            unmeasured: 0,
        }
    }

    fn rate(&self, severity: Severity) -> f32 {
        match severity {
            Severity::Stable => self.rates.stable,
            Severity::Moderate => self.rates.moderate,
            Severity::Severe => self.rates.severe,
        }
    }

    /// Progressive validation: score the batch with the serving snapshot
    /// before learning from it; the per-sample losses go to the Drift
    /// actor's concept-drift detectors.
    fn score(&mut self, x: &Rows, labels: &[f32], first_sample: u64) {
        let width = self.model.spec().width();
        if let Ok(scored) = x.score(self.model.snapshot().as_ref(), width, labels) {
            let losses = scored.iter().map(Scored::loss).collect();
            let spec = self.model.spec();
            let binary = spec.task == refit_plugin::Task::Classification && !spec.is_multiclass();
            let pairs = if binary {
                scored.iter().map(|s| (s.value, s.label)).collect()
            } else {
                Vec::new()
            };
            if let Some(drift) = &self.drift {
                drift.losses.do_send(ObserveLosses {
                    first_sample,
                    losses,
                    scored: pairs,
                });
            }
            self.stats.scored_since_offline += scored.len() as u64;
            for s in scored {
                if self.scored.len() == METRIC_WINDOW {
                    self.scored.pop_front();
                }
                self.scored.push_back(s);
                self.unmeasured += 1;
            }
        }
    }

    /// The progressive metrics over the window, brought up to date when
    /// samples were scored since (`every`: only once that many were).
    fn measure(&mut self, every: usize) -> Option<Scores> {
        if self.unmeasured > 0 && self.unmeasured >= every {
            let scored: Vec<Scored> = self.scored.iter().copied().collect();
            self.stats.metrics = Some(Scores::of_scored(self.model.spec(), &scored));
            self.unmeasured = 0;
        }
        self.stats.metrics
    }

    /// Counts `samples` as not trained on and reports why.
    fn skip(&mut self, reason: String, samples: usize, learning_rate: f32, drift: &DriftReport) {
        self.stats.skipped += samples as u64;
        self.stats.updates_skipped += 1;
        self.publish(Event::UpdateSkipped {
            reason,
            samples,
            learning_rate,
            severity: drift.severity,
            max_psi: drift.max_psi,
        });
    }

    fn publish(&self, event: Event) {
        self.peers.events.do_send(Publish(event));
    }

    /// Serves the model as `version`.
    fn serve(&mut self, version: VersionId) {
        self.peers.promote.do_send(Promote {
            snapshot: self.model.snapshot(),
            version,
        });
        self.served = version;
    }

    /// Serves the model at once as the next online version, which waits
    /// for the cadence to be written.
    fn serve_update(&mut self) -> VersionId {
        let version = VersionId::online(self.next_online);
        self.next_online += 1;
        self.serve(version);
        self.cadence.updated();
        version
    }

    /// Continues from `model`, stored as `version` (a rollback's target or
    /// a new offline version), and serves it: nothing waits to be written.
    fn continue_from(&mut self, model: Box<dyn Model>, version: VersionId) {
        self.model = model;
        self.scored.clear();
        self.unmeasured = 0;
        self.cadence.clear(self.clock.now_ms());
        self.serve(version);
    }

    /// Hands the served model to the Checkpointer when the cadence says so
    /// (`force`: now, for `flush` and shutdown). While one checkpoint is
    /// being written, the next waits and then writes the newest model.
    fn persist(&mut self, ctx: &mut Context<Self>, force: bool) {
        let now = self.clock.now_ms();
        if !force && !self.cadence.due(now) {
            self.arm_cadence_timer(ctx);
            return;
        }
        if !self.cadence.take(force, now) {
            return;
        }
        let version = self.served;
        let bytes = match self.model.save() {
            Ok(bytes) => bytes,
            Err(e) => {
                self.cadence.written();
                self.publish(Event::CheckpointFailed {
                    error: format!("saving the model: {e}"),
                });
                return;
            }
        };
        let (learning_rate, severity, reference) = self.last_update.clone();
        let metrics = self.measure(1);
        let sent = self.peers.checkpoint.send(Checkpoint {
            version,
            bytes,
            samples_seen: self.stats.samples_seen,
            learning_rate,
            severity,
            metrics,
            drift_reference: reference,
            learned_through: self.learned_through,
        });
        ctx.spawn(sent.into_actor(self).map(|_, act, ctx| {
            if act.cadence.written() {
                act.persist(ctx, false);
            }
        }));
    }

    /// Wakes the cadence when its interval will make a checkpoint due.
    fn arm_cadence_timer(&mut self, ctx: &mut Context<Self>) {
        if self.cadence_timer.is_some() {
            return;
        }
        if let Some(ms) = self.cadence.until_due_ms(self.clock.now_ms()) {
            let wait = std::time::Duration::from_millis(ms.max(1));
            self.cadence_timer = Some(ctx.run_later(wait, |act, ctx| {
                act.cadence_timer = None;
                act.persist(ctx, false);
            }));
        }
    }
}

/// `[offline]` with its learning rate set: the configured one, else the
/// kind's moderate rate.
fn resolve_offline(offline: &OfflineConfig, rates: LearningRates) -> OfflineConfig {
    OfflineConfig {
        learning_rate: Some(offline.learning_rate.unwrap_or(rates.moderate)),
        ..offline.clone()
    }
}

impl Actor for Trainer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The schedule is checked on a timer too: with online learning off
        // or no traffic, no update would ever check it.
        ctx.run_interval(RETRAIN_CHECK, |act, ctx| act.maybe_retrain(ctx));
    }
}

impl Handler<TrainBatch> for Trainer {
    type Result = ();

    fn handle(&mut self, msg: TrainBatch, ctx: &mut Context<Self>) {
        let n = msg.labels.len();
        // Learned or skipped, these samples are never replayed.
        self.learned_through = Some(msg.log_end);
        let severity = msg.drift.severity;
        let lr = self.rate(severity);
        let _span = tracing::info_span!("trainer.update", samples = n, lr, ?severity).entered();
        let width = self.model.spec().width();
        if !self.online.enabled {
            self.skip("online learning is disabled".into(), n, lr, &msg.drift);
            self.peers.trained.do_send(TrainedCount(n));
            return;
        }
        let classes = self.model.spec().class_count().unwrap_or(0);
        if let Some(problem) = self.online.quality.problem(&msg.labels, classes) {
            // Skipped online; the samples stay in the sample log for the
            // next full retrain.
            self.skip(format!("data quality: {problem}"), n, lr, &msg.drift);
            self.peers.trained.do_send(TrainedCount(n));
            return;
        }
        self.score(&msg.rows, &msg.labels, msg.first_sample);
        let training = std::time::Instant::now();
        let (mut trained, mut loss_sum, mut clipped) = (0usize, 0.0f64, 0usize);
        let step = self.online.batch_size.max(1);
        let mut refused = Vec::new();
        msg.rows.fit_steps(
            self.model.as_mut(),
            width,
            &msg.labels,
            lr,
            step,
            |result, n| match result {
                Ok(report) => {
                    trained += report.rows;
                    loss_sum += report.mean_loss_before * report.rows as f64;
                    clipped += usize::from(report.clipped);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "update step refused");
                    refused.push((e.to_string(), n));
                }
            },
        );
        for (reason, n) in refused {
            self.skip(reason, n, lr, &msg.drift);
        }
        self.stats.learning_rate = lr;
        self.stats.severity = severity;
        if trained > 0 {
            if let Some(r) = &mut self.retraining {
                r.backlog.push((msg.rows.clone(), msg.labels.clone(), lr));
            }
            self.stats.trained += trained as u64;
            self.stats.samples_seen += trained as u64;
            self.stats.updates += 1;
            let version = self.serve_update();
            // Recorded only where the model uses it (not FTRL's own rates).
            let recorded = self.model.uses_learning_rate().then_some(lr);
            self.last_update = (recorded, severity, msg.reference.clone());
            self.publish(Event::UpdateApplied {
                reason: msg.trigger,
                samples: trained,
                learning_rate: recorded,
                severity,
                max_psi: msg.drift.max_psi,
                loss_before: loss_sum / trained as f64,
                first_sample: msg.first_sample,
                clipped_steps: clipped,
                train_seconds: training.elapsed().as_secs_f64(),
                lag_seconds: msg.emitted.elapsed().as_secs_f64(),
                version,
            });
            self.persist(ctx, false);
            self.maybe_retrain(ctx);
        }
        self.peers.trained.do_send(TrainedCount(n));
    }
}

impl Trainer {
    /// Why a full retrain is due now, if it is: `full_every` has passed
    /// since the last offline version (or the start), or the progressive
    /// metric is worse than that version's holdout metric by more than the
    /// margin after `min_samples` scored samples and at least
    /// `degradation_cooldown` after the last retrain for degradation.
    fn retrain_due(&self) -> Option<&'static str> {
        let elapsed = self.clock.now_ms().saturating_sub(self.last_offline_ms);
        if u128::from(elapsed) >= self.retrain.full_every.0.as_millis() {
            return Some("schedule");
        }
        if self.stats.scored_since_offline < self.retrain.min_samples {
            return None;
        }
        if let Some(last) = self.last_degradation_ms {
            let since = self.clock.now_ms().saturating_sub(last);
            if u128::from(since) < self.retrain.degradation_cooldown.0.as_millis() {
                return None;
            }
        }
        let margin = self.retrain.degradation_margin;
        match (self.stats.offline_metrics?, self.stats.metrics?) {
            (
                Scores::Classification {
                    auc: Some(base), ..
                },
                Scores::Classification { auc: Some(now), .. },
            ) if now < base - margin => Some("degradation"),
            (Scores::Regression { mae: base, .. }, Scores::Regression { mae: now, .. })
                if now > base * (1.0 + margin) =>
            {
                Some("degradation")
            }
            (
                Scores::Multiclass { accuracy: base, .. },
                Scores::Multiclass { accuracy: now, .. },
            ) if now < base - margin => Some("degradation"),
            _ => None,
        }
    }

    /// Starts a full retrain from the sample store when one is due.
    fn maybe_retrain(&mut self, ctx: &mut Context<Self>) {
        if self.stats.offline_metrics.is_some() {
            // The degradation rule reads the window's metrics, refreshed
            // every tenth of a window.
            self.measure(METRIC_WINDOW / 10);
        }
        if self.retraining.is_some() || self.fleet.as_ref().is_some_and(|f| !f.training) {
            return;
        }
        let Some(reason) = self.retrain_due() else {
            return;
        };
        // Not again until this one is done and its own rules say so.
        self.last_offline_ms = self.clock.now_ms();
        if reason == "degradation" {
            self.last_degradation_ms = Some(self.last_offline_ms);
        }
        self.stats.scored_since_offline = 0;
        match self.read_log() {
            Ok(r) if !r.labels.is_empty() => {
                tracing::info!(reason, samples = r.labels.len(), "full retrain");
                self.stats.retrains += 1;
                self.publish(Event::RetrainTriggered {
                    reason: reason.into(),
                    samples: r.labels.len(),
                });
                ctx.notify(TrainOffline {
                    rows: r.rows,
                    labels: r.labels,
                    reason: reason.into(),
                });
            }
            Ok(_) => self.publish(Event::RetrainFailed {
                reason: reason.into(),
                error: "the sample store holds no samples".into(),
            }),
            Err(error) => self.publish(Event::RetrainFailed {
                reason: reason.into(),
                error,
            }),
        }
    }
}

impl Trainer {
    /// The newest retained samples (at most `retrain.max_rows`).
    fn read_log(&self) -> Result<crate::sample_log::ReadBack, String> {
        if let Some(shared) = &self.shared {
            return shared.newest(self.retrain.max_rows);
        }
        match &self.samples {
            None => Err("samples.enabled = false: there are no retained samples".to_owned()),
            Some(dir) => read_rows(
                dir,
                self.model.input(),
                self.model.input_dim(),
                self.retrain.max_rows,
            )
            .map_err(|e| format!("reading the sample store {}: {e}", dir.display())),
        }
    }
}

impl Handler<StartTraining> for Trainer {
    type Result = Result<usize, AgentError>;

    /// Starts an offline training now, from the sample log or the given
    /// rows; answers the samples it trains on. Its progress and result are
    /// events (`RetrainTriggered`, `OfflineProgress`, then `OfflineTrained`
    /// or `RetrainFailed`).
    fn handle(&mut self, msg: StartTraining, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(role) = self.fleet.as_ref().filter(|f| !f.training) {
            return Err(AgentError::InvalidArgument(format!(
                "this replica does not train; the fleet's trainer is {}: ask it",
                role.trainer.as_deref().unwrap_or("not known here yet")
            )));
        }
        if self.retraining.is_some() {
            return Err(AgentError::InvalidArgument(
                "an offline training is already running; try again when it is done".into(),
            ));
        }
        let (rows, labels) = match msg.rows {
            Some(given) => given,
            None => {
                let read = self.read_log().map_err(AgentError::InvalidArgument)?;
                (read.rows, read.labels)
            }
        };
        if labels.is_empty() {
            return Err(AgentError::InvalidArgument(
                "no samples to train on (the sample log holds none)".into(),
            ));
        }
        self.last_offline_ms = self.clock.now_ms();
        self.stats.scored_since_offline = 0;
        self.stats.retrains += 1;
        let samples = labels.len();
        self.publish(Event::RetrainTriggered {
            reason: msg.reason.clone(),
            samples,
        });
        ctx.notify(TrainOffline {
            rows,
            labels,
            reason: msg.reason,
        });
        Ok(samples)
    }
}

impl Handler<ResumeFrom> for Trainer {
    type Result = AtomicResponse<Self, Result<VersionEntry, AgentError>>;
    fn handle(&mut self, msg: ResumeFrom, _: &mut Context<Self>) -> Self::Result {
        // Atomic: no update runs between the store's activation and the
        // swap, and every update after it continues from `msg.model`.
        let activate = self.peers.activate.send(Activate {
            version: msg.version,
            discarded_through: self.learned_through,
        });
        let activated = async move { activate.await.map_err(|_| AgentError::Stopped)? };
        AtomicResponse::new(Box::pin(activated.into_actor(self).map(
            move |activated, act, _| {
                let entry = activated?;
                tracing::info!(version = %msg.version, "online learning continues from a stored version");
                act.generation += 1;
                act.continue_from(msg.model, msg.version);
                Ok(entry)
            },
        )))
    }
}

impl Handler<Adopt> for Trainer {
    type Result = Option<u64>;
    fn handle(&mut self, msg: Adopt, _: &mut Context<Self>) -> Option<u64> {
        if let Some(position) = msg.position {
            self.learned_through = Some(position);
        }
        if let Some((model, entry)) = msg.version {
            tracing::info!(version = %entry.id(), position = ?msg.position, "continuing from the fleet's active version");
            if entry.mode == crate::store::Mode::Online {
                self.next_online = self.next_online.max(entry.number + 1);
            }
            self.stats.samples_seen = entry.samples_seen;
            // An offline training in progress no longer becomes active.
            self.generation += 1;
            self.continue_from(model, entry.id());
        }
        self.learned_through
    }
}

impl Handler<SetFleetRole> for Trainer {
    type Result = ();
    fn handle(&mut self, msg: SetFleetRole, _: &mut Context<Self>) {
        self.fleet = Some(msg);
    }
}

impl Handler<ConnectDrift> for Trainer {
    type Result = ();
    fn handle(&mut self, msg: ConnectDrift, _: &mut Context<Self>) {
        self.drift = Some(msg);
    }
}

impl Handler<Barrier> for Trainer {
    type Result = ();
    fn handle(&mut self, msg: Barrier, ctx: &mut Context<Self>) {
        if msg.persist {
            self.persist(ctx, true);
        }
        if msg.persist || msg.written {
            self.peers.barrier.do_send(msg);
        } else {
            // After every Promote this actor sent: served is all it waits for.
            self.peers.served_barrier.do_send(msg);
        }
    }
}

impl Handler<GetTrainerStats> for Trainer {
    type Result = MessageResult<GetTrainerStats>;
    fn handle(&mut self, _: GetTrainerStats, _: &mut Context<Self>) -> Self::Result {
        self.measure(1);
        MessageResult(TrainerStats {
            served_version: Some(self.served),
            unpersisted_updates: self.cadence.unpersisted(),
            ..self.stats.clone()
        })
    }
}

impl Handler<ConfigChanged> for Trainer {
    type Result = ();
    fn handle(&mut self, msg: ConfigChanged, _: &mut Context<Self>) {
        self.rates = msg.0.learning_rate.resolve(self.kind_rates);
        self.online = msg.0.online.clone();
        self.offline = resolve_offline(&msg.0.offline, self.rates);
        self.retrain = msg.0.retrain.clone();
        self.cadence.set_every(msg.0.online.checkpoint_every);
    }
}

impl Handler<TrainOffline> for Trainer {
    type Result = ResponseActFuture<Self, Result<OfflineReport, AgentError>>;

    fn handle(&mut self, msg: TrainOffline, _: &mut Context<Self>) -> Self::Result {
        let _span =
            tracing::info_span!("trainer.offline", rows = msg.labels.len(), reason = %msg.reason)
                .entered();
        if self.retraining.is_some() {
            let e = AgentError::InvalidArgument(
                "an offline training is already running; try again when it is done".into(),
            );
            return Box::pin(fut::ready(Err(e)));
        }
        // The schedule counts from the data cut-off: now for a manual
        // training; a full retrain set it when it was triggered.
        if msg.reason == "manual" {
            self.last_offline_ms = self.clock.now_ms();
        }
        // Training runs on a thread of its own: online updates go on, and
        // are replayed into the new model when it takes over.
        let (fresh, config) = (self.fresh.clone(), self.offline.clone());
        let (tx, rx) = futures::channel::oneshot::channel::<OfflineResult>();
        let (rows, labels) = (msg.rows, msg.labels);
        let (events, progress_reason) = (self.peers.events.clone(), msg.reason.clone());
        let spawned = std::thread::Builder::new()
            .name("refit-offline".into())
            .spawn(move || {
                let trained = (|| {
                    let mut model = fresh()?;
                    let progress = |epoch, epochs| {
                        events.do_send(Publish(Event::OfflineProgress {
                            reason: progress_reason.clone(),
                            epoch,
                            epochs,
                        }))
                    };
                    let trained = offline::train_rows_with(
                        model.as_mut(),
                        &rows,
                        &labels,
                        &config,
                        progress,
                    )?;
                    let bytes = model.save()?;
                    Ok((model, trained, bytes, rows))
                })();
                let _ = tx.send(trained);
            });
        if let Err(e) = spawned {
            let e = AgentError::Start(format!("starting the offline training thread: {e}"));
            return Box::pin(fut::ready(Err(e)));
        }
        self.retraining = Some(Retraining::default());
        let (reason, generation) = (msg.reason, self.generation);
        // What the stored version has learned of the log: the cut-off now.
        let learned_through = self.learned_through;
        let trained = async move { rx.await.map_err(|_| AgentError::Stopped)? };
        Box::pin(trained.into_actor(self).then(move |trained, act, _| {
            let next: ResponseActFuture<Self, Result<OfflineReport, AgentError>> = match trained {
                Ok(t) => Box::pin(act.store_offline(t, reason, generation, learned_through)),
                Err(e) => {
                    act.retraining = None;
                    act.offline_failed(&reason, &e);
                    Box::pin(fut::ready(Err(e)))
                }
            };
            next
        }))
    }
}

impl Trainer {
    /// Publishes the failure of a retrain (a manual training's caller gets
    /// the error itself).
    fn offline_failed(&mut self, reason: &str, e: &AgentError) {
        if reason != "manual" {
            self.publish(Event::RetrainFailed {
                reason: reason.into(),
                error: e.to_string(),
            });
        }
    }

    /// Stores a trained offline model as the next offline version, then
    /// continues online learning from it, with the online batches trained
    /// meanwhile replayed into it; a rollback or promotion made meanwhile
    /// wins (the model is dropped).
    fn store_offline(
        &mut self,
        (model, trained, bytes, rows): (Box<dyn Model>, offline::Trained, Vec<u8>, Rows),
        reason: String,
        generation: u64,
        learned_through: Option<u64>,
    ) -> impl ActorFuture<Self, Output = Result<OfflineReport, AgentError>> + use<> {
        let width = model.spec().width();
        let mut train_rows = rows;
        train_rows.truncate(trained.train_rows, width);
        let meta = VersionMeta {
            number: None,
            parent: None,
            samples_seen: trained.train_rows as u64,
            learning_rate: model.uses_learning_rate().then_some(trained.learning_rate),
            severity: self.stats.severity,
            metrics: trained.holdout,
            reason: reason.clone(),
            learned_through,
        };
        let drift = self.drift.as_ref().map(|d| d.reference.clone());
        let registry = self.peers.save_offline.clone();
        let stale = generation != self.generation;
        let save = async move {
            if stale {
                return Err(AgentError::InvalidArgument(
                    "a rollback or promotion happened while it trained; not stored".into(),
                ));
            }
            // The offline version's drift reference is its training data.
            // (Sparse models have no per-feature reference.)
            let reference = match (drift, train_rows) {
                (Some(d), Rows::Dense(rows)) => Some(
                    d.send(SetReference {
                        rows,
                        source: ReferenceSource::Offline,
                    })
                    .await
                    .map_err(|_| AgentError::Stopped)??,
                ),
                _ => None,
            };
            registry
                .send(SaveOffline {
                    bytes,
                    meta,
                    reference,
                })
                .await
                .map_err(|_| AgentError::Stopped)?
        };
        save.into_actor(self).map(move |saved, act, ctx| {
            let backlog = act.retraining.take().map(|r| r.backlog).unwrap_or_default();
            let entry = match saved {
                Ok(entry) => entry,
                Err(e) => {
                    act.offline_failed(&reason, &e);
                    return Err(e);
                }
            };
            act.continue_from(model, entry.id());
            act.stats.offline_metrics = trained.holdout;
            act.stats.scored_since_offline = 0;
            // The newest offline version is the ensemble's offline member.
            act.peers
                .role
                .do_send(SetServingRole::OfflineMember(crate::serving::Served {
                    snapshot: act.model.snapshot(),
                    version: entry.id(),
                }));
            // The online batches trained while it trained: learned again,
            // served as the next online version.
            if !backlog.is_empty() {
                let step = act.online.batch_size.max(1);
                for (rows, labels, lr) in &backlog {
                    rows.fit_steps(act.model.as_mut(), width, labels, *lr, step, |r, _| {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "replayed update step refused");
                        }
                    });
                }
                tracing::info!(
                    batches = backlog.len(),
                    "online updates made during the offline training replayed"
                );
                act.serve_update();
                act.persist(ctx, false);
            }
            let report = OfflineReport {
                version: entry.id(),
                reason,
                trained,
            };
            tracing::info!(version = %report.version, "offline version trained and active");
            act.publish(Event::OfflineTrained(report.clone()));
            Ok(report)
        })
    }
}
