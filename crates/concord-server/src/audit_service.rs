//! `concord.v1.Audit`: the audit log. Its events are for the data
//! protection officer; its signed checkpoints (size, root, signature, no
//! events) for every partnership member, to check a receipt against. Every
//! call first asks the `audit_read` policy, naming what it reads as the
//! resource's record kind ([`EVENTS`] or [`CHECKPOINT`]), and is itself
//! audited (action `audit_read`) before anything is read.

use std::sync::Arc;

use concord_audit::{AuditEvent, Decision, SubjectId};
use concord_core::{KeyName, Token, Violations};
use concord_pki::Identity;
use concord_policy::Action;
use concord_proto::v1::{self, audit_server::Audit};
use tonic::{Request, Response, Status};

use crate::{
    Broker,
    audit::{self, policy_input},
    error::ServerError,
    identity::caller,
};

/// Events a ListEvents page holds when the request names no limit.
const DEFAULT_PAGE: u32 = 1_000;
/// Most events a ListEvents page holds.
const MAX_PAGE: u32 = 10_000;
/// Most accesses an AccessHistory answer lists (newest first).
const MAX_ACCESSES: u32 = 10_000;

/// The record kind of a read of events (ListEvents, AccessHistory).
const EVENTS: &str = "events";
/// The record kind of a read of a signed checkpoint (Checkpoint).
const CHECKPOINT: &str = "checkpoint";

pub struct AuditService {
    broker: Arc<Broker>,
}

impl AuditService {
    pub fn new(broker: Arc<Broker>) -> Self {
        AuditService { broker }
    }

    /// Asks the `audit_read` policy about reading `kind` ([`EVENTS`] or
    /// [`CHECKPOINT`]); a refusal is audited and returned.
    async fn authorise(
        &self,
        who: &Identity,
        kind: &str,
    ) -> Result<concord_policy::Decision, ServerError> {
        let mut input = policy_input(who, Action::AuditRead, &[]);
        input.resource.record_kinds = vec![kind.to_owned()];
        self.broker.decide_audited(who, input, |_| {}).await
    }

    /// Records an allowed audit read before it is answered.
    async fn record(
        &self,
        who: &Identity,
        decision: &concord_policy::Decision,
        subjects: impl IntoIterator<Item = SubjectId>,
    ) -> Result<(), ServerError> {
        let mut e = audit::event(who, concord_audit::Action::AuditRead, decision);
        e.subjects.extend(subjects);
        self.broker.audit.append(e).await.map(drop)
    }
}

#[tonic::async_trait]
impl Audit for AuditService {
    #[tracing::instrument(skip_all, fields(org))]
    async fn list_events(
        &self,
        request: Request<v1::ListEventsRequest>,
    ) -> Result<Response<v1::ListEventsResponse>, Status> {
        let who = caller(&request)?;
        tracing::Span::current().record("org", who.org.as_str());
        let decision = self.authorise(&who, EVENTS).await?;
        self.record(&who, &decision, []).await?;
        let req = request.into_inner();
        let limit = match req.limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        // Only what the tree holds: the store may be a batch ahead.
        let tree_size = self.broker.audit.size();
        let events = self
            .broker
            .store
            .audit_events(req.from_seq, limit)
            .await
            .map_err(ServerError::from)?
            .into_iter()
            .filter(|e| e.seq < tree_size)
            .map(|e| v1::AuditEventEntry {
                seq: e.seq,
                event: e.event,
                leaf_hash: e.leaf_hash,
            })
            .collect();
        Ok(Response::new(v1::ListEventsResponse { events, tree_size }))
    }

    #[tracing::instrument(skip_all, fields(org))]
    async fn checkpoint(
        &self,
        request: Request<v1::CheckpointRequest>,
    ) -> Result<Response<v1::SignedCheckpoint>, Status> {
        let who = caller(&request)?;
        tracing::Span::current().record("org", who.org.as_str());
        let decision = self.authorise(&who, CHECKPOINT).await?;
        self.record(&who, &decision, []).await?;
        let old_size = request.into_inner().old_size;
        let log = &self.broker.audit;
        // Signed now if the log grew: it covers this very read.
        let signed = log.checkpoint().await?;
        let size = signed.checkpoint.size;
        if old_size > size {
            let mut v = Violations::new(1);
            v.push(
                None,
                "old_size",
                format!("is larger than the log ({size} events)"),
            );
            return Err(ServerError::invalid("checkpoint request rejected", v).into());
        }
        let proof = log.consistency_proof(old_size, size)?;
        Ok(Response::new(v1::SignedCheckpoint {
            note: signed.to_note(),
            tree_size: size,
            root_hash: signed.checkpoint.root.0.to_vec(),
            consistency_proof: proof.into_iter().map(|h| h.0.to_vec()).collect(),
            verifier_key: log.verifier_key().to_owned(),
        }))
    }

    #[tracing::instrument(skip_all, fields(org))]
    async fn access_history(
        &self,
        request: Request<v1::AccessHistoryRequest>,
    ) -> Result<Response<v1::AccessHistoryResponse>, Status> {
        let who = caller(&request)?;
        tracing::Span::current().record("org", who.org.as_str());
        let decision = self.authorise(&who, EVENTS).await?;
        let pseudonyms = rekey(&self.broker, &request.into_inner().tokens)?;
        let person = self.broker.linkage.find_person(&pseudonyms);
        // The question is audited, naming the person it was about, before
        // anything is read.
        self.record(&who, &decision, person.map(SubjectId::Person))
            .await?;
        let Some(person) = person else {
            return Ok(Response::new(v1::AccessHistoryResponse {
                matched: false,
                accesses: vec![],
            }));
        };
        let subject = SubjectId::Person(person).to_string();
        let tree_size = self.broker.audit.size();
        let mut accesses = Vec::new();
        for stored in self
            .broker
            .store
            .audit_events_about(&subject, MAX_ACCESSES)
            .await
            .map_err(ServerError::from)?
        {
            if stored.seq >= tree_size {
                continue;
            }
            let event = AuditEvent::decode(&stored.event).map_err(|e| {
                ServerError::Audit(format!(
                    "stored event {} is not readable ({e}); run `concord audit verify`",
                    stored.seq
                ))
            })?;
            accesses.push(access(stored.seq, &event));
        }
        Ok(Response::new(v1::AccessHistoryResponse {
            matched: true,
            accesses,
        }))
    }
}

/// The caller's match-key tokens re-keyed as the broker stores them.
fn rekey(
    broker: &Broker,
    tokens: &[v1::MatchKeyToken],
) -> Result<Vec<(KeyName, Token)>, ServerError> {
    let mut v = Violations::new(broker.limits.max_reported_violations);
    let checked = crate::lookup::check_tokens(tokens, &broker.linkage_keys, &mut v);
    if !v.is_empty() {
        return Err(ServerError::invalid("access history request rejected", v));
    }
    // One linkage key id for every token (checked).
    let key_id = &tokens[0].key_id;
    Ok(checked
        .into_iter()
        .map(|(key, token)| (key, broker.broker_key.pseudonymise(key_id, &token)))
        .collect())
}

fn access(seq: u64, e: &AuditEvent) -> v1::Access {
    v1::Access {
        event_seq: seq,
        time: e.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        user: e.user.clone(),
        org: e.org.clone(),
        role: e.role.clone(),
        action: e.action.as_str().to_owned(),
        purpose: e.purpose.clone().unwrap_or_default(),
        case_ref: e.case_ref.clone().unwrap_or_default(),
        decision: match e.decision {
            Decision::Allow => "allow",
            Decision::Deny { .. } => "deny",
        }
        .to_owned(),
        sources: e.disclosed.keys().map(|s| s.code()).collect(),
    }
}
