# Audit read: who may list audit events, read checkpoints and ask who
# looked at a person (Audit.ListEvents, Audit.Checkpoint,
# Audit.AccessHistory).
#
# Allowed only for the partnership's data protection officer role, as
# listed in data.agreements.audit_readers (role dpo at
# rbkc-information-governance). Everything else is refused.
package concord.audit_read

default decision := {"allow": false, "reason": "request refused"}

decision := {"allow": true} if {
	input.action == "audit_read"
	some reader in data.agreements.audit_readers
	reader.org == input.subject.org
	reader.role == input.subject.role
} else := {"allow": false, "reason": "not an audit read request"} if {
	not input.action == "audit_read"
} else := {"allow": false, "reason": sprintf("role %s of %s may not read the audit log", [input.subject.role, input.subject.org])} if {
	is_string(input.subject.role)
	is_string(input.subject.org)
}
