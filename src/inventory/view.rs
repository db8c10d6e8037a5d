//! The read-only questions a rule's input document asks of an inventory, as a trait: answered by
//! [`Inventory`] for a scan, and by the fix overlay ([`crate::fixes::overlay`]) when a rule is
//! evaluated again on the tenant as a fix would leave it.

use serde_json::Value;

use super::{Inventory, ScopeStatus};

/// Lookups over a tenant's resources; every id is matched case-insensitively.
pub trait InventoryView: Sync {
    /// A resource by id.
    fn resource(&self, id: &str) -> Option<&Value>;
    /// Child resources of a lower-cased type directly below a parent id.
    fn children<'a>(&'a self, parent_id: &str, ty: &'a str) -> Vec<&'a Value>;
    /// The registry whose login server is `target`.
    fn registry_for_login_server(&self, target: &str) -> Option<&Value>;
    /// Workspaces whose `properties.containerRegistry` is this registry.
    fn workspaces_of_registry(&self, registry_id: &str) -> Vec<&Value>;
    /// How completely a subscription was read; `None` when the snapshot does not cover it.
    fn subscription_coverage(&self, subscription_id: &str) -> Option<ScopeStatus>;
    /// Workspaces the snapshot holds without `properties` (which registry they use is unknown).
    fn workspaces_without_properties(&self) -> Vec<&Value>;
    /// The object id of a service principal by app id, from the snapshot's directory.
    fn service_principal_object_id(&self, app_id: &str) -> Option<&str>;
}

impl InventoryView for Inventory {
    fn resource(&self, id: &str) -> Option<&Value> {
        self.get(id)
    }

    fn children<'a>(&'a self, parent_id: &str, ty: &'a str) -> Vec<&'a Value> {
        self.children_of(parent_id, ty).collect()
    }

    fn registry_for_login_server(&self, target: &str) -> Option<&Value> {
        self.registry_by_login_server(target)
    }

    fn workspaces_of_registry(&self, registry_id: &str) -> Vec<&Value> {
        self.workspaces_using_registry(registry_id).collect()
    }

    fn subscription_coverage(&self, subscription_id: &str) -> Option<ScopeStatus> {
        self.coverage(subscription_id)
    }

    fn workspaces_without_properties(&self) -> Vec<&Value> {
        Inventory::workspaces_without_properties(self).collect()
    }

    fn service_principal_object_id(&self, app_id: &str) -> Option<&str> {
        Inventory::service_principal_object_id(self, app_id)
    }
}
