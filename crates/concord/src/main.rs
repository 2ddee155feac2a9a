#![forbid(unsafe_code)]
//! `concord`: the one binary of the Concord data-sharing broker.
//!
//! * `concord serve`: the broker (mTLS gRPC, policies, store).
//! * `concord pki init`: a development partnership PKI.
//! * `concord push`: a duty holder's push agent (an export plus a mapping,
//!   tokenised locally, or an already tokenised file).
//! * `concord tokenise`: the push agent's tokenising, offline, to a token file.
//! * `concord link`: linkage over token files, offline, with its quality
//!   against a synthetic truth.
//! * `concord lookup`: a MASH practitioner's authorised, audited view of what
//!   partner agencies know about someone (identifiers tokenised locally).
//! * `concord synth`: a seeded synthetic population as agency exports.
//! * `concord demo`: all of it end to end, with a broker in-process.
//! * `concord policy test`: a policy bundle's unit tests.
//! * `concord audit verify`: the audit log checked offline against its
//!   signed checkpoints (also `audit export`, `audit vkey`).
//! * `concord report`: the board's dashboard as a self-contained HTML file.
//! * `concord dashboard-link`: a one-time sign-in link to the web dashboard.
//! * `concord review`: the linkage review queue, listed and decided.
//!
//! Configuration lives in [`config`], logging in [`telemetry`]. Errors are
//! printed as `error: …` with their causes, and each says what to do next.

mod agent;
mod cmd;
mod config;
mod quality;
mod telemetry;
mod token_csv;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Concord: a privacy-preserving data-sharing broker for a Community Safety Partnership.
#[derive(Debug, Parser)]
#[command(name = "concord", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker: mTLS gRPC ingest with policy decisions, storing in SQLite or PostgreSQL
    Serve(cmd::serve::ServeArgs),
    /// Work with the partnership PKI (certificates and keys)
    #[command(subcommand)]
    Pki(cmd::pki::PkiCommand),
    /// Push an extract to the broker (an agency export tokenised here, or a token file) and print its receipt
    Push(cmd::push::PushArgs),
    /// Tokenise an agency export offline: CSV and mapping in, token CSV out
    Tokenise(cmd::tokenise::TokeniseArgs),
    /// Link token files offline into people, and measure the linkage against a synthetic truth
    Link(cmd::link::LinkArgs),
    /// Look someone up for a case: what partner agencies hold, as the policy allows (identifiers are tokenised here, never sent)
    Lookup(cmd::lookup::LookupArgs),
    /// Write a seeded synthetic population: each agency's export, its mapping, and the truth
    Synth(cmd::synth::SynthArgs),
    /// Run the whole chain on synthetic data: PKI, broker, push over mTLS, linkage, quality
    Demo(cmd::demo::DemoArgs),
    /// Work with policy bundles
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Work with the broker's keys (rotation)
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Verify or export the audit log offline, straight from the database (no broker needed)
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Write the board's dashboard for a period as one self-contained HTML file (charts and tables, no network needed)
    Report(cmd::report::ReportArgs),
    /// Get a one-time link that signs you in to the board's web dashboard (board members and analysts)
    DashboardLink(cmd::dashboard_link::DashboardLinkArgs),
    /// Work the linkage review queue: list, show and decide possible matches (MASH managers, the DPO)
    #[command(subcommand)]
    Review(cmd::review::ReviewCommand),
}

/// mimalloc: under load glibc's malloc and free (with its consolidation
/// passes) took about a fifth of a lookup's CPU; see BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(&args),
        Command::Pki(command) => telemetry::init_quiet().and_then(|()| cmd::pki::run(command)),
        Command::Push(args) => telemetry::init_quiet().and_then(|()| cmd::push::run(&args)),
        Command::Tokenise(args) => telemetry::init_quiet().and_then(|()| cmd::tokenise::run(&args)),
        Command::Link(args) => telemetry::init_quiet().and_then(|()| cmd::link::run(&args)),
        Command::Lookup(args) => telemetry::init_quiet().and_then(|()| cmd::lookup::run(&args)),
        Command::Synth(args) => telemetry::init_quiet().and_then(|()| cmd::synth::run(&args)),
        Command::Demo(args) => telemetry::init_quiet().and_then(|()| cmd::demo::run(&args)),
        Command::Keys(command) => telemetry::init_quiet().and_then(|()| cmd::keys::run(command)),
        Command::Audit(command) => telemetry::init_quiet().and_then(|()| cmd::audit::run(command)),
        Command::Report(args) => telemetry::init_quiet().and_then(|()| cmd::report::run(&args)),
        Command::DashboardLink(args) => {
            telemetry::init_quiet().and_then(|()| cmd::dashboard_link::run(&args))
        }
        Command::Policy(command) => {
            telemetry::init_quiet().and_then(|()| cmd::policy::run(command))
        }
        Command::Review(command) => {
            telemetry::init_quiet().and_then(|()| cmd::review::run(&command))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
