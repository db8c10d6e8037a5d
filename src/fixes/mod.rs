//! Fixes as typed edits: what a rule's remediation step changes, rendered to its `az` command in
//! one place ([`Edit::render`]) and applied to an inventory overlay in one place ([`overlay`]).
//!
//! A rule returns `{"description": ..., "edit": {"kind": ..., ...}}` (the Rego helpers in
//! `policies/lib/fixes.rego` build them). Because the edit is data, amlaudit can apply it to its
//! own inventory and re-evaluate the rule: the proof behind every fix it calls automatic
//! ([`FixCheck`]). A step that only Azure can complete (the principal id of an identity an earlier
//! step creates) names that step with `principal_from_step`; the argv then holds a placeholder
//! and the script captures the value when it runs the earlier step.
//!
//! The `az` syntax is Microsoft's current reference (see docs/fixes.md for each kind's source).

pub mod overlay;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ids;
use crate::inventory::{InventoryView, types};

/// One change to the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// A role assignment for a service principal (managed identities included).
    RoleAssignment {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        principal_id: Option<String>,
        /// 0-based index of an earlier step of the same result whose output is the principal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        principal_from_step: Option<usize>,
        /// A built-in role name or a role definition GUID.
        role: String,
        scope: String,
    },
    /// Turns a registry's admin user on or off.
    RegistryAdminUser { registry: String, enabled: bool },
    /// Sets a compute's managed identity.
    ComputeIdentity {
        compute: String,
        #[serde(rename = "type")]
        identity_type: String,
        #[serde(default)]
        user_assigned_identities: Vec<String>,
    },
    /// Adds a user-assigned identity to a resource, keeping the identities it has.
    AttachIdentity { resource: String, identity: String },
    /// Adds or extends an access policy on a key vault that uses access policies.
    KeyvaultAccessPolicy {
        vault: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        object_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        principal_from_step: Option<usize>,
        #[serde(default)]
        key_permissions: Vec<String>,
        #[serde(default)]
        secret_permissions: Vec<String>,
    },
    /// Grants an AKS cluster's kubelet identity pull on a registry (`az aks update --attach-acr`).
    AksAttachAcr { cluster: String, registry: String },
    /// Replaces a workspace connection with a registry connection that authenticates with a
    /// user-assigned identity.
    ConnectionRecreate {
        connection: String,
        target: String,
        identity_resource_id: String,
        identity_client_id: String,
    },
    /// Creates a user-assigned identity; its output is the new principal id.
    IdentityCreate { identity: String },
    /// Moves an AKS cluster from a service principal to managed identity (one way).
    AksManagedIdentity {
        cluster: String,
        /// A user-assigned control-plane identity; system-assigned when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
    },
    /// Re-images every node pool, which an identity change on the cluster needs to reach the
    /// kubelet.
    AksNodeImageUpgrade { cluster: String },
    /// Sets the user-assigned identity a workspace uses to reach its dependent resources.
    WorkspacePrimaryIdentity { workspace: String, identity: String },
    /// Sets one tag on a resource, keeping its other tags.
    ResourceTag {
        resource: String,
        tag: String,
        value: String,
    },
    /// What cannot be automated: prose and, when it helps, a command with `<placeholder>` words.
    Manual {
        text: String,
        #[serde(default)]
        argv: Vec<String>,
    },
}

/// api-version of the Azure ML REST API used for connections (the one the saved examples use).
pub const ML_API_VERSION: &str = "2025-06-01";

/// A command's rendering: its argv and, when the command reads one, the file it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub argv: Vec<String>,
    pub file: Option<StepFile>,
}

/// A file a command reads (`--file <name>`), written by the script before the command runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFile {
    pub name: String,
    pub content: String,
}

/// The word that stands for the principal id an earlier step outputs.
pub fn step_placeholder(step: usize) -> String {
    format!("<principal id from step {step}>")
}

/// Whether a word is a `<placeholder>` a person (or a captured output) must fill in.
pub fn is_placeholder(word: &str) -> bool {
    word.len() > 2 && word.starts_with('<') && word.ends_with('>')
}

fn target_args(id: &str) -> Vec<String> {
    vec![
        "--resource-group".into(),
        ids::resource_group_of(id).unwrap_or_default().to_string(),
        "--subscription".into(),
        ids::subscription_of(id).unwrap_or_default(),
    ]
}

fn az(words: &[&str], name_flag: &str, id: &str, rest: Vec<String>) -> Vec<String> {
    let mut argv: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    argv.push(name_flag.to_string());
    argv.push(ids::short_name(id).to_string());
    argv.extend(target_args(id));
    argv.extend(rest);
    argv
}

/// Whether an id names a resource of a lower-cased type. Names may hold `/` (a hostile tenant's
/// may), so the type's segments are looked for in order rather than parsed from the end.
fn is_of_type(id: &str, ty: &str) -> bool {
    if lower_type(id) == ty {
        return true;
    }
    let lowered = id.to_ascii_lowercase();
    let mut parts = ty.split('/');
    let (Some(namespace), Some(first)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Some(mut at) = lowered.find(&format!("/providers/{namespace}/{first}/")) else {
        return false;
    };
    for segment in parts {
        match lowered[at..].find(&format!("/{segment}/")) {
            Some(i) => at += i + 1,
            None => return false,
        }
    }
    true
}

pub(crate) fn lower_type(id: &str) -> String {
    ids::arm_type_of(id)
        .unwrap_or_default()
        .to_ascii_lowercase()
}

impl Edit {
    /// The kind as written in a step (`role_assignment`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Edit::RoleAssignment { .. } => "role_assignment",
            Edit::RegistryAdminUser { .. } => "registry_admin_user",
            Edit::ComputeIdentity { .. } => "compute_identity",
            Edit::AttachIdentity { .. } => "attach_identity",
            Edit::KeyvaultAccessPolicy { .. } => "keyvault_access_policy",
            Edit::AksAttachAcr { .. } => "aks_attach_acr",
            Edit::ConnectionRecreate { .. } => "connection_recreate",
            Edit::IdentityCreate { .. } => "identity_create",
            Edit::AksManagedIdentity { .. } => "aks_managed_identity",
            Edit::AksNodeImageUpgrade { .. } => "aks_node_image_upgrade",
            Edit::WorkspacePrimaryIdentity { .. } => "workspace_primary_identity",
            Edit::ResourceTag { .. } => "resource_tag",
            Edit::Manual { .. } => "manual",
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Edit::Manual { .. })
    }

    /// The earlier step whose output this edit needs, if any.
    pub fn principal_from_step(&self) -> Option<usize> {
        match self {
            Edit::RoleAssignment {
                principal_from_step,
                ..
            }
            | Edit::KeyvaultAccessPolicy {
                principal_from_step,
                ..
            } => *principal_from_step,
            _ => None,
        }
    }

    /// For an edit whose output is a principal id: the `az --query` that prints it.
    pub fn principal_query(&self) -> Option<&'static str> {
        match self {
            Edit::IdentityCreate { .. } => Some("principalId"),
            Edit::ComputeIdentity { identity_type, .. }
                if identity_type.eq_ignore_ascii_case("SystemAssigned") =>
            {
                Some("identity.principal_id")
            }
            _ => None,
        }
    }

    /// Checks what serde cannot: ids are ARM ids of the right type, exactly one principal is
    /// named, and a step referred to comes earlier and outputs a principal. `earlier` holds the
    /// result's previous steps.
    pub fn validate(&self, earlier: &[Edit]) -> Result<(), String> {
        let arm_id = |field: &str, id: &str, ty: Option<&str>| -> Result<(), String> {
            if id.trim().is_empty() || !id.trim().starts_with('/') {
                return Err(format!("`{field}` must be an ARM id, got {id:?}"));
            }
            if let Some(ty) = ty
                && !is_of_type(id, ty)
            {
                return Err(format!("`{field}` must be the id of a {ty}, got {id:?}"));
            }
            Ok(())
        };
        let one_principal = |named: &Option<String>, from: &Option<usize>, field: &str| match (
            named, from,
        ) {
            (Some(p), None) if !p.trim().is_empty() => Ok(()),
            (None, Some(step)) => match earlier.get(*step) {
                Some(e) if e.principal_query().is_some() => Ok(()),
                Some(e) => Err(format!(
                    "`principal_from_step` {step} names a {} step, which outputs no principal id (identity_create or compute_identity with type SystemAssigned do)",
                    e.kind()
                )),
                None => Err(format!(
                    "`principal_from_step` {step} must name an earlier step of the same result"
                )),
            },
            _ => Err(format!(
                "exactly one of `{field}` (non-empty) and `principal_from_step` must be set"
            )),
        };
        match self {
            Edit::RoleAssignment {
                principal_id,
                principal_from_step,
                role,
                scope,
            } => {
                one_principal(principal_id, principal_from_step, "principal_id")?;
                if role.trim().is_empty() {
                    return Err("`role` must be a role name or role definition GUID".into());
                }
                if !scope.trim().starts_with('/') {
                    return Err(format!("`scope` must be an ARM scope, got {scope:?}"));
                }
                Ok(())
            }
            Edit::RegistryAdminUser { registry, .. } => {
                arm_id("registry", registry, Some(types::REGISTRY))
            }
            Edit::ComputeIdentity {
                compute,
                identity_type,
                user_assigned_identities,
            } => {
                arm_id("compute", compute, Some(types::COMPUTE))?;
                let kinds = identity_kinds(identity_type);
                let valid = !kinds.is_empty()
                    && kinds
                        .iter()
                        .all(|k| k == "systemassigned" || k == "userassigned");
                if !valid {
                    return Err(format!(
                        "`type` must be SystemAssigned, UserAssigned or SystemAssigned,UserAssigned, got {identity_type:?}"
                    ));
                }
                let user = kinds.iter().any(|k| k == "userassigned");
                if user == user_assigned_identities.is_empty() {
                    return Err(
                        "`user_assigned_identities` must be given exactly when `type` includes UserAssigned"
                            .into(),
                    );
                }
                for id in user_assigned_identities {
                    arm_id(
                        "user_assigned_identities",
                        id,
                        Some(types::USER_ASSIGNED_IDENTITY),
                    )?;
                }
                Ok(())
            }
            Edit::AttachIdentity { resource, identity } => {
                arm_id("identity", identity, Some(types::USER_ASSIGNED_IDENTITY))?;
                arm_id("resource", resource, None)?;
                match lower_type(resource).as_str() {
                    types::WORKSPACE | types::MANAGED_CLUSTER | types::REGISTRY => Ok(()),
                    other => Err(format!(
                        "attach_identity supports workspaces, managed clusters and registries, not {other:?} (use compute_identity for a compute)"
                    )),
                }
            }
            Edit::KeyvaultAccessPolicy {
                vault,
                object_id,
                principal_from_step,
                key_permissions,
                secret_permissions,
            } => {
                arm_id("vault", vault, Some("microsoft.keyvault/vaults"))?;
                one_principal(object_id, principal_from_step, "object_id")?;
                if key_permissions.is_empty() && secret_permissions.is_empty() {
                    return Err(
                        "one of `key_permissions` and `secret_permissions` must be non-empty"
                            .into(),
                    );
                }
                Ok(())
            }
            Edit::AksAttachAcr { cluster, registry } => {
                arm_id("cluster", cluster, Some(types::MANAGED_CLUSTER))?;
                arm_id("registry", registry, Some(types::REGISTRY))
            }
            Edit::ConnectionRecreate {
                connection,
                target,
                identity_resource_id,
                identity_client_id,
            } => {
                arm_id("connection", connection, Some(types::CONNECTION))?;
                arm_id(
                    "identity_resource_id",
                    identity_resource_id,
                    Some(types::USER_ASSIGNED_IDENTITY),
                )?;
                if target.trim().is_empty() || identity_client_id.trim().is_empty() {
                    return Err("`target` and `identity_client_id` must be non-empty".into());
                }
                Ok(())
            }
            Edit::IdentityCreate { identity } => {
                arm_id("identity", identity, Some(types::USER_ASSIGNED_IDENTITY))
            }
            Edit::AksManagedIdentity { cluster, identity } => {
                arm_id("cluster", cluster, Some(types::MANAGED_CLUSTER))?;
                match identity {
                    Some(i) => arm_id("identity", i, Some(types::USER_ASSIGNED_IDENTITY)),
                    None => Ok(()),
                }
            }
            Edit::AksNodeImageUpgrade { cluster } => {
                arm_id("cluster", cluster, Some(types::MANAGED_CLUSTER))
            }
            Edit::WorkspacePrimaryIdentity {
                workspace,
                identity,
            } => {
                arm_id("workspace", workspace, Some(types::WORKSPACE))?;
                arm_id("identity", identity, Some(types::USER_ASSIGNED_IDENTITY))
            }
            Edit::ResourceTag { resource, tag, .. } => {
                arm_id("resource", resource, None)?;
                if tag.trim().is_empty() {
                    return Err("`tag` must be a non-empty tag name".into());
                }
                Ok(())
            }
            Edit::Manual { text, .. } => {
                if text.trim().is_empty() {
                    Err("a manual step's `text` must say what to do".into())
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The `az` command for this edit. `inventory` supplies what the command must keep (the
    /// identities a workspace already has). A manual edit renders as its own argv.
    pub fn render(&self, inventory: Option<&dyn InventoryView>) -> Rendered {
        let s = |v: &str| v.to_string();
        let argv = match self {
            Edit::RoleAssignment {
                principal_id,
                principal_from_step,
                role,
                scope,
            } => {
                let principal = principal_from_step
                    .map(step_placeholder)
                    .or_else(|| principal_id.clone())
                    .unwrap_or_default();
                [
                    "az",
                    "role",
                    "assignment",
                    "create",
                    "--assignee-object-id",
                    &principal,
                    "--assignee-principal-type",
                    "ServicePrincipal",
                    "--role",
                    role,
                    "--scope",
                    scope,
                ]
                .map(s)
                .to_vec()
            }
            Edit::RegistryAdminUser { registry, enabled } => az(
                &["az", "acr", "update"],
                "--name",
                registry,
                vec![s("--admin-enabled"), enabled.to_string()],
            ),
            Edit::ComputeIdentity {
                compute,
                identity_type,
                user_assigned_identities,
            } => {
                let workspace = ids::workspace_of(compute).unwrap_or_default();
                let mut argv = compute_args(compute, workspace);
                argv.extend([s("--identity-type"), identity_type.replace(' ', "")]);
                if !user_assigned_identities.is_empty() {
                    argv.push(s("--user-assigned-identities"));
                    argv.push(user_assigned_identities.join(","));
                }
                argv
            }
            Edit::AttachIdentity { resource, identity } => {
                return attach_identity(resource, identity, inventory);
            }
            Edit::KeyvaultAccessPolicy {
                vault,
                object_id,
                principal_from_step,
                key_permissions,
                secret_permissions,
            } => {
                let object = principal_from_step
                    .map(step_placeholder)
                    .or_else(|| object_id.clone())
                    .unwrap_or_default();
                let mut rest = vec![s("--object-id"), object];
                if !key_permissions.is_empty() {
                    rest.push(s("--key-permissions"));
                    rest.extend(key_permissions.iter().cloned());
                }
                if !secret_permissions.is_empty() {
                    rest.push(s("--secret-permissions"));
                    rest.extend(secret_permissions.iter().cloned());
                }
                az(&["az", "keyvault", "set-policy"], "--name", vault, rest)
            }
            Edit::AksAttachAcr { cluster, registry } => az(
                &["az", "aks", "update"],
                "--name",
                cluster,
                vec![s("--attach-acr"), registry.clone()],
            ),
            Edit::ConnectionRecreate {
                connection,
                target,
                identity_resource_id,
                identity_client_id,
            } => {
                let body = json!({
                    "properties": {
                        "category": "ContainerRegistry",
                        "target": target,
                        "authType": "ManagedIdentity",
                        "credentials": {
                            "resourceId": identity_resource_id,
                            "clientId": identity_client_id,
                        },
                    }
                });
                // `az rest` prefixes an id with the current cloud's ARM endpoint.
                vec![
                    s("az"),
                    s("rest"),
                    s("--method"),
                    s("put"),
                    s("--url"),
                    format!("{connection}?api-version={ML_API_VERSION}"),
                    s("--body"),
                    body.to_string(),
                ]
            }
            Edit::IdentityCreate { identity } => {
                az(&["az", "identity", "create"], "--name", identity, vec![])
            }
            Edit::AksManagedIdentity { cluster, identity } => {
                let mut rest = vec![s("--enable-managed-identity")];
                if let Some(identity) = identity {
                    rest.extend([s("--assign-identity"), identity.clone()]);
                }
                rest.push(s("--yes"));
                az(&["az", "aks", "update"], "--name", cluster, rest)
            }
            Edit::AksNodeImageUpgrade { cluster } => az(
                &["az", "aks", "upgrade"],
                "--name",
                cluster,
                vec![s("--node-image-only"), s("--yes")],
            ),
            Edit::WorkspacePrimaryIdentity {
                workspace,
                identity,
            } => az(
                &["az", "ml", "workspace", "update"],
                "--name",
                workspace,
                vec![s("--primary-user-assigned-identity"), identity.clone()],
            ),
            Edit::ResourceTag {
                resource,
                tag,
                value,
            } => vec![
                s("az"),
                s("resource"),
                s("tag"),
                s("--ids"),
                resource.clone(),
                s("--tags"),
                format!("{tag}={value}"),
                s("--is-incremental"),
            ],
            Edit::Manual { argv, .. } => argv.clone(),
        };
        Rendered { argv, file: None }
    }
}

fn compute_args(compute: &str, workspace: &str) -> Vec<String> {
    let mut argv: Vec<String> = ["az", "ml", "compute", "update", "--name"]
        .iter()
        .map(|w| w.to_string())
        .collect();
    argv.push(ids::short_name(compute).to_string());
    argv.push("--workspace-name".into());
    argv.push(ids::short_name(workspace).to_string());
    argv.extend(target_args(compute));
    argv
}

/// The identity kinds of an `identity.type` (`SystemAssigned, UserAssigned`), lower-cased.
pub fn identity_kinds(identity_type: &str) -> Vec<String> {
    identity_type
        .split(',')
        .map(|k| k.trim().to_ascii_lowercase())
        .filter(|k| !k.is_empty())
        .collect()
}

/// `attach_identity`: the resource keeps its identities and gains `identity`.
fn attach_identity(
    resource: &str,
    identity: &str,
    inventory: Option<&dyn InventoryView>,
) -> Rendered {
    let s = |v: &str| v.to_string();
    let current = inventory.and_then(|i| i.resource(resource));
    match lower_type(resource).as_str() {
        types::WORKSPACE => {
            // `az ml workspace update` has no flag that adds a user-assigned identity; its YAML
            // does. The file lists every identity the workspace keeps: the service replaces the
            // set with what the file says.
            let identity_block = current.and_then(|c| c.get("identity"));
            let kinds = identity_block
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str)
                .map(identity_kinds)
                .unwrap_or_else(|| vec!["systemassigned".into()]);
            let system = kinds.iter().any(|k| k == "systemassigned");
            let mut user: Vec<String> = identity_block
                .and_then(|i| i.get("userAssignedIdentities"))
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            if !user
                .iter()
                .any(|u| ids::normalize(u) == ids::normalize(identity))
            {
                user.push(identity.to_string());
            }
            let mut doc = serde_json::Map::new();
            doc.insert("name".into(), json!(ids::short_name(resource)));
            let assigned: serde_json::Map<String, Value> =
                user.iter().map(|u| (u.clone(), json!({}))).collect();
            doc.insert(
                "identity".into(),
                json!({
                    "type": if system { "system_assigned,user_assigned" } else { "user_assigned" },
                    "user_assigned_identities": assigned,
                }),
            );
            let content = serde_norway::to_string(&Value::Object(doc))
                .expect("a JSON object with string keys always serialises to YAML");
            let digest = Sha256::digest(format!("{resource}\n{identity}").as_bytes());
            let name = format!(
                "attach-identity-{}.yml",
                digest[..6]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
            let argv = az(
                &["az", "ml", "workspace", "update"],
                "--name",
                resource,
                vec![s("--file"), name.clone()],
            );
            Rendered {
                argv,
                file: Some(StepFile { name, content }),
            }
        }
        types::MANAGED_CLUSTER => Rendered {
            argv: az(
                &["az", "aks", "update"],
                "--name",
                resource,
                vec![
                    s("--enable-managed-identity"),
                    s("--assign-identity"),
                    identity.to_string(),
                    s("--yes"),
                ],
            ),
            file: None,
        },
        _ => Rendered {
            argv: az(
                &["az", "acr", "identity", "assign"],
                "--name",
                resource,
                vec![s("--identities"), identity.to_string()],
            ),
            file: None,
        },
    }
}

/// Whether a result's fix was proven, by applying it to an overlay of the inventory and
/// evaluating the rule again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verified {
    /// After the fix the rule passes.
    Closes,
    /// After the fix the rule cannot decide (`unknown`): the fix may be right, but not provably.
    Partial,
    /// After the fix the rule still fails: a bug in the rule's remediation.
    DoesNotClose,
    /// The fix holds a manual step (or the result was not checked), so nothing was proven.
    NotVerified,
}

impl Verified {
    pub fn as_str(self) -> &'static str {
        match self {
            Verified::Closes => "closes",
            Verified::Partial => "partial",
            Verified::DoesNotClose => "does_not_close",
            Verified::NotVerified => "not_verified",
        }
    }
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The proof of one result's fix: the verdict and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixCheck {
    pub verified: Verified,
    pub detail: String,
}
