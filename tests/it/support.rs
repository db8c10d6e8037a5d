//! What every part of the integration tests needs: the binary as a command, and the repository's
//! fixtures.

use std::path::{Path, PathBuf};
use std::process::Output;

use amlaudit::report::Report;
use assert_cmd::Command;
use serde_json::Value;

/// The repository root, where `fixtures/`, `docs/` and `policies/` are.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled demo tenant's snapshot.
pub fn demo_tenant() -> PathBuf {
    repo().join("fixtures/demo-tenant.json")
}

/// The binary, with logging settings from the environment removed and colour off, so its output
/// is what the test reads rather than what the developer's shell asked for.
pub fn amlaudit() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    cmd.env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

/// The binary, run in `dir`.
pub fn amlaudit_in(dir: &Path) -> Command {
    let mut cmd = amlaudit();
    cmd.current_dir(dir);
    cmd
}

/// A file of the repository, by its path from the root.
pub fn repo_file(relative: &str) -> PathBuf {
    repo().join(relative)
}

/// The demo tenant as JSON, to change before saving a variant.
pub fn demo_json() -> Value {
    serde_json::from_str(&std::fs::read_to_string(demo_tenant()).unwrap()).unwrap()
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

    /// Writes `text` to `name`, creating the folders on its way.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folders");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    pub fn json(&self, name: &str, value: &Value) -> PathBuf {
        self.write(name, &serde_json::to_string_pretty(value).unwrap())
    }

    /// The demo tenant, changed by `edit`, saved as `name`.
    pub fn demo_variant(&self, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut snapshot = demo_json();
        edit(&mut snapshot);
        self.json(name, &snapshot)
    }

    /// Runs `amlaudit ARGS` in this directory.
    pub fn run(&self, args: &[&str]) -> Output {
        amlaudit()
            .current_dir(self.tmp.path())
            .args(args)
            .output()
            .expect("run amlaudit")
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    /// `OUT/findings.json`, typed.
    pub fn report(&self, out_dir: &str) -> Report {
        Report::load(&self.path(out_dir).join("findings.json")).expect("findings.json")
    }

    /// `OUT/findings.json` as JSON, to read what the typed report does not name.
    pub fn findings_json(&self, out_dir: &str) -> Value {
        serde_json::from_str(&self.read(&format!("{out_dir}/findings.json"))).expect("JSON")
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
