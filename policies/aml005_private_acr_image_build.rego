# METADATA
# title: Private-registry image builds hold the roles they need
# description: >-
#   When Azure ML builds an environment on a base image from a private registry, the build runs as
#   ACR Tasks in the workspace registry and authenticates through a workspace connection (category
#   ContainerRegistry or ACR, authType ManagedIdentity). That needs: the connection's user-assigned
#   identity to exist with the client id the connection names; that identity to hold pull on the
#   private registry (the connection's target); and the workspace's system-assigned identity to hold
#   Managed Identity Operator (userAssignedIdentities/*/assign/action) on that identity.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-use-azure-container-registry-without-admin-user
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

assign_action := "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action"

applicable if {
	lower(object.get(props, "category", "")) in {"containerregistry", "acr"}
	lower(object.get(props, "authType", "")) == "managedidentity"
}

identity_id := object.get(props, ["credentials", "resourceId"], "")

client_id := object.get(props, ["credentials", "clientId"], "")

uai := input.credential_identity

registry := input.target_registry

workspace_principal := object.get(input.workspace, ["identity", "principalId"], "")

# Each check is {"state": "ok"|"missing"|"unknown", "what": ..., "fix": ..., "evidence"?: ...};
# every check that can be missing carries a fix, since a `fail` must carry remediation.
checks contains {"state": "missing", "what": "the connection names no identity (credentials.resourceId is empty)", "fix": recreate_connection} if {
	identity_id == ""
}

checks contains {
	"state": absent_identity_state,
	"what": sprintf("identity `%s` is not in the snapshot", [lib.name(identity_id)]),
	"fix": lib.fix_identity_create(identity_id, sprintf("Create identity `%s` (then recreate the connection with its client id)", [lib.name(identity_id)])),
} if {
	identity_id != ""
	uai == null
}

# An identity missing from a completely read subscription does not exist; elsewhere it may.
absent_identity_state := "missing" if input.credential_identity_coverage == "complete"

else := "unknown"

checks contains {"state": "unknown", "what": sprintf("identity `%s` has no principal id in the snapshot", [uai.name])} if {
	uai != null
	object.get(uai, ["properties", "principalId"], "") == ""
}

checks contains {"state": "missing", "what": sprintf("the connection's client id %s is not identity `%s`'s client id %s", [client_id, uai.name, uai_client]), "fix": recreate_connection} if {
	uai != null
	uai_client := object.get(uai, ["properties", "clientId"], "")
	lower(uai_client) != lower(client_id)
}

checks contains {"state": "unknown", "what": sprintf("no registry in the snapshot has login server `%s`", [object.get(props, "target", "")])} if {
	registry == null
}

pull := lib.access(uai.properties.principalId, registry.id, lib.pull_action)

checks contains {
	"state": state_of(pull),
	"what": sprintf("identity `%s` pull on registry `%s`: %s", [uai.name, registry.name, pull.summary]),
	"evidence": pull,
	"fix": lib.grant(uai.properties.principalId, "AcrPull", registry.id, sprintf("Grant identity `%s` AcrPull on registry `%s`", [uai.name, registry.name])),
} if {
	uai != null
	registry != null
}

checks contains {
	"state": "missing",
	"what": sprintf("workspace `%s` has no system-assigned identity to use identity `%s`", [input.workspace.name, lib.name(identity_id)]),
	"fix": lib.fix_manual(
		sprintf("Turn on workspace `%s`'s system-assigned identity", [input.workspace.name]),
		"Keep UserAssigned in the type if the workspace has user-assigned identities.",
		["az", "resource", "update", "--ids", input.workspace.id, "--set", "identity.type=SystemAssigned,UserAssigned"],
	),
} if {
	identity_id != ""
	workspace_principal == ""
}

operator := lib.access(workspace_principal, identity_id, assign_action)

checks contains {
	"state": state_of(operator),
	"what": sprintf("workspace `%s` (principal %s) assign on identity `%s`: %s", [input.workspace.name, workspace_principal, lib.name(identity_id), operator.summary]),
	"evidence": operator,
	"fix": lib.grant(workspace_principal, "Managed Identity Operator", identity_id, sprintf("Grant workspace `%s`'s identity Managed Identity Operator on identity `%s`", [input.workspace.name, lib.name(identity_id)])),
} if {
	identity_id != ""
	workspace_principal != ""
}

# The connection's identity is set when it is created, from a YAML file that names the identity's
# client id and resource id.
recreate_connection := lib.fix_manual(
	sprintf("Recreate connection `%s` with the client id and resource id of its user-assigned identity", [connection.name]),
	"Write the connection's YAML with the identity's client id and resource id, then create it again.",
	array.concat(
		["az", "ml", "connection", "create", "--file", "<connection.yml>", "--workspace-name", input.workspace.name],
		lib.target_args(connection.id),
	),
)

state_of(decision) := "ok" if decision.decision == "granted"

else := "unknown" if decision.decision == "unknown"

else := "missing"

failed := [c | some c in checks; c.state == "missing"]

undecided := [c | some c in checks; c.state == "unknown"]

evidence := [c.evidence | some c in checks; c.evidence]

label := sprintf("connection `%s` of workspace `%s`", [connection.name, input.workspace.name])

result := {
	"status": "fail",
	"message": sprintf("%s cannot build on its private base images: %s", [label, concat("; ", [c.what | some c in failed])]),
	"evidence": evidence,
	"remediation": [c.fix | some c in failed],
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
