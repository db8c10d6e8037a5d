# METADATA
# title: Compute identities cannot push to the workspace registry
# description: >-
#   Training jobs only pull images. An AmlCompute identity that can push
#   (Microsoft.ContainerRegistry/registries/push/write) lets any job on the cluster overwrite the
#   images other workloads run. Clusters listed by name or id in the x_contoso_push_allowed
#   parameter (image builders) may push.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/container-registry/container-registry-roles
# custom:
#   id: CONTOSO001
#   name: compute-identity-no-registry-push
#   severity: medium
#   resource_type: Microsoft.MachineLearningServices/workspaces/computes
#   remediation: Grant the identity AcrPull on the registry and remove the assignment that lets it push.
#   frameworks: [MCSB PA-7]
package amlaudit.rules.contoso_compute_no_registry_push

import data.amlaudit.lib
import rego.v1

push_action := "Microsoft.ContainerRegistry/registries/push/write"

compute := input.resource

applicable if lower(object.get(compute, ["properties", "computeType"], "")) == "amlcompute"

allowed if {
	some entry in object.get(data.amlaudit.params, "x_contoso_push_allowed", [])
	lower(entry) in {lower(compute.name), lower(compute.id)}
}

# The permission engine's answer for each identity of the compute.
decisions := [decide(identity) | some identity in input.identities]

decide(identity) := lib.access(identity.principal_id, input.registry_id, push_action) if {
	identity.principal_id != null
} else := lib.unknown_principal(input.registry_id, push_action, "an identity's principal id is not in the snapshot")

pushers := [d | some d in decisions; d.decision == "granted"]

undecided := [d | some d in decisions; d.decision == "unknown"]

# The assignments that let a pusher push, from the decision's evidence.
granting contains [d.principal, e] if {
	some d in pushers
	some e in d.evidence
	e.contribution == "grants"
}

role_of(e) := e.role_name if is_string(e.role_name)

else := e.role_definition_id

registry := lib.name(input.registry_id)

label := sprintf("compute `%s` of workspace `%s`", [compute.name, input.workspace.name])

result := {
	"status": "not_applicable",
	"message": sprintf("workspace `%s` has no container registry yet", [input.workspace.name]),
} if {
	input.registry_id == null
} else := {
	"status": "pass",
	"message": sprintf("%s may push to `%s`: x_contoso_push_allowed lists it", [label, registry]),
} if {
	allowed
} else := {
	"status": "fail",
	"message": sprintf("%s can push to `%s`: %s", [label, registry, concat("; ", [d.summary | some d in pushers])]),
	"evidence": decisions,
	"remediation": array.concat(
		[lib.fix_role_assignment(p, "AcrPull", input.registry_id, sprintf("Grant principal %s AcrPull on `%s`, so that it keeps pulling", [p, registry])) |
			some p in {d.principal | some d in pushers}
		],
		[lib.fix_manual(
			sprintf("Remove the %s assignment at %s, which lets principal %s push", [role_of(e), e.scope, p]),
			"Check what else the assignment grants before deleting it.",
			["az", "role", "assignment", "delete", "--ids", e.assignment_id],
		) |
			some [p, e] in granting
		],
	),
} if {
	count(pushers) > 0
} else := {
	"status": "unknown",
	"message": sprintf("%s: whether it can push to `%s` cannot be decided: %s", [label, registry, concat("; ", [d.summary | some d in undecided])]),
	"evidence": decisions,
} if {
	count(undecided) > 0
} else := {
	"status": "pass",
	"message": sprintf("no identity of %s can push to `%s`", [label, registry]),
	"evidence": decisions,
}
