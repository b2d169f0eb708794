//! One replica of a fleet: the connection to NATS and the coordinator task
//! that makes the agent's actors a member of the fleet.
//!
//! - Ingest stores every accepted call in the shared [`SampleStream`]
//!   (through [`StreamLog`], a [`SharedLog`]) and acknowledges it once
//!   stored.
//! - The coordinator keeps the trainer's [`Lease`]. While this replica
//!   holds it, the coordinator continues from the fleet's active version
//!   at its stream position and follows the stream from there, handing
//!   each batch to Ingest as a `Replay`: training runs as without a
//!   fleet. Every version the Checkpointer writes is then published to the
//!   [`ModelBus`], announced only if the manifest key is still at the
//!   revision this replica last saw (a replica that lost the lease cannot
//!   overwrite its successor's versions).
//! - Every replica watches the manifest key: a version it does not serve
//!   yet is fetched, checked, stored locally (`Import`) and continued
//!   from (`Adopt`): followers serve what the trainer trains, and a
//!   rollback announced by any replica reaches all of them.
//! - Every replica reports its role, its served version and (the trainer)
//!   its position in a status bucket, read for `/v1/stats`.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use async_nats::jetstream::kv;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use refit_plugin::{ModelSpec, PluginRegistry};
use tokio::sync::{mpsc, oneshot};

use super::{
    FleetError, Lease, LeaseKeeper, ModelBus, Nats, Published, Roles, SampleStream, key_value,
    within,
};
use crate::actors::{checkpointer::Checkpointer, ingest::Ingest, trainer::Trainer};
use crate::config::FleetConfig;
use crate::events::{FleetStats, ReplicaStatus};
use crate::messages::{
    Adopt, Barrier, DropBuffer, GetIngestStats, Import, Replay, SetFleetRole, SetServingRole,
};
use crate::rows::Rows;
use crate::sample_log::{ReadBack, SharedLog};
use crate::store::{VersionEntry, VersionId};

/// How long the file of a version the trainer's retention dropped stays
/// in the object store.
pub const PRUNE_AFTER: Duration = Duration::from_secs(30);

/// The shared stream as Ingest's and the Trainer's [`SharedLog`].
pub struct StreamLog {
    stream: Arc<SampleStream>,
    runtime: tokio::runtime::Handle,
}

impl SharedLog for StreamLog {
    fn append(
        &self,
        first_sample: u64,
        time_ms: u64,
        (rows, labels): (Rows, Vec<f32>),
        key: Option<String>,
    ) -> BoxFuture<'static, Result<u64, String>> {
        let stream = self.stream.clone();
        let stored = self.runtime.spawn(async move {
            stream
                .append_once(first_sample, time_ms, (&rows, &labels), key.as_deref())
                .await
        });
        Box::pin(async move {
            match stored.await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(format!("the fleet's runtime stopped: {e}")),
            }
        })
    }

    fn newest(&self, max_rows: usize) -> Result<ReadBack, String> {
        let (stream, runtime) = (self.stream.clone(), self.runtime.clone());
        // On a thread of its own: the caller may be inside another runtime.
        std::thread::spawn(move || runtime.block_on(stream.newest(max_rows)))
            .join()
            .map_err(|_| "reading the sample stream panicked".to_owned())?
            .map_err(|e| format!("reading the sample stream: {e}"))
    }
}

/// A tokio runtime dropped without blocking (an agent may be shut down
/// from async code).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// What the coordinator is asked.
enum Command {
    /// A version this replica's Checkpointer wrote, and the versions its
    /// retention removed.
    Written(VersionEntry, Vec<u8>, Vec<VersionId>),
    /// Make a stored version active fleet-wide (a rollback or promotion
    /// asked of this replica).
    Activate(
        VersionEntry,
        Vec<u8>,
        oneshot::Sender<Result<(), FleetError>>,
    ),
    /// Make a version the fleet recorded active fleet-wide (one this
    /// replica does not store); answers whether the fleet has it.
    ActivateRecorded(VersionId, oneshot::Sender<Result<bool, FleetError>>),
    /// Change the fleet's A/B roles (`files`: the versions they name, from
    /// this replica's store).
    SetRoles(
        RoleChange,
        Vec<(VersionEntry, Vec<u8>)>,
        oneshot::Sender<Result<(), FleetError>>,
    ),
    /// Where the fleet stands.
    Stats(oneshot::Sender<FleetStats>),
}

/// A change of the fleet's A/B roles.
#[derive(Debug, Clone)]
pub enum RoleChange {
    /// Set (or end) the challenger and its share.
    Challenger(Option<(VersionEntry, f64)>),
    /// Set (or remove) the shadow.
    Shadow(Option<VersionEntry>),
    /// End the challenger only if it is still this version (the guardrail
    /// of a replica demoted it).
    Demoted(VersionId),
}

/// A replica's connection to its fleet, before the actors exist.
pub struct FleetConnection {
    runtime: Runtime,
    config: FleetConfig,
    replica: String,
    stream: Arc<SampleStream>,
    bus: Arc<ModelBus>,
    lease: Lease,
    status: kv::Store,
    /// The connection of everything but the samples.
    control: Nats,
    /// `<prefix>.<name>.events`.
    events: String,
    commands: mpsc::UnboundedSender<Command>,
    inbox: mpsc::UnboundedReceiver<Command>,
}

impl std::fmt::Debug for FleetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetConnection")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

impl FleetConnection {
    /// Connects to the server of `config` and opens the stream and buckets
    /// of model `name` (rows of `input`).
    pub fn open(
        config: &FleetConfig,
        name: &str,
        input: (refit_plugin::InputKind, usize),
        retention: (Duration, u64),
    ) -> Result<Self, FleetError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("refit-fleet")
            .enable_all()
            .build()
            .map_err(|e| super::js_err("start the fleet's runtime", e))?;
        let (url, prefix, timeout) = (config.url.clone(), config.prefix.clone(), config.timeout.0);
        let replica = config.replica_name();
        let ttl = config.lease_ttl.0;
        let copies = config.replicas;
        let events = format!("{prefix}.{name}.events");
        let (name, who) = (name.to_owned(), replica.clone());
        let handle = runtime.handle().clone();
        // On a thread of its own: the caller may be inside another runtime.
        let opened = std::thread::spawn(move || {
            handle.block_on(async move {
                // Two connections: the samples' bulk on one, so that it
                // never holds up the versions, the lease and the events on
                // the other.
                let data = Nats::connect(&url, timeout).await?;
                let nats = Nats::connect(&url, timeout).await?;
                let names = (prefix.as_str(), name.as_str());
                let stream =
                    SampleStream::open(&data, names, input, retention, (timeout, copies)).await?;
                let bus = ModelBus::open(&nats, names, (timeout, copies)).await?;
                let lease_bucket = format!("{prefix}_{name}_lease");
                let lease = Lease::open(
                    &nats,
                    (&lease_bucket, "trainer", &who),
                    ttl,
                    (timeout, copies),
                )
                .await?;
                let status = key_value(
                    nats.jetstream(),
                    kv::Config {
                        bucket: format!("{prefix}_{name}_replicas"),
                        history: 1,
                        max_age: ttl * 3,
                        num_replicas: copies,
                        ..Default::default()
                    },
                    timeout,
                )
                .await?;
                Ok::<_, FleetError>((stream, bus, lease, status, nats))
            })
        })
        .join()
        .map_err(|_| super::js_err("connect", "the connecting thread panicked"))??;
        let (stream, bus, lease, status, control) = opened;
        let (commands, inbox) = mpsc::unbounded_channel();
        Ok(Self {
            runtime: Runtime(Some(runtime)),
            config: config.clone(),
            replica,
            stream: Arc::new(stream),
            bus: Arc::new(bus),
            lease,
            status,
            control,
            events,
            commands,
            inbox,
        })
    }

    /// The shared stream, for Ingest and the Trainer.
    pub fn shared_log(&self) -> Arc<dyn SharedLog> {
        Arc::new(StreamLog {
            stream: self.stream.clone(),
            runtime: self.handle(),
        })
    }

    /// The Checkpointer's hook: each written version goes to the
    /// coordinator.
    pub fn written_hook(&self) -> crate::actors::checkpointer::WrittenHook {
        let commands = self.commands.clone();
        Box::new(move |entry, bytes, dropped| {
            let _ = commands.send(Command::Written(entry, bytes, dropped));
        })
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.runtime
            .0
            .as_ref()
            .map(|rt| rt.handle().clone())
            .unwrap_or_else(tokio::runtime::Handle::current)
    }

    /// Starts the coordinator over the agent's actors; `serving` is the
    /// version the agent serves at start.
    pub fn join(self, actors: FleetActors, serving: Option<VersionId>) -> Fleet {
        let (server, drift) = (actors.server.clone(), actors.drift.clone());
        let handle = self.handle();
        let every = self.config.lease_ttl.0 / 3;
        let (stop, stopped) = oneshot::channel();
        let stream_handle = self.stream.clone();
        let coordinator = Coordinator {
            control: self.control.clone(),
            replica: self.replica.clone(),
            stream: self.stream,
            bus: self.bus,
            status: self.status,
            actors,
            current: serving,
            revision: 0,
            training: false,
            trainer: None,
            position: None,
            consumer: None,
            unpublished: None,
            roles: None,
            to_prune: std::collections::VecDeque::new(),
            beat: every,
        };
        let keeper = {
            let _runtime = handle.enter();
            LeaseKeeper::spawn(self.lease, every)
        };
        let commands = self.commands.clone();
        super::events::forward(
            self.control.client().clone(),
            self.events,
            self.replica.clone(),
            (server, drift),
            keeper.roles(),
            &handle,
            Box::new(move |version| {
                let (reply, _) = oneshot::channel();
                let _ = commands.send(Command::SetRoles(
                    RoleChange::Demoted(version),
                    Vec::new(),
                    reply,
                ));
            }),
        );
        let inbox = self.inbox;
        let task = handle.spawn(async move { coordinator.run(keeper, inbox, stopped).await });
        Fleet {
            stream: stream_handle,
            control: self.control.clone(),
            runtime: self.runtime,
            commands: self.commands,
            stop: Some(stop),
            task: Some(task),
            timeout: self.config.timeout.0,
            replica: self.replica,
        }
    }
}

/// The actors the coordinator talks to, and what it checks versions
/// against.
pub struct FleetActors {
    /// Ingest: batches from the stream, dropped buffers.
    pub ingest: Addr<Ingest>,
    /// The Trainer: roles and adopted versions.
    pub trainer: Addr<Trainer>,
    /// The Checkpointer: imported versions.
    pub registry: Addr<Checkpointer>,
    /// The ServingActor: the trainer's events, on the other replicas.
    pub server: Addr<crate::actors::serving::ServingActor>,
    /// Drift: the trainer's drift reports, on the other replicas.
    pub drift: Addr<crate::actors::drift::Drift>,
    /// Loads fetched version files.
    pub plugins: PluginRegistry,
    /// The model a fetched version must match.
    pub spec: ModelSpec,
    /// Samples the trainer may have buffered or in flight before the
    /// stream is followed further.
    pub max_pending: u64,
}

/// A running replica's fleet membership (held by the agent).
pub struct Fleet {
    /// The sample stream (its connection's state).
    stream: Arc<SampleStream>,
    /// The other connection (its state).
    control: Nats,
    runtime: Runtime,
    commands: mpsc::UnboundedSender<Command>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    timeout: Duration,
    replica: String,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    fn block_on<T: Send + 'static>(
        &self,
        f: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let handle = self.runtime.0.as_ref()?.handle().clone();
        std::thread::spawn(move || handle.block_on(f)).join().ok()
    }

    /// Sends the coordinator the command `ask` makes of a reply channel,
    /// and waits for its answer (`what` names the call in a timeout).
    fn ask<T: Send + 'static>(
        &self,
        what: &'static str,
        ask: impl FnOnce(oneshot::Sender<Result<T, FleetError>>) -> Command,
    ) -> Result<T, FleetError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(ask(reply))
            .map_err(|_| super::js_err(what, "the fleet coordinator stopped"))?;
        let wait = self.timeout * 3;
        self.block_on(async move { tokio::time::timeout(wait, answer).await })
            .and_then(|r| r.ok())
            .and_then(|r| r.ok())
            .unwrap_or(Err(FleetError::Timeout { what, after: wait }))
    }

    /// Makes `entry`'s version (file `bytes`) active in the whole fleet.
    pub fn activate(&self, entry: VersionEntry, bytes: Vec<u8>) -> Result<(), FleetError> {
        self.ask("activate a version", |reply| {
            Command::Activate(entry, bytes, reply)
        })
    }

    /// Changes the A/B roles of the whole fleet; `files` are the versions
    /// the change names (entry and file).
    pub fn set_roles(
        &self,
        change: RoleChange,
        files: Vec<(VersionEntry, Vec<u8>)>,
    ) -> Result<(), FleetError> {
        self.ask("set the A/B roles", |reply| {
            Command::SetRoles(change, files, reply)
        })
    }

    /// Makes `version`, which this replica does not store, active in the
    /// whole fleet from the fleet's record of it; answers whether the
    /// fleet has it.
    pub fn activate_recorded(&self, version: VersionId) -> Result<bool, FleetError> {
        self.ask("activate a version", |reply| {
            Command::ActivateRecorded(version, reply)
        })
    }

    /// Where the fleet stands, as this replica sees it.
    pub fn stats(&self) -> FleetStats {
        let (reply, answer) = oneshot::channel();
        let connected = self.stream.is_connected() && self.control.is_connected();
        // What this replica knows without its coordinator (busy with NATS
        // calls that wait for their timeouts while NATS is away).
        let unknown = FleetStats {
            replica: self.replica.clone(),
            connected,
            ..FleetStats::default()
        };
        if self.commands.send(Command::Stats(reply)).is_err() {
            return unknown;
        }
        let wait = self.timeout * 2;
        let stats = self
            .block_on(async move { tokio::time::timeout(wait, answer).await })
            .and_then(|r| r.ok())
            .and_then(|r| r.ok())
            .unwrap_or(unknown);
        FleetStats { connected, ..stats }
    }

    /// Leaves the fleet: gives the lease up (another replica takes over at
    /// once) and stops the coordinator.
    pub fn leave(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let wait = self.timeout * 2;
            let _ = self.block_on(async move { tokio::time::timeout(wait, task).await });
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.leave();
    }
}

/// The coordinator's state (see the [module docs](self)).
struct Coordinator {
    /// The connection of the model bus, the lease and the status.
    control: Nats,
    replica: String,
    stream: Arc<SampleStream>,
    bus: Arc<ModelBus>,
    status: kv::Store,
    actors: FleetActors,
    /// The version this replica serves, as far as the fleet goes.
    current: Option<VersionId>,
    /// The manifest key's newest revision seen.
    revision: u64,
    training: bool,
    /// The trainer, by the status bucket.
    trainer: Option<String>,
    /// Stream sequences below this one are learned by the fleet's newest
    /// announced version.
    position: Option<u64>,
    /// While training: the task following the stream.
    consumer: Option<tokio::task::JoinHandle<()>>,
    /// A written version whose publication failed (NATS away): published
    /// on the next beat unless a newer one comes first.
    unpublished: Option<(VersionEntry, Vec<u8>)>,
    /// The A/B roles served here, as last applied.
    roles: Option<Roles>,
    /// Versions the trainer's retention dropped, and when: their files
    /// leave the object store [`PRUNE_AFTER`] later.
    to_prune: std::collections::VecDeque<(VersionId, std::time::Instant)>,
    beat: Duration,
}

/// A watch of one manifest key (none: not watching).
type Watch<T> =
    Option<std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, FleetError>> + Send>>>;

/// The watch's next update, or never while there is no watch.
async fn next_update<T>(watch: &mut Watch<T>) -> Option<Result<T, FleetError>> {
    match watch {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

impl Coordinator {
    async fn run(
        mut self,
        keeper: LeaseKeeper,
        mut inbox: mpsc::UnboundedReceiver<Command>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        let mut roles = keeper.roles();
        // Until it holds the lease, this replica does not train.
        let _ = self
            .actors
            .trainer
            .send(SetFleetRole {
                trainer: None,
                training: false,
            })
            .await;
        let mut watch: Watch<Published> = None;
        let mut roles_watch: Watch<Roles> = None;
        let mut was_connected = true;
        let mut beat = tokio::time::interval(self.beat);
        loop {
            tokio::select! {
                // Commands first: a version written before the stop (the
                // last flush) is still published.
                biased;
                Some(command) = inbox.recv() => {
                    // Only the newest of the versions written meanwhile is
                    // published (each one replaces the one before).
                    let mut command = command;
                    while let Command::Written(_, _, dropped) = &mut command {
                        match inbox.try_recv() {
                            Ok(Command::Written(entry, bytes, mut more)) => {
                                more.append(dropped);
                                command = Command::Written(entry, bytes, more);
                            }
                            Ok(other) => {
                                self.on_command(command).await;
                                command = other;
                            }
                            Err(_) => break,
                        }
                    }
                    self.on_command(command).await;
                }
                _ = &mut stopped => break,
                changed = roles.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let held = *roles.borrow_and_update();
                    self.set_role(held).await;
                }
                update = next_update(&mut watch) => match update {
                    Some(Ok(published)) => {
                        // Only the newest of the announcements already
                        // waiting is adopted (and fetched).
                        let mut newest = published;
                        for _ in 0..1_000 {
                            match watch.as_mut().and_then(|w| w.next().now_or_never()) {
                                Some(Some(Ok(next))) => newest = next,
                                _ => break,
                            }
                        }
                        self.on_announced(newest).await
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "fleet: watching the manifest failed; watching again");
                        watch = None;
                    }
                    None => watch = None,
                },
                update = next_update(&mut roles_watch) => match update {
                    Some(Ok(roles)) => self.apply_roles(roles).await,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "fleet: watching the A/B roles failed; watching again");
                        roles_watch = None;
                    }
                    None => roles_watch = None,
                },
                _ = beat.tick() => {
                    let connected = self.control.is_connected();
                    tracing::debug!(connected, was_connected, watching = watch.is_some(), "fleet: beat");
                    if connected && !was_connected {
                        // The server may have restarted: watches made
                        // before may never deliver again.
                        watch = None;
                        roles_watch = None;
                    }
                    was_connected = connected;
                    if watch.is_none() {
                        watch = self.rewatch().await;
                    } else if connected {
                        // A watch that stalled without an error is caught
                        // up with every beat.
                        if let Ok(Some(active)) = self.bus.active().await {
                            self.on_announced(active).await;
                        }
                    }
                    if roles_watch.is_none() {
                        roles_watch = self.rewatch_roles().await;
                    } else if connected && let Ok(roles) = self.bus.roles().await {
                        self.apply_roles(roles).await;
                    }
                    self.on_beat().await;
                }
            }
        }
        self.stop_following();
        if let Err(e) = keeper.stop().await {
            tracing::warn!(error = %e, "fleet: giving up the lease failed; it lapses after its TTL");
        }
        let _ = self.status.delete(&self.replica).await;
    }

    /// Watches the A/B roles again, catching up on them first.
    async fn rewatch_roles(&mut self) -> Watch<Roles> {
        let watch = self.bus.watch_roles().await.ok()?;
        if let Ok(roles) = self.bus.roles().await {
            self.apply_roles(roles).await;
        }
        Some(Box::pin(watch))
    }

    /// Watches the manifest again, catching up on the active version
    /// first (announcements made while not watching).
    async fn rewatch(&mut self) -> Watch<Published> {
        let watch = self.bus.watch().await.ok()?;
        if let Ok(Some(active)) = self.bus.active().await {
            self.on_announced(active).await;
        }
        Some(Box::pin(watch))
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Written(entry, bytes, dropped) => {
                if self.training {
                    self.unpublished = Some((entry, bytes));
                    self.publish_written().await;
                    let at = std::time::Instant::now();
                    self.to_prune.extend(dropped.into_iter().map(|v| (v, at)));
                }
            }
            Command::Activate(entry, bytes, reply) => {
                let _ = reply.send(self.announce_activation(entry, bytes).await);
            }
            Command::ActivateRecorded(version, reply) => {
                let _ = reply.send(self.announce_recorded(version).await);
            }
            Command::SetRoles(change, files, reply) => {
                let _ = reply.send(self.change_roles(change, files).await);
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.stats().await);
            }
        }
    }

    /// Publishes the newest written version, announced only at the
    /// revision last seen.
    async fn publish_written(&mut self) {
        let Some((entry, bytes)) = self.unpublished.take() else {
            return;
        };
        let published = Published {
            entry: entry.clone(),
            by: self.replica.clone(),
            position: entry.learned_through,
            revision: 0,
        };
        let announced = match self.bus.put_file(&entry, &bytes).await {
            Ok(()) => match self.bus.record(&entry).await {
                Ok(()) => self.bus.announce(&published, Some(self.revision)).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match announced {
            Ok(Some(revision)) => {
                self.revision = revision;
                self.current = Some(entry.id());
                self.position = entry.learned_through;
                tracing::debug!(version = %entry.id(), revision, "fleet: version published");
            }
            // Another announcement came first: the watch brings it.
            Ok(None) => {
                tracing::warn!(version = %entry.id(), "fleet: not announced, the active version changed meanwhile")
            }
            Err(e) => {
                tracing::warn!(version = %entry.id(), error = %e, "fleet: publishing failed; retried");
                self.unpublished = Some((entry, bytes));
            }
        }
    }

    /// Stores the files the change names and writes the new roles.
    async fn change_roles(
        &mut self,
        change: RoleChange,
        files: Vec<(VersionEntry, Vec<u8>)>,
    ) -> Result<(), FleetError> {
        for (entry, bytes) in &files {
            self.bus.put_file(entry, bytes).await?;
        }
        let mut roles = self.bus.roles().await?;
        match change {
            RoleChange::Challenger(c) => roles.challenger = c,
            RoleChange::Shadow(s) => roles.shadow = s,
            RoleChange::Demoted(version) => {
                if roles
                    .challenger
                    .as_ref()
                    .is_none_or(|(e, _)| e.id() != version)
                {
                    return Ok(());
                }
                roles.challenger = None;
            }
        }
        self.bus.put_roles(&roles).await?;
        Ok(())
    }

    /// Serves the fleet's A/B roles here: each named version fetched,
    /// checked and stored (not active), then handed to the ServingActor.
    async fn apply_roles(&mut self, roles: Roles) {
        if self.roles.as_ref() == Some(&roles) {
            return;
        }
        let challenger = match &roles.challenger {
            Some((entry, share)) => match self.serve_stored(entry).await {
                Ok(served) => Some((served, *share)),
                Err(e) => {
                    tracing::error!(version = %entry.id(), error = %e, "fleet: the challenger cannot be served here");
                    return;
                }
            },
            None => None,
        };
        let shadow = match &roles.shadow {
            Some(entry) => match self.serve_stored(entry).await {
                Ok(served) => Some(served),
                Err(e) => {
                    tracing::error!(version = %entry.id(), error = %e, "fleet: the shadow cannot be served here");
                    return;
                }
            },
            None => None,
        };
        let server = &self.actors.server;
        let _ = server.send(SetServingRole::Challenger(challenger)).await;
        let _ = server.send(SetServingRole::Shadow(shadow)).await;
        tracing::info!(?roles, "fleet: A/B roles applied");
        self.roles = Some(roles);
    }

    /// `entry`'s version, fetched, checked, stored here (not active) and
    /// loaded for serving.
    async fn serve_stored(
        &mut self,
        entry: &VersionEntry,
    ) -> Result<crate::serving::Served, String> {
        let model = self.fetch_and_store(entry, false).await?;
        Ok(crate::serving::Served {
            snapshot: model.snapshot(),
            version: entry.id(),
        })
    }

    /// `entry`'s version: fetched from the object store, checked against
    /// the configured model, stored here (with `activate`, as the active
    /// version) and loaded.
    async fn fetch_and_store(
        &mut self,
        entry: &VersionEntry,
        activate: bool,
    ) -> Result<Box<dyn refit_plugin::Model>, String> {
        let id = entry.id();
        let bytes = self.bus.fetch(entry).await.map_err(|e| e.to_string())?;
        let model = self
            .actors
            .plugins
            .load(&bytes)
            .map_err(|e| format!("loading it: {e}"))?;
        crate::error::check_stored_spec(&id, model.spec(), &self.actors.spec)
            .map_err(|e| e.to_string())?;
        self.actors
            .registry
            .send(Import {
                entry: entry.clone(),
                bytes,
                activate,
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(model)
    }

    /// Removes the files of versions the trainer's retention dropped from
    /// the object store, unless an A/B role serves them: those dropped
    /// [`PRUNE_AFTER`] ago or longer (a follower that is behind may still
    /// fetch one meanwhile).
    async fn prune(&mut self) {
        let due = self
            .to_prune
            .iter()
            .take_while(|(_, at)| at.elapsed() >= PRUNE_AFTER)
            .count();
        let dropped: Vec<VersionId> = self.to_prune.drain(..due).map(|(v, _)| v).collect();
        let in_use = |v: &VersionId| {
            self.roles.as_ref().is_some_and(|r| {
                r.challenger.as_ref().is_some_and(|(e, _)| e.id() == *v)
                    || r.shadow.as_ref().is_some_and(|e| e.id() == *v)
            })
        };
        for version in dropped.into_iter().filter(|v| !in_use(v)) {
            if let Err(e) = self.bus.forget(version).await {
                tracing::debug!(%version, error = %e, "fleet: an old version's file stays in the object store");
            }
        }
    }

    /// A rollback to a version this replica does not store: announced from
    /// the fleet's record of it, when there is one.
    async fn announce_recorded(&mut self, version: VersionId) -> Result<bool, FleetError> {
        let Some(entry) = self.bus.recorded(version).await? else {
            return Ok(false);
        };
        let published = Published {
            entry,
            by: self.replica.clone(),
            position: None,
            revision: 0,
        };
        self.bus.announce(&published, None).await?;
        Ok(true)
    }

    /// A rollback or promotion asked of this replica: the version becomes
    /// the fleet's active one (the trainer announces it again with its
    /// position once it continues from it).
    async fn announce_activation(
        &mut self,
        entry: VersionEntry,
        bytes: Vec<u8>,
    ) -> Result<(), FleetError> {
        self.bus.put_file(&entry, &bytes).await?;
        let published = Published {
            entry,
            by: self.replica.clone(),
            position: None,
            revision: 0,
        };
        self.bus.announce(&published, None).await?;
        Ok(())
    }

    /// An announcement on the manifest key: a version this replica does
    /// not serve is adopted; the trainer announces a rollback's version
    /// again with its own position.
    async fn on_announced(&mut self, published: Published) {
        tracing::debug!(version = %published.entry.id(), revision = published.revision, seen = self.revision, "fleet: announcement");
        // The watch may bring announcements older than one this replica
        // made or saw since: only newer ones count.
        if published.revision <= self.revision {
            return;
        }
        self.revision = published.revision;
        if published.position.is_some() {
            // Only the trainer announces a position.
            self.position = published.position;
            self.note_trainer(Some(published.by.clone())).await;
        }
        let id = published.entry.id();
        if self.current != Some(id)
            && let Err(e) = self.adopt(&published, None).await
        {
            tracing::error!(version = %id, error = %e, "fleet: the announced version could not be adopted");
            return;
        }
        if self.training && published.position.is_none() {
            let position = self
                .actors
                .trainer
                .send(Adopt {
                    version: None,
                    position: None,
                })
                .await
                .ok()
                .flatten();
            let again = Published {
                by: self.replica.clone(),
                position,
                ..published
            };
            match self.bus.announce(&again, Some(self.revision)).await {
                Ok(Some(revision)) => {
                    self.revision = revision;
                    self.position = position;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "fleet: announcing the trainer's position failed")
                }
            }
        }
    }

    /// Fetches, checks, stores and continues from the announced version;
    /// answers the trainer's position after it.
    async fn adopt(
        &mut self,
        published: &Published,
        position: Option<u64>,
    ) -> Result<Option<u64>, String> {
        let entry = published.entry.clone();
        let id = entry.id();
        let model = self.fetch_and_store(&entry, true).await?;
        let at = self
            .actors
            .trainer
            .send(Adopt {
                version: Some((model, entry)),
                position,
            })
            .await
            .map_err(|e| e.to_string())?;
        self.current = Some(id);
        tracing::info!(version = %id, by = %published.by, "fleet: serving the fleet's active version");
        Ok(at)
    }

    /// This replica took the lease (continue from the fleet's active
    /// version at its position and follow the stream) or lost it (stop
    /// following, drop what is buffered: the next trainer learns it).
    async fn set_role(&mut self, held: bool) {
        if held == self.training {
            return;
        }
        self.training = held;
        let trainer = held.then(|| self.replica.clone());
        let _ = self
            .actors
            .trainer
            .send(SetFleetRole {
                trainer: trainer.clone(),
                training: held,
            })
            .await;
        self.stop_following();
        let _ = self.actors.ingest.send(DropBuffer).await;
        // Batches already on their way to the Trainer are trained before
        // anything else: none may land on the version taken over below.
        let (reply, drained) = crossbeam_channel::bounded(1);
        let barrier = Barrier {
            reply,
            persist: false,
            written: false,
        };
        if self.actors.ingest.send(barrier).await.is_ok() {
            let _ =
                tokio::task::spawn_blocking(move || drained.recv_timeout(Duration::from_secs(60)))
                    .await;
        }
        if !held {
            tracing::info!(replica = %self.replica, "fleet: no longer training");
            return;
        }
        self.trainer = trainer;
        let from = match self.bus.active().await {
            Ok(Some(active)) => {
                self.revision = self.revision.max(active.revision);
                let at = active
                    .position
                    .or(active.entry.learned_through)
                    .unwrap_or(1);
                match self.adopt(&active, Some(at)).await {
                    Ok(at) => at.unwrap_or(1),
                    Err(e) => {
                        tracing::error!(error = %e, "fleet: cannot continue from the active version; not training");
                        self.training = false;
                        return;
                    }
                }
            }
            Ok(None) => {
                // Nothing published yet: the model this replica has learns
                // the stream from its start.
                let _ = self
                    .actors
                    .trainer
                    .send(Adopt {
                        version: None,
                        position: Some(1),
                    })
                    .await;
                1
            }
            Err(e) => {
                tracing::warn!(error = %e, "fleet: the manifest is unreadable; training resumes when the lease is taken again");
                self.training = false;
                return;
            }
        };
        tracing::info!(replica = %self.replica, from, "fleet: training, following the sample stream");
        self.position = Some(from);
        self.follow(from);
    }

    /// Follows the stream from `from` on, handing every batch to Ingest.
    fn follow(&mut self, from: u64) {
        let (stream, ingest, max) = (
            self.stream.clone(),
            self.actors.ingest.clone(),
            self.actors.max_pending,
        );
        self.consumer = Some(tokio::spawn(async move {
            let mut next = from;
            loop {
                match stream.follow(next).await {
                    Ok(batches) => {
                        let mut batches = std::pin::pin!(batches);
                        while let Some(batch) = batches.next().await {
                            match batch {
                                // A consumer that lived through a server
                                // restart may deliver again what it had
                                // delivered: only what is past `next` counts.
                                Ok(b) if b.sequence < next => {}
                                Ok(b) => {
                                    if b.sequence > next {
                                        tracing::warn!(
                                            from = next,
                                            to = b.sequence,
                                            "fleet: stream messages gone before they were learned (retention)"
                                        );
                                    }
                                    next = b.sequence + 1;
                                    if ingest
                                        .send(Replay {
                                            rows: b.rows,
                                            labels: b.labels,
                                            log_end: next,
                                        })
                                        .await
                                        .is_err()
                                    {
                                        return;
                                    }
                                    wait_for_training(&ingest, max).await;
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, next, "fleet: following the stream failed; following again");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, next, "fleet: cannot follow the stream yet")
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }));
    }

    fn stop_following(&mut self) {
        if let Some(task) = self.consumer.take() {
            task.abort();
        }
    }

    /// Reports this replica's status; retries a failed publication.
    async fn on_beat(&mut self) {
        if self.training && self.unpublished.is_some() {
            self.publish_written().await;
        }
        self.prune().await;
        let reported = ReplicaStatus {
            replica: self.replica.clone(),
            training: self.training,
            serving: self.current,
            position: self.training.then_some(self.position).flatten(),
            updated_ms: crate::clock::system().now_ms(),
        };
        if let Ok(body) = serde_json::to_vec(&reported) {
            let _ = within(
                self.beat,
                "report",
                self.status.put(&self.replica, body.into()),
            )
            .await;
        }
        if !self.training {
            // Who trains, for the Trainer's answers to training requests.
            let _ = self.replicas().await;
        }
    }

    /// Every replica's last report (none when NATS does not answer);
    /// notes the trainer, and tells the Trainer when it changed.
    async fn replicas(&mut self) -> Option<Vec<ReplicaStatus>> {
        // The whole listing within one beat: a key listing can run on
        // (delivered again) across a server restart.
        let status = &self.status;
        let listing = async move {
            let mut keys = status.keys().await.ok()?;
            let mut seen = std::collections::BTreeSet::new();
            while let Some(Ok(key)) = keys.next().await {
                if !seen.insert(key) {
                    break;
                }
            }
            let mut replicas = Vec::new();
            for key in seen {
                if let Ok(Some(value)) = status.get(&key).await
                    && let Ok(reported) = serde_json::from_slice::<ReplicaStatus>(&value)
                {
                    replicas.push(reported);
                }
            }
            Some(replicas)
        };
        let mut replicas = within(self.beat, "list replicas", listing).await.ok()??;
        replicas.sort_by(|a, b| a.replica.cmp(&b.replica));
        let trainer = replicas
            .iter()
            .find(|r| r.training)
            .map(|r| r.replica.clone());
        self.note_trainer(trainer).await;
        Some(replicas)
    }

    /// Notes which replica trains, and tells the Trainer when that changed.
    async fn note_trainer(&mut self, trainer: Option<String>) {
        if trainer.is_some() && trainer != self.trainer {
            self.trainer = trainer;
            let _ = self
                .actors
                .trainer
                .send(SetFleetRole {
                    trainer: self.trainer.clone(),
                    training: self.training,
                })
                .await;
        }
    }

    async fn stats(&mut self) -> FleetStats {
        let connected = self.stream.is_connected() && self.control.is_connected();
        let (replicas, stream) = if connected {
            (self.replicas().await, self.stream.bounds().await.ok())
        } else {
            (None, None)
        };
        FleetStats {
            replica: self.replica.clone(),
            training: self.training,
            trainer: self.trainer.clone(),
            connected,
            serving: self.current,
            position: self.position,
            stream_first: stream.map(|s| s.0),
            stream_last: stream.map(|s| s.1),
            replicas: replicas.unwrap_or_default(),
        }
    }
}

/// Waits while the trainer has more than `max` samples buffered or in
/// flight (the stream keeps the rest).
async fn wait_for_training(ingest: &Addr<Ingest>, max: u64) {
    loop {
        match ingest.send(GetIngestStats).await {
            Ok(s) if s.buffered + s.in_flight > max => {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            _ => return,
        }
    }
}
