//! The actors of the agent, each owning its state. Messages are in
//! [`crate::messages`].
//!
//! - [`ingest::Ingest`]: validates, counts and buffers samples; emits update
//!   batches by threshold or schedule; applies back-pressure.
//! - [`drift::Drift`]: per-feature PSI against a reference; severity.
//! - [`trainer::Trainer`]: progressive validation, learning rate by
//!   severity, `partial_fit`; serves each update at once and hands
//!   checkpoints to the Checkpointer on the cadence of
//!   `[online] checkpoint_every` ([`cadence`]); runs on its own arbiter
//!   (thread) so training never blocks the other actors.
//! - [`checkpointer::Checkpointer`]: numbered online checkpoints, atomic
//!   writes, retention, the active pointer; on its own thread, off the
//!   serving path.
//! - [`serving::ServingActor`]: swaps the serving snapshot atomically and fans
//!   events out to subscribers.
//! - [`watcher::Watcher`]: hot-reloads `config.toml`.

pub(crate) mod cadence;
pub mod checkpointer;
pub mod drift;
pub mod ingest;
pub mod serving;
pub mod trainer;
#[cfg(feature = "watch")]
pub mod watcher;
