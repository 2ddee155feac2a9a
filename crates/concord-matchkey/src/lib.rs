//! The normalisation spec **`mk1`**, the key set **`mk2`**, and their
//! match-key tokens (DESIGN §2).
//!
//! Every duty holder's push agent turns the identifiers it holds into
//! match-key tokens before anything leaves the agency. For two agencies'
//! records of one person to meet at the broker, both must produce the same
//! bytes: this documentation *is* the spec they implement, and
//! `testdata/mk1-vectors.json` holds test vectors (input identifiers →
//! normalised fields, rejections and tokens under a fixed test key) that
//! any implementation must reproduce byte for byte.
//!
//! No I/O. Raw identifiers come in as `&str`; what goes out is tokens and
//! counts of rejected values. [`Identifiers`] and [`Normalised`] never print
//! their contents (`Debug` shows only which fields are present).
//!
//! # API
//!
//! * [`normalise`] (or [`normalise_on`] with an explicit day): raw
//!   [`Identifiers`] → [`Normalised`] fields and the [`Rejection`]s.
//! * [`tokens`]: [`Normalised`] → `(KeyName, Token)` pairs in key-code order.
//! * [`tokenise`]: both, adding the rejections to a file's
//!   [`RejectionCounts`].
//!
//! # Normalisation
//!
//! A blank field (empty or only whitespace) is *missing*: no token uses it
//! and it is not counted. A non-blank field is either normalised or
//! *rejected* with a [`Rejection`] reason (placeholders and invalid values);
//! a rejected field is never hashed, exactly as if it were missing, and the
//! rejection is counted so agencies can see their data quality.
//!
//! Every field is first trimmed of surrounding whitespace.
//!
//! ## Names (forename, surname)
//!
//! 1. Characters are read one by one. Apostrophes (`'` `` ` `` `´` `ʼ` `‘`
//!    `’` `′` `＇`) and hyphens and dashes (`-`, soft hyphen, U+2010 to
//!    U+2015, `−`, `﹘`, `﹣`, `－`) are removed: they join what stands
//!    either side (O'BRIEN → OBRIEN, MARY-ANNE → MARYANNE).
//! 2. Every other character is put in Unicode compatibility decomposition
//!    (NFKD) and combining marks are dropped, which removes accents
//!    (MÜLLER → MULLER) and unfolds ligatures and full-width forms.
//!    Letters NFKD leaves whole are folded: Æ→AE, Œ→OE, Ø→O, Ł→L, Đ Ð→D,
//!    Þ→TH, Ħ→H, Ŧ→T, ı→I, ß ẞ→SS (either case).
//! 3. Letters are upper-cased (Unicode, locale-independent). A digit
//!    anywhere makes the name *invalid* (`forename_invalid`,
//!    `surname_invalid`). Anything else (whitespace, `.`, `,`, `/`, `(`,
//!    ...) separates words; runs of separators count once.
//! 4. **Titles** [`TITLES`] (MR, MRS, MS, MISS, MX, MSTR, MASTER, DR, PROF,
//!    REV, REVD, SIR, DAME, LORD, LADY, FR): in a forename, every title word
//!    is dropped; in a surname, title words are dropped from the start, and
//!    title words and generational [`SUFFIXES`] (JR, JNR, JUNIOR, SR, SNR,
//!    SENIOR, II, III, IV) from the end, while more than one word remains
//!    (so the surname LORD stays LORD).
//! 5. **Placeholders** (`forename_placeholder`, `surname_placeholder`): the
//!    remaining words are one of [`PLACEHOLDERS`] (UNKNOWN, NOT KNOWN, N K,
//!    NK, UNK, ANON, ANONYMOUS, BABY, TEST, N A, NONE, NULL, REFUSED, NO
//!    NAME, MALE, FEMALE, PATIENT, ...), or start with one of
//!    [`PLACEHOLDER_LEADS`] (BABY OF SMITH, UNKNOWN MALE, TEST PATIENT), or
//!    there are no letters at all (`-`, `?`, `.`), or (in a forename) nothing
//!    but titles.
//! 6. **The kept form.** A *surname* is all its words concatenated without
//!    spaces: SMITH-JONES, SMITH JONES and SMITHJONES all become
//!    SMITHJONES, and DE LA CRUZ becomes DELACRUZ (agencies split
//!    compound surnames differently; the space carries no information
//!    worth the disagreement). A *forename* is the first given name: the
//!    first word of two or more letters, so MR J. ROBERT → ROBERT and JOHN
//!    PAUL → JOHN (agencies differ in whether middle names are held in the
//!    forename field; they rarely differ in the first). A forename of
//!    initials only is a placeholder.
//! 7. The kept form is a placeholder too if it is one letter, the same
//!    letter repeated (XX, XXX), or a one-word [`PLACEHOLDERS`] entry.
//!
//! Normalising a normalised name gives it back unchanged.
//!
//! ## Dates of birth
//!
//! Accepted forms: `YYYY-MM-DD`, `YYYYMMDD`, `DD/MM/YYYY`, `DD-MM-YYYY`,
//! `DD.MM.YYYY` (day and month may be written with one digit), and
//! `DD-MON-YYYY` with an English three-letter month in any case
//! (`05-Mar-1990`). A time of day after a space or a `T` is ignored
//! (`1990-03-05T00:00:00`). Two-digit years and anything else are
//! `dob_invalid`, as are impossible dates (31/02/1990). Dates before
//! 1900-01-01 are `dob_before_1900`; 1900-01-01 and 1901-01-01, which
//! systems write for "not known", are `dob_placeholder`; dates after the
//! day of normalisation are `dob_future`. The kept form is ISO 8601
//! `YYYY-MM-DD`.
//!
//! ## NHS number
//!
//! Spaces and `-` are removed; what remains must be exactly ten digits
//! (else `nhs_invalid`). Ten of the same digit (0000000000, 9999999999)
//! are `nhs_placeholder` (they pass the check). The tenth digit must be the
//! modulus-11 check digit of the first nine ([`nhs_check_digit`]: weights
//! 10 down to 2, check = 11 − (sum mod 11), 11 → 0, 10 → no valid number),
//! else `nhs_check_digit`. The kept form is the ten digits. Numbers in the
//! 999 range, which NHS England reserves for testing, are accepted: the
//! test vectors and synthetic data use them.
//!
//! ## PNC id
//!
//! Whitespace is removed and letters upper-cased. Accepted shapes:
//! `YY/N…A` or `YYYY/N…A` with a serial of one to seven digits, or without
//! the slash exactly `YYNNNNNNNA` or `YYYYNNNNNNNA`; a four-digit year must
//! start with 19 or 20. Anything else is `pnc_invalid`; a serial of zero is
//! `pnc_placeholder`. The check letter is validated as the Police National
//! Computer defines it: the number `YY·10⁷ + serial` (two-digit year and
//! the serial padded to seven digits) modulo 23 indexes
//! `ZABCDEFGHJKLMNPQRTUVWXY` (0 → Z, 1 → A, …; I, O and S are not used)
//! ([`pnc_check_letter`]); a wrong letter is `pnc_check_letter`. The kept
//! form is `YY/NNNNNNNA`: two-digit year, slash, serial zero-padded to
//! seven digits, check letter.
//!
//! ## Postcode
//!
//! Whitespace is removed and letters upper-cased. Placeholders
//! (`postcode_placeholder`): NHS pseudo-postcodes starting `ZZ99` (ZZ99
//! 3VZ no fixed abode, ZZ99 3WZ address not known, ...) and, compared with
//! everything but letters and digits removed, NFA, NO FIXED ABODE,
//! UNKNOWN, NOT KNOWN, NK, N/A, NONE. Otherwise the last three characters
//! are the inward code and the rest the outward code, which must follow the
//! official format, else `postcode_invalid`: outward `A9`, `A99`, `A9A`,
//! `AA9`, `AA99` or `AA9A`, where the first letter is not Q, V or X, the
//! second not I, J or Z, a letter in third place one of
//! ABCDEFGHJKPSTUW, a letter in fourth place one of ABEHMNPRVWXY; inward
//! `9AA` with letters not C, I, K, M, O or V; and `GIR 0AA`. Partial
//! postcodes (outward code only) are invalid. The kept form is outward,
//! one space, inward: `SW1A 1AA`.
//!
//! ## Phonetic code
//!
//! The phonetic keys use **NYSIIS** ([`nysiis`]), the New York State
//! Identification and Intelligence System code (Taft, 1970). It was built
//! for exactly this: matching criminal-justice records of people whose
//! names are misspelt. It outperforms Soundex on name matching (Soundex
//! keeps one letter and three digits, so it throws away most of a long
//! name and merges many unrelated ones), and unlike Double Metaphone it is
//! short enough to specify completely here, so every agency's
//! implementation agrees. It is computed on the kept name (A–Z only; a
//! name with other letters has no phonetic code and yields no phonetic
//! key). Steps, on the letters of the name:
//!
//! 1. Replace a leading MAC by MCC, KN by NN, K by C, PH or PF by FF, SCH by
//!    SSS (the first that applies).
//! 2. Replace a trailing EE or IE by Y; DT, RT, RD, NT or ND by D.
//! 3. The code starts with the first letter.
//! 4. For each later position, left to right, rewriting the name in place
//!    (later rules see earlier rewrites), apply the first rule that fits:
//!    EV → AF; any other vowel (A E I O U) → A; Q → G; Z → S; M → N; K → N
//!    before N, else C; SCH → SSS; PH → FF; H → the letter before it if
//!    either the letter before or the letter after is not a vowel (no
//!    letter after counts as not a vowel); W → the letter before it if that
//!    is a vowel. Then append the letter now at the position to the code
//!    unless it equals the code's last letter.
//! 5. Drop a final S (if the code is longer than one letter); replace a
//!    final AY by Y; drop a final A (if longer than one letter).
//! 6. Truncate to six letters ([`NYSIIS_MAX`], Taft's original length).
//!
//! SMITH → SNAT, JOHN → JAN, MACDONALD → MCDANA, STEVENS → STAFAN.
//!
//! # Keys
//!
//! Keys are composites, never a single weak field (DESIGN §2): a token of a
//! surname alone could be attacked by frequency analysis. A key is formed
//! only when all its fields are present and kept.
//!
//! | key | fields | catches |
//! |---|---|---|
//! | `nhs` | NHS number | strong: the same person |
//! | `pnc` | PNC id | strong: the same person |
//! | `sn_dob` | surname, date of birth | forename variants, moved house |
//! | `fn_dob` | forename, date of birth | surname change (marriage), surname typo |
//! | `fn_sn` | forename, surname | date of birth error |
//! | `sn_pc` | surname, postcode | forename variant and date of birth error |
//! | `fn_pc` | forename, postcode | surname change and date of birth error |
//! | `dob_pc` | date of birth, postcode | both names changed or misspelt |
//! | `phsn_dob` | NYSIIS(surname), date of birth | surname misspelt |
//! | `phfn_sn` | NYSIIS(forename), surname | forename misspelt or a variant |
//! | `sn_dobswap` | surname, the date of birth and its day/month swap, earlier first | day and month transposed |
//! | `names_dob` | the forename and the surname in ascending byte order, date of birth | forename and surname recorded the wrong way round |
//! | `fi_dob` | the first character of the canonical forename, date of birth | forename misspelt beyond NYSIIS, or a nickname (BILL → WILLIAM, from a table of unambiguous forms in `nickname.rs`) |
//!
//! `fi_dob` was added after measuring the missed pairs of the linkage on the
//! synthetic population: most agreed on surname, date of birth and postcode
//! but on no forename key (a typo or a nickname), exactly as twins do.
//! With `fi_dob` as a variant of the forename · date-of-birth slot, pairwise
//! recall without NHS numbers rose from 0.953 to 0.977–0.980 over three
//! seeds, precision staying 0.9997–1.0000 (`concord-bench quality`). Twins
//! who share an initial are its risk; a cluster still never holds two NHS
//! numbers or two PNC ids.
//!
//! `sn_dobswap` is formed only when swapping day and month gives a valid,
//! different date (day ≤ 12 and day ≠ month). Its fields are the surname
//! then the two dates in ascending order, so 1990-03-05 and 1990-05-03
//! give the *same* token under the same surname: a record whose day and
//! month were transposed meets its twin on this key. It also agrees
//! whenever `sn_dob` agrees (and day ≤ 12); a linker should count it as
//! evidence only when `sn_dob` disagrees.
//!
//! `names_dob` likewise takes the two names as an unordered pair: WEI ZHANG
//! and ZHANG WEI born on one day give the same token. It agrees whenever
//! `fn_dob` and `sn_dob` both agree; a linker should count it only when they
//! do not.
//!
//! ## Why these keys (tuning)
//!
//! The first eleven keys are the set DESIGN §2 names. They were measured,
//! with `names_dob` and two other candidates, on a synthetic population of
//! 20,002 people in households (shared surnames and postcodes, twins,
//! children named after a parent; Zipf-distributed names from small lists,
//! which makes name-only keys collide far more than real names do) seen
//! 40,013 times by three kinds of agency, with realistic errors: surname
//! and forename typos (5% each), forename variants (5%), surname change
//! (5% of women), day and month transposed (3% where possible), other date
//! of birth errors (4%), date of birth missing (3%), moved house (20%),
//! postcode missing (5%), forename and surname swapped (2%), and NHS number
//! held by 20% (police), 97% (health) and 60% (social care) of records.
//! Counting a pair as linked when a strong key agrees or at least two
//! weak keys agree (a variant counted only when its exact key disagrees),
//! pairwise recall / precision were:
//!
//! | key set | recall | precision | swapped-name pairs found |
//! |---|---|---|---|
//! | the eleven DESIGN keys | 0.893 | 0.901 | 374 of 868 |
//! | + `names_dob` (kept) | 0.902 | 0.902 | 605 of 868 |
//! | + `fn_sn_yob` (forename, surname, year of birth; dropped) | 0.903 | 0.694 | 374 of 868 |
//! | + NYSIIS forename, NYSIIS surname, date of birth (dropped) | 0.895 | 0.901 | 374 of 868 |
//!
//! `names_dob` is the most precise weak key measured (0.994 alone) and
//! recovers most pairs lost to swapped names, which otherwise link only
//! through an NHS number or an unchanged postcode. Swapped name order is
//! not random noise: it falls mostly on people whose naming conventions
//! put the family name first, so leaving it out would bias linkage quality
//! against them. The year-of-birth key let common names collide; the
//! all-phonetic key added almost nothing beyond `phsn_dob` and `phfn_sn`.
//! Each key costs one HMAC per record (about 0.35 µs with ring on the
//! 2-core development machine), which is most of the cost of tokenising.
//!
//! # The key set `mk2`
//!
//! `mk2` keeps every `mk1` key byte for byte (same names, same messages,
//! `mk1:` prefix) and adds the twelve keys below, whose messages start
//! `mk2:`. Normalisation is unchanged. Linkage on data it was never tuned
//! on (FEBRL, an independent UK generator) missed pairs mostly through two
//! small errors at once, which no exact pair key survives: a date of birth
//! one digit off, a typo in a name together with a moved or missing
//! postcode, swapped names or a transposed date with a second error, a
//! double surname recorded as one part. The new keys let the linker tell
//! *at which level* each field agrees (exact, one edit, variant,
//! phonetic, initial, part, day/month swap, same year and month), which is
//! what its model scores (crate `concord-linkage`, "Field levels").
//!
//! **Multi-token keys** (`snd_dob`, `fnd_sn`, `fnd_dob`, `dobd_sn`,
//! `snp_fn_dob`): a record carries one token per
//! *form* of the field, and two records agree on the key when they share
//! any token of it.
//!
//! * The **one-deletion neighbourhood** of a name ([`deletion_forms`]) is
//!   the kept name itself and every string made from it by removing one
//!   character, without repeats, in ascending byte order; a name shorter
//!   than [`MIN_DELETION_LEN`] (3) characters has only itself. Two names
//!   one edit apart (substitution, insertion, deletion, transposition of
//!   neighbours) always share a form: SMITH and SMYTH share SMTH.
//! * The one-deletion neighbourhood of a **date of birth** is taken over
//!   its eight digits `YYYYMMDD` (no dashes): the eight digits and every
//!   seven-digit string made by removing one, without repeats, in
//!   ascending order. 1990-03-05 and 1990-03-06 share `1990030`.
//! * The **parts of a surname** are its words with hyphens counted as
//!   separators (titles and suffixes dropped as for the kept form), each of
//!   two letters or more, without repeats, ascending; a surname of one part
//!   has its kept form alone. SMITH-JONES has SMITH and JONES; JONES has
//!   JONES; they share JONES.
//!
//! | key | fields (in message order) | catches |
//! |---|---|---|
//! | `snd_dob` | a deletion form of the surname, date of birth | surname typo with forename and postcode wrong or missing |
//! | `fnd_sn` | a deletion form of the forename, surname | forename typo with date of birth wrong |
//! | `fnd_dob` | a deletion form of the forename, date of birth | forename typo with surname wrong |
//! | `dobd_sn` | a deletion form of the date of birth (digits), surname | date one digit off with forename wrong |
//! | `snp_fn_dob` | a part of the surname, forename, date of birth | a double surname recorded as one of its parts |
//! | `cfn_sn_dob` | the canonical forename (nicknames resolved), surname, date of birth | BILL and WILLIAM: a variant, not a typo |
//! | `fi_sn_dob` | the initial of the canonical forename, surname, date of birth | a forename beyond one edit (scored only below an exact household match: see twins) |
//! | `fn_sn_ym` | forename, surname, year and month of birth `YYYY-MM` | day of birth wrong (any amount) |
//! | `fn_dobswap` | forename, the date of birth and its day/month swap, earlier first | day and month transposed with the surname wrong |
//! | `phfn_dob` | NYSIIS(forename), date of birth | forename misspelt with surname wrong |
//! | `phsn_fn` | NYSIIS(surname), forename | surname misspelt with date of birth wrong |
//! | `names_pc` | the forename and the surname in ascending byte order, postcode | names the wrong way round with the date of birth wrong |
//!
//! `fn_dobswap` is formed under the rule of `sn_dobswap`. A deletion form
//! or a surname part is a field like any other in the message (UTF-8, no
//! separator inside); a date's deletion form is its digits as ASCII.
//!
//! **Frequency attack.** Every `mk2` token, like every `mk1` token, covers
//! at least two fields, one of them a name or the date of birth, and a
//! deletion form is no weaker than the name it comes from: `SMTH` with a
//! forename is as rare as SMITH with that forename, shared only by the
//! names one edit from it. With `K_link` and a dump of the broker's
//! database an attacker still holds pseudonyms re-keyed with `K_broker`
//! (DESIGN §1), so no dictionary runs; an agency holding `K_link` could
//! compute tokens of guessed identities, exactly as with `mk1`, and learns
//! no more from the forms than from the names. ARCHITECTURE.md states the
//! argument per key.
//!
//! **Cost.** A record with every field carries about 45 tokens under
//! `mk2` (13 of `mk1`; the four deletion keys carry 6-9 each): about
//! 15 µs of HMAC per record at the agency.
//!
//! **Why these deletion keys.** Six were measured (each name's and the
//! date's neighbourhood paired with each of the other two fields) by
//! leaving each out in turn (`concord-bench linkage-eval --drop-keys`, on
//! FEBRL1-3 and the independent UK generator; FEBRL4 held out): without
//! `snd_fn` (surname forms with the forename) and `dobd_fn` (date forms
//! with the forename) F1 moved by less than 0.001 everywhere, since
//! `fnd_sn`, `snd_dob` and `dobd_sn` already show those levels whenever a
//! third field agrees; each carries 7-9 tokens, a quarter of the index.
//! They were dropped. Without `snd_dob` F1 fell by 0.05 on FEBRL1-2,
//! without `fnd_sn` by 0.03 on FEBRL1 and FEBRL3.
//!
//! **Transition.** The broker links `mk1` and `mk2` records together: they
//! share `mk1`'s tokens, and the linker compares two records on the keys
//! both carry, so an `mk1` record is compared at the levels `mk1` can show
//! (exact, phonetic, initial, swap) until its agency sends `mk2`.
//! [`tokens_for`] computes either set; [`tokens`] the current one
//! ([`Spec::CURRENT`], `mk2`). Vectors: `testdata/mk1-vectors.json` and
//! `testdata/mk2-vectors.json`.
//!
//! # Tokens
//!
//! ```text
//! token = HMAC-SHA256(K_link, spec ‖ ":" ‖ key_name ‖ ":" ‖ field₁ [‖ 0x1F ‖ field₂ [‖ 0x1F ‖ field₃]])
//! ```
//!
//! `spec` is `mk1` for the thirteen keys of `mk1` and `mk2` for the keys
//! `mk2` added ([`KeyName::spec`]).
//!
//! `key_name` is the stable name above (`sn_dob`); fields are the kept forms
//! in the order of the table, UTF-8, joined by the ASCII unit separator
//! 0x1F ([`FIELD_SEPARATOR`]), which no kept form can contain. For example
//! the `sn_dob` message of SMITH born 5 March 1990 is the 23 bytes
//! `mk1:sn_dob:SMITH\x1f1990-03-05`.

#![forbid(unsafe_code)]

use std::fmt;

use chrono::NaiveDate;
use concord_core::{KeyName, Token};
use concord_keys::LinkageKey;

mod date;
mod ids;
mod keys;
mod name;
mod nickname;
mod nysiis;
mod rejection;

pub use date::{PLACEHOLDER_DATES, parse_date};
pub use ids::{PNC_CHECK_LETTERS, POSTCODE_PLACEHOLDERS, nhs_check_digit, pnc_check_letter};
pub use keys::{FIELD_SEPARATOR, MIN_DELETION_LEN, Spec, deletion_forms, tokens, tokens_for};
pub use name::{PLACEHOLDER_LEADS, PLACEHOLDERS, SUFFIXES, TITLES};
pub use nickname::canonical_forename;
pub use nysiis::{NYSIIS_MAX, nysiis};
pub use rejection::{Rejection, RejectionCounts};

use name::{NameField, NameProblem};

/// The version of the normalisation spec and key set the push agent
/// sends. Each key's token message starts with the spec that introduced it
/// ([`KeyName::spec`]): mk2 keeps mk1's thirteen keys byte for byte.
pub const SPEC: &str = "mk2";

/// Raw identifiers as an agency holds them; `None` or blank when not held.
#[derive(Clone, Copy, Default)]
pub struct Identifiers<'a> {
    pub forename: Option<&'a str>,
    pub surname: Option<&'a str>,
    pub date_of_birth: Option<&'a str>,
    pub nhs_number: Option<&'a str>,
    pub pnc_id: Option<&'a str>,
    pub postcode: Option<&'a str>,
}

/// Shows which fields are present, never their values.
fn present(f: &mut fmt::Formatter<'_>, name: &str, fields: &[(&str, bool)]) -> fmt::Result {
    let held: Vec<&str> = fields.iter().filter(|(_, p)| *p).map(|(n, _)| *n).collect();
    write!(f, "{name} {{ present: {held:?} }}")
}

impl fmt::Debug for Identifiers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        present(
            f,
            "Identifiers",
            &[
                ("forename", self.forename.is_some()),
                ("surname", self.surname.is_some()),
                ("date_of_birth", self.date_of_birth.is_some()),
                ("nhs_number", self.nhs_number.is_some()),
                ("pnc_id", self.pnc_id.is_some()),
                ("postcode", self.postcode.is_some()),
            ],
        )
    }
}

/// Normalised identifiers: the kept forms of the spec, and the phonetic
/// codes of the names. Made only by [`normalise`]. Equality is of the kept
/// forms: the surname's parts come from how the raw surname was written
/// (SMITH-JONES has two, SMITHJONES one) and normalising a kept form again
/// cannot recover them.
#[derive(Clone, Default)]
pub struct Normalised {
    forename: Option<String>,
    surname: Option<String>,
    date_of_birth: Option<NaiveDate>,
    nhs_number: Option<String>,
    pnc_id: Option<String>,
    postcode: Option<String>,
    phonetic_forename: Option<String>,
    phonetic_surname: Option<String>,
    /// The parts of a double surname, or the kept surname alone; empty
    /// without a surname.
    surname_parts: Vec<String>,
}

impl PartialEq for Normalised {
    fn eq(&self, o: &Self) -> bool {
        self.forename == o.forename
            && self.surname == o.surname
            && self.date_of_birth == o.date_of_birth
            && self.nhs_number == o.nhs_number
            && self.pnc_id == o.pnc_id
            && self.postcode == o.postcode
            && self.phonetic_forename == o.phonetic_forename
            && self.phonetic_surname == o.phonetic_surname
    }
}

impl Eq for Normalised {}

impl Normalised {
    /// The parts of the surname (mk2's `snp_fn_dob`): SMITH and JONES for
    /// SMITH-JONES; the kept surname for a surname of one part.
    pub fn surname_parts(&self) -> &[String] {
        &self.surname_parts
    }

    pub fn forename(&self) -> Option<&str> {
        self.forename.as_deref()
    }

    pub fn surname(&self) -> Option<&str> {
        self.surname.as_deref()
    }

    pub fn date_of_birth(&self) -> Option<NaiveDate> {
        self.date_of_birth
    }

    pub fn nhs_number(&self) -> Option<&str> {
        self.nhs_number.as_deref()
    }

    pub fn pnc_id(&self) -> Option<&str> {
        self.pnc_id.as_deref()
    }

    pub fn postcode(&self) -> Option<&str> {
        self.postcode.as_deref()
    }

    /// NYSIIS of the forename.
    pub fn phonetic_forename(&self) -> Option<&str> {
        self.phonetic_forename.as_deref()
    }

    /// NYSIIS of the surname.
    pub fn phonetic_surname(&self) -> Option<&str> {
        self.phonetic_surname.as_deref()
    }

    /// True when no field was kept.
    pub fn is_empty(&self) -> bool {
        self.forename.is_none()
            && self.surname.is_none()
            && self.date_of_birth.is_none()
            && self.nhs_number.is_none()
            && self.pnc_id.is_none()
            && self.postcode.is_none()
    }
}

impl fmt::Debug for Normalised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        present(
            f,
            "Normalised",
            &[
                ("forename", self.forename.is_some()),
                ("surname", self.surname.is_some()),
                ("date_of_birth", self.date_of_birth.is_some()),
                ("nhs_number", self.nhs_number.is_some()),
                ("pnc_id", self.pnc_id.is_some()),
                ("postcode", self.postcode.is_some()),
            ],
        )
    }
}

/// Runs one field's rule, keeping the value or recording the rejection.
fn keep<T>(
    raw: Option<&str>,
    rule: impl FnOnce(&str) -> Result<Option<T>, Rejection>,
    rejections: &mut Vec<Rejection>,
) -> Option<T> {
    match rule(raw?) {
        Ok(v) => v,
        Err(r) => {
            rejections.push(r);
            None
        }
    }
}

fn name_rule(
    field: NameField,
    placeholder: Rejection,
    invalid: Rejection,
) -> impl FnOnce(&str) -> Result<Option<String>, Rejection> {
    move |raw| {
        name::normalise(raw, field).map_err(|p| match p {
            NameProblem::Placeholder => placeholder,
            NameProblem::Invalid => invalid,
        })
    }
}

/// Normalises raw identifiers as of `today` (which bounds dates of birth):
/// the kept fields, and why each rejected field was rejected (in field
/// order). Blank fields are neither kept nor rejected.
pub fn normalise_on(ids: &Identifiers<'_>, today: NaiveDate) -> (Normalised, Vec<Rejection>) {
    let mut rejections = Vec::new();
    let r = &mut rejections;
    let forename = keep(
        ids.forename,
        name_rule(
            NameField::Forename,
            Rejection::ForenamePlaceholder,
            Rejection::ForenameInvalid,
        ),
        r,
    );
    let surname = keep(
        ids.surname,
        name_rule(
            NameField::Surname,
            Rejection::SurnamePlaceholder,
            Rejection::SurnameInvalid,
        ),
        r,
    );
    let date_of_birth = keep(ids.date_of_birth, |s| date::normalise(s, today), r);
    let nhs_number = keep(ids.nhs_number, ids::nhs, r);
    let pnc_id = keep(ids.pnc_id, ids::pnc, r);
    let postcode = keep(ids.postcode, ids::postcode, r);
    let surname_parts = match (&surname, ids.surname) {
        (Some(kept), Some(raw)) => name::surname_parts(raw, kept),
        _ => Vec::new(),
    };
    let n = Normalised {
        surname_parts,
        phonetic_forename: forename.as_deref().and_then(nysiis),
        phonetic_surname: surname.as_deref().and_then(nysiis),
        forename,
        surname,
        date_of_birth,
        nhs_number,
        pnc_id,
        postcode,
    };
    (n, rejections)
}

/// The day of normalisation: today in UTC.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// [`normalise_on`] as of [`today`].
pub fn normalise(ids: &Identifiers<'_>) -> (Normalised, Vec<Rejection>) {
    normalise_on(ids, today())
}

/// Normalises and tokenises one person's identifiers, adding rejections to
/// `counts`.
pub fn tokenise(
    ids: &Identifiers<'_>,
    key: &LinkageKey,
    counts: &mut RejectionCounts,
) -> Vec<(KeyName, Token)> {
    tokenise_on(ids, key, counts, today())
}

/// [`tokenise`] as of a given day (for a whole file, read the clock once).
pub fn tokenise_on(
    ids: &Identifiers<'_>,
    key: &LinkageKey,
    counts: &mut RejectionCounts,
    today: NaiveDate,
) -> Vec<(KeyName, Token)> {
    let (n, rejections) = normalise_on(ids, today);
    counts.extend(rejections);
    tokens(&n, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkageKey {
        let secret: Vec<u8> = (0u8..32).collect();
        LinkageKey::new("lk-test", &secret).unwrap()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    #[test]
    fn a_token_is_the_hmac_of_the_documented_message() {
        let ids = Identifiers {
            surname: Some(" smith "),
            date_of_birth: Some("05/03/1990"),
            ..Identifiers::default()
        };
        let (n, rejected) = normalise_on(&ids, day());
        assert!(rejected.is_empty());
        let toks = tokens_for(Spec::Mk1, &n, &key());
        let names: Vec<KeyName> = toks.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [KeyName::SnDob, KeyName::PhSnDob, KeyName::SnDobSwap],
            "only keys whose fields are all present"
        );
        let secret: Vec<u8> = (0u8..32).collect();
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let want = |msg: &[u8]| ring::hmac::sign(&k, msg).as_ref().to_vec();
        assert_eq!(
            toks[0].1.as_bytes().to_vec(),
            want(b"mk1:sn_dob:SMITH\x1f1990-03-05")
        );
        assert_eq!(
            toks[1].1.as_bytes().to_vec(),
            want(b"mk1:phsn_dob:SNAT\x1f1990-03-05")
        );
        assert_eq!(
            toks[2].1.as_bytes().to_vec(),
            want(b"mk1:sn_dobswap:SMITH\x1f1990-03-05\x1f1990-05-03")
        );
    }

    #[test]
    fn a_transposed_date_meets_its_twin_on_sn_dobswap() {
        let token = |dob: &str| {
            let ids = Identifiers {
                surname: Some("Smith"),
                date_of_birth: Some(dob),
                ..Identifiers::default()
            };
            let mut c = RejectionCounts::new();
            tokenise_on(&ids, &key(), &mut c, day())
        };
        let (a, b) = (token("1990-03-05"), token("1990-05-03"));
        let get = |t: &[(KeyName, Token)], k| t.iter().find(|(n, _)| *n == k).map(|(_, t)| *t);
        assert_ne!(get(&a, KeyName::SnDob), get(&b, KeyName::SnDob));
        assert!(get(&a, KeyName::SnDobSwap).is_some());
        assert_eq!(get(&a, KeyName::SnDobSwap), get(&b, KeyName::SnDobSwap));
        assert_eq!(get(&token("1990-03-13"), KeyName::SnDobSwap), None);
    }

    #[test]
    fn rejected_fields_are_counted_and_never_used() {
        let ids = Identifiers {
            forename: Some("Unknown"),
            surname: Some("Smith"),
            date_of_birth: Some("01/01/1900"),
            nhs_number: Some("0000000000"),
            pnc_id: Some(""),
            postcode: Some("ZZ99 3VZ"),
        };
        let mut c = RejectionCounts::new();
        let t = tokenise_on(&ids, &key(), &mut c, day());
        assert!(t.is_empty(), "a surname alone makes no key");
        assert_eq!(
            c.to_string(),
            "forename_placeholder=1, dob_placeholder=1, nhs_placeholder=1, postcode_placeholder=1"
        );
    }

    #[test]
    fn debug_never_shows_values() {
        let ids = Identifiers {
            surname: Some("Smith"),
            ..Identifiers::default()
        };
        let (n, _) = normalise_on(&ids, day());
        let shown = format!("{ids:?} {n:?}");
        assert!(!shown.to_uppercase().contains("SMITH"), "{shown}");
        assert!(shown.contains("surname"));
    }
}
