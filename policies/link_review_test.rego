package concord.link_review_test

import data.concord.link_review

request(org, role) := {
	"action": "link_review",
	"subject": {"org": org, "role": role, "user": "u1"},
	"resource": {"sources": [], "record_kinds": [], "fields": []},
	"time": "2026-11-22T10:00:00Z",
}

test_mash_manager_may_review if {
	link_review.decision.allow with input as request("rbkc-childrens", "mash_manager")
}

test_dpo_may_review if {
	link_review.decision.allow with input as request("rbkc-information-governance", "dpo")
}

test_mash_officer_may_not_review if {
	d := link_review.decision with input as request("rbkc-childrens", "mash_officer")
	not d.allow
	d.reason == "role mash_officer of rbkc-childrens may not review linkage"
}

test_push_agent_may_not_review if {
	not link_review.decision.allow with input as request("mps-cw", "push_agent")
}

test_a_role_at_the_wrong_org_may_not_review if {
	not link_review.decision.allow with input as request("skc-board", "mash_manager")
}

test_other_actions_are_refused if {
	d := link_review.decision with input as object.union(request("rbkc-childrens", "mash_manager"), {"action": "lookup"})
	not d.allow
}
