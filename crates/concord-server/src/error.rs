//! The one place where what went wrong becomes a gRPC status.

use concord_core::Violations;
use concord_policy::PolicyError;
use concord_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Violations listed in the status message (all kept ones go in the details).
const IN_MESSAGE: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{message}")]
    Invalid {
        message: String,
        violations: Violations,
    },
    #[error("{0}")]
    InvalidStream(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    DeadlineExceeded(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Cancelled(String),
    /// Something the broker needs failed for now (e.g. the system random
    /// source); the request is refused and may be retried.
    #[error("{0}")]
    Unavailable(String),
    /// The policy could not decide; the status message adds why (the
    /// source), which `Display` leaves to the cause chain.
    #[error("policy evaluation failed, so the request is refused")]
    Policy(#[source] PolicyError),
    /// The store failed while the request was writing: nothing was stored.
    #[error(transparent)]
    Store(StoreError),
    /// The store failed while a request was reading what it would answer
    /// (a lookup, the review queue): nothing was disclosed.
    #[error(transparent)]
    StoreRead(StoreError),
    /// The audit log could not record the request: it is refused (nothing
    /// is disclosed or stored unaudited).
    #[error("the audit log could not record this request, so it was refused: {0}")]
    Audit(String),
    /// An aggregate question that cannot be answered as asked.
    #[error(transparent)]
    Disclosure(#[from] concord_disclosure::DisclosureError),
}

impl ServerError {
    /// A refusal naming every invalid part (up to the kept limit, with the total).
    pub fn invalid(what: &str, violations: Violations) -> ServerError {
        let mut message = format!("{what}: {} problem(s)", violations.total());
        for v in violations.kept().iter().take(IN_MESSAGE) {
            message.push_str("; ");
            message.push_str(&v.to_string());
        }
        if violations.total() > IN_MESSAGE as u64 {
            message.push_str(&format!(
                "; … {} more, see the error details",
                violations.total() - IN_MESSAGE as u64
            ));
        }
        ServerError::Invalid {
            message,
            violations,
        }
    }

    pub fn code(&self) -> Code {
        match self {
            ServerError::Unauthenticated(_) => Code::Unauthenticated,
            ServerError::PermissionDenied(_) => Code::PermissionDenied,
            ServerError::Invalid { .. } | ServerError::InvalidStream(_) => Code::InvalidArgument,
            ServerError::LimitExceeded(_) => Code::ResourceExhausted,
            ServerError::DeadlineExceeded(_) => Code::DeadlineExceeded,
            ServerError::AlreadyExists(_) => Code::AlreadyExists,
            ServerError::NotFound(_) => Code::NotFound,
            ServerError::FailedPrecondition(_) => Code::FailedPrecondition,
            ServerError::Cancelled(_) => Code::Cancelled,
            ServerError::Policy(_) => Code::Unavailable,
            ServerError::Audit(_) => Code::Unavailable,
            ServerError::Unavailable(_) => Code::Unavailable,
            ServerError::Disclosure(_) => Code::InvalidArgument,
            ServerError::Store(e) | ServerError::StoreRead(e) => match e {
                StoreError::Unavailable(_) => Code::Unavailable,
                StoreError::NotWritable(_) => Code::Unavailable,
                StoreError::SourceRefElsewhere { .. } => Code::FailedPrecondition,
                StoreError::ExtractRace { .. } => Code::Aborted,
                // Another broker's linker saved first: the caller may retry.
                StoreError::LinkageMoved => Code::Aborted,
                _ => Code::Internal,
            },
        }
    }
}

/// An error and its causes in one line (`a: b: c`): `Display` prints only
/// its own level, so where a message leaves the process (a status, an
/// error string) the causes are joined here.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> Self {
        ServerError::Store(e)
    }
}

impl From<ServerError> for Status {
    fn from(e: ServerError) -> Status {
        let code = e.code();
        match e {
            ServerError::Invalid {
                message,
                violations,
            } => {
                let fields = violations
                    .kept()
                    .iter()
                    .map(|v| {
                        let field = match v.index {
                            Some(i) => format!("records[{i}].{}", v.field),
                            None => v.field.clone(),
                        };
                        FieldViolation::new(field, v.reason.clone())
                    })
                    .collect::<Vec<_>>();
                Status::with_error_details(code, message, ErrorDetails::with_bad_request(fields))
            }
            ServerError::Store(ref s) | ServerError::StoreRead(ref s) => {
                let outcome = match e {
                    ServerError::StoreRead(_) => "nothing was disclosed",
                    _ => "nothing was stored",
                };
                // Internal errors say what failed, not the database's words.
                let message = match code {
                    Code::Internal => format!("the broker's database failed; {outcome}"),
                    _ => format!("{s}; {outcome}"),
                };
                Status::new(code, message)
            }
            // The one message a client gets: the error and its causes.
            other => Status::new(code, chain(&other)),
        }
    }
}
