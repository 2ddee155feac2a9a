//! The end-to-end harness: a real broker on port 0 with real mTLS from a
//! freshly generated partnership PKI, its own database (a fresh SQLite file,
//! or a fresh PostgreSQL database on the server at `CONCORD_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`), the repository's
//! policies, and the generated tonic client.
//!
//! The PostgreSQL tests need a PostgreSQL server: they fail, saying so, when
//! none answers (`.ci/run` makes sure one does).

#![forbid(unsafe_code)]

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use concord_client::{ClientTls, install_crypto_provider};
use concord_keys::{BrokerKey, KeyFile};
use concord_pki::{Partnership, PkiLayout};
use concord_policy::{Bundle, EngineConfig, PolicyEngine};
use concord_server::{Broker, Limits, LinkageKeyIds, tls::TlsMaterial};
use concord_store::{Store, StoreOptions};
use sqlx::Connection;
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn postgres_admin_url() -> String {
    std::env::var("CONCORD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh PostgreSQL database, dropped when this is dropped.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let admin = postgres_admin_url();
        let name = format!("concord_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("the PostgreSQL tests need a server at {admin} (set CONCORD_TEST_POSTGRES_URL, or run .ci/run): {e}")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("CONCORD_TEST_POSTGRES_URL must end in /DATABASE"),
        };
        PgDatabase { url, name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A thread of its own: Drop cannot await, and may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running broker and everything a test needs to talk to it.
pub struct TestBroker {
    pub addr: SocketAddr,
    pub pki: PkiLayout,
    pub broker: Arc<Broker>,
    pub store: Store,
    pub broker_key: BrokerKey,
    pub linkage_key_id: String,
    pub db: Db,
    /// The TLS configuration new handshakes use ([`TestBroker::reload_tls`]).
    tls: concord_server::tls::ServerTls,
    /// What it was started with, for [`TestBroker::restart`] and
    /// [`TestBroker::sibling`].
    store_options: StoreOptions,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    url: String,
    _pg: Option<PgDatabase>,
    _dir: Option<TempDir>,
    /// The policy bundle directory (its data/partnership.json issued the PKI).
    policies: PathBuf,
}

/// What a broker is started with beyond [`TestBroker::start`]'s defaults:
/// `StartOptions { revoked_users: vec![..], ..Default::default() }`.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub limits: Limits,
    /// Users whose client certificates are revoked before the broker starts
    /// (`concord_pki::revoke`, which writes `pki/crl.pem`; the broker loads
    /// it, as a development-mode `concord serve` does).
    pub revoked_users: Vec<String>,
    /// SQLite: the directory the database file is created in, instead of
    /// the test's temporary directory (a small file system, say).
    pub sqlite_dir: Option<PathBuf>,
    /// PostgreSQL: the broker connects through this address (a proxy in
    /// front of the server) instead of the server's; `postgres_url()` still
    /// names the server itself.
    pub postgres_via: Option<SocketAddr>,
    /// The store's pool settings.
    pub store: StoreOptions,
    /// The linkage key ids the broker accepts; by default the development
    /// PKI's linkage key's id alone (`linkage_key_id`).
    pub linkage_keys: Option<LinkageKeyIds>,
}

/// What a broker is started from.
struct Setup {
    dir: TempDir,
    pki: PkiLayout,
    broker_key: BrokerKey,
    linkage_key_id: String,
    linkage_keys: LinkageKeyIds,
    db: Db,
    pg: Option<PgDatabase>,
    url: String,
    limits: Limits,
    policies: PathBuf,
    store_options: StoreOptions,
}

/// The broker's TLS configuration from the PKI directory: the CA, the
/// server certificate and key, and `crl.pem` when there is one (as a
/// development-mode `concord serve` reads them).
fn tls_config(pki: &PkiLayout) -> concord_server::tls::TlsConfig {
    let read = |p: &PathBuf| std::fs::read(p).expect("pki file");
    concord_server::tls::server_config(&TlsMaterial {
        ca_pem: &read(&pki.ca_cert),
        cert_pem: &read(&pki.server_cert),
        key_pem: &read(&pki.server_key),
        crl_pems: match std::fs::read(pki.crl()) {
            Ok(crl) => vec![crl],
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => panic!("cannot read the CRL: {e}"),
        }
        .iter()
        .map(Vec::as_slice)
        .collect(),
    })
    .expect("tls config")
}

/// Waits until the broker reports its services SERVING, as a load balancer
/// would before sending it traffic.
async fn wait_serving(broker: &Broker) {
    use tonic_health::pb::{HealthCheckRequest, health_server::Health};
    let health = tonic_health::server::HealthService::from_health_reporter(broker.health.clone());
    let serving = async {
        while health
            .check(tonic::Request::new(HealthCheckRequest {
                service: "concord.v1.Lookup".to_owned(),
            }))
            .await
            .is_err()
        {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), serving)
        .await
        .expect("the broker reports SERVING within 30 s");
}

impl TestBroker {
    pub async fn start(db: Db) -> TestBroker {
        Self::start_with(db, Limits::default()).await
    }

    pub async fn start_with(db: Db, limits: Limits) -> TestBroker {
        Self::start_from(db, limits, repo_root().join("policies")).await
    }

    /// A broker deciding with the policy bundle in `policies` instead of the
    /// repository's; its `data/partnership.json` issues the PKI.
    pub async fn start_with_policies(db: Db, policies: PathBuf) -> TestBroker {
        Self::start_from(db, Limits::default(), policies).await
    }

    /// A broker started with `options` (a CRL, where its database lives).
    pub async fn start_with_options(db: Db, options: StartOptions) -> TestBroker {
        Self::start_from_options(db, options, repo_root().join("policies")).await
    }

    async fn start_from(db: Db, limits: Limits, policies: PathBuf) -> TestBroker {
        let options = StartOptions {
            limits,
            ..StartOptions::default()
        };
        Self::start_from_options(db, options, policies).await
    }

    async fn start_from_options(db: Db, options: StartOptions, policies: PathBuf) -> TestBroker {
        let StartOptions {
            limits,
            revoked_users,
            sqlite_dir,
            postgres_via,
            store: store_options,
            linkage_keys,
        } = options;
        install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let partnership =
            Partnership::load(&policies.join("data/partnership.json")).expect("partnership file");
        let pki = concord_pki::init(&dir.path().join("pki"), &partnership, &[]).expect("pki init");
        for user in &revoked_users {
            concord_pki::revoke(&dir.path().join("pki"), user).expect("pki revoke");
        }
        let broker_key = read_key(&pki.broker_key, BrokerKey::from_file);
        let linkage_key_id = KeyFile::parse(
            &std::fs::read_to_string(&pki.linkage_key).expect("linkage key"),
            "linkage",
        )
        .expect("linkage key file")
        .key_id;

        let (pg, url) = match db {
            Db::Sqlite => (
                None,
                format!(
                    "sqlite:{}",
                    sqlite_dir
                        .as_deref()
                        .unwrap_or(dir.path())
                        .join("concord.sqlite")
                        .display()
                ),
            ),
            Db::Postgres => {
                let pg = PgDatabase::create().await;
                let url = match postgres_via {
                    Some(addr) => url_via(&pg.url, addr),
                    None => pg.url.clone(),
                };
                (Some(pg), url)
            }
        };
        let linkage_keys =
            linkage_keys.unwrap_or_else(|| LinkageKeyIds::new(linkage_key_id.clone(), None));
        Self::launch(Setup {
            dir,
            pki,
            broker_key,
            linkage_keys,
            linkage_key_id,
            db,
            pg,
            url,
            limits,
            policies,
            store_options,
        })
        .await
    }

    /// Stops this broker and starts another on the same PKI and database,
    /// first running `between` on the store (the broker is down then), and
    /// with `broker_key` from then on.
    pub async fn restart<F, Fut>(mut self, broker_key: BrokerKey, between: F) -> TestBroker
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        self.begin_shutdown();
        if let Some(h) = self.server.take() {
            h.await.expect("server task");
        }
        between(self.store.clone()).await;
        self.store.close().await;
        let setup = Setup {
            dir: self._dir.take().expect("the test dir"),
            pki: concord_pki::PkiLayout::at(self.pki.ca_cert.parent().expect("pki dir")),
            broker_key,
            linkage_key_id: self.linkage_key_id.clone(),
            linkage_keys: self.broker.linkage_keys.clone(),
            db: self.db,
            pg: self._pg.take(),
            url: self.url.clone(),
            limits: self.broker.limits.clone(),
            policies: self.policies.clone(),
            store_options: self.store_options.clone(),
        };
        Self::launch(setup).await
    }

    async fn launch(setup: Setup) -> TestBroker {
        let Setup {
            dir,
            pki,
            broker_key,
            linkage_key_id,
            linkage_keys,
            db,
            pg,
            url,
            limits,
            policies,
            store_options,
        } = setup;
        let store = Store::connect(&url, &store_options).await.expect("store");
        let bundle = Bundle::load_dir(&policies).expect("policy bundle");
        let policy =
            Arc::new(PolicyEngine::new(bundle, EngineConfig::default()).expect("policy engine"));
        let tls = concord_server::tls::ServerTls::new(tls_config(&pki));
        let linkage = concord_server::linkage::Linkage::start(
            store.clone(),
            concord_linkage::LinkConfig::default(),
        )
        .await
        .expect("linkage starts");
        let audit_key = KeyFile::parse(
            &std::fs::read_to_string(&pki.audit_key).expect("audit key"),
            "audit key",
        )
        .expect("audit key file");
        let signer = concord_audit::AuditSigner::from_key_file(&audit_key).expect("audit signer");
        let audit = concord_server::audit::AuditLog::start(
            store.clone(),
            signer,
            concord_server::audit::AuditConfig::default(),
        )
        .await
        .expect("the audit log starts");
        let broker = Arc::new(Broker::new(
            store.clone(),
            policy,
            Arc::new(broker_key.clone()),
            limits,
            linkage_keys,
            linkage,
            audit,
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn({
            let (broker, tls) = (broker.clone(), tls.clone());
            async move {
                concord_server::serve(listener, tls, broker, async {
                    let _ = rx.await;
                })
                .await
                .expect("server runs");
            }
        });
        wait_serving(&broker).await;
        TestBroker {
            addr,
            tls,
            pki,
            broker,
            store,
            broker_key,
            linkage_key_id,
            db,
            shutdown: Some(tx),
            server: Some(server),
            url,
            _pg: pg,
            _dir: Some(dir),
            policies,
            store_options,
        }
    }

    /// Reads the PKI directory again (after `concord_pki::revoke`, say)
    /// and has new handshakes use it, as `concord serve` does on SIGHUP.
    pub fn reload_tls(&self) {
        self.tls.replace(tls_config(&self.pki));
    }

    /// A second broker on this one's database, PKI, keys and policies (a
    /// replica, as in a scale-out deployment on PostgreSQL). The database
    /// stays this broker's: drop the sibling first.
    pub async fn sibling(&self) -> TestBroker {
        Self::launch(Setup {
            dir: tempfile::tempdir().expect("temp dir"),
            pki: concord_pki::PkiLayout::at(self.pki.ca_cert.parent().expect("pki dir")),
            broker_key: self.broker_key.clone(),
            linkage_key_id: self.linkage_key_id.clone(),
            linkage_keys: self.broker.linkage_keys.clone(),
            db: self.db,
            pg: None,
            url: self.url.clone(),
            limits: self.broker.limits.clone(),
            policies: self.policies.clone(),
            store_options: self.store_options.clone(),
        })
        .await
    }

    /// Waits (without sleeping) until the linker has finished `runs` runs.
    pub async fn wait_linked(&self, runs: u64) {
        let mut w = self.broker.linkage.watch_runs();
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            w.wait_for(|n| *n >= runs),
        )
        .await
        .expect("linkage finishes")
        .expect("linker running");
    }

    /// The URL of this broker's database (`sqlite:PATH` or `postgres://…`),
    /// for tests that reach into it directly.
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// The PostgreSQL URL of this broker's database, if it runs on one.
    pub fn postgres_url(&self) -> Option<String> {
        self._pg.as_ref().map(|p| p.url.clone())
    }

    /// Terminates every connection this broker holds to its PostgreSQL
    /// database (`pg_terminate_backend`, what a server restart or fast
    /// shutdown does to them); how many there were.
    pub async fn terminate_postgres_connections(&self) -> i64 {
        let url = self.postgres_url().expect("a PostgreSQL broker");
        let database = url.rsplit('/').next().unwrap().to_owned();
        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
            .await
            .unwrap();
        let terminated: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'concord') AS t",
        )
        .bind(&database)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
        terminated
    }

    /// The TLS material of a partnership user from the PKI.
    pub fn tls_for(&self, user: &str) -> ClientTls {
        ClientTls {
            ca_pem: std::fs::read(&self.pki.ca_cert).expect("ca"),
            cert_pem: std::fs::read(self.pki.client_cert(user)).expect("client cert"),
            key_pem: std::fs::read(self.pki.client_key(user)).expect("client key"),
            server_name: "localhost".into(),
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The board's web dashboard for this broker on port 0, as
    /// `concord serve --web-listen` runs it (the broker's server
    /// certificate, no client certificate asked for).
    pub async fn start_web(&self) -> Web {
        let tls = concord_server::web::server_config(
            &std::fs::read(&self.pki.server_cert).expect("server cert"),
            &std::fs::read(&self.pki.server_key).expect("server key"),
        )
        .expect("web tls config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let port = listener.local_addr().expect("addr").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(concord_server::web::serve(
            listener,
            tls,
            self.broker.clone(),
            concord_server::web::WebOptions::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        Web {
            port,
            stop: Some(stop),
            task,
        }
    }

    /// The broker's server TLS configuration, as it serves (for a server
    /// that must present the same certificate, e.g. `concord-bench floor`).
    pub fn server_tls_config(&self) -> Arc<rustls::ServerConfig> {
        tls_config(&self.pki).rustls
    }

    /// An mTLS channel as `user`.
    pub async fn channel(&self, user: &str) -> Channel {
        concord_client::connect(&self.url(), &self.tls_for(user))
            .await
            .expect("connect")
    }

    /// Asks the server to shut down gracefully, without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        if let Some(h) = self.server.take() {
            h.await.expect("server task");
        }
        self.store.close().await;
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(h) = self.server.take() {
            h.abort();
        }
    }
}

/// `url` with its host and port replaced by `addr`.
fn url_via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with ://");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{addr}/{path}", user.unwrap_or_default())
}

fn read_key<T>(
    path: &PathBuf,
    parse: impl Fn(&KeyFile, &str) -> Result<T, concord_keys::KeyError>,
) -> T {
    let what = path.display().to_string();
    let file = KeyFile::parse(&std::fs::read_to_string(path).expect("key file"), &what)
        .expect("key file parses");
    parse(&file, &what).expect("key kind")
}

/// Declares a test that runs once against SQLite and once against
/// PostgreSQL: `both_stores!(name, |db| async move { ... });` makes
/// `sqlite_name` and `postgres_name`.
#[macro_export]
macro_rules! both_stores {
    ($name:ident, $body:expr) => {
        pub mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::Db::Postgres).await
            }
        }
    };
}

/// Deterministic synthetic bytes for test records and tokens:
/// SHA-256(tag ‖ i as u32 big-endian).
pub fn bytes(tag: &str, i: u32) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(tag.as_bytes());
    ctx.update(&i.to_be_bytes());
    ctx.finish().as_ref().to_vec()
}

/// Person `i`'s synthetic `name` token under the broker's linkage key id.
pub fn token(
    tb: &TestBroker,
    name: concord_core::KeyName,
    i: u32,
) -> concord_proto::v1::MatchKeyToken {
    concord_proto::v1::MatchKeyToken {
        key_name: name.as_str().into(),
        key_id: tb.linkage_key_id.clone(),
        token: bytes(name.as_str(), i),
    }
}

/// A synthetic police crime record of person `i` on `date` (a GBH with a
/// knife in the street, victim 18-24, male, in one RBKC ward and LSOA),
/// carrying person `i`'s tokens for `keys`.
pub fn police_crime(
    tb: &TestBroker,
    i: u32,
    date: &str,
    keys: &[concord_core::KeyName],
) -> concord_proto::v1::Record {
    use concord_proto::v1;
    v1::Record {
        source_ref: bytes("ref", i),
        kind: v1::RecordKind::Crime as i32,
        role: v1::PersonRole::Victim as i32,
        event_date: date.into(),
        event_date_precision: v1::DatePrecision::Day as i32,
        ward_code: "E05009391".into(),
        lsoa_code: "E01002815".into(),
        category: v1::ViolenceCategory::Gbh as i32,
        weapon: v1::Weapon::KnifeSharp as i32,
        location_type: v1::LocationType::Street as i32,
        age_band: v1::AgeBand::AgeBand1824 as i32,
        sex: v1::Sex::Male as i32,
        tokens: keys.iter().map(|k| token(tb, *k, i)).collect(),
        ..Default::default()
    }
}

/// A broker's web dashboard started by [`TestBroker::start_web`].
pub struct Web {
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Web {
    /// Stops the dashboard and waits for it to end cleanly.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task
            .await
            .expect("web task")
            .expect("web server ends cleanly");
    }
}
