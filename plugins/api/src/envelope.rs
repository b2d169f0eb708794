//! The self-describing byte format of every saved model.
//!
//! ```text
//! magic          8 bytes   b"REFITMDL"
//! envelope       u16 LE    layout version of this envelope (1)
//! header_len     u32 LE
//! header         JSON      {"kind", "format_version", "task", "features",
//!                          "categorical"?, "classes"?}
//! payload_len    u64 LE
//! payload        bytes     the plugin's own encoding
//! crc32          u32 LE    CRC-32 (IEEE) of every byte before it
//! ```
//!
//! A loader learns from the header which plugin wrote the file and in which of
//! its format versions, so a file from another plugin, a newer format, a
//! truncated or an altered file are each refused with their own error.
//!
//! ```
//! use refit_plugin::{envelope, ModelSpec, PluginError, Task};
//! let spec = ModelSpec::new("logistic", Task::Classification, ["a"]);
//! let bytes = envelope::encode(&envelope::Header::new("logistic", 1, &spec), b"weights");
//! let (header, payload) = envelope::decode_for(&bytes, "logistic", 1).unwrap();
//! assert_eq!((header.spec(), payload), (spec, &b"weights"[..]));
//! assert!(matches!(envelope::decode_for(&bytes, "mlp", 1), Err(PluginError::WrongKind { .. })));
//! assert!(matches!(envelope::decode(&bytes[..20]), Err(PluginError::Truncated { .. })));
//! ```

use serde::{Deserialize, Serialize};

use crate::{ModelSpec, PluginError, Task};

/// The first bytes of every refit model file.
pub const MAGIC: &[u8; 8] = b"REFITMDL";
/// The envelope layout this build writes and reads.
pub const ENVELOPE_VERSION: u16 = 1;

/// What a saved model says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The plugin kind that wrote the payload.
    pub kind: String,
    /// The plugin's payload format version.
    pub format_version: u32,
    /// Classification or regression.
    pub task: Task,
    /// Feature names in column order.
    pub features: Vec<String>,
    /// Categorical features, by name (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<String>,
    /// Class names (absent: binary 0/1, or regression).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
}

impl Header {
    /// A header for a model of `spec` written by plugin `kind` in its format
    /// `format_version`.
    pub fn new(kind: &str, format_version: u32, spec: &ModelSpec) -> Self {
        Self {
            kind: kind.to_owned(),
            format_version,
            task: spec.task,
            features: spec.features.clone(),
            categorical: spec.categorical.clone(),
            classes: spec.classes.clone(),
        }
    }

    /// The model spec this header describes.
    pub fn spec(&self) -> ModelSpec {
        ModelSpec {
            kind: self.kind.clone(),
            task: self.task,
            features: self.features.clone(),
            categorical: self.categorical.clone(),
            classes: self.classes.clone(),
        }
    }
}

/// Wraps a payload into the envelope.
pub fn encode(header: &Header, payload: &[u8]) -> Vec<u8> {
    // A header of strings and numbers always serialises.
    let head = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(8 + 2 + 4 + head.len() + 8 + payload.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&ENVELOPE_VERSION.to_le_bytes());
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PluginError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(PluginError::Truncated {
                expected: self.pos.saturating_add(n).saturating_add(4),
                found: self.bytes.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PluginError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
}

/// Unwraps any refit model file: checks magic, lengths and checksum, and
/// parses the header. Returns the header and the payload.
pub fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), PluginError> {
    let prefix = bytes.len().min(MAGIC.len());
    if bytes[..prefix] != MAGIC[..prefix] {
        return Err(PluginError::BadMagic);
    }
    let mut r = Reader { bytes, pos: 0 };
    r.take(MAGIC.len())?;
    let envelope = u16::from_le_bytes(r.array()?);
    let head_len = u32::from_le_bytes(r.array()?) as usize;
    let head = r.take(head_len)?;
    let payload_len = usize::try_from(u64::from_le_bytes(r.array()?))
        .map_err(|_| PluginError::Corrupt("payload length exceeds memory".into()))?;
    let payload = r.take(payload_len)?;
    let body_end = r.pos;
    let stored = u32::from_le_bytes(r.array()?);
    if r.pos != bytes.len() {
        return Err(PluginError::Corrupt(format!(
            "{} trailing bytes after the checksum",
            bytes.len() - r.pos
        )));
    }
    let computed = crc32fast::hash(&bytes[..body_end]);
    if stored != computed {
        return Err(PluginError::ChecksumMismatch { stored, computed });
    }
    if envelope != ENVELOPE_VERSION {
        return Err(PluginError::UnsupportedVersion {
            kind: "envelope".into(),
            found: u32::from(envelope),
            supported: u32::from(ENVELOPE_VERSION),
        });
    }
    let header: Header =
        serde_json::from_slice(head).map_err(|e| PluginError::Corrupt(format!("header: {e}")))?;
    Ok((header, payload))
}

/// [`decode`], then checks that plugin `kind` wrote the file in a format
/// version it supports (`1..=supported`).
pub fn decode_for<'a>(
    bytes: &'a [u8],
    kind: &str,
    supported: u32,
) -> Result<(Header, &'a [u8]), PluginError> {
    let (header, payload) = decode(bytes)?;
    if header.kind != kind {
        return Err(PluginError::WrongKind {
            expected: kind.to_owned(),
            found: header.kind,
        });
    }
    if header.format_version > supported {
        return Err(PluginError::UnsupportedVersion {
            kind: header.kind,
            found: header.format_version,
            supported,
        });
    }
    if header.format_version == 0 {
        return Err(PluginError::Corrupt("format version 0".into()));
    }
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let spec = ModelSpec::new("k", Task::Regression, ["x", "y"]);
        encode(&Header::new("k", 2, &spec), &[1, 2, 3, 4, 5])
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let (h, p) = decode_for(&bytes, "k", 2).unwrap();
        assert_eq!(h.features, vec!["x", "y"]);
        assert_eq!(p, &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn every_truncation_is_truncated() {
        let bytes = sample();
        for n in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..n]), Err(PluginError::Truncated { .. })),
                "prefix of {n} bytes"
            );
        }
    }

    #[test]
    fn newer_format_is_unsupported() {
        let bytes = sample();
        assert!(matches!(
            decode_for(&bytes, "k", 1),
            Err(PluginError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            })
        ));
    }

    #[test]
    fn foreign_file_is_bad_magic() {
        assert_eq!(decode(b"PK\x03\x04 zip file"), Err(PluginError::BadMagic));
    }

    proptest! {
        #[test]
        fn any_single_byte_change_is_refused(pos in 0usize..200, flip in 1u8..=255) {
            let mut bytes = sample();
            let pos = pos % bytes.len();
            bytes[pos] ^= flip;
            prop_assert!(decode_for(&bytes, "k", 2).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode(&framed);
        }
    }
}
