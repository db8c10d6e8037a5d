//! The policies that ship inside the binary, so `amlaudit scan` works from any directory.
//! `policies/` in the repository is their source; a test keeps this list and the folder in step.

/// (path relative to the repository, source) of every bundled `.rego` file, tests included.
pub const FILES: &[(&str, &str)] = &[
    (
        "policies/lib/amlaudit.rego",
        include_str!("../../policies/lib/amlaudit.rego"),
    ),
    (
        "policies/lib/amlaudit_test.rego",
        include_str!("../../policies/lib/amlaudit_test.rego"),
    ),
    (
        "policies/lib/fixes.rego",
        include_str!("../../policies/lib/fixes.rego"),
    ),
    (
        "policies/lib/fixes_test.rego",
        include_str!("../../policies/lib/fixes_test.rego"),
    ),
    (
        "policies/aml001_acr_admin_user_disabled.rego",
        include_str!("../../policies/aml001_acr_admin_user_disabled.rego"),
    ),
    (
        "policies/aml001_acr_admin_user_disabled_test.rego",
        include_str!("../../policies/aml001_acr_admin_user_disabled_test.rego"),
    ),
    (
        "policies/aml002_compute_identity_acr_pull.rego",
        include_str!("../../policies/aml002_compute_identity_acr_pull.rego"),
    ),
    (
        "policies/aml002_compute_identity_acr_pull_test.rego",
        include_str!("../../policies/aml002_compute_identity_acr_pull_test.rego"),
    ),
    (
        "policies/aml003_aks_service_principal.rego",
        include_str!("../../policies/aml003_aks_service_principal.rego"),
    ),
    (
        "policies/aml003_aks_service_principal_test.rego",
        include_str!("../../policies/aml003_aks_service_principal_test.rego"),
    ),
    (
        "policies/aml004_cmk_user_assigned_identity.rego",
        include_str!("../../policies/aml004_cmk_user_assigned_identity.rego"),
    ),
    (
        "policies/aml004_cmk_user_assigned_identity_test.rego",
        include_str!("../../policies/aml004_cmk_user_assigned_identity_test.rego"),
    ),
    (
        "policies/aml005_private_acr_image_build.rego",
        include_str!("../../policies/aml005_private_acr_image_build.rego"),
    ),
    (
        "policies/aml005_private_acr_image_build_test.rego",
        include_str!("../../policies/aml005_private_acr_image_build_test.rego"),
    ),
    (
        "policies/aml006_workspace_identity_dependency_roles.rego",
        include_str!("../../policies/aml006_workspace_identity_dependency_roles.rego"),
    ),
    (
        "policies/aml006_workspace_identity_dependency_roles_test.rego",
        include_str!("../../policies/aml006_workspace_identity_dependency_roles_test.rego"),
    ),
    (
        "policies/aml007_aci_deployments_need_admin.rego",
        include_str!("../../policies/aml007_aci_deployments_need_admin.rego"),
    ),
    (
        "policies/aml007_aci_deployments_need_admin_test.rego",
        include_str!("../../policies/aml007_aci_deployments_need_admin_test.rego"),
    ),
    (
        "policies/aml008_aks_sp_acr_pull.rego",
        include_str!("../../policies/aml008_aks_sp_acr_pull.rego"),
    ),
    (
        "policies/aml008_aks_sp_acr_pull_test.rego",
        include_str!("../../policies/aml008_aks_sp_acr_pull_test.rego"),
    ),
    (
        "policies/aml009_acr_connection_secret.rego",
        include_str!("../../policies/aml009_acr_connection_secret.rego"),
    ),
    (
        "policies/aml009_acr_connection_secret_test.rego",
        include_str!("../../policies/aml009_acr_connection_secret_test.rego"),
    ),
];

/// Whether a file name is a policy test (`*_test.rego`).
pub fn is_test_file(path: &str) -> bool {
    path.ends_with("_test.rego")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_file_is_bundled() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = Vec::new();
        let mut stack = vec![root.join("policies")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                // `policies/custom/` is where `amlaudit new-rule` writes a user's own rules.
                if path.is_dir() {
                    if path != root.join("policies/custom") {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rego") {
                    on_disk.push(
                        path.strip_prefix(root)
                            .unwrap()
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
        }
        on_disk.sort();
        let mut bundled: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        bundled.sort();
        assert_eq!(
            bundled, on_disk,
            "src/policy/bundled.rs must list every file in policies/"
        );
    }
}
