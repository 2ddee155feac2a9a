//! Retention end to end, against SQLite and PostgreSQL: records older than
//! the agreement's period for their source are deleted, recent ones kept,
//! linkage forgets the deleted ones, and each purge is in the audit log.

use chrono::NaiveDate;
use concord_audit::{Action, AuditEvent, Decision};
use concord_client::{Extract, push_extract};
use concord_core::{KeyName, Source};
use concord_e2e::bytes;
use concord_e2e::{TestBroker, both_stores};
use concord_policy::RetentionPeriod;
use concord_proto::v1;
use concord_server::retention;

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

/// Pushes one record of person `i` dated `day` as its own extract (so
/// record ids follow push order), as the source's push agent.
async fn push_one(tb: &TestBroker, source: v1::Source, agent: &str, i: u32, day: &str) {
    let year = &day[..4];
    let header = v1::ExtractHeader {
        extract_id: format!("x-{i}"),
        source: source as i32,
        period_start: format!("{year}-01-01"),
        period_end: format!("{year}-12-31"),
        mode: v1::ExtractMode::Delta as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    };
    // Emergency department attendances carry no person tokens (ISTV).
    let (kind, tokens) = match source {
        v1::Source::Health => (v1::RecordKind::EdAttendance, vec![]),
        _ => (
            v1::RecordKind::Crime,
            vec![v1::MatchKeyToken {
                key_name: KeyName::SnDob.as_str().into(),
                key_id: tb.linkage_key_id.clone(),
                token: bytes("sn_dob", i),
            }],
        ),
    };
    let record = v1::Record {
        source_ref: bytes("ref", i),
        kind: kind as i32,
        role: v1::PersonRole::Victim as i32,
        event_date: day.into(),
        event_date_precision: v1::DatePrecision::Day as i32,
        ward_code: "E05009391".into(),
        category: v1::ViolenceCategory::Gbh as i32,
        tokens,
        ..Default::default()
    };
    push_extract(
        tb.channel(agent).await,
        Extract::new(header, vec![record], vec![], 10),
    )
    .await
    .expect("push");
}

async fn purge_events(tb: &TestBroker) -> Vec<AuditEvent> {
    tb.store
        .audit_events(0, 1000)
        .await
        .expect("audit events")
        .iter()
        .map(|row| AuditEvent::decode(&row.event).expect("event decodes"))
        .filter(|e| e.action == Action::RetentionPurge)
        .collect()
}

both_stores!(
    records_past_their_period_are_purged_and_audited,
    |db| async move {
        let tb = TestBroker::start(db).await;
        // Police keep 6 years, health 8 (data/agreements.json).
        let pushes = [
            (v1::Source::Police, "mps-cw-push", "2019-06-01"), // record 1: purged
            (v1::Source::Police, "mps-cw-push", "2020-11-21"), // record 2: purged, the day before the cutoff
            (v1::Source::Police, "mps-cw-push", "2020-11-22"), // record 3: kept, the cutoff day
            (v1::Source::Police, "mps-cw-push", "2026-10-15"), // record 4: kept
            (v1::Source::Health, "chelwest-nhs-push", "2017-03-01"), // record 5: purged
            (v1::Source::Health, "chelwest-nhs-push", "2019-03-01"), // record 6: kept under 8 years
        ];
        for (i, (source, agent, day)) in pushes.iter().enumerate() {
            push_one(&tb, *source, agent, i as u32 + 1, day).await;
        }
        tb.wait_linked(pushes.len() as u64).await;
        for id in 1..=4 {
            assert!(
                tb.broker.linkage.person_of(id).is_some(),
                "record {id} linked"
            );
        }

        let today = date("2026-11-22");
        let done = retention::purge(&tb.broker, today).await.expect("purge");
        assert_eq!(
            done.len(),
            8,
            "one entry per source with a period: {done:?}"
        );
        let police = done.iter().find(|p| p.source == Source::Police).unwrap();
        assert_eq!(police.period, RetentionPeriod::Years(6));
        assert_eq!(police.cutoff, date("2020-11-22"));
        assert_eq!(police.deleted, 2);
        let health = done.iter().find(|p| p.source == Source::Health).unwrap();
        assert_eq!(health.cutoff, date("2018-11-22"));
        assert_eq!(health.deleted, 1);
        assert!(
            done.iter()
                .filter(|p| p.source != Source::Police && p.source != Source::Health)
                .all(|p| p.deleted == 0 && p.audit_seq.is_none()),
            "{done:?}"
        );

        assert_eq!(
            tb.store.stored_event_dates(Source::Police).await.unwrap(),
            vec![date("2020-11-22"), date("2026-10-15")]
        );
        assert_eq!(
            tb.store.stored_event_dates(Source::Health).await.unwrap(),
            vec![date("2019-03-01")]
        );

        // Linkage forgets the deleted records (one run per purged source).
        tb.wait_linked(pushes.len() as u64 + 2).await;
        for id in [1, 2] {
            assert!(
                tb.broker.linkage.person_of(id).is_none(),
                "record {id} forgotten"
            );
        }
        for id in [3, 4] {
            assert!(
                tb.broker.linkage.person_of(id).is_some(),
                "record {id} kept"
            );
        }

        // One audit event per source that lost records, naming the bundle
        // that set the period and what was done, never which records.
        let events = purge_events(&tb).await;
        assert_eq!(events.len(), 2, "{events:?}");
        let digest = tb.broker.policy.bundle_digest();
        for event in &events {
            assert_eq!(event.decision, Decision::Allow);
            assert_eq!(event.policy_digest.as_deref(), Some(digest.as_str()));
            assert_eq!(event.user, retention::RETENTION_ACTOR);
            assert!(event.subjects.is_empty());
            assert!(event.disclosed.is_empty());
        }
        let police_event = events
            .iter()
            .find(|e| {
                e.lawful_basis
                    .as_deref()
                    .is_some_and(|b| b.contains("police records for 6 years"))
            })
            .expect("police purge audited");
        assert!(
            police_event
                .lawful_basis
                .as_deref()
                .unwrap()
                .contains("2 with an event date before 2020-11-22 deleted"),
            "{police_event:?}"
        );
        assert_eq!(Some(police_event.seq), police.audit_seq);

        // A second run finds nothing more and audits nothing more.
        let again = retention::purge(&tb.broker, today).await.expect("purge");
        assert!(again.iter().all(|p| p.deleted == 0), "{again:?}");
        assert_eq!(purge_events(&tb).await.len(), 2);
        assert_eq!(tb.store.count_records(None).await.unwrap(), 3);
        tb.stop().await;
    }
);
