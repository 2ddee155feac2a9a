//! The canonical forename of mk1's `fi_dob` and mk2's `cfn_sn_dob` and `fi_sn_dob` keys: a familiar form of a
//! forename is replaced by its formal form (BILL → WILLIAM, LIZ →
//! ELIZABETH), and a few spellings of one name by one spelling (STEVEN →
//! STEPHEN). Only unambiguous forms are listed: a familiar form of two
//! formal names (ALEX, CHRIS, SAM, JO, NICKY) or one that is a common name
//! of its own (JACK, LIAM, ELLIE) stays as it is. Names are normalised
//! (uppercase, no accents or punctuation) before the lookup.

/// (familiar or variant form, canonical form), sorted by the first.
const CANONICAL: &[(&str, &str)] = &[
    ("ABBIE", "ABIGAIL"),
    ("ABBY", "ABIGAIL"),
    ("ANDY", "ANDREW"),
    ("ANN", "ANNE"),
    ("ANNIE", "ANNE"),
    ("BECCA", "REBECCA"),
    ("BECKY", "REBECCA"),
    ("BEN", "BENJAMIN"),
    ("BENNY", "BENJAMIN"),
    ("BETH", "ELIZABETH"),
    ("BETTY", "ELIZABETH"),
    ("BILL", "WILLIAM"),
    ("BILLY", "WILLIAM"),
    ("BOB", "ROBERT"),
    ("BOBBY", "ROBERT"),
    ("CATH", "CATHERINE"),
    ("CATHY", "CATHERINE"),
    ("CHARLIE", "CHARLES"),
    ("CHRISSIE", "CHRISTINE"),
    ("DAN", "DANIEL"),
    ("DANNY", "DANIEL"),
    ("DAVE", "DAVID"),
    ("DAVY", "DAVID"),
    ("DEB", "DEBORAH"),
    ("DEBBIE", "DEBORAH"),
    ("DEBRA", "DEBORAH"),
    ("DICK", "RICHARD"),
    ("DREW", "ANDREW"),
    ("ED", "EDWARD"),
    ("EDDIE", "EDWARD"),
    ("ELIZA", "ELIZABETH"),
    ("FRED", "FREDERICK"),
    ("FREDDIE", "FREDERICK"),
    ("FREDDY", "FREDERICK"),
    ("GREG", "GREGORY"),
    ("HARRY", "HENRY"),
    ("JAMIE", "JAMES"),
    ("JEN", "JENNIFER"),
    ("JENNY", "JENNIFER"),
    ("JESS", "JESSICA"),
    ("JESSIE", "JESSICA"),
    ("JIM", "JAMES"),
    ("JIMMY", "JAMES"),
    ("JOE", "JOSEPH"),
    ("JOEY", "JOSEPH"),
    ("JOHNNY", "JOHN"),
    ("KATE", "CATHERINE"),
    ("KATHERINE", "CATHERINE"),
    ("KATHRYN", "CATHERINE"),
    ("KATHY", "CATHERINE"),
    ("KATIE", "CATHERINE"),
    ("KATY", "CATHERINE"),
    ("KEN", "KENNETH"),
    ("KENNY", "KENNETH"),
    ("LARRY", "LAWRENCE"),
    ("LIZ", "ELIZABETH"),
    ("LIZZIE", "ELIZABETH"),
    ("LIZZY", "ELIZABETH"),
    ("MAGGIE", "MARGARET"),
    ("MANDY", "AMANDA"),
    ("MATT", "MATTHEW"),
    ("MEG", "MARGARET"),
    ("MICK", "MICHAEL"),
    ("MICKY", "MICHAEL"),
    ("MIKE", "MICHAEL"),
    ("MOLLY", "MARY"),
    ("NICK", "NICHOLAS"),
    ("NIKKI", "NICOLA"),
    ("PATTY", "PATRICIA"),
    ("PEGGY", "MARGARET"),
    ("PETE", "PETER"),
    ("PHIL", "PHILIP"),
    ("PHILLIP", "PHILIP"),
    ("POLLY", "MARY"),
    ("RICH", "RICHARD"),
    ("RICHIE", "RICHARD"),
    ("RICK", "RICHARD"),
    ("RICKY", "RICHARD"),
    ("ROB", "ROBERT"),
    ("ROBBIE", "ROBERT"),
    ("STEVE", "STEPHEN"),
    ("STEVEN", "STEPHEN"),
    ("SUE", "SUSAN"),
    ("SUSIE", "SUSAN"),
    ("SUZY", "SUSAN"),
    ("TED", "EDWARD"),
    ("TERRI", "TERESA"),
    ("THERESA", "TERESA"),
    ("TIM", "TIMOTHY"),
    ("TINA", "CHRISTINA"),
    ("TOM", "THOMAS"),
    ("TOMMY", "THOMAS"),
    ("TONY", "ANTHONY"),
    ("TRISH", "PATRICIA"),
    ("VICKI", "VICTORIA"),
    ("VICKY", "VICTORIA"),
    ("WILL", "WILLIAM"),
    ("WILLIE", "WILLIAM"),
];

/// The canonical form of a normalised forename (itself when not listed).
pub fn canonical_forename(forename: &str) -> &str {
    match CANONICAL.binary_search_by(|(k, _)| (*k).cmp(forename)) {
        Ok(i) => CANONICAL[i].1,
        Err(_) => forename,
    }
}

/// The first character of a (normalised, non-empty) forename.
pub(crate) fn initial(forename: &str) -> &str {
    let end = forename.chars().next().map_or(0, char::len_utf8);
    &forename[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_canonical_forms_are_fixed_points() {
        assert!(
            CANONICAL.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no repeats"
        );
        for (_, c) in CANONICAL {
            assert_eq!(canonical_forename(c), *c, "{c} maps to itself");
        }
        assert_eq!(canonical_forename("BILL"), "WILLIAM");
        assert_eq!(canonical_forename("WILLIAM"), "WILLIAM");
        assert_eq!(canonical_forename("ALEX"), "ALEX", "ambiguous forms stay");
        assert_eq!(initial("ΕΛΕΝΗ"), "Ε", "a character, not a byte");
    }
}
