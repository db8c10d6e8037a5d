//! The input document a rule sees for each resource: the resource as ARM returned it, plus the
//! related resources amlaudit resolves for it, so rules never re-implement id joins.
//!
//! Every input has `resource`, `id`, `name`, `type`, `subscription_id`, `resource_group` and
//! `coverage` (`complete`, `partial`, `failed` or `not_covered`: how completely the resource's
//! subscription was read). By type, it also has:
//! - workspace: `registry_id`, `registry`, `services` (Azure ML v1 services), `identities`,
//!   `key_vault` (the vault of `properties.keyVault`), `cmk_key_vault` (the vault of
//!   `properties.encryption.keyVaultProperties.keyVaultArmId`);
//! - compute: `workspace`, `registry_id`, `registry`, `identities`, `cluster_id`, `cluster`,
//!   `service_principal_app_id` (the cluster's `servicePrincipalProfile.clientId` when it is not
//!   `msi`) and `service_principal_object_id` (its object id from the snapshot's directory);
//! - connection: `workspace`, `registry_id`, `registry`, `credential` (`{"resource_id",
//!   "client_id"}` of the connection's identity, from `credentials` or from the v1 SDK's
//!   `RegistryConnection` `value`, any key casing, possibly a JSON string), `credential_identity`,
//!   `credential_identity_coverage`, `target_registry`;
//! - registry: `workspaces`, each `{"workspace", "services"}`, the workspaces that use it, and
//!   `workspaces_without_properties` in the same shape: workspaces whose registry is not known;
//! - any other child of a workspace: `workspace`, `registry_id`, `registry`.
//!
//! A related resource the snapshot does not hold is `null`, never omitted, so a rule can tell
//! "absent from the snapshot" (unknown) from "not set" (an empty id).
//! `identities` lists `{"kind": "system_assigned"|"user_assigned", "principal_id", "client_id",
//! "resource_id"}`; a principal id the snapshot does not say is `null`.

use serde_json::{Map, Value, json};

use crate::ids;
use crate::inventory::{InventoryView, ScopeStatus, types};

/// Builds the input document for one resource.
pub fn input_for(inventory: &impl InventoryView, resource: &Value) -> Value {
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
            let services: Vec<Value> = inventory
                .children(id, types::SERVICE)
                .into_iter()
                .cloned()
                .collect();
            doc.insert("services".into(), Value::Array(services));
            doc.insert(
                "identities".into(),
                Value::Array(identities(inventory, resource)),
            );
            doc.insert(
                "key_vault".into(),
                lookup(inventory, str_at(resource, "/properties/keyVault")),
            );
            doc.insert(
                "cmk_key_vault".into(),
                lookup(
                    inventory,
                    str_at(
                        resource,
                        "/properties/encryption/keyVaultProperties/keyVaultArmId",
                    ),
                ),
            );
        }
        types::REGISTRY => {
            let workspaces: Vec<Value> = inventory
                .workspaces_of_registry(id)
                .into_iter()
                .map(|ws| with_services(inventory, ws))
                .collect();
            doc.insert("workspaces".into(), Value::Array(workspaces));
            let unresolved: Vec<Value> = inventory
                .workspaces_without_properties()
                .into_iter()
                .map(|ws| with_services(inventory, ws))
                .collect();
            doc.insert(
                "workspaces_without_properties".into(),
                Value::Array(unresolved),
            );
        }
        lowered
            if lowered.starts_with(types::WORKSPACE) && lowered.len() > types::WORKSPACE.len() =>
        {
            let workspace = ids::parent_of(&ids::normalize(id)).and_then(|p| inventory.resource(p));
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
                    let cluster = lookup(inventory, cluster_id);
                    let app_id = str_at(&cluster, "/properties/servicePrincipalProfile/clientId")
                        .filter(|c| !c.eq_ignore_ascii_case("msi"));
                    doc.insert("service_principal_app_id".into(), json!(app_id));
                    doc.insert(
                        "service_principal_object_id".into(),
                        json!(app_id.and_then(|a| inventory.service_principal_object_id(a))),
                    );
                    doc.insert("cluster".into(), cluster);
                }
                types::CONNECTION => {
                    let (identity_id, client_id) = connection_identity(resource);
                    let identity_id = identity_id.as_deref();
                    doc.insert(
                        "credential".into(),
                        json!({"resource_id": identity_id, "client_id": client_id}),
                    );
                    doc.insert("credential_identity".into(), lookup(inventory, identity_id));
                    doc.insert(
                        "credential_identity_coverage".into(),
                        json!(identity_id.map(|i| coverage_of(inventory, i))),
                    );
                    let target = str_at(resource, "/properties/target");
                    let registry = target.and_then(|t| inventory.registry_for_login_server(t));
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

fn with_services(inventory: &impl InventoryView, workspace: &Value) -> Value {
    let ws_id = workspace
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let services: Vec<Value> = inventory
        .children(ws_id, types::SERVICE)
        .into_iter()
        .cloned()
        .collect();
    json!({"workspace": workspace, "services": services})
}

/// The identity a container-registry connection names: `credentials.resourceId`/`clientId`
/// (authType ManagedIdentity), or the v1 SDK's `RegistryConnection` shape, where `value` holds
/// `{"ResourceId", "ClientId"}` as an object or a JSON string. Keys match in any casing.
fn connection_identity(connection: &Value) -> (Option<String>, Option<String>) {
    let props = connection.get("properties");
    let field = |holder: Option<&Value>, key: &str| -> Option<String> {
        holder
            .and_then(Value::as_object)?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let credentials = props.and_then(|p| p.get("credentials"));
    let value = props.and_then(|p| p.get("value")).and_then(|v| match v {
        Value::String(text) => serde_json::from_str::<Value>(text).ok(),
        other => Some(other.clone()),
    });
    let pick = |key: &str| field(credentials, key).or_else(|| field(value.as_ref(), key));
    (pick("resourceId"), pick("clientId"))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn lookup(inventory: &impl InventoryView, id: Option<&str>) -> Value {
    id.and_then(|i| inventory.resource(i))
        .cloned()
        .unwrap_or(Value::Null)
}

fn add_registry(
    doc: &mut Map<String, Value>,
    inventory: &impl InventoryView,
    workspace: Option<&Value>,
) {
    let registry_id = workspace.and_then(|w| str_at(w, "/properties/containerRegistry"));
    doc.insert("registry_id".into(), json!(registry_id));
    doc.insert("registry".into(), lookup(inventory, registry_id));
}

/// How completely the subscription holding `id` was read.
pub fn coverage_of(inventory: &impl InventoryView, id: &str) -> &'static str {
    match ids::subscription_of(id).and_then(|s| inventory.subscription_coverage(&s)) {
        Some(ScopeStatus::Complete) => "complete",
        Some(ScopeStatus::Partial) => "partial",
        Some(ScopeStatus::Failed) => "failed",
        Some(ScopeStatus::NotCovered) | None => "not_covered",
    }
}

/// The managed identities of a workspace or compute, with principals resolved from the
/// identity block or, failing that, from the user-assigned identity resource.
pub fn identities(inventory: &impl InventoryView, resource: &Value) -> Vec<Value> {
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
            let uai = inventory.resource(uai_id);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(properties: Value) -> Value {
        json!({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/connections/c",
               "type": "Microsoft.MachineLearningServices/workspaces/connections", "properties": properties})
    }

    #[test]
    fn a_managed_identity_connection_names_its_identity_in_credentials() {
        let c = connection(json!({"authType": "ManagedIdentity",
            "credentials": {"clientId": "c1", "resourceId": "/u/1"}}));
        assert_eq!(
            connection_identity(&c),
            (Some("/u/1".into()), Some("c1".into()))
        );
    }

    #[test]
    fn a_v1_registry_connection_names_its_identity_in_value_in_any_casing() {
        let as_text = connection(
            json!({"authType": "RegistryConnection", "valueFormat": "JSON",
            "value": "{\"RESOURCEID\": \"/u/2\", \"clientid\": \"c2\"}"}),
        );
        assert_eq!(
            connection_identity(&as_text),
            (Some("/u/2".into()), Some("c2".into()))
        );
        let as_object = connection(json!({"authType": "RegistryConnection",
            "value": {"ResourceId": "/u/3", "ClientId": "c3"}}));
        assert_eq!(
            connection_identity(&as_object),
            (Some("/u/3".into()), Some("c3".into()))
        );
        let unreadable = connection(json!({"authType": "RegistryConnection", "value": "not json"}));
        assert_eq!(connection_identity(&unreadable), (None, None));
    }
}
