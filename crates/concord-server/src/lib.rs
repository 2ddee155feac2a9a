//! Concord's gRPC services over mTLS.
//!
//! [`serve`] takes an already bound listener, a TLS configuration and a
//! shutdown future, so tests bind port 0 and the binary owns configuration.
//! Services convert wire types to domain types by hand (`convert`), decide
//! with the policy engine, and write through the store. `error` is the one
//! place where failures become gRPC status codes.

#![forbid(unsafe_code)]

pub mod audit;
mod audit_service;
/// Wire types to domain types, by hand; public for the ingest fuzz target (`fuzz/`).
pub mod convert;
mod error;
mod identity;
mod ingest;
pub mod insights;
pub mod linkage;
mod lookup;
pub mod metrics;
pub mod org_limits;
pub mod retention;
mod review;
pub mod tls;
pub mod web;

use std::{future::Future, sync::Arc, time::Duration};

use concord_keys::BrokerKey;
use concord_policy::PolicyEngine;
use concord_proto::v1::audit_server::AuditServer;
use concord_proto::v1::dashboard_access_server::DashboardAccessServer;
// Ingest is served in its records-as-bytes view (the same wire format), so
// the extract checksum covers the bytes that arrived.
use concord_proto::{v1::linkage_server::LinkageServer, wire::ingest_server::IngestServer};
use concord_store::Store;
use tokio::net::TcpListener;

pub use error::ServerError;

/// The limits a push must keep; each, when hit, is refused with a message
/// naming it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest gRPC message the broker decodes.
    pub max_message_bytes: usize,
    /// Most records plus deletions in one batch message.
    pub max_batch_records: usize,
    /// Most records plus deletions in one extract.
    pub max_extract_records: u64,
    /// Longest a push stream may take, header to end.
    pub max_stream_duration: Duration,
    /// Longest a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// Violations named in a refusal (all are counted).
    pub max_reported_violations: usize,
    /// Records buffered before they are written to the store.
    pub write_chunk_records: usize,
    /// Requests per second each organisation may make (its token bucket's
    /// refill rate; `org_limits`).
    pub org_requests_per_second: f64,
    /// Requests an organisation may make at once above its rate.
    pub org_burst: u32,
    /// Requests an organisation may have in flight at once.
    pub org_max_concurrent: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_batch_records: 20_000,
            max_extract_records: 5_000_000,
            max_stream_duration: Duration::from_secs(15 * 60),
            handshake_timeout: Duration::from_secs(10),
            max_reported_violations: 100,
            write_chunk_records: 20_000,
            org_requests_per_second: 200.0,
            org_burst: 400,
            org_max_concurrent: 64,
        }
    }
}

/// The linkage key ids the partnership's tokens may carry: the current
/// key's, and the previous key's while a stated rotation runs. The broker
/// never holds `K_link` itself, only these ids; an extract or a lookup
/// under any other id is refused before anything is read or stored (its
/// tokens could never link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkageKeyIds {
    current: String,
    previous: Option<String>,
}

impl LinkageKeyIds {
    /// `current`, and `previous` until the rotation ends (the caller has
    /// checked both look like `lk-2026a`).
    pub fn new(current: impl Into<String>, previous: Option<String>) -> LinkageKeyIds {
        let current = current.into();
        let previous = previous.filter(|p| *p != current);
        LinkageKeyIds { current, previous }
    }

    pub fn current(&self) -> &str {
        &self.current
    }

    pub fn previous(&self) -> Option<&str> {
        self.previous.as_deref()
    }

    /// Whether tokens made under `key_id` can link here.
    pub fn accepts(&self, key_id: &str) -> bool {
        key_id == self.current || self.previous.as_deref() == Some(key_id)
    }

    /// Why `key_id` is refused, naming the ids this broker accepts. Key ids
    /// are not secret; no token or identifier is ever part of it.
    pub fn refusal(&self, key_id: &str) -> String {
        match &self.previous {
            Some(p) => format!(
                "linkage key id {key_id} is not the partnership's: this broker accepts {} \
                 (and {p} until rotation ends)",
                self.current
            ),
            None => format!(
                "linkage key id {key_id} is not the partnership's: this broker accepts {}",
                self.current
            ),
        }
    }
}

/// Everything the services share.
pub struct Broker {
    pub store: Store,
    pub policy: Arc<PolicyEngine>,
    pub broker_key: Arc<BrokerKey>,
    pub limits: Limits,
    /// The linkage key ids extracts and lookups may carry.
    pub linkage_keys: LinkageKeyIds,
    /// Links every committed extract into people.
    pub linkage: Arc<linkage::Linkage>,
    /// The audit log: every decision is appended here before anything is
    /// disclosed or stored.
    pub audit: Arc<audit::AuditLog>,
    /// The web dashboard's one-time sign-in links and browser sessions.
    pub sign_ins: Arc<web::SignIns>,
    /// The certificates revoked as the broker read its CRLs last: every
    /// gRPC request and every dashboard session is checked against it
    /// (`serve` has it follow the mTLS configuration's).
    pub revocations: tls::Revocations,
    /// The facts the aggregates count, loaded once per insights generation.
    pub insights: Arc<insights::InsightsCache>,
    /// Prometheus counters and gauges (`metrics::serve` exposes them).
    pub metrics: Arc<metrics::Metrics>,
    /// `grpc.health.v1` statuses, served over mTLS by [`serve`] and in
    /// plain text beside the metrics (for the kubelet's gRPC probes). The
    /// overall service `""` and each Concord service are SERVING while the
    /// store answers (readiness); [`LIVENESS_SERVICE`] is SERVING from
    /// start until the process ends (liveness).
    pub health: tonic_health::server::HealthReporter,
    /// Rows written inside extract transactions not yet committed or rolled back.
    uncommitted: tokio::sync::watch::Sender<u64>,
}

impl Broker {
    pub fn new(
        store: Store,
        policy: Arc<PolicyEngine>,
        broker_key: Arc<BrokerKey>,
        limits: Limits,
        linkage_keys: LinkageKeyIds,
        linkage: Arc<linkage::Linkage>,
        audit: Arc<audit::AuditLog>,
    ) -> Broker {
        Broker {
            store,
            policy,
            broker_key,
            limits,
            linkage_keys,
            linkage,
            audit,
            sign_ins: Arc::new(web::SignIns::default()),
            revocations: tls::Revocations::default(),
            insights: Arc::new(insights::InsightsCache::default()),
            metrics: Arc::new(metrics::Metrics::new()),
            health: tonic_health::server::HealthReporter::new(),
            uncommitted: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Watches the number of rows written inside extract transactions that
    /// have not yet been committed or rolled back.
    pub fn watch_uncommitted(&self) -> tokio::sync::watch::Receiver<u64> {
        self.uncommitted.subscribe()
    }
}

/// The `grpc.health.v1.Health` service over the broker's statuses.
pub fn health_server(
    broker: &Broker,
) -> tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService> {
    tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(broker.health.clone()),
    )
}

/// The name of every Concord service the broker serves, as
/// `grpc.health.v1` names them.
fn service_names() -> [&'static str; 6] {
    use concord_proto::v1::{insights_server::InsightsServer, lookup_server::LookupServer};
    use tonic::server::NamedService;
    [
        IngestServer::<ingest::IngestService>::NAME,
        LinkageServer::<review::ReviewService>::NAME,
        DashboardAccessServer::<web::DashboardAccessService>::NAME,
        InsightsServer::<insights::InsightsService>::NAME,
        AuditServer::<audit_service::AuditService>::NAME,
        LookupServer::<lookup::LookupService>::NAME,
    ]
}

/// The health service's own name: SERVING from start until the process
/// ends, whatever the database does, for liveness probes (a database
/// outage is no reason to restart the broker).
pub const LIVENESS_SERVICE: &str = "grpc.health.v1.Health";

/// Sets readiness: the overall status (`""`) and every Concord service's.
async fn set_readiness(health: &tonic_health::server::HealthReporter, ready: bool) {
    let status = if ready {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    };
    // The services first, the overall status last: whoever sees the
    // overall status change sees every service's already changed.
    for name in service_names() {
        health.set_service_status(name, status).await;
    }
    health.set_service_status("", status).await;
}

/// Marks every Concord service SERVING, before the listener takes a
/// connection (a probe of a named service never sees NOT_FOUND while the
/// broker starts: the store answered moments ago, at start-up), and the
/// liveness name.
async fn declare_services(health: &tonic_health::server::HealthReporter) {
    health
        .set_service_status(LIVENESS_SERVICE, tonic_health::ServingStatus::Serving)
        .await;
    set_readiness(health, true).await;
}

/// How often readiness asks the store whether it answers.
pub const READINESS_INTERVAL: Duration = Duration::from_millis(500);

/// How long the store has to answer one readiness probe (opening the
/// probe's connection, then `SELECT 1`).
pub const READINESS_TIMEOUT: Duration = Duration::from_millis(800);

/// Keeps readiness (the overall status `""` and every Concord service's)
/// SERVING while the store answers and NOT_SERVING while it does not: a
/// probe every [`READINESS_INTERVAL`] on a connection of its own
/// (`concord_store::Probe`), so a database that stops answering is seen
/// within about a second and one that answers again likewise.
async fn track_store(broker: Arc<Broker>) {
    let mut probe = broker.store.probe(READINESS_TIMEOUT);
    let mut ready = true;
    let mut ticks = tokio::time::interval(READINESS_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // Each step of the probe is bounded; this bounds the whole.
        let checked = tokio::time::timeout(2 * READINESS_TIMEOUT, probe.check()).await;
        let ok = matches!(checked, Ok(Ok(())));
        if ready != ok {
            if ok {
                tracing::info!("the store answers again: reporting ready");
            } else {
                let why = match checked {
                    Ok(Err(e)) => e.to_string(),
                    _ => "the readiness probe timed out".to_owned(),
                };
                tracing::warn!(error = %why, "the store does not answer: reporting not ready");
            }
            set_readiness(&broker.health, ok).await;
            ready = ok;
        }
    }
}

/// Serves the broker on `listener` over mTLS until `shutdown` completes;
/// then stops accepting and lets in-flight requests finish (each push is
/// bounded by its stream duration limit).
pub async fn serve(
    listener: TcpListener,
    tls: impl Into<tls::ServerTls>,
    broker: Arc<Broker>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let limits = broker.limits.clone();
    let health = health_server(&broker);
    declare_services(&broker.health).await;
    // Readiness follows the store: a broker whose database does not answer
    // is taken out of the load balancer, not restarted.
    let readiness = tokio::spawn(track_store(broker.clone()));
    // Reflection in both versions: grpcurl and grpcui speak v1, older
    // grpcurl and grpcio-reflection only v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(concord_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .expect("the embedded descriptor sets are valid");
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()
        .expect("the embedded descriptor sets are valid");
    let ingest = IngestServer::new(ingest::IngestService::new(broker.clone()))
        .max_decoding_message_size(limits.max_message_bytes);
    let review = LinkageServer::new(review::ReviewService::new(broker.clone()));
    let dashboard_access =
        DashboardAccessServer::new(web::DashboardAccessService::new(broker.clone()));
    let insights = concord_proto::v1::insights_server::InsightsServer::new(
        insights::InsightsService::new(broker.clone()),
    );
    // Keeps the aggregates' facts loaded ahead of requests.
    let insights_refresher = insights::spawn_refresher(broker.clone());
    let audit = AuditServer::new(audit_service::AuditService::new(broker.clone()));
    let lookup = concord_proto::v1::lookup_server::LookupServer::new(lookup::LookupService::new(
        broker.clone(),
    ));
    // Every request is checked against the CRLs read last, on connections
    // opened before them too; sessions of the dashboard likewise.
    let tls: tls::ServerTls = tls.into();
    tls.publish_revocations(&broker.revocations);
    let revocation_check = tls::RevocationLayer::new(broker.revocations.clone(), {
        let metrics = broker.metrics.clone();
        Arc::new(move |org: &str| metrics.revoked_refusal(metrics::Port::Grpc, org))
    });
    let incoming = tls::incoming(listener, tls, limits.handshake_timeout);
    let org_limits = org_limits::OrgLimitLayer::new(org_limits::OrgLimiter::new(&limits));
    let served = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        // Room for whole batches in flight, so the client is not held to
        // one round trip per 64 KiB window.
        .initial_stream_window_size(Some(8 * 1024 * 1024))
        .initial_connection_window_size(Some(16 * 1024 * 1024))
        .layer(revocation_check)
        .layer(org_limits)
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(ingest)
        .add_service(review)
        .add_service(dashboard_access)
        .add_service(insights)
        .add_service(audit)
        .add_service(lookup)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    insights_refresher.abort();
    readiness.abort();
    set_readiness(&broker.health, false).await;
    // Every event of the requests that finished is covered by a signature.
    if let Err(e) = broker.audit.checkpoint().await {
        tracing::error!(error = %e, "the audit checkpoint at shutdown failed");
    }
    served
}
