//! Read-only person resolution: which person would a record carrying these
//! pseudonyms be linked to, by the rules [`Linker::add`] applies, without
//! adding it. A lookup asks this; nothing in the linker changes.
//!
//! The probe record is compared as `add` would compare it after inserting
//! it: every pseudonym it carries counts one record more (agreement weights
//! and the placeholder cap see it), and so does every key it holds in the
//! population `N`. Then the same steps run for it alone: candidates by
//! shared pseudonyms, full comparison, the ambiguous-record demotion, and
//! clustering in the same order (strong, deterministic, scored by
//! descending score) with the same guards (never two NHS numbers or PNC ids
//! in one cluster; no weak link between contradicting clusters).
//!
//! The answer is [`Probe::Linked`] only when `add` would link the record to
//! exactly one existing person. Where `add` would merge two or more people
//! through it, the probe answers [`Probe::Possible`]: the broker holds those
//! people apart, and a lookup must not decide otherwise.

use concord_core::{KeyName, Source, Token};
use rustc_hash::FxHashMap;

use super::{Edge, Linker, NONE, OrdF32, Rec, Strong, UNASSIGNED, Uf, sole_bearer};
use crate::{
    config::NK,
    model::record_class,
    score::{Class, Field, Verdict, compare_with},
};

/// A token id no stored record carries: the probe's pseudonym is new.
const ABSENT: u32 = u32::MAX - 2;

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The record would be linked to this person, and only to them.
    Linked(u64),
    /// The record would be held for review, or would join several people
    /// the linker holds apart: no person is named.
    Possible,
    /// The record would be a person of its own.
    NoMatch,
}

impl Linker {
    /// Whom a record with these pseudonyms would be linked to by [`add`]
    /// (see the module doc), without changing anything. An empty token
    /// list matches nobody.
    ///
    /// [`add`]: Linker::add
    pub fn probe(&self, tokens: &[(KeyName, Token)]) -> Probe {
        let mut keys = [NONE; NK];
        let mut multi: Vec<u32> = Vec::new();
        let mut held = 0u32;
        for (k, t) in tokens {
            let id = self
                .ix
                .map
                .get(&crate::hash::token_key(t))
                .copied()
                .unwrap_or(ABSENT);
            if k.is_multi() {
                multi.push(id);
            } else {
                // A key twice: the last one counts, as in `insert`.
                keys[k.code() as usize] = id;
            }
            held |= 1 << k.code();
        }
        multi.sort_unstable();
        multi.dedup();
        if held == 0 {
            return Probe::NoMatch;
        }
        let w = self.scorer();
        // Records carrying a token, counting the probe as `add` would count
        // the inserted record.
        let count = |t: u32| -> usize {
            let mine = usize::from(keys.contains(&t) || multi.binary_search(&t).is_ok());
            if t == ABSENT {
                mine
            } else {
                self.ix.postings[t as usize].len() + mine
            }
        };
        let key_of = |t: u32| -> u8 {
            if t == ABSENT {
                0
            } else {
                self.ix.key_of[t as usize]
            }
        };
        let compare = |a: &Rec, b: &Rec| -> Verdict { compare_with(a, b, &w, count, key_of) };
        let query = Rec {
            // Larger than every stored id, as a new record's id is; its
            // source plays no part in comparison.
            id: u64::MAX,
            source: Source::ALL[0],
            person: UNASSIGNED,
            keys,
            multi: multi.clone().into_boxed_slice(),
            held,
            class: record_class(held),
        };

        // Candidates: records sharing a usable pseudonym.
        let mut candidates: Vec<u32> = Vec::new();
        for t in query.keys.iter().chain(query.multi.iter()).copied() {
            if t == NONE || t == ABSENT || count(t) > w.cap {
                continue;
            }
            candidates.extend_from_slice(&self.ix.postings[t as usize]);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut edges: Vec<Edge> = candidates
            .into_iter()
            .filter_map(|s| {
                let v = compare(&query, self.rec(s));
                v.class.map(|class| Edge {
                    a: u32::MAX,
                    b: s,
                    class,
                    score: v.score as f32,
                    pattern: v.pattern,
                })
            })
            .collect();
        if edges.is_empty() {
            return Probe::NoMatch;
        }

        // An ambiguous record links by score to nobody (`demote_ambiguous`):
        // its scored links go to review when two of its deterministic or
        // scored targets contradict each other and are not one person
        // already (the same stored person, or both reached by the
        // record's own strong or deterministic links).
        let weak: Vec<usize> = (0..edges.len())
            .filter(|&i| matches!(edges[i].class, Class::Deterministic | Class::Scored))
            .collect();
        if weak.len() >= 2 && weak.iter().any(|&i| edges[i].class == Class::Scored) {
            let firm = |i: usize| matches!(edges[i].class, Class::Strong | Class::Deterministic);
            let mut ambiguous = false;
            'pairs: for (n, &i) in weak.iter().enumerate() {
                for &j in &weak[n + 1..] {
                    let (rx, ry) = (self.rec(edges[i].b), self.rec(edges[j].b));
                    if rx.person == ry.person || (firm(i) && firm(j)) {
                        continue;
                    }
                    if compare(rx, ry).contradicts {
                        ambiguous = true;
                        break 'pairs;
                    }
                }
            }
            if ambiguous {
                for i in weak {
                    if edges[i].class == Class::Scored {
                        edges[i].class = Class::Possible;
                    }
                }
            }
        }
        edges.sort_by_cached_key(|e| {
            let id = self.rec(e.b).id;
            (e.class, std::cmp::Reverse(OrdF32(e.score)), id)
        });

        // Clustering (`cluster`), with the probe as node 0.
        let mut uf = Uf {
            parent: Vec::new(),
            strong: Vec::new(),
        };
        uf.push(Strong::of(&query));
        let mut members: Vec<Vec<&Rec>> = vec![vec![&query]];
        let mut person_node: FxHashMap<u64, u32> = FxHashMap::default();
        let mut held_for_review = false;
        for e in &edges {
            if e.class == Class::Possible {
                held_for_review = true;
                continue;
            }
            let p = self.rec(e.b).person;
            let nb = *person_node.entry(p).or_insert_with(|| {
                let ps = &self.persons[&p];
                members.push(ps.slots.iter().map(|&s| self.rec(s)).collect());
                uf.push(Strong {
                    nhs: ps.nhs,
                    pnc: ps.pnc,
                })
            });
            let (ra, rb) = (uf.find(0), uf.find(nb));
            if ra == rb {
                continue;
            }
            if e.class == Class::Named {
                let root_of = |s: u32| person_node.get(&self.rec(s).person).map(|&n| uf.find(n));
                let (x, y) = ((u32::MAX, &query, ra), (e.b, self.rec(e.b), rb));
                if !sole_bearer(&self.ix, |s| self.rec(s), x, y, root_of) {
                    held_for_review |= f64::from(e.score) >= w.lower;
                    continue;
                }
            }
            let weak = e.class != Class::Strong;
            if (weak && contradict(&members[ra as usize], &members[rb as usize], &compare))
                || !uf.union(0, nb)
            {
                held_for_review = true;
                continue;
            }
            let root = uf.find(0);
            let other = if root == ra { rb } else { ra };
            let moved = std::mem::take(&mut members[other as usize]);
            members[root as usize].extend(moved);
        }
        let root = uf.find(0);
        let mut joined = person_node
            .iter()
            .filter(|&(_, &n)| uf.find(n) == root)
            .map(|(&p, _)| p);
        match (joined.next(), joined.next()) {
            (Some(p), None) => Probe::Linked(p),
            (Some(_), Some(_)) => Probe::Possible,
            (None, _) if held_for_review => Probe::Possible,
            (None, _) => Probe::NoMatch,
        }
    }
}

/// `Linker::contradict` over record references (the probe is no slot).
fn contradict(a: &[&Rec], b: &[&Rec], compare: &impl Fn(&Rec, &Rec) -> Verdict) -> bool {
    let (mut fn_bad, mut fn_ok, mut dob_bad, mut dob_ok) = (false, false, false, false);
    for &x in a {
        for &y in b {
            let v = compare(x, y);
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
