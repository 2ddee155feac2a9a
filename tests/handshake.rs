//! mTLS is always on: a connection with no client certificate, a
//! certificate from another CA, or an expired one is refused at the
//! handshake, before any service is reached. Checked with a raw rustls
//! client, so the refusal is seen as the TLS alert it is.

use std::sync::Arc;

use concord_e2e::{Db, TestBroker};
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
