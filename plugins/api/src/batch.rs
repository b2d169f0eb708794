use crate::PluginError;

/// A dense, row-major mini-batch of `f32` features with a known width,
/// borrowed from the caller (no copy).
///
/// ```
/// use refit_plugin::Batch;
/// let x = Batch::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3).unwrap();
/// assert_eq!((x.rows(), x.width()), (2, 3));
/// assert_eq!(x.row(1), &[4.0, 5.0, 6.0]);
/// assert!(Batch::new(&[1.0, 2.0, 3.0], 2).is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    values: &'a [f32],
    width: usize,
}

impl<'a> Batch<'a> {
    /// Wraps `values` as rows of `width` columns. Fails when `width` is zero
    /// or `values.len()` is not a multiple of it.
    pub fn new(values: &'a [f32], width: usize) -> Result<Self, PluginError> {
        if width == 0 || !values.len().is_multiple_of(width) {
            return Err(PluginError::RaggedBatch {
                len: values.len(),
                width,
            });
        }
        Ok(Self { values, width })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.len() / self.width
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// All values, row-major.
    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    /// Row `i`. Panics when `i >= rows()`, like slice indexing.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.values[i * self.width..(i + 1) * self.width]
    }

    /// The rows in order.
    pub fn rows_iter(&self) -> std::slice::ChunksExact<'a, f32> {
        self.values.chunks_exact(self.width)
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}
