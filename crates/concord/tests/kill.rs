//! A broker killed with SIGKILL mid-extract leaves nothing of that extract,
//! and the re-push succeeds after a restart: on SQLite and on PostgreSQL.

mod common;

use std::path::Path;

use common::Broker;
use concord_client::{ClientTls, Extract};
use concord_core::Source;
use concord_e2e::PgDatabase;
use concord_proto::v1::{self, ingest_client::IngestClient, push_extract_request::Message};
use concord_store::{Store, StoreOptions};

const RECORDS: u64 = 60_000;
const BATCH: usize = 2_000;

fn bytes32(tag: u64, i: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for k in 0..4u64 {
        out.extend_from_slice(
            &(tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(31) ^ k).to_le_bytes(),
        );
    }
    out
}

fn extract(linkage_key_id: &str) -> Extract {
    let records = (0..RECORDS)
        .map(|i| v1::Record {
            source_ref: bytes32(1, i),
            kind: v1::RecordKind::Crime as i32,
            event_date: format!("2026-10-{:02}", 1 + i % 30),
            ward_code: "E05009391".into(),
            tokens: vec![v1::MatchKeyToken {
                key_name: "sn_dob".into(),
                key_id: linkage_key_id.into(),
                token: bytes32(2, i),
            }],
            ..Default::default()
        })
        .collect();
    let header = v1::ExtractHeader {
        extract_id: "police-2026-10".into(),
        source: v1::Source::Police as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: linkage_key_id.into(),
        ..Default::default()
    };
    Extract::new(header, records, vec![], BATCH)
}

fn tls(dir: &Path) -> ClientTls {
    let pki = dir.join("data/pki");
    ClientTls {
        ca_pem: std::fs::read(pki.join("ca.pem")).unwrap(),
        cert_pem: std::fs::read(pki.join("clients/mps-cw-push.pem")).unwrap(),
        key_pem: std::fs::read(pki.join("clients/mps-cw-push.key")).unwrap(),
        server_name: "localhost".into(),
    }
}

fn linkage_key_id(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("data/pki/keys/linkage.json")).unwrap();
    concord_keys::KeyFile::parse(&text, "linkage.json")
        .unwrap()
        .key_id
}

async fn killed_mid_extract(dir: &Path, database_url: &str) {
    let extra = ["--database-url", database_url];
    let broker = Broker::start_with(dir, &extra);
    let ex = extract(&linkage_key_id(dir));
    let channel = concord_client::connect(&format!("https://localhost:{}", broker.port), &tls(dir))
        .await
        .unwrap();

    // A channel of one message: when a send returns, the one before it has
    // been taken by the HTTP/2 stream, which the broker must consume for
    // more to flow (flow control). Send two thirds of the extract.
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::PushExtractRequest>(1);
    let call = tokio::spawn(async move {
        IngestClient::new(channel)
            .push_extract(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tx.send(v1::PushExtractRequest {
        message: Some(Message::Header(ex.header.clone())),
    })
    .await
    .unwrap();
    for b in &ex.batches[..ex.batches.len() * 2 / 3] {
        tx.send(v1::PushExtractRequest {
            message: Some(Message::Batch(b.clone())),
        })
        .await
        .unwrap();
    }
    if database_url.starts_with("postgres") {
        // The extract's transaction is open: its source's advisory lock is
        // held (beside the linker's lease, 0x434F/0x4C4B, held all along).
        let mut conn: sqlx::PgConnection = sqlx::Connection::connect(database_url).await.unwrap();
        let held: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted ORDER BY objid",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let source_locks = held.iter().filter(|&&(_, objid)| objid != 0x4C4B).count();
        assert_eq!(
            source_locks, 1,
            "the broker is inside the extract's transaction: {held:?}"
        );
        assert!(
            held.contains(&(0x434F, 0x4C4B)),
            "the broker holds the linker's lease: {held:?}"
        );
    }
    broker.kill();
    let refused = call.await.unwrap();
    assert!(refused.is_err(), "a killed broker sends no receipt");
    drop(tx);

    // Nothing of the extract is left…
    let store = Store::connect(database_url, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(store.count_records(None).await.unwrap(), 0);
    assert!(
        store
            .get_extract(Source::Police, "police-2026-10")
            .await
            .unwrap()
            .is_none()
    );
    store.close().await;

    // …and after a restart the same extract goes through whole.
    let broker = Broker::start_with(dir, &extra);
    let channel = concord_client::connect(&format!("https://localhost:{}", broker.port), &tls(dir))
        .await
        .unwrap();
    let receipt = concord_client::push_extract(channel, ex)
        .await
        .expect("the re-push")
        .into_inner();
    assert_eq!(receipt.records_stored, RECORDS);
    broker.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_broker_killed_mid_extract_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite:{}",
        tmp.path().join("data/concord.sqlite").display()
    );
    killed_mid_extract(tmp.path(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_broker_killed_mid_extract_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = PgDatabase::create().await;
    killed_mid_extract(tmp.path(), &db.url).await;
}
