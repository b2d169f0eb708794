//! The file operations the model store ([`crate::store::Store`]) and the
//! sample log ([`crate::sample_log::SampleLog`]) write through. [`Disk`] is
//! the real thing; [`Faulty`] wraps a storage and injects errors (disk full,
//! permission denied, short writes, failed fsyncs) at chosen operations, so
//! tests can break each step of checkpointing, manifest updates and sample
//! appends. Reads go to the file system directly.
//!
//! ```
//! use refit::storage::{Fault, Faulty, Op, Rule, Storage, disk, write_atomic};
//! let dir = tempfile::tempdir().unwrap();
//! let faulty = Faulty::new(disk());
//! faulty.add(Rule::new(Op::Sync, Fault::SyncFailed).on_paths_containing("manifest"));
//! let err = write_atomic(&faulty, &dir.path().join("manifest.json"), b"{}").unwrap_err();
//! assert!(err.to_string().contains("fsync failed"));
//! assert!(!dir.path().join("manifest.json").exists()); // never renamed into place
//! faulty.clear();
//! write_atomic(&faulty, &dir.path().join("manifest.json"), b"{}").unwrap();
//! ```

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A file being written.
pub trait WriteFile: Write + Send {
    /// Makes what was written durable (fsync).
    fn sync(&mut self) -> std::io::Result<()>;
}

/// Where files are written.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Creates (or truncates) a file for writing.
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WriteFile>>;
    /// Creates a new file (failing when it exists) for appending.
    fn create_new_append(&self, path: &Path) -> std::io::Result<Box<dyn WriteFile>>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> std::io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()>;
    /// Makes a directory's entries durable (fsync of the directory).
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()>;
}

/// The local file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl WriteFile for std::fs::File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_all()
    }
}

impl Storage for Disk {
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WriteFile>> {
        Ok(Box::new(std::fs::File::create(path)?))
    }
    fn create_new_append(&self, path: &Path) -> std::io::Result<Box<dyn WriteFile>> {
        Ok(Box::new(
            std::fs::File::options()
                .create_new(true)
                .append(true)
                .open(path)?,
        ))
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> std::io::Result<()> {
        std::fs::remove_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }
}

/// The local file system, shared.
pub fn disk() -> Arc<dyn Storage> {
    Arc::new(Disk)
}

/// Replaces `path` whole or not at all: a temporary file of its own in the
/// same directory (`<name>.<pid>.<n>.tmp`), written and fsynced, renamed
/// over `path`, then the directory fsynced.
pub fn write_atomic(storage: &dyn Storage, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // A bare file name's parent is "", which is the current directory.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Unique per call: two writers of the same file never share (and
    // tear) a temporary file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut f = storage.create(&tmp)?;
        f.write_all(bytes)?;
        f.sync()
    })();
    if let Err(e) = written {
        // Best effort: a half-written temporary file is never renamed.
        let _ = storage.remove(&tmp);
        return Err(e);
    }
    storage.rename(&tmp, path)?;
    storage.sync_dir(dir)
}

/// A storage operation that a [`Rule`] can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Creating a file (either kind).
    Create,
    /// Writing to a file.
    Write,
    /// fsync of a file.
    Sync,
    /// Renaming.
    Rename,
    /// Removing.
    Remove,
    /// fsync of a directory.
    SyncDir,
}

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// "No space left on device" (ENOSPC).
    DiskFull,
    /// "Permission denied" (EACCES).
    PermissionDenied,
    /// Half the bytes are written, then the write fails.
    ShortWrite,
    /// The fsync fails (EIO).
    SyncFailed,
}

impl Fault {
    fn error(self, op: Op, path: &Path) -> std::io::Error {
        let what = match self {
            Fault::DiskFull => std::io::Error::from_raw_os_error(28),
            Fault::PermissionDenied => std::io::Error::from_raw_os_error(13),
            Fault::ShortWrite => std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "short write: the device took only part of the bytes",
            ),
            Fault::SyncFailed => std::io::Error::other("fsync failed: input/output error"),
        };
        std::io::Error::new(
            what.kind(),
            format!("{what} ({op:?} of {}, injected)", path.display()),
        )
    }
}

/// When to inject a fault.
#[derive(Debug, Clone)]
pub struct Rule {
    op: Op,
    fault: Fault,
    path_contains: String,
    skip: usize,
    times: usize,
}

impl Rule {
    /// `fault` at every `op`, until removed.
    pub fn new(op: Op, fault: Fault) -> Self {
        Self {
            op,
            fault,
            path_contains: String::new(),
            skip: 0,
            times: usize::MAX,
        }
    }

    /// Only for paths containing `s`.
    pub fn on_paths_containing(mut self, s: &str) -> Self {
        self.path_contains = s.to_owned();
        self
    }

    /// Let the first `n` matching operations through.
    pub fn after(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }

    /// Fail `n` matching operations, then let them through.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }
}

/// Rules and counts, shared by a [`Faulty`] storage and its open files.
#[derive(Debug, Default)]
struct Plan {
    rules: Vec<Rule>,
    injected: usize,
}

impl Plan {
    /// The fault for `op` on `path`, if a rule fires.
    fn check(&mut self, op: Op, path: &Path) -> Option<Fault> {
        let p = path.to_string_lossy();
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.op == op && r.times > 0 && p.contains(r.path_contains.as_str()))?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        rule.times -= 1;
        self.injected += 1;
        Some(rule.fault)
    }
}

/// A storage that injects faults by [`Rule`]s (see the module docs).
#[derive(Debug, Clone)]
pub struct Faulty {
    inner: Arc<dyn Storage>,
    plan: Arc<Mutex<Plan>>,
}

impl Faulty {
    /// No faults yet over `inner`.
    pub fn new(inner: Arc<dyn Storage>) -> Self {
        Self {
            inner,
            plan: Arc::default(),
        }
    }

    /// Adds a rule.
    pub fn add(&self, rule: Rule) {
        if let Ok(mut p) = self.plan.lock() {
            p.rules.push(rule);
        }
    }

    /// Removes every rule.
    pub fn clear(&self) {
        if let Ok(mut p) = self.plan.lock() {
            p.rules.clear();
        }
    }

    /// Faults injected so far.
    pub fn injected(&self) -> usize {
        self.plan.lock().map_or(0, |p| p.injected)
    }

    fn check(&self, op: Op, path: &Path) -> std::io::Result<()> {
        let fault = self.plan.lock().ok().and_then(|mut p| p.check(op, path));
        match fault {
            Some(f) => Err(f.error(op, path)),
            None => Ok(()),
        }
    }

    fn wrap(&self, file: Box<dyn WriteFile>, path: &Path) -> Box<dyn WriteFile> {
        Box::new(FaultyFile {
            inner: file,
            path: path.to_owned(),
            plan: self.plan.clone(),
        })
    }
}

impl Storage for Faulty {
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn WriteFile>> {
        self.check(Op::Create, path)?;
        Ok(self.wrap(self.inner.create(path)?, path))
    }
    fn create_new_append(&self, path: &Path) -> std::io::Result<Box<dyn WriteFile>> {
        self.check(Op::Create, path)?;
        Ok(self.wrap(self.inner.create_new_append(path)?, path))
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.check(Op::Rename, to)?;
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> std::io::Result<()> {
        self.check(Op::Remove, path)?;
        self.inner.remove(path)
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.check(Op::SyncDir, dir)?;
        self.inner.sync_dir(dir)
    }
}

/// A file of a [`Faulty`] storage.
struct FaultyFile {
    inner: Box<dyn WriteFile>,
    path: std::path::PathBuf,
    plan: Arc<Mutex<Plan>>,
}

impl FaultyFile {
    fn fault(&self, op: Op) -> Option<Fault> {
        self.plan
            .lock()
            .ok()
            .and_then(|mut p| p.check(op, &self.path))
    }
}

impl Write for FaultyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.fault(Op::Write) {
            Some(Fault::ShortWrite) if buf.len() > 1 => {
                self.inner.write_all(&buf[..buf.len() / 2])?;
                self.inner.flush()?;
                Err(Fault::ShortWrite.error(Op::Write, &self.path))
            }
            Some(f) => Err(f.error(Op::Write, &self.path)),
            None => self.inner.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl WriteFile for FaultyFile {
    fn sync(&mut self) -> std::io::Result<()> {
        match self.fault(Op::Sync) {
            Some(f) => Err(f.error(Op::Sync, &self.path)),
            None => self.inner.sync(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_names_itself_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.refit");
        for (op, fault, text) in [
            (Op::Create, Fault::PermissionDenied, "Permission denied"),
            (Op::Write, Fault::DiskFull, "No space left on device"),
            (Op::Write, Fault::ShortWrite, "short write"),
            (Op::Sync, Fault::SyncFailed, "fsync failed"),
            (Op::Rename, Fault::DiskFull, "No space left on device"),
            (Op::SyncDir, Fault::SyncFailed, "fsync failed"),
        ] {
            let f = Faulty::new(disk());
            f.add(Rule::new(op, fault).times(1));
            let err = write_atomic(&f, &path, b"0123456789").unwrap_err();
            let msg = err.to_string();
            // The directory's own fsync names the directory.
            let named = if op == Op::SyncDir {
                dir.path().display().to_string()
            } else {
                "v1.refit".to_owned()
            };
            assert!(msg.contains(text) && msg.contains(&named), "{op:?}: {msg}");
            assert_eq!(f.injected(), 1);
            // The rule fired once; the next write goes through whole.
            write_atomic(&f, &path, b"0123456789").unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"0123456789");
            assert!(!dir.path().join("v1.refit.tmp").exists(), "{op:?}");
        }
    }

    #[test]
    fn after_lets_operations_through_first() {
        let dir = tempfile::tempdir().unwrap();
        let f = Faulty::new(disk());
        f.add(Rule::new(Op::Rename, Fault::DiskFull).after(2).times(1));
        for i in 0..2 {
            write_atomic(&f, &dir.path().join(format!("{i}")), b"x").unwrap();
        }
        assert!(write_atomic(&f, &dir.path().join("2"), b"x").is_err());
        write_atomic(&f, &dir.path().join("3"), b"x").unwrap();
    }
}
