//! The sample log's own thread: every disk operation of the log (appends,
//! fsyncs, group commits, segment creation, retention) runs here, never on
//! the actix thread Ingest shares with the serving actors.
//!
//! Ingest numbers and encodes each call's record and sends it with a
//! sequence number; the thread answers with [`LogCommitted`] messages, in
//! sequence order, each covering a range of calls:
//!
//! - `durability = "none"`: a call is committed once its record reached the
//!   operating system;
//! - `"always"`: once an fsync after it completed;
//! - `"batch"`: calls arriving within `group_commit` of the first share one
//!   fsync (a group commit). When a write (or the segment rotation before
//!   it) or the fsync fails, the whole group fails: the calls not yet
//!   written are not written, and none is acknowledged.
//!
//! A [`Command::Sync`] (a flush) ends a group at once and fsyncs.
//! Retention runs at most once a second, and whenever a segment was
//! started since it last ran.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix::Recipient;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::config::Durability;
use crate::messages::LogCommitted;
use crate::sample_log::SampleLog;

/// Ingest → the log's thread.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write one call's record (from [`crate::sample_log::encode`]).
    Append {
        /// The call's sequence number.
        seq: u64,
        /// The record's payload.
        payload: Vec<u8>,
        /// When to answer.
        durability: Durability,
        /// The group commit's window (`"batch"`).
        group_commit: Duration,
    },
    /// fsync everything written so far (a flush), as call `seq`.
    Sync {
        /// The sequence number it is answered under.
        seq: u64,
    },
    /// Apply the retention limits.
    Retention {
        /// Segments older than this are deleted.
        max_age: Duration,
        /// The oldest segments are deleted while the log is larger.
        max_bytes: u64,
    },
}

/// The log's thread, stopped and joined when dropped.
pub(crate) struct LogWriter {
    tx: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
}

impl LogWriter {
    /// Starts the thread that owns `log` and answers to `committed`.
    pub(crate) fn spawn(
        log: SampleLog,
        committed: Recipient<LogCommitted>,
    ) -> std::io::Result<Self> {
        let dir = log.dir().to_owned();
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("refit-sample-log".into())
            .spawn(move || {
                Thread {
                    log,
                    rx,
                    committed,
                    retained: None,
                }
                .run()
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            dir,
        })
    }

    /// The log's directory (for errors).
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Hands `command` to the thread; false when the thread is gone.
    pub(crate) fn send(&self, command: Command) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(command).is_ok())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // The thread ends once its channel is closed and drained.
        self.tx.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the sample log's thread panicked");
        }
    }
}

/// What fails a call: the operation and its error.
type Failure = (&'static str, Arc<std::io::Error>);

/// How often retention reads the log's directory, at most, while no new
/// segment is started.
const RETENTION_EVERY: Duration = Duration::from_secs(1);

struct Thread {
    log: SampleLog,
    rx: Receiver<Command>,
    committed: Recipient<LogCommitted>,
    /// When retention last ran, and the number the next segment had then.
    retained: Option<(Instant, u64)>,
}

impl Thread {
    fn run(mut self) {
        let mut next = None;
        loop {
            let command = match next.take() {
                Some(c) => c,
                None => match self.rx.recv() {
                    Ok(c) => c,
                    Err(_) => break,
                },
            };
            next = self.handle(command);
        }
        // Closed: whatever was written reaches the disk.
        if let Err(e) = self.log.sync() {
            tracing::error!(error = %e, "sample log: the last fsync failed");
        }
    }

    /// Carries out `command`; a group commit may read one command past its
    /// group, returned to be handled next.
    fn handle(&mut self, command: Command) -> Option<Command> {
        match command {
            Command::Append {
                seq,
                payload,
                durability,
                group_commit,
            } => {
                let written = self.write(&payload);
                match durability {
                    Durability::None => self.answer(seq..seq + 1, written),
                    Durability::Always => {
                        let synced = written.and_then(|()| self.sync());
                        self.answer(seq..seq + 1, synced);
                    }
                    Durability::Batch => return self.group(seq, written, group_commit),
                }
            }
            Command::Sync { seq } => {
                let synced = self.sync();
                self.answer(seq..seq + 1, synced);
            }
            Command::Retention { max_age, max_bytes } => {
                // Reading the directory costs more than an append: at most
                // once a second, or when a segment was started since.
                let segment = self.log.next_segment();
                if self
                    .retained
                    .is_some_and(|(at, seg)| seg == segment && at.elapsed() < RETENTION_EVERY)
                {
                    return None;
                }
                self.retained = Some((Instant::now(), segment));
                match self.log.apply_retention(max_age, max_bytes) {
                    Ok(removed) if !removed.is_empty() => {
                        tracing::info!(segments = removed.len(), "sample log retention")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "sample log retention"),
                }
            }
        }
        None
    }

    /// A group commit started by call `first` (already written, with
    /// `written`): every `"batch"` append arriving within `window` joins
    /// it, then one fsync answers them all. Another command ends the group
    /// early and is returned.
    fn group(
        &mut self,
        first: u64,
        mut result: Result<(), Failure>,
        window: Duration,
    ) -> Option<Command> {
        let deadline = Instant::now() + window;
        let mut end = first + 1;
        let mut after = None;
        loop {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Command::Append {
                    seq,
                    payload,
                    durability: Durability::Batch,
                    ..
                }) => {
                    // After a failure the group's calls are not written:
                    // they will not be acknowledged.
                    if result.is_ok() {
                        result = self.write(&payload);
                    }
                    end = seq + 1;
                }
                Ok(other) => {
                    after = Some(other);
                    break;
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let result = result.and_then(|()| self.sync());
        self.answer(first..end, result);
        after
    }

    fn write(&mut self, payload: &[u8]) -> Result<(), Failure> {
        self.log
            .append_encoded(payload)
            .map_err(|e| ("append", Arc::new(e)))
    }

    fn sync(&mut self) -> Result<(), Failure> {
        self.log.sync().map_err(|e| ("fsync", Arc::new(e)))
    }

    fn answer(&self, seqs: Range<u64>, result: Result<(), Failure>) {
        // When Ingest is gone the agent is stopping: nobody waits.
        self.committed.do_send(LogCommitted { seqs, result });
    }
}
