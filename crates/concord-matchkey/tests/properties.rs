//! Properties of mk1 normalisation.

use chrono::{Datelike, NaiveDate};
use concord_matchkey::{
    Identifiers, Normalised, PLACEHOLDER_DATES, PLACEHOLDER_LEADS, PLACEHOLDERS,
    POSTCODE_PLACEHOLDERS, Rejection, SUFFIXES, TITLES, nhs_check_digit, normalise_on,
};
use proptest::prelude::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
}

fn norm(ids: &Identifiers<'_>) -> (Normalised, Vec<Rejection>) {
    normalise_on(ids, today())
}

/// Normalising the normalised fields again.
fn again(n: &Normalised) -> (Normalised, Vec<Rejection>) {
    let dob = n.date_of_birth().map(|d| d.to_string());
    norm(&Identifiers {
        forename: n.forename(),
        surname: n.surname(),
        date_of_birth: dob.as_deref(),
        nhs_number: n.nhs_number(),
        pnc_id: n.pnc_id(),
        postcode: n.postcode(),
    })
}

fn one_name(forename: &str, surname: &str) -> Normalised {
    norm(&Identifiers {
        forename: Some(forename),
        surname: Some(surname),
        ..Identifiers::default()
    })
    .0
}

/// Names as agencies type them: words of letters, apostrophes and hyphens.
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z'-]{0,9}( [A-Za-z][A-Za-z'-]{0,9}){0,2}"
}

/// Accented forms of plain letters, which normalise to the plain letter.
fn accent(c: char, pick: u8) -> char {
    let options: &[char] = match c {
        'a' => &['á', 'à', 'â', 'ä', 'ã', 'å'],
        'e' => &['é', 'è', 'ê', 'ë'],
        'i' => &['í', 'ì', 'î', 'ï'],
        'o' => &['ó', 'ò', 'ô', 'ö', 'õ'],
        'u' => &['ú', 'ù', 'û', 'ü'],
        'c' => &['ç', 'ć', 'č'],
        'n' => &['ñ', 'ń'],
        's' => &['ś', 'š'],
        'z' => &['ź', 'ż', 'ž'],
        'A' => &['Á', 'À', 'Ä', 'Å'],
        'E' => &['É', 'È', 'Ë'],
        'O' => &['Ó', 'Ö'],
        'U' => &['Ú', 'Ü'],
        _ => return c,
    };
    options[pick as usize % options.len()]
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1902i32..=2025, 1u32..=12, 1u32..=28)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn formats(d: NaiveDate) -> Vec<String> {
    let (y, m, day) = (d.year(), d.month(), d.day());
    vec![
        format!("{y:04}-{m:02}-{day:02}"),
        format!("{y:04}{m:02}{day:02}"),
        format!("{day:02}/{m:02}/{y:04}"),
        format!("{day}/{m}/{y:04}"),
        format!("{day:02}-{m:02}-{y:04}"),
        format!("{day:02}.{m:02}.{y:04}"),
        format!("{}", d.format("%d-%b-%Y")),
        format!("{y:04}-{m:02}-{day:02}T00:00:00"),
    ]
}

/// A valid UK postcode: outward, inward.
fn postcode() -> impl Strategy<Value = (String, String)> {
    let first = "[ABCDEFGHIJKLMNOPRSTUWYZ]";
    let second = "[ABCDEFGHKLMNOPQRSTUVWXY]";
    let outward = prop_oneof![
        proptest::string::string_regex(&format!("{first}[0-9]")).unwrap(),
        proptest::string::string_regex(&format!("{first}[0-9][0-9]")).unwrap(),
        proptest::string::string_regex(&format!("{first}[0-9][ABCDEFGHJKPSTUW]")).unwrap(),
        proptest::string::string_regex(&format!("{first}{second}[0-9]")).unwrap(),
        proptest::string::string_regex(&format!("{first}{second}[0-9][0-9]")).unwrap(),
        proptest::string::string_regex(&format!("{first}{second}[0-9][ABEHMNPRVWXY]")).unwrap(),
    ]
    .prop_filter("not a ZZ99 pseudo-postcode", |o| !o.starts_with("ZZ99"));
    (outward, "[0-9][ABDEFGHJLNPQRSTUWXYZ]{2}")
}

fn nhs_with_check() -> impl Strategy<Value = ([u8; 9], Option<u8>)> {
    proptest::array::uniform9(0u8..10).prop_map(|d| (d, nhs_check_digit(&d)))
}

fn digits(d: &[u8]) -> String {
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn normalising_is_idempotent(
        f in name(), s in name(), d in date(), pc in postcode(), nhs in nhs_with_check(),
        pnc in (0u32..100, 1u32..10_000_000),
    ) {
        let nhs_s = nhs.1.map(|c| format!("{}{c}", digits(&nhs.0)));
        let dob = d.format("%d/%m/%Y").to_string();
        let pc = format!("{}{}", pc.0.to_lowercase(), pc.1);
        let pnc = format!("{:02}/{}{}", pnc.0, pnc.1, concord_matchkey::pnc_check_letter(pnc.0, pnc.1));
        let (n, _) = norm(&Identifiers {
            forename: Some(&f), surname: Some(&s), date_of_birth: Some(&dob),
            nhs_number: nhs_s.as_deref(), pnc_id: Some(&pnc), postcode: Some(&pc),
        });
        let (m, rejections) = again(&n);
        prop_assert!(rejections.is_empty(), "{rejections:?}");
        prop_assert_eq!(m, n);
    }

    #[test]
    fn normalising_any_text_is_idempotent(f in "\\PC{0,16}", s in "\\PC{0,16}") {
        let n = one_name(&f, &s);
        let (m, rejections) = again(&n);
        prop_assert!(rejections.is_empty(), "{rejections:?}");
        prop_assert_eq!(m, n);
    }

    #[test]
    fn names_ignore_case_accents_and_whitespace(
        f in name(), s in name(), picks in proptest::collection::vec(any::<u8>(), 32),
        pad in "[ \t]{0,3}", inner in "[ ]{1,3}",
    ) {
        let base = one_name(&f, &s);
        for variant in [
            |x: &str, _: &[u8], _: &str, _: &str| x.to_uppercase(),
            |x: &str, _: &[u8], _: &str, _: &str| x.to_lowercase(),
            |x: &str, p: &[u8], _: &str, _: &str| x.chars().zip(p.iter().cycle()).map(|(c, k)| accent(c, *k)).collect(),
            |x: &str, _: &[u8], pad: &str, inner: &str| format!("{pad}{}{pad}", x.replace(' ', inner)),
        ] {
            let v = one_name(&variant(&f, &picks, &pad, &inner), &variant(&s, &picks, &pad, &inner));
            prop_assert_eq!(v.forename(), base.forename());
            prop_assert_eq!(v.surname(), base.surname());
        }
    }

    #[test]
    fn hyphens_and_spaces_agree_in_surnames(a in "[A-Za-z]{2,8}", b in "[A-Za-z]{2,8}") {
        // As separate words, titles and suffixes are dropped (SMITH JNR);
        // joined by a hyphen they are part of the name.
        let word = |w: &str| w.to_uppercase();
        prop_assume!(!TITLES.contains(&word(&a).as_str()));
        prop_assume!(!TITLES.contains(&word(&b).as_str()) && !SUFFIXES.contains(&word(&b).as_str()));
        // As separate words, a placeholder (UNK AA, NO NAME) is refused;
        // joined by a hyphen it is one word, a name.
        prop_assume!(!PLACEHOLDER_LEADS.contains(&word(&a).as_str()));
        prop_assume!(!PLACEHOLDERS.contains(&[word(&a).as_str(), word(&b).as_str()].as_slice()));
        let n = one_name("", &format!("{a}-{b}"));
        let spaced = one_name("", &format!("{a} {b}"));
        let joined = one_name("", &format!("{a}{b}"));
        prop_assert_eq!(spaced.surname(), n.surname());
        prop_assert_eq!(joined.surname(), n.surname());
    }

    #[test]
    fn every_accepted_date_form_gives_iso(d in date()) {
        for s in formats(d) {
            let (n, r) = norm(&Identifiers { date_of_birth: Some(&s), ..Identifiers::default() });
            prop_assert!(r.is_empty(), "{s}: {r:?}");
            prop_assert_eq!(n.date_of_birth(), Some(d), "{}", s);
        }
    }

    #[test]
    fn nhs_check_digits_accept_valid_and_reject_invalid((first, check) in nhs_with_check(), last in 0u8..10) {
        let s = format!("{}{last}", digits(&first));
        let (n, r) = norm(&Identifiers { nhs_number: Some(&s), ..Identifiers::default() });
        let same = first.iter().all(|d| *d == last);
        if same {
            prop_assert_eq!(r, vec![Rejection::NhsPlaceholder]);
        } else if check == Some(last) {
            prop_assert!(r.is_empty());
            prop_assert_eq!(n.nhs_number(), Some(s.as_str()));
            let spaced = format!("{} {} {}", &s[..3], &s[3..6], &s[6..]);
            let (m, _) = norm(&Identifiers { nhs_number: Some(&spaced), ..Identifiers::default() });
            prop_assert_eq!(m.nhs_number(), Some(s.as_str()));
        } else {
            prop_assert_eq!(r, vec![Rejection::NhsCheckDigit]);
            prop_assert_eq!(n.nhs_number(), None);
        }
    }

    #[test]
    fn postcodes_format_as_outward_space_inward(
        (outward, inward) in postcode(), lower in any::<bool>(), spaces in "[ ]{0,2}", pad in "[ ]{0,2}",
    ) {
        let raw = format!("{pad}{outward}{spaces}{inward}{pad}");
        let raw = if lower { raw.to_lowercase() } else { raw };
        let (n, r) = norm(&Identifiers { postcode: Some(&raw), ..Identifiers::default() });
        prop_assert!(r.is_empty(), "{raw:?}: {r:?}");
        let want = format!("{outward} {inward}");
        prop_assert_eq!(n.postcode(), Some(want.as_str()));
    }

    #[test]
    fn zz99_pseudo_postcodes_are_placeholders(inward in "[0-9][A-Z]{2}", space in any::<bool>()) {
        let raw = format!("ZZ99{}{inward}", if space { " " } else { "" });
        let (n, r) = norm(&Identifiers { postcode: Some(&raw), ..Identifiers::default() });
        prop_assert_eq!(r, vec![Rejection::PostcodePlaceholder]);
        prop_assert_eq!(n.postcode(), None);
    }

    #[test]
    fn one_letter_repeated_is_a_placeholder(c in "[A-Za-z]", n in 1usize..6) {
        let s = c.repeat(n);
        let (_, r) = norm(&Identifiers { forename: Some(&s), surname: Some(&s), ..Identifiers::default() });
        prop_assert_eq!(r, vec![Rejection::ForenamePlaceholder, Rejection::SurnamePlaceholder]);
    }

    #[test]
    fn future_dates_are_rejected(days in 1i64..40_000) {
        let d = today() + chrono::Duration::days(days);
        let s = d.to_string();
        let (_, r) = norm(&Identifiers { date_of_birth: Some(&s), ..Identifiers::default() });
        prop_assert_eq!(r, vec![Rejection::DobFuture]);
    }
}

#[test]
fn every_listed_placeholder_is_rejected_with_its_reason() {
    let mut names: Vec<String> = PLACEHOLDERS.iter().map(|p| p.join(" ")).collect();
    names.extend(PLACEHOLDERS.iter().map(|p| p.join("/").to_lowercase()));
    names.extend(PLACEHOLDER_LEADS.iter().map(|l| format!("{l} Smith")));
    names.extend(["N/K", "n/a", "Not Known", "xxx", "?", "--", "Baby of Jones"].map(String::from));
    for p in &names {
        let (n, r) = norm(&Identifiers {
            forename: Some(p),
            surname: Some(p),
            ..Identifiers::default()
        });
        assert_eq!(
            r,
            [
                Rejection::ForenamePlaceholder,
                Rejection::SurnamePlaceholder
            ],
            "{p:?}"
        );
        assert!(n.is_empty());
    }
    // A title alone: no forename (a surname that is a title word, such as
    // LORD, is a real surname and stays).
    for t in ["Mr", "MRS", "Dr.", "Miss"] {
        let (_, r) = norm(&Identifiers {
            forename: Some(t),
            ..Identifiers::default()
        });
        assert_eq!(r, [Rejection::ForenamePlaceholder], "{t}");
    }
    for (y, m, d) in PLACEHOLDER_DATES {
        for s in formats(NaiveDate::from_ymd_opt(*y, *m, *d).unwrap()) {
            let (_, r) = norm(&Identifiers {
                date_of_birth: Some(&s),
                ..Identifiers::default()
            });
            assert_eq!(r, [Rejection::DobPlaceholder], "{s}");
        }
    }
    for s in ["1800-01-01", "01/01/1899", "1899-12-31"] {
        let (_, r) = norm(&Identifiers {
            date_of_birth: Some(s),
            ..Identifiers::default()
        });
        assert_eq!(r, [Rejection::DobBefore1900], "{s}");
    }
    for p in POSTCODE_PLACEHOLDERS.iter().copied().chain([
        "N/A",
        "n.f.a",
        "No Fixed Abode",
        "ZZ99 3VZ",
        "ZZ99 3WZ",
        "ZZ99 3CZ",
    ]) {
        let (_, r) = norm(&Identifiers {
            postcode: Some(p),
            ..Identifiers::default()
        });
        assert_eq!(r, [Rejection::PostcodePlaceholder], "{p}");
    }
    for d in 0..10u8 {
        let s = char::from(b'0' + d).to_string().repeat(10);
        let (_, r) = norm(&Identifiers {
            nhs_number: Some(&s),
            ..Identifiers::default()
        });
        assert_eq!(r, [Rejection::NhsPlaceholder], "{s}");
    }
}
