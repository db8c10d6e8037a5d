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

# "Can the principal pull these repositories from the registry?", answered knowing the registry's
# mode: legacy registries ask the action registries/pull/read, ABAC-mode registries the data
# action registries/repositories/content/read (conditions on the repository name are evaluated
# for each repository), an unknown mode asks both. The decision object adds `mode`
# ("legacy" | "abac" | "unknown") and `repositories`. An empty array names no repository: a
# condition on the repository name is then unknown.
pull(principal_id, registry_id, repositories) := amlaudit.pull(principal_id, registry_id, repositories)

# The repositories a pull of Azure ML's own images is asked about: Azure ML names its images
# `azureml/azureml_<hash>`, and a condition on the repository name is evaluated for this one.
azureml_repositories := ["azureml/azureml_image"]

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
	lower_text(object.get(service, ["properties", "computeType"], "")) == "aci"
}

deploys_to_aci(workspace, _) if {
	some entry in data.amlaudit.params.aci_workspaces
	names_workspace(entry, workspace)
}

# `--subscription <sub>` for az commands on a resource.
target_args(id) := ["--resource-group", resource_group(id), "--subscription", subscription(id)]

# A role assignment command for a managed identity (object id + principal type skip the directory
# lookup, which managed identities often cannot pass).
grant(principal_id, role, scope, description) := fix_role_assignment(principal_id, role, scope, description)

# Whether the snapshot holds a resource's `properties` (`az resource list` leaves them null).
has_properties(resource) if is_object(object.get(resource, "properties", null))

# The message of a result that cannot be decided because a resource's properties are missing.
no_properties(kind, resource, what) := sprintf(
	"%s `%s` has no properties in the snapshot (a list that omits them, such as `az resource list`?), so %s is not known",
	[kind, object.get(resource, "name", name(object.get(resource, "id", "?"))), what],
)

# A key vault's permission model: `rbac` (properties.enableRbacAuthorization true), `access_policy`
# (false), or `unknown` when the vault is not in the snapshot or does not say.
vault_model(vault) := "rbac" if {
	vault != null
	object.get(vault, ["properties", "enableRbacAuthorization"], null) == true
} else := "access_policy" if {
	vault != null
	object.get(vault, ["properties", "enableRbacAuthorization"], null) == false
} else := "unknown"

# Whether an access policy of the vault gives `object_id` every permission in `wanted` (lower
# case) of `kind` (`keys`, `secrets`, ...). A compound-identity policy (with an applicationId)
# applies only to that application acting for the principal, so it does not count.
access_policy_allows(vault, object_id, kind, wanted) if {
	some policy in object.get(vault, ["properties", "accessPolicies"], [])
	lower(object.get(policy, "objectId", "")) == lower(object_id)
	object.get(policy, "applicationId", "") in {"", null}
	held := {lower(p) | some p in object.get(policy, ["permissions", kind], [])}
	every w in wanted {
		held_permission(held, w)
	}
}

held_permission(held, _) if "all" in held

held_permission(held, wanted) if wanted in held

# Whether `principal` may do something on a key vault, by the vault's model: on an RBAC vault every
# data action in `data_actions`; on an access-policy vault an access policy with every permission
# in `permissions` (lower case) of `kind`. Returns {"decision", "model", "summary", "evidence"}.
vault_access(principal, vault_id, vault, data_actions, kind, permissions) := {
	"decision": "unknown",
	"model": "unknown",
	"summary": sprintf("key vault `%s` is not in the snapshot, so its permission model is not known", [name(vault_id)]),
	"evidence": [],
} if {
	vault == null
} else := {
	"decision": "unknown",
	"model": "unknown",
	"summary": sprintf("key vault `%s` does not say its permission model (properties.enableRbacAuthorization)", [name(vault_id)]),
	"evidence": [],
} if {
	vault_model(vault) == "unknown"
} else := {
	# Called by its full path so that tests can replace it with `with`.
	"decision": combined(decisions),
	"model": "rbac",
	"summary": concat("; ", [sprintf("%s: %s", [d.action, d.summary]) | some d in decisions; d.decision != "granted"]),
	"evidence": decisions,
} if {
	vault_model(vault) == "rbac"
	decisions := [data.amlaudit.lib.data_access(principal, vault.id, a) | some a in data_actions]
	combined(decisions) != "granted"
} else := {
	"decision": "granted",
	"model": "rbac",
	"summary": sprintf("granted %s through Azure RBAC", [concat(", ", data_actions)]),
	"evidence": [data.amlaudit.lib.data_access(principal, vault.id, a) | some a in data_actions],
} if {
	vault_model(vault) == "rbac"
} else := {
	"decision": "granted",
	"model": "access_policy",
	"summary": sprintf("an access policy gives %s %s permissions %s", [principal, kind, concat(", ", permissions)]),
	"evidence": [],
} if {
	access_policy_allows(vault, principal, kind, permissions)
} else := {
	"decision": "denied",
	"model": "access_policy",
	"summary": sprintf("no access policy of vault `%s` gives %s %s permissions %s (the vault uses access policies, so Azure RBAC data roles do not apply)", [name(vault.id), principal, kind, concat(", ", permissions)]),
	"evidence": [],
}

# `granted` when every decision is, `denied` when one is, else `unknown`.
combined(decisions) := "denied" if {
	some d in decisions
	d.decision == "denied"
} else := "unknown" if {
	some d in decisions
	d.decision != "granted"
} else := "granted"

# Every role a pull fix grants so that it holds in the registry's permission mode: Repository
# Reader in ABAC mode, AcrPull in legacy mode, and both when the mode is not known (a registry
# missing from the snapshot, or one that does not say), so the grant closes the finding either way.
pull_roles(registry) := ["Container Registry Repository Reader"] if {
	registry_mode(registry) == "abacrepositorypermissions"
} else := ["AcrPull"] if {
	registry_mode(registry) == "legacyregistrypermissions"
} else := ["AcrPull", "Container Registry Repository Reader"]

registry_mode(registry) := lower_text(object.get(registry, ["properties", "roleAssignmentMode"], "")) if is_object(registry)

else := ""

# A value as lower-case text, "" when it is not a string (a null or a number where ARM normally
# has text must not stop a rule with a type error).
lower_text(value) := lower(value) if is_string(value)
else := ""

# The user-assigned identity ids attached to a resource (`identity.userAssignedIdentities`).
user_assigned_ids(resource) := [id |
	identities := object.get(resource, ["identity", "userAssignedIdentities"], {})
	is_object(identities)
	some id, _ in identities
]

# Whether a user-assigned identity is attached to a resource.
attached(resource, identity_id) if {
	some id in user_assigned_ids(resource)
	same_id(id, identity_id)
}

# The principal id of an attached user-assigned identity, from a rule input's `identities`.
user_assigned_principal(identities, identity_id) := p if {
	some identity in identities
	identity.kind == "user_assigned"
	same_id(identity.resource_id, identity_id)
	p := identity.principal_id
	p != null
}

# Whether a workspace connection is a container-registry connection (category ContainerRegistry
# or ACR, as the v1 SDK names it).
registry_connection(connection) if {
	lower_text(object.get(connection, ["properties", "category"], "")) in {"containerregistry", "acr"}
}

# The workspace id above a workspace child's id (`.../workspaces/<ws>/connections/<c>`), in the
# id's own spelling.
parent_workspace_id(id) := concat("/", array.slice(parts, 0, count(parts) - 2)) if {
	parts := split(trim_right(id, "/"), "/")
	count(parts) > 2
}

# The host of a connection target (`https://myacr.azurecr.io/` -> `myacr.azurecr.io`), lower case.
login_server_host(target) := host if {
	text := lower_text(target)
	without_scheme := trim_prefix(trim_prefix(text, "https://"), "http://")
	host := split(without_scheme, "/")[0]
}
