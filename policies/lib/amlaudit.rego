# METADATA
# title: amlaudit rule library
# description: >-
#   Helpers shared by the bundled rules and available to user rules as `data.amlaudit.lib`:
#   the permission engine, ARM id parts, workspace matching and remediation commands.
package amlaudit.lib

import rego.v1

pull_action := "Microsoft.ContainerRegistry/registries/pull/read"

# The permission engine's decision for a control-plane action:
# {"decision": "granted"|"denied"|"unknown", "summary", "evidence", "reasons", ...}.
# Rules call these wrappers rather than the host builtins so that tests can replace them with
# `with data.amlaudit.lib.access as mock` (a host builtin cannot be replaced with `with`).
access(principal, scope, action) := amlaudit.access(principal, scope, action)

# The same for a data action.
data_access(principal, scope, action) := amlaudit.data_access(principal, scope, action)

# The decision for a principal that is not known: never a pass.
unknown_principal(scope, action, why) := {
	"decision": "unknown",
	"principal": null,
	"scope": scope,
	"action": action,
	"summary": why,
	"evidence": [],
	"reasons": [why],
}

# The value after `/<key>/` in an ARM id, matched case-insensitively.
id_part(id, key) := value if {
	parts := split(id, "/")
	some i, part in parts
	lower(part) == lower(key)
	value := parts[i + 1]
}

subscription(id) := id_part(id, "subscriptions")

resource_group(id) := id_part(id, "resourceGroups")

# The last segment of an id.
name(id) := value if {
	parts := split(trim_right(id, "/"), "/")
	value := parts[count(parts) - 1]
}

same_id(a, b) if lower(trim_right(a, "/")) == lower(trim_right(b, "/"))

# Whether a parameter entry (a workspace name or id) names this workspace.
names_workspace(entry, workspace) if same_id(entry, workspace.id)

names_workspace(entry, workspace) if lower(entry) == lower(workspace.name)

# Whether a workspace deploys to Azure Container Instances: a v1 service of compute type ACI,
# or listed in the aci_workspaces parameter.
deploys_to_aci(workspace, services) if {
	some service in services
	lower(object.get(service, ["properties", "computeType"], "")) == "aci"
}

deploys_to_aci(workspace, _) if {
	some entry in data.amlaudit.params.aci_workspaces
	names_workspace(entry, workspace)
}

# `--subscription <sub>` for az commands on a resource.
target_args(id) := ["--resource-group", resource_group(id), "--subscription", subscription(id)]

# A role assignment for a managed identity; kept for rules written before `fix_role_assignment`.
grant(principal_id, role, scope, description) := fix_role_assignment(principal_id, role, scope, description)
