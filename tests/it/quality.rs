//! Data-quality checks per update: an update of one class only, or of too
//! few samples, is skipped with its reason; its samples stay in the log.

use refit::config::Config;
use refit::events::Event;
use refit::{Agent, demo};

fn agent(dir: &std::path::Path, min_samples: usize, minority: f64) -> Agent {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = 50;
    c.online.cold_start = false;
    c.online.quality.min_samples = min_samples;
    c.online.quality.min_minority_share = minority;
    Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap()
}

fn skipped_reasons(events: &crossbeam_channel::Receiver<Event>) -> Vec<(String, usize)> {
    events
        .try_iter()
        .filter_map(|e| match e {
            Event::UpdateSkipped {
                reason, samples, ..
            } => Some((reason, samples)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_update_of_one_class_only_is_skipped_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), 1, 0.05);
    let events = agent.subscribe().unwrap();
    let x = demo::churn(1, 100).x;
    let before = agent.predict(&x[..8]).unwrap();
    agent.ingest(&x[..50 * 8], &[0.0; 50]).unwrap();
    agent.wait_served().unwrap();
    let stats = agent.stats().unwrap();
    assert_eq!((stats.trainer.updates, stats.trainer.skipped), (0, 50));
    let skipped = skipped_reasons(&events);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]
            .0
            .contains("data quality: one class only: every one of the 50 samples is class 0"),
        "{skipped:?}"
    );
    assert_eq!(
        agent.predict(&x[..8]).unwrap(),
        before,
        "the model did not learn"
    );
    // The samples are in the log, for the next full retrain.
    assert_eq!(stats.ingest.accepted, 50);
    let logged = refit::sample_log::read_from(
        &dir.path().join("samples/churn"),
        refit::plugins::InputKind::Dense,
        8,
        0,
    )
    .unwrap();
    assert_eq!(logged.labels, [0.0; 50]);
    // A mixed update passes.
    let labels: Vec<f32> = (0..50).map(|i| f32::from(u8::from(i % 4 == 0))).collect();
    agent.ingest(&x[50 * 8..], &labels).unwrap();
    agent.wait_served().unwrap();
    assert_eq!(agent.stats().unwrap().trainer.updates, 1);
    agent.shutdown().unwrap();
}

#[test]
fn an_update_of_too_few_samples_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path(), 20, 0.0);
    let events = agent.subscribe().unwrap();
    let s = demo::churn(2, 10);
    agent.ingest(&s.x, &s.y).unwrap();
    agent.flush().unwrap();
    let skipped = skipped_reasons(&events);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].1, 10);
    assert!(
        skipped[0]
            .0
            .contains("too few samples: 10 (online.quality.min_samples = 20)"),
        "{skipped:?}"
    );
    agent.shutdown().unwrap();
}
