//! Rows and labels as users hold them ([`crate::schema`]) on the handle:
//! objects keyed by feature name or arrays, text categories, class names.

use serde_json::Value;

use super::*;

impl Agent {
    /// Feeds rows as JSON values: objects keyed by feature name (a missing
    /// key or `null` is a missing value) or arrays in feature order, with
    /// numbers and, for categorical features, text levels; labels are
    /// numbers or, for a model with classes, class names. As
    /// [`Agent::ingest`] otherwise; a row or label that does not fit the
    /// schema is refused whole with an error naming it.
    ///
    /// ```
    /// use serde_json::json;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// config.model.features = vec!["plan".into(), "tenure".into()];
    /// config.model.preprocessing.features.insert("plan".into(), refit::plugins::preprocess::FeatureOverride {
    ///     kind: Some(refit::plugins::preprocess::FeatureType::Categorical),
    ///     ..Default::default()
    /// });
    /// let agent = refit::Agent::start(config)?;
    /// agent.ingest_named(&[json!({"plan": "gold", "tenure": 3}), json!({"tenure": 1, "plan": "basic"})], &[json!(1), json!(0)])?;
    /// let p = agent.predict_named(&[json!({"plan": "platinum", "tenure": 2})])?; // unseen level: no error
    /// assert_eq!(p.values.len(), 1);
    /// let err = agent.ingest_named(&[json!({"plan": "gold", "tenure": "long"})], &[json!(1)]).unwrap_err();
    /// assert!(err.to_string().contains("feature `tenure`"), "{err}");
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn ingest_named(&self, rows: &[Value], labels: &[Value]) -> Result<IngestAck, AgentError> {
        let (rows, labels) = self.encode_named(rows, Some(labels))?;
        self.ingest(&rows, &labels)
    }

    /// [`Agent::ingest_named`] under the caller's key for this call (see
    /// [`Agent::ingest_once`]).
    pub fn ingest_named_once(
        &self,
        key: &str,
        rows: &[Value],
        labels: &[Value],
    ) -> Result<IngestAck, AgentError> {
        let (rows, labels) = self.encode_named(rows, Some(labels))?;
        self.ingest_once(key, &rows, &labels)
    }

    /// Predicts rows given as JSON values (see [`Agent::ingest_named`]).
    pub fn predict_named(&self, rows: &[Value]) -> Result<Prediction, AgentError> {
        let (rows, _) = self.encode_named(rows, None)?;
        self.predict(&rows)
    }

    /// [`Agent::predict_keyed`] for rows given as JSON values.
    pub fn predict_keyed_named(&self, key: &str, rows: &[Value]) -> Result<Prediction, AgentError> {
        let (rows, _) = self.encode_named(rows, None)?;
        self.predict_keyed(key, &rows)
    }

    /// [`Agent::feedback`] with labels as numbers or class names.
    pub fn feedback_named(&self, request_id: u64, labels: &[Value]) -> Result<usize, AgentError> {
        let labels = crate::schema::encode_labels(&self.inner.spec, labels)
            .map_err(AgentError::InvalidArgument)?;
        self.feedback(request_id, &labels)
    }

    /// Rows (and labels) as the dense model takes them (the HTTP API's
    /// path too).
    pub(crate) fn encode_named(
        &self,
        rows: &[Value],
        labels: Option<&[Value]>,
    ) -> Result<(Vec<f32>, Vec<f32>), AgentError> {
        self.require_input(InputKind::Dense)?;
        let spec = &self.inner.spec;
        let x = crate::schema::encode_rows(spec, rows).map_err(AgentError::InvalidArgument)?;
        let y = match labels {
            Some(l) => {
                crate::schema::encode_labels(spec, l).map_err(AgentError::InvalidArgument)?
            }
            None => Vec::new(),
        };
        Ok((x, y))
    }
}
