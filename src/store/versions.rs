//! The model store on disk:
//!
//! ```text
//! <data_dir>/models/<name>_online/<name>_online_<NNN>.refit   the last checkpoint_retention
//! <data_dir>/models/<name>_online/<name>_online_<NNN>.drift.json
//! <data_dir>/models/<name>_online/manifest.json               versions, lineage, active
//! <data_dir>/models/<name>_offline/<name>_v<N>.refit          every offline version
//! <data_dir>/models/<name>_offline/manifest.json
//! ```
//!
//! Every file is written atomically (temp file, fsync, rename, directory
//! fsync): the model file first, then the manifest; a removed version
//! leaves the manifest before its file is deleted. A crash therefore leaves
//! at worst a file the manifest does not list (ignored, its number never
//! reused), never a manifest entry without its file. [`Store::recover`]
//! checks every listed file against its CRC-32 and falls back to the newest
//! good version.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::Clock;
use crate::drift::reference::DriftReference;
use crate::storage::Storage;
use crate::store::manifest::{MANIFEST_FORMAT, Manifest, VersionEntry};
use crate::store::version::{Mode, VersionId};

/// File extension of refit model files.
pub const EXTENSION: &str = "refit";

/// Store failures, each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A manifest that cannot be used.
    #[error("{path}: {problem}")]
    Manifest {
        /// The manifest file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// No such version in the store.
    #[error("version {0} is not in the store (see `refit versions`)")]
    Unknown(VersionId),
    /// Another process writes this store (an agent, `refit train`,
    /// `refit rollback`).
    #[error(
        "{path}: the model store is in use by process {holder} (a running agent or refit command); stop it, or use its HTTP API"
    )]
    Locked {
        /// The lock file.
        path: String,
        /// The holder's process id, as it wrote it (or "unknown").
        holder: String,
    },
    /// A version file whose bytes do not match the manifest.
    #[error("{path}: damaged ({problem})")]
    Damaged {
        /// The file.
        path: String,
        /// What does not match.
        problem: String,
    },
}

impl Store {
    /// `write_atomic` through the store's storage.
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        crate::storage::write_atomic(self.storage.as_ref(), path, bytes).map_err(io(path))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the whole
/// new one: temp file, fsync, rename, directory fsync (on the local disk;
/// see [`crate::storage::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::storage::write_atomic(&crate::storage::Disk, path, bytes)
}

/// What a new version records besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct VersionMeta {
    /// The number to write it under (an online update's, given when it was
    /// served); none, or one already taken: the next free number.
    pub number: Option<u64>,
    /// The version training continued from.
    pub parent: Option<VersionId>,
    /// Samples seen.
    pub samples_seen: u64,
    /// Learning rate at the time.
    pub learning_rate: Option<f32>,
    /// Drift severity at the time.
    pub severity: crate::drift::Severity,
    /// Metrics (progressive or holdout).
    pub metrics: Option<crate::metrics::Scores>,
    /// Why it was written.
    pub reason: String,
    /// Logged samples numbered below this one are learned.
    pub learned_through: Option<u64>,
}

/// A version written by [`Store::write_version`].
#[derive(Debug, Clone)]
pub struct Written {
    /// Its manifest entry.
    pub entry: VersionEntry,
    /// Its path.
    pub path: PathBuf,
    /// Files of versions that retention removed.
    pub removed: Vec<String>,
    /// The versions retention removed.
    pub dropped: Vec<VersionId>,
}

/// A version found bad during recovery.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Skipped {
    /// The version.
    pub version: VersionId,
    /// Why.
    pub problem: String,
}

/// What [`Store::recover`] found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// The version to serve and its bytes (none: nothing usable stored).
    pub active: Option<(VersionEntry, Vec<u8>)>,
    /// The sample-log number from which logged samples are not in that
    /// version (none: unknown, as for imported coefficients).
    pub replay_from: Option<u64>,
    /// Listed versions that are damaged or missing.
    pub skipped: Vec<Skipped>,
}

/// A listed version with its state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    /// The manifest entry.
    #[serde(flatten)]
    pub entry: VersionEntry,
    /// `online_017` or `v3`.
    pub version: String,
    /// Whether it is the active version.
    pub active: bool,
    /// The file's bytes match the manifest.
    pub intact: bool,
}

/// The store's writer lock ([`Store::lock`]); released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    _file: std::fs::File,
}

/// A model's versions on disk (see the module docs).
#[derive(Debug, Clone)]
pub struct Store {
    models: PathBuf,
    name: String,
    /// Start of the version files' names (default: `name`).
    prefix: String,
    clock: Arc<dyn Clock>,
    /// Where files are written.
    storage: Arc<dyn Storage>,
}

impl Store {
    /// The store of model `name` under `data_dir/models`.
    pub fn new(data_dir: &Path, name: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            models: data_dir.join("models"),
            name: name.to_owned(),
            prefix: name.to_owned(),
            clock,
            storage: crate::storage::disk(),
        }
    }

    /// Writes through `storage` (e.g. [`crate::storage::Faulty`] in tests).
    pub fn with_storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// The store `config` names: `[agent] data_dir`, `name`, `file_prefix`.
    pub fn for_config(config: &crate::config::Config, clock: Arc<dyn Clock>) -> Self {
        let a = &config.agent;
        Self::new(&a.data_dir, &a.name, clock)
            .with_file_prefix(a.file_prefix.as_deref().unwrap_or(&a.name))
    }

    /// Version files named `<prefix>_online_<NNN>` and `<prefix>_v<N>`
    /// (directories keep `<name>_online`, `<name>_offline`), as the CTR
    /// layout `models/ctr_online/ctr_model_online_001` has them.
    pub fn with_file_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Takes the store's writer lock (an advisory lock on
    /// `models/<name>.lock`, which records the holder's process id) for as
    /// long as the returned value lives. A second writer, in this process
    /// or another, gets [`StoreError::Locked`] naming the holder.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use refit::store::{Store, StoreError};
    /// let store = Store::new(dir.path(), "m", refit::clock::system());
    /// let held = store.lock().unwrap();
    /// let second = store.lock().unwrap_err();
    /// assert!(matches!(&second, StoreError::Locked { holder, .. } if *holder == std::process::id().to_string()));
    /// drop(held);
    /// store.lock().unwrap();
    /// ```
    pub fn lock(&self) -> Result<StoreLock, StoreError> {
        let path = self.models.join(format!("{}.lock", self.name));
        std::fs::create_dir_all(&self.models).map_err(io(&self.models))?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = std::io::Read::read_to_string(&mut file, &mut holder);
                let holder = holder.trim();
                return Err(StoreError::Locked {
                    path: path.display().to_string(),
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        let pid = std::process::id().to_string();
        let written = file
            .set_len(0)
            .and_then(|()| std::io::Write::write_all(&mut file, pid.as_bytes()));
        written.map_err(io(&path))?;
        Ok(StoreLock { _file: file })
    }

    /// The directory of `mode`'s versions.
    pub fn dir(&self, mode: Mode) -> PathBuf {
        self.models.join(match mode {
            Mode::Online => format!("{}_online", self.name),
            Mode::Offline => format!("{}_offline", self.name),
        })
    }

    /// The file name of version `id`.
    pub fn file_name(&self, id: VersionId) -> String {
        match id.mode {
            Mode::Online => format!("{}_online_{:03}.{EXTENSION}", self.prefix, id.number),
            Mode::Offline => format!("{}_v{}.{EXTENSION}", self.prefix, id.number),
        }
    }

    /// The path of version `id`.
    pub fn path(&self, id: VersionId) -> PathBuf {
        self.dir(id.mode).join(self.file_name(id))
    }

    /// The path of version `id`'s drift reference sidecar.
    fn sidecar_path(&self, id: VersionId) -> PathBuf {
        self.path(id).with_extension("drift.json")
    }

    fn manifest_path(&self, mode: Mode) -> PathBuf {
        self.dir(mode).join("manifest.json")
    }

    /// `mode`'s manifest (empty when the directory has none yet).
    pub fn manifest(&self, mode: Mode) -> Result<Manifest, StoreError> {
        let path = self.manifest_path(mode);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::empty(mode)),
            Err(e) => return Err(io(&path)(e)),
        };
        let bad = |problem: String| StoreError::Manifest {
            path: path.display().to_string(),
            problem,
        };
        let m: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if m.format > MANIFEST_FORMAT {
            return Err(bad(format!(
                "format {} is newer than this build's {MANIFEST_FORMAT}",
                m.format
            )));
        }
        if m.mode != mode {
            return Err(bad(format!("lists {:?} versions", m.mode)));
        }
        Ok(m)
    }

    fn save_manifest(&self, m: &Manifest) -> Result<(), StoreError> {
        let path = self.manifest_path(m.mode);
        let text = serde_json::to_vec_pretty(m).map_err(|e| StoreError::Manifest {
            path: path.display().to_string(),
            problem: e.to_string(),
        })?;
        self.write(&path, &text)
    }

    /// The highest version number among `mode`'s files on disk (listed or
    /// not), so that numbering never reuses one.
    fn highest_on_disk(&self, mode: Mode) -> u64 {
        let prefix = match mode {
            Mode::Online => format!("{}_online_", self.prefix),
            Mode::Offline => format!("{}_v", self.prefix),
        };
        std::fs::read_dir(self.dir(mode))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(&format!(".{EXTENSION}"))?;
                stem.strip_prefix(&prefix)?.parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0)
    }

    /// The number the next `mode` version will get.
    pub fn next_number(&self, mode: Mode) -> Result<u64, StoreError> {
        let m = self.manifest(mode)?;
        Ok(m.next.max(self.highest_on_disk(mode) + 1))
    }

    /// Writes the next `mode` version: its drift reference (when given),
    /// its file, then the manifest, which makes it the active version; with
    /// `retention`, the oldest versions beyond it leave the manifest and are
    /// deleted.
    pub fn write_version(
        &self,
        mode: Mode,
        bytes: &[u8],
        meta: VersionMeta,
        reference: Option<&DriftReference>,
        retention: Option<usize>,
    ) -> Result<Written, StoreError> {
        let dir = self.dir(mode);
        self.storage.create_dir_all(&dir).map_err(io(&dir))?;
        let mut manifest = self.manifest(mode)?;
        let free = manifest.next.max(self.highest_on_disk(mode) + 1);
        let number = meta.number.map_or(free, |n| n.max(free));
        let id = VersionId { mode, number };
        let path = self.path(id);
        let drift_reference = match reference {
            Some(r) => {
                let sidecar = self.sidecar_path(id);
                self.write(&sidecar, r.to_json().as_bytes())?;
                sidecar
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            }
            None => None,
        };
        self.write(&path, bytes)?;
        let now = self.clock.now();
        let entry = VersionEntry {
            mode,
            number,
            file: self.file_name(id),
            parent: meta.parent,
            created: humantime::format_rfc3339_seconds(now).to_string(),
            created_ms: self.clock.now_ms(),
            samples_seen: meta.samples_seen,
            learning_rate: meta.learning_rate,
            severity: meta.severity,
            metrics: meta.metrics,
            reason: meta.reason,
            file_size: bytes.len() as u64,
            crc32: crc32fast::hash(bytes),
            drift_reference,
            learned_through: meta.learned_through,
        };
        let (removed, dropped) = self.commit(&mut manifest, entry.clone(), retention, true)?;
        Ok(Written {
            entry,
            path,
            removed,
            dropped,
        })
    }

    /// Stores a version written elsewhere (by the fleet's trainer) under its
    /// own number and entry, and with `activate` makes it active;
    /// `retention` as in [`Store::write_version`]. The bytes must match the
    /// entry's size and CRC-32.
    ///
    /// ```
    /// # let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    /// use refit::store::{Mode, Store, VersionMeta};
    /// let trainer = Store::new(a.path(), "m", refit::clock::system());
    /// let written = trainer.write_version(Mode::Online, b"model", VersionMeta::default(), None, None).unwrap();
    /// let follower = Store::new(b.path(), "m", refit::clock::system());
    /// follower.import_version(&written.entry, b"model", Some(5), true).unwrap();
    /// assert_eq!(follower.active().unwrap(), Some(written.entry.id()));
    /// assert!(follower.import_version(&written.entry, b"other", None, true).is_err());
    /// ```
    pub fn import_version(
        &self,
        entry: &VersionEntry,
        bytes: &[u8],
        retention: Option<usize>,
        activate: bool,
    ) -> Result<Written, StoreError> {
        let id = entry.id();
        let path = self.path(id);
        if bytes.len() as u64 != entry.file_size || crc32fast::hash(bytes) != entry.crc32 {
            return Err(StoreError::Damaged {
                path: path.display().to_string(),
                problem: "the file does not match its entry's size and CRC-32".into(),
            });
        }
        let dir = self.dir(id.mode);
        self.storage.create_dir_all(&dir).map_err(io(&dir))?;
        let mut manifest = self.manifest(id.mode)?;
        self.write(&path, bytes)?;
        manifest.versions.retain(|v| v.number != id.number);
        let entry = VersionEntry {
            file: self.file_name(id),
            drift_reference: None,
            ..entry.clone()
        };
        let (removed, dropped) = self.commit(&mut manifest, entry.clone(), retention, activate)?;
        Ok(Written {
            entry,
            path,
            removed,
            dropped,
        })
    }

    /// Adds `entry` (its file written) to `manifest`, applies `retention`,
    /// with `activate` makes it active, and saves; answers the files
    /// retention removed and their versions.
    fn commit(
        &self,
        manifest: &mut Manifest,
        entry: VersionEntry,
        retention: Option<usize>,
        activate: bool,
    ) -> Result<(Vec<String>, Vec<VersionId>), StoreError> {
        let (mode, id) = (entry.mode, entry.id());
        manifest.next = manifest.next.max(entry.number + 1);
        manifest.versions.push(entry);
        // Oldest first, also after an older version was imported.
        manifest.versions.sort_by_key(|v| v.number);
        let mut dropped = Vec::new();
        if let Some(keep) = retention {
            while manifest.versions.len() > keep.max(1) {
                dropped.push(manifest.versions.remove(0));
            }
        }
        if mode == Mode::Online && activate {
            manifest.active = Some(id);
            manifest.active_replay_from = None;
            self.save_manifest(manifest)?;
        } else {
            self.save_manifest(manifest)?;
            if activate {
                self.set_active_pointer(id, None)?;
            }
        }
        let mut removed = Vec::new();
        let dropped_ids = dropped.iter().map(VersionEntry::id).collect();
        for old in dropped {
            // Paths come from the version id, never from the manifest's
            // strings: a tampered entry cannot name a file outside.
            let old_id = VersionId {
                mode,
                number: old.number,
            };
            let old_path = self.path(old_id);
            if old.drift_reference.is_some() {
                let _ = self.storage.remove(&self.sidecar_path(old_id));
            }
            match self.storage.remove(&old_path) {
                Ok(()) => removed.push(old_path.display().to_string()),
                Err(e) => tracing::warn!(path = %old_path.display(), error = %e, "retention"),
            }
        }
        Ok((removed, dropped_ids))
    }

    /// Records `id` as the active version (in the online manifest), to be
    /// replayed into from `replay_from` (none: its own `learned_through`).
    fn set_active_pointer(
        &self,
        id: VersionId,
        replay_from: Option<u64>,
    ) -> Result<(), StoreError> {
        let dir = self.dir(Mode::Online);
        self.storage.create_dir_all(&dir).map_err(io(&dir))?;
        let mut online = self.manifest(Mode::Online)?;
        online.active = Some(id);
        online.active_replay_from = replay_from;
        self.save_manifest(&online)
    }

    /// Where a restart would replay the sample log from into the recorded
    /// active version (none: no active version, or it is unknown).
    pub fn active_replay_from(&self) -> Result<Option<u64>, StoreError> {
        let online = self.manifest(Mode::Online)?;
        let Some(active) = online.active else {
            return Ok(None);
        };
        if online.active_replay_from.is_some() {
            return Ok(online.active_replay_from);
        }
        let manifest = match active.mode {
            Mode::Online => online,
            Mode::Offline => self.manifest(Mode::Offline)?,
        };
        Ok(manifest.get(active.number).and_then(|e| e.learned_through))
    }

    /// The active version, as recorded.
    pub fn active(&self) -> Result<Option<VersionId>, StoreError> {
        Ok(self.manifest(Mode::Online)?.active)
    }

    /// The entry and verified bytes of version `id`.
    pub fn read_version(&self, id: VersionId) -> Result<(VersionEntry, Vec<u8>), StoreError> {
        let manifest = self.manifest(id.mode)?;
        let entry = manifest
            .get(id.number)
            .cloned()
            .ok_or(StoreError::Unknown(id))?;
        let path = self.path(id);
        if entry.mode != id.mode || entry.file != self.file_name(id) {
            return Err(StoreError::Damaged {
                path: self.manifest_path(id.mode).display().to_string(),
                problem: format!(
                    "the entry of {id} names file {:?} ({:?}); this store keeps it as {:?}",
                    entry.file,
                    entry.mode,
                    self.file_name(id)
                ),
            });
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let damaged = |problem: String| StoreError::Damaged {
            path: path.display().to_string(),
            problem,
        };
        if bytes.len() as u64 != entry.file_size {
            return Err(damaged(format!(
                "{} bytes, the manifest says {}",
                bytes.len(),
                entry.file_size
            )));
        }
        let crc = crc32fast::hash(&bytes);
        if crc != entry.crc32 {
            return Err(damaged(format!(
                "CRC-32 {crc:08x}, the manifest says {:08x}",
                entry.crc32
            )));
        }
        Ok((entry, bytes))
    }

    /// The drift reference stored with version `entry` (none when it has
    /// none, or its sidecar is missing or unreadable, which is logged).
    pub fn drift_reference(&self, entry: &VersionEntry) -> Option<DriftReference> {
        entry.drift_reference.as_ref()?;
        let path = self.sidecar_path(entry.id());
        let read = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| DriftReference::from_json(&t).map_err(|e| e.to_string()));
        match read {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "stored drift reference unusable");
                None
            }
        }
    }

    /// Makes a kept version active after checking its file (a rollback or
    /// promotion). `discarded_through` is how far in the sample log the
    /// model it replaces had learned (none: as far as the recorded active
    /// version had); a restart does not replay those samples into `id`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use refit::store::{Mode, Store, VersionId, VersionMeta};
    /// let store = Store::new(dir.path(), "m", refit::clock::system());
    /// let meta = |through| VersionMeta { learned_through: Some(through), ..VersionMeta::default() };
    /// store.write_version(Mode::Online, b"a", meta(100), None, None).unwrap();
    /// store.write_version(Mode::Online, b"b", meta(250), None, None).unwrap();
    /// // Back to the first version: samples 100..250 were learned by the
    /// // discarded one and are not replayed; later ones are.
    /// store.activate(VersionId::online(1), None).unwrap();
    /// assert_eq!(store.recover().unwrap().replay_from, Some(250));
    /// ```
    pub fn activate(
        &self,
        id: VersionId,
        discarded_through: Option<u64>,
    ) -> Result<(VersionEntry, Vec<u8>), StoreError> {
        let found = self.read_version(id)?;
        let discarded = match discarded_through {
            Some(at) => Some(at),
            None => self.active_replay_from()?,
        };
        let replay_from = discarded.max(found.0.learned_through);
        self.set_active_pointer(id, replay_from)?;
        Ok(found)
    }

    /// The version to serve at start-up: the recorded active version if its
    /// file is intact, else the newest intact one (online, then offline);
    /// every damaged or missing listed file is reported.
    pub fn recover(&self) -> Result<Recovery, StoreError> {
        let mut recovery = Recovery::default();
        let mut candidates = Vec::new();
        if let Some(active) = self.active()? {
            candidates.push(active);
        }
        for mode in [Mode::Online, Mode::Offline] {
            let m = self.manifest(mode)?;
            candidates.extend(m.versions.iter().rev().map(VersionEntry::id));
        }
        let mut checked = std::collections::HashSet::new();
        for id in candidates {
            if !checked.insert(id) {
                continue;
            }
            match self.read_version(id) {
                Ok(found) => {
                    if recovery.active.is_none() {
                        recovery.replay_from = if Some(id) == self.active()? {
                            self.active_replay_from()?
                        } else {
                            found.0.learned_through
                        };
                        recovery.active = Some(found);
                    }
                }
                Err(e) => recovery.skipped.push(Skipped {
                    version: id,
                    problem: e.to_string(),
                }),
            }
        }
        if let Some((entry, _)) = &recovery.active
            && self.active()? != Some(entry.id())
        {
            self.set_active_pointer(entry.id(), None)?;
        }
        Ok(recovery)
    }

    /// Every listed version, offline first, with its active marker and
    /// whether its file is intact.
    pub fn list(&self) -> Result<Vec<Listed>, StoreError> {
        let active = self.active()?;
        let mut out = Vec::new();
        for mode in [Mode::Offline, Mode::Online] {
            for entry in self.manifest(mode)?.versions {
                let id = entry.id();
                out.push(Listed {
                    version: id.to_string(),
                    active: active == Some(id),
                    intact: self.read_version(id).is_ok(),
                    entry,
                });
            }
        }
        Ok(out)
    }

    /// Bytes on disk under the model's two directories.
    pub fn disk_usage(&self) -> u64 {
        [Mode::Online, Mode::Offline]
            .iter()
            .flat_map(|&m| {
                std::fs::read_dir(self.dir(m))
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_whole_files_also_by_bare_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!dir.path().join("a.json.tmp").exists());
        // A bare file name lives in the current directory, whose fsync
        // must not fail (a test cannot chdir safely; check the parent rule).
        assert_eq!(Path::new("config.toml").parent(), Some(Path::new("")));
    }
}
