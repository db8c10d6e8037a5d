//! Built-in role definitions embedded in the binary.
//!
//! Snapshots often hold role assignments without the definitions they reference (`az role
//! assignment list` prints no permissions), so the common built-in roles ship with amlaudit.
//! The permission lists are copied verbatim from Microsoft's "Azure built-in roles" reference;
//! `builtin_roles.json` names the page in its `source` field. A definition found in the snapshot
//! always wins over this catalogue.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::inventory::{DefinitionSource, PermissionBlock, RoleDefinition};

const CATALOGUE_JSON: &str = include_str!("builtin_roles.json");

#[derive(Deserialize)]
struct CatalogueFile {
    source: String,
    roles: Vec<CatalogueRole>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogueRole {
    name: String,
    role_name: String,
    /// Blocks as the reference prints them; some carry a `condition` (constrained delegation of
    /// role assignment writes, for example), which the engine reports as `unknown`.
    permissions: Vec<PermissionBlock>,
}

struct Catalogue {
    source: String,
    roles: HashMap<String, RoleDefinition>,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        // The file is compiled in and covered by tests; failing to parse it is a build defect.
        let file: CatalogueFile =
            serde_json::from_str(CATALOGUE_JSON).expect("builtin_roles.json is valid");
        let roles = file
            .roles
            .into_iter()
            .map(|r| {
                let guid = r.name.to_ascii_lowercase();
                let def = RoleDefinition {
                    guid: guid.clone(),
                    role_name: r.role_name,
                    permissions: r.permissions,
                    source: DefinitionSource::BuiltInCatalogue,
                };
                (guid, def)
            })
            .collect();
        Catalogue {
            source: file.source,
            roles,
        }
    })
}

/// A built-in role by GUID (any case).
pub fn builtin_role(guid: &str) -> Option<&'static RoleDefinition> {
    catalogue().roles.get(&guid.to_ascii_lowercase())
}

/// A built-in role by its exact name (any case), e.g. "AcrPull".
pub fn builtin_role_by_name(name: &str) -> Option<&'static RoleDefinition> {
    let name = name.trim();
    catalogue()
        .roles
        .values()
        .find(|r| r.role_name.eq_ignore_ascii_case(name))
}

/// Every built-in role in the catalogue.
pub fn builtin_roles() -> impl Iterator<Item = &'static RoleDefinition> {
    catalogue().roles.values()
}

/// Where the catalogue's permission lists were copied from.
pub fn catalogue_source() -> &'static str {
    &catalogue().source
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_holds_hundreds_of_roles_and_keeps_their_conditions() {
        assert!(builtin_roles().count() > 300, "{}", builtin_roles().count());
        // Key Vault Data Access Administrator's role-assignment writes are conditional in Azure:
        // the block that lists them must keep its condition, so the engine does not grant them
        // unconditionally.
        let kv_daa = builtin_roles()
            .find(|r| r.role_name == "Key Vault Data Access Administrator")
            .expect("Key Vault Data Access Administrator");
        let writes: Vec<_> = kv_daa
            .permissions
            .iter()
            .filter(|p| {
                p.actions
                    .iter()
                    .any(|a| a.ends_with("roleAssignments/write"))
            })
            .collect();
        assert!(!writes.is_empty(), "{:?}", kv_daa.permissions);
        assert!(
            writes.iter().all(|p| p.condition().is_some()),
            "{:?}",
            kv_daa.permissions
        );
    }

    #[test]
    fn required_roles_are_present() {
        for name in [
            "AcrPull",
            "AcrPush",
            "AcrDelete",
            "Reader",
            "Contributor",
            "Owner",
            "User Access Administrator",
            "Managed Identity Operator",
            "Storage Blob Data Contributor",
            "Storage Blob Data Reader",
            "Key Vault Administrator",
            "Key Vault Crypto Service Encryption User",
            "Container Registry Repository Reader",
            "Container Registry Repository Writer",
        ] {
            assert!(
                builtin_roles().any(|r| r.role_name == name),
                "{name} missing from the catalogue"
            );
        }
        assert_eq!(
            builtin_role("7F951DDA-4ed3-4680-a7ca-43fe172d538d").map(|r| r.role_name.as_str()),
            Some("AcrPull")
        );
        assert!(!catalogue_source().is_empty());
        assert_eq!(
            builtin_role_by_name("acrpull").map(|r| r.guid.as_str()),
            Some("7f951dda-4ed3-4680-a7ca-43fe172d538d")
        );
    }
}
