package amlaudit.rules.aks_service_principal_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

sub := "b61e6ba5-3682-4dd6-b804-69b84b2d451c"

workspace_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-prod/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod", [sub])

registry_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-prod/providers/Microsoft.ContainerRegistry/registries/mlacrprod", [sub])

cluster_id := sprintf("/subscriptions/%s/resourcegroups/rg-ml-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod-mi", [sub])

kubelet := "a9cc2ff7-4eaf-4d61-8434-d99c09ff7f0c"

# A managed cluster as ARM returns it, with the parts the rule reads.
cluster(client_id, extra) := object.union(
	{
		"id": cluster_id,
		"name": "aks-prod-mi",
		"type": "Microsoft.ContainerService/ManagedClusters",
		"properties": {"servicePrincipalProfile": {"clientId": client_id}},
	},
	extra,
)

managed_identity_cluster := cluster("msi", {
	"identity": {"type": "SystemAssigned", "principalId": "9c52e09c-f051-4649-aef1-8a6545b58f3a"},
	"properties": {"identityProfile": {"kubeletidentity": {"objectId": kubelet}}},
})

service_principal_cluster := cluster("2b1522b8-a15f-49c8-98b8-413f8ef5b163", {})

# The input of a compute: the resource, its workspace and registry, and the cluster it points at.
doc(compute_type, registry, cluster_doc) := {
	"id": sprintf("%s/computes/aks-scoring", [workspace_id]),
	"name": "aks-scoring",
	"type": "Microsoft.MachineLearningServices/workspaces/computes",
	"resource": {
		"id": sprintf("%s/computes/aks-scoring", [workspace_id]),
		"name": "aks-scoring",
		"properties": {"computeType": compute_type, "resourceId": cluster_id},
	},
	"workspace": {"id": workspace_id, "name": "mlw-prod", "properties": {"containerRegistry": registry}},
	"registry_id": registry,
	"registry": null,
	"identities": [],
	"cluster_id": cluster_id,
	"cluster": cluster_doc,
}

aks(cluster_doc) := doc("AKS", registry_id, cluster_doc)

managed_identity_mode := {"aks_identity_mode": "managed_identity"}

decision(verdict, principal, scope, action) := {
	"decision": verdict,
	"principal": principal,
	"scope": scope,
	"action": action,
	"summary": sprintf("%s (mock)", [verdict]),
	"evidence": [],
	"reasons": [],
}

granted(principal, scope, action) := decision("granted", principal, scope, action)

denied(principal, scope, action) := decision("denied", principal, scope, action)

undecided(principal, scope, action) := decision("unknown", principal, scope, action)

attach_acr := {
	"description": "Grant cluster `aks-prod-mi`'s kubelet identity AcrPull on registry `mlacrprod` (az aks update --attach-acr)",
	"edit": {"kind": "aks_attach_acr", "cluster": cluster_id, "registry": registry_id},
}

test_not_applicable_to_other_compute_types if {
	r := data.amlaudit.rules.aks_service_principal.result with input as doc("AmlCompute", registry_id, null)
	r.status == "not_applicable"
	r.message == "compute `aks-scoring` is of type `AmlCompute`; only attached AKS clusters (computeType AKS) are audited"
	data.amlaudit.rules.aks_service_principal.is_aks with input as doc("Aks", registry_id, null)
}

test_unknown_when_the_workspace_is_not_in_the_snapshot if {
	r := data.amlaudit.rules.aks_service_principal.result with input as object.union(aks(service_principal_cluster), {"workspace": null})
	r.status == "unknown"
	r.message == "compute `aks-scoring`: its workspace is not in the snapshot"
}

test_unknown_when_the_compute_points_at_no_cluster if {
	r := data.amlaudit.rules.aks_service_principal.result with input as object.union(aks(null), {"cluster_id": null})
	r.status == "unknown"
	r.message == "AKS compute `aks-scoring` points at no managed cluster (properties.resourceId is empty)"
}

test_unknown_when_the_cluster_is_not_in_the_snapshot if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(null)
	r.status == "unknown"
	r.message == "AKS compute `aks-scoring` (cluster `aks-prod-mi`): the cluster is not in the snapshot, so its identity model is not known"
}

test_pass_with_a_service_principal if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(service_principal_cluster)
	r.status == "pass"
	r.message == "AKS compute `aks-scoring` (cluster `aks-prod-mi`) uses service principal 2b1522b8-a15f-49c8-98b8-413f8ef5b163"
}

# A managed-identity cluster cannot go back to a service principal, so attaching the registry
# (which grants the kubelet pull) would leave the finding open: the fix replaces the cluster.
test_fail_with_msi_in_any_case_replaces_the_cluster if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(cluster("MSI", {}))
	r.status == "fail"
	contains(r.message, "uses a managed identity; the Azure ML guidance requires a service principal")
	count(r.remediation) == 2
	every step in r.remediation {
		step.edit.kind == "manual"
	}
	r.remediation[0].edit.argv == [
		"az", "aks", "create", "--name", "<new cluster name>",
		"--resource-group", "rg-ml-prod", "--subscription", sub,
		"--service-principal", "<app id>", "--client-secret", "<client secret>",
	]
	contains(r.remediation[0].edit.text, "https://learn.microsoft.com/azure/aks/kubernetes-service-principal")
	contains(r.remediation[1].edit.text, "aks_identity_mode = \"managed_identity\"")
	r.remediation[1].edit.argv == [
		"az", "ml", "compute", "detach", "--name", "aks-scoring", "--workspace-name", "mlw-prod",
		"--resource-group", "rg-ml-prod", "--subscription", sub,
	]
	not contains(json.marshal(r.remediation), "attach-acr")
	not contains(json.marshal(r.remediation), "aks_attach_acr")
}

test_fail_with_an_identity_and_no_client_id if {
	no_profile := {
		"id": cluster_id,
		"name": "aks-prod-mi",
		"identity": {"type": "SystemAssigned"},
		"properties": {},
	}
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(no_profile)
	r.status == "fail"
}

test_fail_without_a_workspace_registry_says_to_recreate_the_cluster if {
	r := data.amlaudit.rules.aks_service_principal.result with input as doc("AKS", null, managed_identity_cluster)
	r.status == "fail"
	r.remediation[0].edit.kind == "manual"
}

test_unknown_with_neither_a_service_principal_nor_an_identity if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks({"id": cluster_id, "name": "aks-prod-mi", "properties": {}})
	r.status == "unknown"
	contains(r.message, "has neither a service principal nor a managed identity")
}

test_managed_identity_mode_passes_when_the_kubelet_identity_can_pull if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(managed_identity_cluster)
		with data.amlaudit.params as managed_identity_mode
		with data.amlaudit.lib.pull as granted
	r.status == "pass"
	r.message == "AKS compute `aks-scoring` (cluster `aks-prod-mi`): kubelet identity a9cc2ff7-4eaf-4d61-8434-d99c09ff7f0c can pull from `mlacrprod` (granted (mock))"
	r.evidence[0].principal == kubelet
	r.evidence[0].action == ["azureml/azureml_image"]
}

test_managed_identity_mode_fails_when_the_kubelet_identity_cannot_pull if {
	legacy := {"id": registry_id, "name": "mlacrprod", "properties": {"roleAssignmentMode": "LegacyRegistryPermissions"}}
	r := data.amlaudit.rules.aks_service_principal.result with input as object.union(aks(managed_identity_cluster), {"registry": legacy})
		with data.amlaudit.params as managed_identity_mode
		with data.amlaudit.lib.pull as denied
	r.status == "fail"
	r.remediation == [attach_acr]
}

# With the registry's mode unknown, --attach-acr (AcrPull) alone would not hold in ABAC mode.
test_managed_identity_mode_grants_both_roles_when_the_registry_mode_is_not_known if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(managed_identity_cluster)
		with data.amlaudit.params as managed_identity_mode
		with data.amlaudit.lib.pull as denied
	r.status == "fail"
	r.remediation[0] == attach_acr
	r.remediation[1].edit == {"kind": "role_assignment", "principal_id": kubelet, "role": "Container Registry Repository Reader", "scope": registry_id}
	count(r.remediation) == 2
}

test_managed_identity_mode_grants_repository_reader_in_abac_mode if {
	abac := {"id": registry_id, "name": "mlacrprod", "properties": {"roleAssignmentMode": "AbacRepositoryPermissions"}}
	r := data.amlaudit.rules.aks_service_principal.result with input as object.union(aks(managed_identity_cluster), {"registry": abac})
		with data.amlaudit.params as managed_identity_mode
		with data.amlaudit.lib.pull as denied
	r.status == "fail"
	r.remediation[0].edit == {"kind": "role_assignment", "principal_id": kubelet, "role": "Container Registry Repository Reader", "scope": registry_id}
}

test_managed_identity_mode_is_unknown_when_pull_is_undecided if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(managed_identity_cluster)
		with data.amlaudit.params as managed_identity_mode
		with data.amlaudit.lib.pull as undecided
	r.status == "unknown"
	contains(r.message, "pull by kubelet identity a9cc2ff7-4eaf-4d61-8434-d99c09ff7f0c on `mlacrprod` cannot be decided")
}

test_managed_identity_mode_is_unknown_without_an_identity_profile if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(cluster("msi", {"identity": {"type": "SystemAssigned"}}))
		with data.amlaudit.params as managed_identity_mode
		with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	contains(r.message, "has no kubelet identity for it (properties.identityProfile.kubeletidentity.objectId)")
}

test_managed_identity_mode_is_unknown_when_the_workspace_has_no_properties if {
	bare := object.union(aks(managed_identity_cluster), {"workspace": {"id": workspace_id, "name": "mlw-prod", "properties": null}, "registry_id": null})
	r := data.amlaudit.rules.aks_service_principal.result with input as bare with data.amlaudit.params as managed_identity_mode
	r.status == "unknown"
	contains(r.message, "workspace `mlw-prod` has no properties in the snapshot")
}

# After the switch to a managed identity the kubelet moves to its new identity only when the node
# images are upgraded, so the upgrade comes before the grant.
test_managed_identity_mode_moves_a_service_principal_cluster_in_order if {
	r := data.amlaudit.rules.aks_service_principal.result with input as aks(service_principal_cluster) with data.amlaudit.params as managed_identity_mode
	r.status == "fail"
	[step.edit.kind | some step in r.remediation] == ["aks_managed_identity", "aks_node_image_upgrade", "aks_attach_acr"]
	every step in r.remediation {
		step.edit.cluster == cluster_id
	}
	contains(r.remediation[1].description, "--node-image-only")
}

test_managed_identity_mode_is_not_applicable_without_a_workspace_registry if {
	r := data.amlaudit.rules.aks_service_principal.result with input as doc("AKS", null, managed_identity_cluster) with data.amlaudit.params as managed_identity_mode
	r.status == "not_applicable"
	r.message == "AKS compute `aks-scoring` (cluster `aks-prod-mi`): workspace `mlw-prod` has no container registry yet"
}
