//! mTLS, always on. The broker runs its own rustls acceptor (rather than
//! tonic's) so that client authentication is strict and in our hands: a
//! connection with no client certificate, one from another CA, or an
//! expired one is refused at the handshake and never reaches a service.
//! Handshakes run concurrently, each with a time limit, and only completed
//! TLS streams are handed to tonic.
//!
//! Revocation reaches open connections too. A connection outlives the CRL
//! it was accepted under, so [`RevocationLayer`] looks up every request's
//! client certificate in the revocation set the broker read last
//! ([`Revocations`], replaced with the TLS configuration by
//! [`ServerTls::replace`]) and refuses a revoked one with
//! `UNAUTHENTICATED` and [`revoked_message`], before any service sees it;
//! a push already streaming when the CRL is read fails at its next read
//! (its end included), so it commits nothing.
//! The services read the caller only through `identity::caller`, which
//! refuses a request this layer did not check (fail closed).

use std::{
    io,
    pin::Pin,
    sync::{Arc, PoisonError, RwLock},
    task::{Context, Poll},
    time::Duration,
};

use concord_pki::{CertificateId, RevocationSet};
use futures::Stream;
use rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier};
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, pem::PemObject,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::{Service, http};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

/// What can be wrong with the TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what} holds no PEM certificate")]
    NoCertificate { what: &'static str },
    #[error("{what} is not valid PEM")]
    BadPem { what: &'static str },
    #[error("the server key is not a PEM private key")]
    BadKey,
    #[error("the TLS configuration was refused: {0}")]
    Rustls(String),
    #[error("{0}")]
    Crl(String),
}

/// The PEM material the broker's TLS needs.
pub struct TlsMaterial<'a> {
    pub ca_pem: &'a [u8],
    pub cert_pem: &'a [u8],
    pub key_pem: &'a [u8],
    /// Certificate revocation lists of the partnership CA (PEM), possibly none.
    pub crl_pems: Vec<&'a [u8]>,
}

fn certs(pem: &[u8], what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::BadPem { what })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { what });
    }
    Ok(certs)
}

/// A server TLS configuration and the certificates revoked under it.
#[derive(Clone)]
pub struct TlsConfig {
    pub rustls: Arc<ServerConfig>,
    /// What the configuration's CRLs revoke; empty for a port that asks
    /// for no client certificate.
    pub revoked: Arc<RevocationSet>,
}

/// A configuration that asks for no client certificate (the web
/// dashboard's): nothing to revoke.
impl From<Arc<ServerConfig>> for TlsConfig {
    fn from(rustls: Arc<ServerConfig>) -> TlsConfig {
        TlsConfig {
            rustls,
            revoked: Arc::default(),
        }
    }
}

/// A rustls server configuration that demands a client certificate chained
/// to the partnership CA, valid now and not revoked, and the revocation set
/// every request is checked against. Every CRL (a file may hold several)
/// must be signed by the CA: one that is not refuses the whole
/// configuration (a reload keeps the running one). Offers HTTP/2 only.
pub fn server_config(m: &TlsMaterial<'_>) -> Result<TlsConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in certs(m.ca_pem, "the CA file")? {
        roots.add(ca).map_err(|e| TlsError::Rustls(e.to_string()))?;
    }
    let revoked =
        RevocationSet::from_pem(m.ca_pem, &m.crl_pems).map_err(|e| TlsError::Crl(e.to_string()))?;
    let mut crls = Vec::new();
    for p in &m.crl_pems {
        for crl in CertificateRevocationListDer::pem_slice_iter(p) {
            crls.push(crl.map_err(|_| TlsError::BadPem { what: "a CRL file" })?);
        }
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(m.key_pem).map_err(|_| TlsError::BadKey)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(m.cert_pem, "the server certificate file")?, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsConfig {
        rustls: Arc::new(config),
        revoked: Arc::new(revoked),
    })
}

/// The revocation set the broker read last, shared by everything that
/// checks a certificate: the gRPC requests' [`RevocationLayer`] and the web
/// dashboard's sessions (`Broker::revocations`).
#[derive(Clone, Default)]
pub struct Revocations(Arc<RwLock<Arc<RevocationSet>>>);

impl Revocations {
    /// The set as last read.
    pub fn current(&self) -> Arc<RevocationSet> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether `id` is revoked in the set as last read.
    pub fn is_revoked(&self, id: &CertificateId) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_revoked(id)
    }

    fn set(&self, revoked: Arc<RevocationSet>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = revoked;
    }

    fn same(&self, other: &Revocations) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The refusal of a revoked certificate, on every port and every kind of
/// request. The serial identifies the certificate, not its holder.
pub fn revoked_message(id: &CertificateId) -> String {
    format!(
        "certificate {} was revoked by the partnership; ask the partnership's PKI \
         administrator for a new one",
        id.serial_hex()
    )
}

struct Live {
    config: Arc<ServerConfig>,
    revoked: Arc<RevocationSet>,
    /// Handles that follow `revoked` ([`ServerTls::publish_revocations`]).
    published: Vec<Revocations>,
}

/// The broker's TLS configuration, replaceable while it serves: each new
/// handshake uses the latest (a CRL read again after `concord pki revoke`
/// refuses the revoked certificate from then on), and the requests of
/// connections already established are checked against the latest
/// revocation set ([`RevocationLayer`]).
#[derive(Clone)]
pub struct ServerTls(Arc<RwLock<Live>>);

impl ServerTls {
    pub fn new(config: impl Into<TlsConfig>) -> ServerTls {
        let TlsConfig { rustls, revoked } = config.into();
        ServerTls(Arc::new(RwLock::new(Live {
            config: rustls,
            revoked,
            published: Vec::new(),
        })))
    }

    /// The configuration new handshakes use.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner).config)
    }

    /// Makes `config` the one new handshakes use, and its revocation set
    /// the one every request is checked against from now on.
    pub fn replace(&self, config: impl Into<TlsConfig>) {
        let TlsConfig { rustls, revoked } = config.into();
        let mut live = self.0.write().unwrap_or_else(PoisonError::into_inner);
        live.config = rustls;
        for handle in &live.published {
            handle.set(revoked.clone());
        }
        live.revoked = revoked;
    }

    /// Has `to` hold this configuration's revocation set, now and after
    /// every [`ServerTls::replace`].
    pub fn publish_revocations(&self, to: &Revocations) {
        let mut live = self.0.write().unwrap_or_else(PoisonError::into_inner);
        to.set(live.revoked.clone());
        if !live.published.iter().any(|h| h.same(to)) {
            live.published.push(to.clone());
        }
    }
}

impl From<Arc<ServerConfig>> for ServerTls {
    fn from(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls::new(config)
    }
}

impl From<TlsConfig> for ServerTls {
    fn from(config: TlsConfig) -> ServerTls {
        ServerTls::new(config)
    }
}

// ---------------------------------------------------------------------------
// Every request's certificate, checked against the revocation set

/// Put in a request's extensions by [`RevocationLayer`]: the client
/// certificate was looked up in the revocation set as the request arrived,
/// and was not in it. Only this module can make one.
#[derive(Debug, Clone)]
pub struct Unrevoked {
    certificate: CertificateId,
}

impl Unrevoked {
    /// The certificate that was checked.
    pub fn certificate(&self) -> &CertificateId {
        &self.certificate
    }
}

/// Counts refusals of revoked certificates (`Metrics::revoked_refusal`).
pub type CountRefusal = Arc<dyn Fn(&str) + Send + Sync>;

/// The tower layer `serve` puts in front of every gRPC service (outermost,
/// so a revoked caller consumes no organisation's rate).
#[derive(Clone)]
pub struct RevocationLayer {
    revocations: Revocations,
    count: CountRefusal,
}

impl RevocationLayer {
    /// Checks against `revocations`; `count` is called with the refused
    /// certificate's organisation (or "unknown") on every refusal.
    pub fn new(revocations: Revocations, count: CountRefusal) -> RevocationLayer {
        RevocationLayer { revocations, count }
    }
}

impl<S> tower_layer::Layer<S> for RevocationLayer {
    type Service = RevocationCheck<S>;

    fn layer(&self, inner: S) -> RevocationCheck<S> {
        RevocationCheck {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RevocationCheck<S> {
    inner: S,
    layer: RevocationLayer,
}

/// What the check found for one request.
enum Checked {
    /// No client certificate on the connection: the services refuse it.
    NoCertificate,
    Unrevoked(CertificateId),
    Revoked(CertificateId, Option<String>),
    /// A certificate this broker cannot read: refused.
    Unreadable,
}

fn check<B>(request: &http::Request<B>, revocations: &Revocations) -> Checked {
    let Some(leaf) = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(TlsConnectInfo::peer_certs)
        .and_then(|certs| certs.first().cloned())
    else {
        return Checked::NoCertificate;
    };
    match CertificateId::from_cert_der(leaf.as_ref()) {
        Ok(id) if revocations.is_revoked(&id) => {
            let org = concord_pki::Identity::from_cert_der(leaf.as_ref())
                .ok()
                .map(|i| i.org);
            Checked::Revoked(id, org)
        }
        Ok(id) => Checked::Unrevoked(id),
        Err(_) => Checked::Unreadable,
    }
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The client-streaming call whose end commits: a push that began before
/// the CRL was read must not commit after it.
const PUSH_PATH: &str = "/concord.v1.Ingest/PushExtract";

/// `body`, checked against `revocations` at every read: once `id` is
/// revoked, the next read fails with the revocation refusal (so a push
/// whose end arrives after the CRL was read is rejected whole and commits
/// nothing), counted once.
fn watched(
    body: tonic::body::Body,
    id: CertificateId,
    org: String,
    layer: RevocationLayer,
) -> tonic::body::Body {
    use futures::StreamExt as _;
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let data = axum::body::Body::new(body).into_data_stream();
    let checked = futures::stream::unfold(Some(data), move |state| {
        let (id, org, layer) = (id.clone(), org.clone(), layer.clone());
        async move {
            let mut data = state?;
            let next = data.next().await;
            if layer.revocations.is_revoked(&id) {
                (layer.count)(&org);
                tracing::warn!(
                    serial = %id.serial_hex(),
                    org,
                    "push stopped: the client certificate was revoked while it streamed"
                );
                let refused: BoxError =
                    Box::new(tonic::Status::unauthenticated(revoked_message(&id)));
                return Some((Err(refused), None));
            }
            match next? {
                Ok(bytes) => Some((Ok(bytes), Some(data))),
                Err(e) => Some((Err(e.into_inner()), None)),
            }
        }
    });
    tonic::body::Body::new(axum::body::Body::from_stream(checked))
}

impl<S, R> Service<http::Request<tonic::body::Body>> for RevocationCheck<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<R>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        match check(&request, &self.layer.revocations) {
            Checked::Revoked(id, org) => {
                let org = org.as_deref().unwrap_or("unknown");
                (self.layer.count)(org);
                // The serial and organisation only: never the user.
                tracing::warn!(
                    serial = %id.serial_hex(),
                    org,
                    "request refused: the client certificate is revoked"
                );
                let status = tonic::Status::unauthenticated(revoked_message(&id));
                return Box::pin(async move { Ok(status.into_http()) });
            }
            Checked::Unreadable => {
                let status = tonic::Status::unauthenticated(
                    "the client certificate cannot be read, so its revocation cannot be \
                     checked; use the certificate the partnership issued",
                );
                return Box::pin(async move { Ok(status.into_http()) });
            }
            Checked::Unrevoked(certificate) => {
                if request.uri().path() == PUSH_PATH {
                    let org = request
                        .extensions()
                        .get::<TlsConnectInfo<TcpConnectInfo>>()
                        .and_then(TlsConnectInfo::peer_certs)
                        .and_then(|certs| {
                            concord_pki::Identity::from_cert_der(certs.first()?.as_ref()).ok()
                        })
                        .map_or_else(|| "unknown".to_owned(), |i| i.org);
                    let layer = self.layer.clone();
                    let id = certificate.clone();
                    request = request.map(|body| watched(body, id, org, layer));
                }
                request.extensions_mut().insert(Unrevoked { certificate });
            }
            Checked::NoCertificate => {}
        }
        // The clone that was made ready is the one that is called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(request))
    }
}

/// Accepts TCP connections on `listener`, completes TLS handshakes
/// concurrently (each within `handshake_timeout`, with the configuration
/// `tls` holds when the connection arrives), and yields only the
/// connections whose handshake succeeded. Stops when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: impl Into<ServerTls>,
    handshake_timeout: Duration,
) -> impl Stream<Item = Result<TlsStream<TcpStream>, io::Error>> {
    let tls = tls.into();
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = tx.closed() => break,
                accepted = listener.accept() => accepted,
            };
            let tcp = match accepted {
                Ok((tcp, _peer)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(tls.current());
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => tracing::info!(error = %e, "tls handshake refused"),
                    Err(_) => tracing::info!("tls handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
