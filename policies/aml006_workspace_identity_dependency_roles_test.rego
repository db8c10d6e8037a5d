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

insights_id := sprintf("%s/providers/Microsoft.Insights/components/appi-mlw-dev-uai", [rg])

properties := {
	"primaryUserAssignedIdentity": uai_id,
	"storageAccount": storage_id,
	"containerRegistry": registry_id,
	"keyVault": key_vault_id,
	"applicationInsights": insights_id,
}

attached := {uai_id: {"principalId": principal, "clientId": "7592b89f-f910-468a-baee-bb48936b7ac2"}}

identity := {"kind": "user_assigned", "principal_id": principal, "client_id": "7592b89f-f910-468a-baee-bb48936b7ac2", "resource_id": uai_id}

rbac_vault := {"id": key_vault_id, "name": "kv-mlw-dev-uai-6fb3", "properties": {"enableRbacAuthorization": true}}

policy_vault(secrets) := {"id": key_vault_id, "name": "kv-mlw-dev-uai-6fb3", "properties": {
	"enableRbacAuthorization": false,
	"accessPolicies": [{"tenantId": "t", "objectId": principal, "permissions": {"secrets": secrets, "keys": []}}],
}}

# The input of a workspace: the resource, its registry, its identities and its key vault.
doc(props, user_assigned, identities) := doc_vault(props, user_assigned, identities, rbac_vault)

doc_vault(props, user_assigned, identities, vault) := {
	"id": workspace_id,
	"name": "mlw-dev-uai",
	"type": "Microsoft.MachineLearningServices/workspaces",
	"resource": {
		"id": workspace_id,
		"name": "mlw-dev-uai",
		"identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": user_assigned},
		"properties": props,
	},
	"registry_id": registry_of(props),
	"registry": null,
	"services": [],
	"identities": identities,
	"key_vault": vault,
	"cmk_key_vault": null,
}

registry_of(props) := object.get(props, "containerRegistry", null) if is_object(props)

else := null

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

rule_result(input_doc) := r if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as input_doc
}

test_unknown_when_the_workspace_has_no_properties if {
	r := rule_result(doc(null, attached, [identity]))
	r.status == "unknown"
	contains(r.message, "workspace `mlw-dev-uai` has no properties in the snapshot")
}

test_not_applicable_without_a_primary_user_assigned_identity if {
	every props in [{"storageAccount": storage_id}, {"primaryUserAssignedIdentity": ""}, {"primaryUserAssignedIdentity": null}] {
		r := rule_result(doc(props, {}, []))
		r.status == "not_applicable"
		contains(r.message, "has no primary user-assigned identity")
	}
}

test_fail_when_not_attached_attaches_the_identity if {
	r := rule_result(doc(properties, {}, [identity]))
	r.status == "fail"
	r.remediation == [{
		"description": "Attach identity `uai-dev-ws` to workspace `mlw-dev-uai` (identity.userAssignedIdentities)",
		"edit": {"kind": "attach_identity", "resource": workspace_id, "identity": uai_id},
	}]
	s := rule_result(object.union(doc(properties, null, [identity]), {"resource": {"identity": {"userAssignedIdentities": null}}}))
	s.status == "fail"
}

test_pass_when_every_check_is_granted if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	r.status == "pass"
	contains(r.message, "holds every dependency permission (5 checks")
	contains(r.message, "action `Microsoft.Insights/components/write` on Application Insights `appi-mlw-dev-uai`")
	count(r.evidence) == 5
}

# Least privilege: the narrowest built-in role that closes each gap.
test_fail_grants_the_narrowest_roles if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as denied
		with data.amlaudit.lib.data_access as denied
	r.status == "fail"
	roles := {[step.edit.role, step.edit.scope] | some step in r.remediation}
	roles == {
		["Contributor", registry_id],
		["Storage Account Contributor", storage_id],
		["Storage Blob Data Contributor", storage_id],
		["Key Vault Secrets User", key_vault_id],
		["Contributor", insights_id],
	}
	some kv in r.remediation
	kv.edit.role == "Key Vault Secrets User"
	contains(kv.description, "the template grants Key Vault Administrator")
	not contains(json.marshal(r.remediation), "\"Key Vault Administrator\"")
}

test_secret_read_on_an_access_policy_vault if {
	pass_doc := doc_vault(properties, attached, [identity], policy_vault(["Get"]))
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as pass_doc
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	r.status == "pass"
	fail_doc := doc_vault(properties, attached, [identity], policy_vault(["list"]))
	f := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as fail_doc
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	f.status == "fail"
	contains(f.message, "secret read on key vault `kv-mlw-dev-uai-6fb3` (no access policy")
	f.remediation == [{
		"description": "Give identity `uai-dev-ws` an access policy with secret permissions get and list on key vault `kv-mlw-dev-uai-6fb3` (az keyvault set-policy)",
		"edit": {"kind": "keyvault_access_policy", "vault": key_vault_id, "object_id": principal, "key_permissions": [], "secret_permissions": ["get", "list"]},
	}]
}

test_unknown_when_the_vault_is_not_in_the_snapshot if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as doc_vault(properties, attached, [identity], null)
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	r.status == "unknown"
	contains(r.message, "key vault `kv-mlw-dev-uai-6fb3` is not in the snapshot")
}

test_unknown_without_a_key_vault_but_fail_on_a_denied_check if {
	no_vault := object.remove(properties, ["keyVault"])
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as doc(no_vault, attached, [identity])
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	r.status == "unknown"
	contains(r.message, "names no key vault (properties.keyVault)")
	f := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as doc(no_vault, attached, [identity])
		with data.amlaudit.lib.access as denied
		with data.amlaudit.lib.data_access as granted
	f.status == "fail"
}

test_without_application_insights_it_is_not_checked if {
	no_insights := object.remove(properties, ["applicationInsights"])
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as doc(no_insights, attached, [identity])
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	r.status == "pass"
	contains(r.message, "(4 checks")
}


test_fail_when_data_actions_are_denied if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as denied
	r.status == "fail"
	contains(r.message, "secret read on key vault `kv-mlw-dev-uai-6fb3` (Microsoft.KeyVault/vaults/secrets/getSecret/action: denied (mock))")
	{[fix.edit.role, fix.edit.scope] | some fix in r.remediation} == {
		["Key Vault Secrets User", key_vault_id],
		["Storage Blob Data Contributor", storage_id],
	}
	every fix in r.remediation {
		fix.edit.principal_id == principal
	}
}

test_fail_when_control_actions_are_denied if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as denied
		with data.amlaudit.lib.data_access as granted
	r.status == "fail"
	contains(r.message, "lacks action `Microsoft.ContainerRegistry/registries/write` on registry `mlacrsandbox`")
	count(r.remediation) == 3
}

test_unknown_when_the_principal_is_not_known if {
	no_principal := object.union(identity, {"principal_id": null})
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as doc(properties, attached, [no_principal])
	r.status == "unknown"
	r.message == "workspace `mlw-dev-uai` identity `uai-dev-ws`: its principal id is in neither the workspace nor the identity resource"
}

test_unknown_without_a_storage_account if {
	no_storage := doc({"primaryUserAssignedIdentity": uai_id, "keyVault": key_vault_id}, attached, [identity])
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as no_storage
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as granted
	r.status == "unknown"
	contains(r.message, "names no storage account")
}

test_unknown_when_the_permission_engine_cannot_decide if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
		with data.amlaudit.lib.access as granted
		with data.amlaudit.lib.data_access as undecided
	r.status == "unknown"
	contains(r.message, "workspace `mlw-dev-uai` identity `uai-dev-ws`: cannot decide ")
	contains(r.message, "data action `Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write` on storage account `stmlwdevuai6fb35c` (unknown (mock))")
}

test_unknown_with_the_real_builtins_and_no_snapshot if {
	r := data.amlaudit.rules.workspace_identity_dependency_roles.result with input as complete
	r.status == "unknown"
}
