//! Loading, testing and deciding with real and synthetic bundles.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use concord_policy::{
    Action, Bundle, EngineConfig, PolicyEngine, PolicyError, PolicyInput, Resource, Subject,
    run_tests,
};

const REPO_POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

/// The revision in `policies/.manifest`.
const REVISION: &str = "2026-12-02.3";

fn repo_bundle() -> Bundle {
    Bundle::load_dir(Path::new(REPO_POLICIES)).expect("repo policies load")
}

fn input(action: Action, org: &str, role: &str, sources: &[&str]) -> PolicyInput {
    PolicyInput {
        action,
        subject: Subject {
            org: org.to_owned(),
            role: role.to_owned(),
            user: format!("{org}-user"),
        },
        purpose: None,
        case_ref: None,
        reason: None,
        resource: Resource {
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            record_kinds: vec![],
            fields: vec![],
        },
        time: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap(),
    }
}

fn push(org: &str, sources: &[&str]) -> PolicyInput {
    input(Action::Ingest, org, "push_agent", sources)
}

const MANIFEST: (&str, &str) = (".manifest", r#"{"revision": "test-1"}"#);

/// A bundle from literal files, plus a manifest.
fn bundle(files: &[(&str, &str)]) -> Result<Bundle, PolicyError> {
    Bundle::from_files(
        std::iter::once(MANIFEST)
            .chain(files.iter().copied())
            .map(|(path, content)| (path.to_owned(), content.to_owned()))
            .collect(),
    )
}

fn engine(files: &[(&str, &str)]) -> Result<PolicyEngine, PolicyError> {
    PolicyEngine::new(bundle(files)?, EngineConfig::default())
}

#[test]
fn repo_policies_load_and_their_tests_pass() {
    let bundle = repo_bundle();
    assert_eq!(bundle.revision(), REVISION);
    let paths: Vec<&str> = bundle.files().map(|(path, _)| path).collect();
    assert!(paths.contains(&"ingest.rego"), "{paths:?}");
    assert!(paths.contains(&"ingest_test.rego"), "{paths:?}");
    assert!(paths.contains(&"data/partnership.json"), "{paths:?}");
    assert!(
        !paths.contains(&"README.md"),
        "README is not part of the bundle"
    );

    let report = run_tests(&bundle).expect("tests run");
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(report.results.len() >= 100, "{report}");
    assert!(
        report
            .results
            .iter()
            .all(|r| r.package.ends_with("_test") && r.name.starts_with("test_"))
    );
    let summary = report.to_string();
    assert!(
        summary.ends_with(&format!("{} passed, 0 failed", report.results.len())),
        "{summary}"
    );
    let ingest = report
        .coverage
        .iter()
        .find(|c| c.path == "ingest.rego")
        .expect("coverage of ingest.rego");
    assert!(ingest.covered > 0, "{ingest:?}");
    // Every package of tests runs, and the agreement's policies are
    // covered line for line.
    for package in [
        "concord.ingest_test",
        "concord.lookup_test",
        "concord.aggregate_test",
        "concord.audit_read_test",
        "concord.retention_test",
        "concord.invariants_test",
        "concord.agreements_test",
    ] {
        assert!(
            report.results.iter().any(|r| r.package == package),
            "no tests of {package}"
        );
    }
    for path in [
        "lookup.rego",
        "aggregate.rego",
        "audit_read.rego",
        "retention.rego",
        "invariants.rego",
    ] {
        let file = report
            .coverage
            .iter()
            .find(|c| c.path == path)
            .unwrap_or_else(|| panic!("coverage of {path}"));
        assert!(
            file.covered > 0 && file.not_covered == 0,
            "{path} is not fully covered by the policy tests: {file:?}"
        );
    }

    let engine = PolicyEngine::new(bundle, EngineConfig::default()).expect("engine builds");
    assert!(engine.test_report().is_some_and(|r| r.passed()));
    assert!(engine.defines(Action::Ingest));
}

#[test]
fn police_may_push_police_but_not_health() {
    let bundle = repo_bundle();
    let digest = bundle.digest().to_owned();
    let engine = PolicyEngine::new(bundle, EngineConfig::default()).unwrap();
    assert_eq!(engine.bundle_digest(), digest);
    assert_eq!(engine.bundle_revision(), REVISION);

    let allowed = engine.decide(&push("mps-cw", &["police"])).unwrap();
    assert!(allowed.allow, "{allowed:?}");
    assert_eq!(allowed.reason, None);
    assert_eq!(allowed.bundle_digest, digest);
    assert_eq!(allowed.bundle_revision, REVISION);
    assert_eq!(allowed.body.to_json(), serde_json::json!({"allow": true}));

    let refused = engine.decide(&push("mps-cw", &["health"])).unwrap();
    assert!(!refused.allow);
    assert_eq!(
        refused.reason.as_deref(),
        Some("organisation mps-cw may not push source health")
    );
    assert_eq!(refused.bundle_digest, digest);

    // Pooled engines carry no state between decisions.
    for _ in 0..3 {
        assert!(
            engine
                .decide(&push("chelwest-nhs", &["health"]))
                .unwrap()
                .allow
        );
        assert!(!engine.decide(&push("mps-cw", &["health"])).unwrap().allow);
    }
    let officer = engine
        .decide(&input(
            Action::Ingest,
            "rbkc-childrens",
            "mash_officer",
            &["childrens_services"],
        ))
        .unwrap();
    assert_eq!(
        officer.reason.as_deref(),
        Some("role mash_officer may not push")
    );
}

#[test]
fn actions_without_a_decision_rule_fail_closed() {
    let engine = engine(&[(
        "ingest.rego",
        "package concord.ingest\ndecision := {\"allow\": true}\n",
    )])
    .unwrap();
    assert!(!engine.defines(Action::AuditRead));
    let err = engine
        .decide(&input(
            Action::AuditRead,
            "rbkc-information-governance",
            "dpo",
            &[],
        ))
        .unwrap_err();
    assert!(
        matches!(err, PolicyError::UndefinedDecision { ref rule } if rule == "data.concord.audit_read.decision"),
        "{err}"
    );
}

#[test]
fn decision_undefined_for_the_input_is_an_error() {
    let engine = engine(&[(
        "ingest.rego",
        "package concord.ingest\ndecision := {\"allow\": true} if input.subject.org == \"nobody\"\n",
    )])
    .unwrap();
    assert!(engine.defines(Action::Ingest));
    let err = engine.decide(&push("mps-cw", &["police"])).unwrap_err();
    assert!(
        matches!(err, PolicyError::UndefinedDecision { .. }),
        "{err}"
    );
}

#[test]
fn malformed_decisions_are_errors() {
    for (body, problem) in [
        (
            r#"decision := {"allow": "yes"}"#,
            "`allow` is not a boolean",
        ),
        (
            r#"decision := {"reason": "no allow"}"#,
            "`allow` is missing",
        ),
        (r#"decision := true"#, "it is not an object"),
        (
            r#"decision := {"allow": false}"#,
            "a refusal has no `reason`",
        ),
        (
            r#"decision := {"allow": false, "reason": 7}"#,
            "`reason` is not a string",
        ),
    ] {
        let engine =
            engine(&[("ingest.rego", &format!("package concord.ingest\n{body}\n"))]).unwrap();
        let err = engine.decide(&push("mps-cw", &["police"])).unwrap_err();
        assert!(
            matches!(err, PolicyError::InvalidDecision { problem: ref p, .. } if p == problem),
            "{body}: {err}"
        );
    }
}

#[test]
fn extra_decision_keys_pass_through() {
    let engine = engine(&[(
        "lookup.rego",
        "package concord.lookup\ndecision := {\"allow\": true, \"fields\": {\"police\": [\"dob\"]}, \"obligations\": [\"notify_owner\"]}\n",
    )])
    .unwrap();
    let decision = engine
        .decide(&input(
            Action::Lookup,
            "rbkc-childrens",
            "mash_officer",
            &["police"],
        ))
        .unwrap();
    assert!(decision.allow);
    assert_eq!(decision.body.to_json()["fields"]["police"][0], "dob");
    assert_eq!(decision.body.to_json()["obligations"][0], "notify_owner");
}

#[test]
fn evaluation_errors_are_errors() {
    let engine = engine(&[(
        "ingest.rego",
        "package concord.ingest\ndecision := {\"allow\": to_number(input.subject.org) > 1}\n",
    )])
    .unwrap();
    let err = engine.decide(&push("mps-cw", &["police"])).unwrap_err();
    assert!(matches!(err, PolicyError::Evaluation { .. }), "{err}");
}

#[test]
fn syntax_error_is_a_load_error_naming_the_file() {
    let err = engine(&[(
        "broken.rego",
        "package concord.ingest\ndecision := {\"allow\": true\n",
    )])
    .unwrap_err();
    assert!(
        matches!(err, PolicyError::Parse { ref file, .. } if file == "broken.rego"),
        "{err}"
    );
    assert!(err.to_string().contains("broken.rego"), "{err}");

    // Rego v0 syntax is refused too.
    let err = engine(&[("old.rego", "package concord.ingest\nallow { true }\n")]).unwrap_err();
    assert!(
        matches!(err, PolicyError::Parse { ref file, .. } if file == "old.rego"),
        "{err}"
    );
}

#[test]
fn unknown_builtin_is_a_load_error() {
    // In a branch no decision ever reaches: still refused at load.
    let err = engine(&[(
        "ingest.rego",
        "package concord.ingest\ndecision := {\"allow\": false, \"reason\": \"x\"}\nhidden if {\n\tinput.never == 1\n\tx := crypto.made_up_fn(\"a\")\n\tx == 1\n}\n",
    )])
    .unwrap_err();
    match &err {
        PolicyError::UnsupportedCall {
            file,
            line,
            function,
            ..
        } => {
            assert_eq!(file, "ingest.rego");
            assert_eq!(*line, 5);
            assert_eq!(function, "crypto.made_up_fn");
        }
        other => panic!("expected UnsupportedCall, got {other}"),
    }
    assert!(err.to_string().contains("crypto.made_up_fn"), "{err}");

    // The brief's example form.
    let err = engine(&[(
        "ingest.rego",
        "package concord.ingest\nx := crypto.made_up_fn(\"a\")\ndecision := {\"allow\": true}\n",
    )])
    .unwrap_err();
    assert!(matches!(err, PolicyError::UnsupportedCall { .. }), "{err}");

    // Wrong arity of a real builtin.
    let err = engine(&[(
        "ingest.rego",
        "package concord.ingest\nn := count([1], [2], [3])\ndecision := {\"allow\": true}\n",
    )])
    .unwrap_err();
    assert!(
        matches!(err, PolicyError::UnsupportedCall { ref function, .. } if function == "count"),
        "{err}"
    );

    // Unknown function called through a package path.
    let err = engine(&[(
        "ingest.rego",
        "package concord.ingest\nimport data.lib\nx := lib.nope(1)\ndecision := {\"allow\": true}\n",
    )])
    .unwrap_err();
    assert!(
        matches!(err, PolicyError::UnsupportedCall { ref function, .. } if function == "data.lib.nope"),
        "{err}"
    );
}

#[test]
fn bundle_functions_and_builtins_are_accepted() {
    let engine = engine(&[
        (
            "lib/util.rego",
            "package lib\nshout(s) := upper(s)\ndefault pick(_) := \"none\"\npick(x) := x if x == \"a\"\n",
        ),
        (
            "ingest.rego",
            "package concord.ingest\nimport data.lib\nimport data.lib as l2\nlocal(x) := concat(\"-\", [x, x])\ndecision := {\"allow\": true, \"a\": lib.shout(\"x\"), \"b\": data.lib.pick(\"a\"), \"c\": local(\"y\"), \"d\": l2.shout(sprintf(\"%d\", [count([1])]))}\n",
        ),
    ])
    .unwrap();
    let decision = engine.decide(&push("mps-cw", &["police"])).unwrap();
    assert_eq!(
        decision.body.to_json(),
        serde_json::json!({"allow": true, "a": "X", "b": "a", "c": "y-y", "d": "1"})
    );
}

#[test]
fn failing_tests_reject_the_bundle_on_load() {
    let files = [
        (
            "ingest.rego",
            "package concord.ingest\ndecision := {\"allow\": true}\n",
        ),
        (
            "ingest_test.rego",
            "package concord.ingest_test\nimport data.concord.ingest\ntest_refuses if {\n\tingest.decision.allow == false\n}\ntest_allows if {\n\tingest.decision.allow == true\n}\n",
        ),
    ];
    let err = engine(&files).unwrap_err();
    let PolicyError::TestsFailed { report } = &err else {
        panic!("expected TestsFailed, got {err}");
    };
    assert_eq!(report.failed_names(), ["concord.ingest_test.test_refuses"]);
    assert!(
        report.to_string().ends_with("1 passed, 1 failed"),
        "{report}"
    );
    assert!(err.to_string().contains("test_refuses"), "{err}");

    // Without tests on load the same bundle is accepted.
    let engine = PolicyEngine::new(
        bundle(&files).unwrap(),
        EngineConfig {
            run_tests_on_load: false,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    assert!(engine.test_report().is_none());
}

#[test]
fn test_errors_and_unknown_functions_in_tests() {
    let report = run_tests(
        &bundle(&[(
            "x_test.rego",
            "package x_test\ntest_type_error if {\n\tto_number(\"abc\") == 1\n}\ntest_undefined if {\n\tinput.nope == 1\n}\ntest_non_bool := 3\n",
        )])
        .unwrap(),
    )
    .unwrap();
    assert_eq!(report.results.len(), 3);
    assert!(
        report
            .results
            .iter()
            .all(|r| !r.passed && r.error.is_some())
    );

    let err = run_tests(
        &bundle(&[(
            "x_test.rego",
            "package x_test\ntest_x if {\n\tcrypto.made_up_fn(\"a\")\n}\n",
        )])
        .unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(err, PolicyError::UnsupportedCall { ref file, .. } if file == "x_test.rego"),
        "{err}"
    );
}

#[test]
fn bad_data_is_a_load_error_naming_the_file() {
    let policy = (
        "ingest.rego",
        "package concord.ingest\ndecision := {\"allow\": true}\n",
    );
    let err = engine(&[policy, ("data/a.json", "[1, 2]")]).unwrap_err();
    assert!(
        matches!(err, PolicyError::Data { ref file, .. } if file == "data/a.json"),
        "{err}"
    );
    let err = engine(&[policy, ("data/a.json", "{not json")]).unwrap_err();
    assert!(
        matches!(err, PolicyError::Data { ref file, .. } if file == "data/a.json"),
        "{err}"
    );
    let err = engine(&[
        policy,
        ("data/a.json", r#"{"x": {"y": 1}}"#),
        ("data/b.json", r#"{"x": {"y": 2}}"#),
    ])
    .unwrap_err();
    assert!(
        matches!(err, PolicyError::Data { ref file, .. } if file == "data/b.json"),
        "{err}"
    );

    // Disjoint files merge at the data root.
    let engine = engine(&[
        (
            "ingest.rego",
            "package concord.ingest\ndecision := {\"allow\": data.x.y == 1, \"z\": data.x.z, \"reason\": \"r\"}\n",
        ),
        ("data/a.json", r#"{"x": {"y": 1}}"#),
        ("data/sub/b.json", r#"{"x": {"z": 2}}"#),
    ])
    .unwrap();
    let decision = engine.decide(&push("mps-cw", &["police"])).unwrap();
    assert!(decision.allow);
    assert_eq!(decision.body.to_json()["z"], 2);
}

#[test]
fn digest_is_stable_and_changes_with_any_file() {
    let files = [
        (
            "ingest.rego",
            "package concord.ingest\ndecision := {\"allow\": true}\n",
        ),
        (
            "ingest_test.rego",
            "package concord.ingest_test\ntest_t := true\n",
        ),
        ("data/a.json", r#"{"a": 1}"#),
    ];
    let base = bundle(&files).unwrap();
    assert_eq!(base.digest().len(), 64);
    assert_eq!(bundle(&files).unwrap().digest(), base.digest());

    // Order of the input list does not matter.
    let mut reversed = files;
    reversed.reverse();
    assert_eq!(bundle(&reversed).unwrap().digest(), base.digest());

    // Files outside the layout do not count.
    let mut with_readme = files.to_vec();
    with_readme.push(("README.md", "# notes"));
    assert_eq!(bundle(&with_readme).unwrap().digest(), base.digest());

    for index in 0..files.len() {
        let mut changed = files;
        let content = format!("{}\n", changed[index].1);
        changed[index].1 = &content;
        assert_ne!(
            bundle(&changed).unwrap().digest(),
            base.digest(),
            "changing {} must change the digest",
            files[index].0
        );
    }
    let mut renamed = files;
    renamed[0].0 = "ingest2.rego";
    assert_ne!(bundle(&renamed).unwrap().digest(), base.digest());

    let other_manifest = Bundle::from_files(
        std::iter::once((".manifest", r#"{"revision": "test-2"}"#))
            .chain(files)
            .map(|(p, c)| (p.to_owned(), c.to_owned()))
            .collect(),
    )
    .unwrap();
    assert_ne!(other_manifest.digest(), base.digest());
}

#[test]
fn load_dir_matches_from_files_and_ignores_non_bundle_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".manifest"), MANIFEST.1).unwrap();
    std::fs::write(
        root.join("ingest.rego"),
        "package concord.ingest\ndecision := {\"allow\": true}\n",
    )
    .unwrap();
    std::fs::write(root.join("data/a.json"), r#"{"a": 1}"#).unwrap();
    std::fs::write(root.join("README.md"), "notes").unwrap();
    std::fs::write(root.join(".git/x.rego"), "not rego").unwrap();
    std::fs::write(root.join("data/image.png"), [0xff_u8, 0xd8, 0x00]).unwrap();

    let loaded = Bundle::load_dir(root).unwrap();
    let built = bundle(&[
        (
            "ingest.rego",
            "package concord.ingest\ndecision := {\"allow\": true}\n",
        ),
        ("data/a.json", r#"{"a": 1}"#),
    ])
    .unwrap();
    assert_eq!(loaded.digest(), built.digest());
    assert_eq!(loaded.files().count(), 3);

    let err = Bundle::load_dir(&root.join("missing")).unwrap_err();
    assert!(matches!(err, PolicyError::Io { .. }), "{err}");
}

#[test]
fn zero_timeout_is_refused() {
    let err = PolicyEngine::new(
        repo_bundle(),
        EngineConfig {
            eval_timeout: Duration::ZERO,
            ..EngineConfig::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, PolicyError::InvalidConfig { .. }), "{err}");
}

/// A policy that takes far longer than 50 ms, in many small steps: three
/// nested loops over 100 numbers (a million steps).
fn slow_policy() -> String {
    let xs: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    format!(
        "package concord.ingest\n\
         xs := [{}]\n\
         decision := {{\"allow\": false, \"reason\": sprintf(\"%d\", [n])}} if {{\n\
         \tn := count([1 | some a in xs; some b in xs; some c in xs; a != b; b != c])\n\
         }}\n",
        xs.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_policy_times_out() {
    let engine = Arc::new(
        PolicyEngine::new(
            bundle(&[("ingest.rego", &slow_policy())]).unwrap(),
            EngineConfig {
                eval_timeout: Duration::from_millis(50),
                run_tests_on_load: false,
            },
        )
        .unwrap(),
    );
    let started = std::time::Instant::now();
    let err = engine.decide(&push("mps-cw", &["police"])).unwrap_err();
    assert!(
        matches!(err, PolicyError::Timeout { ref rule, limit }
            if rule == "data.concord.ingest.decision" && limit == Duration::from_millis(50)),
        "{err}"
    );
    // Stopped near its budget, not after the million steps.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Again, on a fresh engine (the one that timed out was dropped, not
    // pooled).
    let err = engine.decide(&push("mps-cw", &["police"])).unwrap_err();
    assert!(matches!(err, PolicyError::Timeout { .. }), "{err}");
}

#[test]
fn builtins_whose_one_call_can_run_long_are_refused_at_load() {
    for call in [
        "numbers.range(1, 100000000)",
        "numbers.range_step(1, 100000000, 1)",
    ] {
        let policy =
            format!("package concord.ingest\ndecision := {{\"allow\": count({call}) > 0}}\n");
        let err = engine(&[("ingest.rego", &policy)]).unwrap_err();
        assert!(
            matches!(err, PolicyError::UnsupportedCall { ref function, ref problem, .. }
                if call.starts_with(function.as_str()) && problem.contains("iterate over data")),
            "{call}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_decides_on_a_runtime_worker() {
    let engine = Arc::new(PolicyEngine::new(repo_bundle(), EngineConfig::default()).unwrap());
    let decision = engine.decide(&push("mps-cw", &["police"])).unwrap();
    assert!(decision.allow);
    assert_eq!(decision.bundle_digest, engine.bundle_digest());
}

/// A lookup input as the lookup service builds it: all eight sources.
fn lookup(role: &str, purpose: &str, case_ref: &str, reason: Option<&str>) -> PolicyInput {
    let mut input = input(
        Action::Lookup,
        "rbkc-childrens",
        role,
        &[
            "police",
            "health",
            "probation",
            "youth_justice",
            "childrens_services",
            "adult_social_care",
            "housing",
            "community_safety",
        ],
    );
    input.purpose = Some(purpose.to_owned());
    input.case_ref = Some(case_ref.to_owned());
    input.reason = reason.map(str::to_owned);
    input
}

#[test]
fn repo_lookup_decisions_have_the_contract_shape() {
    let engine = PolicyEngine::new(repo_bundle(), EngineConfig::default()).unwrap();
    assert!(engine.defines(Action::Lookup));
    let decision = engine
        .decide(&lookup(
            "mash_officer",
            "safeguarding_children",
            "MASH-2026-0042",
            None,
        ))
        .unwrap();
    assert!(decision.allow, "{decision:?}");
    let body = &decision.body.to_json();
    assert_eq!(body["agreement"], "skc-isa-2026-mash");
    assert!(
        body["lawful_basis"]
            .as_str()
            .unwrap()
            .contains("Children Act 2004 s.11")
    );
    assert_eq!(body["flag_for_review"], false);
    assert_eq!(
        body["obligations"],
        serde_json::json!(["notify_data_owner", "record_on_case_file"])
    );
    let sources = body["sources"].as_object().unwrap();
    assert_eq!(sources.len(), 8);
    assert!(
        sources["police"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("category"))
    );
    let withheld = body["withheld"].as_array().unwrap();
    assert!(
        withheld
            .iter()
            .all(|w| w["source"].is_string() && w["fields"].is_array() && w["reason"].is_string())
    );
    assert!(withheld.iter().any(|w| w["source"] == "police"
        && w["fields"] == serde_json::json!(["event_hour", "lsoa_code"])));

    // MARAC: health withheld whole, citing s.16(4).
    let marac = engine
        .decide(&lookup("mash_manager", "marac", "MARAC-2026-0042", None))
        .unwrap();
    assert!(marac.allow);
    let marac = marac.body.to_json();
    assert!(marac["sources"].get("health").is_none());
    let health = marac["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["source"] == "health")
        .expect("health withheld");
    assert_eq!(health["fields"], serde_json::json!([]));
    assert!(health["reason"].as_str().unwrap().contains("s.16(4)"));

    // Break-glass: the reason travels in the input and the answer is
    // flagged for review; without it, refused.
    let emergency = engine
        .decide(&lookup(
            "mash_officer",
            "emergency",
            "EMG-2026-0001",
            Some("child missing overnight, immediate risk"),
        ))
        .unwrap();
    assert!(emergency.allow);
    assert_eq!(emergency.body.to_json()["flag_for_review"], true);
    let refused = engine
        .decide(&lookup("mash_officer", "emergency", "EMG-2026-0001", None))
        .unwrap();
    assert!(!refused.allow);
    assert_eq!(
        refused.reason.as_deref(),
        Some("purpose emergency (break-glass) needs a written reason of at least 10 characters")
    );

    // Serious violence analysis is aggregate only.
    let svd = engine
        .decide(&lookup(
            "mash_officer",
            "serious_violence_analysis",
            "MASH-2026-0042",
            None,
        ))
        .unwrap();
    assert_eq!(
        svd.reason.as_deref(),
        Some("purpose serious_violence_analysis is aggregate only: lookups are refused")
    );
}

#[test]
fn repo_aggregate_and_audit_read_decisions() {
    let engine = PolicyEngine::new(repo_bundle(), EngineConfig::default()).unwrap();
    let analyst = engine
        .decide(&input(
            Action::Aggregate,
            "rbkc-community-safety",
            "analyst",
            &[],
        ))
        .unwrap();
    assert!(analyst.allow);
    assert_eq!(analyst.body.to_json()["suppress_max"], 7);
    assert_eq!(analyst.body.to_json()["rounding_base"], 5);
    assert_eq!(analyst.body.to_json()["agreement"], "skc-isa-2026-svd");
    let board = engine
        .decide(&input(Action::Aggregate, "skc-board", "board_member", &[]))
        .unwrap();
    assert_eq!(board.body.to_json()["suppress_max"], 9);
    let officer = engine
        .decide(&input(
            Action::Aggregate,
            "rbkc-childrens",
            "mash_officer",
            &[],
        ))
        .unwrap();
    assert!(!officer.allow);

    let dpo = engine
        .decide(&input(
            Action::AuditRead,
            "rbkc-information-governance",
            "dpo",
            &[],
        ))
        .unwrap();
    assert_eq!(dpo.body.to_json(), serde_json::json!({"allow": true}));
    let manager = engine
        .decide(&input(
            Action::AuditRead,
            "rbkc-childrens",
            "mash_manager",
            &[],
        ))
        .unwrap();
    assert!(!manager.allow);
}

#[test]
fn data_that_breaks_the_agreements_invariants_is_refused_even_without_tests() {
    // Health and social care sources opened to MARAC: the data now lets a
    // purpose that is not safeguarding see them.
    let files = repo_bundle()
        .files()
        .map(|(path, content)| {
            let content = if path == "data/agreements.json" {
                let mut doc: serde_json::Value = serde_json::from_str(content).unwrap();
                doc["agreements"]["purposes"]["marac"]["source_classes"] =
                    serde_json::json!(["other", "health_or_care"]);
                doc.to_string()
            } else {
                content.to_owned()
            };
            (path.to_owned(), content)
        })
        .collect();
    let bundle = Bundle::from_files(files).unwrap();
    let config = EngineConfig {
        run_tests_on_load: false,
        ..EngineConfig::default()
    };
    let err = PolicyEngine::new(bundle, config).unwrap_err();
    let PolicyError::Invariants { violations } = &err else {
        panic!("expected invariant violations, got {err}");
    };
    assert_eq!(
        violations,
        &["purpose marac may see health and social care data but is not a safeguarding purpose (PCSC Act 2022 s.16(4))".to_owned()]
    );
    assert!(err.to_string().contains("1 invariant(s)"), "{err}");
}
