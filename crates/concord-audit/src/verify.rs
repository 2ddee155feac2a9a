//! Offline verification of a whole log against its signed checkpoints.
//!
//! # What can be localised, and how
//!
//! A signed checkpoint vouches for exactly one thing: the root of the first
//! `size` events. The Merkle tree alone therefore says only that *some*
//! event among those a failing checkpoint covers (and no earlier, verified
//! checkpoint covers) is wrong. To name the event, every event also carries
//! its position (`seq`) and the leaf hash of the event before it (`prev`);
//! see [`crate::event`]. The verifier walks the events and stops at the
//! first position `p` where the event does not decode, does not claim
//! sequence number `p`, or does not link to event `p - 1`, then reads what
//! it finds there:
//!
//! * **edited**: an edited event `k` keeps its own `seq` and `prev`, but
//!   event `k + 1` still names the old hash of `k`; if event `k + 1` is
//!   itself linked to by its successor, `k` is the one that changed. An
//!   edited `seq` shows as one event out of step between two neighbours
//!   that are in step.
//! * **deleted**: position `p` holds event `t > p`, and no event claims
//!   `p`: events `p .. t - 1` are gone. Events deleted from the end show as
//!   a checkpoint that covers more events than the log holds.
//! * **reordered**: position `p` holds event `t > p`, event `p` is found
//!   further on, and the event at `p` links to whichever event claims
//!   `t - 1`: a genuine event in the wrong place.
//! * **inserted**: a sequence number is claimed twice, or an event claims a
//!   number that does not fit where it sits and does not link to its own
//!   predecessor. When two events claim the same number, the one whose
//!   removal makes the first failing checkpoint match (or, failing that,
//!   the one its successor does not link to) is the intruder.
//!
//! What cannot be localised: a tamperer who edits event `k` and then
//! rewrites every later event (recomputing each `seq`/`prev` link) leaves a
//! chain that is whole. Only the signed roots then disagree, and the first
//! bad event is known only to lie between the last checkpoint that still
//! matches and the first that does not ([`TamperKind::Rewritten`], with the
//! range). The same holds for the very last event of the log, which no
//! successor links to: if only it was edited, the range ends on it.
//!
//! # Every event is signed for
//!
//! The broker signs a tree head in the same commit as every batch of events
//! it writes, so no legitimate log holds an event that no checkpoint covers.
//! Events after the largest checkpoint are therefore tampering
//! ([`TamperKind::Uncovered`]): appended to the database by someone other
//! than the broker (correctly chained or not), or their checkpoint was
//! deleted. What remains invisible is the removal of whole batches from
//! the end together with their checkpoints; a receipt, or a checkpoint
//! someone kept, shows that (the log ends before it).

use std::fmt;

use crate::{AuditError, AuditEvent, Hash, MerkleLog, SignedCheckpoint, leaf_hash};

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events in the log.
    pub events: u64,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints: usize,
    /// Events covered by the largest checkpoint: all of them, in a log
    /// that verifies.
    pub anchored: u64,
    /// The root over every event.
    pub root: Hash,
}

impl VerifyReport {
    /// Events after the largest checkpoint (0 in a log that verifies:
    /// any is [`TamperKind::Uncovered`]).
    pub fn unanchored(&self) -> u64 {
        self.events - self.anchored
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} events and {} checkpoints verified; root {}; ",
            self.events, self.checkpoints, self.root
        )?;
        match self.unanchored() {
            0 => f.write_str("every event is covered by a signed checkpoint"),
            u => write!(
                f,
                "the last {u} events are not yet covered by a signed checkpoint"
            ),
        }
    }
}

/// How the log was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TamperKind {
    Edited,
    Inserted,
    Deleted,
    Reordered,
    /// The chain is whole but a checkpoint does not match: an event in
    /// `event ..= last_possible` was changed and everything after it
    /// rewritten (see the module documentation).
    Rewritten,
    /// Events `event ..= last_possible`, at the end, are covered by no
    /// signed checkpoint, though the broker signs every batch it commits:
    /// they were appended by someone else, or their checkpoint deleted.
    Uncovered,
}

/// The first event that does not fit, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tampering {
    pub kind: TamperKind,
    /// Position of the first event that does not fit (which is also the
    /// sequence number an intact event there would have).
    pub event: u64,
    /// The last position the first bad event can be at: `event` itself
    /// unless the kind is [`TamperKind::Rewritten`] (for [`TamperKind::Deleted`],
    /// the last missing sequence number).
    pub last_possible: u64,
    /// The first checkpoint (index in the slice given, and its size) that
    /// no longer matches; `None` when the damage lies beyond every
    /// checkpoint and only the chain shows it.
    pub checkpoint: Option<(usize, u64)>,
    /// The whole explanation, as `Display` prints it.
    pub message: String,
}

impl fmt::Display for Tampering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a log does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("checkpoint {index} is refused: {error}")]
    Checkpoint { index: usize, error: AuditError },
    #[error("{0}")]
    Tampered(Tampering),
}

impl VerifyError {
    /// The tampering found, if that is what failed.
    pub fn tampering(&self) -> Option<&Tampering> {
        match self {
            VerifyError::Tampered(t) => Some(t),
            VerifyError::Checkpoint { .. } => None,
        }
    }
}

/// Verifies a whole log: `events` are the stored encodings in log order.
///
/// Every checkpoint's signature is checked against `public_key` first (one
/// that fails refuses the whole verification), then every leaf and every
/// checkpoint's root are recomputed, and the `seq`/`prev` chain is walked.
/// On failure the error names the first event that does not fit (see the
/// module documentation for what can be told apart).
pub fn verify_log<B: AsRef<[u8]>>(
    events: &[B],
    checkpoints: &[SignedCheckpoint],
    public_key: &[u8],
) -> Result<VerifyReport, VerifyError> {
    for (index, c) in checkpoints.iter().enumerate() {
        c.verify(public_key)
            .map_err(|error| VerifyError::Checkpoint { index, error })?;
    }

    let mut log = MerkleLog::new();
    let mut links = Vec::with_capacity(events.len());
    for bytes in events {
        let bytes = bytes.as_ref();
        log.append(leaf_hash(bytes));
        links.push(
            AuditEvent::decode(bytes)
                .map(|e| Link {
                    seq: e.seq,
                    prev: e.prev,
                })
                .map_err(|e| e.to_string()),
        );
    }
    let n = log.size();

    // Checkpoints in size order: the largest prefix that still matches,
    // then the first that does not.
    let mut order: Vec<usize> = (0..checkpoints.len()).collect();
    order.sort_by_key(|&i| checkpoints[i].checkpoint.size);
    let matches = |i: usize| {
        let c = &checkpoints[i].checkpoint;
        c.size <= n && log.root_at(c.size).ok() == Some(c.root)
    };
    let mut anchored = 0;
    let mut failing = None;
    for (at, &i) in order.iter().enumerate() {
        if matches(i) {
            anchored = checkpoints[i].checkpoint.size;
            continue;
        }
        let c = &checkpoints[i].checkpoint;
        // A checkpoint that matches and is as large or larger vouches for
        // this prefix too (as the empty tree does for size 0): the key signed
        // two different logs, which no change to the events explains.
        if c.size == 0 || c.size <= anchored || order[at + 1..].iter().any(|&j| matches(j)) {
            return Err(VerifyError::Checkpoint {
                index: i,
                error: AuditError::ConflictingCheckpoint,
            });
        }
        failing = Some(Failing {
            index: i,
            size: c.size,
            root: c.root,
        });
        break;
    }

    let chain = Chain {
        events,
        log: &log,
        links,
        anchored: anchored as usize,
        failing,
    };
    let finding = (0..chain.len())
        .find(|&p| !chain.fits(p))
        .map(|p| chain.classify(p));

    let tampering = match (finding, failing) {
        (None, None) if anchored == n => {
            return Ok(VerifyReport {
                events: n,
                checkpoints: checkpoints.len(),
                anchored,
                root: log.root(),
            });
        }
        (None, None) => uncovered(anchored, n),
        (Some(f), Some(c)) if f.event < c.size as usize => f.into_tampering(Some(c)),
        (Some(f), None) => f.into_tampering(None),
        (_, Some(c)) => chain.unexplained(c),
    };
    Err(VerifyError::Tampered(tampering))
}

/// Events `anchored .. n` are covered by no checkpoint.
fn uncovered(anchored: u64, n: u64) -> Tampering {
    let last = n - 1;
    let what = if anchored == last {
        format!("event {anchored}, the last, is")
    } else {
        format!(
            "events {anchored} to {last}, the last {}, are",
            n - anchored
        )
    };
    Tampering {
        kind: TamperKind::Uncovered,
        event: anchored,
        last_possible: last,
        checkpoint: None,
        message: format!(
            "{what} covered by no signed checkpoint: the broker signs a checkpoint in the same commit as every batch it writes, so these were appended by something other than the broker (or the checkpoint covering them was deleted)"
        ),
    }
}

#[derive(Clone, Copy)]
struct Link {
    seq: u64,
    prev: Hash,
}

#[derive(Clone, Copy)]
struct Failing {
    index: usize,
    size: u64,
    root: Hash,
}

impl Failing {
    fn describe(&self) -> String {
        format!("checkpoint {} (size {})", self.index, self.size)
    }
}

/// A finding from the chain walk, before the checkpoint is attached.
struct Finding {
    kind: TamperKind,
    event: usize,
    last_possible: usize,
    message: String,
}

impl Finding {
    fn at(kind: TamperKind, event: usize, message: String) -> Finding {
        Finding {
            kind,
            event,
            last_possible: event,
            message,
        }
    }

    fn into_tampering(self, failing: Option<Failing>) -> Tampering {
        let context = match failing {
            Some(c) => format!("; {} no longer matches the log", c.describe()),
            None => "; no checkpoint covers it yet, only the event chain shows it".to_owned(),
        };
        Tampering {
            kind: self.kind,
            event: self.event as u64,
            last_possible: self.last_possible as u64,
            checkpoint: failing.map(|c| (c.index, c.size)),
            message: self.message + &context,
        }
    }
}

struct Chain<'a, B> {
    events: &'a [B],
    log: &'a MerkleLog,
    links: Vec<Result<Link, String>>,
    /// Events `0 .. anchored` are vouched for by a matching checkpoint.
    anchored: usize,
    failing: Option<Failing>,
}

impl<B: AsRef<[u8]>> Chain<'_, B> {
    fn len(&self) -> usize {
        self.links.len()
    }

    fn leaf(&self, i: usize) -> Hash {
        self.log.leaf(i as u64).expect("every event has a leaf")
    }

    fn link(&self, i: usize) -> Option<Link> {
        self.links.get(i)?.as_ref().ok().copied()
    }

    fn seq_at(&self, i: usize) -> Option<u64> {
        self.link(i).map(|l| l.seq)
    }

    /// What event `i`'s `prev` must be if the log is intact.
    fn expected_prev(&self, i: usize) -> Hash {
        if i == 0 { Hash::ZERO } else { self.leaf(i - 1) }
    }

    fn fits(&self, i: usize) -> bool {
        self.link(i)
            .is_some_and(|l| l.seq == i as u64 && l.prev == self.expected_prev(i))
    }

    /// Event `i + 1` links to event `i`.
    fn pinned(&self, i: usize) -> bool {
        self.link(i + 1).is_some_and(|l| l.prev == self.leaf(i))
    }

    /// Event `i` links to some event claiming the sequence number before its own.
    fn links_to_own_predecessor(&self, i: usize) -> bool {
        let Some(l) = self.link(i) else { return false };
        match l.seq.checked_sub(1) {
            None => l.prev == Hash::ZERO,
            Some(before) => {
                (0..self.len()).any(|j| self.seq_at(j) == Some(before) && self.leaf(j) == l.prev)
            }
        }
    }

    /// Without event `x`, the first failing checkpoint would match.
    fn removal_matches(&self, x: usize) -> bool {
        let Some(c) = self.failing else { return false };
        let size = c.size as usize;
        if size + 1 > self.len() {
            return false;
        }
        let leaves = (0..=size).filter(|&i| i != x).map(|i| self.leaf(i));
        MerkleLog::from_leaves(leaves).root() == c.root
    }

    /// Explains the first position `p` that does not fit (all before it do).
    fn classify(&self, p: usize) -> Finding {
        use TamperKind::*;
        let n = self.len();
        let link = match &self.links[p] {
            Ok(l) => *l,
            Err(reason) => {
                return Finding::at(
                    Edited,
                    p,
                    format!(
                        "event {p} was edited: it is no longer a well-formed audit event ({reason})"
                    ),
                );
            }
        };
        let t = link.seq;
        let links_back = link.prev == self.expected_prev(p);
        let next_in_step = p + 1 < n && self.seq_at(p + 1) == Some(p as u64 + 1);

        if t == p as u64 {
            // In step, but not linked to the event before.
            if p == 0 {
                return Finding::at(
                    Edited,
                    0,
                    "event 0 was edited: the first event must link to nothing (all zeros)".into(),
                );
            }
            if p - 1 < self.anchored {
                return Finding::at(
                    Edited,
                    p,
                    format!(
                        "event {p} does not link to event {}, which a checkpoint vouches for: event {p} was edited, or events were deleted or inserted just before it",
                        p - 1
                    ),
                );
            }
            if p + 1 < n && !self.pinned(p) {
                return Finding::at(
                    Edited,
                    p,
                    format!(
                        "event {p} does not link to event {}, and event {} does not link to it: event {p} was edited or replaced, or events were deleted or inserted just before it and the rest renumbered",
                        p - 1,
                        p + 1
                    ),
                );
            }
            let also = if p + 1 == n {
                format!(" (or the link in event {p}, the last, was)")
            } else {
                String::new()
            };
            return Finding::at(
                Edited,
                p - 1,
                format!(
                    "event {} was edited: event {p} records a different hash for it{also}",
                    p - 1
                ),
            );
        }

        let edited_seq = || {
            let how = if links_back {
                "its link to the event before it is intact"
            } else {
                "it does not link to the event before it either"
            };
            let next = if p + 1 < n {
                format!(" while event {} follows in step", p + 1)
            } else {
                String::new()
            };
            Finding::at(
                Edited,
                p,
                format!(
                    "event {p} was edited or replaced: it claims sequence number {t}; {how}{next}"
                ),
            )
        };

        if t < p as u64 {
            // Position t holds event t (everything before p fits), so the
            // number is claimed twice.
            let t = t as usize;
            if self.events[t].as_ref() == self.events[p].as_ref() {
                return Finding::at(
                    Inserted,
                    p,
                    format!("the event at position {p} was inserted: it is a copy of event {t}"),
                );
            }
            if next_in_step || (p + 1 == n && links_back) {
                return edited_seq();
            }
            // Whichever removal makes the failing checkpoint match; failing
            // that, the one its successor does not link to. Events a
            // matching checkpoint vouches for are never the intruder.
            let t_is_intruder = !self.removal_matches(p)
                && t >= self.anchored
                && (self.removal_matches(t) || (self.pinned(p) && !self.pinned(t)));
            let intruder = if t_is_intruder { t } else { p };
            let other = if intruder == p { t } else { p };
            return Finding::at(
                Inserted,
                intruder,
                format!(
                    "the event at position {intruder} was inserted: it claims sequence number {t}, as the event at position {other} does, and only that one fits the log"
                ),
            );
        }

        // t > p: the number p is missing here.
        let later = (p + 1..n).find(|&q| self.seq_at(q) == Some(p as u64));
        let claimed_twice = (0..n).filter(|&i| self.seq_at(i) == Some(t)).count() > 1;
        let genuine = t < n as u64 && !claimed_twice && self.links_to_own_predecessor(p);
        match later {
            Some(q) if genuine => Finding::at(
                Reordered,
                p,
                format!(
                    "event {p} is out of order: position {p} holds event {t}, and event {p} is at position {q}"
                ),
            ),
            _ if next_in_step || (p + 1 == n && links_back) => edited_seq(),
            Some(q) => Finding::at(
                Inserted,
                p,
                format!(
                    "the event at position {p} was inserted: it claims sequence number {t} but does not belong there, and event {p} follows at position {q}"
                ),
            ),
            None => {
                let last = t as usize - 1;
                let message = if last == p {
                    format!("event {p} was deleted: position {p} holds event {t}")
                } else {
                    format!("events {p} to {last} were deleted: position {p} holds event {t}")
                };
                Finding {
                    kind: Deleted,
                    event: p,
                    last_possible: last,
                    message,
                }
            }
        }
    }

    /// A checkpoint fails but the chain up to it is whole.
    fn unexplained(&self, c: Failing) -> Tampering {
        let n = self.len() as u64;
        let g = self.anchored as u64;
        let (kind, event, last_possible, message) = if c.size > n {
            let first = n;
            let last = c.size - 1;
            let what = if first == last {
                format!("event {first} was deleted")
            } else {
                format!("events {first} to {last} were deleted")
            };
            (
                TamperKind::Deleted,
                first,
                last,
                format!(
                    "{what}: the log ends after {} events but {} covers {}",
                    n,
                    c.describe(),
                    c.size
                ),
            )
        } else if c.size - 1 == g {
            (
                TamperKind::Edited,
                g,
                g,
                format!(
                    "event {g} was edited: it does not match {}, which covers one event more than the last checkpoint that matches",
                    c.describe()
                ),
            )
        } else {
            let last = c.size - 1;
            let single = if c.size == n {
                format!(
                    "; if a single event was edited it is event {last}, since each earlier one is linked to by its successor"
                )
            } else {
                String::new()
            };
            (
                TamperKind::Rewritten,
                g,
                last,
                format!(
                    "events {g} to {last} do not match {}, yet each links to the one before it: one of them was edited, inserted, deleted or moved and every later event rewritten to hide it{single}",
                    c.describe()
                ),
            )
        };
        Tampering {
            kind,
            event,
            last_possible,
            checkpoint: Some((c.index, c.size)),
            message,
        }
    }
}
