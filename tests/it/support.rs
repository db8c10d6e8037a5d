//! What every part of the integration tests needs: the binary as a command, and the repository's
//! fixtures.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

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
