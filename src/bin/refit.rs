//! The `refit` command line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use refit::config::Config;
use refit::{demo, plugins, progressive};

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
    /// Stream a built-in demo stream through a model with progressive
    /// validation (predict each batch, then learn from it) and print the
    /// metric per window.
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
    #[command(flatten)]
    stream: StreamArgs,
    /// Configuration file (default: ./config.toml when it exists, else the
    /// built-in defaults). Its [model] section picks the plugin, its
    /// parameters and the preprocessing.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Model plugin kind (default: the config's, or when its task does not
    /// fit the stream, logistic for classification and linear for
    /// regression).
    #[arg(long)]
    model: Option<String>,
    /// Rows per update.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Learning rate (default: 0.05 for logistic, 0.02 for linear, 0.01
    /// for mlp).
    #[arg(long)]
    lr: Option<f32>,
    /// Rows per reported window.
    #[arg(long, default_value_t = 2_000)]
    window: usize,
    /// Print the report as JSON.
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

fn stream(args: &StreamArgs) -> Result<demo::DemoStream> {
    if args.rows == 0 {
        bail!("--rows must be at least 1");
    }
    demo::by_name(&args.stream, args.seed, args.rows).with_context(|| {
        format!(
            "unknown demo stream `{}` (choose churn, clv or xor)",
            args.stream
        )
    })
}

fn run(args: RunArgs) -> Result<()> {
    if args.batch == 0 || args.window == 0 {
        bail!("--batch and --window must be at least 1");
    }
    let stream = stream(&args.stream)?;
    let config = load_config(args.config.as_deref())?;
    let mut model_cfg = config.model.clone();
    match &args.model {
        Some(kind) => {
            model_cfg.kind = kind.clone();
            model_cfg.task = None;
        }
        None if model_cfg.task() != stream.task => {
            model_cfg.kind = match stream.task {
                plugins::Task::Classification => "logistic",
                plugins::Task::Regression => "linear",
            }
            .to_owned();
            model_cfg.task = None;
            model_cfg.params.clear();
        }
        None => {}
    }
    let kind = model_cfg.kind.clone();
    let spec = model_cfg.spec(&stream.features);
    if spec.features != stream.features {
        bail!(
            "model.features {:?} do not match the {} stream's features {:?}",
            spec.features,
            stream.name,
            stream.features
        );
    }
    let mut model = plugins::builtin()
        .create(spec, &model_cfg.plugin_params()?)
        .with_context(|| format!("creating a `{kind}` model for the {} stream", stream.name))?;
    let lr = args.lr.unwrap_or(match kind.as_str() {
        "logistic" => 0.05,
        "linear" => 0.02,
        _ => 0.01,
    });
    let _span = tracing::info_span!("run", stream = stream.name, model = %kind).entered();
    tracing::info!(rows = stream.rows(), batch = args.batch, lr, "streaming");

    let bar = ProgressBar::with_draw_target(
        Some(stream.rows() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let report = progressive::run(
        model.as_mut(),
        &stream,
        &progressive::Settings {
            batch: args.batch,
            learning_rate: lr,
            window: args.window,
        },
        |done| bar.set_position(done as u64),
    )
    .context("progressive run")?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "refit run: stream {} ({} rows, {} features), model {kind}, batch {}, learning rate {}",
        stream.name,
        stream.rows(),
        stream.width(),
        args.batch,
        lr
    )?;
    writeln!(
        out,
        "progressive validation (each batch predicted before it is learned):"
    )?;
    writeln!(
        out,
        "{:>13}  {:<32} {:<32} events",
        "rows", "model", "oracle"
    )?;
    for w in &report.windows {
        writeln!(
            out,
            "{:>6}-{:<6}  {:<32} {:<32} {}",
            w.start,
            w.end,
            w.model.to_string(),
            w.oracle.to_string(),
            w.events.join("; ")
        )?;
    }
    writeln!(
        out,
        "{:>13}  {:<32} {:<32}",
        "overall",
        report.overall.to_string(),
        report.oracle.to_string()
    )?;
    writeln!(
        out,
        "{} updates in {:.2?} ({:.0} rows/s including prediction)",
        report.updates,
        elapsed,
        stream.rows() as f64 / elapsed.as_secs_f64()
    )?;
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
    let stream = stream(&args.stream)?;
    let csv = stream.to_csv();
    if args.out.as_os_str() == "-" {
        std::io::stdout().lock().write_all(csv.as_bytes())?;
    } else {
        std::fs::write(&args.out, csv)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    Ok(())
}
