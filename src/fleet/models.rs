//! Model files and the active version through JetStream: the trainer
//! publishes each version's file to an object-store bucket and its
//! manifest entry, as the active version, to one key of a key-value
//! bucket; every replica watches that key and fetches the file of each
//! version it announces, checked against the entry's size and CRC-32.

use std::time::Duration;

use async_nats::jetstream::{kv, object_store};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::{FleetError, Nats, js_err, key_value, within};
use crate::store::VersionEntry;

/// The key of the active version in the manifest bucket.
const ACTIVE: &str = "active";
/// The key of the A/B roles in the manifest bucket.
const ROLES: &str = "roles";

/// The A/B roles every replica of the fleet serves (the manifest bucket's
/// `roles` key): set on any replica, applied by all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Roles {
    /// The challenger's entry and its traffic share.
    pub challenger: Option<(VersionEntry, f64)>,
    /// The shadow's entry.
    pub shadow: Option<VersionEntry>,
}

/// What the manifest key holds: the active version's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// The active version's manifest entry (size and CRC-32 of its file).
    pub entry: VersionEntry,
    /// The replica that announced it (the trainer, or the replica a
    /// rollback was asked of).
    #[serde(default)]
    pub by: String,
    /// Stream sequences below this one are learned by the fleet's model
    /// (the trainer's position when it announced; none from a rollback,
    /// which the trainer then announces again with its position).
    #[serde(default)]
    pub position: Option<u64>,
    /// The key's revision (its JetStream sequence).
    #[serde(skip)]
    pub revision: u64,
}

/// The buckets of one model: `<prefix>_<name>_models` (files) and
/// `<prefix>_<name>_manifest` (the active entry).
pub struct ModelBus {
    files: object_store::ObjectStore,
    manifest: kv::Store,
    timeout: Duration,
}

impl std::fmt::Debug for ModelBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelBus").finish_non_exhaustive()
    }
}

impl ModelBus {
    /// Connects to `url` and opens (or creates) the buckets of model
    /// `name` under `prefix`, kept on `replicas` servers of a cluster;
    /// every call waits at most `timeout`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        name: &str,
        (timeout, replicas): (Duration, usize),
    ) -> Result<Self, FleetError> {
        let nats = Nats::connect(url, timeout).await?;
        Self::open(&nats, (prefix, name), (timeout, replicas)).await
    }

    /// [`ModelBus::connect`] over an open connection.
    pub async fn open(
        nats: &Nats,
        (prefix, name): (&str, &str),
        (timeout, replicas): (Duration, usize),
    ) -> Result<Self, FleetError> {
        let js = nats.js.clone();
        let (files_name, manifest_name) = (
            format!("{prefix}_{name}_models"),
            format!("{prefix}_{name}_manifest"),
        );
        let files = match within(
            timeout,
            "open the model files",
            js.get_object_store(&files_name),
        )
        .await?
        {
            Ok(store) => store,
            Err(_) => within(
                timeout,
                "create the model files",
                js.create_object_store(object_store::Config {
                    bucket: files_name,
                    num_replicas: replicas.max(1),
                    ..Default::default()
                }),
            )
            .await?
            .map_err(|e| js_err("create the model files", e))?,
        };
        let manifest = key_value(
            &js,
            kv::Config {
                bucket: manifest_name,
                history: 1,
                num_replicas: replicas.max(1),
                ..Default::default()
            },
            timeout,
        )
        .await?;
        Ok(Self {
            files,
            manifest,
            timeout,
        })
    }

    /// Stores `bytes` as the file of `entry`'s version, then announces the
    /// version as the active one (by nobody in particular, at no stream
    /// position); answers the announcement's revision.
    pub async fn publish(&self, entry: &VersionEntry, bytes: &[u8]) -> Result<u64, FleetError> {
        self.put_file(entry, bytes).await?;
        let announced = Published {
            entry: entry.clone(),
            by: String::new(),
            position: None,
            revision: 0,
        };
        self.announce(&announced, None)
            .await?
            .ok_or_else(|| js_err("announce the version", "refused"))
    }

    /// Stores `bytes` as the file of `entry`'s version.
    pub async fn put_file(&self, entry: &VersionEntry, bytes: &[u8]) -> Result<(), FleetError> {
        let name = entry.id().to_string();
        within(
            self.timeout,
            "store a model file",
            self.files.put(name.as_str(), &mut &bytes[..]),
        )
        .await?
        .map_err(|e| js_err("store a model file", e))?;
        Ok(())
    }

    /// Removes the file of `version` (a checkpoint that retention dropped).
    pub async fn remove_file(&self, version: crate::store::VersionId) -> Result<(), FleetError> {
        within(
            self.timeout,
            "remove a model file",
            self.files.delete(version.to_string()),
        )
        .await?
        .map_err(|e| js_err("remove a model file", e))
    }

    /// Announces `published` as the active version. With `expected`, only
    /// if the key is still at that revision (0: absent): answers `None`
    /// when another announcement came first (a fencing token: a replica
    /// that lost the lease cannot overwrite its successor's versions).
    /// Answers the new revision.
    pub async fn announce(
        &self,
        published: &Published,
        expected: Option<u64>,
    ) -> Result<Option<u64>, FleetError> {
        let body =
            serde_json::to_vec(published).map_err(|e| js_err("encode the manifest entry", e))?;
        let what = "announce the version";
        match expected {
            None => within(self.timeout, what, self.manifest.put(ACTIVE, body.into()))
                .await?
                .map(Some)
                .map_err(|e| js_err(what, e)),
            Some(0) => match within(
                self.timeout,
                what,
                self.manifest.create(ACTIVE, body.into()),
            )
            .await?
            {
                Ok(r) => Ok(Some(r)),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
                Err(e) => Err(js_err(what, e)),
            },
            Some(revision) => {
                match within(
                    self.timeout,
                    what,
                    self.manifest.update(ACTIVE, body.into(), revision),
                )
                .await?
                {
                    Ok(r) => Ok(Some(r)),
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(None),
                    Err(e) => Err(js_err(what, e)),
                }
            }
        }
    }

    /// The file of `entry`'s version, checked against the entry's size and
    /// CRC-32.
    pub async fn fetch(&self, entry: &VersionEntry) -> Result<Vec<u8>, FleetError> {
        let version = entry.id();
        let mut object = within(
            self.timeout,
            "fetch a model file",
            self.files.get(version.to_string()),
        )
        .await?
        .map_err(|e| js_err("fetch a model file", e))?;
        let mut bytes = Vec::new();
        within(
            self.timeout,
            "read a model file",
            object.read_to_end(&mut bytes),
        )
        .await?
        .map_err(|e| js_err("read a model file", e))?;
        let crc = crc32fast::hash(&bytes);
        if bytes.len() as u64 != entry.file_size || crc != entry.crc32 {
            return Err(FleetError::Damaged {
                version,
                problem: format!(
                    "{} bytes with CRC-32 {crc:#010x}; the manifest says {} bytes, {:#010x}",
                    bytes.len(),
                    entry.file_size,
                    entry.crc32
                ),
            });
        }
        Ok(bytes)
    }

    /// The active version now, if one was published.
    pub async fn active(&self) -> Result<Option<Published>, FleetError> {
        self.read_key(ACTIVE.into(), "read the manifest", decode)
            .await
    }

    /// The value at `key` (none: absent or deleted), read as `decode` says
    /// (`what` names the call in errors).
    async fn read_key<T>(
        &self,
        key: String,
        what: &'static str,
        decode: fn(&[u8], u64) -> Result<T, FleetError>,
    ) -> Result<Option<T>, FleetError> {
        let entry = within(self.timeout, what, self.manifest.entry(key))
            .await?
            .map_err(|e| js_err(what, e))?;
        entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| decode(&e.value, e.revision))
            .transpose()
    }

    /// Every later announcement, in order, as it comes (a replica hot-swaps
    /// each into its serving set).
    pub async fn watch(
        &self,
    ) -> Result<impl futures::Stream<Item = Result<Published, FleetError>> + use<>, FleetError>
    {
        self.watch_key(ACTIVE, decode).await
    }

    /// Records `entry` in the fleet's list of versions (key
    /// `version.<id>`), so that any replica can make it active later.
    pub async fn record(&self, entry: &VersionEntry) -> Result<(), FleetError> {
        let body = serde_json::to_vec(entry).map_err(|e| js_err("encode a version's entry", e))?;
        within(
            self.timeout,
            "record a version",
            self.manifest.put(version_key(entry.id()), body.into()),
        )
        .await?
        .map_err(|e| js_err("record a version", e))?;
        Ok(())
    }

    /// The recorded entry of `version`, if the fleet has it.
    pub async fn recorded(
        &self,
        version: crate::store::VersionId,
    ) -> Result<Option<VersionEntry>, FleetError> {
        self.read_key(
            version_key(version),
            "read a version's entry",
            |value, _| {
                serde_json::from_slice(value).map_err(|e| js_err("decode a version's entry", e))
            },
        )
        .await
    }

    /// Removes `version` from the fleet's list and its file from the
    /// object store.
    pub async fn forget(&self, version: crate::store::VersionId) -> Result<(), FleetError> {
        within(
            self.timeout,
            "forget a version",
            self.manifest.delete(version_key(version)),
        )
        .await?
        .map_err(|e| js_err("forget a version", e))?;
        self.remove_file(version).await
    }

    /// The A/B roles now (none set: no challenger, no shadow).
    pub async fn roles(&self) -> Result<Roles, FleetError> {
        Ok(self
            .read_key(ROLES.into(), "read the A/B roles", decode_roles)
            .await?
            .unwrap_or_default())
    }

    /// Sets the A/B roles of the whole fleet.
    pub async fn put_roles(&self, roles: &Roles) -> Result<u64, FleetError> {
        let body = serde_json::to_vec(roles).map_err(|e| js_err("encode the A/B roles", e))?;
        within(
            self.timeout,
            "set the A/B roles",
            self.manifest.put(ROLES, body.into()),
        )
        .await?
        .map_err(|e| js_err("set the A/B roles", e))
    }

    /// Every later change of the A/B roles, as it comes.
    pub async fn watch_roles(
        &self,
    ) -> Result<impl futures::Stream<Item = Result<Roles, FleetError>> + use<>, FleetError> {
        self.watch_key(ROLES, decode_roles).await
    }

    async fn watch_key<T: Send + 'static>(
        &self,
        key: &'static str,
        decode: fn(&[u8], u64) -> Result<T, FleetError>,
    ) -> Result<impl futures::Stream<Item = Result<T, FleetError>> + use<T>, FleetError> {
        let updates = within(self.timeout, "watch the manifest", self.manifest.watch(key))
            .await?
            .map_err(|e| js_err("watch the manifest", e))?;
        Ok(updates
            .filter_map(move |update| async move {
                match update {
                    Ok(e) if e.operation == kv::Operation::Put => {
                        Some(decode(&e.value, e.revision))
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(js_err("watch the manifest", e))),
                }
            })
            .boxed())
    }
}

/// The manifest bucket's key of a version's entry.
fn version_key(version: crate::store::VersionId) -> String {
    format!("version.{version}")
}

fn decode_roles(value: &[u8], _revision: u64) -> Result<Roles, FleetError> {
    serde_json::from_slice(value).map_err(|e| js_err("decode the A/B roles", e))
}

fn decode(value: &[u8], revision: u64) -> Result<Published, FleetError> {
    let mut p: Published =
        serde_json::from_slice(value).map_err(|e| js_err("decode the manifest entry", e))?;
    p.revision = revision;
    Ok(p)
}
