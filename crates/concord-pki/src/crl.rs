//! Certificate revocation lists signed by the partnership CA.
//!
//! The broker's TLS acceptor refuses a client certificate listed in a CRL
//! it was given (`pki.crl_files`, or `<pki dir>/crl.pem` in development
//! mode), and checks every request of connections already open against
//! the same CRLs ([`crate::RevocationSet`]). [`revoke`] is `concord pki revoke`: it adds a user's client
//! certificate to `DIR/crl.pem`, keeping the entries already there and
//! bumping the CRL number, and writes the file atomically.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{CertificateRevocationList, FromDer};

use crate::identity::parse_cert;
use crate::{CertificateAuthority, Identity, PkiError, PkiLayout, is_valid_identifier};

/// How long a CRL says it is current for (its nextUpdate). The broker does
/// not refuse a CRL past its nextUpdate (rustls' default), so this only
/// tells other relying parties when to expect the next one.
const CRL_VALIDITY_DAYS: i64 = 365;

/// One revoked certificate: its serial number (the DER INTEGER content
/// bytes, as in the certificate) and when it was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub serial: Vec<u8>,
    pub revoked_at: OffsetDateTime,
}

impl Revocation {
    /// The serial number as colon-separated hex, as `openssl` prints it.
    pub fn serial_hex(&self) -> String {
        serial_hex(&self.serial)
    }
}

/// What a CRL says, read back from its PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    /// The CRL number (RFC 5280 §5.2.3), increasing with every issue.
    pub number: u64,
    pub revoked: Vec<Revocation>,
}

impl Crl {
    /// Whether the certificate with this serial number is revoked.
    pub fn lists(&self, serial: &[u8]) -> bool {
        self.revoked.iter().any(|r| r.serial == serial)
    }
}

/// What [`revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeOutcome {
    /// The CRL file written (`DIR/crl.pem`).
    pub crl_file: PathBuf,
    /// The client certificate that is now revoked.
    pub identity: Identity,
    pub serial_hex: String,
    /// The new CRL's number and entries.
    pub crl: Crl,
    /// The certificate was already listed: the file was left as it was.
    pub already_revoked: bool,
}

impl CertificateAuthority {
    /// Signs a CRL numbered `number` that lists `revoked`, issued now and
    /// current for a year. PEM (`-----BEGIN X509 CRL-----`).
    pub fn sign_crl(&self, number: u64, revoked: &[Revocation]) -> Result<String, PkiError> {
        let this_update = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update,
            next_update: this_update + Duration::days(CRL_VALIDITY_DAYS),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: r.revoked_at,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(self.issuer())
            .map_err(|source| PkiError::Generate {
                what: "certificate revocation list",
                source,
            })?;
        crl.pem().map_err(|source| PkiError::Generate {
            what: "certificate revocation list PEM",
            source,
        })
    }

    /// Reads a CRL this CA signed: refuses one that is not a CRL, is
    /// signed by another key, or has no CRL number.
    pub fn read_crl(&self, pem: &[u8]) -> Result<Crl, PkiError> {
        let der =
            CertificateRevocationListDer::from_pem_slice(pem).map_err(|_| PkiError::CrlPem)?;
        let crl = match CertificateRevocationList::from_der(der.as_ref()) {
            Ok(([], crl)) => crl,
            _ => return Err(PkiError::CrlPem),
        };
        let ca_der = CertificateDer::from_pem_slice(self.cert_pem().as_bytes()).map_err(|_| {
            PkiError::CaCertificate {
                source: rcgen::Error::CouldNotParseCertificate,
            }
        })?;
        let ca = parse_cert(&ca_der)?;
        if crl.issuer() != ca.subject() || crl.verify_signature(ca.public_key()).is_err() {
            return Err(PkiError::CrlIssuer);
        }
        let number = crl
            .crl_number()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(PkiError::CrlNumber)?;
        let revoked = crl
            .iter_revoked_certificates()
            .map(|r| {
                Ok(Revocation {
                    serial: r.raw_serial().to_vec(),
                    revoked_at: OffsetDateTime::from_unix_timestamp(r.revocation_date.timestamp())
                        .map_err(|_| PkiError::CrlPem)?,
                })
            })
            .collect::<Result<_, PkiError>>()?;
        Ok(Crl { number, revoked })
    }
}

/// The serial number of a PEM certificate (DER INTEGER content bytes).
pub fn cert_serial(cert_pem: &[u8]) -> Result<Vec<u8>, PkiError> {
    let der = CertificateDer::from_pem_slice(cert_pem).map_err(|_| PkiError::CertificatePem)?;
    Ok(parse_cert(&der)?.raw_serial().to_vec())
}

/// `concord pki revoke`: revokes `user`'s client certificate in the PKI at
/// `dir` by adding it to `DIR/crl.pem`, signed with `DIR/ca.key`.
///
/// A CRL already there is kept (it must be this CA's): its entries stay
/// and the new CRL's number is one more than its number (1 for a new
/// file). Written to a temporary file and renamed, so a reader sees the
/// old CRL or the new one, never half of one. Revoking a certificate that
/// is already listed changes nothing.
pub fn revoke(dir: &Path, user: &str) -> Result<RevokeOutcome, PkiError> {
    if !is_valid_identifier(user) {
        return Err(PkiError::InvalidIdentifier {
            entry: "--user".into(),
            field: "user",
            value: user.to_owned(),
        });
    }
    let layout = PkiLayout::at(dir);
    let cert_path = layout.client_cert(user);
    let cert_pem = match fs::read(&cert_path) {
        Ok(pem) => pem,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PkiError::NoClientCertificate { path: cert_path });
        }
        Err(source) => {
            return Err(PkiError::Read {
                path: cert_path,
                source,
            });
        }
    };
    let ca = CertificateAuthority::from_pem(
        &read_string(&layout.ca_cert)?,
        &read_string(&layout.ca_key)?,
    )?;

    let der =
        CertificateDer::from_pem_slice(&cert_pem).map_err(|_| PkiError::ClientCertificate {
            path: cert_path.clone(),
        })?;
    let cert = parse_cert(&der)?;
    let ca_der = CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).map_err(|_| {
        PkiError::CaCertificate {
            source: rcgen::Error::CouldNotParseCertificate,
        }
    })?;
    let ca_cert = parse_cert(&ca_der)?;
    if cert.issuer() != ca_cert.subject()
        || cert.verify_signature(Some(ca_cert.public_key())).is_err()
    {
        return Err(PkiError::NotIssuedByCa { path: cert_path });
    }
    let identity = Identity::from_cert_der(&der)?;
    let serial = cert.raw_serial().to_vec();

    let crl_file = layout.crl();
    let previous = match fs::read(&crl_file) {
        Ok(pem) => Some(ca.read_crl(&pem).map_err(|source| PkiError::CrlFile {
            path: crl_file.clone(),
            source: Box::new(source),
        })?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(PkiError::Read {
                path: crl_file,
                source,
            });
        }
    };
    if let Some(crl) = previous.as_ref().filter(|crl| crl.lists(&serial)) {
        return Ok(RevokeOutcome {
            crl_file,
            identity,
            serial_hex: serial_hex(&serial),
            crl: crl.clone(),
            already_revoked: true,
        });
    }
    let (number, mut revoked) = match previous {
        Some(crl) => (
            crl.number.checked_add(1).ok_or(PkiError::CrlNumber)?,
            crl.revoked,
        ),
        None => (1, Vec::new()),
    };
    // Whole seconds: what the CRL's time fields hold.
    let now = OffsetDateTime::now_utc();
    revoked.push(Revocation {
        serial: serial.clone(),
        revoked_at: now.replace_nanosecond(0).unwrap_or(now),
    });
    let pem = ca.sign_crl(number, &revoked)?;
    replace(&crl_file, pem.as_bytes())?;
    Ok(RevokeOutcome {
        crl_file,
        identity,
        serial_hex: serial_hex(&serial),
        crl: Crl { number, revoked },
        already_revoked: false,
    })
}

fn read_string(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes `path` whole: a temporary file beside it (mode 0644, synced),
/// then a rename over it.
fn replace(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    let tmp = path.with_extension("pem.tmp");
    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&tmp);
        PkiError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

pub(crate) fn serial_hex(serial: &[u8]) -> String {
    serial
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::RootCertStore;
    use rustls::server::WebPkiClientVerifier;
    use rustls_pki_types::UnixTime;

    use super::*;
    use crate::{Partnership, Validity};

    fn partnership() -> Partnership {
        Partnership::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../policies/data/partnership.json"
        )))
        .unwrap()
    }

    fn der(pem: &[u8]) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem).unwrap()
    }

    /// The server's verifier, given the CRL: the revoked certificate is
    /// refused as revoked, the other one accepted.
    #[test]
    fn rustls_refuses_a_certificate_the_crl_lists_and_accepts_others() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let id = |user: &str| Identity {
            org: "rbkc-childrens".into(),
            role: "mash_officer".into(),
            user: user.into(),
        };
        let revoked = ca
            .issue_client(&id("officer-1"), Validity::days_from_now(1))
            .unwrap();
        let kept = ca
            .issue_client(&id("officer-2"), Validity::days_from_now(1))
            .unwrap();
        let entry = Revocation {
            serial: cert_serial(revoked.cert_pem.as_bytes()).unwrap(),
            revoked_at: OffsetDateTime::now_utc(),
        };
        let pem = ca.sign_crl(7, std::slice::from_ref(&entry)).unwrap();
        assert!(pem.starts_with("-----BEGIN X509 CRL-----"), "{pem}");

        let mut roots = RootCertStore::empty();
        roots.add(der(ca.cert_pem().as_bytes())).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .with_crls([CertificateRevocationListDer::from_pem_slice(pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
        let now = UnixTime::now();
        let err = verifier
            .verify_client_cert(&der(revoked.cert_pem.as_bytes()), &[], now)
            .unwrap_err();
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)
            ),
            "{err:?}"
        );
        verifier
            .verify_client_cert(&der(kept.cert_pem.as_bytes()), &[], now)
            .expect("a certificate the CRL does not list is accepted");

        let read = ca.read_crl(pem.as_bytes()).unwrap();
        assert_eq!(read.number, 7);
        assert_eq!(read.revoked.len(), 1);
        assert_eq!(read.revoked[0].serial, entry.serial);
        assert!(read.lists(&entry.serial));
    }

    #[test]
    fn a_crl_from_another_ca_or_not_a_crl_is_refused() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let other = CertificateAuthority::generate("Partnership CA").unwrap();
        let pem = other.sign_crl(1, &[]).unwrap();
        assert!(matches!(
            ca.read_crl(pem.as_bytes()),
            Err(PkiError::CrlIssuer)
        ));
        assert!(matches!(
            ca.read_crl(ca.cert_pem().as_bytes()),
            Err(PkiError::CrlPem)
        ));
    }

    #[test]
    fn revoke_adds_entries_keeps_earlier_ones_and_bumps_the_number() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = crate::init(tmp.path(), &partnership(), &[]).unwrap();
        let serial_of = |user: &str| cert_serial(&fs::read(layout.client_cert(user)).unwrap());

        let first = revoke(tmp.path(), "mash-officer-1").unwrap();
        assert_eq!(first.crl_file, tmp.path().join("crl.pem"));
        assert_eq!(first.identity.org, "rbkc-childrens");
        assert!(!first.already_revoked);
        assert_eq!(first.crl.number, 1);
        assert!(first.crl.lists(&serial_of("mash-officer-1").unwrap()));

        let second = revoke(tmp.path(), "analyst-1").unwrap();
        assert_eq!(second.crl.number, 2);
        let ca = CertificateAuthority::from_pem(
            &fs::read_to_string(&layout.ca_cert).unwrap(),
            &fs::read_to_string(&layout.ca_key).unwrap(),
        )
        .unwrap();
        let on_disk = ca.read_crl(&fs::read(layout.crl()).unwrap()).unwrap();
        assert_eq!(on_disk, second.crl);
        assert_eq!(on_disk.revoked.len(), 2);
        assert_eq!(on_disk.revoked[0], first.crl.revoked[0]);
        assert!(on_disk.lists(&serial_of("analyst-1").unwrap()));
        assert!(!on_disk.lists(&serial_of("mash-manager-1").unwrap()));

        // Again: nothing changes.
        let before = fs::read(layout.crl()).unwrap();
        let again = revoke(tmp.path(), "analyst-1").unwrap();
        assert!(again.already_revoked);
        assert_eq!(again.crl.number, 2);
        assert_eq!(fs::read(layout.crl()).unwrap(), before);
        assert!(!tmp.path().join("crl.pem.tmp").exists());
    }

    #[test]
    fn revoke_names_what_is_wrong_and_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = crate::init(tmp.path(), &partnership(), &[]).unwrap();

        let err = revoke(tmp.path(), "nobody").unwrap_err();
        assert!(matches!(err, PkiError::NoClientCertificate { .. }), "{err}");
        assert!(err.to_string().contains("clients/nobody.pem"), "{err}");
        let err = revoke(tmp.path(), "../ca").unwrap_err();
        assert!(matches!(err, PkiError::InvalidIdentifier { .. }), "{err}");
        assert!(!layout.crl().exists());

        // A crl.pem that is not this CA's is not built upon.
        let other = CertificateAuthority::generate("Other CA").unwrap();
        fs::write(layout.crl(), other.sign_crl(5, &[]).unwrap()).unwrap();
        let err = revoke(tmp.path(), "analyst-1").unwrap_err();
        assert!(matches!(err, PkiError::CrlFile { .. }), "{err}");
        assert!(err.to_string().contains("crl.pem"), "{err}");

        // A client certificate from another CA cannot be revoked by this one.
        fs::remove_file(layout.crl()).unwrap();
        let stranger = other
            .issue_client(
                &Identity {
                    org: "mps-cw".into(),
                    role: "push_agent".into(),
                    user: "mps-cw-push".into(),
                },
                Validity::days_from_now(1),
            )
            .unwrap();
        fs::write(layout.client_cert("mps-cw-push"), stranger.cert_pem).unwrap();
        let err = revoke(tmp.path(), "mps-cw-push").unwrap_err();
        assert!(matches!(err, PkiError::NotIssuedByCa { .. }), "{err}");
        assert!(!layout.crl().exists());
    }
}
