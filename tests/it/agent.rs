//! The embedded agent end to end: triggers, accounting, back-pressure,
//! checkpoints, concurrency, tokio, shutdown.

use std::time::Duration;

use refit::config::{Config, WhenFull};
use refit::drift::reference::{DriftReference, ReferenceSource};
use refit::events::{Event, Trigger};
use refit::plugins;
use refit::store::VersionId;
use refit::{Agent, AgentError, Severity, demo};

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = 100;
    // These tests count updates of exactly the threshold's size.
    c.online.cold_start = false;
    c.online.batch_size = 32;
    c
}

fn churn_agent(c: Config) -> Agent {
    Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap()
}

fn applied(events: &crossbeam_channel::Receiver<Event>) -> Vec<(Trigger, usize, f32)> {
    events
        .try_iter()
        .filter_map(|e| match e {
            Event::UpdateApplied {
                reason,
                samples,
                learning_rate,
                ..
            } => Some((
                reason,
                samples,
                learning_rate.expect("logistic records its rate"),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn threshold_and_flush_trigger_updates_and_every_sample_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let agent = churn_agent(config(dir.path()));
    let events = agent.subscribe().unwrap();
    let s = demo::churn(1, 250);
    let ack = agent.ingest(&s.x, &s.y).unwrap();
    assert_eq!(ack.accepted, 250);
    agent.flush().unwrap();
    let updates = applied(&events);
    // 250 samples in one call: one threshold batch of 250 at the call,
    // nothing left for the flush.
    assert_eq!(updates.iter().map(|u| u.1).sum::<usize>(), 250);
    assert_eq!(updates[0].0, Trigger::Threshold);
    let s2 = demo::churn(2, 30);
    agent.ingest(&s2.x, &s2.y).unwrap();
    agent.flush().unwrap();
    let updates = applied(&events);
    // At the logistic kind's stable rate.
    let stable = Config::default()
        .learning_rates(&plugins::builtin())
        .unwrap()
        .stable;
    assert_eq!(updates, vec![(Trigger::Flush, 30, stable)]);
    let stats = agent.stats().unwrap();
    assert_eq!(stats.ingest.accepted, 280);
    assert_eq!(
        stats.trainer.trained
            + stats.trainer.skipped
            + stats.ingest.buffered
            + stats.ingest.in_flight,
        280
    );
    assert_eq!(stats.trainer.trained, 280);
    assert_eq!(stats.registry.checkpoints_written, 2);
    assert_eq!(stats.serving_version, VersionId::online(2));
    agent.shutdown().unwrap();
}

#[test]
fn schedule_triggers_an_update_when_time_passes() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.min_samples_per_update = 1_000;
    c.online.update_frequency = "200ms".parse().unwrap();
    let agent = churn_agent(c);
    let events = agent.subscribe().unwrap();
    let s = demo::churn(1, 10);
    agent.ingest(&s.x, &s.y).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut seen = None;
    while seen.is_none() && std::time::Instant::now() < deadline {
        if let Ok(Event::UpdateApplied {
            reason, samples, ..
        }) = events.recv_timeout(Duration::from_millis(100))
        {
            seen = Some((reason, samples));
        }
    }
    assert_eq!(seen, Some((Trigger::Schedule, 10)));
    agent.shutdown().unwrap();
}

#[test]
fn backpressure_refuses_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.min_samples_per_update = 100;
    c.online.max_pending_samples = 100;
    let agent = churn_agent(c);
    let s = demo::churn(1, 120);
    agent.ingest(&s.x[..60 * 8], &s.y[..60]).unwrap();
    let err = agent.ingest(&s.x[60 * 8..], &s.y[60..]).unwrap_err();
    assert!(
        matches!(
            err,
            AgentError::Backpressure {
                pending: 60,
                max: 100
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("online.max_pending_samples"));
    let stats = agent.stats().unwrap();
    assert_eq!((stats.ingest.accepted, stats.ingest.buffered), (60, 60));
    assert_eq!(stats.ingest.backpressure_refusals, 1);
    agent.flush().unwrap();
    // Room again after training.
    agent.ingest(&s.x[60 * 8..], &s.y[60..]).unwrap();
    agent.shutdown().unwrap();
}

/// A call larger than the pending limit could never be taken: it is
/// refused at once, under either `when_full`, and nothing of it is kept.
#[test]
fn a_call_larger_than_the_pending_limit_is_refused_at_once() {
    for when_full in [WhenFull::Error, WhenFull::Wait] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.online.min_samples_per_update = 100;
        c.online.cold_start = false;
        c.online.max_pending_samples = 100;
        c.online.when_full = when_full;
        let agent = churn_agent(c);
        let s = demo::churn(1, 101);
        let (tx, rx) = std::sync::mpsc::channel();
        let caller = agent.clone();
        std::thread::spawn(move || {
            let _ = tx.send(caller.ingest(&s.x, &s.y));
        });
        let answer = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{when_full:?}: still waiting after 10 s"));
        let err = answer.unwrap_err();
        assert!(
            matches!(
                err,
                AgentError::TooManySamples {
                    samples: 101,
                    max: 100
                }
            ),
            "{when_full:?}: {err}"
        );
        assert!(err.to_string().contains("split the call"), "{err}");
        assert_eq!(agent.stats().unwrap().ingest.accepted, 0);
        agent.shutdown().unwrap();
    }
}

#[test]
fn waiting_ingest_blocks_until_room_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.min_samples_per_update = 50;
    c.online.max_pending_samples = 100;
    c.online.when_full = WhenFull::Wait;
    let agent = churn_agent(c);
    let s = demo::churn(1, 2_000);
    for (x, y) in s.x.chunks(80 * 8).zip(s.y.chunks(80)) {
        agent.ingest(x, y).unwrap();
    }
    agent.flush().unwrap();
    assert_eq!(agent.stats().unwrap().trainer.trained, 2_000);
    agent.shutdown().unwrap();
}

#[test]
fn bad_input_is_refused_whole_and_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let agent = churn_agent(config(dir.path()));
    let s = demo::churn(1, 4);
    let mut x = s.x.clone();
    x[8 + 2] = f32::NAN;
    let err = agent.ingest(&x, &s.y).unwrap_err();
    assert!(
        err.to_string().contains("row 1, feature `support_calls`"),
        "{err}"
    );
    assert!(
        agent
            .ingest(&s.x, &[1.0, 0.0, 2.0, 1.0])
            .unwrap_err()
            .to_string()
            .contains("invalid label 2")
    );
    assert!(agent.ingest(&s.x[..7], &s.y[..1]).is_err());
    assert!(agent.ingest(&s.x, &s.y[..3]).is_err());
    assert!(matches!(
        agent.predict(&[1.0; 7]),
        Err(AgentError::Plugin(_))
    ));
    assert_eq!(agent.stats().unwrap().ingest.accepted, 0);
    agent.shutdown().unwrap();
}

#[test]
fn checkpoints_are_numbered_kept_and_load_like_the_served_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.checkpoint_retention = 3;
    let agent = churn_agent(c.clone());
    let s = demo::churn(3, 700);
    // A slow stream (each update finds the disk idle): one numbered file
    // per training, the last `checkpoint_retention` kept.
    for (x, y) in s.x.chunks(100 * 8).zip(s.y.chunks(100)) {
        agent.ingest(x, y).unwrap();
        agent.flush().unwrap();
    }
    let online = dir.path().join("models").join("churn_online");
    let mut files: Vec<String> = std::fs::read_dir(&online)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "churn_online_005.refit",
            "churn_online_006.refit",
            "churn_online_007.refit",
            "manifest.json"
        ]
    );
    let served = agent.predict(&s.x[..80]).unwrap();
    assert_eq!(served.version, VersionId::online(7));
    let loaded = plugins::builtin()
        .load(&std::fs::read(online.join("churn_online_007.refit")).unwrap())
        .unwrap();
    let again = loaded
        .snapshot()
        .predict(plugins::Batch::new(&s.x[..80], 8).unwrap().into())
        .unwrap();
    assert_eq!(again, served.values);
    agent.shutdown().unwrap();
    // A restart serves the newest checkpoint at once and resumes training
    // from it; numbering resumes, never reusing a number.
    let agent = churn_agent(c);
    let resumed = agent.predict(&s.x[..80]).unwrap();
    assert_eq!(resumed.version, VersionId::online(7));
    assert_eq!(resumed.values, served.values);
    agent.ingest(&s.x[..100 * 8], &s.y[..100]).unwrap();
    agent.flush().unwrap();
    assert_eq!(
        agent.predict(&s.x[..8]).unwrap().version,
        VersionId::online(8)
    );
    agent.shutdown().unwrap();
}

#[test]
fn many_threads_ingest_and_predict_then_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.when_full = WhenFull::Wait;
    c.online.max_pending_samples = 5_000;
    let agent = churn_agent(c);
    let s = demo::churn(9, 16_000);
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (agent, s) = (agent.clone(), &s);
            scope.spawn(move || {
                let rows = 2_000;
                let (x, y) = (
                    &s.x[t * rows * 8..(t + 1) * rows * 8],
                    &s.y[t * rows..(t + 1) * rows],
                );
                for (xc, yc) in x.chunks(50 * 8).zip(y.chunks(50)) {
                    agent.ingest(xc, yc).unwrap();
                }
            });
        }
        for _ in 0..4 {
            let (agent, s) = (agent.clone(), &s);
            scope.spawn(move || {
                for i in 0..2_000 {
                    let row = &s.x[(i % 1000) * 8..(i % 1000 + 1) * 8];
                    let p = agent.predict(row).unwrap();
                    assert!(p.values[0].is_finite());
                }
            });
        }
    });
    agent.flush().unwrap();
    let stats = agent.stats().unwrap();
    assert_eq!(stats.ingest.accepted, 16_000);
    assert_eq!(stats.trainer.trained + stats.trainer.skipped, 16_000);
    assert_eq!(stats.ingest.buffered + stats.ingest.in_flight, 0);
    let (version, path) = stats.registry.latest.clone().unwrap();
    let served = agent.predict(&s.x[..800]).unwrap();
    assert_eq!(served.version, version);
    agent.shutdown().unwrap();
    let loaded = plugins::builtin()
        .load(&std::fs::read(path).unwrap())
        .unwrap();
    let again = loaded
        .snapshot()
        .predict(plugins::Batch::new(&s.x[..800], 8).unwrap().into())
        .unwrap();
    assert_eq!(again, served.values);
    assert!(matches!(
        agent.ingest(&s.x[..8], &s.y[..1]),
        Err(AgentError::Stopped)
    ));
}

#[test]
fn handle_works_inside_a_tokio_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let agent = churn_agent(config(dir.path()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let s = demo::churn(4, 300);
    let version = rt.block_on(async {
        let a = agent.clone();
        let task = tokio::spawn(async move {
            a.ingest(&s.x, &s.y).unwrap();
            a.flush().unwrap();
            a.predict(&s.x[..8]).unwrap().version
        });
        task.await.unwrap()
    });
    assert_eq!(version, VersionId::online(1));
    agent.shutdown().unwrap();
}

#[test]
fn covariate_shift_raises_the_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.min_samples_per_update = 500;
    c.drift.window = 2_000;
    // PSI only: the loss-stream detectors would (rightly) react to the
    // concept drift, which this test is not about.
    c.drift.concept.detector = refit::drift::concept::Detector::None;
    let rates = c.learning_rates(&refit::plugins::builtin()).unwrap();
    let agent = churn_agent(c.clone());
    let events = agent.subscribe().unwrap();
    let s = demo::churn(42, demo::DEFAULT_ROWS);
    for (x, y) in s.x.chunks(500 * 8).zip(s.y.chunks(500)) {
        agent.ingest(x, y).unwrap();
    }
    agent.flush().unwrap();
    let mut lr_by_start = Vec::new();
    for e in events.try_iter() {
        if let Event::UpdateApplied {
            first_sample,
            learning_rate,
            severity,
            ..
        } = e
        {
            let learning_rate = learning_rate.expect("logistic records its rate");
            lr_by_start.push((first_sample, learning_rate, severity));
        }
    }
    assert_eq!(lr_by_start.len(), demo::DEFAULT_ROWS / 500);
    // Before the covariate shift every update is stable, including across
    // the concept drift (features unchanged).
    for (start, lr, sev) in lr_by_start
        .iter()
        .filter(|u| u.0 < demo::SHIFT_START as u64)
    {
        assert_eq!(
            (*lr, *sev),
            (rates.stable, Severity::Stable),
            "update at {start}"
        );
    }
    // Once the shift moves the window, the rate goes up: moderate, then
    // severe within two updates of the first crossing.
    let first = lr_by_start
        .iter()
        .position(|u| u.2 != Severity::Stable)
        .unwrap();
    assert!(lr_by_start[first].0 >= demo::SHIFT_START as u64);
    assert!(
        lr_by_start[first..first + 3]
            .iter()
            .any(|u| u.2 == Severity::Severe && u.1 == rates.severe),
        "{:?}",
        &lr_by_start[first..first + 3]
    );
    // After `rebase_after` drifting reports the reference is re-based on the
    // shifted window and, the data being stationary again, the rate returns
    // to stable.
    let last = lr_by_start.last().unwrap();
    assert_eq!(
        (last.1, last.2),
        (rates.stable, Severity::Stable),
        "{lr_by_start:?}"
    );
    eprintln!(
        "updates from the first crossing: {:?}",
        &lr_by_start[first..]
    );
    agent.shutdown().unwrap();
}

/// Progressive AUC per 4 000-row window of the demo churn stream, through
/// the agent with the default settings and `rates`, PSI the only drift
/// signal (the loss-stream detectors off, so the concept drift leaves the
/// rate alone).
fn churn_run(rates: refit::config::LearningRates) -> (Vec<f64>, Vec<refit::run::LrChange>) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.learning_rate = rates.into();
    c.drift.concept.detector = refit::drift::concept::Detector::None;
    let agent = churn_agent(c);
    let s = demo::churn(42, demo::DEFAULT_ROWS);
    let summary = refit::run::run(&agent, &s.x, &s.y, None, 4_000, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    agent.shutdown().unwrap();
    let auc = summary.windows.iter().map(|w| w.value).collect();
    (auc, summary.lr_changes)
}

#[test]
fn drift_driven_rate_recovers_faster_than_a_pinned_rate() {
    let default = Config::default()
        .learning_rates(&refit::plugins::builtin())
        .unwrap();
    let pinned = refit::config::LearningRates {
        moderate: default.stable,
        severe: default.stable,
        ..default
    };
    let (driven, changes) = churn_run(default);
    let (fixed, none) = churn_run(pinned);
    eprintln!("drift-driven {driven:.4?}\npinned       {fixed:.4?}\n{changes:?}");
    assert!(none.is_empty());
    // The rate rises during the covariate shift (rows 28 000-36 000)...
    assert!(changes.iter().any(|c| c.severity == Severity::Severe
        && (demo::SHIFT_START as u64..demo::SHIFT_END as u64).contains(&c.sample)));
    // ...and nothing differs before it.
    let shift = demo::SHIFT_START / 4_000;
    assert_eq!(driven[..shift], fixed[..shift]);
    // The best linear model moves with the new customer mix: the raised rate
    // follows it, the pinned one lags, in the windows that end the shift and
    // follow it.
    let end = demo::SHIFT_END / 4_000;
    for w in [end - 1, end] {
        assert!(
            driven[w] > fixed[w],
            "rows {}-{}: drift-driven AUC {:.4}, pinned {:.4}",
            w * 4_000,
            (w + 1) * 4_000,
            driven[w],
            fixed[w]
        );
    }
    assert!(
        driven[end] - fixed[end] > 0.01,
        "after the shift: {:.4} vs {:.4}",
        driven[end],
        fixed[end]
    );
}

#[test]
fn each_checkpoint_stores_its_drift_reference() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.min_samples_per_update = 1_000;
    c.drift.reference_size = 2_000;
    c.online.checkpoint_retention = 2;
    let agent = churn_agent(c);
    let s = demo::churn(5, 6_000);
    for (x, y) in s.x[..5_000 * 8].chunks(1_000 * 8).zip(s.y.chunks(1_000)) {
        agent.ingest(x, y).unwrap();
        agent.sync().unwrap();
    }
    let dir_of = dir.path().join("models").join("churn_online");
    let sidecar = |n: u64| dir_of.join(format!("churn_online_{n:03}.drift.json"));
    // Update 1 came before the reference was complete (no sidecar); the
    // reference is complete with update 2's samples.
    let text = std::fs::read_to_string(sidecar(5)).unwrap();
    let r = DriftReference::from_json(&text).unwrap();
    assert_eq!(r.source, ReferenceSource::FirstSamples);
    assert_eq!(r.samples, 2_000);
    assert_eq!(r.features.len(), 8);
    assert_eq!(r.features[0].name, "tenure_years");
    assert!(
        r.features
            .iter()
            .all(|f| f.counts.iter().sum::<u64>() == 2_000)
    );
    assert!(!sidecar(3).exists(), "retention removes the sidecar too");
    assert!(dir_of.join("churn_online_004.refit").exists());
    // A reference set by the host goes with the next checkpoint.
    agent.set_reference(&s.x[5_000 * 8..]).unwrap();
    agent.ingest(&s.x[5_000 * 8..], &s.y[5_000..]).unwrap();
    agent.flush().unwrap();
    let r = DriftReference::from_json(&std::fs::read_to_string(sidecar(6)).unwrap()).unwrap();
    assert_eq!((r.source, r.samples), (ReferenceSource::Host, 1_000));
    agent.shutdown().unwrap();
}

/// A re-base waits for a window as large as the reference: a few hundred
/// shifted samples (enough to raise the alarm) do not become the new
/// reference, a full window does.
#[test]
fn a_rebase_waits_for_a_window_as_large_as_the_reference() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.min_samples_per_update = 100;
    c.online.cold_start = false;
    c.drift.reference_size = 1_000;
    c.drift.window = 1_000;
    c.drift.rebase_after = 1;
    c.drift.concept.detector = refit::drift::concept::Detector::None;
    let agent = Agent::builder(c).features(["a", "b"]).start().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut batch = |shift: f32| {
        let x: Vec<f32> = (0..200).map(|_| rng.random::<f32>() + shift).collect();
        let y: Vec<f32> = (0..100).map(|i| (i % 2) as f32).collect();
        agent.ingest(&x, &y).unwrap();
        agent.sync().unwrap();
    };
    for _ in 0..10 {
        batch(0.0);
    }
    for _ in 0..3 {
        batch(5.0);
    }
    let drift = agent.stats().unwrap().drift.unwrap();
    assert_ne!(drift.psi_severity, Severity::Stable, "{drift:?}");
    assert_eq!(
        drift.rebases, 0,
        "re-based on {} samples",
        drift.window_samples
    );
    for _ in 0..8 {
        batch(5.0);
    }
    let drift = agent.stats().unwrap().drift.unwrap();
    assert_eq!(drift.rebases, 1, "{drift:?}");
    assert_eq!(drift.reference_samples, 1_000);
    agent.shutdown().unwrap();
}
