//! The loss-stream detectors on the demo churn stream: its abrupt concept
//! drift (row 20 000) leaves every feature distribution unchanged, so PSI
//! cannot see it; the detectors must, and the raised learning rate must win
//! back the pre-drift log loss sooner than a fixed rate.

use refit::config::{Config, LearningRates};
use refit::demo;
use refit::drift::ConceptLevel;
use refit::run::RunSummary;
use refit::{Agent, Severity};

fn run(rates: LearningRates) -> RunSummary {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.learning_rate = rates.into();
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap();
    let s = demo::churn(42, demo::DEFAULT_ROWS);
    let summary = refit::run::run(&agent, &s.x, &s.y, None, 4_000, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    agent.shutdown().unwrap();
    summary
}

fn log_loss(p: f32, y: f32) -> f64 {
    let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
    -(f64::from(y) * p.ln() + (1.0 - f64::from(y)) * (1.0 - p).ln())
}

/// Samples after the drift until the mean progressive log loss of the last
/// 2 000 samples (checked every 100) is back within 10% of its mean over the
/// 5 000 samples before the drift.
fn recovery(summary: &RunSummary, y: &[f32]) -> Option<usize> {
    let at = demo::CONCEPT_DRIFT_AT;
    let losses: Vec<f64> = summary
        .predictions
        .iter()
        .zip(y)
        .map(|(&p, &y)| log_loss(p, y))
        .collect();
    let before = losses[at - 5_000..at].iter().sum::<f64>() / 5_000.0;
    (at + 2_000..demo::SHIFT_START)
        .step_by(100)
        .find_map(|end| {
            let recent = losses[end - 2_000..end].iter().sum::<f64>() / 2_000.0;
            (recent <= 1.1 * before).then_some(end - at)
        })
}

#[test]
fn concept_drift_is_flagged_and_the_raised_rate_recovers_sooner() {
    let s = demo::churn(42, demo::DEFAULT_ROWS);
    let shipped = Config::default()
        .learning_rates(&refit::plugins::builtin())
        .unwrap();
    let driven = run(shipped);
    let stable = shipped.stable;
    let fixed = run(LearningRates {
        stable,
        moderate: stable,
        severe: stable,
    });
    let at = demo::CONCEPT_DRIFT_AT as u64;
    // No drift-level alarm before the drift, one within 2 000 samples of it.
    let alarms: Vec<_> = driven
        .concept_alarms
        .iter()
        .filter(|a| a.level == ConceptLevel::Drift)
        .collect();
    eprintln!("alarms {alarms:?}\nlr changes {:?}", driven.lr_changes);
    assert!(alarms.iter().all(|a| a.sample >= at), "{alarms:?}");
    let first = alarms.first().expect("the concept drift is flagged");
    assert!(first.sample < at + 2_000, "flagged at {}", first.sample);
    // The rate rises for the update after the alarm, to severe.
    assert!(
        driven
            .lr_changes
            .iter()
            .any(|c| c.severity == Severity::Severe
                && c.sample > first.sample
                && c.sample <= first.sample + 2_000),
        "{:?}",
        driven.lr_changes
    );
    let (r_driven, r_fixed) = (recovery(&driven, &s.y), recovery(&fixed, &s.y));
    eprintln!(
        "log loss back within 10%: drift-driven after {r_driven:?} samples, fixed after {r_fixed:?}"
    );
    let r_driven = r_driven.expect("the drift-driven run recovers before the covariate shift");
    assert!(r_fixed.is_none_or(|f| r_driven < f));
}
