//! Decisions fail closed: the shipped bundle's every decision rule, over
//! every combination of the agreement's subjects, purposes, case
//! references, break-glass reasons and sources (and unknown or malformed
//! ones of each), answers a decision and never an error; and an error
//! anywhere in a decision (a builtin's, arithmetic on a string, a complete
//! rule with two values, iterating a scalar) fails the whole decision, so
//! that no `else`, `default` or `not` turns it into an allow.

use std::path::Path;

use chrono::{TimeZone, Utc};
use concord_policy::{
    Action, Bundle, Decision, EngineConfig, PolicyEngine, PolicyError, PolicyInput, Resource,
    Subject,
};

const REPO_POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

/// Every role at each organisation the agreement gives it, then roles at
/// organisations that do not hold them, an unknown organisation and an
/// unknown role.
fn subjects(agreements: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (role, held) in agreements["roles"].as_object().expect("roles") {
        for org in held["orgs"].as_array().expect("orgs") {
            out.push((org.as_str().expect("org").to_owned(), role.clone()));
        }
    }
    for (org, role) in [
        ("rbkc-childrens", "analyst"),
        ("rbkc-community-safety", "mash_officer"),
        ("skc-board", "dpo"),
        ("mps-cw", "mash_manager"),
        ("navy", "mash_officer"),
        ("rbkc-childrens", "admiral"),
    ] {
        out.push((org.to_owned(), role.to_owned()));
    }
    out
}

#[test]
fn the_shipped_bundle_decides_every_input_of_the_grid() {
    let bundle = Bundle::load_dir(Path::new(REPO_POLICIES)).expect("repo policies load");
    let engine = PolicyEngine::new(bundle, EngineConfig::default()).expect("the bundle loads");
    let agreements: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(REPO_POLICIES).join("data/agreements.json"))
            .expect("agreements.json"),
    )
    .expect("agreements.json is JSON");
    let agreements = &agreements["agreements"];
    let all_sources: Vec<String> = agreements["sources"]
        .as_object()
        .expect("sources")
        .keys()
        .cloned()
        .collect();

    let mut purposes: Vec<Option<String>> = agreements["purposes"]
        .as_object()
        .expect("purposes")
        .keys()
        .map(|p| Some(p.clone()))
        .collect();
    purposes.extend([Some("curiosity".to_owned()), None]);
    let case_refs = [
        Some("MASH-2026-0042"),
        Some("MARAC-2026-123456"),
        Some("EMG-2026-00001"),
        Some("CASE-42"),
        Some("MASH-26-0042"),
        Some("MASH-2026-004a"),
        None,
    ];
    let reasons = [
        None,
        Some("urgent"),
        Some("   padded     "),
        Some("child missing overnight, immediate risk of serious harm"),
    ];
    let sources: [Vec<String>; 5] = [
        all_sources.clone(),
        vec!["police".into(), "health".into()],
        vec!["police".into(), "police".into()],
        vec!["navy".into()],
        vec![],
    ];
    let time = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();

    let (mut decided, mut allowed, mut refused, mut errors) = (0, 0, 0, 0);
    for action in Action::ALL {
        // Only lookups read the case reference and the reason.
        let (case_refs, reasons): (&[Option<&str>], &[Option<&str>]) = if action == Action::Lookup {
            (&case_refs, &reasons)
        } else {
            (&case_refs[..1], &reasons[..1])
        };
        // Only audit reads name a record kind (events or a checkpoint).
        let kinds: &[&[&str]] = if action == Action::AuditRead {
            &[&[], &["events"], &["checkpoint"]]
        } else {
            &[&[]]
        };
        for (org, role) in subjects(agreements) {
            for purpose in &purposes {
                for case_ref in case_refs {
                    for reason in reasons {
                        for (sources, kinds) in sources
                            .iter()
                            .flat_map(|s| kinds.iter().map(move |k| (s, k)))
                        {
                            let input = PolicyInput {
                                action,
                                subject: Subject {
                                    org: org.clone(),
                                    role: role.clone(),
                                    user: format!("{role}-1"),
                                },
                                purpose: purpose.clone(),
                                case_ref: case_ref.map(str::to_owned),
                                reason: reason.map(str::to_owned),
                                resource: Resource {
                                    sources: sources.clone(),
                                    record_kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
                                    fields: vec![],
                                },
                                time,
                            };
                            match engine.decide(&input) {
                                Ok(d) if d.allow => allowed += 1,
                                Ok(_) => refused += 1,
                                Err(_) => errors += 1,
                            }
                            decided += 1;
                        }
                    }
                }
            }
        }
    }
    // The grid reaches both outcomes of every rule it can, and the shipped
    // rules are total (a refusal, never an error).
    assert!(
        allowed > 100 && refused > 1_000,
        "{allowed} allowed, {refused} refused"
    );
    assert_eq!(errors, 0, "of {decided} decisions");
}

fn bundle(policy: &str) -> Bundle {
    Bundle::from_files(vec![
        (".manifest".to_owned(), r#"{"revision": "t-1"}"#.to_owned()),
        ("ingest.rego".to_owned(), policy.to_owned()),
    ])
    .expect("bundle")
}

fn push_as(org: &str) -> PolicyInput {
    PolicyInput {
        action: Action::Ingest,
        subject: Subject {
            org: org.to_owned(),
            role: "push_agent".to_owned(),
            user: "agent-1".to_owned(),
        },
        purpose: None,
        case_ref: None,
        reason: None,
        resource: Resource {
            sources: vec!["police".to_owned()],
            record_kinds: vec![],
            fields: vec![],
        },
        time: Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap(),
    }
}

/// Decides `input` on `policy`, loaded without running tests.
fn decide(policy: &str, input: &PolicyInput) -> Result<Decision, PolicyError> {
    PolicyEngine::new(
        bundle(policy),
        EngineConfig {
            run_tests_on_load: false,
            ..EngineConfig::default()
        },
    )
    .expect("loads")
    .decide(input)
}

/// An error inside a body (a builtin's, or arithmetic on a string) fails
/// the decision: never the body alone, which would let an `else`, a
/// `default` or a `not` allow. (regorus 0.14.1's VM took it as the body
/// failing, and each of these allowed there: one reason decisions are
/// interpreted.)
#[test]
fn an_error_in_a_body_fails_the_decision() {
    let else_after_error = r#"package concord.ingest
decision := {"allow": false, "reason": "numeric organisations are refused"} if {
	to_number(input.subject.org) > 0
} else := {"allow": true}
"#;
    let not_of_error = r#"package concord.ingest
default decision := {"allow": false, "reason": "refused"}
refused if to_number(input.subject.org) > 0
decision := {"allow": true} if not refused
"#;
    let default_after_error = r#"package concord.ingest
default decision := {"allow": true}
decision := {"allow": false, "reason": "numeric organisations are refused"} if {
	input.subject.org + 1 > 0
}
"#;
    let error_in_function = r#"package concord.ingest
default decision := {"allow": true}
numeric(org) if to_number(org) > 0
decision := {"allow": false, "reason": "numeric organisations are refused"} if numeric(input.subject.org)
"#;
    for policy in [
        else_after_error,
        not_of_error,
        default_after_error,
        error_in_function,
    ] {
        let error = decide(policy, &push_as("mps-cw")).expect_err(policy);
        assert!(
            matches!(error, PolicyError::Evaluation { .. }),
            "{policy}: {error}"
        );
    }
}

/// A complete rule whose loop yields two values, and `some x in` a scalar,
/// are errors that fail the decision (regorus 0.14.1's VM kept the last
/// value, and ran no iteration so that `not` held: each allowed there).
#[test]
fn conflicting_values_and_iterating_a_scalar_fail_the_decision() {
    let two_values = r#"package concord.ingest
notes := [{"deny": true}, {"deny": false}]
default decision := {"allow": false, "reason": "refused"}
verdict := n.deny if { some n in notes }
decision := {"allow": true} if verdict == false
"#;
    let scalar_domain = r#"package concord.ingest
denied := "mps-cw"
default decision := {"allow": false, "reason": "refused"}
deny if { some org in denied; org == input.subject.org }
decision := {"allow": true} if not deny
"#;
    for policy in [two_values, scalar_domain] {
        let error = decide(policy, &push_as("mps-cw")).expect_err(policy);
        assert!(
            matches!(error, PolicyError::Evaluation { .. }),
            "{policy}: {error}"
        );
    }
}
