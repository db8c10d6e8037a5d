//! `amlaudit diff OLD NEW` on reports from two scans.

use amlaudit::findings::Status;
use amlaudit::report::diff::ReportDiff;
use serde_json::json;

use super::common::*;

#[test]
fn diff_names_fixed_new_and_changed_and_exits_1_on_new_failures() {
    let dir = Dir::new();
    let demo = repo_file(DEMO);
    assert_exit(
        &dir.run(&[
            "scan",
            "--snapshot",
            demo.to_str().unwrap(),
            "--out-dir",
            "old",
            "-q",
        ]),
        1,
        "old scan",
    );
    let changed = dir.demo_variant("changed.json", |s| {
        set_property(
            s,
            "/registries/mlacrsandbox",
            "adminUserEnabled",
            json!(false),
        );
        set_property(s, "/registries/mlacrprod", "adminUserEnabled", json!(true));
    });
    assert_exit(
        &dir.run(&[
            "scan",
            "--snapshot",
            changed.to_str().unwrap(),
            "--out-dir",
            "new",
            "-q",
        ]),
        1,
        "new scan",
    );

    let output = dir.run(&[
        "diff",
        "old/findings.json",
        "new/findings.json",
        "--format",
        "json",
    ]);
    assert_exit(&output, 1, "a new failure");
    let d: ReportDiff = serde_json::from_slice(&output.stdout).expect("diff JSON");
    let names = |changes: &[amlaudit::report::diff::Change]| {
        changes
            .iter()
            .map(|c| format!("{} {}", c.rule_id, c.resource_name))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&d.new_failures), vec!["AML001 mlacrprod"]);
    assert_eq!(names(&d.fixed), vec!["AML001 mlacrsandbox"]);
    assert_eq!(d.new_failures[0].before, Some(Status::Pass));
    assert_eq!(d.fixed[0].after, Some(Status::Pass));
    assert_eq!(
        (d.old.path.as_str(), d.new.path.as_str()),
        ("old/findings.json", "new/findings.json")
    );

    let table = dir.run(&["diff", "old/findings.json", "new/findings.json"]);
    assert_exit(&table, 1, "table");
    let text = stdout(&table);
    assert!(
        text.contains("New failures (1)") && text.contains("Fixed (1)"),
        "{text}"
    );
    assert!(text.contains("1 new failure(s), 1 fixed"), "{text}");
}

#[test]
fn diff_of_a_report_with_itself_is_clean() {
    let dir = Dir::new();
    assert_exit(
        &dir.run(&[
            "scan",
            "--snapshot",
            repo_file(DEMO).to_str().unwrap(),
            "--out-dir",
            "r",
            "-q",
        ]),
        1,
        "scan",
    );
    let output = dir.run(&["diff", "r/findings.json", "r/findings.json"]);
    assert_exit(&output, 0, "nothing changed");
    assert!(
        stdout(&output).contains("0 new failure(s), 0 fixed, 0 changed, 113 unchanged"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn diff_of_something_that_is_not_a_report_exits_2() {
    let dir = Dir::new();
    dir.write("a.json", "{\"amlaudit_report\": 1, \"results\": []}");
    dir.write("future.json", "{\"amlaudit_report\": 9}");
    let output = dir.run(&["diff", "a.json", "a.json"]);
    assert_exit(&output, 2, "not a report");
    assert!(
        stderr(&output).contains("a.json: not an amlaudit JSON report"),
        "{}",
        stderr(&output)
    );
    let output = dir.run(&["diff", "future.json", "future.json"]);
    assert_exit(&output, 2, "future version");
    assert!(
        stderr(&output).contains("future.json: report format 9 is not supported"),
        "{}",
        stderr(&output)
    );
    assert_exit(
        &dir.run(&["diff", "missing.json", "a.json"]),
        2,
        "missing file",
    );
}
