//! `concord review` through the built binary, against a real broker on
//! both stores: a MASH manager lists a possible pair (its probability and
//! how each field compared, in words), shows it, keeps it apart, and the
//! pair is gone from the queue; a MASH officer is refused, saying why.

mod common;

use std::path::Path;

use common::{concord, run};
use concord_client::{Extract, push_extract};
use concord_core::KeyName;
use concord_e2e::{Db, TestBroker, both_stores};
use concord_proto::v1;

fn token(tb: &TestBroker, name: KeyName, value: &str) -> v1::MatchKeyToken {
    // A stand-in for the agency's HMAC: distinct values give distinct tokens.
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(name.as_str().as_bytes());
    ctx.update(value.as_bytes());
    v1::MatchKeyToken {
        key_name: name.as_str().into(),
        key_id: tb.linkage_key_id.clone(),
        token: ctx.finish().as_ref().to_vec(),
    }
}

/// AMY and AMELIA OKAFOR, one date of birth and postcode: they agree on
/// everything but the forename, which shares its initial only (the twins
/// pattern the linker holds for review, as in tests/linkage.rs).
fn record(tb: &TestBroker, reference: &str, kind: v1::RecordKind, fore: &str) -> v1::Record {
    let (sur, dob, pc) = ("OKAFOR", "2009-03-14", "W10 5AB");
    let initial = &fore[..1];
    let mut tokens = vec![
        token(tb, KeyName::SnDob, &format!("{sur}|{dob}")),
        token(tb, KeyName::SnPc, &format!("{sur}|{pc}")),
        token(tb, KeyName::DobPc, &format!("{dob}|{pc}")),
        token(tb, KeyName::FnDob, &format!("{fore}|{dob}")),
        token(tb, KeyName::FnSn, &format!("{fore}|{sur}")),
        token(tb, KeyName::FiDob, &format!("{initial}|{dob}")),
    ];
    tokens.sort_by(|a, b| a.key_name.cmp(&b.key_name));
    v1::Record {
        source_ref: ring::digest::digest(&ring::digest::SHA256, reference.as_bytes())
            .as_ref()
            .to_vec(),
        kind: kind as i32,
        event_date: "2026-10-10".into(),
        tokens,
        ..Default::default()
    }
}

async fn push(tb: &TestBroker, user: &str, id: &str, source: v1::Source, r: v1::Record) {
    let header = v1::ExtractHeader {
        extract_id: id.into(),
        source: source as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    };
    push_extract(
        tb.channel(user).await,
        Extract::new(header, vec![r], vec![], 10),
    )
    .await
    .expect("accepted");
}

fn review(tb: &TestBroker, dir: &Path, user: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = concord(dir);
    cmd.arg("review")
        .args(args)
        .arg("--broker")
        .arg(format!("https://localhost:{}", tb.addr.port()))
        .arg("--pki")
        .arg(tb.pki.ca_cert.parent().expect("the PKI directory"))
        .args(["--user", user]);
    let (out, stdout, stderr) = run(&mut cmd);
    (out.status.success(), stdout, stderr)
}

both_stores!(
    a_manager_works_the_queue_from_the_command_line,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        push(
            &tb,
            "mps-cw-push",
            "p-1",
            v1::Source::Police,
            record(&tb, "p-1", v1::RecordKind::Crime, "AMY"),
        )
        .await;
        push(
            &tb,
            "rbkc-childrens-push",
            "c-1",
            v1::Source::ChildrensServices,
            record(&tb, "c-1", v1::RecordKind::Referral, "AMELIA"),
        )
        .await;
        tb.wait_linked(2).await;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();

        let (ok, _, stderr) = review(&tb, dir, "mash-officer-1", &["list"]);
        assert!(!ok);
        assert!(stderr.contains("PermissionDenied"), "{stderr}");
        assert!(
            stderr.contains("only the partnership's link reviewers"),
            "{stderr}"
        );

        let (ok, stdout, stderr) = review(&tb, dir, "mash-manager-1", &["list"]);
        assert!(ok, "{stdout}{stderr}");
        assert!(
            stdout.starts_with("1 possible match is waiting for a decision"),
            "{stdout}"
        );
        let id: String = stdout
            .lines()
            .find_map(|l| l.strip_prefix("review "))
            .and_then(|l| l.split(':').next())
            .expect("a review line")
            .to_owned();
        for shown in [
            "match probability  ",
            "record             Children's services, Referral, 2026-10-10",
            "candidate person   known to Police",
            "forename         the same initial, nothing closer",
            "surname          the same",
            "date of birth    the same",
            "postcode         the same",
        ] {
            assert!(stdout.contains(shown), "{shown}: {stdout}");
        }
        assert!(stdout.contains('%'), "{stdout}");

        let (ok, shown, stderr) = review(&tb, dir, "mash-manager-1", &["show", &id]);
        assert!(ok, "{stderr}");
        assert!(
            shown.starts_with(&format!("review {id}: waiting for a decision")),
            "{shown}"
        );

        let (ok, stdout, stderr) = review(
            &tb,
            dir,
            "mash-manager-1",
            &["resolve", &id, "--keep-apart"],
        );
        assert!(ok, "{stdout}{stderr}");
        assert!(stdout.contains("kept apart"), "{stdout}");
        assert!(stdout.contains("kept apart by mash-manager-1"), "{stdout}");
        assert!(
            stdout.contains("recorded in the broker's audit log"),
            "{stdout}"
        );

        // Decided once: never offered again, and a second decision is refused.
        let (ok, stdout, _) = review(&tb, dir, "mash-manager-1", &["list"]);
        assert!(ok);
        assert!(
            stdout.starts_with("no possible matches are waiting"),
            "{stdout}"
        );
        let (ok, _, stderr) = review(&tb, dir, "mash-manager-1", &["resolve", &id, "--link"]);
        assert!(!ok);
        assert!(stderr.contains("NotFound"), "{stderr}");
        let (ok, _, stderr) = review(&tb, dir, "mash-manager-1", &["resolve", &id]);
        assert!(!ok, "a decision is required");
        assert!(
            stderr.contains("--link") && stderr.contains("--keep-apart"),
            "{stderr}"
        );
        let (ok, stdout, _) = review(&tb, dir, "mash-manager-1", &["list", "--all"]);
        assert!(ok);
        assert!(
            stdout.starts_with("1 review(s): 0 waiting for a decision, 1 decided"),
            "{stdout}"
        );

        // Every listing and decision is in the audit log, the refusal too.
        let events = tb.store.audit_events(0, 1_000).await.unwrap();
        let reviews: Vec<(String, bool)> = events
            .iter()
            .map(|e| concord_audit::AuditEvent::decode(&e.event).unwrap())
            .filter(|e| e.action == concord_audit::Action::LinkReview)
            .map(|e| (e.user, e.decision.is_allow()))
            .collect();
        assert_eq!(reviews.len(), 7, "{reviews:?}");
        assert_eq!(reviews[0], ("mash-officer-1".to_owned(), false));
        assert!(
            reviews[1..]
                .iter()
                .all(|(u, allow)| u == "mash-manager-1" && *allow)
        );
        tb.stop().await;
    }
);
