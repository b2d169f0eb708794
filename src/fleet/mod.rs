//! Fleet mode's building blocks on NATS JetStream (Cargo feature `fleet`).
//!
//! Several replicas of a host, one model: samples go into a JetStream
//! stream, one replica at a time trains (elected by a lease), checkpoints
//! and the manifest travel through JetStream's object store and key-value
//! buckets, and every replica serves what the trainer trains. This module
//! holds the parts built so far; the agent does not use them yet, and
//! `config.toml` has no `[fleet]` table until it does.
//!
//! - [`lease`]: the trainer's lease, a revision-checked key in a
//!   key-value bucket whose entries expire after the lease's TTL.

pub mod lease;

pub use lease::{Lease, LeaseError};
