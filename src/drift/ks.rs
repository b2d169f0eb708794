//! The two-sample Kolmogorov-Smirnov test: the largest distance between two
//! empirical distribution functions, and its asymptotic p-value.
//!
//! `D = max over x of |F_a(x) - F_b(x)|` (ties handled exactly: both
//! functions jump at a shared value before they are compared). The p-value
//! is Kolmogorov's limiting distribution at `sqrt(n m / (n + m)) D`, the
//! survival function scipy calls `kstwobign.sf`:
//! `Q(t) = 2 sum_{k >= 1} (-1)^(k-1) exp(-2 k^2 t^2)`, evaluated through the
//! equivalent theta-series `1 - sqrt(2 pi)/t sum_{k >= 1} exp(-(2k-1)^2
//! pi^2 / (8 t^2))` for small `t`. It is accurate for the window sizes drift
//! monitoring uses (hundreds of values and more); scipy's `ks_2samp`
//! default switches to an exact distribution for small samples, which this
//! does not do. NaN values are left out.
//!
//! ```
//! use refit::drift::ks::ks_2samp;
//! let a: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
//! let same = ks_2samp(&a, &a);
//! assert_eq!(same.statistic, 0.0);
//! assert!((same.p_value - 1.0).abs() < 1e-12);
//! let shifted: Vec<f32> = a.iter().map(|v| v + 0.2).collect();
//! let moved = ks_2samp(&a, &shifted);
//! assert!((moved.statistic - 0.2).abs() <= 2e-3);
//! assert!(moved.p_value < 1e-10);
//! ```

use serde::{Deserialize, Serialize};

/// A KS test result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ks {
    /// The statistic `D`, in [0, 1].
    pub statistic: f64,
    /// The asymptotic p-value (1 when either sample is empty).
    pub p_value: f64,
}

/// Sorted finite values as f64.
pub fn sorted_finite(values: impl IntoIterator<Item = f32>) -> Vec<f64> {
    let mut v: Vec<f64> = values
        .into_iter()
        .filter(|v| v.is_finite())
        .map(f64::from)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// KS test of two samples (any order; NaN and infinities left out).
pub fn ks_2samp(a: &[f32], b: &[f32]) -> Ks {
    ks_sorted(
        &sorted_finite(a.iter().copied()),
        &sorted_finite(b.iter().copied()),
    )
}

/// KS test of two sorted samples of finite values.
pub fn ks_sorted(a: &[f64], b: &[f64]) -> Ks {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return Ks {
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < n && j < m {
        let x = a[i].min(b[j]);
        while i < n && a[i] <= x {
            i += 1;
        }
        while j < m && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    let en = (n as f64 * m as f64) / (n + m) as f64;
    Ks {
        statistic: d,
        p_value: kolmogorov_sf(en.sqrt() * d),
    }
}

/// Survival function of Kolmogorov's limiting distribution, `P(K > t)`.
pub fn kolmogorov_sf(t: f64) -> f64 {
    if t <= 0.0 {
        return 1.0;
    }
    if t < 1.0 {
        // cdf = sqrt(2 pi) / t * sum exp(-(2k-1)^2 pi^2 / (8 t^2))
        let f = -std::f64::consts::PI.powi(2) / (8.0 * t * t);
        let sum: f64 = (1..=20)
            .map(|k| {
                let odd = (2 * k - 1) as f64;
                (f * odd * odd).exp()
            })
            .sum();
        let cdf = (2.0 * std::f64::consts::PI).sqrt() / t * sum;
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    let sum: f64 = (1..=100)
        .map(|k| {
            let k = k as f64;
            let sign = if k as u64 % 2 == 1 { 1.0 } else { -1.0 };
            sign * (-2.0 * k * k * t * t).exp()
        })
        .sum();
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_statistic_with_ties() {
        // F_a jumps to 2/3 at 1, F_b to 1/4 at 1 and 3/4 at 2.
        let k = ks_2samp(&[1.0, 1.0, 3.0], &[1.0, 2.0, 2.0, 4.0]);
        assert!((k.statistic - (2.0 / 3.0 - 0.25)).abs() < 1e-12);
    }

    #[test]
    fn the_two_series_agree_where_they_meet() {
        // Both forms are exact; at t = 1 they must give the same value.
        let t = 1.0f64;
        let alternating: f64 = 2.0
            * (1..=100)
                .map(|k| {
                    let k = k as f64;
                    (if k as u64 % 2 == 1 { 1.0 } else { -1.0 }) * (-2.0 * k * k * t * t).exp()
                })
                .sum::<f64>();
        assert!((kolmogorov_sf(0.999_999_999) - alternating).abs() < 1e-8);
        // A published value: P(K > 1.36) = 0.0494 (the 5% critical value).
        assert!((kolmogorov_sf(1.36) - 0.0494).abs() < 1e-3);
    }

    proptest! {
        #[test]
        fn statistic_and_p_value_stay_in_range(
            a in proptest::collection::vec(proptest::num::f32::ANY, 0..60),
            b in proptest::collection::vec(proptest::num::f32::ANY, 0..60),
        ) {
            let k = ks_2samp(&a, &b);
            prop_assert!((0.0..=1.0).contains(&k.statistic));
            prop_assert!((0.0..=1.0).contains(&k.p_value));
            let r = ks_2samp(&b, &a);
            prop_assert!((k.statistic - r.statistic).abs() < 1e-12);
        }
    }
}
