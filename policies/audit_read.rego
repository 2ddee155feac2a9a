# Audit read: who may list audit events, read checkpoints and ask who
# looked at a person (Audit.ListEvents, Audit.Checkpoint,
# Audit.AccessHistory).
#
# Allowed only for the partnership's data protection officer role, as
# listed in data.agreements.audit_readers (role dpo at
# rbkc-information-governance). Everything else is refused.
package concord.audit_read

default decision := {"allow": false, "reason": "request refused"}

# The reader is matched as a whole {org, role} entry (invariants.rego
# refuses a bundle with an entry of other keys), not by iterating the list: regorus 0.14's VM skips
# the else of a rule whose earlier body iterates (concord-policy's
# Evaluator::Vm).
decision := {"allow": true} if {
	input.action == "audit_read"
	{"org": input.subject.org, "role": input.subject.role} in data.agreements.audit_readers
} else := {"allow": false, "reason": "not an audit read request"} if {
	not input.action == "audit_read"
} else := {"allow": false, "reason": sprintf("role %s of %s may not read the audit log", [input.subject.role, input.subject.org])} if {
	is_string(input.subject.role)
	is_string(input.subject.org)
}
