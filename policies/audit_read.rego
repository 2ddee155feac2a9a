# Audit read: who may list audit events, read checkpoints and ask who
# looked at a person (Audit.ListEvents, Audit.Checkpoint,
# Audit.AccessHistory).
#
# The events (ListEvents, AccessHistory: resource.record_kinds
# ["events"]) are for the partnership's data protection officer role
# only, as listed in data.agreements.audit_readers (role dpo at
# rbkc-information-governance), who may read checkpoints too. A signed
# checkpoint (size, root, signature, no events: resource.record_kinds
# ["checkpoint"]) is readable by every role of every partnership member
# (data.agreements.parties), so anyone can check a lookup's receipt
# against a signed root. Everything else is refused.
package concord.audit_read

default decision := {"allow": false, "reason": "request refused"}

# The reader is matched as a whole {org, role} entry (invariants.rego
# refuses a bundle with an entry of other keys), not by iterating the list: regorus 0.14's VM skips
# the else of a rule whose earlier body iterates (concord-policy's
# Evaluator::Vm).
decision := {"allow": true} if {
	input.action == "audit_read"
	{"org": input.subject.org, "role": input.subject.role} in data.agreements.audit_readers
} else := {"allow": true} if {
	input.action == "audit_read"
	input.resource.record_kinds == ["checkpoint"]
	is_string(input.subject.role)
	input.subject.org in data.agreements.parties
} else := {"allow": false, "reason": "not an audit read request"} if {
	not input.action == "audit_read"
} else := {"allow": false, "reason": sprintf("%s is not a party to the agreement", [input.subject.org])} if {
	input.resource.record_kinds == ["checkpoint"]
	is_string(input.subject.org)
} else := {"allow": false, "reason": sprintf("role %s of %s may not read audit events", [input.subject.role, input.subject.org])} if {
	is_string(input.subject.role)
	is_string(input.subject.org)
}
