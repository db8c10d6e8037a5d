//! The effective-permission engine's semantics, pinned case by case.

use amlaudit::inventory::RoleAssignment;
use amlaudit::inventory::{Inventory, Snapshot};
use amlaudit::permissions::{
    ACR_PULL_ACTION, ACR_REPOSITORY_READ_DATA_ACTION, Action, Contribution, Decision, EvidenceKind,
    NearMiss, PermissionIndex, RegistryMode,
};
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
    // The near miss is named: a scope that only shares a prefix with the registry's.
    assert_eq!(d.evidence.len(), 1);
    assert_eq!(d.evidence[0].near_miss, Some(NearMiss::PrefixNotParent));
    assert_eq!(d.evidence[0].contribution, Contribution::DoesNotGrant);
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
fn a_permission_block_with_a_condition_is_unknown_not_granted() {
    let acr = registry(SUB, "rg");
    let guid = "c0c0c0c0-0000-4000-8000-000000000003";
    let role = json!({
        "id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
        "type": "Microsoft.Authorization/roleDefinitions",
        "name": guid,
        "properties": {"roleName": "Conditional puller", "type": "CustomRole", "permissions": [
            {"actions": ["Microsoft.ContainerRegistry/registries/pull/read"],
             "condition": "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/pull/read'})))",
             "conditionVersion": "2.0"},
            {"actions": ["Microsoft.ContainerRegistry/registries/read"]}
        ]}
    });
    let idx = index(vec![role.clone(), assignment(1, &acr, guid)]);
    let decision = pull(&idx, &acr);
    assert_eq!(decision.decision, Decision::Unknown, "{decision:?}");
    assert!(
        decision
            .evidence
            .iter()
            .any(|e| e.contribution == Contribution::Inconclusive
                && e.detail.contains("condition amlaudit does not evaluate")),
        "{decision:?}"
    );
    // The unconditional block still answers what it grants.
    let read = idx.check(
        PRINCIPAL,
        &acr,
        &Action::control("Microsoft.ContainerRegistry/registries/read"),
    );
    assert_eq!(read.decision, Decision::Granted);

    // A built-in role's conditional block is kept, and unknown too: Key Vault Data Access
    // Administrator may write role assignments only under its condition.
    const KV_DATA_ACCESS_ADMIN: &str = "8b54135c-b56d-4d72-a534-26097cfdc8d8";
    let vault =
        format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1");
    let idx = index(vec![assignment(2, &vault, KV_DATA_ACCESS_ADMIN)]);
    let write = idx.check(
        PRINCIPAL,
        &vault,
        &Action::control("Microsoft.Authorization/roleAssignments/write"),
    );
    assert_eq!(write.decision, Decision::Unknown, "{write:?}");
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
    assert!(
        d.reasons[0].contains("names no repository"),
        "{:?}",
        d.reasons
    );
    assert_eq!(d.evidence[0].condition.as_ref().unwrap().result, "unknown");
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
fn a_planned_principal_has_nothing_the_snapshot_did_not_read() {
    let planned = "planned:/subscriptions/33333333-3333-4333-8333-333333333333/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c";
    let uncovered = registry("33333333-3333-4333-8333-333333333333", "rg");
    let idx = index(vec![]);
    let action = Action::control(ACR_PULL_ACTION);
    // An existing principal in an uncovered subscription: unknown. A planned one: denied.
    assert_eq!(
        idx.check(PRINCIPAL, &uncovered, &action).decision,
        Decision::Unknown
    );
    let d = idx.check(planned, &uncovered, &action);
    assert_eq!(d.decision, Decision::Denied, "{d:?}");
    // Asked as a pull of a registry the snapshot does not hold, anonymous pull might allow it.
    let d = idx.check_pull(planned, &uncovered, &[]);
    assert_eq!(d.decision, Decision::Unknown, "{d:?}");
    assert!(d.reasons[0].contains("anonymous pull"), "{d:?}");
    // A registry the snapshot holds, without anonymous pull: denied.
    let held = registry_resource(&uncovered, Some("LegacyRegistryPermissions"), false);
    let idx = index(vec![held]);
    assert_eq!(
        idx.check_pull(planned, &uncovered, &[]).decision,
        Decision::Denied
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

// ---- issue 10: ABAC registries, conditions, groups, deny assignments, real operations ----

const REPO_READER: &str = "b93aa761-3e63-49ed-ac28-beffa264f7ac";
const GROUP: &str = "99999999-0000-4000-8000-000000000009";
const AZUREML_ONLY: &str = "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'azureml/'))";

fn registry_resource(id: &str, mode: Option<&str>, anonymous: bool) -> Value {
    let mut props = json!({"loginServer": "acr1.azurecr.io", "anonymousPullEnabled": anonymous});
    if let Some(m) = mode {
        props["roleAssignmentMode"] = json!(m);
    }
    json!({"id": id, "type": "Microsoft.ContainerRegistry/registries", "properties": props})
}

fn snapshot_index(resources: Vec<Value>, directory: Value, deny_read: bool) -> PermissionIndex {
    let mut scope = json!({"subscription_id": SUB, "status": "complete"});
    if deny_read {
        scope["deny_assignments"] = json!("read");
    }
    let snapshot: Snapshot = serde_json::from_value(json!({
        "amlaudit_snapshot": 1,
        "collected_at": "2026-11-01T00:00:00Z",
        "scopes": [scope],
        "resources": resources,
        "directory": directory,
    }))
    .unwrap();
    PermissionIndex::new(&Inventory::new(snapshot))
}

fn known_groups(groups: &[&str]) -> Value {
    json!({"group_memberships": {PRINCIPAL: groups}})
}

fn repos(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn deny(scope: &str, principals: Value, data_actions: &[&str], extra: Value) -> Value {
    let mut d = json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/denyAssignments/d1"),
        "type": "Microsoft.Authorization/denyAssignments",
        "name": "d1",
        "properties": {
            "denyAssignmentName": "stack deny",
            "permissions": [{"actions": ["Microsoft.ContainerRegistry/registries/pull/read"], "notActions": [], "dataActions": data_actions, "notDataActions": []}],
            "scope": scope,
            "doNotApplyToChildScopes": false,
            "principals": principals,
            "excludePrincipals": [],
        }
    });
    if let (Some(props), Some(extra)) = (d["properties"].as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            props.insert(k.clone(), v.clone());
        }
    }
    d
}

#[test]
fn abac_registries_ignore_acr_pull_and_honour_repository_roles_with_conditions() {
    let acr = registry(SUB, "rg");
    let reg = registry_resource(&acr, Some("abacrepositorypermissions"), false);
    // AcrPull and Contributor do not pull in ABAC mode.
    let index = snapshot_index(
        vec![
            reg.clone(),
            assignment(1, &acr, ACR_PULL),
            assignment(2, &acr, CONTRIBUTOR),
        ],
        known_groups(&[]),
        true,
    );
    let d = index.check_pull(PRINCIPAL, &acr, &repos(&["azureml/azureml_x"]));
    assert_eq!(d.decision, Decision::Denied, "{:#?}", d);
    assert_eq!(d.mode, Some(RegistryMode::Abac));
    assert!(
        d.evidence
            .iter()
            .any(|e| e.kind == EvidenceKind::RegistryMode
                && e.detail.contains("ABAC repository mode"))
    );
    // Repository Reader with an azureml/ condition: granted for azureml/ repositories only.
    let mut reader = assignment(3, &acr, REPO_READER);
    reader["properties"]["condition"] = json!(AZUREML_ONLY);
    reader["properties"]["conditionVersion"] = json!("2.0");
    let index = snapshot_index(vec![reg, reader], known_groups(&[]), true);
    let d = index.check_pull(PRINCIPAL, &acr, &repos(&["azureml/azureml_x"]));
    assert_eq!(d.decision, Decision::Granted, "{:#?}", d);
    let grant = d
        .evidence
        .iter()
        .find(|e| e.contribution == Contribution::Grants)
        .unwrap();
    assert_eq!(grant.condition.as_ref().unwrap().result, "true");
    assert_eq!(
        grant.condition.as_ref().unwrap().repository.as_deref(),
        Some("azureml/azureml_x")
    );
    // Granted only when the condition holds for every repository asked about.
    let d = index.check_pull(PRINCIPAL, &acr, &repos(&["azureml/a", "base/python"]));
    assert_eq!(d.decision, Decision::Denied, "{:#?}", d);
    assert!(
        d.evidence
            .iter()
            .any(|e| e.near_miss == Some(NearMiss::ConditionFalse))
    );
    // No repository named: a condition on the repository name cannot be decided.
    let d = index.check_pull(PRINCIPAL, &acr, &[]);
    assert_eq!(d.decision, Decision::Unknown, "{:#?}", d);
    assert!(d.reasons.iter().any(|r| r.contains("names no repository")));
}

#[test]
fn an_unknown_registry_mode_asks_both_and_agrees_or_is_unknown() {
    let acr = registry(SUB, "rg");
    // AcrPull pulls in legacy mode only: the modes disagree.
    let index = snapshot_index(
        vec![
            registry_resource(&acr, None, false),
            assignment(1, &acr, ACR_PULL),
        ],
        known_groups(&[]),
        true,
    );
    let d = index.check_pull(PRINCIPAL, &acr, &repos(&["azureml/x"]));
    assert_eq!(d.decision, Decision::Unknown);
    assert_eq!(d.mode, Some(RegistryMode::Unknown));
    assert!(
        d.reasons[0].contains("granted in legacy mode"),
        "{:?}",
        d.reasons
    );
    assert!(
        d.evidence
            .iter()
            .any(|e| e.mode == Some(RegistryMode::Legacy))
    );
    assert!(
        d.evidence
            .iter()
            .any(|e| e.mode == Some(RegistryMode::Abac))
    );
    // AcrPull plus an unconditioned Repository Reader pull in both: granted.
    let index = snapshot_index(
        vec![
            registry_resource(&acr, None, false),
            assignment(1, &acr, ACR_PULL),
            assignment(2, &acr, REPO_READER),
        ],
        known_groups(&[]),
        true,
    );
    assert_eq!(
        index
            .check_pull(PRINCIPAL, &acr, &repos(&["azureml/x"]))
            .decision,
        Decision::Granted
    );
    // A registry the snapshot does not hold: both modes too.
    let other = registry(SUB, "rg2");
    let d = index.check_pull(PRINCIPAL, &other, &[]);
    assert_eq!(d.mode, Some(RegistryMode::Unknown));
    // Legacy mode asks the action, by name (case-insensitively).
    let index = snapshot_index(
        vec![
            registry_resource(&acr, Some("LEGACYREGISTRYPERMISSIONS"), false),
            assignment(1, &acr, ACR_PULL),
        ],
        known_groups(&[]),
        true,
    );
    let d = index.check_pull(PRINCIPAL, &acr, &repos(&["azureml/x"]));
    assert_eq!(d.decision, Decision::Granted);
    assert_eq!(d.mode, Some(RegistryMode::Legacy));
    assert_eq!(d.action, ACR_PULL_ACTION);
}

#[test]
fn anonymous_pull_grants_anyone_unless_a_deny_assignment_applies() {
    let acr = registry(SUB, "rg");
    let reg = registry_resource(&acr, Some("LegacyRegistryPermissions"), true);
    let index = snapshot_index(vec![reg.clone()], known_groups(&[]), true);
    let d = index.check_pull(PRINCIPAL, &acr, &[]);
    assert_eq!(d.decision, Decision::Granted);
    assert!(d.summary().contains("anonymous pull"), "{}", d.summary());
    let index = snapshot_index(
        vec![
            reg,
            deny(
                &acr,
                json!([{"id": PRINCIPAL, "type": "ServicePrincipal"}]),
                &[],
                json!({}),
            ),
        ],
        known_groups(&[]),
        true,
    );
    let d = index.check_pull(PRINCIPAL, &acr, &[]);
    assert_eq!(d.decision, Decision::Denied, "{:#?}", d);
}

#[test]
fn group_assignments_grant_members_and_unknown_memberships_are_unknown() {
    let acr = registry(SUB, "rg");
    let mut group_pull = assignment(1, &acr, ACR_PULL);
    group_pull["properties"]["principalId"] = json!(GROUP);
    group_pull["properties"]["principalType"] = json!("Group");
    let action = Action::control(ACR_PULL_ACTION);
    // A member: granted through the group, and the evidence names it.
    let index = snapshot_index(vec![group_pull.clone()], known_groups(&[GROUP]), true);
    let d = index.check(PRINCIPAL, &acr, &action);
    assert_eq!(d.decision, Decision::Granted);
    assert_eq!(d.evidence[0].group_id.as_deref(), Some(GROUP));
    assert!(d.summary().contains(GROUP));
    // Known not to be a member: denied.
    let index = snapshot_index(vec![group_pull.clone()], known_groups(&[]), true);
    assert_eq!(
        index.check(PRINCIPAL, &acr, &action).decision,
        Decision::Denied
    );
    // Memberships unknown: unknown, never denied, naming the group assignment.
    let index = snapshot_index(vec![group_pull], json!({}), true);
    let d = index.check(PRINCIPAL, &acr, &action);
    assert_eq!(d.decision, Decision::Unknown);
    assert_eq!(d.evidence[0].near_miss, Some(NearMiss::MembershipUnknown));
    assert!(d.reasons[0].contains(GROUP), "{:?}", d.reasons);
}

#[test]
fn deny_assignments_override_grants_and_follow_their_rules() {
    let acr = registry(SUB, "rg");
    let rg = format!("/subscriptions/{SUB}/resourceGroups/rg");
    let action = Action::control(ACR_PULL_ACTION);
    let me = json!([{"id": PRINCIPAL, "type": "ServicePrincipal"}]);
    let check = |resources: Vec<Value>, directory: Value| {
        let mut all = vec![assignment(1, &acr, ACR_PULL)];
        all.extend(resources);
        snapshot_index(all, directory, true).check(PRINCIPAL, &acr, &action)
    };
    // Applies at an ancestor scope: denied, whatever grants.
    let d = check(
        vec![deny(&rg, me.clone(), &[], json!({}))],
        known_groups(&[]),
    );
    assert_eq!(d.decision, Decision::Denied);
    let e = d
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::DenyAssignment)
        .unwrap();
    assert_eq!(e.contribution, Contribution::Denies);
    assert!(d.reasons[0].contains("deny assignment"));
    // Everyone, and through a group.
    let everyone = json!([{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}]);
    assert_eq!(
        check(
            vec![deny(&rg, everyone.clone(), &[], json!({}))],
            known_groups(&[])
        )
        .decision,
        Decision::Denied
    );
    let group = json!([{"id": GROUP, "type": "Group"}]);
    assert_eq!(
        check(
            vec![deny(&rg, group.clone(), &[], json!({}))],
            known_groups(&[GROUP])
        )
        .decision,
        Decision::Denied
    );
    // Group membership unknown: the grant becomes unknown.
    assert_eq!(
        check(vec![deny(&rg, group, &[], json!({}))], json!({})).decision,
        Decision::Unknown
    );
    // Excluded principals, child scopes, other actions and audit-only denies deny nothing.
    let excluded = json!({"excludePrincipals": [{"id": PRINCIPAL, "type": "ServicePrincipal"}]});
    assert_eq!(
        check(vec![deny(&rg, everyone, &[], excluded)], known_groups(&[])).decision,
        Decision::Granted
    );
    let exact_only = json!({"doNotApplyToChildScopes": true});
    assert_eq!(
        check(
            vec![deny(&rg, me.clone(), &[], exact_only.clone())],
            known_groups(&[])
        )
        .decision,
        Decision::Granted
    );
    assert_eq!(
        check(
            vec![deny(&acr, me.clone(), &[], exact_only)],
            known_groups(&[])
        )
        .decision,
        Decision::Denied
    );
    let mut other_action = deny(&rg, me.clone(), &[], json!({}));
    other_action["properties"]["permissions"][0]["actions"] =
        json!(["Microsoft.ContainerRegistry/registries/push/write"]);
    assert_eq!(
        check(vec![other_action], known_groups(&[])).decision,
        Decision::Granted
    );
    let audit = json!({"denyAssignmentEffect": "audit"});
    assert_eq!(
        check(vec![deny(&rg, me.clone(), &[], audit)], known_groups(&[])).decision,
        Decision::Granted
    );
    // A condition on the deny assignment: it might apply, so the grant is unknown.
    let conditioned = json!({"condition": "@Resource[x:y] StringEquals 'z'"});
    assert_eq!(
        check(vec![deny(&rg, me, &[], conditioned)], known_groups(&[])).decision,
        Decision::Unknown
    );
}

#[test]
fn grants_say_when_deny_assignments_were_not_read() {
    let acr = registry(SUB, "rg");
    let index = snapshot_index(
        vec![assignment(1, &acr, ACR_PULL)],
        known_groups(&[]),
        false,
    );
    let d = index.check(PRINCIPAL, &acr, &Action::control(ACR_PULL_ACTION));
    assert_eq!(d.decision, Decision::Granted);
    assert!(
        d.evidence
            .iter()
            .any(|e| e.kind == EvidenceKind::Coverage && e.detail.contains("deny assignments"))
    );
}

#[test]
fn the_real_assign_operation_is_granted_by_managed_identity_operator_and_exact_roles() {
    let uai = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"
    );
    let assign = Action::control("Microsoft.ManagedIdentity/userAssignedIdentities/assign/action");
    let operator = assignment(1, &uai, "f1a07417-d97a-45cb-824c-7a7467783830");
    assert_eq!(
        index(vec![operator])
            .check(PRINCIPAL, &uai, &assign)
            .decision,
        Decision::Granted
    );
    let exact = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f";
    let d = index(vec![
        custom_role(
            exact,
            &["Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"],
            &[],
        ),
        assignment(2, &uai, exact),
    ])
    .check(PRINCIPAL, &uai, &assign);
    assert_eq!(d.decision, Decision::Granted);
}

#[test]
fn proposed_assignments_are_layered_without_rebuilding() {
    let acr = registry(SUB, "rg");
    let index = snapshot_index(
        vec![registry_resource(
            &acr,
            Some("AbacRepositoryPermissions"),
            false,
        )],
        known_groups(&[]),
        true,
    );
    let repos = repos(&["azureml/x"]);
    assert_eq!(
        index.check_pull(PRINCIPAL, &acr, &repos).decision,
        Decision::Denied
    );
    let acr_pull = [RoleAssignment::proposed(PRINCIPAL, ACR_PULL, &acr)];
    assert_eq!(
        index
            .check_pull_with(PRINCIPAL, &acr, &repos, &acr_pull)
            .decision,
        Decision::Denied,
        "AcrPull does not fix an ABAC registry"
    );
    let guid = amlaudit::permissions::catalogue::resolve_role(
        "container registry repository reader",
        std::iter::empty(),
    )
    .unwrap();
    assert_eq!(guid, "b93aa761-3e63-49ed-ac28-beffa264f7ac");
    let reader = [RoleAssignment::proposed(PRINCIPAL, &guid, &acr)];
    assert_eq!(
        index
            .check_pull_with(PRINCIPAL, &acr, &repos, &reader)
            .decision,
        Decision::Granted
    );
    // The same for a plain question, and the index itself is unchanged.
    let d = index.check_with(
        PRINCIPAL,
        &acr,
        &Action::data(ACR_REPOSITORY_READ_DATA_ACTION),
        &reader,
    );
    assert_eq!(d.decision, Decision::Granted);
    assert!(d.evidence.iter().any(|e| e.detail.contains("proposed")));
    assert_eq!(
        index.check_pull(PRINCIPAL, &acr, &repos).decision,
        Decision::Denied
    );
}

#[test]
fn near_misses_explain_a_denied_answer_closest_first() {
    let acr = registry(SUB, "rg-ml-dev");
    let d = index(vec![
        assignment(
            1,
            &format!("/subscriptions/{SUB}/resourceGroups/rg-ml"),
            ACR_PULL,
        ),
        assignment(2, &registry(SUB, "elsewhere"), ACR_PULL),
        assignment(3, &acr, BLOB_CONTRIBUTOR),
        custom_role(
            "c0ffee00-0000-4000-8000-000000000001",
            &["Microsoft.ContainerRegistry/*"],
            &["Microsoft.ContainerRegistry/registries/pull/read"],
        ),
        assignment(4, &acr, "c0ffee00-0000-4000-8000-000000000001"),
    ])
    .check(PRINCIPAL, &acr, &Action::control(ACR_PULL_ACTION));
    assert_eq!(d.decision, Decision::Denied);
    let kinds: Vec<NearMiss> = d.evidence.iter().filter_map(|e| e.near_miss).collect();
    assert_eq!(
        kinds,
        vec![
            NearMiss::NotActions,
            NearMiss::PrefixNotParent,
            NearMiss::WrongScope,
            NearMiss::NoMatchingPermission
        ]
    );
    // A data action asked as an action.
    let d = index(vec![assignment(1, &acr, REPO_READER)]).check(
        PRINCIPAL,
        &acr,
        &Action::control(ACR_REPOSITORY_READ_DATA_ACTION),
    );
    assert_eq!(
        d.evidence[0].near_miss,
        Some(NearMiss::DataActionAskedAsAction)
    );
}

#[test]
fn data_action_namespaces_are_classified() {
    assert!(Action::classify("Microsoft.KeyVault/vaults/secrets/getSecret/action").data);
    assert!(
        Action::classify("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read")
            .data
    );
    assert!(Action::classify(ACR_REPOSITORY_READ_DATA_ACTION).data);
    assert!(!Action::classify(ACR_PULL_ACTION).data);
    assert!(!Action::classify("Microsoft.KeyVault/vaults/read").data);
}
