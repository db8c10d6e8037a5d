//! `amlaudit scan --template` and `amlaudit import` of what-if output, run as a user runs them:
//! every template fixture alone and over the demo tenant, with the verdicts and the SARIF regions
//! that point at the template lines.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

const S1: &str = "b61e6ba5-3682-4dd6-b804-69b84b2d451c";

use crate::support::{amlaudit, demo_tenant as demo};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/templates")
        .join(name)
}

fn rg_ml_prod() -> String {
    format!("/subscriptions/{S1}/resourceGroups/rg-ml-prod")
}

/// `scan --template T --deploy-to D [--template-parameters P] [--snapshot demo]`.
fn scan(template: &Path, params: Option<&Path>, over_demo: bool, out: &Path) -> Command {
    let mut cmd = amlaudit();
    cmd.arg("scan")
        .arg("--template")
        .arg(template)
        .arg("--deploy-to")
        .arg(rg_ml_prod())
        .arg("--out-dir")
        .arg(out)
        .arg("--format")
        .arg("sarif")
        .arg("--format")
        .arg("table");
    if let Some(p) = params {
        cmd.arg("--template-parameters").arg(p);
    }
    if over_demo {
        cmd.arg("--snapshot").arg(demo());
    }
    cmd
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn result<'a>(report: &'a Value, rule: &str, name: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == rule && r["resource_name"] == name)
        .unwrap_or_else(|| panic!("no {rule} result for {name}"))
}

/// Line and column of the `{` opening the resource object whose `"type"` line is the `nth`
/// (from 0) containing `ty`.
fn object_position(file: &Path, ty: &str, nth: usize) -> (usize, usize) {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let type_line = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(&format!("\"type\": \"{ty}\"")))
        .nth(nth)
        .unwrap()
        .0;
    let open = (0..type_line)
        .rev()
        .find(|&i| lines[i].contains('{'))
        .unwrap();
    let column = lines[open].rfind('{').unwrap() + 1;
    (open + 1, column)
}

fn sarif_region(out: &Path, rule: &str, resource_name: &str) -> (Value, Value) {
    let sarif = read_json(&out.join("findings.sarif"));
    let r = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["ruleId"] == rule && r["locations"][0]["logicalLocations"][0]["name"] == resource_name
        })
        .unwrap_or_else(|| panic!("no SARIF result for {rule} {resource_name}"))
        .clone();
    let physical = r["locations"][0]["physicalLocation"].clone();
    (
        physical["artifactLocation"].clone(),
        physical["region"].clone(),
    )
}

#[test]
fn a_compute_without_acrpull_fails_aml002_at_its_line_and_the_grant_makes_it_pass() {
    let out = tempfile::tempdir().unwrap();
    let template = fixture("compute-cluster.json");
    scan(&template, None, true, out.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("compute-cluster.json:"));
    let report = read_json(&out.path().join("findings.json"));
    let r = result(&report, "AML002", "tpl-cluster");
    assert_eq!(r["status"], "fail", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("planned:"),
        "the planned principal is named: {r}"
    );
    // Its fixes are for a person to make in the template, never run as they are.
    let fixes = r["remediation"].as_array().unwrap();
    assert!(!fixes.is_empty());
    assert!(fixes.iter().all(|f| f["automatic"] == false), "{r}");
    let (line, column) = object_position(
        &template,
        "Microsoft.MachineLearningServices/workspaces/computes",
        0,
    );
    assert_eq!(r["location"]["line"], line);
    assert_eq!(r["location"]["column"], column);
    assert!(
        r["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("compute-cluster.json")
    );
    let (artifact, region) = sarif_region(out.path(), "AML002", "tpl-cluster");
    assert!(
        artifact["uri"]
            .as_str()
            .unwrap()
            .ends_with("fixtures/templates/compute-cluster.json")
    );
    assert_eq!(region["startLine"], line);
    assert_eq!(region["startColumn"], column);
    // The rest of the tenant is audited as before: existing computes keep their verdicts.
    assert_eq!(result(&report, "AML002", "gpu-cluster")["status"], "pass");
    // ... and point at their own object in the snapshot, not at the template.
    assert!(
        result(&report, "AML002", "gpu-cluster")["location"]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("demo-tenant.json")),
        "{}",
        result(&report, "AML002", "gpu-cluster")
    );

    // The same compute with the AcrPull assignment read through reference(..., 'Full').
    let out = tempfile::tempdir().unwrap();
    let with_grant = fixture("compute-cluster-acrpull.json");
    scan(&with_grant, None, true, out.path())
        .assert()
        .code(predicate::in_iter([0, 1, 3]));
    let report = read_json(&out.path().join("findings.json"));
    let r = result(&report, "AML002", "tpl-cluster");
    assert_eq!(r["status"], "pass", "{r}");
    assert_eq!(
        r["location"]["line"],
        object_position(
            &with_grant,
            "Microsoft.MachineLearningServices/workspaces/computes",
            0
        )
        .0
    );

    // The assignment's condition switched off: fails again.
    let out = tempfile::tempdir().unwrap();
    scan(
        &with_grant,
        Some(&fixture("compute-cluster-acrpull.off.parameters.json")),
        true,
        out.path(),
    )
    .assert()
    .code(1);
    let report = read_json(&out.path().join("findings.json"));
    assert_eq!(result(&report, "AML002", "tpl-cluster")["status"], "fail");
}

/// Lambda functions (filter, map, toObject) and environment(), as Bicep's compiled loops use
/// them, are evaluated: each registry gets its own verdict, and the one filtered out is absent.
#[test]
fn lambda_functions_and_environment_are_evaluated() {
    let out = tempfile::tempdir().unwrap();
    scan(&fixture("registries-lambda.json"), None, false, out.path())
        .assert()
        .code(1);
    let report = read_json(&out.path().join("findings.json"));
    assert_eq!(result(&report, "AML001", "crteamalpha")["status"], "pass");
    assert_eq!(result(&report, "AML001", "crteambeta")["status"], "fail");
    assert!(
        !report["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resource_name"] == "crteamgamma"),
        "the registry the filter drops is not planned"
    );
}

/// Identities the deployment creates exist nowhere else: with the workspace, its registry and the
/// cluster all planned, a missing pull grant is a failure even with no snapshot at all.
#[test]
fn a_planned_identity_with_nothing_planned_for_it_fails_alone() {
    let out = tempfile::tempdir().unwrap();
    scan(
        &fixture("workspace-with-cluster.json"),
        None,
        false,
        out.path(),
    )
    .assert()
    .code(1);
    let report = read_json(&out.path().join("findings.json"));
    let r = result(&report, "AML002", "new-cluster");
    assert_eq!(r["status"], "fail", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("planned:"),
        "the principal is the planned one: {r}"
    );
    // The fix goes into the template: it names the planned principal, so it is not run as is.
    let steps = r["remediation"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        2,
        "both pull roles, as the mode is not set: {r}"
    );
    assert!(steps.iter().all(|s| s["automatic"] == false), "{r}");
    assert_eq!(r["fix"]["verified"], "closes", "{r}");
}

#[test]
fn a_compute_alone_is_never_a_pass_when_its_workspace_is_not_known() {
    for name in ["compute-cluster.json", "compute-cluster-acrpull.json"] {
        let out = tempfile::tempdir().unwrap();
        scan(&fixture(name), None, false, out.path())
            .assert()
            .code(3);
        let report = read_json(&out.path().join("findings.json"));
        let r = result(&report, "AML002", "tpl-cluster");
        assert_eq!(r["status"], "unknown", "{name}: {r}");
        assert!(r["message"].as_str().unwrap().contains("mlw-prod"), "{r}");
        // Alone, the target subscription is marked as not read completely, saying why.
        assert_eq!(report["scopes"][0]["status"], "partial");
        assert!(
            report["scopes"][0]["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("without --snapshot")
        );
    }
}

#[test]
fn workspace_with_dependencies_registry_admin_user() {
    let template = fixture("workspace-dependencies.json");
    for over_demo in [false, true] {
        let out = tempfile::tempdir().unwrap();
        scan(&template, None, over_demo, out.path())
            .assert()
            .code(predicate::in_iter([0, 1, 3]));
        let report = read_json(&out.path().join("findings.json"));
        let registries: Vec<&Value> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["rule_id"] == "AML001" && in_template(r))
            .collect();
        assert_eq!(registries.len(), 1, "{registries:?}");
        let r = registries[0];
        // The default: the parameter says false.
        assert_eq!(r["status"], "pass", "{r}");
        let name = r["resource_name"].as_str().unwrap();
        assert!(
            name.starts_with("crmlwtpl") && name.len() == "crmlwtpl".len() + 13,
            "{name}"
        );
    }
    // The parameters file turns the admin user on: a failure at the registry's line.
    for over_demo in [false, true] {
        let out = tempfile::tempdir().unwrap();
        scan(
            &template,
            Some(&fixture("workspace-dependencies.admin.parameters.json")),
            over_demo,
            out.path(),
        )
        .assert()
        .code(1);
        let report = read_json(&out.path().join("findings.json"));
        let r = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule_id"] == "AML001" && in_template(r))
            .unwrap();
        assert_eq!(r["status"], "fail", "{r}");
        let (line, column) =
            object_position(&template, "Microsoft.ContainerRegistry/registries", 0);
        let name = r["resource_name"].as_str().unwrap().to_string();
        let (_, region) = sarif_region(out.path(), "AML001", &name);
        assert_eq!(
            (region["startLine"].clone(), region["startColumn"].clone()),
            (json!(line), json!(column))
        );
    }
}

#[test]
fn aks_attach_copy_loop_checks_each_cluster() {
    let template = fixture("aks-attach.json");
    let out = tempfile::tempdir().unwrap();
    scan(&template, None, true, out.path()).assert().code(1);
    let report = read_json(&out.path().join("findings.json"));
    assert_eq!(result(&report, "AML003", "tpl-aks-sp")["status"], "pass");
    let mi = result(&report, "AML003", "tpl-aks-mi");
    assert_eq!(mi["status"], "fail", "{mi}");
    let (line, _) = object_position(
        &template,
        "Microsoft.MachineLearningServices/workspaces/computes",
        0,
    );
    // Both copies point at the one resource object that declares them.
    assert_eq!(mi["location"]["line"], line);
    assert_eq!(
        result(&report, "AML003", "tpl-aks-sp")["location"]["line"],
        line
    );

    // Alone, the clusters are not known: no pass.
    let out = tempfile::tempdir().unwrap();
    scan(&template, None, false, out.path())
        .assert()
        .code(predicate::in_iter([0, 1, 3]));
    let report = read_json(&out.path().join("findings.json"));
    for name in ["tpl-aks-sp", "tpl-aks-mi"] {
        assert_ne!(result(&report, "AML003", name)["status"], "pass", "{name}");
    }
}

#[test]
fn dependencies_role_assignments_through_nested_deployments_satisfy_aml006() {
    let template = fixture("dependencies-role-assignments.json");
    for over_demo in [true, false] {
        let out = tempfile::tempdir().unwrap();
        scan(&template, None, over_demo, out.path())
            .assert()
            .code(predicate::in_iter([0, 1, 3]));
        let report = read_json(&out.path().join("findings.json"));
        let r = result(&report, "AML006", "mlw-tpl-uai");
        if over_demo {
            assert_eq!(r["status"], "pass", "over demo: {r}");
        } else {
            // Alone, the key vault is neither created by the template nor in a snapshot: its
            // permission model (RBAC or access policies) decides whether Key Vault Administrator
            // counts, so the secret read stays unknown.
            assert_eq!(r["status"], "unknown", "alone: {r}");
            assert!(
                r["message"]
                    .as_str()
                    .unwrap()
                    .contains("its permission model is not known"),
                "{r}"
            );
        }
        assert_eq!(
            r["location"]["line"],
            object_position(&template, "Microsoft.MachineLearningServices/workspaces", 0).0
        );
    }
}

#[test]
fn cmk_workspace_in_language_version_2() {
    let template = fixture("cmk-workspace.json");
    for over_demo in [true, false] {
        let out = tempfile::tempdir().unwrap();
        scan(&template, None, over_demo, out.path())
            .assert()
            .code(predicate::in_iter([0, 1, 3]));
        let report = read_json(&out.path().join("findings.json"));
        let r = result(&report, "AML004", "mlw-tpl-cmk");
        assert_eq!(r["status"], "pass", "{r}");
        assert_eq!(
            r["location"]["line"],
            object_position(&template, "Microsoft.MachineLearningServices/workspaces", 0).0
        );
    }
    let params = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        params.path(),
        r#"{"parameters": {"useUserAssignedIdentity": {"value": false}}}"#,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    scan(&template, Some(params.path()), true, out.path())
        .assert()
        .code(1);
    let report = read_json(&out.path().join("findings.json"));
    assert_eq!(result(&report, "AML004", "mlw-tpl-cmk")["status"], "fail");
}

#[test]
fn an_unknown_function_makes_the_result_unknown_and_names_the_expression() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.json");
    std::fs::write(
        &template,
        r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {
      "type": "Microsoft.ContainerRegistry/registries",
      "apiVersion": "2023-07-01",
      "name": "acrtpl",
      "location": "eastus2",
      "properties": {
        "adminUserEnabled": "[environmentFlag('acr-admin')]"
      }
    }
  ]
}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    scan(&template, None, true, &out).assert().code(1);
    let report = read_json(&out.join("findings.json"));
    let r = result(&report, "AML001", "acrtpl");
    assert_eq!(r["status"], "unknown", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("environmentFlag"),
        "{r}"
    );
    assert_eq!(r["location"]["line"], 5);
}

#[test]
fn a_bicep_file_is_refused_with_the_command_to_compile_it() {
    let dir = tempfile::tempdir().unwrap();
    let bicep = dir.path().join("main.bicep");
    std::fs::write(&bicep, "resource x 'a@b' = {}").unwrap();
    let out = dir.path().join("out");
    scan(&bicep, None, false, &out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("az bicep build"));
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn template_errors_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("broken.json");
    std::fs::write(
        &template,
        "{\n  \"resources\": [\n    {\"type\": \"a\",, }\n  ]\n}",
    )
    .unwrap();
    let out = dir.path().join("out");
    scan(&template, None, false, &out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.json:3:18"));
    std::fs::write(
        &template,
        "{\n  \"resources\": [\n    {\"type\": \"Microsoft.X/y\", \"name\": \"[parameters('missing')]\"}\n  ]\n}",
    )
    .unwrap();
    scan(&template, None, false, &out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.json:3:"))
        .stderr(predicate::str::contains("missing"));
    // --deploy-to must name a resource group.
    amlaudit()
        .args(["scan", "--template"])
        .arg(fixture("compute-cluster.json"))
        .args(["--deploy-to", "/subscriptions/x/rg"])
        .arg("--out-dir")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--deploy-to"));
    assert!(!out.exists());
}

#[test]
fn what_if_full_payloads_import_as_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let rg = rg_ml_prod();
    let what_if = json!({
        "status": "Succeeded",
        "error": null,
        "changes": [
            {
                "changeType": "Create",
                "resourceId": format!("{rg}/providers/Microsoft.ContainerRegistry/registries/acrwhatif"),
                "before": null,
                "after": {
                    "id": format!("{rg}/providers/Microsoft.ContainerRegistry/registries/acrwhatif"),
                    "name": "acrwhatif",
                    "type": "Microsoft.ContainerRegistry/registries",
                    "location": "eastus2",
                    "properties": {"adminUserEnabled": true}
                }
            },
            {
                "changeType": "Delete",
                "resourceId": format!("{rg}/providers/Microsoft.ContainerRegistry/registries/acrgone"),
                "before": {"id": format!("{rg}/providers/Microsoft.ContainerRegistry/registries/acrgone"), "type": "Microsoft.ContainerRegistry/registries"},
                "after": null
            },
            {
                "changeType": "Modify",
                "resourceId": format!("{rg}/providers/Microsoft.ContainerRegistry/registries/acrchanged"),
                "after": {"name": "acrchanged", "properties": {"adminUserEnabled": false}}
            }
        ]
    });
    let input = dir.path().join("whatif.json");
    std::fs::write(&input, what_if.to_string()).unwrap();
    let snapshot = dir.path().join("snapshot.json");
    amlaudit()
        .args(["import", "-o"])
        .arg(&snapshot)
        .args(["--subscription", S1])
        .arg(&input)
        .assert()
        .success();
    let s = read_json(&snapshot);
    let names: Vec<&str> = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acrwhatif", "acrchanged"]);
    assert_eq!(
        s["resources"][1]["type"],
        "Microsoft.ContainerRegistry/registries"
    );
    let out = dir.path().join("out");
    amlaudit()
        .arg("scan")
        .arg("--snapshot")
        .arg(&snapshot)
        .arg("--out-dir")
        .arg(&out)
        .assert()
        .code(1);
    let report = read_json(&out.join("findings.json"));
    assert_eq!(result(&report, "AML001", "acrwhatif")["status"], "fail");
    assert_eq!(result(&report, "AML001", "acrchanged")["status"], "pass");
}

#[test]
fn a_grant_the_deployment_may_not_make_is_never_a_pass() {
    // The condition of the AcrPull assignment comes from a Key Vault reference: unknown.
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("p.json");
    std::fs::write(
        &params,
        r#"{"parameters": {"grantAcrPull": {"reference": {"keyVault": {"id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/z"}, "secretName": "grant"}}}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    scan(
        &fixture("compute-cluster-acrpull.json"),
        Some(&params),
        true,
        &out,
    )
    .assert()
    .code(predicate::in_iter([1, 3]));
    let report = read_json(&out.join("findings.json"));
    let r = result(&report, "AML002", "tpl-cluster");
    assert_eq!(r["status"], "unknown", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("not fully known"),
        "{r}"
    );
}

#[test]
fn a_planned_registry_turning_on_the_admin_user_replaces_the_snapshots() {
    // mlacrprod exists in the demo tenant with the admin user off; the template turns it on.
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("acr.json");
    std::fs::write(
        &template,
        r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {
      "type": "Microsoft.ContainerRegistry/registries",
      "apiVersion": "2023-07-01",
      "name": "mlacrprod",
      "location": "eastus2",
      "sku": {"name": "Premium"},
      "properties": {"adminUserEnabled": true}
    }
  ]
}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    scan(&template, None, true, &out).assert().code(1);
    let report = read_json(&out.join("findings.json"));
    let matching: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rule_id"] == "AML001" && r["resource_name"] == "mlacrprod")
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "the planned registry replaces the existing one"
    );
    assert_eq!(matching[0]["status"], "fail");
    assert_eq!(matching[0]["location"]["line"], 5);
}

/// Whether a result points at a template (a planned resource) rather than at the snapshot.
fn in_template(r: &Value) -> bool {
    r["location"]["file"]
        .as_str()
        .is_some_and(|f| f.contains("fixtures/templates/"))
}

#[test]
fn the_table_says_where_in_the_template_a_failure_is_written() {
    let template = fixture("workspace-dependencies.json");
    let out = tempfile::tempdir().unwrap();
    let output = scan(
        &template,
        Some(&fixture("workspace-dependencies.admin.parameters.json")),
        true,
        out.path(),
    )
    .env("COLUMNS", "400")
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (line, column) = object_position(&template, "Microsoft.ContainerRegistry/registries", 0);
    let header = stdout
        .lines()
        .skip_while(|l| *l != "Failures")
        .nth(2)
        .unwrap_or_default();
    assert!(header.contains("Location"), "{stdout}");
    let at = format!("{}:{line}:{column}", template.display());
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("AML001") && l.contains(&at)),
        "{at} in\n{stdout}"
    );
    // A snapshot scan has no such column: every result points into the snapshot itself.
    let plain = amlaudit()
        .args(["scan", "--snapshot"])
        .arg(demo())
        .arg("--out-dir")
        .arg(out.path().join("plain"))
        .env("COLUMNS", "400")
        .output()
        .unwrap();
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert!(!plain.contains("Location"), "{plain}");
}
