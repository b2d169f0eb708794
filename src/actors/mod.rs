//! The actors of the agent, each owning its state. Messages are in
//! [`crate::messages`].
//!
//! - [`ingest::Ingest`]: validates, counts and buffers samples; emits update
//!   batches by threshold or schedule; applies back-pressure.
//! - [`drift::Drift`]: per-feature PSI against a reference; severity.
//! - [`trainer::Trainer`]: progressive validation, learning rate by
//!   severity, `partial_fit`; runs on its own arbiter (thread) so training
//!   never blocks the other actors.
//! - [`checkpointer::Checkpointer`]: numbered online checkpoints, atomic writes,
//!   retention; promotes to the ServingActor.
//! - [`serving::ServingActor`]: swaps the serving snapshot atomically and fans
//!   events out to subscribers.
//! - [`watcher::Watcher`]: hot-reloads `config.toml`.

pub mod checkpointer;
pub mod drift;
pub mod ingest;
pub mod serving;
pub mod trainer;
#[cfg(feature = "watch")]
pub mod watcher;
