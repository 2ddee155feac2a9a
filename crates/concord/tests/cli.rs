//! The `concord` binary end to end: each test runs the built binary in its
//! own temporary directory; the broker binds port 0 and says where it
//! listens, so no port is shared and nothing sleeps.

mod common;

use common::{Broker, concord, push, repo, run};

#[test]
fn help_lists_the_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, stdout, _) = run(concord(tmp.path()).arg("--help"));
    assert!(out.status.success());
    for sub in ["serve", "pki", "push", "policy"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{stdout}"
        );
    }
    let (out, stdout, _) = run(concord(tmp.path()).args(["push", "--help"]));
    assert!(out.status.success());
    assert!(stdout.contains("Token CSV format"), "{stdout}");
}

#[test]
fn pki_init_writes_once_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let partnership = repo().join("policies/data/partnership.json");
    let init = || {
        let mut cmd = concord(tmp.path());
        cmd.args(["pki", "init", "--dir"])
            .arg(&dir)
            .arg("--partnership")
            .arg(&partnership)
            .args(["--host", "broker.internal"]);
        run(&mut cmd)
    };
    let (out, stdout, stderr) = init();
    assert!(out.status.success(), "{stderr}");
    for file in [
        "ca.pem",
        "ca.key",
        "server.pem",
        "server.key",
        "keys/broker.json",
        "keys/linkage.json",
        "keys/audit.json",
        "clients/mps-cw-push.pem",
        "clients/mps-cw-push.key",
    ] {
        assert!(dir.join(file).is_file(), "{file} was not written");
    }
    assert!(
        stdout.contains("mps-cw-push@mps-cw (push_agent)"),
        "{stdout}"
    );
    assert!(stdout.contains("broker.internal"), "{stdout}");
    // Paths only: no key material.
    assert!(!stdout.contains("PRIVATE KEY") && !stdout.contains("secret_hex"));

    let ca_before = std::fs::read(dir.join("ca.pem")).unwrap();
    let (out, _, stderr) = init();
    assert!(!out.status.success());
    assert!(stderr.contains("ca.pem already exists"), "{stderr}");
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), ca_before);
}

#[test]
fn policy_test_runs_the_shipped_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, stdout, stderr) = run(concord(tmp.path())
        .args(["policy", "test", "--dir"])
        .arg(repo().join("policies")));
    assert!(out.status.success(), "{stdout}{stderr}");
    let summary = stdout
        .lines()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or_default();
    assert!(
        summary.contains(" passed, ") && summary.ends_with(" 0 failed"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or_default()
            .contains("the broker would load this bundle"),
        "{stdout}"
    );
}

#[test]
fn serve_refuses_a_bad_configuration_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(concord(tmp.path()).args(["serve", "--listen", "nowhere"]));
    assert!(!out.status.success());
    assert!(
        stderr.contains("config: --listen \"nowhere\" is not a socket address"),
        "{stderr}"
    );
    std::fs::write(tmp.path().join("concord.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let (out, _, stderr) = run(concord(tmp.path()).arg("serve"));
    assert!(!out.status.success());
    assert!(stderr.contains("unknown field `lisen`"), "{stderr}");
    assert!(
        !tmp.path().join(".concord").exists(),
        "nothing is created before the configuration is valid"
    );
}

#[test]
fn serve_refuses_a_pki_table_naming_every_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("concord.toml"),
        "linkage_key_id = \"lk-2026a\"\n[pki]\nca_cert = \"ca.pem\"\nserver_cert = \"server.pem\"\nserver_key = \"server.key\"\nbroker_key = \"broker.json\"\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("ca.pem"), "not really").unwrap();
    let (out, _, stderr) = run(concord(tmp.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--policy-dir"])
        .arg(repo().join("policies")));
    assert!(!out.status.success());
    assert!(
        stderr.contains("4 PKI file(s) missing or unreadable"),
        "{stderr}"
    );
    // pki.audit_key defaults to audit.json beside the broker key.
    for key in [
        "pki.server_cert",
        "pki.server_key",
        "pki.broker_key",
        "pki.audit_key",
    ] {
        assert!(stderr.contains(key), "{key} not named in {stderr}");
    }
    assert!(
        !tmp.path().join(".concord/pki").exists(),
        "a [pki] table never creates keys"
    );
}

#[test]
fn serve_then_push_the_example_extract() {
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(tmp.path());
    let startup = &broker.startup;
    assert!(startup.contains("created a development PKI"), "{startup}");
    assert!(startup.contains("sqlite:"), "{startup}");
    assert!(startup.contains("revision"), "{startup}");

    let (out, stdout, stderr) = push(tmp.path(), broker.port, "mps-cw-push", "t1");
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("extract t1 of police"), "{stdout}");
    assert!(stdout.contains("accepted"), "{stdout}");
    assert!(!stdout.contains("already accepted"), "{stdout}");
    let count = |text: &str, what: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(what))
            .map(|n| n.trim().to_owned())
    };
    assert_eq!(count(&stdout, "stored:").as_deref(), Some("5"), "{stdout}");
    assert_eq!(
        count(&stdout, "received:").as_deref(),
        Some("5"),
        "{stdout}"
    );
    let digest = count(&stdout, "stored digest:").unwrap();
    assert_eq!(digest.len(), 64, "{stdout}");

    // The same extract again: the stored receipt, marked as such.
    let (out, again, stderr) = push(tmp.path(), broker.port, "mps-cw-push", "t1");
    assert!(out.status.success(), "{again}{stderr}");
    assert!(
        again.contains("(already accepted: this is the stored receipt)"),
        "{again}"
    );
    assert_eq!(count(&again, "stored digest:").unwrap(), digest);

    // Children's services may not push police data.
    let (out, stdout, stderr) = push(tmp.path(), broker.port, "rbkc-childrens-push", "t2");
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("PermissionDenied"), "{stderr}");
    assert!(
        stderr.contains("rbkc-childrens may not push source police"),
        "{stderr}"
    );

    let log = broker.stop();
    assert!(
        log.contains("shutting down: letting in-flight extracts finish"),
        "{log}"
    );
    // The broker's log never holds a token or source reference it was sent.
    let tokens =
        std::fs::read_to_string(repo().join("deploy/examples/police-2026-10.tokens.csv")).unwrap();
    let first_ref = tokens.lines().nth(1).unwrap().split(',').next().unwrap();
    assert!(!log.contains(first_ref));
}

#[test]
fn serve_puts_metrics_where_metrics_listen_says() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    // Another loopback address than the default 127.0.0.1, port 0: the
    // address shows the flag was honoured, and no port is shared.
    let broker = Broker::start_with(tmp.path(), &["--metrics-listen", "127.0.0.2:0"]);
    let startup = &broker.startup;
    let url = startup
        .lines()
        .find_map(|l| l.trim().strip_prefix("metrics:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no metrics line:\n{startup}"));
    let addr = url
        .strip_prefix("http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("not a metrics URL: {url}"));
    assert!(addr.starts_with("127.0.0.2:"), "{startup}");

    let mut stream = std::net::TcpStream::connect(addr).expect("the metrics port answers");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: concord\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("concord_linkage_reviews_pending"),
        "{response}"
    );
    broker.stop();
}

#[test]
fn a_bad_token_file_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.csv");
    std::fs::write(
        &file,
        "source_ref,kind,event_date,ward_code\nnothex,crime,2026-10-03,E05009391\n",
    )
    .unwrap();
    // No broker at all: the file is refused before any connection is tried.
    let (out, _, stderr) = run(concord(tmp.path())
        .arg("push")
        .arg("--tokens")
        .arg(&file)
        .args([
            "--source",
            "police",
            "--extract-id",
            "t1",
            "--period",
            "2026-10",
        ])
        .args(["--mode", "snapshot", "--linkage-key-id", "lk-2026a"])
        .args([
            "--ca",
            "/nonexistent/ca.pem",
            "--cert",
            "/nonexistent/c.pem",
        ])
        .args(["--key", "/nonexistent/c.key"]));
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot read the CA certificate"),
        "{stderr}"
    );

    let pki = tmp.path().join("pki");
    let (out, _, stderr) = run(concord(tmp.path())
        .args(["pki", "init", "--dir"])
        .arg(&pki)
        .arg("--partnership")
        .arg(repo().join("policies/data/partnership.json")));
    assert!(out.status.success(), "{stderr}");
    let (out, _, stderr) = run(concord(tmp.path())
        .arg("push")
        .arg("--tokens")
        .arg(&file)
        .args([
            "--source",
            "police",
            "--extract-id",
            "t1",
            "--period",
            "2026-10",
        ])
        .args(["--mode", "snapshot", "--broker", "https://localhost:1"])
        .arg("--pki")
        .arg(&pki)
        .args(["--user", "mps-cw-push"]));
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 2, column source_ref: must be 64 hex characters"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert!(!stderr.contains("nothex"), "{stderr}");
    assert!(!stderr.contains("cannot reach the broker"), "{stderr}");
}
