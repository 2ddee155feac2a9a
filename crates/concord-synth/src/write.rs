//! Writing a population to files: one CSV and one mapping file per data
//! set, and the truth apart.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use crate::{
    Population, SynthError,
    datasets::{Column, DataSetSynth as _, Meaning, Table},
};

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn field_value(c: &Column) -> String {
    let mut parts = vec![format!("column = {}", quote(c.name))];
    if let Some(f) = c.format {
        parts.push(format!("format = {}", quote(f)));
    }
    if !c.values.is_empty() {
        let entries: Vec<String> = c
            .values
            .iter()
            .map(|(from, to)| {
                let to = if c.meaning.is_flag() {
                    (*to).to_owned()
                } else {
                    quote(to)
                };
                format!("{} = {to}", quote(from))
            })
            .collect();
        parts.push(format!("map = {{ {} }}", entries.join(", ")));
    }
    if parts.len() == 1 {
        quote(c.name)
    } else {
        format!("{{ {} }}", parts.join(", "))
    }
}

/// The mapping file of a table, in `concord-agent`'s format (see that
/// crate's doc): `source`, `record_id`, `record_kind`, `[identifiers]`
/// and `[fields]`. Columns the agency keeps to itself are named in a
/// comment and not mapped.
pub fn mapping_toml(t: &Table) -> String {
    let ds = t.data_set;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {}: how concord-agent reads {}.csv.\n\
         # Pushed by {} (synthetic data from concord-synth).",
        ds.title(),
        ds.name(),
        ds.org()
    );
    let _ = writeln!(s, "source = {}", quote(ds.source().as_str()));
    let id = t.column(Meaning::SourceRef).expect("a record id column");
    let _ = writeln!(s, "record_id = {}", quote(t.columns[id].name));
    match (t.record_kind, t.column(Meaning::RecordKind)) {
        (Some(k), _) => {
            let _ = writeln!(s, "record_kind = {{ value = {} }}", quote(k.as_str()));
        }
        (None, Some(c)) => {
            let _ = writeln!(s, "record_kind = {}", field_value(&t.columns[c]));
        }
        (None, None) => unreachable!("every table has a record kind"),
    }
    let ignored: Vec<&str> = t
        .columns
        .iter()
        .filter(|c| c.meaning == Meaning::Ignore)
        .map(|c| c.name)
        .collect();
    if !ignored.is_empty() {
        let _ = writeln!(s, "# Not sent: {}.", ignored.join(", "));
    }
    let identifiers: Vec<&Column> = t
        .columns
        .iter()
        .filter(|c| c.meaning.is_identifier())
        .collect();
    if !identifiers.is_empty() {
        let _ = writeln!(s, "\n[identifiers]");
        for c in &identifiers {
            let _ = writeln!(s, "{} = {}", c.meaning.as_str(), quote(c.name));
        }
    }
    let _ = writeln!(s, "\n[fields]");
    for c in &t.columns {
        if c.meaning.is_identifier()
            || matches!(
                c.meaning,
                Meaning::SourceRef | Meaning::RecordKind | Meaning::Ignore
            )
        {
            continue;
        }
        let _ = writeln!(s, "{} = {}", c.meaning.as_str(), field_value(c));
    }
    let _ = writeln!(s, "date_precision = {{ value = \"day\" }}");
    if let Some(r) = t.role {
        let _ = writeln!(s, "role = {{ value = {} }}", quote(r.as_str()));
    }
    for (field, value) in &t.fixed {
        let _ = writeln!(s, "{field} = {{ value = {value} }}");
    }
    if t.column(Meaning::DateOfBirth).is_some() {
        let _ = writeln!(s, "age_band_from_date_of_birth = true");
    }
    s
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_owned(),
        source,
    }
}

fn csv_err(path: &Path) -> impl FnOnce(csv::Error) -> SynthError + '_ {
    move |e| SynthError::Csv {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Writes `<data set>.csv` and `<data set>.mapping.toml` for each data set,
/// and `truth.csv` (data_set, org, record_ref, person_id), into `dir`
/// (created if missing). Returns the paths written.
pub fn write(pop: &Population, dir: &Path) -> Result<Vec<PathBuf>, SynthError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for t in &pop.tables {
        let path = dir.join(format!("{}.csv", t.data_set.name()));
        let mut w = csv::Writer::from_path(&path).map_err(csv_err(&path))?;
        w.write_record(t.columns.iter().map(|c| c.name))
            .map_err(csv_err(&path))?;
        for r in &t.rows {
            w.write_record(r).map_err(csv_err(&path))?;
        }
        w.flush().map_err(io(&path))?;
        written.push(path);
        let path = dir.join(format!("{}.mapping.toml", t.data_set.name()));
        fs::write(&path, mapping_toml(t)).map_err(io(&path))?;
        written.push(path);
    }
    let path = dir.join("truth.csv");
    let mut w = csv::Writer::from_path(&path).map_err(csv_err(&path))?;
    w.write_record(["data_set", "org", "record_ref", "person_id"])
        .map_err(csv_err(&path))?;
    for t in &pop.truth {
        w.write_record([
            t.data_set.name(),
            t.data_set.org(),
            t.record_ref.as_str(),
            &t.person.to_string(),
        ])
        .map_err(csv_err(&path))?;
    }
    w.flush().map_err(io(&path))?;
    written.push(path);
    Ok(written)
}
