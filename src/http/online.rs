//! `GET`/`PUT /v1/online`: the online-learning toggle and update
//! threshold, kept in the config file so the file and the API never
//! disagree (the agent's watcher reloads the file).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::config::Config;
use crate::http::HttpState;
use crate::http::handlers::error;

/// Sets `[online] enabled` and/or `min_samples_per_update` in config text,
/// keeping every other line (comments included); adds the keys (and the
/// section) when missing. The result is validated as a whole.
///
/// ```
/// let text = "# mine\n[online]\n# toggle\nenabled = true\n[drift]\nbins = 10\n";
/// let out = refit::http::set_online(text, Some(false), Some(250)).unwrap();
/// assert_eq!(out, "# mine\n[online]\nmin_samples_per_update = 250\n# toggle\nenabled = false\n[drift]\nbins = 10\n");
/// ```
pub fn set_online(
    text: &str,
    enabled: Option<bool>,
    threshold: Option<usize>,
) -> Result<String, String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let header = lines.iter().position(|l| l.trim() == "[online]");
    let header = match header {
        Some(h) => h,
        None => {
            lines.push("[online]".into());
            lines.len() - 1
        }
    };
    let mut set = |key: &str, value: String| {
        let end = lines[header + 1..]
            .iter()
            .position(|l| is_header(l))
            .map_or(lines.len(), |p| header + 1 + p);
        let found = lines[header + 1..end].iter().position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        match found {
            Some(i) => lines[header + 1 + i] = format!("{key} = {value}"),
            None => lines.insert(header + 1, format!("{key} = {value}")),
        }
    };
    if let Some(e) = enabled {
        set("enabled", e.to_string());
    }
    if let Some(t) = threshold {
        set("min_samples_per_update", t.to_string());
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') || text.is_empty() {
        out.push('\n');
    }
    Config::from_toml_str(&out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The config file's path, text and parsed value, or the status and
/// message to answer with.
type Read = Result<(std::path::PathBuf, String, Config), (StatusCode, String)>;

fn read(state: &HttpState) -> Read {
    let Some(path) = state.config_path.clone() else {
        return Err((
            StatusCode::CONFLICT,
            "the agent has no config file to keep the online settings in (start it with --config)"
                .into(),
        ));
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: {e}", path.display()),
        )
    })?;
    let config = Config::from_toml_str(&text)
        .map_err(|e| (StatusCode::CONFLICT, format!("{}: {e}", path.display())))?;
    Ok((path, text, config))
}

fn answer(c: &Config) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "enabled": c.online.enabled,
        "min_samples_per_update": c.online.min_samples_per_update,
    }))
}

pub(crate) async fn get(state: web::Data<HttpState>) -> HttpResponse {
    match read(&state) {
        Ok((_, _, c)) => answer(&c),
        Err((status, message)) => error(status, message),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Online {
    enabled: Option<bool>,
    min_samples_per_update: Option<usize>,
}

pub(crate) async fn put(state: web::Data<HttpState>, body: web::Json<Online>) -> HttpResponse {
    let (path, text, _) = match read(&state) {
        Ok(r) => r,
        Err((status, message)) => return error(status, message),
    };
    let new = match set_online(&text, body.enabled, body.min_samples_per_update) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if let Err(e) = crate::store::write_atomic(&path, new.as_bytes()) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: {e}", path.display()),
        );
    }
    match Config::from_toml_str(&new) {
        Ok(c) => answer(&c),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
