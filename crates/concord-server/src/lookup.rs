//! `concord.v1.Lookup`: authorised, audited person-level views (DESIGN §4,
//! §6), for MASH practitioners checking what partner agencies know about
//! someone, for a stated purpose and case.
//!
//! One lookup, in order:
//!
//! 1. **Who** from the client certificate; the request is checked (tokens
//!    well formed, mk1 or mk2 key names, single-token keys once, one linkage key id) and a
//!    malformed one is `INVALID_ARGUMENT` naming the field.
//! 2. **Policy first.** The `lookup` rule decides on the caller, purpose,
//!    case reference and break-glass reason, over *all eight* sources, so
//!    the decision cannot depend on what is held about anyone. A refusal
//!    is audited (deny) and returned as `PERMISSION_DENIED` with the
//!    policy's reason before any data is read: a known and an unknown
//!    person get the same bytes.
//! 3. **The person.** The caller's tokens are re-keyed with the broker key
//!    and resolved by the linkage rules (`Linkage::find_person_records`): a
//!    person only when the rules would *link* (never a possible match),
//!    with the ids and sources of their records as the linker holds them.
//! 4. **The records**, in one query by primary key, from the allowed
//!    sources only, each projected to its source's allowed fields. A
//!    field the record does not hold is left out, and so is a flag that
//!    is not set (the wire cannot tell "no" from "not recorded": see
//!    [`known`]).
//! 5. **Audit, then answer.** The event (purpose, case, lawful basis,
//!    agreement, policy digest, what was disclosed, the person's internal
//!    id) is appended and committed; if that fails the lookup fails
//!    (`UNAVAILABLE`) and nothing is disclosed. The answer carries the
//!    person under a pseudonym for the caller's organisation only
//!    (`BrokerKey::person_pseudonym`), what was withheld and why, the
//!    obligations and the audit receipt with its inclusion proof.
//!
//! An allowed lookup of someone the broker does not hold answers
//! `matched = false`, with the same withheld list, and is audited too.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use chrono::Utc;
use concord_audit::{FieldName, SubjectId};
use concord_core::{KeyName, Source, Token, Violations, is_key_id};
use concord_pki::Identity;
use concord_policy::{Action, Decision, Part, PolicyError, PolicyInput, Resource, Subject};
use concord_proto::v1::{self, lookup_server::Lookup};
use concord_store::lookup_field;
use tonic::{Request, Response, Status};

use crate::{
    Broker, LinkageKeyIds, audit,
    convert::{CallerText, audited_text},
    error::ServerError,
    identity::caller,
};

/// Most tokens a lookup may carry. mk2's multi-token keys carry one token
/// per form of a field (a name's one-deletion forms grow with its length):
/// a few dozen for a full record, about a hundred with very long names.
const MAX_TOKENS: usize = 256;
/// Longest purpose, case reference and break-glass reason accepted.
const MAX_PURPOSE: usize = 64;
const MAX_CASE_REF: usize = 64;
const MAX_REASON: usize = 2_000;

pub struct LookupService {
    broker: Arc<Broker>,
}

impl LookupService {
    pub fn new(broker: Arc<Broker>) -> Self {
        LookupService { broker }
    }
}

/// A checked request.
struct Query {
    tokens: Vec<(KeyName, Token)>,
    linkage_key_id: String,
    purpose: Option<String>,
    case_ref: Option<String>,
    reason: Option<String>,
}

/// Checks the match-key tokens of a request (FindPerson, AccessHistory),
/// naming every problem in `v` (`tokens[2].key_id`): at least one and at
/// most [`MAX_TOKENS`], mk1 or mk2 key names, each single-token key at most
/// once (a multi-token key once per token), one linkage key
/// id of the usual shape that `accepted` names, 32-byte keyed hashes.
/// Returns the well-formed
/// ones.
pub(crate) fn check_tokens(
    tokens: &[v1::MatchKeyToken],
    accepted: &LinkageKeyIds,
    v: &mut Violations,
) -> Vec<(KeyName, Token)> {
    if tokens.is_empty() {
        v.push(None, "tokens", "at least one match-key token is needed");
    }
    if tokens.len() > MAX_TOKENS {
        v.push(
            None,
            "tokens",
            format!("at most {MAX_TOKENS} tokens, {} given", tokens.len()),
        );
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        let key: Option<KeyName> = t.key_name.parse().ok();
        match key {
            None => v.push(
                None,
                format!("tokens[{i}].key_name"),
                "is not a match key of mk1 or mk2",
            ),
            Some(k) if !k.is_multi() && !seen.insert(k) => v.push(
                None,
                format!("tokens[{i}].key_name"),
                "appears more than once (a single-token key takes one token)",
            ),
            Some(_) => {}
        }
        if !is_key_id(&t.key_id) {
            v.push(
                None,
                format!("tokens[{i}].key_id"),
                "must look like lk-2026a",
            );
        } else if i == 0 && !accepted.accepts(&t.key_id) {
            // It could never match anything stored.
            v.push(None, "tokens[0].key_id", accepted.refusal(&t.key_id));
        } else if i > 0 && t.key_id != tokens[0].key_id {
            v.push(
                None,
                format!("tokens[{i}].key_id"),
                "differs from tokens[0].key_id: every token of a request is made with one linkage key",
            );
        }
        let token = Token::from_slice(&t.token);
        if token.is_none() {
            v.push(
                None,
                format!("tokens[{i}].token"),
                "must be a 32-byte keyed hash",
            );
        }
        if let (Some(k), Some(t)) = (key, token) {
            out.push((k, t));
        }
    }
    out
}

/// Checks the request's shape; reads no data.
fn check(
    req: v1::FindPersonRequest,
    accepted: &LinkageKeyIds,
    max_reported: usize,
) -> Result<Query, ServerError> {
    let mut v = Violations::new(max_reported);
    let tokens = check_tokens(&req.tokens, accepted, &mut v);
    for (field, value, max) in [
        ("purpose", &req.purpose, MAX_PURPOSE),
        ("case_ref", &req.case_ref, MAX_CASE_REF),
        ("reason", &req.reason, MAX_REASON),
    ] {
        if value.chars().count() > max {
            v.push(None, field, format!("is longer than {max} characters"));
        }
    }
    if !v.is_empty() {
        return Err(ServerError::invalid("lookup request rejected", v));
    }
    let given = |s: String| (!s.trim().is_empty()).then_some(s);
    Ok(Query {
        linkage_key_id: req.tokens[0].key_id.clone(),
        tokens,
        purpose: given(req.purpose),
        case_ref: given(req.case_ref),
        reason: given(req.reason),
    })
}

/// A purpose as the audit log (and the log's span) may record it.
fn audit_purpose(purpose: Option<&str>) -> Option<String> {
    audited_text(CallerText::Purpose, purpose)
}

/// A case reference as the audit log may record it.
fn audit_case_ref(case_ref: Option<&str>) -> Option<String> {
    audited_text(CallerText::CaseRef, case_ref)
}

/// The yes/no fields of a record. The wire carries each as a plain proto3
/// `bool`, so an agency whose export does not hold one (its mapping maps
/// no column to it: police exports hold no under-25 flag or MARAC
/// referral) sends it as `false`, the same bytes as a recorded "no".
const FLAGS: [&str; 4] = [
    "marac",
    "flag_domestic_abuse",
    "flag_under_25",
    "flag_exploitation",
];

/// Whether a field's value is known to be what the agency recorded: a
/// flag only when set, since an unset one may not be held at all. An
/// unknown is left out of the answer (never shown as a fact: the record
/// does not carry it), as a field the record does not hold is.
fn known(field: &str, value: &str) -> bool {
    !(FLAGS.contains(&field) && value == "false")
}

/// What an allowing `lookup` decision permits (its shape is the team
/// contract in the policy crate's doc and `policies/lookup.rego`).
#[derive(Debug)]
struct Permit {
    /// Allowed sources and their fields, in source order.
    sources: Vec<(Source, Vec<&'static str>)>,
    withheld: Vec<v1::Withheld>,
    obligations: Vec<String>,
    agreement: String,
    lawful_basis: String,
    flag_for_review: bool,
}

/// Reads an allowing decision; anything malformed refuses (fail closed).
fn permit(d: &Decision) -> Result<Permit, ServerError> {
    let bad = |problem: String| {
        ServerError::Policy(PolicyError::InvalidDecision {
            rule: Action::Lookup.decision_rule().to_owned(),
            problem,
        })
    };
    let body = &d.body;
    let text = |key: &str| -> Result<String, ServerError> {
        body.get(key)
            .and_then(Part::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("{key} is not a string")))
    };
    let source = |name: &str, at: &str| -> Result<Source, ServerError> {
        name.parse()
            .map_err(|_| bad(format!("{at} names no Concord source")))
    };
    let fields = |v: Option<Part<'_>>, at: &str| -> Result<Vec<&'static str>, ServerError> {
        let list = v
            .and_then(Part::as_list)
            .ok_or_else(|| bad(format!("{at} is not a list of field names")))?;
        let mut out = Vec::with_capacity(list.len());
        for (i, f) in list.iter().enumerate() {
            let f = f
                .as_str()
                .and_then(lookup_field)
                .ok_or_else(|| bad(format!("{at}[{i}] is not a record field")))?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        Ok(out)
    };

    let mut sources = Vec::new();
    let map = body
        .get("sources")
        .and_then(Part::as_object)
        .ok_or_else(|| bad("sources is not an object".into()))?;
    for (name, list) in map {
        let at = format!("sources.{name}");
        let s = source(name, &at)?;
        let mut fs = fields(Some(list), &at)?;
        // In the store's column order, so answers are stable.
        fs.sort_by_key(|f| concord_store::LOOKUP_FIELDS.iter().position(|x| x == f));
        sources.push((s, fs));
    }
    sources.sort_by_key(|(s, _)| s.code());

    let mut withheld = Vec::new();
    let list = body
        .get("withheld")
        .and_then(Part::as_list)
        .ok_or_else(|| bad("withheld is not a list".into()))?;
    for (i, w) in list.iter().enumerate() {
        let at = format!("withheld[{i}]");
        let s = w
            .get("source")
            .and_then(Part::as_str)
            .ok_or_else(|| bad(format!("{at}.source is not a string")))?;
        let s = source(s, &format!("{at}.source"))?;
        let fs = fields(w.get("fields"), &format!("{at}.fields"))?;
        let reason = w
            .get("reason")
            .and_then(Part::as_str)
            .ok_or_else(|| bad(format!("{at}.reason is not a string")))?;
        withheld.push(v1::Withheld {
            source: s.code(),
            fields: fs.iter().map(|f| (*f).to_owned()).collect(),
            reason: reason.to_owned(),
        });
    }
    // Every source the policy neither allows nor explains is withheld all
    // the same, so the answer always accounts for all eight.
    for s in Source::ALL {
        let allowed = sources.iter().any(|(a, _)| a == s);
        let explained = withheld
            .iter()
            .any(|w| w.source == s.code() && w.fields.is_empty());
        if !allowed && !explained {
            withheld.push(v1::Withheld {
                source: s.code(),
                fields: vec![],
                reason: "the lookup policy allows nothing from this source".into(),
            });
        }
    }
    withheld.sort_by_key(|w| (w.source, !w.fields.is_empty()));

    let obligations = match body.get("obligations") {
        None => vec![],
        Some(v) => v
            .as_list()
            .and_then(|l| {
                l.iter()
                    .map(|o| o.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| bad("obligations is not a list of names".into()))?,
    };
    let flag_for_review = match body.get("flag_for_review") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad("flag_for_review is not a boolean".into()))?,
    };
    Ok(Permit {
        sources,
        withheld,
        obligations,
        agreement: text("agreement")?,
        lawful_basis: text("lawful_basis")?,
        flag_for_review,
    })
}

impl LookupService {
    /// The `lookup` decision over all eight sources; a refusal is audited
    /// and returned.
    async fn decide(&self, who: &Identity, q: &Query) -> Result<Decision, ServerError> {
        let input = PolicyInput {
            action: Action::Lookup,
            subject: Subject {
                org: who.org.clone(),
                role: who.role.clone(),
                user: who.user.clone(),
            },
            purpose: q.purpose.clone(),
            case_ref: q.case_ref.clone(),
            reason: q.reason.clone(),
            resource: Resource {
                sources: Source::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
                record_kinds: vec![],
                fields: vec![],
            },
            time: Utc::now(),
        };
        let (purpose, case_ref) = (q.purpose.clone(), q.case_ref.clone());
        self.broker
            .decide_audited(who, input, move |e| {
                e.purpose = audit_purpose(purpose.as_deref());
                e.case_ref = audit_case_ref(case_ref.as_deref());
            })
            .await
    }

    /// Appends an audit refusal for a lookup that was allowed but could not
    /// go ahead (a malformed decision); best effort, the lookup is refused
    /// either way.
    async fn audit_failure(&self, who: &Identity, q: &Query, reason: &str) {
        let mut e = audit::refusal(
            who,
            concord_audit::Action::Lookup,
            reason,
            Some(self.broker.policy.bundle_digest()),
        );
        e.purpose = audit_purpose(q.purpose.as_deref());
        e.case_ref = audit_case_ref(q.case_ref.as_deref());
        if let Err(err) = self.broker.audit.append(e).await {
            tracing::warn!(error = %err, "a refused lookup could not be audited");
        }
    }
}

#[tonic::async_trait]
impl Lookup for LookupService {
    #[tracing::instrument(skip_all, fields(org, role, purpose))]
    async fn find_person(
        &self,
        request: Request<v1::FindPersonRequest>,
    ) -> Result<Response<v1::FindPersonResponse>, Status> {
        // Metrics: latency and outcome by the caller's org, nothing else.
        let started = std::time::Instant::now();
        let who = caller(&request);
        let org = who.as_ref().ok().map(|w| w.org.clone());
        let result = match who {
            Ok(who) => self.lookup(who, request).await,
            Err(e) => Err(e.into()),
        };
        let code = result.as_ref().err().map(Status::code);
        self.broker
            .metrics
            .lookup(org.as_deref(), code, started.elapsed());
        result
    }
}

impl LookupService {
    async fn lookup(
        &self,
        who: Identity,
        request: Request<v1::FindPersonRequest>,
    ) -> Result<Response<v1::FindPersonResponse>, Status> {
        let span = tracing::Span::current();
        span.record("org", who.org.as_str());
        span.record("role", who.role.as_str());
        let q = check(
            request.into_inner(),
            &self.broker.linkage_keys,
            self.broker.limits.max_reported_violations,
        )?;
        if let Some(p) = audit_purpose(q.purpose.as_deref()) {
            span.record("purpose", p.as_str());
        }

        // 2. Policy first: nothing about the data has been read.
        let decision = self.decide(&who, &q).await?;
        let permit = match permit(&decision) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "the lookup policy allowed with a malformed decision; refused");
                self.audit_failure(&who, &q, "the lookup policy's decision is malformed")
                    .await;
                return Err(e.into());
            }
        };

        // 3. The person, by the linkage rules: here if the linker is free
        // (a probe takes microseconds), else off the async runtime while a
        // linkage run finishes.
        let pseudonyms: Vec<(KeyName, Token)> = q
            .tokens
            .iter()
            .map(|(k, t)| {
                (
                    *k,
                    self.broker.broker_key.pseudonymise(&q.linkage_key_id, t),
                )
            })
            .collect();
        let person = match self.broker.linkage.try_find_person_records(&pseudonyms) {
            Some(person) => person,
            None => {
                let linkage = self.broker.linkage.clone();
                tokio::task::spawn_blocking(move || linkage.find_person_records(&pseudonyms))
                    .await
                    .map_err(|_| {
                        ServerError::Unavailable("person resolution failed; try again".into())
                    })?
            }
        };

        // 4. The records, allowed sources and fields only: the person's
        // records as the linker holds them, read by primary key.
        let records = match &person {
            Some(p) => self
                .broker
                .store
                .person_records(&p.records, &permit.sources)
                .await
                .map_err(ServerError::StoreRead)?,
            None => vec![],
        };
        let person = person.map(|p| p.person);
        let mut views: Vec<v1::SourceView> = Vec::new();
        let mut disclosed: BTreeMap<Source, BTreeSet<FieldName>> = BTreeMap::new();
        for r in records {
            let allowed = &permit
                .sources
                .iter()
                .find(|(s, _)| *s == r.source)
                .expect("the store returns allowed sources only")
                .1;
            if views.last().is_none_or(|v| v.source != r.source.code()) {
                views.push(v1::SourceView {
                    source: r.source.code(),
                    allowed_fields: allowed.iter().map(|f| (*f).to_owned()).collect(),
                    records: vec![],
                });
                disclosed.insert(
                    r.source,
                    allowed
                        .iter()
                        .map(|f| FieldName::parse(f).expect("record field names are valid"))
                        .collect(),
                );
            }
            let view = views.last_mut().expect("pushed above");
            view.records.push(v1::DisclosedRecord {
                fields: r
                    .fields
                    .into_iter()
                    .filter(|(name, value)| known(name, value))
                    .map(|(name, value)| v1::FieldValue {
                        name: name.to_owned(),
                        value,
                    })
                    .collect(),
            });
        }

        // 5. Audit, then answer: nothing leaves unaudited.
        let mut event = audit::event(&who, concord_audit::Action::Lookup, &decision);
        event.purpose = audit_purpose(q.purpose.as_deref());
        event.case_ref = audit_case_ref(q.case_ref.as_deref());
        event.disclosed = disclosed;
        event.subjects.extend(person.map(SubjectId::Person));
        let receipt = self.broker.audit.append(event).await?;
        tracing::info!(
            matched = person.is_some(),
            sources = views.len(),
            flagged = permit.flag_for_review,
            seq = receipt.seq,
            "lookup answered"
        );
        Ok(Response::new(v1::FindPersonResponse {
            matched: person.is_some(),
            person_pseudonym: person
                .map(|p| self.broker.broker_key.person_pseudonym(&who.org, p))
                .unwrap_or_default(),
            sources: views,
            withheld: permit.withheld,
            obligations: permit.obligations,
            agreement: permit.agreement,
            lawful_basis: permit.lawful_basis,
            flagged_for_review: permit.flag_for_review,
            receipt: Some(receipt.into()),
            policy_revision: decision.bundle_revision,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(key: &str, key_id: &str, len: usize) -> v1::MatchKeyToken {
        v1::MatchKeyToken {
            key_name: key.into(),
            key_id: key_id.into(),
            token: vec![7; len],
        }
    }

    fn keys() -> LinkageKeyIds {
        LinkageKeyIds::new("lk-2026a", Some("lk-2025b".into()))
    }

    fn fields(e: ServerError) -> Vec<String> {
        match e {
            ServerError::Invalid { violations, .. } => {
                violations.kept().iter().map(|v| v.field.clone()).collect()
            }
            other => panic!("expected invalid, got {other}"),
        }
    }

    #[test]
    fn malformed_requests_name_each_field() {
        let req = v1::FindPersonRequest {
            tokens: vec![
                token("nhs", "lk-2026a", 32),
                token("shoe_size", "lk-2026a", 32),
                token("sn_dob", "lk-2027a", 32),
                token("fn_dob", "lk-2026a", 31),
                token("nhs", "LK 2026", 32),
            ],
            purpose: "safeguarding_children".into(),
            case_ref: "MASH-2026-0042".into(),
            reason: "x".repeat(MAX_REASON + 1),
        };
        assert_eq!(
            fields(check(req, &keys(), 100).err().unwrap()),
            [
                "tokens[1].key_name",
                "tokens[2].key_id",
                "tokens[3].token",
                "tokens[4].key_name",
                "tokens[4].key_id",
                "reason"
            ]
        );
        let empty = v1::FindPersonRequest::default();
        assert_eq!(
            fields(check(empty, &keys(), 100).err().unwrap()),
            ["tokens"]
        );
    }

    #[test]
    fn a_good_request_keeps_its_tokens_and_drops_blank_text() {
        let req = v1::FindPersonRequest {
            tokens: vec![
                token("nhs", "lk-2026a", 32),
                token("sn_dob", "lk-2026a", 32),
            ],
            purpose: "marac".into(),
            case_ref: "  ".into(),
            reason: String::new(),
        };
        let q = check(req, &keys(), 100).ok().unwrap();
        assert_eq!(q.tokens.len(), 2);
        assert_eq!(q.linkage_key_id, "lk-2026a");
        assert_eq!(q.purpose.as_deref(), Some("marac"));
        assert_eq!((q.case_ref, q.reason), (None, None));
    }

    #[test]
    fn tokens_under_a_key_the_partnership_does_not_hold_are_refused() {
        let req = |id: &str| v1::FindPersonRequest {
            tokens: vec![token("nhs", id, 32), token("sn_dob", id, 32)],
            purpose: "marac".into(),
            ..Default::default()
        };
        // The current id and, during the rotation, the previous one.
        assert!(check(req("lk-2026a"), &keys(), 100).is_ok());
        assert!(check(req("lk-2025b"), &keys(), 100).is_ok());
        let e = check(req("lk-2025x"), &keys(), 100).err().unwrap();
        let message = e.to_string();
        assert!(
            message.contains("linkage key id lk-2025x is not the partnership's")
                && message.contains("accepts lk-2026a (and lk-2025b until rotation ends)"),
            "{message}"
        );
        assert_eq!(fields(e), ["tokens[0].key_id"]);
        let without_rotation = LinkageKeyIds::new("lk-2026a", None);
        assert!(check(req("lk-2025b"), &without_rotation, 100).is_err());
    }

    #[test]
    fn a_multi_token_key_may_repeat_and_a_single_token_key_may_not() {
        let tok = |key: &str, byte: u8| v1::MatchKeyToken {
            key_name: key.into(),
            key_id: "lk-2026a".into(),
            token: vec![byte; 32],
        };
        let mut tokens = vec![tok("sn_dob", 1), tok("snd_dob", 2), tok("snd_dob", 3)];
        let mut v = Violations::new(100);
        assert_eq!(check_tokens(&tokens, &keys(), &mut v).len(), 3);
        assert!(v.is_empty(), "the forms of snd_dob");
        tokens.push(tok("sn_dob", 4));
        let mut v = Violations::new(100);
        check_tokens(&tokens, &keys(), &mut v);
        let found: Vec<String> = v.kept().iter().map(|x| x.field.clone()).collect();
        assert_eq!(found, ["tokens[3].key_name"]);

        // Repeats of a multi-token key count towards MAX_TOKENS like any.
        let many = |n: usize| -> Vec<v1::MatchKeyToken> {
            (0..n).map(|i| tok("dobd_sn", i as u8)).collect()
        };
        let mut v = Violations::new(100);
        check_tokens(&many(MAX_TOKENS), &keys(), &mut v);
        assert!(v.is_empty());
        let mut v = Violations::new(100);
        check_tokens(&many(MAX_TOKENS + 1), &keys(), &mut v);
        let found: Vec<String> = v.kept().iter().map(|x| x.field.clone()).collect();
        assert_eq!(found, ["tokens"]);
    }

    #[test]
    fn an_unset_flag_is_left_out_and_every_other_value_kept() {
        for f in FLAGS {
            assert!(known(f, "true"), "{f}");
            assert!(!known(f, "false"), "{f}");
        }
        assert!(known("kind", "crime"));
        assert!(known("dash_score", "0"));
        assert!(known("event_date", "2026-10-10"));
    }

    fn decision(body: serde_json::Value) -> Decision {
        Decision {
            allow: true,
            reason: None,
            body: concord_policy::Body::from_json(body),
            bundle_digest: "d".into(),
            bundle_revision: "r".into(),
        }
    }

    #[test]
    fn an_allowing_decision_becomes_sources_fields_and_withheld() {
        let d = decision(serde_json::json!({
            "allow": true, "agreement": "a", "lawful_basis": "b",
            "sources": {"police": ["weapon", "kind", "kind"], "health": ["kind"]},
            "withheld": [{"source": "police", "fields": ["lsoa_code"], "reason": "minimise"},
                         {"source": "probation", "fields": [], "reason": "not shared"}],
            "obligations": ["notify_data_owner"], "flag_for_review": true
        }));
        let p = permit(&d).unwrap();
        assert_eq!(
            p.sources,
            [
                (Source::Police, vec!["kind", "weapon"]),
                (Source::Health, vec!["kind"])
            ]
        );
        assert!(p.flag_for_review);
        assert_eq!(p.obligations, ["notify_data_owner"]);
        // Probation as the policy says; the five sources it did not mention
        // are withheld all the same; police's withheld fields stay.
        let whole: Vec<i32> = p
            .withheld
            .iter()
            .filter(|w| w.fields.is_empty())
            .map(|w| w.source)
            .collect();
        assert_eq!(whole.len(), 6);
        assert!(!whole.contains(&Source::Police.code()));
        assert!(
            p.withheld
                .iter()
                .any(|w| w.source == Source::Probation.code() && w.reason == "not shared")
        );
    }

    #[test]
    fn a_malformed_decision_refuses() {
        for body in [
            serde_json::json!({"allow": true, "agreement": "a", "lawful_basis": "b", "withheld": []}),
            serde_json::json!({"allow": true, "agreement": "a", "lawful_basis": "b", "withheld": [],
                               "sources": {"police": ["tokens"]}}),
            serde_json::json!({"allow": true, "agreement": "a", "lawful_basis": "b", "withheld": [],
                               "sources": {"navy": ["kind"]}}),
            serde_json::json!({"allow": true, "lawful_basis": "b", "withheld": [], "sources": {}}),
        ] {
            let e = permit(&decision(body)).unwrap_err();
            assert!(matches!(e, ServerError::Policy(_)), "{e}");
        }
    }
}
