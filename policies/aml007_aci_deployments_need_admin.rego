# METADATA
# title: Workspaces deploying to ACI have a registry admin user
# description: >-
#   Deploying a model to Azure Container Instances from Azure ML requires the workspace registry's
#   admin user. A workspace with ACI services (or listed in the aci_workspaces parameter) whose
#   registry has the admin user disabled will fail its ACI deployments. This is the other side of
#   AML001's exception. A workspace that deploys to ACI but names no registry, or whose registry
#   does not say whether its admin user is enabled, is unknown; a workspace that does not deploy
#   to ACI is not applicable.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-azure-container-registry-without-admin-user
# custom:
#   id: AML007
#   name: aci-deployments-need-admin
#   severity: medium
#   resource_type: Microsoft.MachineLearningServices/workspaces
#   remediation: Enable the registry admin user for ACI, or move the deployments to managed online endpoints.
#   frameworks: [Availability]
package amlaudit.rules.aci_deployments_need_admin

import data.amlaudit.lib
import rego.v1

workspace := input.resource

registry := input.registry

deploys if lib.deploys_to_aci(workspace, input.services)

aci_services := [s.name | some s in input.services; lib.lower_text(object.get(s, ["properties", "computeType"], "")) == "aci"]

deployments := sprintf("ACI services %s", [concat(", ", [sprintf("`%s`", [s]) | some s in aci_services])]) if {
	count(aci_services) > 0
} else := "ACI deployments (aci_workspaces parameter)"

admin_user := object.get(registry, ["properties", "adminUserEnabled"], null)

result := {
	"status": "unknown",
	"message": sprintf("%s; the snapshot shows no ACI service for it either", [lib.no_properties("workspace", workspace, "which registry ACI deployments would use and whether it has the admin user they need")]),
} if {
	not deploys
	not lib.has_properties(workspace)
} else := {
	"status": "not_applicable",
	"message": sprintf("workspace `%s` has no ACI service in the snapshot and is not listed in aci_workspaces", [workspace.name]),
} if {
	not deploys
} else := {
	"status": "unknown",
	"message": sprintf("workspace `%s` has %s, but %s", [workspace.name, deployments, lib.no_properties("the workspace", workspace, "which registry they use")]),
} if {
	not lib.has_properties(workspace)
} else := {
	"status": "unknown",
	"message": sprintf("workspace `%s` has %s but names no container registry (properties.containerRegistry), so the registry its ACI images live in is not in the snapshot", [workspace.name, deployments]),
} if {
	input.registry_id == null
} else := {
	"status": "unknown",
	"message": sprintf("workspace `%s` deploys to ACI but its registry `%s` is not in the snapshot", [workspace.name, lib.name(input.registry_id)]),
} if {
	registry == null
} else := {
	"status": "unknown",
	"message": sprintf("workspace `%s` deploys to ACI but %s", [workspace.name, lib.no_properties("registry", registry, "whether its admin user is enabled")]),
} if {
	not lib.has_properties(registry)
} else := {
	"status": "unknown",
	"message": sprintf("workspace `%s` deploys to ACI but registry `%s` does not say whether its admin user is enabled (properties.adminUserEnabled is missing)", [workspace.name, registry.name]),
} if {
	not is_boolean(admin_user)
} else := {
	"status": "fail",
	"message": sprintf("workspace `%s` has %s but registry `%s` has the admin user disabled, so ACI deployments will fail", [workspace.name, deployments, registry.name]),
	"remediation": [lib.fix_registry_admin_user(registry.id, true, sprintf("Enable the admin user of registry `%s` for ACI deployments (or move them to managed online endpoints and keep it disabled)", [registry.name]))],
} if {
	admin_user == false
} else := {
	"status": "pass",
	"message": sprintf("workspace `%s` has %s and registry `%s` has the admin user they need", [workspace.name, deployments, registry.name]),
}
