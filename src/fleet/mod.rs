//! Fleet mode on NATS JetStream (`[fleet]` in the config; Cargo feature
//! `fleet`): several replicas of a host, one model.
//!
//! - Every replica's Ingest stores each accepted call in the stream
//!   `<prefix>.<name>.samples` ([`samples`]) and acknowledges it once
//!   JetStream stored it; the stream replaces the local sample log.
//! - One replica at a time trains: the holder of a lease on a key-value key
//!   ([`lease`]). It continues from the fleet's active version at the
//!   stream position that version recorded, and follows the stream from
//!   there with a durable consumer, so nothing acknowledged is learned
//!   twice or lost when the trainer changes.
//! - Versions travel through an object store and the active one through a
//!   key of a key-value bucket every replica watches ([`models`]); every
//!   replica serves what the trainer trains, and a rollback, promotion or
//!   A/B setting made on any replica applies to all ([`replica`]).
//! - The trainer's drift reports, updates and offline trainings reach every
//!   replica's events and dashboard; `/v1/stats` says who trains and what
//!   each replica serves.
//!
//! Only the JetStream API of nats-server 2.9 is used (Debian's server).

mod events;
pub mod lease;
pub mod models;
pub mod replica;
pub mod samples;

use std::time::Duration;

use async_nats::jetstream;

pub use lease::{Lease, LeaseKeeper};
pub use models::{ModelBus, Published, Roles};
pub use replica::{Fleet, FleetActors, FleetConnection, RoleChange, StreamLog};
pub use samples::{SampleStream, StoredBatch};

/// Why a fleet call failed (for a lease, not a lost race: that is
/// `Ok(false)`).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The NATS server could not be reached.
    #[error("cannot reach NATS at {url}: {reason}")]
    Connect {
        /// The server's URL.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// A JetStream call failed.
    #[error("JetStream {what}: {reason}")]
    JetStream {
        /// The call.
        what: &'static str,
        /// What the server or client said.
        reason: String,
    },
    /// A call took longer than the configured timeout.
    #[error("JetStream {what} timed out after {after:?}")]
    Timeout {
        /// The call.
        what: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// A model file fetched from the object store does not match its
    /// manifest entry.
    #[error("model file {version}: {problem}")]
    Damaged {
        /// The version.
        version: crate::store::VersionId,
        /// What does not match.
        problem: String,
    },
}

/// One connection to NATS and its JetStream context: a replica's parts
/// (sample stream, model bus, lease, status) share it.
#[derive(Clone)]
pub struct Nats {
    client: async_nats::Client,
    js: jetstream::Context,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("state", &self.client.connection_state())
            .finish_non_exhaustive()
    }
}

impl Nats {
    /// Connects to the server(s) at `url` (comma-separated for a
    /// cluster), waiting at most `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, FleetError> {
        let client = within(timeout, "connect", async_nats::connect(url))
            .await?
            .map_err(|e| FleetError::Connect {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            js: jetstream::new(client.clone()),
            client,
        })
    }

    /// The client (core NATS: the events' subject).
    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    pub(crate) fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Whether the client is connected to a server now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// The key-value bucket `config.bucket`, created with `config` when it
/// does not exist yet.
pub(crate) async fn key_value(
    js: &jetstream::Context,
    config: jetstream::kv::Config,
    timeout: Duration,
) -> Result<jetstream::kv::Store, FleetError> {
    if let Ok(store) = within(
        timeout,
        "open a key-value bucket",
        js.get_key_value(&config.bucket),
    )
    .await?
    {
        return Ok(store);
    }
    within(
        timeout,
        "create a key-value bucket",
        js.create_key_value(config),
    )
    .await?
    .map_err(|e| js_err("create a key-value bucket", e))
}

pub(crate) fn js_err(what: &'static str, e: impl std::fmt::Display) -> FleetError {
    FleetError::JetStream {
        what,
        reason: e.to_string(),
    }
}

/// `f`, or [`FleetError::Timeout`] after `after`.
pub(crate) async fn within<T>(
    after: Duration,
    what: &'static str,
    f: impl std::future::Future<Output = T>,
) -> Result<T, FleetError> {
    tokio::time::timeout(after, f)
        .await
        .map_err(|_| FleetError::Timeout { what, after })
}
