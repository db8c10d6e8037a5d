package amlaudit.rules.cmk_user_assigned_identity_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

sub := "ec7ac8ad-1b2b-406b-aae1-2c972399d29d"

workspace_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-cmk", [sub])

key_vault := sprintf("/subscriptions/%s/resourcegroups/rg-ml-dev/providers/Microsoft.KeyVault/vaults/kv-cmk-dev-41d7", [sub])

uai_cmk := sprintf("/subscriptions/%s/resourceGroups/rg-ml-dev/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-cmk", [sub])

uai_principal := "5f0e2d3c-8b7a-4c1d-9e6f-2a3b4c5d6e7f"

attached_identity := {"type": "UserAssigned", "userAssignedIdentities": {uai_cmk: {"principalId": uai_principal, "clientId": "c"}}}

identities := [{"kind": "user_assigned", "principal_id": uai_principal, "client_id": "c", "resource_id": uai_cmk}]

vault(properties) := {"id": key_vault, "name": "kv-cmk-dev-41d7", "type": "Microsoft.KeyVault/vaults", "properties": properties}

rbac_vault := vault({"enableRbacAuthorization": true})

policy_vault(permissions) := vault({"enableRbacAuthorization": false, "accessPolicies": [{"tenantId": "t", "objectId": upper(uai_principal), "permissions": {"keys": permissions}}]})

# The input of a workspace, with the properties the rule reads.
doc(properties) := doc_with(properties, null, [], null)

doc_with(properties, identity, ids, cmk_vault) := {
	"id": workspace_id,
	"name": "mlw-dev-cmk",
	"type": "Microsoft.MachineLearningServices/workspaces",
	"resource": {"id": workspace_id, "name": "mlw-dev-cmk", "identity": identity, "properties": properties},
	"registry_id": null,
	"registry": null,
	"services": [],
	"identities": ids,
	"key_vault": null,
	"cmk_key_vault": cmk_vault,
}

encrypted(encryption) := doc({"encryption": object.union({"status": "Enabled"}, encryption)})

with_key_vault := {"keyVaultProperties": {"keyVaultArmId": key_vault, "identityClientId": ""}}

with_identity := object.union(with_key_vault, {"identity": {"userAssignedIdentity": uai_cmk}})

# A workspace whose key identity is attached, with the vault as the snapshot has it.
complete(cmk_vault) := doc_with({"encryption": object.union({"status": "Enabled"}, with_identity)}, attached_identity, identities, cmk_vault)

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

# Wrap but not unwrap.
no_unwrap(principal, scope, action) := denied(principal, scope, action) if {
	endswith(action, "/unwrap/action")
} else := granted(principal, scope, action)

test_unknown_when_the_workspace_has_no_properties if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as doc(null)
	r.status == "unknown"
	r.message == "workspace `mlw-dev-cmk` has no properties in the snapshot (a list that omits them, such as `az resource list`?), so whether it uses a customer-managed key is not known"
}

test_not_applicable_without_a_customer_managed_key if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as doc({})
	r.status == "not_applicable"
	r.message == "workspace `mlw-dev-cmk` does not use a customer-managed key"
	s := data.amlaudit.rules.cmk_user_assigned_identity.result with input as doc({"encryption": {"status": "Disabled"}})
	s.status == "not_applicable"
}

test_fail_without_an_identity_creates_attaches_and_grants_one if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as encrypted(with_key_vault)
	r.status == "fail"
	r.message == "workspace `mlw-dev-cmk` uses a customer-managed key but no user-assigned identity for it"
	new_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-dev/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mlw-dev-cmk-cmk", [sub])
	[step.edit.kind | some step in r.remediation] == ["identity_create", "attach_identity", "role_assignment", "manual"]
	r.remediation[0].edit.identity == new_id
	r.remediation[1].edit == {"kind": "attach_identity", "resource": workspace_id, "identity": new_id}
	r.remediation[2].edit == {"kind": "role_assignment", "principal_from_step": 0, "role": "Key Vault Crypto Service Encryption User", "scope": key_vault}
}

test_fail_without_an_identity_on_an_access_policy_vault_sets_a_policy if {
	input_doc := object.union(encrypted(with_key_vault), {"cmk_key_vault": policy_vault([])})
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as input_doc
	r.status == "fail"
	r.remediation[2].edit.kind == "manual"
	r.remediation[2].edit.argv[4] == "kv-cmk-dev-41d7"
	"wrapKey" in r.remediation[2].edit.argv
}

test_fail_without_an_identity_or_key_vault_skips_the_grant if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as encrypted({})
	r.status == "fail"
	count(r.remediation) == 3
}

test_fail_when_the_identity_is_empty if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as encrypted({"identity": {"userAssignedIdentity": ""}})
	r.status == "fail"
}

test_fail_when_the_identity_is_not_attached if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as doc_with({"encryption": object.union({"status": "Enabled"}, with_identity)}, {"type": "SystemAssigned"}, [], rbac_vault)
	r.status == "fail"
	contains(r.message, "is not attached to the workspace (identity.userAssignedIdentities)")
	r.remediation == [{
		"description": "Attach identity `uai-cmk` to workspace `mlw-dev-cmk`",
		"edit": {"kind": "attach_identity", "resource": workspace_id, "identity": uai_cmk},
	}]
}

test_pass_on_an_rbac_vault_when_every_key_action_is_granted if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(rbac_vault) with data.amlaudit.lib.data_access as granted
	r.status == "pass"
	contains(r.message, "can use the key in vault `kv-cmk-dev-41d7`")
	[e.action | some e in r.evidence] == [
		"Microsoft.KeyVault/vaults/keys/read",
		"Microsoft.KeyVault/vaults/keys/wrap/action",
		"Microsoft.KeyVault/vaults/keys/unwrap/action",
	]
}

test_fail_on_an_rbac_vault_grants_crypto_service_encryption_user if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(rbac_vault) with data.amlaudit.lib.data_access as no_unwrap
	r.status == "fail"
	contains(r.message, "Microsoft.KeyVault/vaults/keys/unwrap/action: denied (mock)")
	r.remediation == [{
		"description": "Grant identity `uai-cmk` Key Vault Crypto Service Encryption User on key vault `kv-cmk-dev-41d7`",
		"edit": {"kind": "role_assignment", "principal_id": uai_principal, "role": "Key Vault Crypto Service Encryption User", "scope": key_vault},
	}]
}

test_unknown_on_an_rbac_vault_when_undecided if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(rbac_vault) with data.amlaudit.lib.data_access as undecided
	r.status == "unknown"
}

test_pass_on_an_access_policy_vault_with_the_key_permissions if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(policy_vault(["Get", "WrapKey", "UnwrapKey"]))
	r.status == "pass"
	t := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(policy_vault(["ALL"]))
	t.status == "pass"
}

test_fail_on_an_access_policy_vault_sets_a_policy if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(policy_vault(["get", "wrapKey"]))
		with data.amlaudit.lib.data_access as granted
	r.status == "fail"
	contains(r.message, "no access policy of vault `kv-cmk-dev-41d7`")
	r.remediation[0].edit == {"kind": "keyvault_access_policy", "vault": key_vault, "object_id": uai_principal, "key_permissions": ["get", "wrapKey", "unwrapKey"], "secret_permissions": []}
}

# A compound-identity policy (with an applicationId) applies only to that application acting for
# the principal.
test_fail_when_the_only_policy_is_a_compound_identity if {
	compound := vault({"enableRbacAuthorization": false, "accessPolicies": [{"objectId": uai_principal, "applicationId": "a1", "permissions": {"keys": ["all"]}}]})
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(compound)
	r.status == "fail"
}

test_unknown_when_the_vault_is_not_in_the_snapshot if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(null) with data.amlaudit.lib.data_access as granted
	r.status == "unknown"
	contains(r.message, "key vault `kv-cmk-dev-41d7` is not in the snapshot")
}

test_unknown_when_the_vault_does_not_say_its_model if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as complete(vault({"accessPolicies": []})) with data.amlaudit.lib.data_access as granted
	r.status == "unknown"
	contains(r.message, "does not say its permission model (properties.enableRbacAuthorization)")
}

test_unknown_when_the_workspace_names_no_vault if {
	no_vault := doc_with({"encryption": {"status": "Enabled", "identity": {"userAssignedIdentity": uai_cmk}}}, attached_identity, identities, null)
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as no_vault
	r.status == "unknown"
	contains(r.message, "names no key vault for its key")
}

test_unknown_when_the_principal_is_not_known if {
	no_principal := object.union(complete(rbac_vault), {"identities": []})
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as no_principal with data.amlaudit.lib.data_access as granted
	r.status == "unknown"
	contains(r.message, "its principal id is in neither")
}
