//! Properties of the disclosure rule over random records (the cell-key
//! method, `protect`'s module doc): the same cell gets the same value by
//! every route (grouping order, filter or group, a table's total or a
//! coarser table's cell, a panel or `Insights.Aggregate`); nothing in
//! 1..=threshold is released; and a differencing search over nested and
//! overlapping questions never narrows a withheld count below its band.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use concord_core::{PersonRole, RBKC_WARDS, RecordKind, Source};
use concord_disclosure::{
    AggregateQuery, Dimension, FactInput, FactSet, Filter, Measure, ProtectedTable, ProtectedValue,
    RecordKeys, Rule, consistent_counts,
};
use proptest::prelude::*;

fn rules() -> impl Strategy<Value = Rule> {
    (0u32..12, 1u32..11).prop_map(|(s, b)| Rule::new(s, b).unwrap())
}

const SOURCES: [Source; 3] = [Source::Police, Source::YouthJustice, Source::Housing];

fn fact(ward: usize, day: u32, person: Option<i64>, role: PersonRole) -> FactInput {
    FactInput {
        source: Source::Police,
        kind: RecordKind::Crime,
        role: Some(role),
        event_date: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
        day_precise: true,
        event_hour: Some(22),
        ward_code: Some(RBKC_WARDS[ward].0.to_owned()),
        category: None,
        weapon: None,
        location_type: None,
        age_band: None,
        sex: None,
        flag_domestic_abuse: false,
        flag_under_25: false,
        person,
    }
}

/// One random record: ward (of the first four), source (of three), day of
/// March 2026, person (of 40), record key; the person's key is a fixed
/// function of the person, as the broker's keyed hash is.
type Rec = (usize, usize, u32, i64, u8);

fn records() -> impl Strategy<Value = Vec<Rec>> {
    proptest::collection::vec(
        (0usize..4, 0usize..3, 1u32..29, 0i64..40, any::<u8>()),
        0..160,
    )
}

fn fact_set(recs: &[Rec]) -> FactSet {
    FactSet::keyed(recs.iter().map(|(w, s, d, p, k)| {
        (
            FactInput {
                source: SOURCES[*s],
                ..fact(*w, *d, Some(*p), PersonRole::Victim)
            },
            RecordKeys {
                record: *k,
                person: (*p as u8).wrapping_mul(37).wrapping_add(11),
            },
        )
    }))
}

fn march(group_by: Vec<Dimension>, measures: Vec<Measure>, filters: Vec<Filter>) -> AggregateQuery {
    AggregateQuery::new(
        group_by,
        measures,
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
        filters,
    )
    .unwrap()
}

fn wards(ix: &[usize]) -> Filter {
    Filter {
        dimension: Dimension::Ward,
        values: ix.iter().map(|i| RBKC_WARDS[*i].0.to_owned()).collect(),
    }
}

fn sources(ix: &[usize]) -> Filter {
    Filter {
        dimension: Dimension::Source,
        values: ix.iter().map(|i| SOURCES[*i].as_str().to_owned()).collect(),
    }
}

/// A rectangle of (ward, source) cells, and the least and most records
/// its released figure can stand for.
type Rect = (BTreeSet<(usize, usize)>, u64, u64);

const BOTH: [Measure; 2] = [Measure::Records, Measure::DistinctPeople];

/// Every value a table releases, totals included.
fn all_values(t: &ProtectedTable) -> Vec<ProtectedValue> {
    t.rows
        .iter()
        .flat_map(|r| r.values.iter().copied())
        .chain(t.totals.iter().copied())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Grouping order, filter versus group, total versus coarser table,
    /// and one total against another over the same records.
    #[test]
    fn the_same_cell_by_two_routes_gets_the_same_value(recs in records(), rule in rules()) {
        let facts = fact_set(&recs);
        let ws = march(vec![Dimension::Ward, Dimension::Source], BOTH.to_vec(), vec![]).answer(&facts, rule).unwrap();
        let sw = march(vec![Dimension::Source, Dimension::Ward], BOTH.to_vec(), vec![]).answer(&facts, rule).unwrap();
        let whole = march(vec![], BOTH.to_vec(), vec![]).answer(&facts, rule).unwrap();
        let by_ward = march(vec![Dimension::Ward], BOTH.to_vec(), vec![]).answer(&facts, rule).unwrap();
        prop_assert_eq!(&ws.totals, &sw.totals);
        prop_assert_eq!(&ws.totals, &whole.rows[0].values);
        prop_assert_eq!(&by_ward.totals, &whole.totals);
        for (w, (code, _)) in RBKC_WARDS.iter().enumerate().take(4) {
            let filtered = march(vec![], BOTH.to_vec(), vec![wards(&[w])]).answer(&facts, rule).unwrap();
            for (s, src) in SOURCES.iter().enumerate() {
                for m in BOTH {
                    let a = ws.get(&[code, src.as_str()], m);
                    prop_assert_eq!(a, sw.get(&[src.as_str(), code], m));
                    let by_filter = march(vec![Dimension::Ward], BOTH.to_vec(), vec![sources(&[s])])
                        .answer(&facts, rule)
                        .unwrap();
                    prop_assert_eq!(a, by_filter.get(&[code], m), "filter versus group");
                    let both_filters = march(vec![], BOTH.to_vec(), vec![wards(&[w]), sources(&[s])])
                        .answer(&facts, rule)
                        .unwrap();
                    prop_assert_eq!(a, Some(both_filters.rows[0].values[BOTH.iter().position(|x| *x == m).unwrap()]));
                }
            }
            // The ward's row of the ward table is the ward filter's answer.
            prop_assert_eq!(by_ward.rows[w].values.clone(), filtered.rows[0].values.clone());
        }
    }

    #[test]
    fn no_released_count_lies_in_the_suppressed_range(recs in records(), rule in rules()) {
        let facts = fact_set(&recs);
        for group_by in [vec![], vec![Dimension::Ward], vec![Dimension::Ward, Dimension::Source]] {
            let t = march(group_by, BOTH.to_vec(), vec![]).answer(&facts, rule).unwrap();
            for v in all_values(&t) {
                if let ProtectedValue::Released(n) = v {
                    prop_assert!(!rule.is_small(n), "released {} under threshold {}", n, rule.suppress_max);
                    prop_assert_eq!(n % u64::from(rule.rounding_base), 0);
                }
            }
        }
    }

    /// The analyst's differencing search. Every rectangle of wards ×
    /// sources (each a non-empty set of each) is asked for as filters. For
    /// each withheld single cell X, the search takes (a) every pair of
    /// rectangles whose record sets differ by exactly X (nested: one is
    /// the other plus X), and (b) every triple R1 - R2 + R3 that adds up
    /// to X (overlapping rectangles), and works out which counts of X the
    /// released figures allow, knowing the method (every count each figure
    /// can stand for, whatever its key). A pair whose larger figure is
    /// released never rules out any count of the band; a triple of
    /// released figures never pins X to one count. (Withheld figures bound
    /// what they contain: one withheld inside another says the outer holds
    /// at most the threshold less one. That much any threshold says, and
    /// only secondary suppression, which made routes disagree, could take
    /// it back.)
    #[test]
    fn differencing_never_narrows_a_withheld_cell_below_its_band(
        recs in records(),
        rule in (2u32..10, 1u32..6).prop_map(|(s, b)| Rule::new(s, b).unwrap()),
    ) {
        let facts = fact_set(&recs);
        let t = u64::from(rule.suppress_max);
        let subsets = |n: usize| (1u32..(1 << n)).map(move |m| (0..n).filter(|i| m & (1 << i) != 0).collect::<Vec<_>>());
        // Rectangle → (its cells as a set, released value's consistent counts as (lo, hi)).
        let max = 200 + 4 * rule.grid();
        let mut rects: Vec<Rect> = Vec::new();
        let mut memo = std::collections::HashMap::new();
        for ws in subsets(4) {
            for ss in subsets(3) {
                let a = march(vec![], vec![Measure::Records], vec![wards(&ws), sources(&ss)])
                    .answer(&facts, rule)
                    .unwrap();
                let v = a.rows[0].values[0];
                let c = memo.entry(v).or_insert_with(|| consistent_counts(rule, v, max)).clone();
                let cells = ws.iter().flat_map(|w| ss.iter().map(move |s| (*w, *s))).collect();
                rects.push((cells, c[0], *c.last().unwrap()));
            }
        }
        let count = |w: usize, s: usize| recs.iter().filter(|r| r.0 == w && r.1 == s).count() as u64;
        for w in 0..4 {
            for s in 0..3 {
                let b = count(w, s);
                if !rule.is_small(b) {
                    continue;
                }
                let x: BTreeSet<(usize, usize)> = [(w, s)].into();
                for (c1, lo1, hi1) in &rects {
                    if !c1.contains(&(w, s)) || *hi1 <= t {
                        continue;
                    }
                    let rest: BTreeSet<_> = c1.difference(&x).copied().collect();
                    if let Some((_, lo2, hi2)) = rects.iter().find(|r| r.0 == rest) {
                        // b = c1 - c2: every value of the band stays possible.
                        let (lo, hi) = (lo1.saturating_sub(*hi2), hi1 - lo2.min(hi1));
                        prop_assert!(lo <= 1 && hi >= t, "{:?}: pair narrows {} to {}..={}", rule, b, lo, hi);
                    }
                    // Triples: c1 - c2 + c3 = X with c2 ⊆ c1 ∪ c3.
                    for (c3, lo3, hi3) in &rects {
                        if c3.contains(&(w, s)) || !c3.is_disjoint(c1) || *hi3 <= t {
                            continue;
                        }
                        let mut union: BTreeSet<_> = rest.union(c3).copied().collect();
                        union.retain(|c| *c != (w, s));
                        if let Some((_, lo2, hi2)) = rects.iter().find(|r| r.0 == union && r.2 > t) {
                            let lo = (lo1 + lo3).saturating_sub(*hi2);
                            let hi = (hi1 + hi3).saturating_sub(*lo2);
                            prop_assert!(lo <= b && b <= hi, "the truth stays possible");
                            prop_assert!(hi.min(t) > lo.max(1), "{:?}: triple pins {} to {}..={}", rule, b, lo, hi);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn periods_must_be_whole_months() {
    let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    let q = |s, e| AggregateQuery::new(vec![], vec![Measure::Records], s, e, vec![]);
    assert!(q(d(3, 1), d(3, 31)).is_ok());
    assert!(q(d(1, 1), d(12, 31)).is_ok());
    assert!(q(d(3, 1), d(3, 30)).is_err(), "a day short of the month");
    assert!(q(d(3, 2), d(3, 31)).is_err());
    assert!(q(d(4, 1), d(3, 31)).is_err());
    let next_year = NaiveDate::from_ymd_opt(2027, 1, 31).unwrap();
    assert!(q(d(1, 1), next_year).is_err(), "thirteen months");
}

#[test]
fn people_measures_count_linked_people_and_repeat_victims() {
    let facts = FactSet::new(vec![
        // Person 1: two victim records 100 days apart (a repeat victim),
        // known to police and health.
        fact(0, 1, Some(1), PersonRole::Victim),
        FactInput {
            source: Source::Health,
            kind: RecordKind::EdAttendance,
            role: Some(PersonRole::Patient),
            event_date: NaiveDate::from_ymd_opt(2025, 11, 21).unwrap(),
            ..fact(0, 1, Some(1), PersonRole::Patient)
        },
        // Person 2: one victim record; person 3: a suspect; an ED record
        // without a person.
        fact(1, 2, Some(2), PersonRole::Victim),
        fact(1, 3, Some(3), PersonRole::Suspect),
        FactInput {
            person: None,
            source: Source::Health,
            kind: RecordKind::EdAttendance,
            ..fact(1, 4, None, PersonRole::Patient)
        },
    ]);
    let q = AggregateQuery::new(
        vec![Dimension::Ward],
        vec![
            Measure::Records,
            Measure::DistinctPeople,
            Measure::RepeatVictims,
            Measure::MultiAgencyPeople,
        ],
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
        vec![],
    )
    .unwrap();
    let t = q.answer(&facts, Rule::new(0, 1).unwrap()).unwrap();
    let row = |w: usize| -> Vec<Option<u64>> {
        let r = t
            .rows
            .iter()
            .find(|r| r.keys[0] == RBKC_WARDS[w].0)
            .unwrap();
        r.values.iter().map(|v| v.value()).collect()
    };
    // Ward 0: one record in March (the ED one was in November), person 1
    // a repeat victim; known to police only *in the period*.
    assert_eq!(row(0), [Some(1), Some(1), Some(1), Some(0)]);
    // Ward 1: three records, two people (the ED record has none).
    assert_eq!(row(1), [Some(3), Some(2), Some(0), Some(0)]);
    assert_eq!(t.rows.len(), 18, "every ward has a row");
}
