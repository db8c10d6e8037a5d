//! The report formats read back: SARIF against the official schema, JUnit parsed, the Markdown
//! summary, file names, and what stdout shows.

use std::collections::HashSet;

use amlaudit::findings::Status;
use serde_json::Value;

use super::common::*;

/// Scans a copy of the demo tenant named `snapshot.json` in the scratch directory, so the SARIF
/// location is a relative path as it would be in a repository.
fn scan_demo(dir: &Dir, out_dir: &str, formats: &[&str]) -> std::process::Output {
    std::fs::copy(repo_file(DEMO), dir.path("snapshot.json")).unwrap();
    let mut args = vec!["scan", "--snapshot", "snapshot.json", "--out-dir", out_dir];
    for f in formats {
        args.extend(["--format", f]);
    }
    dir.run(&args)
}

#[test]
fn sarif_is_valid_and_shaped_for_github_code_scanning() {
    let dir = Dir::new();
    assert_exit(&scan_demo(&dir, "out", &["sarif"]), 1, "scan");
    let sarif: Value = serde_json::from_str(&dir.read("out/findings.sarif")).unwrap();

    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("tests/data/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );

    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    // The nine rules, and the companion rules of those with unknown results.
    assert_eq!(rules.len(), 9 + DEMO_RULES_WITH_UNKNOWNS);
    for rule in rules {
        let level = rule["defaultConfiguration"]["level"].as_str().unwrap();
        assert!(["error", "warning", "note"].contains(&level), "{rule}");
        if rule["id"].as_str().unwrap().ends_with("/unknown") {
            continue;
        }
        let score: f64 = rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.1..=10.0).contains(&score), "{rule}");
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        DEMO_FAILURES + DEMO_UNKNOWNS,
        "failures and unknowns"
    );
    let mut fingerprints = HashSet::new();
    for r in results {
        let rule_id = r["ruleId"].as_str().unwrap();
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], rule_id);
        assert!(
            r["level"].is_string() && r["message"]["text"].is_string(),
            "{r}"
        );
        let location = &r["locations"][0];
        assert_eq!(
            location["physicalLocation"]["artifactLocation"]["uri"],
            "snapshot.json"
        );
        assert!(location["physicalLocation"]["region"]["startLine"].as_u64() > Some(1));
        let logical = &location["logicalLocations"][0];
        assert_eq!(logical["kind"], "resource");
        assert!(
            logical["fullyQualifiedName"]
                .as_str()
                .unwrap()
                .starts_with("/subscriptions/")
        );
        let fp = r["partialFingerprints"]["amlauditFinding/v1"]
            .as_str()
            .unwrap();
        assert!(
            fingerprints.insert(fp.to_string()),
            "fingerprints are unique"
        );
    }

    // A second run over the same tenant with its ids spelt in another case keeps every
    // fingerprint: alerts keep their identity on GitHub.
    let recased = dir.demo_variant("recased.json", |s| {
        for r in s["resources"].as_array_mut().unwrap() {
            let id = r["id"]
                .as_str()
                .unwrap()
                .replace("resourceGroups", "RESOURCEGROUPS");
            r["id"] = Value::String(id);
        }
    });
    let again = dir.run(&[
        "scan",
        "--snapshot",
        recased.to_str().unwrap(),
        "--out-dir",
        "again",
        "--format",
        "sarif",
        "-q",
    ]);
    assert_exit(&again, 1, "second scan");
    let second: Value = serde_json::from_str(&dir.read("again/findings.sarif")).unwrap();
    let second: HashSet<String> = second["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["partialFingerprints"]["amlauditFinding/v1"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(second, fingerprints);
}

#[test]
fn junit_parses_back_with_one_uniquely_named_case_per_result() {
    let dir = Dir::new();
    assert_exit(&scan_demo(&dir, "out", &["junit"]), 1, "scan");
    let report = dir.report("out");
    let junit = quick_junit::Report::deserialize_from_str(&dir.read("out/findings.junit.xml"))
        .expect("JUnit XML parses");
    let cases: Vec<&quick_junit::TestCase> = junit
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .collect();
    assert_eq!(
        cases.len(),
        report.results.len(),
        "one case per (rule, resource)"
    );
    let names: HashSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "names are unique across the file");
    assert_eq!(junit.test_suites.len(), 9, "one suite per rule");

    let (mut failures, mut errors, mut skipped, mut passed) = (0, 0, 0, 0);
    for c in &cases {
        match &c.status {
            quick_junit::TestCaseStatus::NonSuccess {
                kind: quick_junit::NonSuccessKind::Failure,
                ..
            } => failures += 1,
            quick_junit::TestCaseStatus::NonSuccess {
                kind: quick_junit::NonSuccessKind::Error,
                ..
            } => errors += 1,
            quick_junit::TestCaseStatus::Skipped { .. } => skipped += 1,
            quick_junit::TestCaseStatus::Success { .. } => passed += 1,
        }
    }
    let s = &report.summary.by_status;
    assert_eq!(failures, s.fail);
    assert_eq!(errors, s.unknown);
    assert_eq!(skipped, s.not_applicable + s.exempt);
    assert_eq!(passed, s.pass);
    assert_eq!((junit.failures, junit.errors), (s.fail, s.unknown));
}

#[test]
fn markdown_has_totals_failures_and_their_fixes() {
    let dir = Dir::new();
    assert_exit(&scan_demo(&dir, "out", &["markdown"]), 1, "scan");
    let md = dir.read("out/summary.md");
    assert!(md.starts_with("## amlaudit: ❌ 15 failures\n"), "{md}");
    assert!(
        md.contains("| 15 | 9 | 23 | 66 | 0 | 113 |"),
        "totals: {md}"
    );
    let failures = md.split("### Failures").nth(1).unwrap();
    assert_eq!(failures.matches("\n#### ").count(), DEMO_FAILURES);
    assert!(failures.contains("```sh\n# Disable the admin user of registry `mlacrsandbox`\naz acr update --name mlacrsandbox"), "{failures}");
    assert!(
        failures.contains("✅ fix proven: closes the finding"),
        "{failures}"
    );
    assert!(
        failures.contains("# manual: replace the <placeholder>, then run it yourself"),
        "{failures}"
    );
}

#[test]
fn every_format_has_its_file_and_stdout_follows_the_formats() {
    let dir = Dir::new();
    let all = scan_demo(&dir, "out", &["sarif", "junit", "markdown", "script"]);
    assert_exit(&all, 1, "scan");
    for name in [
        "findings.json",
        "findings.csv",
        "findings.sarif",
        "findings.junit.xml",
        "summary.md",
        "remediation.sh",
    ] {
        assert!(dir.path("out").join(name).is_file(), "{name}");
    }
    // Formats without `table`: stdout carries the first of them.
    let sarif: Value = serde_json::from_slice(&all.stdout).expect("SARIF on stdout");
    assert_eq!(sarif["version"], "2.1.0");

    let json = scan_demo(&dir, "json", &["json"]);
    let report: amlaudit::report::Report =
        serde_json::from_slice(&json.stdout).expect("JSON report on stdout");
    assert_eq!(
        report
            .results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .count(),
        DEMO_FAILURES
    );

    let table = scan_demo(&dir, "table", &["markdown", "table"]);
    assert!(
        stdout(&table).contains("Reports written to table"),
        "{}",
        stdout(&table)
    );
    let default = scan_demo(&dir, "default", &[]);
    assert!(
        stdout(&default).contains("113 results: 15 fail"),
        "{}",
        stdout(&default)
    );
    assert!(
        !dir.path("default/findings.sarif").exists(),
        "only requested formats are written"
    );
}
