//! `concord review`: the linkage review queue for the people who work it
//! (`concord.v1.Linkage`), as the user's certificate over mTLS.
//!
//! Each possible pair is shown with its match probability, how each field
//! of the pair compared (the comparison levels of the scored tier), the
//! record's source, kind and date and the sources the candidate person is
//! known to: never a name or an identifier, which the broker does not
//! hold. `resolve` links the record to the candidate person or keeps them
//! apart; the broker audits every listing and every decision, and a
//! resolved pair is never offered again.

use anyhow::{Context, bail};
use concord_client::ClientTls;
use concord_core::RecordKind;
use concord_disclosure::{Dimension, kind_label};
use concord_proto::v1::{self, linkage_client::LinkageClient};
use tonic::{Code, Status};

use crate::cmd::report::BrokerArgs;

/// Work the linkage review queue: possible matches a person must decide
#[derive(Debug, clap::Subcommand)]
pub enum ReviewCommand {
    /// List the possible matches waiting for a decision (with --all, the decided ones too)
    #[command(after_long_help = LIST_HELP)]
    List {
        /// Also list the pairs already linked or kept apart
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Show one possible match, pending or decided
    Show {
        /// The review's id, as `concord review list` shows it
        id: i64,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Decide a possible match: link the record to the candidate person, or keep them apart
    #[command(
        after_long_help = RESOLVE_HELP,
        group(clap::ArgGroup::new("verdict").required(true).args(["link", "keep_apart"])),
    )]
    Resolve {
        /// The review's id, as `concord review list` shows it
        id: i64,
        /// The record and the candidate are one person: link them
        #[arg(long)]
        link: bool,
        /// They are different people: keep them apart (the pair is not offered again)
        #[arg(long)]
        keep_apart: bool,
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

const LIST_HELP: &str = "\
Only the roles the link_review policy names (the partnership's MASH managers and its data
protection officer) may see the queue; the broker records every listing in its audit log.

Example:
  concord review list --pki .concord/pki --user mash-manager-1";

const RESOLVE_HELP: &str = "\
The decision is recorded in the broker's audit log with your identity. A linked record joins
the candidate person; a pair kept apart is never offered for review again.

Examples:
  concord review resolve 12 --link --pki .concord/pki --user mash-manager-1
  concord review resolve 13 --keep-apart --pki .concord/pki --user mash-manager-1";

pub fn run(command: &ReviewCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match command {
        ReviewCommand::List { all, broker } => {
            let tls = broker.tls()?;
            let reviews = runtime
                .block_on(list(&broker.broker, &tls, *all))?
                .map_err(|s| refusal(&s))?;
            print!("{}", render_list(&reviews, *all));
        }
        ReviewCommand::Show { id, broker } => {
            let tls = broker.tls()?;
            let reviews = runtime
                .block_on(list(&broker.broker, &tls, true))?
                .map_err(|s| refusal(&s))?;
            let Some(review) = reviews.iter().find(|r| r.review_id == *id) else {
                bail!(
                    "no review has id {id}; `concord review list --all` lists every one the \
                     broker holds"
                );
            };
            print!("{}", render(review));
        }
        ReviewCommand::Resolve {
            id, link, broker, ..
        } => {
            let tls = broker.tls()?;
            let resolved = runtime
                .block_on(resolve(&broker.broker, &tls, *id, *link))?
                .map_err(|s| refusal(&s))?;
            println!(
                "review {id}: {}; the decision is recorded in the broker's audit log",
                if *link {
                    "linked: the record now belongs to the candidate person"
                } else {
                    "kept apart: the pair will not be offered again"
                }
            );
            print!("{}", render(&resolved));
        }
    }
    Ok(())
}

async fn channel(broker: &str, tls: &ClientTls) -> anyhow::Result<tonic::transport::Channel> {
    concord_client::connect(broker, tls).await.with_context(|| {
        format!(
            "cannot reach the broker (check --broker {broker} and that `concord serve` is \
             running there)"
        )
    })
}

/// The queue; the outer error is a connection failure, the inner result
/// the broker's answer.
async fn list(
    broker: &str,
    tls: &ClientTls,
    include_resolved: bool,
) -> anyhow::Result<Result<Vec<v1::LinkReview>, Status>> {
    let channel = channel(broker, tls).await?;
    Ok(LinkageClient::new(channel)
        .list_reviews(v1::ListReviewsRequest { include_resolved })
        .await
        .map(|r| r.into_inner().reviews))
}

async fn resolve(
    broker: &str,
    tls: &ClientTls,
    review_id: i64,
    accept: bool,
) -> anyhow::Result<Result<v1::LinkReview, Status>> {
    let channel = channel(broker, tls).await?;
    Ok(LinkageClient::new(channel)
        .resolve_review(v1::ResolveReviewRequest { review_id, accept })
        .await
        .map(tonic::Response::into_inner))
}

/// The refusal as an error: code, the broker's message, and what to do.
fn refusal(status: &Status) -> anyhow::Error {
    let next = match status.code() {
        Code::PermissionDenied => {
            "the link_review policy refused it: only the partnership's link reviewers (its MASH \
             managers and data protection officer) may work the queue; the refusal is recorded in \
             the audit log"
        }
        Code::NotFound => "`concord review list` shows the pairs still waiting for a decision",
        Code::Unauthenticated => {
            "check the client certificate: it must be issued by the partnership CA, not expired \
             and not revoked"
        }
        Code::Aborted => "another broker changed the linkage at the same moment; ask again",
        Code::Unavailable => "nothing was changed; ask again later",
        _ => "see the broker's log, then ask again",
    };
    anyhow::anyhow!(
        "the broker refused ({:?}): {}\n{next}",
        status.code(),
        status.message()
    )
}

/// The queue as a reviewer reads it.
pub(crate) fn render_list(reviews: &[v1::LinkReview], all: bool) -> String {
    let mut out = String::new();
    let pending = reviews.iter().filter(|r| r.status == "pending").count();
    out.push_str(&match (pending, all) {
        (0, false) => "no possible matches are waiting for a decision\n".to_owned(),
        (1, false) => "1 possible match is waiting for a decision\n".to_owned(),
        (n, false) => format!("{n} possible matches are waiting for a decision\n"),
        (n, true) => format!(
            "{} review(s): {n} waiting for a decision, {} decided\n",
            reviews.len(),
            reviews.len() - n
        ),
    });
    for r in reviews {
        out.push('\n');
        out.push_str(&render(r));
    }
    if pending > 0 {
        out.push_str(
            "\nDecide each with `concord review resolve ID --link` (one person) or \
             `--keep-apart` (different people).\n",
        );
    }
    out
}

/// One review: the pair, how likely it is one person and how each field
/// compared.
pub(crate) fn render(r: &v1::LinkReview) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let status = match (r.status.as_str(), r.resolved_by.as_str()) {
        ("pending", _) => "waiting for a decision".to_owned(),
        ("accepted", by) => format!("linked by {by}"),
        ("rejected", by) => format!("kept apart by {by}"),
        (other, _) => other.to_owned(),
    };
    let _ = writeln!(out, "review {}: {status}", r.review_id);
    let _ = writeln!(
        out,
        "  match probability  {} (match weight {:.1} bits)",
        percent(r.match_probability),
        r.score
    );
    let kind = match r.record_kind.parse::<RecordKind>() {
        Ok(k) => kind_label(k),
        Err(_) => r.record_kind.as_str(),
    };
    let _ = writeln!(
        out,
        "  record             {}, {kind}, {}",
        Dimension::Source.label(&r.record_source),
        r.record_event_date
    );
    let known: Vec<String> = r
        .candidate_sources
        .iter()
        .map(|s| Dimension::Source.label(s))
        .collect();
    let _ = writeln!(
        out,
        "  candidate person   known to {}",
        if known.is_empty() {
            "no source now".to_owned()
        } else {
            known.join(", ")
        }
    );
    if r.field_levels.is_empty() {
        let _ = writeln!(out, "  fields compared    not recorded (an older review)");
    } else {
        let _ = writeln!(out, "  fields compared");
        for l in &r.field_levels {
            let _ = writeln!(
                out,
                "    {:<15}  {}",
                field_label(&l.field),
                level_label(&l.level)
            );
        }
    }
    let _ = writeln!(out, "  held since         {}", r.created_at);
    out
}

fn percent(p: f64) -> String {
    if p > 0.999 {
        ">99.9%".to_owned()
    } else if p < 0.001 {
        "<0.1%".to_owned()
    } else {
        format!("{:.1}%", p * 100.0)
    }
}

/// A compared field as a reviewer names it.
fn field_label(field: &str) -> &str {
    match field {
        "forename" => "forename",
        "surname" => "surname",
        "date_of_birth" => "date of birth",
        "postcode" => "postcode",
        other => other,
    }
}

/// A comparison level (`concord.v1.FieldLevel.level`) in words.
fn level_label(level: &str) -> &str {
    match level {
        "exact" => "the same",
        "variant" => "variants of one name (a nickname, the same canonical name)",
        "one_edit" => "one letter apart",
        "part" => "one is part of the other (SMITH and SMITH-JONES)",
        "phonetic" => "sound alike (the same NYSIIS code)",
        "initial" => "the same initial, nothing closer",
        "day_month_swapped" => "day and month swapped",
        "year_month" => "the same year and month",
        "disagree" => "different",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(status: &str) -> v1::LinkReview {
        v1::LinkReview {
            review_id: 7,
            score: 3.2,
            status: status.into(),
            record_source: "childrens_services".into(),
            record_kind: "referral".into(),
            record_event_date: "2026-10-10".into(),
            candidate_sources: vec!["police".into()],
            created_at: "2026-12-07T22:00:00Z".into(),
            resolved_by: if status == "pending" {
                String::new()
            } else {
                "mash-manager-1".into()
            },
            match_probability: 0.9019,
            field_levels: vec![
                v1::FieldLevel {
                    field: "forename".into(),
                    level: "initial".into(),
                },
                v1::FieldLevel {
                    field: "date_of_birth".into(),
                    level: "exact".into(),
                },
            ],
        }
    }

    #[test]
    fn a_review_reads_as_words_with_its_probability_and_levels() {
        let shown = render(&review("pending"));
        assert!(
            shown.starts_with("review 7: waiting for a decision\n"),
            "{shown}"
        );
        assert!(
            shown.contains("match probability  90.2% (match weight 3.2 bits)"),
            "{shown}"
        );
        assert!(
            shown.contains("record             Children's services, Referral, 2026-10-10"),
            "{shown}"
        );
        assert!(shown.contains("known to Police"), "{shown}");
        assert!(
            shown.contains("forename         the same initial, nothing closer"),
            "{shown}"
        );
        assert!(shown.contains("date of birth    the same"), "{shown}");
        assert!(render(&review("rejected")).contains("kept apart by mash-manager-1"));
        assert!(render(&review("accepted")).contains("linked by mash-manager-1"));
        let mut old = review("pending");
        old.field_levels.clear();
        assert!(render(&old).contains("not recorded"));
    }

    #[test]
    fn the_list_counts_what_waits() {
        assert!(render_list(&[], false).starts_with("no possible matches"));
        let one = render_list(&[review("pending")], false);
        assert!(one.starts_with("1 possible match is waiting"), "{one}");
        assert!(one.contains("concord review resolve ID --link"));
        let all = render_list(&[review("pending"), review("accepted")], true);
        assert!(
            all.starts_with("2 review(s): 1 waiting for a decision, 1 decided"),
            "{all}"
        );
        assert_eq!(percent(0.99999), ">99.9%");
        assert_eq!(percent(0.0001), "<0.1%");
    }
}
