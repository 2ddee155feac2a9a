//! The inputs a bundle's VM programs are held to the interpreter over, at
//! load ([`crate::Evaluator::Vm`]).
//!
//! regorus 0.14.1's VM differs from its interpreter in more ways than the
//! vendored patch and the static guard (`scan::vm_divergence`) close; the
//! rest depend on the data and the input as much as on a rule's shape (an
//! array comprehension over data whose term is sometimes undefined, a
//! complete rule whose loop yields two values, `some x in` a scalar). So
//! before the VM serves a decision rule, the loader decides every input
//! here on both and keeps the rule interpreted if any answer differs.
//!
//! The inputs are the broker's own shapes (it builds every input from
//! checked strings: `PolicyInput` admits no other types), over the
//! agreement's own names, read from the bundle's data: every role at each
//! organisation that holds it and at one that does not, an unknown
//! organisation and role, every purpose, an unknown one and none, every
//! source, some, a repeated one, an unknown one and none, and for lookups
//! well-formed and malformed case references and break-glass reasons, and
//! for audit reads both record kinds the broker names (events, checkpoint).
//! What no input here reaches (a rule that turns on a user name, say) is
//! not compared; the shipped bundle is compared over a larger grid by
//! `tests/evaluators.rs`.

use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::Value as Json;

use crate::{Action, PolicyInput, Resource, Subject};

/// What the comparison reads of the bundle's data.
struct Names {
    /// (organisation, role) pairs.
    subjects: Vec<(String, String)>,
    /// Every role once, at the first organisation holding it.
    held: Vec<(String, String)>,
    purposes: Vec<Option<String>>,
    source_sets: Vec<Vec<String>>,
    case_refs: Vec<Option<String>>,
}

impl Names {
    fn of(data: &Json) -> Names {
        let agreements = &data["agreements"];
        let keys = |v: &Json| -> Vec<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let strings = |v: &Json| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };

        let roles: Vec<(String, Vec<String>)> = keys(&agreements["roles"])
            .into_iter()
            .map(|role| {
                let orgs = strings(&agreements["roles"][role.as_str()]["orgs"]);
                (role, orgs)
            })
            .collect();
        let all_orgs: BTreeSet<&String> = roles.iter().flat_map(|(_, orgs)| orgs).collect();
        let mut subjects = Vec::new();
        let mut held = Vec::new();
        for (role, orgs) in &roles {
            for org in orgs {
                subjects.push((org.clone(), role.clone()));
            }
            if let Some(org) = orgs.first() {
                held.push((org.clone(), role.clone()));
            }
            if let Some(other) = all_orgs.iter().find(|o| !orgs.contains(o)) {
                subjects.push(((*other).clone(), role.clone()));
            }
        }
        let some_role = roles.first().map_or("mash_officer", |(r, _)| r.as_str());
        let some_org = all_orgs
            .first()
            .map_or("unknown-organisation", |o| o.as_str());
        subjects.push(("unknown-organisation".to_owned(), some_role.to_owned()));
        subjects.push((some_org.to_owned(), "unknown-role".to_owned()));
        if held.is_empty() {
            held.push((some_org.to_owned(), some_role.to_owned()));
        }

        let mut purposes: Vec<Option<String>> = keys(&agreements["purposes"])
            .into_iter()
            .map(Some)
            .collect();
        purposes.extend([Some("unknown-purpose".to_owned()), None]);

        let sources = keys(&agreements["sources"]);
        let mut source_sets = vec![sources.clone()];
        if let [first, second, ..] = sources.as_slice() {
            source_sets.push(vec![first.clone(), second.clone()]);
        }
        if let Some(first) = sources.first() {
            source_sets.push(vec![first.clone(), first.clone()]);
        }
        source_sets.extend([vec!["unknown-source".to_owned()], vec![]]);

        let format = &agreements["case_ref_format"];
        let prefixes = strings(&format["prefixes"]);
        let year_digits = format["year_digits"].as_u64().unwrap_or(4) as usize;
        let number_digits = format["number_digits"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(Json::as_u64)
            .unwrap_or(4) as usize;
        let (year, number) = ("2".repeat(year_digits), "7".repeat(number_digits));
        let first = prefixes.first().map_or("MASH", String::as_str);
        let mut case_refs: Vec<Option<String>> = prefixes
            .iter()
            .map(|p| Some(format!("{p}-{year}-{number}")))
            .collect();
        case_refs.extend([
            Some(format!("{first}-{year}2-{number}")),
            Some(format!("{first}-{year}-{}a", &number[1..])),
            Some("CASE-42".to_owned()),
            None,
        ]);
        Names {
            subjects,
            held,
            purposes,
            source_sets,
            case_refs,
        }
    }
}

fn input(
    action: Action,
    (org, role): &(String, String),
    purpose: &Option<String>,
    case_ref: &Option<String>,
    reason: Option<&str>,
    sources: &[String],
) -> PolicyInput {
    PolicyInput {
        action,
        subject: Subject {
            org: org.clone(),
            role: role.clone(),
            user: format!("{role}-1"),
        },
        purpose: purpose.clone(),
        case_ref: case_ref.clone(),
        reason: reason.map(str::to_owned),
        resource: Resource {
            sources: sources.to_vec(),
            record_kinds: vec![],
            fields: vec![],
        },
        time: Utc::now(),
    }
}

/// The inputs `action`'s decision rule is compared over, for a bundle with
/// `data` (its whole data document, as JSON).
pub(crate) fn inputs(data: &Json, action: Action) -> Vec<PolicyInput> {
    const REASONS: [Option<&str>; 3] = [
        None,
        Some("urgent"),
        Some("child missing overnight, immediate risk of serious harm"),
    ];
    let names = Names::of(data);
    let first_case = names.case_refs.first().cloned().flatten();
    let mut out = Vec::new();
    // Who, for what and over which sources, with a well-formed case and a
    // written reason.
    for subject in &names.subjects {
        for purpose in &names.purposes {
            for sources in &names.source_sets {
                let (case_ref, reason) = match action {
                    Action::Lookup => (first_case.clone(), REASONS[2]),
                    _ => (None, None),
                };
                out.push(input(action, subject, purpose, &case_ref, reason, sources));
            }
        }
    }
    // For lookups: every case reference and reason, for each purpose, by
    // each role where it is held, over all sources.
    if action == Action::Lookup {
        let all = &names.source_sets[0];
        for subject in &names.held {
            for purpose in &names.purposes {
                for case_ref in &names.case_refs {
                    for reason in REASONS {
                        out.push(input(action, subject, purpose, case_ref, reason, all));
                    }
                }
            }
        }
    }
    // For audit reads: by each subject, of the events and of a checkpoint,
    // as the broker names them in `resource.record_kinds`.
    if action == Action::AuditRead {
        for subject in &names.subjects {
            for kind in ["events", "checkpoint"] {
                let mut i = input(action, subject, &None, &None, None, &[]);
                i.resource.record_kinds = vec![kind.to_owned()];
                out.push(i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../policies/data/agreements.json");

    /// Over the shipped agreement the comparison is not vacuous: it
    /// reaches every role, purpose and source, and both break-glass
    /// outcomes; and it stays small enough to run at every load.
    #[test]
    fn the_inputs_cover_the_shipped_agreement() {
        let data: Json = serde_json::from_str(SHIPPED).expect("agreements.json");
        let agreements = &data["agreements"];
        let lookups = inputs(&data, Action::Lookup);
        for role in agreements["roles"].as_object().unwrap().keys() {
            assert!(lookups.iter().any(|i| &i.subject.role == role), "{role}");
        }
        for purpose in agreements["purposes"].as_object().unwrap().keys() {
            assert!(
                lookups.iter().any(|i| i.purpose.as_ref() == Some(purpose)),
                "{purpose}"
            );
        }
        let all: Vec<String> = agreements["sources"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert!(lookups.iter().any(|i| i.resource.sources == all));
        assert!(
            lookups
                .iter()
                .any(|i| i.purpose.as_deref() == Some("emergency")
                    && i.reason.is_none()
                    && i.case_ref.as_deref().is_some_and(|c| c.starts_with("EMG-")))
        );
        assert!(
            lookups
                .iter()
                .any(|i| i.purpose.as_deref() == Some("emergency")
                    && i.reason.as_deref().is_some_and(|r| r.len() > 40))
        );
        let total: usize = Action::ALL.iter().map(|a| inputs(&data, *a).len()).sum();
        assert!((1_000..10_000).contains(&total), "{total} inputs");
    }
}
