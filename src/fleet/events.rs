//! The trainer's events, fleet-wide: the training replica publishes its
//! drift reports, updates (with their learning rates), skipped updates
//! and offline trainings on `<prefix>.<name>.events`; every other replica
//! publishes them to its own subscribers (and dashboard) as if they were
//! its own.

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use crate::actors::serving::ServingActor;
use crate::events::Event;
use crate::messages::{ForwardedReport, Publish, Subscribe};

/// Events waiting to be forwarded, at most (the oldest are dropped, as
/// for any slow subscriber).
const FORWARDED: usize = 10_000;

/// One forwarded event and the replica it comes from.
#[derive(Serialize, Deserialize)]
struct Forwarded {
    by: String,
    event: Event,
}

/// Whether `event` is the trainer's news for the whole fleet.
fn fleet_wide(event: &Event) -> bool {
    matches!(
        event,
        Event::DriftReport(_)
            | Event::UpdateApplied { .. }
            | Event::UpdateSkipped { .. }
            | Event::RetrainTriggered { .. }
            | Event::OfflineProgress { .. }
            | Event::OfflineTrained(_)
            | Event::RetrainFailed { .. }
    )
}

/// Starts forwarding both ways for `replica`: its events while `training`
/// says it trains, and the other replicas' events to `server`'s
/// subscribers (the trainer's drift reports to `drift` too, for this
/// replica's stats). A challenger this replica's guardrail demotes goes
/// to `demoted` (it ends the A/B test fleet-wide).
pub(crate) fn forward(
    client: async_nats::Client,
    subject: String,
    replica: String,
    (server, drift): (Addr<ServingActor>, Addr<crate::actors::drift::Drift>),
    training: tokio::sync::watch::Receiver<bool>,
    runtime: &tokio::runtime::Handle,
    demoted: Box<dyn Fn(crate::store::VersionId) + Send>,
) {
    let (tx, rx) = crossbeam_channel::bounded(FORWARDED);
    server.do_send(Subscribe { tx, rx: rx.clone() });
    // One task publishes them, in order (the last drift report stays the
    // last); best effort: a lost event is not retried.
    let (outbox, mut sending) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let (out, to) = (client.clone(), subject.clone());
    runtime.spawn(async move {
        while let Some(body) = sending.recv().await {
            let _ = out.publish(to.clone(), body.into()).await;
        }
    });
    let by = replica.clone();
    // Ends when the ServingActor (the agent) stops.
    let _ = std::thread::Builder::new()
        .name("refit-fleet-events".into())
        .spawn(move || {
            for event in rx {
                if let Event::ChallengerDemoted {
                    version: Some(v), ..
                } = &event
                {
                    demoted(*v);
                }
                if !*training.borrow() || !fleet_wide(&event) {
                    continue;
                }
                let message = Forwarded {
                    by: by.clone(),
                    event,
                };
                tracing::debug!("fleet: event sent to the other replicas");
                if let Ok(body) = serde_json::to_vec(&message) {
                    let _ = outbox.send(body);
                }
            }
        });
    runtime.spawn(async move {
        use futures::StreamExt;
        let mut incoming = match client.subscribe(subject).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "fleet: the trainer's events will not reach this replica");
                return;
            }
        };
        while let Some(message) = incoming.next().await {
            match serde_json::from_slice::<Forwarded>(&message.payload) {
                Ok(f) if f.by != replica => {
                    tracing::debug!(from = %f.by, "fleet: the trainer's event");
                    if let Event::DriftReport(report) = &f.event {
                        drift.do_send(ForwardedReport(report.clone()));
                    }
                    server.do_send(Publish(f.event));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "fleet: an event from the trainer is unreadable"),
            }
        }
    });
}
