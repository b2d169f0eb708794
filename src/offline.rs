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
//! let report = refit::offline::train(model.as_mut(), &s.x, &s.y, &OfflineConfig::default()).unwrap();
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

/// What an offline training did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trained {
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows held out.
    pub holdout_rows: usize,
    /// Passes made.
    pub epochs: usize,
    /// Metrics on the holdout (none without one).
    pub holdout: Option<Scores>,
}

/// Trains `model` on `rows`/`labels` (row-major) as `config` says: the last
/// `holdout` share of the rows is held out, the rest is shuffled (seeded)
/// and fed `epochs` times in calls of `batch_size` rows.
pub fn train(
    model: &mut dyn Model,
    rows: &[f32],
    labels: &[f32],
    config: &OfflineConfig,
) -> Result<Trained, PluginError> {
    let width = model.spec().width();
    let all = Batch::new(rows, width)?;
    if all.rows() != labels.len() {
        return Err(PluginError::LabelCount {
            rows: all.rows(),
            labels: labels.len(),
        });
    }
    let n = labels.len();
    let holdout_rows = ((n as f64) * config.holdout).floor() as usize;
    let train_rows = n - holdout_rows;
    if train_rows == 0 {
        return Err(PluginError::EmptyBatch);
    }
    let mut order: Vec<usize> = (0..train_rows).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let (mut x, mut y) = (
        Vec::with_capacity(config.batch_size * width),
        Vec::with_capacity(config.batch_size),
    );
    for _ in 0..config.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(config.batch_size) {
            x.clear();
            y.clear();
            for &i in chunk {
                x.extend_from_slice(&rows[i * width..(i + 1) * width]);
                y.push(labels[i]);
            }
            model.partial_fit(&Batch::new(&x, width)?, &y, config.learning_rate)?;
        }
    }
    let holdout = if holdout_rows > 0 {
        let p = model
            .snapshot()
            .predict(&Batch::new(&rows[train_rows * width..], width)?)?;
        Some(Scores::for_task(
            model.spec().task,
            &p,
            &labels[train_rows..],
        ))
    } else {
        None
    };
    Ok(Trained {
        train_rows,
        holdout_rows,
        epochs: config.epochs,
        holdout,
    })
}
