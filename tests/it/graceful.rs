//! Graceful stop: SIGTERM to `refit serve` while it is fed over HTTP, and
//! SIGINT to `refit run --serve` while it streams. Each exits 0, and the
//! final checkpoint has learned every logged sample (so every acknowledged
//! one): a restart has nothing to replay.

use crate::common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{addr_in, exit_within, first_line, signal, try_http};
use refit::store::{Mode, Store};

/// The newest checkpoint has learned the whole sample log: its
/// `samples_seen` and `learned_through` are the number of samples logged.
fn final_checkpoint_has_learned_the_log(dir: &std::path::Path, name: &str, width: usize) -> u64 {
    let logged = refit::sample_log::read_recent(&dir.join("samples").join(name), width, usize::MAX)
        .unwrap()
        .labels
        .len() as u64;
    let store = Store::new(dir, name, refit::clock::system());
    let manifest = store.manifest(Mode::Online).unwrap();
    let newest = manifest.versions.last().expect("a checkpoint");
    assert_eq!(manifest.active, Some(newest.id()));
    assert_eq!(newest.samples_seen, logged);
    assert_eq!(newest.learned_through, Some(logged));
    assert_eq!(store.active_replay_from().unwrap(), Some(logged));
    logged
}

#[test]
fn sigterm_stops_refit_serve_with_every_acknowledged_sample_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::spawn_churn_serve(dir.path(), "");
    let addr = addr_in(&first_line(&mut child));
    // 25 rows per call: most calls leave samples in the buffer.
    let mut acked: Vec<u32> = Vec::new();
    let mut next: u32 = 0;
    let started = Instant::now();
    let mut signalled = false;
    loop {
        if !signalled && started.elapsed() > Duration::from_millis(400) {
            signal(&child, "TERM");
            signalled = true;
        }
        let ids: Vec<u32> = (next..next + 25).collect();
        next += 25;
        match try_http(addr, "POST", "/v1/samples", &common::samples_body(&ids)) {
            Some((200, _)) => acked.extend(ids),
            Some((status, body)) => panic!("{status} {body}"),
            None => break,
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still accepting"
        );
    }
    let status = exit_within(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        acked.len() > 100,
        "only {} samples acknowledged",
        acked.len()
    );
    let logged = final_checkpoint_has_learned_the_log(dir.path(), "churn", 8);
    assert!(logged >= acked.len() as u64);
    let ids: HashSet<u32> = common::logged_ids(dir.path()).into_iter().collect();
    assert!(acked.iter().all(|id| ids.contains(id)));
}

#[test]
fn sigint_stops_refit_run_serve_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_refit"))
        .args([
            "run",
            "--demo",
            "churn",
            "--rows",
            "50000",
            "--serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = addr_in(&first_line(&mut child));
    assert!(try_http(addr, "GET", "/healthz", "").is_some());
    // At the default 2 000 rows/s the stream has far to go.
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, "INT");
    let status = exit_within(&mut child, Duration::from_secs(20));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}: {stderr}");
    assert!(stderr.contains("stopped by a signal after"), "{stderr}");
    let logged = final_checkpoint_has_learned_the_log(dir.path(), "churn", 8);
    assert!(logged > 0 && logged < 50_000, "{logged}");
}
