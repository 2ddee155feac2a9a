//! Structural checks of Concord's deployment files under `deploy/`: the
//! Kubernetes manifests, the Dockerfile, the systemd unit and the example
//! production configuration. The checks themselves live in
//! `tests/deploy.rs`; this library only finds and loads the files.

#![forbid(unsafe_code)]

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;

pub use serde_norway::Value;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate sits at crates/concord-deploy-check")
        .to_path_buf()
}

/// `deploy/` in the repository.
pub fn deploy_dir() -> PathBuf {
    repo_root().join("deploy")
}

/// A file's text; panics with the path if it cannot be read.
pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One parsed YAML document and the file it came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: PathBuf,
    pub value: Value,
}

impl Document {
    /// `kind`, or `""`.
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Parses every document of every `.yaml`/`.yml` file under `dir`
/// (sorted by path); empty documents are skipped.
pub fn yaml_documents(dir: &Path) -> Result<Vec<Document>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = read(&file);
        for (index, de) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let value = Value::deserialize(de)
                .map_err(|e| format!("{} document {index}: {e}", file.display()))?;
            if !value.is_null() {
                documents.push(Document {
                    file: file.clone(),
                    value,
                });
            }
        }
    }
    Ok(documents)
}

/// The leaf keys of a TOML table as dotted paths (`pki.ca_cert`).
pub fn toml_leaf_keys(table: &toml::Table) -> Vec<String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(inner) => walk(&path, inner, out),
                _ => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    walk("", table, &mut out);
    out
}

/// The value of a `Directive=` line in a systemd unit, for every line that
/// sets it (in order).
pub fn unit_values<'a>(unit: &'a str, directive: &str) -> Vec<&'a str> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == directive)
        .map(|(_, v)| v.trim())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_values_skips_comments_and_keeps_empty_values() {
        let unit = "# NoNewPrivileges=no\nNoNewPrivileges=yes\nCapabilityBoundingSet=\n";
        assert_eq!(unit_values(unit, "NoNewPrivileges"), ["yes"]);
        assert_eq!(unit_values(unit, "CapabilityBoundingSet"), [""]);
        assert!(unit_values(unit, "PrivateTmp").is_empty());
    }

    #[test]
    fn leaf_keys_are_dotted() {
        let table: toml::Table = toml::from_str("a = 1\n[t]\nb = 2\n").unwrap();
        let mut keys = toml_leaf_keys(&table);
        keys.sort();
        assert_eq!(keys, ["a", "t.b"]);
    }
}
