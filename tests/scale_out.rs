//! Scale-out: two broker processes' worth of brokers (each its own store
//! pool, linker, audit writer and gRPC server) on one PostgreSQL database
//! ingest and answer lookups at the same time. Nothing is lost or
//! duplicated, one linker links every extract whichever broker committed
//! it, both brokers see the same people, the audit log of both verifies,
//! and when the linking broker's lease is lost the other takes over.
//!
//! PostgreSQL only: SQLite serves one broker process (ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet};

use concord_client::{Extract, push_extract};
use concord_core::KeyName;
use concord_e2e::{Db, TestBroker};
use concord_proto::v1::{self, lookup_client::LookupClient};
use sqlx::Connection;

/// People known to every source pushed here.
const PEOPLE: u32 = 120;

/// Each source pushed in the test, its push agent, a record kind, and which
/// broker (0 = first, 1 = sibling) it pushes to.
const PUSHES: [(v1::Source, &str, v1::RecordKind, usize); 6] = [
    (v1::Source::Police, "mps-cw-push", v1::RecordKind::Crime, 0),
    (
        v1::Source::Probation,
        "hmpps-probation-push",
        v1::RecordKind::Supervision,
        1,
    ),
    (
        v1::Source::YouthJustice,
        "rbkc-yjs-push",
        v1::RecordKind::YouthOffence,
        0,
    ),
    (
        v1::Source::Housing,
        "rbkc-housing-push",
        v1::RecordKind::HousingIncident,
        1,
    ),
    (
        v1::Source::ChildrensServices,
        "rbkc-childrens-push",
        v1::RecordKind::Referral,
        0,
    ),
    (
        v1::Source::CommunitySafety,
        "rbkc-community-safety-push",
        v1::RecordKind::ServiceContact,
        1,
    ),
];

fn digest(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

/// Person `p`'s tokens as every agency computes them (a stand-in for the
/// agencies' HMAC: distinct people give distinct tokens). Only pair keys,
/// so linking takes the deterministic cascade, not a strong key alone.
fn tokens(tb: &TestBroker, p: u32) -> Vec<v1::MatchKeyToken> {
    [KeyName::SnDob, KeyName::FnDob, KeyName::FnSn, KeyName::SnPc]
        .into_iter()
        .map(|k| v1::MatchKeyToken {
            key_name: k.as_str().into(),
            key_id: tb.linkage_key_id.clone(),
            token: digest(&[k.as_str().as_bytes(), &p.to_be_bytes()]),
        })
        .collect()
}

fn record(tb: &TestBroker, source: v1::Source, kind: v1::RecordKind, p: u32) -> v1::Record {
    v1::Record {
        source: source as i32,
        source_ref: digest(&[source.as_str_name().as_bytes(), &p.to_be_bytes()]),
        kind: kind as i32,
        role: v1::PersonRole::Subject as i32,
        event_date: format!("2026-10-{:02}", 1 + p % 28),
        event_date_precision: v1::DatePrecision::Day as i32,
        ward_code: "E05009391".into(),
        tokens: tokens(tb, p),
        ..Default::default()
    }
}

/// A snapshot of October from `source` holding people `0..people`.
fn extract(
    tb: &TestBroker,
    source: v1::Source,
    kind: v1::RecordKind,
    id: &str,
    people: u32,
) -> Extract {
    let header = v1::ExtractHeader {
        extract_id: id.into(),
        source: source as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        // Community safety sends two data sets; these are service contacts.
        data_set: if source == v1::Source::CommunitySafety {
            "youth_services".into()
        } else {
            String::new()
        },
        ..Default::default()
    };
    let records = (0..people).map(|p| record(tb, source, kind, p)).collect();
    Extract::new(header, records, vec![], 40)
}

/// Person `p`'s lookup for a MASH case.
fn ask(tb: &TestBroker, p: u32) -> v1::FindPersonRequest {
    v1::FindPersonRequest {
        tokens: tokens(tb, p),
        purpose: "safeguarding_children".into(),
        case_ref: "MASH-2026-0042".into(),
        reason: String::new(),
    }
}

/// Record id → person id, as stored, and the records with tokens.
async fn stored_linkage(tb: &TestBroker) -> (BTreeMap<i64, i64>, i64, i64) {
    let mut conn = sqlx::PgConnection::connect(tb.database_url())
        .await
        .expect("connect");
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT record_id, person_id FROM record_person")
        .fetch_all(&mut conn)
        .await
        .expect("record_person");
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM records")
        .fetch_one(&mut conn)
        .await
        .expect("records");
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM link_queue")
        .fetch_one(&mut conn)
        .await
        .expect("link_queue");
    (rows.into_iter().collect(), records, queued)
}

/// Waits (no sleeping) until `tb`'s linker reflects stored version `v`.
async fn wait_version(tb: &TestBroker, v: i64) {
    let mut w = tb.broker.linkage.watch_version();
    tokio::time::timeout(std::time::Duration::from_secs(60), w.wait_for(|n| *n >= v))
        .await
        .expect("the broker catches up with the stored linkage")
        .expect("linker running");
}

async fn stored_version(tb: &TestBroker) -> i64 {
    tb.store.linkage_version().await.expect("version")
}

/// Lookups of everyone through `tb`: the person pseudonym and the sources
/// each is known to, for those matched.
async fn views(tb: &TestBroker) -> BTreeMap<u32, (String, BTreeSet<i32>)> {
    let mut client = LookupClient::new(tb.channel("mash-officer-1").await);
    let mut out = BTreeMap::new();
    for p in 0..PEOPLE {
        let r = client
            .find_person(ask(tb, p))
            .await
            .unwrap_or_else(|e| panic!("lookup {p}: {e}"))
            .into_inner();
        if r.matched {
            let sources = r.sources.iter().map(|s| s.source).collect();
            out.insert(p, (r.person_pseudonym, sources));
        }
    }
    out
}

pub mod two_brokers_on_one_postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let a = TestBroker::start(Db::Postgres).await;
        let b = a.sibling().await;
        let brokers = [&a, &b];
        assert!(
            a.broker.linkage.is_leader() && !b.broker.linkage.is_leader(),
            "the first broker holds the linker's lease, the second does not"
        );

        // Every source pushes through its broker while both answer lookups.
        let pushes = PUSHES.iter().map(|(source, agent, kind, via)| {
            let tb = brokers[*via];
            async move {
                let id = format!("{}-2026-10", source.as_str_name().to_lowercase());
                push_extract(
                    tb.channel(agent).await,
                    extract(tb, *source, *kind, &id, PEOPLE),
                )
                .await
                .unwrap_or_else(|e| panic!("{agent} pushes through broker {via}: {e}"))
                .into_inner()
            }
        });
        let lookups = brokers.map(|tb| async move {
            let mut client = LookupClient::new(tb.channel("mash-officer-1").await);
            for p in 0..40 {
                client
                    .find_person(ask(tb, p))
                    .await
                    .unwrap_or_else(|e| panic!("a lookup during ingest fails: {e}"));
            }
        });
        let (receipts, _) = tokio::join!(
            futures::future::join_all(pushes),
            futures::future::join_all(lookups)
        );
        for r in &receipts {
            assert_eq!(r.records_stored, u64::from(PEOPLE), "{}", r.extract_id);
        }

        // The leader links every extract, whichever broker committed it.
        a.wait_linked(PUSHES.len() as u64).await;
        assert_eq!(
            b.broker.linkage.watch_runs().borrow().to_owned(),
            0,
            "the follower ran no linkage job"
        );
        let (assigned, records, queued) = stored_linkage(&a).await;
        assert_eq!(queued, 0, "nothing left in the linkage queue");
        assert_eq!(
            records,
            i64::from(PEOPLE) * PUSHES.len() as i64,
            "nothing lost or duplicated"
        );
        assert_eq!(assigned.len() as i64, records, "every record linked once");
        let people: BTreeSet<i64> = assigned.values().copied().collect();
        assert_eq!(
            people.len() as u32,
            PEOPLE,
            "one person per synthetic person"
        );
        // The records of a person share one id: group stored ids by person.
        let mut conn = sqlx::PgConnection::connect(a.database_url()).await.unwrap();
        let sizes: Vec<i64> = sqlx::query_scalar(
            "SELECT count(DISTINCT r.source) FROM record_person p JOIN records r ON r.id = p.record_id GROUP BY p.person_id",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(
            sizes.iter().all(|&n| n == PUSHES.len() as i64),
            "each person is known to every source: {sizes:?}"
        );

        // Both brokers reflect the stored linkage and answer the same.
        let v = stored_version(&a).await;
        wait_version(&b, v).await;
        let (from_a, from_b) = (views(&a).await, views(&b).await);
        assert_eq!(
            from_a.len() as u32,
            PEOPLE,
            "everyone is found through the first broker"
        );
        assert_eq!(from_a, from_b, "both brokers give the same person views");

        // The linking broker loses its lease (its connection ends, as when
        // it crashes): the other takes over and links what is pushed next.
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = 17231 AND objid = 19531 AND objsubid = 2",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(killed, [true], "one broker held the linker's advisory lock");
        let mut leader = b.broker.linkage.watch_runs();
        // A replacement snapshot with one more person.
        let ex = extract(
            &a,
            v1::Source::Police,
            v1::RecordKind::Crime,
            "police-2026-10b",
            PEOPLE + 1,
        );
        push_extract(a.channel("mps-cw-push").await, ex)
            .await
            .expect("the police push a replacement snapshot through the first broker");
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            leader.wait_for(|n| *n >= 1),
        )
        .await
        .expect("the second broker takes the lease and links")
        .unwrap();
        assert!(
            b.broker.linkage.is_leader(),
            "the second broker holds the lease now"
        );
        let (assigned, records, queued) = stored_linkage(&a).await;
        assert_eq!(queued, 0);
        assert_eq!(records, i64::from(PEOPLE) * PUSHES.len() as i64 + 1);
        assert_eq!(
            assigned.len() as i64,
            records,
            "replacements relinked, removed rows forgotten"
        );
        let v = stored_version(&b).await;
        wait_version(&a, v).await;
        assert_eq!(views(&a).await, views(&b).await, "still the same answers");

        // The audit log both brokers wrote is one chain that verifies.
        let stored = concord_server::audit::read_stored_log(&a.store)
            .await
            .unwrap();
        let report = concord_audit::verify_log(
            &stored.events,
            &stored.checkpoints,
            &a.broker.audit.public_key(),
        )
        .expect("the shared audit log verifies");
        assert!(report.events >= (PUSHES.len() + 2 * 40 + 4 * PEOPLE as usize) as u64);

        b.stop().await;
        a.stop().await;
    }
}

/// `concord_linker_leader` as `tb`'s metrics render it.
async fn leader_gauge(tb: &TestBroker) -> Option<f64> {
    let body = tb.broker.metrics.render(&tb.broker).await;
    body.lines()
        .find_map(|l| l.strip_prefix("concord_linker_leader "))
        .map(|v| v.trim().parse().expect("a number"))
}

pub mod the_linker_holder_is_visible_and_its_successor_within_two_seconds {
    use super::*;
    use concord_store::LinkerHolder;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        // The holder runs on a runtime of its own, so that it can be killed
        // whole: every task and connection of it gone at once, as when its
        // process is.
        let (holder_rt, a) = std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("the holder's runtime");
            let a = rt.block_on(TestBroker::start(Db::Postgres));
            (rt, a)
        })
        .join()
        .expect("the holder starts");
        let b = a.sibling().await;

        // Visible: the gauge on each replica, and the database names the holder.
        assert!(a.broker.linkage.is_leader() && !b.broker.linkage.is_leader());
        assert_ne!(a.broker.linkage.name(), b.broker.linkage.name());
        assert_eq!(leader_gauge(&a).await, Some(1.0), "the holder's gauge");
        assert_eq!(leader_gauge(&b).await, Some(0.0), "the follower's gauge");
        assert_eq!(
            b.store.linker_holder().await.unwrap(),
            LinkerHolder::Replica(a.broker.linkage.name().to_owned()),
            "every replica can say who runs the linker"
        );

        // The holder is killed.
        let killed = std::time::Instant::now();
        std::thread::spawn(move || drop(holder_rt))
            .join()
            .expect("the holder's runtime stops");
        let successor = async {
            while leader_gauge(&b).await != Some(1.0) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(2), successor)
            .await
            .expect("the successor's gauge is 1 within 2 s of the holder's death");
        eprintln!(
            "linker failover: the successor's gauge is 1 {:?} after the holder was killed",
            killed.elapsed()
        );
        assert!(b.broker.linkage.is_leader());
        assert_eq!(
            b.store.linker_holder().await.unwrap(),
            LinkerHolder::Replica(b.broker.linkage.name().to_owned())
        );

        // The successor links what is pushed next.
        let ex = extract(
            &b,
            v1::Source::Police,
            v1::RecordKind::Crime,
            "police-2026-10",
            PEOPLE,
        );
        push_extract(b.channel("mps-cw-push").await, ex)
            .await
            .expect("the police push through the successor");
        b.wait_linked(1).await;
        let (assigned, records, queued) = stored_linkage(&b).await;
        assert_eq!((queued, records), (0, i64::from(PEOPLE)));
        assert_eq!(assigned.len() as i64, records);

        b.stop().await;
        // `a` last: its database is the test's.
        drop(a);
    }
}
