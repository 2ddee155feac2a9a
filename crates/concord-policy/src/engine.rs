//! The decision engine: a bundle compiled once, evaluated many times.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{LimitError, Value};
use serde::Serialize;

use crate::body::Body;

use crate::bundle::{Bundle, FileKind};
use crate::error::{PolicyError, regorus_message};
use crate::input::{Action, PolicyInput};
use crate::retention::{RETENTION_RULE, RetentionPeriods};
use crate::scan::{self, ModuleRef};
use crate::testing::{TestReport, run_tests};

/// Work units between two clock reads of regorus's cooperative timer. A
/// clock read costs tens of nanoseconds; a simple decision is a few hundred
/// work units, so this keeps the timer's overhead well under a microsecond.
const TIMER_CHECK_INTERVAL: u32 = 16;

/// Most engines kept for reuse; more concurrent decisions than this clone
/// the template and drop the clone afterwards.
const MAX_POOLED_ENGINES: usize = 64;

/// How a [`PolicyEngine`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Wall-clock budget of one decision, enforced inside regorus by its
    /// cooperative execution timer (checked between evaluation steps).
    /// Default 250 ms.
    pub eval_timeout: Duration,
    /// Run the bundle's `*_test.rego` tests when the engine is built and
    /// refuse the bundle if any fails. Default `true`.
    pub run_tests_on_load: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            eval_timeout: Duration::from_millis(250),
            run_tests_on_load: true,
        }
    }
}

/// The outcome of one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Whether the request is allowed.
    pub allow: bool,
    /// Why it was refused (always `Some` when `allow` is false).
    pub reason: Option<String>,
    /// The whole decision object the policy produced, including any extra
    /// keys (`fields`, `obligations`, `agreement`, ...).
    pub body: Body,
    /// Digest of the bundle that decided, for the audit log.
    pub bundle_digest: String,
    /// Revision of the bundle that decided.
    pub bundle_revision: String,
}

/// Which bundle: its revision and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleId {
    /// The `revision` from `.manifest`.
    pub revision: String,
    /// The bundle digest (hex SHA-256).
    pub digest: String,
}

impl BundleId {
    fn of(bundle: &Bundle) -> BundleId {
        BundleId {
            revision: bundle.revision().to_owned(),
            digest: bundle.digest().to_owned(),
        }
    }
}

impl std::fmt::Display for BundleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "revision {} (digest {})", self.revision, self.digest)
    }
}

/// What [`PolicyEngine::reload`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new bundle compiled and passed its tests, and now decides.
    Swapped {
        /// The bundle that decided before.
        from: BundleId,
        /// The bundle that decides now.
        to: BundleId,
    },
    /// The bundle has the digest of the one already serving: nothing was
    /// compiled and nothing changed.
    Unchanged(BundleId),
}

/// A policy bundle compiled once into a template regorus engine, with a
/// pool of prepared copies for concurrent decisions; swappable at run time.
///
/// `PolicyEngine` is `Send + Sync`; share it behind an `Arc`.
/// [`PolicyEngine::reload`] compiles and tests a new bundle and swaps it in
/// atomically: a decision runs wholly on the bundle that was current when it
/// started (and reports that bundle's digest), and a bundle that fails to
/// load or whose tests fail never replaces the one serving.
pub struct PolicyEngine {
    config: EngineConfig,
    /// The bundle deciding now. Readers clone the `Arc` and let go of the
    /// lock at once, so a reload waits only for that clone, never for a
    /// decision.
    current: RwLock<Arc<Loaded>>,
    /// Serialises reloads, so two cannot interleave their swap.
    reloading: Mutex<()>,
}

/// One compiled bundle.
struct Loaded {
    bundle: Bundle,
    /// Policies and data added, analysed and prepared; never evaluated with
    /// request input. Cloning it is cheap (shared, reference-counted state).
    template: regorus::Engine,
    /// Engines ready for reuse.
    pool: Mutex<Vec<regorus::Engine>>,
    /// Whether `data.concord.<action>.decision` is declared, by
    /// [`Action::index`].
    declared: [bool; Action::ALL.len()],
    /// Whether `data.concord.retention.periods` is declared.
    declares_retention: bool,
    test_report: Option<TestReport>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loaded = self.loaded();
        f.debug_struct("PolicyEngine")
            .field("bundle", &loaded.bundle)
            .field("config", &self.config)
            .field("declared", &loaded.declared)
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    /// Compile `bundle` and check it: every policy parses as Rego v1, every
    /// data file is a JSON object that merges cleanly, every call names a
    /// builtin regorus supports or a function the bundle defines, the
    /// policies pass regorus's analysis, and (if
    /// [`EngineConfig::run_tests_on_load`]) every test passes.
    pub fn new(bundle: Bundle, config: EngineConfig) -> Result<PolicyEngine, PolicyError> {
        if config.eval_timeout.is_zero() {
            return Err(PolicyError::InvalidConfig {
                problem: "eval_timeout must be greater than zero",
            });
        }
        let loaded = Loaded::build(bundle, &config)?;
        Ok(PolicyEngine {
            config,
            current: RwLock::new(Arc::new(loaded)),
            reloading: Mutex::new(()),
        })
    }

    /// Replace the serving bundle with `bundle`, atomically, if it compiles
    /// and (with [`EngineConfig::run_tests_on_load`], the default) its tests
    /// pass: the same checks as [`PolicyEngine::new`]. On `Err` nothing
    /// changed and the last good bundle keeps deciding.
    ///
    /// Decisions already running finish on the bundle they started with;
    /// every decision that starts after the swap uses the new one. A bundle
    /// with the serving bundle's digest is [`ReloadOutcome::Unchanged`].
    /// CPU-bound (it runs the bundle's tests): async code calls it off the
    /// runtime's workers (tokio's `spawn_blocking`, say); this crate does
    /// not depend on a runtime.
    pub fn reload(&self, bundle: Bundle) -> Result<ReloadOutcome, PolicyError> {
        let _reloading = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let from = BundleId::of(&self.loaded().bundle);
        if from.digest == bundle.digest() {
            return Ok(ReloadOutcome::Unchanged(from));
        }
        let loaded = Arc::new(Loaded::build(bundle, &self.config)?);
        let to = BundleId::of(&loaded.bundle);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(ReloadOutcome::Swapped { from, to })
    }

    /// Decide one request by evaluating `data.concord.<action>.decision`
    /// with the bundle serving now.
    ///
    /// Synchronous and CPU-bound, tens of microseconds for the shipped
    /// policies: async code calls it on its own task, as a hand-off to
    /// tokio's blocking pool and back costs more than the decision (on the
    /// lookup path, decisions spread over the pool's threads cost about
    /// three times their CPU time on a warm worker; BENCHMARKS.md). Bounded
    /// by [`EngineConfig::eval_timeout`] through regorus's timer, which
    /// stops evaluation between steps; no single step runs long, because
    /// the bundle scan refuses the builtins whose one call can
    /// (`numbers.range`). Any failure is an `Err`, never an allow.
    pub fn decide(&self, input: &PolicyInput) -> Result<Decision, PolicyError> {
        self.loaded().decide(input, self.config.eval_timeout)
    }

    /// Digest of the bundle serving now.
    pub fn bundle_digest(&self) -> String {
        self.loaded().bundle.digest().to_owned()
    }

    /// Revision of the bundle serving now.
    pub fn bundle_revision(&self) -> String {
        self.loaded().bundle.revision().to_owned()
    }

    /// Revision and digest of the bundle serving now.
    pub fn bundle_id(&self) -> BundleId {
        BundleId::of(&self.loaded().bundle)
    }

    /// The bundle serving now.
    pub fn bundle(&self) -> Bundle {
        self.loaded().bundle.clone()
    }

    /// Whether the serving bundle declares a decision rule for `action`;
    /// decisions for other actions are [`PolicyError::UndefinedDecision`].
    pub fn defines(&self, action: Action) -> bool {
        self.loaded().declared[action.index()]
    }

    /// The serving bundle's test report from its load, if tests were run.
    pub fn test_report(&self) -> Option<TestReport> {
        self.loaded().test_report.clone()
    }

    /// The retention period of each source, from the serving bundle's
    /// `data.concord.retention.periods` (see [`RetentionPeriods`]).
    pub fn retention_periods(&self) -> Result<RetentionPeriods, PolicyError> {
        let loaded = self.loaded();
        if !loaded.declares_retention {
            return Err(PolicyError::UndefinedDecision {
                rule: RETENTION_RULE.to_owned(),
            });
        }
        let mut engine = loaded.checkout();
        let value =
            engine
                .eval_rule(RETENTION_RULE.to_owned())
                .map_err(|err| PolicyError::Evaluation {
                    rule: RETENTION_RULE.to_owned(),
                    message: regorus_message(&err),
                })?;
        loaded.checkin(engine);
        let json = serde_json::to_value(&value).map_err(|_| PolicyError::InvalidDecision {
            rule: RETENTION_RULE.to_owned(),
            problem: "it cannot be represented as JSON".to_owned(),
        })?;
        RetentionPeriods::from_json(&json, BundleId::of(&loaded.bundle))
    }

    fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Loaded {
    fn build(bundle: Bundle, config: &EngineConfig) -> Result<Loaded, PolicyError> {
        let (mut template, modules) = build_engine(&bundle, false)?;
        template.set_execution_timer_config(timer_config(config.eval_timeout));

        let rules = scan::declared_rules(&modules);
        let declared = Action::ALL.map(|action| rules.contains(action.decision_rule()));
        let declares_retention = rules.contains(RETENTION_RULE);
        if rules.contains(INVARIANTS_RULE) {
            check_invariants(&template)?;
        }

        let test_report = if config.run_tests_on_load {
            let report = run_tests(&bundle)?;
            if !report.passed() {
                return Err(PolicyError::TestsFailed { report });
            }
            Some(report)
        } else {
            None
        };

        tracing::info!(
            revision = bundle.revision(),
            digest = bundle.digest(),
            policies = bundle.files_of(FileKind::Policy).count(),
            tests = test_report.as_ref().map(|r| r.results.len()),
            "policy bundle loaded"
        );
        Ok(Loaded {
            bundle,
            template,
            pool: Mutex::new(Vec::new()),
            declared,
            declares_retention,
            test_report,
        })
    }

    fn decide(&self, input: &PolicyInput, limit: Duration) -> Result<Decision, PolicyError> {
        let rule = input.action.decision_rule();
        if !self.declared[input.action.index()] {
            return Err(PolicyError::UndefinedDecision {
                rule: rule.to_owned(),
            });
        }
        let mut engine = self.checkout();
        engine.set_input(input.to_value());
        let outcome = engine.eval_rule(rule.to_owned());
        let value = match outcome {
            Ok(value) => {
                self.checkin(engine);
                value
            }
            Err(err) => {
                // Drop the engine: it is cheap to clone another and this one
                // stopped part-way.
                return Err(match err.downcast_ref::<LimitError>() {
                    Some(LimitError::TimeLimitExceeded { .. }) => PolicyError::Timeout {
                        rule: rule.to_owned(),
                        limit,
                    },
                    _ => PolicyError::Evaluation {
                        rule: rule.to_owned(),
                        message: regorus_message(&err),
                    },
                });
            }
        };
        self.interpret(rule, &value)
    }

    fn checkout(&self) -> regorus::Engine {
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        pooled.unwrap_or_else(|| self.template.clone())
    }

    fn checkin(&self, mut engine: regorus::Engine) {
        // Do not keep the last request's identifiers or print output around.
        engine.set_input(Value::Undefined);
        let _ = engine.take_prints();
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < MAX_POOLED_ENGINES {
            pool.push(engine);
        }
    }

    fn interpret(&self, rule: &str, value: &Value) -> Result<Decision, PolicyError> {
        let invalid = |problem: &str| PolicyError::InvalidDecision {
            rule: rule.to_owned(),
            problem: problem.to_owned(),
        };
        if *value == Value::Undefined {
            return Err(PolicyError::UndefinedDecision {
                rule: rule.to_owned(),
            });
        }
        if !matches!(value, Value::Object(_)) {
            return Err(invalid("it is not an object"));
        }
        let body = Body::new(value.clone());
        let allow = match body.get("allow") {
            Some(v) => v
                .as_bool()
                .ok_or_else(|| invalid("`allow` is not a boolean"))?,
            None => return Err(invalid("`allow` is missing")),
        };
        let reason = match body.get("reason") {
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| invalid("`reason` is not a string"))?
                    .to_owned(),
            ),
            None if !allow => return Err(invalid("a refusal has no `reason`")),
            None => None,
        };
        Ok(Decision {
            allow,
            reason,
            body,
            bundle_digest: self.bundle.digest().to_owned(),
            bundle_revision: self.bundle.revision().to_owned(),
        })
    }
}

/// The rule listing what is wrong with the bundle's own data: a set of
/// messages, which must be empty for the bundle to load.
const INVARIANTS_RULE: &str = "data.concord.invariants.violations";

/// Time limit of the invariants check, as for one policy test.
const INVARIANTS_TIMEOUT: Duration = Duration::from_secs(5);

/// Evaluate [`INVARIANTS_RULE`] once, without input, and refuse the bundle
/// if it names any violation. Runs whether or not the tests do.
fn check_invariants(template: &regorus::Engine) -> Result<(), PolicyError> {
    let mut engine = template.clone();
    // Load-time work over the whole agreement, not a request: the decision
    // budget does not apply (a busy machine can take longer than it).
    engine.set_execution_timer_config(timer_config(INVARIANTS_TIMEOUT));
    let started = std::time::Instant::now();
    let value = engine
        .eval_rule(INVARIANTS_RULE.to_owned())
        .map_err(|err| PolicyError::Evaluation {
            rule: INVARIANTS_RULE.to_owned(),
            message: regorus_message(&err),
        })?;
    let violations = match &value {
        Value::Undefined => Vec::new(),
        Value::Set(set) => set
            .iter()
            .map(|v| match v {
                Value::String(s) => s.to_string(),
                other => other.to_string(),
            })
            .collect(),
        _ => {
            return Err(PolicyError::InvalidDecision {
                rule: INVARIANTS_RULE.to_owned(),
                problem: "it is not a set of messages".to_owned(),
            });
        }
    };
    tracing::debug!(elapsed = ?started.elapsed(), "policy invariants checked");
    if violations.is_empty() {
        Ok(())
    } else {
        Err(PolicyError::Invariants { violations })
    }
}

pub(crate) fn timer_config(limit: Duration) -> ExecutionTimerConfig {
    ExecutionTimerConfig {
        limit,
        check_interval: NonZeroU32::new(TIMER_CHECK_INTERVAL).unwrap_or(NonZeroU32::MIN),
    }
}

/// Build a regorus engine from a bundle's policies (and tests, if asked)
/// and data, check its calls and prepare it, so that errors surface here
/// and clones start prepared.
pub(crate) fn build_engine(
    bundle: &Bundle,
    with_tests: bool,
) -> Result<(regorus::Engine, Vec<ModuleRef>), PolicyError> {
    let mut engine = regorus::Engine::new();
    // Rego v1 is regorus's default; say so rather than rely on it.
    engine.set_rego_v0(false);
    // Builtin errors (e.g. a type error) are errors, not undefined: a
    // decision that hits one fails closed instead of silently skipping.
    engine.set_strict_builtin_errors(true);
    // Keep print() output off stderr: it may echo request input.
    engine.set_gather_prints(true);

    for file in bundle
        .files_of(FileKind::Policy)
        .chain(bundle.files_of(FileKind::Test).filter(|_| with_tests))
    {
        engine
            .add_policy(file.path.clone(), file.content.clone())
            .map_err(|err| PolicyError::Parse {
                file: file.path.clone(),
                message: regorus_message(&err),
            })?;
    }
    for file in bundle.files_of(FileKind::Data) {
        let data_error = |problem: String| PolicyError::Data {
            file: file.path.clone(),
            problem,
        };
        let value = Value::from_json_str(&file.content)
            .map_err(|err| data_error(format!("is not valid JSON: {}", regorus_message(&err))))?;
        if value.as_object().is_err() {
            return Err(data_error("is not a JSON object".to_owned()));
        }
        engine.add_data(value).map_err(|err| {
            data_error(format!(
                "conflicts with data already loaded: {}",
                regorus_message(&err)
            ))
        })?;
    }

    let modules = engine.get_modules().clone();
    scan::check_calls(&modules)?;

    // Any evaluation prepares the engine (analysis, scheduling); a constant
    // query does nothing else.
    engine
        .eval_query("true".to_owned(), false)
        .map_err(|err| PolicyError::Compile {
            message: regorus_message(&err),
        })?;
    Ok((engine, modules))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_engine_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PolicyEngine>();
    }
}
