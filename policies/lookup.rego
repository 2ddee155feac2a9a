# Lookup: may a practitioner see what partner agencies hold about a person,
# for a stated purpose and case, and which sources and fields?
#
# The Information Sharing Agreement is data (data.agreements, from
# data/agreements.json). A lookup is allowed only when all of these hold:
# the role is held at the caller's organisation under the agreement; the
# purpose is one of the agreement's and permits lookups (not aggregate
# only); the role may use that purpose; the case reference is in the
# partnership's format; and, for break-glass (emergency), a written reason
# of at least the purpose's min_reason_chars is given.
#
# The answer is the purpose's own, as the agreement writes it: per source,
# the fields that may be disclosed (purpose.sources), and every source or
# field that is not, with the reason (purpose.withheld). The broker asks
# about all eight sources every time, so the decision never depends on what
# is held about anyone. The agreement's legal facts (health and social care
# only for safeguarding and break-glass, PCSC Act 2022 s.16(4); withheld
# lists that account for every field) are checked over the data when the
# bundle loads (invariants.rego): a bundle that breaks them never serves.
#
# Shape (as ingest.rego): the allowing bodies come first and every
# condition in them is positive, so missing or malformed input makes them
# fail; the else bodies after them only pick the refusal reason. The first
# body is the hot path (every lookup the broker makes): conditions inline,
# the answer read from the data, no iteration, because each statement and
# rule reference costs about a microsecond in regorus. The second serves a
# request naming only some sources (or unknown ones), filtering the same
# answer. Reasons name roles, organisations, purposes and sources only:
# never the case reference, the break-glass reason or the user, and never
# an unknown purpose as given.
package concord.lookup

default decision := {"allow": false, "reason": "request refused"}

decision := {
	"allow": true,
	"purpose": input.purpose,
	"agreement": purpose.agreement,
	"lawful_basis": purpose.lawful_basis,
	"sources": purpose.sources,
	"withheld": purpose.withheld,
	"obligations": purpose.obligations,
	"flag_for_review": purpose.flag_for_review,
} if {
	input.action == "lookup"
	agreements := data.agreements
	input.subject.org in agreements.roles[input.subject.role].orgs
	purpose := agreements.purposes[input.purpose]
	purpose.lookup == true
	input.subject.role in purpose.roles
	# The case reference is well formed (case_ref_well_formed, inline).
	parts := split(input.case_ref, "-")
	count(parts) == 3
	parts[0] in agreements.case_ref_format.prefixes
	count(parts[1]) == agreements.case_ref_format.year_digits
	count(parts[2]) in agreements.case_ref_format.number_digits
	trim_left(concat("", [parts[1], parts[2]]), "0123456789") == ""
	count(trim_space(object.get(input, "reason", ""))) >= purpose.min_reason_chars

	# Every source of the agreement, each once.
	count(input.resource.sources) == count(agreements.sources)
	count(object.filter(agreements.sources, input.resource.sources)) == count(agreements.sources)
} else := {
	"allow": true,
	"purpose": input.purpose,
	"agreement": purpose.agreement,
	"lawful_basis": purpose.lawful_basis,
	"sources": object.filter(purpose.sources, requested),
	"withheld": array.concat(
		[entry | some entry in purpose.withheld; entry.source in requested],
		[{"source": source, "fields": [], "reason": agreements.withheld_reasons.unknown} |
			some source in requested
			not agreements.sources[source]
		],
	),
	"obligations": purpose.obligations,
	"flag_for_review": purpose.flag_for_review,
} if {
	input.action == "lookup"
	agreements := data.agreements
	input.subject.org in agreements.roles[input.subject.role].orgs
	purpose := agreements.purposes[input.purpose]
	purpose.lookup == true
	input.subject.role in purpose.roles
	case_ref_well_formed
	count(trim_space(object.get(input, "reason", ""))) >= purpose.min_reason_chars

	# Some sources, or unknown ones: answer for those named, once each.
	requested := {source | some source in input.resource.sources}
	count(requested) > 0
} else := {"allow": false, "reason": "not a lookup request"} if {
	not input.action == "lookup"
} else := {"allow": false, "reason": sprintf("role %s is not held at organisation %s under the agreement", [input.subject.role, input.subject.org])} if {
	not input.subject.org in data.agreements.roles[input.subject.role].orgs
} else := {"allow": false, "reason": "a lookup needs a purpose"} if {
	not input.purpose
} else := {"allow": false, "reason": sprintf("unknown purpose: a lookup's purpose must be one of %s", [concat(", ", sort([name | some name, p in data.agreements.purposes; p.lookup == true]))])} if {
	not data.agreements.purposes[input.purpose]
} else := {"allow": false, "reason": sprintf("purpose %s is aggregate only: lookups are refused", [input.purpose])} if {
	not data.agreements.purposes[input.purpose].lookup == true
} else := {"allow": false, "reason": sprintf("role %s may not look up for purpose %s", [input.subject.role, input.purpose])} if {
	not input.subject.role in data.agreements.purposes[input.purpose].roles
} else := {"allow": false, "reason": "a lookup needs a case reference"} if {
	not input.case_ref
} else := {"allow": false, "reason": "the case reference is not in the partnership's format (MASH, MARAC, ASC or EMG, a year and a number, e.g. MASH-2026-0042)"} if {
	not case_ref_well_formed
} else := {"allow": false, "reason": sprintf("purpose %s (break-glass) needs a written reason of at least %d characters", [input.purpose, data.agreements.purposes[input.purpose].min_reason_chars])} if {
	count(trim_space(object.get(input, "reason", ""))) < data.agreements.purposes[input.purpose].min_reason_chars
} else := {"allow": false, "reason": "no sources named"}

# The case reference is in the partnership's format: a prefix naming the
# kind of case, the year and a number, e.g. MASH-2026-0042 (the regular
# expression ^(MASH|MARAC|ASC|EMG)-[0-9]{4}-[0-9]{4,6}$, written out because
# regorus recompiles a regex's matcher on every call). The hot path above
# repeats these conditions inline.
case_ref_well_formed if {
	format := data.agreements.case_ref_format
	parts := split(input.case_ref, "-")
	count(parts) == 3
	parts[0] in format.prefixes
	count(parts[1]) == format.year_digits
	count(parts[2]) in format.number_digits
	trim_left(concat("", [parts[1], parts[2]]), "0123456789") == ""
}
