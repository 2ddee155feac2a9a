//! The synthetic population.

use chrono::{Datelike, Duration, NaiveDate};
use concord_core::Sex;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::{SynthConfig, geo, ids, names};

/// Why a person shows up in the partnership's data (most people never do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    None,
    GeneralVictim,
    ViolentOffender,
    DomesticAbuseVictim,
    DomesticAbusePerpetrator,
    ExploitedChild,
    YoungOffender,
    VulnerableAdult,
}

/// One synthetic resident: the true identifiers, before agencies record
/// them (with errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: u64,
    pub forename: String,
    pub surname: String,
    pub sex: Sex,
    pub dob: NaiveDate,
    pub postcode: String,
    /// The address before a move, which some agencies still hold.
    pub previous_postcode: Option<String>,
    /// Index into [`geo::WARDS`] of the home ward.
    pub ward: usize,
    /// Always a valid test-range NHS number (`999…`).
    pub nhs_number: String,
    /// Those with police contact.
    pub pnc_id: Option<String>,
    pub twin_of: Option<u64>,
    pub profile: Profile,
}

impl Person {
    /// Age in whole years on `at`.
    pub fn age_on(&self, at: NaiveDate) -> i32 {
        let mut a = at.year() - self.dob.year();
        if (at.month(), at.day()) < (self.dob.month(), self.dob.day()) {
            a -= 1;
        }
        a
    }
}

pub(crate) struct Sampler {
    male: Vec<f64>,
    female: Vec<f64>,
    surname: Vec<f64>,
}

fn pick(rng: &mut ChaCha8Rng, cum: &[f64]) -> usize {
    let x = rng.random::<f64>() * cum[cum.len() - 1];
    cum.partition_point(|&c| c < x).min(cum.len() - 1)
}

impl Sampler {
    pub(crate) fn new() -> Sampler {
        Sampler {
            male: names::cumulative(names::MALE.len()),
            female: names::cumulative(names::FEMALE.len()),
            surname: names::cumulative(names::SURNAMES.len()),
        }
    }

    fn forename(&self, rng: &mut ChaCha8Rng, sex: Sex) -> &'static str {
        match sex {
            Sex::Male => names::MALE[pick(rng, &self.male)],
            _ => names::FEMALE[pick(rng, &self.female)],
        }
    }

    fn surname(&self, rng: &mut ChaCha8Rng) -> &'static str {
        names::SURNAMES[pick(rng, &self.surname)]
    }
}

/// RBKC-like age bands: (from, to inclusive, share).
const AGES: &[(i32, i32, f64)] = &[
    (0, 9, 0.10),
    (10, 17, 0.08),
    (18, 24, 0.08),
    (25, 34, 0.16),
    (35, 49, 0.22),
    (50, 64, 0.19),
    (65, 79, 0.12),
    (80, 98, 0.05),
];

fn dob(rng: &mut ChaCha8Rng, on: NaiveDate) -> NaiveDate {
    let mut x: f64 = rng.random();
    let mut band = AGES[AGES.len() - 1];
    for b in AGES {
        if x < b.2 {
            band = *b;
            break;
        }
        x -= b.2;
    }
    let age = rng.random_range(band.0..=band.1);
    let days = rng.random_range(0..365);
    on - Duration::days(i64::from(age) * 365 + i64::from(age / 4) + days)
}

fn profile(rng: &mut ChaCha8Rng, sex: Sex, age: i32) -> Profile {
    let x: f64 = rng.random();
    let male = sex == Sex::Male;
    let table: &[(f64, Profile)] = match age {
        10..=17 if male => &[
            (0.05, Profile::ExploitedChild),
            (0.07, Profile::YoungOffender),
        ],
        10..=17 => &[
            (0.05, Profile::ExploitedChild),
            (0.02, Profile::YoungOffender),
        ],
        18..=40 if male => &[
            (0.05, Profile::ViolentOffender),
            (0.04, Profile::DomesticAbusePerpetrator),
        ],
        41..=64 if male => &[
            (0.015, Profile::ViolentOffender),
            (0.025, Profile::DomesticAbusePerpetrator),
        ],
        18..=64 => &[
            (0.07, Profile::DomesticAbuseVictim),
            (0.01, Profile::VulnerableAdult),
        ],
        65.. => &[(0.06, Profile::VulnerableAdult)],
        _ => &[],
    };
    let mut acc = 0.0;
    for &(p, prof) in table {
        acc += p;
        if x < acc {
            return prof;
        }
    }
    if age >= 10 && x < acc + 0.05 {
        Profile::GeneralVictim
    } else {
        Profile::None
    }
}

/// Generates `cfg.people` people: households (shared surname and
/// postcode), twins (same surname, date of birth and postcode; different
/// forename and NHS number), movers (a previous postcode).
pub(crate) fn generate(cfg: &SynthConfig, rng: &mut ChaCha8Rng) -> Vec<Person> {
    let s = Sampler::new();
    let on = cfg.period_start;
    // A pool of postcode units per ward, about a dozen residents each (more
    // in a large population: a sector has only 400 possible units).
    let per_ward = (cfg.people / (geo::WARDS.len() * 12)).max(8);
    let letters = geo::INWARD_LETTERS.len() * geo::INWARD_LETTERS.len();
    let pool: Vec<Vec<String>> = geo::WARDS
        .iter()
        .map(|w| {
            let per_ward = per_ward.min(w.sectors.len() * letters * 3 / 4);
            let mut v: Vec<String> = Vec::with_capacity(per_ward);
            while v.len() < per_ward {
                let (d, sec) = w.sectors[rng.random_range(0..w.sectors.len())];
                let pc = ids::postcode(rng, d, sec);
                if !v.contains(&pc) {
                    v.push(pc);
                }
            }
            v
        })
        .collect();
    let mut seen_nhs = std::collections::HashSet::new();
    let mut nhs = |rng: &mut ChaCha8Rng| loop {
        let n = ids::nhs_number(rng);
        if seen_nhs.insert(n.clone()) {
            return n;
        }
    };
    let mut people: Vec<Person> = Vec::with_capacity(cfg.people);
    while people.len() < cfg.people {
        let id = people.len() as u64 + 1;
        let sex = if rng.random_bool(0.5) {
            Sex::Female
        } else {
            Sex::Male
        };
        let (surname, ward, postcode) = if !people.is_empty() && rng.random_bool(cfg.household_rate)
        {
            let h = &people[rng.random_range(0..people.len())];
            (h.surname.clone(), h.ward, h.postcode.clone())
        } else {
            let w = rng.random_range(0..geo::WARDS.len());
            let pc = pool[w][rng.random_range(0..pool[w].len())].clone();
            (s.surname(rng).to_owned(), w, pc)
        };
        let dob = dob(rng, on);
        let previous_postcode = rng.random_bool(cfg.moved_rate).then(|| {
            let w = rng.random_range(0..geo::WARDS.len());
            pool[w][rng.random_range(0..pool[w].len())].clone()
        });
        let mut p = Person {
            id,
            forename: s.forename(rng, sex).to_owned(),
            surname,
            sex,
            dob,
            postcode,
            previous_postcode,
            ward,
            nhs_number: nhs(rng),
            pnc_id: None,
            twin_of: None,
            profile: Profile::None,
        };
        p.profile = profile(rng, sex, p.age_on(on));
        let twin = people.len() + 1 < cfg.people && rng.random_bool(cfg.twin_rate / 2.0);
        if twin {
            let sex2 = if rng.random_bool(0.5) {
                Sex::Female
            } else {
                Sex::Male
            };
            let mut fname = s.forename(rng, sex2);
            while fname == p.forename || names::nicknames(&p.forename).contains(&fname) {
                fname = s.forename(rng, sex2);
            }
            let mut t = Person {
                id: id + 1,
                forename: fname.to_owned(),
                sex: sex2,
                nhs_number: nhs(rng),
                twin_of: Some(id),
                ..p.clone()
            };
            t.profile = profile(rng, sex2, t.age_on(on));
            p.twin_of = Some(id + 1);
            people.push(p);
            people.push(t);
        } else {
            people.push(p);
        }
    }
    for p in &mut people {
        let offends = matches!(
            p.profile,
            Profile::ViolentOffender | Profile::DomesticAbusePerpetrator | Profile::YoungOffender
        );
        let chance = if offends {
            0.85
        } else if p.profile == Profile::ExploitedChild {
            0.4
        } else {
            0.03
        };
        if p.age_on(on) >= 10 && rng.random_bool(chance) {
            let first = (p.dob.year() + 10).max(on.year() - 25).min(on.year());
            let year = rng.random_range(first..=on.year()) as u32;
            p.pnc_id = Some(ids::pnc_id(rng, year));
        }
    }
    people
}
