//! The board's web dashboard over HTTPS (DESIGN §5), on its own port.
//!
//! Browsers carry no partnership certificate, so this port asks for none
//! (server authentication only, HTTP/1.1 and HTTP/2). Who is looking is
//! established by a **one-time sign-in link**:
//!
//! 1. A board member or analyst calls `concord.v1.DashboardAccess/DashboardLink`
//!    on the gRPC port, over mTLS with their partnership certificate
//!    (`concord dashboard-link`). The broker asks the `aggregate` policy
//!    about the certificate's subject and, if it allows, returns
//!    `https://HOST/login?token=T`: 32 random bytes, kept only as their
//!    SHA-256, valid once and for [`SignInSettings::link_ttl`] (5 minutes).
//! 2. `GET /login?token=T` shows a "Sign in" button and consumes nothing, so
//!    a mail scanner that fetches links does not burn them. The button
//!    posts the token (`POST /login`, same origin only); the token is
//!    removed and a session begins: a cookie `__Host-concord-session`
//!    (32 random bytes; `Secure`, `HttpOnly`, `SameSite=Strict`, `Path=/`),
//!    kept by the broker only as its SHA-256, bound to the certificate's
//!    organisation, role and user and to the certificate itself (issuer and
//!    serial), ending after [`SignInSettings::session_ttl`] (8 hours), at
//!    `POST /logout`, or at the first page view after the broker has read a
//!    CRL that revokes that certificate (`Broker::revocations`; the page says
//!    so, and a link issued to it can no longer be used either).
//! 3. Every `GET /dashboard` asks the policy again (through the Insights
//!    code path, which also audits the disclosure), so a role the policy no
//!    longer allows sees nothing from its next page view on.
//!
//! Without a valid session every page answers 401 with how to sign in, and
//! no figures. Responses are `no-store`, carry a strict Content Security
//! Policy (no scripts at all; the one inline stylesheet by hash) and send no
//! referrer, so the token in a sign-in URL never leaves in a `Referer`.
//!
//! Sign-ins and sessions live in this process's memory: a restart signs
//! everyone out, and with several replicas the link must be opened on the
//! replica that issued it (sticky sessions), see ARCHITECTURE.md.

use std::{
    collections::HashMap,
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use axum::{
    Form, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine as _;
use concord_pki::{CertificateId, Identity};
use concord_proto::v1::{
    DashboardLinkRequest, DashboardLinkResponse, dashboard_access_server::DashboardAccess,
};
use futures::StreamExt as _;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use ring::{
    digest,
    rand::{SecureRandom, SystemRandom},
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::{Broker, error::ServerError, identity, tls::TlsError};

/// The session cookie's name. The `__Host-` prefix makes browsers accept it
/// only when `Secure`, with `Path=/` and no `Domain`: no other host or
/// plain-HTTP page can set or shadow it.
pub const SESSION_COOKIE: &str = "__Host-concord-session";

/// Longest a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Longest shutdown waits for open dashboard requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long sign-in links and sessions last, and how many may be pending.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// How long a sign-in link works.
    pub link_ttl: Duration,
    /// How long a browser session lasts after sign-in.
    pub session_ttl: Duration,
    /// Most sign-in links waiting to be used, and most live sessions; past
    /// that the oldest expired ones are dropped and, if none, new ones refused.
    pub max_entries: usize,
}

impl Default for SignInSettings {
    fn default() -> Self {
        SignInSettings {
            link_ttl: Duration::from_secs(5 * 60),
            session_ttl: Duration::from_secs(8 * 60 * 60),
            max_entries: 10_000,
        }
    }
}

/// A hash of a secret (token or session id): what the broker keeps.
type SecretHash = [u8; 32];

struct Pending {
    who: Identity,
    /// The certificate that asked for the link.
    certificate: CertificateId,
    period: Option<String>,
    expires: Instant,
}

struct Session {
    who: Identity,
    /// The certificate the session was signed in with.
    certificate: CertificateId,
    expires: Instant,
}

#[derive(Default)]
struct SignInState {
    links: HashMap<SecretHash, Pending>,
    sessions: HashMap<SecretHash, Session>,
}

/// A used sign-in link: the new session's id, and the period the link named.
struct Redeemed {
    session_id: [u8; 32],
    /// The certificate the session is signed in with.
    certificate: CertificateId,
    period: Option<String>,
}

/// An issued sign-in link.
#[derive(Debug, Clone)]
pub struct SignInLink {
    /// `https://host:port/login?token=…`, if the dashboard's address is known.
    pub url: Option<String>,
    /// `/login?token=…`.
    pub path: String,
    /// How long it works from now.
    pub expires_in: Duration,
    /// When it stops working.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The dashboard's one-time sign-in links and browser sessions, held in
/// memory by the broker (`Broker::sign_ins`); the gRPC `DashboardAccess`
/// service issues links and the web server redeems them.
pub struct SignIns {
    settings: SignInSettings,
    state: Mutex<SignInState>,
    /// `https://host:port` of the dashboard, once it listens.
    base_url: RwLock<Option<String>>,
    rng: SystemRandom,
}

impl Default for SignIns {
    fn default() -> Self {
        SignIns::new(SignInSettings::default())
    }
}

impl SignIns {
    pub fn new(settings: SignInSettings) -> SignIns {
        SignIns {
            settings,
            state: Mutex::new(SignInState::default()),
            base_url: RwLock::new(None),
            rng: SystemRandom::new(),
        }
    }

    /// The dashboard's public base URL (`https://host:port`), if it serves.
    pub fn base_url(&self) -> Option<String> {
        self.base_url.read().map(|b| b.clone()).unwrap_or(None)
    }

    fn set_base_url(&self, url: String) {
        if let Ok(mut b) = self.base_url.write() {
            *b = Some(url);
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SignInState> {
        // A panic while holding the lock leaves only whole entries behind.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn secret(&self) -> Result<[u8; 32], ServerError> {
        let mut bytes = [0u8; 32];
        self.rng.fill(&mut bytes).map_err(|_| {
            ServerError::Unavailable("the system random source failed; try again".into())
        })?;
        Ok(bytes)
    }

    /// Issues a one-time sign-in link for `who` (already authorised), who
    /// asked with `certificate`, to open the dashboard on `period` (already
    /// validated).
    pub fn issue(
        &self,
        who: Identity,
        certificate: CertificateId,
        period: Option<String>,
    ) -> Result<SignInLink, ServerError> {
        let token = self.secret()?;
        let now = Instant::now();
        let expires = now + self.settings.link_ttl;
        {
            let mut state = self.state();
            state.links.retain(|_, p| p.expires > now);
            if state.links.len() >= self.settings.max_entries {
                return Err(ServerError::LimitExceeded(format!(
                    "{} dashboard sign-in links are waiting to be used; try again in a few minutes",
                    state.links.len()
                )));
            }
            state.links.insert(
                hash(&token),
                Pending {
                    who,
                    certificate,
                    period,
                    expires,
                },
            );
        }
        // The period stays with the pending link, not in the URL.
        let path = format!("/login?token={}", hex::encode(token));
        let url = self.base_url().map(|base| format!("{base}{path}"));
        Ok(SignInLink {
            url,
            path,
            expires_in: self.settings.link_ttl,
            expires_at: chrono::Utc::now()
                + chrono::Duration::from_std(self.settings.link_ttl)
                    .unwrap_or(chrono::Duration::MAX),
        })
    }

    /// Whose link `token` is (and the certificate that asked for it),
    /// without using it; `None` if unknown or expired.
    fn peek(&self, token: &[u8; 32]) -> Option<(Identity, CertificateId)> {
        let now = Instant::now();
        let state = self.state();
        state
            .links
            .get(&hash(token))
            .filter(|p| p.expires > now)
            .map(|p| (p.who.clone(), p.certificate.clone()))
    }

    /// Uses `token` (once) and starts a session.
    fn redeem(&self, token: &[u8; 32]) -> Result<Option<Redeemed>, ServerError> {
        let id = self.secret()?;
        let now = Instant::now();
        let mut state = self.state();
        let Some(pending) = state.links.remove(&hash(token)) else {
            return Ok(None);
        };
        if pending.expires <= now {
            return Ok(None);
        }
        state.sessions.retain(|_, s| s.expires > now);
        if state.sessions.len() >= self.settings.max_entries {
            return Err(ServerError::LimitExceeded(
                "too many dashboard sessions are open; try again later".into(),
            ));
        }
        state.sessions.insert(
            hash(&id),
            Session {
                who: pending.who,
                certificate: pending.certificate.clone(),
                expires: now + self.settings.session_ttl,
            },
        );
        Ok(Some(Redeemed {
            session_id: id,
            certificate: pending.certificate,
            period: pending.period,
        }))
    }

    /// The session `id` belongs to (and the certificate it was signed in
    /// with), if it is live.
    fn session(&self, id: &[u8; 32]) -> Option<(Identity, CertificateId)> {
        let now = Instant::now();
        let mut state = self.state();
        let key = hash(id);
        match state.sessions.get(&key) {
            Some(s) if s.expires > now => Some((s.who.clone(), s.certificate.clone())),
            Some(_) => {
                state.sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    fn end_session(&self, id: &[u8; 32]) {
        self.state().sessions.remove(&hash(id));
    }
}

fn hash(secret: &[u8; 32]) -> SecretHash {
    let d = digest::digest(&digest::SHA256, secret);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Parses 64 hex digits into a secret.
fn parse_secret(s: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(s.trim()).ok()?;
    bytes.try_into().ok()
}

/// A period as the dashboard takes it: a month (`2026-10`), a quarter
/// (`2026-Q1`), a financial year (`2025-26`), a calendar year (`2026`) or
/// twelve months to a month (`12m-2026-10`); see
/// [`concord_disclosure::DashboardPeriod::parse`].
pub fn valid_period(p: &str) -> bool {
    concord_disclosure::DashboardPeriod::parse(p).is_ok()
}

/// The dashboard's default period: the last complete calendar month.
pub fn default_period(today: chrono::NaiveDate) -> String {
    use chrono::Datelike as _;
    let (y, m) = if today.month() == 1 {
        (today.year() - 1, 12)
    } else {
        (today.year(), today.month() - 1)
    };
    format!("{y:04}-{m:02}")
}

// ---------------------------------------------------------------------------
// gRPC: concord.v1.DashboardAccess

/// `concord.v1.DashboardAccess`: issues sign-in links to callers the
/// `aggregate` policy allows.
pub struct DashboardAccessService {
    broker: Arc<Broker>,
}

impl DashboardAccessService {
    pub fn new(broker: Arc<Broker>) -> Self {
        DashboardAccessService { broker }
    }
}

#[tonic::async_trait]
impl DashboardAccess for DashboardAccessService {
    #[tracing::instrument(skip_all)]
    async fn dashboard_link(
        &self,
        request: tonic::Request<DashboardLinkRequest>,
    ) -> Result<tonic::Response<DashboardLinkResponse>, tonic::Status> {
        let (who, certificate) = identity::caller_certificate(&request)?;
        let period = request.into_inner().period;
        let period = match period.trim() {
            "" => None,
            p if valid_period(p) => Some(p.to_owned()),
            _ => {
                return Err(ServerError::InvalidStream(
                    "period must be a month (2026-10), a quarter (2026-Q1), a financial year \
                     (2025-26), a calendar year (2026) or twelve months to a month (12m-2026-10), \
                     or empty"
                        .into(),
                )
                .into());
            }
        };
        crate::insights::authorise_dashboard(&self.broker, &who).await?;
        let link = self
            .broker
            .sign_ins
            .issue(who.clone(), certificate, period)?;
        tracing::info!(org = %who.org, role = %who.role, "dashboard sign-in link issued");
        Ok(tonic::Response::new(DashboardLinkResponse {
            url: link.url.unwrap_or_default(),
            path: link.path,
            expires_at: link
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            expires_in_seconds: u32::try_from(link.expires_in.as_secs()).unwrap_or(u32::MAX),
        }))
    }
}

// ---------------------------------------------------------------------------
// HTTPS

/// Options of the dashboard server.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// The address browsers use (`https://board.example.org`), for the
    /// links the broker hands out; default `https://localhost:PORT` for a
    /// loopback listener, else `https://IP:PORT`.
    pub public_url: Option<String>,
}

/// A rustls configuration for the dashboard: the broker's server
/// certificate, no client authentication (browsers sign in with a link),
/// HTTP/2 and HTTP/1.1.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::BadPem {
            what: "the server certificate file",
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what: "the server certificate file",
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::BadKey)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What every handler shares.
#[derive(Clone)]
struct App {
    broker: Arc<Broker>,
    /// The Content-Security-Policy header value.
    csp: HeaderValue,
}

/// The dashboard's address for a listener on `addr`.
pub fn default_public_url(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("https://{addr}")
    }
}

/// Serves the dashboard on `listener` over HTTPS until `shutdown`
/// completes, then lets open requests finish. Sign-in links issued through
/// `broker` point here from now on.
pub async fn serve(
    listener: TcpListener,
    tls: impl Into<crate::tls::ServerTls>,
    broker: Arc<Broker>,
    options: WebOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let base = options
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| default_public_url(local));
    broker.sign_ins.set_base_url(base);
    let handshake_timeout = broker.limits.handshake_timeout;
    let app = router(App {
        broker,
        csp: content_security_policy(),
    });
    let mut incoming = Box::pin(crate::tls::incoming(listener, tls, handshake_timeout));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client that trickles its request headers is cut off.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let tls = tokio::select! {
            () = &mut shutdown => break,
            next = incoming.next() => match next {
                Some(Ok(tls)) => tls,
                Some(Err(e)) => {
                    tracing::info!(error = %e, "dashboard connection failed");
                    continue;
                }
                None => break,
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection(TokioIo::new(tls), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "dashboard connection ended with an error");
            }
        });
    }
    drop(incoming);
    // Open requests finish; a client that holds its connection open past
    // the grace period is dropped.
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("dashboard connections still open at shutdown were closed");
    }
    Ok(())
}

/// No scripts, no plugins, no frames, forms only to this origin; the one
/// inline stylesheet allowed by its hash.
fn content_security_policy() -> HeaderValue {
    let style = base64::engine::general_purpose::STANDARD
        .encode(digest::digest(&digest::SHA256, concord_report::STYLESHEET.as_bytes()).as_ref());
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'sha256-{style}'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ))
    .expect("a valid header value")
}

fn router(app: App) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/dashboard", get(dashboard))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(not_found)
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            security_headers,
        ))
        .with_state(app)
}

async fn security_headers(State(app): State<App>, mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, app.csp.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The 401 page: how to sign in, and nothing else.
fn sign_in_needed(why: &str) -> Response {
    html(
        StatusCode::UNAUTHORIZED,
        concord_report::notice_page(
            "Sign in to the board dashboard",
            &[
                why,
                "The dashboard is for board members and analysts of the partnership. To sign \
                 in, ask the broker for a one-time link with your partnership certificate and \
                 open it in this browser within five minutes:",
            ],
            Some("concord dashboard-link --broker https://BROKER:7443 --pki DIR --user YOUR-USER"),
        ),
    )
}

/// The 401 page of a session (or link) whose certificate the broker now
/// knows to be revoked; counted. The serial only, never the user.
fn certificate_revoked(app: &App, who: &Identity, certificate: &CertificateId) -> Response {
    app.broker
        .metrics
        .revoked_refusal(crate::metrics::Port::Web, &who.org);
    tracing::warn!(
        serial = %certificate.serial_hex(),
        org = %who.org,
        "dashboard session ended: its certificate is revoked"
    );
    let mut r = html(
        StatusCode::UNAUTHORIZED,
        concord_report::notice_page(
            "Your session has ended: your certificate was revoked",
            &[
                "Your dashboard session has ended because the certificate you signed in with \
                 was revoked.",
                &format!(
                    "The broker says: {}.",
                    crate::tls::revoked_message(certificate)
                ),
                "Once you hold a new certificate, ask for a new sign-in link with it:",
            ],
            Some("concord dashboard-link --broker https://BROKER:7443 --pki DIR --user YOUR-USER"),
        ),
    );
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
        ))
        .expect("a valid header value"),
    );
    r
}

async fn root() -> Response {
    see_other("/dashboard")
}

async fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        concord_report::notice_page(
            "Not found",
            &["There is no such page. The board dashboard is at /dashboard."],
            None,
        ),
    )
}

#[derive(Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

const LINK_UNUSABLE: &str = "This sign-in link cannot be used: it was used already, has \
     expired (links work for five minutes), or was copied incompletely.";

/// Shows who the link is for and a button that signs in; uses nothing.
async fn login_page(State(app): State<App>, Query(q): Query<LoginQuery>) -> Response {
    let Some(token) = q.token.as_deref().and_then(parse_secret) else {
        return sign_in_needed(LINK_UNUSABLE);
    };
    match app.broker.sign_ins.peek(&token) {
        Some((who, certificate)) if app.broker.revocations.is_revoked(&certificate) => {
            certificate_revoked(&app, &who, &certificate)
        }
        Some((who, _)) => html(
            StatusCode::OK,
            concord_report::sign_in_page(&who.org, &who.role, &hex::encode(token)),
        ),
        None => sign_in_needed(LINK_UNUSABLE),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

/// True when a state-changing request comes from one of our own pages:
/// `Sec-Fetch-Site: same-origin`, or else an `Origin` equal to this host
/// (the `Host` header, or the HTTP/2 `:authority` in `uri`).
fn same_origin(headers: &HeaderMap, uri: &Uri) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let host = headers
        .get(header::HOST)
        .map(HeaderValue::as_bytes)
        .or_else(|| uri.authority().map(|a| a.as_str().as_bytes()));
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), host) else {
        return false;
    };
    origin.as_bytes().strip_prefix(b"https://") == Some(host)
}

async fn login(
    State(app): State<App>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers, &uri) {
        return html(
            StatusCode::FORBIDDEN,
            concord_report::notice_page(
                "Sign-in refused",
                &[
                    "The sign-in was not sent from the dashboard's own sign-in page. Open the \
                   sign-in link itself and press Sign in.",
                ],
                None,
            ),
        );
    }
    let Some(token) = parse_secret(&form.token) else {
        return sign_in_needed(LINK_UNUSABLE);
    };
    match app.broker.sign_ins.redeem(&token) {
        Ok(Some(Redeemed {
            session_id: id,
            certificate,
            ..
        })) if app.broker.revocations.is_revoked(&certificate) => {
            let who = app.broker.sign_ins.session(&id).map(|(who, _)| who);
            app.broker.sign_ins.end_session(&id);
            match who {
                Some(who) => certificate_revoked(&app, &who, &certificate),
                None => sign_in_needed(LINK_UNUSABLE),
            }
        }
        Ok(Some(Redeemed {
            session_id: id,
            period,
            ..
        })) => {
            let location = match period {
                Some(p) => format!("/dashboard?period={p}"),
                None => "/dashboard".to_owned(),
            };
            let mut r = see_other(&location);
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
                hex::encode(id),
                app.broker.sign_ins.settings.session_ttl.as_secs()
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            tracing::info!("dashboard session started");
            r
        }
        Ok(None) => sign_in_needed(LINK_UNUSABLE),
        Err(e) => unavailable(&e),
    }
}

fn session_id(headers: &HeaderMap) -> Option<[u8; 32]> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .and_then(|(_, v)| parse_secret(v))
}

async fn logout(State(app): State<App>, uri: Uri, headers: HeaderMap) -> Response {
    if !same_origin(&headers, &uri) {
        return html(
            StatusCode::FORBIDDEN,
            concord_report::notice_page(
                "Sign-out refused",
                &["Sign out with the button on the dashboard."],
                None,
            ),
        );
    }
    if let Some(id) = session_id(&headers) {
        app.broker.sign_ins.end_session(&id);
    }
    let mut r = html(
        StatusCode::OK,
        concord_report::notice_page(
            "Signed out",
            &[
                "You have signed out of the board dashboard. To sign in again, ask for a new \
               sign-in link:",
            ],
            Some("concord dashboard-link --broker https://BROKER:7443 --pki DIR --user YOUR-USER"),
        ),
    );
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
        ))
        .expect("a valid header value"),
    );
    r
}

#[derive(Deserialize)]
struct DashboardQuery {
    period: Option<String>,
}

async fn dashboard(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let Some((id, (who, certificate))) =
        session_id(&headers).and_then(|id| app.broker.sign_ins.session(&id).map(|s| (id, s)))
    else {
        return sign_in_needed("You are not signed in, or your session has ended.");
    };
    // Checked on every page view: the CRL may have been read since sign-in.
    if app.broker.revocations.is_revoked(&certificate) {
        app.broker.sign_ins.end_session(&id);
        return certificate_revoked(&app, &who, &certificate);
    }
    let period = match q.period.as_deref().map(str::trim) {
        None | Some("") => default_period(chrono::Utc::now().date_naive()),
        Some(p) if valid_period(p) => p.to_owned(),
        Some(_) => {
            return html(
                StatusCode::BAD_REQUEST,
                concord_report::notice_page(
                    "Not a period",
                    &[
                        "Choose a period as a month (2026-10), a quarter (2026-Q1), a financial \
                         year (2025-26, April to March), a calendar year (2026) or twelve months \
                         to a month (12m-2026-10).",
                    ],
                    None,
                ),
            );
        }
    };
    match crate::insights::dashboard_for(&app.broker, &who, &period).await {
        Ok(d) => {
            let ctx = concord_report::PageContext {
                viewer: Some(concord_report::Viewer {
                    user: who.user.clone(),
                    org: who.org.clone(),
                    role: who.role.clone(),
                }),
                generated_at: chrono::Utc::now(),
            };
            html(StatusCode::OK, concord_report::dashboard_page(&d, &ctx))
        }
        Err(e @ ServerError::PermissionDenied(_)) => html(
            StatusCode::FORBIDDEN,
            concord_report::notice_page(
                "Not allowed",
                &[
                    &e.to_string(),
                    "The partnership's aggregate policy does not allow your role to see the \
                     board's figures now. Ask the partnership's information governance team.",
                ],
                None,
            ),
        ),
        Err(e @ (ServerError::Invalid { .. } | ServerError::InvalidStream(_))) => html(
            StatusCode::BAD_REQUEST,
            concord_report::notice_page("Not a period", &[&e.to_string()], None),
        ),
        Err(e) => unavailable(&e),
    }
}

/// 503: the broker could not answer (policy, audit or database failure);
/// nothing is shown.
fn unavailable(e: &ServerError) -> Response {
    tracing::warn!(error = %e, "dashboard request failed");
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        concord_report::notice_page(
            "The dashboard is not available",
            &[
                "The broker could not answer safely just now (its policy, audit log or database \
               failed), so it shows nothing. Try again in a minute; if it persists, tell the \
               broker's operators.",
            ],
            None,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Identity {
        Identity {
            org: "skc-board".into(),
            role: "board_member".into(),
            user: "board-member-1".into(),
        }
    }

    /// A certificate of `who()`, as the sign-in remembers it.
    fn cert() -> CertificateId {
        use rustls_pki_types::pem::PemObject as _;
        static CERT: std::sync::OnceLock<CertificateId> = std::sync::OnceLock::new();
        CERT.get_or_init(|| {
            let ca = concord_pki::CertificateAuthority::generate("test CA").unwrap();
            let issued = ca
                .issue_client(&who(), concord_pki::Validity::days_from_now(1))
                .unwrap();
            let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
            CertificateId::from_cert_der(der.as_ref()).unwrap()
        })
        .clone()
    }

    #[test]
    fn a_link_works_once() {
        let s = SignIns::default();
        let link = s.issue(who(), cert(), Some("2026-10".into())).unwrap();
        assert!(link.url.is_none(), "no address before the server listens");
        let token = link
            .path
            .strip_prefix("/login?token=")
            .and_then(parse_secret)
            .unwrap();
        assert_eq!(s.peek(&token), Some((who(), cert())));
        assert_eq!(
            s.peek(&token),
            Some((who(), cert())),
            "looking uses nothing"
        );
        let r = s.redeem(&token).unwrap().unwrap();
        assert_eq!(r.period.as_deref(), Some("2026-10"));
        let id = r.session_id;
        assert_eq!(s.session(&id), Some((who(), cert())));
        assert!(s.redeem(&token).unwrap().is_none(), "a second use fails");
        assert!(s.peek(&token).is_none());
        s.end_session(&id);
        assert!(s.session(&id).is_none());
    }

    #[test]
    fn only_hashes_are_kept() {
        let s = SignIns::default();
        let link = s.issue(who(), cert(), None).unwrap();
        let token = parse_secret(link.path.strip_prefix("/login?token=").unwrap()).unwrap();
        let state = s.state();
        assert!(!state.links.contains_key(&token));
        assert!(state.links.contains_key(&hash(&token)));
    }

    #[test]
    fn expired_links_and_sessions_fail() {
        let s = SignIns::new(SignInSettings {
            link_ttl: Duration::ZERO,
            session_ttl: Duration::ZERO,
            max_entries: 10,
        });
        let link = s.issue(who(), cert(), None).unwrap();
        let token = parse_secret(link.path.strip_prefix("/login?token=").unwrap()).unwrap();
        assert!(s.peek(&token).is_none());
        assert!(s.redeem(&token).unwrap().is_none());

        let s = SignIns::new(SignInSettings {
            link_ttl: Duration::from_secs(60),
            session_ttl: Duration::ZERO,
            max_entries: 10,
        });
        let link = s.issue(who(), cert(), None).unwrap();
        let token = parse_secret(link.path.strip_prefix("/login?token=").unwrap()).unwrap();
        let id = s.redeem(&token).unwrap().unwrap().session_id;
        assert!(s.session(&id).is_none());
    }

    #[test]
    fn pending_links_are_bounded() {
        let s = SignIns::new(SignInSettings {
            max_entries: 2,
            ..SignInSettings::default()
        });
        s.issue(who(), cert(), None).unwrap();
        s.issue(who(), cert(), None).unwrap();
        assert!(matches!(
            s.issue(who(), cert(), None),
            Err(ServerError::LimitExceeded(_))
        ));
    }

    #[test]
    fn periods() {
        for ok in [
            "2026-10",
            "2026",
            "2025-01",
            "2026-12",
            "2025-26",
            "2026-Q3",
            "12m-2026-10",
        ] {
            assert!(valid_period(ok), "{ok}");
        }
        for bad in [
            "2026-13", "2026-00", "26-10", "2026-1", "", "2026/10", "abcd", "2026-1x", "2025-27",
            "2026-Q5",
        ] {
            assert!(!valid_period(bad), "{bad}");
        }
        let d = |y, m, day| chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(default_period(d(2026, 11, 3)), "2026-10");
        assert_eq!(default_period(d(2027, 1, 31)), "2026-12");
    }

    #[test]
    fn cookies_and_origins() {
        let id = [7u8; 32];
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {SESSION_COOKIE}={}; c=d", hex::encode(id)))
                .unwrap(),
        );
        assert_eq!(session_id(&h), Some(id));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("concord-session=00"),
        );
        assert_eq!(session_id(&h), None);

        let path = Uri::from_static("/login");
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("localhost:7444"));
        assert!(
            !same_origin(&h, &path),
            "no Origin, no Sec-Fetch-Site: refused"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h, &path));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://localhost:7444"),
        );
        assert!(same_origin(&h, &path));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h, &path), "the browser's own word wins");

        // HTTP/2: no Host header, the authority is in the URI.
        let mut h = HeaderMap::new();
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://localhost:7444"),
        );
        assert!(same_origin(
            &h,
            &Uri::from_static("https://localhost:7444/login")
        ));
        assert!(!same_origin(
            &h,
            &Uri::from_static("https://elsewhere:7444/login")
        ));
    }
}
