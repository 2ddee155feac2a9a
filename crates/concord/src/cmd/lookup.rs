//! `concord lookup`: the MASH practitioner's view of what partner agencies
//! know about someone, for a stated purpose and case
//! (`concord.v1.Lookup/FindPerson`).
//!
//! The person's identifiers are given as flags or as one row of an agency
//! export read with its mapping; either way they are normalised (spec
//! `mk1`) and turned into match-key tokens of the `mk2` key set **here**,
//! with the linkage key, exactly as the push agent does
//! (`concord-matchkey`, `concord-agent`). Only tokens, the purpose, the
//! case reference and a break-glass reason are sent. The
//! answer is printed per agency with the fields the policy allows, then
//! what was withheld and why, the obligations, the agreement and the audit
//! receipt, whose inclusion proof is checked here.

use std::{fs, path::PathBuf};

use anyhow::{Context, bail};
use concord_audit::{Hash, verify_inclusion};
use concord_client::ClientTls;
use concord_core::{KeyName, RecordKind, Source, Token};
use concord_disclosure::{Dimension, kind_label};
use concord_keys::LinkageKey;
use concord_matchkey::{Identifiers, Rejection};
use concord_proto::v1::{self, lookup_client::LookupClient};
use tonic::{Code, Status};

use crate::{agent, cmd::report::BrokerArgs};

#[derive(Debug, clap::Args)]
#[command(
    after_long_help = AFTER_HELP,
    group(
        clap::ArgGroup::new("identifiers")
            .required(true)
            .multiple(true)
            .args(["forename", "surname", "dob", "nhs", "postcode", "pnc", "csv"])
    ),
)]
pub struct LookupArgs {
    /// The person's forename
    #[arg(long, conflicts_with = "csv")]
    pub forename: Option<String>,
    /// The person's surname
    #[arg(long, conflicts_with = "csv")]
    pub surname: Option<String>,
    /// Date of birth (YYYY-MM-DD, or DD/MM/YYYY)
    #[arg(long, value_name = "DATE", conflicts_with = "csv")]
    pub dob: Option<String>,
    /// NHS number (ten digits; spaces allowed)
    #[arg(long, value_name = "NUMBER", conflicts_with = "csv")]
    pub nhs: Option<String>,
    /// Postcode of residence
    #[arg(long, conflicts_with = "csv")]
    pub postcode: Option<String>,
    /// Police National Computer id (YY/NNNNNNNA)
    #[arg(long, value_name = "ID", conflicts_with = "csv")]
    pub pnc: Option<String>,
    /// An agency export holding the person (with --row and --mapping), read as `concord push --csv` reads it
    #[arg(long, value_name = "FILE.csv", requires_all = ["row", "mapping"])]
    pub csv: Option<PathBuf>,
    /// The row of --csv to look up: 1 is the first row after the header
    #[arg(long, value_name = "N", requires = "csv", value_parser = clap::value_parser!(u64).range(1..))]
    pub row: Option<u64>,
    /// The mapping of --csv's columns (TOML, the concord-agent format)
    #[arg(long, value_name = "FILE.toml", requires = "csv")]
    pub mapping: Option<PathBuf>,
    /// Why you are looking: safeguarding_children, safeguarding_adults, marac, or emergency (break-glass)
    #[arg(long)]
    pub purpose: String,
    /// The case the lookup is for, in the partnership's format (e.g. MASH-2026-0042)
    #[arg(long, value_name = "REF")]
    pub case_ref: String,
    /// For --purpose emergency: the written justification (recorded, and reviewed by the data protection officer)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Linkage key file [default: DIR/keys/linkage.json of --pki]
    #[arg(long, value_name = "FILE")]
    pub linkage_key: Option<PathBuf>,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

const AFTER_HELP: &str = "\
The identifiers never leave this machine: they are normalised (spec mk1: trimmed, uppercased,
accents and titles dropped, dates to ISO 8601, NHS check digit and postcode validated) and
hashed with the partnership's linkage key into match-key tokens (the mk2 key set), as the push
agents do. Give what you hold: an NHS number or PNC id alone can find someone; otherwise at
least two of forename, surname, date of birth and postcode. An identifier that is a
placeholder or invalid (UNKNOWN, 1900-01-01, ZZ99 3VZ, a wrong NHS check digit) is refused by
name; correct it or leave it out.

The broker decides with the lookup policy before it reads anything: your certificate's role
and organisation, the purpose, the case reference and, for break-glass, the reason. It shows
each agency's records with the fields the information-sharing agreement allows for that
purpose, says what it withheld and why, and records the lookup in its audit log; the receipt
printed at the end carries an inclusion proof, checked here. The person is named only by a
pseudonym for your organisation. A person the broker cannot tell apart from someone else
(a possible match) is not shown.

Examples:
  concord lookup --pki .concord/pki --user mash-officer-1 \\
      --forename Amy --surname Okafor --dob 2009-03-14 \\
      --purpose safeguarding_children --case-ref MASH-2026-0042
  concord lookup --pki .concord/pki --user mash-officer-1 \\
      --csv referrals.csv --row 12 --mapping childrens.mapping.toml \\
      --purpose emergency --case-ref EMG-2026-0007 --reason \"missing overnight, at risk\"";

pub fn run(args: &LookupArgs) -> anyhow::Result<()> {
    let tls = args.broker.tls()?;
    let key = agent::linkage_key(args.linkage_key.as_deref(), args.broker.pki.as_deref())?;
    let tokens = match (&args.csv, args.row, &args.mapping) {
        (Some(csv), Some(row), Some(mapping)) => tokens_from_row(csv, row, mapping, &key)?,
        _ => tokens_from_flags(
            &Identifiers {
                forename: args.forename.as_deref(),
                surname: args.surname.as_deref(),
                date_of_birth: args.dob.as_deref(),
                nhs_number: args.nhs.as_deref(),
                pnc_id: args.pnc.as_deref(),
                postcode: args.postcode.as_deref(),
            },
            &key,
        )?,
    };
    let request = v1::FindPersonRequest {
        tokens,
        purpose: args.purpose.clone(),
        case_ref: args.case_ref.clone(),
        reason: args.reason.clone().unwrap_or_default(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let answer = runtime
        .block_on(find(&args.broker.broker, &tls, request))?
        .map_err(|status| refusal(&status))?;
    print!("{}", render(&answer, &args.purpose, &args.case_ref));
    Ok(())
}

/// Wire tokens of normalised identifiers, made with `key`.
fn wire(tokens: Vec<(KeyName, Token)>, key: &LinkageKey) -> Vec<v1::MatchKeyToken> {
    tokens
        .into_iter()
        .map(|(k, t)| v1::MatchKeyToken {
            key_name: k.as_str().to_owned(),
            key_id: key.id().to_owned(),
            token: t.as_bytes().to_vec(),
        })
        .collect()
}

/// The flag an identifier came from.
fn flag(field: &str) -> &'static str {
    match field {
        "forename" => "--forename",
        "surname" => "--surname",
        "date_of_birth" => "--dob",
        "nhs_number" => "--nhs",
        "pnc_id" => "--pnc",
        _ => "--postcode",
    }
}

/// Normalises and tokenises identifiers given as flags. A placeholder or
/// invalid identifier is refused by name (never by value).
pub(crate) fn tokens_from_flags(
    ids: &Identifiers<'_>,
    key: &LinkageKey,
) -> anyhow::Result<Vec<v1::MatchKeyToken>> {
    let (normalised, rejections) = concord_matchkey::normalise(ids);
    if !rejections.is_empty() {
        let named: Vec<String> = rejections
            .iter()
            .map(|r: &Rejection| format!("{} ({r})", flag(r.field())))
            .collect();
        bail!(
            "not usable as given: {}; nothing was sent. Correct it (see `concord lookup --help` \
             for the forms accepted) or leave it out",
            named.join(", ")
        );
    }
    let tokens = concord_matchkey::tokens(&normalised, key);
    if tokens.is_empty() {
        bail!(
            "these identifiers make no match key: give an NHS number or PNC id, or at least two \
             of --forename, --surname, --dob and --postcode; nothing was sent"
        );
    }
    Ok(wire(tokens, key))
}

/// Reads row `row` (1 = the first after the header) of an agency export
/// with its mapping, through the push agent's own reading
/// (`concord_agent::read_extract` over the header and that row), and
/// returns its tokens.
fn tokens_from_row(
    csv: &std::path::Path,
    row: u64,
    mapping_file: &std::path::Path,
    key: &LinkageKey,
) -> anyhow::Result<Vec<v1::MatchKeyToken>> {
    let mapping = agent::mapping(mapping_file)?;
    let delimiter = mapping_delimiter(mapping_file)?;
    let data =
        fs::read(csv).with_context(|| format!("cannot read the export {}", csv.display()))?;
    let one = header_and_row(&data, delimiter, row).with_context(|| {
        format!(
            "cannot read row {row} of {} (check --row and the file)",
            csv.display()
        )
    })?;
    let opts = agent::read_options(None, true, false);
    let out = concord_agent::read_extract(one.as_slice(), &mapping, key, &opts)
        .with_context(|| format!("cannot use the export {}", csv.display()))?;
    if !out.rejects.is_empty() {
        for e in &out.rejects {
            match e.column.as_str() {
                "" => eprintln!("row {row}: {}", e.reason),
                c => eprintln!("row {row}, column {c:?}: {}", e.reason),
            }
        }
        bail!(
            "row {row} of {} cannot be read with the mapping {} (see above); nothing was sent",
            csv.display(),
            mapping_file.display()
        );
    }
    if !out.rejection_counts.is_empty() {
        eprintln!(
            "note: row {row}: {}",
            agent::rejections_line(&out.rejection_counts)
        );
    }
    let record = out
        .records
        .into_iter()
        .next()
        .with_context(|| format!("row {row} of {} holds no record", csv.display()))?;
    if record.tokens.is_empty() {
        bail!(
            "row {row} of {} yields no match-key token (no usable identifier, or an emergency \
             department attendance, which carries none); nothing was sent",
            csv.display()
        );
    }
    Ok(record.tokens)
}

/// The `delimiter` a mapping file names (default `,`), as the agent reads it.
fn mapping_delimiter(path: &std::path::Path) -> anyhow::Result<u8> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("the mapping file {} is not TOML", path.display()))?;
    // The mapping was loaded (and its delimiter checked) by the agent
    // already; these are the agent's rules.
    match table.get("delimiter").and_then(|d| d.as_str()) {
        None => Ok(b','),
        Some(d) if d.len() == 1 && d.is_ascii() => Ok(d.as_bytes()[0]),
        Some("\\t") => Ok(b'\t'),
        Some(_) => bail!(
            "the mapping file {}'s delimiter must be one ASCII character",
            path.display()
        ),
    }
}

/// The bytes of the header record and of data row `row`, exactly as they
/// stand in the file (quoted cells spanning lines included).
fn header_and_row(data: &[u8], delimiter: u8, row: u64) -> anyhow::Result<Vec<u8>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(data);
    let mut rec = csv::ByteRecord::new();
    let mut starts = Vec::new();
    let mut n = 0u64;
    loop {
        let start = reader.position().byte() as usize;
        if !reader.read_byte_record(&mut rec)? {
            starts.push(data.len());
            break;
        }
        starts.push(start);
        if n == row + 1 {
            break;
        }
        n += 1;
    }
    // starts[0] header, starts[1..] rows, the last one the end.
    let row = row as usize;
    if starts.len() < row + 2 {
        bail!(
            "the file has {} row(s) after its header",
            starts.len().saturating_sub(2)
        );
    }
    let mut out = data[starts[0]..starts[1]].to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(&data[starts[row]..starts[row + 1]]);
    Ok(out)
}

/// Connects and asks; the outer error is a connection failure, the inner
/// result the broker's answer. Shared with `concord demo`.
pub(crate) async fn find(
    broker: &str,
    tls: &ClientTls,
    request: v1::FindPersonRequest,
) -> anyhow::Result<Result<v1::FindPersonResponse, Status>> {
    let channel = concord_client::connect(broker, tls)
        .await
        .with_context(|| {
            format!(
                "cannot reach the broker (check --broker {broker} and that `concord serve` is \
                 running there); nothing was sent"
            )
        })?;
    Ok(LookupClient::new(channel)
        .find_person(request)
        .await
        .map(tonic::Response::into_inner))
}

/// The refusal as an error: code, the broker's message, and what to do.
pub(crate) fn refusal(status: &Status) -> anyhow::Error {
    let next = match status.code() {
        Code::PermissionDenied => {
            "the lookup policy refused it (see the reason above): check --purpose (one your role \
             may use for lookups), --case-ref (e.g. MASH-2026-0042) and, for --purpose emergency, \
             --reason; the refusal is recorded in the audit log"
        }
        Code::InvalidArgument => "correct what is named and ask again",
        Code::Unauthenticated => {
            "check the client certificate: it must be issued by the partnership CA and not expired"
        }
        Code::Unavailable => {
            "nothing was disclosed; ask again later (if it persists, the broker's operators should \
             check its audit log and database)"
        }
        _ => "see the broker's log, then ask again",
    };
    anyhow::anyhow!(
        "the broker refused the lookup ({:?}): {}\n{next}",
        status.code(),
        status.message()
    )
}

/// A source as the dashboard names it ("Children's services").
fn source_name(code: i32) -> String {
    Source::from_code(code).map_or("unknown source".to_owned(), |s| {
        Dimension::Source.label(s.as_str())
    })
}

/// The dashboard's dimension of a record field, where it has one (its
/// labels are the dashboard's: ward names, category and weapon names).
fn dimension(field: &str) -> Option<Dimension> {
    Some(match field {
        "ward_code" => Dimension::Ward,
        "category" => Dimension::Category,
        "age_band" => Dimension::AgeBand,
        "sex" => Dimension::Sex,
        "role" => Dimension::Role,
        "weapon" => Dimension::Weapon,
        "location_type" => Dimension::LocationType,
        "event_hour" => Dimension::Hour,
        _ => return None,
    })
}

/// A field's column heading.
fn heading(field: &str) -> &str {
    if let Some(d) = dimension(field) {
        return d.title();
    }
    match field {
        "kind" => "Kind",
        "event_date" => "Date",
        "date_precision" => "Date known to",
        "lsoa_code" => "LSOA",
        "rosh" => "RoSH",
        "dash_score" => "DASH score",
        "marac" => "MARAC",
        "flag_domestic_abuse" => "Domestic abuse",
        "flag_under_25" => "Under 25",
        "flag_exploitation" => "Exploitation",
        "site_code" => "Site",
        other => other,
    }
}

/// What a cell shows when the record carries no value for the field: the
/// agency did not record it (the broker sends a flag only when it is set,
/// since an agency whose export has no such column sends it unset).
const NOT_RECORDED: &str = "not recorded";

/// A field's value as a practitioner reads it: the dashboard's labels
/// (ward names, categories, kinds), `yes` for a set flag.
fn readable(field: &str, value: &str) -> String {
    if let Some(d) = dimension(field) {
        return d.label(value);
    }
    match field {
        "kind" => value
            .parse::<RecordKind>()
            .map_or_else(|_| value.to_owned(), |k| kind_label(k).to_owned()),
        "marac" | "flag_domestic_abuse" | "flag_under_25" | "flag_exploitation" => match value {
            "true" => "yes".to_owned(),
            "false" => "no".to_owned(),
            other => other.to_owned(),
        },
        _ => value.replace('_', " "),
    }
}

/// The answer as the practitioner reads it.
pub(crate) fn render(a: &v1::FindPersonResponse, purpose: &str, case_ref: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "lookup for {purpose}, case {case_ref}");
    if a.matched {
        let _ = writeln!(
            out,
            "  person:        matched; pseudonym for your organisation {}",
            a.person_pseudonym
        );
    } else {
        let _ = writeln!(
            out,
            "  person:        not matched: nobody the broker holds is linked to these \
             identifiers (or more than one could be: then a reviewer must decide first)"
        );
    }
    let _ = writeln!(out, "  agreement:     {}", a.agreement);
    let _ = writeln!(out, "  lawful basis:  {}", a.lawful_basis);
    let _ = writeln!(out, "  policy:        revision {}", a.policy_revision);
    if a.flagged_for_review {
        let _ = writeln!(
            out,
            "  BREAK-GLASS: this lookup is flagged for review by the data protection officer"
        );
    }
    if a.matched && a.sources.is_empty() {
        let _ = writeln!(out, "\nno records from the sources this purpose allows");
    }
    for view in &a.sources {
        let n = view.records.len();
        let _ = writeln!(
            out,
            "\n{} ({n} record{})",
            source_name(view.source),
            if n == 1 { "" } else { "s" }
        );
        let rows: Vec<Vec<String>> = view
            .records
            .iter()
            .map(|r| {
                view.allowed_fields
                    .iter()
                    .map(|f| {
                        r.fields
                            .iter()
                            .find(|v| &v.name == f)
                            .map_or_else(|| NOT_RECORDED.to_owned(), |v| readable(f, &v.value))
                    })
                    .collect()
            })
            .collect();
        let headings: Vec<&str> = view.allowed_fields.iter().map(|f| heading(f)).collect();
        let widths: Vec<usize> = headings
            .iter()
            .enumerate()
            .map(|(i, h)| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .fold(h.chars().count(), usize::max)
            })
            .collect();
        let line = |cells: &[&str]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("  {}", padded.join("  ").trim_end())
        };
        let _ = writeln!(out, "{}", line(&headings));
        for r in &rows {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            let _ = writeln!(out, "{}", line(&cells));
        }
    }
    if !a.withheld.is_empty() {
        let _ = writeln!(out, "\nWithheld:");
        for w in &a.withheld {
            let what = if w.fields.is_empty() {
                "everything".to_owned()
            } else {
                let names: Vec<&str> = w.fields.iter().map(|f| heading(f)).collect();
                names.join(", ")
            };
            let _ = writeln!(out, "  {}: {what}: {}", source_name(w.source), w.reason);
        }
    }
    if !a.obligations.is_empty() {
        let _ = writeln!(out, "\nObligations: {}", a.obligations.join(", "));
    }
    match &a.receipt {
        Some(r) => {
            let _ = writeln!(
                out,
                "\nAudit receipt: event {} of a log of {} events, root {} ({})",
                r.event_seq,
                r.tree_size,
                hex::encode(&r.root_hash),
                receipt_check(r)
            );
        }
        None => {
            let _ = writeln!(out, "\nAudit receipt: none was returned (report this)");
        }
    }
    out
}

/// Whether the receipt's inclusion proof holds against its root.
fn receipt_check(r: &v1::AuditReceipt) -> &'static str {
    let hash = |b: &[u8]| <[u8; 32]>::try_from(b).ok().map(Hash);
    let proof: Option<Vec<Hash>> = r.inclusion_proof.iter().map(|p| hash(p)).collect();
    match (hash(&r.leaf_hash), hash(&r.root_hash), proof) {
        (Some(leaf), Some(root), Some(proof))
            if verify_inclusion(&leaf, r.event_seq, r.tree_size, &proof, &root).is_ok() =>
        {
            "inclusion proof verified"
        }
        _ => "THE INCLUSION PROOF DOES NOT VERIFY: report this to the data protection officer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkageKey {
        LinkageKey::new("lk-test", &[5; 32]).unwrap()
    }

    #[test]
    fn flags_become_tokens_of_one_key_id_and_bad_identifiers_are_named_not_shown() {
        let ids = Identifiers {
            forename: Some("Amy"),
            surname: Some("Okafor"),
            date_of_birth: Some("2009-03-14"),
            ..Identifiers::default()
        };
        let t = tokens_from_flags(&ids, &key()).unwrap();
        assert!(t.len() >= 3);
        assert!(
            t.iter()
                .all(|t| t.key_id == "lk-test" && t.token.len() == 32)
        );
        // The same person typed differently gives the same tokens.
        let again = Identifiers {
            forename: Some("  amy "),
            surname: Some("OKAFOR"),
            date_of_birth: Some("14/03/2009"),
            ..Identifiers::default()
        };
        assert_eq!(tokens_from_flags(&again, &key()).unwrap(), t);

        let bad = Identifiers {
            nhs_number: Some("9990000019"),
            ..ids
        };
        let e = tokens_from_flags(&bad, &key()).unwrap_err().to_string();
        assert!(e.contains("--nhs (nhs_check_digit)"), "{e}");
        assert!(!e.contains("9990000019"), "{e}");
        let alone = Identifiers {
            surname: Some("Okafor"),
            ..Identifiers::default()
        };
        let e = tokens_from_flags(&alone, &key()).unwrap_err().to_string();
        assert!(e.contains("no match key"), "{e}");
    }

    #[test]
    fn a_row_is_cut_out_with_its_header_even_across_lines() {
        let data = b"id,name,note\n1,A,\"x\ny\"\n2,B,z\n3,C,w";
        assert_eq!(
            header_and_row(data, b',', 1).unwrap(),
            b"id,name,note\n1,A,\"x\ny\"\n"
        );
        assert_eq!(
            header_and_row(data, b',', 2).unwrap(),
            b"id,name,note\n2,B,z\n"
        );
        assert_eq!(
            header_and_row(data, b',', 3).unwrap(),
            b"id,name,note\n3,C,w"
        );
        let e = header_and_row(data, b',', 4).unwrap_err().to_string();
        assert!(e.contains("3 row(s)"), "{e}");
    }

    #[test]
    fn the_view_shows_each_source_withheld_obligations_and_receipt() {
        let a = v1::FindPersonResponse {
            matched: true,
            person_pseudonym: "ab".repeat(32),
            sources: vec![v1::SourceView {
                source: Source::Police.code(),
                allowed_fields: ["kind", "ward_code", "category", "weapon", "flag_under_25"]
                    .map(String::from)
                    .to_vec(),
                records: vec![v1::DisclosedRecord {
                    fields: [
                        ("kind", "crime"),
                        ("ward_code", "E05009391"),
                        ("category", "gbh"),
                        ("flag_under_25", "true"),
                    ]
                    .map(|(name, value)| v1::FieldValue {
                        name: name.into(),
                        value: value.into(),
                    })
                    .to_vec(),
                }],
            }],
            withheld: vec![v1::Withheld {
                source: Source::Health.code(),
                fields: vec![],
                reason: "health data only for safeguarding".into(),
            }],
            obligations: vec!["notify_data_owner".into()],
            agreement: "skc-isa-2026-marac".into(),
            lawful_basis: "Crime and Disorder Act 1998 s.115".into(),
            flagged_for_review: false,
            receipt: Some(v1::AuditReceipt {
                event_seq: 0,
                leaf_hash: vec![1; 32],
                tree_size: 1,
                root_hash: vec![1; 32],
                inclusion_proof: vec![],
            }),
            policy_revision: "r1".into(),
        };
        let shown = render(&a, "marac", "MARAC-2026-00017");
        assert!(
            shown.contains(
                "Police (1 record)\n  Kind   Ward               Category              Weapon        Under 25\n  \
                 Crime  Chelsea Riverside  Grievous bodily harm  not recorded  yes\n"
            ),
            "{shown}"
        );
        assert!(
            shown.contains(
                "Withheld:\n  Health (emergency departments): everything: health data only for \
                 safeguarding"
            ),
            "{shown}"
        );
        assert!(shown.contains("Obligations: notify_data_owner"));
        assert!(shown.contains("event 0 of a log of 1 events"));
        assert!(shown.contains("inclusion proof verified"), "{shown}");
        let mut forged = a.clone();
        forged.receipt.as_mut().unwrap().root_hash = vec![2; 32];
        assert!(render(&forged, "marac", "x").contains("DOES NOT VERIFY"));
    }
}
