//! The decision input: one shape for every action.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use regorus::Value;
use serde::{Deserialize, Serialize};

/// What the subject is asking to do. The policy package evaluated is
/// `data.concord.<action>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A duty holder's push agent uploads a pseudonymised extract.
    Ingest,
    /// A practitioner looks up linked records for a case.
    Lookup,
    /// An analyst asks for aggregate statistics.
    Aggregate,
    /// Someone reads the audit log.
    AuditRead,
    /// A reviewer lists or resolves possible matches held by linkage.
    LinkReview,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 5] = [
        Action::Ingest,
        Action::Lookup,
        Action::Aggregate,
        Action::AuditRead,
        Action::LinkReview,
    ];

    /// The wire name (`"ingest"`, ..., `"audit_read"`), also the last
    /// component of the policy package.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Ingest => "ingest",
            Action::Lookup => "lookup",
            Action::Aggregate => "aggregate",
            Action::AuditRead => "audit_read",
            Action::LinkReview => "link_review",
        }
    }

    /// The rule evaluated for this action.
    pub const fn decision_rule(self) -> &'static str {
        match self {
            Action::Ingest => "data.concord.ingest.decision",
            Action::Lookup => "data.concord.lookup.decision",
            Action::Aggregate => "data.concord.aggregate.decision",
            Action::AuditRead => "data.concord.audit_read.decision",
            Action::LinkReview => "data.concord.link_review.decision",
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Action::Ingest => 0,
            Action::Lookup => 1,
            Action::Aggregate => 2,
            Action::AuditRead => 3,
            Action::LinkReview => 4,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: taken from the client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Organisation identifier, a key of `data.partnership.organisations`.
    pub org: String,
    /// Role within the organisation, e.g. `push_agent`, `mash_officer`.
    pub role: String,
    /// User (or agent) identifier.
    pub user: String,
}

/// What the request touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Data sources, e.g. `police`, `health`.
    pub sources: Vec<String>,
    /// Record kinds within the sources.
    pub record_kinds: Vec<String>,
    /// Fields asked for.
    pub fields: Vec<String>,
}

/// The input document of a decision.
///
/// Serialises to the shape in DESIGN.md section 4; `purpose`, `case_ref`
/// and `reason` are omitted (undefined in Rego) when `None`, and `time` is
/// RFC 3339 in UTC with a `Z` suffix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInput {
    /// The action asked for.
    pub action: Action,
    /// Who asks.
    pub subject: Subject,
    /// The declared purpose, e.g. `safeguarding_children`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The case the request is made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_ref: Option<String>,
    /// The caller's written justification, required for break-glass
    /// (`emergency`) lookups. Policies test its length only; refusals never
    /// quote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What is touched.
    pub resource: Resource,
    /// When the request was made.
    #[serde(with = "rfc3339_z")]
    pub time: DateTime<Utc>,
}

/// `DateTime<Utc>` as RFC 3339 with `Z` (chrono's serde feature is off in
/// this workspace).
mod rfc3339_z {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_time(time))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn string_array(items: &[String]) -> Value {
    Value::from(
        items
            .iter()
            .map(|item| Value::from(item.as_str()))
            .collect::<Vec<_>>(),
    )
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::from(
        fields
            .into_iter()
            .map(|(key, value)| (Value::from(key), value))
            .collect::<BTreeMap<_, _>>(),
    )
}

impl PolicyInput {
    /// Build the regorus input value directly, without a JSON round trip.
    /// Must equal the serde serialisation (a test checks this).
    pub(crate) fn to_value(&self) -> Value {
        let mut fields = BTreeMap::new();
        fields.insert(Value::from("action"), Value::from(self.action.as_str()));
        fields.insert(
            Value::from("subject"),
            object([
                ("org", Value::from(self.subject.org.as_str())),
                ("role", Value::from(self.subject.role.as_str())),
                ("user", Value::from(self.subject.user.as_str())),
            ]),
        );
        if let Some(purpose) = &self.purpose {
            fields.insert(Value::from("purpose"), Value::from(purpose.as_str()));
        }
        if let Some(case_ref) = &self.case_ref {
            fields.insert(Value::from("case_ref"), Value::from(case_ref.as_str()));
        }
        if let Some(reason) = &self.reason {
            fields.insert(Value::from("reason"), Value::from(reason.as_str()));
        }
        fields.insert(
            Value::from("resource"),
            object([
                ("sources", string_array(&self.resource.sources)),
                ("record_kinds", string_array(&self.resource.record_kinds)),
                ("fields", string_array(&self.resource.fields)),
            ]),
        );
        fields.insert(Value::from("time"), Value::from(format_time(&self.time)));
        Value::from(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(purpose: Option<&str>) -> PolicyInput {
        PolicyInput {
            reason: None,
            action: Action::AuditRead,
            subject: Subject {
                org: "rbkc-childrens".to_owned(),
                role: "mash_officer".to_owned(),
                user: "u123".to_owned(),
            },
            purpose: purpose.map(str::to_owned),
            case_ref: Some("MASH-2026-0042".to_owned()),
            resource: Resource {
                sources: vec!["police".to_owned(), "health".to_owned()],
                record_kinds: vec![],
                fields: vec!["dob".to_owned()],
            },
            time: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap(),
        }
    }

    #[test]
    fn serialises_to_the_design_shape() {
        let json = serde_json::to_value(sample(Some("safeguarding_children"))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "action": "audit_read",
                "subject": {"org": "rbkc-childrens", "role": "mash_officer", "user": "u123"},
                "purpose": "safeguarding_children",
                "case_ref": "MASH-2026-0042",
                "resource": {"sources": ["police", "health"], "record_kinds": [], "fields": ["dob"]},
                "time": "2026-11-22T10:00:00Z"
            })
        );
        let back: PolicyInput = serde_json::from_value(json).unwrap();
        assert_eq!(back, sample(Some("safeguarding_children")));
    }

    #[test]
    fn reason_is_serialised_only_when_given() {
        let mut input = sample(Some("emergency"));
        let json = serde_json::to_value(&input).unwrap();
        assert!(json.get("reason").is_none(), "{json}");
        input.reason = Some("immediate risk to life".to_owned());
        let json = serde_json::to_value(&input).unwrap();
        assert_eq!(json["reason"], "immediate risk to life");
        let back: PolicyInput = serde_json::from_value(json).unwrap();
        assert_eq!(back, input);
    }

    #[test]
    fn direct_value_equals_serde_value() {
        let mut with_reason = sample(Some("emergency"));
        with_reason.reason = Some("immediate risk to life".to_owned());
        for input in [
            sample(Some("safeguarding_children")),
            sample(None),
            with_reason,
        ] {
            let via_serde = Value::from(serde_json::to_value(&input).unwrap());
            assert_eq!(input.to_value(), via_serde);
        }
        let mut input = sample(None);
        input.time = Utc.timestamp_opt(1_795_000_000, 123_000_000).unwrap();
        assert_eq!(
            input.to_value(),
            Value::from(serde_json::to_value(&input).unwrap())
        );
        assert!(format_time(&input.time).ends_with(".123Z"));
    }

    #[test]
    fn action_names_and_rules_agree() {
        for (index, action) in Action::ALL.into_iter().enumerate() {
            assert_eq!(action.index(), index);
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::from(action.as_str())
            );
            assert_eq!(
                action.decision_rule(),
                format!("data.concord.{action}.decision")
            );
        }
    }
}
