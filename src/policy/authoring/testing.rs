//! Policy unit tests, run the way `opa test` runs them, with line coverage from regorus.
//!
//! A test is a rule named `test_*` (not a function) in a `*_test.rego` file; it passes when it
//! evaluates to `true`. Tests see the bundled and user modules, the default parameters in
//! `data.amlaudit.params`, and the real host builtins backed by an empty permission index, so an
//! unmocked `amlaudit.access` answers `unknown` rather than something a test could come to rely
//! on. Tests replace inputs, data and the `data.amlaudit.lib.access` wrappers with `with`.
//!
//! Coverage is regorus's: the lines of every policy (non-test) file, split into those some test
//! evaluated and those none did. A file no test touched at all is absent from regorus's report,
//! so its lines are obtained by evaluating its rules once in a throwaway engine and reported as
//! not covered.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::Regex;
use regorus::Engine;
use regorus::unstable::{Expr, Rule, RuleHead};
use serde::Serialize;

use crate::inventory::{Inventory, Snapshot};
use crate::permissions::PermissionIndex;
use crate::policy::{Params, PolicyError, PolicySet, bundled, location};

/// What to run and whether to measure coverage.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// Only tests whose full name (`data.<package>.<test>`) matches.
    pub filter: Option<Regex>,
    pub coverage: bool,
}

/// One test rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestCase {
    /// The rule name, `test_...`.
    pub name: String,
    /// The package, without `data.`.
    pub package: String,
    pub file: String,
    /// Where the (first) definition of the test starts.
    pub line: u32,
}

impl TestCase {
    /// `data.<package>.<name>`, as `--run` matches and reports show it.
    pub fn full_name(&self) -> String {
        format!("data.{}.{}", self.package, self.name)
    }
}

/// How a test ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Pass,
    /// The test was undefined (some expression in its body did not hold) or not `true`.
    Fail {
        value: Option<String>,
    },
    /// Evaluation stopped with an error; `at` is where regorus says it happened.
    Error {
        at: String,
        message: String,
    },
}

/// One test and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    #[serde(flatten)]
    pub case: TestCase,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    /// What the test printed with `print(...)`, each line prefixed with `file:line:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// Coverage of one policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCoverage {
    pub path: String,
    pub covered: BTreeSet<u32>,
    pub not_covered: BTreeSet<u32>,
    /// False when no test evaluated anything in this file.
    pub evaluated: bool,
}

impl FileCoverage {
    pub fn lines(&self) -> usize {
        self.covered.len() + self.not_covered.len()
    }

    /// Covered lines as a percentage; a file without evaluable lines counts as fully covered.
    pub fn percent(&self) -> f64 {
        percent(self.covered.len(), self.lines())
    }
}

/// Coverage of every policy file, in load order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub files: Vec<FileCoverage>,
    pub covered_lines: usize,
    pub total_lines: usize,
    pub percent: f64,
}

fn percent(covered: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        covered as f64 * 100.0 / total as f64
    }
}

/// Every test that ran, and coverage when it was asked for.
#[derive(Debug, Clone, Serialize)]
pub struct TestRun {
    pub results: Vec<TestResult>,
    pub coverage: Option<Coverage>,
}

impl TestRun {
    pub fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|r| pred(&r.outcome)).count()
    }

    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Pass))
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Fail { .. }))
    }

    pub fn errored(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Error { .. }))
    }
}

/// The engine tests run in: every module and test file, default parameters, and the host
/// builtins answering from an empty permission index.
pub fn test_engine(set: &PolicySet) -> Result<Engine, PolicyError> {
    let empty = Inventory::new(Snapshot::new(None, "AzureCloud"));
    set.engine(
        Arc::new(PermissionIndex::new(&empty)),
        &Params::default(),
        true,
    )
}

/// Every `test_*` rule of the test files, in file order and then line order.
pub fn discover(engine: &mut Engine, set: &PolicySet) -> Vec<TestCase> {
    let mut cases: Vec<TestCase> = Vec::new();
    // regorus exposes parsed modules only through its unstable AST; a test is any non-function
    // rule whose name starts with `test_`, as in OPA.
    for module in engine.get_modules().iter() {
        let file = module.package.span.source.get_path().to_string();
        if !set.tests.iter().any(|t| t.path == file) {
            continue;
        }
        let package = module.package.refr.span().text().to_string();
        for rule in &module.policy {
            let Rule::Spec { head, span, .. } = rule.as_ref() else {
                continue;
            };
            let refr = match head {
                RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => refr,
                RuleHead::Func { .. } => continue,
            };
            let Expr::Var { span: name, .. } = refr.as_ref() else {
                continue;
            };
            let name = name.text();
            let duplicate = cases.iter().any(|c| c.package == package && c.name == name);
            if name.starts_with("test_") && !duplicate {
                cases.push(TestCase {
                    name: name.to_string(),
                    package: package.clone(),
                    file: file.clone(),
                    line: span.line,
                });
            }
        }
    }
    let order = |file: &str| set.tests.iter().position(|t| t.path == file);
    cases.sort_by(|a, b| {
        order(&a.file)
            .cmp(&order(&b.file))
            .then(a.line.cmp(&b.line))
    });
    cases
}

/// Runs the tests of a policy set.
pub fn run(set: &PolicySet, options: &TestOptions) -> Result<TestRun, PolicyError> {
    let mut engine = test_engine(set)?;
    let cases: Vec<TestCase> = discover(&mut engine, set)
        .into_iter()
        .filter(|c| {
            options
                .filter
                .as_ref()
                .is_none_or(|re| re.is_match(&c.full_name()))
        })
        .collect();
    engine.set_enable_coverage(options.coverage);
    // Kept per test rather than written to stderr, so a failing test shows what it printed.
    engine.set_gather_prints(true);
    let mut results = Vec::with_capacity(cases.len());
    for case in cases {
        let start = Instant::now();
        let outcome = match engine.eval_rule(case.full_name()) {
            Ok(regorus::Value::Bool(true)) => Outcome::Pass,
            Ok(regorus::Value::Undefined) => Outcome::Fail { value: None },
            Ok(other) => Outcome::Fail {
                value: Some(other.to_string()),
            },
            Err(e) => {
                let message = format!("{e:#}").trim_start().to_string();
                Outcome::Error {
                    at: location(&message)
                        .unwrap_or_else(|| format!("{}:{}", case.file, case.line)),
                    message,
                }
            }
        };
        let duration = start.elapsed();
        results.push(TestResult {
            case,
            outcome,
            duration,
            output: engine.take_prints().unwrap_or_default(),
        });
    }
    let coverage = if options.coverage {
        Some(coverage(&engine, set)?)
    } else {
        None
    };
    Ok(TestRun { results, coverage })
}

/// Coverage of every policy file of the set, from what the tests evaluated in `engine`.
fn coverage(engine: &Engine, set: &PolicySet) -> Result<Coverage, PolicyError> {
    let engine_error = |e: anyhow::Error| PolicyError::Engine(format!("coverage: {e:#}"));
    let mut report = engine.get_coverage_report().map_err(engine_error)?;
    let mut files = Vec::new();
    for module in set
        .modules
        .iter()
        .filter(|m| !bundled::is_test_file(&m.path))
    {
        let found = report.files.iter().position(|f| f.path == module.path);
        let file = match found {
            Some(i) => {
                let f = report.files.swap_remove(i);
                FileCoverage {
                    path: module.path.clone(),
                    covered: f.covered,
                    not_covered: f.not_covered,
                    evaluated: true,
                }
            }
            None => FileCoverage {
                path: module.path.clone(),
                covered: BTreeSet::new(),
                not_covered: evaluable_lines(engine, &module.path).map_err(engine_error)?,
                evaluated: false,
            },
        };
        files.push(file);
    }
    let covered_lines = files.iter().map(|f| f.covered.len()).sum();
    let total_lines = files.iter().map(FileCoverage::lines).sum();
    Ok(Coverage {
        files,
        covered_lines,
        total_lines,
        percent: percent(covered_lines, total_lines),
    })
}

/// The lines regorus counts for a file no test touched. Evaluating any of its rules makes
/// regorus report every evaluable line of the file (covered or not); a file of functions alone
/// cannot be evaluated without arguments, so its rules' first lines stand in for it.
fn evaluable_lines(engine: &Engine, path: &str) -> anyhow::Result<BTreeSet<u32>> {
    let mut probe = engine.clone();
    probe.set_enable_coverage(true);
    probe.clear_coverage_data();
    let mut rules = Vec::new();
    let mut first_lines = BTreeSet::new();
    for module in probe.get_modules().iter() {
        if module.package.span.source.get_path() != path {
            continue;
        }
        let package = module.package.refr.span().text().to_string();
        for rule in &module.policy {
            first_lines.insert(rule.span().line);
            if let Rule::Spec {
                head: RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. },
                ..
            } = rule.as_ref()
            {
                rules.push(format!("data.{package}.{}", refr.span().text()));
            }
        }
    }
    for rule in rules {
        // Errors and undefined results are expected without input; only the lines matter.
        let _ = probe.eval_rule(rule);
        let report = probe.get_coverage_report()?;
        if let Some(f) = report.files.into_iter().find(|f| f.path == path) {
            return Ok(f.covered.union(&f.not_covered).copied().collect());
        }
    }
    Ok(first_lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySource;

    fn set_with(files: &[(&str, &str)]) -> PolicySet {
        let mut sources = PolicySource::bundled();
        sources.extend(files.iter().map(|(path, text)| PolicySource {
            path: (*path).to_string(),
            text: (*text).to_string(),
            bundled: false,
        }));
        PolicySet::from_sources(sources).expect("policies load")
    }

    /// The quality bar of the bundled policies: every test passes and every line is covered.
    #[test]
    fn bundled_tests_pass_with_full_coverage() {
        let set = PolicySet::load(&[]).expect("bundled policies load");
        let options = TestOptions {
            filter: None,
            coverage: true,
        };
        let run = run(&set, &options).expect("tests run");
        let failures: Vec<String> = run
            .results
            .iter()
            .filter(|r| r.outcome != Outcome::Pass)
            .map(|r| format!("{}:{} {:?}", r.case.file, r.case.line, r.outcome))
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
        assert!(run.results.len() >= 70, "{} tests", run.results.len());
        let coverage = run.coverage.expect("coverage was asked for");
        let gaps: Vec<String> = coverage
            .files
            .iter()
            .filter(|f| !f.not_covered.is_empty() || !f.evaluated)
            .map(|f| format!("{}: {:?}", f.path, f.not_covered))
            .collect();
        assert!(gaps.is_empty(), "uncovered lines: {gaps:#?}");
        assert_eq!(coverage.percent, 100.0);
        assert_eq!(
            coverage.files.len(),
            11,
            "the library, its fix helpers and nine rules"
        );
    }

    #[test]
    fn discovers_test_rules_but_not_functions_and_reports_untested_files() {
        let lib = "package corp.lib\n\nimport rego.v1\n\nlimit := 3\n\nover(n) if n > limit\n";
        let tests = "package corp.lib_test\n\nimport rego.v1\n\ntest_over if data.corp.lib.over(4)\n\ntest_helper(x) := x\n\ntest_over if data.corp.lib.over(5)\n\nnot_a_test := true\n";
        let set = set_with(&[("u/lib.rego", lib), ("u/lib_test.rego", tests)]);
        let mut engine = test_engine(&set).expect("engine");
        let cases: Vec<String> = discover(&mut engine, &set)
            .into_iter()
            .filter(|c| c.file == "u/lib_test.rego")
            .map(|c| format!("{}:{}", c.full_name(), c.line))
            .collect();
        assert_eq!(cases, ["data.corp.lib_test.test_over:5"]);

        let options = TestOptions {
            filter: Some(Regex::new("^data\\.corp\\.").expect("regex")),
            coverage: true,
        };
        let run = run(&set, &options).expect("run");
        assert_eq!((run.passed(), run.failed(), run.errored()), (1, 0, 0));
        let coverage = run.coverage.expect("coverage");
        let file = |path: &str| coverage.files.iter().find(|f| f.path == path).expect(path);
        assert!(file("u/lib.rego").evaluated);
        assert_eq!(file("u/lib.rego").percent(), 100.0);
        // No bundled test ran, so the bundled files count as evaluable lines nobody covered.
        let untested = file("policies/aml001_acr_admin_user_disabled.rego");
        assert!(!untested.evaluated && untested.covered.is_empty());
        assert!(!untested.not_covered.is_empty());
        assert!(coverage.percent < 10.0, "{}", coverage.percent);
    }

    #[test]
    fn failures_and_errors_keep_their_place() {
        let tests = "package t_test\n\nimport rego.v1\n\ntest_false if {\n\tprint(\"seen\")\n\tfalse\n}\n\ntest_error if data.amlaudit.lib.access(\"p\", null, \"a\")\n\ntest_value := 2\n";
        let set = set_with(&[("u/t_test.rego", tests)]);
        let options = TestOptions {
            filter: Some(Regex::new("t_test").expect("regex")),
            coverage: false,
        };
        let run = run(&set, &options).expect("run");
        let by_name = |name: &str| {
            run.results
                .iter()
                .find(|r| r.case.name == name)
                .expect(name)
        };
        let false_test = by_name("test_false");
        assert_eq!(false_test.outcome, Outcome::Fail { value: None });
        assert_eq!(false_test.case.line, 5);
        assert_eq!(false_test.output, ["u/t_test.rego:6: seen"]);
        assert!(matches!(
            &by_name("test_error").outcome,
            Outcome::Error { at, message }
                if at.starts_with("policies/lib/amlaudit.rego:") && message.contains("non-empty strings")
        ));
        assert_eq!(
            by_name("test_value").outcome,
            Outcome::Fail {
                value: Some("2".to_string())
            }
        );
        assert!(run.coverage.is_none());
    }
}
