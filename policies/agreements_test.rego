# Checks on the Information Sharing Agreement data itself
# (data/agreements.json): every name it uses exists, and the legal facts
# hold whatever the rules do.
package concord.agreements_test

agreements := data.agreements

source_names := {"police", "health", "probation", "youth_justice", "childrens_services", "adult_social_care", "housing", "community_safety"}

test_sources_are_the_eight_of_the_design if {
	object.keys(agreements.sources) == source_names
}

test_field_names_are_the_record_fields if {
	{f | some f in agreements.fields} == {
		"kind", "role", "event_date", "date_precision", "event_hour", "ward_code", "lsoa_code",
		"category", "weapon", "location_type", "age_band", "sex", "rosh", "dash_score", "marac",
		"flag_domestic_abuse", "flag_under_25", "flag_exploitation", "site_code",
	}
	count(agreements.fields) == 19
}

test_each_source_carries_known_fields_once if {
	every name, source in agreements.sources {
		count(source.fields) == count({f | some f in source.fields})
		every f in source.fields {
			f in agreements.fields
		}
		source.class in {"health_or_care", "other"}
	}
}

test_health_and_social_care_sources if {
	{name | some name, source in agreements.sources; source.class == "health_or_care"} == {"health", "adult_social_care", "childrens_services"}
}

test_purposes_disclose_only_fields_their_sources_carry if {
	every name, purpose in agreements.purposes {
		every source, fields in purpose.sources {
			count(fields) == count({f | some f in fields})
			every f in fields {
				f in agreements.sources[source].fields
			}
		}
	}
}

test_every_purpose_is_complete if {
	every name, purpose in agreements.purposes {
		is_string(purpose.agreement)
		startswith(purpose.agreement, concat("", [agreements.id, "-"]))
		count(purpose.lawful_basis) > 0
		is_boolean(purpose.lookup)
		is_boolean(purpose.aggregate)
		is_boolean(purpose.safeguarding)
		purpose.lookup != purpose.aggregate
		count(purpose.roles) > 0
		every role in purpose.roles {
			agreements.roles[role]
		}
		is_boolean(purpose.flag_for_review)
		purpose.min_reason_chars >= 0
	}
	ids := [p.agreement | some p in agreements.purposes]
	count(ids) == count({id | some id in ids})
}

test_the_purposes_of_the_agreement if {
	object.keys(agreements.purposes) == {"safeguarding_children", "safeguarding_adults", "marac", "emergency", "serious_violence_analysis"}
}

test_the_safeguarding_purposes if {
	{name | some name, p in agreements.purposes; p.safeguarding == true} == {"safeguarding_children", "safeguarding_adults", "emergency"}
}

test_health_and_social_care_only_for_safeguarding_purposes if {
	# Person-level health and social care data only under a safeguarding
	# purpose with its own basis, or break-glass (vital interests).
	{name | some name, p in agreements.purposes; "health_or_care" in p.source_classes} == {"safeguarding_children", "safeguarding_adults", "emergency"}
	{name | some name, p in agreements.purposes; some source, _ in p.sources; agreements.sources[source].class == "health_or_care"} == {"safeguarding_children", "safeguarding_adults", "emergency"}
}

test_serious_violence_analysis_is_aggregate_only_and_cites_section_16 if {
	svd := agreements.purposes.serious_violence_analysis
	svd.lookup == false
	svd.aggregate == true
	svd.sources == {}
	svd.source_classes == []
	{s | some s in svd.aggregate_sources} == source_names
	contains(svd.lawful_basis, "s.16")
	contains(svd.lawful_basis, "s.16(4)")
	agreements.default_aggregate_purpose == "serious_violence_analysis"
}

test_break_glass_needs_a_reason_and_review if {
	emergency := agreements.purposes.emergency
	emergency.min_reason_chars >= 10
	emergency.flag_for_review == true
	"dpo_review" in emergency.obligations
	every name, p in object.remove(agreements.purposes, ["emergency"]) {
		p.min_reason_chars == 0
		p.flag_for_review == false
	}
}

test_case_reference_format if {
	agreements.case_ref_format == {"prefixes": ["MASH", "MARAC", "ASC", "EMG"], "year_digits": 4, "number_digits": [4, 5, 6]}
}

test_parties_are_the_partnership if {
	{p | some p in agreements.parties} == object.keys(data.partnership.organisations)
	every name, role in agreements.roles {
		every org in role.orgs {
			org in agreements.parties
		}
	}
}

test_every_certificate_holds_a_role_of_the_agreement if {
	every cert in data.partnership.certificates {
		cert.org in agreements.roles[cert.role].orgs
	}
}

test_push_agents_are_the_organisations_that_push if {
	{o | some o in agreements.roles.push_agent.orgs} == {name | some name, org in data.partnership.organisations; count(org.pushes) > 0}
}

test_aggregate_thresholds if {
	agreements.roles.analyst.aggregate == {"suppress_max": 7, "rounding_base": 5}
	agreements.roles.board_member.aggregate == {"suppress_max": 9, "rounding_base": 5}
	{name | some name, role in agreements.roles; role.aggregate} == {"analyst", "board_member"}
}

test_audit_readers_are_the_dpo if {
	agreements.audit_readers == [{"org": "rbkc-information-governance", "role": "dpo"}]
}

test_every_source_has_a_retention_period if {
	object.keys(agreements.retention) == source_names
	every source, period in agreements.retention {
		count(period) == 1
		some unit, n in period
		unit in {"days", "years"}
		is_number(n)
		n > 0
		n == round(n)
	}
}
