use std::fmt;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};

use crate::identity::parse_cert;
use crate::{Identity, PkiError};

/// How long the partnership CA is valid for.
const CA_VALIDITY_DAYS: u32 = 3650;

/// The validity window of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Valid from five minutes ago (to tolerate clock skew) for `days` days.
    pub fn days_from_now(days: u32) -> Self {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now - Duration::minutes(5),
            not_after: now + Duration::days(days.into()),
        }
    }

    /// Already expired: from 30 days ago until yesterday. For tests that
    /// need a certificate the TLS layer must reject.
    pub fn expired() -> Self {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now - Duration::days(30),
            not_after: now - Duration::days(1),
        }
    }

    fn apply(self, params: &mut CertificateParams) {
        params.not_before = self.not_before;
        params.not_after = self.not_after;
    }
}

/// A freshly issued leaf certificate and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[redacted]")
            .finish()
    }
}

/// The partnership certificate authority: an ECDSA P-256 key and its
/// self-signed CA certificate.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Issuer`'s Debug elides the signing key.
        f.debug_struct("CertificateAuthority")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Generates a new self-signed CA valid for ten years, with basic
    /// constraints CA (no intermediates) and key usages keyCertSign and
    /// cRLSign.
    pub fn generate(common_name: &str) -> Result<Self, PkiError> {
        let key = new_key("CA key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Validity::days_from_now(CA_VALIDITY_DAYS).apply(&mut params);
        let cert = params
            .self_signed(&key)
            .map_err(|source| PkiError::Generate {
                what: "CA certificate",
                source,
            })?;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Reloads an existing CA from its certificate and private key PEM,
    /// checking that the certificate is a CA and that the key belongs to it.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|_| {
            PkiError::CaCertificate {
                source: rcgen::Error::CouldNotParseCertificate,
            }
        })?;
        let cert = parse_cert(&der)?;
        if !cert.is_ca() {
            return Err(PkiError::NotCa);
        }
        let key = KeyPair::from_pem(key_pem).map_err(|source| PkiError::CaKey { source })?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::CaKeyMismatch);
        }
        let issuer = Issuer::from_ca_cert_der(&der, key)
            .map_err(|source| PkiError::CaCertificate { source })?;
        Ok(CertificateAuthority {
            issuer,
            cert_pem: cert_pem.to_owned(),
        })
    }

    /// The signing issuer, for the CRLs (`crl.rs`).
    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PKCS#8 PEM. Secret: write it with mode 0600.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Issues a server certificate (EKU serverAuth). Hosts that parse as IP
    /// addresses become IP SANs, the others DNS SANs; CN is the first host.
    pub fn issue_server(
        &self,
        hosts: &[String],
        validity: Validity,
    ) -> Result<IssuedCert, PkiError> {
        let first = hosts.first().ok_or(PkiError::NoServerHosts)?;
        let mut params = leaf_params(validity);
        params.distinguished_name.push(DnType::CommonName, first);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.subject_alt_names = hosts
            .iter()
            .map(|host| match host.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => host
                    .as_str()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|source| PkiError::InvalidHost {
                        host: host.clone(),
                        source,
                    }),
            })
            .collect::<Result<_, _>>()?;
        self.sign(params, "server certificate")
    }

    /// Issues a client certificate (EKU clientAuth) whose subject carries the
    /// identity: O = org, OU = role, CN = user.
    pub fn issue_client(
        &self,
        identity: &Identity,
        validity: Validity,
    ) -> Result<IssuedCert, PkiError> {
        for (attribute, value) in [
            ("O", &identity.org),
            ("OU", &identity.role),
            ("CN", &identity.user),
        ] {
            if !crate::is_valid_identifier(value) {
                return Err(PkiError::InvalidAttribute { attribute });
            }
        }
        let mut params = leaf_params(validity);
        let dn = &mut params.distinguished_name;
        dn.push(DnType::OrganizationName, identity.org.as_str());
        dn.push(DnType::OrganizationalUnitName, identity.role.as_str());
        dn.push(DnType::CommonName, identity.user.as_str());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, "client certificate")
    }

    fn sign(&self, params: CertificateParams, what: &'static str) -> Result<IssuedCert, PkiError> {
        let key = new_key("certificate key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|source| PkiError::Generate { what, source })?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn new_key(what: &'static str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|source| PkiError::Generate { what, source })
}

fn leaf_params(validity: Validity) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    validity.apply(&mut params);
    params
}

#[cfg(test)]
mod tests {
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::X509Certificate;

    use super::*;

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn analyst() -> Identity {
        Identity {
            org: "rbkc-community-safety".into(),
            role: "analyst".into(),
            user: "analyst-1".into(),
        }
    }

    fn assert_issued_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) {
        assert_eq!(cert.issuer(), ca.subject());
        cert.verify_signature(Some(ca.public_key()))
            .expect("signature verifies with the CA key");
    }

    #[test]
    fn ca_is_a_ten_year_cert_sign_ca() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let der = der(ca.cert_pem());
        let cert = parse_cert(&der).unwrap();
        assert!(cert.is_ca());
        let usage = cert.key_usage().unwrap().unwrap().value;
        assert!(usage.key_cert_sign() && usage.crl_sign());
        let validity = cert.validity();
        let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400;
        assert!((3650..=3651).contains(&days), "{days}");
        assert_issued_by(&cert, &cert);
    }

    #[test]
    fn client_cert_is_issued_by_the_ca_for_client_auth() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let ca_der = der(ca.cert_pem());
        let ca_cert = parse_cert(&ca_der).unwrap();
        let issued = ca
            .issue_client(&analyst(), Validity::days_from_now(825))
            .unwrap();
        let leaf_der = der(&issued.cert_pem);
        let leaf = parse_cert(&leaf_der).unwrap();
        assert_issued_by(&leaf, &ca_cert);
        assert!(!leaf.is_ca());
        let eku = leaf.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        assert!(leaf.validity().is_valid());
        assert!(KeyPair::from_pem(&issued.key_pem).is_ok());
    }

    #[test]
    fn server_cert_has_ip_and_dns_sans() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let hosts = ["broker.test", "127.0.0.1", "::1"].map(String::from);
        let issued = ca
            .issue_server(&hosts, Validity::days_from_now(30))
            .unwrap();
        let leaf_der = der(&issued.cert_pem);
        let leaf = parse_cert(&leaf_der).unwrap();
        let sans = &leaf
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names;
        assert!(sans.contains(&GeneralName::DNSName("broker.test")));
        assert!(sans.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])));
        let v6_loopback: [u8; 16] = std::net::Ipv6Addr::LOCALHOST.octets();
        assert!(sans.contains(&GeneralName::IPAddress(&v6_loopback)));
        assert_eq!(sans.len(), 3);
        let cn = leaf.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "broker.test");
        let eku = leaf.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert!(matches!(
            ca.issue_server(&[], Validity::days_from_now(1)),
            Err(PkiError::NoServerHosts)
        ));
    }

    #[test]
    fn expired_validity_yields_a_cert_that_has_expired() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let issued = ca.issue_client(&analyst(), Validity::expired()).unwrap();
        let leaf_der = der(&issued.cert_pem);
        let leaf = parse_cert(&leaf_der).unwrap();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(leaf.validity().not_after.timestamp() < now);
        assert!(leaf.validity().not_before.timestamp() < now);
        assert!(!leaf.validity().is_valid());
    }

    #[test]
    fn reloaded_ca_issues_certs_that_chain_to_the_original() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let reloaded = CertificateAuthority::from_pem(ca.cert_pem(), &ca.key_pem()).unwrap();
        let issued = reloaded
            .issue_client(&analyst(), Validity::days_from_now(1))
            .unwrap();
        let ca_der = der(ca.cert_pem());
        let leaf_der = der(&issued.cert_pem);
        assert_issued_by(
            &parse_cert(&leaf_der).unwrap(),
            &parse_cert(&ca_der).unwrap(),
        );

        let other = CertificateAuthority::generate("Other CA").unwrap();
        assert!(matches!(
            CertificateAuthority::from_pem(ca.cert_pem(), &other.key_pem()),
            Err(PkiError::CaKeyMismatch)
        ));
        let leaf = ca
            .issue_client(&analyst(), Validity::days_from_now(1))
            .unwrap();
        assert!(matches!(
            CertificateAuthority::from_pem(&leaf.cert_pem, &leaf.key_pem),
            Err(PkiError::NotCa)
        ));
    }

    /// The server's mTLS and the clients use rustls' webpki verifiers: the
    /// issued certificates must pass them, and expired ones must not.
    #[test]
    fn webpki_accepts_issued_certs_and_rejects_expired_ones() {
        use std::sync::Arc;

        use rustls::RootCertStore;
        use rustls::client::WebPkiServerVerifier;
        use rustls::client::danger::ServerCertVerifier;
        use rustls::server::WebPkiClientVerifier;
        use rustls_pki_types::{ServerName, UnixTime};

        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(der(ca.cert_pem())).unwrap();
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let clients = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .unwrap();
        let servers = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .unwrap();
        let now = UnixTime::now();

        let client = ca
            .issue_client(&analyst(), Validity::days_from_now(1))
            .unwrap();
        clients
            .verify_client_cert(&der(&client.cert_pem), &[], now)
            .expect("issued client cert is accepted");
        let expired = ca.issue_client(&analyst(), Validity::expired()).unwrap();
        assert!(
            clients
                .verify_client_cert(&der(&expired.cert_pem), &[], now)
                .is_err()
        );

        let hosts = ["localhost", "127.0.0.1"].map(String::from);
        let server = ca.issue_server(&hosts, Validity::days_from_now(1)).unwrap();
        for host in ["localhost", "127.0.0.1"] {
            let name = ServerName::try_from(host).unwrap();
            servers
                .verify_server_cert(&der(&server.cert_pem), &[], &name, &[], now)
                .unwrap_or_else(|e| panic!("server cert rejected for {host}: {e}"));
        }
        let other = ServerName::try_from("elsewhere.test").unwrap();
        assert!(
            servers
                .verify_server_cert(&der(&server.cert_pem), &[], &other, &[], now)
                .is_err()
        );
        // A server certificate is not accepted as a client certificate (EKU).
        assert!(
            clients
                .verify_client_cert(&der(&server.cert_pem), &[], now)
                .is_err()
        );
    }

    #[test]
    fn debug_never_shows_private_keys() {
        let ca = CertificateAuthority::generate("Partnership CA").unwrap();
        let issued = ca
            .issue_client(&analyst(), Validity::days_from_now(1))
            .unwrap();
        assert!(!format!("{issued:?}").contains("PRIVATE KEY"));
        assert!(!format!("{ca:?}").contains("PRIVATE KEY"));
    }
}
