//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use refit::plugins::{self, Batch, Model, ModelSpec, Params, Task};

/// The model files (`*.refit`) in `dir`, sorted by name.
pub fn model_files(dir: &std::path::Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".refit"))
        .collect();
    files.sort();
    files
}

/// Every built-in kind with a task it serves.
pub const KINDS: [(&str, Task); 4] = [
    ("logistic", Task::Classification),
    ("linear", Task::Regression),
    ("mlp", Task::Classification),
    ("mlp", Task::Regression),
];

pub const FEATURES: [&str; 3] = ["a", "b", "c"];

/// A built-in model of `kind`, trained a few steps so its weights are not
/// the initial ones.
pub fn trained(kind: &str, task: Task) -> Box<dyn Model> {
    let mut m = plugins::builtin()
        .create(ModelSpec::new(kind, task, FEATURES), &Params::new())
        .unwrap();
    let x: Vec<f32> = (0..96)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
        .collect();
    let y: Vec<f32> = (0..32)
        .map(|i| {
            if (x[3 * i] + x[3 * i + 1]) > 0.0 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    for _ in 0..5 {
        m.partial_fit(Batch::new(&x, 3).unwrap().into(), &y, 0.05)
            .unwrap();
    }
    m
}

/// Some rows to predict.
pub fn probe() -> Vec<f32> {
    (0..60)
        .map(|i| ((i * 13 % 17) as f32 - 8.0) / 4.0)
        .collect()
}

/// One request with `Connection: close`: (status, body text).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    try_http(addr, method, path, body.unwrap_or(""))
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer from {addr}"))
}

/// [`http`], or `None` when the connection failed or broke (e.g. the
/// server was killed): such a request was not answered.
pub fn try_http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let headers = format!("Host: {addr}\r\nContent-Type: application/json\r\n");
    try_raw_http(addr, method, path, &headers, body)
}

/// One request with exactly the header lines `headers` (each ending in
/// CRLF) besides `Connection` and `Content-Length`: (status, body text).
pub fn raw_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String) {
    try_raw_http(addr, method, path, headers, body)
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer from {addr}"))
}

pub fn try_raw_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\n{headers}Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The JSON body of `POST /v1/samples` with one churn-width row per id
/// (its first value the id) and a label of 1 for every third id.
pub fn samples_body(ids: &[u32]) -> String {
    let rows: Vec<String> = ids
        .iter()
        .map(|id| format!("[{id}, 0.5, 1, 2, 0, 3, 0.1, 4]"))
        .collect();
    let labels: Vec<&str> = ids
        .iter()
        .map(|id| if id % 3 == 0 { "1" } else { "0" })
        .collect();
    format!(
        "{{\"rows\": [{}], \"labels\": [{}]}}",
        rows.join(", "),
        labels.join(", ")
    )
}

/// The first value (the tests' id) of every row in the sample log of the
/// churn model under `data_dir`, in log order.
pub fn logged_ids(data_dir: &std::path::Path) -> Vec<u32> {
    refit::sample_log::read_recent(&data_dir.join("samples/churn"), 8, usize::MAX)
        .unwrap()
        .rows
        .dense()
        .unwrap()
        .chunks(8)
        .map(|r| r[0] as u32)
        .collect()
}

/// Writes `dir/config.toml` for `refit serve` of the churn model (its
/// features listed, 100-sample updates) with `extra` appended, and starts
/// `refit serve` on a loopback port there (stdout piped, stderr dropped).
pub fn spawn_churn_serve(dir: &std::path::Path, extra: &str) -> std::process::Child {
    let features: Vec<String> = refit::demo::CHURN_FEATURES
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[model]\nfeatures = [{}]\n[online]\nmin_samples_per_update = 100\n{extra}",
            features.join(", ")
        ),
    )
    .unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_refit"))
        .args(["serve", "--config", "config.toml", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The first line `child` prints; the rest of its output is read (and
/// dropped) by a thread, so that writing it never fails.
pub fn first_line(child: &mut std::process::Child) -> String {
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    line
}

/// The address in a `… http://ADDR …` line.
pub fn addr_in(line: &str) -> SocketAddr {
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ' ', '\n']).next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap()
}

pub fn signal(child: &std::process::Child, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits for `child` to exit, at most `limit`.
pub fn exit_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            eprintln!(
                "exited {:.0} ms after the signal",
                start.elapsed().as_secs_f64() * 1e3
            );
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn refit(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_refit"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs")
}

/// The first event `what` accepts, waiting at most 15 s.
pub fn wait_for(
    events: &crossbeam_channel::Receiver<refit::events::Event>,
    mut what: impl FnMut(&refit::events::Event) -> bool,
) -> Option<refit::events::Event> {
    // Generous: returns as soon as the event arrives, and the whole test
    // suite shares two cores with it in CI.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        if let Ok(e) = events.recv_timeout(std::time::Duration::from_millis(50))
            && what(&e)
        {
            return Some(e);
        }
    }
    None
}
