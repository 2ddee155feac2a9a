package concord.ingest_test

import data.concord.ingest

push(org, sources) := {
	"action": "ingest",
	"subject": {"org": org, "role": "push_agent", "user": sprintf("%s-push", [org])},
	"resource": {"sources": sources, "record_kinds": [], "fields": []},
	"time": "2026-11-22T10:00:00Z",
}

as_role(request, role) := object.union(request, {"subject": object.union(request.subject, {"role": role, "user": "mash-officer-1"})})

test_police_may_push_police if {
	d := ingest.decision with input as push("mps-cw", ["police"])
	d == {"allow": true}
}

test_police_may_not_push_health if {
	d := ingest.decision with input as push("mps-cw", ["health"])
	d.allow == false
	d.reason == "organisation mps-cw may not push source health"
}

test_police_may_not_push_health_alongside_police if {
	d := ingest.decision with input as push("mps-cw", ["police", "health"])
	d.allow == false
	d.reason == "organisation mps-cw may not push source health"
}

test_health_trusts_may_push_health if {
	d1 := ingest.decision with input as push("chelwest-nhs", ["health"])
	d1.allow == true
	d2 := ingest.decision with input as push("imperial-nhs", ["health"])
	d2.allow == true
}

test_health_trust_may_not_push_police if {
	d := ingest.decision with input as push("chelwest-nhs", ["police"])
	d.allow == false
	d.reason == "organisation chelwest-nhs may not push source police"
}

test_organisation_pushing_nothing_is_refused if {
	d := ingest.decision with input as push("skc-board", ["police"])
	d.allow == false
	d.reason == "organisation skc-board may not push source police"
}

test_mash_officer_may_not_push if {
	d := ingest.decision with input as as_role(push("rbkc-childrens", ["childrens_services"]), "mash_officer")
	d.allow == false
	d.reason == "role mash_officer may not push"
}

test_unknown_organisation_is_refused if {
	d := ingest.decision with input as push("acme-data-ltd", ["police"])
	d.allow == false
	d.reason == "unknown organisation"
}

test_empty_sources_are_refused if {
	d := ingest.decision with input as push("mps-cw", [])
	d.allow == false
	d.reason == "no sources named"
}

test_sources_must_be_a_list if {
	d := ingest.decision with input as push("mps-cw", "police")
	d.allow == false
	d.reason == "no sources named"
}

test_wrong_action_is_refused if {
	d := ingest.decision with input as object.union(push("mps-cw", ["police"]), {"action": "lookup"})
	d.allow == false
	d.reason == "not an ingest request"
}

test_missing_input_is_refused if {
	d := ingest.decision with input as {}
	d.allow == false
	d.reason == "not an ingest request"
}

test_missing_subject_is_refused if {
	d := ingest.decision with input as object.remove(push("mps-cw", ["police"]), ["subject"])
	d.allow == false
	d.reason == "unknown organisation"
}

test_reason_never_names_the_user if {
	request := object.union(push("rbkc-childrens", ["police"]), {"subject": {"org": "rbkc-childrens", "role": "push_agent", "user": "user-7f3a"}})
	d := ingest.decision with input as request
	d.allow == false
	not contains(d.reason, "user-7f3a")
}
