package concord.audit_read_test

import data.concord.audit_read

holders := {
	"mash_officer": "rbkc-childrens",
	"mash_manager": "rbkc-childrens",
	"analyst": "rbkc-community-safety",
	"board_member": "skc-board",
	"dpo": "rbkc-information-governance",
	"push_agent": "mps-cw",
}

# An events read (ListEvents, AccessHistory), as the broker asks it.
request(org, role) := checkpoint_request(org, role, "events")

checkpoint_request(org, role, kind) := {
	"action": "audit_read",
	"subject": {"org": org, "role": role, "user": "user-7f3a"},
	"resource": {"sources": [], "record_kinds": [kind], "fields": []},
	"time": "2026-11-22T10:00:00Z",
}

test_only_the_dpo_may_read_audit_events if {
	allowed := {role |
		some role, org in holders
		d := audit_read.decision with input as request(org, role)
		d.allow == true
	}
	allowed == {"dpo"}
	d := audit_read.decision with input as request("rbkc-information-governance", "dpo")
	d == {"allow": true}
}

test_refusals_name_role_and_organisation if {
	d := audit_read.decision with input as request("rbkc-childrens", "mash_manager")
	d.allow == false
	d.reason == "role mash_manager of rbkc-childrens may not read audit events"
	not contains(d.reason, "user-7f3a")
}

test_dpo_role_at_another_organisation_is_refused if {
	d := audit_read.decision with input as request("rbkc-childrens", "dpo")
	d.allow == false
	d.reason == "role dpo of rbkc-childrens may not read audit events"
}

test_another_role_at_the_dpo_organisation_is_refused if {
	d := audit_read.decision with input as request("rbkc-information-governance", "analyst")
	d.allow == false
	d.reason == "role analyst of rbkc-information-governance may not read audit events"
}

test_wrong_action_is_refused if {
	d := audit_read.decision with input as object.union(request("rbkc-information-governance", "dpo"), {"action": "lookup"})
	d.allow == false
	d.reason == "not an audit read request"
}

test_missing_subject_is_refused if {
	d := audit_read.decision with input as {"action": "audit_read"}
	d == {"allow": false, "reason": "request refused"}
}

test_every_partnership_member_may_read_a_checkpoint if {
	allowed := {role |
		some role, org in holders
		d := audit_read.decision with input as checkpoint_request(org, role, "checkpoint")
		d == {"allow": true}
	}
	allowed == object.keys(holders)
}

test_a_mash_officer_reads_a_checkpoint_but_not_the_events if {
	c := audit_read.decision with input as checkpoint_request("rbkc-childrens", "mash_officer", "checkpoint")
	c == {"allow": true}
	e := audit_read.decision with input as request("rbkc-childrens", "mash_officer")
	e.allow == false
	e.reason == "role mash_officer of rbkc-childrens may not read audit events"
}

test_a_checkpoint_for_an_organisation_outside_the_partnership_is_refused if {
	d := audit_read.decision with input as checkpoint_request("acme-ltd", "mash_officer", "checkpoint")
	d.allow == false
	d.reason == "acme-ltd is not a party to the agreement"
}

test_events_or_no_kind_for_a_member_are_refused if {
	for_kinds := {k: d.allow |
		some k in ["events", "checkpoint_x", ""]
		d := audit_read.decision with input as checkpoint_request("rbkc-childrens", "mash_officer", k)
	}
	for_kinds == {"events": false, "checkpoint_x": false, "": false}
	both := audit_read.decision with input as object.union(
		request("rbkc-childrens", "mash_officer"),
		{"resource": {"sources": [], "record_kinds": ["checkpoint", "events"], "fields": []}},
	)
	both.allow == false
	none := audit_read.decision with input as {"action": "audit_read", "subject": {"org": "rbkc-childrens", "role": "mash_officer", "user": "u"}}
	none.allow == false
}

test_a_checkpoint_asked_as_another_action_is_refused if {
	d := audit_read.decision with input as object.union(checkpoint_request("rbkc-childrens", "mash_officer", "checkpoint"), {"action": "lookup"})
	d.allow == false
	d.reason == "not an audit read request"
}
