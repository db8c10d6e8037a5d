# METADATA
# title: Compute identities can pull from the workspace registry
# description: >-
#   Compute clusters pull training images with their managed identity, so some identity of every
#   AmlCompute cluster (system-assigned or user-assigned) must effectively hold
#   Microsoft.ContainerRegistry/registries/pull/read on the workspace registry, and on every private
#   base-image registry listed for the workspace in the private_registries parameter. The decision
#   comes from the permission engine (inherited scopes, management groups, custom roles, wildcards,
#   notActions, ABAC conditions), never from a role name. A cluster created before the workspace
#   registry existed does not get AcrPull by itself.
# related_resources:
#   - ref: https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-azure-container-registry-without-admin-user
# custom:
#   id: AML002
#   name: compute-identity-acr-pull
#   severity: high
#   resource_type: Microsoft.MachineLearningServices/workspaces/computes
#   remediation: Give the cluster a managed identity if it has none, then assign AcrPull on each registry it pulls from.
#   frameworks: [MCSB IM-3, MCSB PA-7]
package amlaudit.rules.compute_identity_acr_pull

import data.amlaudit.lib
import rego.v1

compute := input.resource

applicable if lower(object.get(compute, ["properties", "computeType"], "")) == "amlcompute"

# The registries this cluster must pull from: the workspace registry and the private ones
# listed for its workspace.
registries := {lower(r) | some r in array.concat(workspace_registry, private_registries)}

workspace_registry := [input.registry_id] if input.registry_id != null

else := []

private_registries := [r |
	some key, listed in data.amlaudit.params.private_registries
	lib.names_workspace(key, input.workspace)
	some r in listed
]

# The permission engine's answer, per registry, for every identity whose principal is known.
decisions := {r: [lib.access(i.principal_id, r, lib.pull_action) |
	some i in input.identities
	i.principal_id != null
] | some r in registries}

# Identities whose principal the snapshot does not say can never count as granted.
unresolved := {sprintf("the principal id of identity %s is not in the snapshot", [i.resource_id]) |
	some i in input.identities
	i.principal_id == null
}

granted := {r | some r, ds in decisions; some d in ds; d.decision == "granted"}

# Registries no identity is granted pull on, but some identity might be.
undecided := {r | some r, ds in decisions; not r in granted; some d in ds; d.decision == "unknown"} | {r |
	some r in registries
	not r in granted
	count(unresolved) > 0
}

missing := (registries - granted) - undecided

evidence := [d | some ds in decisions; some d in ds]

target := sprintf("compute `%s` of workspace `%s`", [compute.name, input.workspace.name])

# Which identity a fix should grant to: the system-assigned one when there is one.
grantee := identity if {
	some identity in input.identities
	identity.kind == "system_assigned"
	identity.principal_id != null
} else := identity if {
	some identity in input.identities
	identity.principal_id != null
}

identity_label(identity) := sprintf("system-assigned principal %s", [identity.principal_id]) if {
	identity.kind == "system_assigned"
} else := sprintf("user-assigned identity `%s` (principal %s)", [lib.name(identity.resource_id), identity.principal_id])

result := {
	"status": "not_applicable",
	"message": sprintf("workspace `%s` has no container registry yet", [input.workspace.name]),
} if {
	count(registries) == 0
} else := {
	"status": "fail",
	"message": sprintf("%s has no managed identity, so it cannot pull from %s", [target, concat(", ", sort([sprintf("`%s`", [lib.name(r)]) | some r in registries]))]),
	"remediation": array.concat(
		[lib.fix_compute_identity(compute.id, "SystemAssigned", [], sprintf("Give compute `%s` a system-assigned identity", [compute.name]))],
		[fix |
			some r in sort([x | some x in registries])
			fix := lib.fix_role_assignment_from_step(0, "AcrPull", original_id(r), sprintf("Then grant the new identity AcrPull on registry `%s`", [lib.name(r)]))
		],
	),
} if {
	count(input.identities) == 0
} else := {
	"status": "fail",
	"message": sprintf("%s (%s) has no pull on %s: %s", [
		target,
		concat(", ", [identity_label(i) | some i in input.identities; i.principal_id != null]),
		concat(", ", sort([sprintf("`%s`", [lib.name(r)]) | some r in missing])),
		concat("; ", {d.summary | some r in missing; some d in decisions[r]}),
	]),
	"evidence": evidence,
	"remediation": [lib.grant(grantee.principal_id, "AcrPull", registry_id, sprintf("Grant %s AcrPull on registry `%s`", [identity_label(grantee), lib.name(registry_id)])) |
		some r in sort([x | some x in missing])
		registry_id := original_id(r)
	],
} if {
	count(missing) > 0
} else := {
	"status": "unknown",
	"message": sprintf("%s: pull on %s cannot be decided: %s", [
		target,
		concat(", ", sort([sprintf("`%s`", [lib.name(r)]) | some r in undecided])),
		concat("; ", {d.summary | some r in undecided; some d in decisions[r]; d.decision == "unknown"} | unresolved),
	]),
	"evidence": evidence,
} if {
	count(undecided) > 0
} else := {
	"status": "pass",
	"message": sprintf("%s can pull from %s", [target, concat(", ", sort([sprintf("`%s`", [lib.name(r)]) | some r in registries]))]),
	"evidence": evidence,
}

# Registry ids as the snapshot spells them, for commands a person reads.
original_id(lowered) := input.registry_id if {
	input.registry_id != null
	lower(input.registry_id) == lowered
} else := lowered
