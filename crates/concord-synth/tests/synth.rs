use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use concord_core::Source;
use concord_synth::{
    DataSet, DataSetSynth as _, ErrorRates, Meaning, Person, Population, SynthConfig, generate,
    nhs_is_valid, write,
};

fn small(seed: u64) -> SynthConfig {
    SynthConfig {
        seed,
        people: 6_000,
        ..SynthConfig::default()
    }
}

/// (data set, row) → the true person.
fn person_of_rows(pop: &Population) -> Vec<(DataSet, usize, &Person)> {
    let by_id: HashMap<u64, &Person> = pop.people.iter().map(|p| (p.id, p)).collect();
    let truth: HashMap<(DataSet, &str), u64> = pop
        .truth
        .iter()
        .map(|t| ((t.data_set, t.record_ref.as_str()), t.person))
        .collect();
    let mut out = Vec::new();
    for t in &pop.tables {
        if t.data_set == DataSet::EdAssaults {
            continue;
        }
        let r = t.column(Meaning::SourceRef).unwrap();
        for (i, row) in t.rows.iter().enumerate() {
            let p = truth[&(t.data_set, row[r].as_str())];
            out.push((t.data_set, i, by_id[&p]));
        }
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_population() {
    let a = generate(&small(7));
    let b = generate(&small(7));
    assert_eq!(a.people, b.people);
    assert_eq!(a.truth, b.truth);
    for (x, y) in a.tables.iter().zip(&b.tables) {
        assert_eq!(x.rows, y.rows);
    }
    let c = generate(&small(8));
    assert_ne!(a.people, c.people);
}

#[test]
fn all_nine_data_sets_are_present_from_the_right_sources() {
    let pop = generate(&small(1));
    let got: Vec<DataSet> = pop.tables.iter().map(|t| t.data_set).collect();
    assert_eq!(got, DataSet::ALL);
    for t in &pop.tables {
        assert!(!t.rows.is_empty(), "{} is empty", t.data_set.name());
        assert!(t.rows.iter().all(|r| r.len() == t.columns.len()));
        // Source references are unique within a data set.
        let r = t.column(Meaning::SourceRef).unwrap();
        let mut refs: Vec<&str> = t.rows.iter().map(|row| row[r].as_str()).collect();
        refs.sort_unstable();
        refs.dedup();
        assert_eq!(refs.len(), t.rows.len(), "{}", t.data_set.name());
    }
    assert_eq!(
        pop.table(DataSet::EdAssaults).data_set.source(),
        Source::Health
    );
    assert_eq!(
        pop.table(DataSet::Marac).data_set.source(),
        Source::CommunitySafety
    );
    assert_eq!(
        pop.table(DataSet::Probation).data_set.org(),
        "hmpps-probation"
    );
    // Every identifying record has a truth row, ED attendances none.
    let identifying: usize = pop
        .tables
        .iter()
        .filter(|t| t.data_set != DataSet::EdAssaults)
        .map(|t| t.rows.len())
        .sum();
    assert_eq!(pop.truth.len(), identifying);
}

#[test]
fn every_nhs_number_passes_modulus_11_and_is_in_the_test_range() {
    let pop = generate(&small(2));
    for p in &pop.people {
        assert!(nhs_is_valid(&p.nhs_number), "{}", p.nhs_number);
        assert!(p.nhs_number.starts_with("999"));
    }
    let mut seen = 0;
    for t in &pop.tables {
        if let Some(c) = t.column(Meaning::NhsNumber) {
            for r in &t.rows {
                if !r[c].is_empty() {
                    assert!(nhs_is_valid(&r[c]));
                    seen += 1;
                }
            }
        }
    }
    assert!(seen > 100);
    let mut nhs: Vec<&str> = pop.people.iter().map(|p| p.nhs_number.as_str()).collect();
    nhs.sort_unstable();
    nhs.dedup();
    assert_eq!(nhs.len(), pop.people.len(), "NHS numbers are unique");
}

#[test]
fn ed_rows_carry_no_identifiers() {
    let pop = generate(&small(3));
    let ed = pop.table(DataSet::EdAssaults);
    assert!(ed.columns.iter().all(|c| !c.meaning.is_identifier()));
    let names: std::collections::HashSet<&str> = pop
        .people
        .iter()
        .flat_map(|p| [p.forename.as_str(), p.surname.as_str(), p.postcode.as_str()])
        .collect();
    for row in &ed.rows {
        for v in row {
            assert!(
                !names.contains(v.as_str()),
                "ED value {v} looks like an identifier"
            );
        }
    }
    // The ISTV fields are there.
    for m in [
        Meaning::EventDate,
        Meaning::EventHour,
        Meaning::Weapon,
        Meaning::LocationType,
        Meaning::SiteCode,
    ] {
        assert!(ed.column(m).is_some(), "{m:?}");
    }
}

#[test]
fn twins_exist_and_differ_in_forename_and_nhs_number() {
    let pop = generate(&small(4));
    let by_id: HashMap<u64, &Person> = pop.people.iter().map(|p| (p.id, p)).collect();
    let twins: Vec<(&Person, &Person)> = pop
        .people
        .iter()
        .filter_map(|p| p.twin_of.map(|t| (p, by_id[&t])))
        .filter(|(a, b)| a.id < b.id)
        .collect();
    assert!(twins.len() >= 20, "only {} twin pairs", twins.len());
    for (a, b) in twins {
        assert_eq!(a.surname, b.surname);
        assert_eq!(a.dob, b.dob);
        assert_eq!(a.postcode, b.postcode);
        assert_ne!(a.forename, b.forename);
        assert_ne!(a.nhs_number, b.nhs_number);
        assert_eq!(b.twin_of, Some(a.id));
    }
}

fn parse_date(s: &str, f: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, f).ok()
}

#[test]
fn error_rates_are_roughly_as_configured() {
    let cfg = SynthConfig {
        seed: 5,
        people: 20_000,
        errors: ErrorRates {
            name_swap: 0.10,
            dob_day_month: 0.30,
            missing_field: 0.05,
            missing_nhs: 0.5,
            nickname: 0.0,
            typo: 0.0,
            hyphen: 0.0,
            ..ErrorRates::default()
        },
        ..SynthConfig::default()
    };
    let pop = generate(&cfg);
    let rows = person_of_rows(&pop);
    let (mut swapped, mut named) = (0.0, 0.0);
    let (mut transposed, mut eligible) = (0.0, 0.0);
    let (mut blank_pc, mut all) = (0.0, 0.0);
    for (ds, i, p) in &rows {
        let t = pop.table(*ds);
        let row = &t.rows[*i];
        let f = &row[t.column(Meaning::Forename).unwrap()];
        let s = &row[t.column(Meaning::Surname).unwrap()];
        if p.forename != p.surname && !f.is_empty() {
            named += 1.0;
            if *f == p.surname && *s == p.forename {
                swapped += 1.0;
            }
        }
        let dc = &t.columns[t.column(Meaning::DateOfBirth).unwrap()];
        if let Some(d) = parse_date(
            &row[t.column(Meaning::DateOfBirth).unwrap()],
            dc.format.unwrap(),
        ) && p.dob.day() <= 12
            && p.dob.day() != p.dob.month()
        {
            eligible += 1.0;
            if d != p.dob && d.day() == p.dob.month() && d.month() == p.dob.day() {
                transposed += 1.0;
            }
        }
        all += 1.0;
        if row[t.column(Meaning::Postcode).unwrap()].is_empty() {
            blank_pc += 1.0;
        }
    }
    let near = |got: f64, want: f64| (got - want).abs() < want * 0.2 + 0.005;
    assert!(
        near(swapped / named, 0.10),
        "name swaps {}",
        swapped / named
    );
    assert!(
        near(transposed / eligible, 0.30),
        "dob transpositions {}",
        transposed / eligible
    );
    assert!(
        near(blank_pc / all, 0.05),
        "blank postcodes {}",
        blank_pc / all
    );
    // Children's services hold the NHS number 92% of the time, less the
    // configured missing rate.
    let cs = pop.table(DataSet::ChildrensDaExploitation);
    let c = cs.column(Meaning::NhsNumber).unwrap();
    let held = cs.rows.iter().filter(|r| !r[c].is_empty()).count() as f64 / cs.rows.len() as f64;
    assert!(near(held, 0.92 * 0.5), "children's NHS numbers held {held}");
}

#[test]
fn nicknames_typos_and_hyphen_cuts_happen() {
    let cfg = SynthConfig {
        seed: 6,
        people: 20_000,
        errors: ErrorRates {
            nickname: 0.5,
            typo: 0.2,
            hyphen: 0.5,
            name_swap: 0.0,
            ..ErrorRates::default()
        },
        ..SynthConfig::default()
    };
    let pop = generate(&cfg);
    let (mut nick, mut typo, mut cut) = (0, 0, 0);
    for (ds, i, p) in person_of_rows(&pop) {
        let t = pop.table(ds);
        let row = &t.rows[i];
        let f = &row[t.column(Meaning::Forename).unwrap()];
        let s = &row[t.column(Meaning::Surname).unwrap()];
        if p.forename == "William" && (f == "Bill" || f == "Will") {
            nick += 1;
        }
        if f != &p.forename
            && !f.is_empty()
            && f.chars().count().abs_diff(p.forename.chars().count()) <= 1
        {
            typo += 1;
        }
        if p.surname.contains('-') && !s.contains('-') && p.surname.starts_with(s.as_str()) {
            cut += 1;
        }
    }
    assert!(
        nick > 0 && typo > 100 && cut > 0,
        "nick {nick} typo {typo} cut {cut}"
    );
}

#[test]
fn write_produces_csvs_mappings_and_the_truth() {
    let pop = generate(&SynthConfig {
        people: 2_000,
        ..small(9)
    });
    let dir = tempfile::tempdir().unwrap();
    let paths = write(&pop, dir.path()).unwrap();
    assert_eq!(paths.len(), 9 * 2 + 1);
    for ds in DataSet::ALL {
        let csv = std::fs::read_to_string(dir.path().join(format!("{}.csv", ds.name()))).unwrap();
        let header = csv.lines().next().unwrap();
        let t = pop.table(ds);
        assert_eq!(
            header,
            t.columns
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            csv::Reader::from_path(dir.path().join(format!("{}.csv", ds.name())))
                .unwrap()
                .records()
                .count(),
            t.rows.len()
        );
        let m = std::fs::read_to_string(dir.path().join(format!("{}.mapping.toml", ds.name())))
            .unwrap();
        let v: toml::Table = toml::from_str(&m).unwrap();
        assert_eq!(v["source"].as_str(), Some(ds.source().as_str()));
    }
    let truth = std::fs::read_to_string(dir.path().join("truth.csv")).unwrap();
    assert_eq!(truth.lines().count(), pop.truth.len() + 1);
    assert!(truth.starts_with("data_set,org,record_ref,person_id\n"));
}

/// The mapping files are in concord-agent's format, and the agent reads
/// every generated export without a single row error.
#[test]
fn the_push_agent_reads_every_export_with_its_mapping() {
    let pop = generate(&SynthConfig {
        people: 4_000,
        ..small(10)
    });
    let dir = tempfile::tempdir().unwrap();
    write(&pop, dir.path()).unwrap();
    let key = concord_keys::LinkageKey::new("lk-test", &[3u8; 32]).unwrap();
    let opts = concord_agent::ReadOptions {
        today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        ..Default::default()
    };
    for ds in DataSet::ALL {
        let text = std::fs::read_to_string(dir.path().join(format!("{}.mapping.toml", ds.name())))
            .unwrap();
        let mapping = concord_agent::Mapping::from_toml(&text, ds.name())
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", ds.name()));
        let csv = std::fs::File::open(dir.path().join(format!("{}.csv", ds.name()))).unwrap();
        let out = concord_agent::read_extract(csv, &mapping, &key, &opts).unwrap();
        assert!(
            out.is_clean(),
            "{}: {} row errors, first {:?}",
            ds.name(),
            out.row_errors,
            out.rejects.first()
        );
        assert_eq!(out.records.len(), pop.table(ds).rows.len());
        let with_tokens = out.records.iter().filter(|r| !r.tokens.is_empty()).count();
        if ds == DataSet::EdAssaults {
            assert_eq!(with_tokens, 0, "ED attendances carry no tokens");
        } else {
            assert_eq!(with_tokens, out.records.len(), "{}", ds.name());
        }
    }
}
