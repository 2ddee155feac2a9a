//! Running a bundle's `*_test.rego` policy unit tests.

use std::fmt;
use std::time::Duration;

use regorus::Value;

use crate::bundle::{Bundle, FileKind};
use crate::engine::{build_engine, timer_config};
use crate::error::{PolicyError, regorus_message};
use crate::scan;

/// Time limit of one test rule, so a runaway test cannot hang a load.
const TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The outcome of one test rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// Package of the test, e.g. `concord.ingest_test`.
    pub package: String,
    /// Rule name, e.g. `test_police_may_push_police`.
    pub name: String,
    /// Whether the rule evaluated to `true`.
    pub passed: bool,
    /// Why it failed: evaluated to something else, undefined, or an error.
    pub error: Option<String>,
}

/// Line coverage of one non-test policy file over the whole test run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCoverage {
    /// Bundle path of the policy file.
    pub path: String,
    /// Lines with evaluable code that some test evaluated.
    pub covered: usize,
    /// Lines with evaluable code that no test evaluated. Both counts are 0
    /// if no test touched the file at all.
    pub not_covered: usize,
}

/// Results of [`run_tests`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// One entry per test rule, sorted by package and name.
    pub results: Vec<TestResult>,
    /// Line coverage of each non-test policy file, by path (from regorus's
    /// coverage report).
    pub coverage: Vec<FileCoverage>,
}

impl TestReport {
    /// Whether every test passed (vacuously true with no tests).
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    /// How many tests passed.
    pub fn passed_count(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }

    /// How many tests failed.
    pub fn failed_count(&self) -> usize {
        self.results.len() - self.passed_count()
    }

    /// `package.name` of each failed test.
    pub fn failed_names(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| format!("{}.{}", r.package, r.name))
            .collect()
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.results {
            match &result.error {
                None if result.passed => {
                    writeln!(f, "ok   {}.{}", result.package, result.name)?;
                }
                error => writeln!(
                    f,
                    "FAIL {}.{}: {}",
                    result.package,
                    result.name,
                    error.as_deref().unwrap_or("failed")
                )?,
            }
        }
        for file in &self.coverage {
            let total = file.covered + file.not_covered;
            if total == 0 {
                writeln!(f, "coverage {}: not evaluated by any test", file.path)?;
            } else {
                // Display only; precision loss is irrelevant.
                let percent = 100.0 * file.covered as f64 / total as f64;
                writeln!(
                    f,
                    "coverage {}: {}/{} lines ({percent:.1}%)",
                    file.path, file.covered, total
                )?;
            }
        }
        write!(
            f,
            "{} passed, {} failed",
            self.passed_count(),
            self.failed_count()
        )
    }
}

/// Run every `test_` rule of every package defined in a `*_test.rego` file
/// (OPA's convention: a test passes iff the rule evaluates to `true`).
///
/// The tests see the bundle's policies and data; each rule is evaluated on
/// its own with no input (tests supply input with `with input as ...`),
/// with a 5 s time limit. `Err` means the bundle could not be built at all
/// (a parse error, an unsupported call, bad data); failing tests are in the
/// report, not an `Err`.
pub fn run_tests(bundle: &Bundle) -> Result<TestReport, PolicyError> {
    let (mut engine, modules) = build_engine(bundle, true)?;
    engine.set_execution_timer_config(timer_config(TEST_TIMEOUT));
    engine.set_enable_coverage(true);

    let mut results = Vec::new();
    for test in scan::test_rules(&modules) {
        let outcome = engine.eval_rule(test.rule_path());
        let prints = engine.take_prints().unwrap_or_default();
        let mut error = match outcome {
            Ok(Value::Bool(true)) => None,
            Ok(Value::Undefined) => Some("undefined: a condition did not hold".to_owned()),
            Ok(other) => Some(format!("evaluated to {other} instead of true")),
            Err(err) => Some(regorus_message(&err)),
        };
        if let (Some(error), false) = (&mut error, prints.is_empty()) {
            error.push_str("\nprint output:\n");
            error.push_str(&prints.join("\n"));
        }
        results.push(TestResult {
            package: test.package,
            name: test.name,
            passed: error.is_none(),
            error,
        });
    }

    let report = engine
        .get_coverage_report()
        .map_err(|err| PolicyError::Compile {
            message: format!("coverage report failed: {}", regorus_message(&err)),
        })?;
    let coverage = bundle
        .files_of(FileKind::Policy)
        .map(|policy| {
            let file = report.files.iter().find(|file| file.path == policy.path);
            FileCoverage {
                path: policy.path.clone(),
                covered: file.map_or(0, |file| file.covered.len()),
                not_covered: file.map_or(0, |file| file.not_covered.len()),
            }
        })
        .collect();

    Ok(TestReport { results, coverage })
}
