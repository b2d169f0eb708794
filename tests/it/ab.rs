//! A/B tests: sticky assignment by key into the challenger's share, outcome
//! metrics per variant, the guardrail, promotion.

use refit::config::Config;
use refit::events::Event;
use refit::serving::Variant;
use refit::store::VersionId;
use refit::{Agent, demo};

fn agent(dir: &std::path::Path) -> Agent {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.ab.min_samples = 300;
    Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap()
}

#[test]
fn a_ten_percent_challenger_gets_ten_percent_of_keys_stickily() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path());
    let s = demo::churn(1, 4_000);
    let v1 = agent.train_offline(&s.x, &s.y).unwrap().version;
    agent.set_challenger(v1, 0.10).unwrap();
    let row = &s.x[..8];
    let mut challenger = 0;
    for i in 0..100_000 {
        let key = format!("user-{i}");
        let p = agent.predict_keyed(&key, row).unwrap();
        if p.variant == Variant::Challenger {
            challenger += 1;
            assert_eq!(p.version, v1);
        }
        if i % 1_000 == 0 {
            // Sticky: the same key lands on the same side.
            assert_eq!(agent.predict_keyed(&key, row).unwrap().variant, p.variant);
        }
    }
    let share = f64::from(challenger) / 100_000.0;
    eprintln!("challenger share over 100 000 keys: {share:.4}");
    assert!((share - 0.10).abs() <= 0.005, "{share}");
    agent.shutdown().unwrap();
}

#[test]
fn a_worse_challenger_is_demoted_and_a_better_one_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path());
    let events = agent.subscribe().unwrap();
    let s = demo::churn(2, 8_000);
    let good = agent
        .train_offline(&s.x[..4_000 * 8], &s.y[..4_000])
        .unwrap()
        .version;
    let flipped: Vec<f32> = s.y[..4_000].iter().map(|y| 1.0 - y).collect();
    let bad = agent
        .train_offline(&s.x[..4_000 * 8], &flipped)
        .unwrap()
        .version;
    agent.rollback(good).unwrap();
    agent.set_challenger(bad, 0.5).unwrap();
    let mut demoted_at = None;
    for i in 4_000..8_000 {
        let p = agent
            .predict_keyed(&format!("k{i}"), &s.x[i * 8..(i + 1) * 8])
            .unwrap();
        agent.feedback(p.request_id.unwrap(), &s.y[i..=i]).unwrap();
        if demoted_at.is_none() && agent.ab_stats().unwrap().demoted == 1 {
            demoted_at = Some(i - 4_000);
        }
    }
    let ab = agent.ab_stats().unwrap();
    eprintln!("demoted after {demoted_at:?} outcomes; {ab:#?}");
    assert!(demoted_at.is_some());
    assert_eq!(ab.share, 0.0);
    let demotion = events.try_iter().find_map(|e| match e {
        Event::ChallengerDemoted {
            version,
            champion,
            challenger,
        } => Some((version, champion, challenger)),
        _ => None,
    });
    let (version, champion, challenger) = demotion.expect("a demotion event");
    assert_eq!(version, Some(bad));
    assert!(challenger.auc.unwrap().value < champion.auc.unwrap().value - 0.02);
    assert!(champion.samples >= 300 && challenger.samples >= 300);
    let ci = champion.auc.unwrap();
    assert!(ci.low < ci.value && ci.value < ci.high);
    // After the demotion every key gets the champion.
    let p = agent.predict_keyed("k1", &s.x[..8]).unwrap();
    assert_eq!((p.variant, p.version), (Variant::Champion, good));

    // Feedback for an unknown request is refused by name.
    let err = agent.feedback(u64::MAX, &[1.0]).unwrap_err().to_string();
    assert!(err.contains("no prediction"), "{err}");

    // Promotion: the challenger becomes the champion for every key.
    let third = agent
        .train_offline(&s.x[4_000 * 8..], &s.y[4_000..])
        .unwrap()
        .version;
    agent.rollback(good).unwrap();
    agent.set_challenger(third, 0.3).unwrap();
    let entry = agent.promote_challenger().unwrap();
    assert_eq!(entry.id(), third);
    assert_eq!(agent.predict(&s.x[..8]).unwrap().version, third);
    assert_eq!(agent.ab_stats().unwrap().share, 0.0);
    assert_eq!(third, VersionId::offline(3));
    agent.shutdown().unwrap();
}

#[test]
fn the_offline_online_ensemble_blends_by_its_weight() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.min_samples_per_update = 500;
    c.serving.ensemble_offline_weight = 0.25;
    let s = demo::churn(3, 6_000);
    let agent = Agent::builder(c.clone())
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap();
    let v1 = agent
        .train_offline(&s.x[..4_000 * 8], &s.y[..4_000])
        .unwrap()
        .version;
    // Alone, the offline version answers as itself.
    assert_eq!(agent.predict(&s.x[..8]).unwrap().ensemble, None);
    agent
        .ingest(&s.x[4_000 * 8..4_500 * 8], &s.y[4_000..4_500])
        .unwrap();
    agent.flush().unwrap();
    let p = agent.predict(&s.x[..80]).unwrap();
    assert_eq!(p.version, VersionId::online(1));
    assert_eq!(p.ensemble, Some(v1));
    let store = refit::store::Store::new(dir.path(), "churn", refit::clock::system());
    let answer = |v: VersionId| {
        let (_, bytes) = store.read_version(v).unwrap();
        refit::plugins::builtin()
            .load(&bytes)
            .unwrap()
            .snapshot()
            .predict(refit::plugins::Batch::new(&s.x[..80], 8).unwrap().into())
            .unwrap()
    };
    let (offline, online) = (answer(v1), answer(VersionId::online(1)));
    for ((got, off), on) in p.values.iter().zip(&offline).zip(&online) {
        assert!((got - (0.25 * off + 0.75 * on)).abs() < 1e-6);
    }
    agent.shutdown().unwrap();
}

/// Request ids cannot be guessed from one another: no id follows the one
/// before it, all differ, and they are exact as JSON numbers (< 2^53);
/// feedback with a made-up id is refused.
#[test]
fn request_ids_are_random_not_sequential() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path());
    let s = demo::churn(1, 10);
    let ids: Vec<u64> = (0..200)
        .map(|i| {
            agent
                .predict_keyed(&format!("user-{i}"), &s.x[..8])
                .unwrap()
                .request_id
                .unwrap()
        })
        .collect();
    let distinct: std::collections::HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len());
    assert!(
        ids.windows(2).all(|w| w[1] != w[0].wrapping_add(1)),
        "{ids:?}"
    );
    assert!(ids.iter().all(|&id| id < 1 << 53));
    let guessed = ids.iter().max().unwrap() + 1;
    assert!(matches!(
        agent.feedback(guessed, &[1.0]),
        Err(refit::AgentError::UnknownRequest(_))
    ));
    agent.feedback(ids[0], &[1.0]).unwrap();
    agent.shutdown().unwrap();
}

/// Feedback labels get the checks training labels get; a refused report
/// leaves the prediction waiting for a good one.
#[test]
fn feedback_labels_are_validated_like_training_labels() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path());
    let s = demo::churn(1, 10);
    let id = agent
        .predict_keyed("user-1", &s.x[..16])
        .unwrap()
        .request_id
        .unwrap();
    for bad in [[0.5, 1.0], [f32::NAN, 1.0], [2.0, 0.0]] {
        let err = agent.feedback(id, &bad).unwrap_err();
        assert!(
            matches!(err, refit::AgentError::Plugin(_)),
            "{bad:?}: {err}"
        );
    }
    assert!(
        agent.feedback(id, &[1.0]).is_err(),
        "one label for two rows"
    );
    assert_eq!(agent.feedback(id, &[1.0, 0.0]).unwrap(), 2);
    agent.shutdown().unwrap();
}
