//! Data shared by the benchmarks.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `rows` rows of `width` uniform features in [-1, 1] and a 0/1 label from
/// the sign of the first two features, from a fixed seed.
pub fn data(rows: usize, width: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x: Vec<f32> = (0..rows * width)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let y = (0..rows)
        .map(|i| {
            if x[i * width] + x[i * width + 1] > 0.0 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    (x, y)
}
