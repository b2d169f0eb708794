//! `refit serve`, and the HTTP API and dashboard of `refit run --serve`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use refit::Agent;
use refit::config::Config;

use crate::args::ServeArgs;
use crate::signals::Stop;

/// `refit serve`: until SIGTERM or SIGINT, which stop it gracefully (see
/// [`crate::signals`]).
pub(crate) fn serve(args: ServeArgs) -> Result<()> {
    let stop = Stop::install()?;
    let config = Config::from_path(&args.config)?;

    let state = match Agent::builder(config.clone()).watch(&args.config).start() {
        Ok(agent) => refit::http::HttpState::new(agent, Some(args.config.clone())),
        // No features anywhere: the first named samples fix them.
        Err(refit::AgentError::NoFeatures) => {
            let (config, path) = (config.clone(), args.config.clone());
            refit::http::HttpState::starting_on_first_samples(
                Box::new(move |rows, labels| {
                    let inferred = refit::schema::infer(rows, labels, config.model.task())
                        .map_err(refit::AgentError::InvalidArgument)?;
                    let mut config = config.clone();
                    config.model.adopt(&inferred);
                    Agent::builder(config).watch(&path).start()
                }),
                Some(args.config.clone()),
            )
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("starting the agent from {}", args.config.display()));
        }
    };
    let bind = args.bind.unwrap_or_else(|| config.http.bind.clone());
    let access = refit::http::Access::from_config(&config.http).context("[http] token")?;
    let server = refit::http::serve_with(state.clone(), &bind, config.http.max_body_bytes, access)
        .with_context(|| format!("listening on {bind}"))?;
    stop.stops(server.stopper());
    if state.agent().is_some() {
        println!(
            "refit serve: http://{} (model `{}`)",
            server.addr, config.agent.name
        );
    } else {
        println!(
            "refit serve: http://{} (model `{}`; no features configured: the first named samples fix them)",
            server.addr, config.agent.name
        );
    }
    let waited = server.wait();
    if let Some(agent) = state.agent() {
        agent.shutdown().context("shutting the agent down")?;
    }
    waited.context("the HTTP server")?;
    Ok(())
}

/// `[http] bind`) and prints its address.
pub(crate) fn dashboard(
    bind: Option<&str>,
    agent: &Agent,
    config: &Config,
    config_path: Option<PathBuf>,
    stop: &Stop,
) -> Result<refit::http::HttpServerHandle> {
    let bind = bind.unwrap_or(&config.http.bind);
    let access = refit::http::Access::from_config(&config.http).context("[http] token")?;
    let server = refit::http::serve_with(
        refit::http::HttpState::new(agent.clone(), config_path),
        bind,
        config.http.max_body_bytes,
        access,
    )
    .with_context(|| format!("listening on {bind}"))?;
    stop.stops(server.stopper());
    let mut out = std::io::stdout().lock();
    writeln!(out, "refit dashboard: http://{}/", server.addr)?;
    out.flush()?;
    Ok(server)
}

/// Keeps the dashboard up after a run until SIGINT (Ctrl-C) or SIGTERM,
/// then stops the agent.
pub(crate) fn keep_serving(server: refit::http::HttpServerHandle, agent: &Agent) -> Result<()> {
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
