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
        match Config::from_path(&self.path) {
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

/// Keys whose change needs a restart (they shape the model, the files or
/// the drift reference).
fn restart_keys(old: &Config, new: &Config) -> Vec<String> {
    let mut keys = Vec::new();
    if old.agent != new.agent {
        keys.push("agent".to_owned());
    }
    if old.model != new.model {
        keys.push("model".to_owned());
    }
    if old.online.checkpoint_retention != new.online.checkpoint_retention {
        keys.push("online.checkpoint_retention".to_owned());
    }
    let (a, b) = (&old.drift, &new.drift);
    if (a.bins, a.window, a.reference_size) != (b.bins, b.window, b.reference_size)
        || a.empty_bin_floor != b.empty_bin_floor
    {
        keys.push("drift.bins/window/reference_size/empty_bin_floor".to_owned());
    }
    keys
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
