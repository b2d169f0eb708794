//! A search simulation for `refit run --demo ctr`: queries with candidate
//! documents of known attractiveness, a position-biased user (the cascade
//! of examination probabilities `1 / position^0.7`, a click when an
//! examined document attracts), and a preference shift half-way (each
//! query's attractiveness order is reversed). Each session ranks a query's
//! candidates with the serving model (or, with probability `explore`, in a
//! random order), shows them, and records every impression with
//! [`Agent::record_clicks`]; the agent trains itself on its trigger.
//!
//! Ranking quality is NDCG@k of the model's ranking (position-free scores)
//! against the true attractiveness, over every query.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::agent::{Agent, AgentError};
use crate::ctr::{Click, ClickHasher};
use crate::metrics::auc;
use crate::rows::SparseRows;
use crate::run::WindowValue;

/// The simulation's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimConfig {
    /// Distinct queries.
    pub queries: usize,
    /// Candidate documents per query (all shown).
    pub docs_per_query: usize,
    /// Search sessions (one query, one result page each).
    pub sessions: usize,
    /// The session at which preferences shift (default: half-way).
    pub shift_at: usize,
    /// Share of sessions shown in a random order (exploration).
    pub explore: f64,
    /// Sessions between NDCG measurements.
    pub eval_every: usize,
    /// Sessions per progressive-AUC window.
    pub window: usize,
    /// Generator seed.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            queries: 40,
            docs_per_query: 10,
            sessions: 20_000,
            shift_at: 10_000,
            explore: 0.2,
            eval_every: 500,
            window: 2_000,
            seed: 42,
        }
    }
}

/// NDCG measured at one session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NdcgPoint {
    /// Sessions run when measured.
    pub session: usize,
    /// Mean NDCG@k over the queries.
    pub ndcg: f64,
}

/// What the simulation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CtrSummary {
    /// The settings.
    pub config: SimConfig,
    /// Click events recorded (impressions).
    pub impressions: usize,
    /// Clicks among them.
    pub clicks: usize,
    /// Trainings started by the threshold trigger.
    pub triggers: usize,
    /// Updates applied in all.
    pub updates: usize,
    /// Checkpoints written.
    pub checkpoints: usize,
    /// Online checkpoints kept on disk at the end.
    pub checkpoints_kept: usize,
    /// Bytes on disk under the model directories at the end.
    pub disk_bytes: u64,
    /// Progressive AUC of each impression's predicted CTR (position
    /// included) before it was learned, per window of sessions.
    pub auc: Vec<WindowValue>,
    /// NDCG over the run.
    pub ndcg: Vec<NdcgPoint>,
    /// NDCG at the last measurement before the shift.
    pub ndcg_before_shift: f64,
    /// NDCG at the first measurement after the shift.
    pub ndcg_after_shift: f64,
    /// NDCG at the end.
    pub ndcg_end: f64,
    /// Sessions after the shift until NDCG was back within 0.02 of its
    /// pre-shift value (none: it was not).
    pub recovered_after: Option<usize>,
    /// Learning-rate changes (drift severity) between updates; the first
    /// sample of an update is `10 x` its session (ten impressions each).
    pub lr_changes: Vec<crate::run::LrChange>,
    /// Concept-drift alarms, each once (the ranking detector's
    /// `"auc_drop"` among them).
    pub concept_alarms: Vec<crate::drift::concept::ConceptAlarm>,
}

/// The simulated world: candidates and their attractiveness.
struct World {
    queries: Vec<String>,
    docs: Vec<Vec<String>>,
    attract: Vec<Vec<f64>>,
}

const WORDS: [&str; 24] = [
    "red", "blue", "running", "leather", "cheap", "shoes", "boots", "jacket", "winter", "summer",
    "kids", "women", "men", "wool", "rain", "trail", "sale", "classic", "light", "warm", "black",
    "white", "sport", "city",
];

impl World {
    fn new(c: &SimConfig, rng: &mut ChaCha8Rng) -> Self {
        let mut queries = Vec::with_capacity(c.queries);
        while queries.len() < c.queries {
            let n = rng.random_range(1..=3);
            let q: Vec<&str> = (0..n)
                .map(|_| WORDS[rng.random_range(0..WORDS.len())])
                .collect();
            let q = q.join(" ");
            if !queries.contains(&q) {
                queries.push(q);
            }
        }
        let docs = (0..c.queries)
            .map(|_| {
                (0..c.docs_per_query)
                    .map(|_| format!("doc-{}", rng.random_range(0..c.queries * c.docs_per_query)))
                    .collect()
            })
            .collect();
        let attract = (0..c.queries)
            .map(|_| {
                (0..c.docs_per_query)
                    .map(|_| 0.02 + 0.6 * rng.random::<f64>().powi(2))
                    .collect()
            })
            .collect();
        World {
            queries,
            docs,
            attract,
        }
    }

    /// Each query's attractiveness order is reversed.
    fn shift(&mut self) {
        for a in &mut self.attract {
            let mut order: Vec<usize> = (0..a.len()).collect();
            order.sort_by(|&i, &j| a[i].total_cmp(&a[j]));
            let sorted: Vec<f64> = order.iter().map(|&i| a[i]).collect();
            for (k, &i) in order.iter().enumerate() {
                a[i] = sorted[sorted.len() - 1 - k];
            }
        }
    }
}

/// The examination probability at `position` (1-based).
pub fn examination(position: usize) -> f64 {
    1.0 / (position as f64).powf(0.7)
}

/// NDCG@`k` of `ranking` (indices into `gains`), linear gains.
///
/// ```
/// use refit::ctr::simulation::ndcg;
/// assert_eq!(ndcg(&[0, 1, 2], &[3.0, 2.0, 1.0], 3), 1.0);
/// // Reversed: DCG = 1 + 2/log2(3) + 3/2 against 3 + 2/log2(3) + 1/2.
/// let worst = (1.0 + 2.0 / 3f64.log2() + 1.5) / (3.0 + 2.0 / 3f64.log2() + 0.5);
/// assert!((ndcg(&[2, 1, 0], &[3.0, 2.0, 1.0], 3) - worst).abs() < 1e-12);
/// ```
pub fn ndcg(ranking: &[usize], gains: &[f64], k: usize) -> f64 {
    let dcg = |g: &mut dyn Iterator<Item = f64>| -> f64 {
        g.take(k)
            .enumerate()
            .map(|(i, g)| g / ((i + 2) as f64).log2())
            .sum()
    };
    let mut ideal = gains.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let best = dcg(&mut ideal.into_iter());
    if best == 0.0 {
        return 0.0;
    }
    dcg(&mut ranking.iter().map(|&i| gains[i])) / best
}

/// The agent's ranking of `docs` as candidate slots (ids may repeat: each
/// slot is taken once, in order).
fn ranked_slots(agent: &Agent, query: &str, docs: &[String]) -> Result<Vec<usize>, AgentError> {
    let ranking = agent.rank(query, docs)?;
    let mut used = vec![false; docs.len()];
    Ok(ranking
        .docs
        .iter()
        .filter_map(|r| {
            let i = (0..docs.len()).find(|&i| !used[i] && docs[i] == r.doc_id)?;
            used[i] = true;
            Some(i)
        })
        .collect())
}

/// Mean NDCG@k of the agent's rankings over every query.
fn measure(agent: &Agent, world: &World) -> Result<f64, AgentError> {
    let mut sum = 0.0;
    for (q, query) in world.queries.iter().enumerate() {
        let docs = &world.docs[q];
        let order = ranked_slots(agent, query, docs)?;
        sum += ndcg(&order, &world.attract[q], docs.len());
    }
    Ok(sum / world.queries.len() as f64)
}

/// Runs the simulation against `agent` (a sparse model), calling
/// `progress` with the sessions done (`ControlFlow::Break` ends the run
/// there; the summary covers the sessions run).
pub fn run(
    agent: &Agent,
    c: &SimConfig,
    mut progress: impl FnMut(usize) -> std::ops::ControlFlow<()>,
) -> Result<CtrSummary, AgentError> {
    let events = agent.subscribe()?;
    let mut hasher = ClickHasher::for_dim(agent.input().1).ok_or_else(|| {
        AgentError::Plugin(refit_plugin::PluginError::BadSparse(
            "the CTR simulation needs a sparse model (kind = \"ftrl\")".into(),
        ))
    })?;
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let mut world = World::new(c, &mut rng);
    let (mut impressions, mut clicks) = (0usize, 0usize);
    let mut scored: Vec<(f32, f32)> = Vec::new();
    let mut auc_windows = Vec::new();
    let mut ndcg_points = vec![NdcgPoint {
        session: 0,
        ndcg: measure(agent, &world)?,
    }];
    for s in 0..c.sessions {
        if s == c.shift_at {
            world.shift();
        }
        let q = rng.random_range(0..world.queries.len());
        let (query, docs) = (&world.queries[q], &world.docs[q]);
        let mut order: Vec<usize> = (0..docs.len()).collect();
        if rng.random::<f64>() < c.explore {
            order.shuffle(&mut rng);
        } else {
            order = ranked_slots(agent, query, docs)?;
        }
        let page: Vec<Click> = order
            .iter()
            .enumerate()
            .map(|(k, &d)| Click {
                query: query.clone(),
                doc_id: docs[d].clone(),
                position: k as u32 + 1,
                clicked: rng.random::<f64>() < examination(k + 1) * world.attract[q][d],
                request_id: None,
            })
            .collect();
        // Progressive validation: the served model's CTR of each impression
        // (position included) before it is learned.
        let mut rows = SparseRows::new(hasher.dim());
        for click in &page {
            hasher.push_click(
                &mut rows,
                &click.query,
                &click.doc_id,
                Some(click.position),
                &[],
            );
        }
        let predicted = agent.predict_sparse(&rows)?.values;
        scored.extend(
            predicted
                .into_iter()
                .zip(page.iter().map(|c| f32::from(u8::from(c.clicked)))),
        );
        impressions += page.len();
        clicks += page.iter().filter(|c| c.clicked).count();
        let ack = agent.record_clicks(&page)?;
        if ack.buffered < page.len() {
            // This page started a training: serve its result before the
            // next session, as when sessions arrive slower than training.
            agent.wait_served()?;
        }
        let done = s + 1;
        if done % c.window == 0 || done == c.sessions {
            let (p, y): (Vec<f32>, Vec<f32>) = scored.drain(..).unzip();
            auc_windows.push(WindowValue {
                start: (done - 1) / c.window * c.window,
                end: done,
                value: auc(&p, &y).unwrap_or(f64::NAN),
            });
        }
        if done % c.eval_every == 0 || done == c.sessions {
            ndcg_points.push(NdcgPoint {
                session: done,
                ndcg: measure(agent, &world)?,
            });
        }
        if progress(done).is_break() {
            break;
        }
    }
    agent.flush()?;
    let tally = crate::run::EventTally::of(events.try_iter());
    let stats = agent.stats()?;
    let before = ndcg_points
        .iter()
        .rfind(|p| p.session <= c.shift_at)
        .map_or(f64::NAN, |p| p.ndcg);
    let after = ndcg_points
        .iter()
        .find(|p| p.session > c.shift_at)
        .map_or(f64::NAN, |p| p.ndcg);
    let recovered_after = ndcg_points
        .iter()
        .find(|p| p.session > c.shift_at && p.ndcg >= before - 0.02)
        .map(|p| p.session - c.shift_at);
    Ok(CtrSummary {
        config: c.clone(),
        impressions,
        clicks,
        triggers: tally.by_threshold,
        updates: tally.updates,
        checkpoints: tally.checkpoints,
        lr_changes: tally.lr_changes,
        concept_alarms: tally.concept_alarms,
        checkpoints_kept: stats.registry.kept,
        disk_bytes: stats.registry.disk_bytes,
        auc: auc_windows,
        ndcg_end: ndcg_points.last().map_or(f64::NAN, |p| p.ndcg),
        ndcg: ndcg_points,
        ndcg_before_shift: before,
        ndcg_after_shift: after,
        recovered_after,
    })
}
