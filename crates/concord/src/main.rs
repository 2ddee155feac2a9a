#![forbid(unsafe_code)]
//! `concord`: the one binary of the Concord data-sharing broker.
//!
//! * `concord serve`: the broker (mTLS gRPC, policies, store).
//! * `concord pki init`: a development partnership PKI.
//! * `concord push`: a duty holder's push agent for a tokenised extract.
//! * `concord policy test`: a policy bundle's unit tests.
//!
//! Configuration lives in [`config`], logging in [`telemetry`]. Errors are
//! printed as `error: …` with their causes, and each says what to do next.

mod cmd;
mod config;
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker: mTLS gRPC ingest with policy decisions, storing in SQLite or PostgreSQL
    Serve(cmd::serve::ServeArgs),
    /// Work with the partnership PKI (certificates and keys)
    #[command(subcommand)]
    Pki(cmd::pki::PkiCommand),
    /// Push a tokenised extract to the broker and print its receipt
    Push(cmd::push::PushArgs),
    /// Work with policy bundles
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Work with the broker's keys (rotation)
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(&args),
        Command::Pki(command) => telemetry::init_quiet().and_then(|()| cmd::pki::run(command)),
        Command::Push(args) => telemetry::init_quiet().and_then(|()| cmd::push::run(&args)),
        Command::Keys(command) => telemetry::init_quiet().and_then(|()| cmd::keys::run(command)),
        Command::Policy(command) => {
            telemetry::init_quiet().and_then(|()| cmd::policy::run(command))
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
