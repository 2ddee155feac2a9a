//! `concord report`: the board's dashboard for a period as one
//! self-contained HTML file (inline stylesheet and SVG charts, no script,
//! nothing fetched), for circulation and printing.
//!
//! The figures come from the broker's `Insights.Dashboard` over mutual TLS
//! as the caller (a board member or analyst): the broker asks the
//! `aggregate` policy, protects every cell with the caller's role's
//! thresholds and audits the disclosure, exactly as for the web dashboard.
//! Nothing here counts or rounds anything.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use concord_client::ClientTls;
use concord_disclosure::{
    Dashboard, DashboardPeriod, Dimension, Measure, Panel, PanelKind, ProtectedRow, ProtectedTable,
    ProtectedValue,
};
use concord_proto::v1;

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct ReportArgs {
    /// The period: a month (2026-10), a quarter (2026-Q1), a financial
    /// year (2025-26, April to March), a calendar year (2026) or twelve
    /// months to a month (12m-2026-10)
    #[arg(long, value_name = "PERIOD")]
    pub period: String,
    /// The HTML file to write (replaced if it exists)
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

const AFTER_HELP: &str = "\
The file needs no network to view or print: open it in any browser. Counts from 1 to the
policy's threshold appear as [c] (confidential), the rest rounded, exactly as the broker
released them to your role; the broker records the disclosure in its audit log.

Example:
  concord report --period 2026-10 --out board.html --pki .concord/pki --user board-member-1";

/// How to reach the broker as a partnership member (mutual TLS).
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// The broker's address
    #[arg(long, value_name = "URL", default_value = "https://localhost:7443")]
    pub broker: String,
    /// PKI directory: DIR/ca.pem, DIR/clients/USER.pem and .key (and DIR/keys/linkage.json, where identifiers are tokenised)
    #[arg(long, value_name = "DIR", requires = "user")]
    pub pki: Option<PathBuf>,
    /// The user whose client certificate to use from --pki DIR (e.g. mps-cw-push, board-member-1)
    #[arg(long, requires = "pki")]
    pub user: Option<String>,
    /// CA certificate (PEM), instead of --pki
    #[arg(long, value_name = "FILE", requires_all = ["cert", "key"])]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM), instead of --pki
    #[arg(long, value_name = "FILE", requires_all = ["ca", "key"])]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM), instead of --pki
    #[arg(long, value_name = "FILE", requires_all = ["ca", "cert"])]
    pub key: Option<PathBuf>,
    /// Name the broker's certificate must carry [default: the host of --broker]
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
}

impl BrokerArgs {
    /// The client's TLS material, read from the files the flags name.
    pub fn tls(&self) -> anyhow::Result<ClientTls> {
        super::push::client_tls(&super::push::TlsChoice {
            broker: &self.broker,
            pki: self.pki.as_deref(),
            user: self.user.as_deref(),
            ca: self.ca.as_deref(),
            cert: self.cert.as_deref(),
            key: self.key.as_deref(),
            server_name: self.server_name.as_deref(),
        })
    }
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    DashboardPeriod::parse(&args.period).map_err(|_| {
        anyhow::anyhow!(
            "--period {:?} is not a period: give a month (2026-10), a quarter (2026-Q1), a \
             financial year (2025-26), a calendar year (2026) or twelve months to a month \
             (12m-2026-10)",
            args.period
        )
    })?;
    let tls = args.broker.tls()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let response = runtime.block_on(fetch(&args.broker.broker, &tls, &args.period))?;
    let dashboard = dashboard_from_wire(response)?;
    // A report is for circulation: it names no reader.
    let html = concord_report::report(
        &dashboard,
        &concord_report::PageContext {
            viewer: None,
            generated_at: chrono::Utc::now(),
        },
    );
    write_atomically(&args.out, html.as_bytes())?;
    let suppressed: usize = dashboard
        .panels
        .iter()
        .map(|p| p.table.suppressed_cells())
        .sum();
    println!(
        "wrote {}: the board report for {} ({} panels, {} suppressed cells shown as {}); open it \
         in a browser, no network needed",
        args.out.display(),
        dashboard.period_label,
        dashboard.panels.len(),
        suppressed,
        concord_report::SUPPRESSED
    );
    Ok(())
}

/// `Insights.Dashboard` for `period`, as the certificate's holder.
pub(crate) async fn fetch(
    broker: &str,
    tls: &ClientTls,
    period: &str,
) -> anyhow::Result<v1::DashboardResponse> {
    let channel = concord_client::connect(broker, tls).await?;
    let mut client = v1::insights_client::InsightsClient::new(channel);
    let response = client
        .dashboard(v1::DashboardRequest {
            period: period.to_owned(),
        })
        .await
        .map_err(|status| {
            let what = match status.code() {
                tonic::Code::PermissionDenied => {
                    "the broker's aggregate policy refused the board's figures to this \
                     certificate (board members and analysts may have them)"
                }
                tonic::Code::Unauthenticated => "the broker did not accept the certificate",
                tonic::Code::InvalidArgument => "the broker refused the request",
                tonic::Code::Unavailable => {
                    "the broker could not answer safely (policy, audit or database); try again"
                }
                _ => "the broker refused the dashboard",
            };
            anyhow::anyhow!("{what}: {} ({:?})", status.message(), status.code())
        })?;
    Ok(response.into_inner())
}

/// The wire dashboard as the domain's: codes to dimensions and measures,
/// `{suppressed, value}` to [`ProtectedValue`]. Refuses anything it does
/// not understand rather than guessing.
pub(crate) fn dashboard_from_wire(r: v1::DashboardResponse) -> anyhow::Result<Dashboard> {
    let period = DashboardPeriod::parse(&r.period)
        .map_err(|_| anyhow::anyhow!("the broker answered with a period {:?}", r.period))?;
    let panels = r
        .panels
        .into_iter()
        .map(panel_from_wire)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Dashboard {
        period: period.label.clone(),
        period_label: period.reader_label(),
        panels,
    })
}

fn panel_from_wire(p: v1::Panel) -> anyhow::Result<Panel> {
    let t = p.table.unwrap_or_default();
    let unknown = |what: &str, code: i32| {
        anyhow::anyhow!(
            "panel {}: the broker sent a {what} this concord does not know (code {code}); use \
             a concord as new as the broker",
            p.id
        )
    };
    let group_by = t
        .group_by
        .iter()
        .map(|c| Dimension::from_code(*c).ok_or_else(|| unknown("dimension", *c)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let measures = t
        .measures
        .iter()
        .map(|c| Measure::from_code(*c).ok_or_else(|| unknown("measure", *c)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let value = |v: &v1::ProtectedValue| {
        if v.suppressed {
            ProtectedValue::Suppressed
        } else {
            ProtectedValue::Released(v.value)
        }
    };
    let rows = t
        .rows
        .iter()
        .map(|r| {
            if r.keys.len() != group_by.len() || r.values.len() != measures.len() {
                bail!(
                    "panel {}: a row does not match the table's dimensions and measures",
                    p.id
                );
            }
            Ok(ProtectedRow {
                keys: r.keys.clone(),
                values: r.values.iter().map(value).collect(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let kind = concord_disclosure::panel_def(&p.id).map_or(PanelKind::Table, |d| d.kind);
    Ok(Panel {
        id: p.id,
        title: p.title,
        description: p.description,
        kind,
        table: ProtectedTable {
            group_by,
            measures,
            rows,
            totals: t.totals.iter().map(value).collect(),
            suppress_max: t.suppress_max,
            rounding_base: t.rounding_base,
        },
    })
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so a reader never sees half a report.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write in {} (choose another --out)", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {} (choose another --out)", path.display()))?;
    Ok(())
}
