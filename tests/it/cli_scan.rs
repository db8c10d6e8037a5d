//! `amlaudit scan`, run as a user runs it: the demo tenant's exact results, the report files,
//! exit codes, CSV escaping, quoting of hostile names, and clear errors for broken input.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

use crate::support::{amlaudit, demo_tenant as demo};

fn scan(snapshot: &Path, out: &Path) -> Command {
    let mut cmd = amlaudit();
    cmd.arg("scan")
        .arg("--snapshot")
        .arg(snapshot)
        .arg("--out-dir")
        .arg(out);
    cmd
}

fn report(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap()
}

const EXPECTED_DEMO: &[(&str, &str, &str)] = &[
    ("AML001", "contosobaseimages", "pass"),
    ("AML001", "mlacrabac", "pass"),
    ("AML001", "mlacrarchive", "unknown"),
    ("AML001", "mlacrbuild", "pass"),
    ("AML001", "mlacrcmk", "pass"),
    ("AML001", "mlacrdev", "pass"),
    ("AML001", "mlacrlegacy", "pass"),
    ("AML001", "mlacrprod", "pass"),
    ("AML001", "mlacrsandbox", "fail"),
    ("AML001", "partnerimages", "pass"),
    ("AML002", "abac-acrpull-cluster", "fail"),
    ("AML002", "abac-cluster", "pass"),
    ("AML002", "aks-scoring-mi", "not_applicable"),
    ("AML002", "aks-scoring-sp", "not_applicable"),
    ("AML002", "aks-scoring-sp-2", "not_applicable"),
    ("AML002", "build-cluster", "fail"),
    ("AML002", "cpu-cluster", "pass"),
    ("AML002", "dev-cluster", "fail"),
    ("AML002", "dev-cluster-2", "fail"),
    ("AML002", "dev-cluster-3", "unknown"),
    ("AML002", "dev-cluster-4", "pass"),
    ("AML002", "dev-cluster-5", "pass"),
    ("AML002", "gpu-cluster", "pass"),
    ("AML002", "legacy-cluster", "fail"),
    ("AML002", "notebook-alice", "not_applicable"),
    ("AML002", "quarantined-cluster", "fail"),
    ("AML002", "shared-cluster", "unknown"),
    ("AML002", "train-cmk", "pass"),
    ("AML002", "train-imported", "unknown"),
    ("AML003", "abac-acrpull-cluster", "not_applicable"),
    ("AML003", "abac-cluster", "not_applicable"),
    ("AML003", "aks-scoring-mi", "fail"),
    ("AML003", "aks-scoring-sp", "pass"),
    ("AML003", "aks-scoring-sp-2", "pass"),
    ("AML003", "build-cluster", "not_applicable"),
    ("AML003", "cpu-cluster", "not_applicable"),
    ("AML003", "dev-cluster", "not_applicable"),
    ("AML003", "dev-cluster-2", "not_applicable"),
    ("AML003", "dev-cluster-3", "not_applicable"),
    ("AML003", "dev-cluster-4", "not_applicable"),
    ("AML003", "dev-cluster-5", "not_applicable"),
    ("AML003", "gpu-cluster", "not_applicable"),
    ("AML003", "legacy-cluster", "not_applicable"),
    ("AML003", "notebook-alice", "not_applicable"),
    ("AML003", "quarantined-cluster", "not_applicable"),
    ("AML003", "shared-cluster", "not_applicable"),
    ("AML003", "train-cmk", "not_applicable"),
    ("AML003", "train-imported", "not_applicable"),
    ("AML004", "mlw-abac", "not_applicable"),
    ("AML004", "mlw-aci-legacy", "not_applicable"),
    ("AML004", "mlw-aci-noreg", "not_applicable"),
    ("AML004", "mlw-build", "not_applicable"),
    ("AML004", "mlw-cmk-policy", "fail"),
    ("AML004", "mlw-dev", "not_applicable"),
    ("AML004", "mlw-dev-cmk", "fail"),
    ("AML004", "mlw-dev-uai", "not_applicable"),
    ("AML004", "mlw-imported", "unknown"),
    ("AML004", "mlw-prod", "not_applicable"),
    ("AML004", "mlw-prod-cmk", "pass"),
    ("AML004", "mlw-sandbox", "not_applicable"),
    ("AML004", "mlw-shared-acr", "not_applicable"),
    ("AML005", "partner-images", "fail"),
    ("AML005", "private-base-images", "pass"),
    ("AML005", "privateAcr", "pass"),
    ("AML005", "retired-acr", "unknown"),
    ("AML005", "team-images", "pass"),
    ("AML006", "mlw-abac", "not_applicable"),
    ("AML006", "mlw-aci-legacy", "not_applicable"),
    ("AML006", "mlw-aci-noreg", "not_applicable"),
    ("AML006", "mlw-build", "not_applicable"),
    ("AML006", "mlw-cmk-policy", "not_applicable"),
    ("AML006", "mlw-dev", "not_applicable"),
    ("AML006", "mlw-dev-cmk", "not_applicable"),
    ("AML006", "mlw-dev-uai", "fail"),
    ("AML006", "mlw-imported", "unknown"),
    ("AML006", "mlw-prod", "not_applicable"),
    ("AML006", "mlw-prod-cmk", "pass"),
    ("AML006", "mlw-sandbox", "not_applicable"),
    ("AML006", "mlw-shared-acr", "not_applicable"),
    ("AML007", "mlw-abac", "not_applicable"),
    ("AML007", "mlw-aci-legacy", "fail"),
    ("AML007", "mlw-aci-noreg", "unknown"),
    ("AML007", "mlw-build", "not_applicable"),
    ("AML007", "mlw-cmk-policy", "not_applicable"),
    ("AML007", "mlw-dev", "pass"),
    ("AML007", "mlw-dev-cmk", "not_applicable"),
    ("AML007", "mlw-dev-uai", "not_applicable"),
    ("AML007", "mlw-imported", "unknown"),
    ("AML007", "mlw-prod", "not_applicable"),
    ("AML007", "mlw-prod-cmk", "not_applicable"),
    ("AML007", "mlw-sandbox", "not_applicable"),
    ("AML007", "mlw-shared-acr", "not_applicable"),
    ("AML008", "abac-acrpull-cluster", "not_applicable"),
    ("AML008", "abac-cluster", "not_applicable"),
    ("AML008", "aks-scoring-mi", "not_applicable"),
    ("AML008", "aks-scoring-sp", "pass"),
    ("AML008", "aks-scoring-sp-2", "fail"),
    ("AML008", "build-cluster", "not_applicable"),
    ("AML008", "cpu-cluster", "not_applicable"),
    ("AML008", "dev-cluster", "not_applicable"),
    ("AML008", "dev-cluster-2", "not_applicable"),
    ("AML008", "dev-cluster-3", "not_applicable"),
    ("AML008", "dev-cluster-4", "not_applicable"),
    ("AML008", "dev-cluster-5", "not_applicable"),
    ("AML008", "gpu-cluster", "not_applicable"),
    ("AML008", "legacy-cluster", "not_applicable"),
    ("AML008", "notebook-alice", "not_applicable"),
    ("AML008", "quarantined-cluster", "not_applicable"),
    ("AML008", "shared-cluster", "not_applicable"),
    ("AML008", "train-cmk", "not_applicable"),
    ("AML008", "train-imported", "not_applicable"),
    ("AML009", "dockerhub", "not_applicable"),
    ("AML009", "partner-secret", "fail"),
];

fn triples(report: &Value) -> BTreeSet<(String, String, String)> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule_id"].as_str().unwrap().to_string(),
                r["resource_name"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_demo_tenant_gives_exactly_the_documented_results() {
    let out = tempfile::tempdir().unwrap();
    scan(&demo(), out.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("AML001"))
        .stdout(predicate::str::contains("mlacrsandbox"))
        .stdout(predicate::str::contains("Reports written to"));
    let report = report(out.path());
    let expected: BTreeSet<(String, String, String)> = EXPECTED_DEMO
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(triples(&report), expected);
    assert_eq!(
        report["results"].as_array().unwrap().len(),
        EXPECTED_DEMO.len(),
        "one result per (rule, resource)"
    );
}

#[test]
fn the_json_report_carries_run_metadata_evidence_and_remediation() {
    let out = tempfile::tempdir().unwrap();
    scan(&demo(), out.path()).assert().code(1);
    let report = report(out.path());
    assert_eq!(report["amlaudit_report"], 1);
    assert_eq!(report["tool_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["snapshot"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(report["snapshot"]["collected_at"], "2026-11-20T09:30:00Z");
    assert_eq!(report["summary"]["total"], EXPECTED_DEMO.len());
    assert_eq!(report["summary"]["by_rule"]["AML002"]["fail"], 6);
    let results = report["results"].as_array().unwrap();
    let find = |rule: &str, name: &str| {
        results
            .iter()
            .find(|r| r["rule_id"] == rule && r["resource_name"] == name)
            .unwrap()
    };

    // Every fail carries argv remediation with the real ids, rendered for a shell.
    for r in results.iter().filter(|r| r["status"] == "fail") {
        let fixes = r["remediation"].as_array().unwrap();
        assert!(!fixes.is_empty(), "{r}");
        for f in fixes {
            let argv: Vec<String> = f["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            // A manual step may be prose only (what to do has no command).
            if argv.is_empty() {
                assert_eq!(f["edit"]["kind"], "manual", "{f}");
                continue;
            }
            assert_eq!(argv[0], "az");
            assert_eq!(shlex::split(f["command"].as_str().unwrap()).unwrap(), argv);
        }
    }
    let sandbox = find("AML001", "mlacrsandbox");
    assert_eq!(
        sandbox["remediation"][0]["command"],
        "az acr update --name mlacrsandbox --resource-group rg-ml-dev --subscription ec7ac8ad-1b2b-406b-aae1-2c972399d29d --admin-enabled false"
    );
    let dev = find("AML002", "dev-cluster");
    let argv = dev["remediation"][0]["argv"].as_array().unwrap();
    assert_eq!(
        argv[..4],
        [
            json!("az"),
            json!("role"),
            json!("assignment"),
            json!("create")
        ]
    );
    assert!(argv.contains(&json!("07ddd33d-2e9e-466d-abce-3acd197f957f")));
    assert!(argv.contains(&json!("--assignee-principal-type")));
    // The specific message and the engine's evidence.
    let message = dev["message"].as_str().unwrap();
    assert!(
        message.contains("compute `dev-cluster`") && message.contains("`mlacrdev`"),
        "{message}"
    );
    assert!(message.contains("no applicable assignment grants action Microsoft.ContainerRegistry/registries/pull/read"), "{message}");
    assert_eq!(dev["evidence"][0]["decision"], "denied");
    // The ACI exception names the workspace that needs the admin user.
    assert!(
        find("AML001", "mlacrdev")["message"]
            .as_str()
            .unwrap()
            .contains("`mlw-dev`")
    );
    // A compute without identity gets one first, then its role, for the principal the first
    // step outputs: proven, so both run.
    let legacy = find("AML002", "legacy-cluster");
    assert!(
        legacy["remediation"][0]["command"]
            .as_str()
            .unwrap()
            .contains("--identity-type SystemAssigned")
    );
    assert_eq!(legacy["remediation"][1]["automatic"], true);
    assert_eq!(legacy["fix"]["verified"], "closes");
    assert!(
        legacy["remediation"][1]["command"]
            .as_str()
            .unwrap()
            .contains("'<principal id from step 0>'")
    );
    assert_eq!(
        find("AML002", "build-cluster")["evidence"][0]["decision"],
        "denied",
        "its condition (repositories starting with approved/) is false for Azure ML's images"
    );
}

#[test]
fn the_csv_report_has_the_documented_columns_and_one_row_per_result() {
    let out = tempfile::tempdir().unwrap();
    scan(&demo(), out.path()).assert().code(1);
    let text = std::fs::read_to_string(out.path().join("findings.csv")).unwrap();
    assert!(text.starts_with("\"subscription_id\",\"resource_group\",\"resource_type\",\"resource_name\",\"resource_id\",\"workspace\",\"rule_id\",\"title\",\"severity\",\"status\",\"message\",\"remediation\","));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), EXPECTED_DEMO.len());
    let row = rows.iter().find(|r| &r[3] == "dev-cluster").unwrap();
    assert_eq!((&row[5], &row[6], &row[9]), ("mlw-dev", "AML002", "fail"));
    assert!(row[11].starts_with("az role assignment create"));
    // Every field is quoted.
    for line in text.lines().take(3) {
        assert!(line.starts_with('"') && line.ends_with('"'), "{line}");
    }
}

#[test]
fn format_json_prints_the_report_instead_of_the_table() {
    let out = tempfile::tempdir().unwrap();
    let stdout = scan(&demo(), out.path())
        .args(["--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let printed: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(printed["results"], report(out.path())["results"]);
    assert!(out.path().join("findings.csv").exists());
}

#[test]
fn exit_codes_follow_the_gate() {
    let out = tempfile::tempdir().unwrap();
    scan(&demo(), out.path()).assert().code(1);
    // Failures are high and medium: gating on critical leaves the unknowns, so exit 3.
    scan(&demo(), out.path())
        .args(["--fail-on", "critical"])
        .assert()
        .code(3);
    scan(&demo(), out.path())
        .args(["--fail-on", "critical", "--allow-unknown"])
        .assert()
        .code(0);
    scan(&demo(), out.path())
        .args(["--no-fail"])
        .assert()
        .code(0);
    scan(&demo(), out.path())
        .args(["--quiet"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty());
    // --severity only filters the table.
    scan(&demo(), out.path())
        .args(["--severity", "high"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("aks-scoring-mi").not());
    scan(&demo(), out.path())
        .args(["--fail-on", "bogus"])
        .assert()
        .code(2);
}

fn snapshot_with(dir: &Path, scopes: Value, resources: Value) -> PathBuf {
    let path = dir.join("snapshot.json");
    let doc = json!({"amlaudit_snapshot": 1, "collected_at": "2026-11-01T00:00:00Z", "tenant_id": null, "cloud": "AzureCloud", "scopes": scopes, "resources": resources});
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

fn registry(name: &str, admin: bool) -> Value {
    json!({
        "id": format!("/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/{name}"),
        "type": "Microsoft.ContainerRegistry/registries",
        "name": name,
        "properties": {"adminUserEnabled": admin, "loginServer": format!("{name}.azurecr.io")}
    })
}

#[test]
fn a_clean_complete_snapshot_exits_zero_and_a_partial_one_three() {
    let dir = tempfile::tempdir().unwrap();
    let complete =
        json!([{"subscription_id": "11111111-1111-4111-8111-111111111111", "status": "complete"}]);
    let snap = snapshot_with(dir.path(), complete, json!([registry("clean", false)]));
    scan(&snap, &dir.path().join("out")).assert().code(0);
    let partial = json!([{"subscription_id": "11111111-1111-4111-8111-111111111111", "status": "partial",
        "errors": [{"resource_type": "Microsoft.Authorization/roleAssignments", "message": "forbidden", "http_status": 403}]}]);
    let snap = snapshot_with(dir.path(), partial, json!([registry("clean", false)]));
    scan(&snap, &dir.path().join("out"))
        .assert()
        .code(3)
        .stdout(predicate::str::contains(
            "Not read completely: 11111111-1111-4111-8111-111111111111",
        ));
}

#[test]
fn hostile_names_are_escaped_in_csv_and_quoted_in_commands() {
    let dir = tempfile::tempdir().unwrap();
    let scopes =
        json!([{"subscription_id": "11111111-1111-4111-8111-111111111111", "status": "complete"}]);
    let names = [
        "=HYPERLINK(\"http://x\")",
        "a b'c",
        "$(touch pwned)",
        "@SUM(1)",
    ];
    let snap = snapshot_with(
        dir.path(),
        scopes,
        Value::Array(names.iter().map(|n| registry(n, true)).collect()),
    );
    let out = dir.path().join("out");
    scan(&snap, &out).current_dir(dir.path()).assert().code(1);
    let text = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let cells: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[3].to_string())
        .collect();
    assert!(
        cells.contains(&"'=HYPERLINK(\"http://x\")".to_string()),
        "{cells:?}"
    );
    assert!(cells.contains(&"'@SUM(1)".to_string()), "{cells:?}");
    let report = report(&out);
    for r in report["results"].as_array().unwrap() {
        let fix = &r["remediation"][0];
        let argv: Vec<String> = fix["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            shlex::split(fix["command"].as_str().unwrap()).unwrap(),
            argv
        );
    }
    // Running a rendered command through a real shell passes the hostile name as one argument.
    let hostile = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource_name"] == "$(touch pwned)")
        .unwrap();
    let command = hostile["remediation"][0]["command"]
        .as_str()
        .unwrap()
        .replacen("az ", "printf '%s\\n' ", 1);
    let printed = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&printed.stdout)
            .lines()
            .any(|l| l == "$(touch pwned)")
    );
    assert!(!dir.path().join("pwned").exists());
}

#[test]
fn a_broken_snapshot_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("broken.json");
    std::fs::write(
        &snap,
        "{\"amlaudit_snapshot\": 1,\n \"resources\": [\n  {\"id\": }\n]}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    scan(&snap, &out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "broken.json:3:10: not valid JSON: expected value",
        ));
    assert!(!out.exists());
    let not_a_snapshot = dir.path().join("list.json");
    std::fs::write(&not_a_snapshot, r#"{"value": []}"#).unwrap();
    scan(&not_a_snapshot, &out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "list.json: at $.amlaudit_snapshot: missing: not an amlaudit snapshot",
        ));
}

/// Writes a user rule on registries into `dir/policies` and returns that directory.
fn user_rule(dir: &Path, id: &str, title: &str, body: &str) -> PathBuf {
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let package = id.to_ascii_lowercase();
    std::fs::write(
        policies.join(format!("{package}.rego")),
        format!(
            "# METADATA\n# title: {title}\n# description: {title}.\n# custom:\n#   id: {id}\n#   severity: low\n#   resource_type: Microsoft.ContainerRegistry/registries\n#   remediation: X\npackage amlaudit.rules.{package}\n\nimport rego.v1\n\n{body}\n"
        ),
    )
    .unwrap();
    policies
}

#[test]
fn a_broken_policy_names_its_file_and_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let policies = user_rule(
        dir.path(),
        "X001",
        "X",
        "result := {\"status\": \"pass\" \"message\": \"x\"}",
    );
    let out = dir.path().join("out");
    scan(&demo(), &out)
        .arg("--policy-dir")
        .arg(&policies)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("x001.rego"))
        .stderr(predicate::str::contains(":13:"));
    assert!(!out.exists());

    // A runtime error names the rule, the file and the resource; with --fail-fast nothing is
    // written, otherwise the reports carry it as an `error` result (tests/hardening.rs).
    user_rule(
        dir.path(),
        "X001",
        "X",
        "result := {\"status\": \"pass\", \"message\": sprintf(\"%s\", [1 / 0])}",
    );
    scan(&demo(), &out)
        .arg("--policy-dir")
        .arg(&policies)
        .arg("--fail-fast")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("x001.rego"))
        .stderr(predicate::str::contains("X001"));
    assert!(!out.exists());
}

#[test]
fn a_user_rule_runs_beside_the_bundled_ones() {
    let dir = tempfile::tempdir().unwrap();
    let policies = user_rule(
        dir.path(),
        "CORP001",
        "Registries are Premium",
        "result := {\"status\": \"pass\", \"message\": \"premium\"} if input.resource.sku.name == \"Premium\"\n\nelse := {\"status\": \"fail\", \"message\": \"not premium\", \"remediation\": [{\"description\": \"upgrade\", \"argv\": [\"az\", \"acr\", \"update\", \"--name\", input.name, \"--sku\", \"Premium\"]}]}",
    );
    let out = dir.path().join("out");
    scan(&demo(), &out)
        .arg("--policy-dir")
        .arg(&policies)
        .assert()
        .code(1);
    let report = report(&out);
    let corp: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rule_id"] == "CORP001")
        .collect();
    assert_eq!(corp.len(), 10);
}

/// Every `does_not_grant` entry of the permission engine's answers in `value`, at any depth.
fn not_granting(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(not_granting).sum(),
        Value::Object(obj) => {
            usize::from(obj.get("contribution") == Some(&json!("does_not_grant")))
                + obj.values().map(not_granting).sum::<usize>()
        }
        _ => 0,
    }
}

/// The `evidence_omitted` counts in `value`, summed.
fn omitted(value: &Value) -> u64 {
    match value {
        Value::Array(items) => items.iter().map(omitted).sum(),
        Value::Object(obj) => {
            obj.get("evidence_omitted")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                + obj.values().map(omitted).sum::<u64>()
        }
        _ => 0,
    }
}

#[test]
fn compact_evidence_trims_only_what_did_not_grant_a_pass_and_full_keeps_everything() {
    let compact_dir = tempfile::tempdir().unwrap();
    let full_dir = tempfile::tempdir().unwrap();
    scan(&demo(), compact_dir.path()).assert().code(1);
    scan(&demo(), full_dir.path())
        .args(["--evidence", "full"])
        .assert()
        .code(1);
    let compact = report(compact_dir.path());
    let full = report(full_dir.path());
    let compact = compact["results"].as_array().unwrap();
    let full = full["results"].as_array().unwrap();
    assert_eq!(compact.len(), full.len());
    let (mut trimmed, mut kept_elsewhere) = (0, 0);
    for (c, f) in compact.iter().zip(full) {
        assert_eq!(
            (&c["rule_id"], &c["resource_id"]),
            (&f["rule_id"], &f["resource_id"])
        );
        // `full` leaves nothing out.
        assert_eq!(omitted(&f["evidence"]), 0, "{f}");
        if c["status"] == "pass" {
            // Only not-granting candidates go, each one counted; the grants stay.
            assert_eq!(not_granting(&c["evidence"]), 0, "{c}");
            assert_eq!(
                omitted(&c["evidence"]) as usize,
                not_granting(&f["evidence"]),
                "{f}"
            );
            trimmed += not_granting(&f["evidence"]);
            let grants = |v: &Value| v.to_string().matches("\"grants\"").count();
            assert_eq!(grants(&c["evidence"]), grants(&f["evidence"]), "{c}");
            let without_evidence = |r: &Value| {
                let mut r = r.clone();
                r["evidence"] = Value::Null;
                r
            };
            assert_eq!(without_evidence(c), without_evidence(f));
        } else {
            // Fail, unknown and the rest keep every candidate: the near misses say what to fix.
            assert_eq!(c, f);
            kept_elsewhere += not_granting(&c["evidence"]);
        }
    }
    assert!(
        trimmed > 0,
        "the demo tenant has passes with candidates that did not grant"
    );
    assert!(
        kept_elsewhere > 0,
        "the demo tenant has failures with near misses, which compact must keep"
    );
}

/// The report without what differs between two runs of the same scan.
fn comparable(out: &Path) -> Value {
    let mut report = report(out);
    report["generated_at"] = Value::Null;
    report
}

#[test]
fn rules_on_the_bytecode_vm_report_exactly_what_the_interpreter_reports() {
    let dir = tempfile::tempdir().unwrap();
    // User rules beside the bundled ones: one that errs on one registry (a range over the
    // budget, answered by amlaudit's bounded builtin on both paths), one that prints (kept on
    // the interpreter), one that asks the permission engine and joins strings.
    user_rule(
        dir.path(),
        "VM001",
        "Errs on one registry",
        "size := count(numbers.range(1, 1e12)) if input.resource.name == \"mlacrsandbox\"\n\nsize := 1 if input.resource.name != \"mlacrsandbox\"\n\nresult := {\"status\": \"pass\", \"message\": sprintf(\"fine %d\", [size])}",
    );
    user_rule(
        dir.path(),
        "VM002",
        "Prints",
        "result := {\"status\": \"pass\", \"message\": \"printed\"} if print(\"seen\", input.name)",
    );
    let policies = user_rule(
        dir.path(),
        "VM003",
        "Asks the engine",
        "d := amlaudit.access(\"00000000-0000-0000-0000-000000000000\", input.id, \"Microsoft.ContainerRegistry/registries/read\")\n\napplicable if input.resource.sku.name != \"Basic\"\n\nresult := {\"status\": \"unknown\", \"message\": concat(\" / \", [d.decision, replace(input.name, \"a\", \"A\")]), \"evidence\": [d]} if d.decision != \"granted\"\n\nelse := {\"status\": \"pass\", \"message\": d.summary, \"evidence\": [d]}",
    );
    let run = |out: &Path, vm: &str| {
        scan(&demo(), out)
            .arg("--policy-dir")
            .arg(&policies)
            .args(["--evidence", "full"])
            .env("AMLAUDIT_RVM", vm)
            .assert()
            .code(2);
    };
    let (on_vm, interpreted) = (dir.path().join("vm"), dir.path().join("interpreter"));
    run(&on_vm, "1");
    run(&interpreted, "0");
    let (on_vm, interpreted) = (comparable(&on_vm), comparable(&interpreted));
    let results = on_vm["results"].as_array().unwrap();
    let count = |id: &str, status: Option<&str>| {
        results
            .iter()
            .filter(|r| r["rule_id"] == id && status.is_none_or(|s| r["status"] == s))
            .count()
    };
    assert_eq!(count("VM001", Some("error")), 1);
    assert!(count("VM002", None) > 0 && count("VM003", None) > 0);
    assert_eq!(on_vm, interpreted);
}
