//! Per-organisation request rate and concurrency limits: a tower layer in
//! front of every gRPC service (`serve`), keyed by the caller's
//! organisation from its client certificate (`O`), never a request field.
//!
//! Each organisation has a token bucket (`Limits::org_requests_per_second`
//! refilled continuously, at most `Limits::org_burst` tokens) and at most
//! `Limits::org_max_concurrent` requests in flight (a push holds its slot
//! until its answer). A request over either limit is refused with
//! `RESOURCE_EXHAUSTED` and a message naming the limit and the
//! organisation, before any service, policy or store sees it, so one
//! organisation flooding the broker leaves the others' requests alone.
//! Requests without a readable certificate identity pass through: the
//! services refuse them (`UNAUTHENTICATED`).

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Instant,
};

use concord_pki::Identity;
use tonic::codegen::{Service, http};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::{Limits, error::ServerError};

/// The state of one organisation.
struct Bucket {
    tokens: f64,
    refilled: Instant,
    in_flight: u32,
}

/// The buckets of every organisation seen.
pub struct OrgLimiter {
    rate: f64,
    burst: f64,
    max_concurrent: u32,
    orgs: Mutex<HashMap<String, Bucket>>,
}

/// A request's place among its organisation's in-flight requests; freed
/// when dropped.
pub struct Permit {
    limiter: Arc<OrgLimiter>,
    org: String,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut orgs = self.limiter.orgs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = orgs.get_mut(&self.org) {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
    }
}

impl OrgLimiter {
    pub fn new(limits: &Limits) -> Arc<OrgLimiter> {
        Arc::new(OrgLimiter {
            rate: limits.org_requests_per_second,
            burst: f64::from(limits.org_burst.max(1)),
            max_concurrent: limits.org_max_concurrent.max(1),
            orgs: Mutex::new(HashMap::new()),
        })
    }

    /// Admits one request of `org`, or names the limit it is over.
    pub fn admit(self: &Arc<Self>, org: &str) -> Result<Permit, ServerError> {
        let now = Instant::now();
        let mut orgs = self.orgs.lock().unwrap_or_else(|e| e.into_inner());
        let b = orgs.entry(org.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
            in_flight: 0,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.refilled).as_secs_f64() * self.rate).min(self.burst);
        b.refilled = now;
        if b.in_flight >= self.max_concurrent {
            return Err(ServerError::LimitExceeded(format!(
                "per-organisation concurrency limit: organisation {org} already has {} requests \
                 in flight (limits.org_max_concurrent); wait for one to finish and retry",
                self.max_concurrent
            )));
        }
        if b.tokens < 1.0 {
            return Err(ServerError::LimitExceeded(format!(
                "per-organisation rate limit: organisation {org} may make {} requests per second \
                 with bursts of {} (limits.org_requests_per_second, limits.org_burst); slow down \
                 and retry",
                self.rate, self.burst
            )));
        }
        b.tokens -= 1.0;
        b.in_flight += 1;
        Ok(Permit {
            limiter: self.clone(),
            org: org.to_owned(),
        })
    }
}

/// The tower layer `serve` puts in front of every service.
#[derive(Clone)]
pub struct OrgLimitLayer {
    limiter: Arc<OrgLimiter>,
}

impl OrgLimitLayer {
    pub fn new(limiter: Arc<OrgLimiter>) -> Self {
        OrgLimitLayer { limiter }
    }
}

impl<S> tower_layer::Layer<S> for OrgLimitLayer {
    type Service = OrgLimit<S>;

    fn layer(&self, inner: S) -> OrgLimit<S> {
        OrgLimit {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

#[derive(Clone)]
pub struct OrgLimit<S> {
    inner: S,
    limiter: Arc<OrgLimiter>,
}

/// The caller's organisation, from the client certificate of the connection.
fn org_of<B>(request: &http::Request<B>) -> Option<String> {
    let certs = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    let leaf = certs.first()?;
    Identity::from_cert_der(leaf.as_ref()).ok().map(|i| i.org)
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B, R> Service<http::Request<B>> for OrgLimit<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let permit = match org_of(&request).map(|org| self.limiter.admit(&org)) {
            Some(Err(refused)) => {
                tracing::warn!(reason = %refused, "request refused by a per-organisation limit");
                let status = tonic::Status::from(refused);
                return Box::pin(async move { Ok(status.into_http()) });
            }
            Some(Ok(permit)) => Some(permit),
            None => None,
        };
        // The clone that was made ready is the one that is called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: f64, burst: u32, concurrent: u32) -> Arc<OrgLimiter> {
        OrgLimiter::new(&Limits {
            org_requests_per_second: rate,
            org_burst: burst,
            org_max_concurrent: concurrent,
            ..Limits::default()
        })
    }

    #[test]
    fn a_burst_is_admitted_then_refused_naming_the_limit_and_org() {
        let l = limiter(0.001, 3, 100);
        let permits: Vec<Permit> = (0..3).map(|_| l.admit("mps-cw").unwrap()).collect();
        drop(permits);
        let err = l.admit("mps-cw").err().unwrap().to_string();
        assert!(
            err.contains("rate limit") && err.contains("mps-cw"),
            "{err}"
        );
        // Another organisation has its own bucket.
        l.admit("rbkc-childrens").unwrap();
    }

    #[test]
    fn in_flight_requests_are_capped_and_freed_on_drop() {
        let l = limiter(1000.0, 1000, 2);
        let a = l.admit("mps-cw").unwrap();
        let _b = l.admit("mps-cw").unwrap();
        let err = l.admit("mps-cw").err().unwrap().to_string();
        assert!(
            err.contains("concurrency limit") && err.contains("mps-cw"),
            "{err}"
        );
        l.admit("rbkc-childrens").unwrap();
        drop(a);
        l.admit("mps-cw").unwrap();
    }
}
