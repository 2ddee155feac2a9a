//! The virtual machine and the interpreter decide alike: the shipped
//! bundle's every decision rule, over every combination of the agreement's
//! subjects, purposes, case references, break-glass reasons and sources
//! (and unknown or malformed ones of each), gives the same decision on
//! both. The bundle's own tests run on the interpreter only, so this is
//! what holds the serving evaluator to them.

use std::path::Path;

use chrono::{TimeZone, Utc};
use concord_policy::{
    Action, Bundle, EngineConfig, Evaluator, PolicyEngine, PolicyInput, Resource, Subject,
};

const REPO_POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

fn engine(evaluator: Evaluator) -> PolicyEngine {
    let bundle = Bundle::load_dir(Path::new(REPO_POLICIES)).expect("repo policies load");
    PolicyEngine::new(
        bundle,
        EngineConfig {
            evaluator,
            ..EngineConfig::default()
        },
    )
    .expect("the repository's bundle loads")
}

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
fn the_vm_and_the_interpreter_decide_alike_on_the_shipped_bundle() {
    let (vm, interpreter) = (engine(Evaluator::Vm), engine(Evaluator::Interpreter));
    for action in Action::ALL {
        assert_eq!(vm.evaluator(action), Evaluator::Vm, "{action}");
        assert_eq!(interpreter.evaluator(action), Evaluator::Interpreter);
    }
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
                            let (a, b) = (vm.decide(&input), interpreter.decide(&input));
                            match (&a, &b) {
                                (Ok(a), Ok(b)) => {
                                    assert_eq!(a, b, "{input:?}");
                                    if a.allow {
                                        allowed += 1;
                                    } else {
                                        refused += 1;
                                    }
                                }
                                (Err(_), Err(_)) => errors += 1,
                                _ => panic!("{input:?}: the VM gave {a:?}, the interpreter {b:?}"),
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

/// regorus 0.14's VM skips the `else` of a rule whose earlier body iterates
/// and fails, and answers undefined for a rule whose definitions disagree;
/// a bundle with either shape is interpreted, and decides as written.
#[test]
fn a_bundle_the_vm_would_decide_differently_is_interpreted() {
    let iterating = r#"package concord.ingest
default decision := {"allow": false, "reason": "default"}
decision := {"allow": true} if {
	some org in ["mps-cw"]
	org == input.subject.org
} else := {"allow": false, "reason": "not a pushing organisation"}
"#;
    let not_iterating = iterating.replace(
        "some org in [\"mps-cw\"]\n\torg == input.subject.org",
        "input.subject.org in [\"mps-cw\"]",
    );
    let indexed = iterating.replace(
        "some org in [\"mps-cw\"]\n\torg == input.subject.org",
        "[\"mps-cw\"][_] == input.subject.org",
    );
    let unified = iterating.replace(
        "some org in [\"mps-cw\"]\n\torg == input.subject.org",
        "[\"mps-cw\"][_] = input.subject.org",
    );
    let every_domain = iterating.replace(
        "some org in [\"mps-cw\"]\n\torg == input.subject.org",
        "every org in [[\"mps-cw\"]][_] { org == input.subject.org }",
    );
    let composite_index = iterating.replace(
        "some org in [\"mps-cw\"]\n\torg == input.subject.org",
        "{[\"mps-cw\", 1]: true}[[input.subject.org, n]]",
    );
    let two_definitions = r#"package concord.ingest
default decision := {"allow": false, "reason": "default"}
decision := {"allow": true} if input.subject.org == "mps-cw"
decision := {"allow": false, "reason": "not a pushing organisation"} if input.subject.org != "mps-cw"
"#;
    let keyed_membership = not_iterating.replace(
        "input.subject.org in [\"mps-cw\"]",
        "\"org\", \"mps-cw\" in input.subject",
    );
    let default_function = r#"package concord.ingest
default decision := {"allow": false, "reason": "default"}
default pushing(_) := false
pushing(org) if org == "mps-cw"
decision := {"allow": true} if {
	pushing(input.subject.org)
} else := {"allow": false, "reason": "not a pushing organisation"}
"#;
    let printing = not_iterating.replace(
        "input.subject.org in",
        "print(\"deciding\")\n\tinput.subject.org in",
    );
    for (policy, expected) in [
        (iterating, Evaluator::Interpreter),
        (indexed.as_str(), Evaluator::Interpreter),
        (unified.as_str(), Evaluator::Interpreter),
        (every_domain.as_str(), Evaluator::Interpreter),
        (composite_index.as_str(), Evaluator::Interpreter),
        (two_definitions, Evaluator::Interpreter),
        (printing.as_str(), Evaluator::Interpreter),
        (keyed_membership.as_str(), Evaluator::Interpreter),
        (default_function, Evaluator::Interpreter),
        (not_iterating.as_str(), Evaluator::Vm),
    ] {
        let engine = PolicyEngine::new(
            bundle(policy),
            EngineConfig {
                run_tests_on_load: false,
                evaluator: Evaluator::Vm,
                ..EngineConfig::default()
            },
        )
        .expect("loads");
        assert_eq!(engine.evaluator(Action::Ingest), expected, "{policy}");
        assert!(engine.decide(&push_as("mps-cw")).unwrap().allow, "{policy}");
        let refused = engine.decide(&push_as("rbkc-housing")).unwrap();
        assert_eq!(
            refused.reason.as_deref(),
            Some("not a pushing organisation"),
            "{policy}"
        );
    }
}

/// Decides `input` on `policy` with each evaluator; the VM must serve it.
fn decide_on_both(
    policy: &str,
    input: &PolicyInput,
) -> [Result<concord_policy::Decision, concord_policy::PolicyError>; 2] {
    [Evaluator::Vm, Evaluator::Interpreter].map(|evaluator| {
        let engine = PolicyEngine::new(
            bundle(policy),
            EngineConfig {
                run_tests_on_load: false,
                evaluator,
                ..EngineConfig::default()
            },
        )
        .expect("loads");
        assert_eq!(engine.evaluator(Action::Ingest), evaluator, "{policy}");
        engine.decide(input)
    })
}

/// An error inside a body (a builtin's, or arithmetic on a string) fails
/// the decision on both evaluators: never the body alone, which would let
/// an `else`, a `default` or a `not` allow. regorus 0.14.1's VM took it as
/// the body failing until Concord's patch (vendor/regorus/CONCORD.md);
/// each of these policies allowed on it.
#[test]
fn an_error_in_a_body_fails_the_decision_on_both_evaluators() {
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
        for outcome in decide_on_both(policy, &push_as("mps-cw")) {
            let error = outcome.expect_err(policy);
            assert!(
                matches!(error, concord_policy::PolicyError::Evaluation { .. }),
                "{policy}: {error}"
            );
        }
    }
}

/// Values of different types compare by Rego's order of types (numbers
/// before strings) on both evaluators; regorus 0.14.1's VM raised an error
/// in strict mode, which it took as the body failing.
#[test]
fn values_of_different_types_compare_alike_on_both_evaluators() {
    for (comparison, holds) in [
        ("input.subject.org > 5", true),
        ("input.subject.org >= 5", true),
        ("input.subject.org < 5", false),
        ("5 <= input.subject.org", true),
    ] {
        let policy = format!(
            "package concord.ingest\n\
             default decision := {{\"allow\": false, \"reason\": \"refused\"}}\n\
             decision := {{\"allow\": true}} if {comparison}\n"
        );
        for outcome in decide_on_both(&policy, &push_as("mps-cw")) {
            assert_eq!(outcome.expect(&policy).allow, holds, "{policy}");
        }
    }
}

/// A difference no shape gives away: regorus 0.14.1's VM keeps an
/// undefined term in an array comprehension (the interpreter drops it), so
/// over this data it counts two where the interpreter counts one. The
/// load-time comparison over the bundle's own inputs finds it, and the
/// rule is interpreted.
#[test]
fn a_rule_the_vm_decides_differently_on_the_bundles_inputs_is_interpreted() {
    let policy = r#"package concord.ingest
items := [{"n": 1}, {"m": 2}]
default decision := {"allow": false, "reason": "refused"}
decision := {"allow": true} if count([x.n | some x in items]) == 1
"#;
    let engine = PolicyEngine::new(
        bundle(policy),
        EngineConfig {
            run_tests_on_load: false,
            ..EngineConfig::default()
        },
    )
    .expect("loads");
    assert_eq!(engine.evaluator(Action::Ingest), Evaluator::Interpreter);
    assert!(engine.decide(&push_as("mps-cw")).unwrap().allow);

    // The same rule without the undefined term is served by the VM.
    let agreeing = policy
        .replace(r#"{"m": 2}"#, r#"{"n": 2}"#)
        .replace("== 1", "== 2");
    let engine = PolicyEngine::new(
        bundle(&agreeing),
        EngineConfig {
            run_tests_on_load: false,
            ..EngineConfig::default()
        },
    )
    .expect("loads");
    assert_eq!(engine.evaluator(Action::Ingest), Evaluator::Vm);
    assert!(engine.decide(&push_as("mps-cw")).unwrap().allow);
}

/// Two more of the VM's differences that turn on the data, each of which
/// would allow on regorus 0.14.1's VM where the interpreter fails the
/// decision: a complete rule whose loop yields two values (the VM keeps
/// the last), and `some x in` a scalar (the VM runs no iteration, so `not`
/// holds). The load-time comparison keeps both interpreted, and they
/// fail closed.
#[test]
fn data_driven_differences_that_would_allow_on_the_vm_are_interpreted() {
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
        let engine = PolicyEngine::new(
            bundle(policy),
            EngineConfig {
                run_tests_on_load: false,
                ..EngineConfig::default()
            },
        )
        .expect("loads");
        assert_eq!(
            engine.evaluator(Action::Ingest),
            Evaluator::Interpreter,
            "{policy}"
        );
        let error = engine.decide(&push_as("mps-cw")).expect_err(policy);
        assert!(
            matches!(error, concord_policy::PolicyError::Evaluation { .. }),
            "{policy}: {error}"
        );
    }
}
