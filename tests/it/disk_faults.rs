//! Disk faults at each step of checkpointing, manifest updates and sample
//! appends, injected through `refit::storage::Faulty`: each yields a clear
//! error (an event, or the refused `ingest`), the previous good version
//! stays served and predicting, nothing acknowledged is lost, and once the
//! disk is healthy again the next checkpoint is written and the store is
//! consistent.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use refit::config::{Config, Durability};
use refit::events::Event;
use refit::storage::{Fault, Faulty, Op, Rule, disk};
use refit::store::{Mode, Store};
use refit::{Agent, AgentError, demo};

/// 100 rows whose first value is its id (`first..first + 100`).
fn rows(first: u32) -> (Vec<f32>, Vec<f32>) {
    let s = demo::churn(u64::from(first), 100);
    let mut x = s.x;
    for (i, row) in x.chunks_mut(8).enumerate() {
        row[0] = (first + i as u32) as f32;
    }
    (x, s.y)
}

fn events_until_sync(agent: &Agent, events: &crossbeam_channel::Receiver<Event>) -> Vec<Event> {
    agent.sync().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    events.try_iter().collect()
}

#[test]
fn every_write_step_fails_cleanly_and_recovers() {
    // (what breaks, operation, fault, path filter)
    let cases = [
        ("model file write", Op::Write, Fault::DiskFull, "_online_"),
        (
            "model file short write",
            Op::Write,
            Fault::ShortWrite,
            ".refit",
        ),
        ("model file fsync", Op::Sync, Fault::SyncFailed, ".refit"),
        (
            "model file rename",
            Op::Rename,
            Fault::PermissionDenied,
            ".refit",
        ),
        (
            "drift reference create",
            Op::Create,
            Fault::PermissionDenied,
            ".drift.json",
        ),
        ("manifest write", Op::Write, Fault::DiskFull, "manifest"),
        ("manifest fsync", Op::Sync, Fault::SyncFailed, "manifest"),
        ("manifest rename", Op::Rename, Fault::DiskFull, "manifest"),
        (
            "models directory fsync",
            Op::SyncDir,
            Fault::SyncFailed,
            "churn_online",
        ),
        ("sample log write", Op::Write, Fault::DiskFull, "seg_"),
        (
            "sample log short write",
            Op::Write,
            Fault::ShortWrite,
            "seg_",
        ),
        ("sample log fsync", Op::Sync, Fault::SyncFailed, "seg_"),
        (
            "sample log new segment",
            Op::Create,
            Fault::PermissionDenied,
            "seg_",
        ),
    ];
    for (what, op, fault, path) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.agent.data_dir = dir.path().to_owned();
        c.online.min_samples_per_update = 100;
        c.samples.durability = Durability::Always;
        // A new segment per call, so segment creation is exercised too.
        c.samples.segment_bytes = 1;
        // A drift reference from the first batch, so each checkpoint has one.
        c.drift.reference_size = 100;
        let faulty = Faulty::new(disk());
        let agent = Agent::builder(c)
            .features(demo::CHURN_FEATURES)
            .storage(Arc::new(faulty.clone()))
            .start()
            .unwrap();
        let events = agent.subscribe().unwrap();
        let (x, y) = rows(0);
        agent.ingest(&x, &y).unwrap();
        agent.sync().unwrap();
        assert_eq!(
            agent.predict(&x[..8]).unwrap().version.to_string(),
            "online_001"
        );

        faulty.add(Rule::new(op, fault).on_paths_containing(path).times(1));
        let (x2, y2) = rows(100);
        let ingested = agent.ingest(&x2, &y2);
        let seen = events_until_sync(&agent, &events);
        assert_eq!(faulty.injected(), 1, "{what}: the fault did not fire");
        let sample_log = path == "seg_";
        if sample_log {
            // Refused with the reason; nothing of it was accepted.
            match ingested {
                Err(e @ AgentError::SampleLog { .. }) => {
                    // The I/O error is kept as the source.
                    let source = std::error::Error::source(&e).map(ToString::to_string);
                    assert!(
                        source.as_deref().is_some_and(|s| s.contains("injected")),
                        "{what}: {e}"
                    );
                    assert!(e.to_string().contains("injected"), "{what}: {e}")
                }
                other => panic!("{what}: {other:?}"),
            }
            assert_eq!(agent.stats().unwrap().ingest.accepted, 100, "{what}");
        } else {
            ingested.unwrap();
            let failed: Vec<String> = seen
                .iter()
                .filter_map(|e| match e {
                    Event::CheckpointFailed { error } => Some(error.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(failed.len(), 1, "{what}: {seen:?}");
            assert!(failed[0].contains("injected"), "{what}: {}", failed[0]);
        }
        // Serving never waits for the disk: a refused ingest leaves the
        // previous version served; an update whose checkpoint failed is
        // served all the same (its samples are in the sample log).
        let p = agent.predict(&x[..16]).unwrap();
        let expected = if sample_log {
            "online_001"
        } else {
            "online_002"
        };
        assert_eq!(p.version.to_string(), expected, "{what}");
        assert!(p.values.iter().all(|v| v.is_finite()));

        // The disk is healthy again: the next checkpoint is written.
        let (x3, y3) = rows(200);
        agent.ingest(&x3, &y3).unwrap();
        agent.sync().unwrap();
        let served = agent.predict(&x[..8]).unwrap().version;
        assert_ne!(served.to_string(), "online_001", "{what}");
        agent.shutdown().unwrap();

        let store = Store::new(dir.path(), "churn", refit::clock::system());
        let recovery = store.recover().unwrap();
        assert!(
            recovery.skipped.is_empty(),
            "{what}: {:?}",
            recovery.skipped
        );
        assert_eq!(recovery.active.map(|(e, _)| e.id()), Some(served), "{what}");
        for v in store.manifest(Mode::Online).unwrap().versions {
            store.read_version(v.id()).unwrap();
        }
        // Every accepted sample is in the log once.
        let mut ids = common::logged_ids(dir.path());
        ids.sort_unstable();
        let accepted: Vec<u32> = (0..100)
            .chain(if sample_log { 0..0 } else { 100..200 })
            .chain(200..300)
            .collect();
        ids.retain(|id| accepted.contains(id) || !sample_log);
        let mut deduped = ids.clone();
        deduped.dedup();
        assert_eq!(deduped, ids, "{what}: a sample logged twice");
        for id in &accepted {
            assert!(
                ids.binary_search(id).is_ok(),
                "{what}: accepted sample {id} missing"
            );
        }
    }
}

/// `durability = "batch"`: calls that share a group commit share its fate.
/// Four calls made together join one group (a 1 s window); a failed write,
/// segment creation or fsync in it fails all four, none is acknowledged or
/// accepted, and the next group, on a healthy disk, succeeds.
#[test]
fn a_failed_group_commit_fails_every_call_waiting_for_it() {
    let cases = [
        ("sample log write", Op::Write, Fault::DiskFull, "append"),
        ("sample log fsync", Op::Sync, Fault::SyncFailed, "fsync"),
        (
            "sample log new segment",
            Op::Create,
            Fault::PermissionDenied,
            "append",
        ),
    ];
    for (what, op, fault, failed_op) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.agent.data_dir = dir.path().to_owned();
        c.online.min_samples_per_update = 10_000;
        c.samples.durability = Durability::Batch;
        c.samples.group_commit = "1s".parse().unwrap();
        if op == Op::Create {
            // A new segment per record, so the group's first write rotates.
            c.samples.segment_bytes = 1;
        }
        let faulty = Faulty::new(disk());
        let agent = Agent::builder(c)
            .features(demo::CHURN_FEATURES)
            .storage(Arc::new(faulty.clone()))
            .start()
            .unwrap();
        let (x, y) = rows(0);
        agent.ingest(&x, &y).unwrap();

        faulty.add(Rule::new(op, fault).on_paths_containing("seg_"));
        let together = std::sync::Barrier::new(4);
        let answers: Vec<Result<_, AgentError>> = std::thread::scope(|s| {
            let calls: Vec<_> = (1..=4u32)
                .map(|k| {
                    let (agent, together) = (&agent, &together);
                    s.spawn(move || {
                        let (x, y) = rows(100 * k);
                        together.wait();
                        agent.ingest(&x, &y)
                    })
                })
                .collect();
            calls.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert_eq!(faulty.injected(), 1, "{what}: one group, one fault");
        faulty.clear();
        for answer in &answers {
            match answer {
                Err(e @ AgentError::SampleLog { op, .. }) => {
                    assert_eq!(*op, failed_op, "{what}: {e}");
                    assert!(e.to_string().contains("injected"), "{what}: {e}");
                }
                other => panic!("{what}: acknowledged {other:?}"),
            }
        }
        assert_eq!(agent.stats().unwrap().ingest.accepted, 100, "{what}");

        // The disk is healthy again: the next group commits.
        let (x5, y5) = rows(500);
        agent.ingest(&x5, &y5).unwrap();
        assert_eq!(agent.stats().unwrap().ingest.accepted, 200, "{what}");
        agent.shutdown().unwrap();
        let ids = common::logged_ids(dir.path());
        for id in (0..100).chain(500..600) {
            assert!(
                ids.contains(&id),
                "{what}: acknowledged sample {id} missing"
            );
        }
    }
}

/// `durability = "none"` writes to the open segment on Ingest's thread: a
/// failed write refuses that call alone, and the next call goes to a new
/// segment (created on the log's thread) and is acknowledged.
#[test]
fn a_failed_append_without_fsync_refuses_that_call_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.min_samples_per_update = 10_000;
    c.samples.durability = Durability::None;
    let faulty = Faulty::new(disk());
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .storage(Arc::new(faulty.clone()))
        .start()
        .unwrap();
    let (x, y) = rows(0);
    agent.ingest(&x, &y).unwrap();
    faulty.add(
        Rule::new(Op::Write, Fault::DiskFull)
            .on_paths_containing("seg_")
            .times(1),
    );
    let (x1, y1) = rows(100);
    match agent.ingest(&x1, &y1) {
        Err(e @ AgentError::SampleLog { op: "append", .. }) => {
            assert!(e.to_string().contains("injected"), "{e}")
        }
        other => panic!("acknowledged {other:?}"),
    }
    let (x2, y2) = rows(200);
    agent.ingest(&x2, &y2).unwrap();
    assert_eq!(agent.stats().unwrap().ingest.accepted, 200);
    agent.shutdown().unwrap();
    let expected: Vec<u32> = (0..100).chain(200..300).collect();
    assert_eq!(common::logged_ids(dir.path()), expected);
}
