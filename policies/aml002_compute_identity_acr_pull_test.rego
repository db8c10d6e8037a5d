package amlaudit.rules.compute_identity_acr_pull_test

import rego.v1

# The rule is referred to by its full path: regorus evaluates every rule of a package that is
# reached through an import alias, which is not what `amlaudit scan` does.

sub := "b61e6ba5-3682-4dd6-b804-69b84b2d451c"

workspace_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-prod/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod", [sub])

registry_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-prod/providers/Microsoft.ContainerRegistry/registries/mlacrprod", [sub])

base_images := sprintf("/subscriptions/%s/resourceGroups/rg-shared-images/providers/Microsoft.ContainerRegistry/registries/contosobaseimages", [sub])

uai_id := sprintf("/subscriptions/%s/resourceGroups/rg-ml-prod/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-training", [sub])

system_assigned := {"kind": "system_assigned", "principal_id": "d66b4b4d-b47a-4101-8681-89f46a84e8d5", "client_id": null, "resource_id": null}

user_assigned := {"kind": "user_assigned", "principal_id": "939ae232-588e-4bce-b71e-d78a1dc02e27", "client_id": "c1", "resource_id": uai_id}

# The input of a compute: the resource, its workspace and registry, and its identities.
doc(compute_type, registry, identities) := {
	"id": sprintf("%s/computes/gpu-cluster", [workspace_id]),
	"name": "gpu-cluster",
	"type": "Microsoft.MachineLearningServices/workspaces/computes",
	"resource": {
		"id": sprintf("%s/computes/gpu-cluster", [workspace_id]),
		"name": "gpu-cluster",
		"properties": {"computeType": compute_type},
	},
	"workspace": {"id": workspace_id, "name": "mlw-prod", "properties": {"containerRegistry": registry}},
	"registry_id": registry,
	"registry": null,
	"identities": identities,
}

aml_compute(identities) := doc("AmlCompute", registry_id, identities)

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

# Mocks see their arguments, literals and functions, but regorus leaves the rules of a package
# undefined while a mock runs, so they spell out the ids they compare with.

# Pull on the workspace registry only.
workspace_registry_only(principal, scope, action) := granted(principal, scope, action) if {
	endswith(lower(scope), "/registries/mlacrprod")
} else := denied(principal, scope, action)

# The user-assigned identity pulls; the system-assigned one does not.
user_assigned_only(principal, scope, action) := granted(principal, scope, action) if {
	principal == "939ae232-588e-4bce-b71e-d78a1dc02e27"
} else := denied(principal, scope, action)

test_not_applicable_to_other_compute_types if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as doc("ComputeInstance", registry_id, [system_assigned])
	r.status == "not_applicable"
	r.message == "compute `gpu-cluster` is of type `ComputeInstance`; only AmlCompute clusters pull training images with their identity"
	data.amlaudit.rules.compute_identity_acr_pull.result.status == "not_applicable" with input as doc("AKS", registry_id, [])
	data.amlaudit.rules.compute_identity_acr_pull.result.status == "not_applicable" with input as doc(null, registry_id, [])
	data.amlaudit.rules.compute_identity_acr_pull.is_cluster with input as doc("amlcompute", registry_id, [])
}

test_unknown_when_the_workspace_is_not_in_the_snapshot if {
	orphan := object.union(aml_compute([system_assigned]), {"workspace": null, "registry_id": null})
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as orphan
	r.status == "unknown"
	contains(r.message, "its workspace is not in the snapshot")
}

test_unknown_when_the_workspace_has_no_properties if {
	bare := {"id": workspace_id, "name": "mlw-prod", "properties": null}
	with_identity := object.union(aml_compute([system_assigned]), {"workspace": bare, "registry_id": null})
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as with_identity
	r.status == "unknown"
	contains(r.message, "workspace `mlw-prod` has no properties in the snapshot")
	contains(r.message, "which container registry it uses is not known")
	without_identity := object.union(aml_compute([]), {"workspace": bare, "registry_id": null})
	data.amlaudit.rules.compute_identity_acr_pull.result.status == "unknown" with input as without_identity
}

test_not_applicable_without_a_workspace_registry if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as doc("AmlCompute", null, [system_assigned])
	r.status == "not_applicable"
	r.message == "workspace `mlw-prod` has no container registry yet"
}

test_pass_when_an_identity_is_granted_pull if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned]) with data.amlaudit.lib.pull as granted
	r.status == "pass"
	r.message == "compute `gpu-cluster` of workspace `mlw-prod` can pull from `mlacrprod`"
	count(r.evidence) == 1
	r.evidence[0].action == ["azureml/azureml_image"]
}

test_pass_when_one_of_several_identities_is_granted if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned, user_assigned]) with data.amlaudit.lib.pull as user_assigned_only
	r.status == "pass"
}

test_fail_without_a_managed_identity if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([])
	r.status == "fail"
	r.message == "compute `gpu-cluster` of workspace `mlw-prod` has no managed identity, so it cannot pull from `mlacrprod`"
	r.remediation == [
		{
			"description": "Give compute `gpu-cluster` a system-assigned identity",
			"edit": {"kind": "compute_identity", "compute": sprintf("%s/computes/gpu-cluster", [workspace_id]), "type": "SystemAssigned", "user_assigned_identities": []},
		},
		{
			"description": "Grant the new identity AcrPull on registry `mlacrprod`",
			"edit": {"kind": "role_assignment", "principal_from_step": 0, "role": "AcrPull", "scope": registry_id},
		},
		# The registry is not in the input, so its permission mode is unknown: both pull roles.
		{
			"description": "Grant the new identity Container Registry Repository Reader on registry `mlacrprod`",
			"edit": {"kind": "role_assignment", "principal_from_step": 0, "role": "Container Registry Repository Reader", "scope": registry_id},
		},
	]
}

test_fail_when_no_identity_is_granted_grants_the_system_assigned_one if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([user_assigned, system_assigned]) with data.amlaudit.lib.pull as denied
	r.status == "fail"
	contains(r.message, "system-assigned principal d66b4b4d-b47a-4101-8681-89f46a84e8d5")
	contains(r.message, "user-assigned identity `uai-training` (principal 939ae232-588e-4bce-b71e-d78a1dc02e27)")
	contains(r.message, "has no pull on `mlacrprod`: denied (mock)")
	r.remediation == [
		{
			"description": "Grant system-assigned principal d66b4b4d-b47a-4101-8681-89f46a84e8d5 AcrPull on registry `mlacrprod`",
			"edit": {"kind": "role_assignment", "principal_id": "d66b4b4d-b47a-4101-8681-89f46a84e8d5", "role": "AcrPull", "scope": registry_id},
		},
		{
			"description": "Grant system-assigned principal d66b4b4d-b47a-4101-8681-89f46a84e8d5 Container Registry Repository Reader on registry `mlacrprod`",
			"edit": {"kind": "role_assignment", "principal_id": "d66b4b4d-b47a-4101-8681-89f46a84e8d5", "role": "Container Registry Repository Reader", "scope": registry_id},
		},
	]
}

test_fail_with_only_a_user_assigned_identity_grants_it if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([user_assigned]) with data.amlaudit.lib.pull as denied
	r.status == "fail"
	r.remediation[0].edit.principal_id == user_assigned.principal_id
}

test_fail_on_a_private_registry_listed_for_the_workspace if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned])
		with data.amlaudit.params as {"private_registries": {"MLW-PROD": [base_images]}, "aci_workspaces": []}
		with data.amlaudit.lib.pull as workspace_registry_only
	r.status == "fail"
	contains(r.message, "has no pull on `contosobaseimages`")
	not contains(r.message, "`mlacrprod`")
	# The id keeps the spelling of the parameters.
	r.remediation[0].edit.scope == base_images
	count(r.evidence) == 2
}

test_private_registries_of_other_workspaces_do_not_apply if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned])
		with data.amlaudit.params as {"private_registries": {"mlw-dev": [base_images]}}
		with data.amlaudit.lib.pull as workspace_registry_only
	r.status == "pass"
}

test_unknown_when_the_decision_is_unknown if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned]) with data.amlaudit.lib.pull as undecided
	r.status == "unknown"
	r.message == "compute `gpu-cluster` of workspace `mlw-prod`: pull on `mlacrprod` cannot be decided: unknown (mock)"
}

test_unknown_when_the_principal_is_not_in_the_snapshot if {
	no_principal := object.union(user_assigned, {"principal_id": null})
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([no_principal]) with data.amlaudit.lib.pull as denied
	r.status == "unknown"
	contains(r.message, sprintf("the principal id of identity %s is not in the snapshot", [uai_id]))
}

test_unknown_with_the_real_builtin_and_no_snapshot if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned])
	r.status == "unknown"
}

test_repository_reader_on_a_workspace_registry_in_abac_mode if {
	abac := {"id": registry_id, "name": "mlacrprod", "properties": {"roleAssignmentMode": "AbacRepositoryPermissions"}}
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as object.union(aml_compute([system_assigned]), {"registry": abac})
		with data.amlaudit.lib.pull as denied
	r.status == "fail"
	r.remediation[0].edit.role == "Container Registry Repository Reader"
}

test_the_workspace_registry_is_asked_for_azure_ml_repositories if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned])
		with data.amlaudit.params as {"private_registries": {"mlw-prod": [base_images]}}
		with data.amlaudit.lib.pull as denied
	# The mock echoes the repositories as its action.
	some e in r.evidence
	e.action == ["azureml/azureml_image"]
	some p in r.evidence
	p.action == []
}

deny_id := "/subscriptions/s/providers/Microsoft.Authorization/denyAssignments/d1"

denied_by_a_deny_assignment(principal, scope, action) := object.union(decision("denied", principal, scope, action), {"evidence": [{"contribution": "denies", "kind": "deny_assignment", "assignment_id": deny_id}]})

test_fail_blocked_by_a_deny_assignment_offers_no_grant if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned]) with data.amlaudit.lib.pull as denied_by_a_deny_assignment
	r.status == "fail"
	count(r.remediation) == 1
	r.remediation[0].edit.kind == "manual"
	contains(r.remediation[0].edit.text, deny_id)
}

# A login server where a registry id belongs: the registry cannot be asked about, so the result is
# unknown even though the workspace registry is granted.
test_unknown_when_a_private_registry_is_not_a_resource_id if {
	r := data.amlaudit.rules.compute_identity_acr_pull.result with input as aml_compute([system_assigned])
		with data.amlaudit.lib.pull as granted
		with data.amlaudit.params as {"private_registries": {"mlw-prod": ["contosobaseimages.azurecr.io", base_images]}}
	r.status == "unknown"
	contains(r.message, "lists `contosobaseimages.azurecr.io` for this workspace, which is not a registry resource id")
	not r.remediation
}
