# METADATA
# title: Private-registry image builds hold the roles they need
# description: >-
#   When Azure ML builds an environment on a base image from a private registry, the build runs as
#   ACR Tasks in the workspace registry and authenticates through a workspace connection (category
#   ContainerRegistry or ACR) that names a user-assigned identity: authType ManagedIdentity with
#   credentials.resourceId and clientId, or the shape the guidance's v1 SDK call
#   (workspace.set_connection(..., authType="RegistryConnection", value={"ResourceId", "ClientId"}))
#   creates, where `value` holds the identity, possibly as a JSON string, in any key casing.
#   Connections that store a registry secret instead are AML009's. That needs: the connection's user-assigned
#   identity to exist with the client id the connection names; that identity to hold pull on the
#   private registry (the connection's target); and the workspace's system-assigned identity to hold
#   Managed Identity Operator on that identity: the operation Azure checks is userAssignedIdentities/assign/action.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-azure-container-registry-without-admin-user
# custom:
#   id: AML005
#   name: private-acr-image-build
#   severity: high
#   resource_type: Microsoft.MachineLearningServices/workspaces/connections
#   remediation: Grant the connection's identity AcrPull on the private registry and the workspace identity Managed Identity Operator on that identity.
#   frameworks: [MCSB IM-3, MCSB PA-7]
package amlaudit.rules.private_acr_image_build

import data.amlaudit.lib
import rego.v1

connection := input.resource

props := object.get(connection, "properties", {})

assign_action := "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"

applicable if {
	lib.registry_connection(connection)
	lib.lower_text(object.get(props, "authType", "")) in {"managedidentity", "registryconnection"}
}

# The identity the connection names, from `credentials` or a RegistryConnection's `value`.
identity_id := object.get(input, ["credential", "resource_id"], null)

client_id := object.get(input, ["credential", "client_id"], null)

uai := input.credential_identity

registry := input.target_registry

workspace := input.workspace if is_object(input.workspace)

else := {}

workspace_name := object.get(workspace, "name", lib.name(lib.parent_workspace_id(connection.id)))

workspace_principal := object.get(workspace, ["identity", "principalId"], "")

# Each check is {"state": "ok"|"missing"|"unknown", "what": ..., "fixes": [...], "evidence"?: ...};
# every check that can be missing carries its fix steps, since a `fail` must carry remediation.
checks contains {"state": "missing", "what": "the connection names no identity (no resource id in its credentials or value)", "fixes": [recreate_connection]} if {
	identity_id == null
}

checks contains {
	"state": absent_identity_state,
	"what": sprintf("identity `%s` is not in the snapshot", [lib.name(identity_id)]),
	"fixes": [lib.fix_identity_create(identity_id, sprintf("Create identity `%s` (then recreate the connection with its client id)", [lib.name(identity_id)]))],
} if {
	identity_id != null
	uai == null
}

# An identity missing from a completely read subscription does not exist; elsewhere it may.
absent_identity_state := "missing" if input.credential_identity_coverage == "complete"

else := "unknown"

checks contains {"state": "unknown", "what": sprintf("identity `%s` has no principal id in the snapshot", [uai.name])} if {
	uai != null
	object.get(uai, ["properties", "principalId"], "") == ""
}

uai_client := object.get(uai, ["properties", "clientId"], "") if uai != null

checks contains {"state": "missing", "what": sprintf("the connection's client id %s is not identity `%s`'s client id %s", [client_text, uai.name, uai_client]), "fixes": [recreate_connection]} if {
	uai != null
	lib.lower_text(uai_client) != lib.lower_text(client_id)
}

client_text := client_id if client_id != null

else := "(none)"

target := object.get(props, "target", "")

checks contains {"state": "unknown", "what": sprintf("no registry in the snapshot has login server `%s`", [target])} if {
	registry == null
}

uai_principal := object.get(uai, ["properties", "principalId"], "") if uai != null

# No repository is known for private base images: the question names none.
pull := lib.pull(uai_principal, registry.id, [])

pull_roles := lib.pull_roles(registry)

checks contains {
	"state": state_of(pull),
	"what": sprintf("identity `%s` pull on registry `%s`: %s", [uai.name, registry.name, pull.summary]),
	"evidence": pull,
	"fixes": [lib.fix_role_assignment(uai_principal, role, registry.id, sprintf("Grant identity `%s` %s on registry `%s`", [uai.name, role, registry.name])) | some role in pull_roles],
} if {
	uai != null
	uai_principal != ""
	registry != null
}

checks contains {
	"state": "missing",
	"what": sprintf("workspace `%s` has no system-assigned identity to use identity `%s`", [workspace_name, lib.name(identity_id)]),
	"fixes": [lib.fix_manual(
		sprintf("Turn on workspace `%s`'s system-assigned identity", [workspace_name]),
		"Keep UserAssigned in the identity type if the workspace has user-assigned identities.",
		["az", "resource", "update", "--ids", workspace.id, "--set", "identity.type=SystemAssigned,UserAssigned"],
	)],
} if {
	identity_id != null
	workspace_principal == ""
}

operator := lib.access(workspace_principal, identity_id, assign_action)

checks contains {
	"state": state_of(operator),
	"what": sprintf("workspace `%s` (principal %s) assign on identity `%s`: %s", [workspace_name, workspace_principal, lib.name(identity_id), operator.summary]),
	"evidence": operator,
	"fixes": [lib.fix_role_assignment(workspace_principal, "Managed Identity Operator", identity_id, sprintf("Grant workspace `%s`'s identity Managed Identity Operator on identity `%s`", [workspace_name, lib.name(identity_id)]))],
} if {
	identity_id != null
	workspace_principal != ""
}

# The connection's identity is set when it is created: recreate it naming the identity's resource
# id and client id (placeholders where the snapshot does not know them).
recreate_connection := lib.fix_connection_recreate(
	connection.id,
	target,
	recreate_identity,
	recreate_client,
	sprintf("Recreate connection `%s` with the resource id and client id of its user-assigned identity", [connection.name]),
)

recreate_identity := identity_id if identity_id != null

else := "<resource id of the user-assigned identity>"

recreate_client := uai_client if {
	uai != null
	uai_client != ""
} else := "<client id of the user-assigned identity>"

state_of(decision) := "ok" if decision.decision == "granted"

else := "unknown" if decision.decision == "unknown"

else := "missing"

failed := [c | some c in checks; c.state == "missing"]

undecided := [c | some c in checks; c.state == "unknown"]

evidence := [c.evidence | some c in checks; c.evidence]

label := sprintf("connection `%s` of workspace `%s`", [connection.name, workspace_name])

result := {
	"status": "unknown",
	"message": sprintf("%s: the workspace is not in the snapshot, so whether it may use the connection's identity is not known", [label]),
} if {
	input.workspace == null
} else := {
	"status": "fail",
	"message": sprintf("%s cannot build on its private base images: %s", [label, concat("; ", [c.what | some c in failed])]),
	"evidence": evidence,
	"remediation": [fix | some c in failed; some fix in c.fixes],
} if {
	count(failed) > 0
} else := {
	"status": "unknown",
	"message": sprintf("%s: %s", [label, concat("; ", [c.what | some c in undecided])]),
	"evidence": evidence,
} if {
	count(undecided) > 0
} else := {
	"status": "pass",
	"message": sprintf("%s: identity `%s` can pull from `%s` and the workspace may use it", [label, uai.name, registry.name]),
	"evidence": evidence,
}
