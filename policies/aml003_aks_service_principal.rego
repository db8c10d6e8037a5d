# METADATA
# title: Attached AKS clusters use a service principal
# description: >-
#   Azure ML's managed-identity guidance says a bring-your-own AKS cluster attached for inference
#   must use a service principal, to which Azure ML grants AcrPull on the workspace registry. With
#   the parameter aks_identity_mode = "managed_identity" the rule instead adopts the modern model
#   (which Azure Policy and PSRule recommend for AKS in general): the cluster's kubelet identity,
#   which is what pulls images, must effectively hold pull on the workspace registry. A cluster on a
#   managed identity cannot be switched back to a service principal, so in the default mode the
#   fix is a cluster created with a service principal, attached in its place (or the parameter).
#   In managed-identity mode a cluster whose kubelet identity is not in the snapshot
#   (identityProfile) is unknown, and a service-principal cluster is moved to a managed identity,
#   its node images upgraded (the kubelet changes only then) and the registry attached.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-azure-container-registry-without-admin-user
#   - ref: https://learn.microsoft.com/azure/aks/kubernetes-service-principal
#   - ref: https://learn.microsoft.com/azure/aks/use-managed-identity
#   - ref: https://learn.microsoft.com/azure/aks/cluster-container-registry-integration
# custom:
#   id: AML003
#   name: aks-service-principal
#   severity: medium
#   resource_type: Microsoft.MachineLearningServices/workspaces/computes
#   remediation: Attach a service-principal cluster, or adopt the kubelet-identity model and attach the registry to the cluster.
#   frameworks: [MCSB IM-3]
package amlaudit.rules.aks_service_principal

import data.amlaudit.lib
import rego.v1

compute := input.resource

# The cluster as an object ({} when it is not in the snapshot), so that reading it never stops
# the rule with a type error.
cluster := input.cluster if is_object(input.cluster)

else := {}

mode := object.get(data.amlaudit.params, "aks_identity_mode", "service_principal")

compute_type := object.get(compute, ["properties", "computeType"], "")

is_aks if lib.lower_text(compute_type) == "aks"

client_id := object.get(cluster, ["properties", "servicePrincipalProfile", "clientId"], "")

uses_managed_identity if lib.lower_text(client_id) == "msi"

uses_managed_identity if {
	client_id == ""
	is_object(object.get(cluster, "identity", null))
}

uses_service_principal if {
	is_string(client_id)
	client_id != ""
	lower(client_id) != "msi"
}

kubelet := object.get(cluster, ["properties", "identityProfile", "kubeletidentity", "objectId"], "")

cluster_name := lib.name(input.cluster_id)

cluster_label := sprintf("AKS compute `%s` (cluster `%s`)", [compute.name, cluster_name])

pull := lib.pull(kubelet, input.registry_id, lib.azureml_repositories)

pull_roles := lib.pull_roles(input.registry)

# `az aks update --attach-acr` grants AcrPull, which a registry in ABAC repository mode does not
# honour; there the kubelet identity needs Container Registry Repository Reader instead. When the
# registry's mode is not known, both are granted so the fix holds in either mode.
grant_pull := array.concat(
	[lib.fix_aks_attach_acr(input.cluster_id, input.registry_id, sprintf("Grant cluster `%s`'s kubelet identity AcrPull on registry `%s` (az aks update --attach-acr)", [cluster_name, lib.name(input.registry_id)])) |
		"AcrPull" in pull_roles
	],
	[lib.fix_role_assignment(kubelet, role, input.registry_id, sprintf("Grant cluster `%s`'s kubelet identity %s on registry `%s` (in ABAC repository mode AcrPull is not honoured)", [cluster_name, role, lib.name(input.registry_id)])) |
		some role in pull_roles
		role != "AcrPull"
	],
)

result := {
	"status": "unknown",
	"message": sprintf("compute `%s`: its workspace is not in the snapshot", [compute.name]),
} if {
	input.workspace == null
} else := {
	"status": "not_applicable",
	"message": sprintf("compute `%s` is of type `%s`; only attached AKS clusters (computeType AKS) are audited", [compute.name, compute_type]),
} if {
	not is_aks
} else := {
	"status": "unknown",
	"message": sprintf("AKS compute `%s` points at no managed cluster (properties.resourceId is empty)", [compute.name]),
} if {
	input.cluster_id == null
} else := {
	"status": "unknown",
	"message": sprintf("%s: the cluster is not in the snapshot, so its identity model is not known", [cluster_label]),
} if {
	input.cluster == null
} else := result_for_mode

result_for_mode := {
	"status": "fail",
	"message": sprintf("%s uses a managed identity; the Azure ML guidance requires a service principal for attached clusters, and a managed-identity cluster cannot be switched back to one", [cluster_label]),
	"remediation": recreate_with_service_principal,
} if {
	mode == "service_principal"
	uses_managed_identity
} else := {
	"status": "pass",
	"message": sprintf("%s uses service principal %s", [cluster_label, client_id]),
} if {
	mode == "service_principal"
	uses_service_principal
} else := {
	"status": "unknown",
	"message": sprintf("%s: the cluster has neither a service principal nor a managed identity in the snapshot", [cluster_label]),
} if {
	mode == "service_principal"
} else := {
	"status": "unknown",
	"message": sprintf("%s: %s", [cluster_label, lib.no_properties("workspace", input.workspace, "which container registry its kubelet identity must pull from")]),
} if {
	not lib.has_properties(input.workspace)
} else := {
	"status": "not_applicable",
	"message": sprintf("%s: workspace `%s` has no container registry yet", [cluster_label, input.workspace.name]),
} if {
	input.registry_id == null
} else := {
	"status": "fail",
	"message": sprintf("%s uses service principal %s and has no kubelet identity; aks_identity_mode is managed_identity", [cluster_label, client_id]),
	"remediation": [
		lib.fix_aks_managed_identity(input.cluster_id, sprintf("Move cluster `%s` to a managed identity (irreversible)", [cluster_name])),
		lib.fix_aks_node_image_upgrade(input.cluster_id, sprintf("Upgrade the node images of cluster `%s` (az aks nodepool upgrade --node-image-only): the kubelet moves to its new identity only then, before which a grant does not reach it", [cluster_name])),
		lib.fix_aks_attach_acr(input.cluster_id, input.registry_id, sprintf("Then grant the new kubelet identity AcrPull on registry `%s` (az aks update --attach-acr)", [lib.name(input.registry_id)])),
	],
} if {
	uses_service_principal
} else := {
	"status": "unknown",
	"message": sprintf("%s uses a managed identity but the snapshot has no kubelet identity for it (properties.identityProfile.kubeletidentity.objectId), so who pulls images is not known", [cluster_label]),
} if {
	kubelet == ""
} else := {
	"status": "pass",
	"message": sprintf("%s: kubelet identity %s can pull from `%s` (%s)", [cluster_label, kubelet, lib.name(input.registry_id), pull.summary]),
	"evidence": [pull],
} if {
	pull.decision == "granted"
} else := {
	"status": "unknown",
	"message": sprintf("%s: pull by kubelet identity %s on `%s` cannot be decided: %s", [cluster_label, kubelet, lib.name(input.registry_id), pull.summary]),
	"evidence": [pull],
} if {
	pull.decision == "unknown"
} else := {
	"status": "fail",
	"message": sprintf("%s: kubelet identity %s has no pull on `%s`: %s", [cluster_label, kubelet, lib.name(input.registry_id), pull.summary]),
	"evidence": [pull],
	"remediation": grant_pull,
}

# What closes the finding in service-principal mode: a cluster created with a service principal,
# attached in this one's place (Azure ML then grants that service principal AcrPull on the
# workspace registry); or the parameter that adopts the managed-identity model.
recreate_with_service_principal := [
	lib.fix_manual(
		sprintf("Create an AKS cluster that uses a service principal to replace `%s` (a managed-identity cluster cannot go back to a service principal)", [cluster_name]),
		"Create a new AKS cluster with a service principal (https://learn.microsoft.com/azure/aks/kubernetes-service-principal); the app id and its secret are yours to choose.",
		["az", "aks", "create", "--name", "<new cluster name>", "--resource-group", lib.resource_group(input.cluster_id), "--subscription", lib.subscription(input.cluster_id), "--service-principal", "<app id>", "--client-secret", "<client secret>"],
	),
	lib.fix_manual(
		sprintf("Attach the new cluster to workspace `%s` in place of compute `%s`, then detach the old one", [input.workspace.name, compute.name]),
		sprintf("Attach the new cluster as an inference compute of workspace `%s` (Azure ML grants its service principal AcrPull on the workspace registry) and detach `%s`. Or, to accept managed-identity clusters, set aks_identity_mode = \"managed_identity\" in the parameters: the kubelet identity is then checked for pull instead.", [input.workspace.name, compute.name]),
		["az", "ml", "compute", "detach", "--name", compute.name, "--workspace-name", input.workspace.name, "--resource-group", lib.resource_group(compute.id), "--subscription", lib.subscription(compute.id)],
	),
]
