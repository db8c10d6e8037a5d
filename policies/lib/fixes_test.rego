package amlaudit.fixes_test

import data.amlaudit.lib
import rego.v1

sub := "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c/resourceGroups/rg-ml-prod/providers"

registry_id := concat("", [sub, "/Microsoft.ContainerRegistry/registries/mlacrprod"])

workspace_id := concat("", [sub, "/Microsoft.MachineLearningServices/workspaces/mlw-prod"])

compute_id := concat("", [workspace_id, "/computes/cpu-cluster"])

connection_id := concat("", [workspace_id, "/connections/privateAcr"])

cluster_id := concat("", [sub, "/Microsoft.ContainerService/managedClusters/aks-prod"])

identity_id := concat("", [sub, "/Microsoft.ManagedIdentity/userAssignedIdentities/uai-build"])

vault_id := concat("", [sub, "/Microsoft.KeyVault/vaults/kv-prod"])

test_role_assignment if {
	lib.fix_role_assignment("p1", "AcrPull", registry_id, "d") == {
		"description": "d",
		"edit": {"kind": "role_assignment", "principal_id": "p1", "role": "AcrPull", "scope": registry_id},
	}
}

test_role_assignment_from_step if {
	lib.fix_role_assignment_from_step(0, "Container Registry Repository Reader", registry_id, "d").edit == {
		"kind": "role_assignment",
		"principal_from_step": 0,
		"role": "Container Registry Repository Reader",
		"scope": registry_id,
	}
}

test_registry_admin_user if {
	lib.fix_registry_admin_user(registry_id, false, "d").edit == {"kind": "registry_admin_user", "registry": registry_id, "enabled": false}
}

test_compute_identity if {
	lib.fix_compute_identity(compute_id, "UserAssigned", [identity_id], "d").edit == {
		"kind": "compute_identity",
		"compute": compute_id,
		"type": "UserAssigned",
		"user_assigned_identities": [identity_id],
	}
}

test_attach_identity if {
	lib.fix_attach_identity(workspace_id, identity_id, "d").edit == {"kind": "attach_identity", "resource": workspace_id, "identity": identity_id}
}

test_keyvault_access_policy if {
	lib.fix_keyvault_access_policy(vault_id, "o1", ["get", "wrapKey", "unwrapKey"], [], "d").edit == {
		"kind": "keyvault_access_policy",
		"vault": vault_id,
		"object_id": "o1",
		"key_permissions": ["get", "wrapKey", "unwrapKey"],
		"secret_permissions": [],
	}
}

test_aks_attach_acr if {
	lib.fix_aks_attach_acr(cluster_id, registry_id, "d").edit == {"kind": "aks_attach_acr", "cluster": cluster_id, "registry": registry_id}
}

test_connection_recreate if {
	lib.fix_connection_recreate(connection_id, "mlacrprod.azurecr.io", identity_id, "c1", "d").edit == {
		"kind": "connection_recreate",
		"connection": connection_id,
		"target": "mlacrprod.azurecr.io",
		"identity_resource_id": identity_id,
		"identity_client_id": "c1",
	}
}

test_identity_create if {
	lib.fix_identity_create(identity_id, "d").edit == {"kind": "identity_create", "identity": identity_id}
}

test_aks_managed_identity if {
	lib.fix_aks_managed_identity(cluster_id, "d").edit == {"kind": "aks_managed_identity", "cluster": cluster_id}
}

test_aks_node_image_upgrade if {
	lib.fix_aks_node_image_upgrade(cluster_id, "d").edit == {"kind": "aks_node_image_upgrade", "cluster": cluster_id}
}

test_workspace_primary_identity if {
	lib.fix_workspace_primary_identity(workspace_id, identity_id, "d").edit == {"kind": "workspace_primary_identity", "workspace": workspace_id, "identity": identity_id}
}

test_resource_tag if {
	lib.fix_resource_tag(workspace_id, "owner", "ml-platform", "d").edit == {"kind": "resource_tag", "resource": workspace_id, "tag": "owner", "value": "ml-platform"}
}

test_manual if {
	lib.fix_manual("d", "Detach the compute", ["az", "ml", "compute", "detach", "--name", "<compute>"]) == {
		"description": "d",
		"edit": {"kind": "manual", "text": "Detach the compute", "argv": ["az", "ml", "compute", "detach", "--name", "<compute>"]},
	}
}
