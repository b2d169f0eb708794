//! `refit run` (the main job) and `refit demo` (a demo stream as CSV).

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::{Context, Result, bail};
use refit::config::Config;
use refit::{Agent, demo, plugins};

use crate::args::{DemoArgs, RunArgs};
use crate::common::{config_path, fit_schema, load_config, pace, progress_bar};
use crate::lifecycle::warm_start_of;
use crate::serve::{dashboard, keep_serving};
use crate::signals::Stop;

pub(crate) fn stream(name: &str, rows: usize, seed: u64) -> Result<demo::DemoStream> {
    if rows == 0 {
        bail!("--rows must be at least 1");
    }
    demo::by_name(name, seed, rows)
        .with_context(|| format!("unknown demo stream `{name}` (choose churn, clv or xor)"))
}

pub(crate) fn run(args: RunArgs) -> Result<()> {
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
    // SIGTERM or SIGINT ends the stream (and the dashboard) gracefully.
    let stop = Stop::install()?;
    if args.input.is_none() && args.demo == "ctr" {
        return crate::ctr::run(&args, config, config_path, rate, &stop);
    }
    let (name, features, rows, labels, task) = match (&args.input, &args.label) {
        (Some(path), Some(label)) => {
            let data = refit::data::read_csv_path(path, label)?;
            let data = fit_schema(&mut config, data)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
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
            &stop,
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
        if stop.requested() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    bar.finish_and_clear();
    if let Ok(s) = &summary
        && s.samples < labels.len()
    {
        eprintln!(
            "refit run: stopped by a signal after {} of {} rows",
            s.samples,
            labels.len()
        );
    }
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
pub(crate) fn write_predictions(path: &std::path::Path, predictions: &[f32]) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "prediction")?;
    for p in predictions {
        writeln!(out, "{p}")?;
    }
    out.flush()?;
    Ok(())
}

/// Prints a run's summary (as JSON with --json).
pub(crate) fn print_run(
    args: &RunArgs,
    name: &str,
    features: &[String],
    config: &Config,
    task: plugins::Task,
    resumed: refit::store::VersionId,
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
    crate::common::print_drift(&mut out, &summary.lr_changes, &summary.concept_alarms)?;
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

pub(crate) fn export(args: DemoArgs) -> Result<()> {
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
