//! refit: an embedded online-learning agent.
//!
//! A host feeds labelled samples, asks for predictions, and gets models that
//! keep learning. This crate holds the agent; models are plugins behind the
//! [`refit_plugin::Model`] trait (re-exported in [`plugins`]).
//!
//! The map, bottom to top:
//! - [`error`] ([`AgentError`]), [`config`] (the `config.toml` schema and
//!   its validation), [`clock`], [`storage`] (disk, and fault injection);
//! - [`drift`]: [`Severity`], PSI, KS, ADWIN and Page-Hinkley, stored
//!   references; [`metrics`]: AUC, log loss, MAE, RMSE;
//! - [`store`]: the model store (versions, manifests, retention,
//!   recovery); [`sample_log`]: the log of accepted samples (and the
//!   thread its disk work runs on), replayed at start; [`rows`]: dense
//!   and sparse row batches; [`schema`]: named rows, text categories and
//!   class names as model input; [`offline`]: training from scratch;
//! - [`plugins`]: the built-in kinds (`logistic`, `linear`, `mlp`, `ftrl`)
//!   and their registry;
//! - [`events`]: what a host sees (events, stats, acknowledgements);
//!   [`serving`]: the atomically swapped serving set; inside the crate, the
//!   actors (Ingest, Drift, Trainer, Checkpointer, ServingActor, Watcher,
//!   in `src/actors/`) and the messages they exchange (`src/messages.rs`);
//! - [`fleet`] (`[fleet]` in the config): one replica of a fleet on NATS
//!   JetStream: the shared sample stream, the trainer's lease, the model
//!   bus and the coordinator that drives this replica's actors; the
//!   agent's boot wires it, as it wires the Watcher;
//! - [`agent`]: the embedded handle ([`Agent`], [`AgentBuilder`],
//!   [`CachedPredictor`]);
//!   [`ctr`]: click events, hashing and ranking on the handle;
//! - outer rings: [`http`] (the API and dashboard), [`run`] (the main job
//!   of `refit run`), [`demo`] and [`progressive`] (demo streams and
//!   progressive validation of a bare model), and the `refit` binary.
//!
//! ```
//! use refit::plugins::{self, Batch, ModelSpec, Params, Task};
//!
//! let registry = plugins::builtin();
//! let spec = ModelSpec::new("logistic", Task::Classification, ["tenure", "charges"]);
//! let mut model = registry.create(spec, &Params::new()).unwrap();
//! let x = [0.5, 1.0, 3.0, 0.2];
//! for _ in 0..100 {
//!     model.partial_fit(Batch::new(&x, 2).unwrap().into(), &[1.0, 0.0], 0.05).unwrap();
//! }
//! let serving = model.snapshot(); // Send + Sync, keeps working while training goes on
//! let p = serving.predict_row((&[0.5, 1.0]).into()).unwrap();
//! assert!(p > 0.5);
//! ```

pub(crate) mod actors;
pub mod agent;
pub mod clock;
pub mod config;
pub mod ctr;
pub mod data;
#[cfg(feature = "demo")]
pub mod demo;
pub mod drift;
pub mod error;
pub mod events;
#[cfg(feature = "fleet")]
pub mod fleet;
#[cfg(feature = "http")]
pub mod http;
pub(crate) mod messages;
pub mod metrics;
pub mod offline;
pub mod plugins;
#[cfg(feature = "demo")]
pub mod progressive;
pub mod rows;
#[cfg(feature = "demo")]
pub mod run;
pub mod sample_log;
pub mod schema;
pub mod serving;
pub mod storage;
pub mod store;

/// The README's Rust examples, compiled (and, where they touch no files,
/// run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use agent::{
    Agent, AgentBuilder, AgentError, CachedPredictor, Prediction, Severity, Stats, WarmStart,
};
