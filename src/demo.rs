//! Built-in demo streams, generated deterministically from a seed (ChaCha8,
//! portable): no downloads, the same rows on every machine.
//!
//! | stream | task | rows (default) | abrupt concept drift | gradual covariate shift |
//! |---|---|---|---|---|
//! | [`churn`] | classification | 40 000 | at row 20 000 | rows 28 000 to 36 000 |
//! | [`clv`] | regression | 40 000 | at row 20 000 | rows 28 000 to 36 000 |
//! | [`xor`] | classification | any | none | none |
//!
//! Concept drift: from [`CONCEPT_DRIFT_AT`] the labels follow new
//! coefficients ([`DemoStream::segments`] lists the rules). Covariate shift:
//! between [`SHIFT_START`] and [`SHIFT_END`] the distributions of some
//! features move linearly to new ones (and stay there), while the label rule,
//! as a function of the features, stays the post-drift one. In the churn
//! stream the shift brings in a segment (young customers) with its own rule,
//! so the best *linear* model changes with the mix: a linear model has to
//! relearn after the shift although P(y | x) never changes. Positions scale
//! with `rows` (they are fractions 0.5, 0.7 and 0.9 of the stream).
//!
//! ```
//! let s = refit::demo::churn(7, 2_000);
//! assert_eq!(s.rows(), 2_000);
//! assert_eq!(s.features.len(), refit::demo::CHURN_FEATURES.len());
//! assert_eq!(s.events[0].start, 1_000);
//! // Same seed, same rows.
//! assert_eq!(s.x, refit::demo::churn(7, 2_000).x);
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};
use refit_plugin::Task;
use serde::Serialize;

/// Default number of rows of the churn and CLV streams.
pub const DEFAULT_ROWS: usize = 40_000;
/// Row of the abrupt concept drift, for [`DEFAULT_ROWS`] rows.
pub const CONCEPT_DRIFT_AT: usize = 20_000;
/// First row of the gradual covariate shift, for [`DEFAULT_ROWS`] rows.
pub const SHIFT_START: usize = 28_000;
/// Row where the covariate shift is complete, for [`DEFAULT_ROWS`] rows.
pub const SHIFT_END: usize = 36_000;

/// Churn stream features, in column order (units in the names).
pub const CHURN_FEATURES: [&str; 8] = [
    "tenure_years",
    "monthly_charges_100usd",
    "support_calls",
    "usage_hours_10",
    "monthly_contract",
    "late_payments",
    "has_discount",
    "age_decades",
];

/// CLV stream features, in column order.
pub const CLV_FEATURES: [&str; 6] = [
    "tenure_years",
    "avg_order_100usd",
    "orders_per_month",
    "has_discount",
    "support_calls",
    "age_decades",
];

/// A drift the generator put into a stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftEvent {
    /// `"concept"` (labels follow new coefficients) or `"covariate"`
    /// (feature distributions move).
    pub kind: &'static str,
    /// First affected row.
    pub start: usize,
    /// Row where the change is complete (`start` for an abrupt drift).
    pub end: usize,
    /// What changes.
    pub description: String,
}

/// The label rule in force over a range of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// First row of the segment.
    pub start: usize,
    /// One past the last row.
    pub end: usize,
    /// True coefficients (log-odds for classification).
    pub coefficients: Vec<f32>,
    /// True intercept.
    pub intercept: f32,
    /// The rows the rule applies to within the range, when not all of them
    /// (e.g. `"age_decades < 3"`).
    pub applies_to: Option<String>,
}

/// A generated stream: rows, labels, the generator's own predictions (the
/// oracle), and where it drifts.
#[derive(Debug, Clone, Serialize)]
pub struct DemoStream {
    /// `"churn"`, `"clv"` or `"xor"`.
    pub name: &'static str,
    /// Classification or regression.
    pub task: Task,
    /// Feature names in column order.
    pub features: Vec<String>,
    /// Row-major features, `rows() * features.len()` values.
    pub x: Vec<f32>,
    /// Labels (0/1 or values).
    pub y: Vec<f32>,
    /// The generator's true P(y = 1) (classification) or noiseless value
    /// (regression) for every row: the best any model can predict.
    pub oracle: Vec<f32>,
    /// The drifts in this stream.
    pub events: Vec<DriftEvent>,
    /// The label rules, in row order.
    pub segments: Vec<Segment>,
}

impl DemoStream {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.y.len()
    }

    /// Number of features.
    pub fn width(&self) -> usize {
        self.features.len()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.width()..(i + 1) * self.width()]
    }

    /// The stream as CSV text with a header row; the label column is `label`.
    pub fn to_csv(&self) -> String {
        let mut out = self.features.join(",");
        out.push_str(",label\n");
        for i in 0..self.rows() {
            for v in self.row(i) {
                out.push_str(&v.to_string());
                out.push(',');
            }
            out.push_str(&self.y[i].to_string());
            out.push('\n');
        }
        out
    }
}

fn scaled(pos: usize, rows: usize) -> usize {
    pos * rows / DEFAULT_ROWS
}

/// How far the covariate shift has progressed at row `i` (0 to 1).
fn shift_progress(i: usize, rows: usize) -> f32 {
    let (s, e) = (scaled(SHIFT_START, rows), scaled(SHIFT_END, rows));
    if i < s {
        0.0
    } else if i >= e {
        1.0
    } else {
        (i - s) as f32 / (e - s) as f32
    }
}

fn dot(w: &[f32], x: &[f32]) -> f32 {
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

fn events(rows: usize, concept: &str, covariate: &str) -> Vec<DriftEvent> {
    let at = scaled(CONCEPT_DRIFT_AT, rows);
    vec![
        DriftEvent {
            kind: "concept",
            start: at,
            end: at,
            description: concept.to_owned(),
        },
        DriftEvent {
            kind: "covariate",
            start: scaled(SHIFT_START, rows),
            end: scaled(SHIFT_END, rows),
            description: covariate.to_owned(),
        },
    ]
}

fn segments(rows: usize, before: (&[f32], f32), after: (&[f32], f32)) -> Vec<Segment> {
    let at = scaled(CONCEPT_DRIFT_AT, rows);
    vec![
        Segment {
            start: 0,
            end: at,
            coefficients: before.0.to_vec(),
            intercept: before.1,
            applies_to: None,
        },
        Segment {
            start: at,
            end: rows,
            coefficients: after.0.to_vec(),
            intercept: after.1,
            applies_to: None,
        },
    ]
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

// Normal and Poisson constructors only fail on invalid constants.
fn normal(mean: f32, sd: f32) -> Normal<f32> {
    Normal::new(mean, sd).unwrap_or_else(|_| unreachable!("valid constant"))
}

fn poisson(rate: f32) -> Poisson<f32> {
    Poisson::new(rate).unwrap_or_else(|_| unreachable!("valid constant"))
}

const CHURN_BEFORE: ([f32; 8], f32) = ([-0.9, 1.6, 0.7, -0.5, 1.4, 0.6, -0.8, -0.15], -1.2);
const CHURN_AFTER: ([f32; 8], f32) = ([-0.2, 0.0, 1.5, -1.0, -0.8, 1.5, 1.0, -0.15], -1.7);
/// Customers younger than this (decades) churn by their own rule, which
/// the concept drift does not change: price, usage and contract drive it.
const YOUNG_BELOW: f32 = 3.0;
const CHURN_YOUNG: ([f32; 8], f32) = ([-0.6, 2.4, 0.2, -1.4, 1.2, 0.2, -1.0, 0.0], -1.6);
/// Share of new customers drawn from the young age range once the covariate
/// shift is complete (the others keep the uniform age range, of which about
/// a fifth is young too).
const YOUNG_SHARE: f32 = 0.8;

/// The churn-like classification stream (`rows` rows from `seed`).
///
/// Customers churn by a logistic rule of tenure, charges, support calls,
/// usage, contract type, late payments, discount and age; customers under 30
/// (`age_decades < 3`) by a rule of their own (price, usage, contract and
/// discount). At the concept drift, for customers of 30 and over, price
/// stops mattering, monthly contracts start to retain, service problems
/// (support calls, late payments) weigh more, and discounts (expiring
/// promotions) raise churn; the churn rate stays about the same (the
/// generator's own log loss is 0.24 on both sides), so the drift is in the
/// drivers only. During the
/// covariate shift charges rise by 0.35 (35 USD), usage falls by 1.0
/// (10 hours), and a campaign brings in young customers: 80% of new
/// customers come from the 18-30 age range at the end of the shift.
pub fn churn(seed: u64, rows: usize) -> DemoStream {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let charges_n = normal(0.7, 0.25);
    let usage_n = normal(2.0, 0.8);
    let calls = poisson(1.2);
    let late = poisson(0.4);
    let at = scaled(CONCEPT_DRIFT_AT, rows);
    let (mut x, mut y, mut oracle) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        let shift = shift_progress(i, rows);
        let row = [
            rng.random_range(0.0..6.0f32),
            (charges_n.sample(&mut rng) + 0.35 * shift).max(0.1),
            calls.sample(&mut rng).min(10.0),
            (usage_n.sample(&mut rng) - 1.0 * shift).max(0.0),
            if rng.random_bool(0.5) { 1.0 } else { 0.0 },
            late.sample(&mut rng).min(6.0),
            if rng.random_bool(0.3) { 1.0 } else { 0.0 },
            if rng.random::<f32>() < YOUNG_SHARE * shift {
                rng.random_range(1.8..YOUNG_BELOW)
            } else {
                rng.random_range(1.8..7.5f32)
            },
        ];
        let (w, b) = if row[7] < YOUNG_BELOW {
            CHURN_YOUNG
        } else if i < at {
            CHURN_BEFORE
        } else {
            CHURN_AFTER
        };
        let p = sigmoid(dot(&w, &row) + b);
        x.extend_from_slice(&row);
        y.push(if rng.random::<f32>() < p { 1.0 } else { 0.0 });
        oracle.push(p);
    }
    DemoStream {
        name: "churn",
        task: Task::Classification,
        features: CHURN_FEATURES.iter().map(|s| s.to_string()).collect(),
        x,
        y,
        oracle,
        events: events(
            rows,
            "churn drivers change (age 30 and over): price stops mattering, monthly contracts retain, service problems weigh more, discounts raise churn",
            "monthly_charges_100usd mean +0.35, usage_hours_10 mean -1.0, share of age_decades < 3 from 21% to 84%, linearly",
        ),
        segments: {
            let older = Some(format!("age_decades >= {YOUNG_BELOW}"));
            let mut s = segments(
                rows,
                (&CHURN_BEFORE.0, CHURN_BEFORE.1),
                (&CHURN_AFTER.0, CHURN_AFTER.1),
            );
            for seg in &mut s {
                seg.applies_to = older.clone();
            }
            s.push(Segment {
                start: 0,
                end: rows,
                coefficients: CHURN_YOUNG.0.to_vec(),
                intercept: CHURN_YOUNG.1,
                applies_to: Some(format!("age_decades < {YOUNG_BELOW}")),
            });
            s
        },
    }
}

const CLV_BEFORE: ([f32; 6], f32) = ([1.5, 3.0, 0.8, -0.6, -0.4, 0.2], 2.0);
const CLV_AFTER: ([f32; 6], f32) = ([0.9, 4.2, 1.4, 0.3, -0.9, 0.1], 1.0);

/// The CLV-like regression stream: lifetime value (hundreds of USD) as a
/// linear function of the features plus Gaussian noise of standard deviation
/// `noise` (the default stream uses 0.5; 0 gives noiseless data whose
/// coefficients a linear model can recover exactly).
///
/// At the concept drift order value and frequency matter more, tenure less;
/// during the covariate shift the average order value rises by 0.5 and
/// orders per month by 0.8.
pub fn clv_with_noise(seed: u64, rows: usize, noise: f32) -> DemoStream {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let aov_n = normal(0.6, 0.2);
    let orders_n = normal(1.5, 0.6);
    let calls = poisson(1.0);
    let noise_n = normal(0.0, 1.0);
    let at = scaled(CONCEPT_DRIFT_AT, rows);
    let (mut x, mut y, mut oracle) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        let shift = shift_progress(i, rows);
        let row = [
            rng.random_range(0.0..6.0f32),
            (aov_n.sample(&mut rng) + 0.5 * shift).max(0.05),
            (orders_n.sample(&mut rng) + 0.8 * shift).max(0.0),
            if rng.random_bool(0.3) { 1.0 } else { 0.0 },
            calls.sample(&mut rng).min(10.0),
            rng.random_range(1.8..7.5f32),
        ];
        let (w, b) = if i < at { CLV_BEFORE } else { CLV_AFTER };
        let value = dot(&w, &row) + b;
        x.extend_from_slice(&row);
        y.push(value + noise * noise_n.sample(&mut rng));
        oracle.push(value);
    }
    DemoStream {
        name: "clv",
        task: Task::Regression,
        features: CLV_FEATURES.iter().map(|s| s.to_string()).collect(),
        x,
        y,
        oracle,
        events: events(
            rows,
            "value drivers change: order value and frequency weigh more, tenure less",
            "avg_order_100usd mean +0.5, orders_per_month mean +0.8, linearly",
        ),
        segments: segments(
            rows,
            (&CLV_BEFORE.0, CLV_BEFORE.1),
            (&CLV_AFTER.0, CLV_AFTER.1),
        ),
    }
}

/// [`clv_with_noise`] with noise 0.5.
pub fn clv(seed: u64, rows: usize) -> DemoStream {
    clv_with_noise(seed, rows, 0.5)
}

/// An XOR-like classification stream: two uniform features in [-1, 1];
/// class 1 when they have the same sign (2% label noise, so the oracle AUC is 0.98).
/// No linear model can beat chance on it; a small MLP can.
pub fn xor(seed: u64, rows: usize) -> DemoStream {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut x, mut y, mut oracle) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rows {
        let (a, b) = (
            rng.random_range(-1.0..1.0f32),
            rng.random_range(-1.0..1.0f32),
        );
        let p = if a * b > 0.0 { 0.98 } else { 0.02 };
        x.extend_from_slice(&[a, b]);
        y.push(if rng.random::<f32>() < p { 1.0 } else { 0.0 });
        oracle.push(p);
    }
    DemoStream {
        name: "xor",
        task: Task::Classification,
        features: vec!["a".into(), "b".into()],
        x,
        y,
        oracle,
        events: Vec::new(),
        segments: vec![Segment {
            start: 0,
            end: rows,
            coefficients: vec![0.0, 0.0],
            intercept: 0.0,
            applies_to: None,
        }],
    }
}

/// A stream by name (`churn`, `clv`, `xor`).
pub fn by_name(name: &str, seed: u64, rows: usize) -> Option<DemoStream> {
    match name {
        "churn" => Some(churn(seed, rows)),
        "clv" => Some(clv(seed, rows)),
        "xor" => Some(xor(seed, rows)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covariate_shift_moves_the_mean() {
        let s = churn(1, DEFAULT_ROWS);
        let mean = |range: std::ops::Range<usize>, col: usize| {
            range.clone().map(|i| s.row(i)[col]).sum::<f32>() / range.len() as f32
        };
        let before = mean(CONCEPT_DRIFT_AT..SHIFT_START, 1);
        let after = mean(SHIFT_END..DEFAULT_ROWS, 1);
        assert!((after - before - 0.35).abs() < 0.03, "{before} -> {after}");
        let young = |range: std::ops::Range<usize>| {
            range.clone().filter(|&i| s.row(i)[7] < YOUNG_BELOW).count() as f32 / range.len() as f32
        };
        let (before, after) = (young(0..SHIFT_START), young(SHIFT_END..DEFAULT_ROWS));
        // (3.0 - 1.8) / (7.5 - 1.8) = 21% young, then 80% + 20% * 21%.
        assert!((before - 0.21).abs() < 0.02, "young before {before}");
        assert!((after - 0.84).abs() < 0.02, "young after {after}");
    }

    #[test]
    fn noiseless_clv_equals_its_oracle() {
        let s = clv_with_noise(3, 500, 0.0);
        assert_eq!(s.y, s.oracle);
    }

    #[test]
    fn seeds_differ() {
        assert_ne!(churn(1, 100).x, churn(2, 100).x);
    }
}
