//! The effective-permission index: may principal P perform action A on resource R, and why?
//!
//! Built once from an [`Inventory`](crate::inventory::Inventory), then shared read-only (rayon
//! workers and policy builtins hold it by reference). A query walks the resource's ancestor scopes
//! (on `/` segment boundaries) and the management groups above its subscription, looking up only
//! the assignments of that principal and of its groups at those scopes, so its cost does not grow
//! with the tenant. The order it decides in (docs/permissions.md):
//!
//! 1. **deny**: a deny assignment that applies to the principal (directly, through a group, or as
//!    Everyone) and whose permissions match the action makes the answer `denied`, whatever grants;
//!    one that only *might* apply (unknown memberships, unknown management-group ancestry, a
//!    condition) turns a grant into `unknown`.
//! 2. **grants**: a role assignment at the resource or an ancestor scope, to the principal or one
//!    of its groups, whose role grants the action (actions minus notActions, or dataActions minus
//!    notDataActions) and whose ABAC condition holds.
//! 3. **unknowns**: an assignment that might grant (role definition unknown, condition undecidable,
//!    group membership unknown, management-group containment unknown) makes the answer `unknown`.
//! 4. **coverage**: with nothing granting, a subscription the snapshot read only partly or not at
//!    all makes the answer `unknown`; otherwise it is `denied`, with the near misses as evidence.
//!
//! Image pulls are one question that knows the registry's mode ([`PermissionIndex::check_pull`]).
//!
//! ```
//! use amlaudit::inventory::{Inventory, Snapshot};
//! use amlaudit::permissions::{Action, Decision, PermissionIndex};
//! let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
//!   "amlaudit_snapshot": 1, "collected_at": "2026-01-01T00:00:00Z",
//!   "scopes": [{"subscription_id": "s1", "status": "complete"}],
//!   "resources": [{
//!     "id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/a1",
//!     "type": "Microsoft.Authorization/roleAssignments",
//!     "properties": {"principalId": "p1", "scope": "/subscriptions/s1/resourceGroups/rg",
//!       "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"}}]
//! })).unwrap();
//! let index = PermissionIndex::new(&Inventory::new(snapshot));
//! let registry = "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.ContainerRegistry/registries/acr";
//! // Reader's `*/read` covers pull, inherited from the resource group.
//! assert_eq!(index.check("P1", registry, &Action::control("Microsoft.ContainerRegistry/registries/pull/read")).decision, Decision::Granted);
//! // ... but not push.
//! assert_eq!(index.check("p1", registry, &Action::control("Microsoft.ContainerRegistry/registries/push/write")).decision, Decision::Denied);
//! // A resource group whose name merely starts with `rg` inherits nothing.
//! let other = "/subscriptions/s1/resourceGroups/rg2/providers/Microsoft.ContainerRegistry/registries/acr";
//! assert_eq!(index.check("p1", other, &Action::control("Microsoft.ContainerRegistry/registries/pull/read")).decision, Decision::Denied);
//! ```

pub mod catalogue;
pub mod condition;
pub mod pattern;
mod pull;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::ids;
use crate::inventory::{
    DefinitionSource, DenyAssignment, EVERYONE, Inventory, PermissionBlock, RoleAssignment,
    RoleDefinition, ScopeStatus,
};
use pattern::ActionPattern;
pub use pull::{AZUREML_REPOSITORY, RegistryMode};

/// The action a query asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    lowered: String,
    /// Data actions are answered only by `dataActions`/`notDataActions`.
    pub data: bool,
}

/// Operation namespaces Azure's operations list marks as data actions (`isDataAction: true`),
/// for questions that do not say which kind they ask about.
const DATA_ACTION_PREFIXES: &[&str] = &[
    "microsoft.keyvault/vaults/secrets/",
    "microsoft.keyvault/vaults/keys/",
    "microsoft.keyvault/vaults/certificates/",
    "microsoft.keyvault/vaults/keyrotationpolicies/",
    "microsoft.keyvault/managedhsms/keys/",
    "microsoft.storage/storageaccounts/blobservices/containers/blobs/",
    "microsoft.storage/storageaccounts/fileservices/fileshares/files/",
    "microsoft.storage/storageaccounts/fileservices/readfilebackupsemantics/",
    "microsoft.storage/storageaccounts/fileservices/writefilebackupsemantics/",
    "microsoft.storage/storageaccounts/queueservices/queues/messages/",
    "microsoft.storage/storageaccounts/tableservices/tables/entities/",
    "microsoft.storage/storageaccounts/datalakestorage/",
    "microsoft.containerregistry/registries/repositories/",
    "microsoft.containerregistry/registries/catalog/",
    "microsoft.containerregistry/registries/quarantinedartifacts/",
    "microsoft.machinelearningservices/workspaces/endpoints/",
    "microsoft.cognitiveservices/accounts/",
    "microsoft.appconfiguration/configurationstores/keyvalues/",
    "microsoft.eventhub/namespaces/messages/",
    "microsoft.servicebus/namespaces/messages/",
    "microsoft.documentdb/databaseaccounts/readmetadata",
    "microsoft.documentdb/databaseaccounts/sqldatabases/containers/items/",
];

impl Action {
    pub fn control(name: &str) -> Self {
        Action {
            name: name.to_string(),
            lowered: name.trim().to_ascii_lowercase(),
            data: false,
        }
    }

    pub fn data(name: &str) -> Self {
        Action {
            data: true,
            ..Action::control(name)
        }
    }

    /// A data action when the operation is in a namespace Azure serves as data actions,
    /// a control-plane action otherwise.
    pub fn classify(name: &str) -> Self {
        if is_known_data_action(name) {
            Action::data(name)
        } else {
            Action::control(name)
        }
    }
}

/// Whether an operation belongs to a namespace Azure serves as data actions.
pub fn is_known_data_action(name: &str) -> bool {
    let lowered = name.trim().to_ascii_lowercase();
    DATA_ACTION_PREFIXES.iter().any(|p| lowered.starts_with(p))
}

/// The pull permission every image consumer needs on a registry in legacy mode.
pub const ACR_PULL_ACTION: &str = "Microsoft.ContainerRegistry/registries/pull/read";

/// The data action that pulls from a registry in ABAC repository mode.
pub const ACR_REPOSITORY_READ_DATA_ACTION: &str =
    "Microsoft.ContainerRegistry/registries/repositories/content/read";

/// The three possible answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Granted,
    Unknown,
    Denied,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Granted => "granted",
            Decision::Unknown => "unknown",
            Decision::Denied => "denied",
        }
    }
}

/// What one piece of evidence contributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Contribution {
    Grants,
    DoesNotGrant,
    Inconclusive,
    /// A deny assignment that applies.
    Denies,
    /// Context that changes nothing by itself (coverage, registry mode).
    Note,
}

/// What a piece of evidence is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    RoleAssignment,
    DenyAssignment,
    AnonymousPull,
    RegistryMode,
    Coverage,
}

/// Why an assignment of the principal did not count, for a denied answer's near misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum NearMiss {
    ConditionFalse,
    DenyAssignment,
    NotActions,
    DataActionAskedAsAction,
    ActionAskedAsDataAction,
    MembershipUnknown,
    PrefixNotParent,
    WrongScope,
    NoMatchingPermission,
}

/// How a condition came out for the question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionEvidence {
    pub text: String,
    /// `true`, `false` or `unknown`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One candidate (assignment, deny assignment, ...) and why it did or did not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub assignment_id: String,
    pub role_name: Option<String>,
    pub role_definition_id: String,
    pub role_source: Option<DefinitionSource>,
    pub scope: String,
    pub contribution: Contribution,
    pub detail: String,
    /// The group the assignment was made to, when it reached the principal through one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<ConditionEvidence>,
    /// For a denied answer: why this assignment of the principal did not count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near_miss: Option<NearMiss>,
    /// The registry mode this evidence was weighed under, when the mode was not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<RegistryMode>,
}

impl Evidence {
    fn note(kind: EvidenceKind, id: &str, scope: &str, detail: String) -> Self {
        Evidence {
            kind,
            assignment_id: id.to_string(),
            role_name: None,
            role_definition_id: String::new(),
            role_source: None,
            scope: scope.to_string(),
            contribution: Contribution::Note,
            detail,
            group_id: None,
            condition: None,
            near_miss: None,
            mode: None,
        }
    }
}

/// The answer to one question, with everything that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessDecision {
    pub decision: Decision,
    pub principal: String,
    pub scope: String,
    pub action: String,
    pub data_action: bool,
    pub evidence: Vec<Evidence>,
    /// Why the answer is `unknown` or `denied`, in words.
    pub reasons: Vec<String>,
    /// For a pull question: the registry mode it was answered under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<RegistryMode>,
    /// For a pull question: the repositories it was evaluated for (empty: none named).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repositories: Option<Vec<String>>,
}

impl AccessDecision {
    /// A one-line explanation fit for a finding's message.
    pub fn summary(&self) -> String {
        match self.decision {
            Decision::Granted => {
                let via = self
                    .evidence
                    .iter()
                    .find(|e| e.contribution == Contribution::Grants);
                match via {
                    Some(e) if e.kind == EvidenceKind::AnonymousPull => e.detail.clone(),
                    Some(e) => {
                        let mut s = format!(
                            "granted by {} at {}",
                            e.role_name.as_deref().unwrap_or(&e.role_definition_id),
                            e.scope
                        );
                        if let Some(g) = &e.group_id {
                            s.push_str(&format!(" through group {g}"));
                        }
                        s
                    }
                    None => "granted".to_string(),
                }
            }
            _ => self.reasons.join("; "),
        }
    }
}

#[derive(Debug)]
struct CompiledBlock {
    actions: Vec<ActionPattern>,
    not_actions: Vec<ActionPattern>,
    data_actions: Vec<ActionPattern>,
    not_data_actions: Vec<ActionPattern>,
    condition: Option<String>,
}

impl CompiledBlock {
    fn new(b: &PermissionBlock) -> Self {
        let compile = |v: &[String]| v.iter().map(|p| ActionPattern::new(p)).collect();
        CompiledBlock {
            actions: compile(&b.actions),
            not_actions: compile(&b.not_actions),
            data_actions: compile(&b.data_actions),
            not_data_actions: compile(&b.not_data_actions),
            condition: b.condition().map(str::to_string),
        }
    }
}

#[derive(Debug)]
struct CompiledRole {
    role_name: String,
    source: DefinitionSource,
    blocks: Vec<CompiledBlock>,
}

enum Verdict {
    Grants(String),
    /// Only a block with a condition (which amlaudit does not evaluate) would grant it.
    Conditional(String),
    DoesNotGrant(String, NearMiss),
}

fn evaluate_blocks(blocks: &[CompiledBlock], action: &Action) -> Verdict {
    let mut excluded = Vec::new();
    let mut conditional = None;
    for block in blocks {
        let (allow, deny) = if action.data {
            (&block.data_actions, &block.not_data_actions)
        } else {
            (&block.actions, &block.not_actions)
        };
        let Some(hit) = allow.iter().find(|p| p.matches(&action.lowered)) else {
            continue;
        };
        let (kind, not_kind) = if action.data {
            ("dataActions", "notDataActions")
        } else {
            ("actions", "notActions")
        };
        match deny.iter().find(|p| p.matches(&action.lowered)) {
            None => match &block.condition {
                None => {
                    return Verdict::Grants(format!("{kind} pattern `{}` matches", hit.original));
                }
                Some(condition) => {
                    conditional.get_or_insert_with(|| {
                        format!(
                            "{kind} pattern `{}` matches, but in a permission block with a condition amlaudit does not evaluate: {condition}",
                            hit.original
                        )
                    });
                }
            },
            Some(not) => excluded.push(format!(
                "`{}` matches but {not_kind} `{}` excludes it",
                hit.original, not.original
            )),
        }
    }
    if let Some(why) = conditional {
        return Verdict::Conditional(why);
    }
    if !excluded.is_empty() {
        return Verdict::DoesNotGrant(excluded.join("; "), NearMiss::NotActions);
    }
    // The same name in the other list: a data action asked as an action, or the reverse.
    let other = blocks.iter().find_map(|b| {
        let list = if action.data {
            &b.actions
        } else {
            &b.data_actions
        };
        list.iter().find(|p| p.matches(&action.lowered))
    });
    if let Some(p) = other {
        return if action.data {
            Verdict::DoesNotGrant(
                format!(
                    "its actions pattern `{}` matches, but the question is about a data action",
                    p.original
                ),
                NearMiss::ActionAskedAsDataAction,
            )
        } else {
            Verdict::DoesNotGrant(
                format!(
                    "its dataActions pattern `{}` matches: this is a data action (ask with --data-action)",
                    p.original
                ),
                NearMiss::DataActionAskedAsAction,
            )
        };
    }
    let kind = if action.data {
        "dataActions"
    } else {
        "actions"
    };
    Verdict::DoesNotGrant(
        format!("no {kind} pattern matches"),
        NearMiss::NoMatchingPermission,
    )
}

impl CompiledRole {
    fn new(def: &RoleDefinition) -> Self {
        CompiledRole {
            role_name: def.role_name.clone(),
            source: def.source,
            blocks: def.permissions.iter().map(CompiledBlock::new).collect(),
        }
    }

    fn evaluate(&self, action: &Action) -> Verdict {
        evaluate_blocks(&self.blocks, action)
    }
}

/// A deny assignment with its permissions compiled.
#[derive(Debug)]
struct CompiledDeny {
    deny: DenyAssignment,
    blocks: Vec<CompiledBlock>,
}

/// Whether something applies: certainly, not at all, or perhaps (with the reason).
enum Applies {
    Yes(String),
    No,
    Maybe(String),
}

/// The immutable index. Cheap to share: all queries take `&self`.
#[derive(Debug)]
pub struct PermissionIndex {
    assignments: Arc<[RoleAssignment]>,
    /// principal → normalised scope → assignments.
    by_principal_scope: HashMap<String, HashMap<String, Vec<usize>>>,
    /// principal → assignments made at a management group.
    management_group_assignments: HashMap<String, Vec<usize>>,
    /// normalised scope → assignments to groups there (management groups included), for
    /// principals whose memberships are unknown.
    group_assignments_by_scope: HashMap<String, Vec<usize>>,
    roles: HashMap<String, Arc<CompiledRole>>,
    management_groups: HashMap<String, Vec<String>>,
    coverage: HashMap<String, (ScopeStatus, bool)>,
    denies: Vec<CompiledDeny>,
    /// normalised scope → deny assignments there.
    denies_by_scope: HashMap<String, Vec<usize>>,
    memberships: HashMap<String, HashSet<String>>,
    registries: HashMap<String, pull::RegistryInfo>,
}

/// Internal: how a question is asked.
#[derive(Clone, Copy)]
struct Question<'a> {
    repository: Option<&'a str>,
    extra: &'a [RoleAssignment],
    anonymous_pull: Option<&'a str>,
}

impl PermissionIndex {
    /// Indexes the inventory's assignments by principal and scope, and compiles every role.
    pub fn new(inventory: &Inventory) -> Self {
        let mut roles: HashMap<String, Arc<CompiledRole>> = catalogue::builtin_roles()
            .map(|d| (d.guid.clone(), Arc::new(CompiledRole::new(d))))
            .collect();
        for (guid, def) in &inventory.role_definitions {
            roles.insert(guid.clone(), Arc::new(CompiledRole::new(def)));
        }
        let assignments = Arc::clone(&inventory.role_assignments);
        let mut by_principal_scope: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        let mut management_group_assignments: HashMap<String, Vec<usize>> = HashMap::new();
        let mut group_assignments_by_scope: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, a) in assignments.iter().enumerate() {
            if a.principal_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("group"))
            {
                group_assignments_by_scope
                    .entry(a.scope_normalized.clone())
                    .or_default()
                    .push(i);
            }
            if ids::management_group_of(&a.scope_normalized).is_some() {
                management_group_assignments
                    .entry(a.principal_id.clone())
                    .or_default()
                    .push(i);
            } else {
                by_principal_scope
                    .entry(a.principal_id.clone())
                    .or_default()
                    .entry(a.scope_normalized.clone())
                    .or_default()
                    .push(i);
            }
        }
        let coverage = inventory
            .snapshot
            .scopes
            .iter()
            .map(|s| {
                (
                    s.subscription_id.to_ascii_lowercase(),
                    (s.status, s.deny_assignments_read()),
                )
            })
            .collect();
        let denies: Vec<CompiledDeny> = inventory
            .deny_assignments
            .iter()
            .map(|d| CompiledDeny {
                blocks: d.permissions.iter().map(CompiledBlock::new).collect(),
                deny: d.clone(),
            })
            .collect();
        let mut denies_by_scope: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, d) in denies.iter().enumerate() {
            denies_by_scope
                .entry(d.deny.scope_normalized.clone())
                .or_default()
                .push(i);
        }
        let memberships = inventory
            .group_memberships
            .iter()
            .map(|(p, groups)| (p.clone(), groups.iter().cloned().collect()))
            .collect();
        PermissionIndex {
            assignments,
            by_principal_scope,
            management_group_assignments,
            group_assignments_by_scope,
            roles,
            management_groups: inventory.management_groups.clone(),
            coverage,
            denies,
            denies_by_scope,
            memberships,
            registries: pull::registries(inventory),
        }
    }

    /// The number of role assignments indexed.
    pub fn len(&self) -> usize {
        self.assignments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assignments.is_empty()
    }

    /// Decides whether `principal` may perform `action` on the resource or scope `scope`.
    /// A condition that depends on a repository name is `unknown` here: the question names none.
    pub fn check(&self, principal: &str, scope: &str, action: &Action) -> AccessDecision {
        self.check_with(principal, scope, action, &[])
    }

    /// The same question, as if `extra` role assignments (proposed fixes) existed too.
    pub fn check_with(
        &self,
        principal: &str,
        scope: &str,
        action: &Action,
        extra: &[RoleAssignment],
    ) -> AccessDecision {
        self.decide(
            principal,
            scope,
            action,
            Question {
                repository: None,
                extra,
                anonymous_pull: None,
            },
        )
    }

    /// The role definition (name, GUID) a built-in or snapshot role name or GUID refers to.
    pub fn resolve_role(&self, name_or_guid: &str) -> Option<(String, String)> {
        let key = name_or_guid.trim().to_ascii_lowercase();
        if let Some(r) = self.roles.get(&key) {
            return Some((key, r.role_name.clone()));
        }
        let mut found: Vec<(&String, &Arc<CompiledRole>)> = self
            .roles
            .iter()
            .filter(|(_, r)| r.role_name.eq_ignore_ascii_case(name_or_guid.trim()))
            .collect();
        // Prefer the built-in role when a custom role shares its name.
        found.sort_by_key(|(g, r)| (r.source != DefinitionSource::BuiltInCatalogue, (*g).clone()));
        found
            .first()
            .map(|(g, r)| ((*g).clone(), r.role_name.clone()))
    }

    fn groups_of(&self, principal_key: &str) -> Option<&HashSet<String>> {
        self.memberships.get(principal_key)
    }

    fn decide(
        &self,
        principal: &str,
        scope: &str,
        action: &Action,
        question: Question<'_>,
    ) -> AccessDecision {
        let principal_key = principal.trim().to_ascii_lowercase();
        let resource = ids::normalize(scope);
        // An identity a template will create does not exist yet: no assignment, group membership
        // or management-group grant outside the deployment can name it, so what the snapshot did
        // not read cannot grant it anything (the plan's own assignments are in the index).
        let planned = ids::is_planned_principal(&principal_key);
        let no_groups = HashSet::new();
        let groups = if planned {
            Some(&no_groups)
        } else {
            self.groups_of(&principal_key)
        };
        let subscription = ids::subscription_of(&resource);
        let ancestors: Vec<&str> = ids::ancestor_scopes(&resource).collect();
        let mut evidence = Vec::new();

        if let Some(detail) = question.anonymous_pull {
            evidence.push(Evidence {
                contribution: Contribution::Grants,
                ..Evidence::note(EvidenceKind::AnonymousPull, "", scope, detail.to_string())
            });
        }

        // The principal's own assignments, then its groups'.
        let mut holders: Vec<(&str, Option<&str>)> = vec![(principal_key.as_str(), None)];
        if let Some(groups) = groups {
            let mut sorted: Vec<&String> = groups.iter().collect();
            sorted.sort();
            holders.extend(sorted.into_iter().map(|g| (g.as_str(), Some(g.as_str()))));
        }
        for &(holder, via_group) in &holders {
            if let Some(scopes) = self.by_principal_scope.get(holder) {
                for ancestor in &ancestors {
                    for &i in scopes.get(*ancestor).into_iter().flatten() {
                        evidence.push(self.weigh(
                            &self.assignments[i],
                            action,
                            question.repository,
                            None,
                            via_group,
                        ));
                    }
                }
            }
            for &i in self
                .management_group_assignments
                .get(holder)
                .into_iter()
                .flatten()
            {
                let a = &self.assignments[i];
                if let Some(e) = self.weigh_management_group(
                    a,
                    action,
                    question.repository,
                    subscription.as_deref(),
                    via_group,
                ) {
                    evidence.push(e);
                }
            }
        }

        // Memberships unknown: every assignment to a group that would grant might apply.
        if groups.is_none() {
            let mut scopes: Vec<&str> = ancestors.clone();
            let mg_scopes: Vec<String> = self
                .group_assignments_by_scope
                .keys()
                .filter(|s| ids::management_group_of(s).is_some())
                .cloned()
                .collect();
            scopes.extend(mg_scopes.iter().map(String::as_str));
            for s in scopes {
                for &i in self.group_assignments_by_scope.get(s).into_iter().flatten() {
                    let a = &self.assignments[i];
                    if a.principal_id == principal_key {
                        continue;
                    }
                    let weighed = if ids::management_group_of(&a.scope_normalized).is_some() {
                        self.weigh_management_group(
                            a,
                            action,
                            question.repository,
                            subscription.as_deref(),
                            Some(&a.principal_id),
                        )
                    } else {
                        Some(self.weigh(
                            a,
                            action,
                            question.repository,
                            None,
                            Some(&a.principal_id),
                        ))
                    };
                    if let Some(mut e) = weighed
                        && e.contribution != Contribution::DoesNotGrant
                    {
                        e.contribution = Contribution::Inconclusive;
                        e.near_miss = Some(NearMiss::MembershipUnknown);
                        e.detail = format!(
                            "{}; it is assigned to group {}, and the snapshot does not know the groups of {}",
                            e.detail, a.principal_id, principal
                        );
                        evidence.push(e);
                    }
                }
            }
        }

        // Proposed assignments layered over the index.
        for a in question.extra {
            let holder = a.principal_id.as_str();
            let via_group = if holder == principal_key {
                None
            } else if groups.is_some_and(|g| g.contains(holder)) {
                Some(holder)
            } else {
                continue;
            };
            if !ids::scope_contains(&a.scope_normalized, &resource) {
                continue;
            }
            let mut e = self.weigh(a, action, question.repository, None, via_group);
            e.detail = format!("{} (proposed assignment)", e.detail);
            evidence.push(e);
        }

        // Deny assignments.
        let mut denied = Vec::new();
        let mut maybe_denied = Vec::new();
        for (at, ancestor) in ancestors.iter().enumerate() {
            for &i in self.denies_by_scope.get(*ancestor).into_iter().flatten() {
                let d = &self.denies[i];
                if d.deny.do_not_apply_to_child_scopes && at > 0 {
                    continue;
                }
                self.weigh_deny(d, action, &principal_key, groups, None, &mut evidence);
            }
        }
        for (scope_key, list) in &self.denies_by_scope {
            let Some(group) = ids::management_group_of(scope_key) else {
                continue;
            };
            let ancestry = subscription
                .as_ref()
                .and_then(|s| self.management_groups.get(s));
            let containment = match ancestry {
                Some(chain) if chain.iter().any(|g| g == group) => None,
                Some(_) => continue,
                None => Some(format!(
                    "it was made at management group `{group}`, and the snapshot does not say whether subscription {} is below it",
                    subscription.as_deref().unwrap_or("(none)")
                )),
            };
            for &i in list {
                let d = &self.denies[i];
                if d.deny.do_not_apply_to_child_scopes {
                    continue;
                }
                self.weigh_deny(
                    d,
                    action,
                    &principal_key,
                    groups,
                    containment.clone(),
                    &mut evidence,
                );
            }
        }
        for e in &evidence {
            if e.kind == EvidenceKind::DenyAssignment {
                match e.contribution {
                    Contribution::Denies => denied.push(format!(
                        "deny assignment {} at {} denies it: {}",
                        e.assignment_id, e.scope, e.detail
                    )),
                    Contribution::Inconclusive => maybe_denied.push(format!(
                        "deny assignment {} at {} might deny it: {}",
                        e.assignment_id, e.scope, e.detail
                    )),
                    _ => {}
                }
            }
        }

        let granted = evidence
            .iter()
            .any(|e| e.contribution == Contribution::Grants);
        let coverage = subscription
            .as_ref()
            .and_then(|s| self.coverage.get(s))
            .copied();
        let mut reasons = Vec::new();
        let decision = if !denied.is_empty() {
            reasons = denied;
            Decision::Denied
        } else if granted && !maybe_denied.is_empty() {
            reasons = maybe_denied;
            Decision::Unknown
        } else if granted {
            if let (Some(sub), Some((_, false)) | None) = (subscription.as_deref(), coverage) {
                evidence.push(Evidence::note(
                    EvidenceKind::Coverage,
                    "",
                    &format!("/subscriptions/{sub}"),
                    format!("deny assignments of subscription {sub} were not read, so one could still block this grant"),
                ));
            }
            Decision::Granted
        } else {
            for e in evidence.iter().filter(|e| {
                e.contribution == Contribution::Inconclusive
                    && e.kind == EvidenceKind::RoleAssignment
            }) {
                reasons.push(format!(
                    "assignment {} might grant it: {}",
                    e.assignment_id, e.detail
                ));
            }
            match (coverage.map(|c| c.0), subscription.as_deref()) {
                _ if planned => {}
                (Some(ScopeStatus::Complete), _) => {}
                (Some(status), Some(sub)) => reasons.push(format!(
                    "subscription {sub} was read only {} so assignments may be missing",
                    match status {
                        ScopeStatus::Partial => "partially,",
                        _ => "with errors,",
                    }
                )),
                (None, Some(sub)) => reasons.push(format!(
                    "subscription {sub} is not covered by the snapshot, so its assignments are unknown"
                )),
                (_, None) => reasons.push(
                    "the scope is outside any subscription the snapshot covers".to_string(),
                ),
            }
            if reasons.is_empty() {
                let kind = if action.data { "data action" } else { "action" };
                reasons.push(if evidence.is_empty() {
                    format!("no applicable assignment grants {kind} {}", action.name)
                } else {
                    format!(
                        "no applicable assignment grants {kind} {} ({} considered)",
                        action.name,
                        evidence
                            .iter()
                            .filter(|e| e.kind == EvidenceKind::RoleAssignment)
                            .count()
                    )
                });
                Decision::Denied
            } else {
                Decision::Unknown
            }
        };
        if decision == Decision::Denied {
            self.add_near_misses(&principal_key, &holders, &resource, action, &mut evidence);
        }
        AccessDecision {
            decision,
            principal: principal.to_string(),
            scope: scope.to_string(),
            action: action.name.clone(),
            data_action: action.data,
            evidence,
            reasons,
            mode: None,
            repositories: None,
        }
    }

    /// The most near misses a denied answer lists.
    const NEAR_MISSES: usize = 10;

    /// Marks the evidence that came closest and adds the principal's assignments elsewhere whose
    /// role would grant the action, then sorts by closeness and caps the list.
    fn add_near_misses(
        &self,
        principal_key: &str,
        holders: &[(&str, Option<&str>)],
        resource: &str,
        action: &Action,
        evidence: &mut Vec<Evidence>,
    ) {
        let _ = principal_key;
        for &(holder, via_group) in holders {
            let Some(scopes) = self.by_principal_scope.get(holder) else {
                continue;
            };
            let mut elsewhere: Vec<(&String, &Vec<usize>)> = scopes
                .iter()
                .filter(|(s, _)| !ids::scope_contains(s, resource))
                .collect();
            elsewhere.sort_by(|a, b| a.0.cmp(b.0));
            for (s, list) in elsewhere {
                for &i in list {
                    let a = &self.assignments[i];
                    let Some(role) = self.roles.get(&a.role_guid) else {
                        continue;
                    };
                    if !matches!(role.evaluate(action), Verdict::Grants(_)) {
                        continue;
                    }
                    let (kind, detail) = if resource.starts_with(s.as_str()) {
                        (
                            NearMiss::PrefixNotParent,
                            format!(
                                "its role would grant it, but {} only starts with the same characters as the resource id: it is not a parent scope",
                                a.scope
                            ),
                        )
                    } else {
                        (
                            NearMiss::WrongScope,
                            format!(
                                "its role would grant it, but {} is not the resource or one of its parent scopes",
                                a.scope
                            ),
                        )
                    };
                    evidence.push(Evidence {
                        kind: EvidenceKind::RoleAssignment,
                        assignment_id: a.id.clone(),
                        role_name: Some(role.role_name.clone()),
                        role_definition_id: a.role_guid.clone(),
                        role_source: Some(role.source),
                        scope: a.scope.clone(),
                        contribution: Contribution::DoesNotGrant,
                        detail,
                        group_id: via_group.map(str::to_string),
                        condition: None,
                        near_miss: Some(kind),
                        mode: None,
                    });
                }
            }
        }
        evidence.sort_by_key(|e| e.near_miss.unwrap_or(NearMiss::NoMatchingPermission));
        let mut kept = 0usize;
        evidence.retain(|e| {
            if e.contribution != Contribution::DoesNotGrant {
                return true;
            }
            kept += 1;
            kept <= Self::NEAR_MISSES
        });
    }

    fn weigh_management_group(
        &self,
        a: &RoleAssignment,
        action: &Action,
        repository: Option<&str>,
        subscription: Option<&str>,
        via_group: Option<&str>,
    ) -> Option<Evidence> {
        let group = ids::management_group_of(&a.scope_normalized).unwrap_or_default();
        let ancestry = subscription.and_then(|s| self.management_groups.get(s));
        match ancestry {
            Some(chain) if chain.iter().any(|g| g == group) => {
                Some(self.weigh(a, action, repository, None, via_group))
            }
            Some(_) => None,
            None => Some(self.weigh(
                a,
                action,
                repository,
                Some(format!(
                    "made at management group `{group}`, and the snapshot does not say whether subscription {} is below it",
                    subscription.unwrap_or("(none)")
                )),
                via_group,
            )),
        }
    }

    fn weigh(
        &self,
        a: &RoleAssignment,
        action: &Action,
        repository: Option<&str>,
        containment: Option<String>,
        via_group: Option<&str>,
    ) -> Evidence {
        let role = self.roles.get(&a.role_guid);
        let mut e = Evidence {
            kind: EvidenceKind::RoleAssignment,
            assignment_id: a.id.clone(),
            role_name: role.map(|r| r.role_name.clone()),
            role_definition_id: a.role_guid.clone(),
            role_source: role.map(|r| r.source),
            scope: a.scope.clone(),
            contribution: Contribution::Inconclusive,
            detail: String::new(),
            group_id: via_group.map(str::to_string),
            condition: None,
            near_miss: None,
            mode: None,
        };
        let Some(role) = role else {
            e.detail = format!(
                "role definition {} is neither in the snapshot nor a known built-in role",
                a.role_guid
            );
            return e;
        };
        let why = match role.evaluate(action) {
            Verdict::DoesNotGrant(why, miss) => {
                e.contribution = Contribution::DoesNotGrant;
                e.detail = why;
                e.near_miss = Some(miss);
                return e;
            }
            Verdict::Conditional(why) => {
                e.detail = match via_group {
                    Some(g) => format!("{why}, through group {g}"),
                    None => why,
                };
                return e;
            }
            Verdict::Grants(why) => why,
        };
        let why = match via_group {
            Some(g) => format!("{why}, through group {g}"),
            None => why,
        };
        if let Some(containment) = containment {
            e.detail = format!("{why}, but it was {containment}");
            return e;
        }
        let Some(text) = &a.condition else {
            e.contribution = Contribution::Grants;
            e.detail = why;
            return e;
        };
        if let Some(version) = a.condition_version.as_deref()
            && version.trim() != "2.0"
        {
            e.detail = format!(
                "{why}, but its condition has version {version}, which amlaudit does not read"
            );
            e.condition = Some(ConditionEvidence {
                text: text.clone(),
                result: "unknown".into(),
                repository: repository.map(str::to_string),
                reason: Some(format!("conditionVersion {version}")),
            });
            return e;
        }
        let outcome = condition::evaluate(
            text,
            condition::Request {
                action: &action.name,
                repository,
            },
        );
        let on = repository
            .map(|r| format!(" for repository `{r}`"))
            .unwrap_or_default();
        let (result, reason) = match outcome {
            condition::Outcome::True => {
                e.contribution = Contribution::Grants;
                e.detail = format!("{why}, and its condition holds{on}");
                ("true", None)
            }
            condition::Outcome::False => {
                e.contribution = Contribution::DoesNotGrant;
                e.near_miss = Some(NearMiss::ConditionFalse);
                e.detail = format!("{why}, but its condition is false{on}");
                ("false", None)
            }
            condition::Outcome::Unknown(reason) => {
                e.detail = format!("{why}, but its condition cannot be decided: {reason}");
                ("unknown", Some(reason))
            }
        };
        e.condition = Some(ConditionEvidence {
            text: text.clone(),
            result: result.into(),
            repository: repository.map(str::to_string),
            reason,
        });
        e
    }

    fn weigh_deny(
        &self,
        d: &CompiledDeny,
        action: &Action,
        principal_key: &str,
        groups: Option<&HashSet<String>>,
        containment: Option<String>,
        evidence: &mut Vec<Evidence>,
    ) {
        if d.deny.audit_only {
            return;
        }
        let matched = match evaluate_blocks(&d.blocks, action) {
            Verdict::Grants(matched) | Verdict::Conditional(matched) => matched,
            Verdict::DoesNotGrant(..) => return,
        };
        let applies = deny_applies(&d.deny, principal_key, groups);
        let (contribution, detail) = match applies {
            Applies::No => return,
            Applies::Yes(who) => match (&containment, &d.deny.condition) {
                (Some(c), _) => (
                    Contribution::Inconclusive,
                    format!("{matched} for {who}, but {c}"),
                ),
                (None, Some(cond)) => (
                    Contribution::Inconclusive,
                    format!(
                        "{matched} for {who}, but it carries a condition amlaudit does not evaluate for deny assignments: {cond}"
                    ),
                ),
                (None, None) => (Contribution::Denies, format!("{matched} for {who}")),
            },
            Applies::Maybe(why) => (Contribution::Inconclusive, format!("{matched}, and {why}")),
        };
        evidence.push(Evidence {
            kind: EvidenceKind::DenyAssignment,
            assignment_id: d.deny.id.clone(),
            role_name: d.deny.name.clone(),
            role_definition_id: String::new(),
            role_source: None,
            scope: d.deny.scope.clone(),
            contribution,
            detail,
            group_id: None,
            condition: None,
            near_miss: (contribution == Contribution::Denies).then_some(NearMiss::DenyAssignment),
            mode: None,
        });
    }
}

fn is_group(p: &crate::inventory::DenyPrincipal) -> bool {
    p.principal_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("group"))
}

/// Whether a deny assignment's principals include the principal and its exclusions do not.
fn deny_applies(
    d: &DenyAssignment,
    principal_key: &str,
    groups: Option<&HashSet<String>>,
) -> Applies {
    let member = |p: &crate::inventory::DenyPrincipal| -> Applies {
        if p.id == EVERYONE
            || p.principal_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("everyone"))
        {
            return Applies::Yes("Everyone".to_string());
        }
        if p.id == principal_key {
            return Applies::Yes(format!("principal {principal_key}"));
        }
        match groups {
            Some(g) if g.contains(&p.id) => Applies::Yes(format!("group {}", p.id)),
            Some(_) => Applies::No,
            None if is_group(p) || p.principal_type.is_none() => Applies::Maybe(format!(
                "it names group {}, and the snapshot does not know the principal's groups",
                p.id
            )),
            None => Applies::No,
        }
    };
    let mut included = None;
    for p in &d.principals {
        match member(p) {
            Applies::Yes(who) => {
                included = Some(Applies::Yes(who));
                break;
            }
            Applies::Maybe(why) if included.is_none() => included = Some(Applies::Maybe(why)),
            _ => {}
        }
    }
    let Some(included) = included else {
        return Applies::No;
    };
    let mut excluded = Applies::No;
    for p in &d.exclude_principals {
        match member(p) {
            Applies::Yes(_) => return Applies::No,
            Applies::Maybe(why) => {
                excluded =
                    Applies::Maybe(format!("its exclusions might cover the principal: {why}"))
            }
            Applies::No => {}
        }
    }
    match (included, excluded) {
        (Applies::Yes(who), Applies::No) => Applies::Yes(who),
        (Applies::Yes(_), Applies::Maybe(why)) | (Applies::Maybe(why), _) => Applies::Maybe(why),
        (Applies::No, _) | (_, Applies::Yes(_)) => Applies::No,
    }
}
