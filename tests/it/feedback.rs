//! Delayed labels: under `[feedback] enabled` a prediction's rows wait for
//! their labels; `feedback` turns them into training samples through ingest
//! and the sample log. Expired and dropped predictions are refused and
//! counted, and what is kept stays within the bound.

use std::sync::Arc;
use std::time::Duration;

use refit::clock::ManualClock;
use refit::config::Config;
use refit::{Agent, AgentError, demo};

use crate::common;

/// 10 churn rows whose first value is its id (`first..first + 10`).
fn rows(first: u32) -> Vec<f32> {
    let mut x = demo::churn(u64::from(first), 10).x;
    for (i, row) in x.chunks_mut(8).enumerate() {
        row[0] = (first + i as u32) as f32;
    }
    x
}

fn agent(dir: &std::path::Path, clock: &ManualClock, max_pending: usize) -> Agent {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = 50;
    c.online.cold_start = false;
    c.feedback.enabled = true;
    c.feedback.ttl = "1h".parse().unwrap();
    c.feedback.max_pending = max_pending;
    Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .clock(Arc::new(clock.clone()))
        .start()
        .unwrap()
}

#[test]
fn labels_that_come_later_train_on_exactly_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let agent = agent(dir.path(), &clock, 1_000);
    let ids: Vec<u64> = (0..10u32)
        .map(|k| agent.predict(&rows(k * 10)).unwrap().request_id.unwrap())
        .collect();
    let before = agent.predict(&rows(0)).unwrap();
    assert_eq!(agent.stats().unwrap().ingest.accepted, 0);
    // Labels for half of them, minutes later.
    clock.advance(Duration::from_secs(600));
    for id in ids.iter().step_by(2) {
        assert_eq!(agent.feedback(*id, &[1.0; 10]).unwrap(), 10);
    }
    agent.flush().unwrap();
    let stats = agent.stats().unwrap();
    assert_eq!(stats.ingest.accepted, 50);
    assert_eq!(stats.trainer.trained, 50);
    let after = agent.predict(&rows(0)).unwrap();
    assert_ne!(after.version, before.version);
    assert_ne!(after.values, before.values);
    // Answered once: the same id again is unknown.
    assert!(matches!(
        agent.feedback(ids[0], &[1.0; 10]),
        Err(AgentError::UnknownRequest(_))
    ));
    agent.shutdown().unwrap();
    // Exactly those rows are in the sample log, once each.
    let mut logged = common::logged_ids(dir.path());
    logged.sort_unstable();
    let expected: Vec<u32> = (0..10u32)
        .step_by(2)
        .flat_map(|k| k * 10..k * 10 + 10)
        .collect();
    assert_eq!(logged, expected);
}

#[test]
fn expired_and_dropped_predictions_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let agent = agent(dir.path(), &clock, 3);
    let old = agent.predict(&rows(0)).unwrap().request_id.unwrap();
    clock.advance(Duration::from_secs(2 * 3_600));
    let err = agent.feedback(old, &[0.0; 10]).unwrap_err();
    assert!(matches!(err, AgentError::UnknownRequest(_)), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    // Five predictions, room for three: the two oldest are dropped.
    let ids: Vec<u64> = (0..5u32)
        .map(|k| agent.predict(&rows(k * 10)).unwrap().request_id.unwrap())
        .collect();
    for id in &ids[..2] {
        assert!(matches!(
            agent.feedback(*id, &[0.0; 10]),
            Err(AgentError::UnknownRequest(_))
        ));
    }
    let stats = agent.stats().unwrap().serving;
    assert_eq!(stats.feedback_expired, 1);
    assert_eq!(stats.feedback_dropped, 2);
    assert!(stats.feedback_pending <= 3);
    assert_eq!(agent.feedback(ids[4], &[0.0; 10]).unwrap(), 10);
    assert_eq!(agent.stats().unwrap().ingest.accepted, 10);
    agent.shutdown().unwrap();
}
