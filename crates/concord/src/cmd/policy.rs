//! `concord policy test`: run a policy bundle's unit tests.

use std::path::PathBuf;

use anyhow::{Context, bail};
use concord_policy::Bundle;

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
    Ok(())
}
