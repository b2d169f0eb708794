use actix::prelude::*;

use crate::actors::server::Server;
use crate::actors::trainer::Trainer;
use crate::agent::Severity;
use crate::config::DriftConfig;
use crate::drift::{BinEdges, FeaturePsi};
use crate::messages::{
    Barrier, ConfigChanged, DriftReport, Event, ObserveBatch, Publish, TrainBatch,
};

/// Measures data drift: per-feature PSI of a sliding window of recent
/// samples against a reference made of the first `reference_size` samples.
pub struct Drift {
    features: Vec<String>,
    config: DriftConfig,
    /// Reference values per feature while it is being collected.
    reference: Vec<Vec<f32>>,
    monitors: Option<Vec<FeaturePsi>>,
    /// Consecutive reports above the moderate threshold.
    drifting: usize,
    /// Times the reference was re-based.
    rebases: usize,
    trainer: Addr<Trainer>,
    server: Addr<Server>,
}

impl Drift {
    /// A drift actor for `features`.
    pub fn new(
        features: Vec<String>,
        config: DriftConfig,
        trainer: Addr<Trainer>,
        server: Addr<Server>,
    ) -> Self {
        let reference = vec![Vec::new(); features.len()];
        Self {
            features,
            config,
            reference,
            monitors: None,
            drifting: 0,
            rebases: 0,
            trainer,
            server,
        }
    }

    fn observe_row(&mut self, row: &[f32]) {
        match &mut self.monitors {
            Some(monitors) => {
                for (m, &v) in monitors.iter_mut().zip(row) {
                    m.push(v);
                }
            }
            None => {
                for (col, &v) in self.reference.iter_mut().zip(row) {
                    col.push(v);
                }
                if self.reference[0].len() >= self.config.reference_size {
                    let cols = std::mem::take(&mut self.reference);
                    self.set_reference(&cols);
                    tracing::info!(samples = cols[0].len(), "drift reference complete");
                }
            }
        }
    }

    /// Monitors against `cols` (one vector of values per feature), with an
    /// empty window.
    fn set_reference(&mut self, cols: &[Vec<f32>]) {
        self.monitors = Some(
            cols.iter()
                .map(|col| {
                    FeaturePsi::new(
                        BinEdges::from_reference(col, self.config.bins),
                        col,
                        self.config.window,
                    )
                    .with_floor(self.config.empty_bin_floor)
                })
                .collect(),
        );
    }

    /// Re-bases the reference on the current window after `rebase_after`
    /// consecutive drifting reports.
    fn maybe_rebase(&mut self, report: &DriftReport) {
        if report.severity == Severity::Stable {
            self.drifting = 0;
            return;
        }
        self.drifting += 1;
        if self.config.rebase_after > 0 && self.drifting >= self.config.rebase_after {
            let cols: Vec<Vec<f32>> = self
                .monitors
                .iter()
                .flatten()
                .map(|m| m.window().collect())
                .collect();
            if cols.first().is_some_and(|c| !c.is_empty()) {
                tracing::info!(
                    samples = cols[0].len(),
                    "drift reference re-based on the current window"
                );
                self.set_reference(&cols);
                self.drifting = 0;
                self.rebases += 1;
            }
        }
    }

    fn report(&self) -> DriftReport {
        let Some(monitors) = &self.monitors else {
            return DriftReport {
                psi: Vec::new(),
                max_psi: 0.0,
                alerts: Vec::new(),
                severity: Severity::Stable,
                reference_samples: self.reference.first().map_or(0, Vec::len),
                window_samples: 0,
                rebases: self.rebases,
            };
        };
        let severity_of = |psi: f64| {
            if psi > self.config.psi_severe {
                Severity::Severe
            } else if psi > self.config.psi_moderate {
                Severity::Moderate
            } else {
                Severity::Stable
            }
        };
        let psi: Vec<(String, f64)> = self
            .features
            .iter()
            .zip(monitors)
            .map(|(f, m)| (f.clone(), m.psi()))
            .collect();
        let max_psi = psi.iter().map(|p| p.1).fold(0.0, f64::max);
        let alerts = psi
            .iter()
            .filter(|p| severity_of(p.1) != Severity::Stable)
            .map(|(f, v)| (f.clone(), *v, severity_of(*v)))
            .collect();
        DriftReport {
            psi,
            max_psi,
            alerts,
            severity: severity_of(max_psi),
            reference_samples: monitors.first().map_or(0, |m| m.reference_len() as usize),
            window_samples: monitors.first().map_or(0, FeaturePsi::len),
            rebases: self.rebases,
        }
    }
}

impl Actor for Drift {
    type Context = Context<Self>;
}

impl Handler<ObserveBatch> for Drift {
    type Result = ();
    fn handle(&mut self, msg: ObserveBatch, _: &mut Context<Self>) {
        let _span = tracing::debug_span!("drift.observe", samples = msg.labels.len()).entered();
        let width = self.features.len();
        for row in msg.rows.chunks_exact(width) {
            self.observe_row(row);
        }
        let drift = self.report();
        self.maybe_rebase(&drift);
        tracing::debug!(max_psi = drift.max_psi, severity = ?drift.severity, "drift");
        self.server
            .do_send(Publish(Event::DriftReport(drift.clone())));
        self.trainer.do_send(TrainBatch {
            rows: msg.rows,
            labels: msg.labels,
            first_sample: msg.first_sample,
            trigger: msg.trigger,
            drift,
        });
    }
}

impl Handler<Barrier> for Drift {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        self.trainer.do_send(msg);
    }
}

impl Handler<ConfigChanged> for Drift {
    type Result = ();
    fn handle(&mut self, msg: ConfigChanged, _: &mut Context<Self>) {
        // Thresholds apply to the next report; bins, window and reference
        // size shape the reference and need a restart.
        self.config.psi_moderate = msg.0.drift.psi_moderate;
        self.config.psi_severe = msg.0.drift.psi_severe;
    }
}
