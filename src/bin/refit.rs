//! The `refit` command line.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[path = "refit/args.rs"]
mod args;
#[path = "refit/common.rs"]
mod common;
#[path = "refit/ctr.rs"]
mod ctr;
#[path = "refit/drift.rs"]
mod drift;
#[path = "refit/lifecycle.rs"]
mod lifecycle;
#[path = "refit/run.rs"]
mod run;
#[path = "refit/serve.rs"]
mod serve;
#[path = "refit/signals.rs"]
mod signals;

use args::{DemoArgs, DriftArgs, RollbackArgs, RunArgs, ServeArgs, TrainArgs, VersionsArgs};

#[derive(Parser)]
#[command(name = "refit", version, about = "An embedded online-learning agent")]
struct Cli {
    /// Log filter (e.g. `info`, `refit=debug`); overrides RUST_LOG.
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent on a demo stream or a CSV file: each chunk is predicted
    /// by the served model, then ingested; prints updates, checkpoints,
    /// drift alerts, learning-rate changes and the metric per window.
    ///
    /// The progressive metric is honest: every row is predicted by the
    /// newest model that could have been served without seeing it. Chunks
    /// follow the update schedule (the cold start's growing updates, then
    /// `online.min_samples_per_update`): a chunk ends where an update
    /// starts, and the next chunk waits until that update is served.
    Run(RunArgs),
    /// Write a built-in demo stream as CSV.
    Demo(DemoArgs),
    /// Compare two CSV files feature by feature: PSI per feature with its
    /// severity (and KS with --ks), as the agent measures drift.
    Drift(DriftArgs),
    /// List the stored versions (offline and online) with their metrics,
    /// lineage, active marker and disk usage.
    Versions(VersionsArgs),
    /// Make a stored version active (`17`, `online_017`, or `v3` for an
    /// offline version); the agent serves it at its next start.
    Rollback(RollbackArgs),
    /// Train a model from scratch on a CSV file and store it as the next
    /// offline version (`[offline]` settings), which becomes active.
    Train(TrainArgs),
    /// Run the agent behind the HTTP API (`[http] bind`), hot-reloading the
    /// config file; the config must list the model's features. SIGTERM or
    /// SIGINT stops it gracefully: requests in flight finish, the buffer is
    /// trained, the last checkpoint written, and it exits 0.
    Serve(ServeArgs),
}

/// Runs the command; an error is printed as its chain of causes, one per
/// line, without a backtrace (set RUST_LOG for details), with exit code 1.
fn main() -> std::process::ExitCode {
    match run_cli() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("refit: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  because: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli() -> Result<()> {
    let cli = Cli::parse();
    let filter = match &cli.log {
        Some(f) => tracing_subscriber::EnvFilter::try_new(f).context("parsing --log")?,
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Demo(args) => run::export(args),
        Command::Drift(args) => drift::drift(args),
        Command::Versions(args) => lifecycle::versions(args),
        Command::Rollback(args) => lifecycle::rollback(args),
        Command::Train(args) => lifecycle::train(args),
        Command::Serve(args) => serve::serve(args),
    }
}
