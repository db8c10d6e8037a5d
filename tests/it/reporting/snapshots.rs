//! The human-facing writers pinned on the demo tenant with insta, so that a change to what a
//! reviewer or an operator reads shows up in review. The report's timestamp is the only part
//! that varies between runs; it is replaced before comparing.

use super::common::*;

fn render(format: &str, file: &str) -> String {
    let dir = Dir::new();
    std::fs::copy(repo_file(DEMO), dir.path("snapshot.json")).unwrap();
    let output = dir.run(&[
        "scan",
        "--snapshot",
        "snapshot.json",
        "--out-dir",
        "out",
        "--format",
        format,
        "-q",
    ]);
    assert_exit(&output, 1, format);
    let generated_at = dir.report("out").generated_at;
    dir.read(&format!("out/{file}"))
        .replace(&generated_at, "[generated_at]")
        .replace(env!("CARGO_PKG_VERSION"), "[version]")
}

#[test]
fn markdown_summary_of_the_demo_tenant() {
    insta::assert_snapshot!(render("markdown", "summary.md"));
}

#[test]
fn remediation_script_for_the_demo_tenant() {
    insta::assert_snapshot!(render("script", "remediation.sh"));
}
