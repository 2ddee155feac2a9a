//! The agency side of the binary, shared by `push --csv`, `tokenise` and
//! `demo`: the linkage key, the mapping file, reading an export through
//! `concord-agent` (where identifiers become tokens and go no further),
//! and reporting problems by line, column and reason, never by value.

use std::{
    fs,
    io::{self, Read},
    path::{Path, PathBuf},
};

use anyhow::Context;
use concord_agent::{AgentOutput, Mapping, ReadOptions, RowError};
use concord_keys::{KeyFile, LinkageKey};
use concord_matchkey::RejectionCounts;
use concord_pki::PkiLayout;
use indicatif::{ProgressBar, ProgressStyle};

/// Exports larger than this show a progress bar while they are read.
const PROGRESS_ABOVE_BYTES: u64 = 1024 * 1024;

/// Row errors shown on the terminal when they are not set aside in a file.
pub const SHOWN_ROW_ERRORS: usize = 1000;

/// The linkage key: `--linkage-key FILE`, else `DIR/keys/linkage.json` of
/// `--pki DIR`. The secret is parsed, never shown.
pub fn linkage_key(file: Option<&Path>, pki: Option<&Path>) -> anyhow::Result<LinkageKey> {
    let path = match (file, pki) {
        (Some(file), _) => file.to_owned(),
        (None, Some(dir)) => PkiLayout::at(dir).linkage_key,
        (None, None) => anyhow::bail!(
            "give --linkage-key FILE, or --pki DIR holding keys/linkage.json (`concord pki init \
             --dir DIR` creates a development PKI with one)"
        ),
    };
    let what = path.display().to_string();
    let text = fs::read_to_string(&path).with_context(|| {
        format!("cannot read the linkage key file {what} (check --linkage-key or --pki)")
    })?;
    let file = KeyFile::parse(&text, &what)?;
    Ok(LinkageKey::from_file(&file, &what)?)
}

/// Loads and checks a mapping file.
pub fn mapping(path: &Path) -> anyhow::Result<Mapping> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping file {}", path.display()))?;
    Mapping::from_toml(&text, &path.display().to_string()).with_context(|| {
        "fix the mapping file (its format is described in the concord-agent crate and in \
         crates/concord-agent/examples/police.mapping.toml)"
    })
}

/// Read options: every row error is kept when they go to a rejects file,
/// else the first [`SHOWN_ROW_ERRORS`].
pub fn read_options(
    period: Option<concord_core::Period>,
    keep_untokenised: bool,
    keep_all_errors: bool,
) -> ReadOptions {
    ReadOptions {
        period,
        keep_untokenised_rows: keep_untokenised,
        max_row_errors: if keep_all_errors {
            usize::MAX
        } else {
            SHOWN_ROW_ERRORS
        },
        ..ReadOptions::default()
    }
}

/// Opens an export, wrapped in a progress bar (by bytes) when it is large
/// and `progress` is asked for.
pub fn open_export(
    path: &Path,
    progress: bool,
    verb: &str,
) -> anyhow::Result<(Box<dyn Read>, ProgressBar)> {
    let file = fs::File::open(path)
        .with_context(|| format!("cannot open the export {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if progress && len > PROGRESS_ABOVE_BYTES {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{bar:40}} {{bytes}}/{{total_bytes}} {verb} ({{eta}} left)"
            ))
            .expect("the template is valid"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let reader: Box<dyn Read> = Box::new(bar.wrap_read(io::BufReader::new(file)));
    Ok((reader, bar))
}

/// Reads a whole export into records with `concord_agent::read_extract`.
pub fn read_export(
    csv: &Path,
    mapping: &Mapping,
    key: &LinkageKey,
    opts: &ReadOptions,
    progress: bool,
) -> anyhow::Result<AgentOutput> {
    let (input, bar) = open_export(csv, progress, "read and tokenised")?;
    let out = concord_agent::read_extract(input, mapping, key, opts);
    bar.finish_and_clear();
    out.with_context(|| format!("cannot use the export {}", csv.display()))
}

/// Prints row errors to standard error, one a line, and says how many
/// more there were.
pub fn print_row_errors(rejects: &[RowError], total: u64) {
    for e in rejects {
        eprintln!("{e}");
    }
    let shown = rejects.len() as u64;
    if total > shown {
        eprintln!("… and {} more row error(s)", total - shown);
    }
}

/// Writes the rows set aside, as CSV `line,column,reason` (no values).
pub fn write_rejects(path: &Path, rejects: &[RowError]) -> anyhow::Result<()> {
    let context = || format!("cannot write the rejects file {}", path.display());
    let mut w = csv::Writer::from_path(path).with_context(context)?;
    w.write_record(["line", "column", "reason"])
        .with_context(context)?;
    for e in rejects {
        w.write_record([e.line.to_string().as_str(), &e.column, &e.reason])
            .with_context(context)?;
    }
    w.flush().with_context(context)?;
    Ok(())
}

/// `identifiers dropped (placeholder or invalid): dob_placeholder=3, …`.
pub fn rejections_line(counts: &RejectionCounts) -> String {
    if counts.is_empty() {
        "identifiers dropped as placeholder or invalid: none".to_owned()
    } else {
        format!(
            "identifiers dropped as placeholder or invalid ({} in all, by reason): {counts}",
            counts.total()
        )
    }
}

/// The error when a file has row errors and no rejects file was given.
pub fn rows_refused(
    count: u64,
    file: &Path,
    what_happened: &str,
    rejects_flag: &str,
) -> anyhow::Error {
    anyhow::anyhow!(
        "{count} row error(s) in {}: {what_happened}; correct the rows named above (line, column, \
         reason) and run again, or give {rejects_flag} FILE to go ahead with the valid rows and \
         set the others aside in FILE",
        file.display()
    )
}

/// `FILE.partial` next to `FILE`: written first, renamed when complete.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}
