//! Operational metrics in the Prometheus text format, served over plain
//! HTTP on their own address (`metrics_listen`), path `/metrics`. The same
//! port answers `grpc.health.v1.Health` over cleartext HTTP/2 (prior
//! knowledge), so the kubelet's gRPC probes work without a client
//! certificate; it discloses only the serving statuses.
//!
//! Nothing here identifies a person: the only labels are the caller's
//! organisation (from its certificate), the source and the outcome; no
//! token, reference, case reference or user. Each [`Broker`] holds its own
//! registry, so several brokers in one process (the tests) never mix.
//!
//! - `concord_ingest_extracts_total{org,source,outcome}`: pushes by outcome
//!   (`accepted`, `duplicate`, `refused`, `invalid`, `failed`).
//! - `concord_ingest_records_total{org,source}`: records received in
//!   accepted extracts.
//! - `concord_lookup_duration_seconds{org}`: lookup latency, every outcome.
//! - `concord_lookup_decisions_total{org,outcome}`: lookups by outcome
//!   (`allowed`, `refused`, `invalid`, `failed`).
//! - `concord_lookup_record_reads_total`,
//!   `concord_lookup_record_read_queries_total`: the lookups' records
//!   reads and the queries that carried them (their ratio is the batch
//!   size, `concord-store/src/record_reads.rs`).
//! - `concord_audit_log_size`: events in the audit log (its tree size),
//!   read at each scrape.
//! - `concord_revoked_certificate_refusals_total{org,port}`: requests
//!   (`port="grpc"`) and dashboard page views (`port="web"`) refused
//!   because the certificate, or the one the session was signed in with,
//!   is revoked.
//! - `concord_linkage_reviews_pending`: the linkage review queue, read
//!   from the store at each scrape (the last value is kept if that read
//!   fails; `concord_metrics_scrape_errors_total` counts such failures).
//! - `concord_linker_leader`: 1 while this replica holds the linker's
//!   lease (runs the linker), 0 while another does; read at each scrape.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use tokio::net::TcpListener;
use tonic::Code;

use crate::Broker;

/// Label value when the caller or source is not (yet) known.
const UNKNOWN: &str = "unknown";

/// How a push ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Accepted,
    Duplicate,
    /// Refused by identity or policy.
    Refused,
    /// The extract or stream broke a rule or a limit.
    Invalid,
    /// The broker could not finish it (store, audit, policy failure, a
    /// broken stream).
    Failed,
}

impl PushOutcome {
    fn as_str(self) -> &'static str {
        match self {
            PushOutcome::Accepted => "accepted",
            PushOutcome::Duplicate => "duplicate",
            PushOutcome::Refused => "refused",
            PushOutcome::Invalid => "invalid",
            PushOutcome::Failed => "failed",
        }
    }

    /// The outcome of a failed push, by its gRPC code.
    pub fn of_error(code: Code) -> PushOutcome {
        match class(code) {
            Class::Refused => PushOutcome::Refused,
            Class::Invalid => PushOutcome::Invalid,
            Class::Failed => PushOutcome::Failed,
        }
    }
}

enum Class {
    Refused,
    Invalid,
    Failed,
}

fn class(code: Code) -> Class {
    match code {
        Code::PermissionDenied | Code::Unauthenticated => Class::Refused,
        Code::InvalidArgument
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::ResourceExhausted
        | Code::OutOfRange
        | Code::NotFound
        | Code::DeadlineExceeded => Class::Invalid,
        _ => Class::Failed,
    }
}

/// What a push revealed about itself before it ended (label values only).
#[derive(Debug, Default)]
pub struct PushLabels {
    pub org: Option<String>,
    pub source: Option<&'static str>,
}

/// The broker's metrics registry.
pub struct Metrics {
    registry: Registry,
    ingest_extracts: IntCounterVec,
    ingest_records: IntCounterVec,
    lookup_seconds: HistogramVec,
    lookup_decisions: IntCounterVec,
    audit_log_size: IntGauge,
    reviews_pending: IntGauge,
    linker_leader: IntGauge,
    scrape_errors: IntCounter,
    record_reads: IntCounter,
    record_read_queries: IntCounter,
    revoked_refusals: IntCounterVec,
}

/// Where a revoked certificate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// A gRPC request over mTLS.
    Grpc,
    /// A web dashboard page view of a session signed in with it.
    Web,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let ingest_extracts = IntCounterVec::new(
            Opts::new(
                "concord_ingest_extracts_total",
                "Pushed extracts by outcome (accepted, duplicate, refused, invalid, failed).",
            ),
            &["org", "source", "outcome"],
        )
        .expect("valid metric");
        let ingest_records = IntCounterVec::new(
            Opts::new(
                "concord_ingest_records_total",
                "Records received in accepted extracts.",
            ),
            &["org", "source"],
        )
        .expect("valid metric");
        let lookup_seconds = HistogramVec::new(
            HistogramOpts::new(
                "concord_lookup_duration_seconds",
                "Lookup latency in seconds, every outcome.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["org"],
        )
        .expect("valid metric");
        let lookup_decisions = IntCounterVec::new(
            Opts::new(
                "concord_lookup_decisions_total",
                "Lookups by outcome (allowed, refused, invalid, failed).",
            ),
            &["org", "outcome"],
        )
        .expect("valid metric");
        let audit_log_size = IntGauge::new(
            "concord_audit_log_size",
            "Events in the audit log (the Merkle tree size).",
        )
        .expect("valid metric");
        let reviews_pending = IntGauge::new(
            "concord_linkage_reviews_pending",
            "Linkage reviews waiting for a reviewer.",
        )
        .expect("valid metric");
        let linker_leader = IntGauge::new(
            "concord_linker_leader",
            "1 while this replica holds the linker's lease (runs the linker), else 0.",
        )
        .expect("valid metric");
        let scrape_errors = IntCounter::new(
            "concord_metrics_scrape_errors_total",
            "Scrapes whose read of the review queue failed (the last value was kept).",
        )
        .expect("valid metric");
        let record_reads = IntCounter::new(
            "concord_lookup_record_reads_total",
            "Lookups' records reads (one per lookup of a person the broker holds).",
        )
        .expect("valid metric");
        let record_read_queries = IntCounter::new(
            "concord_lookup_record_read_queries_total",
            "Database queries that carried them: reads are batched, so reads per query is the batch size.",
        )
        .expect("valid metric");
        let revoked_refusals = IntCounterVec::new(
            Opts::new(
                "concord_revoked_certificate_refusals_total",
                "Requests and dashboard page views refused because the certificate is revoked.",
            ),
            &["org", "port"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(revoked_refusals.clone()))
            .expect("metric names are unique");
        for c in [
            Box::new(ingest_extracts.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(ingest_records.clone()),
            Box::new(lookup_seconds.clone()),
            Box::new(lookup_decisions.clone()),
            Box::new(audit_log_size.clone()),
            Box::new(reviews_pending.clone()),
            Box::new(linker_leader.clone()),
            Box::new(scrape_errors.clone()),
            Box::new(record_reads.clone()),
            Box::new(record_read_queries.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            ingest_extracts,
            ingest_records,
            lookup_seconds,
            lookup_decisions,
            audit_log_size,
            reviews_pending,
            linker_leader,
            scrape_errors,
            record_reads,
            record_read_queries,
            revoked_refusals,
        }
    }

    /// Counts one refusal of a revoked certificate of `org`.
    pub fn revoked_refusal(&self, port: Port, org: &str) {
        let port = match port {
            Port::Grpc => "grpc",
            Port::Web => "web",
        };
        self.revoked_refusals.with_label_values(&[org, port]).inc();
    }

    /// Counts one push and, if accepted, its records.
    pub fn push(&self, labels: &PushLabels, outcome: PushOutcome, records: u64) {
        let org = labels.org.as_deref().unwrap_or(UNKNOWN);
        let source = labels.source.unwrap_or(UNKNOWN);
        self.ingest_extracts
            .with_label_values(&[org, source, outcome.as_str()])
            .inc();
        if outcome == PushOutcome::Accepted {
            self.ingest_records
                .with_label_values(&[org, source])
                .inc_by(records);
        }
    }

    /// Counts one lookup and its latency. `result` is the gRPC code it
    /// ended with (`None` when it answered).
    pub fn lookup(&self, org: Option<&str>, result: Option<Code>, elapsed: Duration) {
        let org = org.unwrap_or(UNKNOWN);
        let outcome = match result.map(class) {
            None => "allowed",
            Some(Class::Refused) => "refused",
            Some(Class::Invalid) => "invalid",
            Some(Class::Failed) => "failed",
        };
        self.lookup_seconds
            .with_label_values(&[org])
            .observe(elapsed.as_secs_f64());
        self.lookup_decisions
            .with_label_values(&[org, outcome])
            .inc();
    }

    /// The text exposition, after reading the gauges from `broker`.
    pub async fn render(&self, broker: &Broker) -> String {
        // The store counts; the counters catch up (they only grow).
        let reads = broker.store.record_read_counts();
        for (counter, now) in [
            (&self.record_reads, reads.reads),
            (&self.record_read_queries, reads.queries),
        ] {
            counter.inc_by(now.saturating_sub(counter.get()));
        }
        self.audit_log_size
            .set(i64::try_from(broker.audit.size()).unwrap_or(i64::MAX));
        self.linker_leader
            .set(i64::from(broker.linkage.is_leader()));
        match broker.store.reviews(true).await {
            Ok(r) => self
                .reviews_pending
                .set(i64::try_from(r.len()).unwrap_or(i64::MAX)),
            Err(e) => {
                self.scrape_errors.inc();
                tracing::warn!(error = %e, "metrics: the review queue could not be read; the last value is kept");
            }
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("the text encoder writes to memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

async fn scrape(State(broker): State<Arc<Broker>>) -> Response {
    let body = broker.metrics.render(&broker).await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Serves `GET /metrics` over plain HTTP on `listener` until `shutdown`.
/// Bind it to loopback or a monitoring network only: it is not
/// authenticated (it holds counts, never identifiers).
pub async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let health = tonic::service::Routes::new(crate::health_server(&broker)).into_axum_router();
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(broker)
        .merge(health);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
