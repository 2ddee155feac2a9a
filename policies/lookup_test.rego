package concord.lookup_test

import data.concord.lookup

# The eight sources, as the broker always sends them.
all_sources := ["police", "health", "probation", "youth_justice", "childrens_services", "adult_social_care", "housing", "community_safety"]

# Who holds a certificate (policies/data/partnership.json), by role.
holders := {
	"mash_officer": "rbkc-childrens",
	"mash_manager": "rbkc-childrens",
	"analyst": "rbkc-community-safety",
	"board_member": "skc-board",
	"dpo": "rbkc-information-governance",
	"push_agent": "mps-cw",
}

# A case reference in the partnership's format, per purpose.
case_refs := {
	"safeguarding_children": "MASH-2026-0042",
	"safeguarding_adults": "ASC-2026-1234",
	"marac": "MARAC-2026-00017",
	"emergency": "EMG-2026-123456",
	"serious_violence_analysis": "MASH-2026-0042",
}

break_glass_reason := "child missing overnight, reported at immediate risk of serious harm"

request(org, role, purpose, case_ref) := {
	"action": "lookup",
	"subject": {"org": org, "role": role, "user": "user-7f3a"},
	"purpose": purpose,
	"case_ref": case_ref,
	"reason": break_glass_reason,
	"resource": {"sources": all_sources, "record_kinds": [], "fields": []},
	"time": "2026-11-22T10:00:00Z",
}

as_role(role, purpose) := request(holders[role], role, purpose, case_refs[purpose])

officer(purpose) := as_role("mash_officer", purpose)

# The roles each purpose allows to look up: the agreement, restated.
lookup_roles := {
	"safeguarding_children": {"mash_officer", "mash_manager"},
	"safeguarding_adults": {"mash_officer", "mash_manager"},
	"marac": {"mash_officer", "mash_manager"},
	"emergency": {"mash_officer", "mash_manager"},
	"serious_violence_analysis": set(),
}

allowed_roles(purpose) := {role |
	some role, _ in holders
	d := lookup.decision with input as as_role(role, purpose)
	d.allow == true
}

refusal(role, purpose) := d.reason if {
	d := lookup.decision with input as as_role(role, purpose)
	d.allow == false
}

# Field sets of the agreement's snapshot.
core := {"kind", "role", "event_date", "date_precision", "ward_code", "category", "age_band", "sex", "flag_domestic_abuse", "flag_under_25", "flag_exploitation"}

health_safeguarding := {"kind", "role", "event_date", "date_precision", "category", "weapon", "age_band", "sex", "flag_domestic_abuse", "flag_under_25", "flag_exploitation"}

safeguarding_fields := {
	"police": core | {"weapon", "location_type", "dash_score", "marac"},
	"health": health_safeguarding,
	"probation": core | {"rosh"},
	"youth_justice": core | {"weapon", "rosh"},
	"childrens_services": core,
	"adult_social_care": core,
	"housing": core,
	"community_safety": core | {"weapon", "dash_score", "marac"},
}

as_sets(sources) := {source: {field | some field in fields} | some source, fields in sources}

withheld_of(d) := {w.source: {"fields": {f | some f in w.fields}, "reason": w.reason} | some w in d.withheld}

health_reason := data.agreements.withheld_reasons.health_or_care

fields_reason := data.agreements.withheld_reasons.fields

# --- who may use which purpose -------------------------------------------

test_safeguarding_children_roles if {
	allowed_roles("safeguarding_children") == lookup_roles.safeguarding_children
}

test_safeguarding_adults_roles if {
	allowed_roles("safeguarding_adults") == lookup_roles.safeguarding_adults
}

test_marac_roles if {
	allowed_roles("marac") == lookup_roles.marac
}

test_emergency_roles if {
	allowed_roles("emergency") == lookup_roles.emergency
}

test_serious_violence_analysis_allows_no_lookup if {
	allowed_roles("serious_violence_analysis") == set()
}

test_refused_roles_are_named if {
	refusal("analyst", "safeguarding_children") == "role analyst may not look up for purpose safeguarding_children"
	refusal("board_member", "safeguarding_adults") == "role board_member may not look up for purpose safeguarding_adults"
	refusal("dpo", "marac") == "role dpo may not look up for purpose marac"
	refusal("push_agent", "emergency") == "role push_agent may not look up for purpose emergency"
}

test_serious_violence_analysis_is_aggregate_only_for_everyone if {
	every role, _ in holders {
		refusal(role, "serious_violence_analysis") == "purpose serious_violence_analysis is aggregate only: lookups are refused"
	}
}

test_role_must_be_held_at_the_organisation if {
	d := lookup.decision with input as request("mps-cw", "mash_officer", "safeguarding_children", "MASH-2026-0042")
	d.allow == false
	d.reason == "role mash_officer is not held at organisation mps-cw under the agreement"
}

test_unknown_role_is_refused if {
	d := lookup.decision with input as request("rbkc-childrens", "intern", "safeguarding_children", "MASH-2026-0042")
	d.allow == false
	d.reason == "role intern is not held at organisation rbkc-childrens under the agreement"
}

# --- purposes -------------------------------------------------------------

test_unknown_purpose_is_refused_without_echoing_it if {
	d := lookup.decision with input as request("rbkc-childrens", "mash_officer", "Jane Doe 01/02/2010", "MASH-2026-0042")
	d.allow == false
	d.reason == "unknown purpose: a lookup's purpose must be one of emergency, marac, safeguarding_adults, safeguarding_children"
	not contains(d.reason, "Jane")
}

test_missing_purpose_is_refused if {
	d := lookup.decision with input as object.remove(officer("safeguarding_children"), ["purpose"])
	d.allow == false
	d.reason == "a lookup needs a purpose"
}

test_safeguarding_children_answer if {
	d := lookup.decision with input as officer("safeguarding_children")
	d.allow == true
	d.purpose == "safeguarding_children"
	d.agreement == "skc-isa-2026-mash"
	contains(d.lawful_basis, "Children Act 2004 s.11")
	contains(d.lawful_basis, "DPA 2018 Sch.1 para 18")
	d.obligations == ["notify_data_owner", "record_on_case_file"]
	d.flag_for_review == false
	as_sets(d.sources) == safeguarding_fields
	withheld_of(d) == {
		"police": {"fields": {"event_hour", "lsoa_code"}, "reason": fields_reason},
		"health": {"fields": {"event_hour", "ward_code", "lsoa_code", "location_type", "site_code"}, "reason": fields_reason},
		"probation": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"youth_justice": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"childrens_services": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"adult_social_care": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"housing": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"community_safety": {"fields": {"lsoa_code", "location_type"}, "reason": fields_reason},
	}
}

test_safeguarding_adults_answer if {
	d := lookup.decision with input as as_role("mash_manager", "safeguarding_adults")
	d.allow == true
	d.agreement == "skc-isa-2026-adults"
	contains(d.lawful_basis, "Care Act 2014 s.42")
	contains(d.lawful_basis, "s.45")
	d.flag_for_review == false
	as_sets(d.sources) == object.remove(safeguarding_fields, ["youth_justice"])
	w := withheld_of(d)
	w.youth_justice == {"fields": set(), "reason": "youth justice records are not shared for adult safeguarding under the agreement"}
	w.health.fields == {"event_hour", "ward_code", "lsoa_code", "location_type", "site_code"}
	w.police.fields == {"event_hour", "lsoa_code"}
	count(w) == 8
}

test_marac_answer_withholds_health_and_social_care if {
	d := lookup.decision with input as officer("marac")
	d.allow == true
	d.agreement == "skc-isa-2026-marac"
	contains(d.lawful_basis, "Crime and Disorder Act 1998 s.115")
	contains(d.lawful_basis, "Sch.1 para 10")
	d.obligations == ["notify_data_owner", "record_on_case_file", "share_only_at_marac"]
	as_sets(d.sources) == object.remove(safeguarding_fields, ["health", "childrens_services", "adult_social_care"])
	w := withheld_of(d)
	every source in ["health", "childrens_services", "adult_social_care"] {
		w[source] == {"fields": set(), "reason": health_reason}
	}
	w.community_safety.fields == {"lsoa_code", "location_type"}
	count(w) == 8
}

test_emergency_answer_is_flagged_for_review if {
	d := lookup.decision with input as officer("emergency")
	d.allow == true
	d.agreement == "skc-isa-2026-emergency"
	contains(d.lawful_basis, "vital interests")
	d.flag_for_review == true
	"dpo_review" in d.obligations
	as_sets(d.sources) == object.union(safeguarding_fields, {
		"police": safeguarding_fields.police | {"event_hour"},
		"health": health_safeguarding | {"event_hour", "site_code"},
	})
	withheld_of(d) == {
		"police": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"health": {"fields": {"ward_code", "lsoa_code", "location_type"}, "reason": fields_reason},
		"probation": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"youth_justice": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"childrens_services": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"adult_social_care": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"housing": {"fields": {"lsoa_code"}, "reason": fields_reason},
		"community_safety": {"fields": {"lsoa_code", "location_type"}, "reason": fields_reason},
	}
}

test_small_area_location_is_never_disclosed if {
	every purpose in ["safeguarding_children", "safeguarding_adults", "marac", "emergency"] {
		d := lookup.decision with input as officer(purpose)
		d.allow == true
		every source, fields in d.sources {
			not "lsoa_code" in fields
		}
	}
}

# --- health and social care: PCSC Act 2022 s.16(4) ------------------------

test_health_reason_cites_section_16_4 if {
	contains(health_reason, "s.16(4)")
	contains(health_reason, "patient information")
}

test_health_is_disclosed_only_for_safeguarding_and_break_glass if {
	disclosing := {purpose |
		some purpose, _ in lookup_roles
		d := lookup.decision with input as officer(purpose)
		d.sources.health
	}
	disclosing == {"safeguarding_children", "safeguarding_adults", "emergency"}
}

# --- case references ------------------------------------------------------

test_case_refs_in_the_format_are_accepted if {
	every case_ref in ["MASH-2026-0042", "MARAC-2025-123456", "ASC-2026-12345", "EMG-1999-0001"] {
		d := lookup.decision with input as request("rbkc-childrens", "mash_officer", "safeguarding_children", case_ref)
		d.allow == true
	}
}

test_case_refs_out_of_the_format_are_refused_without_echoing_them if {
	every case_ref in [
		"mash-2026-0042", "MASH-26-0042", "MASH-2026-042", "MASH-2026-1234567",
		" MASH-2026-0042", "MASH-2026-0042 ", "MASH-2026-0042\nMASH-2026-0043",
		"CIN-2026-0042", "MASH_2026_0042", "MASH-2026-00A2", "Jane Doe", "",
	] {
		d := lookup.decision with input as request("rbkc-childrens", "mash_officer", "safeguarding_children", case_ref)
		d.allow == false
		d.reason == "the case reference is not in the partnership's format (MASH, MARAC, ASC or EMG, a year and a number, e.g. MASH-2026-0042)"
	}
}

# The partnership's case reference format (team contract), as a regular
# expression: the policy's check must accept exactly what it matches.
case_ref_regex := `^(MASH|MARAC|ASC|EMG)-[0-9]{4}-[0-9]{4,6}$`

case_ref_corpus := [
	"MASH-2026-0042", "MARAC-2025-123456", "ASC-2026-12345", "EMG-1999-0001", "EMG-0000-000000",
	"MASH-2026-00420", "MARAC-2026-0000", "mash-2026-0042", "Mash-2026-0042", "MASH-26-0042",
	"MASH-20260-0042", "MASH-2026-042", "MASH-2026-1234567", " MASH-2026-0042", "MASH-2026-0042 ",
	"MASH-2026-0042\n", "MASH -2026-0042", "MASH-2026-0042-1", "MASH--0042", "MASH-2026-",
	"-2026-0042", "MASH-2026", "MASH", "", "CIN-2026-0042", "MASHX-2026-0042", "XMASH-2026-0042",
	"MASH_2026_0042", "MASH-2026-00A2", "MASH-2O26-0042", "MASH-+026-0042", "MASH-2026--042",
	"MASH-2026-4.2e1", "MASH-٢٠٢٦-0042", "MASH-2026-００４２", "EMG-2026-0x42",
]

test_case_ref_check_is_the_partnership_format if {
	expected := {ref | some ref in case_ref_corpus; regex.match(case_ref_regex, ref)}
	count(expected) == 7
	well_formed := {ref | some ref in case_ref_corpus; lookup.case_ref_well_formed with input as {"case_ref": ref}}
	well_formed == expected

	# The hot path's inline copy, and the general path's, agree.
	allowed := {ref |
		some ref in case_ref_corpus
		d := lookup.decision with input as request("rbkc-childrens", "mash_officer", "marac", ref)
		d.allow == true
	}
	allowed == expected
	allowed_subset := {ref |
		some ref in case_ref_corpus
		req := object.union(request("rbkc-childrens", "mash_officer", "marac", ref), {"resource": {"sources": ["police"], "record_kinds": [], "fields": []}})
		d := lookup.decision with input as req
		d.allow == true
	}
	allowed_subset == expected
}

test_missing_case_ref_is_refused if {
	d := lookup.decision with input as object.remove(officer("safeguarding_children"), ["case_ref"])
	d.allow == false
	d.reason == "a lookup needs a case reference"
}

# --- break-glass ----------------------------------------------------------

test_break_glass_needs_a_written_reason if {
	every given in ["", "   ", "urgent", "\t\turgent!\n"] {
		d := lookup.decision with input as object.union(officer("emergency"), {"reason": given})
		d.allow == false
		d.reason == "purpose emergency (break-glass) needs a written reason of at least 10 characters"
	}
	d := lookup.decision with input as object.remove(officer("emergency"), ["reason"])
	d.allow == false
	d.reason == "purpose emergency (break-glass) needs a written reason of at least 10 characters"
}

test_break_glass_refusal_never_echoes_the_reason if {
	d := lookup.decision with input as object.union(officer("emergency"), {"reason": "Jane D"})
	d.allow == false
	not contains(d.reason, "Jane")
}

test_other_purposes_need_no_reason if {
	every purpose in ["safeguarding_children", "safeguarding_adults", "marac"] {
		d := lookup.decision with input as object.remove(officer(purpose), ["reason"])
		d.allow == true
		d.flag_for_review == false
	}
}

# --- sources asked for -----------------------------------------------------

test_only_the_sources_asked_for_are_answered if {
	req := object.union(officer("safeguarding_children"), {"resource": {"sources": ["police"], "record_kinds": [], "fields": []}})
	d := lookup.decision with input as req
	d.allow == true
	object.keys(d.sources) == {"police"}
	d.withheld == [{"source": "police", "fields": ["event_hour", "lsoa_code"], "reason": fields_reason}]
}

test_unknown_sources_are_withheld if {
	req := object.union(officer("safeguarding_children"), {"resource": {"sources": ["police", "navy"], "record_kinds": [], "fields": []}})
	d := lookup.decision with input as req
	d.allow == true
	object.keys(d.sources) == {"police"}
	withheld_of(d) == {
		"police": {"fields": {"event_hour", "lsoa_code"}, "reason": fields_reason},
		"navy": {"fields": set(), "reason": "not a source of the agreement"},
	}
}

test_all_eight_sources_with_an_unknown_one_are_answered_in_full if {
	req := object.union(officer("marac"), {"resource": {"sources": array.concat(all_sources, ["navy"]), "record_kinds": [], "fields": []}})
	d := lookup.decision with input as req
	full := lookup.decision with input as officer("marac")
	d.sources == full.sources
	d.withheld == array.concat(full.withheld, [{"source": "navy", "fields": [], "reason": "not a source of the agreement"}])
}

test_sources_asked_for_twice_are_answered_once if {
	twice := array.concat(all_sources, ["police"])
	req := object.union(officer("safeguarding_children"), {"resource": {"sources": twice, "record_kinds": [], "fields": []}})
	d := lookup.decision with input as req
	full := lookup.decision with input as officer("safeguarding_children")
	d.sources == full.sources
	withheld_of(d) == withheld_of(full)
	count(d.withheld) == count(full.withheld)
}

test_the_eight_sources_in_any_order_get_the_whole_answer if {
	reordered := array.concat(array.slice(all_sources, 4, 8), array.slice(all_sources, 0, 4))
	d := lookup.decision with input as object.union(officer("emergency"), {"resource": {"sources": reordered, "record_kinds": [], "fields": []}})
	full := lookup.decision with input as officer("emergency")
	d == full
}

test_subsets_are_decided_like_the_whole if {
	# Every check applies alike whichever sources are named: the two
	# allowing bodies agree on every role, purpose and case reference.
	pairs := [[whole, part] |
		some role, org in holders
		some purpose, _ in lookup_roles
		some case_ref in [case_refs[purpose], "MASH-26-1"]
		whole := lookup.decision with input as request(org, role, purpose, case_ref)
		part := lookup.decision with input as object.union(request(org, role, purpose, case_ref), {"resource": {"sources": ["police"], "record_kinds": [], "fields": []}})
	]
	count(pairs) == 60
	count([p | some p in pairs; p[0].allow == true]) == 8
	every p in pairs {
		p[0].allow == p[1].allow
		object.get(p[0], "reason", "") == object.get(p[1], "reason", "")
	}
}

# --- the request itself ---------------------------------------------------

test_wrong_action_is_refused if {
	d := lookup.decision with input as object.union(officer("safeguarding_children"), {"action": "aggregate"})
	d.allow == false
	d.reason == "not a lookup request"
}

test_missing_input_is_refused if {
	d := lookup.decision with input as {}
	d.allow == false
	d.reason == "not a lookup request"
}

test_decision_does_not_depend_on_the_user_or_time if {
	a := lookup.decision with input as officer("safeguarding_children")
	b := lookup.decision with input as object.union(officer("safeguarding_children"), {"subject": {"org": "rbkc-childrens", "role": "mash_officer", "user": "someone-else"}, "time": "2030-01-01T00:00:00Z"})
	a == b
}

test_reasons_never_name_the_user_or_case if {
	every role, _ in holders {
		every purpose, _ in lookup_roles {
			d := lookup.decision with input as as_role(role, purpose)
			not contains(object.get(d, "reason", ""), "user-7f3a")
			not contains(object.get(d, "reason", ""), case_refs[purpose])
			not contains(object.get(d, "reason", ""), break_glass_reason)
		}
	}
}
