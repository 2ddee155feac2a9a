# Ingest: may a duty holder's push agent push an extract of these sources?
#
# Allowed only for a push agent of a partnership organisation, naming at
# least one source, every one of which the organisation is registered to
# push (data.partnership.organisations[org].pushes). Everything else is
# refused with a reason that names only organisations, roles and sources.
#
# Shape: the first body is the only one that allows, and every condition
# in it is positive, so missing or malformed input makes it fail. The
# `else` bodies after it only pick the refusal reason, in order; if none
# applies, the default refuses. Conditions are written inline rather than
# as helper rules because each rule reference costs a few microseconds in
# regorus and this runs on every push.
package concord.ingest

default decision := {"allow": false, "reason": "request refused"}

decision := {"allow": true} if {
	input.action == "ingest"
	input.subject.role == "push_agent"
	organisation := data.partnership.organisations[input.subject.org]
	sources := input.resource.sources
	is_array(sources)
	count(sources) > 0
	every source in sources {
		source in organisation.pushes
	}
} else := {"allow": false, "reason": "not an ingest request"} if {
	not input.action == "ingest"
} else := {"allow": false, "reason": "unknown organisation"} if {
	not data.partnership.organisations[input.subject.org]
} else := {"allow": false, "reason": sprintf("role %s may not push", [input.subject.role])} if {
	not input.subject.role == "push_agent"
} else := {"allow": false, "reason": "no sources named"} if {
	not is_array(input.resource.sources)
} else := {"allow": false, "reason": "no sources named"} if {
	count(input.resource.sources) == 0
} else := {"allow": false, "reason": sprintf("organisation %s may not push source %s", [input.subject.org, refused[0]])} if {
	pushes := data.partnership.organisations[input.subject.org].pushes
	refused := sort([source | some source in input.resource.sources; not source in pushes])
	count(refused) > 0
}
