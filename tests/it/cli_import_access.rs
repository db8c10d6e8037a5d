//! `amlaudit import` and `amlaudit access`, run as a user runs them.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

const SUB: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const ACR: &str = "/subscriptions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/mlacr";
const GPU_PRINCIPAL: &str = "3c9b1a7e-52d4-4f8a-b6e0-9d2c4a1f7e35";
const CPU_PRINCIPAL: &str = "a41f7c2e-9b3d-4e6a-8c5f-1d7e3b9a2c64";

use crate::support::{amlaudit, demo_tenant as demo};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn import_az(dir: &Path) -> PathBuf {
    let out = dir.join("snapshot.json");
    amlaudit()
        .args(["import", "--subscription", SUB, "--output"])
        .arg(&out)
        .args(
            [
                "az/role-assignment-list.json",
                "az/role-definition-list.json",
                "az/resource-list.json",
                "az/acr-show.json",
                "az/ml-compute-list.json",
            ]
            .map(data),
        )
        .assert()
        .success()
        .stderr(predicate::str::contains("wrote 7 resources"));
    out
}

#[test]
fn az_output_imports_into_one_arm_shaped_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot: Value =
        serde_json::from_slice(&std::fs::read(import_az(dir.path())).unwrap()).unwrap();
    assert_eq!(snapshot["amlaudit_snapshot"], 1);
    assert_eq!(snapshot["scopes"][0]["subscription_id"], SUB);
    assert_eq!(snapshot["scopes"][0]["status"], "complete");
    let resources = snapshot["resources"].as_array().unwrap();
    let registry = resources
        .iter()
        .find(|r| r["id"].as_str() == Some(ACR))
        .unwrap();
    // az resource list (properties: null) and az acr show (flattened) merged into one ARM object.
    assert_eq!(registry["properties"]["adminUserEnabled"], true);
    assert_eq!(registry["properties"]["loginServer"], "mlacr.azurecr.io");
    assert_eq!(
        resources
            .iter()
            .filter(|r| r["id"].as_str() == Some(ACR))
            .count(),
        1
    );
    let compute = resources.iter().find(|r| r["name"] == "cpu").unwrap();
    assert_eq!(
        compute["type"],
        "Microsoft.MachineLearningServices/workspaces/computes"
    );
    assert_eq!(compute["properties"]["computeType"], "AmlCompute");
    let role = resources
        .iter()
        .find(|r| r["type"] == "Microsoft.Authorization/roleDefinitions")
        .unwrap();
    assert_eq!(
        role["properties"]["permissions"][0]["notActions"][0],
        "Microsoft.ContainerRegistry/registries/push/*"
    );
}

#[test]
fn access_on_imported_az_output_explains_inherited_and_custom_grants() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = import_az(dir.path());
    // AcrPull at the resource group, inherited by the registry.
    amlaudit()
        .args(["access", "--snapshot"])
        .arg(&snapshot)
        .args(["--principal", GPU_PRINCIPAL, "--scope", ACR])
        .args([
            "--action",
            "Microsoft.ContainerRegistry/registries/pull/read",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("GRANTED"))
        .stdout(predicate::str::contains(
            "AcrPull (7f951dda-4ed3-4680-a7ca-43fe172d538d)",
        ))
        .stdout(predicate::str::contains("/resourceGroups/rg-ml: grants"));
    // A custom role from `az role definition list`: pull yes, push excluded by notActions.
    let json = amlaudit()
        .args(["access", "--format", "json", "--snapshot"])
        .arg(&snapshot)
        .args([
            "--principal",
            CPU_PRINCIPAL,
            "--scope",
            ACR,
            "--action",
            "Microsoft.ContainerRegistry/registries/push/write",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let d: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(d["decision"], "denied");
    assert_eq!(d["principal"], CPU_PRINCIPAL);
    assert_eq!(d["evidence"][0]["role_name"], "Registry Puller (custom)");
    assert!(
        d["evidence"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("notActions")
    );
}

#[test]
fn access_exit_codes_follow_the_decision() {
    let demo = demo();
    let registry = "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.ContainerRegistry/registries/mlacrdev";
    // dev-cluster-4: Contributor at the subscription.
    amlaudit()
        .args(["access", "--snapshot"])
        .arg(&demo)
        .args([
            "--principal",
            "93842ea6-95b9-4bd7-bbc4-bb7d683337d3",
            "--scope",
            registry,
        ])
        .assert()
        .code(0);
    // dev-cluster: AcrPull at resource group `rg-ml`, a string prefix of `rg-ml-dev` but not its parent.
    amlaudit()
        .args(["access", "--snapshot"])
        .arg(&demo)
        .args([
            "--principal",
            "07ddd33d-2e9e-466d-abce-3acd197f957f",
            "--scope",
            registry,
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("DENIED"));
    // dev-cluster-3: its assignment names a role defined nowhere.
    amlaudit()
        .args(["access", "--snapshot"])
        .arg(&demo)
        .args([
            "--principal",
            "217c384d-7e40-434a-a184-db174e0ca487",
            "--scope",
            registry,
        ])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("UNKNOWN"))
        .stdout(predicate::str::contains(
            "neither in the snapshot nor a known built-in role",
        ));
    // train-cmk: Reader at management group contoso-ml, whose containment the snapshot records.
    amlaudit()
        .args(["access", "--snapshot"])
        .arg(&demo)
        .args([
            "--principal",
            "51799876-c0ed-4e71-8c34-6fa115743f59",
            "--scope",
            "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c/resourceGroups/rg-ml-prod/providers/Microsoft.ContainerRegistry/registries/mlacrcmk",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("managementGroups/contoso-ml"));
}

#[test]
fn data_actions_are_asked_with_a_flag() {
    let storage = "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c/resourceGroups/rg-ml-prod/providers/Microsoft.Storage/storageAccounts/stmlprodcmk";
    let out = amlaudit()
        .args(["access", "--format", "json", "--data-action", "--snapshot"])
        .arg(demo())
        .args([
            "--principal",
            "3af9f30c-5a66-4477-bda9-d8c096d38ff5",
            "--scope",
            storage,
            "--action",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        ])
        .output()
        .unwrap();
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["data_action"], true);
    assert!(
        matches!(d["decision"].as_str(), Some("granted" | "denied")),
        "{d}"
    );
}

#[test]
fn the_arm_examples_from_the_rest_specs_import() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let files = [
        "role-assignments-list.json",
        "role-definition.json",
        "registries-list.json",
        "registry-get.json",
        "managed-cluster-get.json",
        "workspace-get.json",
        "computes-list.json",
        "connections-list.json",
        "identity-get.json",
        "resource-graph-page.json",
    ]
    .map(|f| data(&format!("arm/{f}")));
    amlaudit()
        .args(["import", "--output"])
        .arg(&out)
        .args(files)
        .assert()
        .success();
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let resources = snapshot["resources"].as_array().unwrap();
    assert!(resources.len() >= 12, "{}", resources.len());
    assert!(
        resources
            .iter()
            .all(|r| r["id"].is_string() && r["type"].is_string())
    );
    // Without --subscription nothing is vouched for as complete.
    assert_eq!(snapshot["scopes"].as_array().unwrap().len(), 0);
}

#[test]
fn bad_input_names_the_file_and_place_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\n  \"value\": [\n    {\"id\": \"/subscriptions/x\",\n  ]\n}\n",
    )
    .unwrap();
    amlaudit()
        .args(["import", "--output"])
        .arg(&out)
        .arg(&broken)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.json:4:3: not valid JSON"));
    assert!(!out.exists());

    let no_type = dir.path().join("no-type.json");
    std::fs::write(&no_type, r#"{"value": [{"id": "/subscriptions/x/resourceGroups/rg/providers/A.B/c/d", "type": "A.B/c"}, {"name": "nameless"}]}"#).unwrap();
    amlaudit()
        .args(["import", "--output"])
        .arg(&out)
        .arg(data("az/acr-show.json"))
        .arg(&no_type)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no-type.json: at $.value[1]: missing `id`",
        ));
    assert!(!out.exists());

    let bad_snapshot = dir.path().join("bad-snapshot.json");
    std::fs::write(
        &bad_snapshot,
        r#"{"amlaudit_snapshot": 1, "collected_at": "2026-01-01T00:00:00Z", "resources": [{"id": "/a", "type": "T"}, {"type": "T"}, {"id": "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x", "type": "Microsoft.Authorization/roleAssignments", "properties": {"principalId": "p"}}]}"#,
    )
    .unwrap();
    amlaudit()
        .args([
            "access",
            "--principal",
            "3c9b1a7e-52d4-4f8a-b6e0-9d2c4a1f7e35",
            "--scope",
            "/subscriptions/s/resourceGroups/rg",
            "--snapshot",
        ])
        .arg(&bad_snapshot)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad-snapshot.json:1:107: at $.resources[1]: missing `id`",
        ))
        .stderr(predicate::str::contains(
            "bad-snapshot.json:1:122: at $.resources[2].properties.roleDefinitionId",
        ));
}

#[test]
fn help_reads_well() {
    amlaudit()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("import"))
        .stdout(predicate::str::contains("access"))
        .stdout(predicate::str::contains("Exit status"));
    amlaudit()
        .args(["access", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Microsoft.ContainerRegistry/registries/pull/read",
        ));
}

// ---- issue 10 / 15: the pull question, near misses, classification, input checks ----

const S1: &str = "b61e6ba5-3682-4dd6-b804-69b84b2d451c";
const ACR_ABAC: &str = "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c/resourceGroups/rg-ml-abac/providers/Microsoft.ContainerRegistry/registries/mlacrabac";
const ACR_DEV: &str = "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.ContainerRegistry/registries/mlacrdev";

fn access_json(args: &[&str], code: i32) -> Value {
    let out = amlaudit()
        .args(["access", "--format", "json", "--snapshot"])
        .arg(demo())
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn access_answers_the_abac_pull_question_with_the_condition_it_evaluated() {
    // abac-cluster: Container Registry Repository Reader limited to azureml/ repositories.
    let d = access_json(
        &[
            "--principal",
            "6a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "--scope",
            ACR_ABAC,
        ],
        0,
    );
    assert_eq!(d["decision"], "granted");
    assert_eq!(d["mode"], "abac");
    assert_eq!(
        d["repositories"],
        serde_json::json!(["azureml/azureml_image"])
    );
    let grant = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["contribution"] == "grants")
        .unwrap();
    assert_eq!(grant["role_name"], "Container Registry Repository Reader");
    assert_eq!(grant["condition"]["result"], "true");
    assert_eq!(grant["condition"]["repository"], "azureml/azureml_image");
    // Another repository: the condition is false, and that is the near miss.
    let d = access_json(
        &[
            "--principal",
            "6a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "--scope",
            ACR_ABAC,
            "--repository",
            "team/base",
        ],
        1,
    );
    assert_eq!(d["evidence"][1]["near_miss"], "condition_false", "{d:#}");
    // abac-acrpull-cluster: AcrPull is not honoured in ABAC mode; the text says why.
    amlaudit()
        .args(["access", "--snapshot"])
        .arg(demo())
        .args([
            "--principal",
            "7b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            "--scope",
            ACR_ABAC,
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("DENIED"))
        .stdout(predicate::str::contains("mode abac"))
        .stdout(predicate::str::contains("AcrPull, AcrPush, AcrDelete"));
    // With --action the question is exactly that operation, by RBAC alone: AcrPull grants it.
    amlaudit()
        .args(["access", "--snapshot"])
        .arg(demo())
        .args([
            "--principal",
            "7b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            "--scope",
            ACR_ABAC,
            "--action",
            "Microsoft.ContainerRegistry/registries/pull/read",
        ])
        .assert()
        .code(0);
}

#[test]
fn access_names_the_deny_assignment_and_the_group_that_decided() {
    // quarantined-cluster: Repository Reader on the resource group, denied by a deployment stack.
    let d = access_json(
        &[
            "--principal",
            "8c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
            "--scope",
            ACR_ABAC,
        ],
        1,
    );
    assert_eq!(d["decision"], "denied");
    let deny = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "deny_assignment")
        .unwrap();
    assert_eq!(deny["contribution"], "denies");
    assert!(
        d["reasons"][0]
            .as_str()
            .unwrap()
            .contains("deny assignment")
    );
    // dev-cluster-5: AcrPull through the ml-image-pullers group.
    let d = access_json(
        &[
            "--principal",
            "9d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80",
            "--scope",
            ACR_DEV,
        ],
        0,
    );
    let grant = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["contribution"] == "grants")
        .unwrap();
    assert_eq!(grant["group_id"], "5e6f7a8b-9c0d-4e1f-8a3b-4c5d6e7f8091");
}

#[test]
fn a_denied_answer_lists_its_near_misses() {
    // dev-cluster: AcrPull at `rg-ml`, which only shares a prefix with `rg-ml-dev`.
    amlaudit()
        .args(["access", "--snapshot"])
        .arg(demo())
        .args([
            "--principal",
            "07ddd33d-2e9e-466d-abce-3acd197f957f",
            "--scope",
            ACR_DEV,
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "AcrPull (7f951dda-4ed3-4680-a7ca-43fe172d538d)",
        ))
        .stdout(predicate::str::contains("is not a parent scope"));
    let d = access_json(
        &[
            "--principal",
            "07ddd33d-2e9e-466d-abce-3acd197f957f",
            "--scope",
            ACR_DEV,
        ],
        1,
    );
    assert!(
        d["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["near_miss"] == "prefix_not_parent"),
        "{d:#}"
    );
}

#[test]
fn data_action_namespaces_are_classified_and_can_be_overridden() {
    // dev-cluster-4 holds Contributor at S2: `*` covers control-plane actions, not data actions.
    let vault = "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.KeyVault/vaults/kv-dev";
    let secret = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
    let base = [
        "--principal",
        "93842ea6-95b9-4bd7-bbc4-bb7d683337d3",
        "--scope",
        vault,
        "--action",
        secret,
    ];
    let d = access_json(&base, 1);
    assert_eq!(d["data_action"], true);
    let mut control = base.to_vec();
    control.push("--control-action");
    let d = access_json(&control, 0);
    assert_eq!(d["data_action"], false);
}

#[test]
fn access_refuses_questions_that_are_not_questions() {
    let registry = format!(
        "/subscriptions/{S1}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r"
    );
    let principal = "6a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    for (args, why) in [
        (vec!["--principal", "", "--scope", &registry], "GUID"),
        (
            vec!["--principal", "not-a-guid", "--scope", &registry],
            "GUID",
        ),
        (
            vec!["--principal", principal, "--scope", "rg/acr"],
            "not an ARM id",
        ),
        (
            vec!["--principal", principal, "--scope", "/subscriptions/s/../x"],
            "..",
        ),
        (
            vec!["--principal", principal, "--scope", "/subscriptions//s"],
            "//",
        ),
        (
            vec![
                "--principal",
                principal,
                "--scope",
                "/subscriptions/s\u{1b}[2J",
            ],
            "control",
        ),
        (
            vec![
                "--principal",
                principal,
                "--scope",
                &registry,
                "--action",
                "",
            ],
            "empty",
        ),
        (
            vec![
                "--principal",
                principal,
                "--scope",
                &registry,
                "--action",
                "*",
            ],
            "`*`",
        ),
        (
            vec![
                "--principal",
                principal,
                "--scope",
                &registry,
                "--action",
                "Microsoft.Authorization/*",
            ],
            "`*`",
        ),
    ] {
        let out = amlaudit()
            .args(["access", "--snapshot"])
            .arg(demo())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "control characters are shown, not sent"
        );
    }
}

#[test]
fn import_reads_deny_assignment_lists_and_graph_membership_files() {
    let dir = tempfile::tempdir().unwrap();
    let deny = dir.path().join("deny.json");
    std::fs::write(
        &deny,
        serde_json::json!({"value": [{
            "id": format!("{ACR}/providers/Microsoft.Authorization/denyAssignments/d1"),
            "type": "Microsoft.Authorization/denyAssignments",
            "name": "d1",
            "properties": {
                "denyAssignmentName": "stack",
                "permissions": [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}],
                "scope": ACR,
                "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}],
                "excludePrincipals": [{"id": CPU_PRINCIPAL, "type": "ServicePrincipal"}],
                "doNotApplyToChildScopes": false
            }
        }]})
        .to_string(),
    )
    .unwrap();
    let groups = dir.path().join("groups.json");
    std::fs::write(
        &groups,
        serde_json::json!({
            GPU_PRINCIPAL: {"@odata.context": "x", "value": [
                {"@odata.type": "#microsoft.graph.group", "id": "11111111-2222-4333-8444-555555555555"},
                {"@odata.type": "#microsoft.graph.directoryRole", "id": "66666666-2222-4333-8444-555555555555"}
            ]},
            CPU_PRINCIPAL: {"value": ["77777777-2222-4333-8444-555555555555"], "@odata.nextLink": "https://graph.microsoft.com/next"}
        })
        .to_string(),
    )
    .unwrap();
    let out = dir.path().join("snapshot.json");
    amlaudit()
        .args(["import", "--subscription", SUB, "--output"])
        .arg(&out)
        .args(
            [
                "az/role-assignment-list.json",
                "az/role-definition-list.json",
                "az/acr-show.json",
            ]
            .map(data),
        )
        .arg(&deny)
        .arg(&groups)
        .assert()
        .success();
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(snapshot["scopes"][0]["deny_assignments"], "read");
    assert_eq!(
        snapshot["directory"]["group_memberships"][GPU_PRINCIPAL],
        serde_json::json!(["11111111-2222-4333-8444-555555555555"])
    );
    assert!(snapshot["directory"]["group_memberships"][CPU_PRINCIPAL].is_null());
    assert_eq!(
        snapshot["directory"]["errors"][0]["principal_id"],
        CPU_PRINCIPAL
    );
    // The Everyone deny assignment now decides the GPU identity's pull; the CPU one is excluded.
    let d: Value = serde_json::from_slice(
        &amlaudit()
            .args(["access", "--format", "json", "--snapshot"])
            .arg(&out)
            .args([
                "--principal",
                GPU_PRINCIPAL,
                "--scope",
                ACR,
                "--action",
                "Microsoft.ContainerRegistry/registries/pull/read",
            ])
            .assert()
            .code(1)
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(d["decision"], "denied");
    // An empty deny list names no subscription: the user vouches for it.
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, r#"{"value": []}"#).unwrap();
    let out2 = dir.path().join("snapshot2.json");
    amlaudit()
        .args([
            "import",
            "--subscription",
            SUB,
            "--deny-assignments-listed",
            SUB,
            "--output",
        ])
        .arg(&out2)
        .arg(data("az/acr-show.json"))
        .arg(&empty)
        .assert()
        .success();
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&out2).unwrap()).unwrap();
    assert_eq!(snapshot["scopes"][0]["deny_assignments"], "read");
}

/// What `az resource list` gives (`properties: null` everywhere) supports no pass and no
/// not_applicable: every rule that needs a property says unknown, naming it.
#[test]
fn a_scan_of_plain_az_resource_list_output_passes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.json");
    amlaudit()
        .args(["import", "--subscription", SUB, "--output"])
        .arg(&snapshot)
        .arg(data("az/resource-list.json"))
        .assert()
        .success();
    let out = dir.path().join("reports");
    amlaudit()
        .arg("scan")
        .arg("--snapshot")
        .arg(&snapshot)
        .arg("--out-dir")
        .arg(&out)
        .assert()
        .code(3);
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    let by_rule =
        |rule: &str| -> Vec<&Value> { results.iter().filter(|r| r["rule_id"] == rule).collect() };
    assert!(!results.is_empty());
    for result in results {
        assert_eq!(
            result["status"], "unknown",
            "{} on {}: {}",
            result["rule_id"], result["resource_name"], result["message"]
        );
    }
    // The registry, and each rule on the workspace, name what is missing.
    assert!(
        by_rule("AML001")[0]["message"]
            .as_str()
            .unwrap()
            .contains("has no properties")
    );
    for rule in ["AML004", "AML006", "AML007"] {
        let on_workspace = by_rule(rule);
        assert_eq!(on_workspace.len(), 1, "{rule}");
        assert!(
            on_workspace[0]["message"]
                .as_str()
                .unwrap()
                .contains("workspace `mlw` has no properties"),
            "{rule}: {}",
            on_workspace[0]["message"]
        );
    }
}
