//! The one place edits are applied: a copy-on-write [`Overlay`] over an [`Inventory`].
//!
//! The overlay holds only what the edits change (the resources they touch, the identities they
//! create, the role assignments they add) and reads everything else from the base inventory, so
//! proving one result's fix costs the size of that fix, never a copy of the tenant. Each edit is
//! applied as Azure would carry out its `az` command; where that depends on something the
//! snapshot cannot say (the object id of a cluster's service principal), the overlay records an
//! [`Overlay::uncertain`] note and the proof can say no more than `partial`. A command Azure would
//! reject (making an identity primary that is not attached) is an [`ApplyError`].

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{Edit, identity_kinds, lower_type};
use crate::ids;
use crate::inventory::{Inventory, InventoryView, RoleAssignment, ScopeStatus, Snapshot, types};
use crate::permissions::catalogue;

/// AcrPull, what `az aks update --attach-acr` assigns.
pub const ACR_PULL_ROLE: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

/// Why an edit cannot be applied: Azure would refuse the command, or the step is manual.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("step {step} is manual, so amlaudit cannot apply it")]
    Manual { step: usize },
    #[error("step {step} ({kind}) would fail in Azure: {reason}")]
    Rejected {
        step: usize,
        kind: &'static str,
        reason: String,
    },
}

/// The inventory as a set of edits would leave it.
#[derive(Debug)]
pub struct Overlay<'a> {
    base: &'a Inventory,
    /// Changed and created resources, by normalised id.
    changed: HashMap<String, Value>,
    /// Ids (normalised) of resources the base does not hold, in creation order.
    created: Vec<String>,
    /// Role assignments the edits add.
    assignments: Vec<RoleAssignment>,
    /// Kubelet identities of clusters moved to managed identity: they exist at once, but the
    /// nodes use them only after a node image upgrade.
    pending_kubelets: HashMap<String, Value>,
    /// What the simulation could not know.
    uncertain: Vec<String>,
    /// Principal ids output by the current result's steps, by step index.
    outputs: Vec<Option<String>>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a Inventory) -> Self {
        Overlay {
            base,
            changed: HashMap::new(),
            created: Vec::new(),
            assignments: Vec::new(),
            pending_kubelets: HashMap::new(),
            uncertain: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// The role assignments the edits added, for the permission engine's `check_with`.
    pub fn assignments(&self) -> &[RoleAssignment] {
        &self.assignments
    }

    /// What the simulation had to leave open; non-empty caps a proof at `partial`.
    pub fn uncertain(&self) -> &[String] {
        &self.uncertain
    }

    /// Applies one result's steps in order. `principal_from_step` refers to these steps.
    pub fn apply_all(&mut self, edits: &[&Edit]) -> Result<(), ApplyError> {
        self.outputs.clear();
        for (step, edit) in edits.iter().enumerate() {
            let output = self.apply(step, edit)?;
            self.outputs.push(output);
        }
        Ok(())
    }

    /// A resource as the edits left it, copied into the overlay on first change.
    fn edit_resource(&mut self, id: &str) -> Option<&mut Value> {
        let key = ids::normalize(id);
        if !self.changed.contains_key(&key) {
            let current = self.base.get(id)?.clone();
            self.changed.insert(key.clone(), current);
        }
        self.changed.get_mut(&key)
    }

    fn create_resource(&mut self, resource: Value) {
        let key = ids::normalize(resource["id"].as_str().unwrap_or_default());
        if self.base.get(&key).is_none() && !self.changed.contains_key(&key) {
            self.created.push(key.clone());
        }
        self.changed.insert(key, resource);
    }

    fn principal(&self, named: &Option<String>, from: Option<usize>) -> Option<String> {
        match from {
            Some(step) => self.outputs.get(step).cloned().flatten(),
            None => named.clone(),
        }
    }

    /// Applies one edit; returns the principal id it outputs, if any.
    fn apply(&mut self, step: usize, edit: &Edit) -> Result<Option<String>, ApplyError> {
        let rejected = |reason: String| ApplyError::Rejected {
            step,
            kind: edit.kind(),
            reason,
        };
        match edit {
            Edit::Manual { .. } => Err(ApplyError::Manual { step }),
            Edit::RoleAssignment {
                principal_id,
                principal_from_step,
                role,
                scope,
            } => {
                let principal = self
                    .principal(principal_id, *principal_from_step)
                    .ok_or_else(|| rejected("the principal to assign is not known".into()))?;
                match resolve_role(self.base, role) {
                    Some(guid) => self.assign(&principal, &guid, scope),
                    None => self.uncertain.push(format!(
                        "role {role:?} is neither a GUID nor the name of a role amlaudit knows"
                    )),
                }
                Ok(None)
            }
            Edit::RegistryAdminUser { registry, enabled } => {
                let r = self.edit_resource(registry).ok_or_else(|| {
                    rejected(format!("registry {registry} is not in the snapshot"))
                })?;
                set(r, &["properties", "adminUserEnabled"], json!(enabled));
                Ok(None)
            }
            Edit::ComputeIdentity {
                compute,
                identity_type,
                user_assigned_identities,
            } => {
                let uais = self.identity_entries(user_assigned_identities);
                let kinds = identity_kinds(identity_type);
                let system = kinds.iter().any(|k| k == "systemassigned");
                let c = self
                    .edit_resource(compute)
                    .ok_or_else(|| rejected(format!("compute {compute} is not in the snapshot")))?;
                // A compute that keeps its system-assigned identity keeps its principal.
                let existing = c
                    .get("identity")
                    .filter(|i| {
                        i.get("type").and_then(Value::as_str).is_some_and(|t| {
                            identity_kinds(t).iter().any(|k| k == "systemassigned")
                        })
                    })
                    .and_then(|i| i.get("principalId"))
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string);
                let principal =
                    system.then(|| existing.unwrap_or_else(|| simulated_principal(compute)));
                let mut identity = Map::new();
                identity.insert("type".into(), json!(identity_type.replace(' ', "")));
                if let Some(p) = &principal {
                    identity.insert("principalId".into(), json!(p));
                }
                if !uais.is_empty() {
                    identity.insert("userAssignedIdentities".into(), Value::Object(uais));
                }
                set(c, &["identity"], Value::Object(identity));
                Ok(principal)
            }
            Edit::AttachIdentity { resource, identity } => {
                let entry = self.identity_entries(std::slice::from_ref(identity));
                let ty = lower_type(resource);
                let r = self
                    .edit_resource(resource)
                    .ok_or_else(|| rejected(format!("{resource} is not in the snapshot")))?;
                if ty == types::MANAGED_CLUSTER {
                    // `--enable-managed-identity --assign-identity`: the control plane uses the
                    // identity instead of whatever it had.
                    set(
                        r,
                        &["identity"],
                        json!({"type": "UserAssigned", "userAssignedIdentities": entry}),
                    );
                    set(
                        r,
                        &["properties", "servicePrincipalProfile"],
                        json!({"clientId": "msi"}),
                    );
                    return Ok(None);
                }
                let current = r.get("identity").cloned().unwrap_or(Value::Null);
                let mut kinds = current
                    .get("type")
                    .and_then(Value::as_str)
                    .map(identity_kinds)
                    .unwrap_or_default();
                kinds.retain(|k| k != "none");
                let mut assigned = current
                    .get("userAssignedIdentities")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let known = assigned
                    .keys()
                    .any(|k| ids::normalize(k) == ids::normalize(identity));
                if !known {
                    assigned.extend(entry);
                }
                let system = kinds.iter().any(|k| k == "systemassigned");
                let mut block = current.as_object().cloned().unwrap_or_default();
                block.insert(
                    "type".into(),
                    json!(if system {
                        "SystemAssigned,UserAssigned"
                    } else {
                        "UserAssigned"
                    }),
                );
                block.insert("userAssignedIdentities".into(), Value::Object(assigned));
                set(r, &["identity"], Value::Object(block));
                Ok(None)
            }
            Edit::KeyvaultAccessPolicy {
                vault,
                object_id,
                principal_from_step,
                key_permissions,
                secret_permissions,
            } => {
                let object = self
                    .principal(object_id, *principal_from_step)
                    .ok_or_else(|| rejected("the object id is not known".into()))?;
                let v = self
                    .edit_resource(vault)
                    .ok_or_else(|| rejected(format!("key vault {vault} is not in the snapshot")))?;
                let tenant = v
                    .pointer("/properties/tenantId")
                    .cloned()
                    .unwrap_or(Value::Null);
                let mut policies = v
                    .pointer("/properties/accessPolicies")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let at = policies.iter().position(|p| {
                    p.get("objectId")
                        .and_then(Value::as_str)
                        .is_some_and(|o| o.eq_ignore_ascii_case(&object))
                });
                let mut policy = match at {
                    Some(i) => policies.remove(i),
                    None => json!({"tenantId": tenant, "objectId": object, "permissions": {}}),
                };
                // `az keyvault set-policy` sets the lists it is given and leaves the others.
                if !key_permissions.is_empty() {
                    set(
                        &mut policy,
                        &["permissions", "keys"],
                        json!(key_permissions),
                    );
                }
                if !secret_permissions.is_empty() {
                    set(
                        &mut policy,
                        &["permissions", "secrets"],
                        json!(secret_permissions),
                    );
                }
                policies.push(policy);
                set(v, &["properties", "accessPolicies"], Value::Array(policies));
                Ok(None)
            }
            Edit::AksAttachAcr { cluster, registry } => {
                let key = ids::normalize(cluster);
                let current = self
                    .resource(cluster)
                    .ok_or_else(|| rejected(format!("cluster {cluster} is not in the snapshot")))?;
                let kubelet = self
                    .pending_kubelets
                    .get(&key)
                    .or_else(|| current.pointer("/properties/identityProfile/kubeletidentity"))
                    .and_then(|k| k.get("objectId"))
                    .and_then(Value::as_str)
                    .filter(|o| !o.is_empty())
                    .map(str::to_string);
                match kubelet {
                    Some(object) => self.assign(&object, ACR_PULL_ROLE, registry),
                    None => self.uncertain.push(format!(
                        "cluster {} has no kubelet identity in the snapshot: --attach-acr would grant its service principal, whose object id the snapshot does not hold",
                        ids::short_name(cluster)
                    )),
                }
                Ok(None)
            }
            Edit::ConnectionRecreate {
                connection,
                target,
                identity_resource_id,
                identity_client_id,
            } => {
                let previous = self.resource(connection).cloned();
                let mut c = previous.unwrap_or_else(|| {
                    json!({
                        "id": connection,
                        "name": ids::short_name(connection),
                        "type": "Microsoft.MachineLearningServices/workspaces/connections",
                    })
                });
                set(
                    &mut c,
                    &["properties"],
                    json!({
                        "category": "ContainerRegistry",
                        "target": target,
                        "authType": "ManagedIdentity",
                        "credentials": {"resourceId": identity_resource_id, "clientId": identity_client_id},
                    }),
                );
                self.create_resource(c);
                Ok(None)
            }
            Edit::IdentityCreate { identity } => {
                if let Some(existing) = self.resource(identity) {
                    // Creating an identity that exists changes nothing: it keeps its principal.
                    return Ok(existing
                        .pointer("/properties/principalId")
                        .and_then(Value::as_str)
                        .map(str::to_string));
                }
                let principal = simulated_principal(identity);
                self.create_resource(json!({
                    "id": identity,
                    "name": ids::short_name(identity),
                    "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                    "properties": {
                        "principalId": principal,
                        "clientId": simulated_principal(&format!("{identity}#client")),
                    },
                }));
                Ok(Some(principal))
            }
            Edit::AksManagedIdentity { cluster, identity } => {
                let entry = identity
                    .as_ref()
                    .map(|i| self.identity_entries(std::slice::from_ref(i)));
                let key = ids::normalize(cluster);
                let c = self
                    .edit_resource(cluster)
                    .ok_or_else(|| rejected(format!("cluster {cluster} is not in the snapshot")))?;
                let had_kubelet = c
                    .pointer("/properties/identityProfile/kubeletidentity/objectId")
                    .and_then(Value::as_str)
                    .is_some_and(|o| !o.is_empty());
                match entry {
                    Some(entry) => set(
                        c,
                        &["identity"],
                        json!({"type": "UserAssigned", "userAssignedIdentities": entry}),
                    ),
                    None => set(
                        c,
                        &["identity"],
                        json!({"type": "SystemAssigned", "principalId": simulated_principal(cluster)}),
                    ),
                }
                set(
                    c,
                    &["properties", "servicePrincipalProfile"],
                    json!({"clientId": "msi"}),
                );
                if !had_kubelet {
                    // Microsoft: after the switch the kubelet keeps the service principal until
                    // the node images are upgraded.
                    let kubelet_id = format!("{cluster}/kubelet");
                    self.pending_kubelets.insert(
                        key,
                        json!({
                            "objectId": simulated_principal(&kubelet_id),
                            "clientId": simulated_principal(&format!("{kubelet_id}#client")),
                            "resourceId": Value::Null,
                        }),
                    );
                }
                Ok(None)
            }
            Edit::AksNodeImageUpgrade { cluster } => {
                let key = ids::normalize(cluster);
                let pending = self.pending_kubelets.remove(&key);
                let c = self
                    .edit_resource(cluster)
                    .ok_or_else(|| rejected(format!("cluster {cluster} is not in the snapshot")))?;
                if let Some(kubelet) = pending {
                    set(
                        c,
                        &["properties", "identityProfile", "kubeletidentity"],
                        kubelet,
                    );
                }
                Ok(None)
            }
            Edit::ResourceTag {
                resource,
                tag,
                value,
            } => {
                let r = self
                    .edit_resource(resource)
                    .ok_or_else(|| rejected(format!("{resource} is not in the snapshot")))?;
                set(r, &["tags", tag], json!(value));
                Ok(None)
            }
            Edit::WorkspacePrimaryIdentity {
                workspace,
                identity,
            } => {
                let w = self.edit_resource(workspace).ok_or_else(|| {
                    rejected(format!("workspace {workspace} is not in the snapshot"))
                })?;
                let attached = w
                    .pointer("/identity/userAssignedIdentities")
                    .and_then(Value::as_object)
                    .is_some_and(|m| {
                        m.keys()
                            .any(|k| ids::normalize(k) == ids::normalize(identity))
                    });
                if !attached {
                    return Err(rejected(format!(
                        "identity {} is not attached to workspace {} (attach it first)",
                        ids::short_name(identity),
                        ids::short_name(workspace)
                    )));
                }
                set(
                    w,
                    &["properties", "primaryUserAssignedIdentity"],
                    json!(identity),
                );
                Ok(None)
            }
        }
    }

    /// `userAssignedIdentities` entries for identities, with principal and client ids from the
    /// identity resources (created ones included) when known.
    fn identity_entries(&self, identities: &[String]) -> Map<String, Value> {
        identities
            .iter()
            .map(|id| {
                let properties = self.resource(id).and_then(|u| u.get("properties"));
                let field = |k: &str| {
                    properties
                        .and_then(|p| p.get(k))
                        .cloned()
                        .unwrap_or(Value::Null)
                };
                (
                    id.clone(),
                    json!({"principalId": field("principalId"), "clientId": field("clientId")}),
                )
            })
            .collect()
    }

    fn assign(&mut self, principal: &str, role_guid: &str, scope: &str) {
        let n = self.assignments.len();
        let id = format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/amlaudit-simulated-{n}",
            scope.trim_end_matches('/')
        );
        self.assignments.push(RoleAssignment {
            id,
            principal_id: principal.trim().to_ascii_lowercase(),
            principal_type: Some("ServicePrincipal".into()),
            role_guid: role_guid.to_ascii_lowercase(),
            scope: scope.to_string(),
            scope_normalized: ids::normalize(scope),
            condition: None,
            condition_version: None,
        });
    }

    /// The snapshot the edits leave: the base's resources with changed ones replaced, created
    /// ones and the added role assignments appended. `base` must be the snapshot the overlay's
    /// inventory was built from, with its role assignments (which an [`Inventory`] drops).
    pub fn materialize(&self, mut base: Snapshot) -> Snapshot {
        for resource in &mut base.resources {
            let key = ids::normalize(
                resource
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            );
            if let Some(changed) = self.changed.get(&key) {
                *resource = changed.clone();
            }
        }
        for key in &self.created {
            if let Some(r) = self.changed.get(key) {
                base.resources.push(r.clone());
            }
        }
        for a in &self.assignments {
            base.resources.push(json!({
                "id": a.id,
                "name": ids::short_name(&a.id),
                "type": "Microsoft.Authorization/roleAssignments",
                "properties": {
                    "principalId": a.principal_id,
                    "principalType": a.principal_type,
                    "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", a.role_guid),
                    "scope": a.scope,
                },
            }));
        }
        base
    }
}

impl InventoryView for Overlay<'_> {
    fn resource(&self, id: &str) -> Option<&Value> {
        if self.changed.is_empty() {
            return self.base.get(id);
        }
        let key = ids::normalize(id);
        self.changed.get(&key).or_else(|| self.base.get(&key))
    }

    fn children<'b>(&'b self, parent_id: &str, ty: &'b str) -> Vec<&'b Value> {
        let mut out: Vec<&Value> = self
            .base
            .children_of(parent_id, ty)
            .map(|r| {
                let key = ids::normalize(r.get("id").and_then(Value::as_str).unwrap_or_default());
                self.changed.get(&key).unwrap_or(r)
            })
            .collect();
        let parent = ids::normalize(parent_id);
        for key in &self.created {
            if ids::parent_of(key) == Some(parent.as_str())
                && let Some(r) = self.changed.get(key)
                && crate::inventory::snapshot::resource_type(r) == ty
            {
                out.push(r);
            }
        }
        out
    }

    fn registry_for_login_server(&self, target: &str) -> Option<&Value> {
        let base = self.base.registry_by_login_server(target)?;
        self.resource(base.get("id").and_then(Value::as_str).unwrap_or_default())
    }

    fn workspaces_of_registry(&self, registry_id: &str) -> Vec<&Value> {
        self.base
            .workspaces_using_registry(registry_id)
            .filter_map(|w| self.resource(w.get("id").and_then(Value::as_str).unwrap_or_default()))
            .collect()
    }

    fn subscription_coverage(&self, subscription_id: &str) -> Option<ScopeStatus> {
        self.base.coverage(subscription_id)
    }

    // A fix never adds a workspace without properties nor changes the directory: the base answers.
    fn workspaces_without_properties(&self) -> Vec<&Value> {
        self.base.workspaces_without_properties().collect()
    }

    fn service_principal_object_id(&self, app_id: &str) -> Option<&str> {
        self.base.service_principal_object_id(app_id)
    }
}

/// Sets `value` at a path of object keys, creating objects on the way.
fn set(target: &mut Value, path: &[&str], value: Value) {
    let mut at = target;
    for (i, key) in path.iter().enumerate() {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let obj = at.as_object_mut().expect("made an object above");
        if i + 1 == path.len() {
            obj.insert((*key).to_string(), value);
            return;
        }
        at = obj.entry(key.to_string()).or_insert(Value::Null);
    }
}

/// A role name or GUID as the GUID the permission engine keys on: the snapshot's definitions
/// first, then the built-in catalogue; role names compare case-insensitively, as `az` does.
pub fn resolve_role(inventory: &Inventory, role: &str) -> Option<String> {
    let role = role.trim();
    let guid = ids::role_guid(role);
    if ids::is_guid(&guid) {
        return Some(guid);
    }
    inventory
        .role_definitions
        .values()
        .find(|d| d.role_name.eq_ignore_ascii_case(role))
        .map(|d| d.guid.clone())
        .or_else(|| {
            catalogue::builtin_roles()
                .find(|d| d.role_name.eq_ignore_ascii_case(role))
                .map(|d| d.guid.clone())
        })
}

/// A stand-in principal id for an identity the fix creates (Azure assigns the real one when the
/// script runs): GUID-shaped, starting `00000000-`, and derived from the resource id so that
/// repeated runs agree.
pub fn simulated_principal(seed: &str) -> String {
    let d = Sha256::digest(ids::normalize(seed).as_bytes());
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "00000000-{}-4{}-8{}-{}",
        &hex[0..4],
        &hex[4..7],
        &hex[7..10],
        &hex[10..22]
    )
}
