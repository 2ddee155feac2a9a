//! `concord policy test`: run a policy bundle's unit tests.

use std::path::PathBuf;

use anyhow::{Context, bail};
use concord_policy::{Bundle, EngineConfig, PolicyEngine};

/// Work with policy bundles.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Run the bundle's *_test.rego policy unit tests and report coverage
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The policy bundle directory
    #[arg(long, value_name = "DIR", default_value = "policies")]
    pub dir: PathBuf,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Test(args) => test(&args),
    }
}

fn test(args: &TestArgs) -> anyhow::Result<()> {
    let bundle = Bundle::load_dir(&args.dir).with_context(|| {
        format!(
            "cannot load the policy bundle in {} (give the bundle directory with --dir)",
            args.dir.display()
        )
    })?;
    println!(
        "policy bundle {} (revision {}, digest {})",
        args.dir.display(),
        bundle.revision(),
        bundle.digest()
    );
    let report = concord_policy::run_tests(&bundle).with_context(|| {
        format!(
            "cannot build the policy bundle in {}; fix the named file",
            args.dir.display()
        )
    })?;
    println!("{report}");
    if !report.passed() {
        bail!(
            "{} policy test(s) failed: {}",
            report.failed_count(),
            report.failed_names().join(", ")
        );
    }
    // What the broker checks besides the tests when it loads the bundle
    // (the data's invariants): a bundle that passes here is one it serves.
    let config = EngineConfig {
        run_tests_on_load: false,
        ..EngineConfig::default()
    };
    PolicyEngine::new(bundle, config).with_context(|| {
        format!(
            "the policy bundle in {} passes its tests but the broker would refuse it",
            args.dir.display()
        )
    })?;
    println!("the broker would load this bundle (its data keeps the agreement's invariants)");
    Ok(())
}

/// How often `concord serve` looks at the policy directory for a changed
/// bundle.
pub(crate) const POLICY_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// What made the broker try a reload.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    Hangup,
    Changed,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Hangup => "SIGHUP",
            Trigger::Changed => "files changed",
        }
    }
}

/// `concord serve`'s policy reloader: on SIGHUP, and whenever the bundle in
/// `dir` changes (its digest, read every [`POLICY_POLL`]), the bundle is
/// compiled and tested beside the serving one and swapped in only if both
/// succeed; otherwise the last good bundle keeps serving. Each outcome is
/// logged (revision and digest, never request data) and audited as a
/// `policy_reload` event. A refused digest is not tried again until the
/// files change or SIGHUP asks.
pub(crate) async fn watch(
    broker: std::sync::Arc<concord_server::Broker>,
    dir: PathBuf,
    mut hangup: tokio::signal::unix::Signal,
) {
    let mut poll = tokio::time::interval(POLICY_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut refused: Option<String> = None;
    let mut load_error: Option<String> = None;
    loop {
        let trigger = tokio::select! {
            _ = hangup.recv() => Trigger::Hangup,
            _ = poll.tick() => Trigger::Changed,
        };
        let path = dir.clone();
        let bundle = match tokio::task::spawn_blocking(move || Bundle::load_dir(&path)).await {
            Ok(Ok(bundle)) => bundle,
            Ok(Err(e)) => {
                // Perhaps mid-edit: say so once, not every poll.
                let message = e.to_string();
                if matches!(trigger, Trigger::Hangup) || load_error.as_ref() != Some(&message) {
                    tracing::warn!(dir = %dir.display(), error = %message, trigger = trigger.as_str(), "policy bundle cannot be read; the last good bundle keeps serving");
                    load_error = Some(message);
                }
                continue;
            }
            Err(_) => continue,
        };
        load_error = None;
        let digest = bundle.digest().to_owned();
        if matches!(trigger, Trigger::Changed)
            && (digest == broker.policy.bundle_digest() || refused.as_ref() == Some(&digest))
        {
            continue;
        }
        let revision = bundle.revision().to_owned();
        // Compiling a bundle and running its tests is CPU work: off the
        // runtime's workers.
        let engine = std::sync::Arc::clone(&broker.policy);
        let outcome = match tokio::task::spawn_blocking(move || engine.reload(bundle)).await {
            Ok(outcome) => outcome.map_err(|e| e.to_string()),
            Err(join) => Err(if join.is_panic() {
                "the reload panicked".to_owned()
            } else {
                "the reload was cancelled".to_owned()
            }),
        };
        let event = match &outcome {
            Ok(concord_policy::ReloadOutcome::Swapped { from, to }) => {
                refused = None;
                tracing::info!(
                    revision = %to.revision,
                    digest = %to.digest,
                    previous_revision = %from.revision,
                    previous_digest = %from.digest,
                    trigger = trigger.as_str(),
                    "policy bundle reloaded"
                );
                Some(reload_event(&to.digest, None))
            }
            Ok(concord_policy::ReloadOutcome::Unchanged(id)) => {
                tracing::info!(revision = %id.revision, digest = %id.digest, trigger = trigger.as_str(), "policy bundle unchanged");
                None
            }
            Err(e) => {
                refused = Some(digest.clone());
                tracing::warn!(
                    revision = %revision,
                    digest = %digest,
                    serving_digest = %broker.policy.bundle_digest(),
                    error = %e,
                    trigger = trigger.as_str(),
                    "policy bundle refused; the last good bundle keeps serving"
                );
                Some(reload_event(&digest, Some(e.as_str())))
            }
        };
        if let Some(event) = event
            && let Err(e) = broker.audit.append(event).await
        {
            tracing::error!(error = %e, "a policy reload could not be audited");
        }
    }
}

/// The `policy_reload` audit event: the broker as actor, the digest of the
/// bundle tried, and for a refusal why (file, rule or test names only,
/// shortened).
fn reload_event(digest: &str, refused: Option<&str>) -> concord_audit::AuditEvent {
    let broker = concord_pki::Identity {
        org: "concord".to_owned(),
        role: "broker".to_owned(),
        user: "policy-reload".to_owned(),
    };
    let mut event = concord_server::audit::refusal(
        &broker,
        concord_audit::Action::PolicyReload,
        "",
        Some(digest.to_owned()),
    );
    event.decision = match refused {
        None => concord_audit::Decision::Allow,
        Some(e) => {
            let mut reason = format!("bundle refused: {e}");
            if let Some((cut, _)) = reason.char_indices().nth(300) {
                reason.truncate(cut);
            }
            concord_audit::Decision::Deny { reason }
        }
    };
    event
}
