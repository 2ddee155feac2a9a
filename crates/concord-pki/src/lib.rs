#![forbid(unsafe_code)]
//! The development partnership PKI for Concord.
//!
//! Everything here is real X.509: an ECDSA P-256 partnership CA, a server
//! certificate and one client certificate per partnership user, plus the
//! broker, linkage and audit-signing secret key files. [`init`] writes the
//! whole set to a directory (it is what `concord pki init --dir DIR` calls);
//! the generation API ([`CertificateAuthority`], [`SecretKeyFile`]) works in
//! memory and returns PEM or JSON strings.
//!
//! The server learns who is calling from the verified client certificate with
//! [`Identity::from_cert_der`]. The convention is fixed: subject O is the
//! organisation id, OU the role and CN the user, each exactly once and each
//! an identifier matching `^[a-z0-9][a-z0-9_-]{0,62}$`.
//!
//! Revocation: [`CertificateAuthority::sign_crl`] signs a CRL and [`revoke`]
//! (`concord pki revoke --pki DIR --user USER`) adds a user's client
//! certificate to `DIR/crl.pem`, keeping the earlier entries and bumping
//! the CRL number.
//!
//! [`RevocationSet`] holds what the CRLs revoke (each CRL checked against
//! the CA), so the server can look up the [`CertificateId`] of every
//! request's client certificate, on connections opened before the CRL was
//! read as on new ones.
//!
//! This crate does not verify certificate chains (rustls does that in the
//! server), and it never puts key material in errors or `Debug`.

mod ca;
mod crl;
mod error;
mod identity;
mod init;
mod partnership;
mod revocation;
mod secret;

pub use ca::{CertificateAuthority, IssuedCert, Validity};
pub use crl::{Crl, Revocation, RevokeOutcome, cert_serial, revoke};
pub use error::PkiError;
pub use identity::{Identity, is_valid_identifier};
pub use init::{PkiLayout, init};
pub use partnership::{Organisation, Partnership};
pub use revocation::{CertificateId, RevocationError, RevocationSet};
pub use secret::{KeyKind, SecretKeyFile};
