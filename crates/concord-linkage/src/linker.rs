//! The stateful linker: the token index, record → person assignments, and
//! the nightly delta / removal / review operations.

use std::{collections::hash_map::Entry, thread};

use concord_core::{KeyName, Source, Token};
use rustc_hash::{FxHashMap, FxHashSet};

mod probe;

pub use probe::Probe;

use crate::{
    LinkError,
    config::{LinkConfig, NK},
    hash::{TokenKey, TokenMap, token_key},
    model::{Model, PatternCounts, group_of, record_class},
    score::{Class, Field, Scorer, compare},
};

// Key masks are u32: every key code must fit.
const _: () = assert!(NK <= 32);

/// "No token for this key" in a record's key array.
pub(crate) const NONE: u32 = u32::MAX;
/// A person holding more than one value of a strong key (only possible in
/// stored state that predates this linker's rules).
const MULTI: u32 = u32::MAX - 1;
/// A record not yet assigned to a person (inside `add`).
const UNASSIGNED: u64 = u64::MAX;

/// A record as the linker sees it: its id (the broker's row id, which grows
/// with time), its source, and its match-key pseudonyms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub id: u64,
    pub source: Source,
    pub tokens: Vec<(KeyName, Token)>,
}

/// A stored assignment, to rebuild a linker after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub id: u64,
    pub source: Source,
    pub person: u64,
    pub tokens: Vec<(KeyName, Token)>,
}

/// What happened to one record of a delta.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// The record belongs to a person with other records.
    Linked { person: u64 },
    /// The record is a person of its own for now; it may be one of the
    /// candidate people (person id, score), which a reviewer decides. Never
    /// merged silently.
    Possible {
        person: u64,
        candidates: Vec<(u64, f64)>,
    },
    /// The record is a person of its own.
    Unlinked { person: u64 },
    /// The record carries no tokens (an ED attendance): never linked, not
    /// kept by the linker.
    NoTokens,
}

impl RecordOutcome {
    /// The person the record now belongs to.
    pub fn person(&self) -> Option<u64> {
        match self {
            RecordOutcome::Linked { person }
            | RecordOutcome::Possible { person, .. }
            | RecordOutcome::Unlinked { person } => Some(*person),
            RecordOutcome::NoTokens => None,
        }
    }
}

/// A pair for the review queue: `record` may belong to `person`.
#[derive(Debug, Clone, PartialEq)]
pub struct PossibleMatch {
    pub record: u64,
    pub person: u64,
    /// Match weight in bits (log2 of the odds, the prior included).
    pub score: f64,
    /// The best pair's observed level of each field ([`crate::FIELDS`]),
    /// `None` where one record does not hold it.
    pub levels: [Option<crate::Level>; 4],
}

impl PossibleMatch {
    /// The match probability of the pair.
    pub fn probability(&self) -> f64 {
        Model::probability(self.score)
    }
}

/// How two records compare ([`Linker::explain`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Each field's observed level ([`crate::FIELDS`]), `None` where one
    /// record does not hold it.
    pub levels: [Option<crate::Level>; 4],
    /// Match weight in bits, the prior included.
    pub weight: f64,
    /// `strong`, `deterministic`, `scored`, `possible` or `unlinked`: the
    /// pair's class on its own, before clustering and its guards.
    pub verdict: &'static str,
}

/// Existing people joined into one: the survivor is the smallest (oldest)
/// id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub survivor: u64,
    pub absorbed: Vec<u64>,
}

/// A person whose records no longer connect: the part holding the oldest
/// record kept `person`; the other parts got the new ids in `parts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub person: u64,
    pub parts: Vec<u64>,
}

/// Counters of one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Records stored by this operation.
    pub added: u64,
    /// Records removed by this operation (including changed records).
    pub removed: u64,
    /// Records re-sent with the same tokens: nothing to do.
    pub unchanged: u64,
    /// Candidate pairs that were fully compared.
    pub pairs_compared: u64,
    /// Distinct placeholder-like pseudonyms (carried by more than
    /// `frequent_token_cap` records) met in the delta: skipped for blocking
    /// and scoring.
    pub frequent_tokens: u64,
}

/// Everything an operation changed. The caller stores `records`'
/// persons, rewrites the rows in `reassigned`, queues `possible` for
/// review, and drops `retired` people.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkOutcome {
    /// Per delta record, in input order (later duplicates of an id win).
    pub records: Vec<(u64, RecordOutcome)>,
    /// Review queue entries, sorted by record then person.
    pub possible: Vec<PossibleMatch>,
    pub merges: Vec<Merge>,
    pub splits: Vec<Split>,
    /// Records stored before this operation whose person changed
    /// (record, new person), sorted by record.
    pub reassigned: Vec<(u64, u64)>,
    /// People left with no records.
    pub retired: Vec<u64>,
    pub stats: LinkStats,
}

/// A reviewer's decision, as `resolve_possible` returns it for storage and
/// `from_assignments` takes it back. `anchor` is the oldest record of the
/// accepted person at the time (a manual link record ↔ anchor that later
/// splits respect); 0 for a rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewDecision {
    pub record: u64,
    pub person: u64,
    pub anchor: u64,
    pub accept: bool,
}

/// What a review decision changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewOutcome {
    pub decision: ReviewDecision,
    pub merge: Option<Merge>,
    pub reassigned: Vec<(u64, u64)>,
}

pub(crate) struct Rec {
    pub(crate) id: u64,
    pub(crate) source: Source,
    pub(crate) person: u64,
    /// Token id per single-token key code, `NONE` if absent (and for every
    /// multi-token key).
    pub(crate) keys: [u32; NK],
    /// Token ids of the multi-token keys, ascending.
    pub(crate) multi: Box<[u32]>,
    /// The keys the record carries (a bit per key code).
    pub(crate) held: u32,
    /// [`record_class`] of `held`.
    pub(crate) class: u8,
}

impl Rec {
    /// Every token id of the record.
    fn token_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys
            .iter()
            .copied()
            .filter(|&t| t != NONE)
            .chain(self.multi.iter().copied())
    }
}

/// The records carrying one token.
pub(crate) type Postings = smallvec::SmallVec<[u32; 2]>;

/// Inverted index: pseudonym → token id → records carrying it.
#[derive(Default)]
pub(crate) struct Index {
    map: TokenMap<u32>,
    tokens: Vec<TokenKey>,
    /// The key code of each token id.
    pub(crate) key_of: Vec<u8>,
    /// Records (slots) carrying each token id. Most tokens are carried by
    /// one or two records: inline, so a million records do not make tens
    /// of millions of heap allocations.
    pub(crate) postings: Vec<Postings>,
    free: Vec<u32>,
    /// Records carrying each key.
    pub(crate) key_n: [u64; NK],
}

impl Index {
    fn intern(&mut self, k: KeyName, t: Token, slot: u32) -> u32 {
        let t = token_key(&t);
        let id = match self.map.entry(t) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let id = match self.free.pop() {
                    Some(id) => {
                        self.tokens[id as usize] = t;
                        self.key_of[id as usize] = k.code() as u8;
                        id
                    }
                    None => {
                        self.tokens.push(t);
                        self.key_of.push(k.code() as u8);
                        self.postings.push(Postings::new());
                        (self.tokens.len() - 1) as u32
                    }
                };
                e.insert(id);
                id
            }
        };
        self.postings[id as usize].push(slot);
        id
    }

    fn release(&mut self, id: u32, slot: u32) {
        let p = &mut self.postings[id as usize];
        if let Some(i) = p.iter().position(|&s| s == slot) {
            p.swap_remove(i);
        }
        if p.is_empty() {
            *p = Postings::new();
            self.map.remove(&self.tokens[id as usize]);
            self.free.push(id);
        }
    }
}

#[derive(Default)]
struct Person {
    slots: Vec<u32>,
    nhs: u32,
    pnc: u32,
}

/// Strong-key values of a cluster: at most one NHS number and one PNC id.
#[derive(Clone, Copy)]
struct Strong {
    nhs: u32,
    pnc: u32,
}

impl Strong {
    fn of(r: &Rec) -> Strong {
        Strong {
            nhs: r.keys[KeyName::Nhs.code() as usize],
            pnc: r.keys[KeyName::Pnc.code() as usize],
        }
    }

    fn fits(self, o: Strong) -> bool {
        let ok = |a: u32, b: u32| a == NONE || b == NONE || (a == b && a != MULTI);
        ok(self.nhs, o.nhs) && ok(self.pnc, o.pnc)
    }

    fn join(self, o: Strong) -> Strong {
        let j = |a: u32, b: u32| match (a, b) {
            (NONE, x) | (x, NONE) => x,
            (x, y) if x == y => x,
            _ => MULTI,
        };
        Strong {
            nhs: j(self.nhs, o.nhs),
            pnc: j(self.pnc, o.pnc),
        }
    }
}

struct Uf {
    parent: Vec<u32>,
    strong: Vec<Strong>,
}

impl Uf {
    fn push(&mut self, s: Strong) -> u32 {
        self.parent.push(self.parent.len() as u32);
        self.strong.push(s);
        (self.parent.len() - 1) as u32
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Joins unless that would put two values of a strong key in one
    /// cluster; false if refused.
    fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        let (sa, sb) = (self.strong[ra as usize], self.strong[rb as usize]);
        if !sa.fits(sb) {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        self.strong[lo as usize] = sa.join(sb);
        true
    }
}

#[derive(Clone, Copy)]
struct Edge {
    a: u32,
    b: u32,
    class: Class,
    score: f32,
    /// The observed field levels.
    pattern: u16,
}

/// The linker's state: see the crate doc for the rules.
pub struct Linker {
    cfg: LinkConfig,
    ix: Index,
    recs: Vec<Option<Rec>>,
    free_slots: Vec<u32>,
    by_id: FxHashMap<u64, u32>,
    persons: FxHashMap<u64, Person>,
    next_person: u64,
    /// Manual links (accepted reviews), both directions.
    accepted: FxHashMap<u64, Vec<u64>>,
    /// Rejected (record, person) reviews: never proposed again.
    rejected: FxHashSet<(u64, u64)>,
    /// The Fellegi–Sunter model in force.
    model: std::sync::Arc<Model>,
    /// Records held when the model was last estimated (0: never).
    trained_at: usize,
}

impl Linker {
    /// An empty linker; person ids start at 1.
    pub fn new(cfg: LinkConfig) -> Linker {
        let cfg_population = cfg.min_population;
        Linker {
            cfg,
            ix: Index::default(),
            recs: Vec::new(),
            free_slots: Vec::new(),
            by_id: FxHashMap::default(),
            persons: FxHashMap::default(),
            next_person: 1,
            accepted: FxHashMap::default(),
            rejected: FxHashSet::default(),
            model: std::sync::Arc::new(Model::defaults(cfg_population)),
            trained_at: 0,
        }
    }

    /// Rebuilds the state from stored rows, so person ids stay stable across
    /// restarts. Nothing is re-linked: the stored persons are taken as they
    /// are. `next_person` is the stored counter (the next fresh id is at
    /// least that and above every stored person). Rows without tokens are
    /// skipped.
    pub fn from_assignments(
        cfg: LinkConfig,
        rows: impl IntoIterator<Item = StoredRecord>,
        decisions: impl IntoIterator<Item = ReviewDecision>,
        next_person: u64,
    ) -> Result<Linker, LinkError> {
        let mut l = Linker::new(cfg);
        l.next_person = next_person.max(1);
        for row in rows {
            if row.tokens.is_empty() {
                continue;
            }
            if row.person == UNASSIGNED || row.person == 0 {
                return Err(LinkError::InvalidPerson(row.person));
            }
            if l.by_id.contains_key(&row.id) {
                return Err(LinkError::DuplicateRecord(row.id));
            }
            let slot = l.insert(row.id, row.source, &row.tokens, row.person);
            let strong = Strong::of(l.rec(slot));
            let p = l.persons.entry(row.person).or_insert_with(|| Person {
                slots: Vec::new(),
                nhs: NONE,
                pnc: NONE,
            });
            p.slots.push(slot);
            let s = Strong {
                nhs: p.nhs,
                pnc: p.pnc,
            }
            .join(strong);
            (p.nhs, p.pnc) = (s.nhs, s.pnc);
            l.next_person = l.next_person.max(row.person + 1);
        }
        for d in decisions {
            if d.accept {
                l.add_manual_link(d.record, d.anchor);
            } else {
                l.rejected.insert((d.record, d.person));
            }
        }
        l.train_if_due();
        Ok(l)
    }

    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// The next fresh person id (store it with the assignments).
    pub fn next_person(&self) -> u64 {
        self.next_person
    }

    /// Records held.
    pub fn record_count(&self) -> usize {
        self.by_id.len()
    }

    /// People held.
    pub fn person_count(&self) -> usize {
        self.persons.len()
    }

    pub fn person_of(&self, record: u64) -> Option<u64> {
        self.by_id.get(&record).map(|&s| self.rec(s).person)
    }

    /// A person's record ids, ascending.
    pub fn records_of(&self, person: u64) -> Option<Vec<u64>> {
        self.record_sources(person)
            .map(|v| v.into_iter().map(|(id, _)| id).collect())
    }

    /// A person's records with the source of each, by ascending id.
    pub fn record_sources(&self, person: u64) -> Option<Vec<(u64, Source)>> {
        self.persons.get(&person).map(|p| {
            let mut v: Vec<(u64, Source)> = p
                .slots
                .iter()
                .map(|&s| {
                    let r = self.rec(s);
                    (r.id, r.source)
                })
                .collect();
            v.sort_unstable_by_key(|&(id, _)| id);
            v
        })
    }

    /// Every (record, person), sorted by record.
    pub fn assignments(&self) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = self
            .recs
            .iter()
            .flatten()
            .map(|r| (r.id, r.person))
            .collect();
        v.sort_unstable();
        v
    }

    /// The source a stored record came from.
    pub fn source_of(&self, record: u64) -> Option<Source> {
        self.by_id.get(&record).map(|&s| self.rec(s).source)
    }

    fn rec(&self, slot: u32) -> &Rec {
        self.recs[slot as usize].as_ref().expect("live slot")
    }

    fn rec_mut(&mut self, slot: u32) -> &mut Rec {
        self.recs[slot as usize].as_mut().expect("live slot")
    }

    fn fresh_person(&mut self) -> u64 {
        let p = self.next_person;
        self.next_person += 1;
        p
    }

    fn insert(&mut self, id: u64, source: Source, tokens: &[(KeyName, Token)], person: u64) -> u32 {
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.recs.push(None);
                (self.recs.len() - 1) as u32
            }
        };
        let mut keys = [NONE; NK];
        let mut multi: Vec<u32> = Vec::new();
        let mut held = 0u32;
        for (k, t) in tokens {
            let i = k.code() as usize;
            if k.is_multi() {
                if held & (1 << i) == 0 {
                    self.ix.key_n[i] += 1;
                }
                multi.push(self.ix.intern(*k, *t, slot));
            } else {
                if keys[i] != NONE {
                    // A key twice: the last one counts (validation forbids it).
                    self.ix.release(keys[i], slot);
                    self.ix.key_n[i] -= 1;
                }
                keys[i] = self.ix.intern(*k, *t, slot);
                self.ix.key_n[i] += 1;
            }
            held |= 1 << i;
        }
        multi.sort_unstable();
        // A token repeated within the record (validation refuses it; a
        // caller of the library may not) counts once.
        let before = multi.len();
        multi.dedup();
        if multi.len() != before {
            let mut seen: Vec<u32> = Vec::new();
            for (k, t) in tokens {
                if k.is_multi() {
                    let id = self.ix.map[&token_key(t)];
                    if seen.contains(&id) {
                        self.ix.release(id, slot);
                    } else {
                        seen.push(id);
                    }
                }
            }
        }
        self.recs[slot as usize] = Some(Rec {
            id,
            source,
            person,
            keys,
            multi: multi.into_boxed_slice(),
            held,
            class: record_class(held),
        });
        self.by_id.insert(id, slot);
        slot
    }

    fn same_tokens(&self, slot: u32, source: Source, tokens: &[(KeyName, Token)]) -> bool {
        let r = self.rec(slot);
        if r.source != source {
            return false;
        }
        let mut have: Vec<TokenKey> = r.token_ids().map(|t| self.ix.tokens[t as usize]).collect();
        let mut want: Vec<TokenKey> = tokens.iter().map(|(_, t)| token_key(t)).collect();
        have.sort_unstable();
        want.sort_unstable();
        want.dedup();
        have == want
    }

    fn add_manual_link(&mut self, a: u64, b: u64) {
        if a == b {
            return;
        }
        self.accepted.entry(a).or_default().push(b);
        self.accepted.entry(b).or_default().push(a);
    }

    /// Links a delta into the state. A record id already held with the same
    /// source and tokens is left as it is; with other tokens it is removed
    /// and linked afresh; without tokens it is removed (never linked).
    pub fn add(&mut self, records: impl IntoIterator<Item = LinkRecord>) -> LinkOutcome {
        let mut out = LinkOutcome::default();
        // Later duplicates of an id win.
        let mut input: Vec<LinkRecord> = records.into_iter().collect();
        {
            let mut last: FxHashMap<u64, usize> = FxHashMap::default();
            for (i, r) in input.iter().enumerate() {
                last.insert(r.id, i);
            }
            if last.len() != input.len() {
                let mut i = 0;
                input.retain(|r| {
                    let keep = last[&r.id] == i;
                    i += 1;
                    keep
                });
            }
        }
        let mut to_remove = Vec::new();
        let mut fresh: Vec<&LinkRecord> = Vec::new();
        // Index in `out.records` for each fresh record (filled after linking).
        let mut fresh_pos = Vec::new();
        for r in &input {
            match self.by_id.get(&r.id) {
                Some(&slot) if self.same_tokens(slot, r.source, &r.tokens) => {
                    out.stats.unchanged += 1;
                    let person = self.rec(slot).person;
                    let o = if self.persons[&person].slots.len() > 1 {
                        RecordOutcome::Linked { person }
                    } else {
                        RecordOutcome::Unlinked { person }
                    };
                    out.records.push((r.id, o));
                    continue;
                }
                Some(_) => to_remove.push(r.id),
                None => {}
            }
            if r.tokens.is_empty() {
                out.records.push((r.id, RecordOutcome::NoTokens));
            } else {
                fresh_pos.push(out.records.len());
                out.records.push((r.id, RecordOutcome::NoTokens));
                fresh.push(r);
            }
        }
        if !to_remove.is_empty() {
            self.remove_into(&to_remove, &mut out);
        }
        if fresh.is_empty() {
            out.reassigned.sort_unstable();
            return out;
        }
        // At most this many new token ids: grow the index once, not by
        // repeated rehashing.
        let tokens: usize = fresh.iter().map(|r| r.tokens.len()).sum();
        self.ix.map.reserve(tokens);
        self.ix.postings.reserve(tokens);
        let new: Vec<u32> = fresh
            .iter()
            .map(|r| self.insert(r.id, r.source, &r.tokens, UNASSIGNED))
            .collect();
        out.stats.added = new.len() as u64;

        self.train_if_due();
        let w = self.scorer();
        let mut frequent: FxHashSet<u32> = FxHashSet::default();
        for &s in &new {
            for t in self.rec(s).token_ids() {
                if self.ix.postings[t as usize].len() > w.cap {
                    frequent.insert(t);
                }
            }
        }
        out.stats.frequent_tokens = frequent.len() as u64;

        let (edges, compared) = self.score_new(&new, &w);
        out.stats.pairs_compared = compared;
        self.cluster(&new, edges, &mut out);
        let mut candidates_of: FxHashMap<u64, Vec<(u64, f64)>> = FxHashMap::default();
        for p in &out.possible {
            candidates_of
                .entry(p.record)
                .or_default()
                .push((p.person, p.score));
        }
        for (pos, &slot) in fresh_pos.iter().zip(&new) {
            let r = self.rec(slot);
            let person = r.person;
            let candidates = candidates_of.remove(&r.id).unwrap_or_default();
            out.records[*pos].1 = if self.persons[&person].slots.len() > 1 {
                RecordOutcome::Linked { person }
            } else if !candidates.is_empty() {
                RecordOutcome::Possible { person, candidates }
            } else {
                RecordOutcome::Unlinked { person }
            };
        }
        out.reassigned.sort_unstable();
        out
    }

    /// The scorer of the current model.
    pub(crate) fn scorer(&self) -> Scorer {
        Scorer {
            model: self.model.clone(),
            cap: self.cfg.frequent_token_cap,
            upper: self.cfg.upper,
            lower: self.cfg.lower,
        }
    }

    fn threads(&self, work: usize) -> usize {
        let threads = match self.cfg.threads {
            0 => thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .clamp(1, 64);
        if work < 4096 { 1 } else { threads }
    }

    /// Runs `each(r, candidates)` for every record `r` of `part` (every
    /// `threads`-th from `part`), the candidates being the records sharing a
    /// usable pseudonym with it and not excluded by `skip(r, s)`.
    fn candidates_of(
        &self,
        slots: &[u32],
        part: usize,
        threads: usize,
        skip: impl Fn(u32, u32) -> bool,
        mut each: impl FnMut(u32, &[u32]),
    ) {
        let cap = self.cfg.frequent_token_cap;
        let mut stamp = vec![u32::MAX; self.recs.len()];
        let mut touched: Vec<u32> = Vec::new();
        for (i, &r) in slots.iter().enumerate().skip(part).step_by(threads) {
            let epoch = i as u32;
            touched.clear();
            for t in self.rec(r).token_ids() {
                let post = &self.ix.postings[t as usize];
                if post.len() > cap {
                    continue;
                }
                for &s in post {
                    if s == r || stamp[s as usize] == epoch || skip(r, s) {
                        continue;
                    }
                    stamp[s as usize] = epoch;
                    touched.push(s);
                }
            }
            each(r, &touched);
        }
    }

    /// Candidate generation by blocking on shared pseudonyms (the inverted
    /// index), then full comparison of every candidate pair. Pairs of two
    /// new records are seen once.
    fn score_new(&self, new: &[u32], w: &Scorer) -> (Vec<Edge>, u64) {
        let mut is_new = vec![false; self.recs.len()];
        for &s in new {
            is_new[s as usize] = true;
        }
        let threads = self.threads(new.len());
        let work = |part: usize| -> (Vec<Edge>, u64) {
            let mut edges = Vec::new();
            let mut compared = 0u64;
            self.candidates_of(
                new,
                part,
                threads,
                |r, s| is_new[s as usize] && s > r,
                |r, cands| {
                    let rec = self.rec(r);
                    for &s in cands {
                        compared += 1;
                        let v = compare(rec, self.rec(s), &self.ix, w);
                        if let Some(class) = v.class {
                            edges.push(Edge {
                                a: r,
                                b: s,
                                class,
                                score: v.score as f32,
                                pattern: v.pattern,
                            });
                        }
                    }
                },
            );
            (edges, compared)
        };
        if threads == 1 {
            return work(0);
        }
        let parts: Vec<(Vec<Edge>, u64)> = thread::scope(|sc| {
            let hs: Vec<_> = (0..threads).map(|p| sc.spawn(move || work(p))).collect();
            hs.into_iter()
                .map(|h| h.join().expect("scoring thread panicked"))
                .collect()
        });
        let mut edges = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
        let mut compared = 0;
        for (e, c) in parts {
            edges.extend(e);
            compared += c;
        }
        (edges, compared)
    }

    /// How two held records compare: each field's level, the match weight
    /// and what the pair would be on its own. `None` if either is not held.
    pub fn explain(&self, a: u64, b: u64) -> Option<Comparison> {
        let (&sa, &sb) = (self.by_id.get(&a)?, self.by_id.get(&b)?);
        let v = compare(self.rec(sa), self.rec(sb), &self.ix, &self.scorer());
        Some(Comparison {
            levels: std::array::from_fn(|f| crate::model::level_in(v.pattern, f)),
            weight: v.score,
            verdict: match v.class {
                Some(Class::Strong) => "strong",
                Some(Class::Deterministic) => "deterministic",
                Some(Class::Scored) => "scored",
                Some(Class::Named) => "named",
                Some(Class::Possible) => "possible",
                None => "unlinked",
            },
        })
    }

    /// The model in force: estimated from the records once enough are held
    /// ([`LinkConfig::min_train_records`]), the defaults before.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Estimates the model when it is due: the linker holds at least
    /// `min_train_records` and twice as many as at the last estimate.
    fn train_if_due(&mut self) {
        let n = self.by_id.len();
        if n < self.cfg.min_train_records.max(2) || (self.trained_at > 0 && n < 2 * self.trained_at)
        {
            return;
        }
        self.train();
    }

    /// Estimates `m`, `u` and `λ` by EM over every pair of a deterministic
    /// sample of the records (at most `train_sample`) with every record
    /// held: the candidate pairs' patterns, and the count of the rest.
    pub fn train(&mut self) {
        let mut live: Vec<u32> = self.by_id.values().copied().collect();
        live.sort_unstable_by_key(|&s| self.rec(s).id);
        if live.len() < 2 {
            return;
        }
        let step = live.len().div_ceil(self.cfg.train_sample.max(1));
        let sample: Vec<u32> = live.iter().copied().step_by(step).collect();
        let threads = self.threads(sample.len());
        let work = |part: usize| -> PatternCounts {
            let mut c = PatternCounts::default();
            self.candidates_of(
                &sample,
                part,
                threads,
                |_, _| false,
                |r, cands| {
                    let a = self.rec(r);
                    for &s in cands {
                        let b = self.rec(s);
                        let agree = crate::score::agreement(
                            a,
                            b,
                            self.cfg.frequent_token_cap,
                            |t| self.ix.postings[t as usize].len(),
                            |t| self.ix.key_of[t as usize],
                        );
                        let g = group_of(a.class, b.class);
                        c.add(g, crate::model::observe(agree, g));
                    }
                },
            );
            c
        };
        let mut counts = if threads == 1 {
            work(0)
        } else {
            let parts: Vec<PatternCounts> = thread::scope(|sc| {
                let hs: Vec<_> = (0..threads).map(|p| sc.spawn(move || work(p))).collect();
                hs.into_iter()
                    .map(|h| h.join().expect("training thread panicked"))
                    .collect()
            });
            let mut all = PatternCounts::default();
            for p in &parts {
                all.merge(p);
            }
            all
        };
        // Ordered pairs (a sampled record, any other record) per group.
        let mut all_classes = [0f64; 32];
        for &s in &live {
            all_classes[usize::from(self.rec(s).class)] += 1.0;
        }
        let mut sample_classes = [0f64; 32];
        for &s in &sample {
            sample_classes[usize::from(self.rec(s).class)] += 1.0;
        }
        for ca in 0..32u8 {
            for cb in 0..32u8 {
                let same = if ca == cb { 1.0 } else { 0.0 };
                let n = sample_classes[usize::from(ca)]
                    * (all_classes[usize::from(cb)] - same).max(0.0);
                counts.pairs[usize::from(group_of(ca, cb))] += n;
            }
        }
        let start = Model::defaults(self.cfg.min_population);
        self.model = std::sync::Arc::new(start.estimate(&counts, self.cfg.em_iterations));
        self.trained_at = live.len();
    }

    /// Union-find over the links of the delta: new records and the existing
    /// people they touch. Strong links first, then deterministic, then
    /// scored by descending score; a link that would put two NHS numbers or
    /// two PNC ids into one cluster is refused and queued for review.
    fn cluster(&mut self, new: &[u32], mut edges: Vec<Edge>, out: &mut LinkOutcome) {
        let mut uf = Uf {
            parent: Vec::with_capacity(new.len()),
            strong: Vec::with_capacity(new.len()),
        };
        let mut local: FxHashMap<u32, u32> = FxHashMap::default();
        local.reserve(new.len());
        for &s in new {
            let n = uf.push(Strong::of(self.rec(s)));
            local.insert(s, n);
        }
        let mut person_node: FxHashMap<u64, u32> = FxHashMap::default();
        for e in &mut edges {
            // Put the new record first.
            if !local.contains_key(&e.a) {
                std::mem::swap(&mut e.a, &mut e.b);
            }
        }
        self.demote_ambiguous(&mut edges, &local);
        let key = |e: &Edge, l: &Linker| {
            let (x, y) = (l.rec(e.a).id, l.rec(e.b).id);
            (
                e.class,
                std::cmp::Reverse(OrdF32(e.score)),
                x.min(y),
                x.max(y),
            )
        };
        edges.sort_by_cached_key(|e| key(e, self));
        // Members of each union-find root, for the anti-chaining check.
        let mut members: Vec<Vec<u32>> = new.iter().map(|&s| vec![s]).collect();
        let w = self.scorer();
        let mut maybe: Vec<(u32, u32, f64, u16)> = Vec::new();
        for e in &edges {
            if e.class == Class::Possible {
                maybe.push((e.a, e.b, f64::from(e.score), e.pattern));
                continue;
            }
            let na = local[&e.a];
            let nb = match local.get(&e.b) {
                Some(&n) => n,
                None => {
                    let p = self.rec(e.b).person;
                    if self.rejected.contains(&(self.rec(e.a).id, p)) {
                        continue;
                    }
                    match person_node.entry(p) {
                        Entry::Occupied(o) => *o.get(),
                        Entry::Vacant(v) => {
                            let ps = &self.persons[&p];
                            members.push(ps.slots.clone());
                            *v.insert(uf.push(Strong {
                                nhs: ps.nhs,
                                pnc: ps.pnc,
                            }))
                        }
                    }
                }
            };
            let (ra, rb) = (uf.find(na), uf.find(nb));
            if ra == rb {
                continue;
            }
            if e.class == Class::Named {
                let root_of = |s: u32| match local.get(&s) {
                    Some(&n) => Some(uf.find(n)),
                    None => person_node.get(&self.rec(s).person).map(|&n| uf.find(n)),
                };
                let (x, y) = ((e.a, self.rec(e.a), ra), (e.b, self.rec(e.b), rb));
                if !sole_bearer(&self.ix, |s| self.rec(s), x, y, root_of) {
                    if f64::from(e.score) >= w.lower {
                        maybe.push((e.a, e.b, f64::from(e.score), e.pattern));
                    }
                    continue;
                }
            }
            let weak = e.class != Class::Strong;
            if (weak && self.contradict(&members[ra as usize], &members[rb as usize], &w))
                || !uf.union(na, nb)
            {
                maybe.push((e.a, e.b, f64::from(e.score), e.pattern));
                continue;
            }
            let root = uf.find(na);
            let other = if root == ra { rb } else { ra };
            let moved = std::mem::take(&mut members[other as usize]);
            members[root as usize].extend(moved);
        }

        // Components, in order of their oldest new record.
        let mut order: Vec<u32> = new.to_vec();
        order.sort_unstable_by_key(|&s| self.rec(s).id);
        let mut comp_of_root: FxHashMap<u32, usize> = FxHashMap::default();
        let mut comps: Vec<(Vec<u64>, Vec<u32>)> = Vec::new();
        for &s in &order {
            let root = uf.find(local[&s]);
            let c = *comp_of_root.entry(root).or_insert_with(|| {
                comps.push((Vec::new(), Vec::new()));
                comps.len() - 1
            });
            comps[c].1.push(s);
        }
        for (&p, &node) in &person_node {
            let root = uf.find(node);
            if let Some(&c) = comp_of_root.get(&root) {
                comps[c].0.push(p);
            }
        }
        for (mut people, slots) in comps {
            let pid = if people.is_empty() {
                let p = self.fresh_person();
                self.persons.insert(
                    p,
                    Person {
                        slots: Vec::new(),
                        nhs: NONE,
                        pnc: NONE,
                    },
                );
                p
            } else {
                people.sort_unstable();
                let survivor = people[0];
                if people.len() > 1 {
                    for &gone in &people[1..] {
                        self.absorb(survivor, gone, &mut out.reassigned);
                    }
                    out.merges.push(Merge {
                        survivor,
                        absorbed: people[1..].to_vec(),
                    });
                }
                survivor
            };
            for s in slots {
                let st = Strong::of(self.rec(s));
                self.rec_mut(s).person = pid;
                let p = self.persons.get_mut(&pid).expect("person");
                p.slots.push(s);
                let j = Strong {
                    nhs: p.nhs,
                    pnc: p.pnc,
                }
                .join(st);
                (p.nhs, p.pnc) = (j.nhs, j.pnc);
            }
        }

        // The review queue.
        let mut best: FxHashMap<(u64, u64), (f64, u16)> = FxHashMap::default();
        for (a, b, score, pattern) in maybe {
            let (ra, rb) = (self.rec(a), self.rec(b));
            if ra.person == rb.person {
                continue;
            }
            // Both new: the newer record is queued against the older's person.
            let (rec, person) = if local.contains_key(&b) && rb.id > ra.id {
                (rb.id, ra.person)
            } else {
                (ra.id, rb.person)
            };
            if self.rejected.contains(&(rec, person)) {
                continue;
            }
            let e = best
                .entry((rec, person))
                .or_insert((f64::NEG_INFINITY, pattern));
            if score > e.0 {
                *e = (score, pattern);
            }
        }
        let mut possible: Vec<PossibleMatch> = best
            .into_iter()
            .map(|((record, person), (score, pattern))| PossibleMatch {
                record,
                person,
                score,
                levels: std::array::from_fn(|f| crate::model::level_in(pattern, f)),
            })
            .collect();
        possible.sort_by_key(|x| (x.record, x.person));
        out.possible = possible;
    }

    /// A record whose deterministic or scored links reach two records that
    /// contradict each other (twins: different NHS numbers, or different
    /// forenames with the same surname, date of birth and address) could
    /// be either: its scored links go to review instead, so it chains
    /// nobody together and joins nobody by a coin toss. Its deterministic
    /// links (forename, surname and date of birth identical) stay: an
    /// identical record is no coin toss. Two targets that are one person
    /// already (the same stored person, or joined by strong or
    /// deterministic links of this delta) are not a contradiction: a
    /// person's own erroneous records do not make a pair ambiguous.
    fn demote_ambiguous(&self, edges: &mut [Edge], local: &FxHashMap<u32, u32>) {
        let w = self.scorer();
        // Components of the strong and deterministic links, over new slots
        // and stored persons.
        let mut node: FxHashMap<u64, u32> = FxHashMap::default();
        let mut parent: Vec<u32> = Vec::new();
        let key = |l: &Linker, s: u32| -> u64 {
            if local.contains_key(&s) {
                u64::from(s) | 1 << 63
            } else {
                l.rec(s).person
            }
        };
        fn find(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                let p = parent[x as usize];
                parent[x as usize] = parent[p as usize];
                x = p;
            }
            x
        }
        let mut id = |l: &Linker, s: u32, parent: &mut Vec<u32>| -> u32 {
            *node.entry(key(l, s)).or_insert_with(|| {
                parent.push(parent.len() as u32);
                (parent.len() - 1) as u32
            })
        };
        for e in edges.iter() {
            if matches!(e.class, Class::Strong | Class::Deterministic) {
                let (x, y) = (id(self, e.a, &mut parent), id(self, e.b, &mut parent));
                let (rx, ry) = (find(&mut parent, x), find(&mut parent, y));
                if rx != ry {
                    parent[rx.max(ry) as usize] = rx.min(ry);
                }
            }
        }
        let mut by_a: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
        for (i, e) in edges.iter().enumerate() {
            if matches!(e.class, Class::Deterministic | Class::Scored) {
                by_a.entry(e.a).or_default().push(i);
            }
        }
        for (_, idx) in by_a {
            if idx.len() < 2 || !idx.iter().any(|&i| edges[i].class == Class::Scored) {
                continue;
            }
            let mut ambiguous = false;
            'pairs: for (n, &i) in idx.iter().enumerate() {
                for &j in &idx[n + 1..] {
                    let (x, y) = (edges[i].b, edges[j].b);
                    let (nx, ny) = (id(self, x, &mut parent), id(self, y, &mut parent));
                    if find(&mut parent, nx) == find(&mut parent, ny) {
                        continue;
                    }
                    if compare(self.rec(x), self.rec(y), &self.ix, &w).contradicts {
                        ambiguous = true;
                        break 'pairs;
                    }
                }
            }
            if ambiguous {
                for i in idx {
                    if edges[i].class == Class::Scored {
                        edges[i].class = Class::Possible;
                    }
                }
            }
        }
    }

    /// Whether two clusters cannot be one person: a strong key differs
    /// between them, or some pair of their records contradicts on the
    /// forename (or the date of birth) while no pair agrees on it. A weak
    /// link never joins such clusters: this keeps a chain of individually
    /// plausible links from putting twins, or a parent and child of one
    /// name, in one person; a person whose own records show a forename
    /// variant (Bill and William, linked by NHS number) can still gain a
    /// William record.
    fn contradict(&self, a: &[u32], b: &[u32], w: &Scorer) -> bool {
        let (mut fn_bad, mut fn_ok, mut dob_bad, mut dob_ok) = (false, false, false, false);
        for &x in a {
            let rx = self.rec(x);
            for &y in b {
                let v = compare(rx, self.rec(y), &self.ix, w);
                if v.strong_conflict {
                    return true;
                }
                fn_bad |= v.forename == Field::Contradicts;
                fn_ok |= v.forename == Field::Agrees;
                dob_bad |= v.dob == Field::Contradicts;
                dob_ok |= v.dob == Field::Agrees;
            }
        }
        (fn_bad && !fn_ok) || (dob_bad && !dob_ok)
    }

    /// Moves every record of `gone` into `survivor`.
    fn absorb(&mut self, survivor: u64, gone: u64, reassigned: &mut Vec<(u64, u64)>) {
        let g = self.persons.remove(&gone).expect("absorbed person");
        for &s in &g.slots {
            let r = self.rec_mut(s);
            r.person = survivor;
            reassigned.push((r.id, survivor));
        }
        let p = self.persons.get_mut(&survivor).expect("survivor");
        p.slots.extend_from_slice(&g.slots);
        let j = Strong {
            nhs: p.nhs,
            pnc: p.pnc,
        }
        .join(Strong {
            nhs: g.nhs,
            pnc: g.pnc,
        });
        (p.nhs, p.pnc) = (j.nhs, j.pnc);
    }

    /// Removes records (a snapshot replaced them, a delta deleted them) and
    /// re-links what it must: each person that lost a record is checked,
    /// and if its remaining records no longer connect it is split; the part
    /// with the oldest record keeps the id. Unknown ids are ignored.
    pub fn remove(&mut self, record_ids: &[u64]) -> LinkOutcome {
        let mut out = LinkOutcome::default();
        self.remove_into(record_ids, &mut out);
        out.reassigned.sort_unstable();
        out
    }

    fn remove_into(&mut self, ids: &[u64], out: &mut LinkOutcome) {
        let mut affected: Vec<u64> = Vec::new();
        for id in ids {
            let Some(slot) = self.by_id.remove(id) else {
                continue;
            };
            let r = self.recs[slot as usize].take().expect("live slot");
            for t in r.token_ids() {
                self.ix.release(t, slot);
            }
            for (i, n) in self.ix.key_n.iter_mut().enumerate() {
                if r.held & (1 << i) != 0 {
                    *n -= 1;
                }
            }
            if let Some(p) = self.persons.get_mut(&r.person) {
                p.slots.retain(|&s| s != slot);
                affected.push(r.person);
            }
            self.free_slots.push(slot);
            out.stats.removed += 1;
        }
        affected.sort_unstable();
        affected.dedup();
        if affected.is_empty() {
            return;
        }
        let w = self.scorer();
        for p in affected {
            let slots = self.persons[&p].slots.clone();
            if slots.is_empty() {
                self.persons.remove(&p);
                out.retired.push(p);
                continue;
            }
            self.resplit(p, slots, &w, out);
        }
    }

    /// Recomputes which of a person's records still connect (strong,
    /// deterministic and scored links, and accepted reviews).
    fn resplit(&mut self, person: u64, slots: Vec<u32>, w: &Scorer, out: &mut LinkOutcome) {
        let mut uf = Uf {
            parent: Vec::new(),
            strong: Vec::new(),
        };
        for &s in &slots {
            uf.push(Strong::of(self.rec(s)));
        }
        let pos: FxHashMap<u64, u32> = slots
            .iter()
            .enumerate()
            .map(|(i, &s)| (self.rec(s).id, i as u32))
            .collect();
        for i in 0..slots.len() {
            let a = self.rec(slots[i]);
            if let Some(anchors) = self.accepted.get(&a.id) {
                for b in anchors {
                    if let Some(&j) = pos.get(b) {
                        uf.parent_join(i as u32, j);
                    }
                }
            }
            for (j, &sb) in slots.iter().enumerate().skip(i + 1) {
                if uf.find(i as u32) == uf.find(j as u32) {
                    continue;
                }
                let v = compare(a, self.rec(sb), &self.ix, w);
                // A named link stays within the person it was made in.
                if matches!(
                    v.class,
                    Some(Class::Strong | Class::Deterministic | Class::Scored | Class::Named)
                ) {
                    uf.parent_join(i as u32, j as u32);
                }
            }
        }
        let mut parts: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        for (i, &s) in slots.iter().enumerate() {
            parts.entry(uf.find(i as u32)).or_default().push(s);
        }
        let mut parts: Vec<Vec<u32>> = parts.into_values().collect();
        let oldest = |l: &Linker, v: &Vec<u32>| v.iter().map(|&s| l.rec(s).id).min();
        parts.sort_by_cached_key(|v| oldest(self, v));
        let mut rest = parts.into_iter();
        let keep = rest.next().expect("a part");
        let mut new_ids = Vec::new();
        for part in rest {
            let np = self.fresh_person();
            new_ids.push(np);
            let mut st = Strong {
                nhs: NONE,
                pnc: NONE,
            };
            for &s in &part {
                st = st.join(Strong::of(self.rec(s)));
                let r = self.rec_mut(s);
                r.person = np;
                out.reassigned.push((r.id, np));
            }
            self.persons.insert(
                np,
                Person {
                    slots: part,
                    nhs: st.nhs,
                    pnc: st.pnc,
                },
            );
        }
        let mut st = Strong {
            nhs: NONE,
            pnc: NONE,
        };
        for &s in &keep {
            st = st.join(Strong::of(self.rec(s)));
        }
        let p = self.persons.get_mut(&person).expect("person");
        p.slots = keep;
        (p.nhs, p.pnc) = (st.nhs, st.pnc);
        if !new_ids.is_empty() {
            out.splits.push(Split {
                person,
                parts: new_ids,
            });
        }
    }

    /// A reviewer's decision on a possible match. Accepting merges the
    /// record's person into `person` (the smaller id survives) and keeps a
    /// manual link; it is refused if the two hold different NHS numbers or
    /// PNC ids. Rejecting means the pair is never proposed again.
    pub fn resolve_possible(
        &mut self,
        record: u64,
        person: u64,
        accept: bool,
    ) -> Result<ReviewOutcome, LinkError> {
        let &slot = self
            .by_id
            .get(&record)
            .ok_or(LinkError::UnknownRecord(record))?;
        let target = self
            .persons
            .get(&person)
            .ok_or(LinkError::UnknownPerson(person))?;
        if !accept {
            self.rejected.insert((record, person));
            return Ok(ReviewOutcome {
                decision: ReviewDecision {
                    record,
                    person,
                    anchor: 0,
                    accept: false,
                },
                merge: None,
                reassigned: Vec::new(),
            });
        }
        let anchor = target
            .slots
            .iter()
            .map(|&s| self.rec(s).id)
            .min()
            .expect("a person has records");
        let mine = self.rec(slot).person;
        let decision = ReviewDecision {
            record,
            person,
            anchor,
            accept: true,
        };
        if mine == person {
            return Ok(ReviewOutcome {
                decision,
                merge: None,
                reassigned: Vec::new(),
            });
        }
        let a = &self.persons[&mine];
        let fits = Strong {
            nhs: a.nhs,
            pnc: a.pnc,
        }
        .fits(Strong {
            nhs: target.nhs,
            pnc: target.pnc,
        });
        if !fits {
            return Err(LinkError::StrongKeyConflict { record, person });
        }
        let (survivor, gone) = (mine.min(person), mine.max(person));
        let mut reassigned = Vec::new();
        self.absorb(survivor, gone, &mut reassigned);
        reassigned.sort_unstable();
        self.add_manual_link(record, anchor);
        Ok(ReviewOutcome {
            decision,
            merge: Some(Merge {
                survivor,
                absorbed: vec![gone],
            }),
            reassigned,
        })
    }
}

impl Uf {
    /// Joins without the strong-key check (within one existing person).
    fn parent_join(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }
}

/// Records of the sole bearer of a name that a [`Class::Named`] pair needs,
/// at least: a person seen once under a name is not yet known to be its
/// only holder, and record counts are over-dispersed (a person with two
/// records is likelier than a stranger to have a third).
pub(crate) const SOLE_BEARER_RECORDS: usize = 2;

/// The sole-bearer rule of a [`Class::Named`] pair `a`–`b` (each as slot,
/// record, union-find root). One of them, `x`, lacks the date of birth;
/// every other record carrying `x`'s full name (its `fn_sn` pseudonym),
/// or a near form of it (the forename one edit away or sounding alike
/// with the same surname: its `fnd_sn` and `phfn_sn` pseudonyms), is
/// already in the other one's cluster (`root_of` gives a record's root,
/// `None` for a person the delta does not touch); and that cluster holds
/// the full name on at least [`SOLE_BEARER_RECORDS`] records, which agree
/// on the date of birth where they hold one (`rec_of` gives a slot's
/// record). In
/// everything the linker holds, the name and its neighbours are then one
/// person's: frequency evidence at the level of people, not records (a
/// full name's pseudonym counted by records is carried by the person's own
/// records too, which is why a record-count adjustment did not help). Two
/// people of one name or of neighbouring names (a parent and a child, two
/// strangers, JON and JOHN SMITH) make the rule fail, and the pair is then
/// judged by its weight alone.
pub(crate) fn sole_bearer<'r>(
    ix: &Index,
    rec_of: impl Fn(u32) -> &'r Rec,
    a: (u32, &Rec, u32),
    b: (u32, &Rec, u32),
    mut root_of: impl FnMut(u32) -> Option<u32>,
) -> bool {
    let lacks = |r: &Rec| r.class & crate::model::HELD_DOB == 0;
    let mut only = |x: (u32, &Rec, u32), other: u32| {
        let fnsn = x.1.keys[KeyName::FnSn.code() as usize];
        let Some(named) = ix.postings.get(fnsn as usize) else {
            return false;
        };
        if named.iter().filter(|&&s| s != x.0).count() < SOLE_BEARER_RECORDS {
            return false;
        }
        // The bearer's records of the name agree on the date of birth
        // where they hold one (the same `fn_dob` pseudonym): a cluster of
        // the name with two dates may be two people already joined.
        let fn_dob = KeyName::FnDob.code() as usize;
        let mut dobs = named
            .iter()
            .filter(|&&s| s != x.0)
            .map(|&s| rec_of(s).keys[fn_dob])
            .filter(|&t| t != NONE);
        if let Some(first) = dobs.next()
            && dobs.any(|t| t != first)
        {
            return false;
        }
        let near =
            x.1.multi
                .iter()
                .copied()
                .filter(|&t| ix.key_of.get(t as usize) == Some(&(KeyName::FnDelSn.code() as u8)));
        let mut tokens = [fnsn, x.1.keys[KeyName::PhFnSn.code() as usize]]
            .into_iter()
            .chain(near);
        tokens.all(|t| {
            ix.postings
                .get(t as usize)
                .is_none_or(|p| p.iter().all(|&s| s == x.0 || root_of(s) == Some(other)))
        })
    };
    (lacks(a.1) && only(a, b.2)) || (lacks(b.1) && only(b, a.2))
}

/// Total order on scores for sorting (scores are never NaN).
#[derive(Clone, Copy)]
struct OrdF32(f32);

impl PartialEq for OrdF32 {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o).is_eq()
    }
}

impl Eq for OrdF32 {}

impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for OrdF32 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}
