//! The model store: numbered versions on disk, their manifests, retention,
//! the active version, recovery and rollback ([`Store`]). The Checkpointer actor
//! (`actors/checkpointer.rs`) is its only writer while an agent runs, which
//! holds the store's lock ([`Store::lock`]); `refit train` and `refit
//! rollback` take the lock too, so they refuse to run beside an agent.

pub mod manifest;
pub mod version;
pub mod versions;

pub use manifest::{Manifest, VersionEntry};
pub use version::{Mode, ParseVersionError, VersionId};
pub use versions::{
    EXTENSION, Listed, Recovery, Skipped, Store, StoreError, StoreLock, VersionMeta, write_atomic,
};
