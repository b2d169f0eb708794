//! Hot swap under load: threads predict in a loop while the agent applies
//! 1 000 updates, each swapping the served model. No prediction fails or is
//! malformed, each thread sees versions in order, and every version always
//! answers the same value for the same row (no half-built snapshot).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use refit::config::Config;
use refit::store::VersionId;
use refit::{Agent, demo};

const SWAPS: usize = 1_000;

#[test]
fn predictions_stay_whole_through_a_thousand_swaps() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.min_samples_per_update = 50;
    c.samples.enabled = false;
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap();
    let s = demo::churn(12, SWAPS * 50);
    let row = s.x[..8].to_vec();
    let done = AtomicBool::new(false);
    // Per thread: predictions made and the value each version answered.
    let seen: Vec<(usize, HashMap<VersionId, f32>)> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (agent, row, done) = (agent.clone(), &row, &done);
                scope.spawn(move || {
                    let (mut n, mut last) = (0usize, VersionId::online(0));
                    let mut value_of: HashMap<VersionId, f32> = HashMap::new();
                    while !done.load(Ordering::Acquire) {
                        let p = agent.predict(row).expect("no failed prediction");
                        assert_eq!(p.values.len(), 1);
                        let v = p.values[0];
                        assert!(v.is_finite() && (0.0..=1.0).contains(&v));
                        assert!(
                            last <= p.version,
                            "versions went back: {last} then {}",
                            p.version
                        );
                        last = p.version;
                        let first = *value_of.entry(p.version).or_insert(v);
                        assert_eq!(
                            first.to_bits(),
                            v.to_bits(),
                            "{} answered {first} and {v}",
                            p.version
                        );
                        n += 1;
                        if n % 64 == 0 {
                            std::thread::yield_now();
                        }
                    }
                    (n, value_of)
                })
            })
            .collect();
        for (x, y) in s.x.chunks(50 * 8).zip(s.y.chunks(50)) {
            agent.ingest(x, y).unwrap();
            agent.sync().unwrap();
        }
        done.store(true, Ordering::Release);
        readers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(
        agent.predict(&row).unwrap().version,
        VersionId::online(SWAPS as u64)
    );
    agent.shutdown().unwrap();
    // Across threads too, a version always answered the same value.
    let mut value_of: HashMap<VersionId, f32> = HashMap::new();
    let mut total = 0;
    for (n, values) in &seen {
        total += n;
        for (&v, &p) in values {
            let first = *value_of.entry(v).or_insert(p);
            assert_eq!(
                first.to_bits(),
                p.to_bits(),
                "version {v} answered {first} and {p}"
            );
        }
    }
    eprintln!(
        "{total} predictions over {} distinct served versions",
        value_of.len()
    );
    assert!(
        value_of.len() > SWAPS / 10,
        "{} versions seen",
        value_of.len()
    );
}
