//! The broker's configuration: one typed struct, [`Config`], layered
//!
//! 1. built-in defaults,
//! 2. a TOML file (`--config FILE`, or `concord.toml` in the working
//!    directory if it exists),
//! 3. environment variables `CONCORD_<KEY>` (a table key joins with `_`:
//!    `log.format` is `CONCORD_LOG_FORMAT`, `limits.max_batch_records` is
//!    `CONCORD_LIMITS_MAX_BATCH_RECORDS`; `CONCORD_PKI_CRL_FILES` is a
//!    `:`-separated list; an empty variable counts as unset),
//! 4. command-line flags (`--listen`, `--data-dir`, `--database-url`,
//!    `--policy-dir`),
//!
//! each later layer overriding the earlier ones key by key. Unknown keys are
//! refused (`deny_unknown_fields`), and every value is checked here, at
//! start-up, with a message naming the key as it was spelled where it was
//! set (`listen`, `CONCORD_LISTEN` or `--listen`).
//!
//! ```toml
//! listen = "127.0.0.1:7443"          # socket address
//! data_dir = ".concord"              # the SQLite file and the development PKI
//! database_url = "postgres://concord:secret@db/concord"  # default sqlite:<data_dir>/concord.sqlite
//! policy_dir = "policies"            # the policy bundle
//! web_listen = "127.0.0.1:7444"      # the board's web dashboard (HTTPS); "off" for none
//! web_public_url = "https://board.example.org"  # its address in sign-in links
//! metrics_listen = "127.0.0.1:9464"  # Prometheus /metrics over plain HTTP; "off" for none
//! retention_interval = 3600          # seconds between retention purges (one runs at start)
//! linkage_key_id = "lk-2026a"        # the partnership's K_link id; required with [pki]
//! previous_linkage_key_id = "lk-2025a"  # also accepted while a stated rotation runs
//!
//! [pki]                              # omit for development mode: <data_dir>/pki
//! ca_cert = "/etc/concord/ca.pem"
//! server_cert = "/etc/concord/server.pem"
//! server_key = "/etc/concord/server.key"
//! broker_key = "/etc/concord/keys/broker.json"
//! audit_key = "/etc/concord/keys/audit.json"   # default: audit.json beside broker_key
//! crl_files = []
//!
//! [limits]                           # concord_server::Limits; durations in seconds
//! max_message_bytes = 16777216
//! max_batch_records = 20000
//! max_extract_records = 5000000
//! max_stream_duration = 900
//! handshake_timeout = 10
//! max_reported_violations = 100
//! write_chunk_records = 20000
//! org_requests_per_second = 200      # per organisation (client certificate O)
//! org_burst = 400
//! org_max_concurrent = 64
//!
//! [log]
//! format = "text"                    # or "json"
//! level = "info"                     # a tracing filter; RUST_LOG overrides it
//! ```
//!
//! Relative paths are relative to the working directory. The database URL
//! may carry a password, so it is held in a [`DatabaseUrl`] whose `Debug`
//! and `Display` print `postgres://user:***@host/db`.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use concord_server::Limits;
use serde::Deserialize;

/// The configuration file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "concord.toml";

/// Prefix of the environment variables that configure the broker.
pub const ENV_PREFIX: &str = "CONCORD_";

/// The broker's configuration, complete and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the broker listens on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where the SQLite database and the development PKI live.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…`.
    pub database_url: DatabaseUrl,
    /// The policy bundle directory.
    pub policy_dir: PathBuf,
    /// Where the board's web dashboard listens (HTTPS); `None` when
    /// `web_listen = "off"`. Default: `listen`'s address on the next port
    /// (port 0 when `listen` uses port 0).
    pub web_listen: Option<SocketAddr>,
    /// The dashboard's address as browsers reach it (`https://host[:port]`),
    /// for the sign-in links; default `https://localhost:PORT` for a
    /// loopback `web_listen`, else `https://ADDR`.
    pub web_public_url: Option<String>,
    /// Where Prometheus scrapes `/metrics` (plain HTTP, no identifiers);
    /// `None` when `metrics_listen = "off"`. Default `127.0.0.1:9464`
    /// (port 0 when `listen` uses port 0).
    pub metrics_listen: Option<SocketAddr>,
    /// How often records past the agreement's retention period are purged
    /// (one purge runs at start). Default one hour.
    pub retention_interval: Duration,
    /// The PKI files; `None` is development mode (`<data_dir>/pki`).
    pub pki: Option<PkiFiles>,
    /// The id of the partnership's current linkage key (`K_link`, which the
    /// broker never holds): extracts and lookups under any other id are
    /// refused. Required with a `[pki]` table; in development mode `None`
    /// means the id of the development PKI's linkage key.
    pub linkage_key_id: Option<String>,
    /// The previous linkage key's id, also accepted while a stated rotation
    /// runs (remove it when the rotation ends).
    pub previous_linkage_key_id: Option<String>,
    /// What a push must keep to.
    pub limits: Limits,
    /// Logging.
    pub log: LogConfig,
}

/// The `[pki]` table: the files a production broker uses. The CA private
/// key is not among them: the broker never issues certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiFiles {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub broker_key: PathBuf,
    /// The Ed25519 key that signs audit checkpoints (a `kind:
    /// "audit_signing"` key file); by default `audit.json` beside the
    /// broker key.
    pub audit_key: PathBuf,
    pub crl_files: Vec<PathBuf>,
}

/// The `[log]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter: a level (`info`) or directives
    /// (`info,concord_server=debug`).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// How log lines are written (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A database URL. It may hold a password, so `Debug` and `Display` redact
/// it; only [`DatabaseUrl::expose`] gives the real value, to the store.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, password included: for connecting, never printing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`: the user-info password
    /// (`user:***@`) and a `password=` query parameter.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            return url.clone();
        };
        let (head, rest) = url.split_at(scheme_end);
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***{host}"),
                    None => authority.to_owned(),
                }
            }
            None => authority.to_owned(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let (query, fragment) = match query.split_once('#') {
                    Some((q, f)) => (q, Some(f)),
                    None => (query, None),
                };
                let query = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                            format!("{key}=***")
                        }
                        _ => pair.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                match fragment {
                    Some(f) => format!("{path}?{query}#{f}"),
                    None => format!("{path}?{query}"),
                }
            }
            None => tail.to_owned(),
        };
        format!("{head}{authority}{tail}")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The command-line layer: the flags `concord serve` takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Address to listen on, e.g. 127.0.0.1:7443 (port 0 picks a free port) [config: listen]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Directory of the SQLite database and the development PKI [config: data_dir]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite:PATH or postgres://USER:PASSWORD@HOST/DB (prefer CONCORD_DATABASE_URL: flags are visible to other users) [config: database_url]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Directory of the policy bundle [config: policy_dir]
    #[arg(long, value_name = "DIR")]
    pub policy_dir: Option<PathBuf>,
    /// Address of the board's web dashboard (HTTPS), or "off" [config: web_listen]
    #[arg(long, value_name = "ADDR")]
    pub web_listen: Option<String>,
    /// Address of the Prometheus /metrics and plain-text health endpoint, or "off" [config: metrics_listen]
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

/// Where a value was set; names the key as it is spelled there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    File,
    Env,
    Flag,
}

impl Origin {
    /// `listen`, `CONCORD_LISTEN` or `--listen` for the key `listen`.
    fn key(self, key: &str) -> String {
        match self {
            Origin::File => key.to_owned(),
            Origin::Env => env_name(key),
            Origin::Flag => format!("--{}", key.replace('_', "-")),
        }
    }

    /// `listen = "x"`, `CONCORD_LISTEN = "x"` or `--listen "x"`.
    fn setting(self, key: &str, value: &str) -> String {
        match self {
            Origin::Flag => format!("{} {value:?}", self.key(key)),
            _ => format!("{} = {value:?}", self.key(key)),
        }
    }
}

/// `CONCORD_LOG_FORMAT` for `log.format`.
fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_uppercase())
}

/// One layer's settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<DatabaseUrl>,
    policy_dir: Option<PathBuf>,
    web_listen: Option<String>,
    web_public_url: Option<String>,
    metrics_listen: Option<String>,
    /// Seconds.
    retention_interval: Option<u64>,
    linkage_key_id: Option<String>,
    previous_linkage_key_id: Option<String>,
    pki: Option<PkiLayer>,
    #[serde(default)]
    limits: LimitsLayer,
    #[serde(default)]
    log: LogLayer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PkiLayer {
    ca_cert: Option<PathBuf>,
    server_cert: Option<PathBuf>,
    server_key: Option<PathBuf>,
    broker_key: Option<PathBuf>,
    audit_key: Option<PathBuf>,
    crl_files: Option<Vec<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsLayer {
    max_message_bytes: Option<u64>,
    max_batch_records: Option<u64>,
    max_extract_records: Option<u64>,
    /// Seconds.
    max_stream_duration: Option<u64>,
    /// Seconds.
    handshake_timeout: Option<u64>,
    max_reported_violations: Option<u64>,
    write_chunk_records: Option<u64>,
    org_requests_per_second: Option<u64>,
    org_burst: Option<u64>,
    org_max_concurrent: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLayer {
    format: Option<String>,
    level: Option<String>,
}

/// Every key the environment can set, as dotted TOML keys.
const ENV_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "policy_dir",
    "web_listen",
    "web_public_url",
    "metrics_listen",
    "retention_interval",
    "linkage_key_id",
    "previous_linkage_key_id",
    "pki.ca_cert",
    "pki.server_cert",
    "pki.server_key",
    "pki.broker_key",
    "pki.audit_key",
    "pki.crl_files",
    "limits.max_message_bytes",
    "limits.max_batch_records",
    "limits.max_extract_records",
    "limits.max_stream_duration",
    "limits.handshake_timeout",
    "limits.max_reported_violations",
    "limits.write_chunk_records",
    "limits.org_requests_per_second",
    "limits.org_burst",
    "limits.org_max_concurrent",
    "log.format",
    "log.level",
];

/// The `CONCORD_*` variables in `env` that configure nothing (a typo, say),
/// by name only.
pub fn unknown_env_vars(env: impl Iterator<Item = (String, String)>) -> Vec<String> {
    let known: Vec<String> = ENV_KEYS.iter().map(|k| env_name(k)).collect();
    env.map(|(name, _)| name)
        .filter(|name| name.starts_with(ENV_PREFIX) && !known.contains(name))
        .collect()
}

impl Layer {
    /// The layer of a TOML document. Errors name the line and the key and
    /// never quote the file (which may hold a database password).
    fn from_toml(text: &str) -> anyhow::Result<Layer> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| {
                1 + text.as_bytes()[..span.start.min(text.len())]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
            });
            let message = e.message().trim_end();
            match line {
                Some(line) => anyhow::anyhow!("config: line {line}: {message}"),
                None => anyhow::anyhow!("config: {message}"),
            }
        })
    }

    /// The layer of the `CONCORD_*` variables in `env`; others are ignored.
    fn from_env(env: impl Iterator<Item = (String, String)>) -> anyhow::Result<Layer> {
        let mut layer = Layer::default();
        for (name, value) in env {
            if value.is_empty() {
                continue;
            }
            let Some(key) = ENV_KEYS.iter().find(|k| env_name(k) == name) else {
                continue;
            };
            let number = || -> anyhow::Result<Option<u64>> {
                match value.trim().parse::<u64>() {
                    Ok(n) => Ok(Some(n)),
                    Err(_) => bail!(
                        "config: {} is not a whole number",
                        Origin::Env.setting(key, &value)
                    ),
                }
            };
            match *key {
                "listen" => layer.listen = Some(value),
                "data_dir" => layer.data_dir = Some(value.into()),
                "database_url" => layer.database_url = Some(DatabaseUrl(value)),
                "policy_dir" => layer.policy_dir = Some(value.into()),
                "web_listen" => layer.web_listen = Some(value),
                "web_public_url" => layer.web_public_url = Some(value),
                "metrics_listen" => layer.metrics_listen = Some(value),
                "retention_interval" => layer.retention_interval = number()?,
                "linkage_key_id" => layer.linkage_key_id = Some(value),
                "previous_linkage_key_id" => layer.previous_linkage_key_id = Some(value),
                "pki.ca_cert" => layer_pki(&mut layer.pki).ca_cert = Some(value.into()),
                "pki.server_cert" => layer_pki(&mut layer.pki).server_cert = Some(value.into()),
                "pki.server_key" => layer_pki(&mut layer.pki).server_key = Some(value.into()),
                "pki.broker_key" => layer_pki(&mut layer.pki).broker_key = Some(value.into()),
                "pki.audit_key" => layer_pki(&mut layer.pki).audit_key = Some(value.into()),
                "pki.crl_files" => {
                    layer_pki(&mut layer.pki).crl_files =
                        Some(std::env::split_paths(&value).collect());
                }
                "limits.max_message_bytes" => layer.limits.max_message_bytes = number()?,
                "limits.max_batch_records" => layer.limits.max_batch_records = number()?,
                "limits.max_extract_records" => layer.limits.max_extract_records = number()?,
                "limits.max_stream_duration" => layer.limits.max_stream_duration = number()?,
                "limits.handshake_timeout" => layer.limits.handshake_timeout = number()?,
                "limits.max_reported_violations" => {
                    layer.limits.max_reported_violations = number()?;
                }
                "limits.write_chunk_records" => layer.limits.write_chunk_records = number()?,
                "limits.org_requests_per_second" => {
                    layer.limits.org_requests_per_second = number()?;
                }
                "limits.org_burst" => layer.limits.org_burst = number()?,
                "limits.org_max_concurrent" => layer.limits.org_max_concurrent = number()?,
                "log.format" => layer.log.format = Some(value),
                "log.level" => layer.log.level = Some(value),
                other => unreachable!("ENV_KEYS entry {other} is not handled"),
            }
        }
        Ok(layer)
    }

    fn from_flags(flags: &Overrides) -> Layer {
        Layer {
            listen: flags.listen.clone(),
            data_dir: flags.data_dir.clone(),
            database_url: flags.database_url.clone().map(DatabaseUrl),
            policy_dir: flags.policy_dir.clone(),
            web_listen: flags.web_listen.clone(),
            metrics_listen: flags.metrics_listen.clone(),
            ..Layer::default()
        }
    }
}

fn layer_pki(pki: &mut Option<PkiLayer>) -> &mut PkiLayer {
    pki.get_or_insert_with(PkiLayer::default)
}

/// The layers in order of precedence, lowest first.
struct Layers(Vec<(Origin, Layer)>);

impl Layers {
    /// The value of the highest layer that sets it, and where it was set.
    fn get<'a, T: ?Sized>(
        &'a self,
        field: impl Fn(&'a Layer) -> Option<&'a T>,
    ) -> Option<(&'a T, Origin)> {
        self.0
            .iter()
            .rev()
            .find_map(|(origin, layer)| field(layer).map(|v| (v, *origin)))
    }

    fn pki<'a, T: ?Sized>(
        &'a self,
        field: impl Fn(&'a PkiLayer) -> Option<&'a T>,
    ) -> Option<(&'a T, Origin)> {
        self.get(|l| l.pki.as_ref().and_then(&field))
    }
}

impl Config {
    /// Layers defaults, the TOML text of a config file (if any), the
    /// environment (only `CONCORD_*` variables are read) and the
    /// command-line flags, then validates the result.
    pub fn load(
        file: Option<&str>,
        env: impl Iterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> anyhow::Result<Config> {
        let mut layers = Vec::new();
        if let Some(text) = file {
            layers.push((Origin::File, Layer::from_toml(text)?));
        }
        layers.push((Origin::Env, Layer::from_env(env)?));
        layers.push((Origin::Flag, Layer::from_flags(flags)));
        Config::from_layers(&Layers(layers))
    }

    fn from_layers(layers: &Layers) -> anyhow::Result<Config> {
        let listen = match layers.get(|l| l.listen.as_deref()) {
            Some((value, origin)) => value.trim().parse::<SocketAddr>().map_err(|_| {
                anyhow::anyhow!(
                    "config: {} is not a socket address such as 127.0.0.1:7443",
                    origin.setting("listen", value)
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 7443)),
        };
        let data_dir = path(layers.get(|l| l.data_dir.as_deref()), "data_dir")?
            .unwrap_or_else(|| PathBuf::from(".concord"));
        let policy_dir = path(layers.get(|l| l.policy_dir.as_deref()), "policy_dir")?
            .unwrap_or_else(|| PathBuf::from("policies"));
        let database_url = match layers.get(|l| l.database_url.as_ref()) {
            Some((url, origin)) => {
                let u = url.expose();
                if !(u.starts_with("sqlite:")
                    || u.starts_with("postgres://")
                    || u.starts_with("postgresql://"))
                {
                    bail!(
                        "config: {} (shown redacted) must start with sqlite: or postgres://",
                        origin.setting("database_url", &url.redacted())
                    );
                }
                url.clone()
            }
            None => DatabaseUrl(format!(
                "sqlite:{}",
                data_dir.join("concord.sqlite").display()
            )),
        };
        let web_listen = match layers.get(|l| l.web_listen.as_deref()) {
            Some((value, _)) if value.trim().eq_ignore_ascii_case("off") => None,
            Some((value, origin)) => Some(value.trim().parse::<SocketAddr>().map_err(|_| {
                anyhow::anyhow!(
                    "config: {} is not a socket address such as 127.0.0.1:7444, or \"off\"",
                    origin.setting("web_listen", value)
                )
            })?),
            None => {
                let port = match listen.port() {
                    0 => 0,
                    p => p.checked_add(1).ok_or_else(|| {
                        anyhow::anyhow!(
                            "config: listen uses port 65535, so the dashboard has no next port: \
                             set web_listen (or \"off\")"
                        )
                    })?,
                };
                Some(SocketAddr::new(listen.ip(), port))
            }
        };
        if web_listen.is_some_and(|w| w.port() != 0 && w == listen) {
            bail!("config: web_listen must differ from listen (the dashboard has its own port)");
        }
        let web_public_url = match layers.get(|l| l.web_public_url.as_deref()) {
            Some((value, origin)) => {
                let v = value.trim().trim_end_matches('/');
                let rest = v.strip_prefix("https://").unwrap_or("");
                if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
                    bail!(
                        "config: {} must be an https:// address with no path, such as \
                         https://board.example.org",
                        origin.setting("web_public_url", value)
                    );
                }
                Some(v.to_owned())
            }
            None => None,
        };
        let metrics_listen = match layers.get(|l| l.metrics_listen.as_deref()) {
            Some((value, _)) if value.trim().eq_ignore_ascii_case("off") => None,
            Some((value, origin)) => Some(value.trim().parse::<SocketAddr>().map_err(|_| {
                anyhow::anyhow!(
                    "config: {} is not a socket address such as 127.0.0.1:9464, or \"off\"",
                    origin.setting("metrics_listen", value)
                )
            })?),
            // Port 0 for a broker on port 0, so tests share nothing.
            None if listen.port() == 0 => Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
        };
        if metrics_listen
            .is_some_and(|m| m.port() != 0 && (m == listen || web_listen.is_some_and(|w| w == m)))
        {
            bail!(
                "config: metrics_listen must differ from listen and web_listen \
                 (metrics are served on their own port)"
            );
        }
        let retention_interval = match layers.get(|l| l.retention_interval.as_ref()) {
            Some((&0, origin)) => bail!(
                "config: {} must be at least 1 (seconds between retention purges)",
                origin.setting("retention_interval", "0")
            ),
            Some((&n, _)) => Duration::from_secs(n),
            None => Duration::from_secs(60 * 60),
        };
        let pki = pki(layers)?;
        let (linkage_key_id, previous_linkage_key_id) = linkage_key_ids(layers, pki.is_some())?;
        Ok(Config {
            listen,
            web_listen,
            web_public_url,
            metrics_listen,
            retention_interval,
            database_url,
            pki,
            linkage_key_id,
            previous_linkage_key_id,
            limits: limits(layers)?,
            log: log(layers)?,
            data_dir,
            policy_dir,
        })
    }
}

fn path(found: Option<(&Path, Origin)>, key: &str) -> anyhow::Result<Option<PathBuf>> {
    match found {
        Some((p, origin)) if p.as_os_str().is_empty() => {
            bail!("config: {} must not be empty", origin.key(key))
        }
        Some((p, _)) => Ok(Some(p.to_owned())),
        None => Ok(None),
    }
}

/// `linkage_key_id` and `previous_linkage_key_id`: ids such as `lk-2026a`,
/// the current one required with a `[pki]` table, the previous one only
/// beside a current one and different from it.
fn linkage_key_ids(
    layers: &Layers,
    production: bool,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let id = |key: &str, found: Option<(&str, Origin)>| -> anyhow::Result<Option<String>> {
        match found {
            Some((value, origin)) => {
                let v = value.trim();
                if !concord_core::is_key_id(v) {
                    bail!(
                        "config: {} must be a linkage key id such as lk-2026a (a-z, 0-9 and '-', \
                         at most 32)",
                        origin.setting(key, value)
                    );
                }
                Ok(Some(v.to_owned()))
            }
            None => Ok(None),
        }
    };
    let current = id(
        "linkage_key_id",
        layers.get(|l| l.linkage_key_id.as_deref()),
    )?;
    let previous_found = layers.get(|l| l.previous_linkage_key_id.as_deref());
    let previous = id("previous_linkage_key_id", previous_found)?;
    match (&current, &previous) {
        (None, _) if production => bail!(
            "config: [pki] is given but linkage_key_id is missing (set it, or {}, to the id of \
             the partnership's linkage key, such as lk-2026a): the broker refuses extracts and \
             lookups under any other id",
            env_name("linkage_key_id")
        ),
        (None, Some(_)) => bail!(
            "config: previous_linkage_key_id is set but linkage_key_id is not (a rotation \
             names the current key too)"
        ),
        (Some(c), Some(p)) if c == p => bail!(
            "config: previous_linkage_key_id is {p}, the same as linkage_key_id (remove it, \
             or name the key being rotated out)"
        ),
        _ => Ok((current, previous)),
    }
}

fn pki(layers: &Layers) -> anyhow::Result<Option<PkiFiles>> {
    if layers.get(|l| l.pki.as_ref()).is_none() {
        return Ok(None);
    }
    let required = |key: &str, field: fn(&PkiLayer) -> Option<&Path>| {
        let full = format!("pki.{key}");
        match layers.pki(field) {
            Some(found) => Ok(path(Some(found), &full)?.expect("set")),
            None => bail!(
                "config: [pki] is given but pki.{key} is missing (set it in the [pki] table or \
                 {}); a [pki] table needs ca_cert, server_cert, server_key and broker_key, or \
                 remove it to run with a development PKI in <data_dir>/pki",
                env_name(&full)
            ),
        }
    };
    let ca_cert = required("ca_cert", |p| p.ca_cert.as_deref())?;
    let server_cert = required("server_cert", |p| p.server_cert.as_deref())?;
    let server_key = required("server_key", |p| p.server_key.as_deref())?;
    let broker_key = required("broker_key", |p| p.broker_key.as_deref())?;
    let audit_key = match layers.pki(|p| p.audit_key.as_deref()) {
        Some(found) => path(Some(found), "pki.audit_key")?.expect("set"),
        None => broker_key.with_file_name("audit.json"),
    };
    Ok(Some(PkiFiles {
        ca_cert,
        server_cert,
        server_key,
        broker_key,
        audit_key,
        crl_files: layers
            .pki(|p| p.crl_files.as_ref())
            .map(|(files, _)| files.clone())
            .unwrap_or_default(),
    }))
}

fn limits(layers: &Layers) -> anyhow::Result<Limits> {
    let d = Limits::default();
    let get = |key: &str, field: fn(&LimitsLayer) -> Option<&u64>| -> anyhow::Result<Option<u64>> {
        match layers.get(|l| field(&l.limits)) {
            Some((&0, origin)) => bail!(
                "config: {} must be at least 1",
                origin.setting(&format!("limits.{key}"), "0")
            ),
            Some((n, _)) => Ok(Some(*n)),
            None => Ok(None),
        }
    };
    let size = |key: &str, field: fn(&LimitsLayer) -> Option<&u64>, default: usize| {
        get(key, field)?.map_or(Ok(default), |n| {
            usize::try_from(n).with_context(|| format!("config: limits.{key} is too large"))
        })
    };
    let small = |key: &str, field: fn(&LimitsLayer) -> Option<&u64>, default: u32| {
        get(key, field)?.map_or(Ok(default), |n| {
            u32::try_from(n).with_context(|| format!("config: limits.{key} is too large"))
        })
    };
    let secs = |key: &str, field: fn(&LimitsLayer) -> Option<&u64>, default: Duration| {
        get(key, field).map(|n| n.map_or(default, Duration::from_secs))
    };
    Ok(Limits {
        max_message_bytes: size(
            "max_message_bytes",
            |l| l.max_message_bytes.as_ref(),
            d.max_message_bytes,
        )?,
        max_batch_records: size(
            "max_batch_records",
            |l| l.max_batch_records.as_ref(),
            d.max_batch_records,
        )?,
        max_extract_records: get("max_extract_records", |l| l.max_extract_records.as_ref())?
            .unwrap_or(d.max_extract_records),
        max_stream_duration: secs(
            "max_stream_duration",
            |l| l.max_stream_duration.as_ref(),
            d.max_stream_duration,
        )?,
        handshake_timeout: secs(
            "handshake_timeout",
            |l| l.handshake_timeout.as_ref(),
            d.handshake_timeout,
        )?,
        max_reported_violations: size(
            "max_reported_violations",
            |l| l.max_reported_violations.as_ref(),
            d.max_reported_violations,
        )?,
        write_chunk_records: size(
            "write_chunk_records",
            |l| l.write_chunk_records.as_ref(),
            d.write_chunk_records,
        )?,
        org_requests_per_second: get("org_requests_per_second", |l| {
            l.org_requests_per_second.as_ref()
        })?
        .map_or(d.org_requests_per_second, |n| n as f64),
        org_burst: small("org_burst", |l| l.org_burst.as_ref(), d.org_burst)?,
        org_max_concurrent: small(
            "org_max_concurrent",
            |l| l.org_max_concurrent.as_ref(),
            d.org_max_concurrent,
        )?,
    })
}

fn log(layers: &Layers) -> anyhow::Result<LogConfig> {
    let d = LogConfig::default();
    let format = match layers.get(|l| l.log.format.as_deref()) {
        Some(("text", _)) => LogFormat::Text,
        Some(("json", _)) => LogFormat::Json,
        Some((other, origin)) => bail!(
            "config: {} must be \"text\" or \"json\"",
            origin.setting("log.format", other)
        ),
        None => d.format,
    };
    let level = match layers.get(|l| l.log.level.as_deref()) {
        Some((level, origin)) => {
            if crate::telemetry::filter(level).is_err() {
                bail!(
                    "config: {} is not a log level or filter such as info or \
                     info,concord_server=debug",
                    origin.setting("log.level", level)
                );
            }
            level.to_owned()
        }
        None => d.level,
    };
    Ok(LogConfig { format, level })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    impl DatabaseUrl {
        fn from_test(url: &str) -> DatabaseUrl {
            DatabaseUrl(url.to_owned())
        }
    }

    fn no_env() -> impl Iterator<Item = (String, String)> {
        env(&[])
    }

    #[test]
    fn defaults_need_nothing() {
        let c = Config::load(None, no_env(), &Overrides::default()).unwrap();
        assert_eq!(c.listen, "127.0.0.1:7443".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from(".concord"));
        assert_eq!(c.database_url.expose(), "sqlite:.concord/concord.sqlite");
        assert_eq!(c.policy_dir, PathBuf::from("policies"));
        assert_eq!(c.pki, None);
        assert_eq!(c.log, LogConfig::default());
        assert_eq!(
            c.limits.max_batch_records,
            Limits::default().max_batch_records
        );
    }

    #[test]
    fn file_then_environment_then_flags() {
        let file = r#"
            listen = "127.0.0.1:1000"
            data_dir = "/var/lib/concord"
            policy_dir = "/etc/concord/policies"
            [log]
            format = "json"
            level = "debug"
            [limits]
            max_batch_records = 100
            max_stream_duration = 60
        "#;
        // The file alone.
        let c = Config::load(Some(file), no_env(), &Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 1000);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/concord"));
        assert_eq!(
            c.database_url.expose(),
            "sqlite:/var/lib/concord/concord.sqlite",
            "the default database follows data_dir"
        );
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.limits.max_batch_records, 100);
        assert_eq!(c.limits.max_stream_duration, Duration::from_secs(60));
        assert_eq!(
            c.limits.handshake_timeout,
            Limits::default().handshake_timeout
        );

        // The environment beats the file, key by key; other variables are ignored.
        let vars = [
            ("CONCORD_LISTEN", "127.0.0.1:2000"),
            ("CONCORD_DATA_DIR", "/srv/concord"),
            ("CONCORD_LOG_LEVEL", "warn"),
            ("CONCORD_LIMITS_MAX_BATCH_RECORDS", "200"),
            ("HOME", "/root"),
        ];
        let c = Config::load(Some(file), env(&vars), &Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 2000);
        assert_eq!(c.data_dir, PathBuf::from("/srv/concord"));
        assert_eq!(c.policy_dir, PathBuf::from("/etc/concord/policies"));
        assert_eq!(c.log.level, "warn");
        assert_eq!(c.log.format, LogFormat::Json, "still from the file");
        assert_eq!(c.limits.max_batch_records, 200);
        assert_eq!(c.limits.max_stream_duration, Duration::from_secs(60));

        // Flags beat both.
        let flags = Overrides {
            listen: Some("127.0.0.1:3000".into()),
            database_url: Some("postgres://concord:pw@db/concord".into()),
            ..Overrides::default()
        };
        let c = Config::load(Some(file), env(&vars), &flags).unwrap();
        assert_eq!(c.listen.port(), 3000);
        assert_eq!(c.data_dir, PathBuf::from("/srv/concord"));
        assert_eq!(c.database_url.expose(), "postgres://concord:pw@db/concord");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = Config::load(Some("lisen = \"x\"\n"), no_env(), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `lisen`"), "{err}");
        assert!(err.contains("line 1"), "{err}");

        let err = Config::load(
            Some("listen = \"127.0.0.1:1\"\n[log]\ncolour = \"red\"\n"),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`colour`") && err.contains("line 3"), "{err}");

        let err = Config::load(
            Some("[pki]\nca_key = \"ca.key\"\n"),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`ca_key`"), "{err}");

        let unknown = unknown_env_vars(env(&[
            ("CONCORD_LISTN", "x"),
            ("CONCORD_LISTEN", "x"),
            ("PATH", "/bin"),
        ]));
        assert_eq!(unknown, vec!["CONCORD_LISTN".to_owned()]);
    }

    #[test]
    fn bad_values_name_the_key_where_it_was_set() {
        let err = Config::load(Some("listen = \"x\""), no_env(), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config: listen = \"x\" is not a socket address such as 127.0.0.1:7443"
        );
        let err = Config::load(
            None,
            env(&[("CONCORD_LISTEN", "nowhere")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("config: CONCORD_LISTEN = \"nowhere\""),
            "{err}"
        );
        let flags = Overrides {
            listen: Some("x:y".into()),
            ..Overrides::default()
        };
        let err = Config::load(None, no_env(), &flags)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config: --listen \"x:y\""), "{err}");

        let err = Config::load(
            None,
            env(&[("CONCORD_LIMITS_HANDSHAKE_TIMEOUT", "soon")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("CONCORD_LIMITS_HANDSHAKE_TIMEOUT"), "{err}");
        let err = Config::load(
            Some("[limits]\nmax_batch_records = 0"),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("limits.max_batch_records"), "{err}");
        let err = Config::load(
            Some("[log]\nformat = \"xml\""),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("log.format = \"xml\""), "{err}");
        let err = Config::load(
            None,
            env(&[("CONCORD_LOG_LEVEL", "very=loud=indeed")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("CONCORD_LOG_LEVEL"), "{err}");
    }

    #[test]
    fn a_pki_table_needs_every_file_but_not_the_ca_key() {
        let err = Config::load(
            Some("[pki]\nca_cert = \"ca.pem\"\nserver_cert = \"s.pem\"\n"),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("pki.server_key is missing"), "{err}");

        let vars = [
            ("CONCORD_PKI_SERVER_KEY", "/run/secrets/server.key"),
            ("CONCORD_PKI_BROKER_KEY", "/run/secrets/broker.json"),
            ("CONCORD_PKI_CRL_FILES", "/etc/crl/a.pem:/etc/crl/b.pem"),
            ("CONCORD_LINKAGE_KEY_ID", "lk-2026a"),
        ];
        let c = Config::load(
            Some("[pki]\nca_cert = \"ca.pem\"\nserver_cert = \"s.pem\"\n"),
            env(&vars),
            &Overrides::default(),
        )
        .unwrap();
        let pki = c.pki.unwrap();
        assert_eq!(pki.server_key, PathBuf::from("/run/secrets/server.key"));
        assert_eq!(pki.ca_cert, PathBuf::from("ca.pem"));
        assert_eq!(pki.crl_files.len(), 2);
    }

    #[test]
    fn linkage_key_ids_are_required_in_production_and_checked() {
        let pki = "[pki]\nca_cert = \"ca.pem\"\nserver_cert = \"s.pem\"\nserver_key = \"s.key\"\n\
                   broker_key = \"broker.json\"\n";
        let load = |file: &str, vars: &[(&str, &str)]| {
            Config::load(Some(file), env(vars), &Overrides::default())
        };
        // Development mode: the development PKI's id (None here).
        let c = load("", &[]).unwrap();
        assert_eq!((c.linkage_key_id, c.previous_linkage_key_id), (None, None));
        // Production: required.
        let err = load(pki, &[]).unwrap_err().to_string();
        assert!(
            err.contains("linkage_key_id is missing") && err.contains("CONCORD_LINKAGE_KEY_ID"),
            "{err}"
        );
        let c = load(pki, &[("CONCORD_LINKAGE_KEY_ID", "lk-2026a")]).unwrap();
        assert_eq!(c.linkage_key_id.as_deref(), Some("lk-2026a"));
        assert_eq!(c.previous_linkage_key_id, None);
        // A stated rotation: file then environment.
        let rotation =
            format!("linkage_key_id = \"lk-2026a\"\nprevious_linkage_key_id = \"lk-2025b\"\n{pki}");
        let c = load(&rotation, &[]).unwrap();
        assert_eq!(
            (
                c.linkage_key_id.as_deref(),
                c.previous_linkage_key_id.as_deref()
            ),
            (Some("lk-2026a"), Some("lk-2025b"))
        );
        let c = load(&rotation, &[("CONCORD_LINKAGE_KEY_ID", "lk-2027a")]).unwrap();
        assert_eq!(c.linkage_key_id.as_deref(), Some("lk-2027a"));
        // Malformed ids name the key where they were set.
        let err = load("linkage_key_id = \"LK 2026\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config: linkage_key_id = \"LK 2026\" must be a linkage key id"),
            "{err}"
        );
        let err = load("", &[("CONCORD_PREVIOUS_LINKAGE_KEY_ID", "lk_old")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config: CONCORD_PREVIOUS_LINKAGE_KEY_ID = \"lk_old\""),
            "{err}"
        );
        // A previous id needs a current one, and a different one.
        let err = load("previous_linkage_key_id = \"lk-2025b\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("linkage_key_id is not"), "{err}");
        let err = load(
            "linkage_key_id = \"lk-2026a\"\nprevious_linkage_key_id = \"lk-2026a\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("the same as linkage_key_id"), "{err}");
        assert!(unknown_env_vars(env(&[("CONCORD_LINKAGE_KEY_ID", "lk-2026a")])).is_empty());
    }

    #[test]
    fn retention_runs_hourly_unless_told() {
        let c = Config::load(None, no_env(), &Overrides::default()).unwrap();
        assert_eq!(c.retention_interval, Duration::from_secs(3600));
        let c = Config::load(
            Some("retention_interval = 600\n"),
            env(&[("CONCORD_RETENTION_INTERVAL", "60")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.retention_interval, Duration::from_secs(60));
        let err = Config::load(
            Some("retention_interval = 0\n"),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("retention_interval"), "{err}");
    }

    #[test]
    fn metrics_listen_on_loopback_9464_unless_told() {
        let c = Config::load(None, no_env(), &Overrides::default()).unwrap();
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
        let c = Config::load(
            Some("metrics_listen = \"off\"\n"),
            no_env(),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.metrics_listen, None);
        let c = Config::load(
            None,
            env(&[("CONCORD_METRICS_LISTEN", "0.0.0.0:9500")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.metrics_listen, Some("0.0.0.0:9500".parse().unwrap()));
        // Flags over the environment over the file.
        let flags = Overrides {
            metrics_listen: Some("127.0.0.1:9600".into()),
            ..Overrides::default()
        };
        let c = Config::load(
            Some("metrics_listen = \"127.0.0.1:9400\"\n"),
            env(&[("CONCORD_METRICS_LISTEN", "0.0.0.0:9500")]),
            &flags,
        )
        .unwrap();
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9600".parse().unwrap()));
        let flags = Overrides {
            metrics_listen: Some("off".into()),
            ..Overrides::default()
        };
        let c = Config::load(
            None,
            env(&[("CONCORD_METRICS_LISTEN", "0.0.0.0:9500")]),
            &flags,
        )
        .unwrap();
        assert_eq!(c.metrics_listen, None);
        let flags = Overrides {
            metrics_listen: Some("nowhere".into()),
            ..Overrides::default()
        };
        let err = Config::load(None, no_env(), &flags)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--metrics-listen \"nowhere\""), "{err}");
        let err = Config::load(
            Some("metrics_listen = \"x\""),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("metrics_listen = \"x\""), "{err}");
        let err = Config::load(
            Some("metrics_listen = \"127.0.0.1:7443\""),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("metrics_listen must differ"), "{err}");
    }

    #[test]
    fn the_dashboard_listens_next_to_the_broker_unless_told() {
        let c = Config::load(None, no_env(), &Overrides::default()).unwrap();
        assert_eq!(c.web_listen, Some("127.0.0.1:7444".parse().unwrap()));
        assert_eq!(c.web_public_url, None);
        let flags = Overrides {
            listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        };
        let c = Config::load(None, no_env(), &flags).unwrap();
        assert_eq!(
            c.web_listen,
            Some("127.0.0.1:0".parse().unwrap()),
            "port 0 for a broker on port 0, so tests share nothing"
        );
        let c = Config::load(
            Some("web_listen = \"off\"\n"),
            env(&[("CONCORD_WEB_PUBLIC_URL", "https://board.example.org/")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.web_listen, None);
        assert_eq!(
            c.web_public_url.as_deref(),
            Some("https://board.example.org")
        );
        let flags = Overrides {
            web_listen: Some("0.0.0.0:8443".into()),
            ..Overrides::default()
        };
        let c = Config::load(Some("web_listen = \"off\"\n"), no_env(), &flags).unwrap();
        assert_eq!(c.web_listen, Some("0.0.0.0:8443".parse().unwrap()));

        let err = Config::load(Some("web_listen = \"x\""), no_env(), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("web_listen = \"x\""), "{err}");
        let err = Config::load(
            Some("listen = \"127.0.0.1:9000\"\nweb_listen = \"127.0.0.1:9000\""),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("must differ from listen"), "{err}");
        let err = Config::load(
            None,
            env(&[("CONCORD_WEB_PUBLIC_URL", "http://board.example.org")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("CONCORD_WEB_PUBLIC_URL"), "{err}");
    }

    #[test]
    fn the_audit_key_defaults_beside_the_broker_key() {
        let file = "linkage_key_id = \"lk-2026a\"\n\
                    [pki]\nca_cert = \"ca.pem\"\nserver_cert = \"s.pem\"\nserver_key = \"s.key\"\n\
                    broker_key = \"/run/secrets/keys/broker.json\"\n";
        let c = Config::load(Some(file), no_env(), &Overrides::default()).unwrap();
        assert_eq!(
            c.pki.unwrap().audit_key,
            PathBuf::from("/run/secrets/keys/audit.json")
        );
        let c = Config::load(
            Some(file),
            env(&[("CONCORD_PKI_AUDIT_KEY", "/run/audit/ak.json")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            c.pki.unwrap().audit_key,
            PathBuf::from("/run/audit/ak.json")
        );
        let err = Config::load(
            Some(&format!("{file}audit_key = \"\"\n")),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("pki.audit_key must not be empty"), "{err}");
    }

    #[test]
    fn database_passwords_never_print() {
        let url = DatabaseUrl::from_test("postgres://concord:s3cr3t@db.internal:5432/concord");
        assert_eq!(
            url.to_string(),
            "postgres://concord:***@db.internal:5432/concord"
        );
        assert!(!format!("{url:?}").contains("s3cr3t"));
        let url =
            DatabaseUrl::from_test("postgres://db/concord?user=c&password=s3cr3t&sslmode=require");
        assert_eq!(
            url.to_string(),
            "postgres://db/concord?user=c&password=***&sslmode=require"
        );
        let url = DatabaseUrl::from_test("postgresql://concord@db/concord");
        assert_eq!(url.to_string(), "postgresql://concord@db/concord");
        let url = DatabaseUrl::from_test("postgres://u:p@ss@db/x");
        assert_eq!(url.to_string(), "postgres://u:***@db/x");
        let url = DatabaseUrl::from_test("sqlite:.concord/concord.sqlite");
        assert_eq!(url.to_string(), "sqlite:.concord/concord.sqlite");

        // Nor through the configuration as a whole, nor its errors.
        let flags = Overrides {
            database_url: Some("postgres://concord:s3cr3t@db/concord".into()),
            ..Overrides::default()
        };
        let c = Config::load(None, no_env(), &flags).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let err = Config::load(
            None,
            env(&[("CONCORD_DATABASE_URL", "mysql://root:s3cr3t@db/x")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("CONCORD_DATABASE_URL"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = Config::load(
            Some("database_url = \"postgres://u:s3cr3t@db/x\"\nbogus = 1\n"),
            no_env(),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
