//! Model lifecycle commands: `refit train`, `refit versions`, `refit rollback`.

use std::io::Write;

use anyhow::{Context, Result};
use refit::config::Config;
use refit::{Agent, plugins};

use crate::args::{RollbackArgs, TrainArgs, VersionsArgs};
use crate::common::{fit_schema, load_config};

pub(crate) fn train(args: TrainArgs) -> Result<()> {
    debug_assert!(args.offline);
    let mut config = load_config(args.config.as_deref())?;
    let data = refit::data::read_csv_path(&args.input, &args.label)?;
    let data = fit_schema(&mut config, data)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.input.display()))?;
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

pub(crate) fn warm_start_of(arg: &str) -> Result<refit::WarmStart> {
    if let Ok(version) = arg.parse::<refit::store::VersionId>() {
        return Ok(refit::WarmStart::Version(version));
    }
    let text = std::fs::read_to_string(arg)
        .with_context(|| format!("--warm-start {arg}: not a version, and not a readable file"))?;
    let coefficients = plugins::linear::Coefficients::from_json(&text)
        .with_context(|| format!("reading coefficients from {arg}"))?;
    Ok(refit::WarmStart::Coefficients(coefficients))
}

pub(crate) fn store_of(config: &Config) -> refit::store::Store {
    refit::store::Store::for_config(config, refit::clock::system())
}

pub(crate) fn metric_text(m: Option<&refit::metrics::Scores>) -> String {
    m.map_or_else(|| "-".into(), ToString::to_string)
}

pub(crate) fn versions(args: VersionsArgs) -> Result<()> {
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
            v.entry.learning_rate.map_or("-".into(), |r| r.to_string()),
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

pub(crate) fn rollback(args: RollbackArgs) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    let version: refit::store::VersionId = args.version.parse()?;
    let store = store_of(&config);
    // Not beside a running agent or another command writing this store.
    let _lock = store.lock()?;
    let (entry, _) = store
        .activate(version, None)
        .with_context(|| format!("activating {version}"))?;
    println!(
        "{version} is now active ({} samples, {}); the agent serves it at its next start",
        entry.samples_seen,
        metric_text(entry.metrics.as_ref())
    );
    Ok(())
}
