//! Rule parameters (`--params FILE`, TOML or JSON), passed to policies as `data.amlaudit.params`.
//!
//! Like Azure Policy parameters, they change what rules accept without editing rule text. The
//! file is strict: an unknown key is an error naming it, since a misspelt parameter would
//! silently leave a default in force. Values are checked against the snapshot too
//! ([`Params::check`]): a workspace entry that names no workspace, or a registry that is not a
//! registry's ARM id, would otherwise change results silently (an ACI exception that never
//! applies, a private registry nobody is checked against).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ids;
use crate::inventory::{Inventory, types};

/// Every parameter the bundled rules read, with its documented default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Workspaces (names or ids) that deploy to ACI although the snapshot shows no ACI service
    /// (AML001 exception, AML007). Default: none.
    pub aci_workspaces: Vec<String>,
    /// Private base-image registries per workspace (name or id → registry ids) that compute
    /// identities must also pull from (AML002). Default: none.
    pub private_registries: BTreeMap<String, Vec<String>>,
    /// `service_principal` (the Azure ML guidance; default) or `managed_identity` (kubelet
    /// identity must hold pull) for attached AKS clusters (AML003).
    pub aks_identity_mode: AksIdentityMode,
    /// Parameters of user rules, passed through untouched.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AksIdentityMode {
    #[default]
    ServicePrincipal,
    ManagedIdentity,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            aci_workspaces: Vec::new(),
            private_registries: BTreeMap::new(),
            aks_identity_mode: AksIdentityMode::ServicePrincipal,
            extra: BTreeMap::new(),
        }
    }
}

/// A parameters file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Params {
    /// Reads a TOML file, or a JSON file when the name ends in `.json`.
    pub fn load(path: &Path) -> Result<Self, ParamsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ParamsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: String| ParamsError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let params: Params = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            serde_json::from_str(&text)
                .map_err(|e| invalid(format!("line {} column {}: {e}", e.line(), e.column())))?
        } else {
            toml::from_str(&text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?
        };
        // User-rule parameters are namespaced so a typo in a bundled one is still caught.
        if let Some(key) = params
            .extra
            .keys()
            .find(|k| !k.contains('.') && !k.starts_with("x_"))
        {
            return Err(invalid(format!(
                "unknown parameter `{key}` (bundled parameters: aci_workspaces, private_registries, aks_identity_mode; parameters of your own rules must be named `x_...`)"
            )));
        }
        Ok(params)
    }

    /// Every value that names nothing in `inventory` or is not what its parameter takes, in the
    /// file's order: `aci_workspaces` entries and `private_registries` keys must name a workspace
    /// (by name or ARM id, as the rules match them), and each registry must be a container
    /// registry's full ARM id.
    pub fn check(&self, inventory: &Inventory) -> Vec<ParamWarning> {
        let workspaces: Vec<(String, String)> = inventory
            .of_type(types::WORKSPACE)
            .map(|w| {
                let id = w
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default();
                let name = w
                    .get("name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_else(|| ids::short_name(id));
                (name.to_lowercase(), ids::normalize(id))
            })
            .collect();
        let names_workspace = |entry: &str| {
            let (lower, normalized) = (entry.to_lowercase(), ids::normalize(entry));
            workspaces
                .iter()
                .any(|(name, id)| *name == lower || *id == normalized)
        };
        let no_workspace = format!(
            "names no workspace in the snapshot ({} workspace{}; give a workspace's name or ARM id)",
            workspaces.len(),
            if workspaces.len() == 1 { "" } else { "s" }
        );
        let mut warnings = Vec::new();
        for (i, entry) in self.aci_workspaces.iter().enumerate() {
            if !names_workspace(entry) {
                warnings.push(ParamWarning {
                    entry: format!("aci_workspaces[{i}] = {entry:?}"),
                    message: no_workspace.clone(),
                });
            }
        }
        for (key, registries) in &self.private_registries {
            if !names_workspace(key) {
                warnings.push(ParamWarning {
                    entry: format!("private_registries.{key:?}"),
                    message: no_workspace.clone(),
                });
            }
            for (i, registry) in registries.iter().enumerate() {
                if let Some(problem) = registry_id_problem(registry) {
                    warnings.push(ParamWarning {
                        entry: format!("private_registries.{key:?}[{i}] = {registry:?}"),
                        message: problem,
                    });
                }
            }
        }
        warnings
    }

    /// The value handed to policies as `data.amlaudit.params`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self)
            .expect("parameters hold only strings, numbers and lists, which always serialise")
    }
}

/// A parameter value that does not name what it should; see [`Params::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamWarning {
    /// The entry, as `parameter[index] = "value"` or `private_registries."key"`.
    pub entry: String,
    pub message: String,
}

impl std::fmt::Display for ParamWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.entry, self.message)
    }
}

/// Why a private registry value is not a container registry's ARM id, if it is not.
fn registry_id_problem(id: &str) -> Option<String> {
    const SHAPE: &str = "/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>";
    if id.contains("...") {
        return Some(format!(
            "contains `...`: write the registry's full ARM id ({SHAPE})"
        ));
    }
    let is_registry = id.starts_with('/')
        && ids::subscription_of(id).is_some_and(|s| !s.is_empty())
        && ids::resource_group_of(id).is_some_and(|g| !g.is_empty())
        && ids::arm_type_of(id).is_some_and(|t| t.eq_ignore_ascii_case(types::REGISTRY))
        && !ids::short_name(id).is_empty();
    (!is_registry).then(|| format!("is not a container registry's ARM id ({SHAPE})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_with_defaults_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("p.toml");
        std::fs::write(&good, "aks_identity_mode = \"managed_identity\"\n[private_registries]\nmlw = [\"/subscriptions/s/x\"]\n").unwrap();
        let p = Params::load(&good).unwrap();
        assert_eq!(p.aks_identity_mode, AksIdentityMode::ManagedIdentity);
        assert!(p.aci_workspaces.is_empty());
        let bad = dir.path().join("q.toml");
        std::fs::write(&bad, "aci_workspace = []\n").unwrap();
        let err = Params::load(&bad).unwrap_err().to_string();
        assert!(
            err.contains("q.toml") && err.contains("aci_workspace"),
            "{err}"
        );
    }

    #[test]
    fn values_that_name_nothing_are_warnings() {
        let snapshot: crate::inventory::Snapshot = serde_json::from_value(serde_json::json!({
            "amlaudit_snapshot": 1,
            "collected_at": "2026-01-01T00:00:00Z",
            "resources": [{
                "id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev",
                "name": "mlw-dev",
                "type": "Microsoft.MachineLearningServices/workspaces"
            }]
        }))
        .unwrap();
        let inventory = Inventory::new(snapshot);
        let registry = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/base";
        let params = Params {
            aci_workspaces: vec!["MLW-DEV".into(), "mlw-legacy".into()],
            private_registries: BTreeMap::from([
                (
                    "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev".into(),
                    vec![
                        registry.into(),
                        "/subscriptions/.../registries/x".into(),
                        "contosobase.azurecr.io".into(),
                    ],
                ),
                ("mlw-prd".into(), vec![registry.into()]),
            ]),
            ..Params::default()
        };
        let warnings: Vec<String> = params
            .check(&inventory)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(warnings.len(), 4, "{warnings:#?}");
        assert!(warnings[0].starts_with("aci_workspaces[1] = \"mlw-legacy\": names no workspace"));
        assert!(warnings[1].contains("[1] = \"/subscriptions/.../registries/x\": contains `...`"));
        assert!(
            warnings[2]
                .contains("[2] = \"contosobase.azurecr.io\": is not a container registry's ARM id")
        );
        assert!(warnings[3].starts_with("private_registries.\"mlw-prd\": names no workspace"));
    }
}
