//! Hot reload: a bundle that does not load or fails its tests never
//! replaces the one serving; a good one swaps atomically, and decisions
//! running meanwhile never fail and always name the bundle that decided.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use concord_policy::{
    Action, Bundle, BundleId, EngineConfig, PolicyEngine, PolicyError, PolicyInput, ReloadOutcome,
    Resource, RetentionPeriod, Subject,
};

const REPO_POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

fn push(org: &str, source: &str) -> PolicyInput {
    PolicyInput {
        action: Action::Ingest,
        subject: Subject {
            org: org.to_owned(),
            role: "push_agent".to_owned(),
            user: format!("{org}-push"),
        },
        purpose: None,
        case_ref: None,
        reason: None,
        resource: Resource {
            sources: vec![source.to_owned()],
            record_kinds: vec![],
            fields: vec![],
        },
        time: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap(),
    }
}

/// A small bundle: `revision`, an ingest policy allowing the sources in
/// `allowed` (and saying which revision decided), and a passing test.
fn bundle(revision: &str, allowed: &[&str], extra: &[(&str, &str)]) -> Bundle {
    let list = allowed
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let policy = format!(
        "package concord.ingest\n\
         default decision := {{\"allow\": false, \"reason\": \"refused by {revision}\"}}\n\
         decision := {{\"allow\": true, \"revision\": \"{revision}\"}} if {{\n\
         \tevery s in input.resource.sources {{ s in [{list}] }}\n\
         }}\n"
    );
    let test = "package concord.ingest_test\n\
                import data.concord.ingest\n\
                test_refuses_navy if {\n\
                \tnot ingest.decision.allow with input as {\"resource\": {\"sources\": [\"navy\"]}}\n\
                }\n";
    let mut files = vec![
        (
            ".manifest".to_owned(),
            format!("{{\"revision\": \"{revision}\"}}"),
        ),
        ("ingest.rego".to_owned(), policy),
        ("ingest_test.rego".to_owned(), test.to_owned()),
        (
            "retention.rego".to_owned(),
            "package concord.retention\nperiods := data.retention\n".to_owned(),
        ),
        (
            "data/retention.json".to_owned(),
            r#"{"retention": {"police": {"years": 6}}}"#.to_owned(),
        ),
    ];
    for (path, content) in extra {
        files.retain(|(p, _)| p != path);
        files.push(((*path).to_owned(), (*content).to_owned()));
    }
    Bundle::from_files(files).expect("bundle builds")
}

fn id(bundle: &Bundle) -> BundleId {
    BundleId {
        revision: bundle.revision().to_owned(),
        digest: bundle.digest().to_owned(),
    }
}

fn engine(bundle: Bundle) -> PolicyEngine {
    PolicyEngine::new(bundle, EngineConfig::default())
        .unwrap_or_else(|e| panic!("engine builds: {e}"))
}

/// Every broken kind of bundle, named.
fn broken_bundles() -> Vec<(&'static str, Bundle)> {
    vec![
        (
            "syntax error",
            bundle(
                "broken-syntax",
                &["police", "health"],
                &[(
                    "ingest.rego",
                    "package concord.ingest\ndecision := {\"allow\": true\n",
                )],
            ),
        ),
        (
            "failing test",
            bundle(
                "broken-test",
                &["police", "health"],
                &[(
                    "ingest_test.rego",
                    "package concord.ingest_test\nimport data.concord.ingest\ntest_allows_navy if {\n\tingest.decision.allow with input as {\"resource\": {\"sources\": [\"navy\"]}}\n}\n",
                )],
            ),
        ),
        (
            "unsupported builtin",
            bundle(
                "broken-builtin",
                &["police", "health"],
                &[(
                    "lib.rego",
                    "package concord.lib\nx := crypto.made_up_fn(\"a\") if input.never\n",
                )],
            ),
        ),
        (
            "invariant violation",
            bundle(
                "broken-invariant",
                &["police", "health"],
                &[(
                    "invariants.rego",
                    "package concord.invariants\nviolations contains \"retention of police is too short\" if data.retention.police.years < 7\n",
                )],
            ),
        ),
        (
            "conflicting data",
            bundle(
                "broken-data",
                &["police", "health"],
                &[(
                    "data/other.json",
                    r#"{"retention": {"police": {"years": 7}}}"#,
                )],
            ),
        ),
    ]
}

#[test]
fn broken_bundles_keep_the_last_good_one_serving() {
    let good = bundle("good-1", &["police"], &[]);
    let good_id = id(&good);
    let engine = engine(good);
    for (what, broken) in broken_bundles() {
        let err = engine.reload(broken).unwrap_err();
        let expected = match what {
            "syntax error" => matches!(err, PolicyError::Parse { .. }),
            "failing test" => matches!(err, PolicyError::TestsFailed { .. }),
            "unsupported builtin" => matches!(err, PolicyError::UnsupportedCall { .. }),
            "conflicting data" => matches!(err, PolicyError::Data { .. }),
            "invariant violation" => matches!(&err, PolicyError::Invariants { violations }
                if violations == &["retention of police is too short".to_owned()]),
            _ => false,
        };
        assert!(expected, "{what}: unexpected error {err}");

        // Still serving, and still deciding, with the good bundle.
        assert_eq!(engine.bundle_id(), good_id, "{what}");
        assert_eq!(engine.bundle_digest(), good_id.digest, "{what}");
        let allowed = engine.decide(&push("mps-cw", "police")).unwrap();
        assert!(allowed.allow, "{what}");
        assert_eq!(allowed.body.to_json()["revision"], "good-1", "{what}");
        assert_eq!(allowed.bundle_digest, good_id.digest, "{what}");
        let refused = engine.decide(&push("mps-cw", "health")).unwrap();
        assert_eq!(
            refused.reason.as_deref(),
            Some("refused by good-1"),
            "{what}"
        );
        assert!(engine.test_report().is_some_and(|r| r.passed()), "{what}");
    }
}

#[test]
fn a_good_bundle_swaps_and_the_same_one_again_changes_nothing() {
    let first = bundle("good-1", &["police"], &[]);
    let second = bundle("good-2", &["police", "health"], &[]);
    let (first_id, second_id) = (id(&first), id(&second));
    let engine = engine(first);
    assert!(
        !engine
            .decide(&push("chelwest-nhs", "health"))
            .unwrap()
            .allow
    );

    let outcome = engine.reload(second.clone()).unwrap();
    assert_eq!(
        outcome,
        ReloadOutcome::Swapped {
            from: first_id.clone(),
            to: second_id.clone()
        }
    );
    assert_eq!(engine.bundle_id(), second_id);
    assert_eq!(engine.bundle_revision(), "good-2");
    let decision = engine.decide(&push("chelwest-nhs", "health")).unwrap();
    assert!(decision.allow);
    assert_eq!(decision.bundle_digest, second_id.digest);
    assert_eq!(decision.bundle_revision, "good-2");

    assert_eq!(
        engine.reload(second).unwrap(),
        ReloadOutcome::Unchanged(second_id.clone())
    );
    // And back.
    assert_eq!(
        engine.reload(bundle("good-1", &["police"], &[])).unwrap(),
        ReloadOutcome::Swapped {
            from: second_id,
            to: first_id
        }
    );
    assert!(
        !engine
            .decide(&push("chelwest-nhs", "health"))
            .unwrap()
            .allow
    );
}

#[test]
fn decisions_during_reloads_never_fail_and_name_the_bundle_that_decided() {
    let one = bundle("good-1", &["police"], &[]);
    let two = bundle("good-2", &["police", "health"], &[]);
    let (one_digest, two_digest) = (one.digest().to_owned(), two.digest().to_owned());
    let engine = Arc::new(engine(one.clone()));
    let done = AtomicBool::new(false);
    let decided = AtomicUsize::new(0);
    let seen_two = AtomicBool::new(false);

    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while !done.load(Ordering::Acquire) {
                    let decision = engine
                        .decide(&push("chelwest-nhs", "health"))
                        .expect("a decision during a reload never fails");
                    // The answer and the digest come from one and the same
                    // bundle: good-1 refuses health, good-2 allows it.
                    if decision.bundle_digest == one_digest {
                        assert_eq!(decision.reason.as_deref(), Some("refused by good-1"));
                    } else {
                        assert_eq!(decision.bundle_digest, two_digest);
                        assert!(decision.allow);
                        assert_eq!(decision.body.to_json()["revision"], "good-2");
                        seen_two.store(true, Ordering::Relaxed);
                    }
                    decided.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Waits (without sleeping) until the deciders have made `n` more
        // decisions; at most three of them started before the call.
        let progress = |n: usize| {
            let target = decided.load(Ordering::Relaxed) + n;
            while decided.load(Ordering::Relaxed) < target {
                std::thread::yield_now();
            }
        };
        let broken = broken_bundles();
        for round in 0..6 {
            let next = if round % 2 == 0 {
                two.clone()
            } else {
                one.clone()
            };
            assert!(matches!(
                engine.reload(next).unwrap(),
                ReloadOutcome::Swapped { .. }
            ));
            progress(10);
            let (_, bad) = &broken[round % broken.len()];
            engine.reload(bad.clone()).unwrap_err();
            progress(10);
        }
        done.store(true, Ordering::Release);
    });
    assert!(decided.load(Ordering::Relaxed) >= 120);
    assert!(seen_two.load(Ordering::Relaxed));
    // Six swaps, ending on good-1.
    assert_eq!(engine.bundle_digest(), one_digest);
}

#[test]
fn the_repository_bundle_with_a_failing_policy_test_is_refused() {
    let repo = Bundle::load_dir(Path::new(REPO_POLICIES)).unwrap();
    let repo_id = id(&repo);
    let engine = engine(repo.clone());
    // The agreement changed (analysts thresholds) without its tests.
    let files = repo
        .files()
        .map(|(path, content)| {
            let content = if path == "data/agreements.json" {
                content.replacen("\"suppress_max\": 7", "\"suppress_max\": 3", 1)
            } else {
                content.to_owned()
            };
            (path.to_owned(), content)
        })
        .collect();
    let changed = Bundle::from_files(files).unwrap();
    assert_ne!(changed.digest(), repo_id.digest);
    let err = engine.reload(changed).unwrap_err();
    let PolicyError::TestsFailed { report } = &err else {
        panic!("expected failing tests, got {err}");
    };
    assert!(
        report
            .failed_names()
            .contains(&"concord.aggregate_test.test_analyst_thresholds".to_owned()),
        "{report}"
    );
    assert_eq!(engine.bundle_id(), repo_id);
}

#[test]
fn retention_periods_come_from_the_serving_bundle() {
    let repo = Bundle::load_dir(Path::new(REPO_POLICIES)).unwrap();
    let engine = engine(repo.clone());
    let periods = engine.retention_periods().unwrap();
    assert_eq!(periods.bundle, id(&repo));
    assert_eq!(periods.periods.len(), 8);
    assert_eq!(periods.periods["police"], RetentionPeriod::Years(6));
    assert_eq!(periods.periods["health"], RetentionPeriod::Years(8));
    assert_eq!(
        periods.periods["community_safety"],
        RetentionPeriod::Days(2190)
    );

    let small = bundle("good-1", &["police"], &[]);
    engine.reload(small.clone()).unwrap();
    let periods = engine.retention_periods().unwrap();
    assert_eq!(periods.bundle, id(&small));
    assert_eq!(
        periods.periods.into_iter().collect::<Vec<_>>(),
        vec![("police".to_owned(), RetentionPeriod::Years(6))]
    );

    // Malformed periods are an error, never a guess.
    engine
        .reload(bundle(
            "bad-retention",
            &["police"],
            &[(
                "data/retention.json",
                r#"{"retention": {"police": {"months": 6}}}"#,
            )],
        ))
        .unwrap();
    let err = engine.retention_periods().unwrap_err();
    assert!(matches!(err, PolicyError::InvalidDecision { .. }), "{err}");

    // A bundle without the rule has no retention at all.
    let without = Bundle::from_files(
        small
            .files()
            .filter(|(path, _)| !path.starts_with("retention") && !path.starts_with("data/"))
            .map(|(p, c)| (p.to_owned(), c.to_owned()))
            .collect(),
    )
    .unwrap();
    engine.reload(without).unwrap();
    let err = engine.retention_periods().unwrap_err();
    assert!(
        matches!(err, PolicyError::UndefinedDecision { ref rule } if rule == "data.concord.retention.periods"),
        "{err}"
    );
}
