//! Data as users hold it: `refit serve` with the shipped config (only the
//! bind changed) waits for its first named samples, which fix the schema;
//! text categories, unseen levels, rows that contradict the schema, and
//! the schema kept with the model across a restart.

use crate::common;

use std::time::Duration;

use common::{addr_in, exit_within, first_line, json, signal, try_http};
use serde_json::json;

/// `refit serve` on a loopback port with the shipped config.
fn serve_shipped(dir: &std::path::Path) -> (std::process::Child, std::net::SocketAddr, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_refit"))
        .args(["serve", "--config", "config.toml", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    (child, addr_in(&line), line)
}

fn post(
    addr: std::net::SocketAddr,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let (status, text) = try_http(addr, "POST", path, &body.to_string()).expect("an answer");
    (status, json(&text))
}

/// 1,200 named churn-like rows: churn is likelier on the basic plan and
/// with short tenure.
fn named_samples(n: usize) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let plans = ["basic", "gold", "silver"];
    (0..n)
        .map(|i| {
            let plan = plans[i % 3];
            let tenure = (i * 7 % 48) as f64;
            let churn = (plan == "basic") as u8 + (tenure < 12.0) as u8 >= 1 && i % 5 != 0;
            (
                json!({"plan": plan, "tenure": tenure, "charges": 20.0 + (i % 50) as f64}),
                json!(if churn { "churned" } else { "stayed" }),
            )
        })
        .unzip()
}

#[test]
fn the_shipped_config_serves_and_the_first_named_rows_fix_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"),
        dir.path().join("config.toml"),
    )
    .unwrap();
    let (mut child, addr, line) = serve_shipped(dir.path());
    assert!(line.contains("the first named samples fix them"), "{line}");
    let (status, health) = try_http(addr, "GET", "/healthz", "").unwrap();
    assert_eq!(
        (status, json(&health)["status"].as_str()),
        (200, Some("waiting"))
    );
    let (status, answer) = post(addr, "/v1/predict", &json!({"rows": [{"tenure": 1}]}));
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("no model yet"),
        "{answer}"
    );
    // Array rows cannot fix a schema: nothing is started.
    let (status, answer) = post(
        addr,
        "/v1/samples",
        &json!({"rows": [[1, 2]], "labels": [1]}),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("objects keyed by feature name"),
        "{answer}"
    );

    let (rows, labels) = named_samples(1_200);
    let (status, answer) = post(
        addr,
        "/v1/samples",
        &json!({"rows": rows, "labels": labels}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1_200);
    // The schema: features in name order, `plan` categorical, two classes.
    let (_, stats) = try_http(addr, "GET", "/v1/stats", "").unwrap();
    assert!(json(&stats)["agent"].is_object());

    // An unseen level gets a prediction; an array row follows the
    // features' name order (charges, plan, tenure).
    let (status, answer) = post(
        addr,
        "/v1/predict",
        &json!({"rows": [{"plan": "platinum", "tenure": 3, "charges": 40}, [25, "gold", 30]]}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["values"].as_array().unwrap().len(), 2);
    // Rows that contradict the schema: 400 naming the feature or key.
    for (row, named) in [
        (
            json!({"plan": "gold", "tenure": "long", "charges": 1}),
            "feature `tenure`",
        ),
        (
            json!({"plan": "gold", "tenure": 1, "charges": 1, "region": "EU"}),
            "region",
        ),
        (json!({}), "empty object"),
    ] {
        let (status, answer) = post(
            addr,
            "/v1/samples",
            &json!({"rows": [row], "labels": ["stayed"]}),
        );
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(named),
            "{answer}"
        );
    }
    let (status, answer) = post(
        addr,
        "/v1/samples",
        &json!({"rows": [{"plan": "gold", "tenure": 1, "charges": 1}], "labels": ["left"]}),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("`left` is not one of the model's classes"),
        "{answer}"
    );
    let (_, stats) = try_http(addr, "GET", "/v1/stats", "").unwrap();
    assert_eq!(
        json(&stats)["agent"]["ingest"]["accepted"],
        1_200,
        "refused rows change nothing"
    );

    signal(&child, "TERM");
    assert_eq!(
        exit_within(&mut child, Duration::from_secs(30)).code(),
        Some(0)
    );

    // The schema is stored with the model: a restart serves named rows
    // with text levels at once, and still refuses contradicting ones.
    let (mut child, addr, line) = serve_shipped(dir.path());
    assert!(!line.contains("first named samples"), "{line}");
    let (status, answer) = post(
        addr,
        "/v1/predict",
        &json!({"rows": [{"plan": "basic", "tenure": 1, "charges": 30}, {"plan": "gold", "tenure": 40, "charges": 30}]}),
    );
    assert_eq!(status, 200, "{answer}");
    let values: Vec<f64> = answer["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        values[0] < values[1],
        "P(stayed): basic and new below gold and loyal: {values:?}"
    );
    let (status, answer) = post(
        addr,
        "/v1/predict",
        &json!({"rows": [{"plan": 1, "tenure": "x", "charges": 1}]}),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("feature `tenure`"),
        "{answer}"
    );
    signal(&child, "TERM");
    assert_eq!(
        exit_within(&mut child, Duration::from_secs(30)).code(),
        Some(0)
    );
}

/// A multiclass model over HTTP: named rows with a text level and class
/// names in, class probabilities and names out; delayed labels by class
/// name; an unknown class or request id is refused and changes nothing.
#[test]
fn multiclass_over_http_takes_and_answers_class_names() {
    use refit::plugins::preprocess::{FeatureOverride, FeatureType};
    let dir = tempfile::tempdir().unwrap();
    let mut c = refit::config::Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.model.features = vec!["plan".into(), "x".into()];
    c.model.classes = vec!["bronze".into(), "gold".into(), "silver".into()];
    c.model.preprocessing.features.insert(
        "plan".into(),
        FeatureOverride {
            kind: Some(FeatureType::Categorical),
            ..Default::default()
        },
    );
    c.online.min_samples_per_update = 60;
    c.online.cold_start = false;
    c.feedback.enabled = true;
    let agent = refit::Agent::start(c).unwrap();
    let server = refit::http::serve(
        refit::http::HttpState::new(agent.clone(), None),
        "127.0.0.1:0",
        1 << 20,
    )
    .unwrap();
    let addr = server.addr;
    let classes = ["bronze", "gold", "silver"];
    let (rows, labels): (Vec<_>, Vec<_>) = (0..600)
        .map(|i| {
            let k = i % 3;
            (
                json!({"plan": classes[k], "x": k as f64 + (i % 5) as f64 / 10.0}),
                json!(classes[k]),
            )
        })
        .unzip();
    // Ten calls, ten updates: each call is scored by the model before it.
    for (rows, labels) in rows.chunks(60).zip(labels.chunks(60)) {
        let (status, answer) = post(
            addr,
            "/v1/samples",
            &json!({"rows": rows, "labels": labels}),
        );
        assert_eq!(status, 200, "{answer}");
        agent.wait_served().unwrap();
    }
    let (status, answer) = post(
        addr,
        "/v1/predict",
        &json!({"rows": [{"plan": "silver", "x": 2.1}, {"plan": "unseen", "x": 0.0}], "key": "user-1"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["classes"], json!(classes));
    assert_eq!(answer["labels"][0], "silver", "{answer}");
    assert_eq!(answer["values"][0], 2.0);
    let p = answer["probabilities"][0].as_array().unwrap();
    let sum: f64 = p.iter().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-5, "{answer}");
    let id = answer["request_id"].as_u64().unwrap();

    let accepted = agent.stats().unwrap().ingest.accepted;
    let (status, answer) = post(
        addr,
        "/v1/feedback",
        &json!({"request_id": id, "labels": ["silver", "platinum"]}),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("`platinum` is not one of the model's classes"),
        "{answer}"
    );
    let (status, answer) = post(
        addr,
        "/v1/feedback",
        &json!({"request_id": id ^ 1, "labels": ["silver", "gold"]}),
    );
    assert_eq!(status, 404, "{answer}");
    assert_eq!(
        agent.stats().unwrap().ingest.accepted,
        accepted,
        "refused feedback stores nothing"
    );
    let counted: usize = agent
        .ab_stats()
        .unwrap()
        .variants
        .iter()
        .map(|v| v.samples)
        .sum();
    assert_eq!(counted, 0, "refused feedback counts no outcome");
    let (status, answer) = post(
        addr,
        "/v1/feedback",
        &json!({"request_id": id, "labels": ["silver", "bronze"]}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        agent.stats().unwrap().ingest.accepted,
        accepted + 2,
        "the rows became samples"
    );
    let ab = agent.ab_stats().unwrap();
    assert_eq!(ab.variants[0].samples, 2);
    assert!(
        ab.variants[0].accuracy.is_some(),
        "multiclass outcomes are scored by accuracy"
    );
    let stats = agent.stats().unwrap();
    let Some(refit::metrics::Scores::Multiclass { accuracy, .. }) = stats.trainer.metrics else {
        panic!(
            "multiclass progressive metrics: {:?}",
            stats.trainer.metrics
        );
    };
    assert!(accuracy > 0.8, "{accuracy}");
    server.stop();
    agent.shutdown().unwrap();
}
