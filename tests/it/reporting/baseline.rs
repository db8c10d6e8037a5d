//! `--create-baseline` and `--baseline`: a round trip, then a tenant where one baselined
//! failure was fixed and a new one appeared.

use serde_json::{Value, json};

use super::common::*;

const SANDBOX_ACR: &str = "mlacrsandbox";
const PROD_ACR: &str = "mlacrprod";

#[test]
fn baseline_round_trip() {
    let dir = Dir::new();
    let demo = repo_file(DEMO);
    let demo = demo.to_str().unwrap();
    let created = dir.run(&[
        "scan",
        "--snapshot",
        demo,
        "--out-dir",
        "first",
        "--create-baseline",
        "baseline.json",
        "-q",
    ]);
    assert_exit(&created, 1, "creating a baseline does not change the gate");

    let file: Value = serde_json::from_str(&dir.read("baseline.json")).unwrap();
    assert_eq!(file["amlaudit_baseline"], 1);
    let entries = file["entries"].as_array().unwrap();
    assert_eq!(entries.len(), DEMO_FAILURES);
    for e in entries {
        let id = e["resource_id"].as_str().unwrap();
        assert_eq!(id, id.to_lowercase(), "resource ids are normalised");
    }
    let mut sorted = entries.clone();
    sorted.sort_by_key(|e| (e["rule_id"].to_string(), e["resource_id"].to_string()));
    assert_eq!(
        &sorted, entries,
        "entries are sorted, so the file diffs well"
    );

    // Against its own baseline, nothing is new: only the unknown results keep the scan from clean.
    let again = dir.run(&[
        "scan",
        "--snapshot",
        demo,
        "--out-dir",
        "second",
        "--baseline",
        "baseline.json",
        "-q",
    ]);
    assert_exit(&again, 3, "every failure baselined, unknowns remain");
    let allowed = dir.run(&[
        "scan",
        "--snapshot",
        demo,
        "--out-dir",
        "third",
        "--baseline",
        "baseline.json",
        "--allow-unknown",
        "-q",
    ]);
    assert_exit(&allowed, 0, "every failure baselined, unknowns allowed");

    let report = dir.report("second");
    let section = report.baseline.as_ref().unwrap();
    assert_eq!((section.new, section.baselined), (0, DEMO_FAILURES));
    assert!(section.fixed.is_empty());
    assert!(
        report
            .results
            .iter()
            .filter(|r| r.status == amlaudit::findings::Status::Fail)
            .all(|r| r.baseline.map(|b| b.as_str()) == Some("baselined"))
    );
    assert!(
        report
            .results
            .iter()
            .filter(|r| r.status != amlaudit::findings::Status::Fail)
            .all(|r| r.baseline.is_none())
    );
}

#[test]
fn a_new_failure_fails_the_gate_and_a_fixed_one_is_listed() {
    let dir = Dir::new();
    let demo = repo_file(DEMO);
    let created = dir.run(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--out-dir",
        "first",
        "--create-baseline",
        "baseline.json",
        "--no-fail",
        "-q",
    ]);
    assert_exit(&created, 0, "--no-fail");

    // The sandbox registry's admin user was disabled; the production one's was enabled.
    let changed = dir.demo_variant("changed.json", |s| {
        set_property(
            s,
            "/registries/mlacrsandbox",
            "adminUserEnabled",
            json!(false),
        );
        set_property(s, "/registries/mlacrprod", "adminUserEnabled", json!(true));
    });
    let output = dir.run(&[
        "scan",
        "--snapshot",
        changed.to_str().unwrap(),
        "--out-dir",
        "after",
        "--baseline",
        "baseline.json",
        "--allow-unknown",
        "--format",
        "sarif",
        "--format",
        "markdown",
        "--format",
        "table",
    ]);
    assert_exit(&output, 1, "a failure that is not in the baseline");
    assert!(
        stdout(&output).contains("Baseline (baseline.json): 1 new failure(s)"),
        "{}",
        stdout(&output)
    );

    let report = dir.report("after");
    let prod = report
        .results
        .iter()
        .find(|r| r.rule_id == "AML001" && r.resource_name == PROD_ACR)
        .unwrap();
    assert_eq!(prod.baseline.map(|b| b.as_str()), Some("new"));
    let section = report.baseline.unwrap();
    assert_eq!((section.new, section.baselined), (1, DEMO_FAILURES - 1));
    assert_eq!(section.fixed.len(), 1);
    assert!(section.fixed[0].resource_id.ends_with(SANDBOX_ACR));
    assert_eq!(section.fixed[0].status, "pass");

    let sarif: Value = serde_json::from_str(&dir.read("after/findings.sarif")).unwrap();
    let states: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        // Failures carry a baseline state; unknowns are not failures and have none.
        .filter(|r| r["properties"]["status"] == "fail")
        .map(|r| r["baselineState"].as_str().unwrap())
        .collect();
    assert_eq!(states.iter().filter(|s| **s == "new").count(), 1);
    assert_eq!(
        states.iter().filter(|s| **s == "unchanged").count(),
        DEMO_FAILURES - 1
    );
    let md = dir.read("after/summary.md");
    assert!(md.contains("#### AML001 mlacrprod (high) (new)"), "{md}");
    assert!(md.contains("### Fixed since the baseline"), "{md}");
}

#[test]
fn a_broken_baseline_exits_2_naming_it() {
    let dir = Dir::new();
    dir.write(
        "b.json",
        "{\"amlaudit_baseline\": 1, \"entries\": [{\"rule\": \"AML001\"}]}",
    );
    let output = dir.run(&[
        "scan",
        "--snapshot",
        repo_file(DEMO).to_str().unwrap(),
        "--baseline",
        "b.json",
    ]);
    assert_exit(&output, 2, "malformed baseline");
    assert!(
        stderr(&output).contains("b.json: not a baseline"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.path("reports").exists());
}
