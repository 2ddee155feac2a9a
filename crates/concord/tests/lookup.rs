//! `concord lookup` through the built binary, against a real broker on
//! both stores: an export pushed with `concord push --csv`, then looked up
//! by flags and by a row of the same export (the same person, the same
//! pseudonym), a refusal that says what to do, and identifiers that are
//! never shown.

mod common;

use std::{fs, path::Path};

use common::{concord, repo, run};
use concord_e2e::{Db, TestBroker, both_stores};

const HEADER: &str = "URN,Record Type,Offence Date,Offence,Weapon,Location,Ward Code,LSOA Code,\
                      Role,Sex,DA Flag,Forename,Surname,Date of Birth,PNC ID,Home Postcode,Officer Notes";

/// Two crimes, two synthetic people.
fn export() -> String {
    format!(
        "{HEADER}\n\
         CR-1,Crime,03/10/2026 22:15,Assault with injury,Fists,Street,E05009391,E01002815,VIC,M,N,Tobias,Wrenfield,05/03/2004,,W10 6AB,\n\
         CR-4,Crime,05/10/2026 13:00,Robbery of personal property,Knife,Street,E05009392,,VIC,F,N,Ines,Quillfeather,12/07/1979,,SW3 5QT,\n"
    )
}

fn pki(tb: &TestBroker) -> &Path {
    tb.pki.ca_cert.parent().expect("the PKI directory")
}

fn lookup(tb: &TestBroker, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = concord(dir);
    cmd.arg("lookup")
        .arg("--broker")
        .arg(format!("https://localhost:{}", tb.addr.port()))
        .arg("--pki")
        .arg(pki(tb))
        .args(["--user", "mash-officer-1"])
        .args(args);
    let (out, stdout, stderr) = run(&mut cmd);
    (out.status.success(), stdout, stderr)
}

/// The pseudonym line's value.
fn pseudonym(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.split("pseudonym for your organisation ").nth(1))
        .unwrap_or_else(|| panic!("no pseudonym in {stdout}"))
        .trim()
        .to_owned()
}

const CASE: [&str; 4] = [
    "--purpose",
    "safeguarding_children",
    "--case-ref",
    "MASH-2026-0042",
];

both_stores!(
    a_mash_officer_looks_up_by_flags_and_by_a_row,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let csv = dir.join("police.csv");
        fs::write(&csv, export()).unwrap();
        let mapping = repo().join("crates/concord-agent/examples/police.mapping.toml");
        let (out, stdout, stderr) = run(concord(dir)
            .arg("push")
            .arg("--csv")
            .arg(&csv)
            .arg("--mapping")
            .arg(&mapping)
            .args([
                "--extract-id",
                "p1",
                "--period",
                "2026-10",
                "--mode",
                "snapshot",
            ])
            .arg("--broker")
            .arg(format!("https://localhost:{}", tb.addr.port()))
            .arg("--pki")
            .arg(pki(&tb))
            .args(["--user", "mps-cw-push"]));
        assert!(out.status.success(), "{stdout}{stderr}");
        tb.wait_linked(1).await;

        let by_flags = [
            "--forename",
            "Tobias",
            "--surname",
            "WRENFIELD",
            "--dob",
            "2004-03-05",
            "--postcode",
            "w10 6ab",
        ];
        let (ok, stdout, stderr) = lookup(&tb, dir, &[&by_flags[..], &CASE[..]].concat());
        assert!(ok, "{stdout}{stderr}");
        assert!(stdout.contains("person:        matched"), "{stdout}");
        assert!(stdout.contains("Police (1 record)"), "{stdout}");
        // Readable, as the dashboard names things: the ward's name, the
        // category's, the kind's; never a GSS code or a snake_case name.
        for shown in [
            "Chelsea Riverside",
            "Actual bodily harm",
            "Crime",
            "Victim",
            "Street",
        ] {
            assert!(stdout.contains(shown), "{shown}: {stdout}");
        }
        for code in ["E05009391", "abh", "crime ", "victim"] {
            assert!(!stdout.contains(code), "{code}: {stdout}");
        }
        // The police mapping holds no under-25 flag and no MARAC referral:
        // they are not recorded, never "no" (issue 18, item 9).
        let police = stdout
            .split("Police (1 record)\n")
            .nth(1)
            .expect("the police view");
        let mut lines = police.lines();
        let (heads, row) = (lines.next().unwrap(), lines.next().unwrap());
        for unheld in ["Under 25", "MARAC"] {
            let at = heads
                .find(unheld)
                .unwrap_or_else(|| panic!("{unheld}: {heads}"));
            assert!(
                row.get(at..).is_some_and(|c| c.starts_with("not recorded")),
                "{unheld}: {heads}\n{row}"
            );
        }
        assert!(!row.contains("false"), "{row}");
        assert!(stdout.contains("Withheld:"), "{stdout}");
        assert!(stdout.contains("Police: Hour, LSOA"), "{stdout}");
        assert!(
            stdout.contains("Obligations: notify_data_owner"),
            "{stdout}"
        );
        assert!(stdout.contains("inclusion proof verified"), "{stdout}");
        let tobias = pseudonym(&stdout);
        assert_eq!(tobias.len(), 64);
        for value in [
            "Tobias",
            "WRENFIELD",
            "Wrenfield",
            "W10 6AB",
            "w10 6ab",
            "CR-1",
        ] {
            assert!(
                !stdout.contains(value) && !stderr.contains(value),
                "{value} shown"
            );
        }

        // The same person from the export's row, read as the push agent reads it.
        let row = |n: &str| {
            let args = [
                "--csv",
                csv.to_str().unwrap(),
                "--row",
                n,
                "--mapping",
                mapping.to_str().unwrap(),
            ];
            lookup(&tb, dir, &[&args[..], &CASE[..]].concat())
        };
        let (ok, stdout, stderr) = row("1");
        assert!(ok, "{stdout}{stderr}");
        assert_eq!(pseudonym(&stdout), tobias, "row 1 is Tobias");
        let (ok, stdout, stderr) = row("2");
        assert!(ok, "{stdout}{stderr}");
        assert_ne!(pseudonym(&stdout), tobias, "row 2 is someone else");
        let (ok, _, stderr) = row("3");
        assert!(!ok);
        assert!(stderr.contains("2 row(s) after its header"), "{stderr}");

        // A purpose the policy refuses for lookups: refused, and what to do.
        let (ok, stdout, stderr) = lookup(
            &tb,
            dir,
            &[
                &by_flags[..],
                &[
                    "--purpose",
                    "serious_violence_analysis",
                    "--case-ref",
                    "MASH-2026-0042",
                ][..],
            ]
            .concat(),
        );
        assert!(!ok, "{stdout}");
        assert!(stderr.contains("PermissionDenied"), "{stderr}");
        assert!(stderr.contains("aggregate only"), "{stderr}");
        assert!(stderr.contains("check --purpose"), "{stderr}");

        // A bad identifier is named, never shown, and nothing is sent.
        let before = tb.broker.audit.size();
        let (ok, _, stderr) = lookup(
            &tb,
            dir,
            &[&by_flags[..], &["--nhs", "999 000 0019"][..], &CASE[..]].concat(),
        );
        assert!(!ok);
        assert!(stderr.contains("--nhs (nhs_check_digit)"), "{stderr}");
        assert!(stderr.contains("nothing was sent"), "{stderr}");
        assert!(!stderr.contains("0019"), "{stderr}");
        assert_eq!(tb.broker.audit.size(), before, "nothing reached the broker");
        tb.stop().await;
    }
);

#[test]
fn help_says_identifiers_stay_here() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, stdout, _) = run(concord(tmp.path()).args(["lookup", "--help"]));
    assert!(out.status.success());
    for text in [
        "--forename",
        "--csv",
        "--row",
        "--purpose",
        "--case-ref",
        "--reason",
        "never leave this machine",
    ] {
        assert!(stdout.contains(text), "{text}: {stdout}");
    }
}
