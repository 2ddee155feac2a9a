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
    assert!(stdout.contains("restart the broker"), "{stdout}");
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
    let (out, _, stderr) = push(dir, broker.port, "rbkc-childrens-push", "after-revoke");
    assert!(!out.status.success());
    assert!(
        stderr.contains("PermissionDenied") && stderr.contains("may not push source police"),
        "{stderr}"
    );
    let log = broker.stop();
    assert!(
        log.contains("tls handshake refused") && log.contains("Revoked"),
        "{log}"
    );
}
