//! One row's step: the residual and loss of a score, the step rules
//! (constant SGD, AdaGrad) and the sums they need, kept free of Burn so the
//! per-row loop stays a plain vectorised loop.

use crate::params::Loss;

/// AdaGrad's guard against dividing by a zero accumulator (River's).
pub(crate) const ADAGRAD_EPSILON: f32 = 1e-8;

/// How one row's gradient `g = scale * (e x + l2 w)` (and `scale * e` for
/// the intercept) moves the weights.
pub(crate) trait StepRule {
    fn weights(&mut self, w: &mut [f32], x: &[f32], e: f32, l2: f32, lr: f32, scale: f32);
    fn intercept(&mut self, b: &mut f32, e: f32, lr: f32, scale: f32);
}

/// Constant-rate SGD: `w -= lr g`.
pub(crate) struct ConstantStep;

impl StepRule for ConstantStep {
    #[inline(always)]
    fn weights(&mut self, w: &mut [f32], x: &[f32], e: f32, l2: f32, lr: f32, scale: f32) {
        let eta = lr * scale;
        if l2 == 0.0 {
            // As scikit-learn's plain SGD: w += (-eta * dloss) x.
            let step = eta * e;
            for (wj, xj) in w.iter_mut().zip(x) {
                *wj -= step * xj;
            }
        } else {
            for (wj, xj) in w.iter_mut().zip(x) {
                *wj -= eta * (e * xj + l2 * *wj);
            }
        }
    }

    #[inline(always)]
    fn intercept(&mut self, b: &mut f32, e: f32, lr: f32, scale: f32) {
        *b -= lr * scale * e;
    }
}

/// AdaGrad: `G += g^2`, `w -= lr g / (sqrt(G) + eps)`, per coordinate.
pub(crate) struct AdagradStep<'a> {
    pub(crate) weights: &'a mut [f32],
    pub(crate) intercept: &'a mut f32,
}

impl StepRule for AdagradStep<'_> {
    #[inline(always)]
    fn weights(&mut self, w: &mut [f32], x: &[f32], e: f32, l2: f32, lr: f32, scale: f32) {
        let se = scale * e;
        let sl2 = scale * l2;
        for ((wj, gj), xj) in w.iter_mut().zip(self.weights.iter_mut()).zip(x) {
            let g = se * xj + sl2 * *wj;
            *gj += g * g;
            *wj -= lr * g / (gj.sqrt() + ADAGRAD_EPSILON);
        }
    }

    #[inline(always)]
    fn intercept(&mut self, b: &mut f32, e: f32, lr: f32, scale: f32) {
        let g = scale * e;
        *self.intercept += g * g;
        *b -= lr * g / (self.intercept.sqrt() + ADAGRAD_EPSILON);
    }
}

/// The outcome of one call's steps, before the safeguard's weight check.
pub(crate) struct Step {
    /// Coefficients then intercept.
    pub(crate) weights: Vec<f32>,
    /// The optimizer's state after the steps (empty with constant SGD).
    pub(crate) accumulators: Vec<f32>,
    /// Sum over the rows of each row's loss before the step that used it.
    pub(crate) loss_sum: f64,
    /// Largest gradient norm of the call's steps.
    pub(crate) grad_norm: f64,
    pub(crate) clipped: bool,
    pub(crate) steps: u64,
}

/// Residual `f(z) - y` and the loss at linear score `z`, as a
/// [`LossSum`] term: `loss = linear + ln(factor)`.
#[inline]
pub(crate) fn residual_and_loss(loss: Loss, z: f32, y: f32) -> (f32, f64, f64) {
    match loss {
        Loss::Log => {
            // One exponential serves both: with t = e^-|z|, sigmoid(z) is
            // 1 / (1 + t) or t / (1 + t), and the loss log(1 + e^z) - y z
            // is max(z, 0) - y z + ln(1 + t), finite for any z.
            let t = (-z.abs()).exp();
            // A select, then one division: the sign of z is a coin flip on
            // balanced data, so a branch here would often mispredict.
            let numerator = if z >= 0.0 { 1.0 } else { t };
            let p = numerator / (1.0 + t);
            let linear = f64::from(z.max(0.0)) - f64::from(y) * f64::from(z);
            (p - y, linear, 1.0 + f64::from(t))
        }
        Loss::Squared => (z - y, f64::from(z - y).powi(2), 1.0),
    }
}

/// A sum of losses `linear + ln(factor)` that multiplies the factors (each
/// in `[1, 2]`) and takes one logarithm per few hundred rows instead of one
/// per row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LossSum {
    linear: f64,
    product: f64,
}

impl LossSum {
    pub(crate) fn new() -> Self {
        Self {
            linear: 0.0,
            product: 1.0,
        }
    }

    #[inline]
    pub(crate) fn add(&mut self, linear: f64, factor: f64) {
        self.linear += linear;
        self.product *= factor;
        // 2^900: far from overflow, since every factor is at most 2.
        if self.product > 8.5e270 {
            self.linear += self.product.ln();
            self.product = 1.0;
        }
    }

    pub(crate) fn total(self) -> f64 {
        self.linear + self.product.ln()
    }
}

/// `w . x` and `|x|^2`, with four partial sums each so the loop vectorises.
#[inline]
pub(crate) fn dot_and_norm(x: &[f32], w: &[f32]) -> (f32, f32) {
    let (mut dot, mut sq) = ([0.0f32; 4], [0.0f32; 4]);
    let (xc, xr) = x.as_chunks::<4>();
    let (wc, wr) = w.as_chunks::<4>();
    for (xs, ws) in xc.iter().zip(wc) {
        for i in 0..4 {
            dot[i] += xs[i] * ws[i];
            sq[i] += xs[i] * xs[i];
        }
    }
    let (mut dt, mut st) = (0.0f32, 0.0f32);
    for (xj, wj) in xr.iter().zip(wr) {
        dt += xj * wj;
        st += xj * xj;
    }
    (
        (dot[0] + dot[1]) + (dot[2] + dot[3]) + dt,
        (sq[0] + sq[1]) + (sq[2] + sq[3]) + st,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_sum_equals_the_sum_of_per_row_losses() {
        // 10 000 rows with scores up to |z| = 40: the product of factors is
        // flushed into the logarithm many times on the way.
        let mut sum = LossSum::new();
        let mut direct = 0.0f64;
        for i in 0..10_000u32 {
            let z = ((i * 7919) % 8001) as f32 / 100.0 - 40.0;
            let y = if i % 3 == 0 { 1.0 } else { 0.0 };
            let (e, linear, factor) = residual_and_loss(Loss::Log, z, y);
            sum.add(linear, factor);
            let z64 = f64::from(z);
            direct += z64.max(0.0) + (-z64.abs()).exp().ln_1p() - f64::from(y) * z64;
            let p = 1.0 / (1.0 + (-z64).exp());
            assert!((f64::from(e) - (p - f64::from(y))).abs() < 1e-6, "z {z}");
        }
        assert!(
            (sum.total() - direct).abs() < 1e-9 * direct,
            "{} vs {direct}",
            sum.total()
        );
    }
}
