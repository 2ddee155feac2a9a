//! The Prometheus endpoint end to end, against SQLite and PostgreSQL: real
//! pushes and lookups over mTLS, then `GET /metrics` over real HTTP.

use std::collections::BTreeMap;

use concord_client::{Extract, push_extract};
use concord_core::KeyName;
use concord_e2e::{Db, TestBroker, both_stores, police_crime, token};
use concord_proto::v1::{self, lookup_client::LookupClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

const POLICE: &str = "mps-cw-push";

fn record(tb: &TestBroker, i: u32) -> v1::Record {
    let date = format!("2026-10-{:02}", 1 + i);
    v1::Record {
        lsoa_code: String::new(),
        ..police_crime(
            tb,
            i,
            &date,
            &[KeyName::SnDob, KeyName::FnDob, KeyName::Pnc],
        )
    }
}

fn header(tb: &TestBroker, id: &str, source: v1::Source) -> v1::ExtractHeader {
    v1::ExtractHeader {
        extract_id: id.into(),
        source: source as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    }
}

/// The broker's metrics port on 127.0.0.1 port 0; notify `stop` to end it.
async fn serve_metrics(
    tb: &TestBroker,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<tokio::sync::Notify>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let server = tokio::spawn(concord_server::metrics::serve(
        listener,
        tb.broker.clone(),
        async move { stopped.notified().await },
    ));
    (addr, stop, server)
}

/// `GET /metrics` over a plain TCP connection; the body.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

/// The value of `name` with exactly `labels` in the text exposition.
fn value(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<&str, &str> = labels.iter().copied().collect();
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, v) = line.rsplit_once(' ')?;
            let (n, got) = match series.split_once('{') {
                Some((n, rest)) => {
                    let inner = rest.strip_suffix('}')?;
                    let got: BTreeMap<&str, &str> = inner
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let (k, v) = p.split_once('=').expect("label=value");
                            (k, v.trim_matches('"'))
                        })
                        .collect();
                    (n, got)
                }
                None => (series, BTreeMap::new()),
            };
            (n == name && got == want).then(|| v.parse().expect("a number"))
        })
}

both_stores!(
    pushes_and_lookups_are_counted_by_org_source_and_outcome,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let (addr, stop, server) = serve_metrics(&tb).await;

        // Before anything: the series with labels are absent, gauges are there.
        let body = scrape(addr).await;
        // One broker on its database runs the linker (SQLite: always).
        assert!(tb.broker.linkage.is_leader());
        assert_eq!(
            value(&body, "concord_linker_leader", &[]),
            Some(1.0),
            "{body}"
        );
        assert_eq!(
            value(
                &body,
                "concord_ingest_extracts_total",
                &[
                    ("org", "mps-cw"),
                    ("source", "police"),
                    ("outcome", "accepted")
                ]
            ),
            None
        );

        // Accepted (5 records), then the same again (duplicate), then a
        // source the police may not push (refused), then an invalid one.
        let recs: Vec<v1::Record> = (0..5).map(|i| record(&tb, i)).collect();
        let h = header(&tb, "police-2026-10", v1::Source::Police);
        for _ in 0..2 {
            push_extract(
                tb.channel(POLICE).await,
                Extract::new(h.clone(), recs.clone(), vec![], 10),
            )
            .await
            .expect("the police push");
        }
        let err = push_extract(
            tb.channel(POLICE).await,
            Extract::new(
                header(&tb, "health-2026-10", v1::Source::Health),
                recs.clone(),
                vec![],
                10,
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        let mut bad = recs.clone();
        bad[0].ward_code = "nowhere".into();
        let err = push_extract(
            tb.channel(POLICE).await,
            Extract::new(
                header(&tb, "police-2026-10b", v1::Source::Police),
                bad,
                vec![],
                10,
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        tb.wait_linked(1).await;

        // One allowed lookup and one the policy refuses (an analyst).
        let ask = v1::FindPersonRequest {
            tokens: vec![token(&tb, KeyName::Pnc, 0)],
            purpose: "safeguarding_children".into(),
            case_ref: "MASH-2026-0042".into(),
            reason: String::new(),
        };
        LookupClient::new(tb.channel("mash-officer-1").await)
            .find_person(ask.clone())
            .await
            .expect("a MASH officer's lookup is answered");
        let err = LookupClient::new(tb.channel("analyst-1").await)
            .find_person(ask)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

        let body = scrape(addr).await;
        let extracts = |source: &str, outcome: &str| {
            value(
                &body,
                "concord_ingest_extracts_total",
                &[("org", "mps-cw"), ("source", source), ("outcome", outcome)],
            )
        };
        assert_eq!(extracts("police", "accepted"), Some(1.0), "{body}");
        assert_eq!(extracts("police", "duplicate"), Some(1.0), "{body}");
        assert_eq!(extracts("health", "refused"), Some(1.0), "{body}");
        assert_eq!(extracts("police", "invalid"), Some(1.0), "{body}");
        assert_eq!(extracts("police", "failed"), None, "{body}");
        assert_eq!(
            value(
                &body,
                "concord_ingest_records_total",
                &[("org", "mps-cw"), ("source", "police")]
            ),
            Some(5.0),
            "only the accepted extract's records count: {body}"
        );
        let lookups = |org: &str, outcome: &str| {
            value(
                &body,
                "concord_lookup_decisions_total",
                &[("org", org), ("outcome", outcome)],
            )
        };
        assert_eq!(lookups("rbkc-childrens", "allowed"), Some(1.0), "{body}");
        assert_eq!(
            lookups("rbkc-community-safety", "refused"),
            Some(1.0),
            "{body}"
        );
        assert_eq!(
            value(
                &body,
                "concord_lookup_duration_seconds_count",
                &[("org", "rbkc-childrens")]
            ),
            Some(1.0),
            "{body}"
        );
        // The allowed lookup read its person's records, in one query.
        assert_eq!(
            value(&body, "concord_lookup_record_reads_total", &[]),
            Some(1.0),
            "{body}"
        );
        assert_eq!(
            value(&body, "concord_lookup_record_read_queries_total", &[]),
            Some(1.0),
            "{body}"
        );
        // Every push and lookup decision above was audited.
        let audited = value(&body, "concord_audit_log_size", &[]).expect("audit gauge");
        assert!(audited >= 6.0, "{audited}");
        assert_eq!(audited, tb.broker.audit.size() as f64);
        let pending = tb.store.reviews(true).await.unwrap().len();
        assert_eq!(
            value(&body, "concord_linkage_reviews_pending", &[]),
            Some(pending as f64)
        );
        // Labels are org, source and outcome only: no user, no case reference.
        for leak in ["mps-cw-push", "mash-officer-1", "analyst-1", "MASH-2026"] {
            assert!(!body.contains(leak), "{leak} in the metrics");
        }

        stop.notify_one();
        server.await.unwrap().unwrap();
        tb.stop().await;
    }
);

both_stores!(
    the_metrics_port_answers_grpc_health_in_plain_text_for_probes,
    |db: Db| async move {
        use tonic_health::pb::{
            HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
        };
        let tb = TestBroker::start(db).await;
        let (addr, stop, server) = serve_metrics(&tb).await;
        // What the kubelet's `grpc:` probe does: cleartext HTTP/2, no certificate.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("the metrics port takes cleartext HTTP/2");
        let mut health = HealthClient::new(channel.clone());
        let checker = health.clone();
        let status = move |service: &str| {
            let mut health = checker.clone();
            let service = service.to_owned();
            async move {
                health
                    .check(HealthCheckRequest { service })
                    .await
                    .map(|r| r.into_inner().status)
            }
        };
        assert_eq!(status("").await.unwrap(), ServingStatus::Serving as i32);
        assert_eq!(
            status(concord_server::LIVENESS_SERVICE).await.unwrap(),
            ServingStatus::Serving as i32,
            "the liveness name"
        );
        assert_eq!(
            status("concord.v1.Lookup").await.unwrap(),
            ServingStatus::Serving as i32,
            "the same statuses as the mTLS port"
        );
        assert_eq!(
            status("concord.v1.Nothing").await.unwrap_err().code(),
            tonic::Code::NotFound
        );
        // Only health: no Concord service answers here.
        let mut lookup = concord_proto::v1::lookup_client::LookupClient::new(channel);
        let refused = lookup
            .find_person(concord_proto::v1::FindPersonRequest::default())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unimplemented, "{refused}");
        // Still plain HTTP/1.1 for Prometheus.
        assert!(scrape(addr).await.contains("concord_audit_log_size"));
        // The store stops answering: the overall status says so.
        // (Closing marks the pool closed at once, then waits for the
        // connections the broker holds, which it never returns here.)
        let store = tb.store.clone();
        tokio::spawn(async move { store.close().await });
        let mut watch = health
            .watch(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let mut seen = Vec::new();
        while let Some(update) =
            tokio::time::timeout(std::time::Duration::from_secs(30), watch.message())
                .await
                .expect("readiness reports the store within its interval")
                .unwrap()
        {
            seen.push(update.status);
            if update.status == ServingStatus::NotServing as i32 {
                break;
            }
        }
        assert_eq!(
            seen.last(),
            Some(&(ServingStatus::NotServing as i32)),
            "{seen:?}"
        );
        // Every Concord service with it (readiness); the health service's
        // own name stays SERVING (liveness: no restart for a database outage).
        assert_eq!(
            status("concord.v1.Lookup").await.unwrap(),
            ServingStatus::NotServing as i32
        );
        assert_eq!(
            status("concord.v1.Ingest").await.unwrap(),
            ServingStatus::NotServing as i32
        );
        assert_eq!(
            status(concord_server::LIVENESS_SERVICE).await.unwrap(),
            ServingStatus::Serving as i32
        );
        // A graceful stop waits for open connections: close the clients'.
        drop((watch, status, health, lookup));
        stop.notify_one();
        server.await.unwrap().unwrap();
    }
);
