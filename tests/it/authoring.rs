//! The policy authoring kit through the real binary (issue 6): `amlaudit rules`, `amlaudit test`,
//! `amlaudit new-rule`, the worked example of docs/writing-rules.md, and how policy errors are
//! reported. Every test runs in its own temporary directory.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

use crate::support::{demo_tenant, repo};

use crate::support::amlaudit_in as amlaudit;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    #[track_caller]
    fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
    path
}

/// A user rule on registries with METADATA; `body` follows the imports.
fn user_rule(id: &str, package: &str, body: &str) -> String {
    format!(
        "# METADATA\n# title: {id} test rule\n# description: A rule written by a test.\n# custom:\n#   id: {id}\n#   severity: low\n#   resource_type: Microsoft.ContainerRegistry/registries\n#   remediation: Fix it.\npackage amlaudit.rules.{package}\n\nimport data.amlaudit.lib\nimport rego.v1\n\n{body}"
    )
}

#[derive(Deserialize)]
struct TestReport {
    results: Vec<TestCaseResult>,
    coverage: Option<CoverageReport>,
    summary: TestSummary,
}

#[derive(Deserialize)]
struct TestCaseResult {
    name: String,
    package: String,
    file: String,
    line: u32,
    outcome: String,
}

#[derive(Deserialize)]
struct CoverageReport {
    files: Vec<FileCoverage>,
    percent: f64,
}

#[derive(Deserialize)]
struct FileCoverage {
    path: String,
    not_covered: Vec<u32>,
    evaluated: bool,
}

#[derive(Deserialize)]
struct TestSummary {
    total: usize,
    passed: usize,
    failed: usize,
    errored: usize,
    below_threshold: bool,
}

fn findings(out_dir: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(out_dir.join("findings.json")).expect("findings.json");
    let report: Value = serde_json::from_str(&text).expect("JSON");
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (field("rule_id"), field("resource_name"), field("status"))
        })
        .collect()
}

/// Each result of a rule: its fix's verdict and whether every step is automatic.
fn fix_verdicts(out_dir: &Path, rule: &str) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(out_dir.join("findings.json")).expect("findings.json");
    let report: Value = serde_json::from_str(&text).expect("JSON");
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["rule_id"] == rule)
        .map(|r| {
            let steps = r["remediation"].as_array().expect("remediation");
            let automatic = !steps.is_empty() && steps.iter().all(|s| s["automatic"] == true);
            (
                r["fix"]["verified"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                automatic,
            )
        })
        .collect()
}

#[test]
fn bundled_policy_tests_pass_with_full_coverage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = run(amlaudit(dir.path()).args(["test", "--coverage", "--threshold", "100"]))
        .expect_code(0)
        .stdout;
    assert!(text.contains("Total: 100.00%"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");

    let json = run(amlaudit(dir.path()).args([
        "test",
        "--coverage",
        "--threshold",
        "100",
        "--format",
        "json",
    ]))
    .expect_code(0)
    .stdout;
    let report: TestReport = serde_json::from_str(&json).expect("JSON report");
    assert_eq!(report.summary.passed, report.summary.total);
    assert!(!report.summary.below_threshold);
    // Every rule file has tests of its own.
    for rule in 1..=7 {
        let prefix = format!("policies/aml00{rule}_");
        assert!(
            report.results.iter().any(|r| r.file.starts_with(&prefix)),
            "no tests for {prefix}"
        );
    }
    let coverage = report.coverage.expect("coverage");
    assert_eq!(coverage.percent, 100.0);
    assert_eq!(coverage.files.len(), 11);
    for file in &coverage.files {
        assert!(
            file.evaluated && file.not_covered.is_empty(),
            "{}: {:?}",
            file.path,
            file.not_covered
        );
    }
}

#[test]
fn a_failing_test_exits_1_naming_its_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mine/registry_test.rego",
        "package mine_test\n\nimport rego.v1\n\ntest_ok if true\n\ntest_wrong_status if {\n\tr := data.amlaudit.rules.acr_admin_user_disabled.result with input as {\"resource\": {\"name\": \"r\", \"properties\": {}}}\n\tr.status == \"fail\"\n}\n",
    );
    let out =
        run(amlaudit(dir.path()).args(["test", "--policy-dir", "mine", "--run", "mine_test"]))
            .expect_code(1);
    assert!(
        out.stdout.contains("data.mine_test.test_ok: PASS"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("data.mine_test.test_wrong_status: FAIL"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("mine/registry_test.rego:7: test_wrong_status is undefined"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("PASS: 1/2\nFAIL: 1/2"),
        "{}",
        out.stdout
    );

    let json = run(amlaudit(dir.path()).args([
        "test",
        "--policy-dir",
        "mine",
        "--run",
        "mine_test",
        "--format",
        "json",
    ]))
    .expect_code(1)
    .stdout;
    let report: TestReport = serde_json::from_str(&json).expect("JSON");
    let failed = report
        .results
        .iter()
        .find(|r| r.outcome == "fail")
        .expect("a failure");
    assert_eq!(
        (
            failed.name.as_str(),
            failed.package.as_str(),
            failed.file.as_str(),
            failed.line
        ),
        (
            "test_wrong_status",
            "mine_test",
            "mine/registry_test.rego",
            7
        )
    );
    assert_eq!((report.summary.failed, report.summary.errored), (1, 0));
}

#[test]
fn run_selects_tests_and_a_pattern_matching_nothing_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = run(amlaudit(dir.path()).args([
        "test",
        "--run",
        "acr_admin_user_disabled_test\\.test_pass",
        "--format",
        "json",
    ]))
    .expect_code(0)
    .stdout;
    let report: TestReport = serde_json::from_str(&json).expect("JSON");
    assert!(report.summary.total >= 3);
    assert!(
        report
            .results
            .iter()
            .all(|r| r.name.starts_with("test_pass")
                && r.package == "amlaudit.rules.acr_admin_user_disabled_test")
    );

    let out = run(amlaudit(dir.path()).args(["test", "--run", "no_such_test"])).expect_code(2);
    assert!(
        out.stderr.contains("no test matches --run `no_such_test`"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_untested_user_rule_falls_below_the_coverage_threshold() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mine/untested.rego",
        &user_rule(
            "CORP100",
            "untested",
            "result := {\"status\": \"pass\", \"message\": \"fine\"}\n",
        ),
    );
    let out =
        run(amlaudit(dir.path()).args(["test", "--policy-dir", "mine", "--threshold", "100"]))
            .expect_code(1);
    assert!(
        out.stdout.contains("mine/untested.rego")
            && out.stdout.contains("no test evaluates this file"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("is below the threshold 100%"),
        "{}",
        out.stdout
    );
    // Without a threshold the same run passes: coverage only reports.
    run(amlaudit(dir.path()).args(["test", "--policy-dir", "mine", "--coverage"])).expect_code(0);
}

#[test]
fn a_syntax_error_names_file_line_and_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mine/broken.rego",
        &user_rule(
            "CORP101",
            "broken",
            "result := {\"status\": \"pass\", \"message\": \"x\"} if {\n\tinput.id ==\n}\n",
        ),
    );
    std::fs::copy(demo_tenant(), dir.path().join("demo.json")).expect("copy");
    for args in [
        vec!["test", "--policy-dir", "mine"],
        vec!["scan", "--policy-dir", "mine", "--snapshot", "demo.json"],
        vec!["rules", "--policy-dir", "mine"],
    ] {
        let out = run(amlaudit(dir.path()).args(&args)).expect_code(2);
        assert!(
            out.stderr
                .contains("error: mine/broken.rego:16:1: cannot compile rule CORP101:"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(!dir.path().join("reports").exists(), "no report on errors");
}

#[test]
fn an_unknown_builtin_names_file_line_and_rule_before_any_evaluation() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The call sits on a path no input reaches; it is still reported.
    write(
        dir.path(),
        "mine/typo.rego",
        &user_rule(
            "CORP102",
            "typo",
            "result := {\"status\": \"pass\", \"message\": \"x\"}\n\nnever if {\n\tinput.never_set\n\tstrings.reverse_all(\"x\")\n}\n",
        ),
    );
    std::fs::copy(demo_tenant(), dir.path().join("demo.json")).expect("copy");
    for args in [
        vec!["test", "--policy-dir", "mine"],
        vec!["scan", "--policy-dir", "mine", "--snapshot", "demo.json"],
    ] {
        let out = run(amlaudit(dir.path()).args(&args)).expect_code(2);
        assert!(
            out.stderr.contains(
                "error: mine/typo.rego:18:5: rule CORP102 (`never`) calls unknown function `strings.reverse_all`"
            ),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_runtime_error_names_file_line_and_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mine/runtime.rego",
        &user_rule(
            "CORP103",
            "runtime",
            "result := {\"status\": \"pass\", \"message\": sprintf(\"%d\", [n])}\n\nn := to_number(input.name)\n",
        ),
    );
    write(
        dir.path(),
        "mine/runtime_test.rego",
        "package amlaudit.rules.runtime_test\n\nimport rego.v1\n\ntest_a_name_is_not_a_number if {\n\tdata.amlaudit.rules.runtime.result with input as {\"name\": \"mlacrprod\"}\n}\n",
    );
    std::fs::copy(demo_tenant(), dir.path().join("demo.json")).expect("copy");

    let out =
        run(amlaudit(dir.path()).args(["scan", "--policy-dir", "mine", "--snapshot", "demo.json"]))
            .expect_code(2);
    assert!(
        out.stderr
            .contains("error: mine/runtime.rego:16:21: rule CORP103 (mine/runtime.rego) failed on /subscriptions/"),
        "{}",
        out.stderr
    );

    let out =
        run(amlaudit(dir.path()).args(["test", "--policy-dir", "mine", "--run", "runtime_test"]))
            .expect_code(2);
    assert!(
        out.stdout
            .contains("data.amlaudit.rules.runtime_test.test_a_name_is_not_a_number: ERROR"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "mine/runtime_test.rego:5: test_a_name_is_not_a_number stopped with an error at mine/runtime.rego:16:21"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn rules_lists_bundled_and_user_rules_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mine/extra.rego",
        &user_rule(
            "CORP104",
            "extra",
            "result := {\"status\": \"pass\", \"message\": \"x\"}\n",
        ),
    );
    let table = run(amlaudit(dir.path()).args(["rules", "--policy-dir", "mine"]))
        .expect_code(0)
        .stdout;
    for id in ["AML001", "AML009", "CORP104", "mine/extra.rego", "10 rules"] {
        assert!(table.contains(id), "{id} missing from\n{table}");
    }

    let json =
        run(amlaudit(dir.path()).args(["rules", "--policy-dir", "mine", "--format", "json"]))
            .expect_code(0)
            .stdout;
    let rules: Vec<Value> = serde_json::from_str(&json).expect("JSON");
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "AML001", "AML002", "AML003", "AML004", "AML005", "AML006", "AML007", "AML008",
            "AML009", "CORP104"
        ]
    );
    let mine = &rules[9];
    assert_eq!(mine["bundled"], false);
    assert_eq!(mine["severity"], "low");
    assert_eq!(
        mine["resource_type"],
        "Microsoft.ContainerRegistry/registries"
    );
    assert_eq!(mine["package"], "amlaudit.rules.extra");

    run(amlaudit(dir.path()).args([
        "rules",
        "--policy-dir",
        "mine",
        "--format",
        "markdown",
        "--out-dir",
        "pages",
    ]))
    .expect_code(0);
    let index = std::fs::read_to_string(dir.path().join("pages/README.md")).expect("index");
    assert!(index.contains("| [CORP104](CORP104.md) |"), "{index}");
    let page = std::fs::read_to_string(dir.path().join("pages/CORP104.md")).expect("page");
    assert!(
        page.contains("# CORP104 `corp104`: CORP104 test rule"),
        "{page}"
    );
    // The bundled pages are the checked-in reference.
    let bundled = std::fs::read_to_string(dir.path().join("pages/AML001.md")).expect("page");
    let checked_in = std::fs::read_to_string(repo().join("docs/rules/AML001.md")).expect("docs");
    assert_eq!(bundled, checked_in);
}

#[test]
fn a_duplicate_id_names_both_files_and_missing_metadata_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "dup/copy.rego",
        &user_rule(
            "aml001",
            "copy",
            "result := {\"status\": \"pass\", \"message\": \"x\"}\n",
        ),
    );
    let out = run(amlaudit(dir.path()).args(["rules", "--policy-dir", "dup"])).expect_code(2);
    assert!(
        out.stderr.contains(
            "rule id aml001 is declared twice: in policies/aml001_acr_admin_user_disabled.rego and in dup/copy.rego"
        ),
        "{}",
        out.stderr
    );

    write(
        dir.path(),
        "bare/bare.rego",
        "package amlaudit.rules.bare\n\nimport rego.v1\n\nresult := {\"status\": \"pass\", \"message\": \"x\"}\n",
    );
    let out = run(amlaudit(dir.path()).args(["rules", "--policy-dir", "bare"])).expect_code(2);
    assert!(
        out.stderr.contains("bare/bare.rego: no `# METADATA` block"),
        "{}",
        out.stderr
    );
}

#[test]
fn new_rule_writes_a_skeleton_that_tests_lists_and_scans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(amlaudit(dir.path()).args([
        "new-rule",
        "CORP200",
        "--resource-type",
        "Microsoft.MachineLearningServices/workspaces/computes",
        "--dir",
        "mine",
        "--severity",
        "high",
    ]))
    .expect_code(0);
    assert!(
        out.stdout
            .contains("Wrote mine/corp200.rego and mine/corp200_test.rego"),
        "{}",
        out.stdout
    );

    let json = run(amlaudit(dir.path()).args([
        "test",
        "--policy-dir",
        "mine",
        "--run",
        "corp200",
        "--coverage",
        "--format",
        "json",
    ]))
    .expect_code(0)
    .stdout;
    let report: TestReport = serde_json::from_str(&json).expect("JSON");
    assert!(report.summary.total >= 4);
    assert_eq!(report.summary.passed, report.summary.total);
    let outcomes: Vec<&str> = report.results.iter().map(|r| r.name.as_str()).collect();
    assert!(outcomes.contains(&"test_pass_when_tagged"), "{outcomes:?}");
    assert!(
        outcomes.contains(&"test_fail_with_a_default_value_is_a_tag_edit"),
        "{outcomes:?}"
    );
    let mine = report
        .coverage
        .expect("coverage")
        .files
        .into_iter()
        .find(|f| f.path == "mine/corp200.rego")
        .expect("the new rule is covered");
    assert!(
        mine.evaluated && mine.not_covered.is_empty(),
        "{:?}",
        mine.not_covered
    );

    let table = run(amlaudit(dir.path()).args(["rules", "--policy-dir", "mine"]))
        .expect_code(0)
        .stdout;
    assert!(
        table.contains("CORP200") && table.contains("high"),
        "{table}"
    );

    std::fs::copy(demo_tenant(), dir.path().join("demo.json")).expect("copy");
    run(amlaudit(dir.path()).args([
        "scan",
        "--snapshot",
        "demo.json",
        "--policy-dir",
        "mine",
        "--out-dir",
        "out",
        "--quiet",
    ]))
    .expect_code(1);
    let mine: Vec<_> = findings(&dir.path().join("out"))
        .into_iter()
        .filter(|(rule, _, _)| rule == "CORP200")
        .collect();
    // Every compute of the demo tenant, none of which has an owner tag.
    assert_eq!(mine.len(), 19, "{mine:?}");
    assert!(
        mine.iter().all(|(_, _, status)| status == "fail"),
        "{mine:?}"
    );
    // Without a value to write, the fix is a manual step; with one, a tag edit the scan proves.
    assert_eq!(
        fix_verdicts(&dir.path().join("out"), "CORP200"),
        vec![("not_verified".to_string(), false); 19]
    );
    std::fs::write(
        dir.path().join("params.toml"),
        "x_corp200_tag_value = \"ml-platform\"\n",
    )
    .expect("params");
    run(amlaudit(dir.path()).args([
        "scan",
        "--snapshot",
        "demo.json",
        "--policy-dir",
        "mine",
        "--params",
        "params.toml",
        "--out-dir",
        "out-valued",
        "--quiet",
    ]))
    .expect_code(1);
    assert_eq!(
        fix_verdicts(&dir.path().join("out-valued"), "CORP200"),
        vec![("closes".to_string(), true); 19]
    );

    // It refuses to overwrite, and to reuse an id.
    let again = [
        "new-rule",
        "CORP200",
        "--resource-type",
        "Microsoft.ContainerRegistry/registries",
        "--dir",
        "mine",
    ];
    let out = run(amlaudit(dir.path()).args(again)).expect_code(2);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    let out = run(amlaudit(dir.path()).args([
        "new-rule",
        "aml001",
        "--resource-type",
        "Microsoft.ContainerRegistry/registries",
        "--dir",
        "other",
    ]))
    .expect_code(2);
    assert!(
        out.stderr.contains("already uses id aml001"),
        "{}",
        out.stderr
    );
    let out =
        run(amlaudit(dir.path()).args(["new-rule", "CORP201", "--resource-type", "registries"]))
            .expect_code(2);
    assert!(out.stderr.contains("is not an ARM type"), "{}", out.stderr);
}

#[test]
fn new_rule_without_dir_writes_into_policies_custom_and_never_into_a_repository_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A repository with the documentation's example rule in it, as amlaudit's own checkout has.
    std::fs::create_dir(dir.path().join(".git")).expect("mkdir .git");
    write(
        dir.path(),
        "docs/examples/rules/contoso001_compute_no_registry_push.rego",
        &std::fs::read_to_string(
            repo().join("docs/examples/rules/contoso001_compute_no_registry_push.rego"),
        )
        .expect("example rule"),
    );

    let refused = run(amlaudit(dir.path()).args([
        "new-rule",
        "CORP300",
        "--resource-type",
        "Microsoft.ContainerRegistry/registries",
        "--dir",
        ".",
    ]))
    .expect_code(2);
    assert!(
        refused.stderr.contains("is the root of a repository")
            && refused.stderr.contains("--dir policies/custom"),
        "{}",
        refused.stderr
    );
    assert!(!dir.path().join("corp300.rego").exists(), "nothing written");

    let out = run(amlaudit(dir.path()).args([
        "new-rule",
        "CORP300",
        "--resource-type",
        "Microsoft.ContainerRegistry/registries",
    ]))
    .expect_code(0);
    assert!(
        dir.path().join("policies/custom/corp300.rego").is_file()
            && dir
                .path()
                .join("policies/custom/corp300_test.rego")
                .is_file(),
        "{}",
        out.stdout
    );
    let next = "amlaudit rules --policy-dir policies/custom";
    assert!(out.stdout.contains(next), "{}", out.stdout);
    assert!(!out.stdout.contains("Note:"), "{}", out.stdout);

    // The next step it prints loads the new rule and not the documentation's example.
    let listed = run(amlaudit(dir.path()).args([
        "rules",
        "--policy-dir",
        "policies/custom",
        "--format",
        "json",
    ]))
    .expect_code(0)
    .stdout;
    assert!(listed.contains("CORP300"), "{listed}");
    assert!(!listed.contains("CONTOSO001"), "{listed}");

    // A directory that already holds rules is fine, but the next step says it loads them too.
    let out = run(amlaudit(dir.path()).args([
        "new-rule",
        "CORP301",
        "--resource-type",
        "Microsoft.ContainerRegistry/registries",
        "--dir",
        "docs",
    ]))
    .expect_code(0);
    assert!(
        out.stdout
            .contains("Note: --policy-dir docs also loads the 1 other .rego file(s)")
            && out
                .stdout
                .contains("contoso001_compute_no_registry_push.rego"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_worked_example_passes_its_tests_and_is_scanned() {
    let doc = std::fs::read_to_string(repo().join("docs/writing-rules.md")).expect("doc");
    let examples = repo().join("docs/examples");
    for file in [
        "rules/contoso001_compute_no_registry_push.rego",
        "rules/contoso001_compute_no_registry_push_test.rego",
        "params.toml",
    ] {
        let text = std::fs::read_to_string(examples.join(file)).expect("example file");
        assert!(
            doc.contains(&text),
            "docs/writing-rules.md must quote docs/examples/{file} verbatim"
        );
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let rules = examples.join("rules");
    let rules = rules.to_str().expect("utf-8 path");
    let json = run(amlaudit(dir.path()).args([
        "test",
        "--policy-dir",
        rules,
        "--run",
        "contoso",
        "--coverage",
        "--format",
        "json",
    ]))
    .expect_code(0)
    .stdout;
    let report: TestReport = serde_json::from_str(&json).expect("JSON");
    assert!(report.summary.total >= 7);
    let example = report
        .coverage
        .expect("coverage")
        .files
        .into_iter()
        .find(|f| f.path.ends_with("contoso001_compute_no_registry_push.rego"))
        .expect("covered");
    assert!(example.not_covered.is_empty(), "{:?}", example.not_covered);

    let params = examples.join("params.toml");
    run(amlaudit(dir.path()).args([
        "scan",
        "--snapshot",
        demo_tenant().to_str().expect("utf-8"),
        "--policy-dir",
        rules,
        "--params",
        params.to_str().expect("utf-8"),
        "--out-dir",
        "out",
        "--quiet",
    ]))
    .expect_code(1);
    let mut contoso: Vec<(String, String)> = findings(&dir.path().join("out"))
        .into_iter()
        .filter(|(rule, _, _)| rule == "CONTOSO001")
        .map(|(_, name, status)| (name, status))
        .collect();
    contoso.sort();
    let expected = [
        ("abac-acrpull-cluster", "pass"),
        ("abac-cluster", "pass"),
        ("build-cluster", "pass"),
        ("cpu-cluster", "pass"),
        ("dev-cluster", "pass"),
        ("dev-cluster-2", "pass"),
        ("dev-cluster-3", "unknown"),
        ("dev-cluster-4", "fail"),
        ("dev-cluster-5", "pass"),
        ("gpu-cluster", "pass"),
        ("legacy-cluster", "pass"),
        ("quarantined-cluster", "pass"),
        ("shared-cluster", "unknown"),
        ("train-cmk", "pass"),
        ("train-imported", "unknown"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    assert_eq!(contoso, expected);
    let csv = std::fs::read_to_string(dir.path().join("out/findings.csv")).expect("csv");
    assert!(
        csv.contains("\"CONTOSO001\"") && csv.contains("az role assignment delete --ids"),
        "the user rule is in the CSV report too"
    );
}
