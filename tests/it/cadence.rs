//! Serving never waits for the disk: every update is served at once under
//! its own version number, checkpoints follow `[online] checkpoint_every`,
//! coalesce when the disk is slow, and a rollback is never undone by an
//! update in flight.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use refit::config::{CheckpointEvery, Config};
use refit::events::Event;
use refit::storage::{Disk, Storage, WriteFile};
use refit::store::{Mode, Store, VersionId};
use refit::{Agent, demo};

fn config(dir: &Path) -> Config {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = 100;
    c.online.cold_start = false;
    c
}

fn start(c: Config) -> Agent {
    Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap()
}

#[test]
fn updates_are_served_at_once_and_written_on_the_cadence() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.checkpoint_every = CheckpointEvery {
        updates: 10,
        interval: None,
    };
    let agent = start(c);
    let events = agent.subscribe().unwrap();
    let s = demo::churn(5, 2_500);
    // `sync` after each update: the disk is idle whenever a checkpoint
    // falls due, so none is coalesced.
    for (x, y) in s.x.chunks(100 * 8).zip(s.y.chunks(100)).take(25) {
        agent.ingest(x, y).unwrap();
        agent.sync().unwrap();
    }
    let stats = agent.stats().unwrap();
    // 25 updates served, each under its own number; checkpoints after the
    // 10th and 20th; 5 served but not yet on disk.
    assert_eq!(stats.serving_version, VersionId::online(25));
    assert_eq!(stats.trainer.served_version, Some(VersionId::online(25)));
    assert_eq!(stats.trainer.unpersisted_updates, 5);
    let store = Store::new(dir.path(), "churn", refit::clock::system());
    let numbers = |store: &Store| -> Vec<u64> {
        store
            .manifest(Mode::Online)
            .unwrap()
            .versions
            .iter()
            .map(|v| v.number)
            .collect()
    };
    assert_eq!(numbers(&store), [10, 20]);
    let seen: Vec<Event> = events.try_iter().collect();
    let applied: Vec<VersionId> = seen
        .iter()
        .filter_map(|e| match e {
            Event::UpdateApplied { version, .. } => Some(*version),
            _ => None,
        })
        .collect();
    assert_eq!(applied, (1..=25).map(VersionId::online).collect::<Vec<_>>());
    // flush writes the newest model under the number it was served as.
    agent.flush().unwrap();
    assert_eq!(numbers(&store), [10, 20, 25]);
    assert_eq!(agent.stats().unwrap().trainer.unpersisted_updates, 0);
    agent.shutdown().unwrap();
}

#[test]
fn an_interval_writes_a_checkpoint_without_further_updates() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.checkpoint_every = CheckpointEvery {
        updates: 0,
        interval: Some("200ms".parse().unwrap()),
    };
    let agent = start(c);
    let s = demo::churn(6, 200);
    for (x, y) in s.x.chunks(100 * 8).zip(s.y.chunks(100)) {
        agent.ingest(x, y).unwrap();
        agent.sync().unwrap();
    }
    let store = Store::new(dir.path(), "churn", refit::clock::system());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.manifest(Mode::Online).unwrap().versions.is_empty() {
        assert!(std::time::Instant::now() < deadline, "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        store.manifest(Mode::Online).unwrap().versions[0].number,
        2,
        "the newer of the two updates"
    );
    agent.shutdown().unwrap();
}

/// The local disk, with every checkpoint write held up: a disk slower
/// than the stream.
#[derive(Debug)]
struct SlowDisk;

impl Storage for SlowDisk {
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WriteFile>> {
        if path.to_string_lossy().contains("_online") {
            std::thread::sleep(Duration::from_millis(40));
        }
        Disk.create(path)
    }
    fn create_new_append(&self, path: &Path) -> std::io::Result<Box<dyn WriteFile>> {
        Disk.create_new_append(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        Disk.rename(from, to)
    }
    fn remove(&self, path: &Path) -> std::io::Result<()> {
        Disk.remove(path)
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        Disk.create_dir_all(path)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        Disk.sync_dir(dir)
    }
}

#[test]
fn a_slow_disk_coalesces_checkpoints_and_never_slows_serving() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::builder(config(dir.path()))
        .features(demo::CHURN_FEATURES)
        .storage(Arc::new(SlowDisk))
        .start()
        .unwrap();
    let s = demo::churn(7, 6_000);
    for (x, y) in s.x.chunks(100 * 8).zip(s.y.chunks(100)) {
        agent.ingest(x, y).unwrap();
    }
    agent.sync().unwrap();
    // All 60 updates are served although each checkpoint takes 40 ms or
    // more: the disk saw far fewer writes than updates.
    assert_eq!(
        agent.stats().unwrap().serving_version,
        VersionId::online(60)
    );
    agent.flush().unwrap();
    let stats = agent.stats().unwrap();
    assert!(
        stats.registry.checkpoints_written < 60,
        "{} checkpoints for 60 updates",
        stats.registry.checkpoints_written
    );
    let store = Store::new(dir.path(), "churn", refit::clock::system());
    let newest = store
        .manifest(Mode::Online)
        .unwrap()
        .versions
        .last()
        .unwrap()
        .id();
    assert_eq!(
        newest,
        VersionId::online(60),
        "flush writes the newest model"
    );
    agent.shutdown().unwrap();
}

#[test]
fn a_thousand_rollbacks_during_training_are_never_undone() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // Checkpoints only at flush: the two rollback targets stay on disk.
    c.online.checkpoint_every = CheckpointEvery {
        updates: u64::MAX,
        interval: None,
    };
    // A short queue, so each rollback waits for few updates.
    c.online.max_pending_samples = 1_000;
    let agent = start(c);
    let s = demo::churn(8, 4_000);
    // Two checkpoints to roll back to.
    for (x, y) in s.x.chunks(100 * 8).zip(s.y.chunks(100)).take(2) {
        agent.ingest(x, y).unwrap();
        agent.flush().unwrap();
    }
    let targets = [VersionId::online(1), VersionId::online(2)];
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let (agent, stop, s) = (agent.clone(), stop.clone(), s.clone());
        std::thread::spawn(move || {
            let mut fed = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let k = fed % 40;
                let (x, y) = (&s.x[k * 800..(k + 1) * 800], &s.y[k * 100..(k + 1) * 100]);
                match agent.ingest(x, y) {
                    Ok(_) => fed += 1,
                    Err(refit::AgentError::Backpressure { .. }) => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            fed
        })
    };
    // Online numbers follow the Trainer's order: an update trained after
    // a rollback has a higher number than every update served before it.
    // So after each rollback's own promotion, every version served must be
    // numbered above all that were served before: never an update that was
    // in flight from the old lineage.
    let events = agent.subscribe().unwrap();
    let (mut highest, mut floor, mut rollbacks_seen) = (0u64, 0u64, 0usize);
    let mut check = |events: &crossbeam_channel::Receiver<Event>| {
        for e in events.try_iter() {
            if let Event::Promoted { version } = e {
                if targets.contains(&version) {
                    rollbacks_seen += 1;
                    floor = highest;
                } else {
                    assert!(
                        version.number > floor,
                        "{version} served after a rollback, but it is not newer than {floor}"
                    );
                    highest = highest.max(version.number);
                }
            }
        }
    };
    for i in 0..1_000 {
        let target = targets[i % 2];
        agent.rollback(target).unwrap();
        check(&events);
    }
    agent.flush().unwrap();
    check(&events);
    assert_eq!(rollbacks_seen, 1_000);
    assert!(highest > 2, "no update trained during the rollbacks");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(feeder.join().unwrap() > 0);
    agent.shutdown().unwrap();
}

#[test]
fn a_restart_replays_the_logged_samples_after_the_newest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // No checkpoint by count: only the flush below writes one.
    c.online.checkpoint_every = CheckpointEvery {
        updates: u64::MAX,
        interval: None,
    };
    let s = demo::churn(9, 900);
    let agent = start(c.clone());
    agent.ingest(&s.x[..300 * 8], &s.y[..300]).unwrap();
    agent.flush().unwrap();
    // 500 more samples, trained and served but never written, and 100
    // acknowledged but still buffered... then the process dies (dropping
    // the last handle stops the threads without a flush or a checkpoint).
    for k in 3..9 {
        agent
            .ingest(&s.x[k * 800..(k + 1) * 800], &s.y[k * 100..(k + 1) * 100])
            .unwrap();
    }
    agent.sync().unwrap();
    assert_eq!(agent.stats().unwrap().trainer.unpersisted_updates, 6);
    drop(agent);

    let store = Store::new(dir.path(), "churn", refit::clock::system());
    let newest = store
        .manifest(Mode::Online)
        .unwrap()
        .versions
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        (newest.samples_seen, newest.learned_through),
        (300, Some(300))
    );

    // The restart serves that checkpoint and, at once, learns the 600
    // samples logged after it, each once.
    let agent = start(c.clone());
    agent.flush().unwrap();
    let stats = agent.stats().unwrap();
    assert_eq!(stats.trainer.samples_seen, 900);
    assert_eq!(stats.trainer.trained, 600);
    let newest = store
        .manifest(Mode::Online)
        .unwrap()
        .versions
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        (newest.samples_seen, newest.learned_through),
        (900, Some(900))
    );
    agent.shutdown().unwrap();

    // A clean stop wrote everything: nothing is replayed the next time.
    let agent = start(c);
    agent.flush().unwrap();
    assert_eq!(agent.stats().unwrap().trainer.trained, 0);
    assert_eq!(agent.stats().unwrap().trainer.samples_seen, 900);
    agent.shutdown().unwrap();
}
