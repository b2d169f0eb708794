//! What a model learns from and predicts: one [`Input`] type for dense and
//! sparse mini-batches, one [`Row`] type for single rows, so a plugin writes
//! one `partial_fit` and one `predict_row` and refuses the kind it does not
//! take with one call ([`Input::dense`], [`Input::sparse`], [`Row::dense`],
//! [`Row::sparse`]).

use crate::{Batch, ModelSpec, PluginError, SparseBatch};

/// Which batches a model takes: dense rows of named features, or sparse
/// rows of hashed coordinates (the CTR case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// [`Batch`]: row-major `f32`, one column per feature.
    Dense,
    /// [`SparseBatch`]: per row, coordinate indices and their values.
    Sparse,
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputKind::Dense => "dense",
            InputKind::Sparse => "sparse",
        })
    }
}

/// A mini-batch, dense or sparse, borrowed from the caller (no copy).
///
/// ```
/// use refit_plugin::{Batch, Input, InputKind, ModelSpec, SparseBatch, Task};
/// let spec = ModelSpec::new("logistic", Task::Classification, ["a", "b"]);
/// let dense: Input = Batch::new(&[1.0, 2.0, 3.0, 4.0], 2).unwrap().into();
/// assert_eq!((dense.kind(), dense.rows()), (InputKind::Dense, 2));
/// assert_eq!(dense.dense(&spec).unwrap().row(1), &[3.0, 4.0]);
///
/// let sparse: Input = SparseBatch::new(&[0, 1], &[3], &[1.0], 8).unwrap().into();
/// // A dense model refuses sparse input with an error naming both kinds.
/// let err = sparse.dense(&spec).unwrap_err();
/// assert_eq!(err.to_string(), "model `logistic` takes dense batches, not sparse ones");
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Row-major `f32`, one column per feature.
    Dense(Batch<'a>),
    /// Hashed coordinates in compressed rows.
    Sparse(SparseBatch<'a>),
}

impl<'a> Input<'a> {
    /// Dense or sparse.
    pub fn kind(&self) -> InputKind {
        match self {
            Input::Dense(_) => InputKind::Dense,
            Input::Sparse(_) => InputKind::Sparse,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Input::Dense(x) => x.rows(),
            Input::Sparse(x) => x.rows(),
        }
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows() == 0
    }

    /// Row `r`. Panics when `r >= rows()`, like slice indexing.
    pub fn row(&self, r: usize) -> Row<'a> {
        match self {
            Input::Dense(x) => Row::Dense(x.row(r)),
            Input::Sparse(x) => {
                let (indices, values) = x.row(r);
                Row::Sparse { indices, values }
            }
        }
    }

    /// The dense batch, or [`PluginError::WrongInput`] for the model of
    /// `spec`, which takes dense input.
    pub fn dense(self, spec: &ModelSpec) -> Result<Batch<'a>, PluginError> {
        match self {
            Input::Dense(x) => Ok(x),
            Input::Sparse(_) => Err(wrong_input(spec, InputKind::Dense, InputKind::Sparse)),
        }
    }

    /// The sparse batch, or [`PluginError::WrongInput`] for the model of
    /// `spec`, which takes sparse input.
    pub fn sparse(self, spec: &ModelSpec) -> Result<SparseBatch<'a>, PluginError> {
        match self {
            Input::Sparse(x) => Ok(x),
            Input::Dense(_) => Err(wrong_input(spec, InputKind::Sparse, InputKind::Dense)),
        }
    }
}

impl<'a> From<Batch<'a>> for Input<'a> {
    fn from(x: Batch<'a>) -> Self {
        Input::Dense(x)
    }
}

impl<'a> From<SparseBatch<'a>> for Input<'a> {
    fn from(x: SparseBatch<'a>) -> Self {
        Input::Sparse(x)
    }
}

/// One row, dense or sparse, borrowed from the caller.
///
/// ```
/// use refit_plugin::{InputKind, Row};
/// let row = Row::from(&[0.5f32, 1.0]);
/// assert_eq!(row.kind(), InputKind::Dense);
/// let sparse = Row::Sparse { indices: &[3, 7], values: &[1.0, 0.5] };
/// assert_eq!(sparse.kind(), InputKind::Sparse);
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    /// One value per feature.
    Dense(&'a [f32]),
    /// Coordinates and their values.
    Sparse {
        /// Coordinate of each entry.
        indices: &'a [u32],
        /// Value of each entry.
        values: &'a [f32],
    },
}

impl<'a> Row<'a> {
    /// Dense or sparse.
    pub fn kind(&self) -> InputKind {
        match self {
            Row::Dense(_) => InputKind::Dense,
            Row::Sparse { .. } => InputKind::Sparse,
        }
    }

    /// The dense values, or [`PluginError::WrongInput`] for the model of
    /// `spec`, which takes dense input.
    #[inline]
    pub fn dense(self, spec: &ModelSpec) -> Result<&'a [f32], PluginError> {
        match self {
            Row::Dense(v) => Ok(v),
            Row::Sparse { .. } => Err(wrong_input(spec, InputKind::Dense, InputKind::Sparse)),
        }
    }

    /// The indices and values, or [`PluginError::WrongInput`] for the model
    /// of `spec`, which takes sparse input.
    #[inline]
    pub fn sparse(self, spec: &ModelSpec) -> Result<(&'a [u32], &'a [f32]), PluginError> {
        match self {
            Row::Sparse { indices, values } => Ok((indices, values)),
            Row::Dense(_) => Err(wrong_input(spec, InputKind::Sparse, InputKind::Dense)),
        }
    }
}

impl<'a> From<&'a [f32]> for Row<'a> {
    fn from(v: &'a [f32]) -> Self {
        Row::Dense(v)
    }
}

impl<'a, const N: usize> From<&'a [f32; N]> for Row<'a> {
    fn from(v: &'a [f32; N]) -> Self {
        Row::Dense(v)
    }
}

impl<'a> From<&'a Vec<f32>> for Row<'a> {
    fn from(v: &'a Vec<f32>) -> Self {
        Row::Dense(v)
    }
}

/// The error of input of the wrong kind (`got`) for a model that takes
/// `expected` input.
pub fn wrong_input(spec: &ModelSpec, expected: InputKind, got: InputKind) -> PluginError {
    PluginError::WrongInput {
        kind: spec.kind.clone(),
        expected,
        got,
    }
}
