# Link review: who may list and resolve the possible matches that linkage
# holds for review (never merged silently). The queue shows pseudonymous
# record and person ids with a score, nothing that identifies anyone.
#
# Allowed for the partnership's MASH managers and its data protection
# officer, listed in data.partnership.link_reviewers. Everything else is
# refused.
package concord.link_review

default decision := {"allow": false, "reason": "request refused"}

# The reviewer is matched as a whole {org, role} entry (invariants.rego
# refuses a bundle with an entry of other keys), not by iterating the list: regorus 0.14's VM skips
# the else of a rule whose earlier body iterates (concord-policy's
# Evaluator::Vm).
decision := {"allow": true} if {
	input.action == "link_review"
	{"org": input.subject.org, "role": input.subject.role} in data.partnership.link_reviewers
} else := {"allow": false, "reason": "not a link review request"} if {
	not input.action == "link_review"
} else := {"allow": false, "reason": sprintf("role %s of %s may not review linkage", [input.subject.role, input.subject.org])}
