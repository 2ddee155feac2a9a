//! The one place logging is set up.
//!
//! Logs go to standard error (standard output is for what a command
//! reports), as text or JSON lines, filtered by `RUST_LOG` if it is set and
//! otherwise by the configured level. Conventions for every message in the
//! binary: lowercase, structured fields rather than interpolation, and never
//! an identifier, a key, a token or a password (paths, counts, ids of keys
//! and extracts, and redacted URLs only).

use std::io::IsTerminal;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Parses a level or filter directive string (`info`,
/// `info,concord_server=debug`).
pub fn filter(directives: &str) -> Result<EnvFilter, tracing_subscriber::filter::ParseError> {
    EnvFilter::builder().parse(directives)
}

/// Installs the global subscriber. `RUST_LOG`, when set and not empty,
/// overrides `log.level`.
pub fn init(log: &LogConfig) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => filter(&directives)
            .context("RUST_LOG is not a valid log filter (try RUST_LOG=info, or unset it)")?,
        _ => filter(&log.level).context("log.level is not a valid log filter")?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let installed = match log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Logging for the client-side commands: warnings and errors only, as text,
/// unless `RUST_LOG` asks for more.
pub fn init_quiet() -> anyhow::Result<()> {
    init(&LogConfig {
        format: LogFormat::Text,
        level: "warn".to_owned(),
    })
}
