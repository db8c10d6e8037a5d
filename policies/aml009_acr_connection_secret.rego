# METADATA
# title: Azure container registry connections use an identity, not a secret
# description: >-
#   A workspace connection to a container registry (category ContainerRegistry or ACR) whose auth
#   type is neither ManagedIdentity nor RegistryConnection (the v1 SDK's identity shape) stores a
#   registry secret (a username and password or an access token). For an Azure container
#   registry (a login server under azurecr.io, azurecr.cn or azurecr.us) a user-assigned identity
#   with pull would do, so the secret is a credential that need not exist. Registries outside
#   Azure (Docker Hub and the like) are not applicable. Identity-based connections are AML005's.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-azure-container-registry-without-admin-user
# custom:
#   id: AML009
#   name: acr-connection-secret
#   severity: medium
#   resource_type: Microsoft.MachineLearningServices/workspaces/connections
#   remediation: Recreate the connection with a user-assigned identity that holds pull on the registry.
#   frameworks: [MCSB IM-1, MCSB IM-3]
package amlaudit.rules.acr_connection_secret

import data.amlaudit.lib
import rego.v1

connection := input.resource

auth_type := object.get(connection, ["properties", "authType"], "")

applicable if {
	lib.registry_connection(connection)
	not lib.lower_text(auth_type) in {"managedidentity", "registryconnection"}
}

target := object.get(connection, ["properties", "target"], "")

host := lib.login_server_host(target)

azure_registry if {
	some suffix in [".azurecr.io", ".azurecr.cn", ".azurecr.us"]
	endswith(host, suffix)
}

workspace_name := input.workspace.name if is_object(input.workspace)

else := lib.name(lib.parent_workspace_id(connection.id))

label := sprintf("connection `%s` of workspace `%s`", [connection.name, workspace_name])

auth_text := auth_type if {
	is_string(auth_type)
	auth_type != ""
} else := "(none)"

result := {
	"status": "unknown",
	"message": sprintf("%s: the workspace is not in the snapshot", [label]),
} if {
	input.workspace == null
} else := {
	"status": "not_applicable",
	"message": sprintf("%s (auth type %s) points at `%s`, which is not an Azure container registry", [label, auth_text, host]),
} if {
	not azure_registry
} else := {
	"status": "fail",
	"message": sprintf("%s stores a registry secret (auth type %s) for Azure container registry `%s`, where a managed identity would do", [label, auth_text, host]),
	# Which identity should hold pull is a choice only a person can make, so the step is manual:
	# the identity's ids are placeholders (a typed connection_recreate edit needs real ARM ids).
	"remediation": [lib.fix_manual(
		sprintf("Recreate connection `%s` with a user-assigned identity (authType ManagedIdentity) instead of its secret", [connection.name]),
		sprintf("Pick or create a user-assigned identity that holds pull on %s, then recreate the connection with category ContainerRegistry, target %s and authType ManagedIdentity, naming the identity's resource id and client id (YAML: name: %s, type: container_registry, target: %s, credentials: {type: managed_identity, resource_id: <identity resource id>, client_id: <identity client id>})", [host, target, connection.name, target]),
		array.concat(["az", "ml", "connection", "create", "--file", "<connection.yml>", "--workspace-name", input.workspace.name], lib.target_args(connection.id)),
	)],
}
