//! Population stability index (PSI) of a feature: how far the distribution
//! of recent values has moved from a reference.
//!
//! The definition used here, the one risk teams use:
//!
//! - **Bins** come from the reference: cut points at its quantiles
//!   `1/B, 2/B, ..., (B-1)/B` (default `B` = 10), computed like numpy's
//!   default `np.quantile` (linear interpolation between order statistics).
//!   Equal cut points are merged, so a feature with heavy ties gets fewer
//!   bins, and a constant feature one bin. The outer bins are open
//!   (`(-inf, c1]` and `(c_last, +inf)`), so values outside the reference
//!   range still land in a bin. A value `v` falls in the bin of the first
//!   cut point `>= v`. Missing values (NaN) have a bin of their own.
//! - **Categorical features** (declared in the config, values are level
//!   codes): one bin per level seen in the reference, an "other" bin for
//!   levels the reference never had, and the missing bin.
//! - **Shares**: each side's bin counts divided by that side's total. A
//!   share below the **floor** (default 1e-4) is raised to the floor (no
//!   renormalisation), so an empty bin gives a large but finite term.
//! - **PSI** = `sum over bins of (q - p) * ln(q / p)`, `p` the reference
//!   share, `q` the current share. It is 0 for identical shares, never
//!   negative, and symmetric in `p` and `q`. Rules of thumb: below 0.1
//!   stable, 0.1-0.25 moderate, above 0.25 large; refit's thresholds are in
//!   the config.
//!
//! ```
//! use refit::drift::{BinEdges, FeaturePsi};
//! let reference: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
//! let edges = BinEdges::from_reference(&reference, 10);
//! assert_eq!(edges.bins(), 11); // 10 value bins + the missing bin
//! let mut monitor = FeaturePsi::new(edges, &reference, 500);
//! assert!(monitor.psi() < 1e-12); // an empty window has nothing to compare
//! for i in 0..500 { monitor.push(0.9 + (i as f32) / 5000.0); } // all in the top decile
//! assert!(monitor.psi() > 3.0);
//! ```

use std::collections::VecDeque;

/// Default number of quantile bins.
pub const DEFAULT_BINS: usize = 10;
/// Default floor for a bin's share.
pub const DEFAULT_FLOOR: f64 = 1e-4;

/// Quantile of sorted values at `q` in [0, 1], numpy's default (linear).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Bins learned from reference values: quantile cut points (numeric) or the
/// reference's levels (categorical).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BinEdges {
    /// Interior cut points (numeric) or levels (categorical), strictly
    /// increasing.
    cuts: Vec<f64>,
    /// `cuts` are levels: one bin each, then "other", then missing.
    #[serde(default)]
    categorical: bool,
}

impl BinEdges {
    fn numeric(cuts: Vec<f64>) -> Self {
        Self {
            cuts,
            categorical: false,
        }
    }

    /// Categorical bins: one per distinct finite value of the reference,
    /// then "other" (a level the reference never had), then missing.
    ///
    /// ```
    /// let e = refit::drift::BinEdges::from_levels(&[2.0, 0.0, 2.0, 1.0]);
    /// assert_eq!(e.bins(), 5); // levels 0, 1, 2, other, missing
    /// assert_eq!(e.bin(2.0), 2);
    /// assert_eq!(e.bin(7.0), 3);
    /// assert_eq!(e.bin(f32::NAN), 4);
    /// ```
    pub fn from_levels(values: &[f32]) -> Self {
        let mut levels: Vec<f64> = values
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| f64::from(v))
            .collect();
        levels.sort_by(f64::total_cmp);
        levels.dedup();
        Self {
            cuts: levels,
            categorical: true,
        }
    }

    /// Whether the bins are categorical levels.
    pub fn is_categorical(&self) -> bool {
        self.categorical
    }

    /// Cut points at the reference's quantiles `i / bins`, equal ones merged.
    /// NaN and infinite values are ignored; with no finite value there are no
    /// cut points (one value bin).
    pub fn from_reference(values: &[f32], bins: usize) -> Self {
        let mut sorted: Vec<f64> = values
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| f64::from(v))
            .collect();
        if sorted.is_empty() || bins < 2 {
            return Self::numeric(Vec::new());
        }
        sorted.sort_by(f64::total_cmp);
        let mut cuts: Vec<f64> = (1..bins)
            .map(|i| quantile(&sorted, i as f64 / bins as f64))
            .collect();
        cuts.dedup();
        Self::numeric(cuts)
    }

    /// Cut points as given (sorted, deduplicated here).
    pub fn from_cuts(mut cuts: Vec<f64>) -> Self {
        cuts.retain(|c| !c.is_nan());
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        Self::numeric(cuts)
    }

    /// The interior cut points (the levels, for categorical bins).
    pub fn cuts(&self) -> &[f64] {
        &self.cuts
    }

    /// Number of bins, the missing-value bin included.
    pub fn bins(&self) -> usize {
        self.cuts.len() + 2
    }

    /// The bin of `v`: the index of the first cut point `>= v`, or the last
    /// value bin; NaN goes to the missing bin (`bins() - 1`).
    pub fn bin(&self, v: f32) -> usize {
        if v.is_nan() {
            return self.cuts.len() + 1;
        }
        let v = f64::from(v);
        if self.categorical {
            return self
                .cuts
                .binary_search_by(|c| c.partial_cmp(&v).unwrap_or(std::cmp::Ordering::Less))
                .unwrap_or(self.cuts.len());
        }
        // Branch-free for the usual handful of cuts (the count of cuts
        // below `v` is its bin, as `partition_point` gives on sorted cuts).
        if self.cuts.len() <= 32 {
            return self.cuts.iter().map(|&c| usize::from(c < v)).sum();
        }
        self.cuts.partition_point(|&c| c < v)
    }

    /// Bin counts of `values`.
    pub fn counts(&self, values: &[f32]) -> Vec<u64> {
        let mut counts = vec![0u64; self.bins()];
        for &v in values {
            counts[self.bin(v)] += 1;
        }
        counts
    }
}

/// PSI between two count vectors over the same bins, with share `floor`.
/// Either side empty gives 0 (nothing to compare).
pub fn psi(reference: &[u64], current: &[u64], floor: f64) -> f64 {
    debug_assert_eq!(reference.len(), current.len());
    let (rt, ct) = (
        reference.iter().sum::<u64>() as f64,
        current.iter().sum::<u64>() as f64,
    );
    if rt == 0.0 || ct == 0.0 {
        return 0.0;
    }
    reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let p = (r as f64 / rt).max(floor);
            let q = (c as f64 / ct).max(floor);
            (q - p) * (q / p).ln()
        })
        .sum()
}

/// One feature's PSI over a sliding window of its most recent values,
/// updated in O(log bins) per value; [`FeaturePsi::psi`] costs O(bins).
#[derive(Debug, Clone)]
pub struct FeaturePsi {
    edges: BinEdges,
    reference: Vec<u64>,
    /// The window's values with their bins (so eviction needs no binning).
    window: VecDeque<(f32, u32)>,
    capacity: usize,
    current: Vec<u64>,
    floor: f64,
    tumbling: bool,
    /// Sorted finite reference values, kept for the KS test when enabled.
    ks_reference: Option<Vec<f64>>,
}

impl FeaturePsi {
    /// A monitor with reference `values` binned by `edges` and a window of
    /// the last `window` values (at least 1), floor [`DEFAULT_FLOOR`].
    pub fn new(edges: BinEdges, reference: &[f32], window: usize) -> Self {
        let counts = edges.counts(reference);
        Self::from_counts(edges, counts, window)
    }

    /// A monitor from stored reference counts (`edges.bins()` of them; see
    /// [`crate::drift::reference`]).
    pub fn from_counts(edges: BinEdges, reference: Vec<u64>, window: usize) -> Self {
        let bins = edges.bins();
        debug_assert_eq!(reference.len(), bins);
        Self {
            edges,
            reference,
            window: VecDeque::with_capacity(window.max(1)),
            capacity: window.max(1),
            current: vec![0; bins],
            floor: DEFAULT_FLOOR,
            tumbling: false,
            ks_reference: None,
        }
    }

    /// A tumbling window instead of a sliding one: once full, the next value
    /// starts a new, empty window.
    pub fn tumbling(mut self, tumbling: bool) -> Self {
        self.tumbling = tumbling;
        self
    }

    /// Keeps the reference values for the KS test ([`FeaturePsi::ks`]).
    pub fn with_ks(mut self, reference: &[f32]) -> Self {
        self.ks_reference = Some(crate::drift::ks::sorted_finite(reference.iter().copied()));
        self
    }

    /// KS test of the window against the reference, when enabled.
    pub fn ks(&self) -> Option<crate::drift::ks::Ks> {
        let reference = self.ks_reference.as_ref()?;
        let window = crate::drift::ks::sorted_finite(self.window.iter().map(|e| e.0));
        Some(crate::drift::ks::ks_sorted(reference, &window))
    }

    /// Reference counts per bin.
    pub fn reference_counts(&self) -> &[u64] {
        &self.reference
    }

    /// Current window counts per bin.
    pub fn current_counts(&self) -> &[u64] {
        &self.current
    }

    /// Sets the share floor.
    pub fn with_floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// Adds a recent value, evicting the oldest when the window is full.
    pub fn push(&mut self, v: f32) {
        if self.window.len() == self.capacity {
            if self.tumbling {
                self.window.clear();
                self.current.iter_mut().for_each(|c| *c = 0);
            } else if let Some((_, bin)) = self.window.pop_front() {
                self.current[bin as usize] -= 1;
            }
        }
        let bin = self.edges.bin(v);
        self.current[bin] += 1;
        self.window.push_back((v, bin as u32));
    }

    /// The values in the window, oldest first.
    pub fn window(&self) -> impl ExactSizeIterator<Item = f32> + '_ {
        self.window.iter().map(|e| e.0)
    }

    /// Number of reference values.
    pub fn reference_len(&self) -> u64 {
        self.reference.iter().sum()
    }

    /// PSI of the window against the reference.
    pub fn psi(&self) -> f64 {
        psi(&self.reference, &self.current, self.floor)
    }

    /// Values in the window.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }

    /// The bin edges.
    pub fn edges(&self) -> &BinEdges {
        &self.edges
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_psi() {
        // p = (0.5, 0.5), q = (0.25, 0.75):
        // (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5)
        let want = -0.25 * 0.5f64.ln() + 0.25 * 1.5f64.ln();
        assert!((psi(&[5, 5], &[1, 3], 1e-4) - want).abs() < 1e-12);
    }

    #[test]
    fn text_levels_bin_by_their_codes() {
        use refit_plugin_kit::preprocess::level_code;
        let code = |t: &[&str]| t.iter().map(|s| level_code(s)).collect::<Vec<f32>>();
        // Reference: gold, basic, gold, basic; now: gold, platinum x3.
        let edges = BinEdges::from_levels(&code(&["gold", "basic", "gold", "basic"]));
        assert_eq!(edges.bins(), 4, "two levels, other, missing");
        let reference = edges.counts(&code(&["gold", "basic", "gold", "basic"]));
        let current = edges.counts(&code(&["gold", "platinum", "platinum", "platinum"]));
        assert_eq!(current.iter().sum::<u64>(), 4);
        assert_eq!(
            current[edges.bin(level_code("platinum"))],
            3,
            "unseen: other"
        );
        // By hand: shares (gold, basic, other) 0.5/0.5/0 -> 0.25/0/0.75,
        // empty shares floored at 1e-4 (the missing bin is empty on both
        // sides and adds 0).
        let term = |p: f64, q: f64| (q - p) * (q / p).ln();
        let want = term(0.5, 0.25) + term(0.5, 1e-4) + term(1e-4, 0.75);
        assert!((psi(&reference, &current, 1e-4) - want).abs() < 1e-12);
    }

    #[test]
    fn empty_bin_uses_the_floor() {
        // q has an empty bin: its share becomes 1e-4.
        let got = psi(&[5, 5], &[0, 4], 1e-4);
        let want = (1e-4 - 0.5) * (1e-4f64 / 0.5).ln() + (1.0 - 0.5) * (1.0f64 / 0.5).ln();
        assert!((got - want).abs() < 1e-12);
    }

    #[test]
    fn ties_merge_edges_and_constants_have_one_bin() {
        let zeros: Vec<f32> = (0..100)
            .map(|i| if i < 80 { 0.0 } else { i as f32 })
            .collect();
        let e = BinEdges::from_reference(&zeros, 10);
        assert!(e.cuts().len() < 9, "{:?}", e.cuts());
        assert_eq!(BinEdges::from_reference(&[3.0; 50], 10).cuts(), &[3.0]);
        // Outer bins are open, NaN has its own bin.
        let e = BinEdges::from_reference(&[1.0, 2.0, 3.0, 4.0], 4);
        assert_eq!(e.bin(-1e9), 0);
        assert_eq!(e.bin(1e9), e.bins() - 2);
        assert_eq!(e.bin(f32::NAN), e.bins() - 1);
    }

    #[test]
    fn window_slides() {
        let reference: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let mut m = FeaturePsi::new(BinEdges::from_reference(&reference, 10), &reference, 100);
        for v in &reference {
            m.push(*v);
        }
        assert!(m.psi() < 1e-12);
        for _ in 0..100 {
            m.push(1e6);
        }
        assert_eq!(m.len(), 100);
        assert!(m.psi() > 5.0);
    }

    #[test]
    fn tumbling_window_starts_over_when_full() {
        let reference: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let edges = BinEdges::from_reference(&reference, 10);
        let mut m = FeaturePsi::new(edges, &reference, 50).tumbling(true);
        for _ in 0..50 {
            m.push(1e6);
        }
        assert_eq!(m.len(), 50);
        m.push(5.0);
        assert_eq!(m.len(), 1);
        assert_eq!(m.current_counts().iter().sum::<u64>(), 1);
    }

    #[test]
    fn categorical_levels_and_other() {
        let e = BinEdges::from_levels(&[0.0, 1.0, 1.0, 2.0]);
        assert_eq!(e.bin(-0.0), 0);
        assert_eq!(e.bin(0.5), 3); // other
        let m = FeaturePsi::new(e, &[0.0, 1.0, 1.0, 2.0], 10);
        assert_eq!(m.reference_counts(), &[1, 2, 1, 0, 0]);
    }

    proptest! {
        #[test]
        fn psi_properties(
            a in proptest::collection::vec(0u64..50, 2..12),
            seed in proptest::collection::vec(0u64..50, 12),
        ) {
            let b: Vec<u64> = seed[..a.len()].to_vec();
            let ab = psi(&a, &b, DEFAULT_FLOOR);
            prop_assert!(ab.is_finite());
            prop_assert!(ab >= 0.0);
            prop_assert!((ab - psi(&b, &a, DEFAULT_FLOOR)).abs() < 1e-9);
            prop_assert!(psi(&a, &a, DEFAULT_FLOOR).abs() < 1e-12);
        }

        #[test]
        fn psi_of_raw_values(
            // Small integers give heavy ties and constants; NaN is missing.
            reference in proptest::collection::vec(prop_oneof![
                (-3i8..3).prop_map(f32::from),
                Just(f32::NAN),
                proptest::num::f32::NORMAL,
            ], 0..80),
            current in proptest::collection::vec(prop_oneof![
                (-3i8..3).prop_map(f32::from),
                Just(f32::NAN),
                proptest::num::f32::NORMAL,
            ], 0..80),
            bins in 2usize..12,
            categorical in proptest::bool::ANY,
        ) {
            let edges = if categorical {
                BinEdges::from_levels(&reference)
            } else {
                BinEdges::from_reference(&reference, bins)
            };
            let mut m = FeaturePsi::new(edges.clone(), &reference, 80);
            // An empty window has nothing to compare.
            prop_assert_eq!(m.psi(), 0.0);
            for v in &current {
                m.push(*v);
            }
            let value = m.psi();
            prop_assert!(value.is_finite() && value >= 0.0);
            // Symmetric in the two shares for the same bins.
            let (r, c) = (edges.counts(&reference), edges.counts(&current));
            prop_assert!((psi(&r, &c, DEFAULT_FLOOR) - psi(&c, &r, DEFAULT_FLOOR)).abs() < 1e-9);
            // The reference against itself is 0.
            let mut same = FeaturePsi::new(edges, &reference, 80);
            for v in &reference {
                same.push(*v);
            }
            prop_assert!(same.psi().abs() < 1e-12);
        }

        #[test]
        fn binning_never_panics(values in proptest::collection::vec(proptest::num::f32::ANY, 0..100), bins in 0usize..20) {
            let e = BinEdges::from_reference(&values, bins);
            for v in &values {
                prop_assert!(e.bin(*v) < e.bins());
            }
        }

        /// The branch-free count of cuts below a value is the binary
        /// search's first cut not below it, for few cuts and many.
        #[test]
        fn counting_cuts_agrees_with_the_binary_search(
            reference in proptest::collection::vec(-1e3f32..1e3, 1..400),
            probes in proptest::collection::vec(prop_oneof![
                -2e3f32..2e3,
                Just(f32::INFINITY),
                Just(f32::NEG_INFINITY),
            ], 1..50),
            bins in 1usize..60,
        ) {
            let e = BinEdges::from_reference(&reference, bins);
            for v in probes.iter().chain(&reference) {
                let searched = e.cuts.partition_point(|&c| c < f64::from(*v));
                prop_assert_eq!(e.bin(*v), searched);
            }
        }
    }
}
