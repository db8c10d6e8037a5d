# METADATA
# title: Compute identities can pull from the workspace registry
# description: >-
#   Compute clusters pull training images with their managed identity, so some identity of every
#   AmlCompute cluster (system-assigned or user-assigned) must effectively hold
#   Microsoft.ContainerRegistry/registries/pull/read on the workspace registry, and on every private
#   base-image registry listed for the workspace in the private_registries parameter. The decision
#   comes from the permission engine (inherited scopes, management groups, custom roles, wildcards,
#   notActions, ABAC conditions), never from a role name. A cluster created before the workspace
#   registry existed does not get AcrPull by itself. Pull is asked in the registry's permission
#   mode (in ABAC repository mode a repository data action, for Azure ML's repositories on the
#   workspace registry), and the fix grants AcrPull or, in ABAC mode, Container Registry Repository
#   Reader. A compute whose workspace has no properties (or is not in the snapshot) is unknown;
#   other compute types are not applicable.
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

# Registries whose pull a deny assignment blocks: granting a role cannot close those.
deniers[r] := {e.assignment_id |
	some d in decisions[r]
	some e in d.evidence
	e.contribution == "denies"
} if some r in missing

blocked := {r | some r, ids in deniers; count(ids) > 0}

compute_type := object.get(compute, ["properties", "computeType"], "")

is_cluster if lib.lower_text(compute_type) == "amlcompute"

# The registries this cluster must pull from, by lower-cased id, each with its id as the
# snapshot or the parameters spell it: the workspace registry and the private ones listed for
# its workspace.
registries := {lower(r): r | some r in array.concat(workspace_registry, private_registries)}

workspace_registry := [input.registry_id] if input.registry_id != null
else := []

listed_private := [r |
	some key, listed in data.amlaudit.params.private_registries
	lib.names_workspace(key, input.workspace)
	some r in listed
]

private_registries := [r | some r in listed_private; is_registry_id(r)]

is_registry_id(r) if {
	is_string(r)
	startswith(lower(r), "/subscriptions/")
	contains(lower(r), "/providers/microsoft.containerregistry/registries/")
}

# A listed private registry that is not a registry's resource id (a login server, say) cannot be
# asked about: the result is unknown, never a pass that skipped it.
unusable_private := {sprintf("private_registries lists `%v` for this workspace, which is not a registry resource id (/subscriptions/S/resourceGroups/G/providers/Microsoft.ContainerRegistry/registries/NAME), so whether the cluster can pull from it is not known", [r]) |
	some r in listed_private
	not is_registry_id(r)
}

# The repositories a pull must reach: Azure ML's own on the workspace registry; none is known on
# a private one.
repositories(r) := lib.azureml_repositories if {
	input.registry_id != null
	lower(input.registry_id) == r
} else := []

# The permission engine's answer, per registry, for every identity whose principal is known.
decisions := {r: [lib.pull(i.principal_id, registries[r], repositories(r)) |
	some i in input.identities
	i.principal_id != null
] | some r, _ in registries}

# Identities whose principal the snapshot does not say can never count as granted.
unresolved := {sprintf("the principal id of identity %s is not in the snapshot", [i.resource_id]) |
	some i in input.identities
	i.principal_id == null
}

granted := {r | some r, ds in decisions; some d in ds; d.decision == "granted"}

# Registries no identity is granted pull on, but some identity might be.
undecided := {r | some r, ds in decisions; not r in granted; some d in ds; d.decision == "unknown"} | {r |
	some r, _ in registries
	not r in granted
	count(unresolved) > 0
}

missing := ({r | some r, _ in registries} - granted) - undecided

evidence := [d | some ds in decisions; some d in ds]

target := sprintf("compute `%s` of workspace `%s`", [compute.name, input.workspace.name])

registry_list(rs) := concat(", ", sort([sprintf("`%s`", [lib.name(registries[r])]) | some r in rs]))

# The role that gives pull: Repository Reader on the workspace registry in ABAC mode.
roles_for(r) := lib.pull_roles(input.registry) if {
	input.registry != null
	lower(input.registry_id) == r
} else := lib.pull_roles(null)

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
	"status": "unknown",
	"message": sprintf("compute `%s`: its workspace is not in the snapshot, so which registries it pulls from is not known", [compute.name]),
} if {
	input.workspace == null
} else := {
	"status": "not_applicable",
	"message": sprintf("compute `%s` is of type `%s`; only AmlCompute clusters pull training images with their identity", [compute.name, compute_type]),
} if {
	not is_cluster
} else := {
	"status": "unknown",
	"message": sprintf("%s: %s", [target, lib.no_properties("workspace", input.workspace, "which container registry it uses")]),
} if {
	not lib.has_properties(input.workspace)
} else := {
	"status": "not_applicable",
	"message": sprintf("workspace `%s` has no container registry yet", [input.workspace.name]),
} if {
	count(registries) == 0
} else := no_identity_failure if {
	count(input.identities) == 0
} else := missing_failure if {
	count(missing) > 0
} else := {
	"status": "unknown",
	"message": sprintf("%s: %s", [target, concat("; ", undecided_reasons)]),
	"evidence": evidence,
} if {
	count(undecided_reasons) > 0
} else := {
	"status": "pass",
	"message": sprintf("%s can pull from %s", [target, registry_list({r | some r, _ in registries})]),
	"evidence": evidence,
}

# Why the result is unknown: registries whose pull cannot be decided, and listed private
# registries that cannot be asked about.
undecided_reasons := array.concat(
	[sprintf("pull on %s cannot be decided: %s", [
		registry_list(undecided),
		concat("; ", {d.summary | some r in undecided; some d in decisions[r]; d.decision == "unknown"} | unresolved),
	]) |
		count(undecided) > 0
	],
	sort([reason | some reason in unusable_private]),
)

# The failures' results are rules of their own: as one `result`, its branches would need more
# registers than the bytecode VM's window holds (src/policy/vm.rs), and AML002 is most of a scan.
no_identity_failure := {
	"status": "fail",
	"message": sprintf("%s has no managed identity, so it cannot pull from %s", [target, registry_list({r | some r, _ in registries})]),
	"remediation": array.concat(
		[lib.fix_compute_identity(compute.id, "SystemAssigned", [], sprintf("Give compute `%s` a system-assigned identity", [compute.name]))],
		[lib.fix_role_assignment_from_step(0, role, registries[r], sprintf("Grant the new identity %s on registry `%s`", [role, lib.name(registries[r])])) |
			some r in sort([x | some x, _ in registries])
			some role in roles_for(r)
		],
	),
}

missing_failure := {
	"status": "fail",
	"message": sprintf("%s (%s) has no pull on %s: %s", [
		target,
		concat(", ", [identity_label(i) | some i in input.identities; i.principal_id != null]),
		registry_list(missing),
		concat("; ", {d.summary | some r in missing; some d in decisions[r]}),
	]),
	"evidence": evidence,
	"remediation": array.concat(
		[lib.fix_role_assignment(grantee.principal_id, role, registries[r], sprintf("Grant %s %s on registry `%s`", [identity_label(grantee), role, lib.name(registries[r])])) |
			some r in sort([x | some x in missing - blocked])
			some role in roles_for(r)
		],
		[lib.fix_manual(
			sprintf("Lift the deny assignment that blocks pull on registry `%s`", [lib.name(registries[r])]),
			sprintf("A deny assignment (%s) denies this identity the pull, and a deny assignment wins over every role assignment, so no grant can fix it. Deny assignments are created by Azure Blueprints, managed applications or deployment stacks: exclude the identity there (excludePrincipals) or move the cluster to an identity the deny assignment does not cover.", [concat(", ", sort(deniers[r]))]),
			[],
		) |
			some r in sort([x | some x in blocked])
		],
	),
}
