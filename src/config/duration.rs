//! Durations as people write them in `config.toml`.

use serde::{Deserialize, Serialize};

/// A duration written as `"90s"`, `"15m"`, `"1h"`, `"1d"`, `"4w"` (or
/// `"hourly"`, `"daily"`, `"weekly"`).
///
/// ```
/// let d: refit::config::HumanDuration = "4w".parse().unwrap();
/// assert_eq!(d.0, std::time::Duration::from_secs(28 * 86_400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub std::time::Duration);

impl std::str::FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let secs = |n: u64| Ok(HumanDuration(std::time::Duration::from_secs(n)));
        match s.trim() {
            "hourly" => secs(3_600),
            "daily" => secs(86_400),
            "weekly" => secs(7 * 86_400),
            other => humantime::parse_duration(other)
                .map(HumanDuration)
                .map_err(|e| {
                    format!("`{other}` is not a duration like \"30s\", \"1h\", \"4w\": {e}")
                }),
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
