//! The embedded agent end to end: triggers, accounting, back-pressure,
//! checkpoints, concurrency, tokio, shutdown.

use std::time::Duration;

use refit::config::{Config, WhenFull};
use refit::messages::{Event, Trigger};
use refit::plugins;
use refit::{Agent, AgentError, Severity, demo};

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = 100;
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
            } => Some((reason, samples, learning_rate)),
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
    assert_eq!(updates, vec![(Trigger::Flush, 30, 0.001)]);
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
    assert_eq!(stats.serving_version, 2);
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
    for (x, y) in s.x.chunks(100 * 8).zip(s.y.chunks(100)) {
        agent.ingest(x, y).unwrap();
    }
    agent.flush().unwrap();
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
            "churn_online_007.refit"
        ]
    );
    let served = agent.predict(&s.x[..80]).unwrap();
    assert_eq!(served.version, 7);
    let loaded = plugins::builtin()
        .load(&std::fs::read(online.join("churn_online_007.refit")).unwrap())
        .unwrap();
    let again = loaded
        .snapshot()
        .predict(&plugins::Batch::new(&s.x[..80], 8).unwrap())
        .unwrap();
    assert_eq!(again, served.values);
    agent.shutdown().unwrap();
    // Numbering resumes after a restart, never reusing a number.
    let agent = churn_agent(c);
    agent.ingest(&s.x[..100 * 8], &s.y[..100]).unwrap();
    agent.flush().unwrap();
    assert_eq!(agent.predict(&s.x[..8]).unwrap().version, 8);
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
        .predict(&plugins::Batch::new(&s.x[..800], 8).unwrap())
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
    assert_eq!(version, 1);
    agent.shutdown().unwrap();
}

#[test]
fn covariate_shift_raises_the_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.min_samples_per_update = 500;
    c.drift.window = 2_000;
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
            lr_by_start.push((first_sample, learning_rate, severity));
        }
    }
    assert_eq!(lr_by_start.len(), 40);
    // Before the covariate shift (row 14000) every update is stable,
    // including across the concept drift at 10000 (features unchanged).
    for (start, lr, sev) in lr_by_start.iter().filter(|u| u.0 < 14_000) {
        assert_eq!(
            (*lr, *sev),
            (c.learning_rate.stable, Severity::Stable),
            "update at {start}"
        );
    }
    // Once the shift moves the window, the rate goes up: moderate, then
    // severe within two updates of the first crossing.
    let first = lr_by_start
        .iter()
        .position(|u| u.2 != Severity::Stable)
        .unwrap();
    assert!(lr_by_start[first].0 >= 14_000);
    assert!(
        lr_by_start[first..first + 3]
            .iter()
            .any(|u| u.2 == Severity::Severe && u.1 == c.learning_rate.severe),
        "{:?}",
        &lr_by_start[first..first + 3]
    );
    // After `rebase_after` drifting reports the reference is re-based on the
    // shifted window and, the data being stationary again, the rate returns
    // to stable.
    let last = lr_by_start.last().unwrap();
    assert_eq!(
        (last.1, last.2),
        (c.learning_rate.stable, Severity::Stable),
        "{lr_by_start:?}"
    );
    eprintln!(
        "updates from the first crossing: {:?}",
        &lr_by_start[first..]
    );
    agent.shutdown().unwrap();
}
