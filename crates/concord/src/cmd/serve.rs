//! `concord serve`: the broker.
//!
//! Start-up does every check before the port is bound, and refuses to start
//! with a message naming what to fix: the configuration, the PKI files, the
//! policy bundle (which must load and pass its tests), the broker key and
//! the database. Only development mode (no `[pki]` table) ever creates
//! keys, and only when `<data_dir>/pki` holds no PKI yet. Development mode
//! also loads `<data_dir>/pki/crl.pem` when it exists (what `concord pki
//! revoke --pki <data_dir>/pki` writes); with a `[pki]` table CRLs come only
//! from `pki.crl_files`. SIGHUP reads the TLS files and CRLs again (and the
//! policy bundle): new handshakes use them, and every request and dashboard
//! session from then on is checked against the CRLs read.
//!
//! `--replica-of DIR` starts another replica of a development broker whose
//! data directory (or PKI directory) is `DIR`: it uses that PKI as it is
//! (never creating one) and must share the first broker's PostgreSQL
//! database (deploy/README.md, "A second replica in development"). Every
//! replica names itself (`host:port`), logs when it takes the linker's
//! lease, and says in its start-up report which replica runs the linker.

use std::{
    fs,
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail};
use concord_keys::{BrokerKey, KeyFile};
use concord_pki::PkiLayout;
use concord_policy::{Bundle, EngineConfig, PolicyEngine};
use concord_server::{Broker, LinkageKeyIds, tls::TlsMaterial};
use concord_store::{Store, StoreOptions};
use tokio::signal::unix::{SignalKind, signal};

use crate::config::{self, Config, Overrides, PkiFiles};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file [default: concord.toml in the working directory, if it exists]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Start another replica of the development broker whose data directory (or its pki/ directory) is DIR: same PKI and keys, never created; needs the first broker's PostgreSQL database_url and ports of its own (--listen 127.0.0.1:0 picks free ones)
    #[arg(long, value_name = "DIR")]
    pub replica_of: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// Where the PKI came from, for the start-up report.
#[derive(Debug, Clone)]
enum PkiMode {
    /// `<data_dir>/pki`; `created` if this start made it.
    Development { dir: PathBuf, created: bool },
    /// Another development broker's PKI (`--replica-of`), used as it is.
    Replica { dir: PathBuf },
    /// The `[pki]` table.
    Configured,
}

impl PkiMode {
    /// The development PKI's directory (this broker's or the one it is a
    /// replica of).
    fn development_dir(&self) -> Option<&Path> {
        match self {
            PkiMode::Development { dir, .. } | PkiMode::Replica { dir } => Some(dir),
            PkiMode::Configured => None,
        }
    }
}

/// The PEM and key file contents the broker needs.
struct PkiMaterial {
    tls: TlsPem,
    broker_key: String,
    audit_key: String,
}

/// The TLS files' contents: read at start and again on SIGHUP.
struct TlsPem {
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    crl_pems: Vec<Vec<u8>>,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let (config, config_file) = load_config(args)?;
    crate::telemetry::init(&config.log)?;
    for name in config::unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %name, "ignoring an environment variable that configures nothing");
    }
    concord_client::install_crypto_provider();

    fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {} (fix data_dir, CONCORD_DATA_DIR or --data-dir)",
            config.data_dir.display()
        )
    })?;
    let (files, mode) = pki_files(&config, args.replica_of.as_deref())?;
    let material = read_pki(&files, &mode, &config.data_dir)?;
    let linkage_keys = linkage_key_ids(&config, &mode)?;

    let bundle = Bundle::load_dir(&config.policy_dir).with_context(|| {
        format!(
            "cannot start: the policy bundle in {} does not load (fix it, or point policy_dir, \
             CONCORD_POLICY_DIR or --policy-dir at a good bundle)",
            config.policy_dir.display()
        )
    })?;
    let policy = PolicyEngine::new(bundle, EngineConfig::default()).with_context(|| {
        format!(
            "cannot start: the policy bundle in {} is refused (run `concord policy test --dir {}` \
             for details)",
            config.policy_dir.display(),
            config.policy_dir.display()
        )
    })?;

    let what = files.broker_key.display().to_string();
    let broker_key = KeyFile::parse(&material.broker_key, &what)
        .and_then(|file| BrokerKey::from_file(&file, &what))
        .with_context(|| {
            format!("cannot start: the broker key {what} is not usable (fix pki.broker_key)")
        })?;

    let what = files.audit_key.display().to_string();
    let audit_signer = KeyFile::parse(&material.audit_key, &what)
        .map_err(anyhow::Error::from)
        .and_then(|file| concord_audit::AuditSigner::from_key_file(&file).map_err(Into::into))
        .with_context(|| {
            format!(
                "cannot start: the audit signing key {what} is not usable (fix pki.audit_key or \
                 CONCORD_PKI_AUDIT_KEY)"
            )
        })?;

    let tls =
        concord_server::tls::ServerTls::new(tls_config(&files, &material.tls, "cannot start: ")?);

    let web_tls = concord_server::tls::ServerTls::new(web_tls_config(
        &files,
        &material.tls,
        "cannot start: ",
    )?);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = Store::connect(config.database_url.expose(), &StoreOptions::default())
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {} (fix database_url, CONCORD_DATABASE_URL or \
                     --database-url, or check that the database is running)",
                    config.database_url
                )
            })?;
        check_broker_key(&store, &broker_key, &mode).await?;
        let replica = replica_name(config.listen);
        let linkage = concord_server::linkage::Linkage::start_named(
            store.clone(),
            concord_linkage::LinkConfig::default(),
            replica.clone(),
        )
        .await
        .context("cannot start linkage from the stored state (check the database)")?;
        let linker = linker_status(&store, &linkage).await;
        let audit = concord_server::audit::AuditLog::start(
            store.clone(),
            audit_signer,
            concord_server::audit::AuditConfig::default(),
        )
        .await
        .context(
            "cannot start the audit log from the stored state (check the database; if it says \
             the log is inconsistent, run `concord audit verify`)",
        )?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| {
                if args.replica_of.is_some() {
                    format!(
                        "cannot listen on {} (a replica needs ports of its own: pass --listen \
                         127.0.0.1:0 to have free ones picked, or choose other addresses with \
                         --listen, --web-listen and --metrics-listen)",
                        config.listen
                    )
                } else {
                    format!(
                        "cannot listen on {} (is another broker running? choose another \
                         address with listen, CONCORD_LISTEN or --listen)",
                        config.listen
                    )
                }
            })?;
        let local = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let web_listener = match config.web_listen {
            Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
                format!(
                    "cannot listen on {addr} for the web dashboard (choose another address with \
                     web_listen, CONCORD_WEB_LISTEN or --web-listen, or \"off\")"
                )
            })?),
            None => None,
        };
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
                format!(
                    "cannot listen on {addr} for metrics (choose another address with \
                     metrics_listen, CONCORD_METRICS_LISTEN or --metrics-listen, or \"off\")"
                )
            })?),
            None => None,
        };
        let web_url = match &web_listener {
            Some(l) => {
                let addr = l
                    .local_addr()
                    .context("cannot read the dashboard's listening address")?;
                Some(
                    config
                        .web_public_url
                        .clone()
                        .unwrap_or_else(|| concord_server::web::default_public_url(addr)),
                )
            }
            None => None,
        };
        let metrics_url = match &metrics_listener {
            Some(l) => Some(format!(
                "http://{}/metrics",
                l.local_addr()
                    .context("cannot read the metrics listening address")?
            )),
            None => None,
        };
        let mut terminate =
            signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let mut interrupt =
            signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;

        report(
            &config,
            config_file.as_deref(),
            &files,
            &mode,
            &policy,
            web_url.as_deref(),
            metrics_url.as_deref(),
            &linker,
            local,
        )?;
        tracing::info!(
            listen = %local,
            database = store.backend_name(),
            policy_revision = policy.bundle_revision(),
            broker_key_id = broker_key.id(),
            linkage_key_id = linkage_keys.current(),
            previous_linkage_key_id = linkage_keys.previous(),
            replica = %replica,
            linker = %linker,
            "broker started"
        );

        let broker = Arc::new(Broker::new(
            store.clone(),
            Arc::new(policy),
            Arc::new(broker_key),
            config.limits.clone(),
            linkage_keys,
            linkage,
            audit,
        ));
        // Policy hot reload (SIGHUP, or the bundle's files change) and the
        // retention purge (once now, then every retention_interval).
        let hangup = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
        let reloader = tokio::spawn(super::policy::watch(
            broker.clone(),
            config.policy_dir.clone(),
            hangup,
        ));
        let tls_reloader = tokio::spawn(reload_tls_on_hangup(
            tls.clone(),
            web_tls.clone(),
            files.clone(),
            mode.clone(),
            signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?,
        ));
        let retention = concord_server::retention::spawn(broker.clone(), config.retention_interval);
        let stop_metrics = Arc::new(tokio::sync::Notify::new());
        let metrics = match metrics_listener {
            Some(l) => {
                let addr = l
                    .local_addr()
                    .context("cannot read the metrics listening address")?;
                tracing::info!(metrics = %format!("http://{addr}/metrics"), "metrics served");
                let stop = stop_metrics.clone();
                Some(tokio::spawn(concord_server::metrics::serve(
                    l,
                    broker.clone(),
                    async move { stop.notified().await },
                )))
            }
            None => None,
        };
        let stop_web = Arc::new(tokio::sync::Notify::new());
        let web = web_listener.map(|l| {
            let stop = stop_web.clone();
            tokio::spawn(concord_server::web::serve(
                l,
                web_tls,
                broker.clone(),
                concord_server::web::WebOptions {
                    public_url: config.web_public_url.clone(),
                },
                async move { stop.notified().await },
            ))
        });
        let shutdown = async move {
            let signal = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!(signal, "shutting down: letting in-flight extracts finish");
            stop_web.notify_one();
        };
        concord_server::serve(listener, tls, broker, shutdown)
            .await
            .context("the broker stopped with an error")?;
        reloader.abort();
        tls_reloader.abort();
        retention.abort();
        // Metrics stay up until the last request has finished.
        stop_metrics.notify_one();
        if let Some(metrics) = metrics {
            metrics
                .await
                .context("the metrics endpoint stopped abnormally")?
                .context("the metrics endpoint stopped with an error")?;
        }
        if let Some(web) = web {
            web.await
                .context("the web dashboard stopped abnormally")?
                .context("the web dashboard stopped with an error")?;
        }
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Reads the config file (`--config`, or `concord.toml` if present) and
/// layers it with the environment and the flags.
pub(crate) fn load_config(args: &ServeArgs) -> anyhow::Result<(Config, Option<PathBuf>)> {
    let path = match &args.config {
        Some(path) => Some(path.clone()),
        None => {
            let default = PathBuf::from(config::DEFAULT_FILE);
            default.exists().then_some(default)
        }
    };
    let text = match &path {
        Some(path) => Some(fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the config file {} (fix the path given to --config)",
                path.display()
            )
        })?),
        None => None,
    };
    let config = Config::load(text.as_deref(), std::env::vars(), &args.overrides).with_context(
        || match &path {
            Some(path) => format!(
                "cannot start: the configuration is not valid (from {}, CONCORD_* variables and \
                 flags); fix the named setting",
                path.display()
            ),
            None => "cannot start: the configuration is not valid (from CONCORD_* variables and \
                     flags); fix the named setting"
                .to_owned(),
        },
    )?;
    Ok((config, path))
}

/// The files to use: the `[pki]` table's, or the development PKI's,
/// created now if `<data_dir>/pki` holds none.
fn pki_files(config: &Config, replica_of: Option<&Path>) -> anyhow::Result<(PkiFiles, PkiMode)> {
    if let Some(first) = replica_of {
        return replica_pki_files(config, first);
    }
    if let Some(files) = &config.pki {
        return Ok((files.clone(), PkiMode::Configured));
    }
    let dir = config.data_dir.join("pki");
    let layout = PkiLayout::at(&dir);
    let created = layout.missing().len() == 7;
    if created {
        let partnership = config.policy_dir.join("data").join("partnership.json");
        let another = format!(
            "serve reads it from the policy bundle, {}/data/partnership.json: run from the \
             repository, or point --policy-dir (or CONCORD_POLICY_DIR, or policy_dir in the \
             configuration file) at a bundle that holds one",
            config.policy_dir.display()
        );
        let (_, partnership) =
            super::pki::create(&dir, &partnership, &[], &another).with_context(|| {
                format!(
                    "cannot create the development PKI in {} (or configure a [pki] table)",
                    dir.display()
                )
            })?;
        println!(
            "created a development PKI in {} with {} client certificate(s) (development mode: \
             there is no [pki] table in the configuration)",
            dir.display(),
            partnership.certificates.len()
        );
        tracing::info!(
            dir = %dir.display(),
            clients = partnership.certificates.len(),
            "development pki created"
        );
    }
    let crl_files = development_crl_files(&layout);
    let files = PkiFiles {
        ca_cert: layout.ca_cert,
        server_cert: layout.server_cert,
        server_key: layout.server_key,
        broker_key: layout.broker_key,
        audit_key: layout.audit_key,
        // `concord pki revoke --pki <data_dir>/pki` writes it.
        crl_files,
    };
    Ok((files, PkiMode::Development { dir, created }))
}

/// `--replica-of DIR`: the development PKI of the broker whose data
/// directory (or PKI directory) is `DIR`, used as it is; refused unless
/// the database is PostgreSQL (which replicas share) and there is no
/// `[pki]` table.
fn replica_pki_files(config: &Config, first: &Path) -> anyhow::Result<(PkiFiles, PkiMode)> {
    if config.pki.is_some() {
        bail!(
            "cannot start: --replica-of uses another development broker's PKI, and this \
             configuration has a [pki] table (with a [pki] table, start every replica with the \
             same configuration instead, without --replica-of)"
        );
    }
    let url = config.database_url.expose();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!(
            "cannot start: a replica shares the first broker's PostgreSQL database, and the \
             database here is {} (SQLite serves one broker process): set --database-url or \
             CONCORD_DATABASE_URL to the first broker's postgres:// URL",
            config.database_url
        );
    }
    let dir = if first.join("pki").is_dir() {
        first.join("pki")
    } else {
        first.to_path_buf()
    };
    let layout = PkiLayout::at(&dir);
    let missing: Vec<String> = [
        &layout.ca_cert,
        &layout.server_cert,
        &layout.server_key,
        &layout.broker_key,
        &layout.audit_key,
        &layout.linkage_key,
    ]
    .into_iter()
    .filter(|p| !p.exists())
    .map(|p| format!("  {}", p.display()))
    .collect();
    if !missing.is_empty() {
        bail!(
            "cannot start: --replica-of {} is not a development broker's data directory or PKI \
             (a replica never creates a PKI); missing:\n{}\npass the data_dir of the first \
             broker (the directory holding pki/)",
            first.display(),
            missing.join("\n")
        );
    }
    let files = PkiFiles {
        ca_cert: layout.ca_cert.clone(),
        server_cert: layout.server_cert.clone(),
        server_key: layout.server_key.clone(),
        broker_key: layout.broker_key.clone(),
        audit_key: layout.audit_key.clone(),
        crl_files: development_crl_files(&layout),
    };
    Ok((files, PkiMode::Replica { dir }))
}

/// Refuses to start when the database holds pseudonyms made under another
/// broker key than this broker's (another PKI's broker: its lookups would
/// match nothing, and its extracts would link to nobody). Key ids name
/// their key material (`concord pki init` derives them from it), so two
/// PKIs' keys never share an id.
async fn check_broker_key(store: &Store, key: &BrokerKey, mode: &PkiMode) -> anyhow::Result<()> {
    let held = store
        .broker_key_ids()
        .await
        .context("cannot read which broker keys the stored pseudonyms were made with")?;
    let foreign: Vec<&str> = held
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| *id != key.id())
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let fix = match mode {
        PkiMode::Configured => "fix pki.broker_key (every replica holds the same broker key file)",
        PkiMode::Development { .. } | PkiMode::Replica { .. } => {
            "a second replica must use the first one's PKI: start it with `concord serve \
             --replica-of <the first broker's data_dir>`"
        }
    };
    bail!(
        "cannot start: the database holds pseudonyms made with broker key {} and this broker's \
         key is {} ({fix}; if a broker key rotation was interrupted, run `concord keys rotate` \
         again to finish it)",
        foreign.join(", "),
        key.id()
    )
}

/// This replica's name in the linker's lease and the logs: `host:port`
/// (the host's name, a pod's in Kubernetes), or `host pid N` when the port
/// is picked at start.
fn replica_name(listen: SocketAddr) -> String {
    let default = concord_server::linkage::default_replica_name();
    match listen.port() {
        0 => default,
        port => {
            let host = default
                .rsplit_once(" pid ")
                .map_or(default.as_str(), |(h, _)| h);
            format!("{host}:{port}")
        }
    }
}

/// Which replica runs the linker, for the start-up report and its log line.
async fn linker_status(store: &Store, linkage: &concord_server::linkage::Linkage) -> String {
    let holder = store.linker_holder().await;
    describe_linker(linkage.name(), linkage.is_leader(), holder.ok())
}

fn describe_linker(
    name: &str,
    leader: bool,
    holder: Option<concord_store::LinkerHolder>,
) -> String {
    use concord_store::LinkerHolder;
    match (leader, holder) {
        (true, Some(LinkerHolder::Sole)) => {
            format!("this broker ({name}) runs the linker (SQLite: one broker process)")
        }
        (true, _) => format!("this replica ({name}) runs the linker (it holds the lease)"),
        (false, Some(LinkerHolder::Replica(holder))) => {
            format!("replica {holder} runs the linker; this one ({name}) takes over if it goes")
        }
        (false, Some(LinkerHolder::Nobody)) => format!(
            "no replica holds the lease this moment; this one ({name}) asks for it every second"
        ),
        (false, Some(LinkerHolder::Sole) | None) => format!(
            "another replica runs the linker (the database did not say which); this one \
             ({name}) takes over if it goes"
        ),
    }
}

/// The linkage key ids extracts and lookups may carry: `linkage_key_id` and
/// `previous_linkage_key_id`, or in development mode by default the id of
/// the development PKI's linkage key (only its `key_id` is used: the broker
/// never uses `K_link`).
fn linkage_key_ids(config: &Config, mode: &PkiMode) -> anyhow::Result<LinkageKeyIds> {
    let previous = config.previous_linkage_key_id.clone();
    if let Some(current) = &config.linkage_key_id {
        return Ok(LinkageKeyIds::new(current.clone(), previous));
    }
    let Some(dir) = mode.development_dir() else {
        bail!("cannot start: linkage_key_id is not set (a [pki] table needs it)");
    };
    let path = PkiLayout::at(dir).linkage_key;
    let what = path.display().to_string();
    let file = fs::read_to_string(&path)
        .map_err(anyhow::Error::from)
        .and_then(|text| KeyFile::parse(&text, &what).map_err(Into::into))
        .with_context(|| {
            format!(
                "cannot start: the development linkage key {what} is not readable, so its id is \
                 unknown (set linkage_key_id or CONCORD_LINKAGE_KEY_ID)"
            )
        })?;
    Ok(LinkageKeyIds::new(file.key_id, previous))
}

/// The broker's rustls configuration from the PKI files read; an error
/// names the files, after `prefix`.
fn tls_config(
    files: &PkiFiles,
    material: &TlsPem,
    prefix: &str,
) -> anyhow::Result<concord_server::tls::TlsConfig> {
    concord_server::tls::server_config(&TlsMaterial {
        ca_pem: &material.ca_pem,
        cert_pem: &material.cert_pem,
        key_pem: &material.key_pem,
        crl_pems: material.crl_pems.iter().map(Vec::as_slice).collect(),
    })
    .with_context(|| {
        let crls: Vec<String> = files
            .crl_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "{prefix}the TLS files are not usable (CA {}, server certificate {}, server key {}{})",
            files.ca_cert.display(),
            files.server_cert.display(),
            files.server_key.display(),
            match crls.len() {
                0 => String::new(),
                _ => format!(", CRL {}", crls.join(", ")),
            }
        )
    })
}

/// The web dashboard's rustls configuration (the broker's server
/// certificate, no client certificates); an error names the files, after
/// `prefix`.
fn web_tls_config(
    files: &PkiFiles,
    material: &TlsPem,
    prefix: &str,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    concord_server::web::server_config(&material.cert_pem, &material.key_pem).with_context(|| {
        format!(
            "{prefix}the server certificate {} or key {} is not usable for the web dashboard",
            files.server_cert.display(),
            files.server_key.display()
        )
    })
}

/// On each SIGHUP, reads the TLS files again (CA, server certificate and
/// key, CRLs; in development mode `pki/crl.pem` whether or not it existed
/// at start) and has new handshakes use them, on the mTLS port and the
/// web dashboard's: a certificate revoked with `concord pki revoke` is
/// refused from then on (new handshakes, the next request on a connection
/// already open, dashboard sessions signed in with it), and a renewed
/// server certificate is served, without a restart. Files that do not
/// load change nothing (on either port); the error is logged.
async fn reload_tls_on_hangup(
    tls: concord_server::tls::ServerTls,
    web_tls: concord_server::tls::ServerTls,
    files: PkiFiles,
    mode: PkiMode,
    mut hangup: tokio::signal::unix::Signal,
) {
    while hangup.recv().await.is_some() {
        let mut files = files.clone();
        if let Some(dir) = mode.development_dir() {
            files.crl_files = development_crl_files(&PkiLayout::at(dir));
        }
        let mut problems = Vec::new();
        let pem = read_tls_pem(&files, &mut problems);
        let configs = if problems.is_empty() {
            tls_config(&files, &pem, "")
                .and_then(|tls| Ok((tls, web_tls_config(&files, &pem, "")?)))
        } else {
            Err(anyhow::anyhow!(
                "{} TLS file(s) missing or unreadable: {}",
                problems.len(),
                problems
                    .iter()
                    .map(|p| p.trim())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        };
        match configs {
            Ok((config, web_config)) => {
                tls.replace(config);
                web_tls.replace(web_config);
                tracing::info!(
                    crl_files = files.crl_files.len(),
                    "TLS files read again (SIGHUP): new handshakes use them"
                );
            }
            Err(e) => tracing::error!(
                error = %format!("{e:#}"),
                "TLS files not reloaded (SIGHUP); the running configuration stays"
            ),
        }
    }
}

/// Reads every PKI file; refuses listing every one that is missing or
/// unreadable.
fn read_pki(files: &PkiFiles, mode: &PkiMode, data_dir: &Path) -> anyhow::Result<PkiMaterial> {
    let mut problems = Vec::new();
    let tls = read_tls_pem(files, &mut problems);
    let broker_key = read_pki_file("broker_key", &files.broker_key, &mut problems);
    let audit_key = read_pki_file("audit_key", &files.audit_key, &mut problems);
    if !problems.is_empty() {
        let fix = match mode {
            PkiMode::Configured => format!(
                "fix [pki] in the config (or the CONCORD_PKI_* variables), or remove the [pki] \
                 table to run with a development PKI in {}",
                data_dir.join("pki").display()
            ),
            PkiMode::Development { dir, .. } => format!(
                "the development PKI in {} is incomplete: restore the files, or move the \
                 directory away to have a new one created (its client certificates change)",
                dir.display()
            ),
            PkiMode::Replica { dir } => format!(
                "the development PKI in {} that this replica shares is incomplete: restore the \
                 files (a replica never creates them)",
                dir.display()
            ),
        };
        bail!(
            "cannot start: {} PKI file(s) missing or unreadable:\n{}\n{fix}",
            problems.len(),
            problems.join("\n")
        );
    }
    let broker_key = String::from_utf8(broker_key).map_err(|_| {
        anyhow::anyhow!(
            "cannot start: the broker key {} is not a UTF-8 key file (fix pki.broker_key)",
            files.broker_key.display()
        )
    })?;
    let audit_key = String::from_utf8(audit_key).map_err(|_| {
        anyhow::anyhow!(
            "cannot start: the audit key {} is not a UTF-8 key file (fix pki.audit_key)",
            files.audit_key.display()
        )
    })?;
    Ok(PkiMaterial {
        tls,
        broker_key,
        audit_key,
    })
}

/// The contents of `path` (the `pki.KEY` file), or empty with the problem
/// noted in `problems`.
fn read_pki_file(key: &str, path: &Path, problems: &mut Vec<String>) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| {
        problems.push(format!("  pki.{key} = {}: {e}", path.display()));
        Vec::new()
    })
}

/// The TLS files (CA, server certificate and key, CRLs), each unreadable
/// one noted in `problems`.
fn read_tls_pem(files: &PkiFiles, problems: &mut Vec<String>) -> TlsPem {
    TlsPem {
        ca_pem: read_pki_file("ca_cert", &files.ca_cert, problems),
        cert_pem: read_pki_file("server_cert", &files.server_cert, problems),
        key_pem: read_pki_file("server_key", &files.server_key, problems),
        crl_pems: files
            .crl_files
            .iter()
            .map(|path| read_pki_file("crl_files", path, problems))
            .collect(),
    }
}

/// A development PKI's CRL files: `crl.pem` once `concord pki revoke` has
/// written it.
fn development_crl_files(layout: &PkiLayout) -> Vec<PathBuf> {
    Some(layout.crl())
        .filter(|path| path.exists())
        .into_iter()
        .collect()
}

/// The start-up report on standard output: where everything is. The last
/// line, `listening on https://ADDR`, says the broker is ready.
#[allow(clippy::too_many_arguments)]
fn report(
    config: &Config,
    config_file: Option<&Path>,
    files: &PkiFiles,
    mode: &PkiMode,
    policy: &PolicyEngine,
    web_url: Option<&str>,
    metrics_url: Option<&str>,
    linker: &str,
    local: SocketAddr,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "concord broker {}", env!("CARGO_PKG_VERSION"))?;
    if let Some(file) = config_file {
        writeln!(out, "  config:       {}", file.display())?;
    }
    writeln!(
        out,
        "  data:         {} (database {})",
        config.data_dir.display(),
        config.database_url
    )?;
    match mode {
        PkiMode::Development { dir, created } => {
            writeln!(
                out,
                "  pki:          {} (development PKI{}{})",
                dir.display(),
                if *created { ", created now" } else { "" },
                if files.crl_files.is_empty() {
                    ""
                } else {
                    ", revocations in crl.pem"
                }
            )?;
            writeln!(
                out,
                "  clients:      {} (<user>.pem and <user>.key)",
                dir.join("clients").display()
            )?;
        }
        PkiMode::Replica { dir } => {
            writeln!(
                out,
                "  pki:          {} (replica: the development PKI of the broker it joins{})",
                dir.display(),
                if files.crl_files.is_empty() {
                    ""
                } else {
                    ", revocations in crl.pem"
                }
            )?;
            writeln!(
                out,
                "  clients:      {} (<user>.pem and <user>.key)",
                dir.join("clients").display()
            )?;
        }
        PkiMode::Configured => {
            writeln!(
                out,
                "  pki:          CA {}, server {} ([pki] table{})",
                files.ca_cert.display(),
                files.server_cert.display(),
                match files.crl_files.len() {
                    0 => String::new(),
                    n => format!(", {n} CRL file(s)"),
                }
            )?;
            writeln!(
                out,
                "  clients:      certificates issued by the CA in {}; the broker holds none",
                files.ca_cert.display()
            )?;
        }
    }
    writeln!(out, "  broker key:   {}", files.broker_key.display())?;
    writeln!(out, "  audit key:    {}", files.audit_key.display())?;
    writeln!(
        out,
        "  policy:       {} (revision {}, digest {})",
        config.policy_dir.display(),
        policy.bundle_revision(),
        policy.bundle_digest()
    )?;
    match web_url {
        Some(url) => writeln!(
            out,
            "  dashboard:    {url}/dashboard (sign in with a link from `concord dashboard-link`)"
        )?,
        None => writeln!(out, "  dashboard:    off (web_listen = \"off\")")?,
    }
    match metrics_url {
        Some(url) => writeln!(out, "  metrics:      {url} (and plain-text gRPC health)")?,
        None => writeln!(out, "  metrics:      off (metrics_listen = \"off\")")?,
    }
    writeln!(out, "  linker:       {linker}")?;
    writeln!(out, "listening on https://{local}")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use concord_store::LinkerHolder;

    use super::describe_linker;

    #[test]
    fn the_report_names_the_replica_that_runs_the_linker() {
        let holder = describe_linker(
            "b:7453",
            false,
            Some(LinkerHolder::Replica("a:7443".into())),
        );
        assert!(
            holder.starts_with("replica a:7443 runs the linker"),
            "{holder}"
        );
        assert!(holder.contains("b:7453"), "{holder}");
        let me = describe_linker("a:7443", true, Some(LinkerHolder::Replica("a:7443".into())));
        assert!(
            me.starts_with("this replica (a:7443) runs the linker"),
            "{me}"
        );
        let sole = describe_linker("a:7443", true, Some(LinkerHolder::Sole));
        assert!(sole.contains("SQLite"), "{sole}");
        let gone = describe_linker("b:7453", false, Some(LinkerHolder::Nobody));
        assert!(gone.starts_with("no replica holds the lease"), "{gone}");
    }

    #[test]
    fn a_replica_is_named_by_host_and_port() {
        let named = super::replica_name("127.0.0.1:7453".parse().unwrap());
        assert!(
            named.ends_with(":7453") && !named.contains(" pid "),
            "{named}"
        );
        let picked = super::replica_name("127.0.0.1:0".parse().unwrap());
        assert!(
            picked.ends_with(&format!(" pid {}", std::process::id())),
            "{picked}"
        );
    }
}
