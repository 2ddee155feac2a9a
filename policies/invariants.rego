# Invariants of the agreement data, checked when the bundle loads.
#
# The broker evaluates data.concord.invariants.violations (a set of
# messages) once per load, with no input, and refuses a bundle that has any,
# whether or not the bundle's tests are run: the last good bundle keeps
# serving. Checking here, once, lets the decision rules read their answers
# straight from the data on every request.
#
# What must hold:
# - health and social care person-level data (sources of class
#   health_or_care) is disclosed only under a safeguarding purpose (which
#   includes break-glass), never for Serious Violence Duty analysis: the
#   Police, Crime, Sentencing and Courts Act 2022 s.16(4) does not authorise
#   disclosing patient information;
# - an aggregate purpose discloses nothing person-level;
# - every source and field a purpose discloses exists and is carried by the
#   source;
# - each purpose's withheld list accounts for every source and field of the
#   agreement it does not disclose, once, and for nothing else;
# - each audit reader and link reviewer entry is exactly {org, role}: the
#   decisions match whole entries, so one with a key more or less would
#   silently match no one.
package concord.invariants

violations contains sprintf("agreements.audit_readers[%d] must hold exactly the keys org and role", [i]) if {
	some i, entry in data.agreements.audit_readers
	{key | some key, _ in entry} != {"org", "role"}
}

violations contains sprintf("partnership.link_reviewers[%d] must hold exactly the keys org and role", [i]) if {
	some i, entry in data.partnership.link_reviewers
	{key | some key, _ in entry} != {"org", "role"}
}

violations contains sprintf("purpose %s discloses source %s, which is not a source of the agreement", [name, source]) if {
	some name, purpose in data.agreements.purposes
	some source, _ in purpose.sources
	not data.agreements.sources[source]
}

violations contains sprintf("purpose %s discloses field %s of %s, which that source does not carry", [name, field, source]) if {
	some name, purpose in data.agreements.purposes
	some source, fields in purpose.sources
	some field in fields
	not field in object.get(data.agreements.sources, [source, "fields"], [])
}

violations contains sprintf("purpose %s discloses %s, of class %s, which the purpose may not see", [name, source, class]) if {
	some name, purpose in data.agreements.purposes
	some source, _ in purpose.sources
	class := data.agreements.sources[source].class
	not class in purpose.source_classes
}

violations contains sprintf("purpose %s may see health and social care data but is not a safeguarding purpose (PCSC Act 2022 s.16(4))", [name]) if {
	some name, purpose in data.agreements.purposes
	"health_or_care" in purpose.source_classes
	not purpose.safeguarding == true
}

violations contains sprintf("purpose %s is for aggregates but discloses person-level data", [name]) if {
	some name, purpose in data.agreements.purposes
	purpose.aggregate == true
	count(purpose.sources) > 0
}

violations contains sprintf("purpose %s is for aggregates but allows lookups", [name]) if {
	some name, purpose in data.agreements.purposes
	purpose.aggregate == true
	purpose.lookup == true
}

violations contains sprintf("purpose %s lists source %s under withheld %d times; list it once", [name, source, n]) if {
	some name, purpose in data.agreements.purposes
	some source, _ in data.agreements.sources
	n := count([entry | some entry in purpose.withheld; entry.source == source])
	n > 1
}

violations contains sprintf("purpose %s withholds %s, which is not a source of the agreement", [name, entry.source]) if {
	some name, purpose in data.agreements.purposes
	some entry in purpose.withheld
	not data.agreements.sources[entry.source]
}

violations contains sprintf("purpose %s neither discloses nor withholds source %s", [name, source]) if {
	some name, purpose in data.agreements.purposes
	some source, _ in data.agreements.sources
	not purpose.sources[source]
	not source in {entry.source | some entry in purpose.withheld}
}

violations contains sprintf("purpose %s withholds source %s whole, so its withheld fields must be []", [name, entry.source]) if {
	some name, purpose in data.agreements.purposes
	some entry in purpose.withheld
	not purpose.sources[entry.source]
	entry.fields != []
}

violations contains sprintf("purpose %s discloses %s but lists it as withheld whole", [name, entry.source]) if {
	some name, purpose in data.agreements.purposes
	some entry in purpose.withheld
	purpose.sources[entry.source]
	entry.fields == []
}

violations contains sprintf("purpose %s withholds source %s without a reason", [name, entry.source]) if {
	some name, purpose in data.agreements.purposes
	some entry in purpose.withheld
	not count(entry.reason) > 0
}

violations contains sprintf("purpose %s withholds fields %v of %s, but %v is what it does not disclose", [name, listed, source, expected]) if {
	some name, purpose in data.agreements.purposes
	some source, disclosed in purpose.sources
	expected := sort([field | some field in object.get(data.agreements.sources, [source, "fields"], []); not field in disclosed])
	listed := sort([field | some entry in purpose.withheld; entry.source == source; some field in entry.fields])
	listed != expected
}

violations contains sprintf("purpose %s withholds %s without citing the health and social care rule", [name, entry.source]) if {
	some name, purpose in data.agreements.purposes
	some entry in purpose.withheld
	data.agreements.sources[entry.source].class == "health_or_care"
	not "health_or_care" in purpose.source_classes
	entry.reason != data.agreements.withheld_reasons.health_or_care
}
