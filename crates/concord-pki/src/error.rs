use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in `concord-pki`.
///
/// Messages name the file, entry or attribute at fault and never contain key
/// material; underlying causes are available through `source()` only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    #[error("cannot read {}: check that it exists and is readable", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot write {}: check that its directory is writable", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "{} already exists: refusing to overwrite an existing PKI; \
         choose an empty or new directory",
        path.display()
    )]
    AlreadyExists { path: PathBuf },

    #[error("partnership file {} is invalid; correct it and retry", path.display())]
    PartnershipFile {
        path: PathBuf,
        #[source]
        source: Box<PkiError>,
    },

    #[error(
        "partnership JSON does not have the expected shape (line {line}, column {column}); \
         expected {{\"partnership\": {{\"name\", \"organisations\", \"certificates\"}}}}"
    )]
    PartnershipSyntax {
        line: usize,
        column: usize,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "{entry}: {field} `{value}` is not a valid identifier; use 1 to 63 characters \
         from a-z, 0-9, '_' and '-', starting with a letter or digit"
    )]
    InvalidIdentifier {
        entry: String,
        field: &'static str,
        value: String,
    },

    #[error(
        "certificate entry for user `{user}` names organisation `{org}`, which is not \
         listed under partnership.organisations; add the organisation or correct the entry"
    )]
    UnknownOrganisation { user: String, org: String },

    #[error("user `{user}` appears in more than one certificate entry; user names must be unique")]
    DuplicateUser { user: String },

    #[error("certificate is not valid X.509 DER")]
    CertificateDer {
        #[source]
        source: x509_parser::error::X509Error,
    },

    #[error(
        "client certificate subject has no {attribute} attribute; Concord client \
         certificates carry O = organisation, OU = role, CN = user"
    )]
    MissingAttribute { attribute: &'static str },

    #[error(
        "client certificate subject has more than one {attribute} attribute; exactly one is required"
    )]
    RepeatedAttribute { attribute: &'static str },

    #[error(
        "client certificate subject {attribute} is not a valid identifier; it must match \
         ^[a-z0-9][a-z0-9_-]{{0,62}}$"
    )]
    InvalidAttribute { attribute: &'static str },

    #[error("a server certificate needs at least one host name or IP address")]
    NoServerHosts,

    #[error(
        "server host `{host}` cannot be used as a DNS name; use an ASCII host name or an IP address"
    )]
    InvalidHost {
        host: String,
        #[source]
        source: rcgen::Error,
    },

    #[error("cannot generate the {what}")]
    Generate {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },

    #[error("the CA certificate PEM cannot be used; pass the ca.pem written by `concord pki init`")]
    CaCertificate {
        #[source]
        source: rcgen::Error,
    },

    #[error("the CA private key PEM cannot be used; pass the ca.key written by `concord pki init`")]
    CaKey {
        #[source]
        source: rcgen::Error,
    },

    #[error(
        "the CA certificate is not a CA (basic constraints CA is not set); pass the partnership ca.pem"
    )]
    NotCa,

    #[error(
        "the CA private key does not belong to the CA certificate; pass the ca.pem and ca.key from the same PKI"
    )]
    CaKeyMismatch,

    #[error(
        "no client certificate at {}: name a user of the partnership file whose certificate \
         `concord pki init` issued into this PKI",
        path.display()
    )]
    NoClientCertificate { path: PathBuf },

    #[error("{} is not a PEM certificate", path.display())]
    ClientCertificate { path: PathBuf },

    #[error("the file is not a PEM certificate")]
    CertificatePem,

    #[error(
        "{} was not issued by this PKI's CA (ca.pem); only the CA that issued a certificate can revoke it",
        path.display()
    )]
    NotIssuedByCa { path: PathBuf },

    #[error(
        "the CRL {} cannot be extended; move it away to start a new CRL (its entries are then no longer revoked) or restore this PKI's own crl.pem",
        path.display()
    )]
    CrlFile {
        path: PathBuf,
        #[source]
        source: Box<PkiError>,
    },

    #[error("not a PEM certificate revocation list (-----BEGIN X509 CRL-----)")]
    CrlPem,

    #[error("the CRL is not signed by this PKI's CA")]
    CrlIssuer,

    #[error("the CRL has no CRL number that fits in 64 bits")]
    CrlNumber,

    #[error("the system random number generator failed while generating the {what}")]
    Random { what: &'static str },
}
