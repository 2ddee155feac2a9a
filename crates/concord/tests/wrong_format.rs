//! An export in the wrong format is stopped, not half-dropped (issue 18,
//! item 8): a date-of-birth column in US order would lose most of its
//! identifiers as `dob_invalid`; `concord push` and `concord tokenise`
//! refuse it before sending or writing anything, naming the column, the
//! layout it looks like and the mapping line that reads it.

mod common;

use std::{fs, path::Path};

use common::{Broker, concord, repo, run};
use concord_core::Source;
use concord_store::{Store, StoreOptions};

const HEADER: &str = "URN,Record Type,Offence Date,Offence,Weapon,Location,Ward Code,LSOA Code,\
                      Role,Sex,DA Flag,Forename,Surname,Date of Birth,PNC ID,Home Postcode,Officer Notes";

/// Twenty rows whose dates of birth are written MM/DD/YYYY; in 12 of them
/// the day is above 12, so read as DD/MM/YYYY they are no date at all
/// (60%), and the other 8 would be read with day and month swapped.
fn us_export() -> String {
    let mut csv = format!("{HEADER}\n");
    for i in 0..20u32 {
        let (month, day) = if i < 12 {
            (1 + i % 12, 13 + i)
        } else {
            (1 + i % 12, 1 + i % 12)
        };
        csv.push_str(&format!(
            "CR-{i},Crime,03/10/2026 22:15,Assault with injury,Fists,Street,E05009391,E01002815,\
             VIC,M,N,Tobias{},Wrenfield,{month:02}/{day:02}/19{},,W10 6AB,\n",
            char::from(b'a' + i as u8),
            70 + i
        ));
    }
    csv
}

fn mapping_with(dir: &Path, extra_identifier_line: &str) -> std::path::PathBuf {
    let text = fs::read_to_string(repo().join("crates/concord-agent/examples/police.mapping.toml"))
        .unwrap()
        .replace(
            "date_of_birth = \"Date of Birth\"",
            &format!("date_of_birth = \"Date of Birth\"\n{extra_identifier_line}"),
        );
    let path = dir.join(format!(
        "police-{}.mapping.toml",
        extra_identifier_line.len()
    ));
    fs::write(&path, text).unwrap();
    path
}

async fn stored_police_records(dir: &Path) -> u64 {
    let url = format!("sqlite:{}", dir.join("data/concord.sqlite").display());
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    let n = store.count_records(Some(Source::Police)).await.unwrap();
    store.close().await;
    n
}

#[tokio::test]
async fn a_us_format_export_is_refused_naming_the_column_and_nothing_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(dir);
    let csv = dir.join("police.csv");
    fs::write(&csv, us_export()).unwrap();
    let push = |mapping: &Path, id: &str| {
        let mut cmd = concord(dir);
        cmd.arg("push")
            .arg("--csv")
            .arg(&csv)
            .arg("--mapping")
            .arg(mapping)
            .args(["--extract-id", id, "--period", "2026-10"])
            .args(["--mode", "snapshot", "--broker"])
            .arg(format!("https://localhost:{}", broker.port))
            .arg("--pki")
            .arg(dir.join("data/pki"))
            .args(["--user", "mps-cw-push"]);
        cmd
    };

    let plain = mapping_with(dir, "");
    let (out, stdout, stderr) = run(&mut push(&plain, "us-1"));
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains(
            "column \"Date of Birth\" (identifiers.date_of_birth): 12 of 20 rows (60.0%) failed \
             validation (dob_invalid=12)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("look like MM/DD/YYYY"), "{stderr}");
    assert!(
        stderr.contains("date_of_birth_format = \"%m/%d/%Y\" under [identifiers]"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    for value in ["Wrenfield", "Tobias", "W10 6AB", "CR-1", "/1971"] {
        assert!(
            !stderr.contains(value) && !stdout.contains(value),
            "{value} shown"
        );
    }
    assert_eq!(stored_police_records(dir).await, 0, "nothing was stored");

    // tokenise stops the same way, and leaves no token file.
    let tokens = dir.join("police.tokens.csv");
    let (out, _, stderr) = run(concord(dir)
        .arg("tokenise")
        .arg("--csv")
        .arg(&csv)
        .arg("--mapping")
        .arg(&plain)
        .arg("--out")
        .arg(&tokens)
        .arg("--pki")
        .arg(dir.join("data/pki")));
    assert!(!out.status.success());
    assert!(stderr.contains("column \"Date of Birth\""), "{stderr}");
    assert!(stderr.contains("no token file was written"), "{stderr}");
    assert!(!tokens.exists() && !dir.join("police.tokens.csv.partial").exists());

    // A higher allowance is a deliberate choice, and lets it through.
    let (out, stdout, stderr) = run(push(&plain, "us-2").args(["--max-invalid-share", "0.7"]));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("dob_invalid=12"), "{stdout}");

    // Mapped as the message says, every date of birth is read.
    let us = mapping_with(dir, "date_of_birth_format = \"%m/%d/%Y\"");
    let (out, stdout, stderr) = run(&mut push(&us, "us-3"));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(!stdout.contains("dob_invalid"), "{stdout}");
    assert_eq!(stored_police_records(dir).await, 20);
    broker.stop();
}
