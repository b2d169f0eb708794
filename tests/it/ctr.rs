//! CTR learning from clicks: the trigger arithmetic and the CTR document's
//! status block, checkpoint naming and cleanup, dense/sparse mismatches,
//! the sparse sample log, and the search simulation's ranking recovering
//! after the preference shift.

use crate::common;

use common::{http, json};
use refit::Agent;
use refit::config::Config;
use refit::ctr::simulation::{self, SimConfig};
use refit::events::Event;
use refit::store::{Mode, Store};
use serde_json::json;

fn ctr_config(dir: &std::path::Path, threshold: usize) -> Config {
    let mut c = Config::from_toml_str(&format!(
        "[agent]\nname = \"ctr\"\nfile_prefix = \"ctr_model\"\n\
         [model]\nkind = \"ftrl\"\n[model.params]\nbits = 16\n\
         [online]\nmin_samples_per_update = {threshold}\ncold_start = false\n\
         checkpoint_retention = 5\n"
    ))
    .unwrap();
    c.agent.data_dir = dir.to_owned();
    c
}

#[test]
fn the_trigger_counts_new_samples_and_the_status_block_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(ctr_config(dir.path(), 100)).unwrap();
    let events = agent.subscribe().unwrap();
    // 99 clicks: no training yet, 1 to go.
    for i in 0..99 {
        let ack = agent
            .record_click(
                "red shoes",
                &format!("doc-{}", i % 7),
                1 + i % 5,
                i % 4 == 0,
            )
            .unwrap();
        assert_eq!(ack.buffered, i as usize + 1);
    }
    let s = agent.stats().unwrap().ingest;
    assert_eq!(
        (s.accepted, s.at_last_training, s.until_trigger, s.threshold),
        (99, 0, 1, 100)
    );
    assert_eq!((s.positive, s.negative), (25, 74));
    // The 100th crosses the threshold: training starts with all 100.
    let ack = agent.record_click("red shoes", "doc-1", 1, true).unwrap();
    assert_eq!(ack.buffered, 0);
    agent.sync().unwrap();
    let s = agent.stats().unwrap().ingest;
    assert_eq!(
        (s.accepted, s.at_last_training, s.until_trigger),
        (100, 100, 100)
    );
    // 34 more: the distance shrinks by 34.
    for _ in 0..34 {
        agent.record_click("blue boots", "doc-9", 2, false).unwrap();
    }
    let s = agent.stats().unwrap().ingest;
    assert_eq!(
        (s.accepted, s.at_last_training, s.until_trigger),
        (134, 100, 66)
    );
    assert_eq!((s.positive, s.negative), (26, 108));
    let applied: Vec<usize> = events
        .try_iter()
        .filter_map(|e| match e {
            Event::UpdateApplied { samples, .. } => Some(samples),
            _ => None,
        })
        .collect();
    assert_eq!(applied, [100]);
    agent.shutdown().unwrap();
}

#[test]
fn checkpoints_follow_the_ctr_layout_and_keep_the_last_five() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(ctr_config(dir.path(), 10)).unwrap();
    for i in 0..70u32 {
        agent
            .record_click(
                "winter jacket",
                &format!("doc-{}", i % 3),
                1 + i % 3,
                i % 3 == 0,
            )
            .unwrap();
        agent.sync().unwrap();
    }
    agent.shutdown().unwrap();
    let online = dir.path().join("models/ctr_online");
    let files = common::model_files(&online);
    assert_eq!(
        files,
        [3, 4, 5, 6, 7].map(|n| format!("ctr_model_online_{n:03}.refit"))
    );
    // A restart resumes from the newest and numbers on.
    let agent = Agent::start(ctr_config(dir.path(), 10)).unwrap();
    assert_eq!(
        agent.stats().unwrap().serving_version.to_string(),
        "online_007"
    );
    for _ in 0..10 {
        agent
            .record_click("winter jacket", "doc-0", 1, true)
            .unwrap();
    }
    agent.sync().unwrap();
    assert!(online.join("ctr_model_online_008.refit").exists());
    assert!(!online.join("ctr_model_online_003.refit").exists());
    agent.shutdown().unwrap();
}

#[test]
fn dense_and_sparse_calls_are_refused_by_the_other_kind() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(ctr_config(dir.path(), 100)).unwrap();
    let err = agent.ingest(&[1.0, 2.0], &[1.0]).unwrap_err();
    assert!(
        err.to_string()
            .contains("model `ftrl` takes sparse batches, not dense ones"),
        "{err}"
    );
    assert!(agent.predict(&[1.0]).is_err());
    assert_eq!(agent.stats().unwrap().ingest.accepted, 0);
    agent.shutdown().unwrap();

    let mut dense = Config::default();
    dense.agent.data_dir = dir.path().join("dense");
    let agent = Agent::builder(dense).features(["a", "b"]).start().unwrap();
    let err = agent.record_click("q", "d", 1, true).unwrap_err();
    assert!(
        err.to_string()
            .contains("model `logistic` takes dense batches, not sparse ones"),
        "{err}"
    );
    assert!(agent.rank("q", &["d"]).is_err());
    agent.shutdown().unwrap();
}

#[test]
fn clicks_are_logged_and_a_full_retrain_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(ctr_config(dir.path(), 50)).unwrap();
    for i in 0..120u32 {
        agent
            .record_click(
                "rain boots",
                &format!("doc-{}", i % 4),
                1 + i % 4,
                i % 4 == 0,
            )
            .unwrap();
    }
    agent.flush().unwrap();
    agent.shutdown().unwrap();
    let read = refit::sample_log::read_rows(
        &dir.path().join("samples/ctr"),
        refit::plugins::InputKind::Sparse,
        1 << 16,
        1_000,
    )
    .unwrap();
    assert_eq!(read.labels.len(), 120);
    assert_eq!(read.rows.count(0), 120);
    assert_eq!(read.bad_records, 0);
    assert_eq!(read.labels.iter().filter(|&&y| y == 1.0).count(), 30);
}

#[test]
fn the_ranking_recovers_after_the_preference_shift() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(ctr_config(dir.path(), 100)).unwrap();
    let c = SimConfig {
        queries: 20,
        sessions: 6_000,
        shift_at: 3_000,
        eval_every: 250,
        window: 1_000,
        ..SimConfig::default()
    };
    let s = simulation::run(&agent, &c, |_| std::ops::ControlFlow::Continue(())).unwrap();
    agent.shutdown().unwrap();
    eprintln!(
        "NDCG before {:.3}, after {:.3}, end {:.3}, recovered after {:?}; AUC {:?}",
        s.ndcg_before_shift,
        s.ndcg_after_shift,
        s.ndcg_end,
        s.recovered_after,
        s.auc.iter().map(|w| w.value).collect::<Vec<_>>()
    );
    assert_eq!(s.impressions, 60_000);
    assert_eq!(s.checkpoints_kept, 5);
    assert!(s.triggers >= 590, "{}", s.triggers);
    // Learned before the shift, broken by it, recovered after it.
    assert!(s.ndcg_before_shift > 0.9, "{s:?}");
    assert!(s.ndcg_after_shift < s.ndcg_before_shift - 0.1, "{s:?}");
    assert!(s.ndcg_end > s.ndcg_after_shift + 0.1, "{s:?}");
    // The progressive AUC falls at the shift and climbs back.
    let auc: Vec<f64> = s.auc.iter().map(|w| w.value).collect();
    assert!(auc[3] < auc[2] - 0.1 && auc[5] > auc[3] + 0.1, "{auc:?}");
}

#[test]
fn clicks_and_rank_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(ctr_config(dir.path(), 20)).unwrap();
    let server = refit::http::serve(
        refit::http::HttpState::new(agent.clone(), None),
        "127.0.0.1:0",
        64 * 1024,
    )
    .unwrap();
    let page = |clicked_first: bool| {
        format!(
            r#"{{"clicks": [{{"query": "trail shoes", "doc_id": "a", "position": 1, "clicked": {clicked_first}}}, {{"query": "trail shoes", "doc_id": "b", "position": 2, "clicked": {}}}]}}"#,
            !clicked_first
        )
    };
    for _ in 0..30 {
        let (status, body) = http(server.addr, "POST", "/v1/clicks", Some(&page(false)));
        assert_eq!(status, 200, "{body}");
        assert_eq!(json(&body)["accepted"], 2);
    }
    agent.sync().unwrap();
    let (status, body) = http(
        server.addr,
        "POST",
        "/v1/rank",
        Some(r#"{"query": "trail shoes", "doc_ids": ["a", "b"]}"#),
    );
    assert_eq!(status, 200, "{body}");
    let r = json(&body);
    assert_eq!(r["docs"][0]["doc_id"], "b", "{r}");
    assert_eq!(r["version"], "online_003");
    // Bad input names the problem; nothing is accepted.
    let (status, body) = http(
        server.addr,
        "POST",
        "/v1/clicks",
        Some(r#"{"clicks": [{"query": "q", "doc_id": "a", "position": 0, "clicked": true}]}"#),
    );
    assert_eq!(
        (status, body.contains("click 0: positions start at 1")),
        (400, true),
        "{body}"
    );
    let (status, body) = http(
        server.addr,
        "POST",
        "/v1/rank",
        Some(r#"{"query": "q", "doc_ids": []}"#),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = http(
        server.addr,
        "POST",
        "/v1/predict",
        Some(r#"{"rows": [[1.0]]}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("takes sparse batches"), "{body}");
    assert_eq!(agent.stats().unwrap().ingest.accepted, 60);
    server.stop();
    agent.shutdown().unwrap();
}

#[test]
fn an_offline_ctr_model_is_stored_as_ctr_model_v1_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(ctr_config(dir.path(), 100)).unwrap();
    let mut h = refit::ctr::ClickHasher::for_dim(agent.input().1).unwrap();
    let mut rows = refit::rows::SparseRows::new(h.dim());
    let mut labels = Vec::new();
    for i in 0..2_000u32 {
        let doc = format!("doc-{}", i % 5);
        h.push_click(&mut rows, "kids boots", &doc, Some(1 + i % 3), &[]);
        labels.push(if i % 5 == 0 && i % 3 == 0 { 1.0 } else { 0.0 });
    }
    let report = agent.train_offline_sparse(rows, &labels).unwrap();
    assert_eq!(report.version.to_string(), "v1");
    assert!(
        dir.path()
            .join("models/ctr_offline/ctr_model_v1.refit")
            .exists()
    );
    let ranking = agent.rank("kids boots", &["doc-3", "doc-0"]).unwrap();
    assert_eq!(ranking.version.to_string(), "v1");
    assert_eq!(ranking.docs[0].doc_id, "doc-0", "{ranking:?}");
    // Dense data for a sparse model is refused by name.
    let err = agent.train_offline(&[1.0], &[1.0]).unwrap_err();
    assert!(err.to_string().contains("takes sparse batches"), "{err}");
    agent.shutdown().unwrap();
}

/// Both modes follow the agent's rate (plain SGD steps at it; FTRL-Proximal
/// regains plasticity when it rises), so updates and checkpoints record it.
#[test]
fn ftrl_and_sgd_modes_record_the_rate_they_follow() {
    for (mode, records) in [("ftrl", true), ("sgd", true)] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = ctr_config(dir.path(), 10);
        c.model
            .params
            .insert("mode".into(), toml::Value::String(mode.into()));
        let agent = Agent::start(c).unwrap();
        let events = agent.subscribe().unwrap();
        for k in 0..10u32 {
            agent
                .record_click("red shoes", &format!("d{k}"), k % 3 + 1, k % 2 == 0)
                .unwrap();
        }
        agent.flush().unwrap();
        let rates: Vec<Option<f32>> = events
            .try_iter()
            .filter_map(|e| match e {
                Event::UpdateApplied { learning_rate, .. } => Some(learning_rate),
                _ => None,
            })
            .collect();
        assert!(!rates.is_empty(), "{mode}: no update");
        assert!(
            rates.iter().all(|r| r.is_some() == records),
            "{mode}: {rates:?}"
        );
        agent.shutdown().unwrap();
        let store =
            Store::new(dir.path(), "ctr", refit::clock::system()).with_file_prefix("ctr_model");
        let manifest = store.manifest(Mode::Online).unwrap();
        assert!(
            manifest
                .versions
                .iter()
                .all(|v| v.learning_rate.is_some() == records),
            "{mode}"
        );
    }
}

/// A/B for ranking over HTTP: a worse stored version becomes the
/// challenger for half the keys; keyed rankings and the clicks on their
/// documents give per-variant CTR, AUC and log loss with intervals, and
/// the guardrail demotes the challenger.
#[test]
fn a_b_test_of_rankings_over_http_demotes_a_worse_challenger() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = ctr_config(dir.path(), 100);
    c.online.checkpoint_retention = 50;
    c.ab.min_samples = 200;
    c.ab.margin = 0.05;
    let agent = Agent::start(c).unwrap();
    let events = agent.subscribe().unwrap();
    let server = refit::http::serve(
        refit::http::HttpState::new(agent.clone(), None),
        "127.0.0.1:0",
        1 << 20,
    )
    .unwrap();
    let docs = ["d1", "d2", "d3", "d4"];
    let click = |doc: &str, position: usize, clicked: bool, id: Option<u64>| json!({"query": "boots", "doc_id": doc, "position": position, "clicked": clicked, "request_id": id});
    // A first model that learned the wrong preference (d4 clicked, d1
    // not), stored; then the right one (d1 clicked) as the champion.
    for (favourite, rounds) in [("d4", 30), ("d1", 120)] {
        for _ in 0..rounds {
            let page: Vec<_> = docs
                .iter()
                .enumerate()
                .map(|(k, d)| click(d, k + 1, *d == favourite, None))
                .collect();
            let (status, body) = http(
                server.addr,
                "POST",
                "/v1/clicks",
                Some(&json!({"clicks": page}).to_string()),
            );
            assert_eq!(status, 200, "{body}");
        }
        agent.sync().unwrap();
    }
    let worse = refit::store::VersionId::online(1);
    assert_eq!(agent.rank("boots", &docs).unwrap().docs[0].doc_id, "d1");
    // The challenger ranks for half the keys.
    let (status, body) = http(
        server.addr,
        "POST",
        "/v1/challenger",
        Some(&json!({"version": worse.to_string(), "share": 0.5}).to_string()),
    );
    assert_eq!(status, 200, "{body}");
    let (mut by_variant, mut demoted) = (std::collections::HashMap::new(), false);
    for session in 0..400 {
        let (status, body) = http(
            server.addr,
            "POST",
            "/v1/rank",
            Some(
                &json!({"query": "boots", "doc_ids": docs, "key": format!("user-{session}")})
                    .to_string(),
            ),
        );
        assert_eq!(status, 200, "{body}");
        let r = json(&body);
        *by_variant
            .entry(r["variant"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
        let id = r["request_id"]
            .as_u64()
            .expect("a keyed ranking has a request id");
        // Users click d1 wherever it is shown, and nothing else.
        let page: Vec<_> = r["docs"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let doc = d["doc_id"].as_str().unwrap();
                click(doc, k + 1, doc == "d1", Some(id))
            })
            .collect();
        let (status, body) = http(
            server.addr,
            "POST",
            "/v1/clicks",
            Some(&json!({"clicks": page}).to_string()),
        );
        if status == 404 {
            // Demoted meanwhile: its rankings' outcomes no longer count.
            assert!(demoted, "{body}");
            continue;
        }
        assert_eq!(status, 200, "{body}");
        // Per-variant metrics with intervals, while the test runs.
        let stats = agent.ab_stats().unwrap();
        if stats.demoted > 0 {
            demoted = true;
            break;
        }
    }
    assert!(
        by_variant.get("challenger").copied().unwrap_or(0) >= 50,
        "{by_variant:?}"
    );
    assert!(demoted, "the worse challenger was not demoted");
    let demotion = events.try_iter().find_map(|e| match e {
        Event::ChallengerDemoted {
            version,
            champion,
            challenger,
        } => Some((version, champion, challenger)),
        _ => None,
    });
    let (version, champion, challenger) = demotion.expect("a ChallengerDemoted event");
    assert_eq!(version, Some(worse));
    for v in [&champion, &challenger] {
        let ctr = v.ctr.expect("CTR with an interval");
        assert!(ctr.low <= ctr.value && ctr.value <= ctr.high, "{v:?}");
        assert!(v.auc.is_some() && v.log_loss.is_some(), "{v:?}");
    }
    assert!(
        challenger.auc.unwrap().value < champion.auc.unwrap().value - 0.05,
        "{champion:?} {challenger:?}"
    );
    // After the demotion every key gets the champion.
    let (_, body) = http(
        server.addr,
        "POST",
        "/v1/rank",
        Some(&json!({"query": "boots", "doc_ids": docs, "key": "user-1"}).to_string()),
    );
    assert_eq!(json(&body)["variant"], "champion");
    // An offline training of the CTR model from its sample log, over HTTP.
    let (status, body) = http(
        server.addr,
        "POST",
        "/v1/train",
        Some(r#"{"source": "log"}"#),
    );
    assert_eq!(status, 202, "{body}");
    assert!(json(&body)["samples"].as_u64().unwrap() > 1_000, "{body}");
    let trained = common::wait_for(&events, |e| matches!(e, Event::OfflineTrained(_)));
    assert!(trained.is_some(), "no OfflineTrained event");
    // A click that names an unknown ranking is refused, and nothing of the
    // call is ingested.
    let accepted = agent.stats().unwrap().ingest.accepted;
    let (status, body) = http(
        server.addr,
        "POST",
        "/v1/clicks",
        Some(&json!({"clicks": [click("d1", 1, true, Some(12345))]}).to_string()),
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(agent.stats().unwrap().ingest.accepted, accepted);
    server.stop();
    agent.shutdown().unwrap();
}

/// `refit run --demo ctr` with the shipped settings: the ranking detector
/// flags the preference reversal, the rate rises (FTRL regains
/// plasticity), and NDCG@10 is back within 0.02 of its pre-shift value
/// within 7 000 sessions of the shift.
#[test]
fn the_ctr_demo_flags_the_reversal_and_recovers_within_7000_sessions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"),
        dir.path().join("config.toml"),
    )
    .unwrap();
    let out = common::refit(dir.path(), &["run", "--demo", "ctr", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shift = s["config"]["shift_at"].as_u64().unwrap();
    let alarm = s["concept_alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["detector"] == "auc_drop")
        .unwrap_or_else(|| panic!("no ranking alarm: {}", s["concept_alarms"]));
    // Ten impressions per session: flagged within 500 sessions of the shift.
    let at = alarm["sample"].as_u64().unwrap();
    assert!((shift * 10..(shift + 500) * 10).contains(&at), "{alarm}");
    let rises: Vec<_> = s["lr_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["lr"].as_f64() > c["old"].as_f64())
        .collect();
    assert!(!rises.is_empty(), "{}", s["lr_changes"]);
    assert!(
        rises
            .iter()
            .all(|c| c["sample"].as_u64().unwrap() >= shift * 10),
        "no rise before the shift: {rises:?}"
    );
    let recovered = s["recovered_after"].as_u64().expect("NDCG recovered");
    assert!(recovered <= 7_000, "recovered after {recovered} sessions");
    assert!(s["ndcg_end"].as_f64().unwrap() >= s["ndcg_before_shift"].as_f64().unwrap() - 0.02);
}
