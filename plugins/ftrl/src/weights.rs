//! Serving weights in copy-on-write chunks: a snapshot clones one `Arc` per
//! chunk, and training copies a chunk only the first time it writes to it
//! after a snapshot. A snapshot of 2^18 weights costs 64 reference-count
//! increments instead of a 1 MiB copy.

use std::sync::Arc;

/// Weights per chunk.
pub const CHUNK: usize = 4096;

/// A fixed-length vector of `f32` in shared chunks.
#[derive(Debug, Clone)]
pub struct ChunkedWeights {
    chunks: Vec<Arc<[f32; CHUNK]>>,
    len: usize,
}

impl ChunkedWeights {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let zero = Arc::new([0.0; CHUNK]);
        Self {
            chunks: vec![zero; len.div_ceil(CHUNK)],
            len,
        }
    }

    /// Number of weights.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no weights.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Weight `i`. Panics when `i >= len()`.
    #[inline]
    pub fn get(&self, i: usize) -> f32 {
        assert!(i < self.len, "weight {i} of {}", self.len);
        self.chunks[i / CHUNK][i % CHUNK]
    }

    /// Sets weight `i`, copying its chunk first when a snapshot shares it.
    #[inline]
    pub fn set(&mut self, i: usize, value: f32) {
        assert!(i < self.len, "weight {i} of {}", self.len);
        Arc::make_mut(&mut self.chunks[i / CHUNK])[i % CHUNK] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_keeps_its_values_while_the_original_changes() {
        let mut w = ChunkedWeights::zeros(CHUNK * 2 + 5);
        w.set(3, 1.5);
        let snap = w.clone();
        w.set(3, 2.5);
        w.set(CHUNK * 2 + 4, -1.0);
        assert_eq!((snap.get(3), w.get(3)), (1.5, 2.5));
        assert_eq!((snap.get(CHUNK * 2 + 4), w.get(CHUNK * 2 + 4)), (0.0, -1.0));
        // The untouched middle chunk is still shared.
        assert!(Arc::ptr_eq(&snap.chunks[1], &w.chunks[1]));
        assert!(!Arc::ptr_eq(&snap.chunks[0], &w.chunks[0]));
    }
}
