//! The effective-permission index: may principal P perform action A on resource R, and why?
//!
//! Built once from an [`Inventory`](crate::inventory::Inventory), then shared read-only (rayon
//! workers and policy builtins hold it by reference). A query walks the resource's ancestor scopes
//! (on `/` segment boundaries) and the management groups above its subscription, looking up only
//! that principal's assignments at those scopes, so its cost does not grow with the tenant.
//!
//! The decision is three-valued and fails closed:
//! - `granted` when an applicable assignment without an ABAC condition grants the action;
//! - `unknown` when none does but one might (its role definition is unknown, it carries a
//!   condition, its management-group containment is unknown), or when the resource's subscription
//!   is not covered completely by the snapshot;
//! - `denied` otherwise.
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
pub mod pattern;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::ids;
use crate::inventory::{DefinitionSource, Inventory, RoleAssignment, RoleDefinition, ScopeStatus};
use pattern::ActionPattern;

/// The action a query asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    lowered: String,
    /// Data actions are answered only by `dataActions`/`notDataActions`.
    pub data: bool,
}

impl Action {
    pub fn control(name: &str) -> Self {
        Action {
            name: name.to_string(),
            lowered: name.to_ascii_lowercase(),
            data: false,
        }
    }

    pub fn data(name: &str) -> Self {
        Action {
            data: true,
            ..Action::control(name)
        }
    }
}

/// The pull permission every image consumer needs on a registry.
pub const ACR_PULL_ACTION: &str = "Microsoft.ContainerRegistry/registries/pull/read";

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

/// What one candidate assignment contributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Contribution {
    Grants,
    DoesNotGrant,
    Inconclusive,
}

/// One candidate assignment and why it did or did not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub assignment_id: String,
    pub role_name: Option<String>,
    pub role_definition_id: String,
    pub role_source: Option<DefinitionSource>,
    pub scope: String,
    pub contribution: Contribution,
    pub detail: String,
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
                    Some(e) => format!(
                        "granted by {} at {}",
                        e.role_name.as_deref().unwrap_or(&e.role_definition_id),
                        e.scope
                    ),
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
}

#[derive(Debug)]
struct CompiledRole {
    role_name: String,
    source: DefinitionSource,
    blocks: Vec<CompiledBlock>,
}

enum Verdict {
    Grants(String),
    DoesNotGrant(String),
}

impl CompiledRole {
    fn new(def: &RoleDefinition) -> Self {
        let compile = |v: &[String]| v.iter().map(|p| ActionPattern::new(p)).collect();
        CompiledRole {
            role_name: def.role_name.clone(),
            source: def.source,
            blocks: def
                .permissions
                .iter()
                .map(|b| CompiledBlock {
                    actions: compile(&b.actions),
                    not_actions: compile(&b.not_actions),
                    data_actions: compile(&b.data_actions),
                    not_data_actions: compile(&b.not_data_actions),
                })
                .collect(),
        }
    }

    fn evaluate(&self, action: &Action) -> Verdict {
        let mut excluded = Vec::new();
        for block in &self.blocks {
            let (allow, deny) = if action.data {
                (&block.data_actions, &block.not_data_actions)
            } else {
                (&block.actions, &block.not_actions)
            };
            let Some(hit) = allow.iter().find(|p| p.matches(&action.lowered)) else {
                continue;
            };
            match deny.iter().find(|p| p.matches(&action.lowered)) {
                None => {
                    let kind = if action.data {
                        "dataActions"
                    } else {
                        "actions"
                    };
                    return Verdict::Grants(format!("{kind} pattern `{}` matches", hit.original));
                }
                Some(not) => {
                    let kind = if action.data {
                        "notDataActions"
                    } else {
                        "notActions"
                    };
                    excluded.push(format!(
                        "`{}` matches but {kind} `{}` excludes it",
                        hit.original, not.original
                    ));
                }
            }
        }
        if excluded.is_empty() {
            let kind = if action.data {
                "dataActions"
            } else {
                "actions"
            };
            Verdict::DoesNotGrant(format!("no {kind} pattern matches"))
        } else {
            Verdict::DoesNotGrant(excluded.join("; "))
        }
    }
}

/// The immutable index. Cheap to share: all queries take `&self`.
#[derive(Debug)]
pub struct PermissionIndex {
    assignments: Arc<[RoleAssignment]>,
    /// principal → normalised scope → assignments.
    by_principal_scope: HashMap<String, HashMap<String, Vec<usize>>>,
    /// principal → assignments made at a management group.
    management_group_assignments: HashMap<String, Vec<usize>>,
    roles: HashMap<String, Arc<CompiledRole>>,
    management_groups: HashMap<String, Vec<String>>,
    coverage: HashMap<String, ScopeStatus>,
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
        for (i, a) in assignments.iter().enumerate() {
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
            .map(|s| (s.subscription_id.to_ascii_lowercase(), s.status))
            .collect();
        PermissionIndex {
            assignments,
            by_principal_scope,
            management_group_assignments,
            roles,
            management_groups: inventory.management_groups.clone(),
            coverage,
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
    pub fn check(&self, principal: &str, scope: &str, action: &Action) -> AccessDecision {
        self.check_with(principal, scope, action, &[])
    }

    /// [`check`](Self::check) as if the `extra` assignments existed too: how a fix that adds
    /// role assignments is proven before it is printed.
    pub fn check_with(
        &self,
        principal: &str,
        scope: &str,
        action: &Action,
        extra: &[RoleAssignment],
    ) -> AccessDecision {
        let principal_key = principal.trim().to_ascii_lowercase();
        let resource = ids::normalize(scope);
        let mut evidence = Vec::new();

        for a in extra.iter().filter(|a| a.principal_id == principal_key) {
            if ids::management_group_of(&a.scope_normalized).is_none()
                && ids::scope_contains(&a.scope_normalized, &resource)
            {
                evidence.push(self.weigh(a, action, None));
            }
        }

        if let Some(scopes) = self.by_principal_scope.get(&principal_key) {
            for ancestor in ids::ancestor_scopes(&resource) {
                for &i in scopes.get(ancestor).into_iter().flatten() {
                    evidence.push(self.weigh(&self.assignments[i], action, None));
                }
            }
        }

        let subscription = ids::subscription_of(&resource);
        for &i in self
            .management_group_assignments
            .get(&principal_key)
            .into_iter()
            .flatten()
        {
            let a = &self.assignments[i];
            let group = ids::management_group_of(&a.scope_normalized).unwrap_or_default();
            let ancestry = subscription
                .as_ref()
                .and_then(|s| self.management_groups.get(s));
            match ancestry {
                Some(chain) if chain.iter().any(|g| g == group) => evidence.push(self.weigh(a, action, None)),
                Some(_) => {}
                None => evidence.push(self.weigh(
                    a,
                    action,
                    Some(format!(
                        "made at management group `{group}`, and the snapshot does not say whether subscription {} is below it",
                        subscription.as_deref().unwrap_or("(none)")
                    )),
                )),
            }
        }

        let granted = evidence
            .iter()
            .any(|e| e.contribution == Contribution::Grants);
        let mut reasons = Vec::new();
        let decision = if granted {
            Decision::Granted
        } else {
            for e in evidence
                .iter()
                .filter(|e| e.contribution == Contribution::Inconclusive)
            {
                reasons.push(format!(
                    "assignment {} might grant it: {}",
                    e.assignment_id, e.detail
                ));
            }
            let covered = subscription
                .as_ref()
                .and_then(|s| self.coverage.get(s))
                .copied();
            match (covered, subscription.as_deref()) {
                (Some(ScopeStatus::Complete), _) => {}
                (Some(status), Some(sub)) => reasons.push(format!(
                    "subscription {sub} was read only {} so assignments may be missing",
                    match status {
                        ScopeStatus::Partial => "partially,",
                        _ => "with errors,",
                    }
                )),
                (None, Some(sub)) => {
                    reasons.push(format!("subscription {sub} is not covered by the snapshot, so its assignments are unknown"))
                }
                (_, None) => reasons.push("the scope is outside any subscription the snapshot covers".to_string()),
            }
            if reasons.is_empty() {
                let kind = if action.data { "data action" } else { "action" };
                reasons.push(if evidence.is_empty() {
                    format!("no applicable assignment grants {kind} {}", action.name)
                } else {
                    format!(
                        "no applicable assignment grants {kind} {} ({} considered)",
                        action.name,
                        evidence.len()
                    )
                });
                Decision::Denied
            } else {
                Decision::Unknown
            }
        };
        AccessDecision {
            decision,
            principal: principal.to_string(),
            scope: scope.to_string(),
            action: action.name.clone(),
            data_action: action.data,
            evidence,
            reasons,
        }
    }

    fn weigh(&self, a: &RoleAssignment, action: &Action, containment: Option<String>) -> Evidence {
        let role = self.roles.get(&a.role_guid);
        let mut e = Evidence {
            assignment_id: a.id.clone(),
            role_name: role.map(|r| r.role_name.clone()),
            role_definition_id: a.role_guid.clone(),
            role_source: role.map(|r| r.source),
            scope: a.scope.clone(),
            contribution: Contribution::Inconclusive,
            detail: String::new(),
        };
        let Some(role) = role else {
            e.detail = format!(
                "role definition {} is neither in the snapshot nor a known built-in role",
                a.role_guid
            );
            return e;
        };
        match role.evaluate(action) {
            Verdict::DoesNotGrant(why) => {
                e.contribution = Contribution::DoesNotGrant;
                e.detail = why;
            }
            Verdict::Grants(why) => {
                if let Some(containment) = containment {
                    e.detail = format!("{why}, but it was {containment}");
                } else if let Some(condition) = &a.condition {
                    e.detail =
                        format!("{why}, but the assignment has an ABAC condition: {condition}");
                } else {
                    e.contribution = Contribution::Grants;
                    e.detail = why;
                }
            }
        }
        e
    }
}
