//! refit's ADWIN and Page-Hinkley against River's: the fixture
//! `tests/fixtures/river_drift.json` was written by
//! `benches/peers/make_drift_fixture.py` (River 0.26.1) and holds five
//! streams (abrupt and gradual mean shifts, no change, a Bernoulli error
//! rate, a log-loss-like stream) and the indices River flags with several
//! parameter sets. refit must flag exactly the same indices.

use std::collections::HashMap;

use refit::drift::{Adwin, AdwinParams, Direction, PageHinkley, PageHinkleyParams};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    streams: HashMap<String, Vec<f64>>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    stream: String,
    detector: String,
    params: serde_json::Value,
    flags: Vec<usize>,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/river_drift.json"
    ))
    .expect("fixture present");
    serde_json::from_str(&text).expect("fixture parses")
}

fn num(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn flags(mut update: impl FnMut(f64) -> bool, values: &[f64]) -> Vec<usize> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, &v)| update(v).then_some(i))
        .collect()
}

#[test]
fn detectors_flag_the_indices_river_flags() {
    let f = fixture();
    let mut checked = 0;
    for case in &f.cases {
        let values = &f.streams[&case.stream];
        let p = &case.params;
        let got = match case.detector.as_str() {
            "adwin" => {
                let params = AdwinParams {
                    delta: num(p, "delta"),
                    clock: num(p, "clock") as u32,
                    max_buckets: num(p, "max_buckets") as usize,
                    min_window_length: num(p, "min_window_length") as u32,
                    grace_period: num(p, "grace_period") as u32,
                };
                let mut d = Adwin::new(params);
                flags(|v| d.update(v), values)
            }
            "page_hinkley" => {
                let params = PageHinkleyParams {
                    min_instances: num(p, "min_instances") as u64,
                    delta: num(p, "delta"),
                    threshold: num(p, "threshold"),
                    alpha: num(p, "alpha"),
                    direction: match p["mode"].as_str() {
                        Some("up") => Direction::Up,
                        Some("down") => Direction::Down,
                        _ => Direction::Both,
                    },
                };
                let mut d = PageHinkley::new(params);
                flags(|v| d.update(v), values)
            }
            other => panic!("unknown detector {other}"),
        };
        assert_eq!(
            got, case.flags,
            "{} on {} with {}",
            case.detector, case.stream, case.params
        );
        checked += 1;
    }
    assert_eq!(checked, 25);
}
