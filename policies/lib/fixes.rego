# METADATA
# title: amlaudit remediation steps
# description: >-
#   Builders for remediation steps as typed edits, so a rule says what to change and amlaudit
#   renders the az command and proves the fix by applying it to its inventory. Each helper returns
#   one step, `{"description": ..., "edit": {"kind": ..., ...}}`; docs/fixes.md describes every kind.
package amlaudit.lib

import rego.v1

# A role assignment for a managed identity or other service principal. `role` is a built-in role
# name (AcrPull, Container Registry Repository Reader, ...) or a role definition GUID.
fix_role_assignment(principal_id, role, scope, description) := {
	"description": description,
	"edit": {"kind": "role_assignment", "principal_id": principal_id, "role": role, "scope": scope},
}

# The same for a principal an earlier step of the same result outputs (a compute_identity with
# type SystemAssigned, or an identity_create): `step` is that step's 0-based index.
fix_role_assignment_from_step(step, role, scope, description) := {
	"description": description,
	"edit": {"kind": "role_assignment", "principal_from_step": step, "role": role, "scope": scope},
}

# Turns a registry's admin user on (`enabled` true) or off.
fix_registry_admin_user(registry_id, enabled, description) := {
	"description": description,
	"edit": {"kind": "registry_admin_user", "registry": registry_id, "enabled": enabled},
}

# Sets a compute's managed identity: `identity_type` SystemAssigned, UserAssigned or
# SystemAssigned,UserAssigned; `user_assigned_ids` the identities when the type includes
# UserAssigned, else [].
fix_compute_identity(compute_id, identity_type, user_assigned_ids, description) := {
	"description": description,
	"edit": {
		"kind": "compute_identity",
		"compute": compute_id,
		"type": identity_type,
		"user_assigned_identities": user_assigned_ids,
	},
}

# Adds a user-assigned identity to a workspace, managed cluster or registry; the identities it
# already has stay.
fix_attach_identity(resource_id, identity_id, description) := {
	"description": description,
	"edit": {"kind": "attach_identity", "resource": resource_id, "identity": identity_id},
}

# An access policy on a key vault that uses access policies (not Azure RBAC).
fix_keyvault_access_policy(vault_id, object_id, key_permissions, secret_permissions, description) := {
	"description": description,
	"edit": {
		"kind": "keyvault_access_policy",
		"vault": vault_id,
		"object_id": object_id,
		"key_permissions": key_permissions,
		"secret_permissions": secret_permissions,
	},
}

# `az aks update --attach-acr`: grants the cluster's kubelet identity AcrPull on the registry.
fix_aks_attach_acr(cluster_id, registry_id, description) := {
	"description": description,
	"edit": {"kind": "aks_attach_acr", "cluster": cluster_id, "registry": registry_id},
}

# Replaces a workspace connection with a container-registry connection that authenticates with a
# user-assigned identity.
fix_connection_recreate(connection_id, target, identity_resource_id, identity_client_id, description) := {
	"description": description,
	"edit": {
		"kind": "connection_recreate",
		"connection": connection_id,
		"target": target,
		"identity_resource_id": identity_resource_id,
		"identity_client_id": identity_client_id,
	},
}

# Creates a user-assigned identity (its id names the subscription, group and name); a later step
# can use its principal with `fix_role_assignment_from_step`.
fix_identity_create(identity_id, description) := {
	"description": description,
	"edit": {"kind": "identity_create", "identity": identity_id},
}

# Moves an AKS cluster from a service principal to a system-assigned managed identity.
# Irreversible: a managed-identity cluster cannot go back to a service principal.
fix_aks_managed_identity(cluster_id, description) := {
	"description": description,
	"edit": {"kind": "aks_managed_identity", "cluster": cluster_id},
}

# Re-images every node pool of a cluster; after an identity change the kubelet changes only then.
fix_aks_node_image_upgrade(cluster_id, description) := {
	"description": description,
	"edit": {"kind": "aks_node_image_upgrade", "cluster": cluster_id},
}

# Sets the user-assigned identity a workspace uses to reach its dependent resources. The identity
# must already be attached to the workspace (fix_attach_identity first).
fix_workspace_primary_identity(workspace_id, identity_id, description) := {
	"description": description,
	"edit": {"kind": "workspace_primary_identity", "workspace": workspace_id, "identity": identity_id},
}

# Sets one tag on a resource, keeping its other tags.
fix_resource_tag(resource_id, tag, value, description) := {
	"description": description,
	"edit": {"kind": "resource_tag", "resource": resource_id, "tag": tag, "value": value},
}

# What cannot be automated: `text` says what to do; `argv` may be [] or hold `<placeholder>` words.
fix_manual(description, text, argv) := {
	"description": description,
	"edit": {"kind": "manual", "text": text, "argv": argv},
}
