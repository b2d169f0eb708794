//! One holder at a time, across processes: a lease on a JetStream
//! key-value key.
//!
//! The bucket keeps one entry per key and drops entries older than the
//! lease's TTL (`max_age`), so a lease that stops being renewed ends by
//! itself. [`Lease::acquire`] creates the key only when it is absent
//! (JetStream refuses a create over a live entry), and [`Lease::renew`]
//! rewrites it only at the revision its holder last wrote (a
//! revision-checked update), so two replicas can never both believe they
//! hold it: whoever lost the race, or let the lease lapse, gets `false`.
//! A holder renews well within the TTL (a third of it, say); a replica
//! that dies stops renewing, and another acquires within the TTL (plus
//! the server's expiry sweep, about a second).
//!
//! The bucket uses only the JetStream API of nats-server 2.9.

use std::time::Duration;

use async_nats::jetstream::kv;

use super::{FleetError, Nats, js_err, key_value, within};

/// A lease on one key of a key-value bucket (see the [module docs](self)).
#[derive(Debug)]
pub struct Lease {
    store: kv::Store,
    key: String,
    holder: String,
    ttl: Duration,
    timeout: Duration,
    /// The revision this holder last wrote, while it holds the lease.
    revision: Option<u64>,
    /// When this holder last wrote it.
    written_at: Option<std::time::Instant>,
}

impl Lease {
    /// Connects to `url` and opens (or creates) the bucket `bucket`, whose
    /// entries live `ttl`; the lease is `key`, held as `holder` (a replica's
    /// name). Every JetStream call waits at most `timeout`; the bucket is
    /// kept on `replicas` servers of a cluster.
    pub async fn connect(
        url: &str,
        names: (&str, &str, &str),
        ttl: Duration,
        (timeout, replicas): (Duration, usize),
    ) -> Result<Self, FleetError> {
        let nats = Nats::connect(url, timeout).await?;
        Self::open(&nats, names, ttl, (timeout, replicas)).await
    }

    /// [`Lease::connect`] over an open connection.
    pub async fn open(
        nats: &Nats,
        (bucket, key, holder): (&str, &str, &str),
        ttl: Duration,
        (timeout, replicas): (Duration, usize),
    ) -> Result<Self, FleetError> {
        let js = &nats.js;
        let config = kv::Config {
            bucket: bucket.to_owned(),
            history: 1,
            max_age: ttl,
            num_replicas: replicas.max(1),
            ..Default::default()
        };
        let store = key_value(js, config, timeout).await?;
        Ok(Self {
            store,
            key: key.to_owned(),
            holder: holder.to_owned(),
            ttl,
            timeout,
            revision: None,
            written_at: None,
        })
    }

    /// Takes the lease when nobody holds it (or renews it when this holder
    /// does); answers whether this holder holds it now.
    pub async fn acquire(&mut self) -> Result<bool, FleetError> {
        if self.written_at.is_some_and(|at| at.elapsed() >= self.ttl) {
            // Not renewed within its TTL (NATS was away): it lapsed, and
            // its entry may be gone with the revision it had.
            self.revision = None;
        }
        if self.revision.is_some() {
            return self.renew().await;
        }
        let created = within(
            self.timeout,
            "create the lease",
            self.store
                .create(&self.key, self.holder.clone().into_bytes().into()),
        )
        .await?;
        match created {
            Ok(revision) => {
                self.revision = Some(revision);
                self.written_at = Some(std::time::Instant::now());
                Ok(true)
            }
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(js_err("create the lease", e)),
        }
    }

    /// Renews a held lease for another TTL; answers `false` (and holds it
    /// no more) when it lapsed or another holder took it meanwhile.
    pub async fn renew(&mut self) -> Result<bool, FleetError> {
        let Some(revision) = self.revision else {
            return Ok(false);
        };
        let updated = within(
            self.timeout,
            "renew the lease",
            self.store
                .update(&self.key, self.holder.clone().into_bytes().into(), revision),
        )
        .await?;
        match updated {
            Ok(revision) => {
                self.revision = Some(revision);
                self.written_at = Some(std::time::Instant::now());
                Ok(true)
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                self.revision = None;
                Ok(false)
            }
            Err(e) => Err(js_err("renew the lease", e)),
        }
    }

    /// Gives the lease up at once (another replica can take it without
    /// waiting for the TTL), if this holder holds it.
    pub async fn release(&mut self) -> Result<(), FleetError> {
        let Some(revision) = self.revision.take() else {
            return Ok(());
        };
        let deleted = within(
            self.timeout,
            "release the lease",
            self.store.delete_expect_revision(&self.key, Some(revision)),
        )
        .await?;
        // Lost meanwhile: nothing to give up.
        match deleted {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == kv::DeleteErrorKind::WrongLastRevision => Ok(()),
            Err(e) => Err(js_err("release the lease", e)),
        }
    }

    /// Who holds the lease now, by the bucket (none when it lapsed).
    pub async fn holder(&self) -> Result<Option<String>, FleetError> {
        let entry = within(self.timeout, "read the lease", self.store.entry(&self.key))
            .await?
            .map_err(|e| js_err("read the lease", e))?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| String::from_utf8_lossy(&e.value).into_owned()))
    }

    /// Whether this holder believes it holds the lease (since its last
    /// successful acquire or renew).
    pub fn is_held(&self) -> bool {
        self.revision.is_some()
    }

    /// The lease's time to live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// Keeps a [`Lease`] from a task of its own: renews it every `every`
/// while held, tries to take it every `every` while not, and publishes
/// each change of role. A replica whose keeper stops renewing (it died, or
/// lost NATS for longer than the TTL) loses the lease; another keeper
/// takes it within the TTL plus `every`.
#[derive(Debug)]
pub struct LeaseKeeper {
    role: tokio::sync::watch::Receiver<bool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Lease>,
}

impl LeaseKeeper {
    /// Starts keeping `lease` (on the current tokio runtime). `every`
    /// should be a third of the TTL or less.
    pub fn spawn(mut lease: Lease, every: Duration) -> Self {
        let (role_tx, role) = tokio::sync::watch::channel(lease.is_held());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                // A failed call (NATS away) counts as not holding: the
                // lease lapses on the server too unless renewed in time.
                let held = lease.acquire().await.unwrap_or(false);
                if *role_tx.borrow() != held {
                    tracing::info!(held, "fleet lease changed hands");
                    let _ = role_tx.send(held);
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = &mut stopped => break,
                }
            }
            lease
        });
        Self {
            role,
            stop: Some(stop),
            task,
        }
    }

    /// Whether this replica holds the lease now.
    pub fn is_held(&self) -> bool {
        *self.role.borrow()
    }

    /// Each change of role, as it happens (`true`: this replica holds the
    /// lease).
    pub fn roles(&self) -> tokio::sync::watch::Receiver<bool> {
        self.role.clone()
    }

    /// Stops keeping the lease and gives it up, so another replica takes
    /// it at once.
    pub async fn stop(mut self) -> Result<(), FleetError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let mut lease = (&mut self.task)
            .await
            .map_err(|e| js_err("stop the lease keeper", e))?;
        lease.release().await
    }

    /// Stops renewing without giving the lease up, as a replica that dies
    /// does (the lease lapses after its TTL).
    pub fn abandon(self) {
        self.task.abort();
    }
}
