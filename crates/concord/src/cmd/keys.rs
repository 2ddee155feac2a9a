//! `concord keys rotate`: re-keys every stored pseudonym to a new broker
//! key without re-ingesting (see `concord_keys::BrokerKey`).
//!
//! Run it with the broker stopped. The order makes a crash safe: the new
//! key file (the old layers plus the new one) is written beside the old as
//! `<file>.next`; the database is re-keyed in one transaction; then
//! `<file>.next` replaces `<file>`. Run again after a crash: if the
//! database already holds the new key id, the rename is finished; if it
//! does not, the stale `.next` file is discarded and the rotation starts
//! over.

use std::{
    fs,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use concord_keys::{BrokerKey, KeyFile};
use concord_store::{Store, StoreOptions};
use ring::rand::{SecureRandom, SystemRandom};

use super::serve::{ServeArgs, load_config};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-key every stored pseudonym to a new broker key (stop the broker first)
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The broker's configuration: the same file, variables and flags as `concord serve`
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Id of the new broker key [default: the current id with its last letter advanced, e.g. bk-2026a → bk-2026b]
    #[arg(long, value_name = "ID")]
    pub new_key_id: Option<String>,
}

pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate(args) => rotate(&args),
    }
}

/// `bk-2026a` → `bk-2026b`; anything else gets `-r2`.
fn next_id(id: &str) -> String {
    match id.chars().last() {
        Some(c @ 'a'..='y') => format!("{}{}", &id[..id.len() - 1], (c as u8 + 1) as char),
        _ => format!("{id}-r2"),
    }
}

fn read_broker_key(path: &Path) -> anyhow::Result<BrokerKey> {
    let what = path.display().to_string();
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read the broker key {what}"))?;
    let file = KeyFile::parse(&text, &what)?;
    Ok(BrokerKey::from_file(&file, &what)?)
}

fn next_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".next");
    PathBuf::from(p)
}

fn rotate(args: &RotateArgs) -> anyhow::Result<()> {
    let (config, _) = load_config(&args.serve)?;
    if std::net::TcpListener::bind(config.listen).is_err() {
        bail!(
            "something is listening on {}: stop the broker before rotating its key (the running broker holds the old key)",
            config.listen
        );
    }
    let key_path = match &config.pki {
        Some(pki) => pki.broker_key.clone(),
        None => config.data_dir.join("pki").join("keys").join("broker.json"),
    };
    let pending = next_path(&key_path);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::connect(config.database_url.expose(), &StoreOptions::default())
            .await
            .with_context(|| format!("cannot open the database {}", config.database_url))?;
        let held = store.broker_key_ids().await?;
        if pending.exists() {
            let next = read_broker_key(&pending)?;
            if held.iter().any(|(id, _)| id == next.id()) {
                fs::rename(&pending, &key_path).with_context(|| format!("cannot replace {}", key_path.display()))?;
                println!("finished an interrupted rotation: {} now holds broker key {}", key_path.display(), next.id());
                return Ok(());
            }
            fs::remove_file(&pending).with_context(|| format!("cannot remove the stale {}", pending.display()))?;
            println!("discarded {} from an interrupted rotation (the database never took it)", pending.display());
        }
        let old = read_broker_key(&key_path)?;
        let new_id = args.new_key_id.clone().unwrap_or_else(|| next_id(old.id()));
        let mut secret = [0u8; 32];
        SystemRandom::new().fill(&mut secret).map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        let new = old.rotated(&new_id, &secret)?;
        for (id, count) in &held {
            if id != old.id() {
                bail!(
                    "{count} stored record(s) are under broker key {id}, not the current {}: the key file and the database disagree; restore the matching key file",
                    old.id()
                );
            }
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&pending)
            .with_context(|| format!("cannot write {}", pending.display()))?;
        file.write_all(new.to_key_file_json().as_bytes())?;
        file.sync_all()?;
        let n = store
            .rotate_broker_key(old.id(), new.id(), &|t| new.rekey_stored(t))
            .await
            .context("the database was not re-keyed (nothing changed); run the rotation again")?;
        store.close().await;
        fs::rename(&pending, &key_path).with_context(|| format!("cannot replace {} (run the rotation again to finish)", key_path.display()))?;
        println!(
            "re-keyed {n} stored record(s) from broker key {} to {}; {} now chains both; start the broker again",
            old.id(),
            new.id(),
            key_path.display()
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::next_id;

    #[test]
    fn key_ids_advance() {
        assert_eq!(next_id("bk-2026a"), "bk-2026b");
        assert_eq!(next_id("bk-2026z"), "bk-2026z-r2");
    }
}
