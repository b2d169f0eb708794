//! No false-alarm storm: a stationary stream of 1 million samples with 20
//! features through the agent with the default configuration never raises a
//! severe drift (neither PSI nor the loss-stream detectors), and the demo
//! stream's two injected drifts are each flagged within the drift window.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refit::config::Config;
use refit::drift::ConceptLevel;
use refit::events::Event;
use refit::{Agent, Severity, demo};

const ROWS: usize = 1_000_000;
const WIDTH: usize = 20;

#[test]
fn a_stationary_million_raises_no_severe_alert() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let w: Vec<f32> = (0..WIDTH).map(|_| rng.random_range(-1.0..1.0)).collect();
    let features: Vec<String> = (0..WIDTH).map(|i| format!("f{i}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.min_samples_per_update = 10_000;
    let agent = Agent::builder(c).features(features).start().unwrap();
    let events = agent.subscribe().unwrap();
    let (mut severe, mut moderate, mut reports) = (0, 0, 0);
    let mut tally = |events: &crossbeam_channel::Receiver<Event>| {
        for e in events.try_iter() {
            if let Event::DriftReport(r) = e {
                reports += 1;
                severe += usize::from(r.severity == Severity::Severe);
                moderate += usize::from(r.severity == Severity::Moderate);
            }
        }
    };
    let chunk = 10_000;
    for _ in 0..ROWS / chunk {
        let mut x = Vec::with_capacity(chunk * WIDTH);
        let mut y = Vec::with_capacity(chunk);
        for _ in 0..chunk {
            let row: Vec<f32> = (0..WIDTH).map(|_| rng.random_range(-2.0..2.0)).collect();
            let z: f32 = row.iter().zip(&w).map(|(a, b)| a * b).sum();
            y.push(if rng.random::<f32>() < 1.0 / (1.0 + (-z).exp()) {
                1.0
            } else {
                0.0
            });
            x.extend(row);
        }
        agent.ingest(&x, &y).unwrap();
        agent.sync().unwrap();
        tally(&events);
    }
    agent.flush().unwrap();
    tally(&events);
    let stats = agent.stats().unwrap();
    agent.shutdown().unwrap();
    eprintln!(
        "{reports} drift reports over {ROWS} samples: {severe} severe, {moderate} moderate; last max PSI {:.4}",
        stats.drift.as_ref().map_or(0.0, |d| d.max_psi)
    );
    assert_eq!(stats.trainer.trained, ROWS as u64);
    assert!(reports >= 99);
    assert_eq!(severe, 0);
}

#[test]
fn every_injected_drift_is_flagged_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    let window = c.drift.window as u64;
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap();
    let events = agent.subscribe().unwrap();
    let s = demo::churn(42, demo::DEFAULT_ROWS);
    refit::run::run(&agent, &s.x, &s.y, None, 4_000, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    agent.shutdown().unwrap();
    let reports: Vec<_> = events
        .try_iter()
        .filter_map(|e| match e {
            Event::DriftReport(r) => Some(r),
            _ => None,
        })
        .collect();
    // The concept drift: the loss stream's detector.
    let concept_at = demo::CONCEPT_DRIFT_AT as u64;
    let concept = reports
        .iter()
        .filter_map(|r| r.concept_alarm)
        .find(|a| a.level == ConceptLevel::Drift)
        .expect("a concept alarm");
    assert!(
        (concept_at..concept_at + window).contains(&concept.sample),
        "{concept:?}"
    );
    // The covariate shift: PSI over the moderate threshold, seen in a
    // report whose window ends within `window` samples of the shift's start.
    let shift_at = demo::SHIFT_START as u64;
    let first = reports
        .iter()
        .find(|r| r.psi_severity != Severity::Stable)
        .expect("a PSI alert");
    assert!(
        (shift_at..=shift_at + window).contains(&first.window_end),
        "first PSI alert with window {}..{}",
        first.window_start,
        first.window_end
    );
    assert!(!first.alerts.is_empty());
}
