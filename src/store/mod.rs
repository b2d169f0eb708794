//! The model store: numbered versions on disk, their manifests, retention,
//! the active version, recovery and rollback ([`Store`]). The Checkpointer actor
//! (`actors/checkpointer.rs`) is its only writer while an agent runs; the
//! `refit versions` and `refit rollback` commands use it directly.

pub mod manifest;
pub mod version;
pub mod versions;

pub use manifest::{Manifest, VersionEntry};
pub use version::{Mode, ParseVersionError, VersionId};
pub use versions::{
    EXTENSION, Listed, Recovery, Skipped, Store, StoreError, VersionMeta, write_atomic,
};
