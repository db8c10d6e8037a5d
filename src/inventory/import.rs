//! `amlaudit import`: builds a snapshot from JSON a user already has.
//!
//! Accepted shapes, per file: an ARM list body (`{"value": [...]}`), a Resource Graph body
//! (`{"data": [...]}`), a JSON array of objects, a single ARM object, another amlaudit snapshot,
//! the flattened objects `az` prints (`az role assignment list --all`, `az role definition
//! list`, `az resource list`, `az ml compute list`), and `az deployment group what-if
//! --result-format FullResourcePayloads -o json` results (the `after` state of each change).
//! Every object is rewritten into the shape ARM returns, so the rest of amlaudit reads one shape
//! only. Objects with the same id (any case) are
//! merged, with present values winning over nulls, so `az resource list` plus `az acr show` gives
//! one registry with its properties.
//!
//! Two more inputs feed what ARM alone does not say:
//! - deny assignments: the list body `az rest --method get --url
//!   "https://management.azure.com/subscriptions/<sub>/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"`
//!   prints (az has no deny-assignment command). A subscription whose deny assignments the files
//!   hold is recorded as `deny_assignments: "read"`; an empty list names no subscription, so say
//!   which with `--deny-assignments-listed <sub>`.
//! - group memberships from Microsoft Graph: a JSON object mapping each principal's object id to
//!   the body Graph returned for it, either `GET /v1.0/servicePrincipals/<id>/transitiveMemberOf`
//!   (`{"value": [{"@odata.type": "#microsoft.graph.group", "id": ...}, ...]}`) or
//!   `POST /v1.0/directoryObjects/<id>/getMemberGroups` (`{"value": ["<group id>", ...]}`).
//!   A body that still has an `@odata.nextLink` is incomplete: that principal's memberships stay
//!   unknown, with the reason in `directory.errors`.
//!
//! Input is read strictly: a key duplicated in any object is an error with its line, column and
//! JSON path. A list body with a `nextLink` holds only its first page, so the subscriptions it
//! covers are recorded as `partial`, never `complete`. Fields that hold secrets (passwords, keys,
//! connection strings, tokens; see [`SECRET_FIELDS`]) are dropped, as `collect` never fetches them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::snapshot::{
    self, DenyAssignmentsRead, Directory, DirectoryError, Problem, ScopeCoverage, ScopeError,
    ScopeStatus, Snapshot,
};
use crate::ids;

/// An input file that could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not valid JSON: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}{}{problem}", .path.display(), separator(.problem))]
    Invalid { path: PathBuf, problem: Problem },
}

/// `file:line:col: at ...` when the problem has a position, `file: at ...` otherwise.
fn separator(problem: &Problem) -> &'static str {
    if problem.position.is_some() {
        ":"
    } else {
        ": "
    }
}

/// A list body that held only its first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    /// The file, as the user named it.
    pub file: String,
    /// The subscriptions of the items on that page (empty when it had none).
    pub subscriptions: Vec<String>,
    /// The ARM type of the items on that page, when they had one.
    pub resource_type: Option<String>,
}

/// Field names (compared case-insensitively) whose values are secrets. ARM GETs never return
/// them, but `az ... list-keys`, `az acr credential show` and `--with-secrets` output do.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "passwords",
    "secret",
    "clientsecret",
    "secretaccesskey",
    "key",
    "keys",
    "primarykey",
    "secondarykey",
    "accountkey",
    "accesskey",
    "privatekey",
    "connectionstring",
    "primaryconnectionstring",
    "secondaryconnectionstring",
    "sastoken",
    "sas",
    "pat",
    "personalaccesstoken",
    "token",
    "accesstoken",
    "refreshtoken",
];

/// Collects resources from many files into one snapshot.
#[derive(Debug, Default)]
pub struct Importer {
    resources: Vec<Value>,
    by_id: HashMap<String, usize>,
    scopes: Vec<ScopeCoverage>,
    directory: Directory,
    /// Subscriptions whose deny assignments the files hold.
    deny_read: HashSet<String>,
    truncated: Vec<Truncated>,
    /// How many secret fields were dropped.
    secrets_removed: usize,
}

impl Importer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one file and adds its resources.
    pub fn add_file(&mut self, path: &Path) -> Result<usize, ImportError> {
        let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let value = crate::strict_json::parse_slice(&bytes, "$").map_err(|e| {
            if e.message.starts_with("duplicate key") {
                ImportError::Invalid {
                    path: path.to_path_buf(),
                    problem: e.into(),
                }
            } else {
                ImportError::Syntax {
                    path: path.to_path_buf(),
                    line: e.line,
                    column: e.column,
                    message: e.message,
                }
            }
        })?;
        let truncated_before = self.truncated.len();
        let count = self
            .add_value(value)
            .map_err(|problem| ImportError::Invalid {
                path: path.to_path_buf(),
                problem,
            })?;
        for t in &mut self.truncated[truncated_before..] {
            t.file = path.display().to_string();
        }
        Ok(count)
    }

    /// List bodies that held a `nextLink`: only their first page was imported.
    pub fn truncated(&self) -> &[Truncated] {
        &self.truncated
    }

    /// How many secret-holding fields were dropped from the input.
    pub fn secrets_removed(&self) -> usize {
        self.secrets_removed
    }

    /// Adds the resources of one parsed document; returns how many objects it held.
    pub fn add_value(&mut self, value: Value) -> Result<usize, Problem> {
        let (items, base): (Vec<Value>, &str) = match value {
            Value::Array(items) => (items, "$"),
            Value::Object(obj) if is_membership_file(&obj) => {
                let count = obj.len();
                self.add_memberships(obj)?;
                return Ok(count);
            }
            Value::Object(mut obj) => {
                if obj.contains_key("amlaudit_snapshot") {
                    if let Some(Value::Array(scopes)) = obj.remove("scopes") {
                        for s in scopes {
                            if let Ok(s) = serde_json::from_value::<ScopeCoverage>(s) {
                                if s.deny_assignments_read() {
                                    self.deny_read
                                        .insert(s.subscription_id.to_ascii_lowercase());
                                }
                                self.scopes.push(s);
                            }
                        }
                    }
                    if let Some(d) = obj.remove("directory")
                        && !d.is_null()
                    {
                        let d: Directory = serde_json::from_value(d).map_err(|e| Problem {
                            json_path: "$.directory".into(),
                            message: e.to_string(),
                            position: None,
                        })?;
                        self.directory.group_memberships.extend(d.group_memberships);
                        self.directory.errors.extend(d.errors);
                        self.directory
                            .service_principals
                            .extend(d.service_principals);
                    }
                    (take_array(&mut obj, "resources"), "$.resources")
                } else if obj.get("changes").is_some_and(Value::is_array) && !obj.contains_key("id")
                {
                    (what_if_states(&mut obj), "$.changes")
                } else if obj.get("value").is_some_and(Value::is_array) && !obj.contains_key("id") {
                    let items = take_array(&mut obj, "value");
                    let next = obj
                        .get("nextLink")
                        .or_else(|| obj.get("@odata.nextLink"))
                        .is_some_and(|n| n.as_str().is_some_and(|n| !n.trim().is_empty()));
                    if next {
                        self.truncated.push(truncation(&items));
                    }
                    (items, "$.value")
                } else if obj.get("data").is_some_and(Value::is_array) && !obj.contains_key("id") {
                    (take_array(&mut obj, "data"), "$.data")
                } else {
                    (vec![Value::Object(obj)], "")
                }
            }
            _ => {
                return Err(Problem::at(
                    "$",
                    "expected an ARM object, a list body ({\"value\": [...]}) or an array of objects",
                ));
            }
        };
        let count = items.len();
        for (i, item) in items.into_iter().enumerate() {
            let path = if base.is_empty() {
                "$".to_string()
            } else {
                format!("{base}[{i}]")
            };
            let mut resource = to_arm_shape(item, &path)?;
            self.secrets_removed += strip_secrets(&mut resource);
            snapshot::check_resource(&resource, &path)?;
            if snapshot::resource_type(&resource) == super::types::DENY_ASSIGNMENT
                && let Some(sub) = resource
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(ids::subscription_of)
            {
                self.deny_read.insert(sub);
            }
            self.insert(resource);
        }
        Ok(count)
    }

    /// Records that the files hold the complete deny-assignment list of a subscription (needed
    /// when that list is empty, since an empty list names no subscription).
    pub fn deny_assignments_listed(&mut self, subscription: &str) {
        self.deny_read
            .insert(subscription.trim().to_ascii_lowercase());
    }

    fn add_memberships(&mut self, obj: Map<String, Value>) -> Result<(), Problem> {
        for (principal, body) in obj {
            let principal = principal.trim().to_ascii_lowercase();
            let path = format!("$.{principal}");
            if body.get("@odata.nextLink").is_some_and(|l| !l.is_null()) {
                self.directory.group_memberships.remove(&principal);
                self.directory.errors.push(DirectoryError {
                    principal_id: principal,
                    message: "the Graph answer in the imported file has an @odata.nextLink: it holds only the first page, so the memberships are incomplete".into(),
                    http_status: None,
                });
                continue;
            }
            let items = body
                .get("value")
                .and_then(Value::as_array)
                .ok_or_else(|| Problem {
                    json_path: format!("{path}.value"),
                    message: "expected the Graph answer's `value` array".into(),
                    position: None,
                })?;
            let mut groups = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(id) => groups.push(id.trim().to_ascii_lowercase()),
                    Value::Object(o) => {
                        let ty = o.get("@odata.type").and_then(Value::as_str);
                        // transitiveMemberOf also lists directory roles and administrative units.
                        if ty.is_some_and(|t| !t.eq_ignore_ascii_case("#microsoft.graph.group")) {
                            continue;
                        }
                        let id = o.get("id").and_then(Value::as_str).ok_or_else(|| Problem {
                            json_path: format!("{path}.value[{i}].id"),
                            message: "a group without an `id`".into(),
                            position: None,
                        })?;
                        groups.push(id.trim().to_ascii_lowercase());
                    }
                    _ => {
                        return Err(Problem {
                            json_path: format!("{path}.value[{i}]"),
                            message: "expected a group id or a directory object".into(),
                            position: None,
                        });
                    }
                }
            }
            groups.sort();
            groups.dedup();
            self.directory
                .errors
                .retain(|e| e.principal_id != principal);
            self.directory.group_memberships.insert(principal, groups);
        }
        Ok(())
    }

    fn insert(&mut self, resource: Value) {
        let id = snapshot::resource_id(&resource);
        match self.by_id.get(&id) {
            Some(&i) => merge(&mut self.resources[i], resource),
            None => {
                self.by_id.insert(id, self.resources.len());
                self.resources.push(resource);
            }
        }
    }

    /// The snapshot: `complete` for each listed subscription (`partial` when a list body that
    /// holds its resources, or holds nothing to tell, had a `nextLink`), coverage from imported
    /// snapshots for the rest; subscriptions seen only in ids stay uncovered.
    pub fn finish(
        self,
        subscriptions: &[String],
        tenant_id: Option<String>,
        cloud: &str,
    ) -> Snapshot {
        let mut snapshot = Snapshot::new(tenant_id, cloud);
        let mut scopes = self.scopes;
        for sub in subscriptions {
            scopes.retain(|s| !s.subscription_id.eq_ignore_ascii_case(sub));
            let errors: Vec<ScopeError> = self
                .truncated
                .iter()
                .filter(|t| {
                    t.subscriptions.is_empty()
                        || t.subscriptions.iter().any(|s| s.eq_ignore_ascii_case(sub))
                })
                .map(|t| ScopeError {
                    resource_type: t.resource_type.clone().unwrap_or_default(),
                    message: format!(
                        "{}: the list body has a nextLink: only its first page was imported",
                        t.file
                    ),
                    http_status: None,
                })
                .collect();
            scopes.push(ScopeCoverage {
                subscription_id: sub.to_ascii_lowercase(),
                status: if errors.is_empty() {
                    ScopeStatus::Complete
                } else {
                    ScopeStatus::Partial
                },
                errors,
                deny_assignments: None,
            });
        }
        for scope in &mut scopes {
            scope.deny_assignments = Some(
                if self
                    .deny_read
                    .contains(&scope.subscription_id.to_ascii_lowercase())
                {
                    DenyAssignmentsRead::Read
                } else {
                    DenyAssignmentsRead::NotRead
                },
            );
        }
        snapshot.scopes = scopes;
        snapshot.resources = self.resources;
        snapshot.directory = self.directory;
        snapshot
    }

    /// Subscriptions named in resource ids that no scope covers.
    pub fn uncovered_subscriptions(&self, listed: &[String]) -> Vec<String> {
        let mut seen: Vec<String> = self
            .resources
            .iter()
            .filter_map(|r| {
                r.get("id")
                    .and_then(Value::as_str)
                    .and_then(ids::subscription_of)
            })
            .filter(|s| {
                !listed.iter().any(|l| l.eq_ignore_ascii_case(s))
                    && !self
                        .scopes
                        .iter()
                        .any(|c| c.subscription_id.eq_ignore_ascii_case(s))
            })
            .collect();
        seen.sort();
        seen.dedup();
        seen
    }
}

/// A Graph membership file: every key a principal object id, every value a Graph list body.
fn is_membership_file(obj: &Map<String, Value>) -> bool {
    !obj.is_empty()
        && obj
            .iter()
            .all(|(k, v)| ids::is_guid(k.trim()) && v.get("value").is_some_and(Value::is_array))
}

/// What a first page says about what is missing: its items' subscriptions and type.
fn truncation(items: &[Value]) -> Truncated {
    let mut subscriptions: Vec<String> = items
        .iter()
        .filter_map(|i| {
            i.get("id")
                .and_then(Value::as_str)
                .and_then(ids::subscription_of)
        })
        .collect();
    subscriptions.sort();
    subscriptions.dedup();
    let resource_type = items
        .iter()
        .find_map(|i| i.get("type").and_then(Value::as_str))
        .map(str::to_string);
    Truncated {
        file: String::new(),
        subscriptions,
        resource_type,
    }
}

/// Drops every field named in [`SECRET_FIELDS`], at any depth; returns how many.
fn strip_secrets(value: &mut Value) -> usize {
    match value {
        Value::Object(obj) => {
            let before = obj.len();
            obj.retain(|k, _| {
                !SECRET_FIELDS
                    .iter()
                    .any(|secret| k.eq_ignore_ascii_case(secret))
            });
            let removed = before - obj.len();
            removed + obj.values_mut().map(strip_secrets).sum::<usize>()
        }
        Value::Array(items) => items.iter_mut().map(strip_secrets).sum(),
        _ => 0,
    }
}

/// The states an `az deployment group what-if --result-format FullResourcePayloads -o json`
/// result leaves behind: each change's `after` (already evaluated by ARM), with its `resourceId`
/// as the id when the payload has none; `Ignore` changes keep their `before` (the deployment leaves
/// them as they are); deletions leave nothing.
fn what_if_states(obj: &mut Map<String, Value>) -> Vec<Value> {
    take_array(obj, "changes")
        .into_iter()
        .filter_map(|change| {
            let kind = change
                .get("changeType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase();
            let state = match kind.as_str() {
                "delete" => return None,
                "ignore" => change.get("before").or_else(|| change.get("after")),
                _ => change.get("after"),
            };
            let mut state = state.filter(|s| s.is_object())?.clone();
            if state.get("id").is_none()
                && let Some(id) = change.get("resourceId").filter(|i| i.is_string())
            {
                state["id"] = id.clone();
            }
            if state.get("type").is_none()
                && let Some(ty) = state["id"].as_str().and_then(ids::arm_type_of)
            {
                state["type"] = Value::String(ty);
            }
            Some(state)
        })
        .collect()
}

fn take_array(obj: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match obj.remove(key) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

/// Deep merge: objects merge key by key, a null never replaces a value, anything else replaces.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (_, Value::Null) => {}
        (slot, v) => *slot = v,
    }
}

/// Fields `az` lifts out of `properties`, per ARM type, and their ARM names.
const ROLE_ASSIGNMENT_FIELDS: &[(&str, &str)] = &[
    ("principalId", "principalId"),
    ("principalType", "principalType"),
    ("roleDefinitionId", "roleDefinitionId"),
    ("scope", "scope"),
    ("condition", "condition"),
    ("conditionVersion", "conditionVersion"),
    ("description", "description"),
    ("createdOn", "createdOn"),
    (
        "delegatedManagedIdentityResourceId",
        "delegatedManagedIdentityResourceId",
    ),
];
const ROLE_DEFINITION_FIELDS: &[(&str, &str)] = &[
    ("roleName", "roleName"),
    ("roleType", "type"),
    ("description", "description"),
    ("assignableScopes", "assignableScopes"),
    ("permissions", "permissions"),
];

/// Rewrites one object into the ARM shape.
fn to_arm_shape(item: Value, path: &str) -> Result<Value, Problem> {
    let Value::Object(mut obj) = item else {
        return Err(Problem::at(
            path.to_string(),
            "a resource must be a JSON object",
        ));
    };
    let Some(id) = obj.get("id").and_then(Value::as_str).map(str::to_string) else {
        return Err(Problem::at(
            path.to_string(),
            "missing `id`: every resource needs an ARM `id` and `type`",
        ));
    };
    let declared = obj.get("type").and_then(Value::as_str).map(str::to_string);
    let ty = match declared.clone() {
        Some(t) if t.contains('/') => t,
        // `az ml compute list` prints `amlcompute`, ARM subscriptions have no `type`: the id says.
        other => match ids::arm_type_of(&id).or_else(|| container_type_of(&id)) {
            Some(t) => t,
            None => {
                return Err(Problem::at(
                    format!("{path}.type"),
                    match other {
                        Some(t) => format!(
                            "`{t}` is not an ARM type and none can be read from the id `{id}`"
                        ),
                        None => format!("missing `type`, and none can be read from the id `{id}`"),
                    },
                ));
            }
        },
    };
    obj.insert("type".into(), Value::String(ty.clone()));
    let lowered = ty.to_ascii_lowercase();
    match lowered.as_str() {
        super::types::ROLE_ASSIGNMENT => lift_into_properties(&mut obj, ROLE_ASSIGNMENT_FIELDS),
        super::types::ROLE_DEFINITION => lift_into_properties(&mut obj, ROLE_DEFINITION_FIELDS),
        super::types::COMPUTE if is_az_ml_compute(&obj) => {
            az_ml_compute(&mut obj, declared.as_deref())
        }
        super::types::REGISTRY
        | super::types::MANAGED_CLUSTER
        | super::types::USER_ASSIGNED_IDENTITY
        | super::types::KEY_VAULT => lift_flattened(&mut obj),
        _ => {}
    }
    if obj.get("name").is_none_or(Value::is_null) {
        obj.insert(
            "name".into(),
            Value::String(ids::short_name(&id).to_string()),
        );
    }
    Ok(Value::Object(obj))
}

/// `/subscriptions/<id>` and `/subscriptions/<id>/resourceGroups/<rg>` have no provider segment.
fn container_type_of(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [s, _] if s.eq_ignore_ascii_case("subscriptions") => {
            Some("Microsoft.Resources/subscriptions".into())
        }
        [s, _, g, _]
            if s.eq_ignore_ascii_case("subscriptions")
                && g.eq_ignore_ascii_case("resourceGroups") =>
        {
            Some("Microsoft.Resources/resourceGroups".into())
        }
        _ => None,
    }
}

fn lift_into_properties(obj: &mut Map<String, Value>, fields: &[(&str, &str)]) {
    if obj.get("properties").is_some_and(Value::is_object) {
        return;
    }
    let mut props = Map::new();
    for (flat, arm) in fields {
        if let Some(v) = obj.remove(*flat) {
            props.insert((*arm).to_string(), v);
        }
    }
    obj.insert("properties".into(), Value::Object(props));
}

/// Keys ARM keeps outside `properties`, and those `az resource list` adds beside a null
/// `properties` (which must not be mistaken for flattened properties: a registry with only
/// these would look like one whose admin user is off).
const ENVELOPE: &[&str] = &[
    "changedTime",
    "createdTime",
    "provisioningState",
    "id",
    "name",
    "type",
    "location",
    "tags",
    "sku",
    "identity",
    "kind",
    "systemData",
    "etag",
    "zones",
    "extendedLocation",
    "managedBy",
    "plan",
    "resourceGroup",
];

/// `az acr show`, `az aks show` and `az identity show` print `properties` flattened into the
/// top level; put those keys back under `properties`.
fn lift_flattened(obj: &mut Map<String, Value>) {
    if obj.get("properties").is_some_and(Value::is_object) {
        return;
    }
    let lifted: Vec<String> = obj
        .keys()
        .filter(|k| !ENVELOPE.contains(&k.as_str()) && *k != "properties")
        .cloned()
        .collect();
    if lifted.is_empty() {
        return;
    }
    let mut props = Map::new();
    for key in lifted {
        if let Some(v) = obj.remove(&key) {
            props.insert(key, v);
        }
    }
    obj.insert("properties".into(), Value::Object(props));
}

fn is_az_ml_compute(obj: &Map<String, Value>) -> bool {
    !obj.get("properties").is_some_and(Value::is_object)
}

/// `az ml compute list` (CLI v2) prints snake_case objects whose `type` is `amlcompute`,
/// `computeinstance`, `kubernetes`...; ARM nests them under `properties` with a `computeType`.
fn az_ml_compute(obj: &mut Map<String, Value>, az_type: Option<&str>) {
    let mut props = Map::new();
    let compute_type = az_type.filter(|t| !t.contains('/')).map(arm_compute_type);
    if let Some(ct) = compute_type {
        props.insert("computeType".into(), Value::String(ct));
    }
    if let Some(r) = obj.remove("resource_id") {
        props.insert("resourceId".into(), r);
    }
    if let Some(Value::Object(identity)) = obj.remove("identity") {
        obj.insert("identity".into(), az_identity(identity));
    }
    for key in [
        "provisioning_state",
        "size",
        "min_instances",
        "max_instances",
        "tier",
        "description",
    ] {
        if let Some(v) = obj.remove(key) {
            props.insert(camel_case(key), v);
        }
    }
    obj.insert("properties".into(), Value::Object(props));
}

fn arm_compute_type(az: &str) -> String {
    match az.to_ascii_lowercase().as_str() {
        "amlcompute" => "AmlCompute",
        "computeinstance" => "ComputeInstance",
        "kubernetes" => "Kubernetes",
        "aks" => "AKS",
        "virtualmachine" => "VirtualMachine",
        "synapsespark" => "SynapseSpark",
        "databricks" => "Databricks",
        "hdinsight" => "HDInsight",
        "datafactory" => "DataFactory",
        "datalakeanalytics" => "DataLakeAnalytics",
        other => return other.to_string(),
    }
    .to_string()
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `{type: "system_assigned,user_assigned", principal_id, user_assigned_identities: [...]}` →
/// `{type: "SystemAssigned,UserAssigned", principalId, userAssignedIdentities: {id: {...}}}`.
fn az_identity(identity: Map<String, Value>) -> Value {
    if identity.contains_key("principalId") || identity.contains_key("userAssignedIdentities") {
        return Value::Object(identity);
    }
    let ty = identity
        .get("type")
        .and_then(Value::as_str)
        .map(|t| {
            t.split(',')
                .map(|p| match p.trim().to_ascii_lowercase().as_str() {
                    "system_assigned" | "systemassigned" => "SystemAssigned".to_string(),
                    "user_assigned" | "userassigned" => "UserAssigned".to_string(),
                    "none" => "None".to_string(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_else(|| "None".into());
    let mut uais = Map::new();
    if let Some(Value::Array(list)) = identity.get("user_assigned_identities") {
        for u in list {
            if let Some(rid) = u.get("resource_id").and_then(Value::as_str) {
                uais.insert(
                    rid.to_string(),
                    json!({"principalId": u.get("principal_id"), "clientId": u.get("client_id")}),
                );
            }
        }
    }
    let mut out = Map::new();
    out.insert("type".into(), Value::String(ty));
    if let Some(p) = identity.get("principal_id") {
        out.insert("principalId".into(), p.clone());
    }
    if let Some(t) = identity.get("tenant_id") {
        out.insert("tenantId".into(), t.clone());
    }
    if !uais.is_empty() {
        out.insert("userAssignedIdentities".into(), Value::Object(uais));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(values: Vec<Value>) -> Snapshot {
        let mut im = Importer::new();
        for v in values {
            im.add_value(v).unwrap();
        }
        im.finish(&["s1".to_string()], None, "AzureCloud")
    }

    #[test]
    fn az_role_assignment_is_nested_under_properties() {
        let snap = import(vec![json!([{
            "id": "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/a1",
            "name": "a1", "type": "Microsoft.Authorization/roleAssignments",
            "principalId": "P1", "principalType": "ServicePrincipal",
            "roleDefinitionId": "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
            "roleDefinitionName": "AcrPull", "scope": "/subscriptions/s1", "condition": null
        }])]);
        let r = &snap.resources[0];
        assert_eq!(r["properties"]["principalId"], "P1");
        assert_eq!(r["properties"]["scope"], "/subscriptions/s1");
        assert!(r.get("principalId").is_none());
    }

    #[test]
    fn duplicates_merge_and_nulls_do_not_erase() {
        let id = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr";
        let snap = import(vec![
            json!({"value": [{"id": id, "type": "Microsoft.ContainerRegistry/registries", "properties": {"adminUserEnabled": true}}]}),
            json!([{"id": id.to_uppercase(), "type": "Microsoft.ContainerRegistry/registries", "properties": null, "tags": {"a": "b"}}]),
        ]);
        assert_eq!(snap.resources.len(), 1);
        assert_eq!(snap.resources[0]["properties"]["adminUserEnabled"], true);
        assert_eq!(snap.resources[0]["tags"]["a"], "b");
    }

    #[test]
    fn az_ml_compute_list_becomes_arm() {
        let snap = import(vec![json!([{
            "id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/cpu",
            "name": "cpu", "type": "amlcompute", "size": "STANDARD_DS3_V2",
            "identity": {"type": "system_assigned,user_assigned", "principal_id": "p-sys",
                "user_assigned_identities": [{"resource_id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u", "principal_id": "p-u", "client_id": "c-u"}]}
        }])]);
        let r = &snap.resources[0];
        assert_eq!(
            r["type"],
            "Microsoft.MachineLearningServices/workspaces/computes"
        );
        assert_eq!(r["properties"]["computeType"], "AmlCompute");
        assert_eq!(r["identity"]["type"], "SystemAssigned,UserAssigned");
        assert_eq!(r["identity"]["principalId"], "p-sys");
        assert_eq!(
            r["identity"]["userAssignedIdentities"]["/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"]
                ["principalId"],
            "p-u"
        );
    }

    #[test]
    fn objects_without_id_name_their_json_path() {
        let mut im = Importer::new();
        let err = im
            .add_value(json!({"value": [{"id": "/subscriptions/s1", "type": "x"}, {"type": "y"}]}))
            .unwrap_err();
        assert_eq!(err.json_path, "$.value[1]");
    }
}
