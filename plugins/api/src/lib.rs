//! `refit-plugin`: the model plugin API of refit.
//!
//! This crate is deliberately small and stable (think `log` or `tower-service`):
//! a plugin author depends on it alone, never on the agent, Burn or actix,
//! and implements four methods on the model (`spec`, `partial_fit`,
//! `snapshot`, `save`) and two on its snapshot (`spec`, `predict_row`).
//!
//! - [`Model`]: one trainable model, learning incrementally with
//!   [`Model::partial_fit`] at a learning rate chosen by the caller, from an
//!   [`Input`]: a dense [`Batch`] or a sparse [`SparseBatch`].
//! - [`Predictor`]: an immutable, `Send + Sync` serving snapshot taken with
//!   [`Model::snapshot`], which keeps predicting while the model trains on.
//! - [`envelope`]: the self-describing byte format every saved model uses.
//! - [`PluginFactory`] and [`PluginRegistry`]: map a kind name
//!   (`"logistic"`, `"linear"`, `"mlp"`, or a host's own) to a constructor and
//!   a loader.
//! - [`validate`]: the input checks every plugin runs before touching weights.
//!
//! # Example: a host-defined plugin
//!
//! ```
//! use std::sync::Arc;
//! use refit_plugin::*;
//!
//! /// Predicts the running mean of the labels it has seen.
//! #[derive(Clone)]
//! struct MeanModel { spec: ModelSpec, mean: f32, seen: u64 }
//!
//! impl Predictor for MeanModel {
//!     fn spec(&self) -> &ModelSpec { &self.spec }
//!     fn predict_row(&self, row: Row<'_>) -> Result<f32, PluginError> {
//!         validate::row(&self.spec, row.dense(&self.spec)?)?;
//!         Ok(self.mean)
//!     }
//! }
//!
//! impl Model for MeanModel {
//!     fn spec(&self) -> &ModelSpec { &self.spec }
//!     fn partial_fit(&mut self, x: Input<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError> {
//!         validate::fit_input(&self.spec, &x.dense(&self.spec)?, y, lr)?;
//!         let loss = y.iter().map(|v| (v - self.mean).powi(2) as f64).sum::<f64>() / y.len() as f64;
//!         for v in y { self.seen += 1; self.mean += (v - self.mean) / self.seen as f32; }
//!         Ok(FitReport::new(y.len(), loss))
//!     }
//!     fn snapshot(&self) -> Arc<dyn Predictor> { Arc::new(self.clone()) }
//!     fn save(&self) -> Result<Vec<u8>, PluginError> {
//!         let payload = self.mean.to_le_bytes().to_vec();
//!         Ok(envelope::encode(&envelope::Header::new("mean", 1, &self.spec), &payload))
//!     }
//! }
//!
//! struct MeanFactory;
//! impl PluginFactory for MeanFactory {
//!     fn kind(&self) -> &str { "mean" }
//!     fn create(&self, spec: ModelSpec, _params: &Params) -> Result<Box<dyn Model>, PluginError> {
//!         Ok(Box::new(MeanModel { spec, mean: 0.0, seen: 0 }))
//!     }
//!     fn load(&self, bytes: &[u8]) -> Result<Box<dyn Model>, PluginError> {
//!         let (header, payload) = envelope::decode_for(bytes, "mean", 1)?;
//!         let raw: [u8; 4] = payload.try_into().map_err(|_| PluginError::Corrupt("mean payload".into()))?;
//!         Ok(Box::new(MeanModel { spec: header.spec(), mean: f32::from_le_bytes(raw), seen: 0 }))
//!     }
//! }
//!
//! let mut registry = PluginRegistry::new();
//! registry.register(Arc::new(MeanFactory)).unwrap();
//! let spec = ModelSpec::new("mean", Task::Regression, ["a", "b"]);
//! let mut model = registry.create(spec, &Params::new()).unwrap();
//! let x = Batch::new(&[1.0, 2.0, 3.0, 4.0], 2).unwrap();
//! model.partial_fit(x.into(), &[2.0, 4.0], 0.1).unwrap();
//! // `Model::predict` is provided: it answers through the snapshot.
//! assert_eq!(model.predict(x.into()).unwrap(), [3.0, 3.0]);
//! let reloaded = registry.load(&model.save().unwrap()).unwrap();
//! assert_eq!(reloaded.snapshot().predict_row((&[0.0, 0.0]).into()).unwrap(), 3.0);
//! ```

mod batch;
pub mod envelope;
mod error;
mod factory;
mod input;
mod rates;
mod sparse;
mod spec;
pub mod validate;

use std::sync::Arc;

pub use batch::Batch;
pub use error::PluginError;
pub use factory::{Params, PluginFactory, PluginRegistry, parse_params};
pub use input::{Input, InputKind, Row, wrong_input};
pub use rates::LearningRates;
pub use sparse::SparseBatch;
pub use spec::{ModelSpec, Task};

/// What one [`Model::partial_fit`] call did.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct FitReport {
    /// Rows learned from.
    pub rows: usize,
    /// Mean loss of the batch under the weights *before* the step (log loss
    /// for classifiers, squared error for regressors, regularisation
    /// excluded): the progressive-validation loss.
    pub mean_loss_before: f64,
    /// L2 norm of the gradient before any clipping, where the plugin
    /// measures it (`None` otherwise).
    pub grad_norm: Option<f64>,
    /// Whether a divergence safeguard (e.g. `refit_plugin_kit::safeguard`)
    /// clipped the gradient.
    pub clipped: bool,
}

impl FitReport {
    /// A report of `rows` rows with mean loss `mean_loss_before`.
    pub fn new(rows: usize, mean_loss_before: f64) -> Self {
        Self {
            rows,
            mean_loss_before,
            grad_norm: None,
            clipped: false,
        }
    }

    /// Adds the gradient norm and whether it was clipped.
    pub fn with_gradient(mut self, norm: f64, clipped: bool) -> Self {
        self.grad_norm = Some(norm);
        self.clipped = clipped;
        self
    }
}

/// An immutable model that predicts. Serving snapshots implement it; they are
/// shared across threads while the original [`Model`] keeps training.
pub trait Predictor: Send + Sync {
    /// Kind, task and feature names of the model this was taken from.
    fn spec(&self) -> &ModelSpec;

    /// Which input the model takes (dense unless the plugin says so).
    fn input(&self) -> InputKind {
        InputKind::Dense
    }

    /// Predicts one row: the probability of class 1 for a binary
    /// classifier, the index of the likeliest class for a multiclass one
    /// ([`ModelSpec::is_multiclass`]), the value for a regressor. A dense
    /// row must have the spec's width and finite values; a row of the kind
    /// the model does not take is [`PluginError::WrongInput`]
    /// ([`Row::dense`], [`Row::sparse`]).
    fn predict_row(&self, row: Row<'_>) -> Result<f32, PluginError>;

    /// The class probabilities of one row into `out`, one per class (they
    /// sum to 1): `[1 - p, p]` for a binary classifier (the default, from
    /// [`Predictor::predict_row`]); a multiclass plugin overrides it. A
    /// regressor has none ([`PluginError::NotAClassifier`]); `out` must
    /// have one slot per class ([`ModelSpec::class_count`]).
    fn predict_proba_row(&self, row: Row<'_>, out: &mut [f32]) -> Result<(), PluginError> {
        let spec = self.spec();
        let classes = spec.class_count().ok_or(PluginError::NotAClassifier)?;
        if out.len() != classes || spec.is_multiclass() {
            return Err(PluginError::WidthMismatch {
                expected: classes,
                got: out.len(),
            });
        }
        let p = self.predict_row(row)?;
        out[0] = 1.0 - p;
        out[1] = p;
        Ok(())
    }

    /// [`Predictor::predict_proba_row`] for every row of a batch: row-major,
    /// one value per class.
    fn predict_proba(&self, x: Input<'_>) -> Result<Vec<f32>, PluginError> {
        if x.is_empty() {
            return Err(PluginError::EmptyBatch);
        }
        let classes = self
            .spec()
            .class_count()
            .ok_or(PluginError::NotAClassifier)?;
        let mut out = vec![0.0; x.rows() * classes];
        for (r, slot) in out.chunks_exact_mut(classes).enumerate() {
            self.predict_proba_row(x.row(r), slot)
                .map_err(|e| e.at_row(r))?;
        }
        Ok(out)
    }

    /// Predicts every row of a batch, row by row.
    fn predict(&self, x: Input<'_>) -> Result<Vec<f32>, PluginError> {
        if x.is_empty() {
            return Err(PluginError::EmptyBatch);
        }
        (0..x.rows())
            .map(|r| self.predict_row(x.row(r)).map_err(|e| e.at_row(r)))
            .collect()
    }
}

/// A trainable model behind the plugin interface. Object-safe: the agent holds
/// `Box<dyn Model>`.
pub trait Model: Send {
    /// Kind, task and feature names.
    fn spec(&self) -> &ModelSpec;

    /// Which input the model takes (dense unless the plugin says so); the
    /// agent refuses a mismatch before any sample reaches the model.
    fn input(&self) -> InputKind {
        InputKind::Dense
    }

    /// Coordinates of a row: the feature count for dense models, the
    /// hashed coordinates for sparse ones.
    fn input_dim(&self) -> usize {
        self.spec().width()
    }

    /// Whether `partial_fit` uses the learning rate it is given (FTRL-
    /// Proximal sets its own per-coordinate rates): when not, the agent
    /// records none in its events and manifests.
    fn uses_learning_rate(&self) -> bool {
        true
    }

    /// One incremental update on a mini-batch at learning rate `lr`.
    ///
    /// Invalid input (input of the kind the model does not take, wrong
    /// width, non-finite values, a label outside the task's domain, an empty
    /// batch, a learning rate that is not finite and positive) is a typed
    /// error and leaves the weights untouched, as does an update that would
    /// make any weight non-finite.
    fn partial_fit(&mut self, x: Input<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError>;

    /// Predicts a batch. By default through the serving snapshot
    /// ([`Predictor::predict`]); Burn plugins override it with the tensor
    /// forward pass (tested equal to their snapshot).
    fn predict(&self, x: Input<'_>) -> Result<Vec<f32>, PluginError> {
        self.snapshot().predict(x)
    }

    /// An immutable serving copy, cheap to take, that predicts while this
    /// model keeps training.
    fn snapshot(&self) -> Arc<dyn Predictor>;

    /// Self-describing bytes (see [`envelope`]); the plugin's factory loads
    /// them back.
    fn save(&self) -> Result<Vec<u8>, PluginError>;
}

impl std::fmt::Debug for dyn Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("spec", self.spec())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for dyn Predictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictor")
            .field("spec", self.spec())
            .finish_non_exhaustive()
    }
}
