//! Per-organisation rate and concurrency limits end to end, against SQLite
//! and PostgreSQL: one organisation over its limit is refused with
//! RESOURCE_EXHAUSTED while another organisation's requests succeed.

use std::time::Duration;

use concord_client::Extract;
use concord_core::KeyName;
use concord_e2e::{Db, TestBroker, both_stores};
use concord_proto::v1::{self, push_extract_request::Message};
use concord_server::Limits;
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const POLICE: &str = "mps-cw-push";
const MASH: &str = "mash-officer-1";

async fn check(tb: &TestBroker, user: &str) -> Result<(), tonic::Status> {
    HealthClient::new(tb.channel(user).await)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
}

fn refused_naming(status: tonic::Status, limit: &str) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains(limit) && status.message().contains("mps-cw"),
        "the message names the limit and the organisation: {}",
        status.message()
    );
}

both_stores!(
    an_org_over_its_rate_is_refused_and_others_are_served,
    |db: Db| async move {
        // A bucket of 3 that refills once in 1,000 s: no refill during the test.
        let tb = TestBroker::start_with(
            db,
            Limits {
                org_requests_per_second: 0.001,
                org_burst: 3,
                ..Limits::default()
            },
        )
        .await;
        for i in 0..3 {
            check(&tb, POLICE)
                .await
                .unwrap_or_else(|e| panic!("request {i} within the burst: {e:?}"));
        }
        for _ in 0..5 {
            refused_naming(check(&tb, POLICE).await.unwrap_err(), "rate limit");
        }
        // Another organisation has its own bucket.
        for i in 0..3 {
            check(&tb, MASH)
                .await
                .unwrap_or_else(|e| panic!("the other org's request {i}: {e:?}"));
        }
        tb.stop().await;
    }
);

fn record(tb: &TestBroker, i: u32) -> v1::Record {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&i.to_be_bytes());
    let b = ctx.finish().as_ref().to_vec();
    v1::Record {
        source_ref: b.clone(),
        kind: v1::RecordKind::Crime as i32,
        role: v1::PersonRole::Victim as i32,
        event_date: "2026-10-02".into(),
        event_date_precision: v1::DatePrecision::Day as i32,
        ward_code: "E05009391".into(),
        category: v1::ViolenceCategory::Gbh as i32,
        tokens: vec![v1::MatchKeyToken {
            key_name: KeyName::Pnc.as_str().into(),
            key_id: tb.linkage_key_id.clone(),
            token: b,
        }],
        ..Default::default()
    }
}

both_stores!(
    an_org_over_its_concurrency_is_refused_and_others_are_served,
    |db: Db| async move {
        let tb = TestBroker::start_with(
            db,
            Limits {
                org_max_concurrent: 1,
                write_chunk_records: 1,
                ..Limits::default()
            },
        )
        .await;
        // A push held open: header and one batch written, no end yet.
        let (tx, rx) = tokio::sync::mpsc::channel::<v1::PushExtractRequest>(4);
        let channel = tb.channel(POLICE).await;
        let call = tokio::spawn(async move {
            v1::ingest_client::IngestClient::new(channel)
                .push_extract(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
        });
        let header = v1::ExtractHeader {
            extract_id: "police-2026-10".into(),
            source: v1::Source::Police as i32,
            period_start: "2026-10-01".into(),
            period_end: "2026-10-31".into(),
            mode: v1::ExtractMode::Snapshot as i32,
            schema_version: 1,
            linkage_key_id: tb.linkage_key_id.clone(),
            ..Default::default()
        };
        let extract = Extract::new(header, vec![record(&tb, 0), record(&tb, 1)], vec![], 1);
        let mut batches = extract.batches.into_iter();
        tx.send(v1::PushExtractRequest {
            message: Some(Message::Header(extract.header)),
        })
        .await
        .unwrap();
        tx.send(v1::PushExtractRequest {
            message: Some(Message::Batch(batches.next().unwrap())),
        })
        .await
        .unwrap();
        // The push is inside the broker once its first row is written.
        let mut uncommitted = tb.broker.watch_uncommitted();
        tokio::time::timeout(Duration::from_secs(30), uncommitted.wait_for(|n| *n >= 1))
            .await
            .expect("the push reaches the store")
            .unwrap();

        refused_naming(check(&tb, POLICE).await.unwrap_err(), "concurrency limit");
        check(&tb, MASH)
            .await
            .expect("another organisation is served meanwhile");

        // The push finishes; its slot is freed when it has answered.
        tx.send(v1::PushExtractRequest {
            message: Some(Message::Batch(batches.next().unwrap())),
        })
        .await
        .unwrap();
        drop(tx);
        call.await
            .unwrap()
            .expect("the held push is accepted once it ends");
        check(&tb, POLICE)
            .await
            .expect("the slot is free once the push has ended");
        tb.stop().await;
    }
);
