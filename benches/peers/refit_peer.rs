//! refit's side of the peer benchmark (`benches/peers/run.sh`): one learner
//! on one CSV stream, through the public API, with the protocol every peer
//! follows (`benches/peers/README.md`):
//!
//! - progressive validation: each chunk of `--batch` rows is predicted by the
//!   model as it is, then learned from;
//! - learning throughput: rows / seconds spent in the learning calls, the
//!   median of `--passes` passes (each on a fresh model);
//! - single-row predict latency: blocks of [`BLOCK`] single-row calls on the
//!   trained model, p50 and p99 of the per-call time of each block (at
//!   least 2 000 blocks and 0.5 s; at most 2 s);
//! - peak memory: the process's peak resident set (`VmHWM`).
//!
//! Learners: `plugin` (the model plugin's `partial_fit` and serving
//! snapshot), `agent_sync` (the whole agent; `flush` after each chunk, so the
//! next chunk is predicted by the model that learned from this one, as in
//! the peers' loops) and `agent_async` (the whole agent as a host runs it:
//! ingest returns at once, training and the model swap happen on the agent's
//! threads, each chunk is predicted by whatever model is served then).
//!
//! Writes the progressive predictions as little-endian `f32` to `--out` and
//! prints one JSON line of measurements.
//!
//! ```text
//! cargo run --release --example peer_refit -- --csv churn.csv --label churned \
//!     --task classification --learner plugin --config benches/peers/refit_plain.toml \
//!     --out churn.plugin.f32
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use refit::config::Config;
use refit::plugins::{self, Batch};
use refit::{Agent, data};
use serde::Serialize;

/// Single-row calls per latency sample.
const BLOCK: usize = 16;
/// Latency sampling runs until at least this many blocks and
/// [`LATENCY_MIN_SECONDS`] have passed, or [`LATENCY_MAX_SECONDS`] (with at
/// least 100 blocks): the same rule as the Python peers'.
const LATENCY_MIN_BLOCKS: usize = 2_000;
const LATENCY_MIN_SECONDS: f64 = 0.5;
const LATENCY_MAX_SECONDS: f64 = 2.0;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Learner {
    Plugin,
    AgentSync,
    AgentAsync,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TaskArg {
    Classification,
    Regression,
}

#[derive(Parser)]
struct Args {
    /// The stream (CSV with a header row).
    #[arg(long)]
    csv: PathBuf,
    /// The label column.
    #[arg(long)]
    label: String,
    #[arg(long, value_enum)]
    task: TaskArg,
    #[arg(long, value_enum)]
    learner: Learner,
    /// refit configuration: `[model.preprocessing]` for the plugin, the
    /// whole file for the agent.
    #[arg(long)]
    config: PathBuf,
    /// Constant learning rate of the plugin (the agent's rates come from the
    /// config's `[learning_rate]`).
    #[arg(long, default_value_t = 0.01)]
    lr: f32,
    /// Rows per chunk.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Progressive passes over the stream, each on a fresh model; the
    /// throughput is the median pass's (the predictions are the first's).
    #[arg(long, default_value_t = 3)]
    passes: usize,
    /// Where to write the progressive predictions.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Serialize)]
struct Measured {
    learner: String,
    rows: usize,
    learn_seconds: f64,
    rows_per_second: f64,
    predict_p50_ns: f64,
    predict_p99_ns: f64,
    peak_rss_mib: f64,
    /// Chunks a model refused (a safeguard error), counted, not fatal.
    refused_chunks: usize,
    threads: &'static str,
}

impl Measured {
    /// The measurements of a run; the peak memory is read now.
    fn new(
        learner: &str,
        rows: usize,
        learn_seconds: f64,
        (predict_p50_ns, predict_p99_ns): (f64, f64),
        refused_chunks: usize,
        threads: &'static str,
    ) -> Self {
        Self {
            learner: learner.into(),
            rows,
            learn_seconds,
            rows_per_second: rows as f64 / learn_seconds,
            predict_p50_ns,
            predict_p99_ns,
            peak_rss_mib: peak_rss_mib(),
            refused_chunks,
            threads,
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let data = data::read_csv_path(&args.csv, &args.label)
        .with_context(|| format!("reading {}", args.csv.display()))?;
    let mut config = Config::from_path(&args.config)?;
    config.model.kind = match args.task {
        TaskArg::Classification => "logistic",
        TaskArg::Regression => "linear",
    }
    .into();
    config.model.features = data.features.clone();
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let measured = match args.learner {
        Learner::Plugin => plugin(&args, &config, &data)?,
        Learner::AgentSync | Learner::AgentAsync => agent(&args, config, &data)?,
    };
    println!("{}", serde_json::to_string(&measured)?);
    Ok(())
}

/// The plugin directly: `partial_fit` at a constant rate, predictions from
/// the serving snapshot.
fn plugin(args: &Args, config: &Config, data: &data::Dataset) -> Result<Measured> {
    let width = data.features.len();
    let spec = config.model.spec(&data.features);
    let params = config.model.plugin_params()?;
    let mut model = plugins::builtin()
        .create(spec.clone(), &params)
        .context("creating the model")?;
    let rows = data.labels.len();
    let pass = |model: &mut Box<dyn plugins::Model>| -> Result<(Vec<f32>, f64, usize)> {
        let mut predictions = Vec::with_capacity(rows);
        let (mut learning, mut refused) = (0.0f64, 0usize);
        for (x, y) in data
            .rows
            .chunks(args.batch * width)
            .zip(data.labels.chunks(args.batch))
        {
            let batch = Batch::new(x, width)?;
            predictions.extend(model.snapshot().predict(batch.into())?);
            let start = Instant::now();
            let fitted = model.partial_fit(batch.into(), y, args.lr);
            learning += start.elapsed().as_secs_f64();
            if fitted.is_err() {
                refused += 1;
            }
        }
        Ok((predictions, learning, refused))
    };
    let (predictions, first, refused) = pass(&mut model)?;
    let mut times = vec![first];
    for _ in 1..args.passes.max(1) {
        let mut fresh = plugins::builtin().create(spec.clone(), &params)?;
        times.push(pass(&mut fresh)?.1);
    }
    let learning = median(&mut times);
    write_predictions(&args.out, &predictions)?;
    let serving = model.snapshot();
    let (p50, p99) = latency(data, |row| {
        serving.predict_row(row.into()).map_err(anyhow::Error::from)
    })?;
    Ok(Measured::new(
        "plugin",
        rows,
        learning,
        (p50, p99),
        refused,
        "1 (the caller's)",
    ))
}

/// The whole agent with the config's drift-driven learning rates.
fn agent(args: &Args, config: Config, data: &data::Dataset) -> Result<Measured> {
    let rows = data.labels.len();
    let sync = args.learner == Learner::AgentSync;
    let mut times = Vec::new();
    let mut first = None;
    for _ in 0..args.passes.max(1) {
        let (agent, dir, predictions, learning) = agent_pass(args, config.clone(), data)?;
        times.push(learning);
        match first {
            None => first = Some((agent, dir, predictions)),
            Some(_) => agent.shutdown()?,
        }
    }
    let Some((agent, _dir, predictions)) = first else {
        bail!("no pass ran");
    };
    let learning = median(&mut times);
    write_predictions(&args.out, &predictions)?;
    let refused = agent.stats()?.trainer.updates_skipped;
    let (p50, p99) = latency(data, |row| Ok(agent.predict(row)?.values[0]))?;
    agent.shutdown()?;
    Ok(Measured::new(
        if sync { "agent_sync" } else { "agent_async" },
        rows,
        learning,
        (p50, p99),
        refused as usize,
        "caller + the agent's actor threads (ingest, trainer, drift, checkpointer)",
    ))
}

/// One progressive pass through a fresh agent (in a fresh directory):
/// the agent, its directory, the predictions and the learning seconds.
fn agent_pass(
    args: &Args,
    mut config: Config,
    data: &data::Dataset,
) -> Result<(Agent, tempfile::TempDir, Vec<f32>, f64)> {
    let width = data.features.len();
    let dir = tempfile::tempdir().context("creating the agent's data directory")?;
    config.agent.data_dir = dir.path().to_owned();
    let agent = Agent::builder(config)
        .resume(false)
        .start()
        .context("starting the agent")?;
    let sync = args.learner == Learner::AgentSync;
    let mut predictions = Vec::with_capacity(data.labels.len());
    let mut learning = 0.0f64;
    for (x, y) in data
        .rows
        .chunks(args.batch * width)
        .zip(data.labels.chunks(args.batch))
    {
        predictions.extend(agent.predict(x)?.values);
        let start = Instant::now();
        agent.ingest(x, y)?;
        if sync {
            agent.flush()?;
        }
        learning += start.elapsed().as_secs_f64();
    }
    // Asynchronous: the rows count as learned once trained and served.
    let start = Instant::now();
    agent.flush()?;
    learning += start.elapsed().as_secs_f64();
    Ok((agent, dir, predictions, learning))
}

/// The median of `values` (the upper one of an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// p50 and p99 (ns per call) over blocks of [`BLOCK`] single-row calls,
/// cycling through the first 1 000 rows.
fn latency(
    data: &data::Dataset,
    mut predict: impl FnMut(&[f32]) -> Result<f32>,
) -> Result<(f64, f64)> {
    let width = data.features.len();
    let rows: Vec<&[f32]> = data.rows.chunks(width).take(1_000).collect();
    if rows.is_empty() {
        bail!("the stream has no rows");
    }
    let mut sink = 0.0f32;
    for row in rows.iter().cycle().take(BLOCK * 100) {
        sink += predict(row)?;
    }
    let mut per_call = Vec::new();
    let mut next = rows.iter().cycle();
    let started = Instant::now();
    loop {
        let start = Instant::now();
        for _ in 0..BLOCK {
            let row = next.next().copied().unwrap_or(rows[0]);
            sink += std::hint::black_box(predict(row)?);
        }
        per_call.push(start.elapsed().as_nanos() as f64 / BLOCK as f64);
        let elapsed = started.elapsed().as_secs_f64();
        if (per_call.len() >= LATENCY_MIN_BLOCKS && elapsed >= LATENCY_MIN_SECONDS)
            || (per_call.len() >= 100 && elapsed >= LATENCY_MAX_SECONDS)
        {
            break;
        }
    }
    std::hint::black_box(sink);
    per_call.sort_by(f64::total_cmp);
    let at = |q: f64| per_call[((per_call.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.50), at(0.99)))
}

fn write_predictions(path: &Path, predictions: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = predictions.iter().flat_map(|p| p.to_le_bytes()).collect();
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Peak resident set of this process in MiB (`VmHWM`; 0 where the proc
/// file system has no such line).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_reports_ordered_percentiles() {
        let data = data::read_csv("a,b,y\n1,2,0\n3,4,1\n".as_bytes(), "t.csv", "y").unwrap();
        let (p50, p99) = latency(&data, |row| Ok(row[0] + row[1])).unwrap();
        assert!(p50 > 0.0 && p50 <= p99, "{p50} {p99}");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn peak_rss_is_read_from_proc() {
        if Path::new("/proc/self/status").exists() {
            assert!(peak_rss_mib() > 1.0);
        }
    }
}
