//! Running the real binary in a scratch directory, and reading what it wrote.

use std::process::Output;

use serde_json::Value;

pub const DEMO: &str = "fixtures/demo-tenant.json";

/// The demo tenant's failures, as (rule id, resource name).
pub const DEMO_FAILURES: usize = 15;
/// The demo tenant's unknown results, and how many rules have one.
pub const DEMO_UNKNOWNS: usize = 9;
pub const DEMO_RULES_WITH_UNKNOWNS: usize = 6;

pub use crate::support::{Dir, repo_file, stderr, stdout};

/// Sets a property on the demo resource whose id ends with `suffix`.
pub fn set_property(snapshot: &mut Value, suffix: &str, key: &str, value: Value) {
    let resource = snapshot["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no resource ending in {suffix}"));
    resource["properties"][key] = value;
}

/// The exit code, with stderr in the message when it is not the expected one.
#[track_caller]
pub fn assert_exit(output: &Output, expected: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(expected),
        "{what}: exit status\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A date `days` from today, for exemptions that must not expire while the suite runs.
pub fn date_in(days: i64) -> String {
    let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    day.to_string()
}

/// A snapshot with one registry whose admin user is disabled: every result passes.
pub fn clean_snapshot(scope_status: &str) -> String {
    let sub = "4d1c5f10-2b7a-4c55-8e0a-5b8f3f0e9a11";
    serde_json::json!({
        "amlaudit_snapshot": 1,
        "collected_at": "2026-11-20T09:30:00Z",
        "scopes": [{"subscription_id": sub, "status": scope_status, "errors": []}],
        "resources": [{
            "id": format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acrclean"),
            "name": "acrclean",
            "type": "Microsoft.ContainerRegistry/registries",
            "properties": {"loginServer": "acrclean.azurecr.io", "adminUserEnabled": false}
        }]
    })
    .to_string()
}
