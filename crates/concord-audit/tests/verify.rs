//! Offline verification: an intact log passes; each way of tampering is
//! detected and the first event that does not fit is named.

mod common;

use concord_audit::{
    AuditError, AuditEvent, MerkleLog, TamperKind, Tampering, VerifyError, leaf_hash, verify_log,
};
use proptest::prelude::*;

struct Fixture {
    events: Vec<Vec<u8>>,
    decoded: Vec<AuditEvent>,
    checkpoints: Vec<concord_audit::SignedCheckpoint>,
    public_key: [u8; 32],
}

/// `n` events, checkpoints every `every` events and at the end.
fn fixture(n: u64, every: u64) -> Fixture {
    let signer = common::signer("ak-2026a");
    let (events, decoded) = common::events(n);
    let checkpoints = common::checkpoints(&signer, &events, every);
    Fixture {
        events,
        decoded,
        checkpoints,
        public_key: signer.public_key(),
    }
}

impl Fixture {
    fn verify(&self, events: &[Vec<u8>]) -> Result<concord_audit::VerifyReport, VerifyError> {
        verify_log(events, &self.checkpoints, &self.public_key)
    }

    fn tampered(&self, events: &[Vec<u8>]) -> Tampering {
        match self.verify(events) {
            Err(VerifyError::Tampered(t)) => t,
            other => panic!("expected tampering, got {other:?}"),
        }
    }

    /// Event `k` with its user changed, re-encoded with its own seq and prev.
    fn edited(&self, k: usize) -> Vec<u8> {
        let mut e = self.decoded[k].clone();
        e.user = "u999".into();
        e.encode()
    }
}

#[test]
fn an_intact_log_verifies() {
    let f = fixture(47, 10);
    let report = f.verify(&f.events).unwrap();
    assert_eq!(report.events, 47);
    assert_eq!(report.checkpoints, 5);
    assert_eq!(report.anchored, 47);
    assert_eq!(report.unanchored(), 0);
    assert_eq!(
        report.root,
        MerkleLog::from_leaves(f.events.iter().map(|e| leaf_hash(e))).root()
    );
    assert!(
        report.to_string().contains("every event is covered"),
        "{report}"
    );

    // Events appended after the last checkpoint, however well chained, are
    // tampering: the broker signs every batch it commits.
    let (more, _) = common::events(52);
    let t = f.tampered(&more);
    assert_eq!(
        (t.kind, t.event, t.last_possible, t.checkpoint),
        (TamperKind::Uncovered, 47, 51, None),
        "{t}"
    );
    assert!(
        t.message
            .starts_with("events 47 to 51, the last 5, are covered by no signed checkpoint"),
        "{t}"
    );
    let (one_more, _) = common::events(48);
    let t = f.tampered(&one_more);
    assert_eq!((t.kind, t.event), (TamperKind::Uncovered, 47), "{t}");
    assert!(
        t.message
            .starts_with("event 47, the last, is covered by no"),
        "{t}"
    );
    // A log with events and no checkpoint at all is the same.
    let err = verify_log(&f.events, &[], &f.public_key).unwrap_err();
    assert_eq!(
        err.tampering().map(|t| (t.kind, t.event)),
        Some((TamperKind::Uncovered, 0))
    );
    // An empty log with no checkpoints is trivially fine.
    assert_eq!(
        verify_log::<Vec<u8>>(&[], &[], &f.public_key)
            .unwrap()
            .events,
        0
    );
}

#[test]
fn an_edited_event_is_named() {
    let f = fixture(40, 10);
    let mut events = f.events.clone();
    events[17] = f.edited(17);
    let t = f.tampered(&events);
    assert_eq!(
        (t.kind, t.event, t.last_possible),
        (TamperKind::Edited, 17, 17)
    );
    assert_eq!(t.checkpoint, Some((1, 20)));
    assert_eq!(
        t.to_string(),
        "event 17 was edited: event 18 records a different hash for it; checkpoint 1 (size 20) no longer matches the log"
    );

    // An edit that breaks the event's form is named the same way.
    events[17] = b"{\"v\":1,\"seq\":17}".to_vec();
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Edited, 17));
    assert!(
        t.message.contains("no longer a well-formed audit event"),
        "{t}"
    );

    // An edited sequence number.
    let mut events = f.events.clone();
    let mut e = f.decoded[23].clone();
    e.seq = 31;
    events[23] = e.encode();
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Edited, 23), "{t}");
    assert_eq!(t.checkpoint, Some((2, 30)));
    assert!(t.message.contains("claims sequence number 31"), "{t}");

    // An edited link: event 12 now points elsewhere, so 11 is fine and 12 is not.
    let mut events = f.events.clone();
    let mut e = f.decoded[12].clone();
    e.prev = leaf_hash(b"elsewhere");
    events[12] = e.encode();
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Edited, 12), "{t}");

    // Event 0 is edited like any other.
    let mut events = f.events.clone();
    events[0] = f.edited(0);
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Edited, 0), "{t}");
    assert_eq!(t.checkpoint, Some((0, 10)));
}

#[test]
fn a_deleted_event_is_named() {
    let f = fixture(40, 10);
    let mut events = f.events.clone();
    events.remove(17);
    let t = f.tampered(&events);
    assert_eq!(
        (t.kind, t.event, t.last_possible),
        (TamperKind::Deleted, 17, 17)
    );
    assert_eq!(
        t.to_string(),
        "event 17 was deleted: position 17 holds event 18; checkpoint 1 (size 20) no longer matches the log"
    );

    let mut events = f.events.clone();
    events.drain(5..9);
    let t = f.tampered(&events);
    assert_eq!(
        (t.kind, t.event, t.last_possible),
        (TamperKind::Deleted, 5, 8)
    );
    assert!(t.message.starts_with("events 5 to 8 were deleted"), "{t}");

    // From the end: the last checkpoint covers more than the log holds.
    let events = f.events[..36].to_vec();
    let t = f.tampered(&events);
    assert_eq!(
        (t.kind, t.event, t.last_possible),
        (TamperKind::Deleted, 36, 39)
    );
    assert_eq!(t.checkpoint, Some((3, 40)));
    assert_eq!(
        t.to_string(),
        "events 36 to 39 were deleted: the log ends after 36 events but checkpoint 3 (size 40) covers 40"
    );
}

#[test]
fn an_inserted_event_is_named() {
    let f = fixture(40, 10);
    // A forged event that claims number 17 and links to event 16, put
    // before the real event 17: the forgery is at position 17.
    let mut forged = f.decoded[17].clone();
    forged.user = "u999".into();
    let mut events = f.events.clone();
    events.insert(17, forged.encode());
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Inserted, 17), "{t}");
    assert_eq!(t.checkpoint, Some((1, 20)));

    // The same forgery put after the real event 17.
    let mut events = f.events.clone();
    events.insert(18, forged.encode());
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Inserted, 18), "{t}");

    // A replayed copy of an earlier event.
    let mut events = f.events.clone();
    events.insert(25, f.events[3].clone());
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Inserted, 25), "{t}");
    assert!(t.message.contains("a copy of event 3"), "{t}");

    // A clumsy forgery with a made-up number.
    let mut wild = f.decoded[5].clone();
    wild.seq = 1_000;
    let mut events = f.events.clone();
    events.insert(9, wild.encode());
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Inserted, 9), "{t}");
}

#[test]
fn a_reordered_event_is_named() {
    let f = fixture(40, 10);
    let mut events = f.events.clone();
    events.swap(17, 18);
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Reordered, 17), "{t}");
    assert_eq!(
        t.to_string(),
        "event 17 is out of order: position 17 holds event 18, and event 17 is at position 18; checkpoint 1 (size 20) no longer matches the log"
    );

    // Moved much later.
    let mut events = f.events.clone();
    let e = events.remove(12);
    events.insert(33, e);
    let t = f.tampered(&events);
    assert_eq!((t.kind, t.event), (TamperKind::Reordered, 12), "{t}");
    assert!(t.message.contains("event 12 is at position 33"), "{t}");
}

#[test]
fn a_rewritten_suffix_is_localised_to_the_checkpoint_interval() {
    // Edit event 23 and rewrite every later link so the chain is whole:
    // only the signed roots disagree, and only to within checkpoints.
    let f = fixture(40, 10);
    let mut log = MerkleLog::from_leaves(f.events[..23].iter().map(|e| leaf_hash(e)));
    let mut events = f.events[..23].to_vec();
    for (i, e) in f.decoded[23..].iter().enumerate() {
        let mut e = e.clone();
        if i == 0 {
            e.user = "u999".into();
        }
        e.link(&log);
        let b = e.encode();
        log.append(leaf_hash(&b));
        events.push(b);
    }
    let t = f.tampered(&events);
    assert_eq!(
        (t.kind, t.event, t.last_possible),
        (TamperKind::Rewritten, 20, 29),
        "{t}"
    );
    assert_eq!(t.checkpoint, Some((2, 30)));
    assert!(
        t.message.starts_with("events 20 to 29 do not match checkpoint 2 (size 30), yet each links to the one before it"),
        "{t}"
    );

    // With a checkpoint after every event the same rewrite is exact.
    let g = fixture(40, 1);
    let t = g.tampered(&events);
    assert_eq!(
        (t.kind, t.event, t.last_possible),
        (TamperKind::Edited, 23, 23),
        "{t}"
    );
}

#[test]
fn the_last_event_has_no_successor_to_pin_it() {
    let f = fixture(40, 10);
    let mut events = f.events.clone();
    events[39] = f.edited(39);
    let t = f.tampered(&events);
    assert_eq!(
        (t.kind, t.event, t.last_possible),
        (TamperKind::Rewritten, 30, 39),
        "{t}"
    );
    assert!(t.message.ends_with("if a single event was edited it is event 39, since each earlier one is linked to by its successor"), "{t}");
}

#[test]
fn damage_beyond_the_last_checkpoint_is_still_found_by_the_chain() {
    let f = fixture(40, 10);
    let (mut events, decoded) = common::events(46);
    let mut e = decoded[42].clone();
    e.user = "u999".into();
    events[42] = e.encode();
    let t = f.tampered(&events);
    assert_eq!(
        (t.kind, t.event, t.checkpoint),
        (TamperKind::Edited, 42, None),
        "{t}"
    );
    assert!(
        t.message
            .ends_with("no checkpoint covers it yet, only the event chain shows it")
    );
}

#[test]
fn a_bad_or_foreign_checkpoint_refuses_the_whole_log() {
    let f = fixture(30, 10);
    let mut checkpoints = f.checkpoints.clone();
    checkpoints[1].checkpoint.size = 19;
    let err = verify_log(&f.events, &checkpoints, &f.public_key).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Checkpoint {
            index: 1,
            error: AuditError::BadSignature
        }
    );
    assert_eq!(
        err.to_string(),
        "checkpoint 1 is refused: the checkpoint's signature does not verify: it was altered after signing"
    );

    let other = common::signer("ak-2026b");
    let mut checkpoints = f.checkpoints.clone();
    checkpoints.push(other.checkpoint(
        &MerkleLog::from_leaves(f.events.iter().map(|e| leaf_hash(e))),
        common::at(0),
    ));
    let err = verify_log(&f.events, &checkpoints, &f.public_key).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Checkpoint {
                index: 3,
                error: AuditError::WrongKey { .. }
            }
        ),
        "{err}"
    );
    // Verifying with another key refuses the first checkpoint.
    let err = verify_log(&f.events, &f.checkpoints, &other.public_key()).unwrap_err();
    assert!(
        matches!(err, VerifyError::Checkpoint { index: 0, .. }),
        "{err}"
    );
}

#[test]
fn a_key_that_signed_two_logs_is_caught() {
    let signer = common::signer("ak-2026a");
    let (events, _) = common::events(20);
    let mut checkpoints = common::checkpoints(&signer, &events, 10);
    // A second, different tree of size 10 signed by the same key.
    let (mut other, _) = common::events(10);
    other[4] = b"something else".to_vec();
    let fork = MerkleLog::from_leaves(other.iter().map(|e| leaf_hash(e)));
    checkpoints.push(signer.checkpoint(&fork, common::at(0)));
    let err = verify_log(&events, &checkpoints, &signer.public_key()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Checkpoint {
            index: 2,
            error: AuditError::ConflictingCheckpoint
        }
    );
}

#[derive(Debug, Clone)]
enum Tamper {
    Edit(usize),
    Delete(usize),
    Insert(usize),
    InsertAfter(usize),
    Replay { copy: usize, at: usize },
    Swap(usize),
    Move { from: usize, to: usize },
}

fn tamper_case() -> impl Strategy<Value = (u64, u64, Tamper)> {
    (3u64..60, 1u64..12).prop_flat_map(|(n, every)| {
        let n_us = n as usize;
        let kinds = prop_oneof![
            (0..n_us - 1).prop_map(Tamper::Edit),
            (0..n_us - 1).prop_map(Tamper::Delete),
            (0..n_us).prop_map(Tamper::Insert),
            (0..n_us).prop_map(Tamper::InsertAfter),
            (0..n_us, 0..n_us).prop_map(|(copy, at)| Tamper::Replay { copy, at }),
            (0..n_us - 1).prop_map(Tamper::Swap),
            (0..n_us, 0..n_us)
                .prop_filter("a move goes somewhere", |(a, b)| a != b)
                .prop_map(|(from, to)| Tamper::Move { from, to }),
        ];
        (Just(n), Just(every), kinds)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any single edit, deletion, insertion (a well-made forgery claiming the
    /// number of the event beside it, or a replayed copy), swap or move is
    /// found, and the event named is the first one out of place.
    #[test]
    fn each_way_of_tampering_is_found_and_named((n, every, tamper) in tamper_case()) {
        let f = fixture(n, every);
        let mut events = f.events.clone();
        let (kind, at) = match tamper {
            Tamper::Edit(k) => {
                events[k] = f.edited(k);
                (TamperKind::Edited, k)
            }
            Tamper::Delete(k) => {
                events.remove(k);
                (TamperKind::Deleted, k)
            }
            Tamper::Insert(k) => {
                let mut forged = f.decoded[k].clone();
                forged.user = "u999".into();
                events.insert(k, forged.encode());
                (TamperKind::Inserted, k)
            }
            Tamper::InsertAfter(k) => {
                let mut forged = f.decoded[k].clone();
                forged.user = "u999".into();
                events.insert(k + 1, forged.encode());
                (TamperKind::Inserted, k + 1)
            }
            Tamper::Replay { copy, at } => {
                events.insert(at, f.events[copy].clone());
                // A copy put just before its original: the later of the
                // two identical events is named.
                (TamperKind::Inserted, if copy == at { at + 1 } else { at })
            }
            Tamper::Swap(k) => {
                events.swap(k, k + 1);
                (TamperKind::Reordered, k)
            }
            Tamper::Move { from, to } => {
                let e = events.remove(from);
                events.insert(to, e);
                (TamperKind::Reordered, from.min(to))
            }
        };
        let t = f.tampered(&events);
        prop_assert_eq!((t.kind, t.event as usize), (kind, at), "{}", t);
        // The checkpoint named is the first that covers the event touched.
        let covering = f.checkpoints.iter().position(|c| c.checkpoint.size as usize > at);
        prop_assert_eq!(t.checkpoint.map(|c| c.0), covering, "{}", t);
    }
}
