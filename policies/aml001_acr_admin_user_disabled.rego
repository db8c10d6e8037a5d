# METADATA
# title: ACR admin user disabled
# description: >-
#   A container registry's admin user is a shared username and password with push and pull rights
#   on every repository. Azure ML workspaces and computes should reach their registry with managed
#   identities, so the admin user should be disabled. Exception: deploying models to Azure Container
#   Instances (ACI) from Azure ML requires the admin user, so a registry used by a workspace that
#   deploys to ACI (a v1 service of compute type ACI, or listed in the aci_workspaces parameter)
#   passes, and the result names that workspace. A registry that does not say whether its admin
#   user is enabled (properties absent, or adminUserEnabled missing) is unknown, and so is an
#   enabled one while some workspace that deploys to ACI has no properties in the snapshot: which
#   registry that workspace uses is not known, so the exception cannot be ruled out.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication
#   - ref: https://learn.microsoft.com/azure/container-registry/container-registry-authentication#admin-account
# custom:
#   id: AML001
#   name: acr-admin-user-disabled
#   severity: high
#   resource_type: Microsoft.ContainerRegistry/registries
#   remediation: Disable the registry's admin user; workspaces and computes pull with their managed identities.
#   frameworks: [CIS Azure 9.x (ACR admin), MCSB IM-1]
package amlaudit.rules.acr_admin_user_disabled

import data.amlaudit.lib
import rego.v1

registry := input.resource

# Workspaces on this registry that deploy to ACI, which needs the admin user.
aci_workspaces contains entry.workspace.name if {
	some entry in input.workspaces
	lib.deploys_to_aci(entry.workspace, entry.services)
}

# Workspaces that deploy to ACI but whose properties the snapshot lacks: they may use this
# registry, so the ACI exception cannot be ruled out.
possible_aci_workspaces contains entry.workspace.name if {
	some entry in object.get(input, "workspaces_without_properties", [])
	lib.deploys_to_aci(entry.workspace, entry.services)
}

admin_user := object.get(registry, ["properties", "adminUserEnabled"], null)

result := {
	"status": "unknown",
	"message": lib.no_properties("registry", registry, "whether its admin user is enabled"),
} if {
	not lib.has_properties(registry)
} else := {
	"status": "unknown",
	"message": sprintf("registry `%s` does not say whether its admin user is enabled (properties.adminUserEnabled is missing)", [registry.name]),
} if {
	not is_boolean(admin_user)
} else := {
	"status": "pass",
	"message": sprintf("registry `%s` has the admin user disabled", [registry.name]),
} if {
	admin_user == false
} else := {
	"status": "pass",
	"message": sprintf(
		"registry `%s` has the admin user enabled, as ACI deployments from workspace %s require",
		[registry.name, concat(", ", [sprintf("`%s`", [w]) | some w in aci_workspaces])],
	),
} if {
	count(aci_workspaces) > 0
} else := {
	"status": "unknown",
	"message": sprintf(
		"registry `%s` has the admin user enabled; workspace %s deploys to ACI (which needs the admin user of its registry) but has no properties in the snapshot, so whether it uses this registry is not known",
		[registry.name, concat(", ", sort([sprintf("`%s`", [w]) | some w in possible_aci_workspaces]))],
	),
} if {
	count(possible_aci_workspaces) > 0
} else := {
	"status": "fail",
	"message": sprintf("registry `%s` has the admin user enabled and no workspace using it deploys to ACI", [registry.name]),
	"remediation": [lib.fix_registry_admin_user(registry.id, false, sprintf("Disable the admin user of registry `%s`", [registry.name]))],
}
