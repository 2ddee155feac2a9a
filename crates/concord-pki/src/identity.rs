use std::fmt;

use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::x509::AttributeTypeAndValue;

use crate::PkiError;

/// Who is calling: read from a client certificate's subject
/// (O = organisation, OU = role, CN = user).
///
/// Also the shape of a `certificates` entry in the partnership file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub org: String,
    pub role: String,
    pub user: String,
}

impl Identity {
    /// Reads the identity from a DER-encoded client certificate.
    ///
    /// Each of O, OU and CN must appear exactly once and be a valid
    /// identifier. This does not verify the certificate: call it only on a
    /// certificate the TLS layer has already verified against the CA.
    pub fn from_cert_der(der: &[u8]) -> Result<Self, PkiError> {
        let cert = parse_cert(der)?;
        let subject = cert.subject();
        Ok(Identity {
            org: single(subject, "O", X509Name::iter_organization)?,
            role: single(subject, "OU", X509Name::iter_organizational_unit)?,
            user: single(subject, "CN", X509Name::iter_common_name)?,
        })
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} ({})", self.user, self.org, self.role)
    }
}

/// Whether `s` matches `^[a-z0-9][a-z0-9_-]{0,62}$`, the rule for
/// organisation ids, roles and user names.
pub fn is_valid_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    s.len() <= 63
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Parses a whole DER certificate, rejecting trailing bytes.
pub(crate) fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    use x509_parser::error::X509Error;
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(X509Error::InvalidCertificate),
        Err(x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e)) => Err(e),
        Err(x509_parser::nom::Err::Incomplete(_)) => Err(X509Error::InvalidCertificate),
    }
    .map_err(|source| PkiError::CertificateDer { source })
}

fn single<'a, I>(
    name: &'a X509Name<'a>,
    attribute: &'static str,
    iter: impl FnOnce(&'a X509Name<'a>) -> I,
) -> Result<String, PkiError>
where
    I: Iterator<Item = &'a AttributeTypeAndValue<'a>>,
{
    let mut values = iter(name);
    let value = values
        .next()
        .ok_or(PkiError::MissingAttribute { attribute })?;
    if values.next().is_some() {
        return Err(PkiError::RepeatedAttribute { attribute });
    }
    match value.as_str() {
        Ok(s) if is_valid_identifier(s) => Ok(s.to_owned()),
        _ => Err(PkiError::InvalidAttribute { attribute }),
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    use super::*;
    use crate::{CertificateAuthority, Validity};

    fn identity() -> Identity {
        Identity {
            org: "rbkc-childrens".into(),
            role: "mash_officer".into(),
            user: "mash-officer-1".into(),
        }
    }

    fn self_signed_with(attrs: &[(DnType, &str)]) -> Vec<u8> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        for (ty, value) in attrs {
            dn.push(ty.clone(), *value);
        }
        params.distinguished_name = dn;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn identity_round_trips_through_an_issued_client_certificate() {
        let ca = CertificateAuthority::generate("test CA").unwrap();
        let issued = ca
            .issue_client(&identity(), Validity::days_from_now(1))
            .unwrap();
        let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        assert_eq!(Identity::from_cert_der(&der).unwrap(), identity());
    }

    #[test]
    fn certificate_without_ou_is_rejected_naming_ou() {
        let der = self_signed_with(&[
            (DnType::OrganizationName, "rbkc-childrens"),
            (DnType::CommonName, "mash-officer-1"),
        ]);
        let err = Identity::from_cert_der(&der).unwrap_err();
        assert!(matches!(
            err,
            PkiError::MissingAttribute { attribute: "OU" }
        ));
        assert!(err.to_string().contains("no OU attribute"), "{err}");
    }

    #[test]
    fn repeated_or_malformed_attributes_are_rejected() {
        let repeated = self_signed_with(&[
            (DnType::OrganizationName, "rbkc-childrens"),
            // rcgen merges pushes of the same DnType, so spell O's OID out.
            (DnType::CustomDnType(vec![2, 5, 4, 10]), "mps-cw"),
            (DnType::OrganizationalUnitName, "analyst"),
            (DnType::CommonName, "analyst-1"),
        ]);
        assert!(matches!(
            Identity::from_cert_der(&repeated),
            Err(PkiError::RepeatedAttribute { attribute: "O" })
        ));

        let malformed = self_signed_with(&[
            (DnType::OrganizationName, "rbkc-childrens"),
            (DnType::OrganizationalUnitName, "analyst"),
            (DnType::CommonName, "Analyst One"),
        ]);
        assert!(matches!(
            Identity::from_cert_der(&malformed),
            Err(PkiError::InvalidAttribute { attribute: "CN" })
        ));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(matches!(
            Identity::from_cert_der(b"not a certificate"),
            Err(PkiError::CertificateDer { .. })
        ));
    }

    #[test]
    fn identifier_rule() {
        for ok in ["a", "0", "mps-cw", "push_agent", &"a".repeat(63)] {
            assert!(is_valid_identifier(ok), "{ok}");
        }
        for bad in ["", "-a", "_a", "A", "a b", "a.b", "é", &"a".repeat(64)] {
            assert!(!is_valid_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn display_is_user_at_org_with_role() {
        assert_eq!(
            identity().to_string(),
            "mash-officer-1@rbkc-childrens (mash_officer)"
        );
    }
}
