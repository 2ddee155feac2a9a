//! mTLS, always on. The broker runs its own rustls acceptor (rather than
//! tonic's) so that client authentication is strict and in our hands: a
//! connection with no client certificate, one from another CA, or an
//! expired one is refused at the handshake and never reaches a service.
//! Handshakes run concurrently, each with a time limit, and only completed
//! TLS streams are handed to tonic.

use std::{
    io,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use futures::Stream;
use rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier};
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, pem::PemObject,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_stream::wrappers::ReceiverStream;

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

/// A rustls server configuration that demands a client certificate chained
/// to the partnership CA, valid now and not revoked. Offers HTTP/2 only.
pub fn server_config(m: &TlsMaterial<'_>) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in certs(m.ca_pem, "the CA file")? {
        roots.add(ca).map_err(|e| TlsError::Rustls(e.to_string()))?;
    }
    let crls = m
        .crl_pems
        .iter()
        .map(|p| {
            CertificateRevocationListDer::from_pem_slice(p)
                .map_err(|_| TlsError::BadPem { what: "a CRL file" })
        })
        .collect::<Result<Vec<_>, _>>()?;
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
    Ok(Arc::new(config))
}

/// The broker's TLS configuration, replaceable while it serves: each new
/// handshake uses the latest (a CRL read again after `concord pki revoke`
/// refuses the revoked certificate from then on); connections already
/// established keep the configuration they were accepted with.
#[derive(Clone)]
pub struct ServerTls(Arc<RwLock<Arc<ServerConfig>>>);

impl ServerTls {
    pub fn new(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls(Arc::new(RwLock::new(config)))
    }

    /// The configuration new handshakes use.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Makes `config` the one new handshakes use.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = config;
    }
}

impl From<Arc<ServerConfig>> for ServerTls {
    fn from(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls::new(config)
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
