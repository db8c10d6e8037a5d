//! Running the real binary in a scratch directory, and reading what it wrote.

use std::path::{Path, PathBuf};
use std::process::Output;

use amlaudit::report::Report;
use serde_json::Value;

pub const DEMO: &str = "fixtures/demo-tenant.json";

/// The demo tenant's failures, as (rule id, resource name).
pub const DEMO_FAILURES: usize = 15;
/// The demo tenant's unknown results, and how many rules have one.
pub const DEMO_UNKNOWNS: usize = 9;
pub const DEMO_RULES_WITH_UNKNOWNS: usize = 6;

pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A scratch directory the binary runs in; everything it writes by default lands here.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// The demo tenant, changed by `edit`, saved as `name`.
    pub fn demo_variant(&self, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut snapshot = demo_json();
        edit(&mut snapshot);
        self.write(name, &serde_json::to_string_pretty(&snapshot).unwrap())
    }

    /// Runs `amlaudit ARGS` in this directory.
    pub fn run(&self, args: &[&str]) -> Output {
        assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"))
            .current_dir(self.tmp.path())
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .expect("run amlaudit")
    }

    pub fn report(&self, out_dir: &str) -> Report {
        Report::load(&self.path(out_dir).join("findings.json")).expect("findings.json")
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
    }
}

pub fn demo_json() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_file(DEMO)).unwrap()).unwrap()
}

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

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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
