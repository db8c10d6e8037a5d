//! Rule parameters (`--params FILE`, TOML or JSON), passed to policies as `data.amlaudit.params`.
//!
//! Like Azure Policy parameters, they change what rules accept without editing rule text. The
//! file is strict: an unknown key is an error naming it, since a misspelt parameter would
//! silently leave a default in force.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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

    /// The value handed to policies as `data.amlaudit.params`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self)
            .expect("parameters hold only strings, numbers and lists, which always serialise")
    }
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
}
