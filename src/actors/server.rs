use std::sync::Arc;

use actix::prelude::*;
use arc_swap::ArcSwap;
use refit_plugin::Predictor;

use crate::messages::{Barrier, Event, Promote, Publish, Subscribe};

/// What predictions are answered from: one atomically swapped value.
pub struct Serving {
    /// The serving snapshot.
    pub snapshot: Arc<dyn Predictor>,
    /// Its checkpoint number (0: the initial model, never checkpointed).
    pub version: u64,
}

/// Swaps the serving snapshot and publishes events.
pub struct Server {
    serving: Arc<ArcSwap<Serving>>,
    subscribers: Vec<crossbeam_channel::Sender<Event>>,
}

impl Server {
    /// A server writing to `serving` (the host's handle reads it).
    pub fn new(serving: Arc<ArcSwap<Serving>>) -> Self {
        Self {
            serving,
            subscribers: Vec::new(),
        }
    }

    fn publish(&mut self, event: Event) {
        self.subscribers.retain(|s| s.send(event.clone()).is_ok());
    }
}

impl Actor for Server {
    type Context = Context<Self>;
}

impl Handler<Promote> for Server {
    type Result = ();
    fn handle(&mut self, msg: Promote, _: &mut Context<Self>) {
        let _span = tracing::debug_span!("server.promote", version = msg.version).entered();
        self.serving.store(Arc::new(Serving {
            snapshot: msg.snapshot,
            version: msg.version,
        }));
        self.publish(Event::Promoted {
            version: msg.version,
        });
    }
}

impl Handler<Publish> for Server {
    type Result = ();
    fn handle(&mut self, msg: Publish, _: &mut Context<Self>) {
        self.publish(msg.0);
    }
}

impl Handler<Subscribe> for Server {
    type Result = ();
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.subscribers.push(msg.0);
    }
}

impl Handler<Barrier> for Server {
    type Result = ();
    fn handle(&mut self, msg: Barrier, _: &mut Context<Self>) {
        // The waiting host may have given up; nothing to do then.
        let _ = msg.0.send(());
    }
}
