//! Synthetic tenants of any size, for benchmarks and load tests.
//!
//! The shape follows the demo tenant: workspaces with their own registry, AmlCompute clusters
//! with system-assigned identities, AcrPull grants at resource, resource-group and subscription
//! scope (and some clusters without any), admin users left on, ACI services, and a large volume of
//! unrelated role assignments, which is what real tenants are made of. Deterministic: the same
//! sizes always give the same snapshot.

use serde_json::{Value, json};

use crate::inventory::{ScopeCoverage, ScopeStatus, Snapshot};

/// How big a tenant to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSize {
    pub subscriptions: usize,
    pub workspaces: usize,
    pub computes_per_workspace: usize,
    pub role_assignments: usize,
}

impl TenantSize {
    /// The scale the scan benchmark is specified at: 100 subscriptions, 10,000 workspaces,
    /// 40,000 computes, 10,000 registries and 200,000 role assignments.
    pub const LARGE: TenantSize = TenantSize {
        subscriptions: 100,
        workspaces: 10_000,
        computes_per_workspace: 4,
        role_assignments: 200_000,
    };
}

fn guid(kind: u32, n: usize) -> String {
    format!(
        "{kind:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (n >> 16) & 0xffff,
        (n >> 8) & 0xfff,
        n & 0xfff,
        n
    )
}

const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

fn assignment(n: usize, scope: &str, principal: &str, role: &str) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{}", guid(0xa5, n)),
        "type": "Microsoft.Authorization/roleAssignments",
        "name": guid(0xa5, n),
        "properties": {
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal,
            "principalType": "ServicePrincipal",
            "scope": scope,
            "createdOn": "2025-06-01T10:00:00.0000000Z",
        }
    })
}

/// Generates a tenant of the given size.
pub fn tenant(size: TenantSize) -> Snapshot {
    let mut snapshot = Snapshot::new(Some(guid(0x7e, 1)), "AzureCloud");
    snapshot.collected_at = "2026-11-01T00:00:00Z".to_string();
    let subs: Vec<String> = (0..size.subscriptions.max(1))
        .map(|i| guid(0x5b, i))
        .collect();
    let mut resources = Vec::new();
    let mut assignments = 0usize;
    for sub in &subs {
        resources.push(json!({
            "id": format!("/subscriptions/{sub}"),
            "type": "Microsoft.Resources/subscriptions",
            "subscriptionId": sub,
            "displayName": format!("ml-{sub}"),
            "properties": {"managementGroupAncestorsChain": [{"name": "ml-platform"}, {"name": guid(0x7e, 1)}]}
        }));
        snapshot.scopes.push(ScopeCoverage {
            subscription_id: sub.clone(),
            status: ScopeStatus::Complete,
            errors: Vec::new(),
            deny_assignments: Some(crate::inventory::snapshot::DenyAssignmentsRead::Read),
        });
    }
    for w in 0..size.workspaces {
        let sub = &subs[w % subs.len()];
        let rg = format!(
            "/subscriptions/{sub}/resourceGroups/rg-ml-{:04}",
            w / subs.len()
        );
        let registry = format!("{rg}/providers/Microsoft.ContainerRegistry/registries/acr{w:05}");
        let workspace =
            format!("{rg}/providers/Microsoft.MachineLearningServices/workspaces/mlw-{w:05}");
        let ws_principal = guid(0x3a, w);
        resources.push(json!({
            "id": registry, "type": "Microsoft.ContainerRegistry/registries", "name": format!("acr{w:05}"),
            "location": "westeurope", "sku": {"name": "Premium", "tier": "Premium"},
            "properties": {"loginServer": format!("acr{w:05}.azurecr.io"), "adminUserEnabled": w.is_multiple_of(7),
                "publicNetworkAccess": "Enabled", "provisioningState": "Succeeded"}
        }));
        resources.push(json!({
            "id": workspace, "type": "Microsoft.MachineLearningServices/workspaces", "name": format!("mlw-{w:05}"),
            "location": "westeurope",
            "identity": {"type": "SystemAssigned", "principalId": ws_principal, "tenantId": guid(0x7e, 1)},
            "properties": {
                "containerRegistry": registry,
                "storageAccount": format!("{rg}/providers/Microsoft.Storage/storageAccounts/st{w:05}"),
                "keyVault": format!("{rg}/providers/Microsoft.KeyVault/vaults/kv{w:05}"),
                "encryption": {"status": if w.is_multiple_of(11) { "Enabled" } else { "Disabled" }},
                "provisioningState": "Succeeded"
            }
        }));
        if w.is_multiple_of(14) {
            resources.push(json!({
                "id": format!("{workspace}/services/score"), "type": "Microsoft.MachineLearningServices/workspaces/services",
                "name": "score", "properties": {"computeType": "ACI", "state": "Healthy"}
            }));
        }
        for c in 0..size.computes_per_workspace {
            let n = w * size.computes_per_workspace + c;
            let principal = guid(0xc0, n);
            resources.push(json!({
                "id": format!("{workspace}/computes/cluster-{c}"),
                "type": "Microsoft.MachineLearningServices/workspaces/computes", "name": format!("cluster-{c}"),
                "location": "westeurope",
                "identity": {"type": "SystemAssigned", "principalId": principal, "tenantId": guid(0x7e, 1)},
                "properties": {"computeType": "AmlCompute", "provisioningState": "Succeeded",
                    "properties": {"vmSize": "STANDARD_DS3_V2", "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4}}}
            }));
            // Most clusters hold AcrPull, at varying scopes; one in ten holds nothing.
            let scope = match n % 10 {
                0 => None,
                1..=6 => Some(registry.clone()),
                7 | 8 => Some(rg.clone()),
                _ => Some(format!("/subscriptions/{sub}")),
            };
            if let Some(scope) = scope.filter(|_| assignments < size.role_assignments) {
                resources.push(assignment(assignments, &scope, &principal, ACR_PULL));
                assignments += 1;
            }
        }
    }
    // The rest: people and pipelines with Reader and Contributor across resource groups.
    while assignments < size.role_assignments {
        let n = assignments;
        let sub = &subs[n % subs.len()];
        let rg = format!(
            "/subscriptions/{sub}/resourceGroups/rg-ml-{:04}",
            (n / subs.len()) % (size.workspaces / subs.len()).max(1)
        );
        let role = if n.is_multiple_of(3) {
            CONTRIBUTOR
        } else {
            READER
        };
        resources.push(assignment(n, &rg, &guid(0xee, n % 50_000), role));
        assignments += 1;
    }
    snapshot.resources = resources;
    snapshot
}
