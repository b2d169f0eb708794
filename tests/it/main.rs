//! The integration tests, in one binary (one link of Burn and actix-web
//! instead of one per file). `no_leak` and `soak` stay binaries of their
//! own: they measure the whole process (its threads, its memory).

mod ab;
mod agent;
mod bad_input;
mod cadence;
mod cli;
mod common;
mod concept_drift;
mod crash;
mod ctr;
mod dashboard;
mod defaults;
mod disk_faults;
mod drift_reference;
mod false_alarms;
mod feedback;
mod fleet;
mod fleet_serve;
mod graceful;
mod http;
mod kill;
mod learning;
mod lifecycle;
mod multiclass;
mod nats;
mod persistence;
mod preprocessing;
mod psi_reference;
mod quality;
mod reload;
mod retrain;
mod schema;
mod snapshot;
mod swap;
