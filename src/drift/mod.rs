//! Drift measurement: population stability index per feature ([`psi`]).
//! Kolmogorov-Smirnov and the concept-drift detectors on the loss stream
//! (Page-Hinkley, ADWIN) join here.

pub mod psi;

pub use psi::{BinEdges, DEFAULT_BINS, DEFAULT_FLOOR, FeaturePsi};
