use actix::prelude::*;

use crate::actors::serving::ServingActor;
use crate::error::AgentError;
use crate::events::{CheckpointStats, Event};
use crate::messages::{
    Activate, Barrier, Checkpoint, GetCheckpointStats, Promote, Publish, SaveOffline, TrainedCount,
};
use crate::store::{Mode, Skipped, Store, VersionEntry, VersionId, VersionMeta};

/// Writes numbered versions through the [`Store`] and promotes online
/// checkpoints to the ServingActor.
///
/// Online checkpoints: `<data_dir>/models/<name>_online/<name>_online_<NNN>.refit`
/// (the last `retention` kept, with their drift references), offline
/// versions `<data_dir>/models/<name>_offline/<name>_v<N>.refit` (all kept);
/// each directory's `manifest.json` lists them. Numbers are never reused,
/// also across restarts. Each new version records the active one as its
/// parent and becomes active.
pub struct Checkpointer {
    store: Store,
    retention: usize,
    active: Option<VersionId>,
    server: Addr<ServingActor>,
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
        server: Addr<ServingActor>,
    ) -> Self {
        Self {
            store,
            retention,
            active,
            server,
            written: 0,
            failures: 0,
            skipped,
        }
    }
}

impl Actor for Checkpointer {
    type Context = Context<Self>;
}

impl Handler<Checkpoint> for Checkpointer {
    type Result = ();
    fn handle(&mut self, mut msg: Checkpoint, _: &mut Context<Self>) {
        let _span = tracing::info_span!("registry.checkpoint").entered();
        if let Some((ingest, samples)) = msg.release.take() {
            // Released whatever the write's outcome: the samples were
            // trained on; a failed write is reported by its own event.
            ingest.do_send(TrainedCount(samples));
        }
        let meta = VersionMeta {
            parent: self.active,
            samples_seen: msg.samples_seen,
            learning_rate: msg.learning_rate,
            severity: msg.severity,
            metrics: msg.metrics,
            reason: "update".into(),
        };
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
                self.server.do_send(Publish(Event::Checkpointed {
                    version,
                    path: written.path.display().to_string(),
                    removed: written.removed,
                }));
                self.server.do_send(Promote {
                    snapshot: msg.snapshot,
                    version,
                });
            }
            Err(e) => {
                self.failures += 1;
                tracing::error!(error = %e, "checkpoint failed; the previous version stays served");
                self.server.do_send(Publish(Event::CheckpointFailed {
                    error: format!("writing a checkpoint: {e}"),
                }));
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
        Ok(written.entry)
    }
}

impl Handler<Activate> for Checkpointer {
    type Result = Result<(VersionEntry, Vec<u8>), AgentError>;
    fn handle(&mut self, msg: Activate, _: &mut Context<Self>) -> Self::Result {
        let found = self.store.activate(msg.0)?;
        self.active = Some(msg.0);
        Ok(found)
    }
}

impl Handler<Barrier> for Checkpointer {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        self.server.do_send(msg);
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
