package amlaudit.rules.acr_admin_user_disabled_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

# AML001 judges every registry, so it has no not_applicable path.

registry_id := "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.ContainerRegistry/registries/mlacrsandbox"

registry(properties) := {
	"id": registry_id,
	"name": "mlacrsandbox",
	"type": "Microsoft.ContainerRegistry/registries",
	"properties": properties,
}

workspace(name) := {
	"id": sprintf("/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.MachineLearningServices/workspaces/%s", [name]),
	"name": name,
	"type": "Microsoft.MachineLearningServices/workspaces",
	"properties": {"containerRegistry": registry_id},
}

aci_service := {"name": "score-aci", "properties": {"computeType": "ACI"}}

aks_service := {"name": "score-aks", "properties": {"computeType": "AKS"}}

# The input of a registry: the resource and the workspaces that use it, with their services.
doc(properties, workspaces) := {
	"id": registry_id,
	"name": "mlacrsandbox",
	"type": "Microsoft.ContainerRegistry/registries",
	"resource": registry(properties),
	"workspaces": workspaces,
}

test_pass_when_admin_user_disabled if {
	r := data.amlaudit.rules.acr_admin_user_disabled.result with input as doc({"adminUserEnabled": false}, [{"workspace": workspace("mlw-sandbox"), "services": []}])
	r.status == "pass"
	r.message == "registry `mlacrsandbox` has the admin user disabled"
}

test_unknown_when_admin_user_absent if {
	r := data.amlaudit.rules.acr_admin_user_disabled.result with input as doc({"loginServer": "mlacrsandbox.azurecr.io"}, [])
	r.status == "unknown"
	r.message == "registry `mlacrsandbox` does not say whether its admin user is enabled (properties.adminUserEnabled is missing)"
}

# A workspace that deploys to ACI but has no properties may use this registry: the ACI exception
# cannot be ruled out.
test_unknown_when_an_aci_workspace_without_properties_may_use_the_registry if {
	bare := {"id": workspace("mlw-legacy").id, "name": "mlw-legacy", "properties": null}
	input_doc := object.union(doc({"adminUserEnabled": true}, [{"workspace": workspace("mlw-sandbox"), "services": []}]), {"workspaces_without_properties": [
		{"workspace": bare, "services": [aci_service]},
		{"workspace": {"id": "x", "name": "mlw-quiet", "properties": null}, "services": [aks_service]},
	]})
	r := data.amlaudit.rules.acr_admin_user_disabled.result with input as input_doc
	r.status == "unknown"
	contains(r.message, "workspace `mlw-legacy` deploys to ACI")
	not contains(r.message, "mlw-quiet")
}

test_fail_when_workspaces_without_properties_do_not_deploy_to_aci if {
	input_doc := object.union(doc({"adminUserEnabled": true}, []), {"workspaces_without_properties": [{"workspace": {"id": "x", "name": "mlw-quiet", "properties": null}, "services": []}]})
	r := data.amlaudit.rules.acr_admin_user_disabled.result with input as input_doc
	r.status == "fail"
}

test_pass_when_a_workspace_deploys_to_aci if {
	input_doc := doc({"adminUserEnabled": true}, [
		{"workspace": workspace("mlw-dev"), "services": [aks_service, aci_service]},
		{"workspace": workspace("mlw-dev-cmk"), "services": []},
	])
	r := data.amlaudit.rules.acr_admin_user_disabled.result with input as input_doc
	r.status == "pass"
	contains(r.message, "as ACI deployments from workspace `mlw-dev` require")
	not contains(r.message, "mlw-dev-cmk")
}

test_pass_when_a_workspace_is_listed_in_aci_workspaces if {
	r := data.amlaudit.rules.acr_admin_user_disabled.result with input as doc({"adminUserEnabled": true}, [{"workspace": workspace("mlw-sandbox"), "services": []}])
		with data.amlaudit.params as {"aci_workspaces": ["mlw-sandbox"]}
	r.status == "pass"
	contains(r.message, "`mlw-sandbox`")
}

test_fail_when_admin_user_enabled_without_aci if {
	r := data.amlaudit.rules.acr_admin_user_disabled.result with input as doc({"adminUserEnabled": true}, [{"workspace": workspace("mlw-sandbox"), "services": [aks_service]}])
	r.status == "fail"
	r.message == "registry `mlacrsandbox` has the admin user enabled and no workspace using it deploys to ACI"
	r.remediation == [{
		"description": "Disable the admin user of registry `mlacrsandbox`",
		"edit": {"kind": "registry_admin_user", "registry": registry_id, "enabled": false},
	}]
}

test_unknown_when_the_registry_has_no_properties if {
	input_doc := {
		"id": registry_id,
		"name": "mlacrsandbox",
		"resource": {"id": registry_id, "name": "mlacrsandbox", "properties": null},
		"workspaces": [],
	}
	r := data.amlaudit.rules.acr_admin_user_disabled.result with input as input_doc
	r.status == "unknown"
	contains(r.message, "has no properties in the snapshot")
}
