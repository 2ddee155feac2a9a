package concord.invariants_test

import data.concord.invariants

purposes := data.agreements.purposes

test_the_agreement_keeps_its_invariants if {
	invariants.violations == set()
}

test_health_listed_under_marac_is_a_violation if {
	v := invariants.violations with data.agreements.purposes.marac.sources as object.union(purposes.marac.sources, {"health": ["kind", "event_date"]})
	"purpose marac discloses health, of class health_or_care, which the purpose may not see" in v
	"purpose marac discloses health but lists it as withheld whole" in v
}

test_health_class_for_a_purpose_that_is_not_safeguarding if {
	v := invariants.violations with data.agreements.purposes.marac.source_classes as ["other", "health_or_care"]
	v == {"purpose marac may see health and social care data but is not a safeguarding purpose (PCSC Act 2022 s.16(4))"}
}

test_serious_violence_analysis_may_not_disclose_person_level_data if {
	v := invariants.violations with data.agreements.purposes.serious_violence_analysis.sources as {"police": ["kind"]}
	"purpose serious_violence_analysis is for aggregates but discloses person-level data" in v
	w := invariants.violations with data.agreements.purposes.serious_violence_analysis.lookup as true
	w == {"purpose serious_violence_analysis is for aggregates but allows lookups"}
}

test_disclosed_sources_and_fields_must_exist if {
	v := invariants.violations with data.agreements.purposes.marac.sources as object.union(purposes.marac.sources, {"navy": ["kind"]})
	"purpose marac discloses source navy, which is not a source of the agreement" in v
	w := invariants.violations with data.agreements.purposes.marac.sources.police as array.concat(purposes.marac.sources.police, ["site_code"])
	w == {"purpose marac discloses field site_code of police, which that source does not carry"}
}

test_withheld_must_account_for_every_source_once if {
	adults := purposes.safeguarding_adults
	missing := [e | some e in adults.withheld; e.source != "youth_justice"]
	v := invariants.violations with data.agreements.purposes.safeguarding_adults.withheld as missing
	v == {"purpose safeguarding_adults neither discloses nor withholds source youth_justice"}

	twice := array.concat(adults.withheld, [{"source": "youth_justice", "fields": [], "reason": "again"}])
	w := invariants.violations with data.agreements.purposes.safeguarding_adults.withheld as twice
	w == {"purpose safeguarding_adults lists source youth_justice under withheld 2 times; list it once"}

	unknown := array.concat(adults.withheld, [{"source": "navy", "fields": [], "reason": "r"}])
	x := invariants.violations with data.agreements.purposes.safeguarding_adults.withheld as unknown
	x == {"purpose safeguarding_adults withholds navy, which is not a source of the agreement"}
}

test_withheld_fields_must_be_what_is_not_disclosed if {
	marac := purposes.marac
	fewer := [object.union(e, {"fields": ["lsoa_code"]}) | some e in marac.withheld; e.source == "community_safety"]
	others := [e | some e in marac.withheld; e.source != "community_safety"]
	v := invariants.violations with data.agreements.purposes.marac.withheld as array.concat(others, fewer)
	v == {`purpose marac withholds fields ["lsoa_code"] of community_safety, but ["location_type", "lsoa_code"] is what it does not disclose`}

	# A source withheld whole lists no fields.
	whole := [object.union(e, {"fields": ["kind"]}) | some e in marac.withheld; e.source == "health"]
	rest := [e | some e in marac.withheld; e.source != "health"]
	w := invariants.violations with data.agreements.purposes.marac.withheld as array.concat(rest, whole)
	w == {"purpose marac withholds source health whole, so its withheld fields must be []"}
}

test_withheld_needs_a_reason_and_health_cites_the_rule if {
	marac := purposes.marac
	rest := [e | some e in marac.withheld; e.source != "health"]
	blank := array.concat(rest, [{"source": "health", "fields": [], "reason": ""}])
	v := invariants.violations with data.agreements.purposes.marac.withheld as blank
	v == {
		"purpose marac withholds source health without a reason",
		"purpose marac withholds health without citing the health and social care rule",
	}
}

test_readers_and_reviewers_are_whole_org_role_entries if {
	v := invariants.violations with data.agreements.audit_readers as [{"org": "rbkc-information-governance", "role": "dpo", "name": "DPO"}]
	v == {"agreements.audit_readers[0] must hold exactly the keys org and role"}
	w := invariants.violations with data.partnership.link_reviewers as [{"org": "rbkc-childrens", "role": "mash_manager"}, {"org": "rbkc-childrens"}]
	w == {"partnership.link_reviewers[1] must hold exactly the keys org and role"}
}
