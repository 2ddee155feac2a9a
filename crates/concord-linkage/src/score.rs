//! Comparing two records: the three tiers of DESIGN §2.
//!
//! The six pair keys of `mk1` are the six pairs of four fields (forename,
//! surname, date of birth, postcode). Their phonetic and day/month-swapped
//! variants say the same thing as the exact key, more weakly, so each field
//! pair is one *slot*: it scores the best of its agreeing variants, or one
//! disagreement penalty if none agrees. Summing the variants as if they were
//! independent would count one surname agreement up to three times.

use concord_core::KeyName;

use crate::{
    config::{LinkConfig, NK},
    linker::{Index, NONE, Rec},
};

/// How a pair of records relates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    /// Same pseudonym on a strong key and no strong key differs.
    Strong = 0,
    /// Forename, surname and date of birth identical (two exact pair keys
    /// among fn_sn, fn_dob, sn_dob agree, or names_dob agrees: the names
    /// swapped) and no strong key differs.
    Deterministic = 1,
    /// Fellegi–Sunter score at or above `upper`, with agreement on the
    /// forename and on the date of birth wherever both records hold them,
    /// and no strong key differs.
    Scored = 2,
    /// For review: score between `lower` and `upper`, or above `upper`
    /// while both records hold a forename (or a date of birth) that does not
    /// agree, or a strong key agrees while the other strong key differs.
    Possible = 3,
}

/// Per-run weight tables (frequencies change as records come and go).
pub(crate) struct Weights {
    /// log2(m_k) + log2(max(N_k, min_population)).
    agree_base: [f64; NK],
    /// log2(1 - m_k).
    disagree: [f64; NK],
    /// log2(count) for counts up to the cap (empty: computed when needed).
    log_count: Vec<f64>,
    pub(crate) cap: usize,
    pub(crate) upper: f64,
    pub(crate) lower: f64,
}

impl Weights {
    pub(crate) fn new(ix: &Index, cfg: &LinkConfig) -> Weights {
        let mut w = Weights::base(ix, cfg, &[0; NK]);
        w.log_count = (0..=cfg.frequent_token_cap.max(1))
            .map(|c| (c.max(1) as f64).log2())
            .collect();
        w
    }

    /// The weights as if one more record carried each key `extra` counts
    /// (a probe: the record it asks about is not in the index). Without
    /// the table of `log2(count)`: a probe computes the few it needs.
    pub(crate) fn with_extra(ix: &Index, cfg: &LinkConfig, extra: &[u64; NK]) -> Weights {
        let mut w = Weights::base(ix, cfg, extra);
        w.log_count = Vec::new();
        w
    }

    fn base(ix: &Index, cfg: &LinkConfig, extra: &[u64; NK]) -> Weights {
        let mut agree_base = [0.0; NK];
        let mut disagree = [0.0; NK];
        for k in KeyName::ALL {
            let i = k.code() as usize;
            let m = cfg.m[i].clamp(1e-6, 1.0 - 1e-6);
            let n = ((ix.key_n[i] + extra[i]) as f64)
                .max(cfg.min_population)
                .max(1.0);
            agree_base[i] = m.log2() + n.log2();
            disagree[i] = (1.0 - m).log2();
        }
        Weights {
            agree_base,
            disagree,
            log_count: Vec::new(),
            cap: cfg.frequent_token_cap,
            upper: cfg.upper,
            lower: cfg.lower,
        }
    }

    /// Agreement weight `log2(m / u)`, `u = count / N`: a value carried by
    /// few records is strong evidence. Never negative.
    #[inline]
    pub(crate) fn agree(&self, k: KeyName, count: usize) -> f64 {
        let c = count.min(self.cap);
        let log = match self.log_count.get(c) {
            Some(&l) => l,
            None => (c.max(1) as f64).log2(),
        };
        (self.agree_base[k.code() as usize] - log).max(0.0)
    }

    #[inline]
    pub(crate) fn disagree(&self, k: KeyName) -> f64 {
        self.disagree[k.code() as usize]
    }
}

const FORENAME_KEYS: [KeyName; 4] = [
    KeyName::FnSn,
    KeyName::PhFnSn,
    KeyName::FnDob,
    KeyName::FnPc,
];
const DOB_KEYS: [KeyName; 5] = [
    KeyName::SnDob,
    KeyName::PhSnDob,
    KeyName::SnDobSwap,
    KeyName::FnDob,
    KeyName::DobPc,
];

enum Cmp {
    Agree(f64),
    Disagree,
    Missing,
}

/// A comparison's result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verdict {
    pub(crate) class: Option<Class>,
    pub(crate) score: f64,
    /// The two records cannot be one person on the evidence: a strong key
    /// differs, or both hold a forename (or a date of birth) and it does not
    /// agree in any form.
    pub(crate) contradicts: bool,
    pub(crate) strong_conflict: bool,
    /// Forename: agrees (in some form), contradicts, or not comparable.
    pub(crate) forename: Field,
    /// Date of birth, likewise.
    pub(crate) dob: Field,
}

/// What a comparison says about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Agrees,
    Contradicts,
    Unknown,
}

#[inline]
fn key(r: &Rec, k: KeyName) -> u32 {
    r.keys[k.code() as usize]
}

pub(crate) fn compare(a: &Rec, b: &Rec, ix: &Index, w: &Weights) -> Verdict {
    compare_with(a, b, w, |t| ix.postings[t as usize].len())
}

/// [`compare`] with the number of records carrying each token id given by
/// `count` (never called with `NONE`): a probe counts the record it asks
/// about, which is not in the index.
#[inline]
pub(crate) fn compare_with(a: &Rec, b: &Rec, w: &Weights, count: impl Fn(u32) -> usize) -> Verdict {
    // A token is usable unless absent or placeholder-like.
    let usable = |t: u32| t != NONE && count(t) <= w.cap;
    let cmp = |k: KeyName| -> Cmp {
        let (x, y) = (key(a, k), key(b, k));
        if !usable(x) || !usable(y) {
            Cmp::Missing
        } else if x == y {
            Cmp::Agree(w.agree(k, count(x)))
        } else {
            Cmp::Disagree
        }
    };
    // Strong keys.
    let mut strong_agree = false;
    let mut strong_conflict = false;
    for k in [KeyName::Nhs, KeyName::Pnc] {
        match cmp(k) {
            Cmp::Agree(_) => strong_agree = true,
            Cmp::Disagree => strong_conflict = true,
            Cmp::Missing => {}
        }
    }

    let mut score = 0.0;
    let mut fn_ev = false;
    let mut dob_ev = false;
    let mut exact = 0u32;

    // surname · date of birth: exact, phonetic, or day/month swapped.
    {
        let e = cmp(KeyName::SnDob);
        let p = cmp(KeyName::PhSnDob);
        let mut best: Option<f64> = None;
        if let Cmp::Agree(x) = e {
            best = Some(x);
            exact += 1;
        }
        if let Cmp::Agree(x) = p {
            best = Some(best.map_or(x, |b: f64| b.max(x)));
        }
        // mk1's sn_dobswap is the surname with the unordered pair {date,
        // date with day and month swapped}: equal when the dates are equal
        // or transposed.
        if let Cmp::Agree(x) = cmp(KeyName::SnDobSwap) {
            best = Some(best.map_or(x, |b: f64| b.max(x)));
        }
        match (best, e, p) {
            (Some(x), _, _) => {
                score += x;
                dob_ev = true;
            }
            (None, Cmp::Disagree, _) => score += w.disagree(KeyName::SnDob),
            (None, Cmp::Missing, Cmp::Disagree) => score += w.disagree(KeyName::PhSnDob),
            _ => {}
        }
    }
    // forename · surname: exact or phonetic forename.
    {
        let e = cmp(KeyName::FnSn);
        let p = cmp(KeyName::PhFnSn);
        match (e, p) {
            (Cmp::Agree(x), Cmp::Agree(y)) => {
                score += x.max(y);
                fn_ev = true;
                exact += 1;
            }
            (Cmp::Agree(x), _) => {
                score += x;
                fn_ev = true;
                exact += 1;
            }
            (_, Cmp::Agree(y)) => {
                score += y;
                fn_ev = true;
            }
            (Cmp::Disagree, _) => score += w.disagree(KeyName::FnSn),
            (Cmp::Missing, Cmp::Disagree) => score += w.disagree(KeyName::PhFnSn),
            _ => {}
        }
    }
    // mk1's fi_dob: the initial of the canonical forename (nicknames
    // resolved) with the date of birth. A variant of the fn_dob slot for a
    // forename with a typo or a nickname: evidence that forename and date
    // of birth agree, never an exact agreement. It scores only when fn_dob
    // does not agree; its disagreement adds nothing to fn_dob's.
    if !matches!(cmp(KeyName::FnDob), Cmp::Agree(_))
        && let Cmp::Agree(x) = cmp(KeyName::FiDob)
    {
        score += x;
        fn_ev = true;
        dob_ev = true;
    }
    for (k, f, d) in [
        (KeyName::FnDob, true, true),
        (KeyName::SnPc, false, false),
        (KeyName::FnPc, true, false),
        (KeyName::DobPc, false, true),
    ] {
        match cmp(k) {
            Cmp::Agree(x) => {
                score += x;
                fn_ev |= f;
                dob_ev |= d;
                if k == KeyName::FnDob {
                    exact += 1;
                }
            }
            Cmp::Disagree => score += w.disagree(k),
            Cmp::Missing => {}
        }
    }

    // mk1's names_dob: forename and surname as an unordered pair, with the
    // date of birth. It adds nothing when fn_dob and sn_dob both agree; when
    // they do not, it means the names were recorded the wrong way round:
    // forename, surname and date of birth are still identical.
    if exact < 2
        && let Cmp::Agree(x) = cmp(KeyName::NamesDob)
    {
        score += x;
        fn_ev = true;
        dob_ev = true;
        exact = 2;
    }

    // Whether both records hold a key that involves the field.
    let comparable =
        |keys: &[KeyName]| keys.iter().any(|&k| usable(key(a, k)) && usable(key(b, k)));
    let field = |ev: bool, keys: &[KeyName]| {
        if ev {
            Field::Agrees
        } else if comparable(keys) {
            Field::Contradicts
        } else {
            Field::Unknown
        }
    };
    let forename = field(fn_ev, &FORENAME_KEYS);
    let dob = field(dob_ev, &DOB_KEYS);
    let contradicts =
        strong_conflict || forename == Field::Contradicts || dob == Field::Contradicts;
    let class = if strong_conflict {
        strong_agree.then_some(Class::Possible)
    } else if strong_agree {
        Some(Class::Strong)
    } else if exact >= 2 {
        Some(Class::Deterministic)
    } else if score >= w.upper
        && (fn_ev || !comparable(&FORENAME_KEYS))
        && (dob_ev || !comparable(&DOB_KEYS))
    {
        Some(Class::Scored)
    } else if score >= w.lower {
        Some(Class::Possible)
    } else {
        None
    };
    Verdict {
        class,
        score,
        contradicts,
        strong_conflict,
        forename,
        dob,
    }
}
