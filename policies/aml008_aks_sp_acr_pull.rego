# METADATA
# title: Attached service-principal AKS clusters can pull from the workspace registry
# description: >-
#   When an AKS cluster that uses a service principal is attached to a workspace for inference,
#   Azure ML grants that service principal AcrPull on the workspace registry. Drift (a removed
#   assignment, a registry moved to ABAC repository mode) takes the pull away and deployments
#   fail to start. For every AKS compute whose cluster uses a service principal
#   (servicePrincipalProfile.clientId is an app id, not "msi"), the service principal's object id
#   (resolved from the app id through Microsoft Graph into the snapshot's directory section) must
#   effectively hold pull on the workspace registry, as the permission engine decides it in the
#   registry's permission mode. Unknown when the object id, the cluster or the workspace's
#   properties are not in the snapshot; not applicable to other computes, to managed-identity
#   clusters (AML003) and to workspaces without a registry.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-azure-container-registry-without-admin-user
# custom:
#   id: AML008
#   name: aks-sp-acr-pull
#   severity: medium
#   resource_type: Microsoft.MachineLearningServices/workspaces/computes
#   remediation: Grant the cluster's service principal AcrPull (Container Registry Repository Reader in ABAC mode) on the workspace registry.
#   frameworks: [MCSB IM-3, MCSB PA-7]
package amlaudit.rules.aks_sp_acr_pull

import data.amlaudit.lib
import rego.v1

compute := input.resource

compute_type := object.get(compute, ["properties", "computeType"], "")

app_id := object.get(input, "service_principal_app_id", null)

object_id := object.get(input, "service_principal_object_id", null)

client_id := object.get(input.cluster, ["properties", "servicePrincipalProfile", "clientId"], "") if is_object(input.cluster)

managed_identity_cluster if lib.lower_text(client_id) == "msi"

managed_identity_cluster if {
	client_id == ""
	is_object(object.get(input.cluster, "identity", null))
}

cluster_name := lib.name(input.cluster_id)

label := sprintf("AKS compute `%s` (cluster `%s`, service principal %s)", [compute.name, cluster_name, app_id])

pull := lib.pull(object_id, input.registry_id, lib.azureml_repositories)

pull_roles := lib.pull_roles(input.registry)

result := {
	"status": "unknown",
	"message": sprintf("compute `%s`: its workspace is not in the snapshot", [compute.name]),
} if {
	input.workspace == null
} else := {
	"status": "not_applicable",
	"message": sprintf("compute `%s` is of type `%s`; only attached AKS clusters (computeType AKS) are audited", [compute.name, compute_type]),
} if {
	lib.lower_text(compute_type) != "aks"
} else := {
	"status": "unknown",
	"message": sprintf("AKS compute `%s` points at no managed cluster (properties.resourceId is empty)", [compute.name]),
} if {
	input.cluster_id == null
} else := {
	"status": "unknown",
	"message": sprintf("AKS compute `%s`: cluster `%s` is not in the snapshot, so whether it uses a service principal is not known", [compute.name, cluster_name]),
} if {
	input.cluster == null
} else := {
	"status": "not_applicable",
	"message": sprintf("AKS compute `%s`: cluster `%s` uses a managed identity, not a service principal (AML003 covers it)", [compute.name, cluster_name]),
} if {
	managed_identity_cluster
} else := {
	"status": "unknown",
	"message": sprintf("AKS compute `%s`: cluster `%s` has no service principal in the snapshot (servicePrincipalProfile.clientId)", [compute.name, cluster_name]),
} if {
	app_id == null
} else := {
	"status": "unknown",
	"message": sprintf("%s: %s", [label, lib.no_properties("workspace", input.workspace, "which container registry it uses")]),
} if {
	not lib.has_properties(input.workspace)
} else := {
	"status": "not_applicable",
	"message": sprintf("%s: workspace `%s` has no container registry yet", [label, input.workspace.name]),
} if {
	input.registry_id == null
} else := {
	"status": "unknown",
	"message": sprintf("%s: the object id of app id %s is not in the snapshot (directory.service_principals; collect resolves it through Microsoft Graph), so its pull cannot be decided", [label, app_id]),
} if {
	object_id == null
} else := {
	"status": "pass",
	"message": sprintf("%s (object id %s) can pull from `%s`", [label, object_id, lib.name(input.registry_id)]),
	"evidence": [pull],
} if {
	pull.decision == "granted"
} else := {
	"status": "unknown",
	"message": sprintf("%s (object id %s): pull on `%s` cannot be decided: %s", [label, object_id, lib.name(input.registry_id), pull.summary]),
	"evidence": [pull],
} if {
	pull.decision == "unknown"
} else := {
	"status": "fail",
	"message": sprintf("%s (object id %s) has no pull on `%s`, which Azure ML granted when the cluster was attached: %s", [label, object_id, lib.name(input.registry_id), pull.summary]),
	"evidence": [pull],
	"remediation": [lib.fix_role_assignment(object_id, role, input.registry_id, sprintf("Grant the service principal of cluster `%s` %s on registry `%s`", [cluster_name, role, lib.name(input.registry_id)])) | some role in pull_roles],
}
