//! Forenames and surnames (crate doc, "Names").

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Which name field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameField {
    Forename,
    Surname,
}

/// Why a non-empty name was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameProblem {
    Placeholder,
    Invalid,
}

/// Titles: dropped from a forename wherever they stand, and from a surname
/// at its start or end when other words remain.
pub const TITLES: &[&str] = &[
    "MR", "MRS", "MS", "MISS", "MX", "MSTR", "MASTER", "DR", "PROF", "REV", "REVD", "SIR", "DAME",
    "LORD", "LADY", "FR",
];

/// Generational suffixes: dropped from the end of a surname when other
/// words remain.
pub const SUFFIXES: &[&str] = &[
    "JR", "JNR", "JUNIOR", "SR", "SNR", "SENIOR", "II", "III", "IV",
];

/// Whole names (as words, after titles are dropped) that stand for "no
/// name". A kept name may not equal any of these either.
pub const PLACEHOLDERS: &[&[&str]] = &[
    &["UNKNOWN"],
    &["NOT", "KNOWN"],
    &["NOTKNOWN"],
    &["NK"],
    &["N", "K"],
    &["UNK"],
    &["UNKN"],
    &["ANON"],
    &["ANONYMOUS"],
    &["BABY"],
    &["TEST"],
    &["NONE"],
    &["NULL"],
    &["NIL"],
    &["N", "A"],
    &["NOT", "APPLICABLE"],
    &["NOT", "STATED"],
    &["NOT", "GIVEN"],
    &["NOT", "RECORDED"],
    &["NOT", "PROVIDED"],
    &["NOT", "SPECIFIED"],
    &["NO", "NAME"],
    &["NONAME"],
    &["REFUSED"],
    &["WITHHELD"],
    &["UNIDENTIFIED"],
    &["UNNAMED"],
    &["MALE"],
    &["FEMALE"],
    &["PATIENT"],
    &["CLIENT"],
    &["PERSON"],
    &["DUMMY"],
    &["TBC"],
    &["TBA"],
    &["NFA"],
];

/// Words that make the whole name a placeholder when it starts with them
/// (BABY OF SMITH, UNKNOWN MALE, TEST PATIENT).
pub const PLACEHOLDER_LEADS: &[&str] = &[
    "BABY",
    "UNKNOWN",
    "UNK",
    "ANON",
    "ANONYMOUS",
    "TEST",
    "UNIDENTIFIED",
    "UNNAMED",
];

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '`' | '\u{00B4}' | '\u{02BC}' | '\u{2018}' | '\u{2019}' | '\u{2032}' | '\u{FF07}'
    )
}

fn is_hyphen(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{00AD}' | '\u{2010}'
            ..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}'
    )
}

/// Letters that compatibility decomposition leaves alone but that English
/// keyboards and older systems write as plain Latin letters.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'Æ' | 'æ' => "AE",
        'Œ' | 'œ' => "OE",
        'Ø' | 'ø' => "O",
        'Ł' | 'ł' => "L",
        'Đ' | 'đ' | 'Ð' | 'ð' => "D",
        'Þ' | 'þ' => "TH",
        'Ħ' | 'ħ' => "H",
        'Ŧ' | 'ŧ' => "T",
        'ı' => "I",
        'ß' | 'ẞ' => "SS",
        _ => return None,
    })
}

/// The name as upper-case words separated by single spaces, and whether a
/// digit was seen.
struct Words {
    text: String,
    digit: bool,
}

impl Words {
    fn letter(&mut self, c: char) {
        self.text.push(c);
    }

    fn separator(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(' ') {
            self.text.push(' ');
        }
    }

    /// One character after compatibility decomposition.
    fn decomposed(&mut self, d: char) {
        if is_apostrophe(d) || is_hyphen(d) || is_combining_mark(d) {
            return;
        }
        if let Some(s) = fold(d) {
            self.text.push_str(s);
        } else if d.is_alphabetic() {
            for u in d.to_uppercase() {
                if !is_combining_mark(u) {
                    self.letter(u);
                }
            }
        } else if d.is_numeric() {
            self.digit = true;
        } else {
            self.separator();
        }
    }

    fn of(raw: &str) -> Words {
        let mut w = Words {
            text: String::with_capacity(raw.len()),
            digit: false,
        };
        if raw.is_ascii() {
            for b in raw.bytes() {
                match b {
                    b'A'..=b'Z' => w.letter(b as char),
                    b'a'..=b'z' => w.letter(b.to_ascii_uppercase() as char),
                    b'\'' | b'`' | b'-' => {}
                    b'0'..=b'9' => w.digit = true,
                    _ => w.separator(),
                }
            }
        } else {
            for c in raw.chars() {
                if is_apostrophe(c) {
                    continue;
                }
                decompose_compatible(c, |d| w.decomposed(d));
            }
        }
        if w.text.ends_with(' ') {
            w.text.pop();
        }
        w
    }
}

fn is_title(w: &str) -> bool {
    TITLES.contains(&w)
}

fn is_placeholder(words: &[&str]) -> bool {
    PLACEHOLDERS.contains(&words) || words.first().is_some_and(|w| PLACEHOLDER_LEADS.contains(w))
}

/// One letter, or the same letter repeated (X, XX, XXX).
fn is_repeated_letter(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => chars.all(|c| c == first),
        None => true,
    }
}

/// Drops title words from the start of a surname, and title words and
/// generational suffixes from its end, while more than one word remains.
fn strip_surname_titles(words: &mut Vec<&str>) {
    while words.len() > 1 && is_title(words[0]) {
        words.remove(0);
    }
    while words.len() > 1 && {
        let last = words[words.len() - 1];
        is_title(last) || SUFFIXES.contains(&last)
    } {
        words.pop();
    }
}

/// Normalises one name field: `Ok(None)` when blank, else the key form or
/// why it was not kept.
pub(crate) fn normalise(raw: &str, field: NameField) -> Result<Option<String>, NameProblem> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let w = Words::of(raw);
    if w.digit {
        return Err(NameProblem::Invalid);
    }
    let mut words: Vec<&str> = w.text.split(' ').filter(|s| !s.is_empty()).collect();
    let key = match field {
        NameField::Forename => {
            words.retain(|w| !is_title(w));
            if is_placeholder(&words) {
                return Err(NameProblem::Placeholder);
            }
            // The first given name; initials are skipped.
            let Some(first) = words.iter().find(|w| w.chars().nth(1).is_some()) else {
                return Err(NameProblem::Placeholder);
            };
            (*first).to_owned()
        }
        NameField::Surname => {
            strip_surname_titles(&mut words);
            if is_placeholder(&words) {
                return Err(NameProblem::Placeholder);
            }
            words.concat()
        }
    };
    if is_repeated_letter(&key) || is_placeholder(&[key.as_str()]) {
        return Err(NameProblem::Placeholder);
    }
    Ok(Some(key))
}

/// The parts of a kept surname (mk2's `snp_fn_dob`): the surname's words
/// with hyphens counted as separators, titles and suffixes dropped as in
/// [`normalise`], each part of two letters or more; a surname of one part
/// gives its kept form alone. SMITH-JONES and SMITH JONES give SMITH and
/// JONES; O'BRIEN gives OBRIEN.
pub(crate) fn surname_parts(raw: &str, kept: &str) -> Vec<String> {
    let spaced: String = raw
        .chars()
        .map(|c| if is_hyphen(c) { ' ' } else { c })
        .collect();
    let w = Words::of(spaced.trim());
    let mut words: Vec<&str> = w.text.split(' ').filter(|s| !s.is_empty()).collect();
    strip_surname_titles(&mut words);
    let mut parts: Vec<String> = words
        .iter()
        .filter(|p| p.chars().nth(1).is_some())
        .map(|p| (*p).to_owned())
        .collect();
    parts.sort_unstable();
    parts.dedup();
    if parts.len() < 2 {
        return vec![kept.to_owned()];
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_double_surname_has_its_parts() {
        assert_eq!(
            surname_parts("Smith-Jones", "SMITHJONES"),
            ["JONES", "SMITH"]
        );
        assert_eq!(
            surname_parts("smith  jones jnr", "SMITHJONES"),
            ["JONES", "SMITH"]
        );
        assert_eq!(surname_parts("O'Brien", "OBRIEN"), ["OBRIEN"]);
        assert_eq!(surname_parts("Jones", "JONES"), ["JONES"]);
        assert_eq!(surname_parts("Mrs Jones", "JONES"), ["JONES"]);
    }

    fn f(s: &str) -> Result<Option<String>, NameProblem> {
        normalise(s, NameField::Forename)
    }

    fn s(s: &str) -> Result<Option<String>, NameProblem> {
        normalise(s, NameField::Surname)
    }

    fn ok(v: &str) -> Result<Option<String>, NameProblem> {
        Ok(Some(v.to_owned()))
    }

    #[test]
    fn surnames_lose_case_accents_punctuation_spaces_titles_and_suffixes() {
        assert_eq!(s("  smith-jones "), ok("SMITHJONES"));
        assert_eq!(s("Smith Jones"), ok("SMITHJONES"));
        assert_eq!(s("SMITHJONES"), ok("SMITHJONES"));
        assert_eq!(s("O'Brien"), ok("OBRIEN"));
        assert_eq!(s("O’BRIEN"), ok("OBRIEN"));
        assert_eq!(s("de la Cruz"), ok("DELACRUZ"));
        assert_eq!(s("Müller"), ok("MULLER"));
        assert_eq!(s("Ålesund-Øye"), ok("ALESUNDOYE"));
        assert_eq!(s("Straße"), ok("STRASSE"));
        assert_eq!(s("Mrs Smith"), ok("SMITH"));
        assert_eq!(s("Smith Jnr"), ok("SMITH"));
        assert_eq!(
            s("Lord"),
            ok("LORD"),
            "a surname that is a title word stays"
        );
        assert_eq!(s("Ng"), ok("NG"));
        assert_eq!(s("Na"), ok("NA"));
        assert_eq!(s("  "), Ok(None));
    }

    #[test]
    fn forenames_keep_the_first_given_name() {
        assert_eq!(f("John Paul"), ok("JOHN"));
        assert_eq!(f("Mary-Anne"), ok("MARYANNE"));
        assert_eq!(f("Mr. J. Robert"), ok("ROBERT"));
        assert_eq!(f("Zoë"), ok("ZOE"));
        assert_eq!(f("Sinéad"), ok("SINEAD"));
        assert_eq!(f("ﬁona"), ok("FIONA"), "compatibility ligature");
        assert_eq!(f("Ａｍｙ"), ok("AMY"), "full-width letters");
    }

    #[test]
    fn placeholders_and_junk_are_refused() {
        for p in [
            "Unknown",
            "NOT KNOWN",
            "n/k",
            "NK",
            "unk",
            "Anon",
            "anonymous",
            "Baby",
            "BABY OF SMITH",
            "Baby Boy",
            "Test",
            "test patient",
            "XXX",
            "xx",
            "J",
            "J.",
            "N/A",
            "-",
            "?",
            "Mr",
            "NOT-KNOWN",
        ] {
            assert_eq!(f(p), Err(NameProblem::Placeholder), "forename {p:?}");
        }
        for p in ["Unknown", "N/K", "X", "ZZZZ", "Mr Unknown", "Not Known"] {
            assert_eq!(s(p), Err(NameProblem::Placeholder), "surname {p:?}");
        }
        assert_eq!(f("J0HN"), Err(NameProblem::Invalid));
        assert_eq!(s("Smith2"), Err(NameProblem::Invalid));
        assert_eq!(f("J Unknown"), Err(NameProblem::Placeholder));
    }
}
