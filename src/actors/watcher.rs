use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use notify::Watcher as _;

use crate::config::Config;
use crate::events::Event;
use crate::messages::{ConfigChanged, FileChanged, Publish};

/// How long the file must stay quiet before it is read.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Watches the config file with notify, debounces, parses and validates;
/// a valid change is broadcast as [`ConfigChanged`], an invalid one is
/// reported (event + log) and the previous config stays in force.
///
/// The file's directory is watched, not the file, so editors that save by
/// writing a new file and renaming it over the old one are seen too.
pub struct Watcher {
    path: PathBuf,
    current: Arc<Config>,
    /// Every actor that follows the config.
    followers: Vec<Recipient<ConfigChanged>>,
    events: Recipient<Publish>,
    notify: Option<notify::RecommendedWatcher>,
    pending: Option<SpawnHandle>,
}

impl Watcher {
    /// A watcher of `path`, whose content is `current`.
    pub fn new(
        path: PathBuf,
        current: Config,
        followers: Vec<Recipient<ConfigChanged>>,
        events: Recipient<Publish>,
    ) -> Self {
        Self {
            path,
            current: Arc::new(current),
            followers,
            events,
            notify: None,
            pending: None,
        }
    }

    fn reload(&mut self) {
        let shown = self.path.display().to_string();
        let _span = tracing::info_span!("watcher.reload", path = %shown).entered();
        let read = Config::from_path(&self.path).map(|mut new| {
            // A schema the data fixed (the file lists no features) stays.
            if new.model.features.is_empty() {
                new.model.adopt(&self.current.model.fixed_schema());
            }
            new
        });
        match read {
            Ok(new) if new == *self.current => tracing::debug!("config unchanged"),
            Ok(new) => {
                let restart_required = restart_keys(&self.current, &new);
                if !restart_required.is_empty() {
                    tracing::warn!(keys = ?restart_required, "these changes take effect after a restart");
                }
                let new = Arc::new(new);
                for follower in &self.followers {
                    follower.do_send(ConfigChanged(new.clone()));
                }
                self.current = new;
                tracing::info!("config reloaded");
                self.events.do_send(Publish(Event::ConfigReloaded {
                    path: shown,
                    restart_required,
                }));
            }
            Err(e) => {
                tracing::error!(error = %e, "config refused; the previous one stays in force");
                self.events.do_send(Publish(Event::ConfigRejected {
                    path: shown,
                    error: e.to_string(),
                }));
            }
        }
    }
}

/// The keys a running agent applies when the file changes (a prefix ending
/// in `.` covers a whole table); [`restart_keys`] names every other changed
/// key.
const HOT_KEYS: [&str; 15] = [
    "online.",
    "learning_rate.",
    "offline.",
    "retrain.",
    "ab.",
    "serving.ensemble_offline_weight",
    "drift.psi_moderate",
    "drift.psi_severe",
    "drift.concept.",
    "samples.durability",
    "samples.group_commit",
    "samples.max_age",
    "samples.max_bytes",
    "feedback.ttl",
    "feedback.max_pending",
];

/// Keys under a hot table that still need a restart.
const COLD_KEYS: [&str; 1] = ["online.checkpoint_retention"];

/// Every changed key (`section.key`, nested tables dotted further) that
/// takes effect only after a restart: those that shape the model, the
/// files, the drift reference or the HTTP server.
fn restart_keys(old: &Config, new: &Config) -> Vec<String> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(old), serde_json::to_value(new)) else {
        return vec!["(the config could not be compared)".to_owned()];
    };
    let mut changed = Vec::new();
    changed_keys(&a, &b, "", &mut changed);
    changed.retain(|key| {
        let hot = HOT_KEYS.iter().any(|h| match h.strip_suffix('.') {
            Some(table) => key.starts_with(h) || key == table,
            None => key == h,
        });
        !hot || COLD_KEYS.contains(&key.as_str())
    });
    changed
}

/// The dotted keys whose values differ between `a` and `b`.
fn changed_keys(a: &serde_json::Value, b: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                changed_keys(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &key,
                    out,
                );
            }
        }
        _ if a != b => out.push(prefix.to_owned()),
        _ => {}
    }
}

impl Actor for Watcher {
    type Context = Context<Self>;
}

impl Watcher {
    /// Starts the actor with its file watch already registered, so a change
    /// made as soon as the agent is up is not missed.
    pub fn start_watching(self) -> Addr<Self> {
        Watcher::create(|ctx| {
            let mut watcher = self;
            watcher.watch(ctx.address());
            watcher
        })
    }

    /// Registers the notify watch on the config file's directory.
    fn watch(&mut self, addr: Addr<Self>) {
        let name = self.path.file_name().map(|n| n.to_owned());
        let handler = move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res
                && event
                    .paths
                    .iter()
                    .any(|p| p.file_name().map(|n| n.to_owned()) == name)
            {
                addr.do_send(FileChanged);
            }
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        match notify::recommended_watcher(handler) {
            Ok(mut w) => match w.watch(&dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => self.notify = Some(w),
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "cannot watch the config")
                }
            },
            Err(e) => tracing::error!(error = %e, "cannot start the config watcher"),
        }
    }
}

impl Handler<FileChanged> for Watcher {
    type Result = ();
    fn handle(&mut self, _: FileChanged, ctx: &mut Context<Self>) {
        if let Some(h) = self.pending.take() {
            ctx.cancel_future(h);
        }
        self.pending = Some(ctx.run_later(DEBOUNCE, |act, _| {
            act.pending = None;
            act.reload();
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_outside_the_hot_ones_need_a_restart() {
        let old = Config::default();
        let mut new = old.clone();
        new.learning_rate.stable = Some(0.5);
        new.online.min_samples_per_update = 7;
        new.samples.max_bytes = 1;
        new.drift.psi_severe = 0.9;
        assert!(restart_keys(&old, &new).is_empty());
        new.online.checkpoint_retention = 9;
        new.http.max_body_bytes = 10;
        new.samples.segment_bytes = 11;
        new.drift.ks = !old.drift.ks;
        new.drift.bins = 3;
        assert_eq!(
            restart_keys(&old, &new),
            [
                "drift.bins",
                "drift.ks",
                "http.max_body_bytes",
                "online.checkpoint_retention",
                "samples.segment_bytes"
            ]
        );
    }
}
