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
use crate::rows::SparseRows;
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
    pub fn record_clicks(&self, clicks: &[Click]) -> Result<IngestAck, AgentError> {
        let mut h = self.click_hasher()?;
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
        let mut h = self.click_hasher()?;
        if doc_ids.is_empty() {
            return Err(AgentError::Plugin(PluginError::EmptyBatch));
        }
        let mut rows = SparseRows::new(h.dim());
        let q = h.query(query);
        for d in doc_ids {
            h.push_doc(&mut rows, &q, d.as_ref(), None, &[]);
        }
        let p = self.predict_sparse(&rows)?;
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
        })
    }
}
