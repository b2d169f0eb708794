//! Versions on the handle: listing, rollback, offline training, loading a
//! stored version.

use super::*;
use crate::error::check_stored_spec;

/// A stored version's entry, file and loaded model.
pub(super) type Stored = (VersionEntry, Vec<u8>, Box<dyn Model>);

impl Agent {
    /// The stored `version`, loaded and checked against the configured
    /// model (for a serving role, or a rollback).
    pub(super) fn load_stored(&self, version: VersionId) -> Result<Box<dyn Model>, AgentError> {
        Ok(self.read_stored(version)?.2)
    }

    /// The stored `version`'s entry, file and loaded model, checked
    /// against the configured model: the file is read once.
    pub(super) fn read_stored(&self, version: VersionId) -> Result<Stored, AgentError> {
        let (entry, bytes) = self.inner.store.read_version(version)?;
        let model = self
            .inner
            .plugins
            .load(&bytes)
            .map_err(|source| AgentError::Unreadable { version, source })?;
        check_stored_spec(&version, model.spec(), &self.inner.spec)?;
        Ok((entry, bytes, model))
    }

    pub(super) fn served(&self, version: VersionId) -> Result<Served, AgentError> {
        let model = self.load_stored(version)?;
        Ok(Served {
            snapshot: model.snapshot(),
            version,
        })
    }

    /// Makes a kept version (an online checkpoint or an offline version)
    /// active: it is served at once, online training continues from it, and
    /// the next checkpoint records it as its parent. The file is checked
    /// against the manifest's checksum first, and a model of another kind or
    /// with other features is refused; either way nothing changes on error.
    ///
    /// In fleet mode the version becomes active in the whole fleet: every
    /// replica serves it, and the trainer continues from it.
    pub fn rollback(&self, version: VersionId) -> Result<VersionEntry, AgentError> {
        self.live()?;
        if let Some(done) = self.activate_in_fleet(version) {
            return done;
        }
        let model = self.load_stored(version)?;
        // The Trainer activates it in the store and swaps it in between two
        // updates, so no update in flight can undo the rollback.
        let entry = block(self.inner.addrs.trainer.send(ResumeFrom { model, version }))??;
        if let Some(r) = self.inner.store.drift_reference(&entry) {
            block(self.inner.addrs.drift.send(UseStoredReference(r)))??;
        }
        self.sync()?;
        Ok(entry)
    }

    /// Trains a fresh model on a full data set (`rows` row-major, the
    /// agent's features): `[offline]` epochs over the rows but the newest
    /// `offline.holdout` share, which gives the version's metric. The model
    /// is saved as the next offline version and becomes active: it is
    /// served, online learning continues from it, and the drift reference is
    /// re-based on its training rows. Online updates wait meanwhile.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// let s = refit::demo::churn(1, 5_000);
    /// let agent = refit::Agent::builder(config).features(s.features.clone()).start()?;
    /// let report = agent.train_offline(&s.x, &s.y)?;
    /// assert_eq!(report.version.to_string(), "v1");
    /// assert_eq!(agent.predict(&s.x[..8])?.version, report.version);
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn train_offline(&self, rows: &[f32], labels: &[f32]) -> Result<OfflineReport, AgentError> {
        self.dense_only()?;
        self.train_offline_rows(Rows::Dense(rows.to_vec()), labels)
    }

    /// [`Agent::train_offline`] for a sparse model (e.g. a day of hashed
    /// click events): the next offline version, e.g.
    /// `models/ctr_offline/ctr_model_v1.refit`.
    pub fn train_offline_sparse(
        &self,
        rows: SparseRows,
        labels: &[f32],
    ) -> Result<OfflineReport, AgentError> {
        self.train_offline_rows(Rows::Sparse(rows), labels)
    }

    fn train_offline_rows(&self, rows: Rows, labels: &[f32]) -> Result<OfflineReport, AgentError> {
        self.live()?;
        let report = block(self.inner.addrs.trainer.send(TrainOffline {
            rows,
            labels: labels.to_vec(),
            reason: "manual".into(),
        }))??;
        self.sync()?;
        Ok(report)
    }

    /// Starts an offline training from the sample log now (its newest
    /// `retrain.max_rows` samples, dense or sparse) without waiting for it:
    /// answers the samples it trains on. Its progress and result are
    /// events: `RetrainTriggered` (reason `"requested"`), `OfflineProgress`
    /// per epoch, then `OfflineTrained` (the new version is active) or
    /// `RetrainFailed`. One offline training runs at a time.
    pub fn start_retrain(&self) -> Result<usize, AgentError> {
        self.live()?;
        block(self.inner.addrs.trainer.send(StartTraining {
            rows: None,
            reason: "requested".into(),
        }))?
    }

    /// [`Agent::start_retrain`] on dense rows the host gives (reason
    /// `"upload"`), checked before it starts.
    pub fn start_training(&self, rows: &[f32], labels: &[f32]) -> Result<usize, AgentError> {
        self.live()?;
        self.dense_only()?;
        let x = refit_plugin::Batch::new(rows, self.inner.spec.width())?;
        refit_plugin::validate::labels(&self.inner.spec, x.rows(), labels)?;
        block(self.inner.addrs.trainer.send(StartTraining {
            rows: Some((Rows::Dense(rows.to_vec()), labels.to_vec())),
            reason: "upload".into(),
        }))?
    }

    /// The versions in the store, offline first, with their active marker.
    pub fn versions(&self) -> Result<Vec<Listed>, AgentError> {
        Ok(self.inner.store.list()?)
    }
}
