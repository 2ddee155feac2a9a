# Aggregate: may the caller have disclosure-controlled figures, and with
# which disclosure thresholds?
#
# Allowed when the role is held at the caller's organisation under the
# agreement and has aggregate thresholds (data.agreements.roles[role].aggregate),
# the purpose (absent or empty means the agreement's default aggregate
# purpose, serious_violence_analysis) permits aggregates and may be used by
# the role, and every source named is one the purpose aggregates. The
# answer carries the role's thresholds: counts 1..suppress_max are
# suppressed and the rest rounded to the nearest rounding_base.
#
# Health data enters aggregates only: serious_violence_analysis aggregates
# every source, and permits no lookup (see lookup.rego).
#
# Same shape as lookup.rego: one allowing body, then refusal reasons.
package concord.aggregate

default decision := {"allow": false, "reason": "request refused"}

decision := {
	"allow": true,
	"purpose": purpose_name,
	"agreement": purpose.agreement,
	"lawful_basis": purpose.lawful_basis,
	"suppress_max": role.aggregate.suppress_max,
	"rounding_base": role.aggregate.rounding_base,
} if {
	input.action == "aggregate"
	agreements := data.agreements
	role := agreements.roles[input.subject.role]
	input.subject.org in role.orgs
	role.aggregate.suppress_max >= 0
	role.aggregate.rounding_base >= 1
	purpose := agreements.purposes[purpose_name]
	purpose.aggregate == true
	input.subject.role in purpose.roles
	every source in input.resource.sources {
		source in purpose.aggregate_sources
	}
} else := {"allow": false, "reason": "not an aggregate request"} if {
	not input.action == "aggregate"
} else := {"allow": false, "reason": sprintf("role %s is not held at organisation %s under the agreement", [input.subject.role, input.subject.org])} if {
	not input.subject.org in data.agreements.roles[input.subject.role].orgs
} else := {"allow": false, "reason": sprintf("role %s may not have aggregate figures", [input.subject.role])} if {
	not data.agreements.roles[input.subject.role].aggregate
} else := {"allow": false, "reason": sprintf("unknown purpose: an aggregate's purpose must be one of %s", [concat(", ", sort([name | some name, p in data.agreements.purposes; p.aggregate == true]))])} if {
	not data.agreements.purposes[purpose_name]
} else := {"allow": false, "reason": sprintf("purpose %s does not permit aggregates", [purpose_name])} if {
	not data.agreements.purposes[purpose_name].aggregate == true
} else := {"allow": false, "reason": sprintf("role %s may not have aggregates for purpose %s", [input.subject.role, purpose_name])} if {
	not input.subject.role in data.agreements.purposes[purpose_name].roles
} else := {"allow": false, "reason": "a source named in the request is not aggregated under the agreement"}

# The purpose asked for: absent or empty means the agreement's default
# aggregate purpose (the board's dashboard names none).
purpose_name := data.agreements.default_aggregate_purpose if {
	object.get(input, "purpose", "") == ""
} else := input.purpose
