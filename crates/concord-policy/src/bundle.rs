//! Policy bundles: the files that make up one version of the policies, with
//! a digest and a revision.

use std::fmt;
use std::fs;
use std::path::Path;

use crate::error::PolicyError;

/// Name of the manifest file at the bundle root.
pub const MANIFEST_FILE: &str = ".manifest";

/// Directory holding the data documents.
const DATA_DIR: &str = "data/";

/// How deep [`Bundle::load_dir`] descends before giving up (guards against
/// symlink loops).
const MAX_DEPTH: usize = 16;

/// Domain-separation prefix of the bundle digest; bump the version if the
/// digest construction ever changes.
const DIGEST_DOMAIN: &[u8] = b"concord-policy-bundle-v1\n";

/// What a bundle file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `*.rego` other than `*_test.rego`: compiled into the decision engine.
    Policy,
    /// `*_test.rego`: policy unit tests.
    Test,
    /// `data/**/*.json`: merged at the root of `data`.
    Data,
    /// `.manifest` at the root.
    Manifest,
}

impl FileKind {
    /// Which kind of bundle file `path` is, or `None` if the path is not part
    /// of a bundle (README files, editor droppings, hidden files).
    fn of(path: &str) -> Option<FileKind> {
        if path == MANIFEST_FILE {
            return Some(FileKind::Manifest);
        }
        if path.split('/').any(|part| part.starts_with('.')) {
            return None;
        }
        if path.ends_with("_test.rego") {
            Some(FileKind::Test)
        } else if path.ends_with(".rego") {
            Some(FileKind::Policy)
        } else if path.starts_with(DATA_DIR) && path.ends_with(".json") {
            Some(FileKind::Data)
        } else {
            None
        }
    }
}

/// One file of a bundle.
#[derive(Clone)]
pub(crate) struct BundleFile {
    pub(crate) path: String,
    pub(crate) content: String,
    pub(crate) kind: FileKind,
}

/// One version of the policies: Rego files, their tests, data documents and
/// a manifest, identified by a digest and a revision.
///
/// See the crate documentation for the layout. A `Bundle` is immutable;
/// cloning it copies the file contents.
#[derive(Clone)]
pub struct Bundle {
    files: Vec<BundleFile>,
    digest: String,
    revision: String,
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("revision", &self.revision)
            .field("digest", &self.digest)
            .field(
                "files",
                &self.files.iter().map(|f| &f.path).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Bundle {
    /// Read a bundle from a directory.
    ///
    /// Every file whose path matches the layout (`*.rego`, `data/**/*.json`,
    /// `.manifest`) is read; other files (a README, say) and hidden files and
    /// directories are ignored and do not count towards the digest.
    /// Symbolic links are followed.
    pub fn load_dir(dir: &Path) -> Result<Bundle, PolicyError> {
        let mut files = Vec::new();
        collect_dir(dir, "", 0, &mut files)?;
        Bundle::from_files(files)
    }

    /// Build a bundle from `(relative path, content)` pairs.
    ///
    /// Paths use `/` as separator and must be relative, without `.` or `..`
    /// components. Pairs whose path is not part of the layout are ignored,
    /// exactly as [`Bundle::load_dir`] ignores such files.
    pub fn from_files(files: Vec<(String, String)>) -> Result<Bundle, PolicyError> {
        let mut kept = Vec::with_capacity(files.len());
        for (path, content) in files {
            check_path(&path)?;
            if let Some(kind) = FileKind::of(&path) {
                kept.push(BundleFile {
                    path,
                    content,
                    kind,
                });
            }
        }
        kept.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(pair) = kept.windows(2).find(|pair| pair[0].path == pair[1].path) {
            return Err(PolicyError::DuplicateFile {
                path: pair[0].path.clone(),
            });
        }

        let manifest = kept
            .iter()
            .find(|f| f.kind == FileKind::Manifest)
            .ok_or_else(|| PolicyError::Manifest {
                problem: "is missing".to_owned(),
            })?;
        let revision = parse_manifest(&manifest.content)?;
        let digest = digest_files(&kept);
        Ok(Bundle {
            files: kept,
            digest,
            revision,
        })
    }

    /// Hex SHA-256 over every bundle file (see the crate documentation).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The `revision` from `.manifest`.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The bundle's files as `(relative path, content)`, sorted by path.
    pub fn files(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.files
            .iter()
            .map(|f| (f.path.as_str(), f.content.as_str()))
    }

    /// Files of one kind, in path order.
    pub(crate) fn files_of(&self, kind: FileKind) -> impl Iterator<Item = &BundleFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }
}

/// Refuse paths that could mean different files on different machines or
/// escape the bundle.
fn check_path(path: &str) -> Result<(), PolicyError> {
    let problem = if path.is_empty() {
        Some("it is empty")
    } else if path.starts_with('/') {
        Some("it is absolute")
    } else if path.contains('\\') {
        Some("it contains a backslash; use / as separator")
    } else if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        Some("it has an empty, . or .. component")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(PolicyError::InvalidPath {
            path: path.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

fn parse_manifest(content: &str) -> Result<String, PolicyError> {
    let value: serde_json::Value =
        serde_json::from_str(content).map_err(|err| PolicyError::Manifest {
            problem: format!("is not valid JSON: {err}"),
        })?;
    match value.get("revision") {
        Some(serde_json::Value::String(revision)) if !revision.trim().is_empty() => {
            Ok(revision.clone())
        }
        Some(_) => Err(PolicyError::Manifest {
            problem: "has a revision that is not a non-empty string".to_owned(),
        }),
        None => Err(PolicyError::Manifest {
            problem: "has no \"revision\"".to_owned(),
        }),
    }
}

/// SHA-256 over the domain prefix, then for each file in path order the
/// big-endian u64 length of the path, the path, the big-endian u64 length
/// of the content and the content.
fn digest_files(files: &[BundleFile]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(DIGEST_DOMAIN);
    for file in files {
        for part in [file.path.as_bytes(), file.content.as_bytes()] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
    }
    hex::encode(ctx.finish().as_ref())
}

fn io_error(path: &Path, err: &std::io::Error) -> PolicyError {
    PolicyError::Io {
        path: path.display().to_string(),
        message: err.to_string(),
    }
}

fn collect_dir(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, String)>,
) -> Result<(), PolicyError> {
    if depth > MAX_DEPTH {
        return Err(PolicyError::Io {
            path: dir.display().to_string(),
            message: format!("directories nested more than {MAX_DEPTH} deep"),
        });
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|err| io_error(dir, &err))? {
        let entry = entry.map_err(|err| io_error(dir, &err))?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            // Not UTF-8: cannot be named in a bundle path, so not ours.
            continue;
        };
        let rel = format!("{prefix}{name}");
        // Follows symlinks, so a symlinked file or directory counts.
        let meta = fs::metadata(&path).map_err(|err| io_error(&path, &err))?;
        if meta.is_dir() {
            if !name.starts_with('.') {
                collect_dir(&path, &format!("{rel}/"), depth + 1, out)?;
            }
        } else if meta.is_file() && FileKind::of(&rel).is_some() {
            let content = fs::read_to_string(&path).map_err(|err| io_error(&path, &err))?;
            out.push((rel, content));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> (String, String) {
        (MANIFEST_FILE.to_owned(), r#"{"revision": "r1"}"#.to_owned())
    }

    #[test]
    fn layout_classifies_paths() {
        assert_eq!(FileKind::of("ingest.rego"), Some(FileKind::Policy));
        assert_eq!(FileKind::of("lib/util.rego"), Some(FileKind::Policy));
        assert_eq!(FileKind::of("ingest_test.rego"), Some(FileKind::Test));
        assert_eq!(FileKind::of("data/partnership.json"), Some(FileKind::Data));
        assert_eq!(FileKind::of(".manifest"), Some(FileKind::Manifest));
        assert_eq!(FileKind::of("README.md"), None);
        assert_eq!(FileKind::of("other.json"), None);
        assert_eq!(FileKind::of(".git/x.rego"), None);
        assert_eq!(FileKind::of("data/.hidden.json"), None);
    }

    #[test]
    fn bad_paths_are_refused() {
        for path in [
            "",
            "/abs.rego",
            "a/../b.rego",
            "./a.rego",
            "a//b.rego",
            "a\\b.rego",
        ] {
            let err =
                Bundle::from_files(vec![manifest(), (path.to_owned(), String::new())]).unwrap_err();
            assert!(
                matches!(err, PolicyError::InvalidPath { .. }),
                "{path:?}: {err}"
            );
        }
    }

    #[test]
    fn manifest_is_required_and_checked() {
        let err = Bundle::from_files(vec![]).unwrap_err();
        assert!(matches!(err, PolicyError::Manifest { .. }));
        for bad in [
            "{}",
            "[]",
            "not json",
            r#"{"revision": 3}"#,
            r#"{"revision": " "}"#,
        ] {
            let err =
                Bundle::from_files(vec![(MANIFEST_FILE.to_owned(), bad.to_owned())]).unwrap_err();
            assert!(matches!(err, PolicyError::Manifest { .. }), "{bad}");
        }
    }

    #[test]
    fn duplicates_are_refused() {
        let err = Bundle::from_files(vec![
            manifest(),
            ("a.rego".to_owned(), "package a".to_owned()),
            ("a.rego".to_owned(), "package a".to_owned()),
        ])
        .unwrap_err();
        assert!(matches!(err, PolicyError::DuplicateFile { ref path } if path == "a.rego"));
    }

    #[test]
    fn length_prefixing_keeps_path_and_content_apart() {
        let file = |path: &str, content: &str| BundleFile {
            path: path.to_owned(),
            content: content.to_owned(),
            kind: FileKind::Policy,
        };
        assert_ne!(
            digest_files(&[file("ab", "c")]),
            digest_files(&[file("a", "bc")])
        );
    }
}
