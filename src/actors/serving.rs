use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use arc_swap::ArcSwap;

use crate::config::AbConfig;
use crate::error::AgentError;
use crate::events::{AbStats, Event, ServingStats};
use crate::messages::{
    Barrier, ClickOutcomes, ConfigChanged, Feedback, GetAbStats, GetServingStats, Promote, Publish,
    RecordKeyed, SetServingRole, Subscribe,
};
use crate::serving::{ServingSet, Variant, VariantStats, variant_stats};

/// Outcomes kept per variant for its metrics.
pub const OUTCOME_WINDOW: usize = 100_000;

/// A keyed prediction waiting for its outcome.
struct Pending {
    /// (variant, version, predictions) of every model that scored it.
    scored: Vec<(Variant, crate::store::VersionId, Vec<f32>)>,
    /// The rows predicted, kept for delayed labels (`[feedback]`).
    rows: Option<crate::rows::Rows>,
    /// A ranking's documents, in prediction order.
    docs: Option<Vec<String>>,
    /// When it was recorded (ms, by the agent's clock).
    at_ms: u64,
}

/// Swaps the serving set, tracks A/B outcomes, publishes events.
pub struct ServingActor {
    serving: Arc<ArcSwap<ServingSet>>,
    /// Each subscriber's bounded channel (both ends: see [`Subscribe`]).
    subscribers: Vec<Subscribe>,
    /// Events dropped for subscribers that did not keep up.
    events_dropped: u64,
    ab: AbConfig,
    scoring: crate::serving::Outcomes,
    pending: HashMap<u64, Pending>,
    order: VecDeque<u64>,
    feedback: crate::config::FeedbackConfig,
    clock: Arc<dyn crate::clock::Clock>,
    /// Predictions dropped unanswered: past `feedback.ttl`, and beyond the
    /// pending bound.
    expired: u64,
    dropped: u64,
    /// (prediction, outcome) per variant since it took its role.
    outcomes: HashMap<Variant, VecDeque<(f32, f32)>>,
    demoted: u64,
    /// `serving.ensemble_offline_weight` at start.
    ensemble_weight: f64,
}

impl ServingActor {
    /// A server writing to `serving` (the host's handle reads it).
    pub fn new(
        serving: Arc<ArcSwap<ServingSet>>,
        config: &crate::config::Config,
        scoring: crate::serving::Outcomes,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Self {
        let ab = config.ab.clone();
        Self {
            ensemble_weight: config.serving.ensemble_offline_weight,
            serving,
            subscribers: Vec::new(),
            events_dropped: 0,
            ab,
            scoring,
            pending: HashMap::new(),
            order: VecDeque::new(),
            feedback: config.feedback.clone(),
            clock,
            expired: 0,
            dropped: 0,
            outcomes: HashMap::new(),
            demoted: 0,
        }
    }

    /// Sends `event` to every subscriber; a full channel loses its oldest
    /// event (counted) rather than grow or block serving.
    fn publish(&mut self, event: Event) {
        let mut dropped = 0;
        self.subscribers.retain(|s| {
            let mut event = event.clone();
            loop {
                match s.tx.try_send(event) {
                    Ok(()) => return true,
                    Err(crossbeam_channel::TrySendError::Disconnected(_)) => return false,
                    Err(crossbeam_channel::TrySendError::Full(back)) => {
                        event = back;
                        if s.rx.try_recv().is_ok() {
                            dropped += 1;
                        }
                    }
                }
            }
        });
        self.events_dropped += dropped;
    }

    fn swap(&self, change: impl FnOnce(&mut ServingSet)) {
        let mut next = (**self.serving.load()).clone();
        change(&mut next);
        self.serving.store(Arc::new(next));
    }

    fn stats_of(&self, variant: Variant) -> Option<VariantStats> {
        let set = self.serving.load();
        let version = match variant {
            Variant::Champion => Some(set.champion.version),
            Variant::Challenger => set.challenger.as_ref().map(|c| c.0.version),
            Variant::Shadow => set.shadow.as_ref().map(|s| s.version),
        };
        let o = self.outcomes.get(&variant)?;
        let (p, y): (Vec<f32>, Vec<f32>) = o.iter().copied().unzip();
        Some(variant_stats(variant, version, self.scoring, &p, &y))
    }

    /// Demotes the challenger when, after `min_samples` outcomes on both
    /// sides, its metric is worse than the champion's by more than the
    /// margin (AUC for binary classifiers, accuracy for multiclass ones,
    /// relative MAE for regressors).
    fn guardrail(&mut self) {
        if self.serving.load().challenger.is_none() {
            return;
        }
        let (Some(champion), Some(challenger)) = (
            self.stats_of(Variant::Champion),
            self.stats_of(Variant::Challenger),
        ) else {
            return;
        };
        if champion.samples.min(challenger.samples) < self.ab.min_samples {
            return;
        }
        let worse = match (champion.auc, challenger.auc, champion.mae, challenger.mae) {
            (Some(a), Some(b), _, _) => b.value < a.value - self.ab.margin,
            (_, _, Some(a), Some(b)) => b.value > a.value * (1.0 + self.ab.margin),
            _ => match (champion.accuracy, challenger.accuracy) {
                (Some(a), Some(b)) => b.value < a.value - self.ab.margin,
                _ => false,
            },
        };
        if worse {
            let version = challenger.version;
            tracing::warn!(?version, "guardrail: challenger demoted");
            self.swap(|s| s.challenger = None);
            self.outcomes.remove(&Variant::Challenger);
            self.demoted += 1;
            self.publish(Event::ChallengerDemoted {
                version,
                champion: Box::new(champion),
                challenger: Box::new(challenger),
            });
        }
    }
}

/// Messages the serving actor's mailbox holds before `try_send` (keyed
/// predictions' records) is refused and `send` waits.
pub const MAILBOX_CAPACITY: usize = 65_536;

impl Actor for ServingActor {
    type Context = Context<Self>;
}

impl ServingActor {
    /// Starts the actor with its mailbox of [`MAILBOX_CAPACITY`] set before
    /// any message can be sent (a capacity set in `started` would leave
    /// the first calls the default 16).
    pub fn start_bounded(self) -> Addr<Self> {
        Self::create(|ctx| {
            ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
            self
        })
    }
}

impl Handler<Promote> for ServingActor {
    type Result = ();
    fn handle(&mut self, msg: Promote, _: &mut Context<Self>) {
        tracing::info!(version = %msg.version, "serving the new model");
        self.swap(|s| {
            s.champion = crate::serving::Served {
                snapshot: msg.snapshot,
                version: msg.version,
            }
        });
        self.publish(Event::Promoted {
            version: msg.version,
        });
    }
}

impl Handler<SetServingRole> for ServingActor {
    type Result = ();
    fn handle(&mut self, msg: SetServingRole, _: &mut Context<Self>) {
        match msg {
            SetServingRole::Challenger(c) => {
                self.outcomes.remove(&Variant::Challenger);
                self.swap(|s| s.challenger = c);
            }
            SetServingRole::Shadow(shadow) => {
                self.outcomes.remove(&Variant::Shadow);
                self.swap(|s| s.shadow = shadow);
            }
            SetServingRole::OfflineMember(offline) => self.swap(|s| {
                let w = s.ensemble.as_ref().map_or(self.ensemble_weight, |e| e.1);
                s.ensemble = Some((offline, w));
            }),
            SetServingRole::ChampionFromChallenger => {
                // The challenger's outcomes now describe the champion.
                let taken = self.outcomes.remove(&Variant::Challenger);
                self.outcomes.remove(&Variant::Champion);
                if let Some(t) = taken {
                    self.outcomes.insert(Variant::Champion, t);
                }
                self.swap(|s| s.challenger = None);
            }
        }
    }
}

impl ServingActor {
    /// Predictions kept at most: `feedback.max_pending` when rows are kept,
    /// else `ab.max_pending`.
    fn pending_bound(&self) -> usize {
        if self.feedback.enabled {
            self.feedback.max_pending
        } else {
            self.ab.max_pending
        }
    }

    /// Drops the predictions past `feedback.ttl` (oldest first), counted.
    fn expire(&mut self) {
        let ttl = u64::try_from(self.feedback.ttl.0.as_millis()).unwrap_or(u64::MAX);
        let now = self.clock.now_ms();
        while let Some(&oldest) = self.order.front() {
            match self.pending.get(&oldest) {
                Some(p) if now.saturating_sub(p.at_ms) < ttl => break,
                Some(_) => {
                    self.pending.remove(&oldest);
                    self.expired += 1;
                }
                // Answered already.
                None => {}
            }
            self.order.pop_front();
        }
    }
}

impl Handler<RecordKeyed> for ServingActor {
    type Result = ();
    fn handle(&mut self, msg: RecordKeyed, _: &mut Context<Self>) {
        self.expire();
        while self.pending.len() >= self.pending_bound() {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.pending.remove(&old).is_some() {
                self.dropped += 1;
            }
        }
        self.order.push_back(msg.request_id);
        self.pending.insert(
            msg.request_id,
            Pending {
                scored: msg.scored,
                rows: msg.rows,
                docs: msg.docs,
                at_ms: msg.at_ms,
            },
        );
    }
}

impl Handler<Feedback> for ServingActor {
    type Result = Result<(usize, Option<crate::rows::Rows>), AgentError>;
    fn handle(&mut self, msg: Feedback, _: &mut Context<Self>) -> Self::Result {
        self.expire();
        let mut pending = self
            .pending
            .remove(&msg.request_id)
            .ok_or(AgentError::UnknownRequest(msg.request_id))?;
        let rows = pending.scored.first().map_or(0, |s| s.2.len());
        let set = self.serving.load_full();
        // The checks training labels get: one per row, finite, 0 or 1 for
        // a classifier. A refused report leaves the prediction waiting.
        if let Err(e) =
            refit_plugin::validate::labels(set.champion.snapshot.spec(), rows, &msg.labels)
        {
            self.pending.insert(msg.request_id, pending);
            return Err(e.into());
        }
        let pairs: Vec<(usize, f32)> = msg.labels.iter().copied().enumerate().collect();
        self.count(std::mem::take(&mut pending.scored), &pairs);
        Ok((rows, pending.rows.take()))
    }
}

impl Handler<ClickOutcomes> for ServingActor {
    type Result = Result<usize, AgentError>;
    fn handle(&mut self, msg: ClickOutcomes, _: &mut Context<Self>) -> Self::Result {
        self.expire();
        let known = self
            .pending
            .get(&msg.request_id)
            .and_then(|p| p.docs.as_ref());
        let Some(docs) = known else {
            return Err(AgentError::UnknownRequest(msg.request_id));
        };
        let mut pairs = Vec::with_capacity(msg.outcomes.len());
        for (doc, y) in &msg.outcomes {
            let Some(i) = docs.iter().position(|d| d == doc) else {
                return Err(AgentError::InvalidArgument(format!(
                    "ranking {} did not rank document `{doc}`",
                    msg.request_id
                )));
            };
            pairs.push((i, *y));
        }
        let Some(mut pending) = self.pending.remove(&msg.request_id) else {
            return Err(AgentError::UnknownRequest(msg.request_id));
        };
        self.count(std::mem::take(&mut pending.scored), &pairs);
        Ok(pairs.len())
    }
}

impl ServingActor {
    /// Counts outcomes `(row, outcome)` for the variants that scored them,
    /// then lets the guardrail judge.
    fn count(
        &mut self,
        scored: Vec<(Variant, crate::store::VersionId, Vec<f32>)>,
        pairs: &[(usize, f32)],
    ) {
        let set = self.serving.load_full();
        for (variant, version, p) in scored {
            // Outcomes count for the model that holds the role now only.
            let current = match variant {
                Variant::Champion => Some(set.champion.version),
                Variant::Challenger => set.challenger.as_ref().map(|c| c.0.version),
                Variant::Shadow => set.shadow.as_ref().map(|s| s.version),
            };
            if current != Some(version) {
                continue;
            }
            let o = self.outcomes.entry(variant).or_default();
            for &(i, y) in pairs {
                let Some(&p) = p.get(i) else { continue };
                if o.len() == OUTCOME_WINDOW {
                    o.pop_front();
                }
                o.push_back((p, y));
            }
        }
        self.guardrail();
    }
}

impl Handler<GetAbStats> for ServingActor {
    type Result = MessageResult<GetAbStats>;
    fn handle(&mut self, _: GetAbStats, _: &mut Context<Self>) -> Self::Result {
        let set = self.serving.load();
        let share = set.challenger.as_ref().map_or(0.0, |c| c.1);
        let variants = [Variant::Champion, Variant::Challenger, Variant::Shadow]
            .into_iter()
            .filter_map(|v| self.stats_of(v))
            .collect();
        MessageResult(AbStats {
            share,
            variants,
            pending: self.pending.len(),
            demoted: self.demoted,
            challenger: set.challenger.as_ref().map(|c| c.0.version),
            shadow: set.shadow.as_ref().map(|s| s.version),
            ensemble: set.ensemble.as_ref().map(|e| e.0.version),
            ensemble_weight: set.ensemble.as_ref().map_or(self.ensemble_weight, |e| e.1),
        })
    }
}

impl Handler<ConfigChanged> for ServingActor {
    type Result = ();
    fn handle(&mut self, msg: ConfigChanged, _: &mut Context<Self>) {
        self.ab = msg.0.ab.clone();
        // ttl and max_pending apply at once; `enabled` is read by the
        // handle at start.
        self.feedback.ttl = msg.0.feedback.ttl;
        self.feedback.max_pending = msg.0.feedback.max_pending;
        let w = msg.0.serving.ensemble_offline_weight;
        // Also for an offline member that comes later.
        self.ensemble_weight = w;
        self.swap(|s| {
            if let Some(e) = &mut s.ensemble {
                e.1 = w;
            }
        });
    }
}

impl Handler<Publish> for ServingActor {
    type Result = ();
    fn handle(&mut self, msg: Publish, _: &mut Context<Self>) {
        self.publish(msg.0);
    }
}

impl Handler<GetServingStats> for ServingActor {
    type Result = MessageResult<GetServingStats>;
    fn handle(&mut self, _: GetServingStats, _: &mut Context<Self>) -> Self::Result {
        self.expire();
        MessageResult(ServingStats {
            events_dropped: self.events_dropped,
            subscribers: self.subscribers.len(),
            feedback_pending: self.pending.len(),
            feedback_expired: self.expired,
            feedback_dropped: self.dropped,
        })
    }
}

impl Handler<Subscribe> for ServingActor {
    type Result = ();
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.subscribers.push(msg);
    }
}

impl Handler<Barrier> for ServingActor {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        // The waiting host may have given up; nothing to do then.
        let _ = msg.reply.send(());
    }
}
