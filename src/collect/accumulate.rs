//! What a collection has gathered so far, shared by every task: resources by normalised id
//! (an assignment inherited from a management group is listed by each subscription below it, and
//! must be stored once), the outcome of every read per subscription, the role definitions that
//! assignments reference, and management-group ancestry. [`Accumulator::finish`] turns it into a
//! [`Snapshot`] whose `scopes` say exactly which reads failed.

use crate::inventory::ArmType;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Map, Value};

use super::client::RequestError;
use crate::ids;
use crate::inventory::snapshot::{
    self, DenyAssignmentsRead, Directory, DirectoryError, ScopeCoverage, ScopeError, ScopeStatus,
    Snapshot,
};
use crate::inventory::types;

/// A role definition referenced by assignments, and who referenced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleRef {
    /// Lower-cased GUID.
    pub guid: String,
    /// The `roleDefinitionId` to GET: one with a subscription prefix when any assignment wrote
    /// it so (custom roles resolve there), the smallest such id otherwise, for a stable choice.
    pub definition_id: String,
    /// Subscriptions whose assignments use it (lower-cased).
    pub subscriptions: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct ScopeState {
    reads_ok: u32,
    errors: Vec<ScopeError>,
    /// The subscription's deny assignments were listed completely.
    deny_read: bool,
}

#[derive(Debug, Default)]
struct Inner {
    resources: HashMap<String, Value>,
    scopes: BTreeMap<String, ScopeState>,
    role_refs: BTreeMap<String, RoleRef>,
    ancestry: HashMap<String, Value>,
    warnings: Vec<String>,
    directory: Directory,
}

#[derive(Debug)]
pub(crate) struct Accumulator {
    inner: Mutex<Inner>,
}

impl Accumulator {
    /// Starts with every subscription of the collection, so one that yields nothing at all is
    /// still reported.
    pub(crate) fn new(subscriptions: &[String]) -> Self {
        let mut inner = Inner::default();
        for sub in subscriptions {
            inner.scopes.entry(sub.to_ascii_lowercase()).or_default();
        }
        Accumulator {
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a resource read on behalf of `sub`. An object the snapshot cannot hold is recorded
    /// as an error of that subscription, never dropped quietly.
    pub(crate) fn add(&self, sub: &str, resource_type: &str, resource: Value) {
        let mut inner = self.lock();
        if let Err(problem) = snapshot::check_resource(&resource, "$") {
            let id = resource
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("(no id)");
            push_error(
                &mut inner,
                sub,
                resource_type,
                format!("Azure returned an object amlaudit cannot use ({id}): {problem}"),
                None,
            );
            return;
        }
        let sub = sub.to_ascii_lowercase();
        if snapshot::resource_type(&resource) == types::ROLE_ASSIGNMENT
            && let Some(definition_id) = resource
                .pointer("/properties/roleDefinitionId")
                .and_then(Value::as_str)
        {
            let guid = ids::role_guid(definition_id);
            let entry = inner
                .role_refs
                .entry(guid.clone())
                .or_insert_with(|| RoleRef {
                    guid,
                    definition_id: definition_id.to_string(),
                    subscriptions: BTreeSet::new(),
                });
            if preferred(definition_id, &entry.definition_id) {
                entry.definition_id = definition_id.to_string();
            }
            entry.subscriptions.insert(sub);
        }
        inner
            .resources
            .entry(snapshot::resource_id(&resource))
            .or_insert(resource);
    }

    /// Adds the definition of a referenced role; the read counts for every subscription whose
    /// assignments use it.
    pub(crate) fn add_role_definition(&self, role: &RoleRef, definition: Value) {
        let first = role
            .subscriptions
            .iter()
            .next()
            .cloned()
            .unwrap_or_default();
        self.add(&first, ArmType::RoleDefinition.canonical(), definition);
        for sub in &role.subscriptions {
            self.read_ok(sub);
        }
    }

    /// A read for `sub` succeeded.
    pub(crate) fn read_ok(&self, sub: &str) {
        self.lock()
            .scopes
            .entry(sub.to_ascii_lowercase())
            .or_default()
            .reads_ok += 1;
    }

    /// A read for `sub` failed: it goes into the snapshot's `scopes`.
    pub(crate) fn read_failed(
        &self,
        sub: &str,
        resource_type: &str,
        message: String,
        http_status: Option<u16>,
    ) {
        push_error(&mut self.lock(), sub, resource_type, message, http_status);
    }

    /// Records the outcome of one read.
    pub(crate) fn record(
        &self,
        sub: &str,
        resource_type: &str,
        outcome: &Result<(), RequestError>,
    ) {
        match outcome {
            Ok(()) => self.read_ok(sub),
            Err(e) => self.read_failed(sub, resource_type, e.to_string(), e.http_status()),
        }
    }

    /// Something the user must hear about that does not make a scope incomplete; the caller
    /// prints these with the summary, so the log only notes it in passing.
    pub(crate) fn warn(&self, message: String) {
        tracing::info!("{message}");
        self.lock().warnings.push(message);
    }

    /// Management-group ancestry of a subscription, nearest group first.
    pub(crate) fn set_ancestry(&self, sub: &str, chain: Value) {
        self.lock().ancestry.insert(sub.to_ascii_lowercase(), chain);
    }

    /// The subscription's deny assignments were listed to the end.
    pub(crate) fn deny_assignments_read(&self, sub: &str) {
        self.lock()
            .scopes
            .entry(sub.to_ascii_lowercase())
            .or_default()
            .deny_read = true;
    }

    /// The transitive groups of a principal, as Microsoft Graph listed them.
    pub(crate) fn set_memberships(&self, principal: &str, mut groups: Vec<String>) {
        groups.sort();
        groups.dedup();
        self.lock()
            .directory
            .group_memberships
            .insert(principal.to_ascii_lowercase(), groups);
    }

    /// Graph would not say a principal's groups (or an app id's service principal).
    pub(crate) fn directory_failed(
        &self,
        principal: &str,
        message: String,
        http_status: Option<u16>,
    ) {
        self.lock().directory.errors.push(DirectoryError {
            principal_id: principal.to_ascii_lowercase(),
            message,
            http_status,
        });
    }

    /// The object id of an application's service principal.
    pub(crate) fn set_service_principal(&self, app_id: &str, object_id: &str) {
        self.lock()
            .directory
            .service_principals
            .insert(app_id.to_ascii_lowercase(), object_id.to_ascii_lowercase());
    }

    /// The principals whose memberships the rules need (identities of workspaces, computes,
    /// clusters' kubelets, user-assigned identities) and the app ids of clusters that run on a
    /// service principal, both lower-cased and sorted.
    pub(crate) fn directory_subjects(&self) -> (Vec<String>, Vec<String>) {
        let inner = self.lock();
        let mut principals = BTreeSet::new();
        let mut apps = BTreeSet::new();
        let add = |v: Option<&Value>, into: &mut BTreeSet<String>| {
            if let Some(id) = v.and_then(Value::as_str).map(str::trim)
                && super::is_guid(&id.to_ascii_lowercase())
            {
                into.insert(id.to_ascii_lowercase());
            }
        };
        for r in inner.resources.values() {
            let ty = snapshot::resource_type(r);
            match ty.as_str() {
                types::WORKSPACE | types::COMPUTE | types::MANAGED_CLUSTER => {
                    add(r.pointer("/identity/principalId"), &mut principals);
                    if let Some(uais) = r
                        .pointer("/identity/userAssignedIdentities")
                        .and_then(Value::as_object)
                    {
                        for uai in uais.values() {
                            add(uai.get("principalId"), &mut principals);
                        }
                    }
                    add(
                        r.pointer("/properties/identityProfile/kubeletidentity/objectId"),
                        &mut principals,
                    );
                    add(
                        r.pointer("/properties/servicePrincipalProfile/clientId"),
                        &mut apps,
                    );
                }
                types::USER_ASSIGNED_IDENTITY => {
                    add(r.pointer("/properties/principalId"), &mut principals);
                }
                _ => {}
            }
        }
        (principals.into_iter().collect(), apps.into_iter().collect())
    }

    /// Role definitions referenced so far.
    pub(crate) fn role_refs(&self) -> Vec<RoleRef> {
        self.lock().role_refs.values().cloned().collect()
    }

    /// The snapshot, with warnings for the user; called once every task has ended.
    pub(crate) fn finish(&self, cloud: &str) -> (Snapshot, Vec<String>) {
        let inner = std::mem::take(&mut *self.lock());
        let mut resources: Vec<(String, Value)> = inner.resources.into_iter().collect();
        let mut tenants = BTreeSet::new();
        for (_, resource) in &mut resources {
            if snapshot::resource_type(resource) != types::SUBSCRIPTION {
                continue;
            }
            if let Some(t) = resource.get("tenantId").and_then(Value::as_str) {
                tenants.insert(t.to_ascii_lowercase());
            }
            let Some(sub) = resource
                .get("id")
                .and_then(Value::as_str)
                .and_then(ids::subscription_of)
            else {
                continue;
            };
            let Some(chain) = inner.ancestry.get(&sub) else {
                continue;
            };
            let Some(obj) = resource.as_object_mut() else {
                continue;
            };
            let props = obj
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            if !props.is_object() {
                *props = Value::Object(Map::new());
            }
            if let Some(props) = props.as_object_mut() {
                props
                    .entry("managementGroupAncestorsChain")
                    .or_insert_with(|| chain.clone());
            }
        }
        // Sorted by type, then id: a snapshot of the same tenant diffs cleanly.
        resources.sort_by_cached_key(|(id, r)| (snapshot::resource_type(r), id.clone()));
        let scopes = inner
            .scopes
            .into_iter()
            .map(|(subscription_id, state)| {
                let status = if state.errors.is_empty() {
                    ScopeStatus::Complete
                } else if state.reads_ok == 0 {
                    ScopeStatus::Failed
                } else {
                    ScopeStatus::Partial
                };
                let mut errors = state.errors;
                errors.sort_by(|a, b| {
                    (&a.resource_type, &a.message).cmp(&(&b.resource_type, &b.message))
                });
                ScopeCoverage {
                    subscription_id,
                    status,
                    errors,
                    deny_assignments: Some(if state.deny_read {
                        DenyAssignmentsRead::Read
                    } else {
                        DenyAssignmentsRead::NotRead
                    }),
                }
            })
            .collect();
        let tenant_id = (tenants.len() == 1)
            .then(|| tenants.into_iter().next())
            .flatten();
        let mut snapshot = Snapshot::new(tenant_id, cloud);
        snapshot.scopes = scopes;
        snapshot.resources = resources.into_iter().map(|(_, r)| r).collect();
        let mut directory = inner.directory;
        directory
            .errors
            .sort_by(|a, b| (&a.principal_id, &a.message).cmp(&(&b.principal_id, &b.message)));
        snapshot.directory = directory;
        (snapshot, inner.warnings)
    }
}

fn push_error(
    inner: &mut Inner,
    sub: &str,
    resource_type: &str,
    message: String,
    http_status: Option<u16>,
) {
    inner
        .scopes
        .entry(sub.to_ascii_lowercase())
        .or_default()
        .errors
        .push(ScopeError {
            resource_type: resource_type.to_string(),
            message,
            http_status,
        });
}

/// Whether `candidate` is a better id to GET a role definition by than `current`.
fn preferred(candidate: &str, current: &str) -> bool {
    let scoped = |id: &str| id.to_ascii_lowercase().starts_with("/subscriptions/");
    match (scoped(candidate), scoped(current)) {
        (true, false) => true,
        (false, true) => false,
        _ => candidate < current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assignment(id: &str, role: &str) -> Value {
        json!({"id": id, "type": "Microsoft.Authorization/roleAssignments",
               "properties": {"principalId": "p", "roleDefinitionId": role, "scope": "/"}})
    }

    #[test]
    fn an_inherited_assignment_is_stored_once_and_attributed_to_both() {
        let acc = Accumulator::new(&["S1".into(), "s2".into()]);
        let id = "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/roleAssignments/a";
        acc.add(
            "s1",
            "x",
            assignment(id, "/providers/Microsoft.Authorization/roleDefinitions/G"),
        );
        acc.add(
            "s2",
            "x",
            assignment(
                &id.to_uppercase(),
                "/subscriptions/s2/providers/Microsoft.Authorization/roleDefinitions/g",
            ),
        );
        acc.read_ok("s1");
        acc.read_ok("s2");
        let refs = acc.role_refs();
        assert_eq!(refs.len(), 1);
        assert_eq!(
            refs[0].definition_id,
            "/subscriptions/s2/providers/Microsoft.Authorization/roleDefinitions/g"
        );
        assert_eq!(refs[0].subscriptions.len(), 2);
        let (snap, _) = acc.finish("AzureCloud");
        assert_eq!(snap.resources.len(), 1);
        assert!(snap.is_complete());
    }

    #[test]
    fn status_follows_the_reads() {
        let acc = Accumulator::new(&["ok".into(), "half".into(), "none".into()]);
        acc.read_ok("ok");
        acc.read_ok("half");
        acc.read_failed("half", "t", "HTTP 403".into(), Some(403));
        acc.read_failed("none", "t", "HTTP 403".into(), Some(403));
        acc.add("half", "t", json!({"id": "no-slash", "type": "t"}));
        let (snap, _) = acc.finish("AzureCloud");
        let status = |s: &str| snap.coverage(s).unwrap().status;
        assert_eq!(status("ok"), ScopeStatus::Complete);
        assert_eq!(status("half"), ScopeStatus::Partial);
        assert_eq!(status("none"), ScopeStatus::Failed);
        assert_eq!(snap.coverage("half").unwrap().errors.len(), 2);
        assert!(snap.resources.is_empty());
    }

    #[test]
    fn ancestry_lands_on_the_subscription_object() {
        let acc = Accumulator::new(&["s1".into()]);
        acc.add(
            "s1",
            "Microsoft.Resources/subscriptions",
            json!({"id": "/subscriptions/S1", "type": "Microsoft.Resources/subscriptions", "tenantId": "T"}),
        );
        acc.set_ancestry("s1", json!([{"name": "mg"}]));
        let (snap, _) = acc.finish("AzureCloud");
        assert_eq!(
            snap.resources[0]["properties"]["managementGroupAncestorsChain"][0]["name"],
            "mg"
        );
        assert_eq!(snap.tenant_id.as_deref(), Some("t"));
    }
}
