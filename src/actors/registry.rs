use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use actix::prelude::*;

use crate::actors::server::Server;
use crate::messages::{
    Barrier, Checkpoint, Event, GetRegistryStats, Promote, Publish, RegistryStats,
};

/// File extension of refit model files.
pub const EXTENSION: &str = "refit";

/// Writes numbered online checkpoints and promotes them to the Server.
///
/// Files: `<data_dir>/models/<name>_online/<name>_online_<NNN>.refit`,
/// numbered from 1 and never reusing a number (numbering resumes after the
/// highest file found at start-up); the last `retention` are kept.
pub struct Registry {
    dir: PathBuf,
    name: String,
    retention: usize,
    next: u64,
    kept: VecDeque<(u64, PathBuf)>,
    server: Addr<Server>,
    written: u64,
    failures: u64,
}

impl Registry {
    /// A registry under `data_dir` for model `name`.
    pub fn new(data_dir: &Path, name: &str, retention: usize, server: Addr<Server>) -> Self {
        let dir = data_dir.join("models").join(format!("{name}_online"));
        let prefix = format!("{name}_online_");
        let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let stem = path.file_stem()?.to_str()?;
                let n = stem.strip_prefix(&prefix)?.parse().ok()?;
                (path.extension()? == EXTENSION).then_some((n, path))
            })
            .collect();
        found.sort();
        let next = found.last().map_or(1, |(n, _)| n + 1);
        Self {
            dir,
            name: name.to_owned(),
            retention,
            next,
            kept: found.into(),
            server,
            written: 0,
            failures: 0,
        }
    }

    /// The path of checkpoint `n`.
    pub fn path_of(&self, n: u64) -> PathBuf {
        self.dir
            .join(format!("{}_online_{n:03}.{EXTENSION}", self.name))
    }

    fn write(&self, n: u64, bytes: &[u8]) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path_of(n);
        write_atomic(&path, bytes)?;
        Ok(path)
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the whole
/// new one: temp file, fsync, rename, directory fsync.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Handler<Checkpoint> for Registry {
    type Result = ();
    fn handle(&mut self, msg: Checkpoint, _: &mut Context<Self>) {
        let n = self.next;
        let _span = tracing::info_span!("registry.checkpoint", version = n).entered();
        match self.write(n, &msg.bytes) {
            Ok(path) => {
                self.next += 1;
                self.written += 1;
                self.kept.push_back((n, path.clone()));
                let mut removed = Vec::new();
                while self.kept.len() > self.retention {
                    if let Some((_, old)) = self.kept.pop_front() {
                        match std::fs::remove_file(&old) {
                            Ok(()) => removed.push(old.display().to_string()),
                            Err(e) => {
                                tracing::warn!(path = %old.display(), error = %e, "retention")
                            }
                        }
                    }
                }
                tracing::info!(path = %path.display(), samples = msg.samples_seen, "checkpoint written");
                self.server.do_send(Publish(Event::Checkpointed {
                    version: n,
                    path: path.display().to_string(),
                    removed,
                }));
                self.server.do_send(Promote {
                    snapshot: msg.snapshot,
                    version: n,
                });
            }
            Err(e) => {
                self.failures += 1;
                tracing::error!(error = %e, "checkpoint failed; the previous version stays served");
                self.server.do_send(Publish(Event::CheckpointFailed {
                    error: format!("writing checkpoint {n} in {}: {e}", self.dir.display()),
                }));
            }
        }
    }
}

impl Handler<Barrier> for Registry {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        self.server.do_send(msg);
    }
}

impl Handler<GetRegistryStats> for Registry {
    type Result = MessageResult<GetRegistryStats>;
    fn handle(&mut self, _: GetRegistryStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(RegistryStats {
            checkpoints_written: self.written,
            checkpoint_failures: self.failures,
            latest: self.kept.back().map(|(n, p)| (*n, p.display().to_string())),
            kept: self.kept.len(),
        })
    }
}
