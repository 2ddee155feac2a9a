use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{CertificateAuthority, KeyKind, Partnership, PkiError, SecretKeyFile, Validity};

/// Validity of the server and client certificates `init` issues.
const LEAF_VALIDITY_DAYS: u32 = 825;
/// Hosts the server certificate always covers.
const DEFAULT_SERVER_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

const SECRET_MODE: u32 = 0o600;
const PUBLIC_MODE: u32 = 0o644;
const PRIVATE_DIR_MODE: u32 = 0o700;

/// Where the files of a PKI directory live. Only computes paths.
///
/// ```text
/// DIR/ca.pem  DIR/ca.key  DIR/server.pem  DIR/server.key
/// DIR/clients/<user>.pem  DIR/clients/<user>.key
/// DIR/keys/broker.json  DIR/keys/linkage.json  DIR/keys/audit.json
/// DIR/crl.pem  (only once `concord pki revoke` has revoked a certificate)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiLayout {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub clients_dir: PathBuf,
    pub broker_key: PathBuf,
    pub linkage_key: PathBuf,
    pub audit_key: PathBuf,
}

impl PkiLayout {
    pub fn at(dir: &Path) -> Self {
        let keys = dir.join("keys");
        PkiLayout {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            clients_dir: dir.join("clients"),
            broker_key: keys.join("broker.json"),
            linkage_key: keys.join("linkage.json"),
            audit_key: keys.join("audit.json"),
        }
    }

    /// `clients/<user>.pem`. `user` must be a valid identifier.
    pub fn client_cert(&self, user: &str) -> PathBuf {
        self.clients_dir.join(format!("{user}.pem"))
    }

    /// `clients/<user>.key`. `user` must be a valid identifier.
    pub fn client_key(&self, user: &str) -> PathBuf {
        self.clients_dir.join(format!("{user}.key"))
    }

    /// `crl.pem`, beside `ca.pem`: the CRL `concord pki revoke` writes and
    /// a development-mode broker loads when it exists.
    pub fn crl(&self) -> PathBuf {
        self.ca_cert.with_file_name("crl.pem")
    }

    /// The fixed files (everything except the per-user client files) that
    /// do not exist.
    pub fn missing(&self) -> Vec<PathBuf> {
        self.fixed_files()
            .into_iter()
            .filter(|path| !path.exists())
            .map(Path::to_path_buf)
            .collect()
    }

    /// `keys/`, the parent of the secret key files.
    fn keys_dir(&self) -> &Path {
        self.broker_key.parent().unwrap_or(Path::new("keys"))
    }

    fn fixed_files(&self) -> [&Path; 7] {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.server_cert,
            &self.server_key,
            &self.broker_key,
            &self.linkage_key,
            &self.audit_key,
        ]
        .map(PathBuf::as_path)
    }
}

/// Creates a complete development PKI for `partnership` in `dir`: the CA,
/// a server certificate for localhost, 127.0.0.1, ::1 and
/// `extra_server_hosts`, one client certificate per certificate entry, and
/// the broker, linkage and audit signing keys.
///
/// Private keys and secrets are created with mode 0600, `keys/` and
/// `clients/` with 0700. Never overwrites: if any file it would write
/// already exists, it fails naming that file and writes nothing.
pub fn init(
    dir: &Path,
    partnership: &Partnership,
    extra_server_hosts: &[String],
) -> Result<PkiLayout, PkiError> {
    partnership.validate()?;
    let layout = PkiLayout::at(dir);

    // Generate everything in memory first, so a failure writes nothing.
    let ca = CertificateAuthority::generate(&format!("{} development CA", partnership.name))?;
    let mut hosts: Vec<String> = DEFAULT_SERVER_HOSTS.map(String::from).into();
    for host in extra_server_hosts {
        if !hosts.contains(host) {
            hosts.push(host.clone());
        }
    }
    let server = ca.issue_server(&hosts, Validity::days_from_now(LEAF_VALIDITY_DAYS))?;
    let mut files = vec![
        (
            layout.ca_cert.clone(),
            ca.cert_pem().to_owned(),
            PUBLIC_MODE,
        ),
        (layout.ca_key.clone(), ca.key_pem(), SECRET_MODE),
        (layout.server_cert.clone(), server.cert_pem, PUBLIC_MODE),
        (layout.server_key.clone(), server.key_pem, SECRET_MODE),
    ];
    for (path, kind) in [
        (&layout.broker_key, KeyKind::Broker),
        (&layout.linkage_key, KeyKind::Linkage),
        (&layout.audit_key, KeyKind::AuditSigning),
    ] {
        files.push((
            path.clone(),
            SecretKeyFile::generate(kind)?.to_json(),
            SECRET_MODE,
        ));
    }
    for identity in &partnership.certificates {
        let client = ca.issue_client(identity, Validity::days_from_now(LEAF_VALIDITY_DAYS))?;
        files.push((
            layout.client_cert(&identity.user),
            client.cert_pem,
            PUBLIC_MODE,
        ));
        files.push((
            layout.client_key(&identity.user),
            client.key_pem,
            SECRET_MODE,
        ));
    }

    if let Some((path, ..)) = files.iter().find(|(path, ..)| path.exists()) {
        return Err(PkiError::AlreadyExists { path: path.clone() });
    }
    create_dir(dir)?;
    for private_dir in [layout.clients_dir.as_path(), layout.keys_dir()] {
        create_dir(private_dir)?;
        fs::set_permissions(private_dir, Permissions::from_mode(PRIVATE_DIR_MODE)).map_err(
            |source| PkiError::Write {
                path: private_dir.to_owned(),
                source,
            },
        )?;
    }
    for (path, contents, mode) in &files {
        write_new(path, contents.as_bytes(), *mode)?;
    }
    Ok(layout)
}

/// Creates `dir` and its missing parents with mode 0700.
fn create_dir(dir: &Path) -> Result<(), PkiError> {
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(dir)
        .map_err(|source| PkiError::Write {
            path: dir.to_owned(),
            source,
        })
}

/// Writes a file that must not exist yet, created with `mode` from the start
/// so a secret is never readable by others, even briefly.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        file.write_all(contents)?;
        file.sync_all()
    };
    write().map_err(|source| match source.kind() {
        io::ErrorKind::AlreadyExists => PkiError::AlreadyExists {
            path: path.to_owned(),
        },
        _ => PkiError::Write {
            path: path.to_owned(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    use super::*;
    use crate::Identity;
    use crate::identity::parse_cert;

    fn partnership() -> Partnership {
        Partnership::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../policies/data/partnership.json"
        )))
        .unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn init_writes_every_file_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let partnership = partnership();
        let layout = init(&dir, &partnership, &["broker.internal".into()]).unwrap();
        assert_eq!(layout, PkiLayout::at(&dir));
        assert_eq!(layout.missing(), Vec::<PathBuf>::new());

        for path in [
            &layout.ca_key,
            &layout.server_key,
            &layout.broker_key,
            &layout.linkage_key,
            &layout.audit_key,
        ] {
            assert_eq!(mode(path), 0o600, "{}", path.display());
        }
        assert_eq!(mode(&layout.clients_dir), 0o700);
        assert_eq!(mode(layout.keys_dir()), 0o700);

        assert_eq!(
            fs::read_dir(&layout.clients_dir).unwrap().count(),
            2 * partnership.certificates.len()
        );
        for id in &partnership.certificates {
            assert_eq!(mode(&layout.client_key(&id.user)), 0o600);
            let pem = fs::read(layout.client_cert(&id.user)).unwrap();
            let der = CertificateDer::from_pem_slice(&pem).unwrap();
            assert_eq!(&Identity::from_cert_der(&der).unwrap(), id);
        }

        // The files reload: the CA from its PEM pair, the keys as key files.
        let ca = CertificateAuthority::from_pem(
            &fs::read_to_string(&layout.ca_cert).unwrap(),
            &fs::read_to_string(&layout.ca_key).unwrap(),
        )
        .unwrap();
        let ca_der = CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap();
        let server_der =
            CertificateDer::from_pem_slice(&fs::read(&layout.server_cert).unwrap()).unwrap();
        let server = parse_cert(&server_der).unwrap();
        assert_eq!(server.issuer(), parse_cert(&ca_der).unwrap().subject());
        let sans = server.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(sans.general_names.len(), 4);
        for (path, kind) in [
            (&layout.broker_key, KeyKind::Broker),
            (&layout.linkage_key, KeyKind::Linkage),
            (&layout.audit_key, KeyKind::AuditSigning),
        ] {
            let file: SecretKeyFile =
                serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
            assert_eq!(file.kind(), kind);
        }
    }

    #[test]
    fn second_init_is_refused_and_overwrites_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let partnership = partnership();
        let layout = init(tmp.path(), &partnership, &[]).unwrap();
        let ca_before = fs::read(&layout.ca_cert).unwrap();

        let err = init(tmp.path(), &partnership, &[]).unwrap_err();
        assert!(matches!(err, PkiError::AlreadyExists { ref path } if *path == layout.ca_cert));
        assert!(err.to_string().contains("ca.pem"), "{err}");
        assert_eq!(fs::read(&layout.ca_cert).unwrap(), ca_before);
    }

    #[test]
    fn missing_lists_absent_fixed_files() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = init(tmp.path(), &partnership(), &[]).unwrap();
        fs::remove_file(&layout.linkage_key).unwrap();
        assert_eq!(layout.missing(), vec![layout.linkage_key.clone()]);
        assert_eq!(
            PkiLayout::at(&tmp.path().join("nothing")).missing().len(),
            7
        );
    }
}
