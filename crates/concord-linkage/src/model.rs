//! The Fellegi–Sunter model over field-level comparison levels, and its
//! estimation by EM without labels.
//!
//! # Field levels from keyed tokens
//!
//! The broker never sees a field, only keyed composites of two or three
//! fields. Which composites two records share says, for each of the four
//! person fields (forename, surname, date of birth, postcode), at which
//! *level* they agree: every agreeing key is evidence for each of its
//! fields at the key's level for that field (`fnd_sn` agreeing means the
//! forenames are within one edit and the surnames identical), and a field's
//! level is the best level any agreeing key shows ([`observe`]). A field
//! both records hold with no evidence is `Disagree`; a field one of them
//! lacks is not compared. So a moved postcode counts once, whatever number
//! of keys carried it.
//!
//! # The model
//!
//! Conditionally on match or non-match, the *true* levels of the fields are
//! independent, with probabilities `m` (match) and `u` (non-match) per
//! field and level, and a prior `λ` that two records match. What the broker
//! observes is a function of the true levels: a field agreeing alone is not
//! visible (no key holds one field), and a level is visible only through a
//! key whose other fields agree too. [`Model`] therefore computes, for each
//! observable pattern, the probability of every true pattern that shows as
//! it (enumerated: at most 6 × 5 × 5 × 2 true patterns per set of held
//! fields) and the match weight `log2(λ / (1 − λ)) + log2(P_m / P_u)`.
//!
//! # Estimation
//!
//! [`Model::estimate`] runs EM over *all* pairs of records: the patterns of
//! the candidate pairs (those sharing a token, enumerated by blocking) and,
//! for every set of fields two records both hold, the remaining pairs, which
//! share no token and so show no agreement. Both `m` and `u` are estimated,
//! and `λ`: with all pairs in the likelihood, `u` is the random-pair
//! estimate (as Splink takes it from a sample of random pairs) with the
//! matches' share taken out. Nothing is labelled; the model is estimated on
//! each deployment's own records and reported ([`Model::report`]).

// Fields index several parallel tables (LEVELS, m, u, a pattern's bits):
// a range over the field index reads more plainly than zipped iterators.
#![allow(clippy::needless_range_loop)]

use std::fmt::Write as _;

use concord_core::KeyName;

/// The person fields the model compares.
pub const FIELDS: [&str; 4] = ["forename", "surname", "date_of_birth", "postcode"];
const F: usize = 0;
const S: usize = 1;
const D: usize = 2;
const P: usize = 3;
/// The bit of a record class ([`record_class`]) saying it holds a date of
/// birth.
pub(crate) const HELD_DOB: u8 = 1 << D;

/// A comparison level of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Identical.
    Exact,
    /// The same canonical forename (a nickname: BILL and WILLIAM).
    Variant,
    /// One edit apart: a substitution, an insertion, a deletion or a
    /// transposition of neighbours (for a date, of one digit).
    OneEdit,
    /// One surname is a part of the other (SMITH and SMITH-JONES).
    Part,
    /// The same NYSIIS code.
    Phonetic,
    /// The same initial of the canonical forename, and nothing closer.
    Initial,
    /// Day and month transposed.
    Swap,
    /// The same year and month of birth.
    YearMonth,
    /// Both records hold the field and nothing shows it agreeing.
    Disagree,
}

impl Level {
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::Variant => "variant",
            Level::OneEdit => "one_edit",
            Level::Part => "part",
            Level::Phonetic => "phonetic",
            Level::Initial => "initial",
            Level::Swap => "day_month_swapped",
            Level::YearMonth => "year_month",
            Level::Disagree => "disagree",
        }
    }
}

/// The levels of each field, best first; the last is `Disagree`.
pub const LEVELS: [&[Level]; 4] = [
    &[
        Level::Exact,
        Level::Variant,
        Level::OneEdit,
        Level::Phonetic,
        Level::Initial,
        Level::Disagree,
    ],
    &[
        Level::Exact,
        Level::OneEdit,
        Level::Part,
        Level::Phonetic,
        Level::Disagree,
    ],
    &[
        Level::Exact,
        Level::Swap,
        Level::OneEdit,
        Level::YearMonth,
        Level::Disagree,
    ],
    &[Level::Exact, Level::Disagree],
];

/// A field not held by both records (not compared).
pub const UNKNOWN: u8 = 7;
/// Levels per field, at most (a pattern holds 3 bits per field).
const ML: usize = 8;
/// Patterns: four fields of three bits.
pub(crate) const PATTERNS: usize = 1 << 12;
/// Groups: which fields both records hold (4 bits) and whether both carry
/// mk2's keys (1 bit).
pub(crate) const GROUPS: usize = 32;

fn index_of(field: usize, level: Level) -> u8 {
    LEVELS[field]
        .iter()
        .position(|&l| l == level)
        .expect("a level of the field") as u8
}

fn disagree(field: usize) -> u8 {
    (LEVELS[field].len() - 1) as u8
}

/// The fields a key covers and the level its agreement shows for each.
pub(crate) fn evidence(k: KeyName) -> &'static [(usize, Level)] {
    use Level::*;
    match k {
        KeyName::Nhs | KeyName::Pnc => &[],
        KeyName::SnDob => &[(S, Exact), (D, Exact)],
        KeyName::FnDob => &[(F, Exact), (D, Exact)],
        KeyName::FnSn => &[(F, Exact), (S, Exact)],
        KeyName::SnPc => &[(S, Exact), (P, Exact)],
        KeyName::FnPc => &[(F, Exact), (P, Exact)],
        KeyName::DobPc => &[(D, Exact), (P, Exact)],
        KeyName::PhSnDob => &[(S, Phonetic), (D, Exact)],
        KeyName::PhFnSn => &[(F, Phonetic), (S, Exact)],
        KeyName::SnDobSwap => &[(S, Exact), (D, Swap)],
        KeyName::NamesDob => &[(F, Exact), (S, Exact), (D, Exact)],
        KeyName::FiDob => &[(F, Initial), (D, Exact)],
        KeyName::SnDelDob => &[(S, OneEdit), (D, Exact)],
        KeyName::FnDelSn => &[(F, OneEdit), (S, Exact)],
        KeyName::FnDelDob => &[(F, OneEdit), (D, Exact)],
        KeyName::DobDelSn => &[(D, OneEdit), (S, Exact)],
        KeyName::SnPartFnDob => &[(S, Part), (F, Exact), (D, Exact)],
        KeyName::CfnSnDob => &[(F, Variant), (S, Exact), (D, Exact)],
        KeyName::FiSnDob => &[(F, Initial), (S, Exact), (D, Exact)],
        KeyName::FnSnYm => &[(F, Exact), (S, Exact), (D, YearMonth)],
        KeyName::FnDobSwap => &[(F, Exact), (D, Swap)],
        KeyName::PhFnDob => &[(F, Phonetic), (D, Exact)],
        KeyName::PhSnFn => &[(S, Phonetic), (F, Exact)],
        KeyName::NamesPc => &[(F, Exact), (S, Exact), (P, Exact)],
    }
}

/// Whether a key whose field shows `role` agrees when the field's true
/// level is `truth` (the hierarchy of the levels).
fn accepts(role: Level, truth: Level) -> bool {
    use Level::*;
    truth == Exact || role == truth || (role == Initial && truth == Variant)
}

/// Which fields a record holds (a 4-bit mask) and whether it carries mk2's
/// keys, from the keys it carries.
pub(crate) fn record_class(held_keys: u32) -> u8 {
    let mut fields = 0u8;
    let mut mk2 = false;
    for k in KeyName::ALL {
        if held_keys & (1 << k.code()) != 0 {
            for (f, _) in evidence(*k) {
                fields |= 1 << f;
            }
            mk2 |= k.spec() == "mk2";
        }
    }
    fields | (u8::from(mk2) << 4)
}

/// The group of a pair: the fields both hold, and whether both carry mk2.
pub(crate) fn group_of(class_a: u8, class_b: u8) -> u8 {
    class_a & class_b
}

/// The observed pattern of a pair from the keys that agree (a bit per key
/// code) in a group: each held field's best evidenced level, `Disagree`
/// without evidence, [`UNKNOWN`] when not held by both.
pub(crate) fn observe(agree: u32, group: u8) -> u16 {
    let mut best = [u8::MAX; 4];
    for k in KeyName::ALL {
        if agree & (1 << k.code()) != 0 {
            for &(f, l) in evidence(*k) {
                best[f] = best[f].min(index_of(f, l));
            }
        }
    }
    let mut p = 0u16;
    for f in 0..4 {
        let v = if group & (1 << f) == 0 {
            UNKNOWN
        } else if best[f] == u8::MAX {
            disagree(f)
        } else {
            best[f]
        };
        p |= u16::from(v) << (3 * f);
    }
    p
}

/// The level of field `f` in a pattern, `None` when not compared.
pub fn level_in(pattern: u16, f: usize) -> Option<Level> {
    let v = ((pattern >> (3 * f)) & 7) as u8;
    (v != UNKNOWN).then(|| LEVELS[f][v as usize])
}

/// The keys a group can compare: all of their fields held by both, and
/// mk2's keys only when both records carry them.
fn available(k: KeyName, group: u8) -> bool {
    let ev = evidence(k);
    !ev.is_empty()
        && ev.iter().all(|(f, _)| group & (1 << f) != 0)
        && (k.spec() == "mk1" || group & 0x10 != 0)
}

/// The pattern observed when the true levels are `truth` (indices into
/// [`LEVELS`], [`UNKNOWN`] for fields not held by both).
fn observed_from_truth(truth: [u8; 4], group: u8) -> u16 {
    let mut agree = 0u32;
    for k in KeyName::ALL {
        if !available(*k, group) {
            continue;
        }
        let ok = evidence(*k)
            .iter()
            .all(|&(f, role)| accepts(role, LEVELS[f][truth[f] as usize]));
        if ok {
            agree |= 1 << k.code();
        }
    }
    observe(agree, group)
}

/// Every true pattern of a group, with the pattern it shows as.
fn preimages(group: u8) -> Vec<([u8; 4], u16)> {
    let mut out = Vec::new();
    let ranges: Vec<Vec<u8>> = (0..4)
        .map(|f| {
            if group & (1 << f) == 0 {
                vec![UNKNOWN]
            } else {
                (0..LEVELS[f].len() as u8).collect()
            }
        })
        .collect();
    for &a in &ranges[0] {
        for &b in &ranges[1] {
            for &c in &ranges[2] {
                for &d in &ranges[3] {
                    let t = [a, b, c, d];
                    out.push((t, observed_from_truth(t, group)));
                }
            }
        }
    }
    out
}

/// Counts of observed patterns: candidate pairs by (group, pattern), and
/// the number of pairs in each group.
#[derive(Debug, Clone)]
pub struct PatternCounts {
    pub(crate) observed: Vec<f64>,
    pub(crate) pairs: [f64; GROUPS],
}

impl Default for PatternCounts {
    fn default() -> Self {
        PatternCounts {
            observed: vec![0.0; GROUPS * PATTERNS],
            pairs: [0.0; GROUPS],
        }
    }
}

impl PatternCounts {
    pub(crate) fn add(&mut self, group: u8, pattern: u16) {
        self.observed[usize::from(group) * PATTERNS + usize::from(pattern)] += 1.0;
    }

    pub(crate) fn merge(&mut self, o: &PatternCounts) {
        for (a, b) in self.observed.iter_mut().zip(&o.observed) {
            *a += b;
        }
    }

    /// Candidate pairs counted.
    pub fn candidates(&self) -> f64 {
        self.observed.iter().sum()
    }
}

/// The model: `m` (match), `h` (another member of the same family or
/// household) and `u` (two people at random) per field and level, their
/// priors, and the match weight of every observable pattern in every group.
///
/// The household class is there because family members are the one large
/// group of non-matching pairs whose fields are *not* independent: they
/// share a surname and a postcode (and twins a date of birth) far more
/// often than the product of the chance agreements says. With two classes
/// EM takes them for matches (a "match" class of households, in which the
/// date of birth disagrees half the time); with three it gives them their
/// own, and the match class is left to the same person.
#[derive(Debug, Clone)]
pub struct Model {
    pub m: [[f64; ML]; 4],
    pub h: [[f64; ML]; 4],
    pub u: [[f64; ML]; 4],
    /// The prior that two records match.
    pub lambda: f64,
    /// The prior that two records are of one household but not one person.
    pub lambda_h: f64,
    /// EM iterations run (0: the defaults).
    pub iterations: u32,
    /// Pairs the estimate was made over (0: the defaults).
    pub pairs: f64,
    /// Candidate pairs among them.
    pub candidates: f64,
    weights: Vec<f32>,
}

const FLOOR: f64 = 1e-9;

impl Model {
    /// The model before any estimate: round figures for a partnership of
    /// about `population` people, used until enough records are held.
    pub fn defaults(population: f64) -> Model {
        let mut m = [[0.0; ML]; 4];
        let mut h = [[0.0; ML]; 4];
        let mut u = [[0.0; ML]; 4];
        // Chance agreement of one field between two different people.
        let exact_u = [0.01, 0.003, 1.0 / 20_000.0, 1.0 / 2_000.0];
        // The same within a household: surname and postcode mostly shared,
        // a forename or a date of birth rarely (children named after a
        // parent, twins).
        let exact_h = [0.03, 0.7, 0.01, 0.85];
        for f in 0..4 {
            for (i, l) in LEVELS[f].iter().enumerate() {
                let (mi, hi, ui) = match l {
                    Level::Exact => (0.88, exact_h[f], exact_u[f]),
                    Level::Disagree => (0.0, 0.0, 0.0),
                    Level::Initial => (0.01, 0.06, 0.05),
                    Level::Phonetic => (0.02, 0.01, exact_u[f] * 2.0),
                    Level::YearMonth => (0.01, 0.01, 1.0 / 700.0),
                    Level::Swap => (0.02, 0.0005, exact_u[f] * 1.5),
                    _ => (0.02, 0.005, exact_u[f] * 1.5),
                };
                m[f][i] = mi;
                h[f][i] = hi;
                u[f][i] = ui;
            }
            let last = LEVELS[f].len() - 1;
            for theta in [&mut m, &mut h, &mut u] {
                theta[f][last] = (1.0 - theta[f][..last].iter().sum::<f64>()).max(0.01);
            }
        }
        // Postcodes: people move; a match disagrees more often.
        m[P][0] = 0.75;
        m[P][1] = 0.25;
        let mut model = Model {
            m,
            h,
            u,
            lambda: 1.0 / population.max(2.0),
            lambda_h: 2.0 / population.max(2.0),
            iterations: 0,
            pairs: 0.0,
            candidates: 0.0,
            weights: Vec::new(),
        };
        model.compute_weights();
        model
    }

    /// The match weight (bits, prior included) of a pattern in a group:
    /// `log2` of the odds that the pair matches.
    #[inline]
    pub fn weight(&self, group: u8, pattern: u16) -> f64 {
        f64::from(self.weights[usize::from(group) * PATTERNS + usize::from(pattern)])
    }

    /// The match probability of a weight.
    pub fn probability(weight: f64) -> f64 {
        1.0 / (1.0 + (-weight).exp2())
    }

    fn product(theta: &[[f64; ML]; 4], t: [u8; 4]) -> f64 {
        let mut p = 1.0;
        for f in 0..4 {
            if t[f] != UNKNOWN {
                p *= theta[f][t[f] as usize];
            }
        }
        p
    }

    /// The priors of the three classes.
    fn priors(&self) -> [f64; 3] {
        [
            self.lambda,
            self.lambda_h,
            (1.0 - self.lambda - self.lambda_h).max(FLOOR),
        ]
    }

    fn thetas(&self) -> [&[[f64; ML]; 4]; 3] {
        [&self.m, &self.h, &self.u]
    }

    fn compute_weights(&mut self) {
        let [pm_, ph_, pu_] = self.priors();
        let mut w = vec![f32::NAN; GROUPS * PATTERNS];
        for g in 0..GROUPS as u8 {
            let mut pm = vec![0.0f64; PATTERNS];
            let mut ph = vec![0.0f64; PATTERNS];
            let mut pu = vec![0.0f64; PATTERNS];
            for (t, o) in preimages(g) {
                pm[usize::from(o)] += Model::product(&self.m, t);
                ph[usize::from(o)] += Model::product(&self.h, t);
                pu[usize::from(o)] += Model::product(&self.u, t);
            }
            for p in 0..PATTERNS {
                let (a, b) = if pm[p] > 0.0 || pu[p] > 0.0 || ph[p] > 0.0 {
                    (pm_ * pm[p], ph_ * ph[p] + pu_ * pu[p])
                } else {
                    // A pattern no true pattern shows as (tokens agreeing
                    // in a way the key hierarchy does not predict): the
                    // product of its levels' probabilities.
                    let mut a = pm_;
                    let mut bh = ph_;
                    let mut bu = pu_;
                    for f in 0..4 {
                        let v = (p >> (3 * f)) & 7;
                        let held = g & (1 << f) != 0;
                        if held != (v != usize::from(UNKNOWN)) || (held && v >= LEVELS[f].len()) {
                            a = f64::NAN;
                            break;
                        }
                        if held {
                            a *= self.m[f][v];
                            bh *= self.h[f][v];
                            bu *= self.u[f][v];
                        }
                    }
                    (a, bh + bu)
                };
                w[usize::from(g) * PATTERNS + p] =
                    (a.max(FLOOR * FLOOR) / b.max(FLOOR * FLOOR)).log2() as f32;
            }
        }
        self.weights = w;
    }

    /// Estimates the three classes' parameters and priors by EM from
    /// pattern counts, starting from `self`. The pairs of each group that
    /// are not candidates show no agreement (the group's all-`Disagree`
    /// pattern).
    pub fn estimate(&self, counts: &PatternCounts, max_iterations: u32) -> Model {
        let mut model = self.clone();
        // Observed counts per (group, pattern), the rest of each group's
        // pairs on its null pattern.
        let mut data: Vec<(u8, u16, f64)> = Vec::new();
        for g in 0..GROUPS as u8 {
            let null = observe(0, g);
            let mut seen = 0.0;
            for p in 0..PATTERNS {
                let n = counts.observed[usize::from(g) * PATTERNS + p];
                if n > 0.0 {
                    seen += n;
                    if p as u16 != null {
                        data.push((g, p as u16, n));
                    }
                }
            }
            let rest = counts.pairs[usize::from(g)]
                - (seen - counts.observed[usize::from(g) * PATTERNS + usize::from(null)]);
            if rest > 0.0 {
                data.push((g, null, rest));
            }
        }
        let total: f64 = data.iter().map(|d| d.2).sum();
        if total <= 0.0 {
            return model;
        }
        let pre: Vec<Vec<([u8; 4], u16)>> = (0..GROUPS as u8).map(preimages).collect();
        // Each observed pattern with the true patterns that show as it.
        let rows: Vec<(f64, Vec<[u8; 4]>)> = data
            .iter()
            .map(|&(g, p, n)| {
                let ts = pre[usize::from(g)]
                    .iter()
                    .filter(|(_, o)| *o == p)
                    .map(|(t, _)| *t)
                    .collect();
                (n, ts)
            })
            .collect();
        // The defaults: pseudo-counts for m, floors for u (computed once).
        let defaults = Model::defaults(1.0 / self.lambda);
        let prior_m = defaults.m;
        for it in 0..max_iterations {
            let mut counts = [[[0.0f64; ML]; 4]; 3];
            let mut mass = [0.0f64; 3];
            let priors = model.priors();
            let thetas = model.thetas().map(|t| *t);
            for (n, ts) in &rows {
                let n = *n;
                let mut pc = [0.0f64; 3];
                for t in ts {
                    for c in 0..3 {
                        pc[c] += Model::product(&thetas[c], *t);
                    }
                }
                let joint: [f64; 3] = std::array::from_fn(|c| priors[c] * pc[c]);
                let sum: f64 = joint.iter().sum();
                if sum <= 0.0 {
                    continue;
                }
                for c in 0..3 {
                    let r = joint[c] / sum;
                    mass[c] += n * r;
                    if pc[c] <= 0.0 {
                        continue;
                    }
                    for t in ts {
                        let wt = n * r * Model::product(&thetas[c], *t) / pc[c];
                        for f in 0..4 {
                            if t[f] != UNKNOWN {
                                counts[c][f][t[f] as usize] += wt;
                            }
                        }
                    }
                }
            }
            // A level the deployment's records never show keeps a small
            // share of m: pseudo-counts of the defaults, worth 5% of the
            // matches (at least 20 pairs). Without them a level unseen in
            // training (say, no date of birth one digit off) would weigh
            // less than disagreement.
            let pseudo = (mass[0] * 0.05).max(20.0);
            for f in 0..4 {
                for (i, c) in counts[0][f][..LEVELS[f].len()].iter_mut().enumerate() {
                    *c += pseudo * prior_m[f][i];
                }
            }
            let mut change = 0.0f64;
            for f in 0..4 {
                let levels = LEVELS[f].len();
                // A household member is another person: the household
                // class's forename and date of birth stay as the defaults
                // say (twins and children named after a parent are rare);
                // EM estimates its surname and postcode only. Left free,
                // it becomes a second match class (on FEBRL, which has no
                // households, it took the matches with typos).
                let household = if f == F || f == D {
                    None
                } else {
                    Some((&mut model.h, &counts[1]))
                };
                for (theta, c) in [
                    Some((&mut model.m, &counts[0])),
                    household,
                    Some((&mut model.u, &counts[2])),
                ]
                .into_iter()
                .flatten()
                {
                    let sum: f64 = c[f][..levels].iter().sum();
                    if sum <= 0.0 {
                        continue;
                    }
                    for i in 0..levels {
                        let v = (c[f][i] / sum).max(FLOOR);
                        change = change.max((v - theta[f][i]).abs() / theta[f][i].max(1e-6));
                        theta[f][i] = v;
                    }
                }
            }
            let lambda = (mass[0] / total).clamp(FLOOR, 0.5);
            let lambda_h = (mass[1] / total).clamp(FLOOR, 0.5);
            change = change.max((lambda - model.lambda).abs() / model.lambda);
            model.lambda = lambda;
            model.lambda_h = lambda_h;
            model.iterations = it + 1;
            if change < 1e-5 {
                break;
            }
        }
        // A chance agreement is never taken as rarer than a fifth of the
        // default: an estimate near zero comes from too few pairs agreeing
        // on the field and another by chance (a small deployment), not from
        // a field that never agrees by chance.
        for f in 0..4 {
            let last = LEVELS[f].len() - 1;
            for i in 0..last {
                model.u[f][i] = model.u[f][i].max(defaults.u[f][i] * 0.2);
            }
            model.u[f][last] = 1.0 - model.u[f][..last].iter().sum::<f64>();
        }
        model.pairs = total;
        model.candidates = counts.candidates();
        model.monotone();
        model.compute_weights();
        model
    }

    /// A level closer than disagreement never weighs less than it: where
    /// the estimate says otherwise (a level too rare in the records to be
    /// estimated), its `m` is raised to disagreement's ratio.
    fn monotone(&mut self) {
        for f in 0..4 {
            let d = LEVELS[f].len() - 1;
            let floor = self.m[f][d] / self.u[f][d];
            for i in 0..d {
                if self.m[f][i] / self.u[f][i] < floor {
                    self.m[f][i] = self.u[f][i] * floor;
                }
            }
        }
    }

    /// The estimates as a table: per field and level, `m`, `h`, `u` and
    /// the weight `log2(m / u)`.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "model: λ = {:.3e} (prior {:.1} bits), household λ = {:.3e}, {} EM iterations over {:.3e} pairs ({:.0} candidates)",
            self.lambda,
            (self.lambda / (1.0 - self.lambda)).log2(),
            self.lambda_h,
            self.iterations,
            self.pairs,
            self.candidates
        );
        let _ = writeln!(s, "| field | level | m | household | u | log2(m/u) |");
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for f in 0..4 {
            for (i, l) in LEVELS[f].iter().enumerate() {
                let (m, h, u) = (self.m[f][i], self.h[f][i], self.u[f][i]);
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.4} | {:.4} | {:.3e} | {:+.1} |",
                    FIELDS[f],
                    l.as_str(),
                    m,
                    h,
                    u,
                    (m / u).log2()
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(keys: &[KeyName]) -> u32 {
        keys.iter().fold(0, |m, k| m | 1 << k.code())
    }

    const ALL_MK2: u8 = 0x1f;

    #[test]
    fn a_moved_postcode_counts_once() {
        // Same forename, surname, date of birth; postcodes differ.
        let agree = bits(&[
            KeyName::FnSn,
            KeyName::FnDob,
            KeyName::SnDob,
            KeyName::NamesDob,
        ]);
        let p = observe(agree, ALL_MK2);
        assert_eq!(level_in(p, F), Some(Level::Exact));
        assert_eq!(level_in(p, S), Some(Level::Exact));
        assert_eq!(level_in(p, D), Some(Level::Exact));
        assert_eq!(level_in(p, P), Some(Level::Disagree));
    }

    #[test]
    fn tolerant_keys_show_their_level() {
        let p = observe(bits(&[KeyName::FnDelSn, KeyName::FnDelDob]), ALL_MK2);
        assert_eq!(level_in(p, F), Some(Level::OneEdit));
        assert_eq!(level_in(p, S), Some(Level::Exact));
        let p = observe(bits(&[KeyName::DobDelSn]), 0x07 | 0x10);
        assert_eq!(level_in(p, D), Some(Level::OneEdit));
        assert_eq!(level_in(p, F), Some(Level::Disagree));
        assert_eq!(level_in(p, P), None, "postcode not held by both");
    }

    #[test]
    fn the_truth_shows_through_the_keys() {
        // Surname one edit off, postcode moved: the forename and the date
        // of birth still show exact, the surname one edit.
        let t = [0, index_of(S, Level::OneEdit), 0, disagree(P)];
        let p = observed_from_truth(t, ALL_MK2);
        assert_eq!(level_in(p, S), Some(Level::OneEdit));
        assert_eq!(level_in(p, F), Some(Level::Exact));
        assert_eq!(level_in(p, P), Some(Level::Disagree));
        // One field agreeing alone shows nothing.
        let t = [0, disagree(S), disagree(D), disagree(P)];
        assert_eq!(observed_from_truth(t, ALL_MK2), observe(0, ALL_MK2));
    }

    #[test]
    fn em_recovers_the_generating_parameters() {
        // Pairs drawn from known m, u and λ, observed through the keys:
        // EM from the defaults lands near the truth.
        use rand::{Rng, SeedableRng};
        let mut truth = Model::defaults(10_000.0);
        truth.m[F] = [0.85, 0.03, 0.05, 0.02, 0.01, 0.04, 0.0, 0.0];
        truth.m[S] = [0.88, 0.05, 0.01, 0.02, 0.04, 0.0, 0.0, 0.0];
        truth.m[D] = [0.9, 0.02, 0.05, 0.01, 0.02, 0.0, 0.0, 0.0];
        truth.m[P] = [0.7, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        truth.u[F] = [0.02, 0.001, 0.01, 0.01, 0.05, 0.909, 0.0, 0.0];
        truth.u[S] = [0.01, 0.005, 0.001, 0.01, 0.974, 0.0, 0.0, 0.0];
        truth.u[D] = [1e-3, 1e-4, 5e-3, 2e-2, 0.9739, 0.0, 0.0, 0.0];
        truth.u[P] = [2e-2, 0.98, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let lambda = 2e-3;
        let lambda_h = 4e-3;
        truth.h[S] = [0.8, 0.0, 0.05, 0.0, 0.15, 0.0, 0.0, 0.0];
        truth.h[P] = [0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let draw = |rng: &mut rand_chacha::ChaCha8Rng, theta: &[f64; ML], n: usize| -> u8 {
            let x: f64 = rng.random();
            let mut acc = 0.0;
            for (i, p) in theta[..n].iter().enumerate() {
                acc += p;
                if x < acc {
                    return i as u8;
                }
            }
            (n - 1) as u8
        };
        let mut counts = PatternCounts::default();
        let pairs = 2_000_000usize;
        let g = ALL_MK2;
        let null = observe(0, g);
        let mut candidates = 0.0;
        for _ in 0..pairs {
            // Three classes, as the model assumes: the household class's
            // forename and date of birth are its defaults.
            let x = rng.random::<f64>();
            let theta = if x < lambda {
                &truth.m
            } else if x < lambda + lambda_h {
                &truth.h
            } else {
                &truth.u
            };
            let mut t = [0u8; 4];
            for f in 0..4 {
                t[f] = draw(&mut rng, &theta[f], LEVELS[f].len());
            }
            let o = observed_from_truth(t, g);
            if o != null {
                counts.add(g, o);
                candidates += 1.0;
            }
        }
        counts.pairs[usize::from(g)] = pairs as f64;
        assert!(candidates > 1000.0);
        let est = Model::defaults(10_000.0).estimate(&counts, 500);
        assert!(
            (est.lambda / lambda - 1.0).abs() < 0.15,
            "λ {} against {lambda}",
            est.lambda
        );
        for f in 0..4 {
            let e = est.m[f][0];
            assert!(
                (e - truth.m[f][0]).abs() < 0.05,
                "m exact of {}: {e} against {}",
                FIELDS[f],
                truth.m[f][0]
            );
        }
        // The household prior is seen only through surname and postcode
        // agreeing together (its other fields are fixed): it is the least
        // well determined, within a factor of two.
        assert!(
            (est.lambda_h / lambda_h).log2().abs() < 1.0,
            "household λ {} against {lambda_h}",
            est.lambda_h
        );
        // What the pairs do determine: the share of pairs that are
        // households agreeing on both surname and postcode.
        let shared = |m: &Model, l: f64| l * m.h[S][0] * m.h[P][0];
        let (e, t) = (shared(&est, est.lambda_h), shared(&truth, lambda_h));
        assert!(
            (e / t - 1.0).abs() < 0.25,
            "households sharing surname and postcode: {e} against {t}"
        );
        // The exact-agreement chance of the names and date of birth.
        for f in [F, S, D] {
            let (e, t) = (est.u[f][0], truth.u[f][0]);
            assert!(
                (e / t - 1.0).abs() < 0.3,
                "u exact of {}: {e} against {t}",
                FIELDS[f]
            );
        }
    }
}
