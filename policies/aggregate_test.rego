package concord.aggregate_test

import data.concord.aggregate

all_sources := ["police", "health", "probation", "youth_justice", "childrens_services", "adult_social_care", "housing", "community_safety"]

holders := {
	"mash_officer": "rbkc-childrens",
	"mash_manager": "rbkc-childrens",
	"analyst": "rbkc-community-safety",
	"board_member": "skc-board",
	"dpo": "rbkc-information-governance",
	"push_agent": "mps-cw",
}

request(org, role, purpose) := {
	"action": "aggregate",
	"subject": {"org": org, "role": role, "user": "user-7f3a"},
	"purpose": purpose,
	"resource": {"sources": all_sources, "record_kinds": [], "fields": []},
	"time": "2026-11-22T10:00:00Z",
}

as_role(role) := request(holders[role], role, "serious_violence_analysis")

test_analyst_thresholds if {
	d := aggregate.decision with input as as_role("analyst")
	d == {
		"allow": true,
		"purpose": "serious_violence_analysis",
		"agreement": "skc-isa-2026-svd",
		"lawful_basis": data.agreements.purposes.serious_violence_analysis.lawful_basis,
		"suppress_max": 7,
		"rounding_base": 5,
	}
	contains(d.lawful_basis, "Police, Crime, Sentencing and Courts Act 2022 s.16")
}

test_board_member_thresholds if {
	d := aggregate.decision with input as as_role("board_member")
	d.allow == true
	d.suppress_max == 9
	d.rounding_base == 5
	d.agreement == "skc-isa-2026-svd"
}

test_only_analysts_and_board_members_have_aggregates if {
	allowed := {role |
		some role, _ in holders
		d := aggregate.decision with input as as_role(role)
		d.allow == true
	}
	allowed == {"analyst", "board_member"}
	every role in ["mash_officer", "mash_manager", "dpo", "push_agent"] {
		d := aggregate.decision with input as as_role(role)
		d.reason == sprintf("role %s may not have aggregate figures", [role])
	}
}

test_absent_or_empty_purpose_is_the_default if {
	absent := aggregate.decision with input as object.remove(as_role("board_member"), ["purpose"])
	absent.allow == true
	absent.purpose == "serious_violence_analysis"
	empty := aggregate.decision with input as request("skc-board", "board_member", "")
	empty.allow == true
	empty.purpose == "serious_violence_analysis"
}

test_health_enters_aggregates if {
	d := aggregate.decision with input as object.union(as_role("analyst"), {"resource": {"sources": ["health"], "record_kinds": [], "fields": []}})
	d.allow == true
}

test_no_sources_named_means_all if {
	d := aggregate.decision with input as object.union(as_role("analyst"), {"resource": {"sources": [], "record_kinds": [], "fields": []}})
	d.allow == true
}

test_unknown_source_is_refused if {
	d := aggregate.decision with input as object.union(as_role("analyst"), {"resource": {"sources": ["police", "navy"], "record_kinds": [], "fields": []}})
	d.allow == false
	d.reason == "a source named in the request is not aggregated under the agreement"
}

test_lookup_purposes_give_no_aggregates if {
	every purpose in ["safeguarding_children", "safeguarding_adults", "marac", "emergency"] {
		d := aggregate.decision with input as request("rbkc-community-safety", "analyst", purpose)
		d.allow == false
		d.reason == sprintf("purpose %s does not permit aggregates", [purpose])
	}
}

test_unknown_purpose_is_refused_without_echoing_it if {
	d := aggregate.decision with input as request("rbkc-community-safety", "analyst", "Jane Doe")
	d.allow == false
	d.reason == "unknown purpose: an aggregate's purpose must be one of serious_violence_analysis"
}

test_role_must_be_held_at_the_organisation if {
	d := aggregate.decision with input as request("rbkc-childrens", "analyst", "serious_violence_analysis")
	d.allow == false
	d.reason == "role analyst is not held at organisation rbkc-childrens under the agreement"
}

test_role_must_be_allowed_the_purpose if {
	d := aggregate.decision with input as as_role("board_member")
		with data.agreements.purposes.serious_violence_analysis.roles as ["analyst"]
	d.allow == false
	d.reason == "role board_member may not have aggregates for purpose serious_violence_analysis"
}

test_wrong_action_is_refused if {
	d := aggregate.decision with input as object.union(as_role("analyst"), {"action": "lookup"})
	d.allow == false
	d.reason == "not an aggregate request"
	e := aggregate.decision with input as {}
	e.reason == "not an aggregate request"
}
