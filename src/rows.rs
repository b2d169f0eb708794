//! Rows of samples as they travel from Ingest through Drift to the
//! Trainer: dense (row-major, the model's width) or sparse (hashed
//! coordinates, compressed rows), as the model's plugin takes them
//! ([`refit_plugin::Model::input`]).

use refit_plugin::{
    Batch, FitReport, Input, InputKind, Model, PluginError, Predictor, SparseBatch, wrong_input,
};

/// Sparse rows in compressed-row form, owned (see [`SparseBatch`]).
///
/// ```
/// use refit::rows::SparseRows;
/// let mut a = SparseRows::new(16);
/// a.push(&[3, 7], &[1.0, 0.5]);
/// let mut b = SparseRows::new(16);
/// b.push(&[1], &[2.0]);
/// a.extend(&b);
/// assert_eq!(a.rows(), 2);
/// assert_eq!(a.batch().unwrap().row(1), (&[1u32][..], &[2.0f32][..]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SparseRows {
    /// Row `r` is `offsets[r]..offsets[r + 1]`; starts with 0.
    pub offsets: Vec<usize>,
    /// Coordinate of each entry.
    pub indices: Vec<u32>,
    /// Value of each entry.
    pub values: Vec<f32>,
    /// Coordinates of the input space.
    pub dim: usize,
}

impl SparseRows {
    /// No rows over `dim` coordinates.
    pub fn new(dim: usize) -> Self {
        Self {
            offsets: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            dim,
        }
    }

    /// Appends one row.
    pub fn push(&mut self, indices: &[u32], values: &[f32]) {
        self.indices.extend_from_slice(indices);
        self.values.extend_from_slice(values);
        self.offsets.push(self.indices.len());
    }

    /// Appends every row of `other`.
    pub fn extend(&mut self, other: &SparseRows) {
        let base = self.indices.len();
        self.offsets
            .extend(other.offsets[1..].iter().map(|o| o + base));
        self.indices.extend_from_slice(&other.indices);
        self.values.extend_from_slice(&other.values);
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The rows as a checked batch.
    pub fn batch(&self) -> Result<SparseBatch<'_>, PluginError> {
        SparseBatch::new(&self.offsets, &self.indices, &self.values, self.dim)
    }

    /// The rows as a checked batch for a model of `dim` coordinates; rows
    /// over another number of coordinates are refused, naming both.
    pub fn batch_for(&self, dim: usize) -> Result<SparseBatch<'_>, PluginError> {
        if self.dim != dim {
            return Err(PluginError::BadSparse(format!(
                "the rows have {} coordinates, the model {dim}",
                self.dim
            )));
        }
        self.batch()
    }

    /// Rows `start..end` as a new value.
    pub fn slice(&self, start: usize, end: usize) -> SparseRows {
        let (a, b) = (self.offsets[start], self.offsets[end]);
        SparseRows {
            offsets: self.offsets[start..=end].iter().map(|o| o - a).collect(),
            indices: self.indices[a..b].to_vec(),
            values: self.values[a..b].to_vec(),
            dim: self.dim,
        }
    }
}

/// Dense or sparse rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    /// Row-major values, the model's width per row.
    Dense(Vec<f32>),
    /// Hashed coordinates.
    Sparse(SparseRows),
}

impl Rows {
    /// No rows of the kind a model with this input takes.
    pub fn empty(input: InputKind, dim: usize) -> Self {
        match input {
            InputKind::Dense => Rows::Dense(Vec::new()),
            InputKind::Sparse => Rows::Sparse(SparseRows::new(dim)),
        }
    }

    /// Dense or sparse.
    pub fn kind(&self) -> InputKind {
        match self {
            Rows::Dense(_) => InputKind::Dense,
            Rows::Sparse(_) => InputKind::Sparse,
        }
    }

    /// Number of rows (`width`: the dense width).
    pub fn count(&self, width: usize) -> usize {
        match self {
            Rows::Dense(v) => v.len().checked_div(width).unwrap_or(0),
            Rows::Sparse(s) => s.rows(),
        }
    }

    /// The dense values, when dense.
    pub fn dense(&self) -> Option<&[f32]> {
        match self {
            Rows::Dense(v) => Some(v),
            Rows::Sparse(_) => None,
        }
    }

    /// Appends `other`'s rows; `other` must be of the same kind (Ingest
    /// checks that before anything is buffered).
    pub fn append(&mut self, other: &Rows) -> Result<(), InputKind> {
        match (self, other) {
            (Rows::Dense(a), Rows::Dense(b)) => a.extend_from_slice(b),
            (Rows::Sparse(a), Rows::Sparse(b)) => a.extend(b),
            (_, other) => return Err(other.kind()),
        }
        Ok(())
    }

    /// Takes the rows, leaving none of the same kind.
    pub fn take(&mut self) -> Rows {
        let empty = match self {
            Rows::Dense(_) => Rows::Dense(Vec::new()),
            Rows::Sparse(s) => Rows::Sparse(SparseRows::new(s.dim)),
        };
        std::mem::replace(self, empty)
    }

    /// The first `n` rows.
    pub fn truncate(&mut self, n: usize, width: usize) {
        match self {
            Rows::Dense(v) => v.truncate(n * width),
            Rows::Sparse(s) => {
                if n < s.rows() {
                    *s = s.slice(0, n);
                }
            }
        }
    }

    /// One `partial_fit` per `step` rows, in order; `each` gets every
    /// step's result and its row count.
    pub fn fit_steps(
        &self,
        model: &mut dyn Model,
        width: usize,
        labels: &[f32],
        lr: f32,
        step: usize,
        mut each: impl FnMut(Result<FitReport, PluginError>, usize),
    ) {
        let step = step.max(1);
        match self {
            Rows::Dense(v) => {
                for (x, y) in v.chunks(step * width.max(1)).zip(labels.chunks(step)) {
                    each(
                        Batch::new(x, width).and_then(|x| model.partial_fit(x.into(), y, lr)),
                        y.len(),
                    );
                }
            }
            Rows::Sparse(s) => {
                for (k, y) in labels.chunks(step).enumerate() {
                    let part = s.slice(k * step, (k * step + y.len()).min(s.rows()));
                    each(
                        part.batch()
                            .and_then(|x| model.partial_fit(x.into(), y, lr)),
                        y.len(),
                    );
                }
            }
        }
    }

    /// The rows as the plugin's [`Input`] (`width`: the dense width).
    pub fn input(&self, width: usize) -> Result<Input<'_>, PluginError> {
        Ok(match self {
            Rows::Dense(v) => Batch::new(v, width)?.into(),
            Rows::Sparse(s) => s.batch()?.into(),
        })
    }

    /// One `partial_fit` over all rows.
    pub fn fit(
        &self,
        model: &mut dyn Model,
        width: usize,
        labels: &[f32],
        lr: f32,
    ) -> Result<FitReport, PluginError> {
        model.partial_fit(self.input(width)?, labels, lr)
    }

    /// Predictions of a serving snapshot.
    pub fn predict(&self, p: &dyn Predictor, width: usize) -> Result<Vec<f32>, PluginError> {
        p.predict(self.input(width)?)
    }

    /// Scores the rows with `p` against `labels` (see
    /// [`crate::metrics::Scored`]): a multiclass model through its class
    /// probabilities.
    pub fn score(
        &self,
        p: &dyn Predictor,
        width: usize,
        labels: &[f32],
    ) -> Result<Vec<crate::metrics::Scored>, PluginError> {
        let spec = p.spec();
        let x = self.input(width)?;
        if !spec.is_multiclass() {
            return Ok(p
                .predict(x)?
                .into_iter()
                .zip(labels)
                .map(|(v, &y)| crate::metrics::Scored::of(spec.task, v, y))
                .collect());
        }
        let classes = spec.classes.len();
        Ok(p.predict_proba(x)?
            .chunks_exact(classes)
            .zip(labels)
            .map(|(probs, &y)| crate::metrics::Scored {
                value: crate::metrics::argmax(probs) as f32,
                label: y,
                p_true: probs.get(y as usize).copied().unwrap_or(0.0),
            })
            .collect())
    }

    /// The error for these rows given to a model that takes `expected`.
    pub fn mismatch(&self, spec: &refit_plugin::ModelSpec, expected: InputKind) -> PluginError {
        wrong_input(spec, expected, self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sparse(rows: &[Vec<(u32, f32)>], dim: usize) -> SparseRows {
        let mut s = SparseRows::new(dim);
        for r in rows {
            let (i, v): (Vec<u32>, Vec<f32>) = r.iter().copied().unzip();
            s.push(&i, &v);
        }
        s
    }

    proptest! {
        #[test]
        fn extend_then_slice_gives_back_the_parts(
            a in prop::collection::vec(prop::collection::vec((0u32..64, -2.0f32..2.0), 0..5), 0..8),
            b in prop::collection::vec(prop::collection::vec((0u32..64, -2.0f32..2.0), 0..5), 0..8),
        ) {
            let (sa, sb) = (sparse(&a, 64), sparse(&b, 64));
            let mut all = sa.clone();
            all.extend(&sb);
            prop_assert_eq!(all.rows(), a.len() + b.len());
            prop_assert!(all.batch().is_ok());
            prop_assert_eq!(all.slice(0, a.len()), sa);
            prop_assert_eq!(all.slice(a.len(), a.len() + b.len()), sb);
        }
    }

    #[test]
    fn kinds_do_not_mix() {
        let mut d = Rows::Dense(vec![1.0, 2.0]);
        assert_eq!(
            d.append(&Rows::Sparse(SparseRows::new(4))),
            Err(InputKind::Sparse)
        );
        let mut s = Rows::empty(InputKind::Sparse, 8);
        s.append(&Rows::Sparse(sparse(&[vec![(1, 1.0)], vec![]], 8)))
            .unwrap();
        assert_eq!(s.count(0), 2);
        let taken = s.take();
        assert_eq!((taken.count(0), s.count(0)), (2, 0));
        assert_eq!(s.kind(), InputKind::Sparse);
    }
}
