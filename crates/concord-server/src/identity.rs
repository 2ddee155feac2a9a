//! Who is calling: always the client certificate's subject (O = org,
//! OU = role, CN = user), never a request field, and only once the
//! certificate has been checked against the revocation set the broker read
//! last (`tls::RevocationLayer`, in front of every service): a request that
//! did not pass that check is refused, so a service composed without the
//! layer fails closed instead of serving a revoked certificate.

use concord_pki::{CertificateId, Identity};
use tonic::Request;

use crate::{error::ServerError, tls::Unrevoked};

pub fn caller<T>(request: &Request<T>) -> Result<Identity, ServerError> {
    caller_certificate(request).map(|(identity, _)| identity)
}

/// The caller and the certificate it called with (a dashboard sign-in
/// remembers the certificate, so that revoking it ends the session).
pub fn caller_certificate<T>(
    request: &Request<T>,
) -> Result<(Identity, CertificateId), ServerError> {
    let certs = request.peer_certs().ok_or_else(|| {
        ServerError::Unauthenticated("no client certificate was presented".into())
    })?;
    let leaf = certs.first().ok_or_else(|| {
        ServerError::Unauthenticated("no client certificate was presented".into())
    })?;
    let checked = request.extensions().get::<Unrevoked>().ok_or_else(|| {
        ServerError::Unauthenticated(
            "the broker did not check this certificate against its revocation list, so it \
             refuses the request; this is a fault of the broker, tell its operators"
                .into(),
        )
    })?;
    let identity = Identity::from_cert_der(leaf.as_ref()).map_err(|e| {
        ServerError::Unauthenticated(format!(
            "the client certificate names no Concord identity: {e}"
        ))
    })?;
    Ok((identity, checked.certificate().clone()))
}
