//! The `refit` command line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use refit::config::Config;
use refit::{Agent, demo, plugins};

#[path = "refit/ctr.rs"]
mod ctr;

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
    /// config file; the config must list the model's features.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Configuration file (default: ./config.toml).
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
    /// Listen here instead of `[http] bind`.
    #[arg(long)]
    bind: Option<String>,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Offline training from scratch (the only mode).
    #[arg(long, required = true)]
    offline: bool,
    /// The training data (CSV with a header row).
    #[arg(long)]
    input: PathBuf,
    /// The label column.
    #[arg(long)]
    label: String,
    /// Configuration file (default: ./config.toml when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct VersionsArgs {
    /// Configuration file naming the model and its data directory (default:
    /// ./config.toml when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct RollbackArgs {
    /// The version to activate.
    version: String,
    /// Configuration file naming the model and its data directory (default:
    /// ./config.toml when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct DriftArgs {
    /// The reference data (CSV with a header row).
    #[arg(long)]
    reference: PathBuf,
    /// The current data (same columns).
    #[arg(long)]
    current: PathBuf,
    /// A label column to leave out of the comparison.
    #[arg(long)]
    label: Option<String>,
    /// Configuration file for bins, floor, thresholds, `drift.ks` and the
    /// categorical features (default: ./config.toml when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also run the KS test on numeric features.
    #[arg(long)]
    ks: bool,
    /// Print the table as JSON.
    #[arg(long)]
    json: bool,
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
    /// Built-in demo: churn (classification), clv (regression), or ctr (a
    /// search simulation learning click-through rates from its clicks).
    #[arg(long, default_value = "churn", conflicts_with = "input")]
    demo: String,
    /// Rows of the demo stream (churn, clv).
    #[arg(long, default_value_t = demo::DEFAULT_ROWS)]
    rows: usize,
    /// Search sessions of the ctr demo (the preference shift comes
    /// half-way).
    #[arg(long, default_value_t = 20_000)]
    sessions: usize,
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
    /// Rows per ingest call at most (default: each chunk is the rest of
    /// the next update, as the update schedule says; a smaller cap changes
    /// no prediction).
    #[arg(long)]
    chunk: Option<usize>,
    /// Write every row's progressive prediction here (CSV, one column
    /// `prediction`, in stream order).
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Rows per reported window.
    #[arg(long, default_value_t = 4_000)]
    window: usize,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Start from a fresh model instead of the stored active version (the
    /// stored versions stay; numbering continues).
    #[arg(long, conflicts_with = "warm_start")]
    fresh: bool,
    /// Start online learning from a stored version (`v3`, `online_017`) or
    /// from a coefficient file of a batch-trained linear model (JSON, see
    /// tools/export_sklearn.py), which is stored as the next offline version.
    #[arg(long)]
    warm_start: Option<String>,
    /// Serve the dashboard and the HTTP API while the stream runs, and after
    /// it until Ctrl-C (the config file, when there is one, is watched, so
    /// the dashboard's toggle and threshold take effect at once).
    #[arg(long)]
    serve: bool,
    /// With --serve, listen here instead of `[http] bind` (port 0 picks one).
    #[arg(long, requires = "serve")]
    bind: Option<String>,
    /// Stream at most this many rows per second (0: as fast as possible);
    /// with --serve the default is 2000, so the dashboard shows the drift,
    /// the learning-rate jump and the recovery as they happen.
    #[arg(long)]
    rate: Option<f64>,
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
        Command::Drift(args) => drift(args),
        Command::Versions(args) => versions(args),
        Command::Rollback(args) => rollback(args),
        Command::Train(args) => train(args),
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let config = Config::from_path(&args.config)?;
    let agent = Agent::builder(config.clone())
        .watch(&args.config)
        .start()
        .with_context(|| format!("starting the agent from {}", args.config.display()))?;
    let bind = args.bind.unwrap_or_else(|| config.http.bind.clone());
    let server = refit::http::serve(
        refit::http::HttpState {
            agent: agent.clone(),
            config_path: Some(args.config.clone()),
        },
        &bind,
        config.http.max_body_bytes,
    )
    .with_context(|| format!("listening on {bind}"))?;
    println!(
        "refit serve: http://{} (model `{}`)",
        server.addr, config.agent.name
    );
    let waited = server.wait();
    agent.shutdown().context("shutting the agent down")?;
    waited.context("the HTTP server")?;
    Ok(())
}

fn train(args: TrainArgs) -> Result<()> {
    debug_assert!(args.offline);
    let config = load_config(args.config.as_deref())?;
    let data = refit::data::read_csv_path(&args.input, &args.label)?;
    let agent = Agent::builder(config.clone())
        .features(data.features.clone())
        .start()
        .context("starting the agent")?;
    let report = agent
        .train_offline(&data.rows, &data.labels)
        .with_context(|| format!("training on {}", args.input.display()));
    let shutdown = agent.shutdown();
    let report = report?;
    shutdown.context("shutting the agent down")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "offline version {} of `{}` trained on {} rows ({} epochs), holdout of {} rows: {}",
        report.version,
        config.agent.name,
        report.trained.train_rows,
        report.trained.epochs,
        report.trained.holdout_rows,
        metric_text(report.trained.holdout.as_ref())
    )?;
    writeln!(
        out,
        "it is now the active version; `refit run` continues online learning from it"
    )?;
    Ok(())
}

fn warm_start_of(arg: &str) -> Result<refit::WarmStart> {
    if let Ok(version) = arg.parse::<refit::registry::VersionId>() {
        return Ok(refit::WarmStart::Version(version));
    }
    let text = std::fs::read_to_string(arg)
        .with_context(|| format!("--warm-start {arg}: not a version, and not a readable file"))?;
    let coefficients = plugins::linear::Coefficients::from_json(&text)
        .with_context(|| format!("reading coefficients from {arg}"))?;
    Ok(refit::WarmStart::Coefficients(coefficients))
}

fn store_of(config: &Config) -> refit::registry::Store {
    refit::registry::Store::for_config(config, refit::clock::system())
}

fn metric_text(m: Option<&refit::metrics::Scores>) -> String {
    match m {
        Some(refit::metrics::Scores::Classification { auc, log_loss }) => match auc {
            Some(auc) => format!("AUC {auc:.4} log loss {log_loss:.4}"),
            None => format!("log loss {log_loss:.4}"),
        },
        Some(refit::metrics::Scores::Regression { mae, rmse }) => {
            format!("MAE {mae:.4} RMSE {rmse:.4}")
        }
        None => "-".into(),
    }
}

fn versions(args: VersionsArgs) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    let store = store_of(&config);
    let list = store.list().context("reading the model store")?;
    let usage = store.disk_usage();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({
                "name": config.agent.name,
                "active": store.active()?.map(|v| v.to_string()),
                "disk_bytes": usage,
                "versions": list,
            }),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    if list.is_empty() {
        writeln!(
            out,
            "no stored versions of `{}` under {}",
            config.agent.name,
            config.agent.data_dir.join("models").display()
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "  {:<11} {:<11} {:<20} {:>9} {:>8} {:<9} {:<30} {:>9}",
        "version", "parent", "created", "samples", "lr", "severity", "metrics", "bytes"
    )?;
    for v in &list {
        let severity = serde_json::to_value(v.entry.severity)?;
        writeln!(
            out,
            "{} {:<11} {:<11} {:<20} {:>9} {:>8} {:<9} {:<30} {:>9}{}",
            if v.active { "*" } else { " " },
            v.version,
            v.entry.parent.map_or("-".into(), |p| p.to_string()),
            v.entry.created,
            v.entry.samples_seen,
            v.entry.learning_rate,
            severity.as_str().unwrap_or_default(),
            metric_text(v.entry.metrics.as_ref()),
            v.entry.file_size,
            if v.intact { "" } else { "  DAMAGED" }
        )?;
    }
    writeln!(
        out,
        "{} versions, {} bytes on disk; * active",
        list.len(),
        usage
    )?;
    Ok(())
}

fn rollback(args: RollbackArgs) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    let version: refit::registry::VersionId = args.version.parse()?;
    let (entry, _) = store_of(&config)
        .activate(version)
        .with_context(|| format!("activating {version}"))?;
    println!(
        "{version} is now active ({} samples, {}); the agent serves it at its next start",
        entry.samples_seen,
        metric_text(entry.metrics.as_ref())
    );
    Ok(())
}

fn read_side(path: &std::path::Path, label: Option<&str>) -> Result<refit::data::Dataset> {
    Ok(match label {
        Some(label) => refit::data::read_csv_path(path, label)?,
        None => refit::data::read_features_path(path)?,
    })
}

fn drift(args: DriftArgs) -> Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    config.drift.ks |= args.ks;
    let reference = read_side(&args.reference, args.label.as_deref())?;
    let current = read_side(&args.current, args.label.as_deref())?;
    let categorical: Vec<String> = config
        .model
        .preprocessing
        .features
        .iter()
        .filter(|(name, o)| {
            o.kind == Some(plugins::preprocess::FeatureType::Categorical)
                && reference.features.contains(name)
        })
        .map(|(name, _)| name.clone())
        .collect();
    let table = refit::drift::compare::compare(
        (&reference.features, &reference.rows),
        (&current.features, &current.rows),
        &config.drift,
        &categorical,
    )
    .with_context(|| {
        format!(
            "comparing {} with {}",
            args.current.display(),
            args.reference.display()
        )
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &table)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "drift of {} ({} rows) against {} ({} rows); PSI moderate above {}, severe above {}",
        args.current.display(),
        table.current_rows,
        args.reference.display(),
        table.reference_rows,
        config.drift.psi_moderate,
        config.drift.psi_severe
    )?;
    let width = table
        .features
        .iter()
        .map(|f| f.feature.len())
        .max()
        .unwrap_or(7)
        .max(7);
    write!(
        out,
        "{:width$}  {:>9}  {:<8}  {:>4}",
        "feature", "PSI", "severity", "bins"
    )?;
    if config.drift.ks {
        write!(out, "  {:>7}  {:>10}", "KS D", "KS p")?;
    }
    writeln!(out)?;
    for f in &table.features {
        let severity = serde_json::to_value(f.severity)?;
        write!(
            out,
            "{:width$}  {:>9.4}  {:<8}  {:>4}",
            f.feature,
            f.psi,
            severity.as_str().unwrap_or_default(),
            f.bins
        )?;
        match f.ks {
            Some(k) => write!(out, "  {:>7.4}  {:>10.3e}", k.statistic, k.p_value)?,
            None if config.drift.ks => write!(out, "  {:>7}  {:>10}", "-", "-")?,
            None => {}
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "max PSI {:.4}: {}",
        table.max_psi,
        serde_json::to_value(table.severity)?
            .as_str()
            .unwrap_or_default()
    )?;
    Ok(())
}

fn stream(name: &str, rows: usize, seed: u64) -> Result<demo::DemoStream> {
    if rows == 0 {
        bail!("--rows must be at least 1");
    }
    demo::by_name(name, seed, rows)
        .with_context(|| format!("unknown demo stream `{name}` (choose churn, clv or xor)"))
}

fn run(args: RunArgs) -> Result<()> {
    if args.chunk == Some(0) || args.window == 0 {
        bail!("--chunk and --window must be at least 1");
    }
    let rate = match args.rate {
        Some(r) if !(r >= 0.0 && r.is_finite()) => {
            bail!("--rate {r}: give rows per second, 0 or more (0: as fast as possible)")
        }
        Some(r) => r,
        None if args.serve => 2_000.0,
        None => 0.0,
    };
    let config_path = config_path(args.config.as_deref());
    let mut config = load_config(args.config.as_deref())?;
    if args.input.is_none() && args.demo == "ctr" {
        return ctr::run(&args, config, config_path, rate);
    }
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
    let mut agent = Agent::builder(config.clone())
        .features(features.clone())
        .resume(!args.fresh);
    if args.serve
        && let Some(path) = &config_path
    {
        agent = agent.watch(path);
    }
    let agent = match &args.warm_start {
        Some(from) => agent.warm_start(warm_start_of(from)?),
        None => agent,
    }
    .start()
    .with_context(|| format!("starting the agent for {name}"))?;
    let resumed = agent.stats()?.serving_version;
    let server = if args.serve {
        Some(dashboard(
            args.bind.as_deref(),
            &agent,
            &config,
            config_path.clone(),
        )?)
    } else {
        None
    };
    let _span = tracing::info_span!("run", input = %name, model = %config.model.kind).entered();
    let bar = progress_bar(labels.len(), "rows");
    let started = std::time::Instant::now();
    let summary = refit::run::run(&agent, &rows, &labels, args.chunk, args.window, |done| {
        bar.set_position(done as u64);
        pace(started, done, rate);
    });
    bar.finish_and_clear();
    let summary = match server {
        Some(server) => {
            let summary = summary.with_context(|| format!("streaming {name}"))?;
            print_run(&args, &name, &features, &config, task, resumed, &summary)?;
            return keep_serving(server, &agent);
        }
        None => summary,
    };
    let shutdown = agent.shutdown();
    let summary = summary.with_context(|| format!("streaming {name}"))?;
    shutdown.context("shutting the agent down")?;
    if let Some(path) = &args.predictions {
        write_predictions(path, &summary.predictions)
            .with_context(|| format!("writing the predictions to {}", path.display()))?;
    }
    print_run(&args, &name, &features, &config, task, resumed, &summary)
}

/// Writes progressive predictions as a one-column CSV file.
fn write_predictions(path: &std::path::Path, predictions: &[f32]) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "prediction")?;
    for p in predictions {
        writeln!(out, "{p}")?;
    }
    out.flush()?;
    Ok(())
}

/// Starts the HTTP API and dashboard for `agent` (on `bind`, else
/// `[http] bind`) and prints its address.
fn dashboard(
    bind: Option<&str>,
    agent: &Agent,
    config: &Config,
    config_path: Option<PathBuf>,
) -> Result<refit::http::HttpServerHandle> {
    let bind = bind.unwrap_or(&config.http.bind);
    let server = refit::http::serve(
        refit::http::HttpState {
            agent: agent.clone(),
            config_path,
        },
        bind,
        config.http.max_body_bytes,
    )
    .with_context(|| format!("listening on {bind}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "refit dashboard: http://{}/", server.addr)?;
    out.flush()?;
    Ok(server)
}

/// Keeps the dashboard up after a run until Ctrl-C, then stops the agent.
fn keep_serving(server: refit::http::HttpServerHandle, agent: &Agent) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "the stream is done; the dashboard stays up at http://{}/ (Ctrl-C to stop)",
        server.addr
    )?;
    out.flush()?;
    drop(out);
    let waited = server.wait();
    agent.shutdown().context("shutting the agent down")?;
    waited.context("the HTTP server")?;
    Ok(())
}

/// Prints a run's summary (as JSON with --json).
fn print_run(
    args: &RunArgs,
    name: &str,
    features: &[String],
    config: &Config,
    task: plugins::Task,
    resumed: refit::registry::VersionId,
    summary: &refit::run::RunSummary,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, summary)?;
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
    if resumed.number > 0 {
        writeln!(
            out,
            "resumed from stored version {resumed} (--fresh starts from a new model)"
        )?;
    }
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

/// The config file a command uses: the given one, else ./config.toml when
/// it exists.
fn config_path(path: Option<&std::path::Path>) -> Option<PathBuf> {
    match path {
        Some(p) => Some(p.to_owned()),
        None => Some(PathBuf::from("config.toml")).filter(|p| p.exists()),
    }
}

/// The config of [`config_path`], or the built-in defaults without one.
fn load_config(path: Option<&std::path::Path>) -> Result<Config> {
    match config_path(path) {
        Some(p) => Ok(Config::from_path(&p)?),
        None => Ok(Config::default()),
    }
}

/// A progress bar on stderr counting `len` `unit`.
fn progress_bar(len: usize, unit: &str) -> ProgressBar {
    let bar =
        ProgressBar::with_draw_target(Some(len as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit} {{per_sec}} {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Holds a stream to `rate` items per second (0: no limit): item `done` is
/// due `done / rate` seconds after `started`.
fn pace(started: std::time::Instant, done: usize, rate: f64) {
    if rate > 0.0 {
        let due = std::time::Duration::from_secs_f64(done as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
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
