//! `[fleet]`: several replicas, one model, through NATS JetStream.

use serde::{Deserialize, Serialize};

use super::{HumanDuration, Invalid, invalid};

/// `[fleet]`: run as one replica of a fleet that shares one model through a
/// NATS JetStream server (or cluster). Without the table, the agent runs
/// alone on its local sample log and store.
///
/// ```
/// let c = refit::config::Config::from_toml_str(r#"
///     [fleet]
///     url = "nats://127.0.0.1:4222"
///     replica = "web-1"
/// "#).unwrap();
/// let fleet = c.fleet.unwrap();
/// assert_eq!((fleet.prefix.as_str(), fleet.lease_ttl.0.as_secs()), ("refit", 5));
/// assert_eq!(fleet.on_unavailable, refit::config::OnUnavailable::Fail);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// The NATS server(s), e.g. `"nats://10.0.0.5:4222"`; several servers
    /// of one cluster are separated by commas.
    pub url: String,
    /// Starts the names of the fleet's stream and buckets (default
    /// `"refit"`): subject `<prefix>.<agent.name>.samples`, buckets
    /// `<prefix>_<agent.name>_…`. Fleets that share a server differ in it.
    pub prefix: String,
    /// This replica's name, unique in the fleet (default: `$HOSTNAME`, else
    /// `replica`, followed by the process id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    /// The trainer's lease lives this long unless renewed (default "5s");
    /// it is renewed every third of it. When the training replica dies,
    /// another takes over within it (plus about a second).
    pub lease_ttl: HumanDuration,
    /// Longest wait for one NATS call (default "2s"): an ingest call whose
    /// samples are not stored by then fails, retryably.
    pub timeout: HumanDuration,
    /// NATS unreachable at start (default `fail`): see [`OnUnavailable`].
    pub on_unavailable: OnUnavailable,
    /// Servers of a NATS cluster that keep each copy of the stream and the
    /// buckets (default 1; 3 on a three-server cluster survives the loss
    /// of one). Applies when they are created.
    pub replicas: usize,
}

/// What a replica does when NATS cannot be reached at start
/// (`[fleet] on_unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnavailable {
    /// Refuse to start, naming the server and the reason.
    #[default]
    Fail,
    /// Start alone on the local sample log and store, as without `[fleet]`
    /// (logged as a warning); the replica does not join the fleet later.
    Local,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            prefix: "refit".into(),
            replica: None,
            lease_ttl: HumanDuration(std::time::Duration::from_secs(5)),
            timeout: HumanDuration(std::time::Duration::from_secs(2)),
            on_unavailable: OnUnavailable::Fail,
            replicas: 1,
        }
    }
}

impl FleetConfig {
    /// This replica's name: `replica`, else `$HOSTNAME-<pid>`.
    pub fn replica_name(&self) -> String {
        self.replica.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".into());
            format!("{host}-{}", std::process::id())
        })
    }

    /// A server URL; a prefix and a replica name fit for NATS names; a
    /// lease of at least a second; a timeout shorter than the lease.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        if self.url.trim().is_empty() {
            return invalid(
                "fleet.url",
                "must name the NATS server, e.g. \"nats://127.0.0.1:4222\"",
            );
        }
        let name_safe = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !name_safe(&self.prefix) {
            return invalid(
                "fleet.prefix",
                format!(
                    "= {:?}: use letters, digits, `_` and `-` (it names streams and buckets)",
                    self.prefix
                ),
            );
        }
        if let Some(r) = &self.replica
            && (r.is_empty() || r.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return invalid(
                "fleet.replica",
                format!("= {r:?}: must be a non-empty name without spaces"),
            );
        }
        if self.lease_ttl.0 < std::time::Duration::from_secs(1) {
            return invalid("fleet.lease_ttl", "must be at least 1s");
        }
        if !(1..=5).contains(&self.replicas) {
            return invalid(
                "fleet.replicas",
                "must be 1 to 5 (JetStream's replication factors)",
            );
        }
        if self.timeout.0.is_zero() || self.timeout.0 >= self.lease_ttl.0 {
            return invalid("fleet.timeout", "must be above 0 and below fleet.lease_ttl");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn errors_name_the_fleet_key() {
        let err = |text: &str| Config::from_toml_str(text).unwrap_err().to_string();
        assert!(err("[fleet]\nprefix = \"x\"").contains("`fleet.url`"));
        assert!(err("[fleet]\nurl = \"nats://h:1\"\nprefix = \"a.b\"").contains("`fleet.prefix`"));
        assert!(
            err("[fleet]\nurl = \"nats://h:1\"\nlease_ttl = \"200ms\"")
                .contains("`fleet.lease_ttl`")
        );
        assert!(
            err("[fleet]\nurl = \"nats://h:1\"\ntimeout = \"10s\"").contains("`fleet.timeout`")
        );
        assert!(
            err("[fleet]\nurl = \"nats://h:1\"\non_unavailable = \"maybe\"")
                .contains("on_unavailable")
        );
        let local =
            Config::from_toml_str("[fleet]\nurl = \"nats://h:1\"\non_unavailable = \"local\"")
                .unwrap();
        assert_eq!(
            local.fleet.unwrap().on_unavailable,
            super::OnUnavailable::Local
        );
        assert!(Config::default().fleet.is_none(), "no [fleet]: alone");
    }
}
