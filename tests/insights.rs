//! Insights end to end on both stores: aggregates and the board's
//! dashboard over mTLS, protected with the thresholds the `aggregate`
//! policy sets per role, refused to everyone else, and audited.
//!
//! The data (October 2026): police record 8 knife GBHs in Abingdon and 40
//! robberies in Campden (each a victim with tokens); children's services
//! know 3 of the Abingdon victims (same NHS numbers); the emergency
//! department records 12 knife assaults in Abingdon with no person tokens.
//! The analyst's rule suppresses 1..7 and the board member's 1..9 (both
//! with a base of 5: released on grids of 10 and 15), so Abingdon's 8 is
//! released to one and withheld from the other. Each figure is its cell's
//! count rounded to the grid and moved by at most one step by the cell-key
//! perturbation (whose keys come from the broker's secret), so the tests
//! check that each figure is one its count can give, and that the same
//! cell has the same figure by every route.

use concord_client::{Extract, push_extract};
use concord_core::{KeyName, RBKC_WARDS};
use concord_disclosure::{PANELS, ProtectedValue, Rule};
use concord_e2e::{Db, TestBroker, both_stores};
use concord_proto::v1::{self, insights_client::InsightsClient};

const ABINGDON: &str = "E05009388";
const CAMPDEN: &str = "E05009390";

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

fn sha(s: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes())
        .as_ref()
        .to_vec()
}

/// A victim record of person `n` (an NHS-number token of their own).
fn victim(tb: &TestBroker, reference: &str, n: u32, ward: &str, day: u32) -> v1::Record {
    v1::Record {
        source_ref: sha(reference),
        kind: v1::RecordKind::Crime as i32,
        role: v1::PersonRole::Victim as i32,
        event_date: format!("2026-10-{day:02}"),
        ward_code: ward.into(),
        age_band: v1::AgeBand::AgeBand1824 as i32,
        tokens: vec![token(tb, KeyName::Nhs, &format!("person-{n}"))],
        ..Default::default()
    }
}

fn header(
    tb: &TestBroker,
    id: &str,
    source: v1::Source,
    mode: v1::ExtractMode,
) -> v1::ExtractHeader {
    v1::ExtractHeader {
        extract_id: id.into(),
        source: source as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: mode as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    }
}

async fn push(tb: &TestBroker, user: &str, h: v1::ExtractHeader, records: Vec<v1::Record>) {
    push_extract(
        tb.channel(user).await,
        Extract::new(h, records, vec![], 100),
    )
    .await
    .expect("accepted");
}

/// Pushes the October data and waits for it to be linked.
async fn seed(tb: &TestBroker) {
    let mut police = Vec::new();
    for i in 0..8 {
        police.push(v1::Record {
            category: v1::ViolenceCategory::Gbh as i32,
            weapon: v1::Weapon::KnifeSharp as i32,
            ..victim(tb, &format!("p-a{i}"), i, ABINGDON, 3 + i)
        });
    }
    for i in 0..40 {
        police.push(v1::Record {
            category: v1::ViolenceCategory::Robbery as i32,
            weapon: v1::Weapon::None as i32,
            age_band: v1::AgeBand::AgeBand3549 as i32,
            ..victim(tb, &format!("p-c{i}"), 100 + i, CAMPDEN, 1 + i % 28)
        });
    }
    push(
        tb,
        "mps-cw-push",
        header(tb, "p-oct", v1::Source::Police, v1::ExtractMode::Snapshot),
        police,
    )
    .await;
    let childrens = (0..3)
        .map(|i| v1::Record {
            kind: v1::RecordKind::Referral as i32,
            flags: Some(v1::Flags {
                domestic_abuse: true,
                ..Default::default()
            }),
            ..victim(tb, &format!("c-{i}"), i, ABINGDON, 20)
        })
        .collect();
    push(
        tb,
        "rbkc-childrens-push",
        header(
            tb,
            "c-oct",
            v1::Source::ChildrensServices,
            v1::ExtractMode::Snapshot,
        ),
        childrens,
    )
    .await;
    let ed = (0..12)
        .map(|i| v1::Record {
            source_ref: sha(&format!("ed-{i}")),
            kind: v1::RecordKind::EdAttendance as i32,
            role: v1::PersonRole::Patient as i32,
            event_date: format!("2026-10-{:02}", 10 + i),
            event_hour: Some(23),
            ward_code: ABINGDON.into(),
            weapon: v1::Weapon::KnifeSharp as i32,
            location_type: v1::LocationType::Street as i32,
            age_band: v1::AgeBand::AgeBand1824 as i32,
            site_code: "RQM01".into(),
            ..Default::default()
        })
        .collect();
    push(
        tb,
        "chelwest-nhs-push",
        header(tb, "ed-oct", v1::Source::Health, v1::ExtractMode::Snapshot),
        ed,
    )
    .await;
    tb.wait_linked(3).await;
}

fn by_ward(source: Option<&str>) -> v1::AggregateRequest {
    v1::AggregateRequest {
        group_by: vec![v1::Dimension::Ward as i32],
        measures: vec![v1::Measure::Records as i32],
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        filters: source
            .map(|s| v1::Filter {
                dimension: v1::Dimension::Source as i32,
                values: vec![s.into()],
            })
            .into_iter()
            .collect(),
        purpose: "serious_violence_analysis".into(),
    }
}

async fn aggregate(
    tb: &TestBroker,
    user: &str,
    req: v1::AggregateRequest,
) -> Result<v1::ProtectedTable, tonic::Status> {
    InsightsClient::new(tb.channel(user).await)
        .aggregate(req)
        .await
        .map(tonic::Response::into_inner)
}

async fn dashboard(
    tb: &TestBroker,
    user: &str,
    period: &str,
) -> Result<v1::DashboardResponse, tonic::Status> {
    InsightsClient::new(tb.channel(user).await)
        .dashboard(v1::DashboardRequest {
            period: period.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The value of the row keyed `keys`, column 0: `None` if suppressed.
fn cell(t: &v1::ProtectedTable, keys: &[&str]) -> Option<u64> {
    let row = t
        .rows
        .iter()
        .find(|r| r.keys.iter().map(String::as_str).eq(keys.iter().copied()))
        .unwrap_or_else(|| panic!("a row {keys:?}"));
    let v = &row.values[0];
    (!v.suppressed).then_some(v.value)
}

/// Whether `value` (None: withheld) is a figure a cell of `count` records
/// can be released as under the table's rule, for some cell key.
fn possible(t: &v1::ProtectedTable, value: Option<u64>, count: u64) -> bool {
    let rule = Rule::new(t.suppress_max, t.rounding_base).expect("the table's rule");
    let want = value.map_or(ProtectedValue::Suppressed, ProtectedValue::Released);
    (0..=255u8).any(|k| rule.release(count, k) == want)
}

#[track_caller]
fn assert_possible(t: &v1::ProtectedTable, value: Option<u64>, count: u64) {
    assert!(
        possible(t, value, count),
        "{value:?} is not a figure {count} can be released as under ({}, {})",
        t.suppress_max,
        t.rounding_base
    );
}

/// Nothing released is small, every release is a multiple of the rule's
/// grid, and a total (when the table has one) is a figure of its own.
fn assert_protected(t: &v1::ProtectedTable) {
    let base = Rule::new(t.suppress_max, t.rounding_base)
        .expect("the table's rule")
        .grid();
    assert!(
        base >= 1 && t.suppress_max >= 7,
        "the policy's rule is applied"
    );
    for row in &t.rows {
        for v in &row.values {
            if !v.suppressed {
                assert!(
                    v.value == 0 || v.value > u64::from(t.suppress_max),
                    "released {} under the threshold {}",
                    v.value,
                    t.suppress_max
                );
                assert_eq!(v.value % base, 0, "{} is not a multiple of {base}", v.value);
            }
        }
    }
    assert!(
        t.totals.is_empty() || t.totals.len() == t.measures.len(),
        "a total per measure, or none"
    );
    for total in &t.totals {
        if !total.suppressed {
            assert!(total.value == 0 || total.value > u64::from(t.suppress_max));
            assert_eq!(total.value % base, 0);
        }
    }
}

fn whole(req: v1::AggregateRequest) -> v1::AggregateRequest {
    v1::AggregateRequest {
        group_by: vec![],
        ..req
    }
}

fn by_category() -> v1::AggregateRequest {
    v1::AggregateRequest {
        group_by: vec![v1::Dimension::Category as i32],
        ..by_ward(None)
    }
}

both_stores!(
    thresholds_come_from_the_policy_per_role,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        seed(&tb).await;

        // By category: GBH 8, robbery 40, not recorded 15 (the children's
        // referrals and the emergency department's attendances).
        let analyst = aggregate(&tb, "analyst-1", by_category()).await.unwrap();
        assert_eq!((analyst.suppress_max, analyst.rounding_base), (7, 5));
        assert!(
            cell(&analyst, &["gbh"]).is_some(),
            "8 is released to the analyst"
        );
        assert_possible(&analyst, cell(&analyst, &["gbh"]), 8);
        assert_possible(&analyst, cell(&analyst, &["robbery"]), 40);
        assert_possible(&analyst, cell(&analyst, &[""]), 15);
        assert_eq!(cell(&analyst, &["homicide"]), Some(0), "a true zero");
        // The total is the cell of all 63 records, the same figure as the
        // question without groups.
        assert_possible(&analyst, Some(analyst.totals[0].value), 63);
        let all = aggregate(&tb, "analyst-1", whole(by_category()))
            .await
            .unwrap();
        assert_eq!(all.rows[0].values[0], analyst.totals[0]);
        let by_ward_total = aggregate(&tb, "analyst-1", by_ward(None)).await.unwrap();
        assert_eq!(
            by_ward_total.totals, analyst.totals,
            "one total by any grouping"
        );
        assert_protected(&analyst);
        assert!(!analyst.policy_revision.is_empty());
        let receipt = analyst.receipt.as_ref().expect("an audit receipt");
        assert_eq!(receipt.leaf_hash.len(), 32);

        let board = aggregate(&tb, "board-member-1", by_category())
            .await
            .unwrap();
        assert_eq!((board.suppress_max, board.rounding_base), (9, 5));
        assert_eq!(cell(&board, &["gbh"]), None, "8 is within the board's 1..9");
        // No cover cell: every other figure is its own cell's.
        assert_possible(&board, cell(&board, &[""]), 15);
        assert!(cell(&board, &[""]).is_some());
        assert_possible(&board, cell(&board, &["robbery"]), 40);
        assert_possible(&board, Some(board.totals[0].value), 63);
        assert_protected(&board);

        // The same question again gets the same answer, from the facts
        // already loaded.
        let loads = tb.broker.insights.loads();
        let again = aggregate(&tb, "analyst-1", by_category()).await.unwrap();
        assert_eq!(again.rows, analyst.rows);
        assert_eq!(
            tb.broker.insights.loads(),
            loads,
            "no reload without new data"
        );

        // A filter names a cell like any other: the police's 8 in Abingdon
        // are the same figure filtered to the police as in the ward x
        // source table, in either grouping order; all 18 wards have a row.
        let police = aggregate(&tb, "analyst-1", by_ward(Some("police")))
            .await
            .unwrap();
        assert_eq!(police.rows.len(), 18, "every ward has a row");
        assert_possible(&police, cell(&police, &[ABINGDON]), 8);
        assert_eq!(cell(&police, &[RBKC_WARDS[17].0]), Some(0));
        assert_protected(&police);
        let ws = v1::AggregateRequest {
            group_by: vec![v1::Dimension::Ward as i32, v1::Dimension::Source as i32],
            ..by_ward(None)
        };
        let sw = v1::AggregateRequest {
            group_by: vec![v1::Dimension::Source as i32, v1::Dimension::Ward as i32],
            ..by_ward(None)
        };
        let ws = aggregate(&tb, "analyst-1", ws).await.unwrap();
        let sw = aggregate(&tb, "analyst-1", sw).await.unwrap();
        for (code, _) in RBKC_WARDS {
            for source in ["police", "childrens_services", "health"] {
                assert_eq!(cell(&ws, &[code, source]), cell(&sw, &[source, code]));
            }
            assert_eq!(cell(&ws, &[code, "police"]), cell(&police, &[code]));
        }
        // Children's services' 3 in Abingdon: withheld by every route.
        assert_eq!(cell(&ws, &[ABINGDON, "childrens_services"]), None);

        // Health enters aggregates: the emergency department's knife
        // assaults, by ward.
        let health = aggregate(&tb, "analyst-1", by_ward(Some("health")))
            .await
            .unwrap();
        assert_possible(&health, cell(&health, &[ABINGDON]), 12);
        assert_eq!(cell(&health, &[ABINGDON]), cell(&ws, &[ABINGDON, "health"]));
        tb.stop().await;
    }
);

fn t_req() -> v1::AggregateRequest {
    v1::AggregateRequest {
        group_by: vec![],
        measures: vec![
            v1::Measure::Records as i32,
            v1::Measure::DistinctPeople as i32,
            v1::Measure::MultiAgencyPeople as i32,
            v1::Measure::VictimsUnder25 as i32,
        ],
        ..by_ward(None)
    }
}

both_stores!(people_measures_count_linked_people, |db: Db| async move {
    let tb = TestBroker::start(db).await;
    seed(&tb).await;
    let t = aggregate(&tb, "analyst-1", t_req()).await.unwrap();
    let values: Vec<Option<u64>> = t.rows[0]
        .values
        .iter()
        .map(|v| (!v.suppressed).then_some(v.value))
        .collect();
    // 48 + 3 + 12 = 63 records; 48 people (the children's records are
    // three of the police's victims, the emergency department's carry no
    // person); 3 known to two agencies: withheld; victims under 25: the 8
    // Abingdon victims.
    for (value, count) in values.iter().zip([63, 48, 3, 8]) {
        assert_possible(&t, *value, count);
    }
    assert_eq!(values[2], None);
    // People are counted once in a total, not once per row: the total of
    // the people by ward is the figure for the whole period.
    let by_ward_people = aggregate(
        &tb,
        "analyst-1",
        v1::AggregateRequest {
            group_by: vec![v1::Dimension::Ward as i32],
            ..t_req()
        },
    )
    .await
    .unwrap();
    assert_eq!(by_ward_people.totals, t.rows[0].values);
    tb.stop().await;
});

both_stores!(
    the_dashboard_has_every_panel_protected,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        seed(&tb).await;
        for user in ["analyst-1", "board-member-1"] {
            let d = dashboard(&tb, user, "2026-10").await.unwrap();
            assert_eq!(d.period, "2026-10");
            let ids: Vec<&str> = d.panels.iter().map(|p| p.id.as_str()).collect();
            let expected: Vec<&str> = PANELS.iter().map(|p| p.id).collect();
            assert_eq!(ids, expected, "{user}");
            for p in &d.panels {
                let t = p.table.as_ref().expect("a table");
                assert!(!p.title.is_empty() && !p.description.is_empty());
                assert_protected(t);
                assert!(
                    t.receipt.is_some(),
                    "panel {} carries the audit receipt",
                    p.id
                );
            }
        }
        let analyst = dashboard(&tb, "analyst-1", "2026-10").await.unwrap();
        let board = dashboard(&tb, "board-member-1", "2026-10").await.unwrap();
        let ho = |d: &v1::DashboardResponse| {
            d.panels
                .iter()
                .find(|p| p.id == "ho_measures")
                .and_then(|p| p.table.clone())
                .unwrap()
        };
        // 8 knife GBHs: released to the analyst, withheld from the board,
        // the same figure as the question that names the same records.
        let knife = cell(&ho(&analyst), &["knife_serious_violence"]);
        assert!(knife.is_some());
        assert_possible(&ho(&analyst), knife, 8);
        assert_eq!(cell(&ho(&board), &["knife_serious_violence"]), None);
        let same_records = v1::AggregateRequest {
            group_by: vec![],
            filters: vec![
                v1::Filter {
                    dimension: v1::Dimension::Source as i32,
                    values: vec!["police".into()],
                },
                v1::Filter {
                    dimension: v1::Dimension::Weapon as i32,
                    values: vec!["knife_sharp".into()],
                },
                v1::Filter {
                    dimension: v1::Dimension::Category as i32,
                    values: [
                        "homicide",
                        "gbh",
                        "abh",
                        "rape",
                        "assault_by_penetration",
                        "sexual_assault",
                        "robbery",
                        "threats_to_kill",
                    ]
                    .map(String::from)
                    .to_vec(),
                },
            ],
            ..by_ward(None)
        };
        let asked = aggregate(&tb, "analyst-1", same_records).await.unwrap();
        assert_eq!(
            cell(&asked, &[]),
            knife,
            "panel and Insights.Aggregate agree"
        );
        // 12 emergency department knife assaults: health in aggregate.
        assert_possible(
            &ho(&analyst),
            cell(&ho(&analyst), &["sharp_object_admissions"]),
            12,
        );
        assert!(
            ho(&analyst).totals.is_empty(),
            "unlike measures are not added up"
        );
        let wards = analyst
            .panels
            .iter()
            .find(|p| p.id == "sv_by_ward")
            .and_then(|p| p.table.clone())
            .unwrap();
        assert_eq!(wards.rows.len(), 18, "the ward panel covers the 18 wards");
        assert_possible(&wards, cell(&wards, &[CAMPDEN]), 40);
        tb.stop().await;
    }
);

both_stores!(
    new_data_is_counted_at_the_next_request,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        seed(&tb).await;
        let before = aggregate(&tb, "analyst-1", by_category()).await.unwrap();
        assert_possible(&before, cell(&before, &["gbh"]), 8);
        // Seven more GBHs: 15.
        let more = (0..7)
            .map(|i| v1::Record {
                category: v1::ViolenceCategory::Gbh as i32,
                ..victim(&tb, &format!("p-x{i}"), 200 + i, ABINGDON, 28)
            })
            .collect();
        push(
            &tb,
            "mps-cw-push",
            header(&tb, "p-oct-2", v1::Source::Police, v1::ExtractMode::Delta),
            more,
        )
        .await;
        let after = aggregate(&tb, "analyst-1", by_category()).await.unwrap();
        assert_possible(&after, cell(&after, &["gbh"]), 15);
        tb.stop().await;
    }
);

both_stores!(
    roles_without_the_right_are_refused_and_audited,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        seed(&tb).await;
        for user in ["mash-officer-1", "mps-cw-push", "dpo-1"] {
            let size = tb.broker.audit.size();
            let err = aggregate(&tb, user, by_ward(None)).await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::PermissionDenied, "{user}: {err:?}");
            let err = dashboard(&tb, user, "2026").await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::PermissionDenied, "{user}");
            assert_eq!(
                tb.broker.audit.size(),
                size + 2,
                "both refusals are audited"
            );
        }
        // An allowed request is audited too.
        let size = tb.broker.audit.size();
        aggregate(&tb, "analyst-1", by_ward(None)).await.unwrap();
        assert_eq!(tb.broker.audit.size(), size + 1);
        // A purpose the agreement does not name for aggregates is refused.
        let err = aggregate(
            &tb,
            "analyst-1",
            v1::AggregateRequest {
                purpose: "curiosity".into(),
                ..by_ward(None)
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        tb.stop().await;
    }
);

both_stores!(
    questions_that_could_be_differenced_are_refused,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let bad = [
            // Not whole months: days could be differenced.
            v1::AggregateRequest {
                period_end: "2026-10-30".into(),
                ..by_ward(None)
            },
            // Dashboard-only dimension.
            v1::AggregateRequest {
                group_by: vec![v1::Dimension::Indicator as i32],
                ..by_ward(None)
            },
            // A filter value that is no ward code.
            v1::AggregateRequest {
                filters: vec![v1::Filter {
                    dimension: v1::Dimension::Ward as i32,
                    values: vec!["Abingdon".into()],
                }],
                ..by_ward(None)
            },
            v1::AggregateRequest {
                measures: vec![],
                ..by_ward(None)
            },
        ];
        for req in bad {
            let err = aggregate(&tb, "analyst-1", req).await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        }
        let err = dashboard(&tb, "analyst-1", "2026-13").await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        tb.stop().await;
    }
);
