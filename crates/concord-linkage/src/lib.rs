//! Record linkage for Concord: which records, from which agencies, belong
//! to one person, judged only from their match-key pseudonyms (DESIGN §2).
//! No I/O: the broker runs this after each committed extract, and the
//! offline `concord link` command runs the same code over token files.
//!
//! # Tiers
//!
//! 1. **Strong keys.** Records sharing an `nhs` or `pnc` pseudonym are the
//!    same person. **Deterministic cascade**: records agreeing exactly on at
//!    least two of `fn_sn`, `fn_dob`, `sn_dob` (so forename, surname and
//!    date of birth are all identical; the postcode may differ, since people
//!    move), or on `names_dob` (the same, with the names recorded the wrong
//!    way round), are the same person.
//! 2. **Scored** (Fellegi–Sunter). The six pair keys are the six pairs of
//!    four fields; each pair is a *slot* scoring the best of its agreeing
//!    variants (`sn_dob` / `phsn_dob` / `sn_dobswap`; `fn_sn` / `phfn_sn`),
//!    so one field is not counted thrice. Agreement weighs `log2(m / u)` with `u = count / N`: `count`
//!    the records carrying that pseudonym, `N` the records carrying the key
//!    (at least [`LinkConfig::min_population`]), `m` per key in
//!    [`LinkConfig::m`]. Disagreement (both records hold the key, with
//!    different values) weighs `log2(1 - m)`; a missing key weighs nothing.
//!    `score >= upper` is `Linked` only if the forename and the date of
//!    birth agree (in some form) wherever both records hold them: a
//!    mismatched forename is what tells twins apart, and a mismatched date
//!    of birth a parent from a child of the same name. Otherwise, and for
//!    `lower <= score < upper`, the pair is `Possible`: queued for review,
//!    never merged silently. Below `lower`: unlinked.
//!
//! Default weights and thresholds ([`LinkConfig::default`]): `m` = 0.99
//! for strong keys, 0.95 for the phonetic keys, 0.9 otherwise; `upper` =
//! 28 bits (about two rare agreeing slots net of one disagreement),
//! `lower` = 12 bits. On `concord-synth` populations tokenised by
//! `concord-matchkey` (39,314 records of 60,000 residents), pairwise
//! precision is 1.000 and recall 0.954; thresholds between 20 and 28 bits
//! give the same figures, above 32 recall falls (see `tests/quality.rs`).
//!
//! A placeholder-like pseudonym (carried by more than
//! [`LinkConfig::frequent_token_cap`] records) is neither used for blocking
//! nor scored, and is counted in [`LinkStats::frequent_tokens`].
//!
//! # Clustering and anti-chaining
//!
//! Union-find over links, strong first, then deterministic, then scored by
//! descending score. Three guards keep chains of plausible links from
//! joining different people:
//!
//! - **A cluster never holds two NHS numbers or two PNC ids**: any link
//!   that would join them is refused and queued for review. Twins, who
//!   differ in NHS number, never merge. A pair agreeing on one strong key
//!   while the other differs goes to review.
//! - **A weak (deterministic or scored) link never joins two clusters that
//!   contradict each other**: some pair of their records holds different
//!   forenames (no agreement in any form, phonetic included) and no pair
//!   agrees on the forename; likewise for the date of birth. This keeps
//!   twins without NHS numbers, and a parent and child of one name, apart
//!   even when a record with no forename scores well against both; a
//!   person whose own records show a variant (Bill and William, joined by
//!   NHS number) can still gain a William record.
//! - **An ambiguous record links weakly to nobody**: if its weak links reach
//!   two records that contradict each other, all its weak links go to
//!   review, so it is not put with one twin by a coin toss.
//!
//! Refused links are queued for review ([`PossibleMatch`]).
//!
//! # Stable ids
//!
//! [`Linker`] keeps the index and the assignments between runs. New people
//! get ids from a monotonic counter; records joining a person take its id;
//! when a delta joins existing people the smallest (oldest) id survives
//! ([`Merge`]). [`Linker::remove`] re-checks each person that lost a record
//! and splits it if its records no longer connect; the part with the oldest
//! record (smallest record id: the broker's ids grow with time) keeps the id
//! ([`Split`]). Pairs already linked are not re-scored when frequencies
//! drift; only a removal re-checks a person. [`Linker::from_assignments`]
//! rebuilds the state from stored rows after a restart.
//!
//! # Candidates and speed
//!
//! Candidates come from blocking on shared pseudonyms: an inverted index
//! (pseudonym → records), interned to `u32` ids and hashed with
//! [`TokenHasher`]. For each new record a dense per-thread accumulator sums
//! the agreement weights of every record it shares a pseudonym with; only
//! pairs sharing a strong key, meeting the deterministic rule, or whose
//! summed agreement reaches `lower` are compared in full. Scoring runs on
//! all cores (scoped threads over the delta); clustering is sequential.
//!
//! # The swap key
//!
//! mk1's `sn_dobswap` (crate `concord-matchkey`) hashes the surname with the
//! unordered pair {date of birth, date with day and month swapped}, so two
//! records agree on it when their dates are equal or transposed. It is a
//! variant of the surname · date-of-birth slot, never counted on top of
//! `sn_dob`. `names_dob` (forename and surname as an unordered pair, with the
//! date of birth) counts only when `fn_dob` and `sn_dob` do not both agree:
//! then it means swapped names, and links deterministically. `fi_dob` (the
//! initial of the canonical forename, nicknames resolved, with the date of
//! birth) is a variant of the forename · date-of-birth slot that scores only
//! when `fn_dob` does not agree: evidence that forename and date of birth
//! agree despite a typo or a nickname, never an exact agreement.

#![forbid(unsafe_code)]

mod config;
mod hash;
mod linker;
mod metrics;
mod model;
mod score;

pub use config::LinkConfig;
pub use hash::TokenHasher;
pub use linker::{
    LinkOutcome, LinkRecord, LinkStats, Linker, Merge, PossibleMatch, Probe, RecordOutcome,
    ReviewDecision, ReviewOutcome, Split, StoredRecord,
};
pub use metrics::{Metrics, pairwise_metrics};
pub use model::{FIELDS, LEVELS, Level, Model, level_in};

/// Why a linker operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("record {0} is not held by the linker")]
    UnknownRecord(u64),
    #[error("person {0} is not held by the linker")]
    UnknownPerson(u64),
    #[error("record {0} appears twice in the stored assignments")]
    DuplicateRecord(u64),
    #[error("person id {0} is not valid (0 and u64::MAX are reserved)")]
    InvalidPerson(u64),
    #[error("record {record} and person {person} hold different NHS numbers or PNC ids")]
    StrongKeyConflict { record: u64, person: u64 },
}
