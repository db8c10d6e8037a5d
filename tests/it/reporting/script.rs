//! `remediation.sh` against a tenant whose names try to run `touch pwned-*`: it parses, its dry
//! run calls nothing, and `--apply` hands `az` exactly the argv of the report, in dependency
//! order, with nothing evaluated on the way.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use amlaudit::findings::Status;

use super::common::*;

/// Stands in for the Azure CLI: records each call as its argument count and then every
/// argument, each NUL-terminated, and evaluates nothing. Asked for `--query` output (a principal
/// id a later command needs), it prints one.
const FAKE_AZ: &str = "#!/bin/sh\nprintf '%s\\0' \"$#\" \"$@\" >> \"$AZ_LOG\"\ncase \" $* \" in *' --query '*) echo 11111111-2222-4333-8444-555555555555 ;; esac\n";

/// A report step's argv as the script runs it: a captured principal in place of its
/// placeholder, and `--query ... -o tsv` on a step whose output is captured.
fn as_run(fix: &amlaudit::findings::Remediation, captured: bool) -> Vec<String> {
    let mut argv: Vec<String> = fix
        .argv
        .iter()
        .map(|w| {
            if w.starts_with("<principal id from step") {
                "11111111-2222-4333-8444-555555555555".to_string()
            } else {
                w.clone()
            }
        })
        .collect();
    if captured && let Some(query) = fix.edit.principal_query() {
        argv.extend([
            "--query".to_string(),
            query.to_string(),
            "-o".to_string(),
            "tsv".to_string(),
        ]);
    }
    argv
}

struct Setup {
    dir: Dir,
    script: PathBuf,
    work: PathBuf,
    bin: PathBuf,
    log: PathBuf,
}

fn setup(snapshot: &Path) -> Setup {
    let dir = Dir::new();
    let output = dir.run(&[
        "scan",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--out-dir",
        "out",
        "--format",
        "script",
        "--format",
        "markdown",
        "-q",
    ]);
    assert_exit(&output, 1, "scan");
    let script = dir.path("out/remediation.sh");
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "remediation.sh is executable");
    let work = dir.path("work");
    let bin = dir.path("bin");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("az"), FAKE_AZ).unwrap();
    std::fs::set_permissions(bin.join("az"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.path("az.log");
    Setup {
        dir,
        script,
        work,
        bin,
        log,
    }
}

impl Setup {
    fn bash(&self, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .arg(&self.script)
            .args(args)
            .current_dir(&self.work)
            .env("PATH", path)
            .env("AZ_LOG", &self.log)
            .output()
            .expect("bash")
    }

    /// Every call the fake `az` received.
    fn az_calls(&self) -> Vec<Vec<String>> {
        let Ok(bytes) = std::fs::read(&self.log) else {
            return vec![];
        };
        let mut fields = bytes
            .split(|b| *b == 0)
            .map(|f| String::from_utf8(f.to_vec()).unwrap());
        let mut calls = vec![];
        while let Some(count) = fields.next().filter(|c| !c.is_empty()) {
            let n: usize = count.parse().unwrap();
            let mut argv = vec!["az".to_string()];
            argv.extend(fields.by_ref().take(n));
            calls.push(argv);
        }
        calls
    }

    /// Files that an evaluated name would have created, anywhere in the scratch directory.
    fn pwned(&self) -> Vec<String> {
        fn walk(dir: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if entry.file_name().to_string_lossy().contains("pwned") {
                    found.push(path.display().to_string());
                }
            }
        }
        let mut found = vec![];
        walk(self.dir.tmp.path(), &mut found);
        found
    }
}

#[test]
fn the_script_parses_with_bash_n() {
    for snapshot in [repo_file(DEMO), repo_file("tests/data/hostile-tenant.json")] {
        let s = setup(&snapshot);
        let output = Command::new("bash")
            .arg("-n")
            .arg(&s.script)
            .output()
            .unwrap();
        assert_exit(
            &output,
            0,
            &format!("bash -n on the script for {}", snapshot.display()),
        );
        let text = s.dir.read("out/remediation.sh");
        assert!(text.starts_with("#!/usr/bin/env bash\n"));
        assert!(text.contains("\nset -euo pipefail\n"));
    }
}

#[test]
fn a_dry_run_over_hostile_names_runs_nothing() {
    let s = setup(&repo_file("tests/data/hostile-tenant.json"));
    let output = s.bash(&[]);
    assert_exit(&output, 0, "dry run");
    let out = stdout(&output);
    // The hostile registry does not say its permission mode, so the pull fix grants both roles.
    assert_eq!(out.matches("would run: az ").count(), 4, "{out}");
    assert!(out.contains("Dry run: 4 command(s) not run"), "{out}");
    assert!(s.az_calls().is_empty(), "a dry run never calls az");
    assert_eq!(
        s.pwned(),
        Vec::<String>::new(),
        "nothing in a name was executed"
    );
    // In comments a newline is written as `\u{a}`, so it cannot end the comment; in commands it
    // is quoted as `$'...\x0a...'`, byte-exact.
    let script = s.dir.read("out/remediation.sh");
    assert!(
        script.contains("#   resource: /subscriptions/")
            && script.contains(r"computes/gpu'\u{a} touch pwned-newline\u{a}#"),
        "{script}"
    );
}

#[test]
fn apply_hands_az_exactly_the_reports_argv_in_dependency_order() {
    let s = setup(&repo_file("tests/data/hostile-tenant.json"));
    let output = s.bash(&["--apply"]);
    assert_exit(&output, 0, "--apply");
    assert_eq!(
        s.pwned(),
        Vec::<String>::new(),
        "nothing in a name was executed"
    );

    let calls = s.az_calls();
    let verbs: Vec<String> = calls.iter().map(|argv| argv[..3].join(" ")).collect();
    assert_eq!(
        verbs,
        [
            "az ml compute",
            "az role assignment",
            "az role assignment",
            "az acr update"
        ],
        "identities first, then the grants that need their principal, then settings"
    );
    let report = s.dir.report("out");
    let mut expected: Vec<Vec<String>> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .flat_map(|r| {
            let needed: Vec<usize> = r
                .remediation
                .iter()
                .filter_map(|f| f.edit.principal_from_step())
                .collect();
            r.remediation
                .iter()
                .enumerate()
                .filter(|(_, f)| f.automatic)
                .map(move |(i, f)| as_run(f, needed.contains(&i)))
        })
        .collect();
    expected.dedup();
    let mut got = calls.clone();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "az receives the argv of the report, byte for byte"
    );
    assert!(
        calls
            .iter()
            .flatten()
            .any(|a| a.contains("$(touch pwned-acr)")),
        "{calls:?}"
    );
    assert!(
        calls.iter().flatten().any(|a| a.contains('\n')),
        "{calls:?}"
    );

    // Manual steps stay comments: the fake az never saw a placeholder.
    assert!(!calls.iter().flatten().any(|a| a.contains("<principal id")));
    assert!(stdout(&output).contains("Ran 4 command(s)."));
}

#[test]
fn hostile_names_stay_text_in_the_markdown_summary() {
    let s = setup(&repo_file("tests/data/hostile-tenant.json"));
    let md = s.dir.read("out/summary.md");
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("#### ")).collect();
    assert_eq!(
        headings.len(),
        3,
        "a newline in a name does not split its heading: {md}"
    );
    // Outside code blocks (where commands keep their quotes) a newline must not start a line,
    // and a backtick or a `$` would start a code span or maths.
    let prose: String = md.split("```").step_by(2).collect();
    assert!(
        !prose.lines().any(|l| l.trim_start().starts_with("touch")),
        "a newline in a name does not start a line of its own: {prose}"
    );
    assert!(!prose.contains(" `touch"), "{prose}");
    assert!(prose.contains(r"\$(touch pwned-acr)"), "{prose}");
}
