//! The divergence safeguard shared by the built-in models: a bound on the
//! gradient norm (clip or refuse) and a bound on the weights (refuse).
//!
//! ```
//! use refit_plugin_kit::safeguard::{Action, Safeguard};
//! let s = Safeguard::default();
//! assert_eq!(s.gradient_scale(10.0).unwrap(), 1.0);
//! assert_eq!(s.gradient_scale(2e4).unwrap(), 0.5); // clipped to norm 1e4
//! let strict = Safeguard { on_large_gradient: Action::Refuse, ..s };
//! assert!(strict.gradient_scale(2e4).is_err());
//! ```

use serde::{Deserialize, Serialize};

use refit_plugin::PluginError;

/// What to do with a gradient whose norm exceeds the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Scale the gradient down to the bound and apply it (default).
    #[default]
    Clip,
    /// Refuse the update; the weights stay as they were.
    Refuse,
}

/// `[model.params.safeguard]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Safeguard {
    /// Largest gradient norm (L2 over every weight and the intercept) applied
    /// as is. Default 1e4.
    pub max_grad_norm: f32,
    /// Largest absolute weight an update may produce; beyond it (or on a
    /// non-finite weight) the update is refused. Default 1e6.
    pub max_weight: f32,
    /// Clip (default) or refuse a larger gradient.
    pub on_large_gradient: Action,
}

impl Default for Safeguard {
    fn default() -> Self {
        Self {
            max_grad_norm: 1e4,
            max_weight: 1e6,
            on_large_gradient: Action::Clip,
        }
    }
}

impl Safeguard {
    /// Checks the settings themselves.
    pub fn check(&self) -> Result<(), PluginError> {
        for (name, v) in [
            ("max_grad_norm", self.max_grad_norm),
            ("max_weight", self.max_weight),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(PluginError::InvalidParams(format!(
                    "safeguard.{name} = {v} must be finite and positive"
                )));
            }
        }
        Ok(())
    }

    /// The factor to multiply a gradient of norm `norm` by: 1 when within
    /// the bound, `max / norm` when clipping, an error when refusing or when
    /// the norm is not finite.
    pub fn gradient_scale(&self, norm: f64) -> Result<f32, PluginError> {
        if !norm.is_finite() {
            return Err(PluginError::Diverged(format!(
                "gradient norm is {norm}; weights kept"
            )));
        }
        let max = f64::from(self.max_grad_norm);
        if norm <= max {
            return Ok(1.0);
        }
        match self.on_large_gradient {
            Action::Clip => Ok((max / norm) as f32),
            Action::Refuse => Err(PluginError::Diverged(format!(
                "gradient norm {norm:.3e} exceeds safeguard.max_grad_norm {max:.3e}; weights kept"
            ))),
        }
    }

    /// Checks weights after an update: finite and within `max_weight`.
    /// `name(i)` names weight `i` in the error.
    pub fn check_weights(
        &self,
        weights: &[f32],
        lr: f32,
        name: impl Fn(usize) -> String,
    ) -> Result<(), PluginError> {
        match weights
            .iter()
            .position(|w| !w.is_finite() || w.abs() > self.max_weight)
        {
            None => Ok(()),
            Some(i) => Err(PluginError::Diverged(format!(
                "the {} would become {} at learning rate {lr} (bound {:e}); weights kept",
                name(i),
                weights[i],
                self.max_weight
            ))),
        }
    }
}
