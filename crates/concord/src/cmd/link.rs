//! `concord link`: linkage offline, over token files, with the code the
//! broker runs (`concord_linkage::Linker`, default `LinkConfig`), so that
//! linkage quality can be measured without a server (DESIGN §2).
//!
//! Files are linked one after another in the order given, each as one
//! batch, as the broker links extracts in commit order. Records are
//! numbered in that order (file by file, row by row), as the broker's
//! record ids grow with time.
//!
//! A token file does not say which source it is of: each `--tokens` value
//! is `SOURCE=FILE`, or a `FILE` whose name starts with the name of a
//! source, or of one of `concord synth`'s data sets, followed by `.`, `-`,
//! `_` or nothing (`police.tokens.csv`, `community_safety-marac.csv`,
//! `childrens_da_exploitation.tokens.csv`).

use concord_synth::DataSetSynth as _;
use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use concord_core::{Source, Token};
use concord_linkage::{FIELDS, LinkConfig, LinkRecord, Linker, PossibleMatch, RecordOutcome};
use concord_synth::DataSet;
use indicatif::ProgressBar;

use crate::{
    agent,
    quality::{self, Judged, Truth},
    token_csv::{self, TokenCsvError},
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct LinkArgs {
    /// Token files, linked in this order: SOURCE=FILE, or FILE named after its source or synth data set (police.tokens.csv)
    #[arg(long, value_name = "[SOURCE=]FILE", required = true, num_args = 1.., value_parser = parse_input)]
    pub tokens: Vec<TokenInput>,
    /// Where to write each record's person and outcome (CSV)
    #[arg(long, value_name = "FILE.csv")]
    pub out: PathBuf,
    /// Where to write the review queue (CSV) [default: possible.csv beside --out]
    #[arg(long, value_name = "FILE.csv")]
    pub possible: Option<PathBuf>,
    /// truth.csv from `concord synth`: measure precision and recall against it
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// With --truth: the linkage key the token files were made with [default: DIR/keys/linkage.json of --pki]
    #[arg(long, value_name = "FILE")]
    pub linkage_key: Option<PathBuf>,
    /// With --truth: PKI directory holding keys/linkage.json
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Output (--out): one row per record: file, line (in its token file), source, source_ref,
person (the linker's person id; empty for a record without tokens), outcome (linked: its
person has other records; possible: held for review, never merged silently; unlinked; or
no_tokens). The review queue (--possible): file, line, source, source_ref, person,
candidate_person, score (the match weight in bits), match_probability, and the pair's
comparison level of forename, surname, date_of_birth and postcode (exact, variant,
one_edit, part, phonetic, initial, day_month_swapped, year_month or disagree; empty where
one record does not hold the field), for each pair still open at the end.

With --truth truth.csv (from `concord synth`) the linkage is measured: pairwise precision,
recall and F1 overall and per pair of sources, and cluster precision and recall. The truth
names agency record ids; they are joined to the token files by keying each with the linkage
key the files were tokenised with (--linkage-key FILE or --pki DIR), as the push agent does.

Example, from `concord synth --out synth` and a development PKI in pki/:
  concord tokenise --csv synth/police_violent_crime.csv \\
    --mapping synth/police_violent_crime.mapping.toml --out tok/police.tokens.csv --pki pki
  (… one token file per export …)
  concord link --tokens tok/*.tokens.csv --out clusters.csv --truth synth/truth.csv --pki pki";

/// One `--tokens` value.
#[derive(Debug, Clone)]
pub struct TokenInput {
    pub source: Source,
    pub path: PathBuf,
}

fn parse_input(s: &str) -> Result<TokenInput, String> {
    if let Some((name, path)) = s.split_once('=')
        && let Ok(source) = name.parse::<Source>()
    {
        return Ok(TokenInput {
            source,
            path: PathBuf::from(path),
        });
    }
    let path = PathBuf::from(s);
    match source_from_name(&path) {
        Some(source) => Ok(TokenInput { source, path }),
        None => Err(format!(
            "cannot tell the source of this file from its name; give SOURCE=FILE, or name it \
             after its source (e.g. police.tokens.csv) or its `concord synth` data set; the \
             sources are {}",
            Source::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The source a file name starts with (its name, or the name of a
/// `concord synth` data set of it, followed by `.`, `-`, `_` or the end);
/// the longest match wins.
fn source_from_name(path: &Path) -> Option<Source> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let sources = Source::ALL.iter().map(|s| (s.as_str(), *s));
    let data_sets = DataSet::ALL.iter().map(|d| (d.name(), d.source()));
    sources
        .chain(data_sets)
        .filter(|(prefix, _)| {
            name.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-', '_']))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, source)| source)
}

/// Where a record came from.
struct Origin {
    file: usize,
    line: u64,
    source: Source,
    source_ref: Token,
    has_tokens: bool,
}

pub fn run(args: &LinkArgs) -> anyhow::Result<()> {
    let truth = match &args.truth {
        Some(path) => {
            let key = agent::linkage_key(args.linkage_key.as_deref(), args.pki.as_deref())
                .context(
                    "--truth needs the linkage key the token files were made with, to join them",
                )?;
            Some((Truth::load(path, &key)?, path, key.id().to_owned()))
        }
        None => None,
    };
    let possible_path = match &args.possible {
        Some(p) => p.clone(),
        None => args.out.with_file_name("possible.csv"),
    };
    // Every input is read and checked, and the outputs opened, before any
    // work is done.
    let mut files = Vec::with_capacity(args.tokens.len());
    for input in &args.tokens {
        files.push(read(&input.path)?);
    }
    let clusters_out = writer(&args.out)?;
    let possible_out = writer(&possible_path)?;

    let mut linker = Linker::new(LinkConfig::default());
    let mut origins: Vec<Origin> = Vec::new();
    let mut possible: Vec<PossibleMatch> = Vec::new();
    let mut absorbed: HashMap<u64, u64> = HashMap::new();
    let mut frequent = 0u64;
    println!(
        "linking {} token file(s), in this order:",
        args.tokens.len()
    );
    for (file, (input, rows)) in args.tokens.iter().zip(files).enumerate() {
        let first = origins.len() as u64 + 1;
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let id = origins.len() as u64 + 1;
            origins.push(Origin {
                file,
                line: row.line,
                source: input.source,
                source_ref: row.record.source_ref,
                has_tokens: !row.record.tokens.is_empty(),
            });
            batch.push(LinkRecord {
                id,
                source: input.source,
                tokens: row.record.tokens,
            });
        }
        let records = batch.len();
        let bar = ProgressBar::new_spinner().with_message(format!(
            "linking {} ({records} records)",
            input.path.display()
        ));
        bar.enable_steady_tick(Duration::from_millis(120));
        let outcome = linker.add(batch);
        bar.finish_and_clear();
        let without = outcome
            .records
            .iter()
            .filter(|(_, o)| matches!(o, RecordOutcome::NoTokens))
            .count();
        println!(
            "  {:<48} {:<20} {records:>8} records (ids {first}–{}){}",
            input.path.display(),
            input.source.as_str(),
            origins.len(),
            match without {
                0 => String::new(),
                n => format!(", {n} without tokens"),
            }
        );
        for m in &outcome.merges {
            for a in &m.absorbed {
                absorbed.insert(*a, m.survivor);
            }
        }
        frequent += outcome.stats.frequent_tokens;
        possible.extend(outcome.possible);
    }

    // The final state: each record's person, and the review pairs still open.
    let person_of: HashMap<u64, u64> = linker.assignments().into_iter().collect();
    let mut size: HashMap<u64, u64> = HashMap::new();
    for p in person_of.values() {
        *size.entry(*p).or_default() += 1;
    }
    let resolve = |mut p: u64| {
        while let Some(next) = absorbed.get(&p) {
            p = *next;
        }
        p
    };
    // (candidate person, the pair as the linker held it)
    let mut open: Vec<(u64, &PossibleMatch)> = Vec::new();
    let mut seen = HashSet::new();
    for m in &possible {
        let candidate = resolve(m.person);
        let Some(&person) = person_of.get(&m.record) else {
            continue;
        };
        if person != candidate && seen.insert((m.record, candidate)) {
            open.push((candidate, m));
        }
    }
    let queued: HashSet<u64> = open.iter().map(|(_, m)| m.record).collect();
    let outcome_of = |id: u64| -> (&'static str, Option<u64>) {
        match person_of.get(&id) {
            None => ("no_tokens", None),
            Some(p) if size[p] > 1 => ("linked", Some(*p)),
            Some(p) if queued.contains(&id) => ("possible", Some(*p)),
            Some(p) => ("unlinked", Some(*p)),
        }
    };

    write_clusters(clusters_out, &args.out, &args.tokens, &origins, &outcome_of)?;
    write_possible(
        possible_out,
        &possible_path,
        &args.tokens,
        &origins,
        &person_of,
        &open,
    )?;

    let mut counts: HashMap<&str, u64> = HashMap::new();
    for id in 1..=origins.len() as u64 {
        *counts.entry(outcome_of(id).0).or_default() += 1;
    }
    let mut sources_of: HashMap<u64, HashSet<Source>> = HashMap::new();
    for (id, p) in &person_of {
        sources_of
            .entry(*p)
            .or_default()
            .insert(origins[(*id - 1) as usize].source);
    }
    let tokenised = origins.iter().filter(|o| o.has_tokens).count();
    let get = |k: &str| counts.get(k).copied().unwrap_or(0);
    println!(
        "linked {} record(s), {tokenised} with match-key tokens, into {} people:",
        origins.len(),
        size.len()
    );
    println!(
        "  linked:     {:>8} records in a person with other records",
        get("linked")
    );
    println!(
        "  possible:   {:>8} records held for review ({} open pair(s) in {})",
        get("possible"),
        open.len(),
        possible_path.display()
    );
    println!("  unlinked:   {:>8} records alone", get("unlinked"));
    println!(
        "  no tokens:  {:>8} records (emergency department attendances carry none)",
        get("no_tokens")
    );
    println!(
        "  people with 2+ records: {}; known to 2+ sources: {}",
        size.values().filter(|n| **n > 1).count(),
        sources_of.values().filter(|s| s.len() > 1).count()
    );
    if frequent > 0 {
        println!(
            "  placeholder-like tokens skipped (carried by more than {} records): {frequent}",
            LinkConfig::default().frequent_token_cap
        );
    }
    println!(
        "wrote {} and {}",
        args.out.display(),
        possible_path.display()
    );

    if let Some((truth, path, key_id)) = truth {
        let mut judged = Vec::new();
        let mut found = vec![0usize; args.tokens.len()];
        for (i, o) in origins.iter().enumerate() {
            let id = i as u64 + 1;
            let (Some(cluster), Some(person)) =
                (person_of.get(&id), truth.person(o.source, &o.source_ref))
            else {
                continue;
            };
            found[o.file] += 1;
            judged.push(Judged {
                record: id,
                source: o.source,
                cluster: *cluster,
                person,
            });
        }
        if judged.is_empty() {
            bail!(
                "no record of the token files is in the truth {} ({} rows): check that the \
                 linkage key ({key_id}) is the one the files were tokenised with, and each \
                 file's source",
                path.display(),
                truth.len()
            );
        }
        for (file, input) in args.tokens.iter().enumerate() {
            if found[file] == 0 && origins.iter().any(|o| o.file == file && o.has_tokens) {
                eprintln!(
                    "warning: no record of {} is in the truth: is its source {} right?",
                    input.path.display(),
                    input.source
                );
            }
        }
        println!(
            "linkage quality against {} ({} of {tokenised} tokenised records have a known \
             person; linkage key {key_id}):",
            path.display(),
            judged.len()
        );
        print!("{}", quality::measure(&judged).render());
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Vec<token_csv::Row>> {
    match token_csv::read(path, None) {
        Ok(rows) => Ok(rows),
        Err(TokenCsvError::Rows(problems)) => {
            for p in &problems {
                eprintln!("{p}");
            }
            bail!(
                "{} problem(s) in {}: nothing was linked; correct the rows named above",
                problems.len(),
                path.display()
            )
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "cannot use the token file {} (see `concord push --help` for the format)",
                path.display()
            )
        }),
    }
}

fn writer(path: &Path) -> anyhow::Result<csv::Writer<std::fs::File>> {
    csv::Writer::from_path(path).with_context(|| {
        format!(
            "cannot write {} (check that its directory exists)",
            path.display()
        )
    })
}

fn write_clusters(
    mut w: csv::Writer<std::fs::File>,
    path: &Path,
    inputs: &[TokenInput],
    origins: &[Origin],
    outcome_of: &dyn Fn(u64) -> (&'static str, Option<u64>),
) -> anyhow::Result<()> {
    let context = || format!("cannot write {}", path.display());
    w.write_record(["file", "line", "source", "source_ref", "person", "outcome"])
        .with_context(context)?;
    for (i, o) in origins.iter().enumerate() {
        let (outcome, person) = outcome_of(i as u64 + 1);
        w.write_record([
            inputs[o.file].path.display().to_string(),
            o.line.to_string(),
            o.source.as_str().to_owned(),
            hex::encode(o.source_ref.as_bytes()),
            person.map(|p| p.to_string()).unwrap_or_default(),
            outcome.to_owned(),
        ])
        .with_context(context)?;
    }
    w.flush().with_context(context)
}

fn write_possible(
    mut w: csv::Writer<std::fs::File>,
    path: &Path,
    inputs: &[TokenInput],
    origins: &[Origin],
    person_of: &HashMap<u64, u64>,
    open: &[(u64, &PossibleMatch)],
) -> anyhow::Result<()> {
    let context = || format!("cannot write {}", path.display());
    let header = [
        "file",
        "line",
        "source",
        "source_ref",
        "person",
        "candidate_person",
        "score",
        "match_probability",
    ];
    w.write_record(header.iter().chain(&FIELDS))
        .with_context(context)?;
    for (candidate, m) in open {
        let o = &origins[(m.record - 1) as usize];
        let row = [
            inputs[o.file].path.display().to_string(),
            o.line.to_string(),
            o.source.as_str().to_owned(),
            hex::encode(o.source_ref.as_bytes()),
            person_of
                .get(&m.record)
                .map(|p| p.to_string())
                .unwrap_or_default(),
            candidate.to_string(),
            format!("{:.2}", m.score),
            format!("{:.3}", m.probability()),
        ];
        let levels = m.levels.map(|l| l.map(|l| l.as_str()).unwrap_or_default());
        w.write_record(row.iter().map(String::as_str).chain(levels))
            .with_context(context)?;
    }
    w.flush().with_context(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_named_after_its_source_or_says_it() {
        let source = |s: &str| parse_input(s).map(|i| i.source);
        assert_eq!(source("tok/police.tokens.csv"), Ok(Source::Police));
        assert_eq!(source("police-2026-10.csv"), Ok(Source::Police));
        assert_eq!(
            source("community_safety_marac.tokens.csv"),
            Ok(Source::CommunitySafety)
        );
        assert_eq!(source("youth_justice"), Ok(Source::YouthJustice));
        assert_eq!(source("health=a/b/x.csv"), Ok(Source::Health));
        assert!(source("policeish.csv").is_err());
        assert!(source("maracx.csv").is_err());
        assert_eq!(source("marac.tokens.csv"), Ok(Source::CommunitySafety));
        assert_eq!(
            source("synth/childrens_da_exploitation.tokens.csv"),
            Ok(Source::ChildrensServices)
        );
        let i = parse_input("housing=x=y.csv").unwrap();
        assert_eq!(i.path, PathBuf::from("x=y.csv"));
        // Not a source before '=': the whole value is the file.
        let i = parse_input("dir=1/police.csv").unwrap();
        assert_eq!(i.path, PathBuf::from("dir=1/police.csv"));
    }
}
