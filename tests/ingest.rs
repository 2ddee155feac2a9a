//! Ingest end to end, against SQLite and PostgreSQL: a real broker on port
//! 0, real mTLS, the generated client.

use std::time::Duration;

use concord_client::{Extract, is_duplicate, push_extract};
use concord_core::{KeyName, Source, Token};
use concord_e2e::{Db, TestBroker, both_stores, bytes, police_crime, token};
use concord_proto::v1::{self, push_extract_request::Message};
use concord_server::Limits;
use tonic::Code;
use tonic_types::StatusExt;

/// A synthetic police crime record for person `i`.
fn record(tb: &TestBroker, i: u32, date: &str) -> v1::Record {
    v1::Record {
        flags: Some(v1::Flags {
            under_25: true,
            ..Default::default()
        }),
        ..police_crime(tb, i, date, &[KeyName::SnDob, KeyName::FnDob, KeyName::Pnc])
    }
}

fn header(
    tb: &TestBroker,
    id: &str,
    source: v1::Source,
    start: &str,
    end: &str,
    mode: v1::ExtractMode,
) -> v1::ExtractHeader {
    v1::ExtractHeader {
        extract_id: id.into(),
        source: source as i32,
        period_start: start.into(),
        period_end: end.into(),
        mode: mode as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    }
}

fn october(tb: &TestBroker, id: &str, mode: v1::ExtractMode) -> v1::ExtractHeader {
    header(tb, id, v1::Source::Police, "2026-10-01", "2026-10-31", mode)
}

/// Records for people `range` dated in October.
fn records(tb: &TestBroker, range: std::ops::Range<u32>) -> Vec<v1::Record> {
    range
        .map(|i| record(tb, i, &format!("2026-10-{:02}", 1 + i % 28)))
        .collect()
}

async fn push(
    tb: &TestBroker,
    user: &str,
    extract: Extract,
) -> Result<tonic::Response<v1::ExtractReceipt>, tonic::Status> {
    push_extract(tb.channel(user).await, extract).await
}

async fn count(tb: &TestBroker) -> u64 {
    tb.store.count_records(None).await.expect("count")
}

const POLICE: &str = "mps-cw-push";

/// A push whose messages the test sends one by one: the header is sent,
/// the rest is up to the test. Dropping the sender ends the stream cleanly;
/// aborting the task kills it.
type OpenPush = (
    tokio::sync::mpsc::Sender<v1::PushExtractRequest>,
    tokio::task::JoinHandle<Result<tonic::Response<v1::ExtractReceipt>, tonic::Status>>,
);

async fn open_push(tb: &TestBroker, header: &v1::ExtractHeader) -> OpenPush {
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::PushExtractRequest>(4);
    let channel = tb.channel(POLICE).await;
    let call = tokio::spawn(async move {
        v1::ingest_client::IngestClient::new(channel)
            .push_extract(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tx.send(v1::PushExtractRequest {
        message: Some(Message::Header(header.clone())),
    })
    .await
    .unwrap();
    (tx, call)
}

async fn send_batch(
    tx: &tokio::sync::mpsc::Sender<v1::PushExtractRequest>,
    batch: &v1::RecordBatch,
) {
    tx.send(v1::PushExtractRequest {
        message: Some(Message::Batch(batch.clone())),
    })
    .await
    .unwrap();
}

/// Waits (without sleeping) until the broker holds at least `rows` rows in
/// open extract transactions, or exactly none when `rows` is 0.
async fn wait_uncommitted(tb: &TestBroker, rows: u64) {
    let mut uncommitted = tb.broker.watch_uncommitted();
    let reached = |n: &u64| if rows == 0 { *n == 0 } else { *n >= rows };
    tokio::time::timeout(Duration::from_secs(30), uncommitted.wait_for(reached))
        .await
        .expect("the broker reaches the expected state")
        .unwrap();
}

both_stores!(
    an_accepted_extract_gets_a_full_receipt,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let ex = Extract::new(
            october(&tb, "police-2026-10", v1::ExtractMode::Snapshot),
            records(&tb, 0..25),
            vec![],
            10,
        );
        let checksum = ex.header.checksum.clone();
        let response = push(&tb, POLICE, ex).await.expect("accepted");
        assert!(!is_duplicate(&response));
        let r = response.into_inner();
        assert_eq!(
            (
                r.records_received,
                r.records_stored,
                r.records_deleted,
                r.records_replaced
            ),
            (25, 25, 0, 0)
        );
        assert_eq!(r.checksum, checksum);
        assert_eq!(r.stored_digest.len(), 32);
        assert_eq!(r.policy_digest, tb.broker.policy.bundle_digest());
        assert_eq!(r.broker_key_id, tb.broker_key.id());
        assert_eq!(r.source, v1::Source::Police as i32);
        assert!(r.committed_at.ends_with('Z'), "{}", r.committed_at);
        assert_eq!(count(&tb).await, 25);

        let mut client = v1::ingest_client::IngestClient::new(tb.channel(POLICE).await);
        let got = client
            .get_extract(v1::GetExtractRequest {
                source: v1::Source::Police as i32,
                extract_id: "police-2026-10".into(),
            })
            .await
            .expect("get extract")
            .into_inner();
        assert_eq!(got, r, "GetExtract returns the stored receipt");
        let missing = client
            .get_extract(v1::GetExtractRequest {
                source: v1::Source::Police as i32,
                extract_id: "nope".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        // A health trust may not read police receipts.
        let mut health =
            v1::ingest_client::IngestClient::new(tb.channel("chelwest-nhs-push").await);
        let denied = health
            .get_extract(v1::GetExtractRequest {
                source: v1::Source::Police as i32,
                extract_id: "police-2026-10".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        tb.stop().await;
    }
);

both_stores!(police_cannot_push_health_records, |db: Db| async move {
    let tb = TestBroker::start(db).await;
    let h = header(
        &tb,
        "h-1",
        v1::Source::Health,
        "2026-10-01",
        "2026-10-31",
        v1::ExtractMode::Snapshot,
    );
    let mut recs = records(&tb, 0..3);
    for r in &mut recs {
        r.kind = v1::RecordKind::Referral as i32;
    }
    let err = push(
        &tb,
        POLICE,
        Extract::new(h.clone(), recs.clone(), vec![], 10),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains("may not push source health"),
        "{}",
        err.message()
    );
    assert_eq!(count(&tb).await, 0);
    // The trust itself may.
    push(&tb, "chelwest-nhs-push", Extract::new(h, recs, vec![], 10))
        .await
        .expect("health trust pushes health");
    assert_eq!(
        tb.store.count_records(Some(Source::Health)).await.unwrap(),
        3
    );
    tb.stop().await;
});

both_stores!(only_push_agents_may_push, |db: Db| async move {
    let tb = TestBroker::start(db).await;
    let ex = Extract::new(
        october(&tb, "x", v1::ExtractMode::Snapshot),
        records(&tb, 0..2),
        vec![],
        10,
    );
    let err = push(&tb, "mash-officer-1", ex).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(count(&tb).await, 0);
    tb.stop().await;
});

both_stores!(
    a_repush_is_idempotent_and_changed_content_is_refused,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let h = october(&tb, "police-2026-10", v1::ExtractMode::Snapshot);
        let first = push(
            &tb,
            POLICE,
            Extract::new(h.clone(), records(&tb, 0..10), vec![], 4),
        )
        .await
        .unwrap();
        // Different batch boundaries, same content.
        let again = push(
            &tb,
            POLICE,
            Extract::new(h.clone(), records(&tb, 0..10), vec![], 3),
        )
        .await
        .unwrap();
        assert!(is_duplicate(&again));
        assert_eq!(again.into_inner(), first.into_inner(), "the same receipt");
        assert_eq!(count(&tb).await, 10);

        let err = push(&tb, POLICE, Extract::new(h, records(&tb, 0..11), vec![], 4))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::AlreadyExists);
        assert!(
            err.message()
                .contains("already accepted with different content"),
            "{}",
            err.message()
        );
        assert_eq!(count(&tb).await, 10, "changed nothing");
        tb.stop().await;
    }
);

both_stores!(
    a_rejected_extract_stores_nothing_and_names_every_invalid_record,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let mut recs = records(&tb, 0..30);
        recs[3].ward_code = "Kensington".into();
        recs[7].event_date = "2026-11-02".into();
        recs[7].tokens[0].token = vec![1, 2, 3];
        recs[21].source_ref = recs[20].source_ref.clone();
        let ex = Extract::new(
            october(&tb, "bad", v1::ExtractMode::Snapshot),
            recs,
            vec![],
            5,
        );
        let err = push(&tb, POLICE, ex).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains("4 problem(s)"), "{}", err.message());
        let details = err.get_error_details();
        let fields: Vec<(String, String)> = details
            .bad_request()
            .expect("bad request details")
            .field_violations
            .iter()
            .map(|v| (v.field.clone(), v.description.clone()))
            .collect();
        let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "records[3].ward_code",
                "records[7].event_date",
                "records[7].tokens[0].token",
                "records[21].source_ref"
            ]
        );
        assert!(
            !err.message().contains("Kensington"),
            "values are never echoed: {}",
            err.message()
        );
        assert_eq!(count(&tb).await, 0);
        let mut client = v1::ingest_client::IngestClient::new(tb.channel(POLICE).await);
        let status = client
            .get_extract(v1::GetExtractRequest {
                source: v1::Source::Police as i32,
                extract_id: "bad".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        tb.stop().await;
    }
);

both_stores!(
    counts_and_checksum_must_agree_with_the_header,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let mut ex = Extract::new(
            october(&tb, "c1", v1::ExtractMode::Snapshot),
            records(&tb, 0..6),
            vec![],
            3,
        );
        ex.header.checksum[0] ^= 1;
        let err = push(&tb, POLICE, ex).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().contains("header.checksum"),
            "{}",
            err.message()
        );

        let mut ex = Extract::new(
            october(&tb, "c2", v1::ExtractMode::Snapshot),
            records(&tb, 0..6),
            vec![],
            3,
        );
        ex.batches.pop();
        let err = push(&tb, POLICE, ex).await.unwrap_err();
        assert!(
            err.message().contains("announces 6 records, 3 arrived"),
            "{}",
            err.message()
        );

        let mut ex = Extract::new(
            october(&tb, "c3", v1::ExtractMode::Snapshot),
            records(&tb, 0..6),
            vec![],
            3,
        );
        ex.header.schema_version = 2;
        let err = push(&tb, POLICE, ex).await.unwrap_err();
        assert!(
            err.message().contains("header.schema_version"),
            "{}",
            err.message()
        );
        assert_eq!(count(&tb).await, 0);
        tb.stop().await;
    }
);

both_stores!(
    a_snapshot_replaces_the_sources_records_for_its_period,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let sept = header(
            &tb,
            "police-2026-09",
            v1::Source::Police,
            "2026-09-01",
            "2026-09-30",
            v1::ExtractMode::Snapshot,
        );
        let sept_recs: Vec<_> = (100..104).map(|i| record(&tb, i, "2026-09-15")).collect();
        push(&tb, POLICE, Extract::new(sept, sept_recs, vec![], 10))
            .await
            .unwrap();
        push(
            &tb,
            POLICE,
            Extract::new(
                october(&tb, "oct-a", v1::ExtractMode::Snapshot),
                records(&tb, 0..5),
                vec![],
                10,
            ),
        )
        .await
        .unwrap();
        assert_eq!(count(&tb).await, 9);

        let r = push(
            &tb,
            POLICE,
            Extract::new(
                october(&tb, "oct-b", v1::ExtractMode::Snapshot),
                records(&tb, 3..6),
                vec![],
                10,
            ),
        )
        .await
        .unwrap()
        .into_inner();
        assert_eq!((r.records_stored, r.records_replaced), (3, 5));
        assert_eq!(
            count(&tb).await,
            4 + 3,
            "September untouched, October replaced"
        );

        // A snapshot may not take over a record stored outside its period.
        let clash = vec![record(&tb, 100, "2026-10-20")];
        let err = push(
            &tb,
            POLICE,
            Extract::new(
                october(&tb, "oct-c", v1::ExtractMode::Snapshot),
                clash,
                vec![],
                10,
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert!(err.message().contains("delta"), "{}", err.message());
        assert_eq!(count(&tb).await, 7, "the refused snapshot replaced nothing");
        tb.stop().await;
    }
);

both_stores!(
    a_delta_upserts_and_deletes_by_source_reference,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        push(
            &tb,
            POLICE,
            Extract::new(
                october(&tb, "base", v1::ExtractMode::Snapshot),
                records(&tb, 0..5),
                vec![],
                10,
            ),
        )
        .await
        .unwrap();
        let before = tb.store.stored_pseudonyms(Source::Police).await.unwrap();

        let mut changed = records(&tb, 1..3);
        for r in &mut changed {
            r.category = v1::ViolenceCategory::Robbery as i32;
            r.tokens.truncate(1);
        }
        changed.push(record(&tb, 9, "2026-10-09"));
        let deletes = vec![bytes("ref", 4)];
        let r = push(
            &tb,
            POLICE,
            Extract::new(
                october(&tb, "delta-1", v1::ExtractMode::Delta),
                changed,
                deletes,
                2,
            ),
        )
        .await
        .unwrap()
        .into_inner();
        assert_eq!(
            (r.records_stored, r.records_deleted, r.records_replaced),
            (3, 1, 0)
        );
        assert_eq!(count(&tb).await, 5, "5 + 1 new - 1 deleted");
        let after = tb.store.stored_pseudonyms(Source::Police).await.unwrap();
        let updated: Vec<_> = after.iter().filter(|(_, t)| t.len() == 33).collect();
        assert_eq!(updated.len(), 2, "two records now carry one token");
        assert!(
            before
                .iter()
                .any(|(r, _)| !after.iter().any(|(a, _)| a == r)),
            "one record is gone"
        );

        // Deletions belong to delta mode only.
        let mut snap = Extract::new(
            october(&tb, "snap-del", v1::ExtractMode::Snapshot),
            records(&tb, 0..1),
            vec![],
            10,
        );
        snap.header.delete_count = 1;
        let err = push(&tb, POLICE, snap).await.unwrap_err();
        assert!(
            err.message().contains("header.delete_count"),
            "{}",
            err.message()
        );
        tb.stop().await;
    }
);

both_stores!(a_killed_stream_leaves_nothing, |db: Db| async move {
    let limits = Limits {
        write_chunk_records: 10,
        ..Limits::default()
    };
    let tb = TestBroker::start_with(db, limits).await;
    let ex = Extract::new(
        october(&tb, "killed", v1::ExtractMode::Snapshot),
        records(&tb, 0..100),
        vec![],
        20,
    );
    let (tx, call) = open_push(&tb, &ex.header).await;
    for b in &ex.batches[..2] {
        send_batch(&tx, b).await;
    }
    // Once the broker has written rows inside the open transaction, kill
    // the client mid-extract: the HTTP/2 stream is reset.
    wait_uncommitted(&tb, 20).await;
    call.abort();
    drop(tx);
    wait_uncommitted(&tb, 0).await;
    assert_eq!(count(&tb).await, 0);
    let mut client = v1::ingest_client::IngestClient::new(tb.channel(POLICE).await);
    let status = client
        .get_extract(v1::GetExtractRequest {
            source: v1::Source::Police as i32,
            extract_id: "killed".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // The same extract goes through afterwards.
    let r = push(&tb, POLICE, ex)
        .await
        .expect("re-push after a kill")
        .into_inner();
    assert_eq!(r.records_stored, 100);
    tb.stop().await;
});

both_stores!(every_limit_is_refused_by_name, |db: Db| async move {
    let limits = Limits {
        max_batch_records: 10,
        max_extract_records: 50,
        max_message_bytes: 4 * 1024,
        max_stream_duration: Duration::from_millis(500),
        ..Limits::default()
    };
    let tb = TestBroker::start_with(db, limits).await;
    let err = push(
        &tb,
        POLICE,
        Extract::new(
            october(&tb, "l1", v1::ExtractMode::Snapshot),
            records(&tb, 0..11),
            vec![],
            11,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message().contains("batch size limit"),
        "{}",
        err.message()
    );

    let err = push(
        &tb,
        POLICE,
        Extract::new(
            october(&tb, "l2", v1::ExtractMode::Snapshot),
            records(&tb, 0..51),
            vec![],
            10,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message().contains("records per extract limit"),
        "{}",
        err.message()
    );

    // Ten records carrying every match key: one message over 4 KiB.
    let mut big = records(&tb, 0..10);
    for r in &mut big {
        r.tokens = KeyName::ALL.iter().map(|k| token(&tb, *k, 1)).collect();
    }
    assert!(
        prost::Message::encoded_len(&v1::RecordBatch {
            records: big.clone(),
            delete_source_refs: vec![]
        }) > 4096
    );
    let err = push(
        &tb,
        POLICE,
        Extract::new(
            october(&tb, "l3", v1::ExtractMode::Snapshot),
            big,
            vec![],
            10,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("message size limit"),
        "{}",
        err.message()
    );

    // A stream that stays open past the duration limit.
    let ex = Extract::new(
        october(&tb, "l4", v1::ExtractMode::Snapshot),
        records(&tb, 0..5),
        vec![],
        5,
    );
    let (tx, call) = open_push(&tb, &ex.header).await;
    let err = call.await.unwrap().unwrap_err();
    drop(tx);
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(
        err.message().contains("stream duration limit"),
        "{}",
        err.message()
    );
    assert_eq!(count(&tb).await, 0);
    tb.stop().await;
});

both_stores!(
    stored_tokens_are_rekeyed_with_the_broker_key,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let sent = records(&tb, 0..8);
        push(
            &tb,
            POLICE,
            Extract::new(
                october(&tb, "k", v1::ExtractMode::Snapshot),
                sent.clone(),
                vec![],
                10,
            ),
        )
        .await
        .unwrap();
        let stored = tb.store.stored_pseudonyms(Source::Police).await.unwrap();
        assert_eq!(stored.len(), 8);
        let sent_tokens: Vec<&[u8]> = sent
            .iter()
            .flat_map(|r| {
                r.tokens
                    .iter()
                    .map(|t| t.token.as_slice())
                    .chain([r.source_ref.as_slice()])
            })
            .collect();
        for (source_ref, packed) in &stored {
            assert!(
                !sent_tokens.contains(&source_ref.as_slice()),
                "a stored source ref equals one sent"
            );
            let tokens = concord_store::unpack_tokens(packed).expect("packed tokens");
            assert_eq!(tokens.len(), 3);
            for (_, t) in tokens {
                assert!(
                    !sent_tokens.contains(&t.as_bytes().as_slice()),
                    "a stored token equals one sent"
                );
            }
        }
        // And each stored pseudonym is exactly HMAC(K_broker, key id ‖ token).
        let expected = tb.broker_key.pseudonymise(
            &tb.linkage_key_id,
            &Token::from_slice(&sent[0].tokens[0].token).unwrap(),
        );
        assert!(
            stored.iter().any(|(_, p)| concord_store::unpack_tokens(p)
                .unwrap()
                .contains(&(KeyName::SnDob, expected))),
            "the pseudonym is the broker's HMAC of the token"
        );
        tb.stop().await;
    }
);

both_stores!(the_first_message_must_be_the_header, |db: Db| async move {
    let tb = TestBroker::start(db).await;
    let ex = Extract::new(
        october(&tb, "h", v1::ExtractMode::Snapshot),
        records(&tb, 0..3),
        vec![],
        3,
    );
    let msgs = vec![
        v1::PushExtractRequest {
            message: Some(Message::Batch(ex.batches[0].clone())),
        },
        v1::PushExtractRequest {
            message: Some(Message::Header(ex.header.clone())),
        },
    ];
    let err = v1::ingest_client::IngestClient::new(tb.channel(POLICE).await)
        .push_extract(tokio_stream::iter(msgs))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .contains("first message must be the extract header"),
        "{}",
        err.message()
    );
    tb.stop().await;
});

#[test]
fn the_record_has_no_field_that_could_carry_an_identifier() {
    use prost::Message as _;
    let fds = prost_types::FileDescriptorSet::decode(concord_proto::FILE_DESCRIPTOR_SET).unwrap();
    let record = fds
        .file
        .iter()
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == "Record")
        .expect("concord.v1.Record");
    use prost_types::field_descriptor_proto::Type;
    let strings: Vec<&str> = record
        .field
        .iter()
        .filter(|f| f.r#type() == Type::String)
        .map(|f| f.name())
        .collect();
    // Every string field is a validated code, never free text or a name.
    assert_eq!(
        strings,
        ["event_date", "ward_code", "lsoa_code", "site_code"]
    );
    let names: Vec<&str> = record.field.iter().map(|f| f.name()).collect();
    for forbidden in [
        "name",
        "forename",
        "surname",
        "dob",
        "date_of_birth",
        "nhs_number",
        "pnc_id",
        "postcode",
        "address",
        "free_text",
        "notes",
    ] {
        assert!(
            !names.contains(&forbidden),
            "Record has a field {forbidden}"
        );
    }
}

both_stores!(
    a_graceful_shutdown_lets_an_inflight_extract_finish,
    |db: Db| async move {
        let limits = Limits {
            write_chunk_records: 10,
            ..Limits::default()
        };
        let mut tb = TestBroker::start_with(db, limits).await;
        let ex = Extract::new(
            october(&tb, "inflight", v1::ExtractMode::Snapshot),
            records(&tb, 0..60),
            vec![],
            20,
        );
        let (tx, call) = open_push(&tb, &ex.header).await;
        send_batch(&tx, &ex.batches[0]).await;
        wait_uncommitted(&tb, 10).await;
        // Shutdown begins mid-extract; the extract still arrives whole and commits.
        tb.begin_shutdown();
        for b in &ex.batches[1..] {
            send_batch(&tx, b).await;
        }
        drop(tx);
        let receipt = call
            .await
            .unwrap()
            .expect("the in-flight extract finishes")
            .into_inner();
        assert_eq!(receipt.records_stored, 60);
        assert_eq!(count(&tb).await, 60);
        tb.stop().await;
    }
);

/// The field violations of a refusal.
fn violated_fields(e: &tonic::Status) -> Vec<String> {
    e.get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

both_stores!(
    a_snapshot_under_another_linkage_key_is_refused_and_replaces_nothing,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let good = Extract::new(
            october(&tb, "police-2026-10", v1::ExtractMode::Snapshot),
            records(&tb, 0..25),
            vec![],
            10,
        );
        push(&tb, POLICE, good).await.expect("accepted");
        assert_eq!(count(&tb).await, 25);

        // Same source and period, a well-formed id that is not the partnership's.
        let mut h = october(&tb, "police-2026-10-b", v1::ExtractMode::Snapshot);
        h.linkage_key_id = "lk-2025x".into();
        let bad = Extract::new(h, records(&tb, 100..105), vec![], 10);
        let e = push(&tb, POLICE, bad).await.expect_err("refused");
        assert_eq!(e.code(), Code::InvalidArgument);
        let expected = format!(
            "linkage key id lk-2025x is not the partnership's: this broker accepts {}",
            tb.linkage_key_id
        );
        assert!(e.message().contains(&expected), "{}", e.message());
        assert_eq!(violated_fields(&e), ["header.linkage_key_id"]);

        // The period's good records are intact and no receipt was written.
        assert_eq!(count(&tb).await, 25);
        let mut client = v1::ingest_client::IngestClient::new(tb.channel(POLICE).await);
        let missing = client
            .get_extract(v1::GetExtractRequest {
                source: v1::Source::Police as i32,
                extract_id: "police-2026-10-b".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        tb.stop().await;
    }
);

both_stores!(
    the_previous_linkage_key_is_accepted_during_a_rotation,
    |db: Db| async move {
        let options = concord_e2e::StartOptions {
            linkage_keys: Some(concord_server::LinkageKeyIds::new(
                "lk-2099a",
                Some("lk-2098a".into()),
            )),
            ..Default::default()
        };
        let tb = TestBroker::start_with_options(db, options).await;
        let with_key = |id: &str, key_id: &str, range| {
            let mut h = october(&tb, id, v1::ExtractMode::Snapshot);
            h.linkage_key_id = key_id.into();
            let mut rs = records(&tb, range);
            for t in rs.iter_mut().flat_map(|r| r.tokens.iter_mut()) {
                t.key_id = key_id.into();
            }
            Extract::new(h, rs, vec![], 10)
        };
        push(&tb, POLICE, with_key("police-old-key", "lk-2098a", 0..10))
            .await
            .expect("the previous key's extract is accepted");
        assert_eq!(count(&tb).await, 10);
        let e = push(&tb, POLICE, with_key("police-other", "lk-2097a", 0..5))
            .await
            .expect_err("refused");
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(
            e.message()
                .contains("this broker accepts lk-2099a (and lk-2098a until rotation ends)"),
            "{}",
            e.message()
        );
        assert_eq!(count(&tb).await, 10);
        let r = push(&tb, POLICE, with_key("police-new-key", "lk-2099a", 0..15))
            .await
            .expect("the current key's extract is accepted")
            .into_inner();
        assert_eq!(r.records_stored, 15);
        assert_eq!(count(&tb).await, 15);
        tb.stop().await;
    }
);

/// `bytes` (one encoded message) with its top-level fields in descending
/// field-number order (a repeated field's elements keep their order): a
/// valid encoding of the same message that prost would never write.
fn fields_descending(bytes: &[u8]) -> Vec<u8> {
    fn varint(b: &[u8], at: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = b[*at];
            *at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }
    let mut fields = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let key = varint(bytes, &mut at);
        match key & 7 {
            0 => {
                varint(bytes, &mut at);
            }
            2 => {
                let len = varint(bytes, &mut at) as usize;
                at += len;
            }
            other => panic!("wire type {other} is not used by concord.v1.Record"),
        }
        fields.push((key >> 3, &bytes[start..at]));
    }
    fields.sort_by_key(|(tag, _)| std::cmp::Reverse(*tag));
    fields
        .into_iter()
        .flat_map(|(_, f)| f.iter().copied())
        .collect()
}

/// Sends `header` and one batch of already encoded records, as a client
/// whose protobuf library encodes differently from prost would.
async fn push_bytes(
    tb: &TestBroker,
    header: v1::ExtractHeader,
    records: Vec<Vec<u8>>,
) -> Result<v1::ExtractReceipt, tonic::Status> {
    use concord_proto::wire::{self, push_extract_bytes_request::Message as Wire};
    let messages = vec![
        wire::PushExtractBytesRequest {
            message: Some(Wire::Header(header)),
        },
        wire::PushExtractBytesRequest {
            message: Some(Wire::Batch(wire::RecordBatchBytes {
                records,
                delete_source_refs: vec![],
            })),
        },
    ];
    wire::ingest_client::IngestClient::new(tb.channel(POLICE).await)
        .push_extract(tokio_stream::iter(messages))
        .await
        .map(tonic::Response::into_inner)
}

both_stores!(
    the_checksum_runs_over_the_record_bytes_as_sent,
    |db: Db| async move {
        use concord_proto::{checksum::ExtractChecksum, prost::Message as _};
        let tb = TestBroker::start(db).await;
        let wire_records = records(&tb, 0..3);
        let sent: Vec<Vec<u8>> = wire_records
            .iter()
            .map(|r| fields_descending(&r.encode_to_vec()))
            .collect();
        for (r, b) in wire_records.iter().zip(&sent) {
            assert_ne!(b, &r.encode_to_vec(), "the test must send another encoding");
            assert_eq!(&v1::Record::decode(b.as_slice()).unwrap(), r);
        }
        let over = |records: &mut dyn Iterator<Item = &[u8]>| {
            let mut c = ExtractChecksum::new();
            records.for_each(|b| c.add_record_bytes(b));
            c.finish().to_vec()
        };
        let header = |id: &str, checksum: Vec<u8>| v1::ExtractHeader {
            record_count: 3,
            checksum,
            ..october(&tb, id, v1::ExtractMode::Snapshot)
        };

        // A checksum over the bytes as they were sent: accepted.
        let as_sent = over(&mut sent.iter().map(Vec::as_slice));
        let receipt = push_bytes(&tb, header("reordered", as_sent.clone()), sent.clone())
            .await
            .expect("a valid encoding in another field order is accepted");
        assert_eq!(receipt.checksum, as_sent);
        assert_eq!((receipt.records_received, receipt.records_stored), (3, 3));
        assert_eq!(count(&tb).await, 3);

        // A checksum over prost's re-encoding of the same records is not
        // over what was sent: refused, by name, and nothing changes.
        let reencoded = wire_records
            .iter()
            .map(|r| r.encode_to_vec())
            .collect::<Vec<_>>();
        let wrong = over(&mut reencoded.iter().map(Vec::as_slice));
        assert_ne!(wrong, as_sent);
        let err = push_bytes(&tb, header("reencoded", wrong), sent.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let details = err.get_error_details();
        let v = &details
            .bad_request()
            .expect("field violations")
            .field_violations;
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].field, "header.checksum");
        assert!(
            v[0].description
                .contains("each record's bytes exactly as sent"),
            "{}",
            v[0].description
        );
        assert_eq!(count(&tb).await, 3);

        // Bytes that are no Record are named, not hashed into a store.
        let mut bad = sent.clone();
        bad[1] = vec![0xff];
        let sum = over(&mut bad.iter().map(Vec::as_slice));
        let err = push_bytes(&tb, header("garbled", sum), bad)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&err), ["records[1].record"]);
        assert_eq!(count(&tb).await, 3);
        tb.stop().await;
    }
);

const COMMUNITY_SAFETY: &str = "rbkc-community-safety-push";

/// Community safety's record `i` of `kind` (MARAC cases or youth violence
/// service contacts) in October.
fn community_safety(tb: &TestBroker, kind: v1::RecordKind, i: u32) -> v1::Record {
    v1::Record {
        source: v1::Source::CommunitySafety as i32,
        source_ref: bytes(kind.as_str_name(), i),
        kind: kind as i32,
        role: v1::PersonRole::Subject as i32,
        category: v1::ViolenceCategory::DomesticAbuse as i32,
        ..police_crime(
            tb,
            i,
            &format!("2026-10-{:02}", 1 + i % 28),
            &[KeyName::SnDob],
        )
    }
}

fn community_safety_extract(
    tb: &TestBroker,
    id: &str,
    data_set: &str,
    kind: v1::RecordKind,
    people: std::ops::Range<u32>,
) -> Extract {
    let header = v1::ExtractHeader {
        data_set: data_set.into(),
        ..header(
            tb,
            id,
            v1::Source::CommunitySafety,
            "2026-10-01",
            "2026-10-31",
            v1::ExtractMode::Snapshot,
        )
    };
    let records = people.map(|i| community_safety(tb, kind, i)).collect();
    Extract::new(header, records, vec![], 10)
}

both_stores!(a_snapshot_replaces_its_data_set_only, |db: Db| async move {
    let tb = TestBroker::start(db).await;
    let held = |tb: &TestBroker| {
        let store = tb.store.clone();
        async move {
            store
                .count_records(Some(Source::CommunitySafety))
                .await
                .unwrap()
        }
    };
    let marac = v1::RecordKind::MaracCase;
    let youth = v1::RecordKind::ServiceContact;

    // MARAC cases, then youth violence services, both snapshots of
    // October: the second replaces nothing of the first.
    let r = push(
        &tb,
        COMMUNITY_SAFETY,
        community_safety_extract(&tb, "marac-10", "marac", marac, 0..12),
    )
    .await
    .expect("MARAC accepted")
    .into_inner();
    assert_eq!(
        (r.data_set.as_str(), r.records_replaced, r.records_held),
        ("marac", 0, 0)
    );
    let r = push(
        &tb,
        COMMUNITY_SAFETY,
        community_safety_extract(&tb, "youth-10", "youth_services", youth, 0..5),
    )
    .await
    .expect("youth services accepted")
    .into_inner();
    assert_eq!(
        (
            r.data_set.as_str(),
            r.records_stored,
            r.records_replaced,
            r.records_held
        ),
        ("youth_services", 5, 0, 12)
    );
    assert_eq!(held(&tb).await, 17, "both data sets are held");

    // A new MARAC snapshot replaces MARAC's October only, and the
    // receipt says how much of what was held it replaced.
    let r = push(
        &tb,
        COMMUNITY_SAFETY,
        community_safety_extract(&tb, "marac-10b", "marac", marac, 0..4),
    )
    .await
    .expect("MARAC again")
    .into_inner();
    assert_eq!(
        (r.records_stored, r.records_replaced, r.records_held),
        (4, 12, 17)
    );
    assert_eq!(held(&tb).await, 9);
    // GetExtract gives the same account.
    let stored = v1::ingest_client::IngestClient::new(tb.channel(COMMUNITY_SAFETY).await)
        .get_extract(v1::GetExtractRequest {
            source: v1::Source::CommunitySafety as i32,
            extract_id: "marac-10b".into(),
        })
        .await
        .expect("receipt")
        .into_inner();
    assert_eq!(
        (
            stored.data_set.as_str(),
            stored.records_replaced,
            stored.records_held
        ),
        ("marac", 12, 17)
    );

    // Community safety sends two data sets: a header that names none
    // is refused before anything is replaced; so is a MARAC extract
    // carrying a youth service contact.
    let err = push(
        &tb,
        COMMUNITY_SAFETY,
        community_safety_extract(&tb, "unnamed", "", marac, 0..3),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["header.data_set"]);
    assert!(
        err.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .description
            .contains("marac, youth_services")
    );
    let mut mixed: Vec<v1::Record> = (0..3).map(|i| community_safety(&tb, marac, i)).collect();
    mixed[1] = community_safety(&tb, youth, 40);
    let header = community_safety_extract(&tb, "mixed", "marac", marac, 0..0).header;
    let mixed = Extract::new(header, mixed, vec![], 10);
    let err = push(&tb, COMMUNITY_SAFETY, mixed).await.unwrap_err();
    assert_eq!(violated_fields(&err), ["records[1].kind"]);
    let err = push(
        &tb,
        POLICE,
        Extract::new(
            v1::ExtractHeader {
                data_set: "marac".into(),
                ..october(&tb, "p-marac", v1::ExtractMode::Snapshot)
            },
            records(&tb, 0..2),
            vec![],
            10,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(violated_fields(&err), ["header.data_set"]);
    assert_eq!(held(&tb).await, 9, "nothing refused changed anything");
    tb.stop().await;
});
