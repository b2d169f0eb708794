//! Fleet mode's building blocks against a real `nats-server -js` on a
//! loopback port in a temporary directory: the lease (one holder at a
//! time, renewal, takeover after the holder stops renewing within the TTL
//! plus a second, release), the model bus (a version published by one
//! replica reaches another's watch within a second, with its file checked),
//! and a clear error when NATS cannot be reached.
//!
//! `.ci/run` installs nats-server (Debian) and sets `REFIT_REQUIRE_NATS=1`,
//! which turns a missing server into a failure; elsewhere the tests say
//! what is missing and pass without it.

use std::time::{Duration, Instant};

use futures::StreamExt;
use refit::fleet::{FleetError, Lease, ModelBus};

use super::nats::NatsServer;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

const TTL: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn one_holder_at_a_time_and_a_takeover_when_the_holder_stops_renewing() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    runtime().block_on(async {
        let mut a = Lease::connect(
            &nats.url,
            ("refit_lease", "trainer", "replica-a"),
            TTL,
            (TIMEOUT, 1),
        )
        .await
        .unwrap();
        let mut b = Lease::connect(
            &nats.url,
            ("refit_lease", "trainer", "replica-b"),
            TTL,
            (TIMEOUT, 1),
        )
        .await
        .unwrap();
        assert!(a.acquire().await.unwrap(), "the first to ask gets it");
        assert!(!b.acquire().await.unwrap(), "one holder at a time");
        assert_eq!(a.holder().await.unwrap().as_deref(), Some("replica-a"));
        // Renewed within the TTL, the lease outlives it.
        for _ in 0..4 {
            tokio::time::sleep(TTL / 3).await;
            assert!(a.renew().await.unwrap());
            assert!(!b.acquire().await.unwrap());
        }
        // The holder dies (stops renewing): the other takes over within the
        // TTL plus a second.
        let stopped = Instant::now();
        let took = loop {
            if b.acquire().await.unwrap() {
                break stopped.elapsed();
            }
            assert!(
                stopped.elapsed() < TTL + Duration::from_secs(3),
                "no takeover"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            took <= TTL + Duration::from_secs(1),
            "took over after {took:?}"
        );
        assert_eq!(b.holder().await.unwrap().as_deref(), Some("replica-b"));
        // The old holder learns it lost the lease; it cannot renew it back.
        assert!(!a.renew().await.unwrap());
        assert!(!a.is_held());
        // A release hands it over at once.
        b.release().await.unwrap();
        assert!(a.acquire().await.unwrap());
    });
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    runtime().block_on(async {
        let err = Lease::connect(
            "nats://127.0.0.1:1",
            ("refit_lease", "trainer", "replica-a"),
            TTL,
            (Duration::from_secs(2), 1),
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, FleetError::Connect { .. } | FleetError::Timeout { .. }),
            "{text}"
        );
        assert!(
            text.contains("127.0.0.1:1") || text.contains("connect"),
            "{text}"
        );
    });
}

/// A stored version's entry and file, from a real store.
fn stored_version(
    dir: &std::path::Path,
    number_of_rows: usize,
) -> (refit::store::VersionEntry, Vec<u8>) {
    use refit::plugins::{Batch, ModelSpec, Params, Task};
    let mut model = refit::plugins::builtin()
        .create(
            ModelSpec::new("logistic", Task::Classification, ["a", "b"]),
            &Params::new(),
        )
        .unwrap();
    let x: Vec<f32> = (0..number_of_rows * 2).map(|i| (i % 7) as f32).collect();
    let y: Vec<f32> = (0..number_of_rows).map(|i| (i % 2) as f32).collect();
    model
        .partial_fit(Batch::new(&x, 2).unwrap().into(), &y, 0.1)
        .unwrap();
    let bytes = model.save().unwrap();
    let store = refit::store::Store::new(dir, "m", refit::clock::system());
    let meta = refit::store::VersionMeta {
        number: None,
        parent: None,
        samples_seen: number_of_rows as u64,
        learning_rate: Some(0.1),
        severity: refit::Severity::Stable,
        metrics: None,
        reason: "test".into(),
        learned_through: None,
    };
    let written = store
        .write_version(refit::store::Mode::Online, &bytes, meta, None, None)
        .unwrap();
    (written.entry, bytes)
}

#[test]
fn a_published_version_reaches_every_watcher_with_its_file_checked() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (first, first_bytes) = stored_version(dir.path(), 10);
    let (second, second_bytes) = stored_version(dir.path(), 20);
    runtime().block_on(async {
        let trainer = ModelBus::connect(&nats.url, "refit", "churn", (TIMEOUT, 1))
            .await
            .unwrap();
        let follower = ModelBus::connect(&nats.url, "refit", "churn", (TIMEOUT, 1))
            .await
            .unwrap();
        assert_eq!(follower.active().await.unwrap(), None);
        let mut updates = follower.watch().await.unwrap();
        for (entry, bytes) in [(&first, &first_bytes), (&second, &second_bytes)] {
            let sent = Instant::now();
            let revision = trainer.publish(entry, bytes).await.unwrap();
            let seen = tokio::time::timeout(Duration::from_secs(1), updates.next())
                .await
                .expect("announced within a second")
                .unwrap()
                .unwrap();
            eprintln!("announced after {:?}", sent.elapsed());
            assert_eq!(&seen.entry, entry);
            assert_eq!(seen.revision, revision);
            assert_eq!(&follower.fetch(&seen.entry).await.unwrap(), bytes);
        }
        assert_eq!(follower.active().await.unwrap().unwrap().entry, second);
        // A file that does not match its entry is refused, naming the version.
        let mut lying = second.clone();
        lying.crc32 ^= 1;
        let err = follower.fetch(&lying).await.unwrap_err();
        assert!(matches!(err, FleetError::Damaged { .. }), "{err}");
        assert!(err.to_string().contains(&second.id().to_string()), "{err}");
    });
}

#[test]
fn samples_are_stored_before_they_are_acknowledged_and_survive_a_server_restart() {
    use refit::fleet::SampleStream;
    use refit::plugins::InputKind;
    use refit::rows::Rows;
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let rt = runtime();
    let open = |url: String| {
        rt.block_on(SampleStream::connect(
            &url,
            "refit",
            "churn",
            (InputKind::Dense, 2),
            (Duration::from_secs(3_600), 0),
            (Duration::from_secs(2), 1),
        ))
    };
    let stream = open(nats.url.clone()).unwrap();
    let batch = |k: u64| {
        (
            Rows::Dense(vec![k as f32, 1.0, k as f32, 2.0]),
            vec![0.0, 1.0],
        )
    };
    let mut sequences = Vec::new();
    for k in 0..3u64 {
        let (rows, labels) = batch(k);
        sequences.push(
            rt.block_on(stream.append(k * 2, 0, &rows, &labels))
                .unwrap(),
        );
    }
    assert_eq!(sequences, [1, 2, 3]);
    let back = rt.block_on(stream.read_from(2)).unwrap();
    assert_eq!(back.iter().map(|b| b.sequence).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(
        (back[0].first_sample, &back[0].rows, &back[0].labels),
        (2, &batch(1).0, &batch(1).1)
    );
    // The server goes away: an append is refused, not acknowledged.
    nats.stop();
    let (rows, labels) = batch(9);
    assert!(rt.block_on(stream.append(6, 0, &rows, &labels)).is_err());
    // It comes back with its storage: everything acknowledged is there.
    nats.restart();
    let stream = open(nats.url.clone()).unwrap();
    let all = rt.block_on(stream.read_from(1)).unwrap();
    assert_eq!(
        all.iter().map(|b| b.first_sample).collect::<Vec<_>>(),
        [0, 2, 4]
    );
    assert_eq!(rt.block_on(stream.append(6, 0, &rows, &labels)).unwrap(), 4);
    assert_eq!(rt.block_on(stream.read_from(5)).unwrap(), []);
}

#[test]
fn keepers_hold_the_lease_one_at_a_time_and_hand_it_over() {
    use refit::fleet::LeaseKeeper;
    let Some(nats) = NatsServer::start() else {
        return;
    };
    runtime().block_on(async {
        let every = TTL / 4;
        let lease = |holder: &'static str| {
            Lease::connect(
                &nats.url,
                ("refit_keep", "trainer", holder),
                TTL,
                (TIMEOUT, 1),
            )
        };
        let a = LeaseKeeper::spawn(lease("a").await.unwrap(), every);
        tokio::time::sleep(every).await;
        let b = LeaseKeeper::spawn(lease("b").await.unwrap(), every);
        let c = LeaseKeeper::spawn(lease("c").await.unwrap(), every);
        // Over several TTLs, exactly one of them holds it at any time.
        for _ in 0..12 {
            tokio::time::sleep(every).await;
            let holders = [a.is_held(), b.is_held(), c.is_held()]
                .iter()
                .filter(|h| **h)
                .count();
            assert_eq!(holders, 1);
        }
        assert!(a.is_held(), "the first keeps it while it renews");
        // The holder dies: another takes over within the TTL plus a round.
        let died = Instant::now();
        a.abandon();
        let roles = [b.roles(), c.roles()];
        let next = loop {
            if let Some(i) = roles.iter().position(|r| *r.borrow()) {
                break i;
            }
            assert!(
                died.elapsed() < TTL + every + Duration::from_secs(2),
                "no takeover"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            died.elapsed() <= TTL + every + Duration::from_secs(1),
            "{:?}",
            died.elapsed()
        );
        // A graceful stop hands it over within a round.
        let (holder, other) = if next == 0 { (b, c) } else { (c, b) };
        let stopped = Instant::now();
        holder.stop().await.unwrap();
        while !other.is_held() {
            assert!(stopped.elapsed() < every * 3, "no handover");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        other.stop().await.unwrap();
    });
}
