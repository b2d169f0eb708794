//! Click-through rates from a search service's own click log: click events
//! become sparse rows by the hashing trick ([`hashing`]), a sparse model
//! (`kind = "ftrl"`) learns them with the agent's usual trigger (an update
//! once `online.min_samples_per_update` new samples have arrived, exactly
//! that many with `online.cold_start = false`), and [`Agent::rank`] orders
//! a query's documents by the newest model at once.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! let mut config = refit::config::Config::from_toml_str(
//!     "[agent]\nname = \"ctr\"\nfile_prefix = \"ctr_model\"\n[model]\nkind = \"ftrl\"\n[model.params]\nbits = 16\n[online]\nmin_samples_per_update = 100\ncold_start = false\n",
//! )?;
//! # config.agent.data_dir = dir.path().to_owned();
//! let agent = refit::Agent::start(config)?;
//! for _ in 0..60 {
//!     agent.record_click("red shoes", "doc-1", 1, true)?;
//!     agent.record_click("red shoes", "doc-2", 2, false)?;
//! }
//! agent.flush()?;
//! let ranking = agent.rank("red shoes", &["doc-2", "doc-1"])?;
//! assert_eq!(ranking.docs[0].doc_id, "doc-1");
//! assert_eq!(ranking.version.to_string(), "online_002"); // 100 clicks, then the flush
//! agent.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod hashing;
#[cfg(feature = "demo")]
pub mod simulation;

pub use hashing::ClickHasher;

use refit_plugin::{InputKind, PluginError};
use serde::Serialize;

use crate::agent::{Agent, AgentError};
use crate::events::IngestAck;
use crate::messages::ClickOutcomes;
use crate::rows::SparseRows;
use crate::serving::Variant;
use crate::store::VersionId;

/// One click event: a document shown for a query at a position (1-based),
/// clicked or not.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct Click {
    /// The query as the user typed it.
    pub query: String,
    /// The document shown.
    pub doc_id: String,
    /// Where it was shown, from 1.
    pub position: u32,
    /// Whether it was clicked.
    pub clicked: bool,
    /// The keyed ranking it was shown in ([`Agent::rank_keyed`]): the
    /// click then also counts as an outcome of the variant that ranked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<u64>,
}

/// A document and its predicted click-through rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// The document.
    pub doc_id: String,
    /// Predicted CTR, position bias removed.
    pub score: f32,
}

/// A query's documents, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// The documents by descending score (ties keep the given order).
    pub docs: Vec<Ranked>,
    /// The version that scored them.
    pub version: VersionId,
    /// The offline version blended in, when the ensemble is on.
    pub ensemble: Option<VersionId>,
    /// Champion or challenger (keyed rankings, [`Agent::rank_keyed`]).
    pub variant: Variant,
    /// The id the ranking's clicks report their outcomes with (keyed
    /// rankings; see [`Click::request_id`]).
    pub request_id: Option<u64>,
}

impl Agent {
    /// The hasher of a sparse model's coordinates, or the error for a dense
    /// model.
    fn click_hasher(&self) -> Result<ClickHasher, AgentError> {
        self.require_input(InputKind::Sparse)?;
        let dim = self.input().1;
        ClickHasher::for_dim(dim).ok_or_else(|| {
            AgentError::Plugin(PluginError::BadSparse(format!(
                "the model's {dim} coordinates are not a power of two, so clicks cannot be hashed into them"
            )))
        })
    }

    /// Records one click event (a document shown for a query): hashes
    /// it into a sparse row and ingests it with label `clicked`. Training
    /// starts by itself once `online.min_samples_per_update` new samples
    /// have arrived since the last training.
    pub fn record_click(
        &self,
        query: &str,
        doc_id: &str,
        position: u32,
        clicked: bool,
    ) -> Result<IngestAck, AgentError> {
        self.record_click_with(query, doc_id, position, clicked, &[])
    }

    /// [`Agent::record_click`] with extra numeric features from the host
    /// (hashed by name).
    pub fn record_click_with(
        &self,
        query: &str,
        doc_id: &str,
        position: u32,
        clicked: bool,
        extra: &[(&str, f32)],
    ) -> Result<IngestAck, AgentError> {
        let mut h = self.click_hasher()?;
        let mut rows = SparseRows::new(h.dim());
        h.push_click(&mut rows, query, doc_id, Some(position), extra);
        self.ingest_sparse(&rows, &[f32::from(u8::from(clicked))])
    }

    /// Records many click events in one call (one message to the agent).
    /// Clicks with a `request_id` first count as outcomes of the keyed
    /// ranking they were shown in (for the variant that ranked it); an
    /// unknown or answered id refuses the call before anything is
    /// ingested. Each ranking's outcomes are reported once.
    pub fn record_clicks(&self, clicks: &[Click]) -> Result<IngestAck, AgentError> {
        let mut h = self.click_hasher()?;
        let mut by_ranking: std::collections::BTreeMap<u64, Vec<(String, f32)>> =
            std::collections::BTreeMap::new();
        for c in clicks {
            if let Some(id) = c.request_id {
                by_ranking
                    .entry(id)
                    .or_default()
                    .push((c.doc_id.clone(), f32::from(u8::from(c.clicked))));
            }
        }
        for (request_id, outcomes) in by_ranking {
            self.click_outcomes(ClickOutcomes {
                request_id,
                outcomes,
            })?;
        }
        let mut rows = SparseRows::new(h.dim());
        let mut labels = Vec::with_capacity(clicks.len());
        for c in clicks {
            h.push_click(&mut rows, &c.query, &c.doc_id, Some(c.position), &[]);
            labels.push(f32::from(u8::from(c.clicked)));
        }
        self.ingest_sparse(&rows, &labels)
    }

    /// Orders `doc_ids` for `query` by predicted CTR with the serving model
    /// (the newest checkpoint, or the ensemble), position bias removed: the
    /// rows carry no position feature.
    pub fn rank<S: AsRef<str>>(&self, query: &str, doc_ids: &[S]) -> Result<Ranking, AgentError> {
        self.rank_with(None, query, doc_ids)
    }

    /// [`Agent::rank`] under the A/B test: the challenger ranks for keys in
    /// its share (sticky per key, as [`Agent::predict_keyed`]), the shadow
    /// scores too, and the answer's `request_id` goes with the clicks on
    /// its documents ([`Click::request_id`]), which then count for the
    /// variant that ranked them: per-variant CTR, AUC and log loss with
    /// intervals in [`Agent::ab_stats`], and the guardrail.
    pub fn rank_keyed<S: AsRef<str>>(
        &self,
        key: &str,
        query: &str,
        doc_ids: &[S],
    ) -> Result<Ranking, AgentError> {
        self.rank_with(Some(key), query, doc_ids)
    }

    fn rank_with<S: AsRef<str>>(
        &self,
        key: Option<&str>,
        query: &str,
        doc_ids: &[S],
    ) -> Result<Ranking, AgentError> {
        let mut h = self.click_hasher()?;
        if doc_ids.is_empty() {
            return Err(AgentError::Plugin(PluginError::EmptyBatch));
        }
        let mut rows = SparseRows::new(h.dim());
        let q = h.query(query);
        for d in doc_ids {
            h.push_doc(&mut rows, &q, d.as_ref(), None, &[]);
        }
        let p = match key {
            Some(key) => {
                let docs = doc_ids.iter().map(|d| d.as_ref().to_owned()).collect();
                self.keyed_sparse(key, &rows, Some(docs))?
            }
            None => self.predict_sparse(&rows)?,
        };
        let mut docs: Vec<Ranked> = doc_ids
            .iter()
            .zip(&p.values)
            .map(|(d, &score)| Ranked {
                doc_id: d.as_ref().to_owned(),
                score,
            })
            .collect();
        docs.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(Ranking {
            docs,
            version: p.version,
            ensemble: p.ensemble,
            variant: p.variant,
            request_id: p.request_id,
        })
    }
}
