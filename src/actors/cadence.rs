//! When the Trainer writes a checkpoint (`[online] checkpoint_every`), and
//! the coalescing of checkpoints that the disk cannot keep up with. Pure
//! bookkeeping, owned by the Trainer.

use crate::config::CheckpointEvery;

/// The checkpoint cadence's state.
#[derive(Debug, Clone)]
pub(crate) struct Cadence {
    every: CheckpointEvery,
    /// Served updates not yet handed to the Checkpointer.
    unpersisted: u64,
    /// When the last checkpoint was handed over (or the cadence began).
    last_ms: u64,
    /// Checkpoints handed over and not yet written.
    writing: usize,
    /// A checkpoint fell due while another was being written.
    waiting: bool,
}

impl Cadence {
    /// A cadence starting at `now_ms` with nothing to write.
    pub(crate) fn new(every: CheckpointEvery, now_ms: u64) -> Self {
        Self {
            every,
            unpersisted: 0,
            last_ms: now_ms,
            writing: 0,
            waiting: false,
        }
    }

    /// A new `[online] checkpoint_every`.
    pub(crate) fn set_every(&mut self, every: CheckpointEvery) {
        self.every = every;
    }

    /// One more update is served.
    pub(crate) fn updated(&mut self) {
        self.unpersisted += 1;
    }

    /// Served updates not yet handed to the Checkpointer.
    pub(crate) fn unpersisted(&self) -> u64 {
        self.unpersisted
    }

    /// The served model is on disk already (e.g. a rollback target): nothing
    /// is waiting.
    pub(crate) fn clear(&mut self, now_ms: u64) {
        self.unpersisted = 0;
        self.waiting = false;
        self.last_ms = now_ms;
    }

    /// Whether the cadence asks for a checkpoint now.
    pub(crate) fn due(&self, now_ms: u64) -> bool {
        self.unpersisted > 0
            && ((self.every.updates > 0 && self.unpersisted >= self.every.updates)
                || self.until_due_ms(now_ms) == Some(0))
    }

    /// Milliseconds until the interval makes a checkpoint due (none without
    /// an interval or an update waiting).
    pub(crate) fn until_due_ms(&self, now_ms: u64) -> Option<u64> {
        let interval = self.every.interval?;
        (self.unpersisted > 0).then(|| {
            let ms = u64::try_from(interval.0.as_millis()).unwrap_or(u64::MAX);
            (self.last_ms.saturating_add(ms)).saturating_sub(now_ms)
        })
    }

    /// Whether a due checkpoint is written now (`force`: flush or shutdown)
    /// or waits for the one being written, which then writes the newest
    /// model instead (coalescing).
    pub(crate) fn take(&mut self, force: bool, now_ms: u64) -> bool {
        if self.unpersisted == 0 {
            return false;
        }
        if self.writing > 0 && !force {
            self.waiting = true;
            return false;
        }
        self.unpersisted = 0;
        self.waiting = false;
        self.last_ms = now_ms;
        self.writing += 1;
        true
    }

    /// A checkpoint handed over is written (or failed); answers whether one
    /// waits for it.
    pub(crate) fn written(&mut self) -> bool {
        self.writing = self.writing.saturating_sub(1);
        self.writing == 0 && self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;
    use std::time::Duration;

    #[test]
    fn every_update_is_due_by_default_and_coalesces_while_writing() {
        let mut c = Cadence::new(CheckpointEvery::default(), 0);
        assert!(!c.due(0) && !c.take(false, 0));
        c.updated();
        assert!(c.due(0) && c.take(false, 0));
        // Three updates while the first checkpoint is being written: they
        // wait, and only one checkpoint (of the newest model) follows.
        for _ in 0..3 {
            c.updated();
            assert!(c.due(0));
            assert!(!c.take(false, 0));
        }
        assert_eq!(c.unpersisted(), 3);
        assert!(c.written());
        assert!(c.take(false, 1));
        assert_eq!(c.unpersisted(), 0);
        assert!(!c.written());
    }

    #[test]
    fn counts_and_intervals_each_make_a_checkpoint_due() {
        let every = CheckpointEvery {
            updates: 3,
            interval: Some(HumanDuration(Duration::from_secs(10))),
        };
        let mut c = Cadence::new(every, 1_000);
        c.updated();
        c.updated();
        assert!(!c.due(5_000));
        assert_eq!(c.until_due_ms(5_000), Some(6_000));
        assert!(c.due(11_000), "the interval passed");
        c.updated();
        assert!(c.due(1_000), "three updates");
        assert!(c.take(false, 1_000));
        assert_eq!(c.until_due_ms(1_000), None, "nothing waits");
    }

    #[test]
    fn a_forced_checkpoint_does_not_wait_and_clear_drops_the_backlog() {
        let mut c = Cadence::new(CheckpointEvery::default(), 0);
        c.updated();
        assert!(c.take(false, 0));
        c.updated();
        assert!(
            c.take(true, 0),
            "flush writes even while one is being written"
        );
        c.updated();
        c.clear(0);
        assert!(!c.due(0) && !c.take(true, 0));
    }
}
