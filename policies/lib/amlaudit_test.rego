package amlaudit.lib_test

import data.amlaudit.lib
import rego.v1

registry_id := "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c/resourceGroups/rg-ml-prod/providers/Microsoft.ContainerRegistry/registries/mlacrprod"

workspace := {
	"id": "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev",
	"name": "mlw-dev",
}

# Tests run against an empty permission index, so the real builtins answer `unknown`: nothing a
# rule could mistake for a grant.
test_access_answers_unknown_without_a_snapshot if {
	d := lib.access("d66b4b4d-b47a-4101-8681-89f46a84e8d5", registry_id, lib.pull_action)
	d.decision == "unknown"
	d.action == lib.pull_action
	d.data_action == false
}

test_pull_answers_unknown_without_a_snapshot if {
	d := lib.pull("d66b4b4d-b47a-4101-8681-89f46a84e8d5", registry_id, lib.azureml_repositories)
	d.decision == "unknown"
	d.mode == "unknown"
	d.repositories == ["azureml/azureml_image"]
}

test_data_access_answers_unknown_without_a_snapshot if {
	d := lib.data_access("bce1cb34-00e2-47d7-9eda-7e46a386c4a7", registry_id, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write")
	d.decision == "unknown"
	d.data_action == true
}

test_unknown_principal_is_an_unknown_decision if {
	d := lib.unknown_principal(registry_id, lib.pull_action, "no principal id")
	d == {
		"decision": "unknown",
		"principal": null,
		"scope": registry_id,
		"action": lib.pull_action,
		"summary": "no principal id",
		"evidence": [],
		"reasons": ["no principal id"],
	}
}

test_id_parts_ignore_case if {
	lib.subscription(registry_id) == "b61e6ba5-3682-4dd6-b804-69b84b2d451c"
	lib.resource_group("/subscriptions/s1/resourcegroups/RG-Ml/providers/x/y/z") == "RG-Ml"
	lib.name(concat("", [registry_id, "/"])) == "mlacrprod"
	not lib.id_part(registry_id, "workspaces")
}

test_same_id_ignores_case_and_trailing_slash if {
	lib.same_id(upper(registry_id), concat("", [registry_id, "/"]))
	not lib.same_id(registry_id, "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c")
}

test_a_workspace_is_named_by_name_or_id if {
	lib.names_workspace("MLW-DEV", workspace)
	lib.names_workspace(upper(workspace.id), workspace)
	not lib.names_workspace("mlw-prod", workspace)
}

test_deploys_to_aci_with_an_aci_service if {
	lib.deploys_to_aci(workspace, [{"name": "score-aci", "properties": {"computeType": "ACI"}}])
	not lib.deploys_to_aci(workspace, [{"name": "legacy-aks", "properties": {"computeType": "AKS"}}, {"name": "bare"}])
}

test_deploys_to_aci_when_listed_in_the_parameter if {
	lib.deploys_to_aci(workspace, []) with data.amlaudit.params as {"aci_workspaces": ["mlw-dev"]}
	not lib.deploys_to_aci(workspace, []) with data.amlaudit.params as {"aci_workspaces": ["mlw-prod"]}
}

test_target_args if {
	lib.target_args(registry_id) == ["--resource-group", "rg-ml-prod", "--subscription", "b61e6ba5-3682-4dd6-b804-69b84b2d451c"]
}

test_grant_is_a_role_assignment_edit if {
	lib.grant("p1", "AcrPull", registry_id, "Grant it") == {
		"description": "Grant it",
		"edit": {"kind": "role_assignment", "principal_id": "p1", "role": "AcrPull", "scope": registry_id},
	}
}

test_pull_roles_follow_the_registry_mode if {
	lib.pull_roles({"properties": {"roleAssignmentMode": "AbacRepositoryPermissions"}}) == ["Container Registry Repository Reader"]
	lib.pull_roles({"properties": {"roleAssignmentMode": "LegacyRegistryPermissions"}}) == ["AcrPull"]
	lib.pull_roles({"properties": {}}) == ["AcrPull", "Container Registry Repository Reader"]
	lib.pull_roles(null) == ["AcrPull", "Container Registry Repository Reader"]
}
