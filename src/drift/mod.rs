//! Drift measurement: population stability index per feature ([`psi`]) and
//! the concept-drift detectors on the loss stream ([`adwin`],
//! [`page_hinkley`]).

pub mod adwin;
pub mod auc_drop;
pub mod compare;
pub mod concept;
mod config;
pub mod ks;
pub mod page_hinkley;
pub mod psi;
pub mod reference;
mod severity;

pub use adwin::{Adwin, AdwinParams};
pub use concept::{ConceptConfig, ConceptLevel, ConceptMonitor};
pub use config::{DriftConfig, WindowMode};
pub use page_hinkley::{Direction, PageHinkley, PageHinkleyParams};
pub use psi::{BinEdges, DEFAULT_BINS, DEFAULT_FLOOR, FeaturePsi};
pub use severity::{PsiThresholds, Severity};
