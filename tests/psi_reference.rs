//! refit's PSI against an independent numpy computation
//! (`benches/peers/make_psi_fixture.py` wrote `tests/fixtures/psi_numpy.json`).

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
    assert!(f.cases.len() >= 6);
    for case in &f.cases {
        let (reference, current) = (values(&case.reference), values(&case.current));
        let edges = BinEdges::from_reference(&reference, f.bins);
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
