//! The crate's error type.

use std::time::Duration;

use crate::testing::TestReport;

/// Everything that can go wrong loading a bundle or making a decision.
///
/// Every variant is a refusal to decide: callers must treat an `Err` as
/// "not allowed" (fail closed). Messages name the bundle file, rule or
/// function concerned; `Display` prints one message and never a cause chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A bundle file or directory could not be read.
    #[error("cannot read policy bundle path {path}: {message}")]
    Io {
        /// The path that could not be read.
        path: String,
        /// What the operating system said.
        message: String,
    },

    /// A bundle file path is not a clean relative path.
    #[error("policy bundle path {path:?} is not allowed: {problem}")]
    InvalidPath {
        /// The offending path.
        path: String,
        /// Why it is refused.
        problem: &'static str,
    },

    /// The same relative path was given twice.
    #[error("policy bundle file {path} is given more than once")]
    DuplicateFile {
        /// The duplicated path.
        path: String,
    },

    /// `.manifest` is missing or malformed.
    #[error("policy bundle manifest .manifest {problem}")]
    Manifest {
        /// What is wrong with it.
        problem: String,
    },

    /// A data file is not a JSON object, or conflicts with another data file.
    #[error("policy data file {file} {problem}")]
    Data {
        /// The data file.
        file: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A policy file does not parse as Rego v1.
    #[error("policy file {file} does not parse: {message}")]
    Parse {
        /// The policy file.
        file: String,
        /// The parser's message (with the offending line).
        message: String,
    },

    /// A policy calls a function that is neither a builtin regorus supports
    /// nor a function defined in the bundle, or calls a builtin with the
    /// wrong number of arguments.
    #[error("policy file {file}:{line}:{col}: call to {function}: {problem}")]
    UnsupportedCall {
        /// The policy file.
        file: String,
        /// 1-based line of the call.
        line: u32,
        /// 1-based column of the call.
        col: u32,
        /// The function name as written (after import aliases are resolved).
        function: String,
        /// What is wrong with the call.
        problem: String,
    },

    /// The policies parse but regorus refused to prepare them (for example
    /// an unsafe variable or a function defined with two arities).
    #[error("policy bundle does not compile: {message}")]
    Compile {
        /// regorus's message.
        message: String,
    },

    /// The bundle's `*_test.rego` tests did not all pass.
    #[error("policy tests failed: {} of {} failed ({})", .report.failed_count(), .report.results.len(), .report.failed_names().join(", "))]
    TestsFailed {
        /// The full report.
        report: TestReport,
    },

    /// The bundle's data breaks its own invariants
    /// (`data.concord.invariants.violations` is not empty).
    #[error("policy bundle data breaks {} invariant(s): {}", .violations.len(), .violations.join("; "))]
    Invariants {
        /// One message per violation, naming purposes, sources and fields.
        violations: Vec<String>,
    },

    /// The engine configuration is unusable.
    #[error("policy engine configuration is invalid: {problem}")]
    InvalidConfig {
        /// What is wrong.
        problem: &'static str,
    },

    /// The decision rule is not defined by the bundle, or is undefined for
    /// this input.
    #[error("policy rule {rule} is undefined for this request")]
    UndefinedDecision {
        /// The rule path, e.g. `data.concord.ingest.decision`.
        rule: String,
    },

    /// The decision rule produced something that is not a valid decision.
    #[error("policy rule {rule} produced an invalid decision: {problem}")]
    InvalidDecision {
        /// The rule path.
        rule: String,
        /// What is wrong with the value.
        problem: String,
    },

    /// Evaluation raised an error.
    #[error("policy rule {rule} failed to evaluate: {message}")]
    Evaluation {
        /// The rule path.
        rule: String,
        /// regorus's message (names the policy file and line).
        message: String,
    },

    /// Evaluation exceeded its time limit.
    #[error("policy rule {rule} exceeded its time limit of {limit:?}")]
    Timeout {
        /// The rule path.
        rule: String,
        /// The configured limit.
        limit: Duration,
    },
}

/// Turn a regorus error into a single trimmed message.
///
/// regorus returns `anyhow::Error`; this crate only formats it (and
/// downcasts it in place), so it does not name the type.
pub(crate) fn regorus_message(err: &impl std::fmt::Display) -> String {
    err.to_string().trim().to_owned()
}
