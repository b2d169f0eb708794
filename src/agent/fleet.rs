//! Fleet mode on the handle: stats and fleet-wide activation.

use super::*;

impl Agent {
    /// Fleet mode: this replica's role and what every replica serves.
    pub(super) fn fleet_stats(&self) -> Option<crate::events::FleetStats> {
        #[cfg(feature = "fleet")]
        return self.with_fleet(crate::fleet::Fleet::stats);
        #[cfg(not(feature = "fleet"))]
        None
    }

    /// `f` of this replica's fleet membership; none when not in a fleet.
    #[cfg(feature = "fleet")]
    fn with_fleet<T>(&self, f: impl FnOnce(&crate::fleet::Fleet) -> T) -> Option<T> {
        let fleet = self.inner.fleet.lock().ok()?;
        fleet.as_ref().map(f)
    }

    /// Fleet mode: makes stored `version` active in the whole fleet and
    /// waits until this replica serves it; none when not in a fleet.
    pub(super) fn activate_in_fleet(
        &self,
        version: VersionId,
    ) -> Option<Result<VersionEntry, AgentError>> {
        #[cfg(feature = "fleet")]
        return self.with_fleet(|fleet| self.announce_active(fleet, version));
        #[cfg(not(feature = "fleet"))]
        {
            let _ = version;
            None
        }
    }

    #[cfg(feature = "fleet")]
    fn announce_active(
        &self,
        fleet: &crate::fleet::Fleet,
        version: VersionId,
    ) -> Result<VersionEntry, AgentError> {
        let unknown = || crate::store::StoreError::Unknown(version);
        let entry = match self.read_stored(version) {
            // Checked here first, as a rollback without a fleet is.
            Ok((entry, bytes, _)) => {
                fleet.activate(entry.clone(), bytes).map_err(unavailable)?;
                Some(entry)
            }
            // Not stored here (a replica that joined later): the fleet's
            // record of it, checked by every replica that adopts it.
            Err(AgentError::Store(crate::store::StoreError::Unknown(_))) => {
                if !fleet.activate_recorded(version).map_err(unavailable)? {
                    return Err(unknown().into());
                }
                None
            }
            Err(e) => return Err(e),
        };
        self.wait_served_here(
            format!("{version} was announced to the fleet but is"),
            |set| set.champion.version == version,
        )?;
        match entry {
            Some(entry) => Ok(entry),
            // Stored here once adopted: its entry, from the manifest.
            None => Ok(self
                .inner
                .store
                .manifest(version.mode)?
                .get(version.number)
                .cloned()
                .ok_or_else(unknown)?),
        }
    }

    /// Waits until this replica's serving set is as `served` says (what
    /// the fleet was told); else an error saying `what` is not served
    /// here.
    #[cfg(feature = "fleet")]
    fn wait_served_here(
        &self,
        what: String,
        served: impl Fn(&crate::serving::ServingSet) -> bool,
    ) -> Result<(), AgentError> {
        let deadline = std::time::Instant::now() + self.inner.flush_timeout;
        while !served(&self.inner.serving.load()) {
            if std::time::Instant::now() > deadline {
                return Err(AgentError::Internal(format!(
                    "{what} not served here after {:?}",
                    self.inner.flush_timeout
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// A fleet call that failed: retryable.
#[cfg(feature = "fleet")]
fn unavailable(e: crate::fleet::FleetError) -> AgentError {
    AgentError::FleetUnavailable(e.to_string())
}

/// An A/B role to set fleet-wide.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "fleet"), allow(dead_code))]
pub(super) enum AbRole {
    /// The challenger and its share (none: end the test).
    Challenger(Option<(VersionId, f64)>),
    /// The shadow (none: remove it).
    Shadow(Option<VersionId>),
}

impl Agent {
    /// Fleet mode: sets `role` in the whole fleet and waits until this
    /// replica serves it; none when not in a fleet.
    pub(super) fn role_in_fleet(&self, role: AbRole) -> Option<Result<(), AgentError>> {
        #[cfg(feature = "fleet")]
        return self.with_fleet(|fleet| self.set_fleet_role(fleet, role));
        #[cfg(not(feature = "fleet"))]
        {
            let _ = role;
            None
        }
    }

    #[cfg(feature = "fleet")]
    fn set_fleet_role(&self, fleet: &crate::fleet::Fleet, role: AbRole) -> Result<(), AgentError> {
        use crate::fleet::RoleChange;
        // Checked here first, as without a fleet.
        let stored = |version: VersionId| -> Result<(VersionEntry, Vec<u8>), AgentError> {
            let (entry, bytes, _) = self.read_stored(version)?;
            Ok((entry, bytes))
        };
        let (change, files, expect) = match role {
            AbRole::Challenger(Some((version, share))) => {
                let (entry, bytes) = stored(version)?;
                let change = RoleChange::Challenger(Some((entry.clone(), share)));
                (change, vec![(entry, bytes)], (Some(Some(version)), None))
            }
            AbRole::Challenger(None) => {
                (RoleChange::Challenger(None), Vec::new(), (Some(None), None))
            }
            AbRole::Shadow(Some(version)) => {
                let (entry, bytes) = stored(version)?;
                let change = RoleChange::Shadow(Some(entry.clone()));
                (change, vec![(entry, bytes)], (None, Some(Some(version))))
            }
            AbRole::Shadow(None) => (RoleChange::Shadow(None), Vec::new(), (None, Some(None))),
        };
        fleet.set_roles(change, files).map_err(unavailable)?;
        self.wait_served_here("the fleet's A/B roles were set but are".into(), |set| {
            let challenger = set.challenger.as_ref().map(|(c, _)| c.version);
            let shadow = set.shadow.as_ref().map(|s| s.version);
            expect.0.is_none_or(|c| c == challenger) && expect.1.is_none_or(|s| s == shadow)
        })
    }
}
