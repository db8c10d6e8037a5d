package amlaudit.rules.workspace_identity_dependency_roles_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

sub := "ec7ac8ad-1b2b-406b-aae1-2c972399d29d"

rg := sprintf("/subscriptions/%s/resourceGroups/rg-ml-dev", [sub])

workspace_id := sprintf("%s/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-uai", [rg])

uai_id := sprintf("%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-dev-ws", [rg])

registry_id := sprintf("%s/providers/Microsoft.ContainerRegistry/registries/mlacrsandbox", [rg])

storage_id := sprintf("%s/providers/Microsoft.Storage/storageAccounts/stmlwdevuai6fb35c", [rg])

key_vault_id := sprintf("%s/providers/Microsoft.KeyVault/vaults/kv-mlw-dev-uai-6fb3", [rg])

principal := "bce1cb34-00e2-47d7-9eda-7e46a386c4a7"

properties := {
	"primaryUserAssignedIdentity": uai_id,
	"storageAccount": storage_id,
	"containerRegistry": registry_id,
	"keyVault": key_vault_id,
}

attached := {uai_id: {"principalId": principal, "clientId": "7592b89f-f910-468a-baee-bb48936b7ac2"}}

identity := {"kind": "user_assigned", "principal_id": principal, "client_id": "7592b89f-f910-468a-baee-bb48936b7ac2", "resource_id": uai_id}

# The input of a workspace: the resource, its registry and its identities.
doc(props, user_assigned, identities) := {
	"id": workspace_id,
	"name": "mlw-dev-uai",
	"type": "Microsoft.MachineLearningServices/workspaces",
	"resource": {
		"id": workspace_id,
		"name": "mlw-dev-uai",
		"identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": user_assigned},
		"properties": props,
	},
	"registry_id": object.get(props, "containerRegistry", null),
	"registry": null,
	"services": [],
	"identities": identities,
}

complete := doc(properties, attached, [identity])

decision(verdict, principal, scope, action) := {
	"decision": verdict,
	"principal": principal,
	"scope": scope,
	"action": action,
	"summary": sprintf("%s (mock)", [verdict]),
	"evidence": [],
	"reasons": [],
}

granted(principal, scope, action) := decision("granted", principal, scope, action)

denied(principal, scope, action) := decision("denied", principal, scope, action)

undecided(principal, scope, action) := decision("unknown", principal, scope, action)

test_not_applicable_without_a_primary_user_assigned_identity if {
	data.amlaudit.rules.workspace_identity_dependency_roles.applicable with input as complete
	not data.amlaudit.rules.workspace_identity_dependency_roles.applicable with input as doc({"storageAccount": storage_id}, {}, [])
	not data.amlaudit.rules.workspace_identity_dependency_roles.applicable with input as doc({"primaryUserAssignedIdentity": ""}, {}, [])
	not data.amlaudit.rules.workspace_identity_dependency_roles.applicable with input as doc({"primaryUserAssignedIdentity": null}, {}, [])
}

test_pass_when_every_dependency_role_is_held if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	r.status == "pass"
	r.message == "workspace `mlw-dev-uai` identity `uai-dev-ws` holds every dependency role (4 checks)"
	count(r.evidence) == 4
}

test_pass_checks_only_the_dependencies_the_workspace_has if {
	storage_only := doc({"primaryUserAssignedIdentity": uai_id, "storageAccount": storage_id}, attached, [identity])
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as storage_only
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	r.status == "pass"
	contains(r.message, "(2 checks)")
}

test_fail_when_data_actions_are_denied if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as denied
	r.status == "fail"
	contains(r.message, "lacks data action `Microsoft.KeyVault/vaults/secrets/getSecret/action` on key vault `kv-mlw-dev-uai-6fb3` (denied (mock))")
	{[fix.edit.role, fix.edit.scope] | some fix in r.remediation} == {
		["Key Vault Administrator", key_vault_id],
		["Storage Blob Data Contributor", storage_id],
	}
	some fix in r.remediation
	fix.edit.principal_id == principal
	fix.description == "Grant identity `uai-dev-ws` Key Vault Administrator on key vault `kv-mlw-dev-uai-6fb3`"
}

test_fail_when_control_actions_are_denied if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as denied
		with data.amlaudit.lib.data_access as granted
	r.status == "fail"
	contains(r.message, "lacks action `Microsoft.ContainerRegistry/registries/write` on registry `mlacrsandbox`")
	{[fix.edit.role, fix.edit.scope] | some fix in r.remediation} == {
		["Contributor", registry_id],
		["Contributor", storage_id],
	}
}

test_fail_when_the_primary_identity_is_not_attached if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as doc(properties, {}, [])
	r.status == "fail"
	r.message == "workspace `mlw-dev-uai`'s primary identity `uai-dev-ws` is not attached to the workspace (identity.userAssignedIdentities)"
	[attach, primary] := r.remediation
	attach.edit.kind == "attach_identity"
	attach.edit.identity == uai_id
	primary.edit.kind == "workspace_primary_identity"
}

test_unknown_when_the_principal_is_not_known if {
	no_principal := object.union(identity, {"principal_id": null})
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as doc(properties, attached, [no_principal])
	r.status == "unknown"
	r.message == "workspace `mlw-dev-uai` identity `uai-dev-ws`: its principal id is in neither the workspace nor the identity resource"
}

test_unknown_without_a_storage_account if {
	no_storage := doc({"primaryUserAssignedIdentity": uai_id}, attached, [identity])
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as no_storage
	r.status == "unknown"
	contains(r.message, "names no storage account")
}

test_unknown_when_the_permission_engine_cannot_decide if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as undecided
	r.status == "unknown"
	contains(r.message, "workspace `mlw-dev-uai` identity `uai-dev-ws`: cannot decide ")
	contains(r.message, "data action `Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write` on storage `stmlwdevuai6fb35c` (unknown (mock))")
}

test_unknown_with_the_real_builtins_and_no_snapshot if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
	r.status == "unknown"
}
