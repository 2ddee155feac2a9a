//! mTLS is always on: a connection with no client certificate, a
//! certificate from another CA, or an expired one is refused at the
//! handshake, before any service is reached. Checked with a raw rustls
//! client, so the refusal is seen as the TLS alert it is.

use std::sync::Arc;

use concord_e2e::{Db, TestBroker, Web};
use concord_pki::{CertificateAuthority, Identity, Validity};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

fn roots(tb: &TestBroker) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&tb.pki.ca_cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    roots
}

fn with_identity(tb: &TestBroker, cert_pem: &str, key_pem: &str) -> ClientConfig {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let mut c = ClientConfig::builder()
        .with_root_certificates(roots(tb))
        .with_client_auth_cert(certs, key)
        .unwrap();
    c.alpn_protocols = vec![b"h2".to_vec()];
    c
}

/// Connects, completes the client side of the handshake, sends the HTTP/2
/// preface and reads: returns the error that ended the connection, if any.
async fn attempt(tb: &TestBroker, config: ClientConfig) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(tb.addr).await.unwrap();
    let connector = TlsConnector::from(Arc::new(config));
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    match tls.read(&mut buf).await {
        Ok(0) => Err("closed".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

fn identity() -> Identity {
    Identity {
        org: "mps-cw".into(),
        role: "push_agent".into(),
        user: "mps-cw-push".into(),
    }
}

#[tokio::test]
async fn a_partnership_certificate_is_accepted() {
    let tb = TestBroker::start(Db::Sqlite).await;
    let cert = std::fs::read_to_string(tb.pki.client_cert("mps-cw-push")).unwrap();
    let key = std::fs::read_to_string(tb.pki.client_key("mps-cw-push")).unwrap();
    attempt(&tb, with_identity(&tb, &cert, &key))
        .await
        .expect("the server speaks HTTP/2 to a partnership client");
    tb.stop().await;
}

#[tokio::test]
async fn no_client_certificate_is_refused_at_the_handshake() {
    let tb = TestBroker::start(Db::Sqlite).await;
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots(&tb))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let err = attempt(&tb, config).await.unwrap_err();
    assert!(err.contains("CertificateRequired"), "{err}");
    tb.stop().await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_at_the_handshake() {
    let tb = TestBroker::start(Db::Sqlite).await;
    let rogue = CertificateAuthority::generate("Rogue CA").unwrap();
    let issued = rogue
        .issue_client(&identity(), Validity::days_from_now(30))
        .unwrap();
    let err = attempt(&tb, with_identity(&tb, &issued.cert_pem, &issued.key_pem))
        .await
        .unwrap_err();
    assert!(
        err.contains("UnknownCA") || err.contains("BadCertificate"),
        "{err}"
    );
    tb.stop().await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused_at_the_handshake() {
    let tb = TestBroker::start(Db::Sqlite).await;
    let ca = CertificateAuthority::from_pem(
        &std::fs::read_to_string(&tb.pki.ca_cert).unwrap(),
        &std::fs::read_to_string(&tb.pki.ca_key).unwrap(),
    )
    .unwrap();
    let issued = ca.issue_client(&identity(), Validity::expired()).unwrap();
    let err = attempt(&tb, with_identity(&tb, &issued.cert_pem, &issued.key_pem))
        .await
        .unwrap_err();
    assert!(err.contains("CertificateExpired"), "{err}");
    tb.stop().await;
}

#[tokio::test]
async fn health_and_reflection_answer_over_mtls() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let tb = TestBroker::start(Db::Sqlite).await;
    let channel = tb.channel("mps-cw-push").await;
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "concord.v1.Ingest".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let first = responses
        .message()
        .await
        .unwrap()
        .expect("a reflection answer");
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("not a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in CONCORD_SERVICES {
        assert!(names.iter().any(|n| n == service), "{service}: {names:?}");
    }
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.reflection.v1.ServerReflection".to_owned()),
        "{names:?}"
    );
    tb.stop().await;
}

/// Every service in `concord.v1`, as reflection should list it.
const CONCORD_SERVICES: [&str; 6] = [
    "concord.v1.Ingest",
    "concord.v1.Linkage",
    "concord.v1.Lookup",
    "concord.v1.Insights",
    "concord.v1.Audit",
    "concord.v1.DashboardAccess",
];

/// Older grpcurl and grpcio-reflection speak only reflection v1alpha.
#[tokio::test]
async fn reflection_v1alpha_answers_over_mtls() {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let tb = TestBroker::start(Db::Sqlite).await;
    let channel = tb.channel("mps-cw-push").await;
    let requests = [
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "concord.v1.Ingest".into(),
            )),
        },
    ];
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let first = responses
        .message()
        .await
        .unwrap()
        .expect("a reflection answer");
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("not a service list: {first:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in CONCORD_SERVICES {
        assert!(names.iter().any(|n| n == service), "{service}: {names:?}");
    }
    assert!(
        names.contains(&"grpc.reflection.v1alpha.ServerReflection".to_owned()),
        "{names:?}"
    );
    // And the descriptors behind them, which is what grpcurl needs to call one.
    let second = responses
        .message()
        .await
        .unwrap()
        .expect("a second reflection answer");
    let Some(MessageResponse::FileDescriptorResponse(files)) = second.message_response else {
        panic!("not a file descriptor: {second:?}")
    };
    assert!(!files.file_descriptor_proto.is_empty());
    tb.stop().await;
}

// ---------------------------------------------------------------------------
// Revocation reaches connections already open and dashboard sessions

use concord_client::{Extract, push_extract};
use concord_core::KeyName;
use concord_e2e::{both_stores, police_crime};
use concord_proto::v1;

/// A police snapshot of October 2026 with three records.
fn police_extract(tb: &TestBroker, id: &str) -> Extract {
    let header = v1::ExtractHeader {
        extract_id: id.into(),
        source: v1::Source::Police as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    };
    let records = (0..3)
        .map(|i| police_crime(tb, i, "2026-10-05", &[KeyName::Pnc, KeyName::SnDob]))
        .collect();
    Extract::new(header, records, vec![], 100)
}

/// The refusal every request of a revoked certificate gets: UNAUTHENTICATED
/// (its credentials are no longer valid; PERMISSION_DENIED would say the
/// caller is known and merely not allowed), naming the serial.
fn assert_revoked(status: &tonic::Status, serial_hex: &str) {
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert_eq!(
        status.message(),
        format!(
            "certificate {serial_hex} was revoked by the partnership; ask the partnership's PKI \
             administrator for a new one"
        ),
        "{status:?}"
    );
}

/// `name{labels} value` of the broker's metrics, 0 if absent.
async fn metric(tb: &TestBroker, series: &str) -> u64 {
    let text = tb.broker.metrics.render(&tb.broker).await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

both_stores!(
    a_channel_opened_before_revocation_is_refused_from_the_next_request,
    |db| async move {
        let tb = TestBroker::start(db).await;
        let police = tb.channel("mps-cw-push").await;
        let analyst = tb.channel("analyst-1").await;
        push_extract(police.clone(), police_extract(&tb, "before-revoke"))
            .await
            .expect("accepted before revocation");
        assert_eq!(tb.store.count_records(None).await.unwrap(), 3);

        let outcome = concord_pki::revoke(tb.pki.ca_cert.parent().unwrap(), "mps-cw-push")
            .expect("pki revoke");
        // Written but not yet read: the broker still serves the certificate.
        let still = tonic_health::pb::health_client::HealthClient::new(police.clone())
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await;
        assert!(still.is_ok(), "{still:?}");

        tb.reload_tls();
        // The same channel (the same HTTP/2 connection): every kind of
        // request is refused, each time with the same words.
        let refused = push_extract(police.clone(), police_extract(&tb, "after-revoke"))
            .await
            .expect_err("a revoked certificate pushes nothing");
        assert_revoked(&refused, &outcome.serial_hex);
        assert_eq!(
            tb.store.count_records(None).await.unwrap(),
            3,
            "nothing of the refused push was stored"
        );
        let refused = v1::ingest_client::IngestClient::new(police.clone())
            .get_extract(v1::GetExtractRequest {
                extract_id: "before-revoke".into(),
                source: v1::Source::Police as i32,
            })
            .await
            .expect_err("nor reads an extract's status");
        assert_revoked(&refused, &outcome.serial_hex);
        let refused = tonic_health::pb::health_client::HealthClient::new(police.clone())
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .expect_err("nor any other service");
        assert_revoked(&refused, &outcome.serial_hex);
        assert_eq!(
            metric(
                &tb,
                "concord_revoked_certificate_refusals_total{org=\"mps-cw\",port=\"grpc\"}"
            )
            .await,
            3,
            "every refusal is counted"
        );

        // Another user's connection, open all along, is still served.
        tonic_health::pb::health_client::HealthClient::new(analyst)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .expect("another certificate is unaffected");
        // A new connection with the revoked certificate fails at the handshake.
        let cert = std::fs::read_to_string(tb.pki.client_cert("mps-cw-push")).unwrap();
        let key = std::fs::read_to_string(tb.pki.client_key("mps-cw-push")).unwrap();
        let err = attempt(&tb, with_identity(&tb, &cert, &key))
            .await
            .unwrap_err();
        assert!(err.contains("CertificateRevoked"), "{err}");
        tb.stop().await;
    }
);

/// A browser's view of the dashboard, over plain HTTPS.
trait Browser {
    async fn send(&self, tb: &TestBroker, request: &str) -> (u16, Vec<(String, String)>, String);
    async fn dashboard(&self, tb: &TestBroker, cookie: &str) -> (u16, String);
    async fn sign_in(&self, tb: &TestBroker, path: &str) -> (u16, Option<String>, String);
}

impl Browser for Web {
    /// One HTTP/1.1 request over TLS (trusting the test CA, no client
    /// certificate, as a browser): (status, headers, body).
    async fn send(&self, tb: &TestBroker, request: &str) -> (u16, Vec<(String, String)>, String) {
        let config = ClientConfig::builder()
            .with_root_certificates(roots(tb))
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let mut tls = TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw).await;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("an HTTP status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        (status, headers, body.to_owned())
    }

    async fn dashboard(&self, tb: &TestBroker, cookie: &str) -> (u16, String) {
        let port = self.port;
        let (status, _, body) = self
            .send(
                tb,
                &format!(
                    "GET /dashboard?period=2026-10 HTTP/1.1\r\nHost: localhost:{port}\r\n\
                     Cookie: {cookie}\r\nConnection: close\r\n\r\n"
                ),
            )
            .await;
        (status, body)
    }

    /// Posts the sign-in form for `path` (`/login?token=…`): (status,
    /// the session cookie `name=value` if one was set, body).
    async fn sign_in(&self, tb: &TestBroker, path: &str) -> (u16, Option<String>, String) {
        let token = path.strip_prefix("/login?token=").expect("a sign-in path");
        let form = format!("token={token}");
        let port = self.port;
        let (status, headers, body) = self
            .send(
                tb,
                &format!(
                    "POST /login HTTP/1.1\r\nHost: localhost:{port}\r\nSec-Fetch-Site: \
                     same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
                    form.len()
                ),
            )
            .await;
        let cookie = headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .find(|c| c.starts_with("__Host-concord-session=") && c.len() > 30)
            .map(str::to_owned);
        (status, cookie, body)
    }
}

async fn sign_in_link(tb: &TestBroker, user: &str) -> String {
    v1::dashboard_access_client::DashboardAccessClient::new(tb.channel(user).await)
        .dashboard_link(v1::DashboardLinkRequest {
            period: "2026-10".into(),
        })
        .await
        .expect("a sign-in link")
        .into_inner()
        .path
}

both_stores!(
    a_dashboard_session_signed_in_before_revocation_ends_after_it,
    |db| async move {
        let tb = TestBroker::start(db).await;
        push_extract(
            tb.channel("mps-cw-push").await,
            police_extract(&tb, "figures"),
        )
        .await
        .expect("police push");
        let web = tb.start_web().await;

        let (status, cookie, body) = web
            .sign_in(&tb, &sign_in_link(&tb, "analyst-1").await)
            .await;
        assert_eq!(status, 303, "{body}");
        let cookie = cookie.expect("a session cookie");
        // Another user's session, and a link issued but not yet used.
        let (_, board, _) = web
            .sign_in(&tb, &sign_in_link(&tb, "board-member-1").await)
            .await;
        let board = board.expect("a session cookie");
        let unused = sign_in_link(&tb, "analyst-1").await;
        let (status, body) = web.dashboard(&tb, &cookie).await;
        assert_eq!(status, 200, "{body}");

        let outcome =
            concord_pki::revoke(tb.pki.ca_cert.parent().unwrap(), "analyst-1").expect("pki revoke");
        tb.reload_tls();

        let (status, body) = web.dashboard(&tb, &cookie).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body.contains("Your session has ended: your certificate was revoked"),
            "{body}"
        );
        assert!(
            body.contains(&format!(
                "certificate {} was revoked by the partnership",
                outcome.serial_hex
            )),
            "{body}"
        );
        assert!(
            !body.contains("analyst-1"),
            "no user name on the page: {body}"
        );
        // The session is gone, not merely hidden.
        let (status, body) = web.dashboard(&tb, &cookie).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("You are not signed in"), "{body}");
        // The link the analyst asked for before revocation signs no one in.
        let (status, cookie, body) = web.sign_in(&tb, &unused).await;
        assert_eq!(status, 401, "{body}");
        assert!(cookie.is_none(), "no session for a revoked certificate");
        assert!(body.contains("was revoked by the partnership"), "{body}");
        assert_eq!(
            metric(
                &tb,
                "concord_revoked_certificate_refusals_total{org=\"rbkc-community-safety\",port=\"web\"}"
            )
            .await,
            2
        );
        // The board member's session goes on.
        let (status, body) = web.dashboard(&tb, &board).await;
        assert_eq!(status, 200, "{body}");
        web.stop().await;
        tb.stop().await;
    }
);

both_stores!(
    a_push_streaming_when_the_crl_is_read_commits_nothing,
    |db| async move {
        let limits = concord_server::Limits {
            write_chunk_records: 1,
            ..concord_server::Limits::default()
        };
        let tb = TestBroker::start_with(db, limits).await;
        let extract = Extract::new(
            police_extract(&tb, "in-flight").header,
            (0..4)
                .map(|i| police_crime(&tb, i, "2026-10-05", &[KeyName::Pnc]))
                .collect(),
            vec![],
            2,
        );
        let (tx, rx) = tokio::sync::mpsc::channel::<v1::PushExtractRequest>(4);
        let call = tokio::spawn({
            let channel = tb.channel("mps-cw-push").await;
            async move {
                v1::ingest_client::IngestClient::new(channel)
                    .push_extract(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await
            }
        });
        let mut messages = Box::pin(extract.messages());
        use tokio_stream::StreamExt as _;
        // The header and the first batch: the broker is writing them.
        for _ in 0..2 {
            tx.send(messages.next().await.unwrap()).await.unwrap();
        }
        let mut uncommitted = tb.broker.watch_uncommitted();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            uncommitted.wait_for(|n| *n >= 2),
        )
        .await
        .expect("the first batch is being written")
        .unwrap();

        let outcome = concord_pki::revoke(tb.pki.ca_cert.parent().unwrap(), "mps-cw-push")
            .expect("pki revoke");
        tb.reload_tls();
        // The rest of the extract, then its end.
        while let Some(m) = messages.next().await {
            tx.send(m).await.unwrap();
        }
        drop(tx);
        let refused = call
            .await
            .unwrap()
            .expect_err("a push whose end arrives after the CRL was read is refused");
        // The same refusal as every other request of the certificate.
        assert_revoked(&refused, &outcome.serial_hex);
        assert_eq!(
            tb.store.count_records(None).await.unwrap(),
            0,
            "nothing committed"
        );
        assert_eq!(
            metric(
                &tb,
                "concord_revoked_certificate_refusals_total{org=\"mps-cw\",port=\"grpc\"}"
            )
            .await,
            1
        );
        tb.stop().await;
    }
);
