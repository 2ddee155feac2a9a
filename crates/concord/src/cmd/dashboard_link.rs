//! `concord dashboard-link`: a one-time sign-in link to the board's web
//! dashboard, asked of the broker over mutual TLS with the caller's
//! partnership certificate (`concord.v1.DashboardAccess/DashboardLink`).
//! The link works once, for a few minutes; opening it and pressing "Sign
//! in" starts a browser session as the certificate's holder.

use anyhow::Context;
use concord_proto::v1;

use super::report::BrokerArgs;

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct DashboardLinkArgs {
    /// The period the dashboard opens on: a month (2026-10), a quarter (2026-Q1), a financial
    /// year (2025-26), a calendar year (2026) or 12m-2026-10 [default: the last complete month]
    #[arg(long, value_name = "PERIOD")]
    pub period: Option<String>,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

const AFTER_HELP: &str = "\
Board members and analysts only: the broker asks its aggregate policy about the certificate's
holder before it issues a link. Do not forward the link: it signs in whoever opens it first.

Example:
  concord dashboard-link --pki .concord/pki --user board-member-1 --period 2026-10";

pub fn run(args: &DashboardLinkArgs) -> anyhow::Result<()> {
    let tls = args.broker.tls()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let link = runtime.block_on(request(
        &args.broker.broker,
        &tls,
        args.period.as_deref().unwrap_or(""),
    ))?;
    if link.url.is_empty() {
        anyhow::bail!(
            "the broker serves no web dashboard (its web_listen is \"off\"); its operators can \
             turn it on"
        );
    }
    println!("{}", link.url);
    eprintln!(
        "open this link in your browser and press Sign in; it works once, until {} ({} \
         minutes)",
        link.expires_at,
        link.expires_in_seconds / 60
    );
    Ok(())
}

/// Asks the broker for a sign-in link as the certificate's holder.
pub(crate) async fn request(
    broker: &str,
    tls: &concord_client::ClientTls,
    period: &str,
) -> anyhow::Result<v1::DashboardLinkResponse> {
    let channel = concord_client::connect(broker, tls).await?;
    let mut client = v1::dashboard_access_client::DashboardAccessClient::new(channel);
    let response = client
        .dashboard_link(v1::DashboardLinkRequest {
            period: period.to_owned(),
        })
        .await
        .map_err(|status| {
            let what = match status.code() {
                tonic::Code::PermissionDenied => {
                    "the broker's aggregate policy does not allow this certificate on the \
                     board's dashboard (board members and analysts only)"
                }
                tonic::Code::InvalidArgument => "the broker refused the request",
                tonic::Code::Unavailable => "the broker could not answer; try again",
                _ => "the broker refused a sign-in link",
            };
            anyhow::anyhow!("{what}: {} ({:?})", status.message(), status.code())
        })?;
    Ok(response.into_inner())
}
