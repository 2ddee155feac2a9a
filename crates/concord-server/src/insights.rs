//! `concord.v1.Insights`: aggregate, disclosure-controlled figures
//! (DESIGN §5), and the board's dashboard, for the roles the `aggregate`
//! policy allows.
//!
//! Every request: identity from the certificate; the `aggregate` policy
//! decides and sets the disclosure rule for the caller's role
//! (`suppress_max`, `rounding_base`; a refusal is audited and answered
//! `PERMISSION_DENIED`); the figures are counted from the in-memory facts
//! and protected (`concord-disclosure`) before anything leaves; the audit
//! event (who, purpose, agreement, policy digest, which sources and fields
//! were aggregated) is appended last, and if that fails the request fails.
//! Nothing here is person-level: health and social-care records enter
//! aggregates only, and no path leads from a figure to a record.
//!
//! The facts ([`FactSet`]) are loaded from the store once per *insights
//! generation* (a counter the database bumps on every accepted extract,
//! linkage run and record deletion) and shared by all requests until the
//! generation moves; one request reloads while the others wait for it. A
//! background task ([`spawn_refresher`]) reloads after every linkage run,
//! so requests rarely wait.

use std::sync::Arc;

use concord_audit::FieldName;
use concord_core::Source;
use concord_disclosure::{
    AggregateQuery, Dashboard, DashboardPeriod, Dimension, DisclosureError, FactSet, Filter,
    Measure, ProtectedTable, ProtectedValue, Rule, Usage, build_dashboard, dashboard_usage,
};
use concord_keys::BrokerKey;
use concord_pki::Identity;
use concord_policy::Action;
use concord_proto::v1::{self, insights_server::Insights as InsightsRpc};
use concord_store::{RecordKeyer, Store};
use tokio::sync::Mutex;
use tonic::{Request, Response, Status};

use crate::{
    Broker,
    audit::{self, AuditReceipt, policy_input},
    error::ServerError,
    identity::caller,
};

/// The organisation name under which the cell-key secret is derived from
/// the broker key's recipient-pseudonym key. It holds a `/`, which no
/// organisation id may (`concord-pki`'s identity rules), so no recipient
/// is ever handed this value as a pseudonym.
const CELL_KEY_LABEL: &str = "concord/v1/cell-key";

/// The keyer of record and person keys for the cell-key method: a secret
/// derived from the broker key, so no reader can compute a cell's key. A
/// broker key rotation derives a new one (every figure may then move by a
/// step once).
pub fn cell_keyer(key: &BrokerKey) -> RecordKeyer {
    RecordKeyer::new(key.person_pseudonym(CELL_KEY_LABEL, 0).as_bytes())
}

/// The facts the aggregates count, cached per insights generation.
#[derive(Default)]
pub struct InsightsCache {
    current: Mutex<Option<(i64, Arc<FactSet>)>>,
    loads: std::sync::atomic::AtomicU64,
}

impl InsightsCache {
    /// The facts as of now: the cached set if the store's generation has
    /// not moved, else a fresh load (one at a time).
    pub async fn facts(&self, store: &Store, key: &BrokerKey) -> Result<Arc<FactSet>, ServerError> {
        let mut current = self.current.lock().await;
        // Read before loading: a set is never labelled newer than it is.
        let generation = store.insights_generation().await?;
        if let Some((g, facts)) = current.as_ref()
            && *g == generation
        {
            return Ok(facts.clone());
        }
        let started = std::time::Instant::now();
        let facts = Arc::new(store.load_fact_set(Arc::new(cell_keyer(key))).await?);
        tracing::info!(
            generation,
            records = facts.len(),
            ms = started.elapsed().as_millis() as u64,
            "insight facts loaded"
        );
        *current = Some((generation, facts.clone()));
        self.loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(facts)
    }

    /// How many times the facts have been loaded from the store.
    pub fn loads(&self) -> u64 {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Loads the facts at start and again after every linkage run (each
/// accepted extract is followed by one), so requests find them loaded; a
/// request still checks the generation and loads if they are stale. The
/// task ends when the linker stops or the handle is aborted.
pub fn spawn_refresher(broker: Arc<Broker>) -> tokio::task::JoinHandle<()> {
    let mut runs = broker.linkage.watch_runs();
    tokio::spawn(async move {
        loop {
            if let Err(e) = broker
                .insights
                .facts(&broker.store, &broker.broker_key)
                .await
            {
                tracing::warn!(error = %e, "the insight facts could not be refreshed; the next request loads them");
            }
            if runs.changed().await.is_err() {
                return;
            }
        }
    })
}

/// The policy's disclosure rule for the caller, from an allowing decision.
/// A decision without a valid rule refuses (fail closed).
fn rule_of(decision: &concord_policy::Decision) -> Result<Rule, ServerError> {
    let num = |k: &str| {
        decision
            .body
            .get(k)
            .and_then(concord_policy::Part::as_u64)
            .and_then(|v| u32::try_from(v).ok())
    };
    let malformed = || {
        ServerError::Unavailable(
            "the aggregate policy allowed the request but set no valid disclosure rule \
             (suppress_max, rounding_base), so it is refused; fix the policy data"
                .into(),
        )
    };
    let (Some(suppress_max), Some(rounding_base)) = (num("suppress_max"), num("rounding_base"))
    else {
        return Err(malformed());
    };
    Rule::new(suppress_max, rounding_base).map_err(|_| malformed())
}

/// Asks the `aggregate` policy about `who` for `purpose` over `sources`.
/// A refusal is audited and returned as the error.
async fn decide(
    broker: &Broker,
    who: &Identity,
    purpose: Option<&str>,
    sources: &[Source],
) -> Result<(concord_policy::Decision, Rule), ServerError> {
    let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
    let mut input = policy_input(who, Action::Aggregate, &names);
    input.purpose = purpose.map(str::to_owned);
    let asked = crate::convert::audited_text(crate::convert::CallerText::Purpose, purpose);
    let decision = broker
        .decide_audited(who, input, |e| e.purpose = asked)
        .await?;
    let rule = match rule_of(&decision) {
        Ok(rule) => rule,
        Err(e) => {
            let mut event = audit::refusal(
                who,
                concord_audit::Action::Aggregate,
                "the policy set no valid disclosure rule",
                Some(decision.bundle_digest.clone()),
            );
            event.purpose =
                crate::convert::audited_text(crate::convert::CallerText::Purpose, purpose);
            if let Err(err) = broker.audit.append(event).await {
                tracing::warn!(error = %err, "a refusal could not be audited; it is refused all the same");
            }
            return Err(e);
        }
    };
    Ok((decision, rule))
}

/// Appends the allowed aggregate's audit event: who, the decision, the
/// purpose the policy applied, and what was aggregated (source → fields).
async fn record(
    broker: &Broker,
    who: &Identity,
    decision: &concord_policy::Decision,
    usage: &Usage,
) -> Result<AuditReceipt, ServerError> {
    let mut e = audit::event(who, concord_audit::Action::Aggregate, decision);
    e.purpose = decision
        .body
        .get("purpose")
        .and_then(concord_policy::Part::as_str)
        .map(str::to_owned);
    for (source, fields) in usage {
        let names = fields
            .iter()
            .map(|f| FieldName::parse(f))
            .collect::<Result<_, _>>()
            .map_err(|_| ServerError::Audit("a field name could not be recorded".into()))?;
        e.disclosed.insert(*source, names);
    }
    broker.audit.append(e).await
}

/// Whether `who` may have the dashboard (the web dashboard's sign-in asks
/// before it issues a link). The decision is audited either way; nothing
/// is disclosed.
pub async fn authorise_dashboard(broker: &Broker, who: &Identity) -> Result<Rule, ServerError> {
    let (decision, rule) = decide(broker, who, None, Source::ALL).await?;
    record(broker, who, &decision, &Usage::new()).await?;
    Ok(rule)
}

/// The dashboard for `period` (`YYYY` or `YYYY-MM`) as `who` may see it:
/// decided, counted, protected with the role's rule, and audited.
pub async fn dashboard_for(
    broker: &Broker,
    who: &Identity,
    period: &str,
) -> Result<Dashboard, ServerError> {
    dashboard_audited(broker, who, period)
        .await
        .map(|(d, _, _)| d)
}

async fn dashboard_audited(
    broker: &Broker,
    who: &Identity,
    period: &str,
) -> Result<(Dashboard, String, AuditReceipt), ServerError> {
    let period = DashboardPeriod::parse(period)?;
    let (decision, rule) = decide(broker, who, None, Source::ALL).await?;
    let facts = broker
        .insights
        .facts(&broker.store, &broker.broker_key)
        .await?;
    let dashboard = tokio::task::spawn_blocking(move || build_dashboard(&facts, &period, rule))
        .await
        .map_err(|_| ServerError::Unavailable("counting the dashboard failed; try again".into()))?;
    let receipt = record(broker, who, &decision, &dashboard_usage()).await?;
    Ok((dashboard, decision.bundle_revision, receipt))
}

/// The wire question as a checked domain question.
fn query_of(r: &v1::AggregateRequest) -> Result<AggregateQuery, ServerError> {
    let dimension = |code: i32| {
        Dimension::from_code(code)
            .filter(|d| d.is_record_field())
            .ok_or(DisclosureError::UnknownDimension)
    };
    let group_by = r
        .group_by
        .iter()
        .map(|c| dimension(*c))
        .collect::<Result<Vec<_>, _>>()?;
    let measures = r
        .measures
        .iter()
        .map(|c| {
            Measure::from_code(*c).ok_or_else(|| {
                ServerError::InvalidStream(
                    "unknown measure: use records, distinct_people, multi_agency_people, \
                     repeat_victims, victims_under_25 or records_under_25"
                        .into(),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let date = |s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DisclosureError::BadPeriod)
    };
    let filters = r
        .filters
        .iter()
        .map(|f| {
            Ok(Filter {
                dimension: dimension(f.dimension)?,
                values: f.values.clone(),
            })
        })
        .collect::<Result<Vec<_>, DisclosureError>>()?;
    Ok(AggregateQuery::new(
        group_by,
        measures,
        date(&r.period_start)?,
        date(&r.period_end)?,
        filters,
    )?)
}

fn wire_value(v: ProtectedValue) -> v1::ProtectedValue {
    match v {
        ProtectedValue::Suppressed => v1::ProtectedValue {
            suppressed: true,
            value: 0,
        },
        ProtectedValue::Released(n) => v1::ProtectedValue {
            suppressed: false,
            value: n,
        },
    }
}

/// A protected table on the wire.
pub fn wire_table(
    t: ProtectedTable,
    policy_revision: &str,
    receipt: Option<v1::AuditReceipt>,
) -> v1::ProtectedTable {
    v1::ProtectedTable {
        group_by: t.group_by.iter().map(|d| d.code()).collect(),
        measures: t.measures.iter().map(|m| m.code()).collect(),
        rows: t
            .rows
            .into_iter()
            .map(|r| v1::Row {
                keys: r.keys,
                values: r.values.into_iter().map(wire_value).collect(),
            })
            .collect(),
        totals: t.totals.into_iter().map(wire_value).collect(),
        suppress_max: t.suppress_max,
        rounding_base: t.rounding_base,
        policy_revision: policy_revision.to_owned(),
        receipt,
    }
}

pub struct InsightsService {
    broker: Arc<Broker>,
}

impl InsightsService {
    pub fn new(broker: Arc<Broker>) -> Self {
        InsightsService { broker }
    }
}

#[tonic::async_trait]
impl InsightsRpc for InsightsService {
    #[tracing::instrument(skip_all, fields(org, role))]
    async fn aggregate(
        &self,
        request: Request<v1::AggregateRequest>,
    ) -> Result<Response<v1::ProtectedTable>, Status> {
        let who = caller(&request)?;
        tracing::Span::current().record("org", who.org.as_str());
        tracing::Span::current().record("role", who.role.as_str());
        let req = request.into_inner();
        let query = query_of(&req)?;
        let purpose = Some(req.purpose.as_str()).filter(|p| !p.is_empty());
        let broker = &self.broker;
        let (decision, rule) = decide(broker, &who, purpose, &query.sources()).await?;
        let facts = broker
            .insights
            .facts(&broker.store, &broker.broker_key)
            .await?;
        let q = query.clone();
        let table = tokio::task::spawn_blocking(move || q.answer(&facts, rule))
            .await
            .map_err(|_| ServerError::Unavailable("counting failed; try again".into()))?
            .map_err(ServerError::from)?;
        let receipt = record(broker, &who, &decision, &query.usage()).await?;
        tracing::info!(
            rows = table.rows.len(),
            suppressed = table.suppressed_cells(),
            "aggregate answered"
        );
        Ok(Response::new(wire_table(
            table,
            &decision.bundle_revision,
            Some(receipt.into()),
        )))
    }

    #[tracing::instrument(skip_all, fields(org, role))]
    async fn dashboard(
        &self,
        request: Request<v1::DashboardRequest>,
    ) -> Result<Response<v1::DashboardResponse>, Status> {
        let who = caller(&request)?;
        tracing::Span::current().record("org", who.org.as_str());
        tracing::Span::current().record("role", who.role.as_str());
        let period = request.into_inner().period;
        let (dashboard, revision, receipt) = dashboard_audited(&self.broker, &who, &period).await?;
        let receipt: v1::AuditReceipt = receipt.into();
        tracing::info!(panels = dashboard.panels.len(), "dashboard answered");
        Ok(Response::new(v1::DashboardResponse {
            period: dashboard.period,
            panels: dashboard
                .panels
                .into_iter()
                .map(|p| v1::Panel {
                    id: p.id,
                    title: p.title,
                    description: p.description,
                    table: Some(wire_table(p.table, &revision, Some(receipt.clone()))),
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The domain's codes are the wire enum's numbers.
    #[test]
    fn dimension_and_measure_codes_match_the_proto() {
        for d in Dimension::ALL {
            let wire = v1::Dimension::try_from(d.code()).expect("a wire dimension");
            let name = wire
                .as_str_name()
                .trim_start_matches("DIMENSION_")
                .to_lowercase();
            assert_eq!(name, d.as_str());
        }
        for m in Measure::ALL {
            let wire = v1::Measure::try_from(m.code()).expect("a wire measure");
            let name = wire
                .as_str_name()
                .trim_start_matches("MEASURE_")
                .to_lowercase();
            let expected = match m {
                Measure::MultiAgencyPeople => "multi_agency_people",
                other => other.as_str(),
            };
            assert_eq!(name, expected);
        }
    }
}
