//! The board's web dashboard in a real headless browser, on both stores.
//!
//! A broker on port 0 (gRPC over mTLS) with its web dashboard on another
//! port 0 (HTTPS), a small synthetic data set pushed by the police and a
//! health trust, a one-time sign-in link asked for as `board-member-1`
//! over mTLS, then Debian's Chromium, headless, driven over the DevTools
//! protocol: it opens the link, signs in from the keyboard, and the test
//! reads the page from the DOM. The browser trusts exactly the test
//! broker's key (`--ignore-certificate-errors-spki-list`), nothing more.
//!
//! Chromium must be installed (`.ci/run` installs Debian's `chromium`):
//! without it these tests fail, saying so.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use base64::Engine as _;
use concord_client::{Extract, push_extract};
use concord_core::{KeyName, RBKC_WARDS};
use concord_e2e::bytes;
use concord_e2e::{Db, TestBroker, both_stores, repo_root};
use concord_proto::v1;
use futures::{SinkExt as _, StreamExt as _};
use rustls_pki_types::{CertificateDer, pem::PemObject as _};
use serde_json::{Value, json};
use tokio::{io::AsyncReadExt as _, io::AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;

/// How long any one browser step may take before the test fails.
const STEP: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Data

/// Police serious violence in October 2026 per ward: raw counts chosen so
/// that some are released (rounded) and some are small (suppressed).
const WARD_COUNTS: [(&str, u32); 5] = [
    ("E05009396", 23), // Golborne
    ("E05009399", 14), // Notting Dale
    ("E05009392", 12), // Colville
    ("E05009395", 3),  // Earl's Court: small
    ("E05009405", 2),  // Stanley: small
];

fn police_records(tb: &TestBroker) -> Vec<v1::Record> {
    let categories = [
        v1::ViolenceCategory::Gbh,
        v1::ViolenceCategory::Robbery,
        v1::ViolenceCategory::Abh,
    ];
    let mut out = Vec::new();
    let mut i = 0u32;
    for (ward, n) in WARD_COUNTS {
        for _ in 0..n {
            let lk = &tb.linkage_key_id;
            let token = |name: KeyName| v1::MatchKeyToken {
                key_name: name.as_str().into(),
                key_id: lk.clone(),
                token: bytes(name.as_str(), i),
            };
            out.push(v1::Record {
                source_ref: bytes("police-ref", i),
                kind: v1::RecordKind::Crime as i32,
                role: v1::PersonRole::Victim as i32,
                event_date: format!("2026-10-{:02}", 1 + i % 28),
                event_date_precision: v1::DatePrecision::Day as i32,
                ward_code: ward.into(),
                category: categories[i as usize % categories.len()] as i32,
                weapon: if i.is_multiple_of(2) {
                    v1::Weapon::KnifeSharp as i32
                } else {
                    v1::Weapon::Body as i32
                },
                location_type: v1::LocationType::Street as i32,
                age_band: if i.is_multiple_of(3) {
                    v1::AgeBand::AgeBand1824 as i32
                } else {
                    v1::AgeBand::AgeBand2534 as i32
                },
                sex: v1::Sex::Male as i32,
                flags: Some(v1::Flags {
                    under_25: i.is_multiple_of(3),
                    ..Default::default()
                }),
                tokens: vec![token(KeyName::SnDob), token(KeyName::Pnc)],
                ..Default::default()
            });
            i += 1;
        }
    }
    out
}

/// Emergency department assault attendances in October 2026 (no tokens).
fn health_records() -> Vec<v1::Record> {
    (0..24u32)
        .map(|i| v1::Record {
            source_ref: bytes("ed-ref", i),
            kind: v1::RecordKind::EdAttendance as i32,
            event_date: format!("2026-10-{:02}", 1 + i % 28),
            event_date_precision: v1::DatePrecision::Day as i32,
            event_hour: Some(if i < 12 { 23 } else { i % 24 }),
            weapon: if i.is_multiple_of(2) {
                v1::Weapon::KnifeSharp as i32
            } else {
                v1::Weapon::Blunt as i32
            },
            location_type: v1::LocationType::Street as i32,
            site_code: "RQM01".into(),
            ..Default::default()
        })
        .collect()
}

fn header(tb: &TestBroker, id: &str, source: v1::Source) -> v1::ExtractHeader {
    v1::ExtractHeader {
        extract_id: id.into(),
        source: source as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    }
}

/// The board member's disclosure thresholds, from the policy data.
fn board_rule() -> (u64, u64) {
    let text = std::fs::read_to_string(repo_root().join("policies/data/agreements.json"))
        .expect("policies/data/agreements.json");
    let data: Value = serde_json::from_str(&text).expect("agreements JSON");
    let agg = &data["agreements"]["roles"]["board_member"]["aggregate"];
    (
        agg["suppress_max"].as_u64().expect("suppress_max"),
        agg["rounding_base"].as_u64().expect("rounding_base"),
    )
}

// ---------------------------------------------------------------------------
// The dashboard server and a plain HTTPS client

/// One HTTP/1.1 request over TLS (trusting the test CA), answered as
/// (status, headers, body).
async fn https(tb: &TestBroker, port: u16, request: &str) -> (u16, Vec<(String, String)>, String) {
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(&tb.pki.ca_cert).expect("ca");
    for c in CertificateDer::pem_slice_iter(&ca) {
        roots.add(c.expect("ca pem")).expect("ca cert");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut tls = connector
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("tls handshake without a client certificate");
    tls.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("an HTTP status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn get(path: &str, port: u16, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n{extra}Connection: close\r\n\r\n")
}

// ---------------------------------------------------------------------------
// Chromium over the DevTools protocol

/// A headless Chromium, killed when dropped.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    /// Events read while waiting for a command's answer.
    events: VecDeque<Value>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser binary: Debian's `chromium` on the PATH.
fn chromium() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "the dashboard browser tests need Chromium, and there is no `chromium` on the PATH: run \
         .ci/run, or `apt-get install chromium` (Debian's package)"
    );
}

/// base64(SHA-256(SubjectPublicKeyInfo)) of the first certificate in `pem`:
/// what `--ignore-certificate-errors-spki-list` names.
fn spki_hash(pem: &[u8]) -> String {
    let der = CertificateDer::pem_slice_iter(pem)
        .next()
        .expect("a certificate")
        .expect("PEM");
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).expect("X.509");
    let spki = cert.tbs_certificate.subject_pki.raw;
    base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, spki).as_ref())
}

impl Browser {
    async fn launch(trust_spki: &str) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!(
                "--ignore-certificate-errors-spki-list={trust_spki}"
            ))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start Chromium ({e}): run .ci/run, or `apt-get install chromium`")
            });
        // Chromium prints its DevTools address on standard error; keep
        // draining it afterwards so it never blocks.
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel::<Result<String, String>>();
        std::thread::spawn(move || {
            let mut seen = String::new();
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(url.trim().to_owned()));
                    }
                } else if tx.is_some() {
                    seen.push_str(&line);
                    seen.push('\n');
                }
            }
            if let Some(tx) = tx {
                let _ = tx.send(Err(seen));
            }
        });
        let url = tokio::task::spawn_blocking(move || rx.recv_timeout(STEP))
            .await
            .expect("join")
            .expect("Chromium printed its DevTools address in time")
            .unwrap_or_else(|log| panic!("Chromium exited before it listened:\n{log}"));
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect to Chromium's DevTools");
        Browser {
            child,
            _profile: profile,
            ws,
            next_id: 0,
            events: VecDeque::new(),
        }
    }

    async fn read(&mut self, waiting_for: &str) -> Value {
        loop {
            let msg = tokio::time::timeout(STEP, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("Chromium sent no {waiting_for} in time"))
                .expect("the DevTools connection is open")
                .expect("a DevTools message");
            if let Message::Text(text) = msg {
                return serde_json::from_str(text.as_str()).expect("DevTools JSON");
            }
        }
    }

    /// Sends a command (to a page's `session`, or the browser) and returns
    /// its result; a DevTools error fails the test.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("send to Chromium");
        loop {
            let v = self.read(method).await;
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    panic!("DevTools {method} failed: {err}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.events.push_back(v);
            }
        }
    }

    /// Waits for the next event `method` of `session` (skipping others).
    async fn event(&mut self, session: &str, method: &str) -> Value {
        while let Some(v) = self.events.pop_front() {
            if v["method"] == method && v["sessionId"] == session {
                return v["params"].clone();
            }
        }
        loop {
            let v = self.read(method).await;
            if v["method"] == method && v["sessionId"] == session {
                return v["params"].clone();
            }
        }
    }

    /// A new page in its own browser context (its own cookies); returns
    /// the page's session id.
    async fn page(&mut self) -> String {
        let ctx = self
            .call(None, "Target.createBrowserContext", json!({}))
            .await["browserContextId"]
            .clone();
        let target = self
            .call(
                None,
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": ctx}),
            )
            .await["targetId"]
            .clone();
        let session = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned();
        self.call(Some(&session), "Page.enable", json!({})).await;
        self.call(
            Some(&session),
            "Emulation.setFocusEmulationEnabled",
            json!({"enabled": true}),
        )
        .await;
        self.call(Some(&session), "Network.enable", json!({})).await;
        session
    }

    /// Navigates and waits for the load event; returns the HTTP status of
    /// the document.
    async fn goto(&mut self, session: &str, url: &str) -> u64 {
        self.events.clear();
        let nav = self
            .call(Some(session), "Page.navigate", json!({"url": url}))
            .await;
        assert!(
            nav.get("errorText").is_none(),
            "navigating to {url} failed: {nav}"
        );
        self.loaded(session).await
    }

    /// Waits for the document's response and load event; its status.
    async fn loaded(&mut self, session: &str) -> u64 {
        let status = loop {
            let r = self.event(session, "Network.responseReceived").await;
            if r["type"] == "Document" {
                break r["response"]["status"].as_u64().expect("status");
            }
        };
        self.event(session, "Page.loadEventFired").await;
        status
    }

    /// Evaluates `expr` in the page and returns its value (JSON).
    async fn eval(&mut self, session: &str, expr: &str) -> Value {
        let r = self
            .call(
                Some(session),
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("evaluating {expr} threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Presses and releases a key; `text` is what it types (Enter: "\r").
    async fn key(&mut self, session: &str, key: &str, code: &str, vk: u32, text: &str) {
        for kind in ["keyDown", "keyUp"] {
            let mut event = json!({"type": kind, "key": key, "code": code,
                                   "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk});
            if kind == "keyDown" && !text.is_empty() {
                event["text"] = json!(text);
                event["unmodifiedText"] = json!(text);
            }
            self.call(Some(session), "Input.dispatchKeyEvent", event)
                .await;
        }
    }
}

// ---------------------------------------------------------------------------
// The test

/// Every figure a reader can see: table cells, chart value labels and
/// headline figures, as text.
const VISIBLE_FIGURES: &str = "[...document.querySelectorAll('td.num, svg text.value, \
    .headline .figure')].filter(e => e.getClientRects().length > 0).map(e => \
    e.textContent.trim())";

both_stores!(
    the_board_sees_charts_and_no_small_number,
    |db: Db| async move {
        let tb = TestBroker::start(db).await;
        let web = tb.start_web().await;

        // The data: police crimes and emergency department attendances.
        for (user, id, source, records) in [
            (
                "mps-cw-push",
                "web-police",
                v1::Source::Police,
                police_records(&tb),
            ),
            (
                "chelwest-nhs-push",
                "web-ed",
                v1::Source::Health,
                health_records(),
            ),
        ] {
            push_extract(
                tb.channel(user).await,
                Extract::new(header(&tb, id, source), records, vec![], 1000),
            )
            .await
            .expect("push accepted");
        }
        tb.wait_linked(2).await;

        // Without a session there is nothing to see.
        let (status, _, body) = https(
            &tb,
            web.port,
            &get("/dashboard?period=2026-10", web.port, ""),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body.contains("concord dashboard-link"),
            "says how to sign in: {body}"
        );
        assert!(!body.contains("<svg") && !body.contains("<table"), "{body}");
        for (_, ward) in RBKC_WARDS {
            assert!(
                !body.contains(&*ward.replace('\'', "&#39;")),
                "no ward on the 401 page"
            );
        }
        let (status, _, _) = https(
            &tb,
            web.port,
            &get(
                "/dashboard",
                web.port,
                "Cookie: __Host-concord-session=00112233\r\n",
            ),
        )
        .await;
        assert_eq!(status, 401, "a made-up session id is no session");

        // Who may not have the figures gets no link: a MASH officer.
        let refused = v1::dashboard_access_client::DashboardAccessClient::new(
            tb.channel("mash-officer-1").await,
        )
        .dashboard_link(v1::DashboardLinkRequest::default())
        .await
        .expect_err("a MASH officer is refused");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

        // A board member's one-time link.
        let link = v1::dashboard_access_client::DashboardAccessClient::new(
            tb.channel("board-member-1").await,
        )
        .dashboard_link(v1::DashboardLinkRequest {
            period: "2026-10".into(),
        })
        .await
        .expect("a board member gets a link")
        .into_inner();
        assert!(
            link.url
                .starts_with(&format!("https://localhost:{}/login?token=", web.port)),
            "{}",
            link.url
        );
        assert!(link.expires_in_seconds > 0 && link.expires_in_seconds <= 300);

        let spki = spki_hash(&std::fs::read(&tb.pki.server_cert).expect("server cert"));
        let mut b = Browser::launch(&spki).await;
        let page = b.page().await;

        // Opening the link shows a button and uses nothing; Enter presses it.
        assert_eq!(b.goto(&page, &link.url).await, 200);
        // The browser applies `autofocus` at a rendering update after the
        // page has loaded, which a busy machine may reach a little later.
        let focus = "document.activeElement && document.activeElement.id";
        let mut focused = b.eval(&page, focus).await;
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while focused != json!("sign-in") && std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            focused = b.eval(&page, focus).await;
        }
        assert_eq!(
            focused,
            json!("sign-in"),
            "the Sign in button has the focus"
        );
        b.events.clear();
        b.key(&page, "Enter", "Enter", 13, "\r").await;
        assert_eq!(b.loaded(&page).await, 200, "signed in and on the dashboard");
        assert_eq!(
            b.eval(&page, "location.pathname + location.search").await,
            json!("/dashboard?period=2026-10")
        );

        // The session cookie is what it should be.
        let cookies = b.call(Some(&page), "Network.getCookies", json!({})).await;
        let cookie = cookies["cookies"]
            .as_array()
            .expect("cookies")
            .iter()
            .find(|c| c["name"] == "__Host-concord-session")
            .expect("the session cookie is set")
            .clone();
        assert_eq!(cookie["httpOnly"], json!(true));
        assert_eq!(cookie["secure"], json!(true));
        assert_eq!(cookie["sameSite"], json!("Strict"));

        // The page: its title and heading.
        let title = b.eval(&page, "document.title").await;
        assert!(
            title
                .as_str()
                .is_some_and(|t| t.contains("Board dashboard") && t.contains("October 2026")),
            "{title}"
        );
        let h1 = b
            .eval(&page, "document.querySelector('h1').textContent")
            .await;
        assert!(
            h1.as_str().is_some_and(|t| t.contains("October 2026")),
            "{h1}"
        );

        // Every chart rendered with a size, and each is described and captioned.
        let charts = b
            .eval(
                &page,
                "[...document.querySelectorAll('svg.chart')].map(s => { const r = \
             s.getBoundingClientRect(); return {w: r.width, h: r.height, \
             label: s.getAttribute('aria-labelledby'), role: s.getAttribute('role'), \
             caption: !!s.closest('figure').querySelector('figcaption'), \
             marks: s.querySelectorAll('rect.bar, g.point').length}; })",
            )
            .await;
        let charts = charts.as_array().expect("charts");
        assert!(charts.len() >= 8, "{} charts: {charts:?}", charts.len());
        for c in charts {
            assert!(c["w"].as_f64().unwrap() > 100.0, "{c}");
            assert!(c["h"].as_f64().unwrap() > 50.0, "{c}");
            assert_eq!(c["role"], json!("img"));
            assert!(c["label"].as_str().is_some_and(|l| !l.is_empty()));
            assert_eq!(c["caption"], json!(true));
        }
        let drawn: u64 = charts.iter().map(|c| c["marks"].as_u64().unwrap()).sum();
        assert!(drawn > 0, "some bars and points are drawn");

        // The ward breakdown lists the 18 wards, and shows the small wards as
        // suppressed.
        let wards = b
            .eval(
                &page,
                "[...document.querySelectorAll('#panel-sv-by-ward table tbody tr')].map(r => \
             [r.querySelector('th').textContent, r.querySelector('td').textContent.trim()])",
            )
            .await;
        let wards = wards.as_array().expect("ward rows");
        let names: Vec<&str> = wards.iter().map(|r| r[0].as_str().unwrap()).collect();
        let expected: Vec<&str> = RBKC_WARDS.iter().map(|(_, n)| *n).collect();
        assert_eq!(names, expected, "all 18 wards, in order");
        let cell = |name: &str| {
            wards
                .iter()
                .find(|r| r[0] == name)
                .map(|r| r[1].as_str().unwrap().to_owned())
                .unwrap()
        };
        assert_eq!(cell("Earl's Court"), "[c]");
        assert_eq!(cell("Stanley"), "[c]");
        // 23 on the board's grid of 15 (9 suppressed, base 5), moved by at
        // most one step by the cell-key perturbation.
        assert!(
            ["15", "30", "45"].contains(&cell("Golborne").as_str()),
            "23 released as {}",
            cell("Golborne")
        );
        let ward_bars = b
            .eval(
                &page,
                "document.querySelectorAll('#panel-sv-by-ward svg .category').length",
            )
            .await;
        assert_eq!(ward_bars, json!(18), "the ward chart has a row per ward");

        // No figure a reader can see is a small number: each is 0, a multiple
        // of the rounding base above the threshold, the marker, or a dash.
        let (suppress_max, base) = board_rule();
        // The smallest count released: the rounded smallest unsuppressed count.
        let least = (suppress_max + 1 + base / 2) / base * base;
        let figures = b.eval(&page, VISIBLE_FIGURES).await;
        let figures = figures.as_array().expect("figures");
        assert!(figures.len() > 100, "{} figures", figures.len());
        let mut suppressed = 0;
        for f in figures {
            let t = f.as_str().unwrap();
            match t {
                "[c]" => suppressed += 1,
                "–" => {}
                _ => {
                    let n: u64 = t
                        .parse()
                        .unwrap_or_else(|_| panic!("a figure that is not a count: {t:?}"));
                    assert!(
                        n == 0 || (n >= least && n.is_multiple_of(base)),
                        "a visible figure {n} is small or not rounded to {base}"
                    );
                }
            }
        }
        assert!(suppressed >= 2, "the small wards are shown as [c]");
        let text = b.eval(&page, "document.body.innerText").await;
        assert!(text.as_str().unwrap().contains("[c]"));
        assert!(
            text.as_str().unwrap().contains("How to read these figures"),
            "the legend explains the marker"
        );

        // Keyboard: the first Tab reaches the skip link, which is visible then.
        b.eval(
            &page,
            "document.activeElement.blur(); window.scrollTo(0, 0)",
        )
        .await;
        b.key(&page, "Tab", "Tab", 9, "").await;
        let focused = b
            .eval(
                &page,
                "(() => { const e = document.activeElement; const r = e.getBoundingClientRect(); \
             return {cls: e.className, top: r.top, outline: getComputedStyle(e).outlineStyle, \
             bg: getComputedStyle(e).backgroundColor}; })()",
            )
            .await;
        assert_eq!(focused["cls"], json!("skip-link"), "{focused}");
        assert!(
            focused["top"].as_f64().unwrap() >= 0.0,
            "visible when focused: {focused}"
        );

        // Print: the controls go, the charts stay.
        b.call(
            Some(&page),
            "Emulation.setEmulatedMedia",
            json!({"media": "print"}),
        )
        .await;
        let printed = b
            .eval(
                &page,
                "({controls: getComputedStyle(document.querySelector('.controls')).display, \
              charts: [...document.querySelectorAll('svg.chart')].every(s => \
              s.getBoundingClientRect().width > 0)})",
            )
            .await;
        assert_eq!(printed["controls"], json!("none"), "{printed}");
        assert_eq!(printed["charts"], json!(true), "{printed}");
        b.call(
            Some(&page),
            "Emulation.setEmulatedMedia",
            json!({"media": ""}),
        )
        .await;

        // The link worked once: another browser that opens it gets nothing.
        let other = b.page().await;
        assert_eq!(b.goto(&other, &link.url).await, 401);
        let other_text = b.eval(&other, "document.body.innerText").await;
        assert!(
            other_text.as_str().unwrap().contains("cannot be used"),
            "{other_text}"
        );
        // And without a session, the dashboard says how to sign in.
        let dash = format!("https://localhost:{}/dashboard?period=2026-10", web.port);
        assert_eq!(b.goto(&other, &dash).await, 401);
        let figures = b.eval(&other, VISIBLE_FIGURES).await;
        assert_eq!(figures, json!([]), "no figures without a session");

        // Signing out ends the session.
        b.events.clear();
        b.eval(
            &page,
            "document.querySelector('form[action=\"/logout\"] button').click()",
        )
        .await;
        assert_eq!(b.loaded(&page).await, 200);
        assert_eq!(b.goto(&page, &dash).await, 401, "signed out");

        drop(b);
        web.stop().await;
        tb.stop().await;
    }
);
