//! Fleet mode on the handle: stats and fleet-wide activation.

use super::*;

impl Agent {
    /// Fleet mode: this replica's role and what every replica serves.
    pub(super) fn fleet_stats(&self) -> Option<crate::events::FleetStats> {
        #[cfg(feature = "fleet")]
        {
            let fleet = self.inner.fleet.lock().ok()?;
            fleet.as_ref().map(crate::fleet::Fleet::stats)
        }
        #[cfg(not(feature = "fleet"))]
        None
    }

    /// Fleet mode: makes stored `version` active in the whole fleet and
    /// waits until this replica serves it; none when not in a fleet.
    pub(super) fn activate_in_fleet(
        &self,
        version: VersionId,
    ) -> Option<Result<VersionEntry, AgentError>> {
        #[cfg(feature = "fleet")]
        {
            let fleet = self.inner.fleet.lock().ok()?;
            let fleet = fleet.as_ref()?;
            Some(self.announce_active(fleet, version))
        }
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
        // Checked here first, as a rollback without a fleet is.
        self.load_stored(version)?;
        let (entry, bytes) = self.inner.store.read_version(version)?;
        fleet
            .activate(entry.clone(), bytes)
            .map_err(|e| AgentError::FleetUnavailable(e.to_string()))?;
        let deadline = std::time::Instant::now() + self.inner.flush_timeout;
        while self.inner.serving.load().champion.version != version {
            if std::time::Instant::now() > deadline {
                return Err(AgentError::Internal(format!(
                    "{version} was announced to the fleet but is not served here after {:?}",
                    self.inner.flush_timeout
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(entry)
    }
}
