//! Hot reload of config.toml in a running agent: in-place writes and
//! rename-replace saves take effect for the next update; an invalid file is
//! rejected and the agent keeps its config and keeps learning.

use std::path::Path;

use crate::common::wait_for;

use refit::events::Event;
use refit::{Agent, demo};

fn config_text(stable: f32) -> String {
    format!(
        "[agent]\ndata_dir = \"data\"\n[online]\nmin_samples_per_update = 100\nbatch_size = 50\n[learning_rate]\nstable = {stable}\n"
    )
}

/// Ingests one update's worth and returns the learning rate it used.
fn next_update_rate(agent: &Agent, events: &crossbeam_channel::Receiver<Event>, seed: u64) -> f32 {
    let s = demo::churn(seed, 100);
    agent.ingest(&s.x, &s.y).unwrap();
    match wait_for(events, |e| matches!(e, Event::UpdateApplied { .. })) {
        Some(Event::UpdateApplied { learning_rate, .. }) => {
            learning_rate.expect("logistic records its rate")
        }
        other => panic!("no update: {other:?}"),
    }
}

fn write_in_place(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn write_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn start(
    dir: &Path,
) -> (
    Agent,
    crossbeam_channel::Receiver<Event>,
    std::path::PathBuf,
) {
    let path = dir.join("config.toml");
    write_in_place(&path, &config_text(0.001));
    let mut cfg = refit::config::Config::from_path(&path).unwrap();
    cfg.agent.data_dir = dir.join("data");
    let agent = Agent::builder(cfg.clone())
        .features(demo::CHURN_FEATURES)
        .watch(&path)
        .start()
        .unwrap();
    let events = agent.subscribe().unwrap();
    (agent, events, path)
}

#[test]
fn learning_rate_table_reloads_in_place_and_by_rename() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, events, path) = start(dir.path());
    assert_eq!(next_update_rate(&agent, &events, 1), 0.001);

    write_in_place(&path, &config_text(0.02));
    assert!(
        wait_for(&events, |e| matches!(e, Event::ConfigReloaded { .. })).is_some(),
        "no reload after in-place write"
    );
    assert_eq!(next_update_rate(&agent, &events, 2), 0.02);

    write_by_rename(&path, &config_text(0.03));
    assert!(
        wait_for(&events, |e| matches!(e, Event::ConfigReloaded { .. })).is_some(),
        "no reload after rename"
    );
    assert_eq!(next_update_rate(&agent, &events, 3), 0.03);
    agent.shutdown().unwrap();
}

#[test]
fn invalid_file_is_rejected_and_the_old_config_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, events, path) = start(dir.path());
    write_in_place(&path, &config_text(0.02));
    assert!(wait_for(&events, |e| matches!(e, Event::ConfigReloaded { .. })).is_some());

    write_in_place(&path, "[learning_rate]\nstable = -1.0\n");
    let rejected = wait_for(&events, |e| matches!(e, Event::ConfigRejected { .. }));
    match rejected {
        Some(Event::ConfigRejected { error, .. }) => {
            assert!(error.contains("learning_rate.stable"), "{error}")
        }
        other => panic!("expected ConfigRejected, got {other:?}"),
    }
    write_in_place(&path, "[online\nbroken");
    assert!(wait_for(&events, |e| matches!(e, Event::ConfigRejected { .. })).is_some());
    // Still learning, with the last valid table.
    assert_eq!(next_update_rate(&agent, &events, 4), 0.02);
    agent.shutdown().unwrap();
}

/// A change the running agent cannot apply is named in the reload event
/// (it used to be ignored without a word); the keys it can apply are not.
#[test]
fn keys_that_need_a_restart_are_named_in_the_reload_event() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, events, path) = start(dir.path());
    let text = format!(
        "{}[samples]\nsegment_bytes = 4096\nmax_bytes = 1000000\n[http]\nmax_body_bytes = 1024\n[drift]\nks = true\n",
        config_text(0.02)
    );
    write_in_place(&path, &text);
    match wait_for(&events, |e| matches!(e, Event::ConfigReloaded { .. })) {
        Some(Event::ConfigReloaded {
            restart_required, ..
        }) => {
            for key in ["samples.segment_bytes", "http.max_body_bytes", "drift.ks"] {
                assert!(
                    restart_required.iter().any(|k| k == key),
                    "{key} missing from {restart_required:?}"
                );
            }
            for key in ["samples.max_bytes", "learning_rate.stable"] {
                assert!(
                    !restart_required.iter().any(|k| k == key),
                    "{key} applies at once: {restart_required:?}"
                );
            }
        }
        other => panic!("no reload: {other:?}"),
    }
    // The hot part took effect.
    assert_eq!(next_update_rate(&agent, &events, 5), 0.02);
    agent.shutdown().unwrap();
}

/// The PSI severity of the next update's drift report.
fn next_psi_severity(
    agent: &Agent,
    events: &crossbeam_channel::Receiver<Event>,
    x: &[f32],
    y: &[f32],
) -> refit::Severity {
    agent.ingest(x, y).unwrap();
    match wait_for(events, |e| matches!(e, Event::DriftReport(_))) {
        Some(Event::DriftReport(r)) => r.psi_severity,
        other => panic!("no drift report: {other:?}"),
    }
}

#[test]
fn drift_thresholds_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = |moderate: f64, severe: f64| {
        format!(
            "[agent]\ndata_dir = \"data\"\n[online]\nmin_samples_per_update = 100\n[drift]\nreference_size = 100\nwindow = 100\npsi_moderate = {moderate}\npsi_severe = {severe}\n"
        )
    };
    write_in_place(&path, &text(0.15, 0.3));
    let mut cfg = refit::config::Config::from_path(&path).unwrap();
    cfg.agent.data_dir = dir.path().join("data");
    let agent = Agent::builder(cfg)
        .features(demo::CHURN_FEATURES)
        .watch(&path)
        .start()
        .unwrap();
    let events = agent.subscribe().unwrap();
    let s = demo::churn(8, 300);
    // The first 100 rows are the reference; then windows of shifted rows.
    next_psi_severity(&agent, &events, &s.x[..800], &s.y[..100]);
    let shifted: Vec<f32> = s.x[800..].iter().map(|v| v + 10.0).collect();
    let severity = next_psi_severity(&agent, &events, &shifted[..800], &s.y[100..200]);
    assert_eq!(severity, refit::Severity::Severe);
    // Thresholds far above any PSI here: the same shift is now stable.
    write_in_place(&path, &text(1e6, 2e6));
    assert!(wait_for(&events, |e| matches!(e, Event::ConfigReloaded { .. })).is_some());
    let severity = next_psi_severity(&agent, &events, &shifted[800..], &s.y[200..]);
    assert_eq!(severity, refit::Severity::Stable);
    agent.shutdown().unwrap();
}
