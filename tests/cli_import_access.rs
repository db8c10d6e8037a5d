//! `amlaudit import` and `amlaudit access`, run as a user runs them.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const SUB: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const ACR: &str = "/subscriptions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/mlacr";
const GPU_PRINCIPAL: &str = "3c9b1a7e-52d4-4f8a-b6e0-9d2c4a1f7e35";
const CPU_PRINCIPAL: &str = "a41f7c2e-9b3d-4e6a-8c5f-1d7e3b9a2c64";

fn amlaudit() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    cmd.env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo-tenant.json")
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
        .args(["access", "--principal", "p", "--scope", "/a", "--snapshot"])
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
