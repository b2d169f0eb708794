//! The arguments of each command.

use std::path::PathBuf;

use refit::demo;

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Configuration file (default: ./config.toml).
    #[arg(long, default_value = "config.toml")]
    pub(crate) config: PathBuf,
    /// Listen here instead of `[http] bind`.
    #[arg(long)]
    pub(crate) bind: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct TrainArgs {
    /// Offline training from scratch (the only mode).
    #[arg(long, required = true)]
    pub(crate) offline: bool,
    /// The training data (CSV with a header row).
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// The label column.
    #[arg(long)]
    pub(crate) label: String,
    /// Configuration file (default: ./config.toml when it exists).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct VersionsArgs {
    /// Configuration file naming the model and its data directory (default:
    /// ./config.toml when it exists).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct RollbackArgs {
    /// The version to activate.
    pub(crate) version: String,
    /// Configuration file naming the model and its data directory (default:
    /// ./config.toml when it exists).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct DriftArgs {
    /// The reference data (CSV with a header row).
    #[arg(long)]
    pub(crate) reference: PathBuf,
    /// The current data (same columns).
    #[arg(long)]
    pub(crate) current: PathBuf,
    /// A label column to leave out of the comparison.
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Configuration file for bins, floor, thresholds, `drift.ks` and the
    /// categorical features (default: ./config.toml when it exists).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Also run the KS test on numeric features.
    #[arg(long)]
    pub(crate) ks: bool,
    /// Print the table as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct StreamArgs {
    /// Demo stream: churn (classification), clv (regression), xor.
    #[arg(long, default_value = "churn")]
    pub(crate) stream: String,
    /// Rows to generate.
    #[arg(long, default_value_t = demo::DEFAULT_ROWS)]
    pub(crate) rows: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Built-in demo: churn (classification), clv (regression), or ctr (a
    /// search simulation learning click-through rates from its clicks).
    #[arg(long, default_value = "churn", conflicts_with = "input")]
    pub(crate) demo: String,
    /// Rows of the demo stream (churn, clv).
    #[arg(long, default_value_t = demo::DEFAULT_ROWS)]
    pub(crate) rows: usize,
    /// Search sessions of the ctr demo (the preference shift comes
    /// half-way).
    #[arg(long, default_value_t = 20_000)]
    pub(crate) sessions: usize,
    /// Seed of the demo stream.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Stream a CSV file instead (header row; every column but the label is
    /// a numeric feature; empty cells are missing values).
    #[arg(long, requires = "label")]
    pub(crate) input: Option<PathBuf>,
    /// The label column of --input.
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Configuration file (default: ./config.toml when it exists, else the
    /// built-in defaults).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Rows per ingest call at most (default: each chunk is the rest of
    /// the next update, as the update schedule says; a smaller cap changes
    /// no prediction).
    #[arg(long)]
    pub(crate) chunk: Option<usize>,
    /// Write every row's progressive prediction here (CSV, one column
    /// `prediction`, in stream order).
    #[arg(long)]
    pub(crate) predictions: Option<PathBuf>,
    /// Rows per reported window.
    #[arg(long, default_value_t = 4_000)]
    pub(crate) window: usize,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// Start from a fresh model instead of the stored active version (the
    /// stored versions stay; numbering continues).
    #[arg(long, conflicts_with = "warm_start")]
    pub(crate) fresh: bool,
    /// Start online learning from a stored version (`v3`, `online_017`) or
    /// from a coefficient file of a batch-trained linear model (JSON, see
    /// tools/export_sklearn.py), which is stored as the next offline version.
    #[arg(long)]
    pub(crate) warm_start: Option<String>,
    /// Serve the dashboard and the HTTP API while the stream runs, and after
    /// it until SIGINT (Ctrl-C) or SIGTERM, which stop gracefully: the
    /// buffer is trained and checkpointed (the config file, when there is one, is watched, so
    /// the dashboard's toggle and threshold take effect at once).
    #[arg(long)]
    pub(crate) serve: bool,
    /// With --serve, listen here instead of `[http] bind` (port 0 picks one).
    #[arg(long, requires = "serve")]
    pub(crate) bind: Option<String>,
    /// Stream at most this many rows per second (0: as fast as possible);
    /// with --serve the default is 2000, so the dashboard shows the drift,
    /// the learning-rate jump and the recovery as they happen.
    #[arg(long)]
    pub(crate) rate: Option<f64>,
}

#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    pub(crate) stream: StreamArgs,
    /// Output file (`-` for stdout).
    #[arg(long, default_value = "-")]
    pub(crate) out: PathBuf,
}
