use std::collections::VecDeque;

use actix::prelude::*;
use refit_plugin::{Batch, Model};

use crate::actors::ingest::Ingest;
use crate::actors::registry::Registry;
use crate::actors::server::Server;
use crate::agent::Severity;
use crate::config::{LearningRates, OnlineConfig};
use crate::messages::{
    Barrier, Checkpoint, ConfigChanged, DriftReport, Event, GetTrainerStats, Publish, TrainBatch,
    TrainedCount, TrainerStats,
};
use crate::metrics::Scores;

/// Scored samples kept for the rolling progressive metrics.
pub const METRIC_WINDOW: usize = 5_000;

/// Owns the model being trained. Runs on its own arbiter.
pub struct Trainer {
    model: Box<dyn Model>,
    rates: LearningRates,
    online: OnlineConfig,
    ingest: Addr<Ingest>,
    registry: Addr<Registry>,
    server: Addr<Server>,
    stats: TrainerStats,
    /// (prediction, label) of the last scored samples.
    scored: VecDeque<(f32, f32)>,
}

impl Trainer {
    /// A trainer for `model`.
    pub fn new(
        model: Box<dyn Model>,
        rates: LearningRates,
        online: OnlineConfig,
        ingest: Addr<Ingest>,
        registry: Addr<Registry>,
        server: Addr<Server>,
    ) -> Self {
        Self {
            model,
            rates,
            stats: TrainerStats {
                learning_rate: rates.stable,
                ..TrainerStats::default()
            },
            online,
            ingest,
            registry,
            server,
            scored: VecDeque::new(),
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
    /// before learning from it.
    fn score(&mut self, x: &Batch<'_>, labels: &[f32]) {
        if let Ok(pred) = self.model.snapshot().predict(x) {
            for (p, y) in pred.into_iter().zip(labels) {
                if self.scored.len() == METRIC_WINDOW {
                    self.scored.pop_front();
                }
                self.scored.push_back((p, *y));
            }
        }
        let (p, y): (Vec<f32>, Vec<f32>) = self.scored.iter().copied().unzip();
        self.stats.metrics = Some(Scores::for_task(self.model.spec().task, &p, &y));
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
        self.server.do_send(Publish(event));
    }
}

impl Actor for Trainer {
    type Context = Context<Self>;
}

impl Handler<TrainBatch> for Trainer {
    type Result = ();

    fn handle(&mut self, msg: TrainBatch, _: &mut Context<Self>) {
        let n = msg.labels.len();
        let severity = msg.drift.severity;
        let lr = self.rate(severity);
        let _span = tracing::info_span!("trainer.update", samples = n, lr, ?severity).entered();
        let width = self.model.spec().width();
        if !self.online.enabled {
            self.skip("online learning is disabled".into(), n, lr, &msg.drift);
            self.ingest.do_send(TrainedCount(n));
            return;
        }
        if let Ok(x) = Batch::new(&msg.rows, width) {
            self.score(&x, &msg.labels);
        }
        let (mut trained, mut loss_sum, mut clipped) = (0usize, 0.0f64, 0usize);
        let step = self.online.batch_size.max(1);
        for (rows, labels) in msg.rows.chunks(step * width).zip(msg.labels.chunks(step)) {
            let result =
                Batch::new(rows, width).and_then(|x| self.model.partial_fit(&x, labels, lr));
            match result {
                Ok(report) => {
                    trained += report.rows;
                    loss_sum += report.mean_loss_before * report.rows as f64;
                    clipped += usize::from(report.clipped);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "update step refused");
                    self.skip(e.to_string(), labels.len(), lr, &msg.drift);
                }
            }
        }
        self.stats.learning_rate = lr;
        self.stats.severity = severity;
        if trained > 0 {
            self.stats.trained += trained as u64;
            self.stats.updates += 1;
            self.publish(Event::UpdateApplied {
                reason: msg.trigger,
                samples: trained,
                learning_rate: lr,
                severity,
                max_psi: msg.drift.max_psi,
                loss_before: loss_sum / trained as f64,
                first_sample: msg.first_sample,
                clipped_steps: clipped,
            });
            match self.model.save() {
                Ok(bytes) => self.registry.do_send(Checkpoint {
                    bytes,
                    snapshot: self.model.snapshot(),
                    samples_seen: self.stats.trained,
                    learning_rate: lr,
                    severity,
                }),
                Err(e) => self.publish(Event::CheckpointFailed {
                    error: e.to_string(),
                }),
            }
        }
        self.ingest.do_send(TrainedCount(n));
    }
}

impl Handler<Barrier> for Trainer {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        self.registry.do_send(msg);
    }
}

impl Handler<GetTrainerStats> for Trainer {
    type Result = MessageResult<GetTrainerStats>;
    fn handle(&mut self, _: GetTrainerStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.stats.clone())
    }
}

impl Handler<ConfigChanged> for Trainer {
    type Result = ();
    fn handle(&mut self, msg: ConfigChanged, _: &mut Context<Self>) {
        self.rates = msg.0.learning_rate;
        self.online = msg.0.online.clone();
    }
}
