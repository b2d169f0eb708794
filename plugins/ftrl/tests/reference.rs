//! refit-ftrl against an independent FTRL-Proximal implementation
//! (benches/peers/make_ftrl_fixture.py, McMahan et al. 2013, Algorithm 1,
//! in Python doubles): the progressive prediction of every row and the
//! final weight of every coordinate agree to 1e-6, row by row and in
//! mini-batches.

use refit_ftrl::{FtrlModel, FtrlParams};
use refit_plugin::{Model, ModelSpec, SparseBatch, Task};
use serde::Deserialize;

#[derive(Deserialize)]
struct Row {
    indices: Vec<u32>,
    values: Vec<f32>,
    label: f32,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    params: serde_json::Map<String, serde_json::Value>,
    predictions: Vec<f64>,
    weights: Vec<f64>,
}

#[derive(Deserialize)]
struct Fixture {
    bits: u32,
    rows: Vec<Row>,
    cases: Vec<Case>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/ftrl_reference.json")).unwrap()
}

fn model(f: &Fixture, case: &Case) -> (FtrlModel, f32) {
    let mut params = case.params.clone();
    let lr = params
        .remove("lr")
        .map_or(0.01, |v| v.as_f64().unwrap() as f32);
    params.insert("bits".into(), f.bits.into());
    let params: FtrlParams = serde_json::from_value(params.into()).unwrap();
    let spec = ModelSpec::new("ftrl", Task::Classification, Vec::<String>::new());
    (FtrlModel::new(spec, params).unwrap(), lr)
}

/// CSR arrays of `rows`.
fn csr(rows: &[Row]) -> (Vec<usize>, Vec<u32>, Vec<f32>, Vec<f32>) {
    let mut offsets = vec![0];
    let (mut idx, mut val, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        idx.extend(&r.indices);
        val.extend(&r.values);
        offsets.push(idx.len());
        y.push(r.label);
    }
    (offsets, idx, val, y)
}

#[test]
fn row_by_row_matches_the_reference() {
    let f = fixture();
    let dim = 1usize << f.bits;
    for case in &f.cases {
        let (mut m, lr) = model(&f, case);
        let mut worst: f64 = 0.0;
        for (r, expected) in f.rows.iter().zip(&case.predictions) {
            let (o, i, v, y) = csr(std::slice::from_ref(r));
            let x = SparseBatch::new(&o, &i, &v, dim).unwrap();
            let p = m.predict(x.into()).unwrap()[0];
            worst = worst.max((f64::from(p) - expected).abs());
            m.partial_fit(x.into(), &y, lr).unwrap();
        }
        assert!(worst < 1e-6, "{}: prediction off by {worst:e}", case.name);
        // Not a vacuous comparison: many coordinates learned something.
        let moved = case.weights.iter().filter(|w| w.abs() > 0.01).count();
        assert!(moved > 20, "{}: {moved} weights moved", case.name);
        for (i, expected) in case.weights.iter().enumerate() {
            let got = m.weight(i);
            assert!(
                (got - expected).abs() < 1e-6,
                "{}: weight {i} is {got}, reference {expected}",
                case.name
            );
        }
    }
}

#[test]
fn mini_batches_learn_row_by_row() {
    let f = fixture();
    let dim = 1usize << f.bits;
    for case in &f.cases {
        let (mut m, lr) = model(&f, case);
        for chunk in f.rows.chunks(37) {
            let (o, i, v, y) = csr(chunk);
            m.partial_fit(SparseBatch::new(&o, &i, &v, dim).unwrap().into(), &y, lr)
                .unwrap();
        }
        let snap = m.snapshot();
        for (i, expected) in case.weights.iter().enumerate() {
            assert!(
                (m.weight(i) - expected).abs() < 1e-6,
                "{} weight {i}",
                case.name
            );
        }
        // The serving snapshot holds the same weights in f32.
        let (o, i, v, _) = csr(&f.rows[..50]);
        let x = SparseBatch::new(&o, &i, &v, dim).unwrap();
        let served = snap.predict(x.into()).unwrap();
        let trained = m.predict(x.into()).unwrap();
        for (a, b) in served.iter().zip(&trained) {
            assert!((a - b).abs() < 1e-5, "{}: served {a}, model {b}", case.name);
        }
    }
}
