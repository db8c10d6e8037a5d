# METADATA
# title: Workspaces deploying to ACI have a registry admin user
# description: >-
#   Deploying a model to Azure Container Instances from Azure ML requires the workspace registry's
#   admin user. A workspace with ACI services (or listed in the aci_workspaces parameter) whose
#   registry has the admin user disabled will fail its ACI deployments. This is the other side of
#   AML001's exception.
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

applicable if lib.deploys_to_aci(workspace, input.services)

aci_services := [s.name | some s in input.services; lower(object.get(s, ["properties", "computeType"], "")) == "aci"]

deployments := sprintf("ACI services %s", [concat(", ", [sprintf("`%s`", [s]) | some s in aci_services])]) if {
	count(aci_services) > 0
} else := "ACI deployments (aci_workspaces parameter)"

result := {
	"status": "not_applicable",
	"message": sprintf("workspace `%s` has no container registry yet; Azure ML creates it with the admin user enabled", [workspace.name]),
} if {
	input.registry_id == null
} else := {
	"status": "unknown",
	"message": sprintf("workspace `%s` deploys to ACI but its registry `%s` is not in the snapshot", [workspace.name, lib.name(input.registry_id)]),
} if {
	registry == null
} else := {
	"status": "unknown",
	"message": sprintf("workspace `%s` deploys to ACI but registry `%s` has no properties in the snapshot", [workspace.name, registry.name]),
} if {
	not is_object(registry.properties)
} else := {
	"status": "fail",
	"message": sprintf("workspace `%s` has %s but registry `%s` has the admin user disabled, so ACI deployments will fail", [workspace.name, deployments, registry.name]),
	"remediation": [lib.fix_registry_admin_user(registry.id, true, sprintf("Enable the admin user of registry `%s` for ACI deployments (or move them to managed online endpoints and keep it disabled)", [registry.name]))],
} if {
	object.get(registry.properties, "adminUserEnabled", false) == false
} else := {
	"status": "pass",
	"message": sprintf("workspace `%s` has %s and registry `%s` has the admin user they need", [workspace.name, deployments, registry.name]),
}
