//! `concord pki revoke` through the binary, and the development-mode
//! broker loading the CRL it writes: the revoked user's push is refused at
//! the TLS handshake, another user's connection still gets through.

mod common;

use common::{Broker, concord, push, run};
use concord_pki::{CertificateAuthority, PkiLayout, cert_serial};

fn revoke(dir: &std::path::Path, user: &str) -> (std::process::Output, String, String) {
    run(concord(dir)
        .args(["pki", "revoke", "--pki"])
        .arg(dir.join("data/pki"))
        .args(["--user", user]))
}

fn read_crl(layout: &PkiLayout) -> concord_pki::Crl {
    let ca = CertificateAuthority::from_pem(
        &std::fs::read_to_string(&layout.ca_cert).unwrap(),
        &std::fs::read_to_string(&layout.ca_key).unwrap(),
    )
    .unwrap();
    ca.read_crl(&std::fs::read(layout.crl()).unwrap()).unwrap()
}

fn serial(layout: &PkiLayout, user: &str) -> Vec<u8> {
    cert_serial(&std::fs::read(layout.client_cert(user)).unwrap()).unwrap()
}

/// Another user gets through TLS to the ingest policy, which refuses it
/// the police source.
fn another_user_reaches_the_policy(dir: &std::path::Path, port: u16, extract_id: &str) {
    let (out, _, stderr) = push(dir, port, "rbkc-childrens-push", extract_id);
    assert!(!out.status.success());
    assert!(
        stderr.contains("PermissionDenied") && stderr.contains("may not push source police"),
        "{stderr}"
    );
}

fn assert_handshake_refused_as_revoked(log: &str) {
    assert!(
        log.contains("tls handshake refused") && log.contains("Revoked"),
        "{log}"
    );
}

#[test]
fn pki_revoke_writes_a_crl_the_development_broker_enforces() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The first start creates the development PKI; the push works.
    let broker = Broker::start(dir);
    assert!(!broker.startup.contains("crl.pem"), "{}", broker.startup);
    let (out, _, stderr) = push(dir, broker.port, "mps-cw-push", "before-revoke");
    assert!(out.status.success(), "{stderr}");
    broker.stop();
    let layout = PkiLayout::at(&dir.join("data/pki"));

    let (out, stdout, stderr) = revoke(dir, "mps-cw-push");
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("CRL number 1"), "{stdout}");
    assert!(stdout.contains("pki.crl_files"), "{stdout}");
    assert!(stdout.contains("SIGHUP"), "{stdout}");
    assert!(!stdout.contains("PRIVATE KEY"), "{stdout}");
    let crl = read_crl(&layout);
    assert_eq!(crl.number, 1);
    assert!(crl.lists(&serial(&layout, "mps-cw-push")));

    // A second user: the first stays listed, the number goes up.
    let (out, stdout, stderr) = revoke(dir, "analyst-1");
    assert!(out.status.success(), "{stdout}{stderr}");
    let crl = read_crl(&layout);
    assert_eq!(crl.number, 2);
    assert_eq!(crl.revoked.len(), 2);
    assert!(crl.lists(&serial(&layout, "mps-cw-push")));
    assert!(crl.lists(&serial(&layout, "analyst-1")));

    // Again, or a user with no certificate: nothing changes.
    let before = std::fs::read(layout.crl()).unwrap();
    let (out, stdout, _) = revoke(dir, "analyst-1");
    assert!(out.status.success());
    assert!(stdout.contains("already revoked"), "{stdout}");
    let (out, _, stderr) = revoke(dir, "nobody");
    assert!(!out.status.success());
    assert!(
        stderr.contains("no client certificate at") && stderr.contains("clients/nobody.pem"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(layout.crl()).unwrap(), before);

    // Restarted, the development broker loads crl.pem: the revoked user's
    // handshake is refused (nothing stored), another user's connection gets
    // through TLS to the ingest policy (which refuses it the police source).
    let broker = Broker::start(dir);
    assert!(
        broker.startup.contains("revocations in crl.pem"),
        "{}",
        broker.startup
    );
    let (out, _, stderr) = push(dir, broker.port, "mps-cw-push", "after-revoke");
    assert!(
        !out.status.success(),
        "a revoked certificate pushed: {stderr}"
    );
    assert!(stderr.contains("nothing was stored"), "{stderr}");
    another_user_reaches_the_policy(dir, broker.port, "after-revoke");
    let log = broker.stop();
    assert_handshake_refused_as_revoked(&log);
}

/// Revoked while the development broker runs: after SIGHUP the broker reads
/// `pki/crl.pem` (which did not exist when it started) and refuses the
/// revoked user's new connections; another user still gets through TLS.
#[test]
fn sighup_makes_a_running_broker_refuse_a_certificate_revoked_since_it_started() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(dir);
    let (out, _, stderr) = push(dir, broker.port, "mps-cw-push", "before-revoke");
    assert!(out.status.success(), "{stderr}");
    let (out, stdout, stderr) = revoke(dir, "mps-cw-push");
    assert!(out.status.success(), "{stdout}{stderr}");
    // Not read yet: the running broker still accepts the certificate.
    let (out, _, stderr) = push(dir, broker.port, "mps-cw-push", "before-hangup");
    assert!(out.status.success(), "{stderr}");

    broker.hangup();
    // The reload runs on the broker's own time: poll for the refusal.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let refused = loop {
        let (out, _, stderr) = push(dir, broker.port, "mps-cw-push", "after-hangup");
        if !out.status.success() {
            break stderr;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted 20 s after SIGHUP"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(refused.contains("nothing was stored"), "{refused}");
    another_user_reaches_the_policy(dir, broker.port, "after-hangup");
    let log = broker.stop();
    assert!(log.contains("TLS files read again"), "{log}");
    assert_handshake_refused_as_revoked(&log);
}
