//! SIGTERM and SIGINT: a graceful stop for `refit serve` and `refit run`.
//!
//! The first signal stops the HTTP server from accepting (the requests in
//! flight finish, for at most [`refit::http::SHUTDOWN_TIMEOUT`]) and ends a
//! stream being run; the command then trains what is buffered, writes the
//! last checkpoint and exits 0. A second signal exits at once (130 or 143).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use refit::http::ServerStopper;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// What the signal thread shares with the command.
#[derive(Default)]
struct Shared {
    /// The first signal received (0: none).
    received: AtomicI32,
    /// The servers to stop on it.
    servers: Mutex<Vec<ServerStopper>>,
}

/// SIGTERM and SIGINT handling for one command (see the module docs).
#[derive(Clone)]
pub(crate) struct Stop(Arc<Shared>);

impl Stop {
    /// Installs the handler: from now on the two signals no longer kill
    /// the process at once.
    pub(crate) fn install() -> Result<Self> {
        let shared = Arc::new(Shared::default());
        let mut signals =
            Signals::new([SIGTERM, SIGINT]).context("installing the SIGTERM/SIGINT handler")?;
        let on_signal = shared.clone();
        std::thread::Builder::new()
            .name("refit-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let first = on_signal
                        .received
                        .compare_exchange(0, signal, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok();
                    if !first {
                        eprintln!("refit: {} again, exiting at once", name(signal));
                        std::process::exit(128 + signal);
                    }
                    eprintln!(
                        "refit: {}: stopping (training the buffer, writing the last checkpoint)",
                        name(signal)
                    );
                    tracing::info!(signal = name(signal), "graceful stop");
                    let servers = match on_signal.servers.lock() {
                        Ok(s) => s.clone(),
                        Err(poisoned) => poisoned.into_inner().clone(),
                    };
                    for server in servers {
                        server.stop();
                    }
                }
            })
            .context("starting the signal thread")?;
        Ok(Self(shared))
    }

    /// Stops `server` on the first signal (at once, if one already came).
    pub(crate) fn stops(&self, server: ServerStopper) {
        // Listed first: a signal that comes after the check below finds it
        // in the list (the signal thread sets `received` before reading
        // the list); stopping twice is harmless.
        match self.0.servers.lock() {
            Ok(mut s) => s.push(server.clone()),
            Err(poisoned) => poisoned.into_inner().push(server.clone()),
        }
        if self.requested() {
            server.stop();
        }
    }

    /// Whether a signal asked the command to stop.
    pub(crate) fn requested(&self) -> bool {
        self.0.received.load(Ordering::Acquire) != 0
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "signal",
    }
}
