//! The built-in model plugins and the registry that holds them.
//!
//! | kind | crate | task |
//! |---|---|---|
//! | `logistic` | `refit-linear` | classification |
//! | `linear` | `refit-linear` | regression |
//! | `mlp` | `refit-mlp` | either |
//! | `ftrl` | `refit-ftrl` | classification, sparse hashed input (CTR) |
//!
//! ```
//! let registry = refit::plugins::builtin();
//! assert_eq!(registry.kinds(), ["ftrl", "linear", "logistic", "mlp"]);
//! ```

pub use refit_ftrl as ftrl;
pub use refit_linear as linear;
pub use refit_mlp as mlp;
pub use refit_plugin::*;
pub use refit_plugin_kit::preprocess::level_code;
pub use refit_plugin_kit::{label_scale, multiclass, preprocess, safeguard};

#[cfg(feature = "demo")]
use crate::demo::DemoStream;

/// A registry with every built-in plugin.
pub fn builtin() -> PluginRegistry {
    let mut registry = PluginRegistry::new();
    // The built-in kinds are distinct, so registering them cannot collide.
    let _ = refit_linear::register(&mut registry);
    let _ = refit_mlp::register(&mut registry);
    let _ = registry.register(refit_ftrl::factory());
    registry
}

/// A fresh built-in model of `kind` with default parameters for a demo
/// stream's task and features. (Cargo feature `demo`.)
#[cfg(feature = "demo")]
pub fn create_for(stream: &DemoStream, kind: &str) -> Result<Box<dyn Model>, PluginError> {
    builtin().create(
        ModelSpec::new(kind, stream.task, stream.features.clone()),
        &Params::new(),
    )
}
