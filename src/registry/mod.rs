//! The model store: numbered versions on disk, their manifests, retention,
//! the active version, recovery and rollback ([`Store`]). The Registry actor
//! (`actors/registry.rs`) is its only writer while an agent runs; the
//! `refit versions` and `refit rollback` commands use it directly.

pub mod manifest;
pub mod store;
pub mod version;

pub use manifest::{Manifest, VersionEntry};
pub use store::{
    EXTENSION, Listed, Recovery, Skipped, Store, StoreError, VersionMeta, write_atomic,
};
pub use version::{Mode, ParseVersionError, VersionId};
