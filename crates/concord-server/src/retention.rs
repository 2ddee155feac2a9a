//! Retention: records the agreement no longer lets the broker keep are
//! deleted.
//!
//! The periods come from the policy bundle serving at the time of each run
//! (`data.concord.retention.periods`, see `policies/retention.rego`), so a
//! policy reload changes them without a restart. Per source, the records
//! whose event date is before `today - period` are deleted in one
//! transaction (as a writer of that source, so never in the middle of an
//! extract), linkage is told to forget them, and a `retention_purge` audit
//! event records the source, the period, the cutoff and how many records
//! went, never which. A source without a period is kept; if the periods
//! cannot be read at all, nothing is deleted and the run is retried at the
//! next interval.

use std::{sync::Arc, time::Duration};

use chrono::{NaiveDate, Utc};
use concord_audit::{Action, AuditEvent};
use concord_core::Source;
use concord_pki::Identity;
use concord_policy::RetentionPeriod;
use tokio::task::JoinHandle;

use crate::{Broker, ServerError, audit};

/// Who purges, in the audit log: the broker itself.
pub const RETENTION_ACTOR: &str = "retention";

/// What one source's purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePurge {
    pub source: Source,
    pub period: RetentionPeriod,
    /// Records with an event date before this day were deleted.
    pub cutoff: NaiveDate,
    /// How many records were deleted.
    pub deleted: usize,
    /// The audit event's sequence number (`None` when nothing was deleted,
    /// which is not audited).
    pub audit_seq: Option<u64>,
}

/// Purges every source with a retention period, as of `today`. Returns one
/// entry per source that has a period, in source order. Fails only if the
/// periods cannot be read; a source whose purge fails is logged and skipped
/// (the next run retries it) so one source cannot hold up the others.
pub async fn purge(broker: &Broker, today: NaiveDate) -> Result<Vec<SourcePurge>, ServerError> {
    let periods = broker
        .policy
        .retention_periods()
        .map_err(ServerError::Policy)?;
    let mut done = Vec::new();
    for (name, period) in &periods.periods {
        let Ok(source) = name.parse::<Source>() else {
            // retention.rego lists only the agreement's sources; a name the
            // broker does not know is not a table it acts on.
            tracing::warn!(source = %name, "retention period for an unknown source ignored");
            continue;
        };
        let Some(cutoff) = period.cutoff(today) else {
            tracing::warn!(%source, %period, "retention period reaches outside the calendar; skipped");
            continue;
        };
        match purge_source(broker, source, *period, cutoff, &periods.bundle.digest).await {
            Ok(purge) => done.push(purge),
            Err(e) => {
                tracing::error!(%source, error = %e, "retention purge failed; retried next run");
            }
        }
    }
    Ok(done)
}

async fn purge_source(
    broker: &Broker,
    source: Source,
    period: RetentionPeriod,
    cutoff: NaiveDate,
    policy_digest: &str,
) -> Result<SourcePurge, ServerError> {
    let removed = broker
        .store
        .delete_records_before(source, cutoff)
        .await
        .map_err(ServerError::Store)?;
    let deleted = removed.len();
    if deleted == 0 {
        return Ok(SourcePurge {
            source,
            period,
            cutoff,
            deleted,
            audit_seq: None,
        });
    }
    // The purge queued the job that forgets the records; the linker runs it now.
    broker.linkage.wake();
    let receipt = broker
        .audit
        .append(event(source, period, cutoff, deleted, policy_digest))
        .await;
    let audit_seq = match receipt {
        Ok(receipt) => Some(receipt.seq),
        Err(e) => {
            // The records are gone either way; say so loudly.
            tracing::error!(%source, deleted, error = %e, "a retention purge could not be audited");
            None
        }
    };
    tracing::info!(%source, %period, %cutoff, deleted, "records past their retention period deleted");
    Ok(SourcePurge {
        source,
        period,
        cutoff,
        deleted,
        audit_seq,
    })
}

/// The audit event of one source's purge: the broker as actor, the policy
/// bundle that gave the period, and what was done in words (source,
/// period, cutoff and count; no record or person is named).
fn event(
    source: Source,
    period: RetentionPeriod,
    cutoff: NaiveDate,
    deleted: usize,
    policy_digest: &str,
) -> AuditEvent {
    let broker = Identity {
        org: "concord".to_owned(),
        role: "broker".to_owned(),
        user: RETENTION_ACTOR.to_owned(),
    };
    let mut event = audit::refusal(
        &broker,
        Action::RetentionPurge,
        "",
        Some(policy_digest.to_owned()),
    );
    event.decision = concord_audit::Decision::Allow;
    event.lawful_basis = Some(format!(
        "storage limitation (UK GDPR Art.5(1)(e)): the agreement keeps {source} records for \
         {period}; {deleted} with an event date before {cutoff} deleted"
    ));
    event
}

/// Starts the retention task: one purge now, then one every `interval`
/// (missed ticks are skipped, not bunched). Runs until the runtime stops.
pub fn spawn(broker: Arc<Broker>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            match purge(&broker, Utc::now().date_naive()).await {
                Ok(done) => {
                    let deleted: usize = done.iter().map(|p| p.deleted).sum();
                    tracing::debug!(sources = done.len(), deleted, "retention run finished");
                }
                Err(e) => {
                    tracing::error!(error = %e, "retention periods unreadable; nothing deleted this run");
                }
            }
        }
    })
}
