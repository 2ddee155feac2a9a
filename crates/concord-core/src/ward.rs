//! The Royal Borough of Kensington and Chelsea's 18 wards (2014 boundaries,
//! ONS GSS codes E05009388–E05009405, still in force): the one canonical
//! list of codes and names for labels and complete ward breakdowns.
//! `concord-synth` keeps its own list with postcode sectors; a test in
//! `concord-disclosure` checks the two agree.

/// (GSS code, name) of each ward, in code order.
pub const RBKC_WARDS: [(&str, &str); 18] = [
    ("E05009388", "Abingdon"),
    ("E05009389", "Brompton & Hans Town"),
    ("E05009390", "Campden"),
    ("E05009391", "Chelsea Riverside"),
    ("E05009392", "Colville"),
    ("E05009393", "Courtfield"),
    ("E05009394", "Dalgarno"),
    ("E05009395", "Earl's Court"),
    ("E05009396", "Golborne"),
    ("E05009397", "Holland"),
    ("E05009398", "Norland"),
    ("E05009399", "Notting Dale"),
    ("E05009400", "Pembridge"),
    ("E05009401", "Queen's Gate"),
    ("E05009402", "Redcliffe"),
    ("E05009403", "Royal Hospital"),
    ("E05009404", "St Helen's"),
    ("E05009405", "Stanley"),
];

/// The name of an RBKC ward by its GSS code; `None` for any other code.
pub fn ward_name(code: &str) -> Option<&'static str> {
    RBKC_WARDS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighteen_distinct_codes_in_order() {
        assert_eq!(RBKC_WARDS.len(), 18);
        assert!(RBKC_WARDS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(ward_name("E05009396"), Some("Golborne"));
        assert_eq!(ward_name("E05000001"), None);
    }
}
