//! `refit run --demo ctr`: the search simulation of `refit::ctr::simulation`
//! against an agent with a sparse FTRL model.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use refit::Agent;
use refit::config::Config;
use refit::ctr::simulation::{self, CtrSummary, SimConfig};

use crate::args::RunArgs;
use crate::signals::Stop;

/// The click-model settings where the config is not for a sparse model
/// already: model `ctr` with files `ctr_model_*`, FTRL over 2^18 hashed
/// coordinates, training every 100 new samples, the last 5 checkpoints.
fn ctr_config(mut config: Config) -> Config {
    if config.model.kind != "ftrl" {
        config.agent.name = "ctr".into();
        config.agent.file_prefix = Some("ctr_model".into());
        config.model.kind = "ftrl".into();
        config.model.task = None;
        config.model.features.clear();
        config.model.params.clear();
        config.online.min_samples_per_update = 100;
        // Train when exactly 100 new samples have arrived, from the first.
        config.online.cold_start = false;
        config.online.checkpoint_retention = 5;
    }
    config
}

pub(super) fn run(
    args: &RunArgs,
    config: Config,
    config_path: Option<PathBuf>,
    rate: f64,
    stop: &Stop,
) -> Result<()> {
    if args.sessions < 2 {
        bail!("--sessions must be at least 2 (the preference shift comes half-way)");
    }
    let config = ctr_config(config);
    let sim = SimConfig {
        sessions: args.sessions,
        shift_at: args.sessions / 2,
        seed: args.seed,
        window: (args.sessions / 10).max(1),
        eval_every: (args.sessions / 40).max(1),
        ..SimConfig::default()
    };
    let mut builder = Agent::builder(config.clone()).resume(!args.fresh);
    if args.serve
        && let Some(path) = &config_path
    {
        builder = builder.watch(path);
    }
    let agent = builder.start().context("starting the CTR agent")?;
    let server = if args.serve {
        Some(crate::serve::dashboard(
            args.bind.as_deref(),
            &agent,
            &config,
            config_path,
            stop,
        )?)
    } else {
        None
    };
    let _span = tracing::info_span!("run", input = "demo ctr", model = "ftrl").entered();
    let bar = crate::common::progress_bar(sim.sessions, "sessions");
    let started = std::time::Instant::now();
    let summary = simulation::run(&agent, &sim, |done| {
        bar.set_position(done as u64);
        // --rate counts impressions (click events) per second.
        crate::common::pace(started, done * sim.docs_per_query, rate);
        if stop.requested() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
    bar.finish_and_clear();
    let summary = summary.context("running the search simulation")?;
    print(args, &config, &summary, started.elapsed().as_secs_f64())?;
    match server {
        Some(server) => crate::serve::keep_serving(server, &agent),
        None => agent.shutdown().context("shutting the agent down"),
    }
}

fn print(args: &RunArgs, config: &Config, s: &CtrSummary, seconds: f64) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, s)?;
        writeln!(out)?;
        return Ok(());
    }
    let c = &s.config;
    let online = config
        .agent
        .data_dir
        .join("models")
        .join(format!("{}_online", config.agent.name));
    writeln!(
        out,
        "refit run: demo ctr, {} search sessions ({} queries x {} documents, preferences shift at session {}), model {}",
        c.sessions, c.queries, c.docs_per_query, c.shift_at, config.model.kind
    )?;
    writeln!(
        out,
        "click events {} ({} clicks), trainings {} ({} by the threshold of {} new samples)",
        s.impressions, s.clicks, s.updates, s.triggers, config.online.min_samples_per_update
    )?;
    writeln!(
        out,
        "checkpoints written {}, kept {} in {} ({:.1} KiB on disk)",
        s.checkpoints,
        s.checkpoints_kept,
        online.display(),
        s.disk_bytes as f64 / 1024.0
    )?;
    crate::common::print_drift(&mut out, &s.lr_changes, &s.concept_alarms)?;
    writeln!(
        out,
        "progressive AUC (each impression predicted by the served model before it is learned):"
    )?;
    for w in &s.auc {
        writeln!(out, "{:>8}-{:<8} {:.4}", w.start, w.end, w.value)?;
    }
    writeln!(
        out,
        "NDCG@{} of the ranking by predicted CTR against the true attractiveness:",
        c.docs_per_query
    )?;
    writeln!(out, "  before the shift      {:.4}", s.ndcg_before_shift)?;
    writeln!(out, "  right after it        {:.4}", s.ndcg_after_shift)?;
    writeln!(out, "  at the end            {:.4}", s.ndcg_end)?;
    match s.recovered_after {
        Some(n) => writeln!(
            out,
            "  back within 0.02 of the pre-shift NDCG {n} sessions after the shift"
        )?,
        None => writeln!(
            out,
            "  not back within 0.02 of the pre-shift NDCG by the end of the run"
        )?,
    }
    writeln!(
        out,
        "{:.0} click events/s (simulation, ranking and training together)",
        s.impressions as f64 / seconds.max(1e-9)
    )?;
    Ok(())
}
