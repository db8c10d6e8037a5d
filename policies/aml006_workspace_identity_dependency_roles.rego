# METADATA
# title: Workspace user-assigned identities hold their dependency roles
# description: >-
#   A workspace that reaches its associated resources with a user-assigned identity
#   (properties.primaryUserAssignedIdentity) needs that identity to be attached to the workspace
#   (identity.userAssignedIdentities) and to be able to do what Microsoft's dependency
#   role-assignment template grants it for: write on the container registry, write on the storage
#   account and blob write, secret reads on the key vault, and write on the Application Insights
#   component. The template's role list: Contributor on the workspace resource group, Contributor
#   and Storage Blob Data Contributor on the storage account, Key Vault Administrator (plus a
#   secrets access policy) on the key vault, Contributor on the container registry. Checked on
#   effective permissions, not role names: Microsoft.ContainerRegistry/registries/write,
#   Microsoft.Storage/storageAccounts/write, the blob write data action, the key vault's secret
#   read by its permission model (RBAC: Microsoft.KeyVault/vaults/secrets/getSecret/action; access
#   policies: a policy for the identity with secret permission get), and
#   Microsoft.Insights/components/write. Fixes grant the narrowest built-in role that closes each
#   gap (Key Vault Secrets User, Storage Blob Data Contributor, Storage Account Contributor), not
#   the template's broader ones. A workspace without properties, or without a storage account or
#   key vault, is unknown.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#user-assigned-managed-identity
# custom:
#   id: AML006
#   name: workspace-identity-dependency-roles
#   severity: medium
#   resource_type: Microsoft.MachineLearningServices/workspaces
#   remediation: Attach the identity, then grant the narrowest built-in role for each missing permission (or a secrets access policy on an access-policy vault).
#   frameworks: [MCSB IM-3, MCSB PA-7]
package amlaudit.rules.workspace_identity_dependency_roles

import data.amlaudit.lib
import rego.v1

workspace := input.resource

primary := object.get(workspace, ["properties", "primaryUserAssignedIdentity"], "")

has_primary if {
	is_string(primary)
	primary != ""
}

principal := lib.user_assigned_principal(input.identities, primary)

storage := object.get(workspace, ["properties", "storageAccount"], "")

key_vault := object.get(workspace, ["properties", "keyVault"], "")

insights := object.get(workspace, ["properties", "applicationInsights"], "")

named(value) if {
	is_string(value)
	value != ""
}

identity_name := lib.name(primary)

# The checks of the dependency template: {"what", "decision", "fix"}, one per permission.
checks contains {
	"what": sprintf("action `Microsoft.ContainerRegistry/registries/write` on registry `%s`", [lib.name(input.registry_id)]),
	"decision": decision,
	"fix": lib.fix_role_assignment(principal, "Contributor", input.registry_id, sprintf("Grant identity `%s` Contributor on registry `%s`", [identity_name, lib.name(input.registry_id)])),
} if {
	input.registry_id != null
	decision := lib.access(principal, input.registry_id, "Microsoft.ContainerRegistry/registries/write")
}

checks contains {
	"what": sprintf("action `Microsoft.Storage/storageAccounts/write` on storage account `%s`", [lib.name(storage)]),
	"decision": decision,
	"fix": lib.fix_role_assignment(principal, "Storage Account Contributor", storage, sprintf("Grant identity `%s` Storage Account Contributor on storage account `%s` (the template grants Contributor)", [identity_name, lib.name(storage)])),
} if {
	named(storage)
	decision := lib.access(principal, storage, "Microsoft.Storage/storageAccounts/write")
}

checks contains {
	"what": sprintf("data action `Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write` on storage account `%s`", [lib.name(storage)]),
	"decision": decision,
	"fix": lib.fix_role_assignment(principal, "Storage Blob Data Contributor", storage, sprintf("Grant identity `%s` Storage Blob Data Contributor on storage account `%s`", [identity_name, lib.name(storage)])),
} if {
	named(storage)
	decision := lib.data_access(principal, storage, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write")
}

secret_read := lib.vault_access(principal, key_vault, input.key_vault, ["Microsoft.KeyVault/vaults/secrets/getSecret/action"], "secrets", ["get"])

checks contains {
	"what": sprintf("secret read on key vault `%s`", [lib.name(key_vault)]),
	"decision": secret_read,
	"fix": secret_fix,
} if {
	named(key_vault)
}

secret_fix := lib.fix_keyvault_access_policy(key_vault, principal, [], ["get", "list"], sprintf("Give identity `%s` an access policy with secret permissions get and list on key vault `%s` (az keyvault set-policy)", [identity_name, lib.name(key_vault)])) if {
	secret_read.model == "access_policy"
} else := lib.fix_role_assignment(principal, "Key Vault Secrets User", key_vault, sprintf("Grant identity `%s` Key Vault Secrets User on key vault `%s` (the template grants Key Vault Administrator)", [identity_name, lib.name(key_vault)]))

checks contains {
	"what": sprintf("action `Microsoft.Insights/components/write` on Application Insights `%s`", [lib.name(insights)]),
	"decision": decision,
	"fix": lib.fix_role_assignment(principal, "Contributor", insights, sprintf("Grant identity `%s` Contributor on Application Insights `%s` (the template grants Contributor on the resource group)", [identity_name, lib.name(insights)])),
} if {
	named(insights)
	decision := lib.access(principal, insights, "Microsoft.Insights/components/write")
}

denied := [c | some c in checks; c.decision.decision == "denied"]

undecided := [c | some c in checks; c.decision.decision == "unknown"]

evidence := [e | some c in checks; some e in evidence_of(c.decision)]

# A key vault decision carries its engine decisions as evidence; the others are one.
evidence_of(decision) := decision.evidence if decision.model
else := [decision]

describe(checks_list) := concat("; ", sort([sprintf("%s (%s)", [c.what, c.decision.summary]) | some c in checks_list]))

label := sprintf("workspace `%s` identity `%s`", [workspace.name, identity_name])

result := {
	"status": "unknown",
	"message": lib.no_properties("workspace", workspace, "whether it uses a user-assigned identity for its dependencies"),
} if {
	not lib.has_properties(workspace)
} else := {
	"status": "not_applicable",
	"message": sprintf("workspace `%s` has no primary user-assigned identity (properties.primaryUserAssignedIdentity); it reaches its dependencies with its system-assigned identity", [workspace.name]),
} if {
	not has_primary
} else := {
	"status": "fail",
	"message": sprintf("workspace `%s`'s primary identity `%s` is not attached to the workspace (identity.userAssignedIdentities)", [workspace.name, identity_name]),
	"remediation": [lib.fix_attach_identity(workspace.id, primary, sprintf("Attach identity `%s` to workspace `%s` (identity.userAssignedIdentities)", [identity_name, workspace.name]))],
} if {
	not lib.attached(workspace, primary)
} else := {
	"status": "unknown",
	"message": sprintf("%s: its principal id is in neither the workspace nor the identity resource", [label]),
} if {
	not principal
} else := {
	"status": "fail",
	"message": sprintf("%s (principal %s) lacks %s", [label, principal, describe(denied)]),
	"evidence": evidence,
	"remediation": [c.fix | some c in denied],
} if {
	count(denied) > 0
} else := {
	"status": "unknown",
	"message": sprintf("%s: the workspace names no storage account (properties.storageAccount), so the template's storage permissions cannot be checked", [label]),
} if {
	not named(storage)
} else := {
	"status": "unknown",
	"message": sprintf("%s: the workspace names no key vault (properties.keyVault), so its secret read cannot be checked", [label]),
} if {
	not named(key_vault)
} else := {
	"status": "unknown",
	"message": sprintf("%s: cannot decide %s", [label, describe(undecided)]),
	"evidence": evidence,
} if {
	count(undecided) > 0
} else := {
	"status": "pass",
	"message": sprintf("%s holds every dependency permission (%d checks: %s)", [label, count(checks), concat(", ", sort([c.what | some c in checks]))]),
	"evidence": evidence,
}
