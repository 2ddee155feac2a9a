#![forbid(unsafe_code)]
//! Policy evaluation for Concord: every request to the broker is decided by
//! a Rego information-sharing policy, evaluated in-process by
//! [regorus](https://docs.rs/regorus). This crate does no network I/O; it
//! reads files only in [`Bundle::load_dir`].
//!
//! # Bundle layout
//!
//! A bundle is a directory (see `policies/` at the repository root):
//!
//! - `**/*.rego`: Rego v1 policies (`if` and `contains` required; v0 syntax
//!   is a load error).
//! - `**/*_test.rego`: policy unit tests. Every complete rule whose name
//!   starts with `test_` in a package defined by a test file must evaluate
//!   to `true` (OPA's convention). Tests are not part of the decision
//!   engine but count towards the digest.
//! - `data/**/*.json`: data documents. **Mount rule:** each file must hold a
//!   JSON object, and that object is deep-merged at the *root* of `data`
//!   (files in path order; the same path holding two different values is a
//!   load error). The file name plays no part, so `data/partnership.json`,
//!   whose object is `{"partnership": {...}}`, is read by policies as
//!   `data.partnership.organisations`.
//! - `.manifest`: JSON `{"revision": "..."}` (required, non-empty).
//!
//! Every other file (a README, say) and anything hidden (a path component
//! starting with `.`, except the root `.manifest`) is not part of the
//! bundle and is ignored by both [`Bundle::load_dir`] and
//! [`Bundle::from_files`].
//!
//! # Digest
//!
//! [`Bundle::digest`] is the hex SHA-256 of the prefix
//! `concord-policy-bundle-v1\n` followed, for every bundle file in
//! byte-wise path order, by the big-endian `u64` length of its relative
//! path (`/`-separated), the path, the big-endian `u64` length of its
//! content and the content. Any change to a policy, test, data file or the
//! manifest changes the digest; files outside the bundle do not.
//!
//! # Decision contract
//!
//! The input (one shape for every action, see [`PolicyInput`]):
//!
//! ```json
//! { "action": "ingest | lookup | aggregate | audit_read",
//!   "subject": {"org": "rbkc-childrens", "role": "mash_officer", "user": "u123"},
//!   "purpose": "safeguarding_children", "case_ref": "MASH-2026-0042",
//!   "resource": {"sources": ["police", "health"], "record_kinds": [], "fields": []},
//!   "time": "2026-11-22T10:00:00Z" }
//! ```
//!
//! `purpose`, `case_ref` and `reason` (a break-glass justification) are
//! absent (undefined in Rego) when not given.
//! The engine evaluates `data.concord.<action>.decision`, which must be an
//! object with a boolean `allow` and, when `allow` is false, a string
//! `reason`. Other keys are passed through in [`Decision::body`]. If the
//! rule is not declared or is undefined, the value is not such an object,
//! evaluation errors (builtin errors are strict), or it runs out of time,
//! [`PolicyEngine::decide`] returns `Err`: it never fails open.
//!
//! # How regorus is used
//!
//! - **Rego v1** is regorus's default; [`PolicyEngine`] also sets it
//!   explicitly (`Engine::set_rego_v0(false)`).
//! - **Unsupported builtins**: regorus parses a call to an unknown function
//!   without complaint and only fails ("could not find function") when
//!   evaluation reaches it. So at load every call in every module is
//!   checked statically against the functions the bundle defines and the
//!   builtins regorus registers (with this build's features), including the
//!   builtin's arity; a miss is [`PolicyError::UnsupportedCall`]. This uses
//!   regorus's `unstable` AST, confined to one module.
//! - **Prepared once**: policies and data are added to one template
//!   `regorus::Engine`, which is then prepared (analysed and scheduled).
//!   With the `arc` feature its state is reference-counted, so cloning the
//!   template copies pointers, not policies or data (about a microsecond in
//!   a debug build, whatever the bundle size). `Engine::eval_rule` needs
//!   `&mut self`, so decisions pop an engine from a pool (cloning the
//!   template when the pool is empty) and push it back afterwards.
//! - **Time limit**: regorus has a cooperative execution timer
//!   (`Engine::set_execution_timer_config`), checked between evaluation
//!   steps; [`EngineConfig::eval_timeout`] sets it and an overrun is
//!   [`PolicyError::Timeout`]. It cannot interrupt a single long builtin
//!   call, so the load-time scan refuses the builtins whose one call can
//!   run long (`numbers.range`, `numbers.range_step`), and decisions are
//!   evaluated inline on the caller's task (tens of microseconds: cheaper
//!   than a hop to a blocking pool).
//! - **The interpreter, as published**: decisions are evaluated by
//!   regorus's tree-walking interpreter (`Engine::eval_rule`), the
//!   evaluator regorus's own tests and the bundle's `*_test.rego` tests run
//!   on, with strict builtin errors: an error anywhere in a decision (a
//!   builtin's, a type error, a complete rule with two values) fails the
//!   decision, never just the body it is in. regorus's VM (RVM) is not
//!   used: in 0.14.1 it decided some rule shapes differently from the
//!   interpreter, some of them open (an error taken as a failed body).
//! - **Coverage**: [`run_tests`] enables regorus's line coverage and reports
//!   covered lines of each non-test policy file in [`TestReport`].
//!
//! # Reload
//!
//! [`PolicyEngine::reload`] compiles a new bundle and runs its tests beside
//! the one serving, then swaps it in under a lock held only for the pointer
//! swap. A decision clones the serving bundle's `Arc` when it starts and
//! runs on it to the end, so every [`Decision`] names the bundle that
//! actually decided; a bundle that does not load or fails a test is an
//! `Err` and changes nothing.
//!
//! # Retention
//!
//! [`PolicyEngine::retention_periods`] reads
//! `data.concord.retention.periods` (source name to `{"years": n}` or
//! `{"days": n}`) from the serving bundle, for the broker's purge task.

mod body;
mod bundle;
mod engine;
mod error;
mod input;
mod retention;
mod scan;
mod testing;

pub use body::{Body, Part};
pub use bundle::{Bundle, MANIFEST_FILE};
pub use engine::{BundleId, Decision, EngineConfig, PolicyEngine, ReloadOutcome};
pub use error::PolicyError;
pub use input::{Action, PolicyInput, Resource, Subject};
pub use retention::{RetentionPeriod, RetentionPeriods};
pub use testing::{FileCoverage, TestReport, TestResult, run_tests};
