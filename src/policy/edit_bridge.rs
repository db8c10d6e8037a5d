//! TEMPORARY bridge until branch `fixes` (issue 12) is merged: renders a rule's typed remediation
//! step (`{"description", "edit": {"kind", ...}}`, FIX_CONTRACT.md) to the `az` argv the current
//! report model carries. The `fixes` branch replaces this file with the real renderer and proof;
//! delete it on merge.

use serde_json::Value;

/// The argv of an edit step, and whether it may run unattended (no placeholder, not manual).
pub fn render(edit: &Value) -> Option<(Vec<String>, bool)> {
    let text = |key: &str| {
        edit.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let list = |key: &str| -> Vec<String> {
        edit.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let target = |id: &str| {
        vec![
            "--resource-group".to_string(),
            part(id, "resourceGroups"),
            "--subscription".to_string(),
            part(id, "subscriptions"),
        ]
    };
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let kind = edit.get("kind")?.as_str()?;
    let argv: Vec<String> = match kind {
        "role_assignment" => {
            let principal = match edit.get("principal_from_step").and_then(Value::as_u64) {
                Some(step) => format!("<principal id printed by step {}>", step + 1),
                None => text("principal_id"),
            };
            let mut a = words(&["az", "role", "assignment", "create", "--assignee-object-id"]);
            a.extend([
                principal,
                "--assignee-principal-type".into(),
                "ServicePrincipal".into(),
            ]);
            a.extend([
                "--role".into(),
                text("role"),
                "--scope".into(),
                text("scope"),
            ]);
            a
        }
        "registry_admin_user" => {
            let id = text("registry");
            let mut a = words(&["az", "acr", "update", "--name"]);
            a.push(short(&id));
            a.extend(target(&id));
            let on = edit
                .get("enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            a.extend(["--admin-enabled".into(), on.to_string()]);
            a
        }
        "compute_identity" => {
            let id = text("compute");
            let mut a = words(&["az", "ml", "compute", "update", "--name"]);
            a.extend([short(&id), "--workspace-name".into(), workspace(&id)]);
            a.extend(target(&id));
            a.extend(["--identity-type".into(), text("type")]);
            let uais = list("user_assigned_identities");
            if !uais.is_empty() {
                a.push("--user-assigned-identities".into());
                a.extend(uais);
            }
            a
        }
        "attach_identity" => {
            let id = text("resource");
            let mut a = words(&["az", "ml", "workspace", "update", "--name"]);
            a.push(short(&id));
            a.extend(target(&id));
            a.extend([
                "--file".into(),
                "<workspace.yml naming the identity under identity.user_assigned_identities>"
                    .into(),
            ]);
            a
        }
        "keyvault_access_policy" => {
            let id = text("vault");
            let mut a = words(&["az", "keyvault", "set-policy", "--name"]);
            a.push(short(&id));
            a.extend(target(&id));
            a.extend(["--object-id".into(), text("object_id")]);
            for (flag, key) in [
                ("--key-permissions", "key_permissions"),
                ("--secret-permissions", "secret_permissions"),
            ] {
                let p = list(key);
                if !p.is_empty() {
                    a.push(flag.into());
                    a.extend(p);
                }
            }
            a
        }
        "aks_attach_acr" => {
            let id = text("cluster");
            let mut a = words(&["az", "aks", "update", "--name"]);
            a.push(short(&id));
            a.extend(target(&id));
            a.extend(["--attach-acr".into(), text("registry")]);
            a
        }
        "aks_managed_identity" => {
            let id = text("cluster");
            let mut a = words(&["az", "aks", "update", "--name"]);
            a.push(short(&id));
            a.extend(target(&id));
            a.push("--enable-managed-identity".into());
            a
        }
        "aks_node_image_upgrade" => {
            let id = text("cluster");
            let mut a = words(&["az", "aks", "nodepool", "upgrade", "--cluster-name"]);
            a.push(short(&id));
            a.extend(target(&id));
            a.extend([
                "--name".into(),
                "<node pool>".into(),
                "--node-image-only".into(),
            ]);
            a
        }
        "identity_create" => {
            let id = text("identity");
            let mut a = words(&["az", "identity", "create", "--name"]);
            a.push(short(&id));
            a.extend(target(&id));
            a
        }
        "connection_recreate" => {
            let id = text("connection");
            let mut a = words(&[
                "az",
                "ml",
                "connection",
                "create",
                "--file",
                "<connection.yml>",
                "--workspace-name",
            ]);
            a.push(workspace(&id));
            a.extend(target(&id));
            a
        }
        "manual" => {
            let argv = list("argv");
            if argv.is_empty() {
                vec![format!("# {}", text("text"))]
            } else {
                argv
            }
        }
        _ => return None,
    };
    let automatic = kind != "manual" && !argv.iter().any(|w| w.starts_with('<'));
    Some((argv, automatic))
}

fn part(id: &str, key: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case(key))
        .and_then(|i| parts.get(i + 1))
        .unwrap_or(&"")
        .to_string()
}

fn short(id: &str) -> String {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(id)
        .to_string()
}

fn workspace(id: &str) -> String {
    part(id, "workspaces")
}
