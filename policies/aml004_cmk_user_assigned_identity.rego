# METADATA
# title: Customer-managed-key workspaces use a user-assigned identity
# description: >-
#   A workspace encrypted with a customer-managed key can authenticate to its key vault with a
#   user-assigned identity (properties.encryption.identity.userAssignedIdentity) instead of the
#   workspace's system-assigned identity, so access to the key survives the workspace identity and
#   can be granted before the workspace exists. The identity must be attached to the workspace
#   (identity.userAssignedIdentities) and able to use the key in the vault named by
#   encryption.keyVaultProperties.keyVaultArmId: on a vault with Azure RBAC the data actions
#   Microsoft.KeyVault/vaults/keys/read, keys/wrap/action and keys/unwrap/action (Key Vault Crypto
#   Service Encryption User); on a vault with access policies an access policy for the identity's
#   object id with key permissions get, wrapKey and unwrapKey. A vault that is not in the snapshot,
#   or does not say its model (properties.enableRbacAuthorization), gives unknown. Workspaces
#   without customer-managed keys are not applicable.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#user-assigned-managed-identity
#   - ref: https://learn.microsoft.com/azure/machine-learning/concept-customer-managed-keys
# custom:
#   id: AML004
#   name: cmk-user-assigned-identity
#   severity: high
#   resource_type: Microsoft.MachineLearningServices/workspaces
#   remediation: Attach a user-assigned identity to the workspace and let it use the key (Key Vault Crypto Service Encryption User on an RBAC vault, an access policy with get, wrapKey and unwrapKey otherwise).
#   frameworks: [MCSB DP-5, MCSB IM-3]
package amlaudit.rules.cmk_user_assigned_identity

import data.amlaudit.lib
import rego.v1

workspace := input.resource

encryption := object.get(workspace, ["properties", "encryption"], {})

cmk_enabled if lib.lower_text(object.get(encryption, "status", "")) == "enabled"

identity_id := object.get(encryption, ["identity", "userAssignedIdentity"], "")

has_identity if {
	is_string(identity_id)
	identity_id != ""
}

vault_id := object.get(encryption, ["keyVaultProperties", "keyVaultArmId"], "")

has_vault if {
	is_string(vault_id)
	vault_id != ""
}

principal := lib.user_assigned_principal(input.identities, identity_id)

key_actions := [
	"Microsoft.KeyVault/vaults/keys/read",
	"Microsoft.KeyVault/vaults/keys/wrap/action",
	"Microsoft.KeyVault/vaults/keys/unwrap/action",
]

key_use := lib.vault_access(principal, vault_id, input.cmk_key_vault, key_actions, "keys", ["get", "wrapkey", "unwrapkey"])

label := sprintf("workspace `%s`'s key identity `%s`", [workspace.name, lib.name(identity_id)])

uai_id := sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s-cmk", [lib.subscription(workspace.id), lib.resource_group(workspace.id), workspace.name])

# The grant that lets the identity use the key, by the vault's model.
grant_key(principal_id) := lib.fix_role_assignment(principal_id, "Key Vault Crypto Service Encryption User", vault_id, sprintf("Grant identity `%s` Key Vault Crypto Service Encryption User on key vault `%s`", [lib.name(identity_id), lib.name(vault_id)])) if {
	key_use.model == "rbac"
} else := lib.fix_keyvault_access_policy(vault_id, principal_id, ["get", "wrapKey", "unwrapKey"], [], sprintf("Give identity `%s` an access policy with key permissions get, wrapKey and unwrapKey on key vault `%s` (az keyvault set-policy)", [lib.name(identity_id), lib.name(vault_id)]))

# The key grant for the identity step 0 creates: an access policy needs its object id, which is
# known only once it exists.
grant_new_identity := lib.fix_manual(
	sprintf("Give the new identity an access policy with key permissions get, wrapKey and unwrapKey on key vault `%s`", [lib.name(vault_id)]),
	"Key vault uses access policies: add one for the new identity's principal id (printed when it is created).",
	["az", "keyvault", "set-policy", "--name", lib.name(vault_id), "--resource-group", lib.resource_group(vault_id), "--subscription", lib.subscription(vault_id), "--object-id", "<principal id of the new identity>", "--key-permissions", "get", "wrapKey", "unwrapKey"],
) if {
	lib.vault_model(input.cmk_key_vault) == "access_policy"
} else := lib.fix_role_assignment_from_step(0, "Key Vault Crypto Service Encryption User", vault_id, sprintf("Grant it Key Vault Crypto Service Encryption User on key vault `%s`", [lib.name(vault_id)]))

result := {
	"status": "unknown",
	"message": lib.no_properties("workspace", workspace, "whether it uses a customer-managed key"),
} if {
	not lib.has_properties(workspace)
} else := {
	"status": "not_applicable",
	"message": sprintf("workspace `%s` does not use a customer-managed key", [workspace.name]),
} if {
	not cmk_enabled
} else := {
	"status": "fail",
	"message": sprintf("workspace `%s` uses a customer-managed key but no user-assigned identity for it", [workspace.name]),
	"remediation": array.concat(
		[
			lib.fix_identity_create(uai_id, sprintf("Create user-assigned identity `%s` for the workspace's key", [lib.name(uai_id)])),
			lib.fix_attach_identity(workspace.id, uai_id, sprintf("Attach identity `%s` to workspace `%s`", [lib.name(uai_id), workspace.name])),
		],
		array.concat(
			[grant_new_identity | has_vault],
			[lib.fix_manual(
				"Point the workspace's encryption at the identity",
				"Set properties.encryption.identity.userAssignedIdentity to the new identity where the service allows changing it; otherwise recreate the workspace with the key and --primary-user-assigned-identity.",
				["az", "resource", "update", "--ids", workspace.id, "--set", sprintf("properties.encryption.identity.userAssignedIdentity=%s", [uai_id])],
			)],
		),
	),
} if {
	not has_identity
} else := {
	"status": "fail",
	"message": sprintf("%s is not attached to the workspace (identity.userAssignedIdentities), so the workspace cannot use it to reach its key", [label]),
	"remediation": [lib.fix_attach_identity(workspace.id, identity_id, sprintf("Attach identity `%s` to workspace `%s`", [lib.name(identity_id), workspace.name]))],
} if {
	not lib.attached(workspace, identity_id)
} else := {
	"status": "unknown",
	"message": sprintf("%s: the workspace names no key vault for its key (encryption.keyVaultProperties.keyVaultArmId)", [label]),
} if {
	not has_vault
} else := {
	"status": "unknown",
	"message": sprintf("%s: its principal id is in neither the workspace nor the identity resource", [label]),
} if {
	not principal
} else := {
	"status": "pass",
	"message": sprintf("%s (principal %s) can use the key in vault `%s`: %s", [label, principal, lib.name(vault_id), key_use.summary]),
	"evidence": key_use.evidence,
} if {
	key_use.decision == "granted"
} else := {
	"status": "unknown",
	"message": sprintf("%s (principal %s): whether it can use the key in vault `%s` cannot be decided: %s", [label, principal, lib.name(vault_id), key_use.summary]),
	"evidence": key_use.evidence,
} if {
	key_use.decision == "unknown"
} else := {
	"status": "fail",
	"message": sprintf("%s (principal %s) cannot use the key in vault `%s`: %s", [label, principal, lib.name(vault_id), key_use.summary]),
	"evidence": key_use.evidence,
	"remediation": [grant_key(principal)],
}
