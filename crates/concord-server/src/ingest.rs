//! `concord.v1.Ingest`: duty holders push extracts.
//!
//! A push is checked in this order: the caller's certificate identity, the
//! header, the limits, the ingest policy, then whether the extract was
//! already accepted. Records are validated, re-keyed and written batch by
//! batch inside one store transaction; the first invalid record stops the
//! writing but not the validation, so the refusal names every invalid
//! record. Nothing is committed unless the stream ended cleanly, every
//! count and the checksum agree, and no record was invalid.
//!
//! The service is the records-as-bytes view of `concord.v1.Ingest`
//! ([`concord_proto::wire`]): each record arrives as the bytes its sender
//! encoded, the checksum runs over those bytes, and only then is the record
//! decoded. A sender's field order or encoder never changes the checksum.

use std::{
    collections::{BTreeSet, HashSet},
    sync::Arc,
    time::Instant,
};

use chrono::Utc;
use concord_audit::AuditEvent;
use concord_core::{ExtractHeader, ExtractId, ExtractMode, Record, Source, Token, Violations};
use concord_keys::BrokerKey;
use concord_policy::Action;
use concord_proto::{
    checksum::ExtractChecksum,
    prost::Message as _,
    v1,
    wire::{self, ingest_server::Ingest, push_extract_bytes_request::Message},
};
use concord_store::{Begin, CommitInfo, ExtractWriter};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::{
    Broker,
    audit::{self, policy_input},
    convert,
    error::ServerError,
    identity::caller,
};

pub struct IngestService {
    broker: Arc<Broker>,
}

impl IngestService {
    pub fn new(broker: Arc<Broker>) -> Self {
        IngestService { broker }
    }
}

#[tonic::async_trait]
impl Ingest for IngestService {
    #[tracing::instrument(skip_all, fields(org, source, extract_id))]
    async fn push_extract(
        &self,
        request: Request<Streaming<wire::PushExtractBytesRequest>>,
    ) -> Result<Response<v1::ExtractReceipt>, Status> {
        let started = Instant::now();
        // The push runs in a task of its own, so a client that goes away
        // (HTTP/2 reset: hyper drops this handler) cannot cancel it halfway
        // through a database write: the task sees the broken stream, lets
        // the write in flight finish and rolls the transaction back itself.
        // (A PostgreSQL COPY dropped mid-way leaves the pooled connection's
        // protocol state behind the server's, and its next `BEGIN` fails.)
        let service = IngestService {
            broker: self.broker.clone(),
        };
        let (result, labels) = tokio::spawn(
            async move {
                let mut labels = crate::metrics::PushLabels::default();
                let result = service.push(request, &mut labels).await;
                (result, labels)
            }
            .instrument(tracing::Span::current()),
        )
        .await
        .map_err(|_| {
            Status::from(ServerError::Cancelled(
                "the push task failed; nothing was stored".into(),
            ))
        })?;
        self.broker.metrics.push(
            &labels,
            match &result {
                Ok((_, true)) => crate::metrics::PushOutcome::Duplicate,
                Ok((_, false)) => crate::metrics::PushOutcome::Accepted,
                Err(e) => crate::metrics::PushOutcome::of_error(e.code()),
            },
            result.as_ref().map_or(0, |(r, _)| r.records_received),
        );
        match &result {
            Ok((r, duplicate)) => tracing::info!(
                records = r.records_received,
                stored = r.records_stored,
                deleted = r.records_deleted,
                replaced = r.records_replaced,
                duplicate,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "extract accepted"
            ),
            Err(e) => tracing::warn!(code = ?e.code(), reason = %e, "extract refused"),
        }
        let (receipt, duplicate) = result?;
        let mut response = Response::new(convert::receipt(&receipt));
        if duplicate {
            response
                .metadata_mut()
                .insert("concord-duplicate", "true".parse().expect("ascii"));
        }
        Ok(response)
    }

    #[tracing::instrument(skip_all, fields(org))]
    async fn get_extract(
        &self,
        request: Request<v1::GetExtractRequest>,
    ) -> Result<Response<v1::ExtractReceipt>, Status> {
        let identity = caller(&request)?;
        tracing::Span::current().record("org", identity.org.as_str());
        let req = request.into_inner();
        let source = Source::from_code(req.source).ok_or_else(|| {
            ServerError::InvalidStream("source is missing or not a known source".into())
        })?;
        let decision = self
            .broker
            .decide_audited(
                &identity,
                policy_input(&identity, Action::Ingest, &[source.as_str()]),
                |e| describe_receipt_read(e, source, &req.extract_id),
            )
            .await
            // The ingest rule decides who may read a receipt too; its
            // reasons speak of pushing, this caller asked for a receipt.
            .map_err(|e| match e {
                ServerError::PermissionDenied(_) => ServerError::PermissionDenied(format!(
                    "reading the receipts of {source} extracts refused by policy: only a push \
                     agent of an organisation that pushes {source} may read them"
                )),
                other => other,
            })?;
        let mut event = audit::event(&identity, concord_audit::Action::PolicyDecision, &decision);
        describe_receipt_read(&mut event, source, &req.extract_id);
        self.broker.audit.append(event).await?;
        let receipt = self
            .broker
            .store
            .get_extract(source, &req.extract_id)
            .await
            .map_err(ServerError::from)?
            .ok_or_else(|| {
                ServerError::NotFound(format!("no accepted extract from {source} has that id"))
            })?;
        Ok(Response::new(convert::receipt(&receipt)))
    }
}

impl IngestService {
    async fn push(
        &self,
        request: Request<Streaming<wire::PushExtractBytesRequest>>,
        labels: &mut crate::metrics::PushLabels,
    ) -> Result<(concord_core::Receipt, bool), ServerError> {
        let identity = caller(&request)?;
        let span = tracing::Span::current();
        span.record("org", identity.org.as_str());
        labels.org = Some(identity.org.clone());
        let limits = &self.broker.limits;
        let deadline = tokio::time::Instant::now() + limits.max_stream_duration;
        let mut stream = request.into_inner();

        let first = next(&mut stream, deadline, limits).await?;
        let Some(Message::Header(raw_header)) = first.and_then(|m| m.message) else {
            return Err(ServerError::InvalidStream(
                "the first message must be the extract header".into(),
            ));
        };
        let mut violations = Violations::new(limits.max_reported_violations);
        let Some(header) = convert::header(&raw_header, &mut violations) else {
            return Err(ServerError::invalid("extract header rejected", violations));
        };
        // Tokens under another linkage key could never link: refused before
        // the policy is asked or anything is stored or replaced.
        let keys = &self.broker.linkage_keys;
        if !keys.accepts(&header.linkage_key_id) {
            violations.push(
                None,
                "header.linkage_key_id",
                keys.refusal(&header.linkage_key_id),
            );
            return Err(ServerError::invalid("extract header rejected", violations));
        }
        span.record("source", header.source.as_str());
        labels.source = Some(header.source.as_str());
        span.record("extract_id", header.extract_id.as_str());
        let announced = header.record_count.saturating_add(header.delete_count);
        if announced > limits.max_extract_records {
            return Err(ServerError::LimitExceeded(format!(
                "records per extract limit: at most {} records and deletions, the header announces {announced}",
                limits.max_extract_records
            )));
        }
        // The decision is audited before any transaction opens: a refusal
        // as such, an allow as the push it permits. If the audit write
        // fails, nothing is written at all (an open extract transaction
        // would hold SQLite's one write lock, which the audit writer needs).
        let decision = self
            .broker
            .decide_audited(
                &identity,
                policy_input(&identity, Action::Ingest, &[header.source.as_str()]),
                |e| describe_push(e, &header),
            )
            .await?;
        let mut event = audit::event(&identity, concord_audit::Action::Ingest, &decision);
        describe_push(&mut event, &header);
        self.broker.audit.append(event).await?;
        let header = Arc::new(header);

        let (writer, existing) = match self
            .broker
            .store
            .begin_extract(&header, self.broker.broker_key.id())
            .await?
        {
            Begin::New(w) => (Some(w), None),
            Begin::Existing(r) if r.checksum == header.checksum => (None, Some(r)),
            Begin::Existing(_) => {
                return Err(ServerError::AlreadyExists(format!(
                    "extract {} from {} was already accepted with different content; give a changed extract a new id",
                    header.extract_id, header.source
                )));
            }
        };
        let absorb = Absorb::new(
            header.clone(),
            self.broker.broker_key.clone(),
            violations,
            writer.is_some(),
        );
        let Some(mut writer) = writer else {
            // A re-push: read it whole and check it is the same extract.
            absorb_stream(&mut stream, absorb, None, deadline, limits).await?;
            let receipt = existing.expect("an existing receipt");
            return Ok((receipt, true));
        };
        let mut written = Uncommitted {
            gauge: &self.broker.uncommitted,
            rows: 0,
        };
        let outcome = absorb_stream(
            &mut stream,
            absorb,
            Some((&mut writer, &mut written)),
            deadline,
            limits,
        )
        .await;
        match outcome {
            Ok(received) => {
                let info = CommitInfo {
                    org: identity.org.clone(),
                    records_received: received,
                    checksum: header.checksum,
                    policy_digest: decision.bundle_digest,
                    policy_revision: decision.bundle_revision,
                    committed_at: Utc::now(),
                };
                let committed = writer.commit(info).await?;
                // The commit queued the linkage job; the linker runs it now.
                self.broker.linkage.wake();
                Ok((committed.receipt, false))
            }
            Err(e) => {
                if let Err(rollback) = writer.abort().await {
                    tracing::warn!(error = %rollback, "rollback failed; the database discards the transaction");
                }
                Err(e)
            }
        }
    }
}

/// An ingest event names the extract and, as what the agency disclosed to
/// the broker, its source (with no field names).
fn describe_push(e: &mut AuditEvent, header: &ExtractHeader) {
    e.extract_id = Some(header.extract_id.clone());
    e.disclosed.insert(header.source, BTreeSet::new());
}

/// Reading a receipt is recorded as an ingest-policy decision on its own,
/// naming the source and (if it is a well-formed id) the extract.
fn describe_receipt_read(e: &mut AuditEvent, source: Source, extract_id: &str) {
    e.extract_id = ExtractId::parse(extract_id).ok();
    e.disclosed.insert(source, BTreeSet::new());
}

/// The next message, within the stream's deadline. A broken stream is
/// reported as such: its extract leaves nothing.
async fn next(
    stream: &mut Streaming<wire::PushExtractBytesRequest>,
    deadline: tokio::time::Instant,
    limits: &crate::Limits,
) -> Result<Option<wire::PushExtractBytesRequest>, ServerError> {
    match tokio::time::timeout_at(deadline, stream.message()).await {
        Err(_) => Err(ServerError::DeadlineExceeded(format!(
            "stream duration limit: an extract must arrive within {} s; nothing was stored",
            limits.max_stream_duration.as_secs()
        ))),
        Ok(Ok(m)) => Ok(m),
        Ok(Err(status))
            if status.code() == tonic::Code::OutOfRange
                || status.message().contains("message length too large") =>
        {
            Err(ServerError::LimitExceeded(format!(
                "message size limit: {}",
                status.message()
            )))
        }
        // The certificate was revoked while the push streamed
        // (`tls::RevocationLayer`): its refusal, word for word.
        Ok(Err(status)) if status.code() == tonic::Code::Unauthenticated => {
            Err(ServerError::Unauthenticated(status.message().to_owned()))
        }
        Ok(Err(status)) => Err(ServerError::Cancelled(format!(
            "the stream broke off before its end ({}); nothing was stored",
            status.code()
        ))),
    }
}

/// Reads every batch, validates and re-keys it off the async runtime, and
/// writes it through `writer` while the extract is still valid. Reading and
/// validating overlap with writing: valid records go to the writer through a
/// channel of two chunks, so a slow database slows the reader (and, through
/// HTTP/2 flow control, the client) rather than filling memory. Returns the
/// number of records received.
async fn absorb_stream(
    stream: &mut Streaming<wire::PushExtractBytesRequest>,
    state: Absorb,
    writer: Option<(&mut ExtractWriter, &mut Uncommitted<'_>)>,
    deadline: tokio::time::Instant,
    limits: &crate::Limits,
) -> Result<u64, ServerError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Record>>(2);
    let reader = read_batches(stream, state, tx, deadline, limits);
    let (mut state, writer) = match writer {
        Some((w, written)) => {
            // Never dropped mid-insert: when the reader fails it drops its
            // sender, and the writer stops after the chunk in hand; when the
            // writer fails it drops the receiver, and the reader's next hand
            // over fails.
            let write = async move {
                let wrote = async {
                    while let Some(chunk) = rx.recv().await {
                        w.insert(&chunk).await?;
                        written.add(chunk.len() as u64);
                    }
                    Ok::<_, ServerError>(())
                }
                .await;
                drop(rx);
                wrote.map(|()| (w, written))
            };
            let (read, wrote) = tokio::join!(reader, write);
            // The writer's failure is the cause when both failed.
            let writer = wrote?;
            (read?, Some(writer))
        }
        None => (reader.await?, None),
    };
    state.finish()?;
    if let Some((w, written)) = writer {
        w.insert(&state.pending).await?;
        written.add(state.pending.len() as u64);
        w.delete(&state.pending_deletes).await?;
    }
    Ok(state.received)
}

/// The reading half of [`absorb_stream`]: every batch is validated off the
/// runtime; full chunks of valid records are handed to the writer.
async fn read_batches(
    stream: &mut Streaming<wire::PushExtractBytesRequest>,
    mut state: Absorb,
    chunks: tokio::sync::mpsc::Sender<Vec<Record>>,
    deadline: tokio::time::Instant,
    limits: &crate::Limits,
) -> Result<Absorb, ServerError> {
    while let Some(msg) = next(stream, deadline, limits).await? {
        let batch = match msg.message {
            Some(Message::Batch(b)) => b,
            Some(Message::Header(_)) => {
                return Err(ServerError::InvalidStream(
                    "a second header arrived; an extract has exactly one".into(),
                ));
            }
            None => {
                return Err(ServerError::InvalidStream(
                    "a message with neither header nor batch arrived".into(),
                ));
            }
        };
        let n = batch.records.len() + batch.delete_source_refs.len();
        if n > limits.max_batch_records {
            return Err(ServerError::LimitExceeded(format!(
                "batch size limit: a batch may hold at most {} records and deletions, one held {n}",
                limits.max_batch_records
            )));
        }
        let records = state.received + batch.records.len() as u64;
        let deletes = state.deletes_received + batch.delete_source_refs.len() as u64;
        if records > state.header.record_count || deletes > state.header.delete_count {
            return Err(ServerError::InvalidStream(format!(
                "more arrived than the header announces: at least {records} records \
                 (header.record_count {}) and {deletes} deletions (header.delete_count {}); \
                 set the counts to what is sent",
                state.header.record_count, state.header.delete_count
            )));
        }
        state = tokio::task::spawn_blocking(move || {
            state.absorb(batch);
            state
        })
        .await
        .map_err(|_| {
            ServerError::Cancelled("validation of a batch failed; nothing was stored".into())
        })?;
        if state.violations.is_empty() && state.pending.len() >= limits.write_chunk_records {
            let chunk = std::mem::take(&mut state.pending);
            if chunks.send(chunk).await.is_err() {
                // The writer stopped; its error is what the caller reports.
                break;
            }
        }
    }
    Ok(state)
}

/// Counts this extract's rows in the broker's uncommitted-rows gauge, and
/// takes them out again however the push ends (commit, refusal, or a
/// cancelled handler).
struct Uncommitted<'a> {
    gauge: &'a tokio::sync::watch::Sender<u64>,
    rows: u64,
}

impl Uncommitted<'_> {
    fn add(&mut self, n: u64) {
        self.rows += n;
        self.gauge.send_modify(|g| *g += n);
    }
}

impl Drop for Uncommitted<'_> {
    fn drop(&mut self) {
        let n = self.rows;
        self.gauge.send_modify(|g| *g -= n);
    }
}

/// Validation state of one extract, moved in and out of blocking threads.
struct Absorb {
    header: Arc<ExtractHeader>,
    key: Arc<BrokerKey>,
    checksum: ExtractChecksum,
    violations: Violations,
    /// Whether to validate and keep records (false for a re-push, which is
    /// only checked against its checksum).
    collect: bool,
    seen: HashSet<Token>,
    deleted: HashSet<Token>,
    received: u64,
    deletes_received: u64,
    pending: Vec<Record>,
    pending_deletes: Vec<Token>,
}

impl Absorb {
    fn new(
        header: Arc<ExtractHeader>,
        key: Arc<BrokerKey>,
        violations: Violations,
        collect: bool,
    ) -> Self {
        Absorb {
            header,
            key,
            checksum: ExtractChecksum::new(),
            violations,
            collect,
            seen: HashSet::new(),
            deleted: HashSet::new(),
            received: 0,
            deletes_received: 0,
            pending: Vec::new(),
            pending_deletes: Vec::new(),
        }
    }

    fn absorb(&mut self, batch: wire::RecordBatchBytes) {
        let lk = self.header.linkage_key_id.as_str();
        for bytes in &batch.records {
            let index = self.received;
            self.received += 1;
            // The checksum covers the bytes as they arrived, never a
            // re-encoding of what they decode to.
            self.checksum.add_record_bytes(bytes);
            if !self.collect {
                continue;
            }
            let r = match v1::Record::decode(bytes.as_slice()) {
                Ok(r) => r,
                Err(_) => {
                    self.violations.record(
                        index,
                        "record",
                        "is not a valid concord.v1.Record encoding",
                    );
                    continue;
                }
            };
            let Some(mut rec) = convert::record(&r, index, &self.header, &mut self.violations)
            else {
                continue;
            };
            let data_set = self.header.data_set;
            if !data_set.holds(rec.kind) {
                let belongs = concord_core::DataSet::of_record(self.header.source, rec.kind);
                self.violations.record(
                    index,
                    "kind",
                    format!(
                        "{} records belong to data set {belongs}, not {data_set}; push them in \
                         an extract of {belongs}",
                        rec.kind
                    ),
                );
                continue;
            }
            if !self.seen.insert(rec.source_ref) {
                self.violations
                    .record(index, "source_ref", "appears twice in the extract");
                continue;
            }
            if self.deleted.contains(&rec.source_ref) {
                self.violations
                    .record(index, "source_ref", "is also deleted by this extract");
                continue;
            }
            if self.violations.is_empty() {
                rec.source_ref = self.key.pseudonymise(lk, &rec.source_ref);
                for (_, t) in &mut rec.tokens {
                    *t = self.key.pseudonymise(lk, t);
                }
                self.pending.push(rec);
            }
        }
        for d in &batch.delete_source_refs {
            let i = self.deletes_received;
            self.deletes_received += 1;
            self.checksum.add_delete(d);
            if !self.collect {
                continue;
            }
            let field = format!("delete_source_refs[{i}]");
            if self.header.mode != ExtractMode::Delta {
                self.violations
                    .push(None, field, "deletions are allowed only in delta mode");
                continue;
            }
            let Some(t) = Token::from_slice(d) else {
                self.violations
                    .push(None, field, "must be a 32-byte keyed hash");
                continue;
            };
            if self.seen.contains(&t) {
                self.violations
                    .push(None, field, "is also upserted by this extract");
            } else if !self.deleted.insert(t) {
                self.violations
                    .push(None, field, "appears twice in the extract");
            } else {
                self.pending_deletes.push(self.key.pseudonymise(lk, &t));
            }
        }
    }

    /// After the last batch: the counts and the checksum must agree and no
    /// record may be invalid.
    fn finish(&mut self) -> Result<(), ServerError> {
        let h = &self.header;
        if self.received != h.record_count {
            self.violations.push(
                None,
                "header.record_count",
                format!(
                    "announces {} records, {} arrived",
                    h.record_count, self.received
                ),
            );
        }
        if self.deletes_received != h.delete_count {
            self.violations.push(
                None,
                "header.delete_count",
                format!(
                    "announces {} deletions, {} arrived",
                    h.delete_count, self.deletes_received
                ),
            );
        }
        let checksum = std::mem::take(&mut self.checksum).finish();
        if checksum != h.checksum {
            self.violations.push(
                None,
                "header.checksum",
                format!(
                    "does not match the records and deletions that arrived (the broker \
                     computed {}); compute it over each record's bytes exactly as sent, \
                     see ExtractHeader.checksum in concord/v1/ingest.proto",
                    hex::encode(checksum)
                ),
            );
        }
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ServerError::invalid(
                "extract rejected",
                std::mem::replace(&mut self.violations, Violations::new(0)),
            ))
        }
    }
}
