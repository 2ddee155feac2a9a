//! The agency side and the offline tools end to end, through the built
//! binary: `push --csv --mapping` (nothing sent unless every row is good;
//! `--rejects` sends the good rows), `tokenise` (whose token file `push
//! --tokens` accepts), `synth` (deterministic for a seed), `link` (quality
//! against the synthetic truth) and `demo`.

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use common::{Broker, concord, repo, run};
use concord_core::Source;
use concord_store::{Store, StoreOptions};

const HEADER: &str = "URN,Record Type,Offence Date,Offence,Weapon,Location,Ward Code,LSOA Code,\
                      Role,Sex,DA Flag,Forename,Surname,Date of Birth,PNC ID,Home Postcode,Officer Notes";

/// The agent's example mapping (a police violent-crime export).
fn police_mapping() -> PathBuf {
    repo().join("crates/concord-agent/examples/police.mapping.toml")
}

/// Rows 2 and 5 are good, row 3 has a bad date, row 4 a record type the
/// mapping does not list; row 5's forename is a placeholder. Every name is
/// synthetic; `SECRET` marks values that must never be shown.
fn export_with_bad_rows() -> String {
    format!(
        "{HEADER}\n\
         CR-1,Crime,03/10/2026 22:15,Assault with injury,Fists,Street,E05009391,E01002815,VIC,M,N,Tobias,Wrenfield,05/03/2004,,W10 6AB,\n\
         CR-2,Crime,SECRETDATE,Assault with injury,Fists,Street,E05009391,,VIC,M,N,Tobias,Wrenfield,05/03/2004,,W10 6AB,\n\
         CR-3,SECRETKIND,04/10/2026 10:00,Assault with injury,Fists,Street,E05009391,,VIC,M,N,Tobias,Wrenfield,05/03/2004,,W10 6AB,\n\
         CR-4,Crime,05/10/2026 13:00,Robbery of personal property,Knife,Street,E05009392,,VIC,F,N,UNKNOWN,Quillfeather,12/07/1979,,SW3 5QT,\n"
    )
}

fn push_csv(dir: &Path, port: u16, csv: &Path, extract_id: &str, extra: &[&str]) -> Command {
    let mut cmd = concord(dir);
    cmd.arg("push")
        .arg("--csv")
        .arg(csv)
        .arg("--mapping")
        .arg(police_mapping())
        .args(["--extract-id", extract_id, "--period", "2026-10"])
        .args(["--mode", "snapshot", "--broker"])
        .arg(format!("https://localhost:{port}"))
        .arg("--pki")
        .arg(dir.join("data/pki"))
        .args(["--user", "mps-cw-push"])
        .args(extra);
    cmd
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

/// The `value` of a `  name: value` receipt line.
fn receipt_field(stdout: &str, name: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .map(|v| v.trim().to_owned())
}

#[tokio::test]
async fn push_csv_sends_nothing_with_a_bad_row_and_rejects_sends_the_good_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(dir);
    let csv = dir.join("police.csv");
    fs::write(&csv, export_with_bad_rows()).unwrap();

    // Every bad row is named by line and column, with no value; nothing is sent.
    let (out, stdout, stderr) = run(&mut push_csv(dir, broker.port, &csv, "p1", &[]));
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains("line 3, column \"Offence Date\": is not a date"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "line 4, column \"Record Type\": holds a value that record_kind.map does not list"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("2 row error(s)"), "{stderr}");
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert!(
        stderr.contains("--rejects"),
        "says what to do next: {stderr}"
    );
    for value in ["SECRET", "Wrenfield", "Tobias", "W10 6AB", "CR-2"] {
        assert!(
            !stderr.contains(value) && !stdout.contains(value),
            "{value} shown"
        );
    }
    assert_eq!(stored_police_records(dir).await, 0, "nothing was stored");

    // --source must agree with the mapping.
    let (out, _, stderr) = run(&mut push_csv(
        dir,
        broker.port,
        &csv,
        "p1",
        &["--source", "health"],
    ));
    assert!(!out.status.success());
    assert!(
        stderr.contains("--source health disagrees with the mapping"),
        "{stderr}"
    );

    // With --rejects, the good rows go and the bad ones are set aside.
    let rejects = dir.join("rejects.csv");
    let (out, stdout, stderr) = run(&mut push_csv(
        dir,
        broker.port,
        &csv,
        "p1",
        &["--rejects", rejects.to_str().unwrap()],
    ));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("extract p1 of police"), "{stdout}");
    assert!(!stdout.contains("already accepted"), "{stdout}");
    assert_eq!(receipt_field(&stdout, "stored:").as_deref(), Some("2"));
    assert!(
        stdout.contains("identifiers dropped as placeholder or invalid (1 in all, by reason): forename_placeholder=1"),
        "{stdout}"
    );
    assert!(stdout.contains("2 row error(s) set aside"), "{stdout}");
    let set_aside = fs::read_to_string(&rejects).unwrap();
    let lines: Vec<&str> = set_aside.lines().collect();
    assert_eq!(lines[0], "line,column,reason");
    assert!(
        lines[1].starts_with("3,Offence Date,\"is not a date"),
        "{set_aside}"
    );
    assert!(
        lines[2].starts_with("4,Record Type,\"holds a value"),
        "{set_aside}"
    );
    assert_eq!(lines.len(), 3);
    assert!(!set_aside.contains("SECRET"), "{set_aside}");
    assert_eq!(stored_police_records(dir).await, 2);

    let log = broker.stop();
    for value in ["Wrenfield", "Tobias", "W10 6AB", "CR-1"] {
        assert!(!log.contains(value), "{value} reached the broker's log");
    }
}

#[test]
fn tokenise_writes_a_token_file_that_push_tokens_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(dir);
    let tokens = dir.join("police.tokens.csv");
    let export = repo().join("crates/concord-agent/testdata/police.csv");
    let (out, stdout, stderr) = run(concord(dir)
        .args(["tokenise", "--csv"])
        .arg(&export)
        .arg("--mapping")
        .arg(police_mapping())
        .arg("--out")
        .arg(&tokens)
        .arg("--linkage-key")
        .arg(dir.join("data/pki/keys/linkage.json")));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("4 record(s)"), "{stdout}");
    assert!(
        stdout.contains("forename_placeholder=1") && stdout.contains("postcode_placeholder=1"),
        "{stdout}"
    );
    let text = fs::read_to_string(&tokens).unwrap();
    assert!(
        text.starts_with("source_ref,kind,role,event_date"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5);
    // The export's identifiers and free text stop at the agent.
    let raw = fs::read_to_string(&export).unwrap();
    for value in [
        "Wrenfield",
        "Tobias",
        "W10 6AB",
        "05/03/2004",
        "CR-0001",
        "Synthetic note",
    ] {
        assert!(raw.contains(value));
        assert!(!text.contains(value), "{value} is in the token file");
    }
    assert!(!dir.join("police.tokens.csv.partial").exists());

    let (out, stdout, stderr) = run(concord(dir)
        .arg("push")
        .arg("--tokens")
        .arg(&tokens)
        .args(["--source", "police", "--extract-id", "t1"])
        .args(["--period", "2026-10", "--mode", "snapshot"])
        .arg("--broker")
        .arg(format!("https://localhost:{}", broker.port))
        .arg("--pki")
        .arg(dir.join("data/pki"))
        .args(["--user", "mps-cw-push"]));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(receipt_field(&stdout, "stored:").as_deref(), Some("4"));
    broker.stop();

    // A bad row: no token file at all, and the row named.
    let bad = dir.join("bad.csv");
    fs::write(&bad, export_with_bad_rows()).unwrap();
    let out_file = dir.join("bad.tokens.csv");
    let (out, _, stderr) = run(concord(dir)
        .args(["tokenise", "--csv"])
        .arg(&bad)
        .arg("--mapping")
        .arg(police_mapping())
        .arg("--out")
        .arg(&out_file)
        .arg("--pki")
        .arg(dir.join("data/pki")));
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 3, column \"Offence Date\""),
        "{stderr}"
    );
    assert!(stderr.contains("no token file was written"), "{stderr}");
    assert!(!out_file.exists() && !dir.join("bad.tokens.csv.partial").exists());
}

fn synth(dir: &Path, out: &str, seed: &str, people: &str) {
    let (status, stdout, stderr) =
        run(concord(dir).args(["synth", "--out", out, "--seed", seed, "--people", people]));
    assert!(status.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("police_violent_crime.csv"), "{stdout}");
    assert!(stdout.contains("truth.csv"), "{stdout}");
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn synth_writes_the_same_files_for_the_same_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(dir, "a", "7", "1000");
    synth(dir, "b", "7", "1000");
    synth(dir, "c", "8", "1000");
    let (a, b, c) = (
        files(&dir.join("a")),
        files(&dir.join("b")),
        files(&dir.join("c")),
    );
    assert_eq!(
        a.len(),
        9 * 2 + 1,
        "{:?}",
        a.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(a, b, "the same seed gives the same files");
    assert_ne!(a, c, "another seed gives other files");
}

/// The `overall:` figures of a quality report.
fn overall(stdout: &str) -> (f64, f64) {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("overall: pairwise precision"))
        .unwrap_or_else(|| panic!("no overall line in:\n{stdout}"));
    let number = |after: &str| -> f64 {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        rest.trim_start()
            .split([',', ' '])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number("precision"), number("recall"))
}

#[test]
fn link_measures_quality_on_a_synthetic_population() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(dir, "synth", "11", "3000");
    let (out, _, stderr) = run(concord(dir)
        .args(["pki", "init", "--dir", "pki", "--partnership"])
        .arg(repo().join("policies/data/partnership.json")));
    assert!(out.status.success(), "{stderr}");
    fs::create_dir(dir.join("tok")).unwrap();
    let mut token_files = Vec::new();
    for entry in fs::read_dir(dir.join("synth")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".csv") else {
            continue;
        };
        if stem == "truth" {
            continue;
        }
        let tokens = format!("tok/{stem}.tokens.csv");
        let (out, stdout, stderr) = run(concord(dir).args([
            "tokenise",
            "--csv",
            &format!("synth/{stem}.csv"),
            "--mapping",
            &format!("synth/{stem}.mapping.toml"),
            "--out",
            &tokens,
            "--pki",
            "pki",
        ]));
        assert!(out.status.success(), "{stem}: {stdout}{stderr}");
        token_files.push(tokens);
    }
    assert_eq!(token_files.len(), 9);
    token_files.sort();

    // The source of each file comes from its name (synth data set names).
    let (out, stdout, stderr) = run(concord(dir)
        .args(["link", "--tokens"])
        .args(&token_files)
        .args([
            "--out",
            "clusters.csv",
            "--truth",
            "synth/truth.csv",
            "--pki",
            "pki",
        ]));
    assert!(out.status.success(), "{stdout}{stderr}");
    let (precision, recall) = overall(&stdout);
    assert!(precision >= 0.9 && recall >= 0.9, "{stdout}");
    assert!(stdout.contains("police × probation"), "{stdout}");
    assert!(stdout.contains("clusters: precision"), "{stdout}");
    let clusters = fs::read_to_string(dir.join("clusters.csv")).unwrap();
    assert!(clusters.starts_with("file,line,source,source_ref,person,outcome\n"));
    assert!(clusters.contains(",linked\n"), "some records are linked");
    assert!(clusters.contains(",health,") && clusters.contains(",no_tokens\n"));
    // The review queue says how each open pair agreed.
    let possible = fs::read_to_string(dir.join("possible.csv")).unwrap();
    let mut lines = possible.lines();
    assert_eq!(
        lines.next(),
        Some(
            "file,line,source,source_ref,person,candidate_person,score,match_probability,\
             forename,surname,date_of_birth,postcode"
        )
    );
    let vocabulary = [
        "",
        "exact",
        "variant",
        "one_edit",
        "part",
        "phonetic",
        "initial",
        "day_month_swapped",
        "year_month",
        "disagree",
    ];
    let rows: Vec<&str> = lines.collect();
    assert!(
        !rows.is_empty(),
        "the population has pairs to review: {stdout}"
    );
    for line in rows {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 12, "{line}");
        let score: f64 = cells[6].parse().unwrap();
        let probability: f64 = cells[7].parse().unwrap();
        assert!((0.0..=1.0).contains(&probability), "{line}");
        assert!(
            (probability - 1.0 / (1.0 + (-score).exp2())).abs() < 0.01,
            "{line}"
        );
        assert!(cells[8..].iter().all(|l| vocabulary.contains(l)), "{line}");
        assert!(cells[8..].iter().any(|l| !l.is_empty()), "{line}");
    }

    // The wrong key joins nothing to the truth, and says so.
    let (out, _, stderr) = run(concord(dir)
        .args(["pki", "init", "--dir", "other", "--partnership"])
        .arg(repo().join("policies/data/partnership.json")));
    assert!(out.status.success(), "{stderr}");
    let (out, _, stderr) = run(concord(dir)
        .args(["link", "--tokens"])
        .args(&token_files)
        .args(["--out", "c2.csv", "--truth", "synth/truth.csv"])
        .args(["--linkage-key", "other/keys/linkage.json"]));
    assert!(!out.status.success());
    assert!(
        stderr.contains("no record of the token files is in the truth"),
        "{stderr}"
    );
}

#[test]
fn demo_runs_the_whole_chain_and_prints_what_was_linked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let demo = || {
        run(concord(dir)
            .args(["demo", "--dir", "demo", "--people", "300", "--policy-dir"])
            .arg(repo().join("policies")))
    };
    let (out, stdout, stderr) = demo();
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("(development PKI, created now)"),
        "{stdout}"
    );
    for data_set in ["police_violent_crime", "probation", "ed_assaults"] {
        assert!(
            stdout.contains(data_set),
            "{data_set} not pushed:\n{stdout}"
        );
    }
    assert!(stdout.contains("as mps-cw-push"), "{stdout}");
    let linked = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("people:"))
        .unwrap_or_else(|| panic!("no people line:\n{stdout}"));
    let people: u64 = linked.split_whitespace().next().unwrap().parse().unwrap();
    assert!(people > 0, "{stdout}");
    assert!(stdout.contains("known to 2+ sources:"), "{stdout}");
    assert!(stdout.contains("pending reviews:"), "{stdout}");
    let (precision, recall) = overall(&stdout);
    assert!(precision >= 0.9 && recall >= 0.9, "{stdout}");

    // Again: the PKI is reused and the database starts empty.
    let (out, again, stderr) = demo();
    assert!(out.status.success(), "{again}{stderr}");
    assert!(again.contains("(development PKI, reused)"), "{again}");
    assert!(!again.contains("already accepted"), "{again}");
    assert!(again.contains(&format!("people:{linked}")), "{again}");
}

#[test]
fn help_names_the_agency_and_offline_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, stdout, _) = run(concord(tmp.path()).arg("--help"));
    assert!(out.status.success());
    for sub in ["tokenise", "link", "synth", "demo"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{stdout}"
        );
    }
    for sub in ["push", "tokenise", "link", "synth", "demo"] {
        let (out, stdout, stderr) = run(concord(tmp.path()).args([sub, "--help"]));
        assert!(out.status.success(), "{sub}: {stderr}");
        assert!(stdout.contains("Usage: concord"), "{sub}: {stdout}");
    }
    let (_, stdout, _) = run(concord(tmp.path()).args(["push", "--help"]));
    assert!(
        stdout.contains("--csv") && stdout.contains("--rejects"),
        "{stdout}"
    );
}
