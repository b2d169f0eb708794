//! Multiclass classification as one-vs-rest over a binary plugin.
//!
//! A model of `K > 2` classes ([`ModelSpec::is_multiclass`]) is `K` binary
//! models of the same kind, model `k` learning "class `k` or not" from
//! every row. It predicts the class whose model is most confident, and the
//! class probabilities are the binary probabilities normalised to sum to 1
//! (what scikit-learn's `SGDClassifier(loss="log_loss")` does; Vowpal
//! Wabbit's `--oaa` is the same reduction).
//!
//! Why one-vs-rest: it reuses a binary plugin unchanged, with its
//! optimizer, preprocessing, divergence safeguard and serving snapshot, so
//! a binary kind (the MLP, or a host's own) becomes multiclass without code
//! of its own. The cost is `K` models' work per row, and probabilities
//! that are `K` independent ones normalised; the `logistic` kind has its
//! own softmax model instead (`refit_linear::SoftmaxModel`).
//!
//! An update is all or nothing: the members learn on copies, which replace
//! them only when every member accepted the batch.
//!
//! Saved as one envelope of the base kind, format [`FORMAT_VERSION`], with
//! the class list in its header; the payload is `K`, then each member's
//! own saved bytes, length-prefixed.
//!
//! ```
//! use refit_plugin::{Batch, Model, ModelSpec, PluginError, Predictor, Task};
//! use refit_plugin_kit::multiclass::OneVsRest;
//! # #[derive(Clone)]
//! # struct Mean { spec: ModelSpec, p: f32 }
//! # impl Predictor for Mean {
//! #     fn spec(&self) -> &ModelSpec { &self.spec }
//! #     fn predict_row(&self, _: refit_plugin::Row<'_>) -> Result<f32, PluginError> { Ok(self.p) }
//! # }
//! # impl Model for Mean {
//! #     fn spec(&self) -> &ModelSpec { &self.spec }
//! #     fn partial_fit(&mut self, x: refit_plugin::Input<'_>, y: &[f32], _: f32) -> Result<refit_plugin::FitReport, PluginError> {
//! #         self.p = y.iter().sum::<f32>() / y.len() as f32;
//! #         Ok(refit_plugin::FitReport::new(x.rows(), 0.0))
//! #     }
//! #     fn snapshot(&self) -> std::sync::Arc<dyn Predictor> { std::sync::Arc::new(self.clone()) }
//! #     fn save(&self) -> Result<Vec<u8>, PluginError> { Ok(self.p.to_le_bytes().to_vec()) }
//! # }
//! let spec = ModelSpec::new("mean", Task::Classification, ["x"]).with_classes(["a", "b", "c"]);
//! let mut model = OneVsRest::new(spec, |s| Ok(Mean { spec: s, p: 0.5 })).unwrap();
//! // Labels are class indices: two rows of class 2, one of class 0.
//! model.partial_fit(Batch::new(&[1.0, 2.0, 3.0], 1).unwrap().into(), &[2.0, 2.0, 0.0], 0.1).unwrap();
//! let serving = model.snapshot();
//! let mut p = [0.0; 3];
//! serving.predict_proba_row((&[1.0]).into(), &mut p).unwrap();
//! assert_eq!(p, [1.0 / 3.0, 0.0, 2.0 / 3.0]);
//! assert_eq!(serving.predict_row((&[1.0]).into()).unwrap(), 2.0);
//! ```

use std::sync::Arc;

use refit_plugin::{
    FitReport, Input, InputKind, Model, ModelSpec, PluginError, Predictor, Row, envelope, validate,
};

/// The envelope format version of a one-vs-rest model.
pub const FORMAT_VERSION: u32 = 1;

/// Whether `bytes` are a saved multiclass model (its header lists more
/// than two classes): its plugin's loader hands them to
/// [`OneVsRest::load`].
pub fn is_saved_multiclass(bytes: &[u8]) -> bool {
    envelope::decode(bytes).is_ok_and(|(header, _)| header.spec().is_multiclass())
}

/// `K` binary models of type `M` as one multiclass model (see the
/// [module docs](self)).
#[derive(Clone)]
pub struct OneVsRest<M> {
    spec: ModelSpec,
    members: Vec<M>,
}

/// The binary spec of each member: the model's, without the class list.
fn member_spec(spec: &ModelSpec) -> ModelSpec {
    ModelSpec {
        classes: Vec::new(),
        ..spec.clone()
    }
}

impl<M: Model + Clone> OneVsRest<M> {
    /// A model of `spec` (more than two classes), its members made by
    /// `make` from the binary spec.
    pub fn new(
        spec: ModelSpec,
        make: impl Fn(ModelSpec) -> Result<M, PluginError>,
    ) -> Result<Self, PluginError> {
        if !spec.is_multiclass() {
            return Err(PluginError::InvalidParams(format!(
                "one-vs-rest needs a classifier of more than two classes, the spec has {:?}",
                spec.classes
            )));
        }
        let members = (0..spec.classes.len())
            .map(|_| make(member_spec(&spec)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { spec, members })
    }

    /// Loads a model saved by [`Model::save`] of a `OneVsRest` of kind
    /// `kind`, each member by `load`.
    pub fn load(
        bytes: &[u8],
        kind: &str,
        load: impl Fn(&[u8]) -> Result<M, PluginError>,
    ) -> Result<Self, PluginError> {
        let (header, payload) = envelope::decode_for(bytes, kind, FORMAT_VERSION)?;
        let spec = header.spec();
        let corrupt = |m: &str| PluginError::Corrupt(format!("one-vs-rest payload: {m}"));
        let mut rest = payload;
        let mut take = |n: usize| -> Result<&[u8], PluginError> {
            if rest.len() < n {
                return Err(corrupt("truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let count = u32::from_le_bytes(take(4)?.try_into().map_err(|_| corrupt("count"))?);
        if count as usize != spec.classes.len() || !spec.is_multiclass() {
            return Err(corrupt(&format!(
                "{count} members for the classes {:?}",
                spec.classes
            )));
        }
        let mut members = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let len = u64::from_le_bytes(take(8)?.try_into().map_err(|_| corrupt("length"))?);
            let len = usize::try_from(len).map_err(|_| corrupt("length"))?;
            let member = load(take(len)?)?;
            if member.spec() != &member_spec(&spec) {
                return Err(corrupt("a member's spec differs from the model's"));
            }
            members.push(member);
        }
        if !rest.is_empty() {
            return Err(corrupt("bytes after the last member"));
        }
        Ok(Self { spec, members })
    }

    /// The binary models, one per class in class order.
    pub fn members(&self) -> &[M] {
        &self.members
    }
}

impl<M: Model + Clone> Model for OneVsRest<M> {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn input(&self) -> InputKind {
        self.members[0].input()
    }

    fn input_dim(&self) -> usize {
        self.members[0].input_dim()
    }

    fn uses_learning_rate(&self) -> bool {
        self.members[0].uses_learning_rate()
    }

    /// Labels are class indices. The reported loss is the multiclass log
    /// loss of the normalised probabilities before the update.
    fn partial_fit(&mut self, x: Input<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError> {
        let dense = x.dense(&self.spec)?;
        validate::fit_input(&self.spec, &dense, y, lr)?;
        let classes = self.members.len();
        let before = self.predict_proba_with(&self.members, x)?;
        let loss = before
            .chunks_exact(classes)
            .zip(y)
            .map(|(p, &label)| -f64::from(p[label as usize].max(1e-15)).ln())
            .sum::<f64>()
            / y.len() as f64;
        let mut next = self.members.clone();
        let mut report = FitReport::new(y.len(), loss);
        let mut binary = vec![0.0f32; y.len()];
        for (k, member) in next.iter_mut().enumerate() {
            for (b, &label) in binary.iter_mut().zip(y) {
                *b = f32::from(label as usize == k);
            }
            let r = member.partial_fit(x, &binary, lr)?;
            report.clipped |= r.clipped;
            if let Some(norm) = r.grad_norm {
                report.grad_norm = Some(report.grad_norm.map_or(norm, |n: f64| n.max(norm)));
            }
        }
        self.members = next;
        Ok(report)
    }

    fn predict(&self, x: Input<'_>) -> Result<Vec<f32>, PluginError> {
        let classes = self.members.len();
        Ok(self
            .predict_proba_with(&self.members, x)?
            .chunks_exact(classes)
            .map(|p| argmax(p) as f32)
            .collect())
    }

    fn snapshot(&self) -> Arc<dyn Predictor> {
        Arc::new(OneVsRestSnapshot {
            spec: self.spec.clone(),
            members: self.members.iter().map(Model::snapshot).collect(),
        })
    }

    fn save(&self) -> Result<Vec<u8>, PluginError> {
        let mut payload = (self.members.len() as u32).to_le_bytes().to_vec();
        for member in &self.members {
            let bytes = member.save()?;
            payload.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            payload.extend_from_slice(&bytes);
        }
        let header = envelope::Header::new(&self.spec.kind, FORMAT_VERSION, &self.spec);
        Ok(envelope::encode(&header, &payload))
    }
}

impl<M: Model> OneVsRest<M> {
    /// Normalised probabilities of `members` (each member's batch predict,
    /// the Burn forward pass where the plugin has one).
    fn predict_proba_with(&self, members: &[M], x: Input<'_>) -> Result<Vec<f32>, PluginError> {
        let classes = members.len();
        let mut out = vec![0.0f32; x.rows() * classes];
        for (k, member) in members.iter().enumerate() {
            for (r, p) in member.predict(x)?.into_iter().enumerate() {
                out[r * classes + k] = p;
            }
        }
        out.chunks_exact_mut(classes).for_each(normalise);
        Ok(out)
    }
}

/// The serving snapshot of a [`OneVsRest`]: the members' snapshots.
pub struct OneVsRestSnapshot {
    spec: ModelSpec,
    members: Vec<Arc<dyn Predictor>>,
}

impl Predictor for OneVsRestSnapshot {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn input(&self) -> InputKind {
        self.members[0].input()
    }

    /// The index of the likeliest class.
    fn predict_row(&self, row: Row<'_>) -> Result<f32, PluginError> {
        let mut p = vec![0.0; self.members.len()];
        self.predict_proba_row(row, &mut p)?;
        Ok(argmax(&p) as f32)
    }

    fn predict_proba_row(&self, row: Row<'_>, out: &mut [f32]) -> Result<(), PluginError> {
        if out.len() != self.members.len() {
            return Err(PluginError::WidthMismatch {
                expected: self.members.len(),
                got: out.len(),
            });
        }
        for (slot, member) in out.iter_mut().zip(&self.members) {
            *slot = member.predict_row(row)?;
        }
        normalise(out);
        Ok(())
    }
}

/// Scales `p` to sum to 1 (uniform when every value is 0).
fn normalise(p: &mut [f32]) {
    let sum: f32 = p.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        p.iter_mut().for_each(|v| *v /= sum);
    } else {
        let even = 1.0 / p.len() as f32;
        p.iter_mut().for_each(|v| *v = even);
    }
}

/// The index of the largest value (the first among equals): a multiclass
/// model's likeliest class.
///
/// ```
/// assert_eq!(refit_plugin_kit::multiclass::argmax(&[0.2, 0.5, 0.5]), 1);
/// ```
pub fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_normalised_and_argmax_takes_the_first_of_equals() {
        let mut p = [0.2, 0.6, 0.2];
        normalise(&mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let mut z = [0.0, 0.0];
        normalise(&mut z);
        assert_eq!(z, [0.5, 0.5]);
        assert_eq!(argmax(&[0.3, 0.3, 0.1]), 0);
        assert_eq!(argmax(&[0.1, 0.3, 0.6]), 2);
    }
}
