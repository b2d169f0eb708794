//! The HTTP API against a server on 127.0.0.1: every endpoint's success
//! path and its bad-input paths, and the online toggle changing
//! config.toml and the agent's behaviour.

use crate::common;

use std::time::{Duration, Instant};

use common::{http, json};

use refit::events::Event;
use refit::http::{HttpState, serve};
use refit::{Agent, demo};

fn rows_json(x: &[f32]) -> String {
    let rows: Vec<&[f32]> = x.chunks(8).collect();
    serde_json::to_string(&rows).unwrap()
}

/// Serves `agent` on a loopback port with bodies up to `max_body` bytes,
/// editing the config file at `config_path` when given.
fn serve_on_loopback(
    agent: &Agent,
    config_path: Option<&std::path::Path>,
    max_body: usize,
) -> refit::http::HttpServerHandle {
    serve(
        HttpState::new(agent.clone(), config_path.map(|p| p.to_owned())),
        "127.0.0.1:0",
        max_body,
    )
    .unwrap()
}

/// Writes `dir/config.toml`: `before`, then `[agent]` (data in `dir`) and
/// `[model]` with the churn features, then `after`; returns its path.
fn churn_config_file(dir: &std::path::Path, before: &str, after: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let features: Vec<String> = demo::CHURN_FEATURES
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    std::fs::write(
        &path,
        format!(
            "{before}[agent]\ndata_dir = {:?}\n[model]\nfeatures = [{}]\n{after}",
            dir.display().to_string(),
            features.join(", ")
        ),
    )
    .unwrap();
    path
}

#[test]
fn every_endpoint_answers_and_names_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = churn_config_file(
        dir.path(),
        "",
        "# the online toggle\n[online]\nmin_samples_per_update = 100\nmax_pending_samples = 150\n[drift]\nreference_size = 100\n",
    );
    let config = refit::config::Config::from_path(&path).unwrap();
    let agent = Agent::builder(config).watch(&path).start().unwrap();
    let events = agent.subscribe().unwrap();
    let server = serve_on_loopback(&agent, Some(&path), 64 * 1024);
    let addr = server.addr;
    let s = demo::churn(5, 1_000);

    let (status, body) = http(addr, "GET", "/healthz", None);
    assert_eq!((status, json(&body)["status"].as_str()), (200, Some("ok")));

    // Samples.
    for k in 0..2 {
        let ok = format!(
            "{{\"rows\": {}, \"labels\": {:?}}}",
            rows_json(&s.x[k * 100 * 8..(k + 1) * 100 * 8]),
            &s.y[k * 100..(k + 1) * 100]
        );
        let (status, body) = http(addr, "POST", "/v1/samples", Some(&ok));
        assert_eq!(status, 200, "{body}");
        assert_eq!(json(&body)["accepted"], 100);
        agent.sync().unwrap();
    }
    let (status, body) = http(
        addr,
        "POST",
        "/v1/samples",
        Some("{\"rows\": [[1,2,3]], \"labels\": [1]}"),
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("row 0 has 3 values; the model has 8 features"),
        "{body}"
    );
    // More rows than may ever wait: refused at once, not retryable.
    let too_many = format!(
        "{{\"rows\": {}, \"labels\": {:?}}}",
        rows_json(&s.x[..160 * 8]),
        &s.y[..160]
    );
    let (status, body) = http(addr, "POST", "/v1/samples", Some(&too_many));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("online.max_pending_samples = 150"), "{body}");
    let (status, body) = http(addr, "POST", "/v1/samples", Some("{\"rows\": [[1,2"));
    assert_eq!(status, 400);
    assert!(body.contains("malformed JSON"), "{body}");
    let bad_label = format!("{{\"rows\": {}, \"labels\": [2]}}", rows_json(&s.x[..8]));
    let (status, body) = http(addr, "POST", "/v1/samples", Some(&bad_label));
    assert_eq!(status, 400, "{body}");
    let huge = format!(
        "{{\"rows\": {}, \"labels\": []}}",
        rows_json(&s.x.repeat(2))
    );
    let (status, body) = http(addr, "POST", "/v1/samples", Some(&huge));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("max_body_bytes"), "{body}");
    agent.flush().unwrap();

    // Predictions, keyed predictions and their feedback.
    let one = format!("{{\"rows\": {}}}", rows_json(&s.x[..16]));
    let (status, body) = http(addr, "POST", "/v1/predict", Some(&one));
    assert_eq!(status, 200, "{body}");
    let p = json(&body);
    assert_eq!(p["values"].as_array().unwrap().len(), 2);
    assert_eq!(p["version"], "online_002");
    let keyed = format!(
        "{{\"rows\": {}, \"key\": \"user-1\"}}",
        rows_json(&s.x[..8])
    );
    let p = json(&http(addr, "POST", "/v1/predict", Some(&keyed)).1);
    let id = p["request_id"].as_u64().unwrap();
    let fb = format!("{{\"request_id\": {id}, \"labels\": [1]}}");
    let (status, body) = http(addr, "POST", "/v1/feedback", Some(&fb));
    assert_eq!((status, json(&body)["counted"].as_u64()), (200, Some(1)));
    let (status, body) = http(addr, "POST", "/v1/feedback", Some(&fb));
    assert_eq!(status, 404, "{body}");
    let (status, _) = http(addr, "POST", "/v1/predict", Some("{\"rows\": [[1]]}"));
    assert_eq!(status, 400);

    // Stats, versions, drift, metrics, OpenAPI.
    let (status, body) = http(addr, "GET", "/v1/stats", None);
    assert_eq!(status, 200);
    assert_eq!(json(&body)["agent"]["ingest"]["accepted"], 200);
    let (status, body) = http(addr, "GET", "/v1/versions", None);
    assert_eq!(status, 200);
    assert_eq!(json(&body).as_array().unwrap().len(), 2);
    let (status, _) = http(addr, "GET", "/v1/drift", None);
    assert_eq!(status, 200);
    let (status, body) = http(addr, "GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(body.contains("refit_samples_accepted_total 200"), "{body}");
    assert!(
        body.contains("refit_serving_info{version=\"online_002\"} 1"),
        "{body}"
    );
    check_metrics(&body);
    let (status, body) = http(addr, "GET", "/v1/openapi.json", None);
    assert_eq!(status, 200);
    // Every route is described.
    let paths = &json(&body)["paths"];
    for (path, method) in [
        ("/healthz", "get"),
        ("/v1/samples", "post"),
        ("/v1/predict", "post"),
        ("/v1/feedback", "post"),
        ("/v1/clicks", "post"),
        ("/v1/rank", "post"),
        ("/v1/stats", "get"),
        ("/v1/versions", "get"),
        ("/v1/rollback", "post"),
        ("/v1/promote", "post"),
        ("/v1/challenger", "post"),
        ("/v1/shadow", "post"),
        ("/v1/ensemble", "put"),
        ("/v1/train", "post"),
        ("/v1/online", "get"),
        ("/v1/online", "put"),
        ("/v1/drift", "get"),
        ("/v1/history", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
    }

    // The dashboard page and the history it draws: two updates, their
    // drift reports and at least one stats tick (recorded every 500 ms).
    let (status, body) = http(addr, "GET", "/", None);
    assert_eq!(status, 200);
    assert!(body.starts_with("<!doctype html>"), "{}", &body[..80]);
    assert!(!body.contains("http://") && !body.contains("https://"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let history = loop {
        let (status, body) = http(addr, "GET", "/v1/history", None);
        assert_eq!(status, 200, "{body}");
        let h = json(&body);
        let ticks = h["ticks"].as_array().unwrap();
        if ticks.last().is_some_and(|t| t["accepted"] == 200) {
            break h;
        }
        assert!(Instant::now() < deadline, "no tick with 200 samples: {h}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let updates = history["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2, "{history}");
    assert_eq!(updates[1]["sample"], 200);
    assert_eq!(updates[1]["applied"], true);
    assert_eq!(history["features"].as_array().unwrap().len(), 8);
    assert_eq!(
        history["ticks"].as_array().unwrap().last().unwrap()["serving"],
        "online_002"
    );
    let (status, body) = http(addr, "GET", "/v1/nothing", None);
    assert_eq!(status, 404);
    assert!(body.contains("no endpoint GET /v1/nothing"), "{body}");

    // Rollback and promote.
    let (status, body) = http(addr, "POST", "/v1/rollback", Some("{\"version\": \"1\"}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        agent.predict(&s.x[..8]).unwrap().version.to_string(),
        "online_001"
    );
    let (status, body) = http(addr, "POST", "/v1/rollback", Some("{\"version\": \"v9\"}"));
    assert_eq!(status, 404, "{body}");
    let (status, body) = http(
        addr,
        "POST",
        "/v1/rollback",
        Some("{\"version\": \"latest\"}"),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = http(addr, "POST", "/v1/promote", Some("{}"));
    assert_eq!(status, 409, "{body}");

    // The online toggle: the file changes, the agent reloads it and stops
    // learning.
    let (status, body) = http(addr, "GET", "/v1/online", None);
    assert_eq!(status, 200);
    assert_eq!(json(&body)["enabled"], true);
    let (status, body) = http(addr, "PUT", "/v1/online", Some("{\"enabled\": false}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["enabled"], false);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("enabled = false") && text.contains("# the online toggle"),
        "{text}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && !matches!(
            events.recv_timeout(Duration::from_millis(50)),
            Ok(Event::ConfigReloaded { .. })
        )
    {}
    agent
        .ingest(&s.x[200 * 8..300 * 8], &s.y[200..300])
        .unwrap();
    agent.flush().unwrap();
    let skipped = events
        .try_iter()
        .any(|e| matches!(e, Event::UpdateSkipped { reason, .. } if reason.contains("disabled")));
    assert!(skipped, "the update was not skipped after the toggle");
    let (status, body) = http(
        addr,
        "PUT",
        "/v1/online",
        Some("{\"min_samples_per_update\": 0}"),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("online.min_samples_per_update"), "{body}");

    server.stop();
    agent.shutdown().unwrap();
}

/// `/healthz` reads the serving pointer only: while a full retrain keeps
/// the Trainer busy, it answers at once (it asked every actor before, and
/// waited for the retrain).
#[test]
fn healthz_answers_while_the_trainer_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = refit::config::Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.offline.epochs = 400;
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap();
    let server = serve_on_loopback(&agent, None, 64 * 1024);
    let s = demo::churn(1, 50_000);
    let trainer = agent.clone();
    let retrain = std::thread::spawn(move || trainer.train_offline(&s.x, &s.y));
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    let (status, body) = http(server.addr, "GET", "/healthz", None);
    let took = asked.elapsed();
    assert!(
        !retrain.is_finished(),
        "the retrain ended before the probe; the test needs a longer one"
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["serving"], "online_000");
    assert!(took < Duration::from_millis(500), "{took:?}");
    retrain.join().unwrap().unwrap();
    server.stop();
    agent.shutdown().unwrap();
}

/// With a token configured, every call that changes something answers 401
/// without it (or with another), and works with it; reads stay open. Host
/// and Origin must be allowed names; changing calls need a JSON body.
#[test]
fn changing_calls_need_the_token_and_an_allowed_host() {
    use common::raw_http;
    use refit::http::{Access, serve_with};
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let http_config = refit::config::HttpConfig {
        token_file: Some(token_file),
        ..Default::default()
    };
    let access = Access::from_config(&http_config).unwrap();
    assert!(access.has_token());
    let mut c = refit::config::Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.min_samples_per_update = 100;
    let agent = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap();
    let server = serve_with(
        HttpState::new(agent.clone(), None),
        "127.0.0.1:0",
        64 * 1024,
        access,
    )
    .unwrap();
    let addr = server.addr;
    let s = demo::churn(5, 10);
    let samples = format!("{{\"rows\": {}, \"labels\": {:?}}}", rows_json(&s.x), &s.y);
    let json_headers = format!("Host: {addr}\r\nContent-Type: application/json\r\n");
    let changing = [
        ("POST", "/v1/samples", samples.as_str()),
        (
            "POST",
            "/v1/feedback",
            "{\"request_id\": 1, \"labels\": [1]}",
        ),
        ("POST", "/v1/clicks", "{\"clicks\": []}"),
        ("POST", "/v1/rollback", "{\"version\": \"online_001\"}"),
        ("POST", "/v1/promote", "{}"),
        ("PUT", "/v1/online", "{\"enabled\": false}"),
    ];
    for (method, path, body) in changing {
        for auth in [
            "",
            "Authorization: Bearer wrong\r\n",
            "Authorization: s3cret-token\r\n",
        ] {
            let (status, answer) =
                raw_http(addr, method, path, &format!("{json_headers}{auth}"), body);
            assert_eq!(status, 401, "{method} {path} {auth:?}: {answer}");
            assert!(answer.contains("API token"), "{answer}");
        }
    }
    let bearer = format!("{json_headers}Authorization: Bearer s3cret-token\r\n");
    let (status, answer) = raw_http(addr, "POST", "/v1/samples", &bearer, &samples);
    assert_eq!(status, 200, "{answer}");
    // Reads need no token.
    let host_only = format!("Host: {addr}\r\n");
    assert_eq!(raw_http(addr, "GET", "/v1/stats", &host_only, "").0, 200);
    let predict = format!("{{\"rows\": {}}}", rows_json(&s.x[..8]));
    assert_eq!(
        raw_http(addr, "POST", "/v1/predict", &json_headers, &predict).0,
        200
    );
    // A changing call without a JSON body: what a cross-site form sends.
    let form = format!(
        "Host: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: Bearer s3cret-token\r\n"
    );
    assert_eq!(raw_http(addr, "POST", "/v1/promote", &form, "a=1").0, 415);
    // Other names than the allowed ones: DNS rebinding.
    let port = addr.port();
    for headers in [
        format!("Host: evil.example:{port}\r\n"),
        format!("Host: {addr}\r\nOrigin: http://evil.example:{port}\r\n"),
    ] {
        let (status, answer) = raw_http(addr, "GET", "/v1/stats", &headers, "");
        assert_eq!(status, 403, "{headers:?}: {answer}");
    }
    let local_origin = format!("Host: localhost:{port}\r\nOrigin: http://localhost:{port}\r\n");
    assert_eq!(raw_http(addr, "GET", "/v1/stats", &local_origin, "").0, 200);
    server.stop();
    agent.shutdown().unwrap();
}

/// Concurrent `PUT /v1/online` calls: each is applied whole (the file
/// always parses and ends with one of the values sent), no temporary file
/// is left, and comments survive, a commented `[online]` header included.
#[test]
fn concurrent_online_edits_keep_the_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = churn_config_file(
        dir.path(),
        "# my settings\n",
        "[online] # the toggle lives here\nenabled = true # on\n",
    );
    let config = refit::config::Config::from_path(&path).unwrap();
    let agent = Agent::builder(config).start().unwrap();
    let server = serve_on_loopback(&agent, Some(&path), 64 * 1024);
    let addr = server.addr;
    let sent: Vec<usize> = (0..16).map(|k| 100 + k).collect();
    std::thread::scope(|s| {
        for &t in &sent {
            s.spawn(move || {
                let body = format!("{{\"min_samples_per_update\": {t}}}");
                let (status, answer) = http(addr, "PUT", "/v1/online", Some(&body));
                assert_eq!(status, 200, "{answer}");
            });
        }
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let config = refit::config::Config::from_toml_str(&text).unwrap();
    assert!(
        sent.contains(&config.online.min_samples_per_update),
        "{text}"
    );
    assert!(text.contains("# my settings") && text.contains("[online] # the toggle lives here"));
    assert!(text.contains("enabled = true # on"), "{text}");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    server.stop();
    agent.shutdown().unwrap();
}

/// `/metrics` read with a Prometheus text parser: the agent's counters, the
/// progressive metric, PSI per configured feature, predictions served and
/// the HTTP requests and their duration histogram by route and status.
fn check_metrics(body: &str) {
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    assert_eq!(value("refit_samples_accepted_total", &[]), Some(200.0));
    assert!(value("refit_progressive_auc", &[]).is_some(), "{body}");
    for feature in demo::CHURN_FEATURES {
        assert!(
            value("refit_drift_psi", &[("feature", feature)]).is_some(),
            "no PSI for {feature}: {body}"
        );
    }
    assert!(value("refit_predictions_served_total", &[]).is_some_and(|v| v >= 1.0));
    let posted = value(
        "refit_http_requests_total",
        &[
            ("route", "/v1/samples"),
            ("status", "200"),
            ("method", "POST"),
        ],
    );
    assert!(posted.is_some_and(|v| v >= 2.0), "{body}");
    assert!(
        value(
            "refit_http_requests_total",
            &[("route", "/v1/samples"), ("status", "400")]
        )
        .is_some(),
        "{body}"
    );
    for histogram in [
        "refit_http_request_duration_seconds",
        "refit_update_seconds",
        "refit_ingest_to_served_seconds",
        "refit_checkpoint_write_seconds",
    ] {
        let count = scrape
            .samples
            .iter()
            .find(|s| s.metric == histogram || s.metric == format!("{histogram}_count"))
            .map(|s| match &s.value {
                prometheus_parse::Value::Histogram(h) => h.last().map_or(0.0, |b| b.count),
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => *v,
                _ => 0.0,
            });
        assert!(
            count.is_some_and(|c| c >= 1.0),
            "{histogram}: {count:?} in {body}"
        );
    }
}

/// Rows keyed by feature name, in any key order, are the same rows as
/// arrays in feature order; a missing key is a missing value (refused
/// under the default policy, naming the feature); an unknown key is
/// refused naming it.
#[test]
fn named_rows_are_taken_like_positional_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = churn_config_file(dir.path(), "", "[online]\nmin_samples_per_update = 100\n");
    let config = refit::config::Config::from_path(&path).unwrap();
    let agent = Agent::builder(config).start().unwrap();
    let server = serve_on_loopback(&agent, None, 256 * 1024);
    let addr = server.addr;
    let s = demo::churn(3, 100);
    let named = |row: &[f32]| -> serde_json::Value {
        demo::CHURN_FEATURES
            .iter()
            .rev()
            .zip(row.iter().rev())
            .map(|(f, v)| (f.to_string(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let rows: Vec<serde_json::Value> = s.x.chunks(8).map(named).collect();
    let body = serde_json::json!({"rows": rows, "labels": s.y}).to_string();
    let (status, answer) = http(addr, "POST", "/v1/samples", Some(&body));
    assert_eq!(status, 200, "{answer}");
    agent.sync().unwrap();
    let by_name = serde_json::json!({"rows": [named(&s.x[..8])]}).to_string();
    let by_position = format!("{{\"rows\": {}}}", rows_json(&s.x[..8]));
    let (a, b) = (
        http(addr, "POST", "/v1/predict", Some(&by_name)),
        http(addr, "POST", "/v1/predict", Some(&by_position)),
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(json(&a.1)["values"], json(&b.1)["values"]);
    let (status, answer) = http(
        addr,
        "POST",
        "/v1/predict",
        Some(r#"{"rows": [{"tenure_years": 1, "shoe_size": 44}]}"#),
    );
    assert_eq!(status, 400);
    assert!(
        answer.contains("no feature named [\\\"shoe_size\\\"]"),
        "{answer}"
    );
    let (status, answer) = http(
        addr,
        "POST",
        "/v1/predict",
        Some(r#"{"rows": [{"tenure_years": 1}]}"#),
    );
    assert_eq!(status, 400);
    assert!(answer.contains("monthly_charges_100usd"), "{answer}");
    server.stop();
    agent.shutdown().unwrap();
}

/// The experiment controls and offline training over HTTP: challenger,
/// shadow, ensemble weight (kept in the config file), and offline
/// trainings from the sample log and from an uploaded CSV, with their
/// progress and result as events.
#[test]
fn experiments_and_offline_trainings_over_http() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let path = churn_config_file(
        dir.path(),
        "",
        "[online]\nmin_samples_per_update = 500\n[offline]\nepochs = 2\n",
    );
    let config = refit::config::Config::from_path(&path).unwrap();
    let agent = Agent::builder(config).watch(&path).start().unwrap();
    let events = agent.subscribe().unwrap();
    let server = serve_on_loopback(&agent, Some(&path), 1 << 22);
    let addr = server.addr;
    let post = |path: &str, body: serde_json::Value| {
        let (status, text) = http(addr, "POST", path, Some(&body.to_string()));
        (status, json(&text))
    };
    let s = demo::churn(9, 2_000);
    agent.ingest(&s.x, &s.y).unwrap();
    agent.sync().unwrap();

    // From the sample log: 202 at once, then the events.
    let (status, answer) = post("/v1/train", json!({"source": "log"}));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer, json!({"samples": 2_000, "reason": "requested"}));
    let mut progress = Vec::new();
    let trained = common::wait_for(&events, |e| {
        if let Event::OfflineProgress {
            epoch,
            epochs,
            reason,
        } = e
        {
            progress.push((*epoch, *epochs, reason.clone()));
        }
        matches!(e, Event::OfflineTrained(_))
    });
    let Some(Event::OfflineTrained(report)) = trained else {
        panic!("no OfflineTrained event");
    };
    assert_eq!(report.version.to_string(), "v1");
    assert_eq!(
        progress,
        [
            (1, 2, "requested".to_string()),
            (2, 2, "requested".to_string())
        ]
    );

    // From an uploaded CSV: its columns matched by name.
    let csv = demo::churn(10, 1_000).to_csv();
    let (status, answer) = post(
        "/v1/train",
        json!({"source": "csv", "csv": csv, "label": "label"}),
    );
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["reason"], "upload");
    let trained = common::wait_for(&events, |e| matches!(e, Event::OfflineTrained(_)));
    let Some(Event::OfflineTrained(report)) = trained else {
        panic!("no OfflineTrained event for the upload");
    };
    assert_eq!(report.version.to_string(), "v2");
    for (body, named) in [
        (
            json!({"source": "csv", "csv": "a,label\n1,0\n", "label": "label"}),
            "no column `tenure_years`",
        ),
        (
            json!({"source": "csv", "csv": csv, "label": "churned"}),
            "no label column `churned`",
        ),
        (json!({"source": "disk"}), "unknown variant `disk`"),
    ] {
        let (status, answer) = post("/v1/train", body);
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(named),
            "{answer}"
        );
    }

    // Challenger and shadow, set and cleared.
    let (status, answer) = post("/v1/challenger", json!({"version": "v1", "share": 0.25}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["share"], 0.25);
    let p = agent.predict_keyed("user-3", &s.x[..8]).unwrap();
    assert!(p.request_id.is_some());
    let (status, answer) = post("/v1/challenger", json!({"version": "v1"}));
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = post("/v1/challenger", json!({"version": "v9", "share": 0.1}));
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = post("/v1/challenger", json!({"version": null}));
    assert_eq!(
        (status, answer["share"].as_f64()),
        (200, Some(0.0)),
        "{answer}"
    );
    let (status, answer) = post("/v1/shadow", json!({"version": "v1"}));
    assert_eq!(status, 200, "{answer}");
    assert!(agent.predict_keyed("user-3", &s.x[..8]).is_ok());
    let (status, _) = post("/v1/shadow", json!({"version": null}));
    assert_eq!(status, 200);

    // The ensemble weight: written to the file, applied by the reload.
    assert_eq!(agent.predict(&s.x[..8]).unwrap().ensemble, None);
    let (status, text) = http(addr, "PUT", "/v1/ensemble", Some(r#"{"weight": 0.3}"#));
    assert_eq!(
        (status, json(&text)["weight"].as_f64()),
        (200, Some(0.3)),
        "{text}"
    );
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("ensemble_offline_weight = 0.3")
    );
    assert!(common::wait_for(&events, |e| matches!(e, Event::ConfigReloaded { .. })).is_some());
    // The offline member blends into answers of a newer champion: one
    // online update on top of v2.
    let more = demo::churn(11, 500);
    agent.ingest(&more.x, &more.y).unwrap();
    agent.wait_served().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.predict(&s.x[..8]).unwrap().ensemble.is_none() {
        assert!(
            Instant::now() < deadline,
            "the ensemble weight was not applied"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, text) = http(addr, "PUT", "/v1/ensemble", Some(r#"{"weight": 1.5}"#));
    assert_eq!(status, 400, "{text}");
    server.stop();
    agent.shutdown().unwrap();
}
