//! Learning with the shipped defaults, through the agent: the cold-start
//! schedule, the per-kind learning rates, label scaling across a restart,
//! and the MLP's defaults on a nonlinear stream.

use refit::config::Config;
use refit::events::{Event, Trigger};
use refit::{Agent, demo};

fn config(dir: &std::path::Path, kind: &str) -> Config {
    let mut c = Config::from_path(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config.toml")
            .as_path(),
    )
    .expect("the shipped config.toml parses");
    c.agent.data_dir = dir.to_owned();
    c.model.kind = kind.to_owned();
    c
}

/// An agent for a stream with these features.
fn start(c: Config, features: &[String]) -> Agent {
    Agent::builder(c)
        .features(features.to_vec())
        .start()
        .unwrap()
}

/// The sizes of the updates applied, in order.
fn update_sizes(events: &crossbeam_channel::Receiver<Event>) -> Vec<usize> {
    events
        .try_iter()
        .filter_map(|e| match e {
            Event::UpdateApplied {
                samples, reason, ..
            } => {
                assert_eq!(reason, Trigger::Threshold);
                Some(samples)
            }
            _ => None,
        })
        .collect()
}

/// Feeds `n` rows of the churn stream one per call, waiting for every
/// update to be served, as a slow stream would.
fn feed_one_by_one(agent: &Agent, n: usize) {
    let s = demo::churn(3, n);
    let width = s.width();
    for i in 0..n {
        let ack = agent
            .ingest(&s.x[i * width..(i + 1) * width], &s.y[i..=i])
            .unwrap();
        if ack.buffered == 0 {
            agent.sync().unwrap();
        }
    }
}

#[test]
fn cold_start_updates_grow_with_what_the_model_has_learned() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), "logistic");
    c.online.min_samples_per_update = 100;
    c.online.cold_start_share = 0.25;
    let online = c.online.clone();
    let s = demo::churn(3, 10);
    let agent = start(c, &s.features);
    let events = agent.subscribe().unwrap();
    feed_one_by_one(&agent, 420);
    agent.sync().unwrap();
    let sizes = update_sizes(&events);
    // By hand: max(1, ceil(learned / 4)) until 100 samples are learned,
    // then 100 at a time.
    let mut want = Vec::new();
    let mut learned = 0usize;
    while learned < 420 {
        // The cold start ends exactly at 100 learned samples.
        let size = if learned >= 100 {
            100
        } else {
            learned.div_ceil(4).max(1).min(100 - learned)
        };
        if learned + size > 420 {
            break;
        }
        want.push(size);
        learned += size;
    }
    assert_eq!(&want[..9], [1, 1, 1, 1, 1, 2, 2, 3, 3]);
    assert_eq!(sizes, want);
    // The config's own rule says the same.
    let mut learned = 0u64;
    for &size in &sizes {
        assert_eq!(online.update_size(learned), size);
        learned += size as u64;
    }
    let stats = agent.stats().unwrap();
    assert_eq!(stats.ingest.threshold, 100);
    agent.shutdown().unwrap();
}

#[test]
fn without_cold_start_an_update_waits_for_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), "logistic");
    c.online.min_samples_per_update = 50;
    c.online.cold_start = false;
    let s = demo::churn(3, 10);
    let agent = start(c, &s.features);
    let events = agent.subscribe().unwrap();
    feed_one_by_one(&agent, 120);
    agent.sync().unwrap();
    assert_eq!(update_sizes(&events), [50, 50]);
    assert_eq!(agent.stats().unwrap().ingest.until_trigger, 30);
    agent.shutdown().unwrap();
}

#[test]
fn a_resumed_model_keeps_its_place_in_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), "logistic");
    c.online.min_samples_per_update = 40;
    let s = demo::churn(3, 10);
    let agent = start(c.clone(), &s.features);
    feed_one_by_one(&agent, 200);
    agent.shutdown().unwrap();
    // The stored version has learned 40 or more samples: no cold start.
    let agent = start(c, &s.features);
    assert_eq!(agent.stats().unwrap().ingest.threshold, 40);
    agent.shutdown().unwrap();
}

#[test]
fn each_kind_learns_at_its_own_rates_unless_the_config_says() {
    for (kind, stable) in [("logistic", 0.1f32), ("mlp", 0.01)] {
        let dir = tempfile::tempdir().unwrap();
        let s = demo::churn(3, 10);
        let agent = start(config(dir.path(), kind), &s.features);
        assert_eq!(
            agent.stats().unwrap().trainer.learning_rate,
            stable,
            "{kind}"
        );
        agent.shutdown().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), "logistic");
    c.learning_rate.stable = Some(0.003);
    let s = demo::churn(3, 10);
    let agent = start(c, &s.features);
    assert_eq!(agent.stats().unwrap().trainer.learning_rate, 0.003);
    agent.shutdown().unwrap();
}

#[test]
fn scaled_labels_answer_in_label_units_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), "linear");
    c.model.task = None;
    // Lifetime values around 500: far from a fresh model's 0.
    let s = demo::clv(5, 3_000);
    let y: Vec<f32> = s.y.iter().map(|v| 500.0 + 50.0 * v).collect();
    let agent = start(c.clone(), &s.features);
    let summary = refit::run::run(&agent, &s.x, &y, None, 1_000, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    let probe = &s.x[..10 * s.width()];
    let before = agent.predict(probe).unwrap().values;
    agent.shutdown().unwrap();
    // From the first window on, the progressive error is well below that
    // of always answering the labels' mean (a model stuck near 0 would be
    // off by about 500).
    let mean = y.iter().sum::<f32>() / y.len() as f32;
    let spread = y.iter().map(|v| (v - mean).abs()).sum::<f32>() / y.len() as f32;
    let w = &summary.windows;
    assert!(
        f64::from(spread) > 2.0 * w[0].value,
        "spread {spread}, {w:?}"
    );
    // The stream's own concept drift (row 1 500) costs some, not all.
    assert!(
        w.iter().all(|w| f64::from(spread) > w.value),
        "spread {spread}, {w:?}"
    );
    // The checkpoint holds the label statistics: the restarted agent
    // answers the same.
    let agent = start(c, &s.features);
    assert_eq!(agent.predict(probe).unwrap().values, before);
    agent.shutdown().unwrap();
}

#[test]
fn the_mlp_defaults_learn_a_nonlinear_stream() {
    let dir = tempfile::tempdir().unwrap();
    let s = demo::xor(11, 3_000);
    let agent = start(config(dir.path(), "mlp"), &s.features);
    let summary = refit::run::run(&agent, &s.x, &s.y, None, 1_000, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    agent.shutdown().unwrap();
    // The oracle's AUC on this stream is about 0.98; a linear model is at
    // chance on XOR.
    let last = summary.windows.last().unwrap().value;
    assert!(last > 0.9, "windows {:?}", summary.windows);
    assert!(
        summary.metric.value > 0.85,
        "overall {}",
        summary.metric.value
    );
}

#[test]
fn builder_and_config_features_that_disagree_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), "logistic");
    c.model.features = vec!["a".into(), "b".into()];
    let err = Agent::builder(c.clone())
        .features(["a", "c"])
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("disagree"), "{err}");
    // The same list twice is fine.
    let agent = Agent::builder(c).features(["a", "b"]).start().unwrap();
    assert_eq!(agent.spec().features, ["a", "b"]);
    agent.shutdown().unwrap();
}
