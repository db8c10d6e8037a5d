package amlaudit.rules.contoso_compute_no_registry_push_test

import rego.v1

registry_id := "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.ContainerRegistry/registries/mlacrdev"

workspace_id := "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev"

system_assigned := {"kind": "system_assigned", "principal_id": "93842ea6-95b9-4bd7-bbc4-bb7d683337d3", "client_id": null, "resource_id": null}

# The input amlaudit builds for a compute, cut down to what the rule reads.
compute(compute_type, registry, identities) := {
	"id": concat("/", [workspace_id, "computes", "dev-cluster-4"]),
	"name": "dev-cluster-4",
	"resource": {
		"id": concat("/", [workspace_id, "computes", "dev-cluster-4"]),
		"name": "dev-cluster-4",
		"properties": {"computeType": compute_type},
	},
	"workspace": {"id": workspace_id, "name": "mlw-dev"},
	"registry_id": registry,
	"identities": identities,
}

cluster := compute("AmlCompute", registry_id, [system_assigned])

# Mocks of data.amlaudit.lib.access. They use only their arguments and literals: regorus leaves
# the rules of a package undefined while a mock runs.
contributor(principal, scope, action) := {
	"decision": "granted",
	"principal": principal,
	"scope": scope,
	"action": action,
	"summary": "granted by Contributor at /subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d",
	"reasons": [],
	"evidence": [{
		"assignment_id": "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/providers/Microsoft.Authorization/roleAssignments/a1",
		"role_name": "Contributor",
		"role_definition_id": "b24988ac-6180-42a0-ab88-20f7382dd24c",
		"scope": "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d",
		"contribution": "grants",
		"detail": "Contributor allows * at the subscription",
	}],
}

acr_pull(principal, scope, action) := {
	"decision": "denied",
	"principal": principal,
	"scope": scope,
	"action": action,
	"summary": "no applicable assignment grants push/write",
	"reasons": ["no applicable assignment grants push/write"],
	"evidence": [],
}

test_only_aml_compute_is_evaluated if {
	data.amlaudit.rules.contoso_compute_no_registry_push.applicable with input as cluster
	not data.amlaudit.rules.contoso_compute_no_registry_push.applicable with input as compute("ComputeInstance", registry_id, [])
}

test_fail_when_an_identity_can_push if {
	r := data.amlaudit.rules.contoso_compute_no_registry_push.result with input as cluster
		with data.amlaudit.lib.access as contributor
	r.status == "fail"
	r.message == "compute `dev-cluster-4` of workspace `mlw-dev` can push to `mlacrdev`: granted by Contributor at /subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d"
	[grant, delete] := r.remediation
	grant.edit == {
		"kind": "role_assignment",
		"principal_id": "93842ea6-95b9-4bd7-bbc4-bb7d683337d3",
		"role": "AcrPull",
		"scope": registry_id,
	}
	delete.edit.kind == "manual"
	delete.edit.argv == ["az", "role", "assignment", "delete", "--ids", "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/providers/Microsoft.Authorization/roleAssignments/a1"]
}

test_pass_when_no_identity_can_push if {
	r := data.amlaudit.rules.contoso_compute_no_registry_push.result with input as cluster
		with data.amlaudit.lib.access as acr_pull
	r.status == "pass"
	count(r.evidence) == 1
}

test_pass_without_identities if {
	r := data.amlaudit.rules.contoso_compute_no_registry_push.result with input as compute("AmlCompute", registry_id, [])
	r.status == "pass"
}

test_pass_when_the_parameter_allows_it if {
	r := data.amlaudit.rules.contoso_compute_no_registry_push.result with input as cluster
		with data.amlaudit.lib.access as contributor
		with data.amlaudit.params as {"x_contoso_push_allowed": ["DEV-CLUSTER-4"]}
	r.status == "pass"
	contains(r.message, "x_contoso_push_allowed lists it")
}

# Unmocked, the builtin answers from an empty permission index: unknown.
test_unknown_when_the_engine_cannot_decide if {
	r := data.amlaudit.rules.contoso_compute_no_registry_push.result with input as cluster
	r.status == "unknown"
}

test_unknown_when_a_principal_is_missing if {
	no_principal := object.union(system_assigned, {"principal_id": null})
	r := data.amlaudit.rules.contoso_compute_no_registry_push.result with input as compute("AmlCompute", registry_id, [no_principal])
	r.status == "unknown"
	contains(r.message, "an identity's principal id is not in the snapshot")
}

test_not_applicable_without_a_registry if {
	r := data.amlaudit.rules.contoso_compute_no_registry_push.result with input as compute("AmlCompute", null, [system_assigned])
	r.status == "not_applicable"
}
