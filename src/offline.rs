//! Offline training: a model from scratch on a full data set, several
//! shuffled passes of `partial_fit`, and its metric on a holdout of the
//! newest rows. The Trainer runs it for `Agent::train_offline`,
//! `refit train --offline` and full retrains.
//!
//! ```
//! use refit::config::OfflineConfig;
//! use refit::plugins::{self, ModelSpec, Params, Task};
//! let s = refit::demo::churn(1, 4_000);
//! let spec = ModelSpec::new("logistic", Task::Classification, s.features.clone());
//! let mut model = plugins::builtin().create(spec, &Params::new()).unwrap();
//! // The logistic kind's moderate rate (AdaGrad), as the agent would pick.
//! let config = OfflineConfig { learning_rate: Some(0.2), ..OfflineConfig::default() };
//! let report = refit::offline::train(model.as_mut(), &s.x, &s.y, &config).unwrap();
//! assert_eq!((report.train_rows, report.holdout_rows), (3_200, 800));
//! let Some(refit::metrics::Scores::Classification { auc: Some(auc), .. }) = report.holdout else {
//!     panic!("a classifier's holdout")
//! };
//! assert!(auc > 0.8);
//! ```

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use refit_plugin::{Batch, Model, PluginError};
use serde::Serialize;

use crate::config::OfflineConfig;
use crate::metrics::Scores;
use crate::rows::{Rows, SparseRows};

/// The offline rate when [`OfflineConfig::learning_rate`] is unset: the
/// moderate rate of constant SGD.
pub const DEFAULT_LEARNING_RATE: f32 = refit_plugin::LearningRates::SGD.moderate;

/// What an offline training did.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Trained {
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows held out.
    pub holdout_rows: usize,
    /// Passes made.
    pub epochs: usize,
    /// The learning rate used.
    pub learning_rate: f32,
    /// Metrics on the holdout (none without one).
    pub holdout: Option<Scores>,
}

/// Trains `model` on `rows`/`labels` (row-major) as `config` says: the last
/// `holdout` share of the rows is held out, the rest is shuffled (seeded)
/// and fed `epochs` times in calls of `batch_size` rows, at
/// `config.learning_rate` (unset: [`DEFAULT_LEARNING_RATE`]; the agent sets
/// the model kind's moderate rate).
pub fn train(
    model: &mut dyn Model,
    rows: &[f32],
    labels: &[f32],
    config: &OfflineConfig,
) -> Result<Trained, PluginError> {
    train_rows(model, &Rows::Dense(rows.to_vec()), labels, config)
}

/// [`train`] on dense or sparse rows, as the model takes them.
pub fn train_rows(
    model: &mut dyn Model,
    rows: &Rows,
    labels: &[f32],
    config: &OfflineConfig,
) -> Result<Trained, PluginError> {
    train_rows_with(model, rows, labels, config, |_, _| {})
}

/// [`train_rows`], calling `progress(epoch, epochs)` after each epoch
/// (from 1).
pub fn train_rows_with(
    model: &mut dyn Model,
    rows: &Rows,
    labels: &[f32],
    config: &OfflineConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<Trained, PluginError> {
    let width = model.spec().width();
    match rows {
        _ if rows.kind() != model.input() => {
            return Err(rows.mismatch(model.spec(), model.input()));
        }
        // Rows of the wrong width are refused, not cut short.
        Rows::Dense(v) => {
            Batch::new(v, width)?;
        }
        Rows::Sparse(s) => {
            s.batch()?;
        }
    }
    let n = rows.count(width);
    if n != labels.len() {
        return Err(PluginError::LabelCount {
            rows: n,
            labels: labels.len(),
        });
    }
    let holdout_rows = ((n as f64) * config.holdout).floor() as usize;
    let train_rows = n - holdout_rows;
    if train_rows == 0 {
        return Err(PluginError::EmptyBatch);
    }
    let mut order: Vec<usize> = (0..train_rows).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut y = Vec::with_capacity(config.batch_size);
    let lr = config.learning_rate.unwrap_or(DEFAULT_LEARNING_RATE);
    for epoch in 1..=config.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(config.batch_size) {
            y.clear();
            y.extend(chunk.iter().map(|&i| labels[i]));
            gather(rows, chunk, width).fit(model, width, &y, lr)?;
        }
        progress(epoch, config.epochs);
    }
    let holdout = if holdout_rows > 0 {
        let held: Vec<usize> = (train_rows..n).collect();
        let scored = gather(rows, &held, width).score(
            model.snapshot().as_ref(),
            width,
            &labels[train_rows..],
        )?;
        Some(Scores::of_scored(model.spec(), &scored))
    } else {
        None
    };
    Ok(Trained {
        train_rows,
        holdout_rows,
        epochs: config.epochs,
        learning_rate: lr,
        holdout,
    })
}

/// Rows `which` of `rows`, in that order.
fn gather(rows: &Rows, which: &[usize], width: usize) -> Rows {
    match rows {
        Rows::Dense(v) => Rows::Dense(
            which
                .iter()
                .flat_map(|&i| &v[i * width..(i + 1) * width])
                .copied()
                .collect(),
        ),
        Rows::Sparse(s) => {
            let mut out = SparseRows::new(s.dim);
            for &i in which {
                let (a, b) = (s.offsets[i], s.offsets[i + 1]);
                out.push(&s.indices[a..b], &s.values[a..b]);
            }
            Rows::Sparse(out)
        }
    }
}
