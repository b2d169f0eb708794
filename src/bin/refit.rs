//! The `refit` command line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use refit::config::Config;
use refit::{Agent, demo, plugins};

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
    Run(RunArgs),
    /// Write a built-in demo stream as CSV.
    Demo(DemoArgs),
}

#[derive(clap::Args)]
struct StreamArgs {
    /// Demo stream: churn (classification), clv (regression), xor.
    #[arg(long, default_value = "churn")]
    stream: String,
    /// Rows to generate.
    #[arg(long, default_value_t = demo::DEFAULT_ROWS)]
    rows: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Built-in demo stream: churn (classification) or clv (regression).
    #[arg(long, default_value = "churn", conflicts_with = "input")]
    demo: String,
    /// Rows of the demo stream.
    #[arg(long, default_value_t = demo::DEFAULT_ROWS)]
    rows: usize,
    /// Seed of the demo stream.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Stream a CSV file instead (header row; every column but the label is
    /// a numeric feature; empty cells are missing values).
    #[arg(long, requires = "label")]
    input: Option<PathBuf>,
    /// The label column of --input.
    #[arg(long)]
    label: Option<String>,
    /// Configuration file (default: ./config.toml when it exists, else the
    /// built-in defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rows per ingest call.
    #[arg(long, default_value_t = 100)]
    chunk: usize,
    /// Rows per reported window.
    #[arg(long, default_value_t = 2_000)]
    window: usize,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct DemoArgs {
    #[command(flatten)]
    stream: StreamArgs,
    /// Output file (`-` for stdout).
    #[arg(long, default_value = "-")]
    out: PathBuf,
}

fn main() -> Result<()> {
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
        Command::Run(args) => run(args),
        Command::Demo(args) => export(args),
    }
}

fn stream(name: &str, rows: usize, seed: u64) -> Result<demo::DemoStream> {
    if rows == 0 {
        bail!("--rows must be at least 1");
    }
    demo::by_name(name, seed, rows)
        .with_context(|| format!("unknown demo stream `{name}` (choose churn, clv or xor)"))
}

fn run(args: RunArgs) -> Result<()> {
    if args.chunk == 0 || args.window == 0 {
        bail!("--chunk and --window must be at least 1");
    }
    let mut config = load_config(args.config.as_deref())?;
    let (name, features, rows, labels, task) = match (&args.input, &args.label) {
        (Some(path), Some(label)) => {
            let data = refit::data::read_csv_path(path, label)?;
            let task = config.model.task();
            (
                path.display().to_string(),
                data.features,
                data.rows,
                data.labels,
                task,
            )
        }
        _ => {
            let s = stream(&args.demo, args.rows, args.seed)?;
            if config.model.task() != s.task {
                // The default config is for churn: pick the stream's own kind.
                config.model.kind = match s.task {
                    plugins::Task::Classification => "logistic",
                    plugins::Task::Regression => "linear",
                }
                .to_owned();
                config.model.task = None;
                config.model.params.clear();
            }
            (format!("demo {}", s.name), s.features, s.x, s.y, s.task)
        }
    };
    if labels.is_empty() {
        bail!("{name}: no rows to stream");
    }
    let agent = Agent::builder(config.clone())
        .features(features.clone())
        .start()
        .with_context(|| format!("starting the agent for {name}"))?;
    let _span = tracing::info_span!("run", input = %name, model = %config.model.kind).entered();
    let bar = ProgressBar::with_draw_target(
        Some(labels.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let summary = refit::run::run(&agent, &rows, &labels, args.chunk, args.window, |done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let shutdown = agent.shutdown();
    let summary = summary.with_context(|| format!("streaming {name}"))?;
    shutdown.context("shutting the agent down")?;

    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "refit run: {name}, {} rows x {} features, model {} ({task}), data in {}",
        summary.samples,
        features.len(),
        config.model.kind,
        config.agent.data_dir.join("models").display()
    )?;
    writeln!(
        out,
        "updates applied {}, skipped {}, checkpoints written {}, drift reports with alerts {}",
        summary.updates, summary.skipped, summary.checkpoints, summary.drift_alerts
    )?;
    if summary.lr_changes.is_empty() {
        writeln!(out, "learning rate unchanged")?;
    } else {
        writeln!(out, "learning-rate changes:")?;
        writeln!(
            out,
            "{:>10}  {:>8} -> {:<8}  {:<9} {:>8}",
            "sample", "old", "new", "severity", "max PSI"
        )?;
        for c in &summary.lr_changes {
            writeln!(
                out,
                "{:>10}  {:>8} -> {:<8}  {:<9} {:>8.3}",
                c.sample,
                c.old,
                c.lr,
                format!("{:?}", c.severity).to_lowercase(),
                c.max_psi
            )?;
        }
    }
    let metric = summary.metric.name.to_uppercase();
    writeln!(
        out,
        "progressive {metric} (each chunk predicted by the served model before it is ingested):"
    )?;
    for w in &summary.windows {
        writeln!(out, "{:>8}-{:<8} {:.4}", w.start, w.end, w.value)?;
    }
    writeln!(out, "{:>17} {:.4}", "overall", summary.metric.value)?;
    writeln!(out, "{:.0} rows/s", summary.rows_per_s)?;
    Ok(())
}

fn load_config(path: Option<&std::path::Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::from_path(p)?),
        None => {
            let default = std::path::Path::new("config.toml");
            if default.exists() {
                Ok(Config::from_path(default)?)
            } else {
                Ok(Config::default())
            }
        }
    }
}

fn export(args: DemoArgs) -> Result<()> {
    let stream = stream(&args.stream.stream, args.stream.rows, args.stream.seed)?;
    let csv = stream.to_csv();
    if args.out.as_os_str() == "-" {
        std::io::stdout().lock().write_all(csv.as_bytes())?;
    } else {
        std::fs::write(&args.out, csv)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    Ok(())
}
