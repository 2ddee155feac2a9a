//! Properties of the disclosure rule, over random tables and random
//! records: nothing small is released, released counts are multiples of the
//! base, totals are the sums of what is released, the same question always
//! gets the same answer, and differencing recovers nothing.

use chrono::NaiveDate;
use concord_core::{PersonRole, RBKC_WARDS, RecordKind, Source};
use concord_disclosure::{
    AggregateQuery, Dimension, FactInput, FactSet, Filter, Measure, ProtectedTable, ProtectedValue,
    RawTable, Rule, protect,
};
use proptest::prelude::*;

fn rules() -> impl Strategy<Value = Rule> {
    (0u32..12, 1u32..11).prop_map(|(s, b)| Rule::new(s, b).unwrap())
}

/// A full `rows` × `cols` grid (a 1-D table when `cols` is 1), with many
/// small counts and zeros.
fn tables() -> impl Strategy<Value = RawTable> {
    (1usize..7, 1usize..5).prop_flat_map(|(rows, cols)| {
        let count = prop_oneof![3 => 0u64..10, 2 => 0u64..60, 1 => 0u64..1000];
        proptest::collection::vec(count, rows * cols).prop_map(move |v| {
            let two = cols > 1;
            RawTable {
                group_by: if two {
                    vec![Dimension::Ward, Dimension::Sex]
                } else {
                    vec![Dimension::Ward]
                },
                measures: vec![Measure::Records],
                rows: v
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let mut keys = vec![format!("w{}", i / cols)];
                        if two {
                            keys.push(format!("s{}", i % cols));
                        }
                        (keys, vec![*n])
                    })
                    .collect(),
            }
        })
    })
}

fn column(t: &ProtectedTable) -> Vec<ProtectedValue> {
    t.rows.iter().map(|r| r.values[0]).collect()
}

/// The lines of a grid table: rows and columns.
fn lines(raw: &RawTable) -> Vec<Vec<usize>> {
    let dims = raw.group_by.len();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for d in 0..dims {
        let mut groups: std::collections::BTreeMap<Vec<String>, Vec<usize>> = Default::default();
        for (i, (k, _)) in raw.rows.iter().enumerate() {
            let mut rest = k.clone();
            rest.remove(d);
            groups.entry(rest).or_default().push(i);
        }
        out.extend(groups.into_values());
    }
    out
}

/// What an attacker who knows the rule can say about the count behind a
/// released value: every count that is released as `v`.
fn preimage(rule: Rule, v: u64) -> std::ops::RangeInclusive<u64> {
    let xs: Vec<u64> = (0..=v + u64::from(rule.rounding_base) + u64::from(rule.suppress_max))
        .filter(|x| !rule.is_small(*x) && rule.release(*x) == v)
        .collect();
    *xs.first().unwrap()..=*xs.last().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_small_is_released_and_every_release_is_a_multiple(raw in tables(), rule in rules()) {
        let p = protect(&raw, rule);
        for (v, (_, c)) in column(&p).iter().zip(&raw.rows) {
            if rule.is_small(c[0]) {
                prop_assert_eq!(*v, ProtectedValue::Suppressed);
            }
            if let ProtectedValue::Released(n) = v {
                prop_assert!(!rule.is_small(*n), "released {} under threshold {}", n, rule.suppress_max);
                prop_assert_eq!(n % u64::from(rule.rounding_base), 0);
                prop_assert_eq!(*n == 0, c[0] == 0);
            }
        }
    }

    #[test]
    fn totals_are_the_sums_of_the_released_cells(raw in tables(), rule in rules()) {
        let p = protect(&raw, rule);
        let sum: u64 = column(&p).iter().filter_map(|v| v.value()).sum();
        prop_assert_eq!(p.totals.clone(), vec![ProtectedValue::Released(sum)]);
    }

    #[test]
    fn the_same_table_always_gets_the_same_answer(raw in tables(), rule in rules()) {
        prop_assert_eq!(protect(&raw, rule), protect(&raw.clone(), rule));
    }

    /// A line with a single withheld cell has nothing else but zeros, so
    /// its sum is that cell (withheld in the coarser table when small).
    #[test]
    fn a_lone_withheld_cell_has_only_zeros_beside_it(raw in tables(), rule in rules()) {
        let p = protect(&raw, rule);
        let v = column(&p);
        for line in lines(&raw) {
            let hidden = line.iter().filter(|i| v[**i].is_suppressed()).count();
            if hidden == 1 {
                for i in &line {
                    prop_assert!(
                        v[*i].is_suppressed() || raw.rows[*i].1[0] == 0,
                        "line {:?} of {:?}", line, v
                    );
                }
            }
        }
    }

    /// Zeros are released as zeros, never withheld.
    #[test]
    fn zeros_are_released(raw in tables(), rule in rules()) {
        let p = protect(&raw, rule);
        for (v, (_, c)) in column(&p).iter().zip(&raw.rows) {
            if c[0] == 0 {
                prop_assert_eq!(*v, ProtectedValue::Released(0));
            }
        }
    }

    /// Differencing a total against its visible parts: an attacker holds
    /// the line's sum as published by the coarser table (itself protected)
    /// and the line's released cells, and knows the rule. For every line
    /// and every cell withheld by the primary rule, the counts consistent
    /// with all of that still include more than one value.
    #[test]
    fn a_total_minus_its_visible_parts_pins_down_no_small_cell(
        raw in tables(),
        // A threshold of 1 gives itself away (a withheld count is 1).
        rule in (2u32..12, 1u32..11).prop_map(|(s, b)| Rule::new(s, b).unwrap()),
    ) {
        let p = protect(&raw, rule);
        let v = column(&p);
        for line in lines(&raw) {
            let true_sum: u64 = line.iter().map(|i| raw.rows[*i].1[0]).sum();
            // The margin, as the coarser query releases it.
            let margin = protect(
                &RawTable { group_by: vec![], measures: vec![Measure::Records], rows: vec![(vec![], vec![true_sum])] },
                rule,
            );
            let (sum_lo, sum_hi) = match margin.rows[0].values[0] {
                ProtectedValue::Released(m) => {
                    let r = preimage(rule, m);
                    (*r.start(), *r.end())
                }
                ProtectedValue::Suppressed => (1, u64::from(rule.suppress_max)),
            };
            let (mut rel_lo, mut rel_hi) = (0u64, 0u64);
            for i in &line {
                if let ProtectedValue::Released(m) = v[*i] {
                    let r = preimage(rule, m);
                    rel_lo += r.start();
                    rel_hi += r.end();
                }
            }
            let hidden: Vec<usize> = line.iter().copied().filter(|i| v[*i].is_suppressed()).collect();
            for &i in &hidden {
                let c = raw.rows[i].1[0];
                if !rule.is_small(c) {
                    continue;
                }
                // Other withheld cells may hold anything from 0 up.
                let others = hidden.len() - 1;
                let hi = sum_hi.saturating_sub(rel_lo);
                let lo = if others > 0 { 0 } else { sum_lo.saturating_sub(rel_hi) };
                // Known to be small: 1..=suppress_max.
                let lo = lo.max(1);
                let hi = hi.min(u64::from(rule.suppress_max));
                prop_assert!(lo <= c && c <= hi, "the truth {} must stay feasible in {}..={}", c, lo, hi);
                prop_assert!(hi > lo, "cell {} pinned to {} (line {:?}, values {:?})", i, c, line, v);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Questions over records: filters cannot be differenced.

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

/// Random records in March 2026 over the first four wards.
fn fact_sets() -> impl Strategy<Value = FactSet> {
    proptest::collection::vec((0usize..4, 1u32..29, 0i64..40), 0..300).prop_map(|v| {
        FactSet::new(
            v.into_iter()
                .map(|(w, d, p)| fact(w, d, Some(p), PersonRole::Victim)),
        )
    })
}

fn march(group_by: Vec<Dimension>, filters: Vec<Filter>) -> AggregateQuery {
    AggregateQuery::new(
        group_by,
        vec![Measure::Records],
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Wards {A, B} against ward {A}: when B is small the first answer is
    /// withheld, so there is no difference to take; in every case each
    /// answer is the sum of the protected ward table's cells, so it says
    /// nothing that table does not.
    #[test]
    fn two_filters_differing_by_a_small_group_recover_nothing(facts in fact_sets(), rule in rules()) {
        let by_ward = march(vec![Dimension::Ward], vec![]).answer(&facts, rule).unwrap();
        let ab = march(vec![], vec![wards(&[0, 1])]).answer(&facts, rule).unwrap();
        let a = march(vec![], vec![wards(&[0])]).answer(&facts, rule).unwrap();
        let cell = |i: usize| by_ward.get(&[RBKC_WARDS[i].0], Measure::Records).unwrap();
        prop_assert_eq!(a.rows[0].values[0], cell(0));
        let expected = match (cell(0), cell(1)) {
            (ProtectedValue::Released(x), ProtectedValue::Released(y)) => ProtectedValue::Released(x + y),
            _ => ProtectedValue::Suppressed,
        };
        prop_assert_eq!(ab.rows[0].values[0], expected);
        let b_raw = facts_in_ward(&facts, 1);
        if rule.is_small(b_raw) {
            prop_assert!(ab.rows[0].values[0].is_suppressed());
        }
    }

    /// Asking the same question twice, or grouping by a filtered dimension
    /// instead of filtering, gives the same figures.
    #[test]
    fn the_same_cell_by_another_route_gets_the_same_answer(facts in fact_sets(), rule in rules()) {
        let q = march(vec![Dimension::Ward], vec![]);
        prop_assert_eq!(q.answer(&facts, rule).unwrap(), q.answer(&facts, rule).unwrap());
        let by_ward = q.answer(&facts, rule).unwrap();
        for (i, (code, _)) in RBKC_WARDS.iter().enumerate().take(4) {
            let one = march(vec![], vec![wards(&[i])]).answer(&facts, rule).unwrap();
            prop_assert_eq!(Some(one.rows[0].values[0]), by_ward.get(&[code], Measure::Records));
        }
    }
}

fn facts_in_ward(facts: &FactSet, ward: usize) -> u64 {
    let t = march(vec![Dimension::Ward], vec![])
        .answer(facts, Rule::new(0, 1).unwrap())
        .unwrap();
    t.get(&[RBKC_WARDS[ward].0], Measure::Records)
        .and_then(|v| v.value())
        .unwrap()
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
