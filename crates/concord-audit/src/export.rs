//! The export form of a whole log: JSON Lines, one event or checkpoint per
//! line, read by `concord audit verify --export` and written by
//! `concord audit export`.
//!
//! * an event line is the event's canonical encoding, verbatim (it holds
//!   no newline: JSON escapes control characters), in log order;
//! * a checkpoint line is `{"checkpoint":"<signed note>"}`.
//!
//! Events come first, then checkpoints, but a reader accepts them in any
//! interleaving (events keep their relative order). Because event lines are
//! the stored bytes themselves, `jq` reads the export and the verifier
//! hashes exactly what the broker hashed.

use serde::{Deserialize, Serialize};

use crate::{AuditError, SignedCheckpoint};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointLine {
    checkpoint: String,
}

/// A log as read from an export: the events' bytes in order, and the
/// checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    pub events: Vec<Vec<u8>>,
    pub checkpoints: Vec<SignedCheckpoint>,
}

impl Export {
    /// The JSON Lines text: every event, then every checkpoint.
    pub fn to_jsonl(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        for c in &self.checkpoints {
            let line = CheckpointLine {
                checkpoint: c.to_note(),
            };
            out.extend_from_slice(
                &serde_json::to_vec(&line).expect("a string field always serialises"),
            );
            out.push(b'\n');
        }
        out
    }

    /// Parses JSON Lines text. A line that is a checkpoint must be a
    /// well-formed signed note (its signature is checked by the verifier);
    /// every other non-empty line is taken as an event's bytes as they are,
    /// so that a damaged event is reported by the verifier, in place.
    pub fn from_jsonl(text: &[u8]) -> Result<Export, AuditError> {
        let mut export = Export::default();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            if line.starts_with(b"{\"checkpoint\":") {
                let parsed: CheckpointLine = serde_json::from_slice(line).map_err(|_| {
                    AuditError::MalformedCheckpoint(format!(
                        "line {} is not {{\"checkpoint\": \"<signed note>\"}}",
                        i + 1
                    ))
                })?;
                export
                    .checkpoints
                    .push(SignedCheckpoint::from_note(&parsed.checkpoint)?);
            } else {
                export.events.push(line.to_vec());
            }
        }
        Ok(export)
    }
}
