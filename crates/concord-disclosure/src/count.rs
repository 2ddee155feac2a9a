//! Counting: the broker's records as compact facts, and raw count tables
//! over them. One implementation for both stores, so a cell counts the
//! same whichever database holds the records.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use concord_core::{
    AgeBand, LocationType, PersonRole, RBKC_WARDS, RecordKind, Sex, Source, ViolenceCategory,
    Weapon,
};

use crate::{Cell, Dimension, DisclosureError, Filter, Measure, RawTable, dims::NOT_RECORDED};

/// The most cells one count may have (the product of its dimensions'
/// sizes).
pub const MAX_CELLS: usize = 100_000;

/// What the counting needs of one stored record: no tokens, no references,
/// the person as the broker's internal id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactInput {
    pub source: Source,
    pub kind: RecordKind,
    pub role: Option<PersonRole>,
    pub event_date: NaiveDate,
    /// The date is known to the day (day-of-week panels use only these).
    pub day_precise: bool,
    pub event_hour: Option<u8>,
    pub ward_code: Option<String>,
    pub category: Option<ViolenceCategory>,
    pub weapon: Option<Weapon>,
    pub location_type: Option<LocationType>,
    pub age_band: Option<AgeBand>,
    pub sex: Option<Sex>,
    pub flag_domestic_abuse: bool,
    pub flag_under_25: bool,
    /// The linked person, if the record carries tokens and has been linked.
    pub person: Option<i64>,
}

/// A record's keys for the cell-key method (see [`crate::protect`]): its
/// record key, and its person's key (the same for all of a person's
/// records; unused when the record is not linked). Both come from a keyed
/// hash under a secret only the broker holds, so they are the same in
/// every query and no reader can compute them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordKeys {
    pub record: u8,
    pub person: u8,
}

const F_DOMESTIC: u8 = 1;
const F_UNDER_25: u8 = 2;
const F_VICTIM: u8 = 4;
const F_REPEAT_VICTIM: u8 = 8;

/// One record, compact (32 bytes).
#[derive(Debug, Clone, Copy)]
struct Fact {
    date: NaiveDate,
    /// Dense person index + 1; 0 for none.
    person: u32,
    /// Index into [`FactSet::wards`]; 0 for not recorded.
    ward: u16,
    source: Source,
    kind: RecordKind,
    role: Option<PersonRole>,
    category: Option<ViolenceCategory>,
    weapon: Option<Weapon>,
    location: Option<LocationType>,
    age: Option<AgeBand>,
    sex: Option<Sex>,
    /// 0..=23, or 24 for not recorded.
    hour: u8,
    /// 0 (Monday)..=6, or 7 when the date is not known to the day.
    dow: u8,
    flags: u8,
    /// The record key.
    key: u8,
}

impl Fact {
    fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Every record the broker holds, as compact facts ordered by event date,
/// ready to be counted. Built once per state of the database.
#[derive(Debug, Default)]
pub struct FactSet {
    facts: Vec<Fact>,
    /// Ward codes: 0 is "not recorded", 1..=18 RBKC's wards in order, then
    /// any other ward met.
    wards: Vec<String>,
    persons: usize,
    /// Each person's key, by dense person index + 1 (index 0 unused).
    person_keys: Vec<u8>,
    /// Where each (source, kind)'s facts lie in `facts` (ordered by
    /// source, kind, then date), indexed by [`group_index`].
    groups: Vec<std::ops::Range<usize>>,
    /// Each person's sources (a bit per source) over the last period asked
    /// for: the dashboard's people panels share it.
    sources_memo: std::sync::Mutex<Option<SourcesMemo>>,
}

/// A period and each person's sources in it (see [`FactSet::person_sources`]).
type SourcesMemo = (NaiveDate, NaiveDate, std::sync::Arc<Vec<u8>>);

/// The index of (source, kind) in [`FactSet::groups`].
fn group_index(s: Source, k: RecordKind) -> usize {
    (s.code() as usize - 1) * RecordKind::ALL.len() + (k.code() as usize - 1)
}

/// A fixed restriction of the records counted (a dashboard panel's
/// definition). Empty lists mean any value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    pub sources: &'static [Source],
    pub kinds: &'static [RecordKind],
    pub categories: &'static [ViolenceCategory],
    pub weapons: &'static [Weapon],
    /// Only records with a serious-violence category.
    pub category_recorded: bool,
    /// Only records flagged domestic abuse (`Some(true)`) or not.
    pub domestic: Option<bool>,
    /// Only records of a person under 25 (`Some(true)`) or not.
    pub under_25: Option<bool>,
}

impl Selection {
    /// Every record.
    pub const ANY: Selection = Selection {
        sources: &[],
        kinds: &[],
        categories: &[],
        weapons: &[],
        category_recorded: false,
        domestic: None,
        under_25: None,
    };

    /// The record fields the selection reads.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.kinds.is_empty() {
            out.push("kind");
        }
        if !self.categories.is_empty() || self.category_recorded {
            out.push("category");
        }
        if !self.weapons.is_empty() {
            out.push("weapon");
        }
        if self.domestic.is_some() {
            out.push("flag_domestic_abuse");
        }
        if self.under_25.is_some() {
            out.extend(["age_band", "flag_under_25"]);
        }
        out
    }

    /// The sources the selection reads (all when it names none).
    pub fn sources(&self) -> &'static [Source] {
        if self.sources.is_empty() {
            Source::ALL
        } else {
            self.sources
        }
    }

    fn matches(&self, f: &Fact) -> bool {
        (self.sources.is_empty() || self.sources.contains(&f.source))
            && (self.kinds.is_empty() || self.kinds.contains(&f.kind))
            && (self.categories.is_empty()
                || f.category.is_some_and(|c| self.categories.contains(&c)))
            && (self.weapons.is_empty() || f.weapon.is_some_and(|w| self.weapons.contains(&w)))
            && (!self.category_recorded || f.category.is_some())
            && self.domestic.is_none_or(|d| f.is(F_DOMESTIC) == d)
            && self.under_25.is_none_or(|u| f.is(F_UNDER_25) == u)
    }
}

/// A count over the facts.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Record-field dimensions only (not `Indicator`, `Period`).
    pub group_by: &'a [Dimension],
    pub measures: &'a [Measure],
    /// Event dates from `start` to `end`, inclusive.
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub selection: &'a Selection,
    /// The `YYYY-MM` keys of the months from `start` to `end` (the
    /// `Month` dimension's domain).
    pub months: &'a [String],
    /// Only records whose value of each filter's dimension is one of its
    /// codes (checked codes; see [`crate::AggregateQuery`]).
    pub filters: &'a [Filter],
}

/// Whether a record's person counts as a victim: the victim role, or an
/// emergency department attendance for assault (its patient is the
/// victim).
fn is_victim(kind: RecordKind, role: Option<PersonRole>) -> bool {
    role == Some(PersonRole::Victim)
        || (kind == RecordKind::EdAttendance && role == Some(PersonRole::Patient))
}

fn is_under_25(age: Option<AgeBand>, flag: bool) -> bool {
    flag || matches!(
        age,
        Some(AgeBand::A0To9 | AgeBand::A10To17 | AgeBand::A18To24)
    )
}

impl FactSet {
    /// Builds the set without record keys (every key 0): the perturbation
    /// then depends on the count alone. For tests and benchmarks; the
    /// broker builds with [`keyed`](Self::keyed).
    pub fn new(inputs: impl IntoIterator<Item = FactInput>) -> FactSet {
        FactSet::keyed(inputs.into_iter().map(|i| (i, RecordKeys::default())))
    }

    /// Builds the set: interns wards and people, orders by date, and marks
    /// every victim record that lies within 365 days of another victim
    /// record of the same person (a repeat victim's).
    pub fn keyed(inputs: impl IntoIterator<Item = (FactInput, RecordKeys)>) -> FactSet {
        let mut wards: Vec<String> = Vec::with_capacity(32);
        wards.push(NOT_RECORDED.to_owned());
        let mut ward_ix: HashMap<String, u16> = HashMap::new();
        for (code, _) in RBKC_WARDS {
            ward_ix.insert(code.to_owned(), wards.len() as u16);
            wards.push(code.to_owned());
        }
        let mut person_ix: HashMap<i64, u32> = HashMap::new();
        let mut person_keys: Vec<u8> = vec![0];
        let mut facts = Vec::new();
        for (i, keys) in inputs {
            let ward = match i.ward_code {
                None => 0,
                Some(code) => match ward_ix.get(&code) {
                    Some(ix) => *ix,
                    // More than 65,000 distinct ward codes cannot be valid
                    // data; such records count as "not recorded".
                    None if wards.len() >= usize::from(u16::MAX) => 0,
                    None => {
                        let ix = wards.len() as u16;
                        ward_ix.insert(code.clone(), ix);
                        wards.push(code);
                        ix
                    }
                },
            };
            let person = match i.person {
                None => 0,
                Some(p) => {
                    let next = person_ix.len() as u32 + 1;
                    let ix = *person_ix.entry(p).or_insert(next);
                    if ix == next {
                        person_keys.push(keys.person);
                    }
                    ix
                }
            };
            let mut flags = 0;
            if i.flag_domestic_abuse {
                flags |= F_DOMESTIC;
            }
            if is_under_25(i.age_band, i.flag_under_25) {
                flags |= F_UNDER_25;
            }
            if is_victim(i.kind, i.role) {
                flags |= F_VICTIM;
            }
            facts.push(Fact {
                date: i.event_date,
                person,
                ward,
                source: i.source,
                kind: i.kind,
                role: i.role,
                category: i.category,
                weapon: i.weapon,
                location: i.location_type,
                age: i.age_band,
                sex: i.sex,
                hour: i.event_hour.filter(|h| *h < 24).unwrap_or(24),
                dow: if i.day_precise {
                    i.event_date.weekday().num_days_from_monday() as u8
                } else {
                    7
                },
                flags,
                key: keys.record,
            });
        }
        facts.sort_by_key(|f| (f.source, f.kind, f.date));
        mark_repeat_victims(&mut facts);
        let mut groups = Vec::with_capacity(Source::ALL.len() * RecordKind::ALL.len());
        for s in Source::ALL {
            for k in RecordKind::ALL {
                let key = (*s, *k);
                groups.push(
                    facts.partition_point(|f| (f.source, f.kind) < key)
                        ..facts.partition_point(|f| (f.source, f.kind) <= key),
                );
            }
        }
        FactSet {
            groups,
            sources_memo: Default::default(),
            facts,
            wards,
            persons: person_ix.len(),
            person_keys,
        }
    }

    /// How many records the set holds.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// Whether the set holds no record.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// How many distinct linked people the set holds.
    pub fn persons(&self) -> usize {
        self.persons
    }

    /// Checks that a count over these dimensions stays within
    /// [`MAX_CELLS`].
    pub fn check(&self, group_by: &[Dimension], months: &[String]) -> Result<(), DisclosureError> {
        let mut cells: usize = 1;
        for d in group_by {
            if !d.is_record_field() {
                return Err(DisclosureError::NotAggregatable { dimension: *d });
            }
            cells = cells.saturating_mul(self.size(*d, months.len()));
        }
        if cells > MAX_CELLS {
            return Err(DisclosureError::TooManyCells {
                cells,
                max: MAX_CELLS,
            });
        }
        Ok(())
    }

    /// Raw counts for `q`: every cell of the dimensions' domains (zeros
    /// included, in domain order), plus any cell with records whose field
    /// was not recorded or lies outside the domain (an unknown ward); each
    /// with its cell key; and the table's total (every record or person
    /// counted, once).
    ///
    /// # Panics
    /// If `q` fails [`check`](Self::check).
    pub fn count(&self, q: &Query<'_>) -> RawTable {
        self.check(q.group_by, q.months)
            .expect("count() is called with a checked query");
        let sizes: Vec<usize> = q
            .group_by
            .iter()
            .map(|d| self.size(*d, q.months.len()))
            .collect();
        let cells: usize = sizes.iter().product();
        // The total is one more cell, after the others.
        let total_cell = cells;
        let all = cells + 1;
        let kinds = if q.selection.kinds.is_empty() {
            RecordKind::ALL
        } else {
            q.selection.kinds
        };
        let month0 = month_index(q.start);

        let cell_of = |f: &Fact| -> usize {
            let mut c = 0;
            for (d, size) in q.group_by.iter().zip(&sizes) {
                c = c * size + self.slot(*d, f, month0, q.months.len());
            }
            c
        };
        // Each filter as the slots it keeps.
        let filters: Vec<(Dimension, Vec<bool>)> = q
            .filters
            .iter()
            .map(|flt| {
                let n = self.size(flt.dimension, q.months.len());
                let keep = (0..n)
                    .map(|slot| {
                        flt.values
                            .contains(&self.key(flt.dimension, slot, q.months))
                    })
                    .collect();
                (flt.dimension, keep)
            })
            .collect();
        let kept = |f: &Fact| {
            filters
                .iter()
                .all(|(d, keep)| keep[self.slot(*d, f, month0, q.months.len())])
        };

        // Person-level measures need each person's sources in the period.
        let multi = q
            .measures
            .contains(&Measure::MultiAgencyPeople)
            .then(|| self.person_sources(q.start, q.end));

        let m = q.measures.len();
        let mut counts = vec![Cell::default(); all * m];
        // Distinct people per cell: with at most 64 cells (the total
        // included), a bit per cell per person and measure, a person's
        // measures side by side (one pass, one cache line per person);
        // else (cell, person) pairs, sorted and deduplicated below.
        let people = q.measures.iter().any(|me| me.counts_people());
        let bits = all <= 64;
        let mut seen: Vec<u64> = if bits && people {
            vec![0u64; (self.persons + 1) * m]
        } else {
            Vec::new()
        };
        let mut pairs: Vec<Vec<u64>> = vec![Vec::new(); m];
        let add = |cell: &mut Cell, key: u8| {
            cell.count += 1;
            cell.key = cell.key.wrapping_add(key);
        };
        let selected = q
            .selection
            .sources()
            .iter()
            .flat_map(|s| kinds.iter().map(move |k| (*s, *k)))
            .flat_map(|(s, k)| self.in_period(s, k, q.start, q.end))
            .filter(|f| q.selection.matches(f) && kept(f));
        for f in selected {
            let c = cell_of(f);
            for (j, measure) in q.measures.iter().enumerate() {
                match measure {
                    Measure::Records => {
                        add(&mut counts[c * m + j], f.key);
                        add(&mut counts[total_cell * m + j], f.key);
                    }
                    Measure::RecordsUnder25 => {
                        if f.is(F_UNDER_25) {
                            add(&mut counts[c * m + j], f.key);
                            add(&mut counts[total_cell * m + j], f.key);
                        }
                    }
                    Measure::DistinctPeople
                    | Measure::MultiAgencyPeople
                    | Measure::RepeatVictims
                    | Measure::VictimsUnder25 => {
                        if f.person == 0 {
                            continue;
                        }
                        let counts_here = match measure {
                            Measure::DistinctPeople => true,
                            Measure::MultiAgencyPeople => multi
                                .as_ref()
                                .is_some_and(|ms| ms[f.person as usize].count_ones() >= 2),
                            Measure::RepeatVictims => f.is(F_REPEAT_VICTIM),
                            _ => f.is(F_VICTIM) && f.is(F_UNDER_25),
                        };
                        if !counts_here {
                            continue;
                        }
                        let key = self.person_keys[f.person as usize];
                        for cell in [c, total_cell] {
                            if bits {
                                let (slot, bit) =
                                    (&mut seen[f.person as usize * m + j], 1u64 << cell);
                                if *slot & bit == 0 {
                                    *slot |= bit;
                                    add(&mut counts[cell * m + j], key);
                                }
                            } else {
                                pairs[j].push(((cell as u64) << 32) | u64::from(f.person));
                            }
                        }
                    }
                }
            }
        }
        for (j, mut p) in pairs.into_iter().enumerate() {
            if p.is_empty() {
                continue;
            }
            p.sort_unstable();
            p.dedup();
            for pair in p {
                let person = (pair & 0xffff_ffff) as usize;
                add(
                    &mut counts[(pair >> 32) as usize * m + j],
                    self.person_keys[person],
                );
            }
        }

        let mut rows = Vec::new();
        for c in 0..cells {
            let values = &counts[c * m..(c + 1) * m];
            let mut slots = vec![0; sizes.len()];
            let mut rest = c;
            for (k, size) in sizes.iter().enumerate().rev() {
                slots[k] = rest % size;
                rest /= size;
            }
            let in_domain = q
                .group_by
                .iter()
                .zip(&slots)
                .all(|(d, s)| self.in_domain(*d, *s, q.months.len()));
            if !in_domain && values.iter().all(|v| v.count == 0) {
                continue;
            }
            // A filtered dimension shows only the values it keeps.
            let filtered_out = q
                .group_by
                .iter()
                .zip(&slots)
                .any(|(d, s)| filters.iter().any(|(fd, keep)| fd == d && !keep[*s]));
            if filtered_out {
                continue;
            }
            let keys = q
                .group_by
                .iter()
                .zip(&slots)
                .map(|(d, s)| self.key(*d, *s, q.months))
                .collect();
            rows.push((keys, values.to_vec()));
        }
        RawTable {
            group_by: q.group_by.to_vec(),
            measures: q.measures.to_vec(),
            rows,
            total: Some(counts[total_cell * m..].to_vec()),
        }
    }

    /// The facts of (source, kind) with event dates from `start` to `end`.
    fn in_period(&self, s: Source, k: RecordKind, start: NaiveDate, end: NaiveDate) -> &[Fact] {
        let group = &self.facts[self.groups[group_index(s, k)].clone()];
        let lo = group.partition_point(|f| f.date < start);
        let hi = group.partition_point(|f| f.date <= end);
        &group[lo..hi.max(lo)]
    }

    /// Each person's sources from `start` to `end`, a bit per source
    /// (remembered for the last period asked for).
    fn person_sources(&self, start: NaiveDate, end: NaiveDate) -> std::sync::Arc<Vec<u8>> {
        let mut memo = self
            .sources_memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((s, e, masks)) = memo.as_ref()
            && (*s, *e) == (start, end)
        {
            return masks.clone();
        }
        let mut masks = vec![0u8; self.persons + 1];
        for s in Source::ALL {
            for k in RecordKind::ALL {
                for f in self.in_period(*s, *k, start, end) {
                    if f.person != 0 {
                        masks[f.person as usize] |= 1 << (f.source.code() - 1);
                    }
                }
            }
        }
        let masks = std::sync::Arc::new(masks);
        *memo = Some((start, end, masks.clone()));
        masks
    }

    /// Slots of dimension `d`: its domain's values first, then "not
    /// recorded", then (wards) other values met.
    fn size(&self, d: Dimension, months: usize) -> usize {
        match d {
            Dimension::Month => months.max(1),
            Dimension::Ward => self.wards.len(),
            Dimension::Category => ViolenceCategory::ALL.len() + 1,
            Dimension::Source => Source::ALL.len(),
            Dimension::AgeBand => AgeBand::ALL.len() + 1,
            Dimension::Sex => Sex::ALL.len() + 1,
            Dimension::Role => PersonRole::ALL.len() + 1,
            Dimension::Weapon => Weapon::ALL.len() + 1,
            Dimension::LocationType => LocationType::ALL.len() + 1,
            Dimension::Hour => 25,
            Dimension::DayOfWeek => 8,
            Dimension::Indicator | Dimension::Period => 1,
        }
    }

    fn slot(&self, d: Dimension, f: &Fact, month0: i32, months: usize) -> usize {
        fn opt(code: Option<i32>, n: usize) -> usize {
            code.map_or(n, |c| (c - 1) as usize)
        }
        match d {
            Dimension::Month => {
                let s = (month_index(f.date) - month0).max(0) as usize;
                s.min(months.saturating_sub(1))
            }
            Dimension::Ward => match f.ward {
                0 => RBKC_WARDS.len(),
                w if usize::from(w) <= RBKC_WARDS.len() => usize::from(w) - 1,
                w => usize::from(w),
            },
            Dimension::Category => opt(f.category.map(|v| v.code()), ViolenceCategory::ALL.len()),
            Dimension::Source => (f.source.code() - 1) as usize,
            Dimension::AgeBand => opt(f.age.map(|v| v.code()), AgeBand::ALL.len()),
            Dimension::Sex => opt(f.sex.map(|v| v.code()), Sex::ALL.len()),
            Dimension::Role => opt(f.role.map(|v| v.code()), PersonRole::ALL.len()),
            Dimension::Weapon => opt(f.weapon.map(|v| v.code()), Weapon::ALL.len()),
            Dimension::LocationType => opt(f.location.map(|v| v.code()), LocationType::ALL.len()),
            Dimension::Hour => usize::from(f.hour),
            Dimension::DayOfWeek => usize::from(f.dow),
            Dimension::Indicator | Dimension::Period => 0,
        }
    }

    fn in_domain(&self, d: Dimension, slot: usize, months: usize) -> bool {
        let n = match d {
            Dimension::Month => months,
            Dimension::Ward => RBKC_WARDS.len(),
            Dimension::Source => Source::ALL.len(),
            Dimension::Hour => 24,
            Dimension::DayOfWeek => 7,
            _ => self.size(d, months) - 1,
        };
        slot < n
    }

    fn key(&self, d: Dimension, slot: usize, months: &[String]) -> String {
        fn name<T: Copy>(all: &[T], slot: usize, f: fn(T) -> &'static str) -> String {
            all.get(slot)
                .map_or(NOT_RECORDED.to_owned(), |v| f(*v).to_owned())
        }
        match d {
            Dimension::Month => months.get(slot).cloned().unwrap_or_default(),
            Dimension::Ward => {
                if slot < RBKC_WARDS.len() {
                    RBKC_WARDS[slot].0.to_owned()
                } else if slot == RBKC_WARDS.len() {
                    NOT_RECORDED.to_owned()
                } else {
                    self.wards[slot].clone()
                }
            }
            Dimension::Category => name(ViolenceCategory::ALL, slot, ViolenceCategory::as_str),
            Dimension::Source => name(Source::ALL, slot, Source::as_str),
            Dimension::AgeBand => name(AgeBand::ALL, slot, AgeBand::as_str),
            Dimension::Sex => name(Sex::ALL, slot, Sex::as_str),
            Dimension::Role => name(PersonRole::ALL, slot, PersonRole::as_str),
            Dimension::Weapon => name(Weapon::ALL, slot, Weapon::as_str),
            Dimension::LocationType => name(LocationType::ALL, slot, LocationType::as_str),
            Dimension::Hour => {
                if slot < 24 {
                    format!("{slot:02}")
                } else {
                    NOT_RECORDED.to_owned()
                }
            }
            Dimension::DayOfWeek => crate::dims::DAYS
                .get(slot)
                .map_or(NOT_RECORDED.to_owned(), |(k, _)| (*k).to_owned()),
            Dimension::Indicator | Dimension::Period => NOT_RECORDED.to_owned(),
        }
    }
}

fn month_index(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

/// Sets [`F_REPEAT_VICTIM`] on every victim fact of a person that lies
/// within 365 days of another victim fact of theirs.
fn mark_repeat_victims(facts: &mut [Fact]) {
    let mut victims: Vec<(u32, NaiveDate, usize)> = facts
        .iter()
        .enumerate()
        .filter(|(_, f)| f.person != 0 && f.is(F_VICTIM))
        .map(|(i, f)| (f.person, f.date, i))
        .collect();
    victims.sort_unstable();
    for w in victims.windows(2) {
        let ((p1, d1, i1), (p2, d2, i2)) = (w[0], w[1]);
        if p1 == p2 && (d2 - d1).num_days() <= 365 {
            facts[i1].flags |= F_REPEAT_VICTIM;
            facts[i2].flags |= F_REPEAT_VICTIM;
        }
    }
}
