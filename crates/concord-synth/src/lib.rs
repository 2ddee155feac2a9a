//! A seeded synthetic population for the Safer Kensington and Chelsea
//! Partnership, and the nine agency data sets of DESIGN §3 recorded from
//! it with realistic identifier errors, so that linkage quality can be
//! measured against a known truth.
//!
//! Everything is deterministic for a seed ([`rand_chacha`]). Nothing here
//! is real: names come from embedded lists of common UK names, NHS numbers
//! from the `999` test range (valid modulus-11 check digits; no real
//! patient holds one), PNC ids are random with valid check letters, and
//! postcodes are valid-format units in RBKC's districts (SW3, SW5, SW7,
//! SW10, W8, W10, W11, W14) that may or may not exist.
//!
//! # Geography
//!
//! The 18 wards and their ONS codes (`E05009388`–`E05009405`, the 2014
//! boundaries still in force, used for the 2022 elections) are exact; the
//! postcode sectors per ward and the LSOA codes (plausible `E01002xxx`
//! codes, six per ward) are approximate: see [`geo`].
//!
//! # Errors
//!
//! Each identifying record is written with errors at [`ErrorRates`]: name
//! typos (substitution, transposition, deletion), nicknames
//! (William ↔ Bill, Elizabeth ↔ Liz, ...), forename and surname swapped,
//! day and month of birth transposed, the old postcode of a person who
//! moved, a hyphenated surname cut to one part, missing fields, and a
//! missing NHS number. Most non-health sources never hold the NHS number;
//! police and probation hold PNC ids.
//!
//! # Mapping files
//!
//! Each `<data set>.csv` comes with `<data set>.mapping.toml` in
//! `concord-agent`'s mapping format: `source`, `record_id`, `record_kind`,
//! the `[identifiers]` columns and the `[fields]` (columns, date formats,
//! value maps from the agency's words to Concord's vocabulary, fixed
//! values). `concord-agent` reads every generated file cleanly (a test
//! checks it).

//! The only I/O is [`write()`], into a directory the caller names.

#![forbid(unsafe_code)]

mod datasets;
mod errors;
pub mod geo;
mod ids;
mod names;
mod people;
mod write;

use std::path::PathBuf;

use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use datasets::{Column, DataSet, DataSetSynth, Meaning, Table, ValueMap};
pub use ids::{nhs_check_digit, nhs_is_valid};
pub use people::{Person, Profile};
pub use write::{mapping_toml, write};

/// Rates of identifier errors, each a probability per identifying record.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRates {
    /// A typo in the forename or the surname.
    pub typo: f64,
    /// The familiar form of a forename that has one.
    pub nickname: f64,
    /// Forename and surname swapped.
    pub name_swap: f64,
    /// Day and month of birth transposed (when that is another date).
    pub dob_day_month: f64,
    /// For a person who moved: the old postcode recorded.
    pub old_postcode: f64,
    /// For a hyphenated surname: only one part recorded.
    pub hyphen: f64,
    /// Each of date of birth and postcode left blank (forename: a quarter of
    /// this).
    pub missing_field: f64,
    /// For sources that usually hold the NHS number (children's and adult
    /// social care): left blank.
    pub missing_nhs: f64,
}

impl Default for ErrorRates {
    fn default() -> Self {
        ErrorRates {
            typo: 0.05,
            nickname: 0.05,
            name_swap: 0.01,
            dob_day_month: 0.02,
            old_postcode: 0.4,
            hyphen: 0.3,
            missing_field: 0.03,
            missing_nhs: 0.1,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    pub seed: u64,
    /// Residents to generate.
    pub people: usize,
    /// Event dates fall in this period (inclusive).
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub errors: ErrorRates,
    /// Share of residents who are one of a pair of twins.
    pub twin_rate: f64,
    /// Share of residents who share a household (surname and postcode)
    /// with an earlier resident.
    pub household_rate: f64,
    /// Share of residents who moved and have an old postcode.
    pub moved_rate: f64,
    /// Multiplies every record rate.
    pub activity: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 2026,
            people: 20_000,
            period_start: NaiveDate::from_ymd_opt(2025, 11, 1).expect("date"),
            period_end: NaiveDate::from_ymd_opt(2026, 10, 31).expect("date"),
            errors: ErrorRates::default(),
            twin_rate: 0.02,
            household_rate: 0.3,
            moved_rate: 0.12,
            activity: 1.0,
        }
    }
}

impl SynthConfig {
    /// Checks rates are probabilities and the period is ordered.
    pub fn validate(&self) -> Result<(), SynthError> {
        let e = &self.errors;
        let rates = [
            ("errors.typo", e.typo),
            ("errors.nickname", e.nickname),
            ("errors.name_swap", e.name_swap),
            ("errors.dob_day_month", e.dob_day_month),
            ("errors.old_postcode", e.old_postcode),
            ("errors.hyphen", e.hyphen),
            ("errors.missing_field", e.missing_field),
            ("errors.missing_nhs", e.missing_nhs),
            ("twin_rate", self.twin_rate),
            ("household_rate", self.household_rate),
            ("moved_rate", self.moved_rate),
        ];
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return Err(SynthError::Config(format!(
                    "{name} must be between 0 and 1"
                )));
            }
        }
        if !(self.activity >= 0.0 && self.activity.is_finite()) {
            return Err(SynthError::Config("activity must be 0 or more".into()));
        }
        if self.period_end < self.period_start {
            return Err(SynthError::Config(
                "the period ends before it starts".into(),
            ));
        }
        Ok(())
    }
}

/// Which person an agency record truly belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthRow {
    pub data_set: DataSet,
    pub record_ref: String,
    pub person: u64,
}

/// A generated population, in memory.
#[derive(Debug, Clone)]
pub struct Population {
    pub people: Vec<Person>,
    /// One per data set, in [`DataSet::ALL`] order.
    pub tables: Vec<Table>,
    /// Every identifying record's true person (ED attendances carry no
    /// person and have no truth row).
    pub truth: Vec<TruthRow>,
}

impl Population {
    pub fn table(&self, ds: DataSet) -> &Table {
        self.tables
            .iter()
            .find(|t| t.data_set == ds)
            .expect("every data set is generated")
    }

    /// Every record that identifies a person (ED attendances carry none),
    /// table by table in [`DataSet::ALL`] order, with its true person and
    /// its identifiers as the export holds them: what linkage measurements
    /// tokenise.
    pub fn identifying_rows(&self) -> Vec<IdentifyingRow> {
        let truth: std::collections::HashMap<(DataSet, &str), u64> = self
            .truth
            .iter()
            .map(|t| ((t.data_set, t.record_ref.as_str()), t.person))
            .collect();
        let mut out = Vec::new();
        for t in &self.tables {
            let Some(reference) = t.column(Meaning::SourceRef) else {
                continue;
            };
            let cols = [
                Meaning::Forename,
                Meaning::Surname,
                Meaning::DateOfBirth,
                Meaning::NhsNumber,
                Meaning::PncId,
                Meaning::Postcode,
            ]
            .map(|m| t.column(m));
            for row in &t.rows {
                let Some(&person) = truth.get(&(t.data_set, row[reference].as_str())) else {
                    continue;
                };
                out.push(IdentifyingRow {
                    data_set: t.data_set,
                    person,
                    ids: cols.map(|c| c.map(|c| row[c].clone()).filter(|v| !v.is_empty())),
                });
            }
        }
        out
    }
}

/// One record of [`Population::identifying_rows`].
#[derive(Debug, Clone)]
pub struct IdentifyingRow {
    pub data_set: DataSet,
    pub person: u64,
    /// Forename, surname, date of birth, NHS number, PNC id, postcode as
    /// written in the export; `None` where the cell is blank.
    pub ids: [Option<String>; 6],
}

impl IdentifyingRow {
    pub fn source(&self) -> concord_core::Source {
        self.data_set.source()
    }

    /// The identifiers as a push agent hands them to `concord-matchkey`.
    pub fn identifiers(&self) -> concord_matchkey::Identifiers<'_> {
        let [f, s, d, n, p, pc] = &self.ids;
        concord_matchkey::Identifiers {
            forename: f.as_deref(),
            surname: s.as_deref(),
            date_of_birth: d.as_deref(),
            nhs_number: n.as_deref(),
            pnc_id: p.as_deref(),
            postcode: pc.as_deref(),
        }
    }
}

/// Why generating or writing failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid synthetic population settings: {0}")]
    Config(String),
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {message}")]
    Csv { path: PathBuf, message: String },
}

/// Generates the population and its nine data sets.
///
/// # Panics
///
/// If `cfg` is invalid ([`SynthConfig::validate`]).
pub fn generate(cfg: &SynthConfig) -> Population {
    if let Err(e) = cfg.validate() {
        panic!("{e}");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let people = people::generate(cfg, &mut rng);
    let mut truth = Vec::new();
    let mut c = datasets::Ctx {
        rng: &mut rng,
        cfg,
        people: &people,
        truth: &mut truth,
    };
    let police = datasets::police(&mut c);
    let role = police.column(Meaning::Role).expect("role column");
    let victims = police.rows.iter().filter(|r| r[role] == "Victim").count();
    let tables = vec![
        police,
        datasets::childrens(&mut c),
        datasets::youth_offending(&mut c),
        datasets::adult_safeguarding(&mut c),
        datasets::marac(&mut c),
        datasets::ed(&mut c, victims),
        datasets::youth_services(&mut c),
        datasets::housing(&mut c),
        datasets::probation(&mut c),
    ];
    Population {
        people,
        tables,
        truth,
    }
}
