//! The one clock every time-based rule reads (`online.update_frequency`,
//! `retrain.full_every`, sample retention by age, version timestamps), so a
//! test can pass four weeks in a millisecond.
//!
//! ```
//! use std::time::Duration;
//! use refit::clock::{Clock, ManualClock};
//! let clock = ManualClock::new();
//! let start = clock.now();
//! clock.advance(Duration::from_secs(28 * 86_400));
//! assert_eq!(clock.now().duration_since(start).unwrap().as_secs(), 28 * 86_400);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;

    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told (tests). Clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock at the current system time.
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(SystemClock.now_ms())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// The clock agents use unless told otherwise.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
