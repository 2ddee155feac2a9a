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

request(org, role) := {
	"action": "audit_read",
	"subject": {"org": org, "role": role, "user": "user-7f3a"},
	"resource": {"sources": [], "record_kinds": [], "fields": []},
	"time": "2026-11-22T10:00:00Z",
}

test_only_the_dpo_may_read_the_audit_log if {
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
	d.reason == "role mash_manager of rbkc-childrens may not read the audit log"
	not contains(d.reason, "user-7f3a")
}

test_dpo_role_at_another_organisation_is_refused if {
	d := audit_read.decision with input as request("rbkc-childrens", "dpo")
	d.allow == false
	d.reason == "role dpo of rbkc-childrens may not read the audit log"
}

test_another_role_at_the_dpo_organisation_is_refused if {
	d := audit_read.decision with input as request("rbkc-information-governance", "analyst")
	d.allow == false
	d.reason == "role analyst of rbkc-information-governance may not read the audit log"
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
