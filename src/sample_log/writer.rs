//! The sample log's own thread, and the hand-over of the log between it and
//! Ingest.
//!
//! Ingest, on the actix thread it shares with the serving actors, holds the
//! log while it is idle. With `durability = "none"` an append to an open
//! segment with room is one `write(2)` there (the bytes reach the
//! operating system, which is what `"none"` promises). Everything else is
//! disk work for this thread: Ingest queues the calls and hands the log to
//! it with them ([`ToWriter::Work`]); the thread carries them out and hands
//! the log back with the answers ([`LogCommitted`]), in call order. While
//! the thread holds the log, new calls wait in Ingest's queue and go with
//! the next hand-over.
//!
//! On this thread:
//!
//! - segment creation (with the fsync of the directory) and rotation (with
//!   the fsync of the full segment);
//! - `"always"`: an fsync after each call;
//! - `"batch"`: one fsync for the calls of a hand-over (a group commit;
//!   Ingest hands them over `group_commit` after the first, or sooner when
//!   another call needs the thread). When a write (or the segment creation
//!   before it) or the fsync fails, every call of the group fails: those
//!   not yet written are not written, and none is acknowledged;
//! - a flush's fsync, and retention (which reads the directory: at most
//!   once a second, and after each new segment).

use std::ops::Range;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix::Recipient;
use crossbeam_channel::{Receiver, Sender};

use crate::config::Durability;
use crate::messages::{LogCommitted, LogFailure};
use crate::sample_log::SampleLog;

/// One queued operation on the log.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write one call's record (from [`crate::sample_log::encode`]).
    Append {
        /// The call's sequence number.
        seq: u64,
        /// The record's payload.
        payload: Vec<u8>,
        /// When it counts as committed.
        durability: Durability,
    },
    /// fsync everything written so far (a flush), answered as call `seq`.
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

/// Ingest → the log's thread.
pub(crate) enum ToWriter {
    /// Carry out `commands` on `log`, then hand it back.
    Work {
        /// The log, handed over.
        log: SampleLog,
        /// In call order.
        commands: Vec<Command>,
    },
    /// The agent stops: fsync `log` and close it.
    Close(SampleLog),
}

/// The log's thread, stopped and joined when dropped.
pub(crate) struct LogWriter {
    tx: Option<Sender<ToWriter>>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// Starts the thread, which answers to `committed`.
    pub(crate) fn spawn(committed: Recipient<LogCommitted>) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("refit-sample-log".into())
            .spawn(move || {
                Thread {
                    rx,
                    committed,
                    retained: None,
                    limits: None,
                }
                .run()
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands `work` to the thread; gives it back when the thread is gone.
    pub(crate) fn send(&self, work: ToWriter) -> Result<(), Box<ToWriter>> {
        match &self.tx {
            Some(tx) => tx.send(work).map_err(|e| Box::new(e.0)),
            None => Err(Box::new(work)),
        }
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

/// How often retention reads the log's directory, at most, while no new
/// segment is started (Ingest asks for it as often).
pub(crate) const RETENTION_EVERY: Duration = Duration::from_secs(1);

struct Thread {
    rx: Receiver<ToWriter>,
    committed: Recipient<LogCommitted>,
    /// When retention last ran.
    retained: Option<Instant>,
    /// The retention limits Ingest last sent (max age, max bytes).
    limits: Option<(Duration, u64)>,
}

/// The answers of one hand-over, built in call order.
#[derive(Default)]
struct Answers {
    done: Vec<(Range<u64>, Result<(), LogFailure>)>,
    /// The `"batch"` calls written since the last fsync, and their fate.
    group: Option<(Range<u64>, Result<(), LogFailure>)>,
}

impl Thread {
    fn run(mut self) {
        while let Ok(work) = self.rx.recv() {
            match work {
                ToWriter::Work { mut log, commands } => {
                    let mut answers = Answers::default();
                    for command in commands {
                        self.carry_out(&mut log, command, &mut answers);
                    }
                    close_group(&mut log, &mut answers);
                    // When Ingest is gone the agent is stopping: the log
                    // is dropped with the message (its bytes were written).
                    self.committed.do_send(LogCommitted {
                        log,
                        answers: answers.done,
                    });
                }
                ToWriter::Close(mut log) => {
                    if let Err(e) = log.sync() {
                        tracing::error!(error = %e, "sample log: the last fsync failed");
                    }
                }
            }
        }
    }

    fn carry_out(&mut self, log: &mut SampleLog, command: Command, answers: &mut Answers) {
        match command {
            Command::Append {
                seq,
                payload,
                durability: Durability::Batch,
            } => {
                let (range, result) = answers.group.get_or_insert((seq..seq, Ok(())));
                range.end = seq + 1;
                // After a failure the group's calls are not written: none
                // of them will be acknowledged.
                if result.is_ok() {
                    *result = self.write(log, &payload);
                }
            }
            Command::Append {
                seq,
                payload,
                durability,
            } => {
                close_group(log, answers);
                let mut result = self.write(log, &payload);
                if durability == Durability::Always {
                    result = result.and_then(|()| sync(log));
                }
                answers.done.push((seq..seq + 1, result));
            }
            Command::Sync { seq } => {
                close_group(log, answers);
                let result = sync(log);
                answers.done.push((seq..seq + 1, result));
            }
            Command::Retention { max_age, max_bytes } => {
                self.limits = Some((max_age, max_bytes));
                self.retention(log, false);
            }
        }
    }

    /// Applies the last retention limits Ingest sent: at most once per
    /// [`RETENTION_EVERY`], or now (`force`, after a new segment).
    fn retention(&mut self, log: &mut SampleLog, force: bool) {
        let Some((max_age, max_bytes)) = self.limits else {
            return;
        };
        if !force
            && self
                .retained
                .is_some_and(|at| at.elapsed() < RETENTION_EVERY)
        {
            return;
        }
        self.retained = Some(Instant::now());
        match log.apply_retention(max_age, max_bytes) {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(segments = removed.len(), "sample log retention")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sample log retention"),
        }
    }

    /// Writes one record; after a new segment, retention runs.
    fn write(&mut self, log: &mut SampleLog, payload: &[u8]) -> Result<(), LogFailure> {
        let segment = log.next_segment();
        let written = log
            .append_encoded(payload)
            .map_err(|e| ("append", Arc::new(e)));
        if log.next_segment() != segment {
            self.retention(log, true);
        }
        written
    }
}

/// Ends the open group commit, if any: one fsync answers its calls.
fn close_group(log: &mut SampleLog, answers: &mut Answers) {
    if let Some((range, result)) = answers.group.take() {
        let result = result.and_then(|()| sync(log));
        answers.done.push((range, result));
    }
}

fn sync(log: &mut SampleLog) -> Result<(), LogFailure> {
    log.sync().map_err(|e| ("fsync", Arc::new(e)))
}
