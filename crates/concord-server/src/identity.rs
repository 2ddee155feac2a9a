//! Who is calling: always the client certificate's subject (O = org,
//! OU = role, CN = user), never a request field.

use concord_pki::Identity;
use tonic::Request;

use crate::error::ServerError;

pub fn caller<T>(request: &Request<T>) -> Result<Identity, ServerError> {
    let certs = request.peer_certs().ok_or_else(|| {
        ServerError::Unauthenticated("no client certificate was presented".into())
    })?;
    let leaf = certs.first().ok_or_else(|| {
        ServerError::Unauthenticated("no client certificate was presented".into())
    })?;
    Identity::from_cert_der(leaf.as_ref()).map_err(|e| {
        ServerError::Unauthenticated(format!(
            "the client certificate names no Concord identity: {e}"
        ))
    })
}
