//! The inventory: a snapshot's resources, indexed for the questions amlaudit asks.
//!
//! [`snapshot`] owns the file format and its validation; [`import`] turns ARM and `az` output
//! into a snapshot; this module builds the read-only [`Inventory`] that rules, the permission
//! index and remediation share: resources by normalised id and by type, the links between them
//! (workspace to registry, compute to workspace, connection to registry by login server), and the
//! role assignments and definitions in typed form. Lookups are case-insensitive throughout.

pub mod import;
pub mod snapshot;
pub mod view;

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use serde_json::Value;

use crate::ids;
pub use snapshot::{
    DenyAssignmentsRead, Directory, DirectoryError, Problem, ScopeCoverage, ScopeError,
    ScopeStatus, Snapshot, SnapshotError, TextPosition,
};
pub use view::InventoryView;

/// The ARM resource types amlaudit reads: the one list of them, with each type's canonical
/// spelling (as ARM and `az` print it: requests, messages, snapshots amlaudit writes) and its
/// lower-case form (how the inventory keys resources; ARM compares types case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArmType {
    Subscription,
    Workspace,
    Compute,
    Connection,
    Service,
    Registry,
    ManagedCluster,
    UserAssignedIdentity,
    KeyVault,
    RoleAssignment,
    RoleDefinition,
    DenyAssignment,
}

impl ArmType {
    pub const ALL: [ArmType; 12] = [
        ArmType::Subscription,
        ArmType::Workspace,
        ArmType::Compute,
        ArmType::Connection,
        ArmType::Service,
        ArmType::Registry,
        ArmType::ManagedCluster,
        ArmType::UserAssignedIdentity,
        ArmType::KeyVault,
        ArmType::RoleAssignment,
        ArmType::RoleDefinition,
        ArmType::DenyAssignment,
    ];

    /// The type as ARM spells it.
    pub const fn canonical(self) -> &'static str {
        match self {
            ArmType::Subscription => "Microsoft.Resources/subscriptions",
            ArmType::Workspace => "Microsoft.MachineLearningServices/workspaces",
            ArmType::Compute => "Microsoft.MachineLearningServices/workspaces/computes",
            ArmType::Connection => "Microsoft.MachineLearningServices/workspaces/connections",
            ArmType::Service => "Microsoft.MachineLearningServices/workspaces/services",
            ArmType::Registry => "Microsoft.ContainerRegistry/registries",
            ArmType::ManagedCluster => "Microsoft.ContainerService/managedClusters",
            ArmType::UserAssignedIdentity => "Microsoft.ManagedIdentity/userAssignedIdentities",
            ArmType::KeyVault => "Microsoft.KeyVault/vaults",
            ArmType::RoleAssignment => "Microsoft.Authorization/roleAssignments",
            ArmType::RoleDefinition => "Microsoft.Authorization/roleDefinitions",
            ArmType::DenyAssignment => "Microsoft.Authorization/denyAssignments",
        }
    }

    /// The type in lower case, as the inventory keys resources.
    pub const fn lower(self) -> &'static str {
        match self {
            ArmType::Subscription => "microsoft.resources/subscriptions",
            ArmType::Workspace => "microsoft.machinelearningservices/workspaces",
            ArmType::Compute => "microsoft.machinelearningservices/workspaces/computes",
            ArmType::Connection => "microsoft.machinelearningservices/workspaces/connections",
            ArmType::Service => "microsoft.machinelearningservices/workspaces/services",
            ArmType::Registry => "microsoft.containerregistry/registries",
            ArmType::ManagedCluster => "microsoft.containerservice/managedclusters",
            ArmType::UserAssignedIdentity => "microsoft.managedidentity/userassignedidentities",
            ArmType::KeyVault => "microsoft.keyvault/vaults",
            ArmType::RoleAssignment => "microsoft.authorization/roleassignments",
            ArmType::RoleDefinition => "microsoft.authorization/roledefinitions",
            ArmType::DenyAssignment => "microsoft.authorization/denyassignments",
        }
    }

    /// The type a resource's `type` names, compared as ARM compares them (ignoring case).
    pub fn parse(type_name: &str) -> Option<ArmType> {
        ArmType::ALL
            .into_iter()
            .find(|t| t.canonical().eq_ignore_ascii_case(type_name.trim()))
    }
}

/// Lower-case type names (see [`ArmType::lower`]), for matching and keying.
pub mod types {
    use super::ArmType;

    pub const SUBSCRIPTION: &str = ArmType::Subscription.lower();
    pub const WORKSPACE: &str = ArmType::Workspace.lower();
    pub const COMPUTE: &str = ArmType::Compute.lower();
    pub const CONNECTION: &str = ArmType::Connection.lower();
    pub const SERVICE: &str = ArmType::Service.lower();
    pub const REGISTRY: &str = ArmType::Registry.lower();
    pub const MANAGED_CLUSTER: &str = ArmType::ManagedCluster.lower();
    pub const USER_ASSIGNED_IDENTITY: &str = ArmType::UserAssignedIdentity.lower();
    pub const KEY_VAULT: &str = ArmType::KeyVault.lower();
    pub const ROLE_ASSIGNMENT: &str = ArmType::RoleAssignment.lower();
    pub const ROLE_DEFINITION: &str = ArmType::RoleDefinition.lower();
    pub const DENY_ASSIGNMENT: &str = ArmType::DenyAssignment.lower();
}

/// A role assignment in the form the permission index needs.
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    /// The assignment's ARM id as written.
    pub id: String,
    /// Lower-cased principal object id.
    pub principal_id: String,
    pub principal_type: Option<String>,
    /// Lower-cased GUID of the role definition.
    pub role_guid: String,
    /// The scope as written, for display.
    pub scope: String,
    /// The normalised scope, for matching.
    pub scope_normalized: String,
    /// An ABAC condition, decided by the permission engine where it can be.
    pub condition: Option<String>,
    /// The condition's syntax version; Azure takes an absent one as `2.0`.
    pub condition_version: Option<String>,
}

impl RoleAssignment {
    /// An assignment that does not exist yet (a proposed fix), with a made-up id that says so.
    pub fn proposed(principal_id: &str, role_guid: &str, scope: &str) -> Self {
        RoleAssignment {
            id: format!("(proposed) {role_guid} for {principal_id} at {scope}"),
            principal_id: principal_id.trim().to_ascii_lowercase(),
            principal_type: Some("ServicePrincipal".to_string()),
            role_guid: role_guid.trim().to_ascii_lowercase(),
            scope: scope.to_string(),
            scope_normalized: ids::normalize(scope),
            condition: None,
            condition_version: None,
        }
    }
}

/// The principal id Azure uses for "Everyone" in deny assignments.
pub const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

/// A principal named in a deny assignment's `principals` or `excludePrincipals`.
#[derive(Debug, Clone)]
pub struct DenyPrincipal {
    /// Lower-cased object id.
    pub id: String,
    /// `User`, `Group`, `ServicePrincipal`, `Everyone`, ... as ARM wrote it.
    pub principal_type: Option<String>,
}

/// A deny assignment (`Microsoft.Authorization/denyAssignments`) in typed form.
#[derive(Debug, Clone)]
pub struct DenyAssignment {
    pub id: String,
    pub name: Option<String>,
    /// The scope as written, for display.
    pub scope: String,
    /// The normalised scope, for matching.
    pub scope_normalized: String,
    pub permissions: Vec<PermissionBlock>,
    pub principals: Vec<DenyPrincipal>,
    pub exclude_principals: Vec<DenyPrincipal>,
    pub do_not_apply_to_child_scopes: bool,
    pub condition: Option<String>,
    /// `denyAssignmentEffect: audit` denies nothing.
    pub audit_only: bool,
}

/// One `permissions` block of a role definition.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionBlock {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub actions: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub not_actions: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub data_actions: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub not_data_actions: Vec<String>,
    /// An ABAC condition on the block (`RoleDefinitionPermission.condition` in the ARM
    /// authorization API; Microsoft uses it for constrained delegation of role-assignment
    /// writes). amlaudit does not evaluate it: a grant from such a block is `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_version: Option<String>,
}

impl PermissionBlock {
    /// The block's condition when it has one that is not blank.
    pub fn condition(&self) -> Option<&str> {
        self.condition.as_deref().filter(|c| !c.trim().is_empty())
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde::Deserialize;
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Where a role definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefinitionSource {
    Snapshot,
    BuiltInCatalogue,
}

/// A role definition: name, GUID and permission blocks.
#[derive(Debug, Clone)]
pub struct RoleDefinition {
    pub guid: String,
    pub role_name: String,
    pub permissions: Vec<PermissionBlock>,
    pub source: DefinitionSource,
}

/// The indexed, read-only view of a snapshot.
#[derive(Debug)]
pub struct Inventory {
    pub snapshot: Snapshot,
    by_id: HashMap<String, usize>,
    by_type: HashMap<String, Vec<usize>>,
    children: HashMap<String, Vec<usize>>,
    registry_by_login_server: HashMap<String, usize>,
    workspaces_by_registry: HashMap<String, Vec<usize>>,
    /// Workspaces whose `properties` are absent or not an object (`az resource list` output): which
    /// registry they use is not known.
    workspaces_without_properties: Vec<usize>,
    /// Role assignments, typed. Their JSON is freed from `snapshot.resources` (a `null` stays in
    /// each one's place): in a large tenant they are most of the memory, and only the permission
    /// index reads them.
    pub role_assignments: Arc<[RoleAssignment]>,
    /// Role definitions found in the snapshot, by lower-cased GUID.
    pub role_definitions: HashMap<String, RoleDefinition>,
    /// Management-group ancestry of each subscription (lower-cased names), when the snapshot says it.
    pub management_groups: HashMap<String, Vec<String>>,
    /// Deny assignments, typed.
    pub deny_assignments: Vec<DenyAssignment>,
    /// Lower-cased principal → lower-cased transitive groups, for principals the directory
    /// section lists; every other principal's memberships are unknown.
    pub group_memberships: HashMap<String, Vec<String>>,
    /// Lower-cased application id → service principal object id (as written).
    service_principals: HashMap<String, String>,
}

impl Inventory {
    /// Indexes a validated snapshot. Of resources sharing an id (any case), the first counts
    /// everywhere; `import` and `collect` never write duplicates.
    pub fn new(mut snapshot: Snapshot) -> Self {
        let assignment_json: Vec<Value> = snapshot
            .resources
            .iter_mut()
            .filter(|r| snapshot::resource_type(r) == types::ROLE_ASSIGNMENT)
            .map(std::mem::take)
            .collect();
        let role_assignments: Arc<[RoleAssignment]> = assignment_json
            .par_iter()
            .filter_map(role_assignment)
            .collect();
        drop(assignment_json);
        let mut by_id = HashMap::with_capacity(snapshot.resources.len());
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        let mut registry_by_login_server = HashMap::new();
        let mut role_definitions = HashMap::new();
        let mut management_groups = HashMap::new();
        let mut deny_assignments = Vec::new();

        for (index, resource) in snapshot.resources.iter().enumerate() {
            // The role assignments taken above.
            if resource.is_null() {
                continue;
            }
            let id = snapshot::resource_id(resource);
            if by_id.contains_key(&id) {
                continue;
            }
            let ty = snapshot::resource_type(resource);
            match ty.as_str() {
                types::ROLE_DEFINITION => {
                    if let Some(d) = role_definition(resource) {
                        role_definitions.insert(d.guid.clone(), d);
                    }
                }
                types::DENY_ASSIGNMENT => {
                    if let Some(d) = deny_assignment(resource) {
                        deny_assignments.push(d);
                    }
                }
                types::SUBSCRIPTION => {
                    if let (Some(sub), Some(chain)) = (
                        ids::subscription_of(&id),
                        resource
                            .pointer("/properties/managementGroupAncestorsChain")
                            .and_then(Value::as_array),
                    ) {
                        let names = chain
                            .iter()
                            .filter_map(|mg| mg.get("name").and_then(Value::as_str))
                            .map(str::to_ascii_lowercase)
                            .collect();
                        management_groups.insert(sub, names);
                    }
                }
                types::REGISTRY => {
                    if let Some(server) = resource
                        .pointer("/properties/loginServer")
                        .and_then(Value::as_str)
                    {
                        registry_by_login_server.insert(server.to_ascii_lowercase(), index);
                    }
                }
                _ => {}
            }
            if let Some(parent) = ids::parent_of(&id) {
                children.entry(parent.to_string()).or_default().push(index);
            }
            by_id.insert(id, index);
            by_type.entry(ty).or_default().push(index);
        }
        let mut workspaces_by_registry: HashMap<String, Vec<usize>> = HashMap::new();
        let mut workspaces_without_properties = Vec::new();
        for &i in by_type.get(types::WORKSPACE).into_iter().flatten() {
            if !snapshot.resources[i]
                .get("properties")
                .is_some_and(Value::is_object)
            {
                workspaces_without_properties.push(i);
            }
            if let Some(registry) = snapshot.resources[i]
                .pointer("/properties/containerRegistry")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                workspaces_by_registry
                    .entry(ids::normalize(registry))
                    .or_default()
                    .push(i);
            }
        }
        let group_memberships = snapshot
            .directory
            .group_memberships
            .iter()
            .map(|(p, groups)| {
                (
                    p.trim().to_ascii_lowercase(),
                    groups
                        .iter()
                        .map(|g| g.trim().to_ascii_lowercase())
                        .collect(),
                )
            })
            .collect();
        let service_principals = snapshot
            .directory
            .service_principals
            .iter()
            .map(|(app, object)| (app.trim().to_ascii_lowercase(), object.clone()))
            .collect();
        Inventory {
            snapshot,
            by_id,
            deny_assignments,
            group_memberships,
            service_principals,
            workspaces_by_registry,
            workspaces_without_properties,
            by_type,
            children,
            registry_by_login_server,
            role_assignments,
            role_definitions,
            management_groups,
        }
    }

    /// A resource by id, any case.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.by_id
            .get(&ids::normalize(id))
            .and_then(|&i| self.snapshot.resources.get(i))
    }

    /// Where a resource (by id, any case) is written in the snapshot file it was read from.
    pub fn position_of(&self, id: &str) -> Option<TextPosition> {
        self.by_id
            .get(&ids::normalize(id))
            .and_then(|&i| self.snapshot.positions.get(i).copied().flatten())
    }

    /// Every resource of a lower-cased type, in snapshot order.
    pub fn of_type<'a>(&'a self, ty: &str) -> impl Iterator<Item = &'a Value> + 'a {
        self.by_type
            .get(ty)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.snapshot.resources.get(i))
    }

    /// Child resources of a given type directly below a parent id (computes of a workspace, ...).
    pub fn children_of<'a>(
        &'a self,
        parent_id: &str,
        ty: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.children
            .get(&ids::normalize(parent_id))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.snapshot.resources.get(i))
            .filter(move |r| snapshot::resource_type(r) == ty)
    }

    /// The registry whose login server is `target` (with or without a scheme and path).
    pub fn registry_by_login_server(&self, target: &str) -> Option<&Value> {
        let host = login_server_host(target);
        self.registry_by_login_server
            .get(&host)
            .and_then(|&i| self.snapshot.resources.get(i))
    }

    /// How completely the subscription was read; `None` when the snapshot does not cover it.
    pub fn coverage(&self, subscription_id: &str) -> Option<ScopeStatus> {
        self.snapshot.coverage(subscription_id).map(|c| c.status)
    }

    /// The service principal object id of an application (client) id, when the directory
    /// section resolved it.
    pub fn service_principal_object_id(&self, app_id: &str) -> Option<&str> {
        self.service_principals
            .get(&app_id.trim().to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The transitive groups of a principal, or `None` when the snapshot does not know them.
    pub fn groups_of(&self, principal_id: &str) -> Option<&[String]> {
        self.group_memberships
            .get(&principal_id.trim().to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    /// Workspaces whose `properties.containerRegistry` is this registry.
    pub fn workspaces_using_registry<'a>(
        &'a self,
        registry_id: &str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.workspaces_by_registry
            .get(&ids::normalize(registry_id))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.snapshot.resources.get(i))
    }
}

impl Inventory {
    /// Workspaces whose `properties` the snapshot does not hold, so whether they use a given
    /// registry is not known.
    pub fn workspaces_without_properties(&self) -> impl Iterator<Item = &Value> + '_ {
        self.workspaces_without_properties
            .iter()
            .filter_map(|&i| self.snapshot.resources.get(i))
    }
}

/// `https://myacr.azurecr.io/` → `myacr.azurecr.io`.
pub fn login_server_host(target: &str) -> String {
    let t = target.trim();
    let t = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .unwrap_or(t);
    t.split('/').next().unwrap_or(t).to_ascii_lowercase()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn role_assignment(resource: &Value) -> Option<RoleAssignment> {
    let id = resource.get("id")?.as_str()?.to_string();
    let principal_id = str_at(resource, "/properties/principalId")?.to_ascii_lowercase();
    let role_guid = ids::role_guid(str_at(resource, "/properties/roleDefinitionId")?);
    // An assignment's id is `<scope>/providers/Microsoft.Authorization/roleAssignments/<guid>`,
    // so a missing `scope` property can be recovered from it.
    let scope = match str_at(resource, "/properties/scope") {
        Some(s) => s.to_string(),
        None => {
            let lower = id.to_ascii_lowercase();
            let cut = lower.rfind("/providers/microsoft.authorization/roleassignments/")?;
            let s = &id[..cut];
            if s.is_empty() {
                "/".to_string()
            } else {
                s.to_string()
            }
        }
    };
    Some(RoleAssignment {
        id,
        principal_id,
        principal_type: str_at(resource, "/properties/principalType").map(str::to_string),
        role_guid,
        scope_normalized: ids::normalize(&scope),
        scope,
        condition: str_at(resource, "/properties/condition").map(str::to_string),
        condition_version: str_at(resource, "/properties/conditionVersion").map(str::to_string),
    })
}

fn deny_principals(resource: &Value, key: &str) -> Vec<DenyPrincipal> {
    resource
        .pointer(&format!("/properties/{key}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(DenyPrincipal {
                id: p.get("id")?.as_str()?.trim().to_ascii_lowercase(),
                principal_type: p.get("type").and_then(Value::as_str).map(str::to_string),
            })
        })
        .collect()
}

fn deny_assignment(resource: &Value) -> Option<DenyAssignment> {
    let id = resource.get("id")?.as_str()?.to_string();
    let scope = match str_at(resource, "/properties/scope") {
        Some(s) => s.to_string(),
        None => {
            let lower = id.to_ascii_lowercase();
            let cut = lower.rfind("/providers/microsoft.authorization/denyassignments/")?;
            let s = &id[..cut];
            if s.is_empty() {
                "/".to_string()
            } else {
                s.to_string()
            }
        }
    };
    let permissions = resource
        .pointer("/properties/permissions")
        .cloned()
        .and_then(|p| serde_json::from_value::<Vec<PermissionBlock>>(p).ok())
        .unwrap_or_default();
    Some(DenyAssignment {
        name: str_at(resource, "/properties/denyAssignmentName").map(str::to_string),
        scope_normalized: ids::normalize(&scope),
        scope,
        permissions,
        principals: deny_principals(resource, "principals"),
        exclude_principals: deny_principals(resource, "excludePrincipals"),
        do_not_apply_to_child_scopes: resource
            .pointer("/properties/doNotApplyToChildScopes")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        condition: str_at(resource, "/properties/condition").map(str::to_string),
        audit_only: str_at(resource, "/properties/denyAssignmentEffect")
            .is_some_and(|e| e.eq_ignore_ascii_case("audit")),
        id,
    })
}

fn role_definition(resource: &Value) -> Option<RoleDefinition> {
    let guid = match resource.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_ascii_lowercase(),
        _ => ids::role_guid(resource.get("id")?.as_str()?),
    };
    let role_name = str_at(resource, "/properties/roleName")
        .unwrap_or(&guid)
        .to_string();
    let permissions = resource
        .pointer("/properties/permissions")
        .cloned()
        .and_then(|p| serde_json::from_value::<Vec<PermissionBlock>>(p).ok())?;
    Some(RoleDefinition {
        guid,
        role_name,
        permissions,
        source: DefinitionSource::Snapshot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_arm_type_has_one_spelling_in_two_cases() {
        for t in ArmType::ALL {
            assert_eq!(t.lower(), t.canonical().to_ascii_lowercase());
            assert_eq!(ArmType::parse(t.lower()), Some(t));
            assert_eq!(ArmType::parse(&t.canonical().to_ascii_uppercase()), Some(t));
        }
        assert_eq!(ArmType::parse("Microsoft.Compute/virtualMachines"), None);
    }

    #[test]
    fn the_first_of_duplicate_ids_counts_everywhere() {
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "amlaudit_snapshot": 1, "collected_at": "2026-01-01T00:00:00Z",
            "resources": [
                {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/a",
                 "type": "Microsoft.ContainerRegistry/registries", "properties": {"adminUserEnabled": false}},
                {"id": "/SUBSCRIPTIONS/s/resourcegroups/rg/providers/Microsoft.ContainerRegistry/registries/A",
                 "type": "Microsoft.ContainerRegistry/registries", "properties": {"adminUserEnabled": true}}
            ]
        }))
        .unwrap();
        let inventory = Inventory::new(snapshot);
        let listed: Vec<&Value> = inventory.of_type(types::REGISTRY).collect();
        assert_eq!(listed.len(), 1);
        let by_id = inventory
            .get("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/a")
            .unwrap();
        assert_eq!(listed[0], by_id);
        assert_eq!(by_id["properties"]["adminUserEnabled"], false);
    }

    #[test]
    fn workspaces_without_properties_are_listed() {
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "amlaudit_snapshot": 1, "collected_at": "2026-01-01T00:00:00Z",
            "resources": [
                {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/listed",
                 "type": "Microsoft.MachineLearningServices/workspaces", "properties": null},
                {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/full",
                 "type": "Microsoft.MachineLearningServices/workspaces", "properties": {}},
                {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
                 "type": "Microsoft.KeyVault/vaults", "properties": {"enableRbacAuthorization": true}}
            ]
        }))
        .unwrap();
        let inventory = Inventory::new(snapshot);
        let names: Vec<&str> = inventory
            .workspaces_without_properties()
            .filter_map(|w| w["id"].as_str())
            .map(ids::short_name)
            .collect();
        assert_eq!(names, ["listed"]);
        assert_eq!(inventory.of_type(types::KEY_VAULT).count(), 1);
    }
}
