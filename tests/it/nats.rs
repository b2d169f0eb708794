//! A `nats-server -js` for the fleet tests (and `benches/fleet.rs`,
//! which includes this file): a random loopback port, a temporary
//! directory, stopped when dropped.
//!
//! `.ci/run` installs nats-server (Debian) and sets `REFIT_REQUIRE_NATS=1`,
//! which turns a missing server into a failure; elsewhere `start` says
//! what is missing and answers none.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `nats-server -js` on a random loopback port, stopped when dropped.
pub struct NatsServer {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts one, or says why it cannot (`None`; a failure under
    /// `REFIT_REQUIRE_NATS`).
    pub fn start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let spawned = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) if std::env::var_os("REFIT_REQUIRE_NATS").is_some() => {
                panic!("REFIT_REQUIRE_NATS is set but nats-server cannot start: {e}")
            }
            Err(e) => {
                eprintln!(
                    "fleet tests and benchmark not run: nats-server not found ({e}; apt-get install nats-server)"
                );
                return None;
            }
        };
        // "Listening for client connections on 127.0.0.1:PORT"
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split("Listening for client connections on ")
                    .nth(1)
                    .map(|addr| format!("nats://{}", addr.trim()))
            })
            .expect("nats-server printed its address");
        std::thread::spawn(move || lines.for_each(drop));
        Some(Self { child, url, dir })
    }
}

impl NatsServer {
    /// Stops the server (as a crash would).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Starts a stopped server again on the same port and storage.
    pub fn start_again(&mut self) {
        let port = self.url.rsplit(':').next().unwrap().to_owned();
        self.child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Ready when it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr: std::net::SocketAddr = self.url.trim_start_matches("nats://").parse().unwrap();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not come back");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
