//! `concord report` and `concord dashboard-link` against a real `concord
//! serve`: the board's report is one self-contained HTML file, the sign-in
//! link points at the dashboard the broker announced, and roles the
//! aggregate policy does not allow get neither.

mod common;

use common::{Broker, concord, push, run};

fn broker_args(dir: &std::path::Path, port: u16, user: &str) -> Vec<String> {
    vec![
        "--broker".into(),
        format!("https://localhost:{port}"),
        "--pki".into(),
        dir.join("data/pki").display().to_string(),
        "--user".into(),
        user.into(),
    ]
}

#[test]
fn the_board_gets_a_self_contained_report_and_a_sign_in_link() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(dir);
    let web_port: u16 = broker
        .startup
        .lines()
        .find_map(|l| l.trim().strip_prefix("dashboard:"))
        .and_then(|l| l.trim().strip_prefix("https://localhost:"))
        .and_then(|l| l.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no dashboard line:\n{}", broker.startup));
    assert_ne!(web_port, broker.port);

    let (out, stdout, stderr) = push(dir, broker.port, "mps-cw-push", "t1");
    assert!(out.status.success(), "{stdout}{stderr}");

    // The report, as a board member.
    let (out, stdout, stderr) = run(concord(dir)
        .args(["report", "--period", "2026-10", "--out", "board.html"])
        .args(broker_args(dir, broker.port, "board-member-1")));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("wrote board.html"), "{stdout}");
    assert!(stdout.contains("October 2026"), "{stdout}");
    let html = std::fs::read_to_string(dir.join("board.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>Board report: October 2026</title>"));
    assert!(html.contains("<svg class=\"chart\""));
    assert!(html.contains("@media print"));
    for (_, ward) in concord_core::RBKC_WARDS {
        let escaped = ward.replace('&', "&amp;").replace('\'', "&#39;");
        assert!(html.contains(&escaped), "{ward} missing");
    }
    let lower = html.to_lowercase();
    for fetches in ["<script", "<link", "<img", "src=", "url(", "@import"] {
        assert!(
            !lower.contains(fetches),
            "the report must fetch nothing: {fetches}"
        );
    }
    assert_eq!(
        lower.matches("http").count(),
        lower
            .matches("xmlns=\"http://www.w3.org/2000/svg\"")
            .count(),
        "no address but the SVG namespace"
    );

    // An analyst's sign-in link points at the dashboard the broker announced.
    let (out, stdout, stderr) = run(concord(dir)
        .args(["dashboard-link", "--period", "2026-10"])
        .args(broker_args(dir, broker.port, "analyst-1")));
    assert!(out.status.success(), "{stdout}{stderr}");
    let link = stdout.trim();
    let token = link
        .strip_prefix(&format!("https://localhost:{web_port}/login?token="))
        .unwrap_or_else(|| panic!("{link}"));
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(stderr.contains("works once"), "{stderr}");

    // A MASH officer gets neither.
    let (out, _, stderr) = run(concord(dir)
        .args(["report", "--period", "2026-10", "--out", "officer.html"])
        .args(broker_args(dir, broker.port, "mash-officer-1")));
    assert!(!out.status.success());
    assert!(stderr.contains("PermissionDenied"), "{stderr}");
    assert!(!dir.join("officer.html").exists());
    let (out, _, stderr) = run(concord(dir).arg("dashboard-link").args(broker_args(
        dir,
        broker.port,
        "mash-officer-1",
    )));
    assert!(!out.status.success());
    assert!(stderr.contains("PermissionDenied"), "{stderr}");

    // A period that is not one is refused before anything is sent.
    let (out, _, stderr) = run(concord(dir)
        .args(["report", "--period", "2026-13", "--out", "x.html"])
        .args(broker_args(dir, broker.port, "board-member-1")));
    assert!(!out.status.success());
    assert!(stderr.contains("--period \"2026-13\""), "{stderr}");

    let log = broker.stop();
    assert!(!log.contains(token), "the sign-in token is never logged");
}

#[test]
fn the_demo_writes_the_board_report_and_says_how_to_keep_the_dashboard_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, stdout, stderr) = run(concord(dir)
        .args(["demo", "--dir", "demo", "--people", "300", "--policy-dir"])
        .arg(common::repo().join("policies")));
    assert!(out.status.success(), "{stdout}{stderr}");
    let report = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("report:"))
        .unwrap_or_else(|| panic!("no report line:\n{stdout}"));
    let panels = concord_disclosure::PANELS.len();
    assert!(
        report.contains(&format!("board.html (October 2026: {panels} panels")),
        "{report}"
    );
    // Without --serve the broker stops with the demo: no address that
    // would point at nothing, but how to keep the dashboard up.
    let dashboard = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("dashboard:"))
        .unwrap_or_else(|| panic!("no dashboard line:\n{stdout}"));
    assert!(!dashboard.contains("https://"), "{dashboard}");
    assert!(dashboard.contains("concord demo --serve"), "{dashboard}");
    let html = std::fs::read_to_string(dir.join("demo/board.html")).unwrap();
    assert!(html.contains("<title>Board report: October 2026</title>"));
    assert!(
        html.contains("[c]"),
        "a small population has suppressed cells"
    );
}
