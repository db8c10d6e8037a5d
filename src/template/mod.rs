//! ARM deployment templates as planned inventory: what a deployment will create, audited before
//! it runs.
//!
//! [`Template::load`] reads a template (and optionally an ARM parameters file) with the position
//! of every value ([`source`]); [`Template::plan`] evaluates it for a target resource group
//! ([`deploy`], with the expression language in [`expr`] and the naming hashes in [`hash`]) into
//! planned resources in the shape ARM returns them, each with the file, line and column of its
//! object; [`overlay`] lays them over a snapshot (a planned resource replaces the one with the
//! same id) or, without one, builds a snapshot of the plan alone whose coverage says that
//! everything outside the template is unknown.
//!
//! Managed identities the deployment creates get a placeholder principal id,
//! `planned:<resource id>`, in `identity.principalId` (system-assigned) or `properties.principalId`
//! (user-assigned identity resources). `reference(...).principalId` evaluates to the same
//! placeholder, so a role assignment of the same deployment grants to it and the permission
//! engine matches the two. Values the template cannot know before deployment are stored as
//! `<unknown: reason>` and listed per resource, so results about them are never a pass.
//!
//! This module sits beside `inventory` in the dependency order: it produces snapshot resources
//! and uses only `ids` and `inventory`.

pub mod deploy;
pub mod expr;
pub mod hash;
pub mod source;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ids;
use crate::inventory::{ScopeCoverage, ScopeError, ScopeStatus, Snapshot};
use expr::Val;
use source::{Document, Position};

pub use deploy::{planned_client, planned_principal};

/// A template or parameters file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: this is a Bicep file; compile it to an ARM template first (`az bicep build --file {path}` or `bicep build {path}`) and pass the .json it writes"
    )]
    Bicep { path: PathBuf },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("--deploy-to {value}: {message}")]
    Target { value: String, message: String },
}

/// Where a planned resource is written: its object's first character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// A loaded template and its parameter values.
#[derive(Debug)]
pub struct Template {
    path: PathBuf,
    document: Document,
    parameters: HashMap<String, Val>,
}

/// One planned resource.
#[derive(Debug, Clone)]
pub struct PlannedResource {
    pub resource: Value,
    pub location: SourceLocation,
    /// Why some of its values (or whether it is deployed at all) are not known before deployment.
    pub unknowns: Vec<String>,
}

/// The evaluated deployment.
#[derive(Debug, Clone)]
pub struct Plan {
    pub template: String,
    pub subscription: String,
    pub resource_group: Option<String>,
    pub resources: Vec<PlannedResource>,
    /// Parts of the deployment that could not be evaluated at all (linked templates, loops of
    /// unknown length, resources with unknown names).
    pub gaps: Vec<String>,
    by_id: HashMap<String, usize>,
}

fn read(path: &Path) -> Result<String, TemplateError> {
    std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_file(path: &Path) -> Result<Document, TemplateError> {
    let text = read(path)?;
    source::parse(&text).map_err(|e| TemplateError::Invalid {
        path: path.to_path_buf(),
        line: e.position.line,
        column: e.position.column,
        message: format!("not valid JSON: {}", e.message),
    })
}

impl Template {
    /// Reads a template and, optionally, an ARM parameters file (`{"parameters": {"name":
    /// {"value": ...}}}`; Key Vault references are unknown values).
    pub fn load(path: &Path, parameters: Option<&Path>) -> Result<Self, TemplateError> {
        if path.extension().is_some_and(|e| {
            e.eq_ignore_ascii_case("bicep") || e.eq_ignore_ascii_case("bicepparam")
        }) {
            return Err(TemplateError::Bicep {
                path: path.to_path_buf(),
            });
        }
        let document = parse_file(path)?;
        let invalid = |pointer: &str, message: String| {
            let p = document.position(pointer);
            TemplateError::Invalid {
                path: path.to_path_buf(),
                line: p.line,
                column: p.column,
                message,
            }
        };
        let Some(root) = document.value.as_object() else {
            return Err(invalid("", "an ARM template is a JSON object".into()));
        };
        if !root.contains_key("resources") {
            return Err(invalid(
                "",
                "not an ARM deployment template: it has no `resources` (a parameters file, or Bicep output of another kind?)".into(),
            ));
        }
        let mut values = HashMap::new();
        if let Some(p) = parameters {
            if p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("bicepparam"))
            {
                return Err(TemplateError::Bicep {
                    path: p.to_path_buf(),
                });
            }
            let doc = parse_file(p)?;
            let at = |pointer: &str, message: String| {
                let pos = doc.position(pointer);
                TemplateError::Invalid {
                    path: p.to_path_buf(),
                    line: pos.line,
                    column: pos.column,
                    message,
                }
            };
            let Some(params) = doc.value.get("parameters").and_then(Value::as_object) else {
                return Err(at(
                    "",
                    "an ARM parameters file has a `parameters` object".into(),
                ));
            };
            for (name, entry) in params {
                let pointer = format!("/parameters/{}", source::escape_segment(name));
                let value = if entry.get("reference").is_some() {
                    Val::Unknown(format!("parameter `{name}` is a Key Vault reference"))
                } else if let Some(v) = entry.get("value") {
                    Val::Known(v.clone())
                } else {
                    return Err(at(
                        &pointer,
                        format!("parameter `{name}` has neither `value` nor `reference`"),
                    ));
                };
                values.insert(name.to_ascii_lowercase(), value);
            }
        }
        Ok(Template {
            path: path.to_path_buf(),
            document,
            parameters: values,
        })
    }

    fn error(&self, pointer: &str, message: String) -> TemplateError {
        let Position { line, column } = self.document.position(pointer);
        TemplateError::Invalid {
            path: self.path.clone(),
            line,
            column,
            message,
        }
    }

    /// Evaluates the deployment into `deploy_to` (`/subscriptions/S/resourceGroups/RG`, or
    /// `/subscriptions/S` for a subscription deployment), reading existing resources from the
    /// snapshot when there is one.
    pub fn plan(
        &self,
        deploy_to: &str,
        snapshot: Option<&Snapshot>,
    ) -> Result<Plan, TemplateError> {
        let target = parse_target(deploy_to)?;
        let schema = self
            .document
            .value
            .get("$schema")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let sub_schema = schema.contains("subscriptiondeploymenttemplate");
        if schema.contains("managementgroupdeploymenttemplate")
            || schema.contains("tenantdeploymenttemplate")
        {
            return Err(self.error("/$schema", "management-group and tenant deployments are not supported; deploy to a resource group or a subscription".into()));
        }
        if sub_schema != target.resource_group.is_none() {
            return Err(TemplateError::Target {
                value: deploy_to.to_string(),
                message: if sub_schema {
                    "the template is a subscription deployment; give --deploy-to /subscriptions/<id>".into()
                } else {
                    "the template is a resource-group deployment; give --deploy-to /subscriptions/<id>/resourceGroups/<name>".into()
                },
            });
        }
        // `az deployment group create` names the deployment after the template file.
        let deployment_name = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "deployment".into());
        let mut shared = deploy::Shared {
            snapshot,
            tenant_id: snapshot.and_then(|s| s.tenant_id.clone()),
            planned: HashSet::new(),
            bodies: HashMap::new(),
            outputs: HashMap::new(),
            by_name: HashMap::new(),
        };
        let run = |shared: &deploy::Shared<'_>| {
            deploy::evaluate(
                &self.document.value,
                self.parameters.clone(),
                target.clone(),
                &deployment_name,
                shared,
            )
            .map_err(|e| self.error(&e.pointer, e.message))
        };
        let first = run(&shared)?;
        for r in &first.resources {
            let id = r.resource["id"].as_str().unwrap_or_default();
            let key = ids::normalize(id);
            shared.planned.insert(key.clone());
            shared.bodies.insert(key, r.resource.clone());
            let full_name = id.rsplit("/providers/").next().unwrap_or_default();
            let segments: Vec<&str> = full_name.split('/').collect();
            let name_path: Vec<&str> = segments.iter().skip(2).step_by(2).copied().collect();
            shared
                .by_name
                .entry(name_path.join("/").to_ascii_lowercase())
                .or_insert_with(|| id.to_string());
            shared
                .by_name
                .entry(ids::short_name(id).to_ascii_lowercase())
                .or_insert_with(|| id.to_string());
        }
        for (id, outputs) in &first.outputs {
            shared.outputs.insert(id.clone(), outputs.clone());
            shared
                .by_name
                .entry(ids::short_name(id).to_string())
                .or_insert_with(|| id.clone());
        }
        let second = run(&shared)?;
        let file = self.path.display().to_string();
        let mut plan = Plan {
            template: file.clone(),
            subscription: target.subscription.clone(),
            resource_group: target.resource_group.clone(),
            resources: Vec::new(),
            gaps: second.gaps.messages,
            by_id: HashMap::new(),
        };
        for r in second.resources {
            let Position { line, column } = self.document.position(&r.pointer);
            let key = ids::normalize(r.resource["id"].as_str().unwrap_or_default());
            let planned = PlannedResource {
                resource: r.resource,
                location: SourceLocation {
                    file: file.clone(),
                    line,
                    column,
                },
                unknowns: r.unknowns,
            };
            // A resource declared twice is deployed as the last declaration says.
            match plan.by_id.get(&key) {
                Some(&i) => plan.resources[i] = planned,
                None => {
                    plan.by_id.insert(key, plan.resources.len());
                    plan.resources.push(planned);
                }
            }
        }
        Ok(plan)
    }
}

fn parse_target(deploy_to: &str) -> Result<deploy::Target, TemplateError> {
    let bad = |message: &str| TemplateError::Target {
        value: deploy_to.to_string(),
        message: message.to_string(),
    };
    let parts: Vec<&str> = deploy_to.trim().trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [s, sub] if s.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() => {
            Ok(deploy::Target {
                subscription: sub.to_string(),
                resource_group: None,
            })
        }
        [s, sub, r, rg]
            if s.eq_ignore_ascii_case("subscriptions")
                && r.eq_ignore_ascii_case("resourceGroups")
                && !sub.is_empty()
                && !rg.is_empty() =>
        {
            Ok(deploy::Target {
                subscription: sub.to_string(),
                resource_group: Some(rg.to_string()),
            })
        }
        _ => Err(bad("expected /subscriptions/<id>/resourceGroups/<name>")),
    }
}

impl Plan {
    /// The planned resource with this id (any case).
    pub fn get(&self, id: &str) -> Option<&PlannedResource> {
        self.by_id
            .get(&ids::normalize(id))
            .map(|&i| &self.resources[i])
    }

    /// Why a result about `resource_id` cannot be decided before deployment: the unknowns of the
    /// resource and of the planned resources above it (a compute's workspace).
    pub fn uncertainty(&self, resource_id: &str) -> Vec<String> {
        let mut out = Vec::new();
        for scope in ids::ancestor_scopes(&ids::normalize(resource_id)) {
            if let Some(&i) = self.by_id.get(scope) {
                for u in &self.resources[i].unknowns {
                    if !out.contains(u) {
                        out.push(u.clone());
                    }
                }
            }
        }
        out
    }

    /// Planned role assignments some of whose values are not known before deployment: their
    /// normalised ids, and whether what they grant to (principal, role, scope) is unknown.
    pub fn uncertain_assignments(&self) -> Vec<(String, bool)> {
        self.resources
            .iter()
            .filter(|r| {
                r.resource["type"].as_str().is_some_and(|t| {
                    t.eq_ignore_ascii_case("Microsoft.Authorization/roleAssignments")
                }) && !r.unknowns.is_empty()
            })
            .map(|r| {
                let open = ["principalId", "roleDefinitionId", "scope"]
                    .iter()
                    .any(|k| {
                        r.resource["properties"][*k]
                            .as_str()
                            .is_none_or(|s| expr::unknown_reason(s).is_some())
                    });
                (
                    ids::normalize(r.resource["id"].as_str().unwrap_or_default()),
                    open,
                )
            })
            .collect()
    }
}

/// Lays the plan over a snapshot, or builds a snapshot of the plan alone.
///
/// Alone, the target subscription's coverage is `partial`, with an error saying why: whatever
/// the planned resources reference outside the template (role assignments, registries, identities)
/// is unknown, so a missing grant is `unknown`, never a pass. Parts of the deployment that could
/// not be evaluated make the target's coverage partial in both cases.
pub fn overlay(snapshot: Option<Snapshot>, plan: &Plan) -> Snapshot {
    let alone = snapshot.is_none();
    let mut snapshot = snapshot.unwrap_or_else(|| Snapshot::new(None, "AzureCloud"));
    let index: HashMap<String, usize> = snapshot
        .resources
        .iter()
        .enumerate()
        .rev()
        .map(|(i, r)| (crate::inventory::snapshot::resource_id(r), i))
        .collect();
    for planned in &plan.resources {
        let key = ids::normalize(planned.resource["id"].as_str().unwrap_or_default());
        match index.get(&key) {
            Some(&i) => snapshot.resources[i] = planned.resource.clone(),
            None => snapshot.resources.push(planned.resource.clone()),
        }
    }
    let mut subscriptions: Vec<String> = vec![plan.subscription.to_ascii_lowercase()];
    for r in &plan.resources {
        if let Some(s) = ids::subscription_of(r.resource["id"].as_str().unwrap_or_default())
            && !subscriptions.contains(&s)
        {
            subscriptions.push(s);
        }
    }
    let mut errors = Vec::new();
    if alone {
        errors.push(ScopeError {
            resource_type: "*".into(),
            message: format!(
                "planned deployment of {} audited without --snapshot: resources, role assignments and group memberships outside the template are unknown",
                plan.template
            ),
            http_status: None,
        });
    }
    for gap in &plan.gaps {
        errors.push(ScopeError {
            resource_type: "Microsoft.Resources/deployments".into(),
            message: format!("{}: {gap}", plan.template),
            http_status: None,
        });
    }
    if errors.is_empty() {
        return snapshot;
    }
    for sub in subscriptions {
        match snapshot
            .scopes
            .iter_mut()
            .find(|s| s.subscription_id.eq_ignore_ascii_case(&sub))
        {
            Some(scope) => {
                scope.status = ScopeStatus::Partial;
                scope.errors.extend(errors.iter().cloned());
            }
            None if alone => snapshot.scopes.push(ScopeCoverage {
                subscription_id: sub,
                status: ScopeStatus::Partial,
                errors: errors.clone(),
                deny_assignments: None,
            }),
            None => {}
        }
    }
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(template: &str) -> Plan {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.json");
        std::fs::write(&path, template).unwrap();
        Template::load(&path, None)
            .unwrap()
            .plan("/subscriptions/s1/resourceGroups/rg1", None)
            .unwrap()
    }

    fn ids(plan: &Plan) -> Vec<String> {
        plan.resources
            .iter()
            .map(|r| r.resource["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn nested_deployments_resolve_functions_in_their_own_or_the_parents_scope() {
        let nested = |scope: &str| {
            format!(
                r#"{{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "n-{scope}",
                  "resourceGroup": "rg2",
                  "properties": {{"expressionEvaluationOptions": {{"scope": "{scope}"}}, "mode": "Incremental",
                    "template": {{"resources": [{{"type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                      "apiVersion": "2023-01-31", "name": "[concat('{scope}-', resourceGroup().name)]"}}]}}}}}}"#
            )
        };
        let plan = plan_of(&format!(
            r#"{{"resources": [{}, {}]}}"#,
            nested("inner"),
            nested("outer")
        ));
        assert_eq!(
            ids(&plan),
            [
                "/subscriptions/s1/resourceGroups/rg2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/inner-rg2",
                "/subscriptions/s1/resourceGroups/rg2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/outer-rg1",
            ]
        );
        let uai = &plan.resources[0].resource;
        assert_eq!(
            uai["properties"]["principalId"],
            format!("planned:{}", uai["id"].as_str().unwrap())
        );
    }

    #[test]
    fn children_copy_and_conditions() {
        let plan = plan_of(
            r#"{"resources": [
              {"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws",
               "identity": {"type": "SystemAssigned"},
               "resources": [{"type": "computes", "apiVersion": "2024-04-01", "name": "c",
                              "properties": {"computeType": "AmlCompute"}}]},
              {"type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2023-07-01",
               "name": "[format('acr{0}', copyIndex(1))]", "copy": {"name": "acrs", "count": 2}},
              {"condition": "[equals(1, 2)]", "type": "Microsoft.ContainerRegistry/registries",
               "apiVersion": "2023-07-01", "name": "never"}
            ]}"#,
        );
        let found = ids(&plan);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[1].ends_with("/workspaces/ws/computes/c"));
        assert!(found[2].ends_with("/registries/acr1") && found[3].ends_with("/registries/acr2"));
        // Azure's default: a registry created without adminUserEnabled has it off.
        assert_eq!(
            plan.resources[2].resource["properties"]["adminUserEnabled"],
            false
        );
        assert_eq!(
            plan.resources[0].resource["identity"]["principalId"],
            format!("planned:{}", found[0])
        );
        // Resources of a copy loop point at the object that declares them.
        assert_eq!(plan.resources[2].location, plan.resources[3].location);
        assert_eq!(plan.resources[2].location.line, 6);
    }
}
