//! The certificates the partnership CA has revoked, as the broker checks
//! them on every request.
//!
//! The TLS acceptor refuses a revoked certificate at the handshake, but a
//! connection opened before the CRL was read stays open. So the broker
//! also keeps the CRLs' entries as a [`RevocationSet`] and looks up the
//! [`CertificateId`] of every request's client certificate in it (and of
//! the certificate a dashboard session was signed in with). A serial
//! number identifies a certificate, not a person: it is what `concord pki
//! revoke` prints and what a refusal names.

use std::collections::HashSet;
use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};

use crate::PkiError;
use crate::crl::serial_hex;
use crate::identity::parse_cert;

/// Which certificate: its issuer's name (as encoded) and its serial number
/// (without DER sign padding). Two certificates of one CA never share it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CertificateId {
    issuer: Vec<u8>,
    serial: Vec<u8>,
}

impl CertificateId {
    /// Reads the issuer and serial number of a DER certificate. This does
    /// not verify it: the TLS layer has.
    pub fn from_cert_der(der: &[u8]) -> Result<CertificateId, PkiError> {
        let cert = parse_cert(der)?;
        Ok(CertificateId::of(&cert))
    }

    fn of(cert: &X509Certificate<'_>) -> CertificateId {
        CertificateId {
            issuer: cert.issuer().as_raw().to_vec(),
            serial: unpadded(cert.raw_serial()).to_vec(),
        }
    }

    /// The serial number as colon-separated hex, as `concord pki revoke`
    /// prints it.
    pub fn serial_hex(&self) -> String {
        serial_hex(&self.serial)
    }
}

impl fmt::Debug for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateId(serial {})", self.serial_hex())
    }
}

/// The serial's content bytes without the leading zero DER adds to keep a
/// positive integer positive (a CRL writer may or may not add it).
fn unpadded(serial: &[u8]) -> &[u8] {
    match serial {
        [0, rest @ ..] if !rest.is_empty() => unpadded(rest),
        s => s,
    }
}

/// Every certificate the given CRLs revoke. Each CRL must be signed by a
/// certificate of the CA file: a CRL from anyone else is refused whole,
/// never half-used.
#[derive(Debug, Clone, Default)]
pub struct RevocationSet {
    revoked: HashSet<CertificateId>,
}

impl RevocationSet {
    /// Reads every CRL (PEM, `-----BEGIN X509 CRL-----`; a file may hold
    /// several) of `crl_pems`, each checked against the CA certificates of
    /// `ca_pem`. An error names which file (counting from 1) is at fault.
    pub fn from_pem(ca_pem: &[u8], crl_pems: &[&[u8]]) -> Result<RevocationSet, RevocationError> {
        let ca_ders = CertificateDer::pem_slice_iter(ca_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| RevocationError::Ca(PkiError::CertificatePem))?;
        let cas = ca_ders
            .iter()
            .map(|d| parse_cert(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RevocationError::Ca)?;
        if cas.is_empty() {
            return Err(RevocationError::Ca(PkiError::CertificatePem));
        }
        let mut revoked = HashSet::new();
        for (i, pem) in crl_pems.iter().enumerate() {
            let file = i + 1;
            let ders = CertificateRevocationListDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| RevocationError::Crl {
                    file,
                    problem: PkiError::CrlPem,
                })?;
            if ders.is_empty() {
                return Err(RevocationError::Crl {
                    file,
                    problem: PkiError::CrlPem,
                });
            }
            for der in &ders {
                let crl = match CertificateRevocationList::from_der(der.as_ref()) {
                    Ok(([], crl)) => crl,
                    _ => {
                        return Err(RevocationError::Crl {
                            file,
                            problem: PkiError::CrlPem,
                        });
                    }
                };
                let signed_by_ca = cas.iter().any(|ca| {
                    crl.issuer() == ca.subject() && crl.verify_signature(ca.public_key()).is_ok()
                });
                if !signed_by_ca {
                    return Err(RevocationError::Crl {
                        file,
                        problem: PkiError::CrlIssuer,
                    });
                }
                let issuer = crl.issuer().as_raw().to_vec();
                revoked.extend(crl.iter_revoked_certificates().map(|r| CertificateId {
                    issuer: issuer.clone(),
                    serial: unpadded(r.raw_serial()).to_vec(),
                }));
            }
        }
        Ok(RevocationSet { revoked })
    }

    /// Whether `id` is revoked.
    pub fn is_revoked(&self, id: &CertificateId) -> bool {
        self.revoked.contains(id)
    }

    /// How many certificates are revoked.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }
}

/// Why a set of CRLs cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// (The problem is part of the message, not a `source`: printed once.)
    #[error("the CA file cannot be read for checking CRLs: {0}")]
    Ca(PkiError),
    #[error(
        "CRL file {file} cannot be used: {problem}; give the crl.pem `concord pki revoke` wrote \
         with this partnership's CA"
    )]
    Crl { file: usize, problem: PkiError },
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::{CertificateAuthority, Identity, Revocation, Validity, cert_serial};

    fn id(user: &str) -> Identity {
        Identity {
            org: "rbkc-childrens".into(),
            role: "mash_officer".into(),
            user: user.into(),
        }
    }

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn the_set_holds_exactly_what_the_crl_revokes() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let revoked = ca
            .issue_client(&id("officer-1"), Validity::days_from_now(1))
            .unwrap();
        let kept = ca
            .issue_client(&id("officer-2"), Validity::days_from_now(1))
            .unwrap();
        let crl = ca
            .sign_crl(
                1,
                &[Revocation {
                    serial: cert_serial(revoked.cert_pem.as_bytes()).unwrap(),
                    revoked_at: OffsetDateTime::now_utc(),
                }],
            )
            .unwrap();
        let set = RevocationSet::from_pem(ca.cert_pem().as_bytes(), &[crl.as_bytes()]).unwrap();
        assert_eq!(set.len(), 1);
        let revoked_id = CertificateId::from_cert_der(&der(&revoked.cert_pem)).unwrap();
        assert!(set.is_revoked(&revoked_id));
        assert!(!set.is_revoked(&CertificateId::from_cert_der(&der(&kept.cert_pem)).unwrap()));
        // The serial as `concord pki revoke` prints it; the Debug form
        // names the serial only.
        assert_eq!(
            revoked_id.serial_hex(),
            serial_hex(unpadded(&cert_serial(revoked.cert_pem.as_bytes()).unwrap()))
        );
        assert!(format!("{revoked_id:?}").contains(&revoked_id.serial_hex()));

        // No CRL: nothing is revoked.
        let none = RevocationSet::from_pem(ca.cert_pem().as_bytes(), &[]).unwrap();
        assert!(none.is_empty() && !none.is_revoked(&revoked_id));
    }

    #[test]
    fn the_same_serial_from_another_ca_is_not_revoked() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let other = CertificateAuthority::generate("Other CA").unwrap();
        let ours = ca
            .issue_client(&id("officer-1"), Validity::days_from_now(1))
            .unwrap();
        let theirs = other
            .issue_client(&id("officer-1"), Validity::days_from_now(1))
            .unwrap();
        let crl = ca
            .sign_crl(
                1,
                &[Revocation {
                    // Their certificate's serial, in our CRL.
                    serial: cert_serial(theirs.cert_pem.as_bytes()).unwrap(),
                    revoked_at: OffsetDateTime::now_utc(),
                }],
            )
            .unwrap();
        let set = RevocationSet::from_pem(ca.cert_pem().as_bytes(), &[crl.as_bytes()]).unwrap();
        assert!(!set.is_revoked(&CertificateId::from_cert_der(&der(&theirs.cert_pem)).unwrap()));
        assert!(!set.is_revoked(&CertificateId::from_cert_der(&der(&ours.cert_pem)).unwrap()));
    }

    #[test]
    fn a_crl_not_signed_by_the_ca_or_not_a_crl_is_refused_naming_the_file() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        // Same name, another key: the signature decides.
        let impostor = CertificateAuthority::generate("Partnership CA").unwrap();
        let good = ca.sign_crl(1, &[]).unwrap();
        let forged = impostor.sign_crl(2, &[]).unwrap();
        let err = RevocationSet::from_pem(
            ca.cert_pem().as_bytes(),
            &[good.as_bytes(), forged.as_bytes()],
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                RevocationError::Crl {
                    file: 2,
                    problem: PkiError::CrlIssuer
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("CRL file 2"), "{err}");
        let err = RevocationSet::from_pem(ca.cert_pem().as_bytes(), &[ca.cert_pem().as_bytes()])
            .unwrap_err();
        assert!(
            matches!(
                err,
                RevocationError::Crl {
                    file: 1,
                    problem: PkiError::CrlPem
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn sign_padding_does_not_matter() {
        assert_eq!(unpadded(&[0, 0x80, 1]), &[0x80, 1]);
        assert_eq!(unpadded(&[0]), &[0]);
        assert_eq!(unpadded(&[0x7f]), &[0x7f]);
    }
}
