//! Comparing two records: the tiers of DESIGN §2 over the field levels of
//! [`crate::model`].

use concord_core::KeyName;

use crate::{
    config::NK,
    linker::{Index, NONE, Rec},
    model::{Level, Model, level_in, observe},
};

/// How a pair of records relates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    /// Same pseudonym on a strong key and no strong key differs.
    Strong = 0,
    /// Forename, surname and date of birth identical (the names possibly
    /// the wrong way round) and no strong key differs.
    Deterministic = 1,
    /// Match weight at or above `upper`, not the twins pattern nor the
    /// same name with another date of birth, and no strong key differs.
    Scored = 2,
    /// Below `upper`, forename and surname identical (the `fn_sn`
    /// pseudonym shared) and the date of birth not compared (one record
    /// lacks it): linked only when the name is *the other record's alone*
    /// (the sole-bearer rule, `Linker::sole_bearer`), otherwise treated by
    /// its weight as any other pair.
    Named = 3,
    /// For review: weight between `lower` and `upper`, or above `upper`
    /// in the twins or parent-and-child pattern, or a strong key agrees
    /// while the other strong key differs.
    Possible = 4,
}

/// What the scoring of one run needs: the model and the thresholds.
pub(crate) struct Scorer {
    pub(crate) model: std::sync::Arc<Model>,
    pub(crate) cap: usize,
    pub(crate) upper: f64,
    pub(crate) lower: f64,
}

/// A comparison's result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verdict {
    pub(crate) class: Option<Class>,
    /// Match weight (bits, prior included).
    pub(crate) score: f64,
    /// The observed field levels ([`crate::model::observe`]).
    pub(crate) pattern: u16,
    /// The two records cannot be one person on the evidence: a strong key
    /// differs, or they look like twins (surname, date of birth and
    /// postcode identical, the forename not agreeing closer than an
    /// initial), or like a parent and child of one name (forename and
    /// surname identical, the date of birth not agreeing in any form).
    pub(crate) contradicts: bool,
    pub(crate) strong_conflict: bool,
    /// Forename: agrees (closer than an initial), contradicts (the twins
    /// pattern), or neither.
    pub(crate) forename: Field,
    /// Date of birth: agrees in some form, contradicts (the same name
    /// with another date), or neither.
    pub(crate) dob: Field,
}

/// What a comparison says about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Agrees,
    Contradicts,
    Unknown,
}

pub(crate) fn compare(a: &Rec, b: &Rec, ix: &Index, sc: &Scorer) -> Verdict {
    compare_with(
        a,
        b,
        sc,
        |t| ix.postings[t as usize].len(),
        |t| ix.key_of[t as usize],
    )
}

/// The keys on which `a` and `b` agree (a bit per key code), counting only
/// usable tokens; `count` gives the records carrying a token id and
/// `key_of` its key code.
#[inline]
pub(crate) fn agreement(
    a: &Rec,
    b: &Rec,
    cap: usize,
    count: impl Fn(u32) -> usize,
    key_of: impl Fn(u32) -> u8,
) -> u32 {
    let usable = |t: u32| t != NONE && count(t) <= cap;
    let mut agree = 0u32;
    for i in 1..NK {
        let (x, y) = (a.keys[i], b.keys[i]);
        if x == y && usable(x) {
            agree |= 1 << i;
        }
    }
    // Multi-token keys: sorted token ids; a shared id is an agreement on
    // its key (token ids are per key: the key name is in the message).
    let (mut i, mut j) = (0, 0);
    let (ma, mb) = (&a.multi, &b.multi);
    while i < ma.len() && j < mb.len() {
        match ma[i].cmp(&mb[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let t = ma[i];
                if usable(t) {
                    agree |= 1 << key_of(t);
                }
                i += 1;
                j += 1;
            }
        }
    }
    agree
}

/// The least weight (bits) of a [`Class::Named`] pair: its other
/// evidence (the postcode) must not speak against it more than this.
pub(crate) const NAMED_MIN_WEIGHT: f64 = 0.0;

const fn bit(k: KeyName) -> u32 {
    1 << k.code()
}

/// [`compare`] with the number of records carrying each token id given by
/// `count` and its key by `key_of`: a probe counts the record it asks
/// about, which is not in the index.
#[inline]
pub(crate) fn compare_with(
    a: &Rec,
    b: &Rec,
    sc: &Scorer,
    count: impl Fn(u32) -> usize,
    key_of: impl Fn(u32) -> u8,
) -> Verdict {
    let agree = agreement(a, b, sc.cap, &count, key_of);
    let usable = |t: u32| t != NONE && count(t) <= sc.cap;
    let mut strong_agree = false;
    let mut strong_conflict = false;
    for k in [KeyName::Nhs, KeyName::Pnc] {
        let i = k.code() as usize;
        if agree & bit(k) != 0 {
            strong_agree = true;
        } else if usable(a.keys[i]) && usable(b.keys[i]) {
            strong_conflict = true;
        }
    }
    let group = crate::model::group_of(a.class, b.class);
    let pattern = observe(agree, group);
    let score = sc.model.weight(group, pattern);
    let (fl, sl, dl) = (
        level_in(pattern, 0),
        level_in(pattern, 1),
        level_in(pattern, 2),
    );
    let pl = level_in(pattern, 3);
    let exact = |l: Option<Level>| l == Some(Level::Exact);
    // Twins share surname, date of birth and address: a forename that
    // differs (or shares only its initial) against all three identical is
    // what tells them apart, so such a pair is never linked by score.
    let twins =
        matches!(fl, Some(Level::Disagree | Level::Initial)) && exact(sl) && exact(dl) && exact(pl);
    // A parent and a child of one name: forename and surname identical, the
    // date of birth not agreeing in any form.
    let same_name_other_dob = exact(fl) && exact(sl) && dl == Some(Level::Disagree);
    let forename = match fl {
        None => Field::Unknown,
        Some(_) if twins => Field::Contradicts,
        Some(Level::Disagree | Level::Initial) => Field::Unknown,
        Some(_) => Field::Agrees,
    };
    let dob = match dl {
        None => Field::Unknown,
        Some(_) if same_name_other_dob => Field::Contradicts,
        Some(Level::Disagree) => Field::Unknown,
        Some(_) => Field::Agrees,
    };
    let identical = exact(fl) && exact(sl) && exact(dl);
    // A surname and a postcode are what a household shares: a scored link
    // needs the forename or the date of birth to agree as well.
    let personal = matches!(
        fl,
        Some(Level::Exact | Level::Variant | Level::OneEdit | Level::Phonetic)
    ) || matches!(
        dl,
        Some(Level::Exact | Level::Swap | Level::OneEdit | Level::YearMonth)
    );
    let contradicts =
        strong_conflict || forename == Field::Contradicts || dob == Field::Contradicts;
    let class = if strong_conflict {
        // Different NHS numbers or PNC ids: never linked; for review if a
        // strong key agrees too, or if everything else says one person
        // (a mistyped number is more likely than two people identical on
        // every other field).
        (strong_agree || (identical && score >= sc.upper)).then_some(Class::Possible)
    } else if strong_agree {
        Some(Class::Strong)
    } else if identical {
        Some(Class::Deterministic)
    } else if score >= sc.upper
        && personal
        && forename != Field::Contradicts
        && dob != Field::Contradicts
    {
        Some(Class::Scored)
    } else if agree & bit(KeyName::FnSn) != 0 && dl.is_none() && score >= NAMED_MIN_WEIGHT {
        Some(Class::Named)
    } else if score >= sc.lower {
        Some(Class::Possible)
    } else {
        None
    };
    Verdict {
        class,
        score,
        pattern,
        contradicts,
        strong_conflict,
        forename,
        dob,
    }
}
