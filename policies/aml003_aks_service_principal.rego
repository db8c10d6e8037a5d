# METADATA
# title: Attached AKS clusters use a service principal
# description: >-
#   Azure ML's managed-identity guidance says a bring-your-own AKS cluster attached for inference
#   must use a service principal, to which Azure ML grants AcrPull on the workspace registry. With
#   the parameter aks_identity_mode = "managed_identity" the rule instead adopts the modern model
#   (which Azure Policy and PSRule recommend for AKS in general): the cluster's kubelet identity,
#   which is what pulls images, must effectively hold pull on the workspace registry.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-use-azure-container-registry-without-admin-user
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

cluster := input.cluster

mode := object.get(data.amlaudit.params, "aks_identity_mode", "service_principal")

applicable if lower(object.get(compute, ["properties", "computeType"], "")) == "aks"

client_id := object.get(cluster, ["properties", "servicePrincipalProfile", "clientId"], "")

uses_managed_identity if lower(client_id) == "msi"

uses_managed_identity if {
	client_id == ""
	is_object(cluster.identity)
}

uses_service_principal if {
	client_id != ""
	lower(client_id) != "msi"
}

kubelet := object.get(cluster, ["properties", "identityProfile", "kubeletidentity", "objectId"], "")

attach_acr := lib.fix_aks_attach_acr(cluster.id, input.registry_id, sprintf("Grant cluster `%s`'s kubelet identity AcrPull on registry `%s`", [cluster.name, lib.name(input.registry_id)]))

cluster_label := sprintf("AKS compute `%s` (cluster `%s`)", [compute.name, lib.name(input.cluster_id)])

pull := lib.access(kubelet, input.registry_id, lib.pull_action)

result := {
	"status": "unknown",
	"message": sprintf("AKS compute `%s` points at no managed cluster (properties.resourceId is empty)", [compute.name]),
} if {
	input.cluster_id == null
} else := {
	"status": "unknown",
	"message": sprintf("%s: the cluster is not in the snapshot, so its identity model is not known", [cluster_label]),
} if {
	cluster == null
} else := result_for_mode

result_for_mode := {
	"status": "fail",
	"message": sprintf("%s uses a managed identity; the Azure ML guidance requires a service principal for attached clusters", [cluster_label]),
	"remediation": [recreate_with_service_principal],
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
	"status": "not_applicable",
	"message": sprintf("%s: workspace `%s` has no container registry yet", [cluster_label, input.workspace.name]),
} if {
	input.registry_id == null
} else := {
	"status": "fail",
	"message": sprintf("%s uses a service principal and has no kubelet identity; aks_identity_mode is managed_identity", [cluster_label]),
	"remediation": [
		lib.fix_aks_managed_identity(cluster.id, sprintf("Move cluster `%s` to managed identities", [cluster.name])),
		attach_acr,
		lib.fix_aks_node_image_upgrade(cluster.id, sprintf("Upgrade cluster `%s`'s node images, so that the kubelet uses its new identity", [cluster.name])),
	],
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
	"remediation": [attach_acr],
}

# A cluster on a managed identity cannot go back to a service principal: granting its kubelet pull
# would not make it one, so the fix is to recreate the cluster (or to change the parameter).
recreate_with_service_principal := lib.fix_manual(
	sprintf("Recreate cluster `%s` with a service principal and attach it again, or set aks_identity_mode = \"managed_identity\"", [cluster.name]),
	"A cluster on a managed identity cannot be moved back to a service principal: create a cluster with az aks create --service-principal, detach this one, and attach the new one.",
	["az", "ml", "compute", "detach", "--name", compute.name, "--workspace-name", input.workspace.name, "--resource-group", lib.resource_group(compute.id), "--subscription", lib.subscription(compute.id)],
)
