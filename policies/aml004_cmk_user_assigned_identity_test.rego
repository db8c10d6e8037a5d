package amlaudit.rules.cmk_user_assigned_identity_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

# AML004 reads only the workspace itself, so it has no unknown path: an encryption block either
# names a user-assigned identity or does not.

sub := "ec7ac8ad-1b2b-406b-aae1-2c972399d29d"

workspace_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev-cmk", [sub])

key_vault := sprintf("/subscriptions/%s/resourcegroups/rg-ml-dev/providers/Microsoft.KeyVault/vaults/kv-cmk-dev-41d7", [sub])

uai_cmk := sprintf("/subscriptions/%s/resourceGroups/rg-ml-dev/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-cmk", [sub])

# The input of a workspace, with the properties the rule reads.
doc(properties) := {
	"id": workspace_id,
	"name": "mlw-dev-cmk",
	"type": "Microsoft.MachineLearningServices/workspaces",
	"resource": {"id": workspace_id, "name": "mlw-dev-cmk", "properties": properties},
	"registry_id": null,
	"registry": null,
	"services": [],
	"identities": [],
}

encrypted(encryption) := doc({"encryption": object.union({"status": "Enabled"}, encryption)})

with_key_vault := {"keyVaultProperties": {"keyVaultArmId": key_vault, "identityClientId": ""}}

test_not_applicable_without_a_customer_managed_key if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as doc({})
	r.status == "not_applicable"
	r.message == "workspace `mlw-dev-cmk` does not use a customer-managed key"
	s := data.amlaudit.rules.cmk_user_assigned_identity.result with input as doc({"encryption": {"status": "Disabled"}})
	s.status == "not_applicable"
}

test_pass_with_a_user_assigned_identity if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as encrypted({"identity": {"userAssignedIdentity": uai_cmk}})
	r.status == "pass"
	r.message == "workspace `mlw-dev-cmk` reaches its customer-managed key with user-assigned identity `uai-cmk`"
}

test_fail_without_an_identity_creates_and_grants_one if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as encrypted(with_key_vault)
	r.status == "fail"
	r.message == "workspace `mlw-dev-cmk` uses a customer-managed key but no user-assigned identity for it"
	[create, grant, point] := r.remediation
	create.edit == {"kind": "identity_create", "identity": sprintf("/subscriptions/%s/resourceGroups/rg-ml-dev/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mlw-dev-cmk-cmk", [sub])}
	grant.edit == {"kind": "role_assignment", "principal_from_step": 0, "role": "Key Vault Crypto Service Encryption User", "scope": key_vault}
	point.edit.kind == "manual"
	point.edit.argv == [
		"az", "resource", "update", "--ids", workspace_id, "--set",
		sprintf("properties.encryption.identity.userAssignedIdentity=/subscriptions/%s/resourceGroups/rg-ml-dev/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mlw-dev-cmk-cmk", [sub]),
	]
}

test_fail_with_an_empty_identity_and_no_key_vault_skips_the_grant if {
	r := data.amlaudit.rules.cmk_user_assigned_identity.result with input as encrypted({"identity": {"userAssignedIdentity": ""}, "status": "enabled"})
	r.status == "fail"
	count(r.remediation) == 2
}
