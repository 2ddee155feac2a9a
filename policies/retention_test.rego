package concord.retention_test

import data.concord.retention

test_every_source_has_its_period if {
	retention.periods == {
		"police": {"years": 6},
		"health": {"years": 8},
		"probation": {"years": 7},
		"youth_justice": {"years": 6},
		"childrens_services": {"years": 10},
		"adult_social_care": {"years": 6},
		"housing": {"years": 6},
		"community_safety": {"days": 2190},
	}
}

test_keys_that_are_not_sources_are_dropped if {
	periods := retention.periods with data.agreements.retention as {"police": {"years": 6}, "navy": {"days": 1}}
	periods == {"police": {"years": 6}}
}
