# METADATA
# title: Workspace user-assigned identities hold their dependency roles
# description: >-
#   A workspace that reaches its associated resources with a user-assigned identity
#   (properties.primaryUserAssignedIdentity) needs that identity to be attached to the workspace and
#   to hold what Microsoft's dependency role-assignment template grants: write on the container
#   registry (Contributor), write on the storage account (Contributor) and blob write (Storage Blob
#   Data Contributor), and secret reads on the key vault (Key Vault Administrator through RBAC).
#   Checked on effective permissions, not role names.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#user-assigned-managed-identity
# custom:
#   id: AML006
#   name: workspace-identity-dependency-roles
#   severity: medium
#   resource_type: Microsoft.MachineLearningServices/workspaces
#   remediation: Grant the workspace identity the roles of Microsoft's dependency role-assignment template.
#   frameworks: [MCSB IM-3, MCSB PA-7]
package amlaudit.rules.workspace_identity_dependency_roles

import data.amlaudit.lib
import rego.v1

workspace := input.resource

primary := object.get(workspace, ["properties", "primaryUserAssignedIdentity"], "")

applicable if {
	is_string(primary)
	primary != ""
}

attached if {
	some id, _ in object.get(workspace, ["identity", "userAssignedIdentities"], {})
	lib.same_id(id, primary)
}

# The principal comes from the workspace's identity entry, else from the identity resource.
principal := p if {
	some identity in input.identities
	identity.resource_id != null
	lib.same_id(identity.resource_id, primary)
	p := identity.principal_id
	p != null
}

storage := object.get(workspace, ["properties", "storageAccount"], "")

key_vault := object.get(workspace, ["properties", "keyVault"], "")

# The checks of the dependency template: [scope, action, data?, role to grant, what].
requirements contains ["registry", input.registry_id, "Microsoft.ContainerRegistry/registries/write", false, "Contributor"] if input.registry_id != null

requirements contains ["storage", storage, "Microsoft.Storage/storageAccounts/write", false, "Contributor"] if storage != ""

requirements contains ["storage", storage, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", true, "Storage Blob Data Contributor"] if storage != ""

requirements contains ["key vault", key_vault, "Microsoft.KeyVault/vaults/secrets/getSecret/action", true, "Key Vault Administrator"] if key_vault != ""

check(req) := lib.data_access(principal, req[1], req[2]) if req[3]

else := lib.access(principal, req[1], req[2])

outcomes := [{"req": req, "decision": check(req)} | some req in requirements]

denied := [o | some o in outcomes; o.decision.decision == "denied"]

undecided := [o | some o in outcomes; o.decision.decision == "unknown"]

evidence := [o.decision | some o in outcomes]

describe(o) := sprintf("%s `%s` on %s `%s`", [kind(o.req), o.req[2], o.req[0], lib.name(o.req[1])])

kind(req) := "data action" if req[3]

else := "action"

label := sprintf("workspace `%s` identity `%s`", [workspace.name, lib.name(primary)])

result := {
	"status": "fail",
	"message": sprintf("workspace `%s`'s primary identity `%s` is not attached to the workspace (identity.userAssignedIdentities)", [workspace.name, lib.name(primary)]),
	"remediation": [
		lib.fix_attach_identity(workspace.id, primary, sprintf("Attach identity `%s` to workspace `%s`", [lib.name(primary), workspace.name])),
		lib.fix_workspace_primary_identity(workspace.id, primary, sprintf("Make identity `%s` workspace `%s`'s primary identity", [lib.name(primary), workspace.name])),
	],
} if {
	not attached
} else := {
	"status": "unknown",
	"message": sprintf("%s: its principal id is in neither the workspace nor the identity resource", [label]),
} if {
	not principal
} else := {
	"status": "unknown",
	"message": sprintf("%s: the workspace names no storage account, so the template's storage roles cannot be checked", [label]),
} if {
	storage == ""
} else := {
	"status": "fail",
	"message": sprintf("%s (principal %s) lacks %s", [label, principal, concat("; ", [sprintf("%s (%s)", [describe(o), o.decision.summary]) | some o in denied])]),
	"evidence": evidence,
	"remediation": [lib.grant(principal, o.req[4], o.req[1], sprintf("Grant identity `%s` %s on %s `%s`", [lib.name(primary), o.req[4], o.req[0], lib.name(o.req[1])])) | some o in denied],
} if {
	count(denied) > 0
} else := {
	"status": "unknown",
	"message": sprintf("%s: cannot decide %s", [label, concat("; ", [sprintf("%s (%s)", [describe(o), o.decision.summary]) | some o in undecided])]),
	"evidence": evidence,
} if {
	count(undecided) > 0
} else := {
	"status": "pass",
	"message": sprintf("%s holds every dependency role (%d checks)", [label, count(outcomes)]),
	"evidence": evidence,
}
