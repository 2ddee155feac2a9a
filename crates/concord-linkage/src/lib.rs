//! Record linkage for Concord: which records, from which agencies, belong
//! to one person, judged only from their match-key pseudonyms (DESIGN §2).
//! No I/O: the broker runs this after each committed extract, and the
//! offline `concord link` command runs the same code over token files.
//!
//! # Tiers
//!
//! 1. **Strong keys.** Records sharing an `nhs` or `pnc` pseudonym are the
//!    same person. **Deterministic**: records whose forename, surname and
//!    date of birth are all identical (the names possibly recorded the
//!    wrong way round) are the same person; the postcode may differ, since
//!    people move.
//! 2. **Scored** (Fellegi–Sunter, [`Model`]). From the keys two records
//!    share, each of forename, surname, date of birth and postcode gets a
//!    comparison level (`model.rs`, "Field levels": exact, variant, one
//!    edit, part, phonetic, initial, day/month swapped, year and month,
//!    disagree; or not compared when one record lacks it). The pair's match
//!    weight is `log2` of the odds that it matches, under three classes:
//!    the same person (`m`), another member of the same household (`h`:
//!    families share a surname and a postcode far more often than chance
//!    says), and two people at random (`u`), with their priors, all
//!    estimated by EM on the deployment's own records without labels.
//!    `weight >= upper` (4 bits, a match probability of 0.94) is `Linked`
//!    unless the pair looks like twins (surname, date of birth and postcode
//!    identical, the forename agreeing no closer than an initial), or like
//!    a parent and child of one name (forename and surname identical, the
//!    date of birth not agreeing in any form), or only the household
//!    fields agree (surname and postcode, neither the forename nor the
//!    date of birth). Otherwise, and for `lower <= weight < upper` (3
//!    bits: probability 0.89), the pair is `Possible`: queued for review
//!    with its levels and probability, never merged silently. Below
//!    `lower`: unlinked.
//! 3. **Named** (below `upper`, forename and surname identical, the date
//!    of birth not compared because one record lacks it): linked when the
//!    name is one person's in everything the linker holds (the
//!    sole-bearer rule, `linker::sole_bearer`: every other record
//!    carrying the full name, or the surname with a forename one edit
//!    away or sounding alike, is in the other record's person, which holds
//!    the full name on at least two records). Otherwise judged by its
//!    weight as above. This is frequency evidence counted over people:
//!    without a date of birth a common name is no evidence, a name only one
//!    person holds is.
//!
//! Until the linker holds [`LinkConfig::min_train_records`] records the
//! model's defaults apply ([`Model::defaults`]); then it is estimated, and
//! again whenever the records held have doubled. Pairs already linked are
//! not re-scored when it changes.
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
//! - **An ambiguous record links by score to nobody**: if its links reach
//!   two records that contradict each other and are not already one person
//!   (by strong or deterministic links, or as stored), its scored links go
//!   to review, so it is not put with one twin by a coin toss. A person's
//!   own erroneous records never make a pair ambiguous, and an identical
//!   (deterministic) link is never demoted.
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
//! [`TokenHasher`]. Every pair sharing a usable pseudonym is compared in
//! full: the agreeing keys (single-token keys by id, multi-token keys by a
//! merge of sorted ids), the observed pattern, a table lookup of its
//! weight. Scoring and the estimate's pattern counts run on all cores
//! (scoped threads); clustering is sequential.

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
    Comparison, LinkOutcome, LinkRecord, LinkStats, Linker, Merge, PossibleMatch, Probe,
    RecordOutcome, ReviewDecision, ReviewOutcome, Split, StoredRecord,
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
