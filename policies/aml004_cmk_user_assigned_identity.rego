# METADATA
# title: Customer-managed-key workspaces use a user-assigned identity
# description: >-
#   A workspace encrypted with a customer-managed key can authenticate to its key vault with a
#   user-assigned identity (properties.encryption.identity.userAssignedIdentity) instead of the
#   workspace's system-assigned identity, so access to the key survives the workspace identity and
#   can be granted before the workspace exists. Workspaces without customer-managed keys are not
#   applicable.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#user-assigned-managed-identity
#   - ref: https://learn.microsoft.com/azure/machine-learning/concept-customer-managed-keys
# custom:
#   id: AML004
#   name: cmk-user-assigned-identity
#   severity: high
#   resource_type: Microsoft.MachineLearningServices/workspaces
#   remediation: Create a user-assigned identity with Key Vault Crypto Service Encryption User on the key vault and use it for the workspace's encryption.
#   frameworks: [MCSB DP-5, MCSB IM-3]
package amlaudit.rules.cmk_user_assigned_identity

import data.amlaudit.lib
import rego.v1

workspace := input.resource

encryption := object.get(workspace, ["properties", "encryption"], {})

cmk_enabled if lower(object.get(encryption, "status", "")) == "enabled"

identity_id := object.get(encryption, ["identity", "userAssignedIdentity"], "")

key_vault := object.get(encryption, ["keyVaultProperties", "keyVaultArmId"], "")

uai_name := sprintf("%s-cmk", [workspace.name])

uai_id := sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s", [lib.subscription(workspace.id), lib.resource_group(workspace.id), uai_name])

result := {
	"status": "not_applicable",
	"message": sprintf("workspace `%s` does not use a customer-managed key", [workspace.name]),
} if {
	not cmk_enabled
} else := {
	"status": "pass",
	"message": sprintf("workspace `%s` reaches its customer-managed key with user-assigned identity `%s`", [workspace.name, lib.name(identity_id)]),
} if {
	is_string(identity_id)
	identity_id != ""
} else := {
	"status": "fail",
	"message": sprintf("workspace `%s` uses a customer-managed key but no user-assigned identity for it", [workspace.name]),
	"remediation": array.concat(
		[lib.fix_identity_create(uai_id, sprintf("Create user-assigned identity `%s` for the workspace's key", [uai_name]))],
		array.concat(
			[lib.fix_role_assignment_from_step(0, "Key Vault Crypto Service Encryption User", key_vault, "Grant it Key Vault Crypto Service Encryption User on the key vault") |
				key_vault != ""
			],
			[lib.fix_manual(
				"Point the workspace's encryption at the identity",
				"The encryption identity can only be changed where the service allows it; otherwise recreate the workspace with --primary-user-assigned-identity and the key.",
				["az", "resource", "update", "--ids", workspace.id, "--set", sprintf("properties.encryption.identity.userAssignedIdentity=%s", [uai_id])],
			)],
		),
	),
}
