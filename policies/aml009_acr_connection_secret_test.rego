package amlaudit.rules.acr_connection_secret_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

workspace_id := "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c/resourceGroups/rg-ml-build/providers/Microsoft.MachineLearningServices/workspaces/mlw-build"

connection_id := sprintf("%s/connections/vendor-images", [workspace_id])

doc(properties) := {
	"id": connection_id,
	"name": "vendor-images",
	"type": "Microsoft.MachineLearningServices/workspaces/connections",
	"resource": {"id": connection_id, "name": "vendor-images", "properties": properties},
	"workspace": {"id": workspace_id, "name": "mlw-build"},
	"credential": {"resource_id": null, "client_id": null},
	"credential_identity": null,
	"target_registry": null,
}

connection(auth, target) := doc({"category": "ContainerRegistry", "authType": auth, "target": target})

test_applies_only_to_registry_connections_with_a_secret if {
	data.amlaudit.rules.acr_connection_secret.applicable with input as connection("UsernamePassword", "vendor.azurecr.io")
	data.amlaudit.rules.acr_connection_secret.applicable with input as doc({"category": "ACR", "target": "vendor.azurecr.io"})
	not data.amlaudit.rules.acr_connection_secret.applicable with input as connection("ManagedIdentity", "vendor.azurecr.io")
	not data.amlaudit.rules.acr_connection_secret.applicable with input as connection("registryconnection", "vendor.azurecr.io")
	not data.amlaudit.rules.acr_connection_secret.applicable with input as doc({"category": "Git", "authType": "PAT"})
}

test_fail_for_an_azure_registry if {
	every target in ["https://vendor.azurecr.io/", "VENDOR.AZURECR.CN", "vendor.azurecr.us"] {
		r := data.amlaudit.rules.acr_connection_secret.result with input as connection("UsernamePassword", target)
		r.status == "fail"
	}
	r := data.amlaudit.rules.acr_connection_secret.result with input as connection("UsernamePassword", "https://vendor.azurecr.io")
	r.message == "connection `vendor-images` of workspace `mlw-build` stores a registry secret (auth type UsernamePassword) for Azure container registry `vendor.azurecr.io`, where a managed identity would do"
	r.remediation[0].edit.kind == "manual"
	contains(r.remediation[0].edit.text, "target https://vendor.azurecr.io")
	"<connection.yml>" in r.remediation[0].edit.argv
}

test_not_applicable_for_other_registries if {
	r := data.amlaudit.rules.acr_connection_secret.result with input as connection("UsernamePassword", "https://index.docker.io/v1/")
	r.status == "not_applicable"
	r.message == "connection `vendor-images` of workspace `mlw-build` (auth type UsernamePassword) points at `index.docker.io`, which is not an Azure container registry"
	s := data.amlaudit.rules.acr_connection_secret.result with input as connection("PAT", "evil.azurecr.io.example.com")
	s.status == "not_applicable"
}

test_unknown_for_an_orphan_connection if {
	orphan := object.union(doc({"category": "ACR"}), {"workspace": null})
	r := data.amlaudit.rules.acr_connection_secret.result with input as orphan
	r.status == "unknown"
	r.message == "connection `vendor-images` of workspace `mlw-build`: the workspace is not in the snapshot"
	s := data.amlaudit.rules.acr_connection_secret.result with input as object.union(doc({"category": "ACR", "target": "x.azurecr.io"}), {"workspace": {"name": "mlw-build"}})
	s.status == "fail"
	contains(s.message, "auth type (none)")
}
