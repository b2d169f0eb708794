//! The dashboard in a real browser: `refit run --serve` streams the churn
//! demo, headless Chromium (Debian's package, driven by playwright-core via
//! `tests/browser/dashboard.mjs`) loads the page, every chart draws real
//! data, there are no console errors, and clicking the online-learning
//! toggle changes `GET /v1/online` and config.toml. The screenshots are
//! saved under `target/tmp/dashboard/`.
//!
//! `.ci/run` installs Chromium and playwright-core and sets
//! `REFIT_REQUIRE_BROWSER=1`, which turns a missing browser into a failure;
//! elsewhere the test says what is missing and passes without a browser.

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{http, json};

/// Kills the `refit run --serve` process when the test ends, pass or fail.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the browser test needs, or why it cannot run.
fn browser() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return Err(format!(
            "{} not found (apt-get install chromium)",
            chromium.display()
        ));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        return Err(format!(
            "playwright-core not installed (npm ci --prefix {})",
            dir.display()
        ));
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => Ok((chromium, dir)),
        _ => Err("node not found".into()),
    }
}

#[test]
fn the_dashboard_draws_the_demo_and_its_toggle_writes_the_config() {
    let (chromium, scripts) = match browser() {
        Ok(b) => b,
        Err(why) if std::env::var_os("REFIT_REQUIRE_BROWSER").is_some() => {
            panic!("REFIT_REQUIRE_BROWSER is set but {why}")
        }
        Err(why) => {
            eprintln!("browser test not run: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"),
        &config,
    )
    .unwrap();
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_refit"))
            .args(["run", "--serve", "--bind", "127.0.0.1:0", "--rate", "8000"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("refit dashboard: ")
        .unwrap_or_else(|| panic!("first line: {first}"))
        .to_owned();
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    // The whole demo stream (40 000 rows at 8 000/s): drift, rate jump and
    // recovery are all in the history when the browser looks.
    for line in lines.by_ref() {
        if line.unwrap().starts_with("the stream is done") {
            break;
        }
    }
    let (_, body) = http(addr, "GET", "/v1/online", None);
    assert_eq!(json(&body)["enabled"], true, "{body}");

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&out).unwrap();
    // The file the page uploads for an offline training.
    let upload = dir.path().join("upload.csv");
    std::fs::write(&upload, refit::demo::churn(3, 2_000).to_csv()).unwrap();
    let run = Command::new("node")
        .arg(scripts.join("dashboard.mjs"))
        .arg(&url)
        .arg(&out)
        .arg(&upload)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen = json(stdout.lines().last().unwrap_or(""));
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    for (chart, points) in seen["points"].as_object().unwrap() {
        assert!(points.as_u64().unwrap() > 0, "{chart} drew nothing: {seen}");
    }
    assert_eq!(seen["points"].as_object().unwrap().len(), 5, "{seen}");
    assert!(seen["versionRows"].as_u64().unwrap() >= 2, "{seen}");
    assert_eq!(seen["toggled"]["before"], true, "{seen}");
    assert_eq!(seen["toggled"]["after"], false, "{seen}");
    assert!(out.join("dashboard.png").exists());
    // Each experiment and training control changed what the API reports.
    let other = seen["other"].as_str().unwrap();
    assert_eq!(seen["challenger"]["share"], 0.2, "{seen}");
    assert_eq!(
        seen["challenger"]["version"],
        serde_json::json!(other.parse::<refit::store::VersionId>().unwrap()),
        "{seen}"
    );
    assert_eq!(seen["challenger"]["endedShare"], 0.0, "{seen}");
    assert_eq!(
        seen["shadow"]["set"],
        serde_json::json!(other.parse::<refit::store::VersionId>().unwrap()),
        "{seen}"
    );
    assert_eq!(seen["shadow"]["cleared"], serde_json::Value::Null, "{seen}");
    assert_eq!(seen["ensembleWeight"], 0.3, "{seen}");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("ensemble_offline_weight = 0.3")
    );
    assert_eq!(seen["trainedFromLog"], serde_json::json!(["v1"]), "{seen}");
    assert_eq!(
        seen["trainedFromFile"],
        serde_json::json!(["v1", "v2"]),
        "{seen}"
    );

    // The click went through the API into the file, and the agent reloaded it.
    let (_, body) = http(addr, "GET", "/v1/online", None);
    assert_eq!(json(&body)["enabled"], false, "{body}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.lines().any(|l| l.trim() == "enabled = false"),
        "{text}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http(addr, "GET", "/v1/history", None);
        let h = json(&body);
        if h["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "config_reloaded")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no reload recorded: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
