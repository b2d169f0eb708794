//! refit's PSI and KS against independent computations:
//! `benches/peers/make_psi_fixture.py` wrote `tests/fixtures/psi_numpy.json`
//! (numpy: normal shift, scale change, many zeros, a constant feature, an
//! empty bin, missing values, two categorical features) and
//! `tests/fixtures/ks_scipy.json` (scipy's `ks_2samp` statistic and
//! `kstwobign` asymptotic p-value).

use refit::drift::ks::ks_2samp;
use refit::drift::psi::psi;
use refit::drift::{BinEdges, FeaturePsi};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    bins: usize,
    floor: f64,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    categorical: bool,
    reference: Vec<Option<f32>>,
    current: Vec<Option<f32>>,
    cuts: Vec<f64>,
    psi: f64,
}

fn values(v: &[Option<f32>]) -> Vec<f32> {
    v.iter().map(|x| x.unwrap_or(f32::NAN)).collect()
}

#[test]
fn psi_matches_numpy() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/psi_numpy.json"
    ))
    .unwrap();
    let f: Fixture = serde_json::from_str(&text).unwrap();
    assert!(f.cases.len() >= 9);
    assert!(f.cases.iter().filter(|c| c.categorical).count() >= 2);
    for case in &f.cases {
        let (reference, current) = (values(&case.reference), values(&case.current));
        let edges = if case.categorical {
            BinEdges::from_levels(&reference)
        } else {
            BinEdges::from_reference(&reference, f.bins)
        };
        assert_eq!(
            edges.cuts().len(),
            case.cuts.len(),
            "{}: cut points",
            case.name
        );
        for (a, b) in edges.cuts().iter().zip(&case.cuts) {
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "{}: cut {a} vs {b}",
                case.name
            );
        }
        let got = psi(&edges.counts(&reference), &edges.counts(&current), f.floor);
        assert!(
            (got - case.psi).abs() < 1e-9,
            "{}: refit {got}, numpy {}",
            case.name,
            case.psi
        );
        // The incremental window gives the same value once it holds the
        // whole current sample.
        let mut monitor = FeaturePsi::new(edges, &reference, current.len()).with_floor(f.floor);
        current.iter().for_each(|v| monitor.push(*v));
        assert!(
            (monitor.psi() - case.psi).abs() < 1e-9,
            "{}: windowed",
            case.name
        );
    }
}

#[derive(Deserialize)]
struct KsFixture {
    cases: Vec<KsCase>,
}

#[derive(Deserialize)]
struct KsCase {
    name: String,
    a: Vec<f32>,
    b: Vec<f32>,
    statistic: f64,
    p_value: f64,
}

#[test]
fn ks_matches_scipy() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ks_scipy.json"
    ))
    .unwrap();
    let f: KsFixture = serde_json::from_str(&text).unwrap();
    assert_eq!(f.cases.len(), 5);
    for c in &f.cases {
        let k = ks_2samp(&c.a, &c.b);
        assert!(
            (k.statistic - c.statistic).abs() < 1e-12,
            "{}: D {} vs {}",
            c.name,
            k.statistic,
            c.statistic
        );
        assert!(
            (k.p_value - c.p_value).abs() < 1e-9,
            "{}: p {} vs {}",
            c.name,
            k.p_value,
            c.p_value
        );
    }
}
