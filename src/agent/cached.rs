//! [`CachedPredictor`]: the serving snapshot cached in a per-thread handle,
//! for the hottest prediction loops.

use std::sync::Arc;

use arc_swap::{ArcSwap, Cache};
use refit_plugin::{InputKind, PluginError, Row};

use crate::agent::{Agent, AgentError};
use crate::serving::ServingSet;
use crate::store::VersionId;

/// A handle that predicts into a caller's buffer, like
/// [`Agent::predict_into`], and keeps the serving snapshot it last saw:
/// each call only checks that the snapshot is still the one served (one
/// atomic load) instead of taking a new guard on it. Updates are picked
/// up at the next call. One per thread (`&mut self`); get it from
/// [`Agent::cached_predictor`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let mut config = refit::config::Config::default();
/// # config.agent.data_dir = dir.path().to_owned();
/// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
/// let mut predictor = agent.cached_predictor();
/// let mut out = [0.0f32; 1];
/// predictor.predict_into(&[0.5, 1.0], &mut out)?;
/// assert_eq!(out.to_vec(), agent.predict(&[0.5, 1.0])?.values);
/// agent.shutdown()?;
/// # Ok::<(), refit::AgentError>(())
/// ```
pub struct CachedPredictor {
    agent: Agent,
    cache: Cache<Arc<ArcSwap<ServingSet>>, Arc<ServingSet>>,
    /// The model's features (0 for a sparse model, whose rows are refused).
    width: usize,
}

impl CachedPredictor {
    pub(crate) fn new(agent: Agent, serving: Arc<ArcSwap<ServingSet>>) -> Self {
        let width = match agent.inner.input {
            (InputKind::Dense, width) => width,
            (InputKind::Sparse, _) => 0,
        };
        Self {
            agent,
            cache: Cache::new(serving),
            width,
        }
    }

    /// Predicts `rows` (row-major) into `out`, one value per row, with the
    /// serving snapshot; returns the version that answered.
    pub fn predict_into(&mut self, rows: &[f32], out: &mut [f32]) -> Result<VersionId, AgentError> {
        if self.width == 0 {
            self.agent.dense_only()?;
        }
        predict_rows_into(self.cache.load(), rows, self.width, out)
    }

    /// Predicts one dense row with the serving snapshot.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut config = refit::config::Config::default();
    /// # config.agent.data_dir = dir.path().to_owned();
    /// let agent = refit::Agent::builder(config).features(["a", "b"]).start()?;
    /// let mut predictor = agent.cached_predictor();
    /// assert_eq!(predictor.predict_row(&[0.5, 1.0])?, agent.predict(&[0.5, 1.0])?.values[0]);
    /// assert!(predictor.predict_row(&[0.5]).is_err());
    /// agent.shutdown()?;
    /// # Ok::<(), refit::AgentError>(())
    /// ```
    pub fn predict_row(&mut self, row: &[f32]) -> Result<f32, AgentError> {
        if self.width == 0 {
            self.agent.dense_only()?;
        }
        if row.len() != self.width {
            return Err(PluginError::WidthMismatch {
                expected: self.width,
                got: row.len(),
            }
            .into());
        }
        Ok(self.cache.load().champion_row(Row::Dense(row))?)
    }
}

/// The champion's answers for dense `rows` of `width` features into `out`
/// (see [`Agent::predict_into`]).
pub(crate) fn predict_rows_into(
    serving: &ServingSet,
    rows: &[f32],
    width: usize,
    out: &mut [f32],
) -> Result<VersionId, AgentError> {
    if out.is_empty() {
        return Err(PluginError::EmptyBatch.into());
    }
    if width == 0 || rows.len() != out.len() * width {
        return Err(AgentError::InvalidArgument(format!(
            "{} values are not {} rows of {width} features",
            rows.len(),
            out.len()
        )));
    }
    for (i, (row, answer)) in rows.chunks_exact(width).zip(out.iter_mut()).enumerate() {
        *answer = serving
            .champion_row(Row::Dense(row))
            .map_err(|e| e.at_row(i))?;
    }
    Ok(serving.champion.version)
}
