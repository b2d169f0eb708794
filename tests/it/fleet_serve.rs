//! Fleet mode end to end: three `refit serve` replicas of the churn model
//! on one real `nats-server -js` (loopback port, temporary directory).
//!
//! Every sample carries a unique id (its first value), so the tests count
//! what the stream stored and what the trainer learned: a sample is
//! learned exactly once when the final model's `samples_seen` equals the
//! rows in the stream, its position is one past the stream's last
//! sequence, and every acknowledged id is in the stream once.
//!
//! Without nats-server the tests say so and pass, except under
//! `REFIT_REQUIRE_NATS` (set by `.ci/run`).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::{addr_in, first_line, json, samples_body, signal, try_http, try_raw_http};
use super::nats::NatsServer;

/// The lease's TTL in these tests.
const TTL: Duration = Duration::from_secs(2);

struct Replica {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `refit serve` of the churn model as replica `name` of the fleet on
/// `url` (100-sample updates, or fewer after half a second).
fn replica(url: &str, name: &str) -> Replica {
    let dir = tempfile::tempdir().unwrap();
    let features: Vec<String> = refit::demo::CHURN_FEATURES
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[model]\nfeatures = [{}]\n[online]\nmin_samples_per_update = 100\nupdate_frequency = \"500ms\"\n\
             [drift]\nreference_size = 1000\nwindow = 500\n\
             [fleet]\nurl = \"{url}\"\nreplica = \"{name}\"\nlease_ttl = \"2s\"\ntimeout = \"1s\"\n",
            features.join(", ")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_refit"))
        .args(["serve", "--config", "config.toml", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(match std::env::var_os("REFIT_FLEET_LOGS") {
            // Each replica's log, for a look at a failure.
            Some(dir) => Stdio::from(
                std::fs::File::create(std::path::Path::new(&dir).join(format!("{name}.log")))
                    .unwrap(),
            ),
            None => Stdio::null(),
        })
        .env("RUST_LOG", "info,async_nats=warn,refit::fleet=debug")
        .spawn()
        .unwrap();
    let addr = addr_in(&first_line(&mut child));
    Replica {
        child,
        addr,
        _dir: dir,
    }
}

fn fleet_of(url: &str) -> Vec<Replica> {
    ["r1", "r2", "r3"].iter().map(|n| replica(url, n)).collect()
}

fn ab(addr: SocketAddr) -> Option<Value> {
    let (status, body) = try_http(addr, "GET", "/v1/stats", "")?;
    (status == 200).then(|| json(&body)["ab"].take())
}

fn stats(addr: SocketAddr) -> Option<Value> {
    let (status, body) = try_http(addr, "GET", "/v1/stats", "")?;
    (status == 200).then(|| json(&body)["agent"].take())
}

/// Waits (at most `limit`) until `done` holds; panics naming `what`.
fn until<T>(limit: Duration, what: &str, mut done: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = done() {
            return t;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The index of the training replica among `live`, once exactly one trains.
fn trainer(replicas: &[Replica], live: &[usize]) -> usize {
    until(Duration::from_secs(20), "one replica trains", || {
        let training: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&i| stats(replicas[i].addr).is_some_and(|s| s["fleet"]["training"] == true))
            .collect();
        (training.len() == 1).then(|| training[0])
    })
}

/// Posts samples with ids `ids` to `addr`; answers whether they were
/// acknowledged.
fn post(addr: SocketAddr, ids: &[u32]) -> bool {
    try_http(addr, "POST", "/v1/samples", &samples_body(ids)).is_some_and(|(s, _)| s == 200)
}

/// Posts samples with ids `ids` to `addr` under the idempotency key
/// `key`: (status, body), none when the connection failed.
fn post_once(addr: SocketAddr, ids: &[u32], key: &str) -> Option<(u16, String)> {
    let headers =
        format!("Host: {addr}\r\nContent-Type: application/json\r\nIdempotency-Key: {key}\r\n");
    try_raw_http(addr, "POST", "/v1/samples", &headers, &samples_body(ids))
}

/// The ids of every row in the fleet's stream, in stream order, and its
/// last sequence.
fn stream_ids(url: &str) -> (Vec<u32>, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stream = refit::fleet::SampleStream::connect(
            url,
            "refit",
            "churn",
            (refit::plugins::InputKind::Dense, 8),
            (Duration::from_secs(3600), 0),
            (Duration::from_secs(5), 1),
        )
        .await
        .unwrap();
        let batches = stream.read_from(1).await.unwrap();
        let last = batches.last().map_or(0, |b| b.sequence);
        let ids = batches
            .iter()
            .flat_map(|b| {
                b.rows
                    .dense()
                    .unwrap()
                    .chunks(8)
                    .map(|r| r[0] as u32)
                    .collect::<Vec<_>>()
            })
            .collect();
        (ids, last)
    })
}

/// Waits until the trainer has learned every row of the stream exactly
/// once and every live replica serves its version; answers that version.
fn converged(url: &str, replicas: &[Replica], live: &[usize], acked: &[u32]) -> Value {
    let (ids, last) = stream_ids(url);
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an id is in the stream twice");
    for id in acked {
        assert!(
            unique.binary_search(id).is_ok(),
            "acknowledged sample {id} is not in the stream"
        );
    }
    let t = trainer(replicas, live);
    let wait = format!(
        "the trainer (replica {t}) learns the {} rows through sequence {last}",
        ids.len()
    );
    let version = until(Duration::from_secs(20), &wait, || {
        let s = stats(replicas[t].addr)?;
        eprintln!("trainer: {} {}", s["trainer"], s["fleet"]);
        let learned = s["trainer"]["samples_seen"].as_u64()?;
        let position = s["fleet"]["position"].as_u64()?;
        (learned == ids.len() as u64 && position == last + 1).then(|| s["serving_version"].clone())
    });
    // Within 1 s of the trainer serving it (it is published once its
    // checkpoint is written, after it is served).
    until(
        Duration::from_secs(1),
        "every replica serves the trainer's version",
        || {
            live.iter()
                .all(|&i| stats(replicas[i].addr).is_some_and(|s| s["serving_version"] == version))
                .then_some(())
        },
    );
    version
}

#[test]
fn three_replicas_learn_each_sample_once_and_serve_the_same_version() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let replicas = fleet_of(&nats.url);
    let live = [0, 1, 2];
    trainer(&replicas, &live);
    let mut acked = Vec::new();
    for call in 0..30u32 {
        let ids: Vec<u32> = (call * 100..call * 100 + 100).collect();
        assert!(
            post(replicas[call as usize % 3].addr, &ids),
            "call {call} refused"
        );
        acked.extend(ids);
    }
    let version = converged(&nats.url, &replicas, &live, &acked);
    assert!(
        version["number"].as_u64().unwrap() > 0,
        "the fleet learned: {version}"
    );
    // What each replica serves, in every replica's stats.
    let s = until(
        Duration::from_secs(3),
        "every replica reports, one trains",
        || {
            let s = stats(replicas[1].addr)?;
            let listed = s["fleet"]["replicas"].as_array()?;
            (listed.len() == 3 && listed.iter().filter(|r| r["training"] == true).count() == 1)
                .then_some(s)
        },
    );
    assert!(s["ingest"]["published"].as_u64().unwrap() >= 1000, "{s}");
    // The trainer's drift report is every follower's too (stats, /v1/drift).
    let t = trainer(&replicas, &live);
    until(
        Duration::from_secs(3),
        "a follower reports the trainer's drift",
        || {
            let trained = stats(replicas[t].addr)?["drift"]["window_end"].as_u64()?;
            let seen = stats(replicas[(t + 1) % 3].addr)?["drift"]["window_end"].as_u64()?;
            (seen == trained).then_some(())
        },
    );
    // The trainer's updates (with their learning rates) are in every
    // follower's history, for its dashboard.
    let follower = (0..3)
        .find(|&i| stats(replicas[i].addr).is_some_and(|s| s["fleet"]["training"] == false))
        .unwrap();
    until(
        Duration::from_secs(3),
        "the trainer's updates in a follower's history",
        || {
            let (_, body) = try_http(replicas[follower].addr, "GET", "/v1/history", "")?;
            let history = json(&body);
            (history["updates"].as_array()?.len() >= 10).then_some(())
        },
    );
    // A trainer that stops gracefully gives the lease up: another trains
    // well before the TTL would have let it.
    let t = trainer(&replicas, &live);
    signal(&replicas[t].child, "TERM");
    let stopped = Instant::now();
    let rest: Vec<usize> = live.iter().copied().filter(|&i| i != t).collect();
    let next = trainer(&replicas, &rest);
    let took = stopped.elapsed();
    eprintln!("handover seen {took:?} after SIGTERM");
    assert!(took < TTL, "took {took:?}");
    assert_ne!(next, t);
}

#[test]
fn another_replica_takes_over_when_the_trainer_is_killed() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let mut replicas = fleet_of(&nats.url);
    let first = trainer(&replicas, &[0, 1, 2]);
    let mut acked = Vec::new();
    let mut killed_at = None;
    for call in 0..40u32 {
        let ids: Vec<u32> = (call * 50..call * 50 + 50).collect();
        if post(replicas[call as usize % 3].addr, &ids) {
            acked.extend(ids);
        }
        if call == 20 {
            replicas[first].child.kill().unwrap();
            replicas[first].child.wait().unwrap();
            killed_at = Some(Instant::now());
        }
    }
    let live: Vec<usize> = (0..3).filter(|&i| i != first).collect();
    let next = trainer(&replicas, &live);
    let took = killed_at.unwrap().elapsed();
    eprintln!("takeover seen {took:?} after the kill");
    assert!(
        took <= TTL + Duration::from_secs(1) + Duration::from_millis(500),
        "took {took:?}"
    );
    assert_ne!(next, first);
    assert!(acked.len() >= 1_300, "{} acknowledged", acked.len());
    converged(&nats.url, &replicas, &live, &acked);
}

#[test]
fn a_nats_restart_loses_no_acknowledged_sample() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let replicas = fleet_of(&nats.url);
    let live = [0, 1, 2];
    trainer(&replicas, &live);
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for call in 0..30u32 {
        let ids: Vec<u32> = (call * 100..call * 100 + 100).collect();
        let addr = replicas[call as usize % 3].addr;
        if call == 10 {
            nats.stop();
            // Every replica has seen the connection go.
            until(Duration::from_secs(10), "the replicas notice", || {
                live.iter()
                    .all(|&i| {
                        stats(replicas[i].addr).is_some_and(|s| s["fleet"]["connected"] == false)
                    })
                    .then_some(())
            });
        }
        if (10..15).contains(&call) {
            // NATS is away: refused, retryably, and nothing is accepted.
            let (status, body) = post_once(addr, &ids, &format!("call-{call}")).unwrap();
            assert_eq!(status, 503, "{body}");
            assert!(body.contains("retry"), "{body}");
            refused.push((call, ids));
            continue;
        }
        if call == 15 {
            nats.start_again();
            until(Duration::from_secs(20), "the replicas reconnect", || {
                live.iter()
                    .all(|&i| {
                        stats(replicas[i].addr).is_some_and(|s| s["fleet"]["connected"] == true)
                    })
                    .then_some(())
            });
            // The refused calls again, as a client would retry them.
            for (refused_call, ids) in std::mem::take(&mut refused) {
                let deadline = Instant::now() + Duration::from_secs(20);
                let key = format!("call-{refused_call}");
                while post_once(addr, &ids, &key).is_none_or(|(s, _)| s != 200) {
                    assert!(
                        Instant::now() < deadline,
                        "never acknowledged after the restart"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                acked.extend(ids);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while post_once(addr, &ids, &format!("call-{call}")).is_none_or(|(s, _)| s != 200) {
            assert!(Instant::now() < deadline, "call {call} never acknowledged");
            std::thread::sleep(Duration::from_millis(100));
        }
        acked.extend(ids);
    }
    assert_eq!(acked.len(), 3_000);
    // A call retried under its key (its answer lost, say) is acknowledged
    // again but stored once: `converged` finds every id once.
    let (status, body) = post_once(replicas[1].addr, &acked[..100], "call-0").unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_once(replicas[0].addr, &[9_999], "").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Idempotency-Key"), "{body}");
    converged(&nats.url, &replicas, &live, &acked);
}

#[test]
fn a_rollback_posted_to_a_follower_is_served_by_every_replica() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let replicas = fleet_of(&nats.url);
    let live = [0, 1, 2];
    let t = trainer(&replicas, &live);
    let follower = (t + 1) % 3;
    let mut acked = Vec::new();
    for call in 0..10u32 {
        let ids: Vec<u32> = (call * 100..call * 100 + 100).collect();
        assert!(post(replicas[call as usize % 3].addr, &ids));
        acked.extend(ids);
    }
    let newest = converged(&nats.url, &replicas, &live, &acked);
    // An older version the follower has stored.
    let (_, body) = try_http(replicas[follower].addr, "GET", "/v1/versions", "").unwrap();
    let versions = json(&body);
    let older = versions
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["mode"] == "online" && v["number"] != newest["number"])
        .expect("an older checkpoint");
    let body = format!("{{\"version\": {}}}", older["version"]);
    let older = serde_json::json!({"mode": older["mode"], "number": older["number"]});
    let (status, answer) =
        try_http(replicas[follower].addr, "POST", "/v1/rollback", &body).unwrap();
    assert_eq!(status, 200, "{answer}");
    until(
        Duration::from_secs(3),
        "every replica serves the rollback",
        || {
            live.iter()
                .all(|&i| stats(replicas[i].addr).is_some_and(|s| s["serving_version"] == older))
                .then_some(())
        },
    );
    // The trainer continues from it: the next version descends from it.
    for call in 10..13u32 {
        let ids: Vec<u32> = (call * 100..call * 100 + 100).collect();
        assert!(post(replicas[call as usize % 3].addr, &ids));
    }
    until(
        Duration::from_secs(20),
        "a newer version after the rollback",
        || {
            let s = stats(replicas[follower].addr)?;
            let v = s["serving_version"].clone();
            (v != older && v != newest).then_some(())
        },
    );
    // An A/B test started on the other follower runs on every replica,
    // and ends on every replica.
    let other = (t + 2) % 3;
    let (_, body) = try_http(replicas[other].addr, "GET", "/v1/versions", "").unwrap();
    let listed = json(&body);
    // The newest but one (retention drops the oldest first).
    let all = listed.as_array().unwrap();
    let first = &all[all.len().saturating_sub(2)];
    let body = format!("{{\"version\": {}, \"share\": 0.5}}", first["version"]);
    let (status, answer) = try_http(replicas[other].addr, "POST", "/v1/challenger", &body).unwrap();
    assert_eq!(status, 200, "{answer}");
    let challenger = serde_json::json!({"mode": first["mode"], "number": first["number"]});
    until(
        Duration::from_secs(3),
        "every replica runs the A/B test",
        || {
            live.iter()
                .all(|&i| {
                    ab(replicas[i].addr)
                        .is_some_and(|a| a["challenger"] == challenger && a["share"] == 0.5)
                })
                .then_some(())
        },
    );
    let (status, answer) = try_http(
        replicas[t].addr,
        "POST",
        "/v1/challenger",
        "{\"version\": null}",
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    until(
        Duration::from_secs(3),
        "the A/B test ends on every replica",
        || {
            live.iter()
                .all(|&i| ab(replicas[i].addr).is_some_and(|a| a["challenger"].is_null()))
                .then_some(())
        },
    );
    // Offline training runs on the trainer, which names itself to others.
    let before_offline = stats(replicas[t].addr).unwrap()["serving_version"].clone();
    let (status, answer) = try_http(
        replicas[other].addr,
        "POST",
        "/v1/train",
        "{\"source\": \"log\"}",
    )
    .unwrap();
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("the fleet's trainer is r"), "{answer}");
    let (status, answer) = try_http(
        replicas[t].addr,
        "POST",
        "/v1/train",
        "{\"source\": \"log\"}",
    )
    .unwrap();
    assert_eq!(status, 202, "{answer}");
    until(
        Duration::from_secs(20),
        "every replica serves the offline version",
        || {
            live.iter()
                .all(|&i| {
                    stats(replicas[i].addr)
                        .is_some_and(|s| s["serving_version"]["mode"] == "offline")
                })
                .then_some(())
        },
    );
    // A replica that joins later rolls the fleet back to a version it
    // never stored: the fleet's record of it.
    let mut replicas = replicas;
    replicas.push(replica(&nats.url, "r4"));
    let all = [0, 1, 2, 3];
    let offline = stats(replicas[t].addr).unwrap()["serving_version"].clone();
    until(
        Duration::from_secs(5),
        "the new replica serves the active version",
        || {
            stats(replicas[3].addr)
                .is_some_and(|s| s["serving_version"] == offline)
                .then_some(())
        },
    );
    let name = format!(
        "{}_{:03}",
        before_offline["mode"].as_str().unwrap(),
        before_offline["number"].as_u64().unwrap()
    );
    let (_, listed) = try_http(replicas[3].addr, "GET", "/v1/versions", "").unwrap();
    assert!(!listed.contains(&format!("\"{name}\"")), "{listed}");
    let (status, answer) = try_http(
        replicas[3].addr,
        "POST",
        "/v1/rollback",
        &format!("{{\"version\": \"{name}\"}}"),
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    until(
        Duration::from_secs(3),
        "all four replicas serve the rollback",
        || {
            all.iter()
                .all(|&i| {
                    stats(replicas[i].addr).is_some_and(|s| s["serving_version"] == before_offline)
                })
                .then_some(())
        },
    );
}
