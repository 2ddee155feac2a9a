//! `concord synth`: a seeded synthetic population, written as the
//! partnership's nine agency exports by `concord-synth`, each with its
//! mapping file in the push agent's format (which `concord push --csv` and
//! `concord tokenise` read), and the truth (which person each record
//! belongs to) apart.

use concord_synth::DataSetSynth as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use concord_synth::{DataSet, Population, SynthConfig};
use indicatif::ProgressBar;

use crate::agent;

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct SynthArgs {
    /// Directory to write into (created if missing; files of the same names are replaced)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed: the same seed and settings write the same files
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().seed)]
    pub seed: u64,
    /// Residents to generate (only some of them have records)
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().people as u64, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    pub people: u64,
    /// First day events may fall on, YYYY-MM-DD (with --period-end) [default: 2025-11-01]
    #[arg(long, value_name = "DATE", requires = "period_end")]
    pub period_start: Option<NaiveDate>,
    /// Last day events may fall on, YYYY-MM-DD (with --period-start) [default: 2026-10-31]
    #[arg(long, value_name = "DATE", requires = "period_start")]
    pub period_end: Option<NaiveDate>,
}

const AFTER_HELP: &str = "\
Writes, for each of the partnership's nine data sets (police violent crime, children's
services, youth offending, adult safeguarding, MARAC, emergency department assaults, youth
services, housing, probation), DATASET.csv (an agency export with synthetic names, dates of
birth, NHS numbers, PNC ids and postcodes, with realistic recording errors) and
DATASET.mapping.toml (its mapping for `concord push --csv` and `concord tokenise`), and
truth.csv: which synthetic person each record belongs to, for `concord link --truth`. Nothing
here is real. Push an export with its mapping, for example:

  concord push --csv DIR/police_violent_crime.csv --mapping DIR/police_violent_crime.mapping.toml \\
    --extract-id police-1 --period-start 2025-11-01 --period-end 2026-10-31 --mode snapshot \\
    --pki .concord/pki --user mps-cw-push";

/// What `write` wrote for one data set.
pub(crate) struct Written {
    pub data_set: DataSet,
    pub csv: PathBuf,
    pub mapping: PathBuf,
    pub rows: usize,
}

pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let cfg = config(args)?;
    let bar = ProgressBar::new_spinner().with_message(format!(
        "generating {} synthetic residents and their records",
        cfg.people
    ));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let pop = concord_synth::generate(&cfg);
    bar.finish_and_clear();
    let written = write(&pop, &args.out)?;
    println!(
        "wrote a synthetic population to {}: {} residents (seed {}), events from {} to {}",
        args.out.display(),
        cfg.people,
        cfg.seed,
        cfg.period_start,
        cfg.period_end
    );
    for w in &written {
        println!(
            "  {:<32} {:>7} rows  {} (source {}, pushed by {})",
            file_name(&w.csv),
            w.rows,
            file_name(&w.mapping),
            w.data_set.source(),
            w.data_set.org()
        );
    }
    println!(
        "  {:<32} {:>7} rows  which person each record belongs to (for `concord link --truth`; \
         never pushed)",
        "truth.csv",
        pop.truth.len()
    );
    println!(
        "next: push an export with `concord push --csv FILE --mapping FILE.toml …`, or tokenise \
         them all and measure linkage offline with `concord tokenise` and `concord link` (see \
         --help of each)"
    );
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The generator settings from the arguments.
pub(crate) fn config(args: &SynthArgs) -> anyhow::Result<SynthConfig> {
    let mut cfg = SynthConfig {
        seed: args.seed,
        people: usize::try_from(args.people).context("--people is too large")?,
        ..SynthConfig::default()
    };
    if let (Some(start), Some(end)) = (args.period_start, args.period_end) {
        cfg.period_start = start;
        cfg.period_end = end;
    }
    if let Err(e) = cfg.validate() {
        bail!("{e} (check --period-start and --period-end)");
    }
    Ok(cfg)
}

/// Writes every export, its mapping and `truth.csv` into `dir`
/// (`concord_synth::write`), and checks that each mapping loads as the push
/// agent will load it.
pub(crate) fn write(pop: &Population, dir: &Path) -> anyhow::Result<Vec<Written>> {
    concord_synth::write(pop, dir).with_context(|| {
        format!(
            "cannot write the synthetic population to {} (choose another --out)",
            dir.display()
        )
    })?;
    let mut written = Vec::new();
    for table in &pop.tables {
        let name = table.data_set.name();
        let mapping = dir.join(format!("{name}.mapping.toml"));
        agent::mapping(&mapping)
            .with_context(|| format!("the mapping written for {name} does not load (a bug)"))?;
        written.push(Written {
            data_set: table.data_set,
            csv: dir.join(format!("{name}.csv")),
            mapping,
            rows: table.rows.len(),
        });
    }
    Ok(written)
}
