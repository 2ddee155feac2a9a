//! Policy hot reload end to end, against SQLite and PostgreSQL: after a
//! reload that is refused (a failing policy test, a syntax error) pushes
//! over mTLS are still decided by the bundle that was serving, and after a
//! good reload by the new one; each receipt names the bundle that decided.

use std::sync::Arc;

use concord_client::{Extract, push_extract};
use concord_core::KeyName;
use concord_e2e::bytes;
use concord_e2e::{TestBroker, both_stores, repo_root};
use concord_policy::{Bundle, PolicyEngine, PolicyError, ReloadOutcome};
use concord_proto::v1;
use tonic::Code;

/// Reloads `bundle` off the runtime's workers, as `concord serve`'s
/// watcher does.
async fn reload(policy: &Arc<PolicyEngine>, bundle: Bundle) -> Result<ReloadOutcome, PolicyError> {
    let policy = Arc::clone(policy);
    tokio::task::spawn_blocking(move || policy.reload(bundle))
        .await
        .expect("the reload ran to the end")
}

/// One synthetic record of person `i` on `date`.
fn record(tb: &TestBroker, i: u32, date: &str) -> v1::Record {
    v1::Record {
        source_ref: bytes("ref", i),
        kind: v1::RecordKind::Crime as i32,
        role: v1::PersonRole::Victim as i32,
        event_date: date.into(),
        event_date_precision: v1::DatePrecision::Day as i32,
        ward_code: "E05009391".into(),
        category: v1::ViolenceCategory::Gbh as i32,
        tokens: vec![v1::MatchKeyToken {
            key_name: KeyName::SnDob.as_str().into(),
            key_id: tb.linkage_key_id.clone(),
            token: bytes("sn_dob", i),
        }],
        ..Default::default()
    }
}

/// A one-record October delta extract of `source`.
fn extract(tb: &TestBroker, id: &str, source: v1::Source, i: u32) -> Extract {
    let header = v1::ExtractHeader {
        extract_id: id.into(),
        source: source as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Delta as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    };
    Extract::new(header, vec![record(tb, i, "2026-10-15")], vec![], 10)
}

/// The repository's bundle with `path` edited by `edit`.
fn repo_bundle_with(path: &str, edit: impl Fn(&str) -> String) -> Bundle {
    let repo = Bundle::load_dir(&repo_root().join("policies")).expect("repo bundle");
    let files = repo
        .files()
        .map(|(p, content)| {
            let content = if p == path {
                edit(content)
            } else {
                content.to_owned()
            };
            (p.to_owned(), content)
        })
        .collect();
    Bundle::from_files(files).expect("bundle")
}

both_stores!(
    a_refused_reload_leaves_ingest_decided_by_the_old_bundle,
    |db| async move {
        let tb = TestBroker::start(db).await;
        let policy = tb.broker.policy.clone();
        let serving = policy.bundle_id();

        // Would let the police push health records, but its own test says
        // otherwise; and one that does not parse.
        let permissive = repo_bundle_with("ingest.rego", |text| {
            text.replacen(
                "\t\tsource in organisation.pushes\n",
                "\t\tis_string(source)\n",
                1,
            )
        });
        let syntax = repo_bundle_with("ingest.rego", |text| format!("{text}\ndecision := {{\n"));
        for (what, broken) in [("failing test", permissive), ("syntax error", syntax)] {
            assert_ne!(broken.digest(), serving.digest, "{what}");
            let err = reload(&policy, broken).await.unwrap_err();
            assert!(
                matches!(
                    (what, &err),
                    ("failing test", PolicyError::TestsFailed { .. })
                        | ("syntax error", PolicyError::Parse { .. })
                ),
                "{what}: {err}"
            );
            assert_eq!(policy.bundle_id(), serving, "{what}");
        }

        // Over gRPC, the old bundle still decides: health from the police
        // is refused, police from the police accepted under its digest.
        let channel = tb.channel("mps-cw-push").await;
        let refused = push_extract(
            channel.clone(),
            extract(&tb, "health-1", v1::Source::Health, 1),
        )
        .await
        .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
        assert!(
            refused
                .message()
                .contains("organisation mps-cw may not push source health"),
            "{}",
            refused.message()
        );
        let receipt = push_extract(
            channel.clone(),
            extract(&tb, "police-1", v1::Source::Police, 2),
        )
        .await
        .expect("police push")
        .into_inner();
        assert_eq!(receipt.policy_digest, serving.digest);
        assert_eq!(receipt.policy_revision, serving.revision);

        // A good bundle swaps in, and the next push is decided by it.
        let next = repo_bundle_with(".manifest", |_| {
            r#"{"revision": "e2e-reloaded"}"#.to_owned()
        });
        let next_digest = next.digest().to_owned();
        let outcome = reload(&policy, next).await.expect("good reload");
        assert!(
            matches!(&outcome, ReloadOutcome::Swapped { from, to }
                if *from == serving && to.revision == "e2e-reloaded" && to.digest == next_digest),
            "{outcome:?}"
        );
        let receipt = push_extract(channel, extract(&tb, "police-2", v1::Source::Police, 3))
            .await
            .expect("police push after reload")
            .into_inner();
        assert_eq!(receipt.policy_digest, next_digest);
        assert_eq!(receipt.policy_revision, "e2e-reloaded");
        assert_eq!(tb.store.count_records(None).await.unwrap(), 2);
        tb.stop().await;
    }
);
