//! `concord.v1.Lookup.FindPerson` end to end on both stores: agencies push,
//! the broker links, and MASH practitioners look people up over mTLS. What
//! each role may see for each purpose and source, identical refusals for
//! known and unknown people, break-glass, per-organisation pseudonyms, the
//! audit receipt, and a failing audit log disclosing nothing.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use concord_audit::{AuditEvent, Hash, SubjectId, verify_inclusion};
use concord_client::{Extract, push_extract};
use concord_core::{KeyName, Source, Token};
use concord_e2e::{Db, TestBroker, both_stores, repo_root};
use concord_proto::v1::{self, lookup_client::LookupClient};
use sqlx::Connection;
use tonic::Code;
use tonic_types::StatusExt;

/// A person as an agency holds them: forename, surname, date of birth and,
/// if known, NHS number.
type Person = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const AMY: Person = ("AMY", "OKAFOR", "2009-03-14", Some("9990000018"));
const TWIN: Person = ("ADA", "OKAFOR", "2009-03-14", Some("9990000026"));
const LEO: Person = ("LEO", "MARSH", "2008-07-01", None);
/// Nobody the broker holds.
const STRANGER: Person = ("ZED", "QUILL", "2010-01-01", None);

fn token(tb: &TestBroker, name: KeyName, value: &str) -> v1::MatchKeyToken {
    // A stand-in for the agency's HMAC: distinct values give distinct tokens.
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(name.as_str().as_bytes());
    ctx.update(value.as_bytes());
    v1::MatchKeyToken {
        key_name: name.as_str().into(),
        key_id: tb.linkage_key_id.clone(),
        token: ctx.finish().as_ref().to_vec(),
    }
}

/// The tokens of a person, as their agency would compute them.
fn tokens(tb: &TestBroker, (fore, sur, dob, nhs): Person) -> Vec<v1::MatchKeyToken> {
    let mut t = vec![
        token(tb, KeyName::SnDob, &format!("{sur}|{dob}")),
        token(tb, KeyName::FnDob, &format!("{fore}|{dob}")),
        token(tb, KeyName::FnSn, &format!("{fore}|{sur}")),
    ];
    if let Some(n) = nhs {
        t.push(token(tb, KeyName::Nhs, n));
    }
    t
}

/// A record holding every field, so a view shows exactly what is allowed.
fn record(
    tb: &TestBroker,
    source: v1::Source,
    reference: &str,
    kind: v1::RecordKind,
    who: Person,
) -> v1::Record {
    v1::Record {
        source: source as i32,
        source_ref: ring::digest::digest(&ring::digest::SHA256, reference.as_bytes())
            .as_ref()
            .to_vec(),
        kind: kind as i32,
        role: v1::PersonRole::Victim as i32,
        event_date: "2026-10-10".into(),
        event_date_precision: v1::DatePrecision::Day as i32,
        event_hour: Some(22),
        ward_code: "E05009391".into(),
        lsoa_code: "E01002860".into(),
        category: v1::ViolenceCategory::Gbh as i32,
        weapon: v1::Weapon::KnifeSharp as i32,
        location_type: v1::LocationType::Street as i32,
        age_band: v1::AgeBand::AgeBand1017 as i32,
        sex: v1::Sex::Female as i32,
        risk: Some(v1::Risk {
            rosh: v1::RoshLevel::High as i32,
            dash_score: Some(14),
            marac: true,
        }),
        flags: Some(v1::Flags {
            domestic_abuse: true,
            under_25: true,
            exploitation: false,
        }),
        site_code: "RQM01".into(),
        tokens: tokens(tb, who),
    }
}

/// Each source, the push agent that pushes it and a record kind it holds.
const AGENCIES: [(v1::Source, &str, v1::RecordKind); 8] = [
    (v1::Source::Police, "mps-cw-push", v1::RecordKind::Crime),
    (
        v1::Source::Health,
        "chelwest-nhs-push",
        v1::RecordKind::SafeguardingConcern,
    ),
    (
        v1::Source::Probation,
        "hmpps-probation-push",
        v1::RecordKind::Supervision,
    ),
    (
        v1::Source::YouthJustice,
        "rbkc-yjs-push",
        v1::RecordKind::YouthOffence,
    ),
    (
        v1::Source::ChildrensServices,
        "rbkc-childrens-push",
        v1::RecordKind::Referral,
    ),
    (
        v1::Source::AdultSocialCare,
        "rbkc-adults-push",
        v1::RecordKind::Case,
    ),
    (
        v1::Source::Housing,
        "rbkc-housing-push",
        v1::RecordKind::HousingIncident,
    ),
    (
        v1::Source::CommunitySafety,
        "rbkc-community-safety-push",
        v1::RecordKind::ServiceContact,
    ),
];

fn header(tb: &TestBroker, source: v1::Source) -> v1::ExtractHeader {
    v1::ExtractHeader {
        extract_id: format!("{}-oct", source.as_str_name().to_lowercase()),
        source: source as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        // Community safety sends two data sets; these are service contacts.
        data_set: if source == v1::Source::CommunitySafety {
            "youth_services".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

/// Amy is known to all eight agencies; her twin Ada to children's services
/// (NHS number) and the police (none); Leo to the police. Waits until the
/// broker has linked every extract.
async fn populate(tb: &TestBroker) {
    for (i, (source, agent, kind)) in AGENCIES.iter().enumerate() {
        let mut records = vec![record(tb, *source, &format!("amy-{i}"), *kind, AMY)];
        match source {
            v1::Source::Police => {
                records.push(record(tb, *source, "leo", *kind, LEO));
                records.push(record(
                    tb,
                    *source,
                    "ada-p",
                    *kind,
                    (TWIN.0, TWIN.1, TWIN.2, None),
                ));
            }
            v1::Source::ChildrensServices => {
                records.push(record(tb, *source, "ada-c", *kind, TWIN));
            }
            _ => {}
        }
        push_extract(
            tb.channel(agent).await,
            Extract::new(header(tb, *source), records, vec![], 100),
        )
        .await
        .unwrap_or_else(|e| panic!("{agent} pushes: {e}"));
    }
    tb.wait_linked(AGENCIES.len() as u64).await;
}

/// A lookup request.
fn ask(
    tb: &TestBroker,
    who: Person,
    purpose: &str,
    case_ref: &str,
    reason: &str,
) -> v1::FindPersonRequest {
    v1::FindPersonRequest {
        tokens: tokens(tb, who),
        purpose: purpose.into(),
        case_ref: case_ref.into(),
        reason: reason.into(),
    }
}

async fn find(
    tb: &TestBroker,
    user: &str,
    req: v1::FindPersonRequest,
) -> Result<v1::FindPersonResponse, tonic::Status> {
    LookupClient::new(tb.channel(user).await)
        .find_person(req)
        .await
        .map(|r| r.into_inner())
}

const BREAK_GLASS: &str = "child missing overnight, reported at immediate risk of serious harm";

fn source_of(code: i32) -> v1::Source {
    v1::Source::try_from(code).expect("a known source")
}

/// The fields of the agreement that every safeguarding view shares.
const CORE: [&str; 11] = [
    "kind",
    "role",
    "event_date",
    "date_precision",
    "ward_code",
    "category",
    "age_band",
    "sex",
    "flag_domestic_abuse",
    "flag_under_25",
    "flag_exploitation",
];

fn with(extra: &[&'static str]) -> BTreeSet<&'static str> {
    CORE.iter().chain(extra).copied().collect()
}

/// Per source: `Some(fields)` disclosed, `None` withheld as a whole source.
type Expected = Vec<(v1::Source, Option<BTreeSet<&'static str>>)>;

/// What each (certificate, purpose, case reference) may see per source,
/// restated from the information-sharing agreement.
fn table() -> Vec<(&'static str, &'static str, &'static str, Expected)> {
    use v1::Source::*;
    let health = with(&["weapon"])
        .into_iter()
        .filter(|f| *f != "ward_code")
        .collect::<BTreeSet<_>>();
    vec![
        (
            "mash-officer-1",
            "safeguarding_children",
            "MASH-2026-0042",
            vec![
                (
                    Police,
                    Some(with(&["weapon", "location_type", "dash_score", "marac"])),
                ),
                (Health, Some(health.clone())),
                (Probation, Some(with(&["rosh"]))),
                (YouthJustice, Some(with(&["weapon", "rosh"]))),
                (ChildrensServices, Some(with(&[]))),
                (AdultSocialCare, Some(with(&[]))),
                (Housing, Some(with(&[]))),
                (
                    CommunitySafety,
                    Some(with(&["weapon", "dash_score", "marac"])),
                ),
            ],
        ),
        (
            "mash-manager-1",
            "safeguarding_adults",
            "ASC-2026-1234",
            vec![
                (Probation, Some(with(&["rosh"]))),
                (YouthJustice, None),
                (AdultSocialCare, Some(with(&[]))),
            ],
        ),
        (
            "mash-officer-1",
            "marac",
            "MARAC-2026-00017",
            vec![
                (Health, None),
                (ChildrensServices, None),
                (AdultSocialCare, None),
                (
                    Police,
                    Some(with(&["weapon", "location_type", "dash_score", "marac"])),
                ),
                (
                    CommunitySafety,
                    Some(with(&["weapon", "dash_score", "marac"])),
                ),
                (Housing, Some(with(&[]))),
            ],
        ),
        (
            "mash-manager-1",
            "emergency",
            "EMG-2026-123456",
            vec![
                (
                    Police,
                    Some(with(&[
                        "weapon",
                        "location_type",
                        "dash_score",
                        "marac",
                        "event_hour",
                    ])),
                ),
                (
                    Health,
                    Some(
                        health
                            .iter()
                            .copied()
                            .chain(["event_hour", "site_code"])
                            .collect(),
                    ),
                ),
                (ChildrensServices, Some(with(&[]))),
            ],
        ),
    ]
}

both_stores!(
    each_role_purpose_and_source_sees_exactly_its_fields,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        for (user, purpose, case_ref, rows) in table() {
            let answer = find(&tb, user, ask(&tb, AMY, purpose, case_ref, BREAK_GLASS))
                .await
                .unwrap_or_else(|e| panic!("{user} {purpose}: {e}"));
            assert!(answer.matched, "{user} {purpose}");
            let views: BTreeMap<v1::Source, &v1::SourceView> = answer
                .sources
                .iter()
                .map(|v| (source_of(v.source), v))
                .collect();
            let withheld_whole: BTreeSet<v1::Source> = answer
                .withheld
                .iter()
                .filter(|w| w.fields.is_empty())
                .map(|w| source_of(w.source))
                .collect();
            // Every source is either shown or withheld, never both.
            assert_eq!(views.len() + withheld_whole.len(), 8, "{user} {purpose}");
            for (source, expected) in rows {
                let at = format!("{user} {purpose} {source:?}");
                match expected {
                    Some(fields) => {
                        let view = views
                            .get(&source)
                            .unwrap_or_else(|| panic!("{at}: no view"));
                        let allowed: BTreeSet<&str> =
                            view.allowed_fields.iter().map(String::as_str).collect();
                        assert_eq!(allowed, fields, "{at}: allowed fields");
                        assert_eq!(view.records.len(), 1, "{at}: Amy's one record");
                        let shown: BTreeSet<&str> = view.records[0]
                            .fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect();
                        // Amy's records set every flag but exploitation: an
                        // unset flag may be one the agency does not hold, so
                        // it is left out, never shown as "no".
                        let set: BTreeSet<&str> = fields
                            .iter()
                            .copied()
                            .filter(|f| *f != "flag_exploitation")
                            .collect();
                        assert_eq!(shown, set, "{at}: fields disclosed");
                        let value = |name: &str| {
                            view.records[0]
                                .fields
                                .iter()
                                .find(|f| f.name == name)
                                .map(|f| f.value.as_str())
                        };
                        assert_eq!(value("event_date"), Some("2026-10-10"), "{at}");
                        assert_eq!(value("category"), Some("gbh"), "{at}");
                        assert_eq!(value("flag_domestic_abuse"), Some("true"), "{at}");
                        assert_eq!(value("flag_exploitation"), None, "{at}: unset, left out");
                        if fields.contains("dash_score") {
                            assert_eq!(value("dash_score"), Some("14"), "{at}");
                        }
                        if fields.contains("event_hour") {
                            assert_eq!(value("event_hour"), Some("22"), "{at}");
                        }
                        assert!(
                            !withheld_whole.contains(&source),
                            "{at}: shown and withheld"
                        );
                        // The fields the source holds and this purpose does
                        // not allow are named as withheld.
                        if !fields.contains("lsoa_code") {
                            assert!(
                                answer.withheld.iter().any(|w| source_of(w.source) == source
                                    && w.fields.iter().any(|f| f == "lsoa_code")),
                                "{at}: lsoa_code not named as withheld"
                            );
                        }
                    }
                    None => {
                        assert!(!views.contains_key(&source), "{at}: disclosed");
                        assert!(
                            withheld_whole.contains(&source),
                            "{at}: not named as withheld"
                        );
                    }
                }
            }
            assert!(!answer.agreement.is_empty() && !answer.lawful_basis.is_empty());
            assert!(answer.obligations.iter().any(|o| o == "notify_data_owner"));
            assert_eq!(answer.flagged_for_review, purpose == "emergency");
            assert_eq!(answer.person_pseudonym.len(), 64);
            assert!(!answer.policy_revision.is_empty());
        }
        // Health data is never disclosed for MARAC (PCSC Act 2022 s.16(4)
        // does not authorise it) even though Amy is known there.
        let marac = find(
            &tb,
            "mash-officer-1",
            ask(&tb, AMY, "marac", "MARAC-2026-00017", ""),
        )
        .await
        .unwrap();
        let health = marac
            .withheld
            .iter()
            .find(|w| w.source == v1::Source::Health as i32 && w.fields.is_empty())
            .expect("health withheld");
        assert!(health.reason.contains("16(4)"), "{}", health.reason);
        tb.stop().await;
    }
);

/// Code, message and details of a refusal, as bytes.
fn refusal_bytes(s: &tonic::Status) -> (Code, Vec<u8>, Vec<u8>) {
    (
        s.code(),
        s.message().as_bytes().to_vec(),
        s.details().to_vec(),
    )
}

both_stores!(
    refusals_are_identical_for_known_and_unknown_people,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        let before = tb.broker.audit.size();
        let cases = [
            (
                "mash-officer-1",
                "serious_violence_analysis",
                "MASH-2026-0042",
                "",
                "aggregate only",
            ),
            (
                "mash-officer-1",
                "safeguarding_children",
                "case 42 for Amy",
                "",
                "case reference",
            ),
            (
                "mash-officer-1",
                "safeguarding_children",
                "",
                "",
                "needs a case reference",
            ),
            (
                "analyst-1",
                "safeguarding_children",
                "MASH-2026-0042",
                "",
                "may not look up",
            ),
            (
                "board-member-1",
                "marac",
                "MARAC-2026-00017",
                "",
                "may not look up",
            ),
            (
                "mash-officer-1",
                "emergency",
                "EMG-2026-0001",
                "",
                "break-glass",
            ),
            (
                "mash-officer-1",
                "",
                "MASH-2026-0042",
                "",
                "needs a purpose",
            ),
        ];
        for (user, purpose, case_ref, reason, why) in cases {
            let known = find(&tb, user, ask(&tb, AMY, purpose, case_ref, reason))
                .await
                .expect_err("refused");
            let unknown = find(&tb, user, ask(&tb, STRANGER, purpose, case_ref, reason))
                .await
                .expect_err("refused");
            assert_eq!(
                known.code(),
                Code::PermissionDenied,
                "{user} {purpose}: {known:?}"
            );
            assert!(
                known.message().contains(why),
                "{user} {purpose}: {}",
                known.message()
            );
            assert_eq!(
                refusal_bytes(&known),
                refusal_bytes(&unknown),
                "{user} {purpose}: the refusal differs for a known person"
            );
            assert!(!known.message().contains("Amy") && !known.message().contains("case 42"));
        }
        // Every refusal was audited as a denial about nobody in particular.
        let events = tb.store.audit_events(before, 100).await.unwrap();
        assert_eq!(events.len(), 2 * cases.len());
        for e in events {
            let e = AuditEvent::decode(&e.event).unwrap();
            assert_eq!(e.action, concord_audit::Action::Lookup);
            assert!(!e.decision.is_allow());
            assert!(e.subjects.is_empty() && e.disclosed.is_empty());
            // What the caller typed is recorded only in the policy's shape.
            assert_ne!(e.case_ref.as_deref(), Some("case 42 for Amy"));
        }
        tb.stop().await;
    }
);

both_stores!(
    break_glass_needs_a_reason_and_is_flagged_for_review,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        for reason in ["", "   ", "urgent"] {
            let e = find(
                &tb,
                "mash-officer-1",
                ask(&tb, AMY, "emergency", "EMG-2026-0001", reason),
            )
            .await
            .expect_err("no reason, no break-glass");
            assert_eq!(e.code(), Code::PermissionDenied);
            assert!(e.message().contains("written reason"), "{}", e.message());
        }
        let answer = find(
            &tb,
            "mash-officer-1",
            ask(&tb, AMY, "emergency", "EMG-2026-0001", BREAK_GLASS),
        )
        .await
        .expect("break-glass with a reason");
        assert!(answer.matched && answer.flagged_for_review);
        assert!(answer.obligations.iter().any(|o| o == "dpo_review"));
        assert_eq!(answer.sources.len(), 8, "break-glass sees every source");
        // A safeguarding lookup is not flagged.
        let normal = find(
            &tb,
            "mash-officer-1",
            ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", ""),
        )
        .await
        .unwrap();
        assert!(!normal.flagged_for_review);
        tb.stop().await;
    }
);

both_stores!(
    an_unknown_or_ambiguous_person_is_unmatched_audited_and_withheld_alike,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        let known = find(
            &tb,
            "mash-officer-1",
            ask(&tb, AMY, "marac", "MARAC-2026-00017", ""),
        )
        .await
        .unwrap();
        // The twins agree on surname and date of birth; without a forename
        // the tokens could be either: a possible match is never disclosed.
        let vague = v1::FindPersonRequest {
            tokens: vec![token(&tb, KeyName::SnDob, &format!("{}|{}", AMY.1, AMY.2))],
            purpose: "marac".into(),
            case_ref: "MARAC-2026-00017".into(),
            reason: String::new(),
        };
        for req in [ask(&tb, STRANGER, "marac", "MARAC-2026-00017", ""), vague] {
            let size = tb.broker.audit.size();
            let answer = find(&tb, "mash-officer-1", req).await.unwrap();
            assert!(!answer.matched);
            assert!(answer.sources.is_empty() && answer.person_pseudonym.is_empty());
            assert_eq!(
                answer.withheld, known.withheld,
                "withheld depends on the policy only"
            );
            assert_eq!(answer.obligations, known.obligations);
            let receipt = answer.receipt.expect("audited");
            assert_eq!(receipt.event_seq, size);
            let stored = tb.store.audit_events(receipt.event_seq, 1).await.unwrap();
            let e = AuditEvent::decode(&stored[0].event).unwrap();
            assert!(e.decision.is_allow() && e.subjects.is_empty() && e.disclosed.is_empty());
        }
        tb.stop().await;
    }
);

both_stores!(
    the_receipt_proves_the_lookup_is_in_the_audit_log,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        let answer = find(
            &tb,
            "mash-officer-1",
            ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", ""),
        )
        .await
        .unwrap();
        let r = answer.receipt.expect("a receipt");
        let hash = |b: &[u8]| Hash(b.try_into().expect("32 bytes"));
        let proof: Vec<Hash> = r.inclusion_proof.iter().map(|p| hash(p)).collect();
        let (leaf, root) = (hash(&r.leaf_hash), hash(&r.root_hash));
        verify_inclusion(&leaf, r.event_seq, r.tree_size, &proof, &root)
            .expect("the inclusion proof verifies");
        // Not just any proof: another position or root does not verify.
        assert!(verify_inclusion(&leaf, r.event_seq, r.tree_size, &proof, &Hash([0; 32])).is_err());

        // The leaf is the stored event, and it says what was disclosed.
        let stored = tb.store.audit_events(r.event_seq, 1).await.unwrap();
        assert_eq!(stored[0].leaf_hash, r.leaf_hash);
        let e = AuditEvent::decode(&stored[0].event).unwrap();
        assert_eq!(e.leaf_hash(), leaf);
        assert_eq!(e.action, concord_audit::Action::Lookup);
        assert_eq!(e.user, "mash-officer-1");
        assert_eq!(e.org, "rbkc-childrens");
        assert_eq!(e.purpose.as_deref(), Some("safeguarding_children"));
        assert_eq!(e.case_ref.as_deref(), Some("MASH-2026-0042"));
        assert_eq!(e.agreement.as_deref(), Some(answer.agreement.as_str()));
        assert_eq!(
            e.lawful_basis.as_deref(),
            Some(answer.lawful_basis.as_str())
        );
        assert_eq!(
            e.policy_digest.as_deref(),
            Some(tb.broker.policy.bundle_digest().as_str())
        );
        let person = tb
            .broker
            .linkage
            .person_of(1)
            .expect("Amy's police record is linked");
        assert_eq!(e.subjects, BTreeSet::from([SubjectId::Person(person)]));
        let disclosed: BTreeMap<i32, BTreeSet<String>> = e
            .disclosed
            .iter()
            .map(|(s, fs)| (s.code(), fs.iter().map(|f| f.as_str().to_owned()).collect()))
            .collect();
        let shown: BTreeMap<i32, BTreeSet<String>> = answer
            .sources
            .iter()
            .map(|v| (v.source, v.allowed_fields.iter().cloned().collect()))
            .collect();
        assert_eq!(disclosed, shown);
        // The per-recipient pseudonym is not the internal id.
        assert_eq!(
            answer.person_pseudonym,
            tb.broker_key.person_pseudonym("rbkc-childrens", person)
        );
        tb.stop().await;
    }
);

/// A copy of the repository's policies in which a second organisation
/// (adult social care's safeguarding team) holds a MASH officer role and a
/// certificate, `asc-officer-1`.
fn policies_with_a_second_lookup_org(dir: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let out = dir.join("policies");
    copy(&repo_root().join("policies"), &out);
    let edit = |file: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let path = out.join("data").join(file);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    };
    edit("agreements.json", &|v| {
        v["agreements"]["roles"]["mash_officer"]["orgs"]
            .as_array_mut()
            .unwrap()
            .push("rbkc-adults".into());
    });
    edit("partnership.json", &|v| {
        v["partnership"]["certificates"].as_array_mut().unwrap().push(
            serde_json::json!({"org": "rbkc-adults", "role": "mash_officer", "user": "asc-officer-1"}),
        );
    });
    out
}

async fn pseudonym(tb: &TestBroker, user: &str, who: Person) -> String {
    let req = ask(tb, who, "safeguarding_adults", "ASC-2026-1234", "");
    find(tb, user, req).await.unwrap().person_pseudonym
}

both_stores!(
    each_organisation_gets_its_own_stable_pseudonym,
    |db: Db| async move {
        let dir = tempfile::tempdir().unwrap();
        let tb = TestBroker::start_with_policies(db, policies_with_a_second_lookup_org(dir.path()))
            .await;
        populate(&tb).await;
        let first = pseudonym(&tb, "mash-officer-1", AMY).await;
        let again = pseudonym(&tb, "mash-officer-1", AMY).await;
        let manager = pseudonym(&tb, "mash-manager-1", AMY).await;
        let adults = pseudonym(&tb, "asc-officer-1", AMY).await;
        let leo = pseudonym(&tb, "mash-officer-1", LEO).await;
        assert_eq!(first.len(), 64);
        assert_eq!(
            first, again,
            "the same organisation always gets the same value"
        );
        assert_eq!(first, manager, "per organisation, not per user");
        assert_ne!(first, adults, "two organisations cannot join on it");
        assert_ne!(first, leo, "another person, another value");
        let amy = tb.broker.linkage.person_of(1).unwrap();
        assert_eq!(adults, tb.broker_key.person_pseudonym("rbkc-adults", amy));
        assert_eq!(first, tb.broker_key.person_pseudonym("rbkc-childrens", amy));
        tb.stop().await;
    }
);

/// Makes every insert into the audit log fail, from outside the broker.
async fn break_the_audit_log(tb: &TestBroker) {
    let url = tb.database_url().to_owned();
    match tb.db {
        Db::Sqlite => {
            let mut c = concord_store::sqlite_connection(&url).await.unwrap();
            sqlx::query(
                "CREATE TRIGGER audit.audit_down BEFORE INSERT ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit down'); END;",
            )
            .execute(&mut c)
            .await
            .unwrap();
            c.close().await.unwrap();
        }
        Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            for sql in [
                "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'audit down'; END $$",
                "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION audit_down()",
            ] {
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
            c.close().await.unwrap();
        }
    }
}

async fn mend_the_audit_log(tb: &TestBroker) {
    let url = tb.database_url().to_owned();
    match tb.db {
        Db::Sqlite => {
            let mut c = concord_store::sqlite_connection(&url).await.unwrap();
            sqlx::query("DROP TRIGGER audit_down")
                .execute(&mut c)
                .await
                .unwrap();
        }
        Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query("DROP TRIGGER audit_down ON audit_events")
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

both_stores!(
    when_the_audit_log_fails_nothing_is_disclosed,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        break_the_audit_log(&tb).await;
        let size = tb.broker.audit.size();
        let e = find(
            &tb,
            "mash-officer-1",
            ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", ""),
        )
        .await
        .expect_err("an unaudited lookup is refused");
        assert_eq!(e.code(), Code::Unavailable, "{e:?}");
        assert!(e.message().contains("audit"), "{}", e.message());
        for value in ["gbh", "knife_sharp", "E05009391", "2026-10-10"] {
            assert!(!e.message().contains(value), "{}", e.message());
        }
        assert_eq!(tb.broker.audit.size(), size, "nothing was logged");
        // Once the log accepts writes again, lookups are answered.
        mend_the_audit_log(&tb).await;
        let answer = find(
            &tb,
            "mash-officer-1",
            ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", ""),
        )
        .await
        .expect("answered once the audit log works");
        assert!(answer.matched);
        assert_eq!(answer.receipt.unwrap().event_seq, size);
        tb.stop().await;
    }
);

both_stores!(malformed_requests_name_the_field, |db: Db| async move {
    let tb = TestBroker::start(db).await;
    let mut req = ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", "");
    req.tokens[1].key_id = "lk-other".into();
    req.tokens[2].key_name = "shoe_size".into();
    req.tokens[0].token.truncate(16);
    let e = find(&tb, "mash-officer-1", req).await.expect_err("invalid");
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = e
        .get_error_details()
        .bad_request()
        .expect("field violations")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(
        fields,
        ["tokens[0].token", "tokens[1].key_id", "tokens[2].key_name"]
    );
    let empty = find(
        &tb,
        "mash-officer-1",
        v1::FindPersonRequest {
            purpose: "safeguarding_children".into(),
            case_ref: "MASH-2026-0042".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("no tokens");
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert!(empty.message().contains("tokens"), "{}", empty.message());
    tb.stop().await;
});

/// PostgreSQL drops every connection of a running broker (its backends
/// terminated, as a server restart does). The connections the broker keeps
/// outside its pool (the records' readers, the audit writer's) are
/// replaced: after a second's quiet, before any lookup fails (each is
/// pinged after a second idle, as the pool's are); at once, after at most
/// one refusal, UNAVAILABLE, with nothing disclosed. Lookups then answer
/// as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_recover_when_postgresql_drops_the_brokers_connections() {
    let tb = TestBroker::start(Db::Postgres).await;
    populate(&tb).await;
    let amy = || ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", "");
    let before = find(&tb, "mash-officer-1", amy()).await.unwrap();
    assert!(before.matched);

    // After a quiet second: no lookup is refused.
    let terminated = tb.terminate_postgres_connections().await;
    assert!(terminated >= 2, "the broker held {terminated} connections");
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let quiet = find(&tb, "mash-officer-1", amy())
        .await
        .expect("a lookup after a quiet second is answered");
    assert_eq!(quiet.sources, before.sources);

    // At once: at most one refusal.
    let terminated = tb.terminate_postgres_connections().await;
    assert!(terminated >= 2, "the broker held {terminated} connections");
    let mut refusals = 0;
    let after = loop {
        match find(&tb, "mash-officer-1", amy()).await {
            Ok(answer) => break answer,
            Err(e) => {
                assert_eq!(e.code(), Code::Unavailable, "{e}");
                refusals += 1;
                assert!(refusals <= 1, "refused {refusals} times: {e}");
            }
        }
    };
    assert_eq!(after.sources, before.sources);
    assert_eq!(after.person_pseudonym, before.person_pseudonym);
    tb.stop().await;
}

/// PostgreSQL stops accepting connections to the broker's database
/// (`ALLOW_CONNECTIONS false`, SQLSTATE 55000 to every new connection) and
/// drops the ones it has: a lookup is refused UNAVAILABLE, not INTERNAL.
/// Once connections are allowed again lookups answer as before.
pub mod lookups_are_unavailable_while_postgresql_refuses_connections {
    use super::*;

    async fn allow_connections(database: &str, allow: bool) {
        let mut admin = sqlx::PgConnection::connect(&concord_e2e::postgres_admin_url())
            .await
            .unwrap();
        sqlx::query(&format!(
            "ALTER DATABASE {database} WITH ALLOW_CONNECTIONS {allow}"
        ))
        .execute(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let tb = TestBroker::start(Db::Postgres).await;
        populate(&tb).await;
        let url = tb.postgres_url().expect("a PostgreSQL broker");
        let database = url.rsplit('/').next().unwrap().to_owned();
        let amy = || ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", "");
        let before = find(&tb, "mash-officer-1", amy()).await.unwrap();
        assert!(before.matched);

        allow_connections(&database, false).await;
        let terminated = tb.terminate_postgres_connections().await;
        assert!(terminated >= 1, "the broker held no connection");
        // The first lookups find connections that were dropped; the later
        // ones must open new ones, and PostgreSQL refuses those (55000).
        let mut refused = Vec::new();
        for _ in 0..3 {
            refused.push(find(&tb, "mash-officer-1", amy()).await);
        }
        // Restored before asserting, so a failure leaves the database usable.
        allow_connections(&database, true).await;
        for r in refused {
            let e = r.expect_err("a lookup was answered with connections refused");
            assert_eq!(e.code(), Code::Unavailable, "{e}");
        }

        let after = find(&tb, "mash-officer-1", amy())
            .await
            .expect("a lookup once connections are allowed again");
        assert_eq!(after.sources, before.sources);
        assert_eq!(after.person_pseudonym, before.person_pseudonym);
        tb.stop().await;
    }
}

both_stores!(
    a_lookup_reads_only_records_whose_stored_source_is_allowed,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        let amy = held(&tb, AMY);
        assert_eq!(amy.records.len(), AGENCIES.len(), "one record per agency");
        let police = vec![(Source::Police, vec!["kind", "ward_code"])];

        // As the linker holds them: the police record alone, with the
        // allowed fields alone.
        let got = tb
            .store
            .person_records(&amy.records, &police)
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].source, Source::Police);
        let names: Vec<&str> = got[0].fields.iter().map(|(f, _)| *f).collect();
        assert_eq!(names, ["kind", "ward_code"]);

        // Every record labelled police: the stored source is checked
        // again, and nothing of the others comes back.
        let mislabelled: Vec<(u64, Source)> = amy
            .records
            .iter()
            .map(|&(id, _)| (id, Source::Police))
            .collect();
        let again = tb
            .store
            .person_records(&mislabelled, &police)
            .await
            .unwrap();
        assert_eq!(again, got);

        // Nothing allowed: nothing read. A name that is no record field
        // (the tokens column) is never selected.
        assert!(
            tb.store
                .person_records(&amy.records, &[])
                .await
                .unwrap()
                .is_empty()
        );
        let every: Vec<(Source, Vec<&'static str>)> = amy
            .records
            .iter()
            .map(|&(_, s)| (s, vec!["kind", "tokens"]))
            .collect();
        let all = tb.store.person_records(&amy.records, &every).await.unwrap();
        assert_eq!(all.len(), AGENCIES.len());
        assert!(
            all.iter()
                .all(|r| r.fields.len() == 1 && r.fields[0].0 == "kind")
        );
        tb.stop().await;
    }
);

/// The person the linker holds for these identifiers, with their records.
fn held(tb: &TestBroker, who: Person) -> concord_server::linkage::FoundPerson {
    let pseudonyms: Vec<(KeyName, Token)> = tokens(tb, who)
        .iter()
        .map(|t| {
            let key: KeyName = t.key_name.parse().expect("a key name");
            let token = Token::from_slice(&t.token).expect("a token");
            (key, tb.broker_key.pseudonymise(&tb.linkage_key_id, &token))
        })
        .collect();
    tb.broker
        .linkage
        .find_person_records(&pseudonyms)
        .expect("linked")
}

both_stores!(
    concurrent_reads_are_batched_and_each_gets_its_own_records_only,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        let people = [held(&tb, AMY), held(&tb, TWIN), held(&tb, LEO)];
        assert!(people[0].person != people[1].person && people[1].person != people[2].person);
        let all_sources: Vec<Source> = AGENCIES
            .iter()
            .map(|(s, ..)| Source::from_code(*s as i32).expect("a source"))
            .collect();
        let allowances: Vec<Vec<(Source, Vec<&'static str>)>> = vec![
            vec![(Source::Police, vec!["kind", "weapon"])],
            vec![
                (Source::Police, vec!["ward_code"]),
                (Source::ChildrensServices, vec!["kind", "rosh"]),
            ],
            all_sources.iter().map(|s| (*s, vec!["kind"])).collect(),
            all_sources
                .iter()
                .map(|s| (*s, vec!["kind", "event_date", "marac", "dash_score"]))
                .collect(),
        ];
        // Each (person, allowance) read alone first.
        let mut expected = Vec::new();
        for p in &people {
            for a in &allowances {
                let alone = tb.store.person_records(&p.records, a).await.unwrap();
                expected.push((p, a, alone));
            }
        }
        // Amy: a record from each agency; Leo: the police's alone.
        assert_eq!(expected[1].2.len(), 2);
        assert_eq!(expected[2].2.len(), AGENCIES.len());
        assert_eq!(expected[9].2.len(), 1);
        assert_eq!(expected[10].2.len(), 1);
        // Then twenty of each at once: the reads queue behind the store's
        // few reader connections and are read in batches, of mixed people
        // and column sets; each must come back exactly as read alone.
        let reads = (0..20).flat_map(|_| expected.iter()).map(|(p, a, want)| {
            let store = tb.store.clone();
            async move {
                let got = store.person_records(&p.records, a).await.unwrap();
                assert_eq!(&got, want, "person {} read with {a:?}", p.person);
            }
        });
        let before = tb.store.record_read_counts();
        futures::future::join_all(reads).await;
        let after = tb.store.record_read_counts();
        // A read with no record of an allowed source ends before the
        // store (none here: every allowance includes the police).
        let asked = 20 * expected.iter().filter(|(_, _, w)| !w.is_empty()).count() as u64;
        assert_eq!(after.reads - before.reads, asked);
        assert!(
            after.queries - before.queries < asked,
            "batched: {before:?} -> {after:?}"
        );
        tb.stop().await;
    }
);

both_stores!(
    lookups_under_another_linkage_key_are_refused,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        populate(&tb).await;
        let good = ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", "");
        let mut other = good.clone();
        for t in &mut other.tokens {
            t.key_id = "lk-2025x".into();
        }
        let e = find(&tb, "mash-officer-1", other)
            .await
            .expect_err("could never match");
        assert_eq!(e.code(), Code::InvalidArgument);
        let expected = format!(
            "linkage key id lk-2025x is not the partnership's: this broker accepts {}",
            tb.linkage_key_id
        );
        assert!(e.message().contains(&expected), "{}", e.message());
        let fields: Vec<String> = e
            .get_error_details()
            .bad_request()
            .expect("field violations")
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["tokens[0].key_id"]);
        let answer = find(&tb, "mash-officer-1", good)
            .await
            .expect("the partnership's key");
        assert!(answer.matched);
        tb.stop().await;
    }
);

both_stores!(
    lookups_under_the_previous_linkage_key_are_answered_during_a_rotation,
    |db: Db| async move {
        let options = concord_e2e::StartOptions {
            linkage_keys: Some(concord_server::LinkageKeyIds::new(
                "lk-2099a",
                Some("lk-2098a".into()),
            )),
            ..Default::default()
        };
        let tb = TestBroker::start_with_options(db, options).await;
        let under = |key_id: &str| {
            let mut req = ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", "");
            for t in &mut req.tokens {
                t.key_id = key_id.into();
            }
            req
        };
        for accepted in ["lk-2099a", "lk-2098a"] {
            let answer = find(&tb, "mash-officer-1", under(accepted))
                .await
                .unwrap_or_else(|e| panic!("{accepted} is accepted: {e}"));
            assert!(!answer.matched, "nothing was pushed");
        }
        let e = find(&tb, "mash-officer-1", under("lk-2097a"))
            .await
            .expect_err("refused");
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(
            e.message()
                .contains("this broker accepts lk-2099a (and lk-2098a until rotation ends)"),
            "{}",
            e.message()
        );
        tb.stop().await;
    }
);

both_stores!(
    a_flag_the_agency_does_not_hold_is_left_out_never_shown_as_no,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        // A police export whose mapping holds the domestic abuse flag only
        // (as crates/concord-agent/examples/police.mapping.toml): no
        // under-25 flag, no MARAC referral, no exploitation flag.
        let mut r = record(&tb, v1::Source::Police, "amy-p", v1::RecordKind::Crime, AMY);
        r.risk = Some(v1::Risk {
            rosh: 0,
            dash_score: Some(14),
            marac: false,
        });
        r.flags = Some(v1::Flags {
            domestic_abuse: true,
            under_25: false,
            exploitation: false,
        });
        push_extract(
            tb.channel("mps-cw-push").await,
            Extract::new(header(&tb, v1::Source::Police), vec![r], vec![], 100),
        )
        .await
        .unwrap();
        tb.wait_linked(1).await;
        let answer = find(
            &tb,
            "mash-officer-1",
            ask(&tb, AMY, "safeguarding_children", "MASH-2026-0042", ""),
        )
        .await
        .unwrap();
        assert!(answer.matched);
        let police = &answer.sources[0];
        assert_eq!(source_of(police.source), v1::Source::Police);
        // The policy allows the fields: the view says which may be shown.
        for f in ["marac", "flag_under_25", "flag_exploitation"] {
            assert!(police.allowed_fields.iter().any(|a| a == f), "{f}");
        }
        let shown: BTreeMap<&str, &str> = police.records[0]
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(shown.get("flag_domestic_abuse"), Some(&"true"));
        assert_eq!(shown.get("dash_score"), Some(&"14"));
        for unheld in ["marac", "flag_under_25", "flag_exploitation"] {
            assert_eq!(
                shown.get(unheld),
                None,
                "{unheld} shown as a fact: {shown:?}"
            );
        }
        tb.stop().await;
    }
);

both_stores!(
    a_refused_aggregate_records_a_marker_not_the_free_text_purpose,
    |db: Db| async move {
        use concord_proto::v1::insights_client::InsightsClient;
        let tb = TestBroker::start(db).await;
        // The same cleaning as a lookup's: whatever a caller types as a
        // purpose, the append-only log keeps a bounded marker of it.
        let typed = format!(
            "Amy Okafor 9990000018 born 14/03/2009 {}",
            "and more free text ".repeat(5_000)
        );
        let from = tb.broker.audit.size();
        let refused = InsightsClient::new(tb.channel("analyst-1").await)
            .aggregate(v1::AggregateRequest {
                group_by: vec![v1::Dimension::Ward as i32],
                measures: vec![v1::Measure::Records as i32],
                period_start: "2026-10-01".into(),
                period_end: "2026-10-31".into(),
                filters: vec![],
                purpose: typed.clone(),
            })
            .await
            .expect_err("not a purpose of the agreement");
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
        assert!(!refused.message().contains("9990000018"), "{refused:?}");
        let events = tb.store.audit_events(from, 100).await.unwrap();
        let denials: Vec<AuditEvent> = events
            .iter()
            .map(|e| AuditEvent::decode(&e.event).unwrap())
            .filter(|e| e.action == concord_audit::Action::Aggregate)
            .collect();
        assert_eq!(denials.len(), 1, "{denials:?}");
        assert!(!denials[0].decision.is_allow());
        assert_eq!(denials[0].purpose.as_deref(), Some("(malformed purpose)"));
        for e in &events {
            let text = String::from_utf8_lossy(&e.event);
            assert!(
                !text.contains("9990000018") && !text.contains("Okafor"),
                "{text}"
            );
            assert!(e.event.len() < 2_000, "an event of {} bytes", e.event.len());
        }
        tb.stop().await;
    }
);
