//! The effective-permission engine's semantics, pinned case by case.

use amlaudit::inventory::{Inventory, Snapshot};
use amlaudit::permissions::{ACR_PULL_ACTION, Action, Contribution, Decision, PermissionIndex};
use serde_json::{Value, json};

const SUB: &str = "11111111-1111-4111-8111-111111111111";
const OTHER_SUB: &str = "22222222-2222-4222-8222-222222222222";
const PRINCIPAL: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const BLOB_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

fn registry(sub: &str, rg: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/acr1"
    )
}

fn assignment(n: u32, scope: &str, role_guid: &str) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-{n:012}"),
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "principalId": PRINCIPAL,
            "principalType": "ServicePrincipal",
            "scope": scope,
            "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"),
        }
    })
}

fn custom_role(guid: &str, actions: &[&str], not_actions: &[&str]) -> Value {
    json!({
        "id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
        "type": "Microsoft.Authorization/roleDefinitions",
        "name": guid,
        "properties": {"roleName": "Custom", "type": "CustomRole", "permissions": [{"actions": actions, "notActions": not_actions}]}
    })
}

fn index_with(resources: Vec<Value>, subscriptions: Vec<Value>) -> PermissionIndex {
    let mut all = resources;
    all.extend(subscriptions);
    let snapshot: Snapshot = serde_json::from_value(json!({
        "amlaudit_snapshot": 1,
        "collected_at": "2026-11-01T00:00:00Z",
        "scopes": [{"subscription_id": SUB, "status": "complete"}, {"subscription_id": OTHER_SUB, "status": "partial"}],
        "resources": all,
    }))
    .unwrap();
    PermissionIndex::new(&Inventory::new(snapshot))
}

fn index(resources: Vec<Value>) -> PermissionIndex {
    index_with(resources, vec![])
}

fn pull(index: &PermissionIndex, scope: &str) -> amlaudit::permissions::AccessDecision {
    index.check(PRINCIPAL, scope, &Action::control(ACR_PULL_ACTION))
}

#[test]
fn assignment_on_the_resource_itself_grants() {
    let acr = registry(SUB, "rg");
    let d = pull(&index(vec![assignment(1, &acr, ACR_PULL)]), &acr);
    assert_eq!(d.decision, Decision::Granted);
    assert_eq!(d.evidence[0].role_name.as_deref(), Some("AcrPull"));
    assert!(
        d.evidence[0]
            .detail
            .contains("Microsoft.ContainerRegistry/registries/pull/read")
    );
}

#[test]
fn resource_group_and_subscription_scopes_are_inherited() {
    let acr = registry(SUB, "rg");
    assert_eq!(
        pull(
            &index(vec![assignment(
                1,
                &format!("/subscriptions/{SUB}/resourceGroups/rg"),
                ACR_PULL
            )]),
            &acr
        )
        .decision,
        Decision::Granted
    );
    assert_eq!(
        pull(
            &index(vec![assignment(
                1,
                &format!("/subscriptions/{SUB}"),
                ACR_PULL
            )]),
            &acr
        )
        .decision,
        Decision::Granted
    );
    assert_eq!(
        pull(&index(vec![assignment(1, "/", ACR_PULL)]), &acr).decision,
        Decision::Granted
    );
}

#[test]
fn a_string_prefix_that_is_not_a_parent_does_not_count() {
    let acr = registry(SUB, "rg-ml-dev");
    let d = pull(
        &index(vec![assignment(
            1,
            &format!("/subscriptions/{SUB}/resourceGroups/rg-ml"),
            ACR_PULL,
        )]),
        &acr,
    );
    assert_eq!(d.decision, Decision::Denied);
    assert!(d.evidence.is_empty());
    // Nor does a sibling resource whose name extends this one's.
    let d = pull(
        &index(vec![assignment(1, &format!("{acr}2"), ACR_PULL)]),
        &acr,
    );
    assert_eq!(d.decision, Decision::Denied);
}

#[test]
fn ids_role_guids_and_principals_compare_case_insensitively() {
    let acr = registry(SUB, "RG");
    let upper_scope = format!("/SUBSCRIPTIONS/{}/resourcegroups/rg", SUB.to_uppercase());
    let idx = index(vec![assignment(1, &upper_scope, &ACR_PULL.to_uppercase())]);
    assert_eq!(
        idx.check(
            &PRINCIPAL.to_uppercase(),
            &acr,
            &Action::control(ACR_PULL_ACTION)
        )
        .decision,
        Decision::Granted
    );
}

#[test]
fn readers_star_read_covers_pull_but_not_push() {
    let acr = registry(SUB, "rg");
    let idx = index(vec![assignment(1, &acr, READER)]);
    assert_eq!(pull(&idx, &acr).decision, Decision::Granted);
    let push = idx.check(
        PRINCIPAL,
        &acr,
        &Action::control("Microsoft.ContainerRegistry/registries/push/write"),
    );
    assert_eq!(push.decision, Decision::Denied);
}

#[test]
fn not_actions_remove_what_actions_grant() {
    let acr = registry(SUB, "rg");
    let guid = "c0c0c0c0-0000-4000-8000-000000000001";
    let idx = index(vec![
        custom_role(
            guid,
            &["Microsoft.ContainerRegistry/*"],
            &["Microsoft.ContainerRegistry/registries/pull/read"],
        ),
        assignment(1, &acr, guid),
    ]);
    let d = pull(&idx, &acr);
    assert_eq!(d.decision, Decision::Denied);
    assert!(
        d.evidence[0].detail.contains("notActions"),
        "{}",
        d.evidence[0].detail
    );
    // Contributor's notActions only cover Microsoft.Authorization writes: pull stays granted.
    let idx = index(vec![assignment(2, &acr, CONTRIBUTOR)]);
    assert_eq!(pull(&idx, &acr).decision, Decision::Granted);
    let write_rbac = idx.check(
        PRINCIPAL,
        &acr,
        &Action::control("Microsoft.Authorization/roleAssignments/write"),
    );
    assert_eq!(write_rbac.decision, Decision::Denied);
}

#[test]
fn wildcards_in_custom_roles() {
    let acr = registry(SUB, "rg");
    let guid = "c0c0c0c0-0000-4000-8000-000000000002";
    let idx = index(vec![
        custom_role(
            guid,
            &["microsoft.containerregistry/registries/*/READ"],
            &[],
        ),
        assignment(1, &acr, guid),
    ]);
    assert_eq!(pull(&idx, &acr).decision, Decision::Granted);
}

#[test]
fn a_snapshot_definition_overrides_the_catalogue() {
    let acr = registry(SUB, "rg");
    // A tenant whose "AcrPull" GUID resolves to a definition without pull must not be trusted blindly.
    let idx = index(vec![
        custom_role(
            ACR_PULL,
            &["Microsoft.ContainerRegistry/registries/read"],
            &[],
        ),
        assignment(1, &acr, ACR_PULL),
    ]);
    assert_eq!(pull(&idx, &acr).decision, Decision::Denied);
}

#[test]
fn data_actions_answer_only_data_questions() {
    let storage = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"
    );
    let idx = index(vec![assignment(1, &storage, BLOB_CONTRIBUTOR)]);
    let blob_write = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write";
    assert_eq!(
        idx.check(PRINCIPAL, &storage, &Action::data(blob_write))
            .decision,
        Decision::Granted
    );
    // The same string as a control-plane action is not granted by dataActions.
    assert_eq!(
        idx.check(PRINCIPAL, &storage, &Action::control(blob_write))
            .decision,
        Decision::Denied
    );
    // Owner (`*` in actions) grants no data action.
    let idx = index(vec![assignment(
        2,
        &storage,
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    )]);
    assert_eq!(
        idx.check(PRINCIPAL, &storage, &Action::data(blob_write))
            .decision,
        Decision::Denied
    );
}

#[test]
fn conditional_assignments_are_unknown_not_granted() {
    let acr = registry(SUB, "rg");
    let mut a = assignment(1, &acr, ACR_PULL);
    a["properties"]["condition"] = json!(
        "@Resource[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'x'"
    );
    let d = pull(&index(vec![a]), &acr);
    assert_eq!(d.decision, Decision::Unknown);
    assert_eq!(d.evidence[0].contribution, Contribution::Inconclusive);
    assert!(d.reasons[0].contains("ABAC condition"));
}

#[test]
fn a_condition_on_a_role_that_cannot_grant_is_irrelevant() {
    let acr = registry(SUB, "rg");
    let mut a = assignment(1, &acr, "8311e382-0749-4cb8-b61a-304f252e45ec");
    a["properties"]["condition"] = json!("true");
    let d = index(vec![a]).check(
        PRINCIPAL,
        &acr,
        &Action::control("Microsoft.ContainerRegistry/registries/artifacts/delete"),
    );
    assert_eq!(d.decision, Decision::Denied);
}

#[test]
fn missing_role_definitions_are_unknown() {
    let acr = registry(SUB, "rg");
    let d = pull(
        &index(vec![assignment(
            1,
            &acr,
            "deadbeef-0000-4000-8000-000000000000",
        )]),
        &acr,
    );
    assert_eq!(d.decision, Decision::Unknown);
    assert!(
        d.evidence[0]
            .detail
            .contains("neither in the snapshot nor a known built-in role")
    );
}

#[test]
fn a_grant_wins_over_an_unknown() {
    let acr = registry(SUB, "rg");
    let d = pull(
        &index(vec![
            assignment(1, &acr, "deadbeef-0000-4000-8000-000000000000"),
            assignment(2, &acr, ACR_PULL),
        ]),
        &acr,
    );
    assert_eq!(d.decision, Decision::Granted);
}

#[test]
fn uncovered_or_partial_subscriptions_are_unknown() {
    let partial = registry(OTHER_SUB, "rg");
    assert_eq!(pull(&index(vec![]), &partial).decision, Decision::Unknown);
    let uncovered = registry("33333333-3333-4333-8333-333333333333", "rg");
    let d = pull(&index(vec![]), &uncovered);
    assert_eq!(d.decision, Decision::Unknown);
    assert!(d.reasons[0].contains("not covered"));
    // A grant is a grant even in a partial subscription.
    assert_eq!(
        pull(&index(vec![assignment(1, &partial, ACR_PULL)]), &partial).decision,
        Decision::Granted
    );
}

#[test]
fn management_group_assignments_need_known_ancestry() {
    let acr = registry(SUB, "rg");
    let mg = "/providers/Microsoft.Management/managementGroups/corp-ml";
    let sub_with_chain = json!({
        "id": format!("/subscriptions/{SUB}"), "type": "Microsoft.Resources/subscriptions",
        "properties": {"managementGroupAncestorsChain": [{"name": "Corp-ML"}, {"name": "tenant-root"}]}
    });
    let sub_elsewhere = json!({
        "id": format!("/subscriptions/{SUB}"), "type": "Microsoft.Resources/subscriptions",
        "properties": {"managementGroupAncestorsChain": [{"name": "other"}]}
    });
    assert_eq!(
        pull(
            &index_with(vec![assignment(1, mg, READER)], vec![sub_with_chain]),
            &acr
        )
        .decision,
        Decision::Granted
    );
    assert_eq!(
        pull(
            &index_with(vec![assignment(1, mg, READER)], vec![sub_elsewhere]),
            &acr
        )
        .decision,
        Decision::Denied
    );
    let d = pull(&index(vec![assignment(1, mg, READER)]), &acr);
    assert_eq!(d.decision, Decision::Unknown);
    assert!(d.reasons[0].contains("management group"), "{:?}", d.reasons);
}

#[test]
fn other_principals_assignments_do_not_count() {
    let acr = registry(SUB, "rg");
    let idx = index(vec![assignment(1, &acr, ACR_PULL)]);
    assert_eq!(
        idx.check(
            "bbbbbbbb-0000-4000-8000-000000000002",
            &acr,
            &Action::control(ACR_PULL_ACTION)
        )
        .decision,
        Decision::Denied
    );
}
