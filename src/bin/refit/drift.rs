//! `refit drift`: the per-feature PSI (and KS) table of two files.

use std::io::Write;

use anyhow::{Context, Result};
use refit::plugins;

use crate::args::DriftArgs;
use crate::common::load_config;

pub(crate) fn read_side(
    path: &std::path::Path,
    label: Option<&str>,
) -> Result<refit::data::Dataset> {
    Ok(match label {
        Some(label) => refit::data::read_csv_path(path, label)?,
        None => refit::data::read_features_path(path)?,
    })
}

pub(crate) fn drift(args: DriftArgs) -> Result<()> {
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
