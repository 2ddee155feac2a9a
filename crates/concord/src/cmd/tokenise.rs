//! `concord tokenise`: the push agent's reading and tokenising, offline. An
//! agency export and its mapping in, a token CSV out
//! (`concord_agent::write_token_csv`, streaming), which `concord push
//! --tokens` sends and `concord link` links. Identifiers stop here.
//!
//! The token file is written as `OUT.partial` and renamed to `OUT` only
//! when the whole export was good (or, with `--rejects`, when the rows with
//! problems were set aside), so a failed run never leaves a token file that
//! looks complete.

use std::{fs, io::BufWriter, path::PathBuf};

use anyhow::{Context, bail};

use crate::agent;

#[derive(Debug, clap::Args)]
#[command(
    after_long_help = AFTER_HELP,
    group(clap::ArgGroup::new("key").required(true).args(["linkage_key", "pki"])),
)]
pub struct TokeniseArgs {
    /// The agency export (CSV with a header row)
    #[arg(long, value_name = "FILE.csv")]
    pub csv: PathBuf,
    /// The mapping of the export's columns (TOML)
    #[arg(long, value_name = "FILE.toml")]
    pub mapping: PathBuf,
    /// The token CSV to write (replaced if it exists)
    #[arg(long, value_name = "FILE.tokens.csv")]
    pub out: PathBuf,
    /// Linkage key file [default: DIR/keys/linkage.json of --pki]
    #[arg(long, value_name = "FILE")]
    pub linkage_key: Option<PathBuf>,
    /// PKI directory holding keys/linkage.json
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// Write the valid rows, and the rows with problems to FILE (line, column, reason)
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Keep rows about unidentified people (no usable identifier) as records without tokens
    #[arg(long)]
    pub keep_untokenised: bool,
    /// The share of rows (0 to 1) an identifier column may fail validation on; above it no token file is written, as the column is almost surely mapped wrongly (a date of birth in another layout)
    #[arg(long, value_name = "SHARE", default_value_t = concord_agent::DEFAULT_MAX_INVALID_SHARE, value_parser = super::push::parse_share)]
    pub max_invalid_share: f64,
}

const AFTER_HELP: &str = "\
The export is read as `concord push --csv` reads it: identifiers are normalised (spec mk1)
and hashed with the linkage key into match-key tokens of the mk2 key set (a multi-token key's
tokens joined by `;` in its tok_<key> cell), the agency's record id into a keyed
source_ref; the token file holds nothing else that identifies anyone. Identifiers that are
placeholders or invalid are dropped and counted by reason. Any other problem with a row is
reported as `line N, column \"C\": reason` (never the value) and nothing is written, unless
--rejects FILE is given: then the valid rows are written and the others listed in FILE.

The token file does not say which source it is of: `concord push --tokens` takes --source,
and `concord link` takes SOURCE=FILE, or a file name starting with the source or with the
`concord synth` data set (police.tokens.csv, police_violent_crime.tokens.csv).";

pub fn run(args: &TokeniseArgs) -> anyhow::Result<()> {
    let mapping = agent::mapping(&args.mapping)?;
    let key = agent::linkage_key(args.linkage_key.as_deref(), args.pki.as_deref())?;
    let opts = agent::read_options(None, args.keep_untokenised, args.rejects.is_some());
    let partial = agent::partial_path(&args.out);
    let out = fs::File::create(&partial).with_context(|| {
        format!(
            "cannot write {} (check that the directory of --out exists)",
            partial.display()
        )
    })?;
    let (input, bar) = agent::open_export(&args.csv, true, "tokenised")?;
    let summary = concord_agent::write_token_csv(input, BufWriter::new(out), &mapping, &key, &opts);
    bar.finish_and_clear();
    let summary = match summary {
        Ok(summary) => summary,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e).with_context(|| format!("cannot tokenise {}", args.csv.display()));
        }
    };
    if let Err(e) = super::push::refuse_failing_columns(
        &summary.column_quality,
        &mapping,
        &args.mapping,
        args.max_invalid_share,
        "no token file was written",
    ) {
        let _ = fs::remove_file(&partial);
        return Err(e);
    }
    if summary.row_errors > 0 && args.rejects.is_none() {
        let _ = fs::remove_file(&partial);
        agent::print_row_errors(&summary.rejects, summary.row_errors);
        return Err(agent::rows_refused(
            summary.row_errors,
            &args.csv,
            "no token file was written",
            "--rejects",
        ));
    }
    if let Some(path) = &args.rejects {
        agent::write_rejects(path, &summary.rejects)?;
    }
    if summary.written == 0 && summary.rows > 0 {
        let _ = fs::remove_file(&partial);
        bail!(
            "every row of {} has a problem; no token file was written",
            args.csv.display()
        );
    }
    fs::rename(&partial, &args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "tokenised {} row(s) of {} ({}, mapping {}, linkage key {}) into {}: {} record(s){}",
        summary.rows,
        args.csv.display(),
        mapping.source(),
        args.mapping.display(),
        key.id(),
        args.out.display(),
        summary.written,
        match summary.untokenised {
            0 => String::new(),
            n => format!(", {n} without match-key tokens (--keep-untokenised)"),
        }
    );
    println!("  {}", agent::rejections_line(&summary.rejection_counts));
    if let Some(path) = &args.rejects {
        println!(
            "  {} row error(s) set aside in {} (not in the token file)",
            summary.row_errors,
            path.display()
        );
    }
    Ok(())
}
