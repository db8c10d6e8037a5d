package amlaudit.rules.aci_deployments_need_admin_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

sub := "ec7ac8ad-1b2b-406b-aae1-2c972399d29d"

workspace_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-legacy/providers/Microsoft.MachineLearningServices/workspaces/mlw-aci-legacy", [sub])

registry_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-legacy/providers/Microsoft.ContainerRegistry/registries/mlacrlegacy", [sub])

aci := {"name": "legacy-aci", "properties": {"computeType": "ACI"}}

aks := {"name": "legacy-aks", "properties": {"computeType": "AKS"}}

registry(properties) := {
	"id": registry_id,
	"name": "mlacrlegacy",
	"type": "Microsoft.ContainerRegistry/registries",
	"properties": properties,
}

# The input of a workspace: the resource, its registry and its v1 services.
doc(registry_ref, registry_doc, services) := {
	"id": workspace_id,
	"name": "mlw-aci-legacy",
	"type": "Microsoft.MachineLearningServices/workspaces",
	"resource": {"id": workspace_id, "name": "mlw-aci-legacy", "properties": {"containerRegistry": registry_ref}},
	"registry_id": registry_ref,
	"registry": registry_doc,
	"services": services,
	"identities": [],
}

test_not_applicable_without_aci_deployments if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as doc(registry_id, null, [aks])
	r.status == "not_applicable"
	r.message == "workspace `mlw-aci-legacy` has no ACI service in the snapshot and is not listed in aci_workspaces"
}

# A workspace that deploys to ACI but names no registry: its ACI images live in a registry the
# snapshot does not show.
test_unknown_without_a_registry if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as doc(null, null, [aci])
	r.status == "unknown"
	r.message == "workspace `mlw-aci-legacy` has ACI services `legacy-aci` but names no container registry (properties.containerRegistry), so the registry its ACI images live in is not in the snapshot"
}

bare(services) := object.union(doc(null, null, services), {"resource": {"properties": null}})

test_unknown_when_the_workspace_has_no_properties if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as bare([aci])
	r.status == "unknown"
	contains(r.message, "has ACI services `legacy-aci`, but the workspace `mlw-aci-legacy` has no properties in the snapshot")
	s := data.amlaudit.rules.aci_deployments_need_admin.result with input as bare([])
	s.status == "unknown"
	contains(s.message, "the snapshot shows no ACI service for it either")
}

test_fail_when_the_registry_admin_user_is_disabled if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as doc(registry_id, registry({"adminUserEnabled": false}), [aci, aks])
	r.status == "fail"
	r.message == "workspace `mlw-aci-legacy` has ACI services `legacy-aci` but registry `mlacrlegacy` has the admin user disabled, so ACI deployments will fail"
	r.remediation[0].edit == {"kind": "registry_admin_user", "registry": registry_id, "enabled": true}
}

test_fail_for_a_listed_workspace if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as doc(registry_id, registry({"adminUserEnabled": false}), [])
		with data.amlaudit.params as {"aci_workspaces": ["mlw-aci-legacy"]}
	r.status == "fail"
	contains(r.message, "has ACI deployments (aci_workspaces parameter) but registry `mlacrlegacy`")
}

test_unknown_when_the_registry_does_not_say_whether_the_admin_user_is_enabled if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as doc(registry_id, registry({}), [aci])
	r.status == "unknown"
	contains(r.message, "properties.adminUserEnabled is missing")
}

test_pass_when_the_admin_user_is_enabled if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as doc(registry_id, registry({"adminUserEnabled": true}), [aci])
	r.status == "pass"
	r.message == "workspace `mlw-aci-legacy` has ACI services `legacy-aci` and registry `mlacrlegacy` has the admin user they need"
}

test_unknown_when_the_registry_is_not_in_the_snapshot if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as doc(registry_id, null, [aci])
	r.status == "unknown"
	r.message == "workspace `mlw-aci-legacy` deploys to ACI but its registry `mlacrlegacy` is not in the snapshot"
}

test_unknown_when_the_registry_has_no_properties if {
	r := data.amlaudit.rules.aci_deployments_need_admin.result with input as doc(registry_id, {"id": registry_id, "name": "mlacrlegacy"}, [aci])
	r.status == "unknown"
	contains(r.message, "has no properties in the snapshot")
}
