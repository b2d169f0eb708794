//! Starting and stopping many agents leaves no thread behind. Alone in its
//! own test binary: the thread count of the process is the measurement, so
//! no other test may run beside it.

use std::time::Duration;

use refit::config::Config;
use refit::{Agent, demo};

fn churn_agent(dir: &std::path::Path) -> Agent {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = 100;
    Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap()
}

/// The process's threads; fails loudly where `/proc` is missing (counting
/// nothing would pass whatever leaked).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .expect("this test counts threads in /proc/self/task, which this system lacks")
}

#[test]
fn starting_and_stopping_many_agents_leaks_no_thread() {
    let dir = tempfile::tempdir().unwrap();
    let s = demo::churn(5, 150);
    // Warm up once (lazily started runtime threads of the test harness).
    churn_agent(dir.path()).shutdown().unwrap();
    let before = threads();
    for _ in 0..20 {
        let agent = churn_agent(dir.path());
        agent.ingest(&s.x, &s.y).unwrap();
        agent.shutdown().unwrap();
    }
    // `shutdown` joins every thread the agent started: none is left the
    // moment it returns, with no grace period.
    let agent = churn_agent(dir.path());
    agent.ingest(&s.x, &s.y).unwrap();
    agent.shutdown().unwrap();
    assert_eq!(threads(), before, "right after shutdown");
    // Dropping the last handle without shutdown stops the threads too.
    drop(churn_agent(dir.path()));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        threads() <= before,
        "threads before {before}, after {}",
        threads()
    );
}
