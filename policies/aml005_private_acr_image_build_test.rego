package amlaudit.rules.private_acr_image_build_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

sub := "b61e6ba5-3682-4dd6-b804-69b84b2d451c"

workspace_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-build/providers/Microsoft.MachineLearningServices/workspaces/mlw-build", [sub])

connection_id := sprintf("%s/connections/private-base-images", [workspace_id])

uai_id := sprintf("/subscriptions/%s/resourceGroups/rg-shared-images/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-image-build", [sub])

base_images_id := sprintf("/subscriptions/%s/resourceGroups/rg-shared-images/providers/Microsoft.ContainerRegistry/registries/contosobaseimages", [sub])

workspace_principal := "fb68eb68-bda0-4923-bdde-8fcb603ae5da"

uai_principal := "9ce4aa5f-0b47-42d2-9e05-c9906be994f2"

uai_client := "5e3b7c2a-6f0d-4a57-9d51-1c1a2f7e9b33"

connection(properties) := {
	"id": connection_id,
	"name": "private-base-images",
	"type": "Microsoft.MachineLearningServices/workspaces/connections",
	"properties": properties,
}

acr_connection := connection({
	"category": "ContainerRegistry",
	"authType": "ManagedIdentity",
	"target": "https://contosobaseimages.azurecr.io",
	"credentials": {"clientId": uai_client, "resourceId": uai_id},
})

uai := {
	"id": uai_id,
	"name": "uai-image-build",
	"type": "Microsoft.ManagedIdentity/userAssignedIdentities",
	"properties": {"principalId": uai_principal, "clientId": uai_client},
}

registry := {
	"id": base_images_id,
	"name": "contosobaseimages",
	"type": "Microsoft.ContainerRegistry/registries",
	"properties": {"loginServer": "contosobaseimages.azurecr.io"},
}

workspace := {
	"id": workspace_id,
	"name": "mlw-build",
	"identity": {"type": "SystemAssigned", "principalId": workspace_principal},
}

# The input of a connection: the resource, its workspace, the identity it names and the registry
# its target resolves to.
doc(conn, identity, target) := doc_in(workspace, conn, identity, target)

doc_in(ws, conn, identity, target) := {
	"id": connection_id,
	"name": "private-base-images",
	"type": "Microsoft.MachineLearningServices/workspaces/connections",
	"resource": conn,
	"workspace": ws,
	"registry_id": null,
	"registry": null,
	"credential": {
		"resource_id": object.get(conn, ["properties", "credentials", "resourceId"], null),
		"client_id": object.get(conn, ["properties", "credentials", "clientId"], null),
	},
	"credential_identity": identity,
	"credential_identity_coverage": "complete",
	"target_registry": target,
}

complete := doc(acr_connection, uai, registry)

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


test_not_applicable_to_other_connections if {
	data.amlaudit.rules.private_acr_image_build.applicable with input as complete
	acr := doc(connection(object.union(acr_connection.properties, {"category": "ACR"})), uai, registry)
	data.amlaudit.rules.private_acr_image_build.applicable with input as acr
	pat := doc(connection(object.union(acr_connection.properties, {"authType": "PAT"})), uai, registry)
	not data.amlaudit.rules.private_acr_image_build.applicable with input as pat
	registry_connection := doc(connection(object.union(acr_connection.properties, {"category": "ACR", "authType": "RegistryConnection"})), uai, registry)
	data.amlaudit.rules.private_acr_image_build.applicable with input as registry_connection
	git := doc(connection({"category": "Git", "authType": "ManagedIdentity"}), null, null)
	not data.amlaudit.rules.private_acr_image_build.applicable with input as git
}

test_pass_when_the_identity_pulls_and_the_workspace_may_assign_it if {
	r := data.amlaudit.rules.private_acr_image_build.result with input as complete with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "pass"
	r.message == "connection `private-base-images` of workspace `mlw-build`: identity `uai-image-build` can pull from `contosobaseimages` and the workspace may use it"
	count(r.evidence) == 2
}

test_fail_without_managed_identity_operator if {
	r := data.amlaudit.rules.private_acr_image_build.result with input as complete with data.amlaudit.lib.access as denied with data.amlaudit.lib.pull as granted
	r.status == "fail"
	contains(r.message, "workspace `mlw-build` (principal fb68eb68-bda0-4923-bdde-8fcb603ae5da) assign on identity `uai-image-build`: denied (mock)")
	r.remediation == [{
		"description": "Grant workspace `mlw-build`'s identity Managed Identity Operator on identity `uai-image-build`",
		"edit": {"kind": "role_assignment", "principal_id": workspace_principal, "role": "Managed Identity Operator", "scope": uai_id},
	}]
}

test_fail_without_pull_grants_acr_pull if {
	r := data.amlaudit.rules.private_acr_image_build.result with input as complete with data.amlaudit.lib.access as denied with data.amlaudit.lib.pull as denied
	r.status == "fail"
	some fix in r.remediation
	fix.edit == {"kind": "role_assignment", "principal_id": uai_principal, "role": "AcrPull", "scope": base_images_id}
}

# The base-image registry does not say its permission mode: the fix grants both pull roles so it
# holds in either mode.
test_fail_without_pull_grants_both_roles_when_the_registry_mode_is_not_known if {
	r := data.amlaudit.rules.private_acr_image_build.result with input as complete with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as denied
	r.status == "fail"
	[fix.edit.role | some fix in r.remediation] == ["AcrPull", "Container Registry Repository Reader"]
}

test_fail_when_the_connection_names_no_identity if {
	no_identity := connection({
		"category": "ContainerRegistry",
		"authType": "ManagedIdentity",
		"target": "https://contosobaseimages.azurecr.io",
		"credentials": {"clientId": uai_client},
	})
	r := data.amlaudit.rules.private_acr_image_build.result with input as doc(no_identity, null, registry)
	r.status == "fail"
	contains(r.message, "the connection names no identity")
	r.remediation == [{
		"description": "Recreate connection `private-base-images` with the resource id and client id of its user-assigned identity",
		"edit": {
			"kind": "connection_recreate",
			"connection": connection_id,
			"target": "https://contosobaseimages.azurecr.io",
			"identity_resource_id": "<resource id of the user-assigned identity>",
			"identity_client_id": "<client id of the user-assigned identity>",
		},
	}]
}

test_fail_when_the_identity_does_not_exist_in_a_complete_subscription if {
	r := data.amlaudit.rules.private_acr_image_build.result with input as doc(acr_connection, null, registry)
		with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "fail"
	contains(r.message, "identity `uai-image-build` is not in the snapshot")
	r.remediation[0].edit == {"kind": "identity_create", "identity": uai_id}
}

test_unknown_when_the_identity_is_in_a_subscription_not_read_completely if {
	partial := object.union(doc(acr_connection, null, registry), {"credential_identity_coverage": "not_covered"})
	r := data.amlaudit.rules.private_acr_image_build.result with input as partial with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	r.message == "connection `private-base-images` of workspace `mlw-build`: identity `uai-image-build` is not in the snapshot"
}

test_fail_when_the_client_id_does_not_match if {
	other_client := connection(object.union(acr_connection.properties, {"credentials": {"clientId": "00000000-0000-0000-0000-000000000001", "resourceId": uai_id}}))
	r := data.amlaudit.rules.private_acr_image_build.result with input as doc(other_client, uai, registry)
		with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "fail"
	contains(r.message, sprintf("the connection's client id 00000000-0000-0000-0000-000000000001 is not identity `uai-image-build`'s client id %s", [uai_client]))
	r.remediation[0].edit.kind == "connection_recreate"
	r.remediation[0].edit.identity_client_id == uai_client
}

test_fail_when_the_workspace_has_no_system_assigned_identity if {
	user_assigned_only := {"id": workspace_id, "name": "mlw-build", "identity": {"type": "UserAssigned"}}
	r := data.amlaudit.rules.private_acr_image_build.result with input as doc_in(user_assigned_only, acr_connection, uai, registry)
		with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "fail"
	contains(r.message, "workspace `mlw-build` has no system-assigned identity to use identity `uai-image-build`")
	r.remediation == [{
		"description": "Turn on workspace `mlw-build`'s system-assigned identity",
		"edit": {
			"kind": "manual",
			"text": "Keep UserAssigned in the identity type if the workspace has user-assigned identities.",
			"argv": ["az", "resource", "update", "--ids", workspace_id, "--set", "identity.type=SystemAssigned,UserAssigned"],
		},
	}]
}

test_unknown_when_the_identity_has_no_principal_id if {
	no_principal := object.union(uai, {"properties": {"principalId": ""}})
	r := data.amlaudit.rules.private_acr_image_build.result with input as doc(acr_connection, no_principal, registry)
		with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	contains(r.message, "identity `uai-image-build` has no principal id in the snapshot")
}

test_unknown_when_no_registry_has_the_target_login_server if {
	r := data.amlaudit.rules.private_acr_image_build.result with input as doc(acr_connection, uai, null)
		with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	contains(r.message, "no registry in the snapshot has login server `https://contosobaseimages.azurecr.io`")
}

test_unknown_when_the_permission_engine_cannot_decide if {
	r := data.amlaudit.rules.private_acr_image_build.result with input as complete with data.amlaudit.lib.access as undecided with data.amlaudit.lib.pull as undecided
	r.status == "unknown"
	count(r.evidence) == 2
}

# The guidance's v1 SDK shape: authType RegistryConnection, the identity in `value` (the input's
# `credential` holds what amlaudit read from it).
test_pass_with_the_v1_registry_connection_shape if {
	v1 := connection({
		"category": "ACR",
		"authType": "RegistryConnection",
		"target": "contosobaseimages.azurecr.io",
		"value": "{\"ResourceId\": \"x\", \"ClientId\": \"y\"}",
		"valueFormat": "JSON",
	})
	input_doc := object.union(doc(v1, uai, registry), {"credential": {"resource_id": uai_id, "client_id": upper(uai_client)}})
	r := data.amlaudit.rules.private_acr_image_build.result with input as input_doc
		with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "pass"
}

test_unknown_when_the_workspace_is_not_in_the_snapshot if {
	orphan := object.union(complete, {"workspace": null})
	r := data.amlaudit.rules.private_acr_image_build.result with input as orphan
		with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as granted
	r.status == "unknown"
	r.message == "connection `private-base-images` of workspace `mlw-build`: the workspace is not in the snapshot, so whether it may use the connection's identity is not known"
}

test_pull_role_is_repository_reader_in_abac_mode if {
	abac := object.union(registry, {"properties": {"roleAssignmentMode": "AbacRepositoryPermissions"}})
	r := data.amlaudit.rules.private_acr_image_build.result with input as doc(acr_connection, uai, abac)
		with data.amlaudit.lib.access as granted with data.amlaudit.lib.pull as denied
	r.status == "fail"
	[fix.edit.role | some fix in r.remediation] == ["Container Registry Repository Reader"]
}
