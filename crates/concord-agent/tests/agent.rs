//! The agent end to end: a synthetic export and the example mapping in,
//! records out. Every name here is synthetic.

use chrono::NaiveDate;
use concord_agent::{
    AgentError, Mapping, ReadOptions, RowError, read_extract, token_csv_header, write_token_csv,
};
use concord_core::{
    AgeBand, KeyName, LocationType, Period, PersonRole, RecordKind, Sex, Source, ViolenceCategory,
    Weapon,
};
use concord_keys::LinkageKey;
use concord_proto::v1;
use prost::Message;

const SECRET: [u8; 32] = [0x5a; 32];

fn key() -> LinkageKey {
    LinkageKey::new("lk-2026a", &SECRET).unwrap()
}

fn hmac(msg: &[u8]) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &SECRET);
    ring::hmac::sign(&k, msg).as_ref().to_vec()
}

fn example_mapping() -> Mapping {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/police.mapping.toml");
    Mapping::from_toml(&std::fs::read_to_string(path).unwrap(), path).unwrap()
}

fn example_csv() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/police.csv")).unwrap()
}

fn opts() -> ReadOptions {
    ReadOptions {
        today: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        period: Some(
            Period::new(
                NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            )
            .unwrap(),
        ),
        ..ReadOptions::default()
    }
}

/// The token of a single-token key.
fn token(r: &v1::Record, k: KeyName) -> Option<Vec<u8>> {
    assert!(!k.is_multi(), "{k} is a multi-token key: use tokens()");
    r.tokens
        .iter()
        .find(|t| t.key_name == k.as_str())
        .map(|t| t.token.clone())
}

/// Every token of a key, in the order sent.
fn tokens(r: &v1::Record, k: KeyName) -> Vec<Vec<u8>> {
    r.tokens
        .iter()
        .filter(|t| t.key_name == k.as_str())
        .map(|t| t.token.clone())
        .collect()
}

#[test]
fn the_example_export_becomes_records_with_the_expected_tokens() {
    let out = read_extract(&example_csv()[..], &example_mapping(), &key(), &opts()).unwrap();
    assert!(out.is_clean(), "{:?}", out.rejects);
    assert_eq!(out.rows, 4);
    assert_eq!(out.records.len(), 4);
    assert_eq!(
        out.rejection_counts.to_string(),
        "forename_placeholder=1, postcode_placeholder=1"
    );

    let r = &out.records[1];
    assert_eq!(r.source, Source::Police.code());
    assert_eq!(r.source_ref, hmac(b"ref:police:CR-0002"));
    assert_eq!(r.kind, RecordKind::Crime.code());
    assert_eq!(r.role, PersonRole::Suspect.code());
    assert_eq!(r.event_date, "2026-10-04");
    assert_eq!(r.event_hour, Some(1));
    assert_eq!(r.ward_code, "E05009392");
    assert_eq!(r.category, ViolenceCategory::Abh.code());
    assert_eq!(r.weapon, Weapon::Body.code());
    assert_eq!(r.location_type, LocationType::LicensedPremises.code());
    assert_eq!(r.sex, Sex::Female.code());
    assert_eq!(r.age_band, AgeBand::A35To49.code(), "37 on the event date");
    assert!(r.flags.unwrap().domestic_abuse);
    // Tokens recomputed here from the documented messages.
    assert_eq!(
        token(r, KeyName::SnDob),
        Some(hmac(b"mk1:sn_dob:STONECROFTVALE\x1f1988-11-30"))
    );
    assert_eq!(token(r, KeyName::Pnc), Some(hmac(b"mk1:pnc:01/0012345H")));
    assert_eq!(
        token(r, KeyName::FnPc),
        Some(hmac(b"mk1:fn_pc:PERPETUA\x1fSW3 5QT"))
    );
    assert_eq!(
        token(r, KeyName::NamesDob),
        Some(hmac(
            b"mk1:names_dob:PERPETUA\x1fSTONECROFTVALE\x1f1988-11-30"
        ))
    );
    assert_eq!(
        token(r, KeyName::SnDobSwap),
        None,
        "day 30 cannot be a month"
    );
    assert_eq!(token(r, KeyName::Nhs), None, "not mapped");
    // mk2 keys: `mk2:` messages; a double surname's parts, ascending.
    assert_eq!(
        token(r, KeyName::FnSnYm),
        Some(hmac(b"mk2:fn_sn_ym:PERPETUA\x1fSTONECROFTVALE\x1f1988-11"))
    );
    assert_eq!(
        tokens(r, KeyName::SnPartFnDob),
        [
            hmac(b"mk2:snp_fn_dob:STONECROFT\x1fPERPETUA\x1f1988-11-30"),
            hmac(b"mk2:snp_fn_dob:VALE\x1fPERPETUA\x1f1988-11-30"),
        ]
    );
    // A multi-token key: the kept surname and each one-deletion form.
    let snd_dob = tokens(r, KeyName::SnDelDob);
    assert_eq!(snd_dob.len(), 15, "STONECROFTVALE and its 14 deletions");
    for form in ["STONECROFTVALE", "SONECROFTVALE", "STONECROFTVAL"] {
        let msg = [b"mk2:snd_dob:", form.as_bytes(), b"\x1f1988-11-30"].concat();
        assert!(snd_dob.contains(&hmac(&msg)), "{form}");
    }
    assert!(r.tokens.iter().all(|t| t.key_id == "lk-2026a"));
    let codes: Vec<KeyName> = r
        .tokens
        .iter()
        .map(|t| t.key_name.parse::<KeyName>().unwrap())
        .collect();
    assert!(
        codes
            .windows(2)
            .all(|w| w[0].code() < w[1].code() || (w[0] == w[1] && w[0].is_multi())),
        "key-code order; only a multi-token key repeats"
    );

    // A quoted cell over two lines; the day/month-swap key; the age band.
    let r = &out.records[0];
    assert_eq!(r.event_hour, Some(22));
    assert_eq!(r.age_band, AgeBand::A18To24.code());
    assert_eq!(
        token(r, KeyName::SnDobSwap),
        Some(hmac(
            b"mk1:sn_dobswap:WRENFIELD\x1f2004-03-05\x1f2004-05-03"
        ))
    );
    assert_eq!(r.flags, None, "no flag set");

    // Placeholder forename and postcode dropped; the rest still tokenised.
    let r = &out.records[2];
    assert_eq!(r.kind, RecordKind::AsbCase.code());
    assert_eq!(
        r.category,
        ViolenceCategory::OtherViolence.code(),
        "otherwise"
    );
    assert_eq!(r.weapon, 0, "empty cell: not held");
    let keys: Vec<&str> = r.tokens.iter().map(|t| t.key_name.as_str()).collect();
    // Surname and date of birth only: QUILLFEATHER has 11 distinct
    // one-deletion forms besides itself (the two Ls give one), 19790712 has
    // 8 (no two neighbouring digits alike).
    let want: Vec<&str> = ["sn_dob", "phsn_dob", "sn_dobswap"]
        .into_iter()
        .chain(std::iter::repeat_n("snd_dob", 12))
        .chain(std::iter::repeat_n("dobd_sn", 9))
        .collect();
    assert_eq!(keys, want);

    let r = &out.records[3];
    assert_eq!(r.age_band, AgeBand::A10To17.code());
    assert_eq!(
        token(r, KeyName::SnPc),
        Some(hmac(b"mk1:sn_pc:DALMEIDA\x1fW8 4PU"))
    );
}

#[test]
fn no_identifier_ever_appears_in_the_encoded_records() {
    let out = read_extract(&example_csv()[..], &example_mapping(), &key(), &opts()).unwrap();
    let mut bytes = Vec::new();
    for r in &out.records {
        r.encode_length_delimited(&mut bytes).unwrap();
    }
    let lower = bytes.to_ascii_lowercase();
    for needle in [
        "tobias",
        "wrenfield",
        "perpetua",
        "stonecroft",
        "quillfeather",
        "kestrel",
        "almeida",
        "2004-03-05",
        "05/03/2004",
        "1988-11-30",
        "1979-07-12",
        "2009-10-12",
        "12345h",
        "w10 6ab",
        "w106ab",
        "sw3 5qt",
        "w8 4pu",
        "zz99",
        "cr-000",
        "synthetic note",
    ] {
        assert!(
            !lower.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle:?} found in the encoded records"
        );
    }
    // What should be there is there.
    assert!(bytes.windows(10).any(|w| w == b"2026-10-03"));
    assert!(bytes.windows(9).any(|w| w == b"E05009391"));
}

const HEADER: &str = "URN,Record Type,Offence Date,Offence,Weapon,Location,Ward Code,LSOA Code,Role,Sex,DA Flag,Forename,Surname,Date of Birth,PNC ID,Home Postcode,Officer Notes";

fn errors(csv: &[u8]) -> Vec<String> {
    let out = read_extract(csv, &example_mapping(), &key(), &opts()).unwrap();
    assert_eq!(out.row_errors as usize, out.rejects.len());
    out.rejects.iter().map(RowError::to_string).collect()
}

#[test]
fn bad_rows_are_named_by_line_and_column_never_by_value() {
    let mut csv = format!(
        "{HEADER}\n\
         CR-0001,Crime,03/10/2026 22:15,Assault with injury,Fists,Street,E05009391,,VIC,M,N,Tobias,Wrenfield,05/03/2004,,,\"SECRETNOTE\nSECRETNOTE\"\n\
         CR-0002,SECRETKIND,03/10/2026 22:15,Assault with injury,,Street,,,VIC,M,N,Tobias,Wrenfield,05/03/2004,,,\n\
         CR-0003,Crime,SECRETDATE,Assault with injury,,Street,,,VIC,M,N,Tobias,Wrenfield,05/03/2004,,,\n\
         CR-0004,Crime,03/10/2026 22:15,SECRETOFFENCE,SECRETWEAPON,Street,SECRETWARD,,VIC,SECRETSEX,SECRETFLAG,Tobias,Wrenfield,05/03/2004,,,\n\
         ,Crime,03/10/2026 22:15,,,,,,VIC,M,N,Tobias,Wrenfield,05/03/2004,,,\n\
         CR-0001,Crime,03/10/2026 22:15,,,,,,VIC,M,N,Tobias,Wrenfield,05/03/2004,,,\n\
         CR-0007,Crime,03/10/2026 22:15,SECRETSHORT\n\
         CR-0008,Crime,03/10/2026 22:15,,,,,,VIC,M,N,Unknown,N/K,01/01/1900,01/12345A,NFA,\n\
         CR-0009,Crime,01/11/2026 10:00,,,,,,VIC,M,N,Tobias,Wrenfield,05/03/2004,,,\n\
         CR-0010,Crime,03/10/2026 22:15,,,,,,VIC,M,N,Tobias,SECRET"
    )
    .into_bytes();
    csv.push(0xE9); // Latin-1 é: not UTF-8
    csv.extend_from_slice(b"N,05/03/2004,,,\n");
    let shown = errors(&csv);
    assert_eq!(
        shown,
        [
            "line 4, column \"Record Type\": holds a value that record_kind.map does not list (add it to the map, or set record_kind.otherwise)",
            "line 5, column \"Offence Date\": is not a date in the mapping's format \"%d/%m/%Y %H:%M\"",
            "line 6, column \"Ward Code\": is not an ONS ward code (E05 and six digits)",
            "line 6, column \"Sex\": holds a value that fields.sex.map does not list (add it to the map, or set fields.sex.otherwise)",
            "line 6, column \"DA Flag\": holds a value that fields.flag_domestic_abuse.map does not list (add it to the map, or set fields.flag_domestic_abuse.otherwise)",
            "line 7, column \"URN\": is empty; every row needs the agency's record id",
            "line 8, column \"URN\": repeats the record id of line 2",
            "line 9: has 4 cell(s) but the header has 17",
            "line 10, column \"Forename, Surname, Date of Birth, PNC ID, Home Postcode\": no match-key token: a key needs an NHS number, a PNC id or two of forename, surname, date of birth and postcode, and this row has too few usable ones (5 rejected as placeholder or invalid)",
            "line 11, column \"Offence Date\": lies outside the extract's period 2026-10-01 to 2026-10-31",
            "line 12, column \"Surname\": is not valid UTF-8 (export the file as UTF-8)",
        ]
    );
    for s in &shown {
        assert!(!s.contains("SECRET"), "a cell value leaked: {s}");
    }
    // The same lines whatever ends them. Found by fuzz/fuzz_targets/agent_read.rs:
    // the csv crate's line counts \n only, so with lone \r line ends (Excel
    // for Mac's "CSV (Macintosh)") every row was line 1, and with \r\n
    // (Windows) every row was named one line too early.
    for end in [&b"\r\n"[..], b"\r"] {
        let mut other = Vec::with_capacity(csv.len() * 2);
        for &b in &csv {
            if b == b'\n' {
                other.extend_from_slice(end);
            } else {
                other.push(b);
            }
        }
        assert_eq!(errors(&other), shown, "line ends {end:?}");
    }
}

#[test]
fn rows_about_unidentified_people_can_be_kept_without_tokens() {
    let csv =
        format!("{HEADER}\nCR-0001,Crime,03/10/2026 22:15,,,,,,SUS,M,N,Unknown,Unknown,,,,\n");
    assert_eq!(errors(csv.as_bytes()).len(), 1);
    let o = ReadOptions {
        keep_untokenised_rows: true,
        ..opts()
    };
    let out = read_extract(csv.as_bytes(), &example_mapping(), &key(), &o).unwrap();
    assert!(out.is_clean());
    assert_eq!(out.untokenised, 1);
    assert!(out.records[0].tokens.is_empty());
    assert_eq!(out.rejection_counts.total(), 2);
}

fn mapping_error(text: &str) -> String {
    match Mapping::from_toml(text, "m.toml") {
        Err(e @ AgentError::Mapping { .. }) => e.to_string(),
        other => panic!("expected a mapping error, got {other:?}"),
    }
}

const MINIMAL: &str = r#"
source = "health"
record_id = "Attendance"
record_kind = { value = "ed_attendance" }
[fields]
event_date = "Arrival"
"#;

#[test]
fn a_mapping_with_an_unknown_key_is_refused_naming_it() {
    Mapping::from_toml(MINIMAL, "m.toml").unwrap();
    let e = mapping_error(&format!("{MINIMAL}\nsurname = \"Surname\"\n"));
    assert!(e.contains("unknown field `surname`"), "{e}");
    let e = mapping_error(&MINIMAL.replace("source =", "sauce ="));
    assert!(e.contains("unknown field `sauce`"), "{e}");
    let e = mapping_error(&format!("{MINIMAL}weapon = {{ colum = \"Weapon\" }}\n"));
    assert!(e.contains("unknown field `colum`"), "{e}");
    let e = mapping_error(&format!("{MINIMAL}[identifiers]\nname = \"Name\"\n"));
    assert!(e.contains("unknown field `name`"), "{e}");
    assert!(e.starts_with("mapping m.toml: "), "{e}");
}

#[test]
fn mapping_values_are_checked_against_the_vocabulary_and_the_rules() {
    let e = mapping_error(&format!(
        "{MINIMAL}weapon = {{ column = \"W\", map = {{ \"Stabbing\" = \"knife\" }} }}\n"
    ));
    assert!(
        e.contains("fields.weapon.map.\"Stabbing\": \"knife\" is not a known weapon"),
        "{e}"
    );
    let e = mapping_error(&MINIMAL.replace("\"health\"", "\"navy\""));
    assert!(e.contains("\"navy\" is not a source"), "{e}");
    let e = mapping_error(&format!("{MINIMAL}[identifiers]\nsurname = \"Surname\"\n"));
    assert!(
        e.contains("carry no person tokens (ISTV); remove surname"),
        "{e}"
    );
    let person = MINIMAL.replace("ed_attendance", "case");
    let e = mapping_error(&format!(
        "{person}site_code = \"Surname\"\n[identifiers]\nsurname = \"Surname\"\n"
    ));
    assert!(
        e.contains("fields.site_code: column \"Surname\" is mapped as identifiers.surname"),
        "{e}"
    );
    let e = mapping_error(&format!("{MINIMAL}age = \"Age\"\nage_band = \"Band\"\n"));
    assert!(e.contains("at most one of age_band, age"), "{e}");
    let e = mapping_error(&format!(
        "{MINIMAL}sex = {{ column = \"S\", value = \"male\" }}\n"
    ));
    assert!(
        e.contains("fields.sex: give either `column` or `value`"),
        "{e}"
    );
}

#[test]
fn a_column_missing_from_the_header_is_named() {
    let m = Mapping::from_toml(&format!("{MINIMAL}site_code = \"Site\"\n"), "m.toml").unwrap();
    let err = read_extract(
        &b"Attendance,Arrival\nA1,2026-10-01\n"[..],
        &m,
        &key(),
        &opts(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the export has no column \"Site\" (named by the mapping's fields.site_code); check the header row or the mapping"
    );
}

#[test]
fn emergency_department_rows_carry_no_tokens() {
    let m = Mapping::from_toml(
        &format!(
            "{MINIMAL}event_hour = {{ column = \"Arrival\", format = \"%Y-%m-%d %H:%M\" }}\n\
             site_code = \"Site\"\nage_band_from_date_of_birth = true\n\
             [identifiers]\ndate_of_birth = \"DOB\"\n"
        ),
        "m.toml",
    )
    .unwrap();
    let csv = "\u{feff}Attendance,Arrival,Site,DOB\nA1,2026-10-02 03:10,rqm01,2001-02-03\n";
    let out = read_extract(csv.as_bytes(), &m, &key(), &opts()).unwrap();
    assert!(out.is_clean(), "{:?}", out.rejects);
    let r = &out.records[0];
    assert_eq!(r.kind, RecordKind::EdAttendance.code());
    assert!(r.tokens.is_empty());
    assert_eq!(r.event_hour, Some(3));
    assert_eq!(r.site_code, "RQM01");
    assert_eq!(r.age_band, AgeBand::A25To34.code());
    assert_eq!(r.source_ref, hmac(b"ref:health:A1"));
}

#[test]
fn the_token_csv_has_the_agreed_columns_and_the_same_tokens() {
    let mut out = Vec::new();
    let s = write_token_csv(
        &example_csv()[..],
        &mut out,
        &example_mapping(),
        &key(),
        &opts(),
    )
    .unwrap();
    assert_eq!((s.rows, s.written, s.row_errors), (4, 4, 0));
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with(
        "source_ref,kind,role,event_date,date_precision,event_hour,ward_code,lsoa_code,category,\
         weapon,location_type,age_band,sex,rosh,dash_score,marac,flag_domestic_abuse,\
         flag_under_25,flag_exploitation,site_code,tok_nhs,tok_pnc,tok_sn_dob,"
    ));
    assert_eq!(header.split(',').count(), token_csv_header().len());
    assert_eq!(token_csv_header().len(), 20 + KeyName::ALL.len());
    let records = read_extract(&example_csv()[..], &example_mapping(), &key(), &opts())
        .unwrap()
        .records;
    let row: Vec<&str> = lines.nth(1).unwrap().split(',').collect();
    let r = &records[1];
    assert_eq!(row[0], hex::encode(hmac(b"ref:police:CR-0002")));
    assert_eq!(
        &row[1..20],
        [
            "crime",
            "suspect",
            "2026-10-04",
            "day",
            "1",
            "E05009392",
            "E01002816",
            "abh",
            "body",
            "licensed_premises",
            "35-49",
            "female",
            "",
            "",
            "false",
            "true",
            "false",
            "false",
            ""
        ]
    );
    // A multi-token key's tokens share one cell, joined by `;`.
    for (i, k) in KeyName::ALL.iter().enumerate() {
        let want: Vec<String> = tokens(r, *k).iter().map(hex::encode).collect();
        assert_eq!(row[20 + i], want.join(";"), "{k}");
        assert_eq!(want.len() > 1, row[20 + i].contains(';'), "{k}");
    }
    assert!(
        row[20..].iter().any(|c| c.contains(';')),
        "multi-token cells"
    );
    assert_eq!(text.lines().count(), 5);
}

#[test]
fn an_empty_map_value_or_otherwise_means_not_held() {
    let mapping = format!(
        "{MINIMAL}weapon = {{ column = \"Method\", map = {{ \"Fist\" = \"body\", \"Not known\" = \"\" }} }}\n\
         location_type = {{ column = \"Place\", map = {{ \"Street\" = \"street\" }}, otherwise = \"\" }}\n"
    );
    let m = Mapping::from_toml(&mapping, "m.toml").unwrap();
    let csv = "Attendance,Arrival,Method,Place\n\
               A1,2026-10-03,Fist,Street\n\
               A2,2026-10-04,not known,Bus stop\n\
               A3,2026-10-05,Spoon,Street\n";
    let out = read_extract(csv.as_bytes(), &m, &key(), &opts()).unwrap();
    assert_eq!(out.records.len(), 2);
    assert_eq!(out.records[0].weapon, Weapon::Body.code());
    assert_eq!(out.records[0].location_type, LocationType::Street.code());
    // Mapped to "": not held, not an error.
    assert_eq!(out.records[1].weapon, 0);
    assert_eq!(out.records[1].location_type, 0);
    // A value the map does not list, with no `otherwise`, is still an error.
    let shown: Vec<String> = out.rejects.iter().map(RowError::to_string).collect();
    assert_eq!(
        shown,
        [
            "line 4, column \"Method\": holds a value that fields.weapon.map does not list (add it to the map, or set fields.weapon.otherwise)"
        ]
    );
    // Every row needs a kind: an empty kind is refused when the mapping loads.
    let e = mapping_error(&MINIMAL.replace(
        "{ value = \"ed_attendance\" }",
        "{ column = \"Kind\", map = { \"ED\" = \"ed_attendance\", \"Other\" = \"\" } }",
    ));
    assert!(
        e.contains("record_kind: every row needs a record kind"),
        "{e}"
    );
}
