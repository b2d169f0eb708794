//! `GET`/`PUT /v1/online`: the online-learning toggle and update
//! threshold, kept in the config file so the file and the API never
//! disagree (the agent's watcher reloads the file).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::config::Config;
use crate::http::HttpState;
use crate::http::handlers::error;

/// Sets `[online] enabled` and/or `min_samples_per_update` in config text
/// with a TOML editor: every comment and the layout are kept, and the keys
/// (and the table) are added when missing. The result is validated as a
/// whole.
///
/// ```
/// let text = "# mine\n[online] # the toggle\nenabled = true # on\n[drift]\nbins = 10\n";
/// let out = refit::http::set_online(text, Some(false), Some(250)).unwrap();
/// assert_eq!(
///     out,
///     "# mine\n[online] # the toggle\nenabled = false # on\nmin_samples_per_update = 250\n[drift]\nbins = 10\n"
/// );
/// ```
pub fn set_online(
    text: &str,
    enabled: Option<bool>,
    threshold: Option<usize>,
) -> Result<String, String> {
    let mut values: Vec<(&str, toml_edit::Value)> = Vec::new();
    if let Some(e) = enabled {
        values.push(("enabled", e.into()));
    }
    if let Some(t) = threshold {
        let t = i64::try_from(t).map_err(|_| format!("min_samples_per_update {t} is too large"))?;
        values.push(("min_samples_per_update", t.into()));
    }
    set_in(text, "online", values)
}

/// Sets `values` in the table `table` of config text, keeping every
/// comment and the layout (see [`set_online`]); the result is validated
/// as a whole.
pub(crate) fn set_in(
    text: &str,
    table: &str,
    values: Vec<(&str, toml_edit::Value)>,
) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let online = doc
        .entry(table)
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or_else(|| format!("`{table}` is not a table"))?;
    let mut set = |key: &str, value: toml_edit::Value| match online.get_mut(key) {
        // The value's own comments (decor) stay where they were.
        Some(item) if item.is_value() => {
            let decor = item.as_value().map(|v| v.decor().clone());
            let mut value = value;
            if let Some(d) = decor {
                *value.decor_mut() = d;
            }
            *item = toml_edit::Item::Value(value);
        }
        _ => {
            online.insert(key, toml_edit::Item::Value(value));
        }
    };
    for (key, value) in values {
        set(key, value);
    }
    let out = doc.to_string();
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
            "the agent has no config file to keep this setting in (start it with --config)".into(),
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
    let state = state.get_ref().clone();
    // File work, off the async workers.
    match web::block(move || read(&state)).await {
        Ok(Ok((_, _, c))) => answer(&c),
        Ok(Err((status, message))) => error(status, message),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Online {
    enabled: Option<bool>,
    min_samples_per_update: Option<usize>,
}

/// Edits of the config file, one at a time: a read-modify-write under
/// this lock cannot lose another's update.
static EDIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) async fn put(state: web::Data<HttpState>, body: web::Json<Online>) -> HttpResponse {
    let body = body.into_inner();
    match edit(&state, move |text| {
        set_online(text, body.enabled, body.min_samples_per_update)
    })
    .await
    {
        Ok(c) => answer(&c),
        Err(answer) => answer,
    }
}

/// Edits the config file with `change` (text in, text out), atomically
/// and one edit at a time; answers the new config, or the error answer.
pub(crate) async fn edit(
    state: &HttpState,
    change: impl FnOnce(&str) -> Result<String, String> + Send + 'static,
) -> Result<Config, HttpResponse> {
    let state = state.clone();
    // File work, off the async workers.
    let edited = web::block(move || {
        let _held = EDIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (path, text, _) = read(&state)?;
        let new = change(&text).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        crate::store::write_atomic(&path, new.as_bytes()).map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{}: {e}", path.display()),
            )
        })?;
        Config::from_toml_str(&new).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await;
    match edited {
        Ok(Ok(c)) => Ok(c),
        Ok(Err((status, message))) => Err(error(status, message)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}
