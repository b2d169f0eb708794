use std::sync::Arc;

use actix::prelude::*;

use refit_plugin::PluginError;

use crate::config::{DriftConfig, WindowMode};
use crate::drift::Severity;
use crate::drift::reference::{DriftReference, ReferenceSource};
use crate::drift::{BinEdges, ConceptLevel, ConceptMonitor, FeaturePsi};
use crate::error::AgentError;
use crate::events::{Alert, DriftReport, Event};
use crate::messages::{
    Barrier, ConfigChanged, GetDriftReport, ObserveBatch, ObserveLosses, Publish, SetReference,
    TrainBatch, UseStoredReference,
};

/// Measures drift: per-feature PSI (and optionally KS) of a window of recent
/// samples against a reference, and concept drift on the Trainer's loss
/// stream. The reference is, in order of preference, one the host set
/// ([`SetReference`]), or the first `reference_size` samples; it is
/// re-based on the current window after `rebase_after` consecutive reports
/// with PSI drift.
pub struct Drift {
    features: Vec<String>,
    categorical: Vec<bool>,
    config: DriftConfig,
    /// Reference values per feature while it is being collected.
    collecting: Vec<Vec<f32>>,
    monitors: Option<Vec<FeaturePsi>>,
    /// The reference as stored with each checkpoint.
    stored: Option<Arc<DriftReference>>,
    concept: ConceptMonitor,
    /// Samples observed so far.
    seen: u64,
    /// Consecutive reports with PSI above the moderate threshold.
    drifting: usize,
    /// Times the reference was re-based.
    rebases: usize,
    last: Option<DriftReport>,
    peers: DriftPeers,
}

/// Where the Drift actor's messages go.
pub struct DriftPeers {
    /// Trainer: the batches, with their drift.
    pub train: Recipient<TrainBatch>,
    /// Trainer: the barrier's next stop.
    pub barrier: Recipient<Barrier>,
    /// ServingActor: drift reports to publish.
    pub events: Recipient<Publish>,
}

impl Drift {
    /// A drift actor for `features`; `categorical[i]` marks feature `i` as
    /// categorical (level codes, one bin per level).
    pub fn new(
        features: Vec<String>,
        categorical: Vec<bool>,
        config: DriftConfig,
        peers: DriftPeers,
    ) -> Self {
        let collecting = vec![Vec::new(); features.len()];
        Self {
            concept: ConceptMonitor::new(config.concept),
            features,
            categorical,
            config,
            collecting,
            monitors: None,
            stored: None,
            seen: 0,
            drifting: 0,
            rebases: 0,
            last: None,
            peers,
        }
    }

    fn observe_row(&mut self, row: &[f32]) {
        self.seen += 1;
        match &mut self.monitors {
            Some(monitors) => {
                for (m, &v) in monitors.iter_mut().zip(row) {
                    m.push(v);
                }
            }
            None => {
                for (col, &v) in self.collecting.iter_mut().zip(row) {
                    col.push(v);
                }
                if self.collecting[0].len() >= self.config.reference_size {
                    let cols = std::mem::take(&mut self.collecting);
                    self.set_reference(&cols, ReferenceSource::FirstSamples);
                    tracing::info!(samples = cols[0].len(), "drift reference complete");
                }
            }
        }
    }

    /// Monitors against a stored reference (a restored or rolled-back
    /// version's); the KS test needs the reference values, which are not
    /// stored, so it is off until the next re-base.
    fn use_stored(&mut self, stored: DriftReference) -> Result<(), AgentError> {
        let names: Vec<&str> = stored.features.iter().map(|f| f.name.as_str()).collect();
        if names != self.features.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(AgentError::Plugin(PluginError::InvalidParams(format!(
                "the stored drift reference is for features {names:?}"
            ))));
        }
        self.collecting = vec![Vec::new(); self.features.len()];
        self.install(stored, None);
        Ok(())
    }

    /// Monitors against `cols` (one vector of values per feature), with an
    /// empty window.
    fn set_reference(&mut self, cols: &[Vec<f32>], source: ReferenceSource) {
        let edges: Vec<BinEdges> = cols
            .iter()
            .zip(&self.categorical)
            .map(|(col, &categorical)| {
                if categorical {
                    BinEdges::from_levels(col)
                } else {
                    BinEdges::from_reference(col, self.config.bins)
                }
            })
            .collect();
        let reference = DriftReference::from_columns(&self.features, cols, &edges, source);
        self.install(reference, Some(cols));
    }

    /// Monitors over `reference`'s bins and counts, with empty windows; the
    /// KS test too where enabled and the reference values are known.
    fn install(&mut self, reference: DriftReference, ks_values: Option<&[Vec<f32>]>) {
        let c = &self.config;
        self.monitors = Some(
            reference
                .features
                .iter()
                .enumerate()
                .map(|(j, f)| {
                    let m = FeaturePsi::from_counts(f.edges.clone(), f.counts.clone(), c.window)
                        .with_floor(c.empty_bin_floor)
                        .tumbling(c.window_mode == WindowMode::Tumbling);
                    match ks_values {
                        Some(cols) if c.ks && !f.edges.is_categorical() => m.with_ks(&cols[j]),
                        _ => m,
                    }
                })
                .collect(),
        );
        self.stored = Some(Arc::new(reference));
        self.drifting = 0;
    }

    /// Re-bases the reference on the current window after `rebase_after`
    /// consecutive reports with PSI drift, once the window holds
    /// `reference_size` samples (all of it, when it is smaller); until
    /// then the drifting reports keep counting.
    fn maybe_rebase(&mut self, report: &DriftReport) {
        if report.psi_severity == Severity::Stable {
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
            // A new reference of as many samples as the first one had (or
            // a full window, when the window is smaller): a few hundred
            // samples would make a noisy reference.
            let needed = self.config.reference_size.min(self.config.window).max(1);
            if cols.first().is_some_and(|c| c.len() >= needed) {
                tracing::info!(
                    samples = cols[0].len(),
                    "drift reference re-based on the current window"
                );
                self.set_reference(&cols, ReferenceSource::Rebase);
                self.rebases += 1;
            }
        }
    }

    fn report(&mut self) -> DriftReport {
        let concept = self.concept.take_level();
        let concept_severity = match concept {
            ConceptLevel::None => Severity::Stable,
            ConceptLevel::Warning => Severity::Moderate,
            ConceptLevel::Drift => Severity::Severe,
        };
        let (psi, ks, reference_samples, window_samples) = match &self.monitors {
            None => (
                Vec::new(),
                Vec::new(),
                self.collecting.first().map_or(0, Vec::len),
                0,
            ),
            Some(monitors) => (
                self.features
                    .iter()
                    .zip(monitors)
                    .map(|(f, m)| (f.clone(), m.psi()))
                    .collect(),
                self.features
                    .iter()
                    .zip(monitors)
                    .filter_map(|(f, m)| m.ks().map(|k| (f.clone(), k)))
                    .collect(),
                monitors.first().map_or(0, |m| m.reference_len() as usize),
                monitors.first().map_or(0, FeaturePsi::len),
            ),
        };
        let max_psi = psi.iter().map(|p| p.1).fold(0.0, f64::max);
        // A window too small to judge (just after the reference completes or
        // is re-based) is reported but raises nothing.
        let settled = window_samples >= self.config.min_psi_window();
        let alerts = psi
            .iter()
            .filter(|_| settled)
            .map(|(f, v)| (f, *v, self.config.psi_severity(*v)))
            .filter(|a| a.2 != Severity::Stable)
            .map(|(f, psi, severity)| Alert {
                feature: f.clone(),
                psi,
                severity,
            })
            .collect();
        let psi_severity = if settled {
            self.config.psi_severity(max_psi)
        } else {
            Severity::Stable
        };
        DriftReport {
            psi,
            ks,
            max_psi,
            alerts,
            psi_severity,
            concept,
            concept_alarm: self.concept.last_alarm(),
            severity: psi_severity.max(concept_severity),
            reference_samples,
            window_samples,
            window_start: self.seen - window_samples as u64,
            window_end: self.seen,
            rebases: self.rebases,
            thresholds: self.config.thresholds(),
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
        match msg.rows.dense() {
            Some(rows) if !self.features.is_empty() => {
                for row in rows.chunks_exact(self.features.len()) {
                    self.observe_row(row);
                }
            }
            // Hashed coordinates have no per-feature distribution to watch;
            // the loss stream's concept-drift detectors still run.
            _ => self.seen += msg.labels.len() as u64,
        }
        let drift = self.report();
        self.maybe_rebase(&drift);
        tracing::debug!(max_psi = drift.max_psi, concept = ?drift.concept, severity = ?drift.severity, "drift");
        self.last = Some(drift.clone());
        self.peers
            .events
            .do_send(Publish(Event::DriftReport(drift.clone())));
        self.peers.train.do_send(TrainBatch {
            rows: msg.rows,
            labels: msg.labels,
            first_sample: msg.first_sample,
            log_end: msg.log_end,
            trigger: msg.trigger,
            emitted: msg.emitted,
            drift,
            reference: self.stored.clone(),
        });
    }
}

impl Handler<ObserveLosses> for Drift {
    type Result = ();
    fn handle(&mut self, msg: ObserveLosses, _: &mut Context<Self>) {
        let before = self.concept.alarms();
        self.concept.observe(msg.first_sample, &msg.losses);
        self.concept.observe_scored(msg.first_sample, &msg.scored);
        if self.concept.alarms() > before
            && let Some(alarm) = self.concept.last_alarm()
        {
            tracing::info!(
                detector = alarm.detector,
                sample = alarm.sample,
                "concept drift on the loss stream"
            );
        }
    }
}

impl Handler<SetReference> for Drift {
    type Result = Result<Arc<DriftReference>, AgentError>;
    fn handle(&mut self, msg: SetReference, _: &mut Context<Self>) -> Self::Result {
        let width = self.features.len();
        if msg.rows.is_empty() {
            return Err(PluginError::EmptyBatch.into());
        }
        if !msg.rows.len().is_multiple_of(width) {
            return Err(PluginError::RaggedBatch {
                len: msg.rows.len(),
                width,
            }
            .into());
        }
        let cols: Vec<Vec<f32>> = (0..width)
            .map(|j| msg.rows.iter().skip(j).step_by(width).copied().collect())
            .collect();
        tracing::info!(samples = cols[0].len(), source = ?msg.source, "drift reference set");
        self.collecting = vec![Vec::new(); width];
        self.set_reference(&cols, msg.source);
        self.stored
            .clone()
            .ok_or_else(|| AgentError::Internal("the drift reference was set but not built".into()))
    }
}

impl Handler<UseStoredReference> for Drift {
    type Result = Result<(), AgentError>;
    fn handle(&mut self, msg: UseStoredReference, _: &mut Context<Self>) -> Self::Result {
        tracing::info!(samples = msg.0.samples, source = ?msg.0.source, "stored drift reference in use");
        self.use_stored(msg.0)
    }
}

impl Handler<crate::messages::ForwardedReport> for Drift {
    type Result = ();
    fn handle(&mut self, msg: crate::messages::ForwardedReport, _: &mut Context<Self>) {
        self.last = Some(msg.0);
    }
}

impl Handler<GetDriftReport> for Drift {
    type Result = MessageResult<GetDriftReport>;
    fn handle(&mut self, _: GetDriftReport, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.last.clone())
    }
}

impl Handler<Barrier> for Drift {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        self.peers.barrier.do_send(msg);
    }
}

impl Handler<ConfigChanged> for Drift {
    type Result = ();
    fn handle(&mut self, msg: ConfigChanged, _: &mut Context<Self>) {
        // PSI thresholds apply to the next report; bins, window, KS and
        // reference size shape the reference and need a restart.
        self.config.psi_moderate = msg.0.drift.psi_moderate;
        self.config.psi_severe = msg.0.drift.psi_severe;
        // New concept-detector settings start fresh detectors.
        if msg.0.drift.concept != self.config.concept {
            self.config.concept = msg.0.drift.concept;
            self.concept = ConceptMonitor::new(self.config.concept);
        }
    }
}
