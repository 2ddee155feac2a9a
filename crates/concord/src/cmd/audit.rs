//! `concord audit`: the audit log, offline (no broker needed).
//!
//! * `verify` reads every event and checkpoint straight from the database
//!   (or from an export) and checks the whole log against the signed
//!   checkpoints with `concord_audit::verify_log`: it prints a summary, or
//!   names the first event that does not fit and exits non-zero.
//! * `export` writes the log as JSON Lines (`concord_audit::export`).
//! * `vkey` prints the verifier key of an audit signing key file: what to
//!   give auditors, who then verify with `--vkey` and no secret.
//!
//! The store is read with the same code the tests use
//! (`concord_server::audit::read_stored_log`).

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use concord_audit::{AuditEvent, AuditSigner, export::Export, parse_vkey, verify_log};
use concord_keys::KeyFile;
use concord_store::{Store, StoreOptions};

use super::serve::{ServeArgs, load_config};
use crate::config::Overrides;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole audit log against its signed checkpoints; name the first event that does not fit
    Verify(VerifyArgs),
    /// Write the audit log (events, then checkpoints) as JSON Lines
    Export(ExportArgs),
    /// Print the verifier key (public) of an audit signing key file
    Vkey(VkeyArgs),
}

/// Where the log is read from.
#[derive(Debug, Args)]
pub struct Source {
    /// The broker's database: sqlite:PATH or postgres://… [default: database_url from the configuration]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// The broker's configuration file, for the defaults [default: concord.toml if it exists]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: Source,
    /// Verify an export (`concord audit export`) instead of the database
    #[arg(long, value_name = "FILE", conflicts_with = "store")]
    pub export: Option<PathBuf>,
    /// The verifier key, as `concord audit vkey` prints it (no secret needed)
    #[arg(long, value_name = "VKEY", conflicts_with = "key")]
    pub vkey: Option<String>,
    /// The audit signing key file [default: pki.audit_key from the configuration]
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: Source,
    /// Write here instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VkeyArgs {
    /// The audit signing key file [default: pki.audit_key from the configuration]
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The broker's configuration file, for the default key [default: concord.toml if it exists]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify(args) => verify(&args),
        AuditCommand::Export(args) => export(&args),
        AuditCommand::Vkey(args) => {
            let signer = signer(args.key.as_deref(), args.config.clone())?;
            println!("{}", signer.vkey());
            Ok(())
        }
    }
}

fn config(file: Option<PathBuf>) -> anyhow::Result<crate::config::Config> {
    let (config, _) = load_config(&ServeArgs {
        config: file,
        replica_of: None,
        overrides: Overrides::default(),
    })?;
    Ok(config)
}

/// The audit signing key: `--key`, or the configuration's.
fn signer(key: Option<&Path>, config_file: Option<PathBuf>) -> anyhow::Result<AuditSigner> {
    let path = match key {
        Some(p) => p.to_owned(),
        None => {
            let c = config(config_file)?;
            match c.pki {
                Some(pki) => pki.audit_key,
                None => c.data_dir.join("pki").join("keys").join("audit.json"),
            }
        }
    };
    let what = path.display().to_string();
    let text = fs::read_to_string(&path).with_context(|| {
        format!("cannot read the audit signing key {what} (give --key FILE, or --vkey)")
    })?;
    let file = KeyFile::parse(&text, &what)?;
    AuditSigner::from_key_file(&file)
        .with_context(|| format!("the audit signing key {what} is not usable"))
}

/// Reads the log from `--export`, `--store` or the configured database.
fn read(source: &Source, export: Option<&Path>) -> anyhow::Result<(Export, String)> {
    if let Some(path) = export {
        let bytes =
            fs::read(path).with_context(|| format!("cannot read the export {}", path.display()))?;
        let log = Export::from_jsonl(&bytes)
            .with_context(|| format!("the export {} is not an audit export", path.display()))?;
        return Ok((log, path.display().to_string()));
    }
    let (url, shown) = match &source.store {
        Some(url) => (url.clone(), redact(url)),
        None => {
            let c = config(source.config.clone())?;
            (
                c.database_url.expose().to_owned(),
                c.database_url.to_string(),
            )
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let log = runtime.block_on(async {
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .with_context(|| {
                format!("cannot open the database {shown} (check --store or database_url)")
            })?;
        let log = concord_server::audit::read_stored_log(&store)
            .await
            .with_context(|| format!("cannot read the audit log from {shown}"));
        store.close().await;
        log
    })?;
    Ok((log, shown))
}

/// A URL with any user-info password hidden.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let (key_id, public_key) = match &args.vkey {
        Some(v) => parse_vkey(v).context("--vkey is not a verifier key")?,
        None => {
            let s = signer(args.key.as_deref(), args.source.config.clone())?;
            (s.key_id().to_owned(), s.public_key())
        }
    };
    let (log, from) = read(&args.source, args.export.as_deref())?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "audit log from {from}: {} event(s), {} checkpoint(s); verifier key {key_id}",
        log.events.len(),
        log.checkpoints.len()
    )?;
    match verify_log(&log.events, &log.checkpoints, &public_key) {
        Ok(report) => {
            writeln!(out, "verified: {report}")?;
            match log.checkpoints.iter().max_by_key(|c| c.checkpoint.size) {
                Some(c) => writeln!(out, "last checkpoint: {}", c.checkpoint)?,
                None => writeln!(out, "last checkpoint: none")?,
            }
            Ok(())
        }
        Err(e) => {
            if let Some(t) = e.tampering() {
                writeln!(out, "first event that does not fit: {}", t.event)?;
                let shown = log
                    .events
                    .get(t.event as usize)
                    .and_then(|bytes| AuditEvent::decode(bytes).ok());
                if let Some(event) = shown {
                    writeln!(out, "  it reads: {event}")?;
                }
            }
            out.flush()?;
            bail!("the audit log does not verify: {e}")
        }
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let (log, from) = read(&args.source, None)?;
    let bytes = log.to_jsonl();
    match &args.out {
        Some(path) => {
            fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {} event(s) and {} checkpoint(s) from {from} to {}",
                log.events.len(),
                log.checkpoints.len(),
                path.display()
            );
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(())
}
