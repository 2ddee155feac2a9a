//! A Concord client: an mTLS channel from PEM files, and the push protocol
//! (header, then record batches, with the extract checksum computed on the
//! way). Used by `concord push`, the end-to-end tests and the benchmarks.

#![forbid(unsafe_code)]

use concord_proto::{
    checksum::ExtractChecksum,
    v1::{self, ingest_client::IngestClient, push_extract_request::Message},
};
use tonic::{
    Request, Response, Status,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the broker address {0:?} is not a valid https URL")]
    BadAddress(String),
    #[error("could not connect to the broker at {address}: {reason}")]
    Connect { address: String, reason: String },
}

/// The PEM material of a client identity.
pub struct ClientTls {
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// The name the server certificate must carry (e.g. `localhost`).
    pub server_name: String,
}

/// Installs ring as the process's rustls crypto provider, once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Connects to `address` (`https://host:port`) with mutual TLS.
pub async fn connect(address: &str, tls: &ClientTls) -> Result<Channel, ClientError> {
    install_crypto_provider();
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&tls.ca_pem))
        .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
        .domain_name(tls.server_name.clone());
    let endpoint = Endpoint::from_shared(address.to_owned())
        .map_err(|_| ClientError::BadAddress(address.to_owned()))?
        .tls_config(config)
        .map_err(|e| ClientError::Connect {
            address: address.to_owned(),
            reason: e.to_string(),
        })?;
    endpoint.connect().await.map_err(|e| ClientError::Connect {
        address: address.to_owned(),
        reason: source_chain(&e),
    })
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// An extract ready to push: its header fields (the checksum and counts are
/// filled in by [`push_extract`]) and its batches.
#[derive(Debug, Clone, Default)]
pub struct Extract {
    pub header: v1::ExtractHeader,
    pub batches: Vec<v1::RecordBatch>,
}

impl Extract {
    /// Splits records and deletions into batches of at most `batch` items
    /// and fills in the header's counts and checksum.
    pub fn new(
        mut header: v1::ExtractHeader,
        records: Vec<v1::Record>,
        deletes: Vec<Vec<u8>>,
        batch: usize,
    ) -> Extract {
        let mut sum = ExtractChecksum::new();
        records.iter().for_each(|r| sum.add_record(r));
        deletes.iter().for_each(|d| sum.add_delete(d));
        header.record_count = records.len() as u64;
        header.delete_count = deletes.len() as u64;
        header.checksum = sum.finish().to_vec();
        let mut batches = Vec::new();
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            batches.push(v1::RecordBatch {
                records: records.by_ref().take(batch).collect(),
                delete_source_refs: vec![],
            });
        }
        let mut deletes = deletes.into_iter().peekable();
        while deletes.peek().is_some() {
            batches.push(v1::RecordBatch {
                records: vec![],
                delete_source_refs: deletes.by_ref().take(batch).collect(),
            });
        }
        Extract { header, batches }
    }

    /// The stream of messages: the header, then every batch.
    pub fn messages(
        self,
    ) -> impl tokio_stream::Stream<Item = v1::PushExtractRequest> + Send + 'static {
        let first = v1::PushExtractRequest {
            message: Some(Message::Header(self.header)),
        };
        let rest = self.batches.into_iter().map(|b| v1::PushExtractRequest {
            message: Some(Message::Batch(b)),
        });
        tokio_stream::iter(std::iter::once(first).chain(rest))
    }
}

/// Pushes an extract; the response carries the receipt, and the metadata
/// `concord-duplicate: true` on a re-push.
pub async fn push_extract(
    channel: Channel,
    extract: Extract,
) -> Result<Response<v1::ExtractReceipt>, Status> {
    IngestClient::new(channel)
        .max_encoding_message_size(64 * 1024 * 1024)
        .push_extract(Request::new(extract.messages()))
        .await
}

/// Whether a push response says it was a re-push of an accepted extract.
pub fn is_duplicate<T>(response: &Response<T>) -> bool {
    response
        .metadata()
        .get("concord-duplicate")
        .is_some_and(|v| v == "true")
}
