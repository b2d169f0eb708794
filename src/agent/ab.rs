//! A/B tests on the handle: keyed predictions, outcomes, challenger and
//! shadow.

use super::*;

impl Agent {
    /// Predicts for a caller-given key (user or query id) under the A/B
    /// test: the key is assigned, stickily, to the challenger when it hashes
    /// into its traffic share, else to the champion; the shadow (if any)
    /// scores the rows too, never answering. Report the outcomes with
    /// [`Agent::feedback`] and the returned `request_id`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
    /// let p = agent.predict_keyed("user-7", &[0.5, 1.0])?;
    /// assert_eq!(p.variant, refit::serving::Variant::Champion); // no challenger yet
    /// agent.feedback(p.request_id.unwrap(), &[1.0])?;
    /// assert_eq!(agent.ab_stats()?.variants[0].samples, 1);
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn predict_keyed(&self, key: &str, rows: &[f32]) -> Result<Prediction, AgentError> {
        self.live()?;
        self.dense_only()?;
        let serving = self.inner.serving.load();
        let x = Batch::new(rows, self.inner.spec.width())?;
        let multiclass = self.inner.spec.is_multiclass();
        let classes = self.inner.spec.classes.len();
        let (variant, version, (values, probabilities)) = match &serving.challenger {
            Some((challenger, share))
                if crate::serving::assign(key, *share) == Variant::Challenger =>
            {
                let answer = if multiclass {
                    super::top_classes(challenger.snapshot.predict_proba(x.into())?, classes)
                } else {
                    (challenger.snapshot.predict(x.into())?, None)
                };
                (Variant::Challenger, challenger.version, answer)
            }
            _ => {
                let answer = if multiclass {
                    super::top_classes(serving.champion_proba(&x)?, classes)
                } else {
                    (serving.champion_predict(&x)?, None)
                };
                (Variant::Champion, serving.champion.version, answer)
            }
        };
        let kept = self.kept(rows);
        self.keyed_answer(
            &serving,
            x.into(),
            (variant, version, values, probabilities),
            kept,
            None,
        )
    }

    /// A keyed prediction's answer: the shadow scores the rows too, and
    /// the prediction is recorded for its outcomes (with the rows kept
    /// for delayed labels, and a ranking's documents).
    fn keyed_answer(
        &self,
        serving: &crate::serving::ServingSet,
        x: refit_plugin::Input<'_>,
        (variant, version, values, probabilities): (Variant, VersionId, Vec<f32>, Option<Vec<f32>>),
        rows: Option<crate::rows::Rows>,
        docs: Option<Vec<String>>,
    ) -> Result<Prediction, AgentError> {
        let mut scored = vec![(variant, version, values.clone())];
        if let Some(shadow) = &serving.shadow {
            scored.push((Variant::Shadow, shadow.version, shadow.snapshot.predict(x)?));
        }
        let request_id = self.record_with(scored, rows, docs);
        Ok(Prediction {
            values,
            probabilities,
            version,
            variant,
            ensemble: (variant == Variant::Champion)
                .then(|| ensemble_of(serving))
                .flatten(),
            request_id,
        })
    }

    /// [`Agent::predict_keyed`] for sparse rows (a sparse model): the
    /// challenger answers keys in its share, the shadow scores too, and
    /// `feedback(request_id, labels)` reports the outcomes.
    pub fn predict_sparse_keyed(
        &self,
        key: &str,
        rows: &crate::rows::SparseRows,
    ) -> Result<Prediction, AgentError> {
        self.keyed_sparse(key, rows, None)
    }

    /// The keyed sparse prediction, recorded with a ranking's documents
    /// when given.
    pub(crate) fn keyed_sparse(
        &self,
        key: &str,
        rows: &crate::rows::SparseRows,
        docs: Option<Vec<String>>,
    ) -> Result<Prediction, AgentError> {
        self.live()?;
        self.require_input(refit_plugin::InputKind::Sparse)?;
        let x = rows.batch_for(self.inner.input.1)?;
        let serving = self.inner.serving.load();
        let (variant, version, values) = match &serving.challenger {
            Some((challenger, share))
                if crate::serving::assign(key, *share) == Variant::Challenger =>
            {
                (
                    Variant::Challenger,
                    challenger.version,
                    challenger.snapshot.predict(x.into())?,
                )
            }
            _ => (
                Variant::Champion,
                serving.champion.version,
                serving.champion_with(|p| p.predict(x.into()))?,
            ),
        };
        self.keyed_answer(
            &serving,
            x.into(),
            (variant, version, values, None),
            None,
            docs,
        )
    }

    /// Records a prediction for its feedback (its rows too under
    /// `[feedback] enabled`); answers its request id, none when the serving
    /// actor's mailbox (MAILBOX_CAPACITY) is full: the prediction is then
    /// answered without an id rather than queue without end.
    pub(crate) fn record(
        &self,
        scored: Vec<(Variant, VersionId, Vec<f32>)>,
        rows: &[f32],
    ) -> Option<u64> {
        self.record_with(scored, self.kept(rows), None)
    }

    /// The rows a prediction keeps for delayed labels (`[feedback]
    /// enabled`), or none.
    fn kept(&self, rows: &[f32]) -> Option<crate::rows::Rows> {
        self.inner
            .keep_rows
            .then(|| crate::rows::Rows::Dense(rows.to_vec()))
    }

    /// [`Agent::record`] of any prediction: its kept rows, and a ranking's
    /// documents.
    pub(crate) fn record_with(
        &self,
        scored: Vec<(Variant, VersionId, Vec<f32>)>,
        rows: Option<crate::rows::Rows>,
        docs: Option<Vec<String>>,
    ) -> Option<u64> {
        // Unguessable: 53 random bits (exact as a JSON number anywhere)
        // from the thread's cryptographically secure generator, seeded by
        // the operating system; not a counter.
        let request_id: u64 = rand::Rng::random::<u64>(&mut rand::rng()) >> 11;
        let recorded = self
            .inner
            .addrs
            .server
            .try_send(RecordKeyed {
                request_id,
                scored,
                rows,
                docs,
                at_ms: self.inner.clock.now_ms(),
            })
            .is_ok();
        if !recorded {
            tracing::warn!("prediction not recorded: the serving actor's mailbox is full");
        }
        recorded.then_some(request_id)
    }

    /// Reports the outcomes (one label per predicted row) of a prediction
    /// with a `request_id`; they count for the variant that answered (and
    /// the shadow), and the guardrail may demote a worse challenger. Under
    /// `[feedback] enabled`, the prediction's rows with these labels also
    /// become training samples, through ingest and the sample log like any
    /// other (an ingest error, such as back-pressure, is returned; the
    /// outcome was counted). An unknown, answered or expired id is
    /// [`AgentError::UnknownRequest`].
    pub fn feedback(&self, request_id: u64, labels: &[f32]) -> Result<usize, AgentError> {
        self.live()?;
        let (counted, rows) = block(self.inner.addrs.server.send(Feedback {
            request_id,
            labels: labels.to_vec(),
        }))??;
        if let Some(rows) = rows {
            self.ingest_rows(|| rows.clone(), labels)?;
        }
        Ok(counted)
    }

    /// Counts the clicks on a keyed ranking's documents as outcomes.
    pub(crate) fn click_outcomes(
        &self,
        outcomes: crate::messages::ClickOutcomes,
    ) -> Result<usize, AgentError> {
        self.live()?;
        block(self.inner.addrs.server.send(outcomes))?
    }

    /// A/B counters and per-variant outcome metrics.
    pub fn ab_stats(&self) -> Result<AbStats, AgentError> {
        self.live()?;
        block(self.inner.addrs.server.send(GetAbStats))
    }

    /// Starts an A/B test: the stored `version` answers keys that hash into
    /// `share` (0 to 1) of the traffic. Replaces any challenger. In fleet
    /// mode, every replica runs the test.
    pub fn set_challenger(&self, version: VersionId, share: f64) -> Result<(), AgentError> {
        self.live()?;
        if !(0.0..=1.0).contains(&share) {
            return Err(AgentError::InvalidArgument(format!(
                "challenger share {share} must be in [0, 1]"
            )));
        }
        if let Some(done) =
            self.role_in_fleet(super::fleet::AbRole::Challenger(Some((version, share))))
        {
            return done;
        }
        let served = self.served(version)?;
        block(
            self.inner
                .addrs
                .server
                .send(SetServingRole::Challenger(Some((served, share)))),
        )
    }

    /// Ends the A/B test without a change of champion (in fleet mode, on
    /// every replica).
    pub fn clear_challenger(&self) -> Result<(), AgentError> {
        self.live()?;
        if let Some(done) = self.role_in_fleet(super::fleet::AbRole::Challenger(None)) {
            return done;
        }
        block(
            self.inner
                .addrs
                .server
                .send(SetServingRole::Challenger(None)),
        )
    }

    /// Scores keyed requests with the stored `version` too, never returning
    /// its answers (`None` removes the shadow). In fleet mode, on every
    /// replica.
    pub fn set_shadow(&self, version: Option<VersionId>) -> Result<(), AgentError> {
        self.live()?;
        if let Some(done) = self.role_in_fleet(super::fleet::AbRole::Shadow(version)) {
            return done;
        }
        let served = version.map(|v| self.served(v)).transpose()?;
        block(self.inner.addrs.server.send(SetServingRole::Shadow(served)))
    }

    /// Makes the challenger the champion (as a rollback to its version:
    /// served for all traffic, online training continues from it) and ends
    /// the A/B test.
    pub fn promote_challenger(&self) -> Result<VersionEntry, AgentError> {
        self.live()?;
        let Some((challenger, _)) = self.inner.serving.load().challenger.clone() else {
            return Err(AgentError::NoChallenger);
        };
        let entry = self.rollback(challenger.version)?;
        // In a fleet, the test ends on every replica.
        if let Some(done) = self.role_in_fleet(super::fleet::AbRole::Challenger(None)) {
            done?;
        }
        block(
            self.inner
                .addrs
                .server
                .send(SetServingRole::ChampionFromChallenger),
        )?;
        Ok(entry)
    }
}
