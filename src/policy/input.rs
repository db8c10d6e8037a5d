//! The input document a rule sees for each resource: the resource as ARM returned it, plus the
//! related resources amlaudit resolves for it, so rules never re-implement id joins.
//!
//! Every input has `resource`, `id`, `name`, `type`, `subscription_id`, `resource_group` and
//! `coverage` (`complete`, `partial`, `failed` or `not_covered`: how completely the resource's
//! subscription was read). By type, it also has:
//! - workspace: `registry_id`, `registry`, `services` (Azure ML v1 services), `identities`;
//! - compute: `workspace`, `registry_id`, `registry`, `identities`, `cluster_id`, `cluster`;
//! - connection: `workspace`, `registry_id`, `registry`, `credential_identity`,
//!   `credential_identity_coverage`, `target_registry`;
//! - registry: `workspaces`, each `{"workspace", "services"}`, the workspaces that use it;
//! - any other child of a workspace: `workspace`, `registry_id`, `registry`.
//!
//! A related resource the snapshot does not hold is `null`, never omitted, so a rule can tell
//! "absent from the snapshot" (unknown) from "not set" (an empty id).
//! `identities` lists `{"kind": "system_assigned"|"user_assigned", "principal_id", "client_id",
//! "resource_id"}`; a principal id the snapshot does not say is `null`.

use serde_json::{Map, Value, json};

use crate::ids;
use crate::inventory::{Inventory, ScopeStatus, types};

/// Builds the input document for one resource.
pub fn input_for(inventory: &Inventory, resource: &Value) -> Value {
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ty = resource
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut doc = Map::new();
    doc.insert("id".into(), json!(id));
    doc.insert(
        "name".into(),
        resource
            .get("name")
            .cloned()
            .unwrap_or_else(|| json!(ids::short_name(id))),
    );
    doc.insert("type".into(), json!(ty));
    doc.insert("subscription_id".into(), json!(ids::subscription_of(id)));
    doc.insert("resource_group".into(), json!(ids::resource_group_of(id)));
    doc.insert("coverage".into(), json!(coverage_of(inventory, id)));

    match ty.to_ascii_lowercase().as_str() {
        types::WORKSPACE => {
            add_registry(&mut doc, inventory, Some(resource));
            let services: Vec<Value> = inventory.children_of(id, types::SERVICE).cloned().collect();
            doc.insert("services".into(), Value::Array(services));
            doc.insert(
                "identities".into(),
                Value::Array(identities(inventory, resource)),
            );
        }
        types::REGISTRY => {
            let workspaces: Vec<Value> = inventory
                .workspaces_using_registry(id)
                .map(|ws| {
                    let ws_id = ws.get("id").and_then(Value::as_str).unwrap_or_default();
                    let services: Vec<Value> = inventory
                        .children_of(ws_id, types::SERVICE)
                        .cloned()
                        .collect();
                    json!({"workspace": ws, "services": services})
                })
                .collect();
            doc.insert("workspaces".into(), Value::Array(workspaces));
        }
        lowered
            if lowered.starts_with(types::WORKSPACE) && lowered.len() > types::WORKSPACE.len() =>
        {
            let workspace = ids::parent_of(&ids::normalize(id)).and_then(|p| inventory.get(p));
            doc.insert(
                "workspace".into(),
                workspace.cloned().unwrap_or(Value::Null),
            );
            add_registry(&mut doc, inventory, workspace);
            match lowered {
                types::COMPUTE => {
                    doc.insert(
                        "identities".into(),
                        Value::Array(identities(inventory, resource)),
                    );
                    let cluster_id = str_at(resource, "/properties/resourceId");
                    doc.insert("cluster_id".into(), json!(cluster_id));
                    doc.insert("cluster".into(), lookup(inventory, cluster_id));
                }
                types::CONNECTION => {
                    let identity_id = str_at(resource, "/properties/credentials/resourceId");
                    doc.insert("credential_identity".into(), lookup(inventory, identity_id));
                    doc.insert(
                        "credential_identity_coverage".into(),
                        json!(identity_id.map(|i| coverage_of(inventory, i))),
                    );
                    let target = str_at(resource, "/properties/target");
                    let registry = target.and_then(|t| inventory.registry_by_login_server(t));
                    doc.insert(
                        "target_registry".into(),
                        registry.cloned().unwrap_or(Value::Null),
                    );
                }
                _ => {}
            }
        }
        _ => {}
    }
    doc.insert("resource".into(), resource.clone());
    Value::Object(doc)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn lookup(inventory: &Inventory, id: Option<&str>) -> Value {
    id.and_then(|i| inventory.get(i))
        .cloned()
        .unwrap_or(Value::Null)
}

fn add_registry(doc: &mut Map<String, Value>, inventory: &Inventory, workspace: Option<&Value>) {
    let registry_id = workspace.and_then(|w| str_at(w, "/properties/containerRegistry"));
    doc.insert("registry_id".into(), json!(registry_id));
    doc.insert("registry".into(), lookup(inventory, registry_id));
}

/// How completely the subscription holding `id` was read.
pub fn coverage_of(inventory: &Inventory, id: &str) -> &'static str {
    match ids::subscription_of(id).and_then(|s| inventory.coverage(&s)) {
        Some(ScopeStatus::Complete) => "complete",
        Some(ScopeStatus::Partial) => "partial",
        Some(ScopeStatus::Failed) => "failed",
        Some(ScopeStatus::NotCovered) | None => "not_covered",
    }
}

/// The managed identities of a workspace or compute, with principals resolved from the
/// identity block or, failing that, from the user-assigned identity resource.
pub fn identities(inventory: &Inventory, resource: &Value) -> Vec<Value> {
    let Some(identity) = resource.get("identity").filter(|i| i.is_object()) else {
        return Vec::new();
    };
    let kinds: Vec<String> = identity
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let mut out = Vec::new();
    if kinds.iter().any(|k| k == "systemassigned") {
        out.push(json!({
            "kind": "system_assigned",
            "principal_id": str_at(identity, "/principalId"),
            "client_id": null,
            "resource_id": null,
        }));
    }
    if kinds.iter().any(|k| k == "userassigned")
        && let Some(map) = identity
            .get("userAssignedIdentities")
            .and_then(Value::as_object)
    {
        for (uai_id, entry) in map {
            let uai = inventory.get(uai_id);
            let from_entry = |key: &str| {
                entry
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            };
            let from_uai = |key: &str| uai.and_then(|u| str_at(u, &format!("/properties/{key}")));
            out.push(json!({
                "kind": "user_assigned",
                "principal_id": from_entry("principalId").or_else(|| from_uai("principalId")),
                "client_id": from_entry("clientId").or_else(|| from_uai("clientId")),
                "resource_id": uai_id,
            }));
        }
    }
    out
}
