//! Full retrains from the sample store: on degradation (a damaging stream)
//! and on schedule (a driven clock passing eight weeks of daily updates).

use std::sync::Arc;
use std::time::{Duration, Instant};

use refit::clock::ManualClock;
use refit::config::Config;
use refit::events::Event;
use refit::metrics::Scores;
use refit::store::{Mode, Store};
use refit::{Agent, demo};

fn auc(s: Option<Scores>) -> f64 {
    match s {
        Some(Scores::Classification { auc: Some(a), .. }) => a,
        other => panic!("no AUC in {other:?}"),
    }
}

#[test]
fn flipped_labels_trigger_a_full_retrain_and_the_metric_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.min_samples_per_update = 500;
    c.retrain.min_samples = 1_000;
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap();
    let events = agent.subscribe().unwrap();
    let s = demo::churn(6, 40_000);
    let v1 = agent
        .train_offline(&s.x[..6_000 * 8], &s.y[..6_000])
        .unwrap();
    let base = auc(v1.trained.holdout);
    assert!(base > 0.8, "holdout AUC {base}");
    // The damaging stream: the same customers with flipped labels.
    let flipped: Vec<f32> = s.y.iter().map(|y| 1.0 - y).collect();
    let mut lowest: f64 = 1.0;
    for k in 0..24 {
        let (a, b) = (6_000 + k * 500, 6_500 + k * 500);
        agent.ingest(&s.x[a * 8..b * 8], &flipped[a..b]).unwrap();
        agent.sync().unwrap();
        lowest = lowest.min(auc(agent.stats().unwrap().trainer.metrics));
    }
    let seen: Vec<Event> = events.try_iter().collect();
    let triggered: Vec<&Event> = seen
        .iter()
        .filter(|e| matches!(e, Event::RetrainTriggered { reason, .. } if reason == "degradation"))
        .collect();
    assert!(!triggered.is_empty(), "no degradation retrain");
    let retrained: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::OfflineTrained(r) if r.reason == "degradation" => Some(r.clone()),
            _ => None,
        })
        .collect();
    let v2 = retrained.first().expect("a retrained offline version");
    let stats = agent.stats().unwrap();
    let recovered = auc(stats.trainer.metrics);
    eprintln!(
        "offline v1 holdout AUC {base:.4}; online AUC fell to {lowest:.4}; retrain {} ({} rows, holdout AUC {:.4}); online AUC at the end {recovered:.4}; retrains {}",
        v2.version,
        v2.trained.train_rows,
        auc(v2.trained.holdout),
        stats.trainer.retrains
    );
    assert!(lowest < base - 0.3);
    assert!(recovered > 0.8, "online AUC {recovered}");
    agent.shutdown().unwrap();
    let offline = Store::new(dir.path(), "churn", refit::clock::system())
        .manifest(Mode::Offline)
        .unwrap();
    assert_eq!(offline.versions[0].reason, "manual");
    assert!(
        offline.versions[1..]
            .iter()
            .any(|v| v.reason == "degradation")
    );
}

#[test]
fn eight_weeks_of_daily_updates_retrain_every_four_weeks() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.update_frequency = "1d".parse().unwrap();
    c.online.min_samples_per_update = 100_000;
    // Only the daily schedule triggers updates.
    c.online.cold_start = false;
    let clock = ManualClock::new();
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .clock(Arc::new(clock.clone()))
        .start()
        .unwrap();
    let events = agent.subscribe().unwrap();
    // Rows before the stream's concept drift (row 20 000): stationary.
    let s = demo::churn(7, 40_000);
    let mut retrains = Vec::new();
    let mut trained = 0;
    for day in 1..=56 {
        let (a, b) = ((day - 1) * 200, day * 200);
        agent.ingest(&s.x[a * 8..b * 8], &s.y[a..b]).unwrap();
        clock.advance(Duration::from_secs(86_400));
        // The daily schedule trigger fires on the next tick of the agent.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut updated = false;
        while !updated && Instant::now() < deadline {
            match events.recv_timeout(Duration::from_millis(50)) {
                Ok(Event::UpdateApplied { reason, .. }) => {
                    assert_eq!(reason, refit::events::Trigger::Schedule);
                    updated = true;
                }
                Ok(Event::RetrainTriggered { reason, samples }) => {
                    retrains.push((day, reason, samples))
                }
                Ok(Event::OfflineTrained(_)) => trained += 1,
                _ => {}
            }
        }
        assert!(updated, "no scheduled update on day {day}");
        agent.sync().unwrap();
        for e in events.try_iter() {
            match e {
                Event::RetrainTriggered { reason, samples } => {
                    retrains.push((day, reason, samples))
                }
                Event::OfflineTrained(_) => trained += 1,
                _ => {}
            }
        }
    }
    eprintln!("{retrains:?}");
    assert_eq!(
        retrains,
        [
            (28, "schedule".to_string(), 28 * 200),
            (56, "schedule".to_string(), 56 * 200)
        ]
    );
    // The retrain runs after the update that found it due: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while trained < 2 && Instant::now() < deadline {
        if let Ok(Event::OfflineTrained(_)) = events.recv_timeout(Duration::from_millis(50)) {
            trained += 1;
        }
    }
    assert_eq!(trained, 2);
    let offline = Store::new(dir.path(), "churn", refit::clock::system())
        .manifest(Mode::Offline)
        .unwrap();
    assert_eq!(offline.versions.len(), 2);
    assert!(offline.versions.iter().all(|v| v.reason == "schedule"));
    agent.shutdown().unwrap();
}

/// The schedule counts from the data, not from the Trainer's start: an
/// agent restarted every simulated week, with online learning off and no
/// traffic after the first day, still retrains on day 28 (the check runs
/// on a timer too), and not before.
#[test]
fn weekly_restarts_still_retrain_on_day_28() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.enabled = false;
    let clock = ManualClock::new();
    let start = || {
        Agent::builder(c.clone())
            .features(demo::CHURN_FEATURES)
            .clock(Arc::new(clock.clone()))
            .start()
            .unwrap()
    };
    let agent = start();
    let s = demo::churn(8, 2_000);
    agent.ingest(&s.x, &s.y).unwrap();
    agent.shutdown().unwrap();
    drop(agent);
    for week in 1..=4 {
        clock.advance(Duration::from_secs(7 * 86_400));
        let agent = start();
        let events = agent.subscribe().unwrap();
        // Longer than the check period, so a due retrain would have started.
        let deadline = Instant::now() + refit::agent::RETRAIN_CHECK + Duration::from_millis(1_500);
        let mut triggered = None;
        while triggered.is_none() && Instant::now() < deadline {
            if let Ok(Event::RetrainTriggered { reason, samples }) =
                events.recv_timeout(Duration::from_millis(50))
            {
                triggered = Some((reason, samples));
            }
        }
        if week < 4 {
            assert_eq!(triggered, None, "week {week}");
        } else {
            assert_eq!(triggered, Some(("schedule".to_owned(), 2_000)), "day 28");
        }
        agent.shutdown().unwrap();
    }
}

/// An offline training runs beside the Trainer: online updates are applied
/// and served while it trains, and are learned again by the new model when
/// it takes over (served as the online version after the offline one).
#[test]
fn online_updates_go_on_while_an_offline_training_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.min_samples_per_update = 100;
    c.online.cold_start = false;
    c.offline.epochs = 300;
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap();
    let s = demo::churn(9, 30_000);
    let trainer = agent.clone();
    let (x, y) = (s.x[..20_000 * 8].to_vec(), s.y[..20_000].to_vec());
    let offline = std::thread::spawn(move || trainer.train_offline(&x, &y));
    std::thread::sleep(Duration::from_millis(100));
    // Updates while it trains: each served at once.
    let mut served_meanwhile = 0;
    for k in 0..5 {
        let (a, b) = (20_000 + k * 100, 20_100 + k * 100);
        agent.ingest(&s.x[a * 8..b * 8], &s.y[a..b]).unwrap();
        agent.wait_served().unwrap();
        if !offline.is_finished() {
            served_meanwhile += 1;
        }
    }
    assert!(
        !offline.is_finished(),
        "the offline training ended too soon for the test"
    );
    assert_eq!(served_meanwhile, 5);
    assert_eq!(
        agent.predict(&s.x[..8]).unwrap().version.to_string(),
        "online_005"
    );
    let report = offline.join().unwrap().unwrap();
    assert_eq!(report.version.to_string(), "v1");
    // The five updates were replayed into the offline model: served as the
    // next online version, after v1.
    agent.sync().unwrap();
    let served = agent.predict(&s.x[..8]).unwrap().version;
    assert_eq!(served.to_string(), "online_006");
    agent.shutdown().unwrap();
}
