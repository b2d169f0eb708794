use crate::PluginError;

/// A sparse mini-batch in compressed-row form, borrowed from the caller:
/// row `r` has the coordinates `indices[offsets[r]..offsets[r + 1]]` with
/// the values at the same positions; every index is below `dim`.
///
/// ```
/// use refit_plugin::SparseBatch;
/// // Row 0: x[3] = 1, x[7] = 0.5; row 1: x[1] = 2.
/// let x = SparseBatch::new(&[0, 2, 3], &[3, 7, 1], &[1.0, 0.5, 2.0], 8).unwrap();
/// assert_eq!(x.rows(), 2);
/// assert_eq!(x.row(1), (&[1u32][..], &[2.0f32][..]));
/// assert!(SparseBatch::new(&[0, 1], &[8], &[1.0], 8).is_err()); // index out of range
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SparseBatch<'a> {
    offsets: &'a [usize],
    indices: &'a [u32],
    values: &'a [f32],
    dim: usize,
}

impl<'a> SparseBatch<'a> {
    /// Checks and wraps the three arrays: `offsets` starts at 0, never
    /// decreases and ends at `indices.len()`, which equals `values.len()`;
    /// every index is below `dim` and every value is finite.
    pub fn new(
        offsets: &'a [usize],
        indices: &'a [u32],
        values: &'a [f32],
        dim: usize,
    ) -> Result<Self, PluginError> {
        let bad = |why: String| Err(PluginError::BadSparse(why));
        if offsets.first() != Some(&0) {
            return bad("offsets must start with 0".into());
        }
        if indices.len() != values.len() {
            return bad(format!(
                "{} indices but {} values",
                indices.len(),
                values.len()
            ));
        }
        if offsets.last() != Some(&indices.len()) {
            return bad(format!(
                "the last offset must be the number of entries ({})",
                indices.len()
            ));
        }
        if let Some(r) = offsets.windows(2).position(|w| w[1] < w[0]) {
            return bad(format!("offsets decrease at row {r}"));
        }
        let batch = Self {
            offsets,
            indices,
            values,
            dim,
        };
        for r in 0..batch.rows() {
            let (idx, val) = batch.row(r);
            if let Some(&i) = idx.iter().find(|&&i| i as usize >= dim) {
                return bad(format!(
                    "row {r}: index {i} is outside the model's {dim} coordinates"
                ));
            }
            if let Some(v) = val.iter().find(|v| !v.is_finite()) {
                return bad(format!("row {r}: non-finite value {v}"));
            }
        }
        Ok(batch)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of coordinates of the model's input space.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows() == 0
    }

    /// Row `r`: its indices and values. Panics when `r >= rows()`.
    pub fn row(&self, r: usize) -> (&'a [u32], &'a [f32]) {
        let (a, b) = (self.offsets[r], self.offsets[r + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_arrays_are_named() {
        let err = |o: &[usize], i: &[u32], v: &[f32]| {
            SparseBatch::new(o, i, v, 4).unwrap_err().to_string()
        };
        assert!(err(&[], &[], &[]).contains("start with 0"));
        assert!(err(&[0, 1], &[1], &[]).contains("1 indices but 0 values"));
        assert!(err(&[0, 2], &[1], &[1.0]).contains("last offset"));
        assert!(err(&[0, 2, 1, 2], &[1, 2], &[1.0, 1.0]).contains("decrease at row 1"));
        assert!(err(&[0, 1], &[1], &[f32::NAN]).contains("row 0: non-finite"));
        assert!(err(&[0, 0, 1], &[4], &[1.0]).contains("row 1: index 4 is outside"));
        let ok = SparseBatch::new(&[0, 0, 1], &[3], &[1.0], 4).unwrap();
        assert_eq!(ok.row(0), (&[][..], &[][..]));
    }
}
