use actix::prelude::*;

use crate::error::AgentError;
use crate::events::{CheckpointStats, Event};
use crate::messages::{
    Activate, Barrier, Checkpoint, GetCheckpointStats, Import, Publish, SaveOffline,
};
use crate::store::{Mode, Skipped, Store, VersionEntry, VersionId, VersionMeta};

/// Writes numbered versions through the [`Store`], off the serving path:
/// the Trainer serves every update itself and hands a checkpoint over on
/// its cadence.
///
/// Online checkpoints: `<data_dir>/models/<name>_online/<name>_online_<NNN>.refit`
/// (the last `retention` kept, with their drift references), offline
/// versions `<data_dir>/models/<name>_offline/<name>_v<N>.refit` (all kept);
/// each directory's `manifest.json` lists them. Numbers are never reused,
/// also across restarts (an online update's number is the one it was
/// served under). Each new version records the active one as its parent and
/// becomes active.
pub struct Checkpointer {
    store: Store,
    retention: usize,
    active: Option<VersionId>,
    peers: CheckpointerPeers,
    written: u64,
    failures: u64,
    skipped: Vec<Skipped>,
}

impl Checkpointer {
    /// A registry over `store`, `active` being the version the agent starts
    /// from (none: a fresh model) and `skipped` what recovery found damaged.
    pub fn new(
        store: Store,
        retention: usize,
        active: Option<VersionId>,
        skipped: Vec<Skipped>,
        peers: CheckpointerPeers,
    ) -> Self {
        Self {
            store,
            retention,
            active,
            peers,
            written: 0,
            failures: 0,
            skipped,
        }
    }

    fn publish(&self, event: Event) {
        self.peers.events.do_send(Publish(event));
    }
}

/// Where the Checkpointer's messages go (the ServingActor).
pub struct CheckpointerPeers {
    /// Events to publish.
    pub events: Recipient<Publish>,
    /// The barrier's next stop.
    pub barrier: Recipient<Barrier>,
    /// Fleet mode: each version written (entry and file), for the fleet to
    /// publish.
    pub written: Option<WrittenHook>,
}

/// Called with each version the Checkpointer wrote (its entry and file)
/// and the versions retention removed meanwhile.
pub type WrittenHook = Box<dyn Fn(VersionEntry, Vec<u8>, Vec<VersionId>) + Send>;

impl Actor for Checkpointer {
    type Context = Context<Self>;
}

impl Handler<Checkpoint> for Checkpointer {
    type Result = ();
    fn handle(&mut self, msg: Checkpoint, _: &mut Context<Self>) {
        let _span = tracing::info_span!("checkpointer.write", version = %msg.version).entered();
        let meta = VersionMeta {
            number: Some(msg.version.number),
            parent: self.active,
            samples_seen: msg.samples_seen,
            learning_rate: msg.learning_rate,
            severity: msg.severity,
            metrics: msg.metrics,
            reason: "update".into(),
            learned_through: msg.learned_through,
        };
        let writing = std::time::Instant::now();
        match self.store.write_version(
            Mode::Online,
            &msg.bytes,
            meta,
            msg.drift_reference.as_deref(),
            Some(self.retention),
        ) {
            Ok(written) => {
                let version = written.entry.id();
                self.active = Some(version);
                self.written += 1;
                tracing::info!(path = %written.path.display(), samples = msg.samples_seen, "checkpoint written");
                for old in &written.removed {
                    tracing::info!(path = %old, "old checkpoint removed");
                }
                self.publish(Event::Checkpointed {
                    version,
                    path: written.path.display().to_string(),
                    removed: written.removed,
                    write_seconds: writing.elapsed().as_secs_f64(),
                });
                if let Some(hook) = &self.peers.written {
                    hook(written.entry, msg.bytes, written.dropped);
                }
            }
            Err(e) => {
                self.failures += 1;
                tracing::error!(error = %e, "checkpoint failed; the model stays served, the next checkpoint writes it");
                self.publish(Event::CheckpointFailed {
                    error: format!("writing checkpoint {}: {e}", msg.version),
                });
            }
        }
    }
}

impl Handler<SaveOffline> for Checkpointer {
    type Result = Result<VersionEntry, AgentError>;
    fn handle(&mut self, msg: SaveOffline, _: &mut Context<Self>) -> Self::Result {
        let written = self.store.write_version(
            Mode::Offline,
            &msg.bytes,
            msg.meta,
            msg.reference.as_deref(),
            None,
        )?;
        self.active = Some(written.entry.id());
        self.written += 1;
        tracing::info!(path = %written.path.display(), "offline version written");
        if let Some(hook) = &self.peers.written {
            hook(written.entry.clone(), msg.bytes, written.dropped);
        }
        Ok(written.entry)
    }
}

impl Handler<Import> for Checkpointer {
    type Result = Result<VersionEntry, AgentError>;
    fn handle(&mut self, msg: Import, _: &mut Context<Self>) -> Self::Result {
        let retention = (msg.entry.mode == Mode::Online && msg.activate).then_some(self.retention);
        let written = self
            .store
            .import_version(&msg.entry, &msg.bytes, retention, msg.activate)?;
        if msg.activate {
            self.active = Some(written.entry.id());
        }
        tracing::info!(path = %written.path.display(), "fleet version stored");
        Ok(written.entry)
    }
}

impl Handler<Activate> for Checkpointer {
    type Result = Result<VersionEntry, AgentError>;
    fn handle(&mut self, msg: Activate, _: &mut Context<Self>) -> Self::Result {
        let (entry, _) = self.store.activate(msg.version, msg.discarded_through)?;
        self.active = Some(msg.version);
        Ok(entry)
    }
}

impl Handler<Barrier> for Checkpointer {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        self.peers.barrier.do_send(msg);
    }
}

impl Handler<GetCheckpointStats> for Checkpointer {
    type Result = MessageResult<GetCheckpointStats>;
    fn handle(&mut self, _: GetCheckpointStats, _: &mut Context<Self>) -> Self::Result {
        let versions = self
            .store
            .manifest(Mode::Online)
            .map(|m| m.versions)
            .unwrap_or_default();
        MessageResult(CheckpointStats {
            checkpoints_written: self.written,
            checkpoint_failures: self.failures,
            active: self.active,
            latest: versions.last().map(|v| {
                (
                    v.id(),
                    self.store
                        .dir(Mode::Online)
                        .join(&v.file)
                        .display()
                        .to_string(),
                )
            }),
            kept: versions.len(),
            offline_versions: self
                .store
                .manifest(Mode::Offline)
                .map(|m| m.versions.len())
                .unwrap_or_default(),
            disk_bytes: self.store.disk_usage(),
            skipped_at_start: self.skipped.clone(),
        })
    }
}
