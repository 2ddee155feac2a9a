//! Faults, each a test (issue 6): a revoked client certificate, a SQLite
//! database that cannot take a write, and PostgreSQL restarting under a
//! running broker. Each fault is real (a CRL the CA signed, a file system
//! that is full, connections that die) and each test checks the error the
//! caller sees, that nothing half-written remains, and that the same broker
//! serves again once the fault is gone. (SIGKILL mid-extract is
//! `crates/concord/tests/kill.rs`.)

use std::{
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use concord_client::{Extract, is_duplicate, push_extract};
use concord_core::{KeyName, Source};
use concord_e2e::{Db, StartOptions, TestBroker, police_crime};
use concord_proto::v1;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use sqlx::Connection;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};
use tokio_rustls::TlsConnector;
use tonic::Code;

const POLICE: &str = "mps-cw-push";

/// A police crime record for person `i`, on `date`.
fn record(tb: &TestBroker, i: u32, date: &str) -> v1::Record {
    police_crime(tb, i, date, &[KeyName::SnDob, KeyName::FnDob, KeyName::Pnc])
}

/// A police snapshot of `month` (`"09"` or `"10"` of 2026) holding people
/// `range`.
fn snapshot(tb: &TestBroker, id: &str, month: &str, range: std::ops::Range<u32>) -> Extract {
    let last = if month == "09" { 30 } else { 31 };
    let header = v1::ExtractHeader {
        extract_id: id.into(),
        source: v1::Source::Police as i32,
        period_start: format!("2026-{month}-01"),
        period_end: format!("2026-{month}-{last}"),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    };
    let records = range
        .map(|i| record(tb, i, &format!("2026-{month}-{:02}", 1 + i % 28)))
        .collect();
    Extract::new(header, records, vec![], 1000)
}

async fn push(
    tb: &TestBroker,
    extract: Extract,
) -> Result<tonic::Response<v1::ExtractReceipt>, tonic::Status> {
    push_extract(tb.channel(POLICE).await, extract).await
}

/// `Ingest.GetExtract`: a store-backed read (audited, then read).
async fn get_extract(tb: &TestBroker, id: &str) -> Result<v1::ExtractReceipt, tonic::Status> {
    v1::ingest_client::IngestClient::new(tb.channel(POLICE).await)
        .get_extract(v1::GetExtractRequest {
            source: v1::Source::Police as i32,
            extract_id: id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The refusal is the database's condition, said plainly: UNAVAILABLE (so
/// an agent retries later), naming `condition`, not the catch-all for an
/// internal failure, and quoting no record content.
fn assert_refused_naming(status: &tonic::Status, condition: &str) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains(condition),
        "the message does not name the condition `{condition}`: {}",
        status.message()
    );
    assert!(
        !status.message().contains("the broker's database failed"),
        "a generic internal error: {}",
        status.message()
    );
    for value in ["E05009391", "E01002815", "2026-10-", "gbh"] {
        assert!(!status.message().contains(value), "{}", status.message());
    }
}

// ---------------------------------------------------------------------------
// 1. A revoked certificate is refused.

/// Connects as `user` with a raw rustls client, completes the client side
/// of the handshake, sends the HTTP/2 preface and reads: returns the error
/// that ended the connection, if any. (With TLS 1.3 the server checks the
/// client certificate after the client has finished, so its refusal
/// arrives as an alert on the first read.)
async fn handshake_as(tb: &TestBroker, user: &str) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&tb.pki.ca_cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let certs = CertificateDer::pem_file_iter(tb.pki.client_cert(user))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tb.pki.client_key(user)).unwrap();
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(tb.addr).await.unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    match tls.read(&mut buf).await {
        Ok(0) => Err("closed".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

async fn health(tb: &TestBroker, user: &str) -> Result<i32, tonic::Status> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    HealthClient::new(tb.channel(user).await)
        .check(HealthCheckRequest {
            service: "concord.v1.Ingest".into(),
        })
        .await
        .map(|r| r.into_inner().status)
}

/// A broker given a CRL (signed by the partnership CA with
/// `concord_pki::revoke`, loaded as `concord serve` loads `pki/crl.pem`)
/// refuses the revoked user at the handshake, while other users of the
/// same organisation are served. TLS only, so SQLite is enough.
#[tokio::test]
async fn a_revoked_certificate_is_refused_at_the_handshake_and_its_org_is_still_served() {
    let tb = TestBroker::start_with_options(
        Db::Sqlite,
        StartOptions {
            revoked_users: vec!["mash-officer-1".into()],
            ..StartOptions::default()
        },
    )
    .await;
    let audited = tb.broker.audit.size();

    let err = handshake_as(&tb, "mash-officer-1")
        .await
        .expect_err("a revoked certificate completed the handshake");
    assert!(err.contains("CertificateRevoked"), "{err}");
    // Through the generated client too: the call never reaches a service.
    let refused = health(&tb, "mash-officer-1")
        .await
        .expect_err("a revoked certificate was served");
    assert_ne!(refused.code(), Code::Ok);
    let mut chain = refused.to_string();
    let mut cause = std::error::Error::source(&refused);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    assert!(chain.contains("CertificateRevoked"), "{chain}");

    // The same organisation's other users (rbkc-childrens) are served.
    for user in ["mash-manager-1", "rbkc-childrens-push"] {
        handshake_as(&tb, user)
            .await
            .unwrap_or_else(|e| panic!("{user} was refused: {e}"));
        let status = health(&tb, user).await.expect("served");
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    }
    let accepted = push(&tb, snapshot(&tb, "after-crl", "10", 0..5))
        .await
        .expect("another organisation's push is accepted");
    assert_eq!(accepted.into_inner().records_stored, 5);
    // Nothing the revoked user tried was decided, so nothing of it was
    // audited: only the accepted push's decision was.
    assert_eq!(tb.broker.audit.size(), audited + 1);
    tb.stop().await;
}

/// A certificate revoked while the broker runs (`concord pki revoke`, then
/// SIGHUP to `concord serve`) is refused from the reload on, without a
/// restart; until then the broker has not read the new CRL. Other users
/// are served throughout.
#[tokio::test]
async fn a_certificate_revoked_while_serving_is_refused_once_the_tls_files_are_read_again() {
    let tb = TestBroker::start(Db::Sqlite).await;
    handshake_as(&tb, "mash-officer-1")
        .await
        .expect("served before the revocation");
    let pki_dir = tb.pki.ca_cert.parent().expect("pki dir").to_owned();
    concord_pki::revoke(&pki_dir, "mash-officer-1").expect("revoke");
    handshake_as(&tb, "mash-officer-1")
        .await
        .expect("the CRL is read when the broker is told to, not before");

    tb.reload_tls();
    let err = handshake_as(&tb, "mash-officer-1")
        .await
        .expect_err("a certificate revoked before the reload completed the handshake");
    assert!(err.contains("CertificateRevoked"), "{err}");
    for user in ["mash-manager-1", "mps-cw-push"] {
        handshake_as(&tb, user)
            .await
            .unwrap_or_else(|e| panic!("{user} was refused after the reload: {e}"));
    }
    assert_eq!(
        health(&tb, "mash-manager-1").await.expect("served"),
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    tb.stop().await;
}

// ---------------------------------------------------------------------------
// 2. SQLite out of space.

/// A tmpfs mounted for one test, unmounted (lazily, so an open file cannot
/// keep it) when dropped.
struct SmallFs {
    dir: PathBuf,
}

impl SmallFs {
    fn mount(dir: &Path, size: &str) -> SmallFs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test fills a real file system: it mounts a {size} tmpfs at {}, which needs \
             root (CAP_SYS_ADMIN), as CI has; run it as root. mount said: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        SmallFs {
            dir: dir.to_owned(),
        }
    }

    /// Fills the file system to the last block, then frees `slack` bytes:
    /// returns the filler, whose removal gives the space back.
    fn fill_leaving(&self, slack: usize) -> PathBuf {
        let reserve = self.dir.join("slack");
        std::fs::write(&reserve, vec![0u8; slack]).expect("room for the slack");
        let filler = self.dir.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut size = chunk.len();
        loop {
            match file.write(&chunk[..size]) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull && size > 512 => size /= 2,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the file system: {e}"),
            }
        }
        std::fs::remove_file(&reserve).unwrap();
        filler
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// The database's file system fills up under a running SQLite broker: a
/// push is refused UNAVAILABLE naming the condition ("read-only or out of
/// space"), nothing of it is stored, earlier extracts stay readable, and
/// once space is freed the same push is accepted by the same broker.
///
/// Why a tmpfs rather than SQLite's `PRAGMA max_page_count`: the pragma is
/// per connection and not persistent, so it would need a test-only hook in
/// `concord-store` to set it on every pooled connection of the broker (and
/// to lift it again), changing the code under test. A full file system is
/// the real condition: ENOSPC from the kernel on the WAL, which SQLite
/// reports as SQLITE_FULL, and freeing a file is the real recovery. It
/// needs root to mount (CI runs as root); without it the test fails,
/// saying so, rather than skip. The file system keeps some slack so the
/// request's audit event still fits and the extract's own transaction is
/// the write that fails (a completely full disk refuses at the audit
/// append instead, which `tests/lookup.rs` covers for a failing audit log,
/// and which is what the next audited request meets here once the failed
/// commit has taken the last of the space).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_out_of_space_refuses_clearly_keeps_everything_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let fs = SmallFs::mount(&tmp.path().join("fs"), "64m");
    let tb = TestBroker::start_with_options(
        Db::Sqlite,
        StartOptions {
            sqlite_dir: Some(fs.dir.clone()),
            ..StartOptions::default()
        },
    )
    .await;
    assert!(tb.database_url().contains(&*fs.dir.to_string_lossy()));
    let before = push(&tb, snapshot(&tb, "september", "09", 0..200))
        .await
        .expect("accepted while there is space")
        .into_inner();
    tb.wait_linked(1).await;

    // Full but for 512 KiB: room for an audit event, not for an extract
    // of 20,000 records (about 10 MB of pages, well past the WAL file's
    // already allocated size).
    let filler = fs.fill_leaving(512 * 1024);
    let big = snapshot(&tb, "october", "10", 1000..21_000);
    let refused = push(&tb, big.clone())
        .await
        .expect_err("a push was accepted on a full disk");
    assert_refused_naming(&refused, "read-only or out of space");
    assert!(
        refused.message().contains("nothing was stored"),
        "{refused:?}"
    );

    // Nothing of it is stored; the earlier extract is intact in the
    // broker's store.
    assert_eq!(tb.store.count_records(None).await.unwrap(), 200);
    assert_eq!(
        tb.store
            .get_extract(Source::Police, "october")
            .await
            .unwrap(),
        None
    );
    // The refused extract's commit used the last of the space, and the
    // audit log (a file of its own) has none to grow into: a read is
    // audited before it is answered, so it is refused, saying why, and
    // nothing is answered unaudited.
    let unaudited = get_extract(&tb, "september")
        .await
        .expect_err("answered with no room to audit the read");
    assert_refused_naming(&unaudited, "audit log could not record");
    assert_refused_naming(&unaudited, "read-only or out of space");

    // Space comes back: the read is answered, the same push accepted,
    // same broker, no restart.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(
        get_extract(&tb, "september").await.expect("readable"),
        before
    );
    let accepted = push(&tb, big)
        .await
        .expect("accepted once there is space again");
    assert!(!is_duplicate(&accepted));
    assert_eq!(accepted.into_inner().records_stored, 20_000);
    assert_eq!(tb.store.count_records(None).await.unwrap(), 20_200);
    assert_eq!(get_extract(&tb, "september").await.unwrap(), before);
    tb.stop().await;
    drop(fs);
}

// ---------------------------------------------------------------------------
// 3. PostgreSQL restarted mid-run.

/// A TCP proxy between the broker and PostgreSQL. [`PgProxy::go_down`]
/// drops every connection and closes each new one before the server could
/// answer, which is how a restarting server looks to a client;
/// [`PgProxy::come_back`] forwards again.
struct PgProxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl PgProxy {
    async fn start(upstream: SocketAddr) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, conns) = (up.clone(), conns.clone());
            async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    conns.lock().unwrap().push(task.abort_handle());
                }
            }
        })
        .abort_handle();
        PgProxy {
            addr,
            up,
            conns,
            accept,
        }
    }

    fn go_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    fn come_back(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.go_down();
    }
}

/// The address of the PostgreSQL server the tests use.
fn postgres_server() -> SocketAddr {
    let url = concord_e2e::postgres_admin_url();
    let rest = url.split_once("://").expect("a URL").1;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .unwrap_or_else(|e| panic!("CONCORD_TEST_POSTGRES_URL host {host_port}: {e}"))
}

/// PostgreSQL "restarts" under a running broker: its backends are
/// terminated (`pg_terminate_backend`, what a fast shutdown does) and the
/// proxy in front of it cuts every connection and refuses new ones. A push
/// and a receipt read are refused UNAVAILABLE saying the database is
/// unavailable, and nothing of the push is stored. When the server is back
/// the same push is accepted and reads work, from the same broker process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_refuses_clearly_then_the_same_broker_recovers() {
    let proxy = PgProxy::start(postgres_server()).await;
    let tb = TestBroker::start_with_options(
        Db::Postgres,
        StartOptions {
            postgres_via: Some(proxy.addr),
            ..StartOptions::default()
        },
    )
    .await;
    let direct = tb.postgres_url().expect("a PostgreSQL broker");
    assert!(tb.database_url().contains(&proxy.addr.to_string()));
    let before = push(&tb, snapshot(&tb, "september", "09", 0..50))
        .await
        .expect("accepted")
        .into_inner();
    tb.wait_linked(1).await;

    // The restart: backends terminated, connections cut, new ones refused.
    let terminated = tb.terminate_postgres_connections().await;
    assert!(terminated >= 1, "the broker held no connection");
    proxy.go_down();

    let during = snapshot(&tb, "october", "10", 100..1100);
    let refused = push(&tb, during.clone())
        .await
        .expect_err("a push was accepted with the database down");
    assert_refused_naming(&refused, "database is unavailable");
    let refused = get_extract(&tb, "september")
        .await
        .expect_err("a read was answered with the database down");
    assert_refused_naming(&refused, "database is unavailable");

    // Nothing half-written: checked on the server directly.
    let mut db = sqlx::PgConnection::connect(&direct).await.unwrap();
    let (extracts, records): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM extracts WHERE extract_id = 'october'), \
                (SELECT count(*) FROM records)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((extracts, records), (0, 50));

    // The server is back: the same broker serves the same push and reads.
    proxy.come_back();
    let accepted = push(&tb, during)
        .await
        .expect("accepted once the database is back");
    assert!(!is_duplicate(&accepted));
    assert_eq!(accepted.into_inner().records_stored, 1000);
    assert_eq!(get_extract(&tb, "september").await.unwrap(), before);
    assert_eq!(tb.store.count_records(None).await.unwrap(), 1050);
    tb.wait_linked(2).await;
    db.close().await.unwrap();
    tb.stop().await;
}

// ---------------------------------------------------------------------------
// 4. Readiness follows the database (issue 23, item 3).

/// The broker's health statuses over mTLS: (overall, `concord.v1.Lookup`,
/// the liveness name).
async fn statuses(tb: &TestBroker) -> (i32, i32, i32) {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut client = HealthClient::new(tb.channel("mash-officer-1").await);
    let mut of = async |service: &str| {
        client
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health answers whatever the database does")
            .into_inner()
            .status
    };
    (
        of("").await,
        of("concord.v1.Lookup").await,
        of(concord_server::LIVENESS_SERVICE).await,
    )
}

const SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
const NOT_SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;

/// Waits (polling every 20 ms, at most `within`) until readiness (overall
/// and per service) is `want`, liveness staying SERVING throughout; how
/// long that took.
async fn wait_readiness(
    tb: &TestBroker,
    want: i32,
    within: std::time::Duration,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    loop {
        let (overall, lookup, live) = statuses(tb).await;
        assert_eq!(live, SERVING, "liveness stays SERVING");
        if overall == want && lookup == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "readiness is still {overall} (Lookup {lookup}) after {:?}, want {want}",
            start.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Person `i`'s MASH lookup on the tokens of [`record`].
fn ask(tb: &TestBroker, i: u32) -> v1::FindPersonRequest {
    v1::FindPersonRequest {
        tokens: [KeyName::SnDob, KeyName::FnDob, KeyName::Pnc]
            .into_iter()
            .map(|k| concord_e2e::token(tb, k, i))
            .collect(),
        purpose: "safeguarding_children".into(),
        case_ref: "MASH-2026-0042".into(),
        reason: String::new(),
    }
}

async fn lookup(tb: &TestBroker, i: u32) -> Result<v1::FindPersonResponse, tonic::Status> {
    v1::lookup_client::LookupClient::new(tb.channel("mash-officer-1").await)
        .find_person(ask(tb, i))
        .await
        .map(tonic::Response::into_inner)
}

/// The database refuses connections (`ALTER DATABASE ... ALLOW_CONNECTIONS
/// false`, SQLSTATE 55000, and the broker's connections ended, as an
/// administrator cutting a database off does): a lookup is refused
/// UNAVAILABLE, and readiness (overall and every service, over mTLS) turns
/// NOT_SERVING within about a second while liveness stays SERVING. The
/// database takes connections again: readiness is SERVING again and the
/// same lookup answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refusing_connections_is_not_ready_and_unavailable_then_recovers() {
    let tb = TestBroker::start(Db::Postgres).await;
    push(&tb, snapshot(&tb, "october", "10", 0..20))
        .await
        .expect("accepted");
    tb.wait_linked(1).await;
    assert!(lookup(&tb, 3).await.expect("a lookup").matched);
    assert_eq!(statuses(&tb).await, (SERVING, SERVING, SERVING));

    let url = tb.postgres_url().expect("a PostgreSQL broker");
    let database = url.rsplit('/').next().unwrap().to_owned();
    let mut admin = sqlx::PgConnection::connect(&concord_e2e::postgres_admin_url())
        .await
        .unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let terminated = tb.terminate_postgres_connections().await;
    assert!(terminated >= 1, "the broker held no connection");

    let down = wait_readiness(&tb, NOT_SERVING, std::time::Duration::from_secs(3)).await;
    eprintln!("readiness: NOT_SERVING {down:?} after the database refused connections");
    let refused = lookup(&tb, 3)
        .await
        .expect_err("a lookup was answered with the database refusing connections");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("unavailable"),
        "the refusal names the condition: {}",
        refused.message()
    );

    sqlx::query(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    let up = wait_readiness(&tb, SERVING, std::time::Duration::from_secs(3)).await;
    eprintln!("readiness: SERVING {up:?} after the database took connections again");
    assert!(
        lookup(&tb, 3)
            .await
            .expect("a lookup after recovery")
            .matched
    );
    admin.close().await.unwrap();
    tb.stop().await;
}

/// SQLite: the probe is the file. Moved away from its path, or made
/// read-only, the database is not ready (overall and every service);
/// put back, ready again, and lookups answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_gone_or_read_only_is_not_ready_then_recovers() {
    use std::os::unix::fs::PermissionsExt;
    let tb = TestBroker::start(Db::Sqlite).await;
    push(&tb, snapshot(&tb, "october", "10", 0..20))
        .await
        .expect("accepted");
    tb.wait_linked(1).await;
    assert_eq!(statuses(&tb).await, (SERVING, SERVING, SERVING));
    let file = PathBuf::from(
        tb.database_url()
            .strip_prefix("sqlite:")
            .expect("a SQLite URL"),
    );
    let aside = file.with_extension("moved");

    std::fs::rename(&file, &aside).unwrap();
    wait_readiness(&tb, NOT_SERVING, std::time::Duration::from_secs(3)).await;
    std::fs::rename(&aside, &file).unwrap();
    wait_readiness(&tb, SERVING, std::time::Duration::from_secs(3)).await;

    let writable = std::fs::metadata(&file).unwrap().permissions();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    wait_readiness(&tb, NOT_SERVING, std::time::Duration::from_secs(3)).await;
    std::fs::set_permissions(&file, writable).unwrap();
    wait_readiness(&tb, SERVING, std::time::Duration::from_secs(3)).await;

    assert!(
        lookup(&tb, 3)
            .await
            .expect("a lookup after recovery")
            .matched
    );
    tb.stop().await;
}
