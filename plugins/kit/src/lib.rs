//! `refit-plugin-kit`: helpers a refit plugin may use, kept out of the plugin
//! API crate (`refit-plugin`) so that stays one small trait crate.
//!
//! - [`preprocess`]: feature preprocessing inside a model (online
//!   standardisation, categorical encoding, missing values), saved with it;
//! - [`label_scale`]: running label statistics, so a regressor learns on
//!   standardised labels and answers in label units;
//! - [`safeguard`]: the divergence safeguard (gradient clipping or refusal,
//!   a bound on the weights);
//! - [`multiclass`]: one-vs-rest, which makes a binary classifier
//!   multiclass.
//!
//! The built-in plugins (`refit-linear`, `refit-mlp`) use all three; a
//! plugin of a host's own may use any of them, or none.

pub mod label_scale;
pub mod multiclass;
pub mod preprocess;
pub mod safeguard;
