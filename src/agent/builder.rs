//! Building and starting an agent: the boot sequence.

use super::*;
use crate::error::check_stored_spec;

/// Builds and starts an [`Agent`].
pub struct AgentBuilder {
    config: Config,
    #[cfg(feature = "watch")]
    watch: Option<std::path::PathBuf>,
    features: Option<Vec<String>>,
    plugins: PluginRegistry,
    flush_timeout: Duration,
    clock: Arc<dyn Clock>,
    resume: bool,
    warm_start: Option<WarmStart>,
    storage: Arc<dyn crate::storage::Storage>,
    /// The store's recovery when start read it for the stored schema
    /// (recovering reads every version: done once).
    recovered: Option<crate::store::Recovery>,
}

/// Where online learning starts when not from the store's active version:
/// a stored version, or the coefficients of a batch-trained model.
#[derive(Debug, Clone)]
pub enum WarmStart {
    /// A stored version (typically an offline one), made active.
    Version(VersionId),
    /// Coefficients of a batch-trained linear model (see
    /// `refit_linear::Coefficients`, `tools/export_sklearn.py`); they are
    /// stored as the next offline version (reason `"import"`) and made
    /// active. Their feature names must be the agent's.
    Coefficients(refit_linear::Coefficients),
}

impl AgentBuilder {
    /// The defaults: the built-in plugins, resume from the store, a 60 s
    /// flush timeout, the system clock and the disk.
    pub(super) fn new(config: Config) -> Self {
        Self {
            config,
            #[cfg(feature = "watch")]
            watch: None,
            features: None,
            plugins: crate::plugins::builtin(),
            flush_timeout: Duration::from_secs(60),
            clock: crate::clock::system(),
            resume: true,
            warm_start: None,
            storage: crate::storage::disk(),
            recovered: None,
        }
    }

    /// Starts online learning from `from` instead of the store's active
    /// version.
    pub fn warm_start(mut self, from: WarmStart) -> Self {
        self.warm_start = Some(from);
        self
    }

    /// Write model versions, manifests and the sample log through
    /// `storage` (e.g. [`crate::storage::Faulty`] to test disk faults).
    pub fn storage(mut self, storage: Arc<dyn crate::storage::Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// Whether to start from the store's active version (default true).
    /// With false the agent starts from a fresh model; stored versions stay
    /// and numbering continues after them.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// The clock every time-based rule reads (default: the system clock);
    /// tests pass a [`crate::clock::ManualClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The feature names, when the config does not list them (when it
    /// does, the two lists must be the same: [`AgentBuilder::start`] refuses
    /// a disagreement).
    pub fn features<S: Into<String>>(mut self, features: impl IntoIterator<Item = S>) -> Self {
        self.features = Some(features.into_iter().map(Into::into).collect());
        self
    }

    /// Hot-reloads the config from `path` (the file `config` was read from):
    /// learning rates, drift thresholds and `[online]` settings take effect
    /// for the next decision; an invalid file is reported as
    /// [`Event::ConfigRejected`] and the previous config stays. (Cargo
    /// feature `watch`.)
    #[cfg(feature = "watch")]
    pub fn watch(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.watch = Some(path.into());
        self
    }

    /// The plugin registry (default: the built-in plugins).
    pub fn plugins(mut self, plugins: PluginRegistry) -> Self {
        self.plugins = plugins;
        self
    }

    /// How long `flush` and `shutdown` wait for training (default 60 s).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Starts the actor system and returns the handle.
    pub fn start(mut self) -> Result<Agent, AgentError> {
        self.config.validate("config")?;
        let store =
            Store::for_config(&self.config, self.clock.clone()).with_storage(self.storage.clone());
        // One writer per store: held until the agent stops.
        let store_lock = store.lock()?;
        let mut features = self.resolve_features()?;
        if features.is_empty()
            && let Some(stored) = self.stored_spec(&store)?
        {
            // A schema fixed from data earlier is stored with the model.
            self.config
                .model
                .adopt(&crate::schema::Inferred::of(&stored));
            features = stored.features;
        }
        let config = self.config.clone();
        let spec: ModelSpec = config.model.spec_in(&features, &self.plugins);
        if !spec.classes.is_empty() && spec.task != refit_plugin::Task::Classification {
            return Err(AgentError::InvalidArgument(format!(
                "model.classes lists {:?}, but the `{}` model is for {}",
                spec.classes, spec.kind, spec.task
            )));
        }
        let Recovered {
            model,
            version,
            stored_reference,
            learned,
            replay_from,
            skipped,
        } = self.recover_model(&store, &spec).map_err(|e| {
            // A dense plugin refuses a model without features.
            if spec.width() == 0 && matches!(e, AgentError::Plugin(_)) {
                AgentError::NoFeatures
            } else {
                e
            }
        })?;
        if model.input() == InputKind::Dense && spec.width() == 0 {
            return Err(AgentError::NoFeatures);
        }
        let input = (model.input(), model.input_dim());
        let active = (version.number > 0).then_some(version);
        // Fleet mode: the shared stream replaces the local sample log.
        #[cfg(feature = "fleet")]
        let fleet = open_fleet(&config, input)?;
        #[cfg(feature = "fleet")]
        let (shared, written) = match &fleet {
            Some(f) => (Some(f.shared_log()), Some(f.written_hook())),
            None => (None, None),
        };
        #[cfg(not(feature = "fleet"))]
        let (shared, written): (Option<Arc<dyn crate::sample_log::SharedLog>>, _) = {
            if config.fleet.is_some() {
                return Err(AgentError::Start(
                    "[fleet] needs refit built with its `fleet` feature".into(),
                ));
            }
            (None, None)
        };
        let local_log = config.samples.enabled && shared.is_none();
        let host_store = store.clone();
        // Degradation is judged against the newest offline version, and
        // the schedule counts from its creation (else from the first
        // logged sample, else from now): restarts do not reset it.
        let newest_offline = store
            .manifest(crate::store::Mode::Offline)?
            .versions
            .last()
            .cloned();
        let offline_metrics = newest_offline.as_ref().and_then(|v| v.metrics);
        let first_logged = if local_log {
            crate::sample_log::first_segment_ms(&config.samples_dir())
                .map_err(|e| AgentError::sample_log(&config.samples_dir(), "read", e))?
        } else {
            None
        };
        let schedule_origin_ms = newest_offline
            .map(|v| v.created_ms)
            .or(first_logged)
            .unwrap_or_else(|| self.clock.now_ms());
        let fresh: FreshModel = {
            let (plugins, spec, params) = (
                self.plugins.clone(),
                spec.clone(),
                config.model.plugin_params()?,
            );
            Arc::new(move || plugins.create(spec.clone(), &params))
        };
        let log = if local_log {
            let dir = config.samples_dir();
            Some(
                SampleLog::open_with(
                    &dir,
                    spec.width(),
                    config.samples.segment_bytes,
                    self.clock.clone(),
                    self.storage.clone(),
                )
                .map_err(|e| AgentError::sample_log(&dir, "open", e))?,
            )
        } else {
            None
        };
        let (log_next, replay) = if local_log {
            self.replay_log(input, replay_from)?
        } else {
            (0, None)
        };
        let first_snapshot = model.snapshot();
        let kind_rates = config.kind_learning_rates(&self.plugins)?;
        let setup = TrainerSetup {
            model,
            fresh,
            config: Arc::new(config.clone()),
            kind_rates,
            clock: self.clock.clone(),
            offline_metrics,
            samples: local_log.then(|| config.samples_dir()),
            shared: shared.clone(),
            version,
            learned,
            next_online: store.next_number(crate::store::Mode::Online)?,
            // Without a known position, the log so far is not this model's.
            // In a fleet, the position comes with the version the trainer
            // continues from.
            learned_through: local_log.then_some(replay_from.unwrap_or(log_next)),
            schedule_origin_ms,
        };
        let schema = Preprocessor::new(&spec.features, &config.model.preprocessing)?;
        let categorical: Vec<bool> = (0..spec.width()).map(|i| spec.is_categorical(i)).collect();
        let set = self.serving_set(
            &store,
            &spec,
            Served {
                snapshot: first_snapshot,
                version,
            },
        )?;
        let serving = Arc::new(ArcSwap::from_pointee(set));
        let when_full = config.online.when_full;
        #[cfg(feature = "fleet")]
        let when_full_max_pending = config.online.max_pending_samples as u64;
        let keep_rows = config.feedback.enabled;
        let replaying = replay.is_some();
        let boot = Boot {
            config,
            spec: spec.clone(),
            input,
            schema,
            categorical,
            learned,
            store,
            active,
            skipped,
            setup,
            log,
            log_next,
            replay,
            shared,
            written,
            stored_reference,
            serving: serving.clone(),
            clock: self.clock.clone(),
            #[cfg(feature = "watch")]
            watch: self.watch.clone(),
        };
        let (tx, rx) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("refit-agent".into())
            .spawn(move || {
                let system = System::new();
                system.block_on(async move {
                    let _ = tx.send(spawn_actors(boot));
                });
                system.run()
            })
            .map_err(|e| AgentError::Start(e.to_string()))?;
        let addrs = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|e| AgentError::Start(format!("actor system did not come up: {e}")))?;
        #[cfg(feature = "fleet")]
        let fleet = fleet.map(|f| {
            f.join(
                crate::fleet::FleetActors {
                    ingest: addrs.ingest.clone(),
                    trainer: addrs.trainer.clone(),
                    registry: addrs.registry.clone(),
                    server: addrs.server.clone(),
                    drift: addrs.drift.clone(),
                    plugins: self.plugins.clone(),
                    spec: spec.clone(),
                    max_pending: when_full_max_pending,
                },
                active,
            )
        });
        let agent = Agent {
            inner: Arc::new(Inner {
                addrs,
                serving,
                spec,
                input,
                when_full,
                flush_timeout: self.flush_timeout,
                store: host_store,
                store_lock: Mutex::new(Some(store_lock)),
                keep_rows,
                clock: self.clock.clone(),
                plugins: self.plugins,
                thread: Mutex::new(Some(thread)),
                stopped: AtomicBool::new(false),
                #[cfg(feature = "fleet")]
                fleet: Mutex::new(fleet),
            }),
        };
        if replaying {
            // Ready once the replayed samples that fill whole updates are
            // learned and served (the rest waits in the buffer, as it did
            // before the stop).
            agent.wait_served()?;
        }
        Ok(agent)
    }
}

/// Everything the last boot step, [`spawn_actors`], needs.
struct Boot {
    config: Config,
    spec: ModelSpec,
    input: (InputKind, usize),
    schema: Preprocessor,
    categorical: Vec<bool>,
    learned: u64,
    store: Store,
    active: Option<VersionId>,
    skipped: Vec<crate::store::Skipped>,
    setup: TrainerSetup,
    log: Option<SampleLog>,
    log_next: u64,
    replay: Option<crate::sample_log::ReadBack>,
    /// Fleet mode: the shared stream Ingest stores calls in.
    shared: Option<Arc<dyn crate::sample_log::SharedLog>>,
    /// Fleet mode: where the Checkpointer hands each written version.
    written: Option<crate::actors::checkpointer::WrittenHook>,
    stored_reference: Option<crate::drift::reference::DriftReference>,
    serving: Arc<ArcSwap<ServingSet>>,
    clock: Arc<dyn Clock>,
    #[cfg(feature = "watch")]
    watch: Option<std::path::PathBuf>,
}

/// Boot step: spawns the actors on the agent's system thread and wires
/// them, each to the messages it sends (`Recipient`s). Ingest and the
/// ServingActor share the system thread; the Trainer and the
/// Checkpointer (whose fsyncs must never hold up serving) each get a
/// thread of their own, and so does the sample log, whose disk work
/// (fsyncs, group commits, segments, retention, appends that wait for an
/// fsync) Ingest hands to it (`sample_log::writer`). Drift runs on the
/// Trainer's thread: every batch goes from one to the other.
fn spawn_actors(boot: Boot) -> Addrs {
    let Boot {
        config,
        spec,
        input,
        schema,
        categorical,
        learned,
        store,
        active,
        skipped,
        setup,
        log,
        log_next,
        replay,
        shared,
        written,
        stored_reference,
        serving,
        clock,
        #[cfg(feature = "watch")]
        watch,
    } = boot;
    let outcomes = crate::serving::Outcomes::of(&spec);
    let server = ServingActor::new(serving, &config, outcomes, clock.clone()).start_bounded();
    let registry_arbiter = Arbiter::new();
    let retention = config.online.checkpoint_retention;
    let checkpointer_peers = CheckpointerPeers {
        events: server.clone().recipient(),
        barrier: server.clone().recipient(),
        written,
    };
    let registry = Checkpointer::start_in_arbiter(&registry_arbiter.handle(), move |_| {
        Checkpointer::new(store, retention, active, skipped, checkpointer_peers)
    });
    // Ingest's address exists before Ingest, so the Trainer can name it.
    let ingest_ctx = Context::<Ingest>::new();
    let ingest = ingest_ctx.address();
    let arbiter = Arbiter::new();
    let trainer_peers = TrainerPeers {
        trained: ingest.clone().recipient(),
        checkpoint: registry.clone().recipient(),
        save_offline: registry.clone().recipient(),
        activate: registry.clone().recipient(),
        barrier: registry.clone().recipient(),
        served_barrier: server.clone().recipient(),
        promote: server.clone().recipient(),
        role: server.clone().recipient(),
        events: server.clone().recipient(),
    };
    let trainer = Trainer::start_in_arbiter(&arbiter.handle(), move |_| {
        Trainer::new(setup, trainer_peers)
    });
    let (features, drift_config) = (spec.features.clone(), config.drift.clone());
    let drift_peers = DriftPeers {
        train: trainer.clone().recipient(),
        barrier: trainer.clone().recipient(),
        events: server.clone().recipient(),
    };
    let drift = Drift::start_in_arbiter(&arbiter.handle(), move |_| {
        Drift::new(features, categorical, drift_config, drift_peers)
    });
    // Before any batch can reach the Trainer.
    trainer.do_send(ConnectDrift {
        losses: drift.clone().recipient(),
        reference: drift.clone().recipient(),
    });
    // The resumed version's reference, before any batch.
    if let Some(r) = stored_reference {
        drift.do_send(UseStoredReference(r));
    }
    ingest_ctx.run(
        Ingest::new(
            spec,
            input,
            schema,
            learned,
            &config,
            (log, log_next),
            clock,
            (drift.clone().recipient(), drift.clone().recipient()),
        )
        .sharing(shared),
    );
    // Before any host call: the logged samples the model has not learned
    // are buffered first, as if just ingested, and trained on the normal
    // schedule; `start` returns once those updates are served.
    if let Some(r) = replay {
        tracing::info!(samples = r.labels.len(), from = ?r.first_sample, "replaying the sample log");
        let log_end = r.end_sample.unwrap_or(log_next);
        ingest.do_send(Replay {
            rows: r.rows,
            labels: r.labels,
            log_end,
        });
    }
    #[cfg(feature = "watch")]
    if let Some(path) = watch {
        Watcher::new(
            path,
            config.clone(),
            vec![
                ingest.clone().recipient(),
                drift.clone().recipient(),
                trainer.clone().recipient(),
                server.clone().recipient(),
            ],
            server.clone().recipient(),
        )
        .start_watching();
    }
    Addrs {
        ingest,
        drift,
        trainer,
        registry,
        server,
        system: System::current(),
        arbiters: std::sync::Mutex::new(vec![arbiter, registry_arbiter]),
    }
}

/// What boot step [`AgentBuilder::recover_model`] found: the model to
/// continue from and where it came from.
struct Recovered {
    model: Box<dyn Model>,
    /// `online_000` for a fresh model.
    version: VersionId,
    stored_reference: Option<crate::drift::reference::DriftReference>,
    /// Samples the model has learned (its manifest's count).
    learned: u64,
    /// The sample-log number from which logged samples are not in the
    /// model (none: unknown, nothing is replayed).
    replay_from: Option<u64>,
    /// Damaged versions passed over.
    skipped: Vec<crate::store::Skipped>,
}

/// The boot steps of [`AgentBuilder::start`], in order: resolve the
/// features, recover the model, build the serving set (then spawn the
/// actors).
impl AgentBuilder {
    /// The feature names: the config's, else the builder's (a disagreement
    /// is an error). A sparse (hashed) model may have none; a dense one is
    /// refused once the plugin says which it is.
    fn resolve_features(&self) -> Result<Vec<String>, AgentError> {
        let configured = &self.config.model.features;
        Ok(match (&self.features, configured.is_empty()) {
            (Some(f), false) if f != configured => {
                return Err(AgentError::InvalidArgument(format!(
                    "the builder's features {f:?} disagree with model.features {configured:?} in the config: give them once, or the same"
                )));
            }
            (_, false) => configured.clone(),
            (Some(f), true) => f.clone(),
            (None, true) => Vec::new(),
        })
    }

    /// The spec of the model the store would resume from (none without
    /// resuming, or with nothing stored).
    fn stored_spec(&mut self, store: &Store) -> Result<Option<ModelSpec>, AgentError> {
        if !self.resume || self.warm_start.is_some() {
            return Ok(None);
        }
        let recovery = self.recovered.insert(store.recover()?);
        Ok(recovery.active.as_ref().and_then(|(_, bytes)| {
            refit_plugin::envelope::decode(bytes)
                .ok()
                .map(|(header, _)| header.spec())
        }))
    }

    /// The model to continue from: the warm start (a stored version, or
    /// imported coefficients stored as the next offline version), else the
    /// store's newest intact active version when resuming, else a fresh
    /// model.
    fn recover_model(&mut self, store: &Store, spec: &ModelSpec) -> Result<Recovered, AgentError> {
        let params = self.config.model.plugin_params()?;
        let recovery = match &self.warm_start {
            Some(from) => {
                let id = match from {
                    WarmStart::Version(id) => *id,
                    WarmStart::Coefficients(c) => import_coefficients(store, c, spec, &params)?,
                };
                let (entry, bytes) = store.read_version(id)?;
                check_stored_spec(&id, self.plugins.load(&bytes)?.spec(), spec)?;
                store.activate(id, None)?;
                crate::store::Recovery {
                    active: Some((entry, bytes)),
                    replay_from: store.active_replay_from()?,
                    skipped: Vec::new(),
                }
            }
            None if self.resume => match self.recovered.take() {
                Some(recovery) => recovery,
                None => store.recover()?,
            },
            None => Default::default(),
        };
        for s in &recovery.skipped {
            tracing::warn!(version = %s.version, problem = %s.problem, "stored version skipped");
        }
        let (skipped, replay_from) = (recovery.skipped, recovery.replay_from);
        Ok(match recovery.active {
            Some((entry, bytes)) => {
                let model = self.plugins.load(&bytes)?;
                check_stored_spec(&entry.id(), model.spec(), spec)?;
                tracing::info!(version = %entry.id(), "resuming from the stored version");
                Recovered {
                    model,
                    version: entry.id(),
                    stored_reference: store.drift_reference(&entry),
                    learned: entry.samples_seen,
                    replay_from,
                    skipped,
                }
            }
            None => Recovered {
                model: self.plugins.create(spec.clone(), &params)?,
                version: VersionId::online(0),
                stored_reference: None,
                learned: 0,
                // Nothing stored yet: every logged sample is still to be
                // learned (unless the host asked to start over).
                replay_from: self.resume.then_some(0),
                skipped,
            },
        })
    }

    /// Boot step: the number the next logged sample gets, and the logged
    /// samples numbered `from` or later, which the recovered model has not
    /// learned (none to replay when `from` is unknown).
    fn replay_log(
        &self,
        input: (InputKind, usize),
        from: Option<u64>,
    ) -> Result<(u64, Option<crate::sample_log::ReadBack>), AgentError> {
        let dir = self.config.samples_dir();
        let read_err = |e| AgentError::sample_log(&dir, "read", e);
        let Some(from) = from else {
            let end = crate::sample_log::end_sample(&dir, input.0, input.1).map_err(read_err)?;
            return Ok((end, None));
        };
        let read = crate::sample_log::read_from(&dir, input.0, input.1, from).map_err(read_err)?;
        if let Some(first) = read.first_sample
            && first > from
        {
            tracing::warn!(
                from,
                first,
                "sample log retention dropped samples the model had not learned"
            );
        }
        // The log's newest sample is among those read unless every sample
        // ends before `from`: numbering goes on from the later of the two.
        let next = read.end_sample.unwrap_or(0).max(from);
        Ok((next, (!read.labels.is_empty()).then_some(read)))
    }

    /// The serving set: the recovered model as champion and, as the
    /// ensemble's offline member, the newest offline version when it loads
    /// and fits.
    fn serving_set(
        &self,
        store: &Store,
        spec: &ModelSpec,
        champion: Served,
    ) -> Result<ServingSet, AgentError> {
        let mut set = ServingSet::of(champion);
        if let Some(newest) = store.manifest(crate::store::Mode::Offline)?.versions.last()
            && let Ok((_, bytes)) = store.read_version(newest.id())
            && let Ok(model) = self.plugins.load(&bytes)
            && check_stored_spec(&newest.id(), model.spec(), spec).is_ok()
        {
            set.ensemble = Some((
                Served {
                    snapshot: model.snapshot(),
                    version: newest.id(),
                },
                self.config.serving.ensemble_offline_weight,
            ));
        }
        Ok(set)
    }
}

/// Stores batch-model coefficients as the next offline version.
fn import_coefficients(
    store: &Store,
    c: &refit_linear::Coefficients,
    spec: &ModelSpec,
    params: &refit_plugin::Params,
) -> Result<VersionId, AgentError> {
    if c.kind != spec.kind {
        return Err(AgentError::InvalidArgument(format!(
            "the coefficient file is for a `{}` model, the config asks for `{}`",
            c.kind, spec.kind
        )));
    }
    c.check_features(&spec.features)?;
    let params: refit_linear::LinearParams = refit_plugin::parse_params(&spec.kind, params)?;
    let model = refit_linear::LinearModel::from_coefficients(c, params)?;
    let meta = crate::store::VersionMeta {
        number: None,
        parent: None,
        samples_seen: 0,
        learning_rate: None,
        severity: Severity::Stable,
        metrics: None,
        reason: "import".into(),
        learned_through: None,
    };
    let written = store.write_version(
        crate::store::Mode::Offline,
        &refit_plugin::Model::save(&model)?,
        meta,
        None,
        None,
    )?;
    tracing::info!(version = %written.entry.id(), "coefficients imported as an offline version");
    Ok(written.entry.id())
}

/// Refuses a stored model whose kind, task or features differ from the
/// configured ones.
/// Fleet mode: the connection to NATS, or none without `[fleet]` (or
/// when NATS is away and `on_unavailable = "local"`).
#[cfg(feature = "fleet")]
fn open_fleet(
    config: &Config,
    input: (InputKind, usize),
) -> Result<Option<crate::fleet::FleetConnection>, AgentError> {
    let Some(fleet) = &config.fleet else {
        return Ok(None);
    };
    let retention = (config.samples.max_age.0, config.samples.max_bytes);
    match crate::fleet::FleetConnection::open(fleet, &config.agent.name, input, retention) {
        Ok(connection) => Ok(Some(connection)),
        Err(e) if fleet.on_unavailable == crate::config::OnUnavailable::Local => {
            tracing::warn!(error = %e, "fleet mode: NATS unavailable; running alone (fleet.on_unavailable = \"local\")");
            Ok(None)
        }
        Err(e) => Err(AgentError::Start(format!(
            "fleet mode: {e} (is nats-server -js running there? fleet.on_unavailable = \"local\" starts alone instead)"
        ))),
    }
}
