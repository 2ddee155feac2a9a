//! Writing a population to files: one CSV and one mapping file per data
//! set, and the truth apart.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use crate::{Population, SynthError, datasets::Table};

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

/// The mapping file of a table (see the crate doc, "Mapping files").
pub fn mapping_toml(t: &Table) -> String {
    let ds = t.data_set;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# How to read {}.csv: which column holds which record field, and how\n\
         # the agency's words map to Concord's vocabulary. Values not listed\n\
         # in a column's `values` are left unset. Written by concord-synth.",
        ds.name()
    );
    let _ = writeln!(s, "format = \"concord-synth-mapping-1\"");
    let _ = writeln!(s, "data_set = {}", quote(ds.name()));
    let _ = writeln!(s, "title = {}", quote(ds.title()));
    let _ = writeln!(s, "org = {}", quote(ds.org()));
    let _ = writeln!(s, "source = {}", quote(ds.source().as_str()));
    let _ = writeln!(s, "file = {}", quote(&format!("{}.csv", ds.name())));
    if let Some(k) = t.record_kind {
        let _ = writeln!(s, "record_kind = {}", quote(k.as_str()));
    }
    if let Some(r) = t.role {
        let _ = writeln!(s, "role = {}", quote(r.as_str()));
    }
    for c in &t.columns {
        let _ = writeln!(s, "\n[[column]]");
        let _ = writeln!(s, "name = {}", quote(c.name));
        let _ = writeln!(s, "field = {}", quote(c.meaning.as_str()));
        if let Some(f) = c.format {
            let _ = writeln!(s, "date_format = {}", quote(f));
        }
        if !c.values.is_empty() {
            let _ = writeln!(s, "[column.values]");
            for (from, to) in c.values {
                let _ = writeln!(s, "{} = {}", quote(from), quote(to));
            }
        }
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
