package amlaudit.rules.aks_sp_acr_pull_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

sub := "b61e6ba5-3682-4dd6-b804-69b84b2d451c"

workspace_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-prod/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod", [sub])

registry_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-prod/providers/Microsoft.ContainerRegistry/registries/mlacrprod", [sub])

cluster_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod-sp", [sub])

app_id := "2b1522b8-a15f-49c8-98b8-413f8ef5b163"

object_id := "6c1e6f3a-2d7b-4c8e-9f1a-3b5d7e9f1a2c"

sp_cluster := {"id": cluster_id, "name": "aks-prod-sp", "properties": {"servicePrincipalProfile": {"clientId": app_id}}}

mi_cluster := {"id": cluster_id, "name": "aks-prod-sp", "identity": {"type": "SystemAssigned"}, "properties": {"servicePrincipalProfile": {"clientId": "msi"}}}

# The input of an AKS compute: its workspace, registry and cluster, and the service principal.
doc(compute_type, cluster, object) := {
	"id": sprintf("%s/computes/aks-scoring-sp", [workspace_id]),
	"name": "aks-scoring-sp",
	"type": "Microsoft.MachineLearningServices/workspaces/computes",
	"resource": {
		"id": sprintf("%s/computes/aks-scoring-sp", [workspace_id]),
		"name": "aks-scoring-sp",
		"properties": {"computeType": compute_type, "resourceId": cluster_id},
	},
	"workspace": {"id": workspace_id, "name": "mlw-prod", "properties": {"containerRegistry": registry_id}},
	"registry_id": registry_id,
	"registry": {"id": registry_id, "name": "mlacrprod", "properties": {}},
	"identities": [],
	"cluster_id": cluster_id,
	"cluster": cluster,
	"service_principal_app_id": app_id_of(cluster),
	"service_principal_object_id": object,
}

app_id_of(cluster) := app_id if cluster == sp_cluster

else := null

complete := doc("AKS", sp_cluster, object_id)

decision(verdict, principal, scope, repositories) := {
	"decision": verdict,
	"principal": principal,
	"scope": scope,
	"action": repositories,
	"summary": sprintf("%s (mock)", [verdict]),
	"evidence": [],
	"reasons": [],
}

granted(principal, scope, repositories) := decision("granted", principal, scope, repositories)

denied(principal, scope, repositories) := decision("denied", principal, scope, repositories)

undecided(principal, scope, repositories) := decision("unknown", principal, scope, repositories)


test_pass_when_the_service_principal_can_pull if {
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as complete with data.amlaudit.lib.pull as granted
	r.status == "pass"
	r.message == sprintf("AKS compute `aks-scoring-sp` (cluster `aks-prod-sp`, service principal %s) (object id %s) can pull from `mlacrprod`", [app_id, object_id])
	r.evidence[0].principal == object_id
	r.evidence[0].action == ["azureml/azureml_image"]
}

test_fail_grants_acr_pull_to_the_object_id if {
	legacy := object.union(complete, {"registry": {"properties": {"roleAssignmentMode": "LegacyRegistryPermissions"}}})
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as legacy with data.amlaudit.lib.pull as denied
	r.status == "fail"
	contains(r.message, "which Azure ML granted when the cluster was attached")
	r.remediation == [{
		"description": "Grant the service principal of cluster `aks-prod-sp` AcrPull on registry `mlacrprod`",
		"edit": {"kind": "role_assignment", "principal_id": object_id, "role": "AcrPull", "scope": registry_id},
	}]
}

test_fail_grants_both_pull_roles_when_the_registry_mode_is_not_known if {
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as complete with data.amlaudit.lib.pull as denied
	r.status == "fail"
	[step.edit.role | some step in r.remediation] == ["AcrPull", "Container Registry Repository Reader"]
	every step in r.remediation {
		step.edit.principal_id == object_id
		step.edit.scope == registry_id
	}
}

test_fail_in_abac_mode_grants_repository_reader if {
	abac := object.union(complete, {"registry": {"properties": {"roleAssignmentMode": "AbacRepositoryPermissions"}}})
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as abac with data.amlaudit.lib.pull as denied
	r.remediation[0].edit.role == "Container Registry Repository Reader"
}

test_unknown_when_pull_is_undecided if {
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as complete with data.amlaudit.lib.pull as undecided
	r.status == "unknown"
	contains(r.message, "cannot be decided: unknown (mock)")
}

test_unknown_naming_the_app_id_without_an_object_id if {
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as doc("AKS", sp_cluster, null) with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	contains(r.message, sprintf("the object id of app id %s is not in the snapshot", [app_id]))
}

test_unknown_when_the_workspace_has_no_properties if {
	bare := object.union(complete, {"workspace": {"properties": null}, "registry_id": null})
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as bare with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	contains(r.message, "workspace `mlw-prod` has no properties in the snapshot")
}

test_unknown_for_an_orphan_compute if {
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as object.union(complete, {"workspace": null}) with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	r.message == "compute `aks-scoring-sp`: its workspace is not in the snapshot"
}

test_not_applicable_without_a_workspace_registry if {
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as object.union(complete, {"registry_id": null, "registry": null}) with data.amlaudit.lib.pull as granted
	r.status == "not_applicable"
	contains(r.message, "workspace `mlw-prod` has no container registry yet")
}

test_not_applicable_to_other_computes_and_managed_identity_clusters if {
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as doc("AmlCompute", null, null) with data.amlaudit.lib.pull as granted
	r.status == "not_applicable"
	contains(r.message, "is of type `AmlCompute`")
	m := data.amlaudit.rules.aks_sp_acr_pull.result with input as doc("AKS", mi_cluster, null) with data.amlaudit.lib.pull as granted
	m.status == "not_applicable"
	contains(m.message, "uses a managed identity")
	no_profile := {"id": cluster_id, "name": "aks-prod-sp", "identity": {"type": "SystemAssigned"}, "properties": {}}
	n := data.amlaudit.rules.aks_sp_acr_pull.result with input as doc("AKS", no_profile, null) with data.amlaudit.lib.pull as granted
	n.status == "not_applicable"
}

test_unknown_when_the_cluster_is_missing_or_says_nothing if {
	r := data.amlaudit.rules.aks_sp_acr_pull.result with input as doc("AKS", null, null) with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	contains(r.message, "cluster `aks-prod-sp` is not in the snapshot")
	s := data.amlaudit.rules.aks_sp_acr_pull.result with input as object.union(doc("AKS", null, null), {"cluster_id": null}) with data.amlaudit.lib.pull as granted
	s.status == "unknown"
	contains(s.message, "points at no managed cluster")
	t := data.amlaudit.rules.aks_sp_acr_pull.result with input as doc("AKS", {"id": cluster_id, "name": "aks-prod-sp", "properties": {}}, null) with data.amlaudit.lib.pull as granted
	t.status == "unknown"
	contains(t.message, "has no service principal in the snapshot")
}
