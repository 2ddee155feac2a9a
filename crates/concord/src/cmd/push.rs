//! `concord push`: the duty holder's push agent.
//!
//! The push runs in three steps, so that both inputs share the sending
//! code (and `concord demo` shares all of it):
//!
//! 1. **read**: the input becomes wire records. Either an agency's CSV
//!    export plus a mapping (`--csv --mapping`), normalised and tokenised
//!    here with the linkage key by `concord_agent::read_extract`, which
//!    drops the identifiers; or an already tokenised file
//!    ([`crate::token_csv`], `--tokens`), whose rows become
//!    [`concord_core::Record`]s and then wire records ([`wire_record`]).
//! 2. **build**: the wire extract ([`header`], `concord_client::Extract::new`).
//! 3. **send**: mTLS channel, client stream with a progress bar, receipt or
//!    refusal printed ([`deliver`]).
//!
//! Nothing is sent unless the whole input is valid; with `--rejects FILE`,
//! the valid rows of an export are sent and the others are written to FILE
//! (line, column and reason; never a value).

use std::{
    fs,
    path::{Path, PathBuf},
    str::FromStr,
};

use anyhow::{Context, bail};
use chrono::{Datelike, NaiveDate};
use concord_client::{ClientTls, Extract};
use concord_core::{
    DataSet, ExtractId, ExtractMode, Period, Record, RecordKind, SCHEMA_VERSION, Source, is_key_id,
};
use concord_keys::{KeyFile, LinkageKey};
use concord_pki::PkiLayout;
use concord_proto::{
    checksum::ExtractChecksum,
    prost::Message,
    v1,
    wire::{self, ingest_client::IngestClient, push_extract_bytes_request::Message as WireMessage},
};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

use crate::{
    agent,
    token_csv::{self, Row, TokenCsvError},
};

/// Extracts with more records than this show a progress bar.
const PROGRESS_ABOVE: usize = 10_000;

/// A snapshot that replaces more than this share of what its source held
/// is accepted, with a warning to check the export.
pub(crate) const REPLACED_WARN_SHARE: f64 = 0.5;

/// The largest message the client encodes (the broker's limit is
/// configured separately; a larger batch is refused by name).
const MAX_ENCODING_BYTES: usize = 64 * 1024 * 1024;

const AFTER_HELP: &str = "\
Agency export (--csv FILE --mapping FILE.toml): the CSV as the agency's system writes it,
and a mapping naming which column holds what (the concord-agent mapping format; `concord
synth` writes examples). Names, dates of birth, NHS numbers, PNC ids and postcodes are
normalised (spec mk1) and turned into match-key tokens of the mk2 key set here, with the
linkage key (--linkage-key FILE, or keys/linkage.json of --pki DIR); only tokens and keyed
record references are sent.
The source comes from the mapping. Identifiers that are placeholders or invalid (UNKNOWN,
1900-01-01, ZZ99 3VZ, a bad NHS check digit) are dropped and counted by reason. Any other
problem with a row (a bad date, a value the mapping does not list, no usable identifier) is
reported as `line N, column \"C\": reason`, and nothing is sent; --rejects FILE sends the
valid rows instead and writes the others to FILE as line,column,reason (with --mode
snapshot, the broker then holds nothing for those rows in the period).

";

#[derive(Debug, clap::Args)]
#[command(
    after_long_help = format!("{AFTER_HELP}{}", token_csv::format_help()),
    group(clap::ArgGroup::new("input").required(true).args(["tokens", "csv"])),
)]
pub struct PushArgs {
    /// Tokenised extract: a CSV file in the token CSV format (see the end of --help)
    #[arg(long, value_name = "FILE.csv")]
    pub tokens: Option<PathBuf>,
    /// Agency export: a CSV file with identifiers, tokenised here before anything is sent (with --mapping)
    #[arg(long, value_name = "FILE.csv", requires = "mapping")]
    pub csv: Option<PathBuf>,
    /// Mapping of the --csv export's columns (TOML); names the source
    #[arg(long, value_name = "FILE.toml", requires = "csv")]
    pub mapping: Option<PathBuf>,
    /// Linkage key file for --csv [default: DIR/keys/linkage.json of --pki]
    #[arg(long, value_name = "FILE")]
    pub linkage_key: Option<PathBuf>,
    /// With --csv: send the valid rows, and write the rows with problems to FILE (line, column, reason)
    #[arg(long, value_name = "FILE", requires = "csv")]
    pub rejects: Option<PathBuf>,
    /// With --csv: keep rows about unidentified people (no usable identifier) as records without tokens
    #[arg(long, requires = "csv")]
    pub keep_untokenised: bool,
    /// With --csv: the share of rows (0 to 1) an identifier column may fail validation on; above it nothing is sent, as the column is almost surely mapped wrongly (a date of birth in another layout)
    #[arg(long, value_name = "SHARE", default_value_t = concord_agent::DEFAULT_MAX_INVALID_SHARE, value_parser = parse_share, requires = "csv")]
    pub max_invalid_share: f64,
    /// The source the extract is of (police, health, probation, youth_justice, childrens_services, adult_social_care, housing, community_safety); with --csv, the mapping's, which this must match
    #[arg(long, value_parser = parse_source, required_unless_present = "csv")]
    pub source: Option<Source>,
    /// Extract id, unique per source: A-Z, a-z, 0-9, '.', '_' and '-', at most 128
    #[arg(long, value_name = "ID")]
    pub extract_id: String,
    /// Reporting period as a calendar month, YYYY-MM
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month, required_unless_present = "period_start", conflicts_with_all = ["period_start", "period_end"])]
    pub period: Option<Period>,
    /// First day of the reporting period, YYYY-MM-DD (with --period-end)
    #[arg(long, value_name = "DATE", requires = "period_end")]
    pub period_start: Option<NaiveDate>,
    /// Last day of the reporting period, YYYY-MM-DD (with --period-start)
    #[arg(long, value_name = "DATE", requires = "period_start")]
    pub period_end: Option<NaiveDate>,
    /// snapshot replaces the source's records of the data set in the period; delta upserts (and deletes with --deletes)
    #[arg(long, value_parser = parse_mode)]
    pub mode: ExtractMode,
    /// The data set the extract carries, the scope of a snapshot (police_violent_crime, childrens_da_exploitation, youth_offending, adult_safeguarding, marac, ed_assaults, youth_services, housing, probation) [default: the source's only one; for community_safety, the one the records' kinds belong to]
    #[arg(long, value_name = "NAME", value_parser = parse_data_set)]
    pub data_set: Option<DataSet>,
    /// Source references to delete, one 64-hex keyed hash per line (delta mode only)
    #[arg(long, value_name = "FILE")]
    pub deletes: Option<PathBuf>,
    /// How to reach the broker (mutual TLS).
    #[command(flatten)]
    pub broker: super::report::BrokerArgs,
    /// With --tokens: the linkage key id the tokens were made with [default: the key_id of --linkage-key FILE or DIR/keys/linkage.json]
    #[arg(long, value_name = "ID")]
    pub linkage_key_id: Option<String>,
    /// Records (or deletions) per batch message
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
}

fn parse_source(s: &str) -> Result<Source, String> {
    s.parse::<Source>().map_err(|_| {
        let names: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
        format!("use one of {}", names.join(", "))
    })
}

/// A share of rows, 0 to 1.
pub(crate) fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err("use a share from 0 to 1, such as 0.05 for 5%".to_owned()),
    }
}

/// Stops an export whose identifier columns fail validation on more than
/// `max_share` of its rows, naming each column, the layout it looks like
/// and how to map it. `what` says what was not done.
pub(crate) fn refuse_failing_columns(
    quality: &concord_agent::ColumnQuality,
    mapping: &concord_agent::Mapping,
    mapping_file: &Path,
    max_share: f64,
    what: &str,
) -> anyhow::Result<()> {
    let ids = mapping.identifiers();
    let problems = quality.problems(
        &ids.mapped(),
        ids.date_of_birth_format.as_deref(),
        max_share,
    );
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    bail!(
        "{} identifier column(s) failed validation on more than {:.0}% of rows (named above): \
         the export is almost surely mapped wrongly, and its identifiers would be dropped; {what}. \
         Correct the mapping {} as said, or allow more with --max-invalid-share",
        problems.len(),
        max_share * 100.0,
        mapping_file.display()
    )
}

fn parse_data_set(s: &str) -> Result<DataSet, String> {
    DataSet::parse(s).ok_or_else(|| {
        let names: Vec<&str> = DataSet::ALL.iter().map(|d| d.as_str()).collect();
        format!("use one of {}", names.join(", "))
    })
}

fn parse_mode(s: &str) -> Result<ExtractMode, String> {
    ExtractMode::parse(s).ok_or_else(|| "use snapshot or delta".to_owned())
}

/// `2026-10` → 2026-10-01 to 2026-10-31.
fn parse_month(s: &str) -> Result<Period, String> {
    let bad = || "use a calendar month such as 2026-10".to_owned();
    let (year, month) = s.split_once('-').ok_or_else(bad)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(bad());
    }
    let year = i32::from_str(year).map_err(|_| bad())?;
    let month = u32::from_str(month).map_err(|_| bad())?;
    let start = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .ok_or_else(bad)?;
    let end = next.pred_opt().ok_or_else(bad)?;
    Period::new(start, end).map_err(|e| e.to_owned())
}

/// What the push is made of, checked before anything is read.
struct Plan {
    extract_id: ExtractId,
    period: Period,
    tls: ClientTls,
}

/// What is sent, and how to name a record of it in a refusal.
pub(crate) struct Outgoing {
    pub source: Source,
    pub linkage_key_id: String,
    pub records: Vec<v1::Record>,
    /// The input line of each record (a token file), if known.
    pub lines: Vec<u64>,
    pub input: PathBuf,
}

pub fn run(args: &PushArgs) -> anyhow::Result<()> {
    let plan = plan(args)?;

    // 1. read: the whole input, validated; nothing is sent if any row is bad
    //    (unless --rejects sets the bad rows of an export aside).
    let outgoing = match (&args.csv, &args.mapping, &args.tokens) {
        (Some(csv), Some(mapping), _) => read_export(args, &plan, csv, mapping)?,
        (_, _, Some(tokens)) => read_tokens(args, &plan, tokens)?,
        _ => bail!("give --tokens FILE, or --csv FILE with --mapping FILE.toml"),
    };
    let deletes = match &args.deletes {
        Some(path) => read_deletes(path)?,
        None => vec![],
    };

    // 2. build the wire extract.
    let mut header = header(
        &plan.extract_id,
        outgoing.source,
        &plan.period,
        args.mode,
        &outgoing.linkage_key_id,
    );
    if let Some(set) = args.data_set {
        if set.source() != outgoing.source {
            bail!(
                "--data-set {set} is a data set of {}, not of {}; nothing was sent",
                set.source(),
                outgoing.source
            );
        }
        header.data_set = set.as_str().to_owned();
    }
    let batch = usize::try_from(args.batch).context("--batch is too large")?;
    let records = outgoing.records.len();
    let extract = Extract::new(header, outgoing.records, deletes, batch);

    // 3. send.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = send_bar(records, &extract);
    let result = runtime.block_on(deliver(&args.broker.broker, &plan.tls, extract, &bar))?;
    bar.finish_and_clear();
    match result {
        Ok(response) => {
            let duplicate = concord_client::is_duplicate(&response);
            print_receipt(response.get_ref(), duplicate);
            Ok(())
        }
        Err(status) => Err(refusal(&status, &outgoing.lines, &outgoing.input)),
    }
}

/// An agency export: tokenised here; the identifiers go no further.
fn read_export(
    args: &PushArgs,
    plan: &Plan,
    csv: &Path,
    mapping_file: &Path,
) -> anyhow::Result<Outgoing> {
    let mapping = agent::mapping(mapping_file)?;
    let source = mapping.source();
    if let Some(given) = args.source
        && given != source
    {
        bail!(
            "--source {given} disagrees with the mapping {}, which is of {source}; nothing was \
             sent (drop --source, or use the mapping for {given})",
            mapping_file.display()
        );
    }
    let key = agent::linkage_key(args.linkage_key.as_deref(), args.broker.pki.as_deref())?;
    if let Some(id) = &args.linkage_key_id
        && id != key.id()
    {
        bail!(
            "--linkage-key-id {id} is not the id of the linkage key used ({}); drop \
             --linkage-key-id with --csv",
            key.id()
        );
    }
    let opts = agent::read_options(
        Some(plan.period),
        args.keep_untokenised,
        args.rejects.is_some(),
    );
    let read = read_export_checked(csv, &mapping, &key, &opts, args.rejects.as_deref(), true)?;
    refuse_failing_columns(
        &read.column_quality,
        &mapping,
        mapping_file,
        args.max_invalid_share,
        "nothing was sent",
    )?;
    println!(
        "read {} row(s) of {} ({source}, mapping {}): {} record(s) to send{}",
        read.rows,
        csv.display(),
        mapping_file.display(),
        read.records.len(),
        match read.untokenised {
            0 => String::new(),
            n => format!(", {n} without match-key tokens (--keep-untokenised)"),
        }
    );
    println!("  {}", agent::rejections_line(&read.rejection_counts));
    if let Some(path) = &args.rejects {
        println!(
            "  {} row error(s) set aside in {} (not sent)",
            read.row_errors,
            path.display()
        );
    }
    Ok(Outgoing {
        source,
        linkage_key_id: key.id().to_owned(),
        records: read.records,
        lines: vec![],
        input: csv.to_owned(),
    })
}

/// Reads an export for sending: every row must be good, or with `rejects`
/// the bad rows are written there (and at least one row must be good).
/// Shared with `concord demo`.
pub(crate) fn read_export_checked(
    csv: &Path,
    mapping: &concord_agent::Mapping,
    key: &LinkageKey,
    opts: &concord_agent::ReadOptions,
    rejects: Option<&Path>,
    progress: bool,
) -> anyhow::Result<concord_agent::AgentOutput> {
    let read = agent::read_export(csv, mapping, key, opts, progress)?;
    match rejects {
        None if !read.is_clean() => {
            agent::print_row_errors(&read.rejects, read.row_errors);
            Err(agent::rows_refused(
                read.row_errors,
                csv,
                "nothing was sent",
                "--rejects",
            ))
        }
        None => Ok(read),
        Some(path) => {
            agent::write_rejects(path, &read.rejects)?;
            if read.records.is_empty() && read.rows > 0 {
                bail!(
                    "every row of {} has a problem (see {}); nothing was sent",
                    csv.display(),
                    path.display()
                );
            }
            Ok(read)
        }
    }
}

/// An already tokenised file.
fn read_tokens(args: &PushArgs, plan: &Plan, tokens: &Path) -> anyhow::Result<Outgoing> {
    let Some(source) = args.source else {
        bail!("give --source with --tokens: a token file does not say which source it is of");
    };
    let linkage_key_id = token_key_id(args)?;
    let rows = match token_csv::read(tokens, Some(&plan.period)) {
        Ok(rows) => rows,
        Err(TokenCsvError::Rows(problems)) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            bail!(
                "{} problem(s) in {}: nothing was sent; correct the rows named above and push \
                 again",
                problems.len(),
                tokens.display()
            );
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot use the token file {} (see `concord push --help` for the format); \
                     nothing was sent",
                    tokens.display()
                )
            });
        }
    };
    Ok(Outgoing {
        source,
        lines: rows.iter().map(|r| r.line).collect(),
        records: rows
            .iter()
            .map(|Row { record, .. }| wire_record(record, source, &linkage_key_id))
            .collect(),
        linkage_key_id,
        input: tokens.to_owned(),
    })
}

/// The linkage key id of a token file's tokens.
fn token_key_id(args: &PushArgs) -> anyhow::Result<String> {
    let id = match (&args.linkage_key_id, &args.linkage_key, &args.broker.pki) {
        (Some(id), _, _) => id.clone(),
        (None, Some(file), _) => linkage_key_id(file)?,
        (None, None, Some(dir)) => linkage_key_id(&PkiLayout::at(dir).linkage_key)?,
        (None, None, None) => bail!(
            "give --linkage-key-id, --linkage-key FILE, or --pki DIR holding keys/linkage.json"
        ),
    };
    if !is_key_id(&id) {
        bail!("--linkage-key-id must look like lk-2026a (a-z, 0-9 and '-', at most 32)");
    }
    Ok(id)
}

/// The header of an extract (counts and checksum are filled in by
/// `Extract::new`).
pub(crate) fn header(
    extract_id: &ExtractId,
    source: Source,
    period: &Period,
    mode: ExtractMode,
    linkage_key_id: &str,
) -> v1::ExtractHeader {
    v1::ExtractHeader {
        extract_id: extract_id.to_string(),
        source: source.code(),
        period_start: period.start.to_string(),
        period_end: period.end.to_string(),
        mode: mode.code(),
        schema_version: SCHEMA_VERSION,
        linkage_key_id: linkage_key_id.to_owned(),
        ..v1::ExtractHeader::default()
    }
}

/// A progress bar for sending, on large extracts only.
fn send_bar(records: usize, extract: &Extract) -> ProgressBar {
    if records > PROGRESS_ABOVE {
        let bar = ProgressBar::new(extract.header.record_count + extract.header.delete_count);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} records sent ({eta} left)")
                .expect("the template is valid"),
        );
        bar
    } else {
        ProgressBar::hidden()
    }
}

/// Connects and sends; the outer error is a connection failure, the inner
/// result the broker's answer. Shared with `concord demo`.
pub(crate) async fn deliver(
    broker: &str,
    tls: &ClientTls,
    extract: Extract,
    bar: &ProgressBar,
) -> anyhow::Result<Result<tonic::Response<v1::ExtractReceipt>, Status>> {
    let messages = wire_messages(extract)?;
    let channel = concord_client::connect(broker, tls)
        .await
        .with_context(|| {
            format!(
                "cannot reach the broker (check --broker {broker} and that `concord serve` is \
             running there); nothing was sent"
            )
        })?;
    Ok(send(channel, messages, bar).await)
}

/// Checks the arguments and reads the TLS material.
fn plan(args: &PushArgs) -> anyhow::Result<Plan> {
    let extract_id = ExtractId::parse(&args.extract_id).map_err(|why| {
        anyhow::anyhow!("--extract-id {why}; use A-Z, a-z, 0-9, '.', '_' and '-'")
    })?;
    let period = match (args.period, args.period_start, args.period_end) {
        (Some(period), _, _) => period,
        (None, Some(start), Some(end)) => Period::new(start, end)
            .map_err(|why| anyhow::anyhow!("the period --period-start to --period-end {why}"))?,
        _ => bail!("give --period YYYY-MM, or --period-start and --period-end"),
    };
    if args.deletes.is_some() && args.mode != ExtractMode::Delta {
        bail!("--deletes needs --mode delta (a snapshot replaces the whole period instead)");
    }
    let tls = args.broker.tls()?;
    Ok(Plan {
        extract_id,
        period,
        tls,
    })
}

/// Whose certificate a client presents, from the flags `push` and `lookup`
/// share: `--pki DIR --user USER`, or `--ca --cert --key`; and the name the
/// broker's certificate must carry (`--server-name`, else the host of
/// `--broker`).
pub(crate) struct TlsChoice<'a> {
    pub broker: &'a str,
    pub pki: Option<&'a Path>,
    pub user: Option<&'a str>,
    pub ca: Option<&'a Path>,
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
    pub server_name: Option<&'a str>,
}

/// Reads the TLS material a [`TlsChoice`] names.
pub(crate) fn client_tls(c: &TlsChoice<'_>) -> anyhow::Result<ClientTls> {
    let layout = c.pki.map(PkiLayout::at);
    let (ca, cert, key) = match (c.ca, c.cert, c.key, &layout, c.user) {
        (Some(ca), Some(cert), Some(key), _, _) => (ca.to_owned(), cert.to_owned(), key.to_owned()),
        (_, _, _, Some(layout), Some(user)) => {
            if !concord_pki::is_valid_identifier(user) {
                bail!("--user must be a user name such as mps-cw-push or mash-officer-1");
            }
            (
                layout.ca_cert.clone(),
                layout.client_cert(user),
                layout.client_key(user),
            )
        }
        _ => bail!("give --pki DIR and --user USER, or --ca, --cert and --key"),
    };
    let read = |path: &Path, what: &str| {
        fs::read(path).with_context(|| {
            format!(
                "cannot read the {what} at {} (check --pki and --user, or --ca/--cert/--key; \
                 `concord pki init --dir DIR` creates a development PKI)",
                path.display()
            )
        })
    };
    Ok(ClientTls {
        ca_pem: read(&ca, "CA certificate")?,
        cert_pem: read(&cert, "client certificate")?,
        key_pem: read(&key, "client private key")?,
        server_name: match c.server_name {
            Some(name) => name.to_owned(),
            None => broker_host(c.broker)?,
        },
    })
}

/// The key id of a linkage key file; the secret is parsed, never shown.
fn linkage_key_id(path: &Path) -> anyhow::Result<String> {
    let what = path.display().to_string();
    let text = fs::read_to_string(path).with_context(|| {
        format!("cannot read the linkage key file {what} (or give --linkage-key-id)")
    })?;
    let file = KeyFile::parse(&text, &what)?;
    let key = LinkageKey::from_file(&file, &what)?;
    Ok(key.id().to_owned())
}

/// The host of `https://host:port`, which the server certificate must name.
fn broker_host(broker: &str) -> anyhow::Result<String> {
    let uri: tonic::transport::Uri = broker.parse().map_err(|_| {
        anyhow::anyhow!("--broker {broker:?} is not a URL such as https://localhost:7443")
    })?;
    if uri.scheme_str() != Some("https") {
        bail!("--broker must be an https:// URL: the broker speaks mutual TLS only");
    }
    let host = uri
        .host()
        .ok_or_else(|| anyhow::anyhow!("--broker {broker:?} names no host"))?;
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned())
}

/// One 64-hex source reference per line; blank lines are skipped.
fn read_deletes(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the deletes file {}", path.display()))?;
    let mut refs = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match hex::decode(line) {
            Ok(bytes) if bytes.len() == 32 => refs.push(bytes),
            _ => bad.push(i + 1),
        }
    }
    if !bad.is_empty() {
        for line in &bad {
            eprintln!("line {line}: must be 64 hex characters (a 32-byte keyed source reference)");
        }
        bail!(
            "{} bad line(s) in the deletes file {}: nothing was sent",
            bad.len(),
            path.display()
        );
    }
    Ok(refs)
}

/// A domain record as the wire carries it; every token carries
/// `linkage_key_id`.
pub fn wire_record(r: &Record, source: Source, linkage_key_id: &str) -> v1::Record {
    let risk = (r.risk != Default::default()).then(|| v1::Risk {
        rosh: r.risk.rosh.map_or(0, |v| v.code()),
        dash_score: r.risk.dash_score.map(u32::from),
        marac: r.risk.marac,
    });
    let flags = (r.flags != Default::default()).then_some(v1::Flags {
        domestic_abuse: r.flags.domestic_abuse,
        under_25: r.flags.under_25,
        exploitation: r.flags.exploitation,
    });
    v1::Record {
        source: source.code(),
        source_ref: r.source_ref.as_bytes().to_vec(),
        kind: r.kind.code(),
        role: r.role.map_or(0, |v| v.code()),
        event_date: format!(
            "{:04}-{:02}-{:02}",
            r.event_date.year(),
            r.event_date.month(),
            r.event_date.day()
        ),
        event_date_precision: r.date_precision.map_or(0, |v| v.code()),
        event_hour: r.event_hour.map(u32::from),
        ward_code: r
            .ward
            .as_ref()
            .map(|g| g.as_str().to_owned())
            .unwrap_or_default(),
        lsoa_code: r
            .lsoa
            .as_ref()
            .map(|g| g.as_str().to_owned())
            .unwrap_or_default(),
        category: r.category.map_or(0, |v| v.code()),
        weapon: r.weapon.map_or(0, |v| v.code()),
        location_type: r.location_type.map_or(0, |v| v.code()),
        age_band: r.age_band.map_or(0, |v| v.code()),
        sex: r.sex.map_or(0, |v| v.code()),
        risk,
        flags,
        site_code: r
            .site_code
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        tokens: r
            .tokens
            .iter()
            .map(|(key, token)| v1::MatchKeyToken {
                key_name: key.as_str().to_owned(),
                key_id: linkage_key_id.to_owned(),
                token: token.as_bytes().to_vec(),
            })
            .collect(),
    }
}

/// The data set of an extract whose header names none: the source's only
/// one, or (community safety) the one every record's kind belongs to.
fn data_set_of(extract: &Extract) -> anyhow::Result<DataSet> {
    let source = Source::from_code(extract.header.source)
        .ok_or_else(|| anyhow::anyhow!("the extract names no known source"))?;
    if let Some(only) = DataSet::default_of(source) {
        return Ok(only);
    }
    let names = || {
        DataSet::of(source)
            .map(DataSet::as_str)
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let mut sets = std::collections::BTreeSet::new();
    for b in &extract.batches {
        for r in &b.records {
            if let Some(kind) = RecordKind::from_code(r.kind) {
                sets.insert(DataSet::of_record(source, kind));
            }
        }
    }
    let mut found = sets.iter();
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(*one),
        (None, _) => bail!(
            "{source} sends more than one data set: give --data-set {} (a snapshot replaces that \
             data set only); nothing was sent",
            names()
        ),
        (Some(a), Some(b)) => bail!(
            "the records belong to more than one of {source}'s data sets ({a} and {b}): a \
             snapshot replaces one data set, so push each as its own extract with --data-set; \
             nothing was sent"
        ),
    }
}

/// The extract as it goes on the wire: every record encoded once, and the
/// header's checksum computed over exactly those bytes (the broker hashes
/// the bytes that arrive, never a re-encoding). A header that names no
/// data set gets the one its records belong to.
pub(crate) fn wire_messages(
    mut extract: Extract,
) -> anyhow::Result<Vec<wire::PushExtractBytesRequest>> {
    if extract.header.data_set.is_empty() {
        extract.header.data_set = data_set_of(&extract)?.as_str().to_owned();
    }
    let batches: Vec<wire::RecordBatchBytes> = extract
        .batches
        .into_iter()
        .map(|b| wire::RecordBatchBytes {
            records: b.records.iter().map(Message::encode_to_vec).collect(),
            delete_source_refs: b.delete_source_refs,
        })
        .collect();
    let mut sum = ExtractChecksum::new();
    for b in &batches {
        b.records.iter().for_each(|r| sum.add_record_bytes(r));
    }
    for b in &batches {
        b.delete_source_refs.iter().for_each(|d| sum.add_delete(d));
    }
    let mut header = extract.header;
    header.checksum = sum.finish().to_vec();
    Ok(std::iter::once(WireMessage::Header(header))
        .chain(batches.into_iter().map(WireMessage::Batch))
        .map(|m| wire::PushExtractBytesRequest { message: Some(m) })
        .collect())
}

/// Pushes the extract's wire messages, observed so the bar advances as
/// batches are pulled.
async fn send(
    channel: tonic::transport::Channel,
    messages: Vec<wire::PushExtractBytesRequest>,
    bar: &ProgressBar,
) -> Result<tonic::Response<v1::ExtractReceipt>, Status> {
    let observer = bar.clone();
    let messages = futures::stream::iter(messages).inspect(move |message| {
        if let Some(WireMessage::Batch(b)) = &message.message {
            observer.inc((b.records.len() + b.delete_source_refs.len()) as u64);
        }
    });
    IngestClient::new(channel)
        .max_encoding_message_size(MAX_ENCODING_BYTES)
        .push_extract(Request::new(messages))
        .await
}

pub(crate) fn print_receipt(r: &v1::ExtractReceipt, duplicate: bool) {
    let source = Source::from_code(r.source).map_or("unknown source", Source::as_str);
    let mode = ExtractMode::from_code(r.mode).map_or("unknown mode", ExtractMode::as_str);
    let what = format!(
        "extract {} of {source} ({mode}, {} to {})",
        r.extract_id, r.period_start, r.period_end
    );
    if duplicate {
        println!("{what} (already accepted: this is the stored receipt)");
    } else {
        println!("{what} accepted");
    }
    println!("  received:       {}", r.records_received);
    println!("  stored:         {}", r.records_stored);
    println!("  deleted:        {}", r.records_deleted);
    println!("  replaced:       {}", r.records_replaced);
    if mode == "snapshot" {
        println!(
            "  data set:       {} ({} record(s) of it in the period replaced; the source held \
             {} in all, its other data sets untouched)",
            r.data_set, r.records_replaced, r.records_held
        );
    }
    if let Some(warning) = replaced_warning(r) {
        eprintln!("{warning}");
    }
    println!("  checksum:       {}", hex::encode(&r.checksum));
    println!("  stored digest:  {}", hex::encode(&r.stored_digest));
    println!(
        "  policy:         revision {}, digest {}",
        r.policy_revision, r.policy_digest
    );
    println!("  broker key id:  {}", r.broker_key_id);
    println!("  committed at:   {}", r.committed_at);
}

/// A warning when a snapshot replaced more than [`REPLACED_WARN_SHARE`] of
/// what its source held: an export of the wrong data set, or incomplete,
/// replaces what it should not.
pub(crate) fn replaced_warning(r: &v1::ExtractReceipt) -> Option<String> {
    let share = r.records_replaced as f64 / r.records_held as f64;
    (r.records_replaced > 0 && share > REPLACED_WARN_SHARE).then(|| {
        format!(
            "warning: this snapshot replaced {} of the {} record(s) its source held ({:.0}%, \
             more than {:.0}%), all of data set {} from {} to {}, with {} new one(s). If that is \
             not what the export should replace (another data set, or an incomplete export), \
             push the complete export of data set {} again under a new --extract-id",
            r.records_replaced,
            r.records_held,
            share * 100.0,
            REPLACED_WARN_SHARE * 100.0,
            r.data_set,
            r.period_start,
            r.period_end,
            r.records_stored,
            r.data_set
        )
    })
}

/// The refusal as an error: the gRPC code and message, every field
/// violation (with the token file line of a record), and what to do.
pub(crate) fn refusal(status: &Status, lines: &[u64], input: &Path) -> anyhow::Error {
    let mut text = format!(
        "the broker refused the extract ({:?}): {}; nothing was stored",
        status.code(),
        status.message()
    );
    if let Some(bad) = status.get_error_details().bad_request() {
        for v in &bad.field_violations {
            text.push_str(&format!("\n  {}: {}", v.field, v.description));
            if let Some(line) = record_line(&v.field, lines) {
                text.push_str(&format!(" (line {line} of {})", input.display()));
            }
        }
    }
    let cause = transport_cause(status);
    if let Some(cause) = &cause {
        text.push_str(&format!("\n  cause: {cause}"));
    }
    if cause
        .as_deref()
        .is_some_and(|c| c.contains("CertificateRevoked"))
    {
        return anyhow::anyhow!(
            "{text}\nthis client certificate has been revoked by the partnership CA: ask the partnership's PKI officer for a new one"
        );
    }
    let next = match status.code() {
        Code::PermissionDenied => {
            "check that --user is a push agent of the organisation that pushes --source"
        }
        Code::Unauthenticated => {
            "check the client certificate: it must be issued by the partnership CA and not expired"
        }
        Code::InvalidArgument => "correct what is named and push again",
        Code::ResourceExhausted => "use a smaller --batch, or split the extract",
        Code::FailedPrecondition => "correct the stored records with a delta extract first",
        Code::Unavailable | Code::Aborted | Code::DeadlineExceeded | Code::Cancelled => {
            "push again later; an extract is stored whole or not at all"
        }
        _ => "see the broker's log, then push again",
    };
    anyhow::anyhow!("{text}\n{next}")
}

/// What lies under a status that the connection, not the broker, produced
/// (a TLS alert, a reset): the innermost cause, which names it.
fn transport_cause(status: &Status) -> Option<String> {
    let mut cause = std::error::Error::source(status)?;
    while let Some(next) = cause.source() {
        cause = next;
    }
    Some(cause.to_string())
}

/// The token file line of `records[i].…`.
fn record_line(field: &str, lines: &[u64]) -> Option<u64> {
    let index = field.strip_prefix("records[")?.split_once(']')?.0;
    lines.get(index.parse::<usize>().ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_its_calendar_days() {
        let p = parse_month("2026-10").unwrap();
        assert_eq!(p.start.to_string(), "2026-10-01");
        assert_eq!(p.end.to_string(), "2026-10-31");
        let p = parse_month("2028-02").unwrap();
        assert_eq!(p.end.to_string(), "2028-02-29");
        let p = parse_month("2026-12").unwrap();
        assert_eq!(p.end.to_string(), "2026-12-31");
        for bad in ["2026-13", "2026-1", "26-10", "2026/10", "2026-10-01"] {
            assert!(parse_month(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_broker_url_gives_the_server_name() {
        assert_eq!(broker_host("https://localhost:7443").unwrap(), "localhost");
        assert_eq!(broker_host("https://[::1]:7443").unwrap(), "::1");
        assert!(broker_host("http://localhost:7443").is_err());
    }

    #[test]
    fn wire_records_carry_the_codes_and_key_id() {
        let text = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy/examples/police-2026-10.tokens.csv"),
        )
        .unwrap();
        let rows = token_csv::parse(text.as_slice(), None).unwrap();
        let w = wire_record(&rows[0].record, Source::Police, "lk-2026a");
        assert_eq!(w.source, v1::Source::Police as i32);
        assert_eq!(w.kind, v1::RecordKind::Crime as i32);
        assert_eq!(w.category, v1::ViolenceCategory::Gbh as i32);
        assert_eq!(w.age_band, v1::AgeBand::AgeBand1824 as i32);
        assert_eq!(w.event_date, "2026-10-03");
        assert_eq!(w.ward_code, "E05009391");
        assert_eq!(w.tokens.len(), 3);
        assert!(
            w.tokens
                .iter()
                .all(|t| t.key_id == "lk-2026a" && t.token.len() == 32)
        );
        assert_eq!(w.tokens[0].key_name, "sn_dob");
    }

    #[test]
    fn a_refusal_names_the_code_every_violation_and_what_to_do() {
        use tonic_types::{ErrorDetails, FieldViolation};
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "extract: 2 problem(s)",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new("header.period_end", "is not an ISO 8601 date (YYYY-MM-DD)"),
                FieldViolation::new("records[1].ward_code", "is not an ONS ward code"),
            ]),
        );
        let shown = refusal(&status, &[2, 7], Path::new("x.tokens.csv")).to_string();
        assert_eq!(
            shown,
            "the broker refused the extract (InvalidArgument): extract: 2 problem(s); nothing \
             was stored\n  header.period_end: is not an ISO 8601 date (YYYY-MM-DD)\n  \
             records[1].ward_code: is not an ONS ward code (line 7 of x.tokens.csv)\ncorrect \
             what is named and push again"
        );
    }

    #[test]
    fn a_revoked_certificate_is_named_with_what_to_do() {
        // What tonic returns when the server's TLS alert ends the connection
        // (the client may instead see the pipe break, before reading it).
        let alert = std::io::Error::other("received fatal alert: CertificateRevoked");
        let status = Status::from_error(Box::new(alert));
        let shown = refusal(&status, &[], Path::new("x.csv")).to_string();
        assert!(
            shown.contains("cause: received fatal alert: CertificateRevoked")
                && shown.contains("has been revoked by the partnership CA"),
            "{shown}"
        );
        let reset = Status::from_error(Box::new(std::io::Error::other("connection reset")));
        let shown = refusal(&reset, &[], Path::new("x.csv")).to_string();
        assert!(
            shown.contains("cause: connection reset") && !shown.contains("revoked"),
            "{shown}"
        );
    }

    #[test]
    fn the_checksum_is_over_the_bytes_sent() {
        let record = |d: &str| v1::Record {
            kind: 1,
            event_date: d.into(),
            ..v1::Record::default()
        };
        let mut extract = Extract::new(
            v1::ExtractHeader {
                source: Source::Police.code(),
                ..v1::ExtractHeader::default()
            },
            vec![
                record("2026-10-01"),
                record("2026-10-02"),
                record("2026-10-03"),
            ],
            vec![vec![7; 32]],
            2,
        );
        // Whatever the header held, the agent computes it from what it sends.
        extract.header.checksum = vec![0; 32];
        let messages = wire_messages(extract).unwrap();
        let mut sum = ExtractChecksum::new();
        let mut deletes = vec![];
        for m in &messages[1..] {
            let Some(WireMessage::Batch(b)) = &m.message else {
                panic!("a batch after the header")
            };
            b.records.iter().for_each(|r| sum.add_record_bytes(r));
            deletes.extend(b.delete_source_refs.iter().cloned());
        }
        deletes.iter().for_each(|d| sum.add_delete(d));
        let Some(WireMessage::Header(h)) = &messages[0].message else {
            panic!("the header first")
        };
        assert_eq!(h.checksum, sum.finish().to_vec());
        assert_eq!(messages.len(), 1 + 3);
        // A header naming no data set gets its source's.
        assert_eq!(h.data_set, "police_violent_crime");
    }

    #[test]
    fn violations_point_at_token_file_lines() {
        assert_eq!(record_line("records[1].ward_code", &[2, 5, 9]), Some(5));
        assert_eq!(record_line("header.source", &[2]), None);
        assert_eq!(record_line("records[7].kind", &[2]), None);
    }
}
