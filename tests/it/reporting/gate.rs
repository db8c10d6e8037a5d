//! Exit statuses for every combination of `--fail-on`, `--no-fail`, `--allow-unknown` and
//! `--severity`, over clean, failing, undecided and partially read snapshots.

use super::common::*;

/// Exempts every failure of the demo tenant, leaving only its unknown results.
const EXEMPT_ALL: &str = r#"
[[exemptions]]
rule = "*"
resource = "*"
justification = "test: only unknown results remain"
owner = "tests"
expires = 2999-01-01
"#;

/// Exempts every high-severity failure of the demo tenant, leaving the medium ones.
const EXEMPT_HIGH: &str = r#"
[[exemptions]]
rule = "AML001"
resource = "*"
justification = "test"
owner = "tests"
expires = 2999-01-01

[[exemptions]]
rule = "AML002"
resource = "*"
justification = "test"
owner = "tests"
expires = 2999-01-01

[[exemptions]]
rule = "AML004"
resource = "*"
justification = "test"
owner = "tests"
expires = 2999-01-01

[[exemptions]]
rule = "AML005"
resource = "*"
justification = "test"
owner = "tests"
expires = 2999-01-01
"#;

#[test]
fn exit_codes_for_every_gate_combination() {
    let dir = Dir::new();
    let demo = repo_file(DEMO);
    let demo = demo.to_str().unwrap();
    let clean = dir.write("clean.json", &clean_snapshot("complete"));
    let clean = clean.to_str().unwrap();
    let partial = dir.write("partial.json", &clean_snapshot("partial"));
    let partial = partial.to_str().unwrap();
    let exempt_all = dir.write("all.toml", EXEMPT_ALL);
    let exempt_all = exempt_all.to_str().unwrap();
    let exempt_high = dir.write("high.toml", EXEMPT_HIGH);
    let exempt_high = exempt_high.to_str().unwrap();

    // (snapshot, extra flags, expected exit, why)
    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (clean, vec![], 0, "clean"),
        (
            clean,
            vec!["--fail-on", "critical"],
            0,
            "clean, strict threshold",
        ),
        (clean, vec!["--no-fail"], 0, "clean, soft fail"),
        (clean, vec!["--allow-unknown"], 0, "clean, unknowns allowed"),
        (partial, vec![], 3, "a scope read partially is not clean"),
        (partial, vec!["--allow-unknown"], 0, "partial scope allowed"),
        (partial, vec!["--no-fail"], 0, "partial scope, soft fail"),
        (demo, vec![], 1, "high failures, default threshold low"),
        (demo, vec!["--fail-on", "low"], 1, "threshold low"),
        (demo, vec!["--fail-on", "medium"], 1, "threshold medium"),
        (demo, vec!["--fail-on", "high"], 1, "threshold high"),
        (
            demo,
            vec!["--fail-on", "critical"],
            3,
            "no critical failure, but unknowns",
        ),
        (
            demo,
            vec!["--fail-on", "critical", "--allow-unknown"],
            0,
            "nothing critical, unknowns allowed",
        ),
        (
            demo,
            vec!["--allow-unknown"],
            1,
            "allowing unknowns does not allow failures",
        ),
        (demo, vec!["--no-fail"], 0, "soft fail"),
        (
            demo,
            vec!["--no-fail", "--fail-on", "low"],
            0,
            "soft fail wins over the threshold",
        ),
        (
            demo,
            vec!["--severity", "critical"],
            1,
            "--severity only filters the table",
        ),
        (
            demo,
            vec!["--severity", "low", "--fail-on", "critical"],
            3,
            "--severity does not lower the gate",
        ),
        (
            demo,
            vec![
                "--severity",
                "critical",
                "--fail-on",
                "critical",
                "--allow-unknown",
            ],
            0,
            "both, untangled",
        ),
        (
            demo,
            vec!["--exemptions", exempt_all],
            3,
            "every failure exempt: unknowns remain",
        ),
        (
            demo,
            vec!["--exemptions", exempt_all, "--allow-unknown"],
            0,
            "every failure exempt, unknowns allowed",
        ),
        (
            demo,
            vec![
                "--exemptions",
                exempt_high,
                "--fail-on",
                "high",
                "--allow-unknown",
            ],
            0,
            "only medium failures left, gate at high",
        ),
        (
            demo,
            vec![
                "--exemptions",
                exempt_high,
                "--fail-on",
                "medium",
                "--allow-unknown",
            ],
            1,
            "medium failures, gate at medium",
        ),
    ];
    for (i, (snapshot, flags, expected, why)) in cases.into_iter().enumerate() {
        let out_dir = format!("out{i}");
        let mut args = vec!["scan", "--snapshot", snapshot, "--out-dir", &out_dir, "-q"];
        args.extend(flags.iter().copied());
        let output = dir.run(&args);
        assert_exit(&output, expected, &format!("{why} ({flags:?})"));
        // Whatever the gate says, the reports are written.
        assert!(dir.path(&out_dir).join("findings.json").is_file(), "{why}");
    }
}

#[test]
fn usage_and_input_errors_exit_2() {
    let dir = Dir::new();
    let demo = repo_file(DEMO);
    let demo = demo.to_str().unwrap();
    for (args, why) in [
        (
            vec!["scan", "--snapshot", demo, "--fail-on", "severe"],
            "unknown severity",
        ),
        (
            vec!["scan", "--snapshot", demo, "--format", "pdf"],
            "unknown format",
        ),
        (
            vec!["scan", "--snapshot", "missing.json"],
            "missing snapshot",
        ),
        (
            vec!["scan", "--snapshot", demo, "--baseline", "missing.json"],
            "missing baseline",
        ),
        (
            vec!["scan", "--snapshot", demo, "--exemptions", "missing.toml"],
            "missing exemptions",
        ),
    ] {
        assert_exit(&dir.run(&args), 2, why);
    }
    assert!(
        !dir.path("reports").exists(),
        "nothing is written on errors"
    );
}

#[test]
fn severity_filters_the_table_and_nothing_else() {
    let dir = Dir::new();
    let demo = repo_file(DEMO);
    let demo = demo.to_str().unwrap();
    let filtered = dir.run(&[
        "scan",
        "--snapshot",
        demo,
        "--out-dir",
        "a",
        "--severity",
        "critical",
    ]);
    assert_exit(&filtered, 1, "--severity critical");
    assert!(
        !stdout(&filtered).contains("mlacrsandbox"),
        "high failures hidden from the table"
    );
    let gated = dir.run(&[
        "scan",
        "--snapshot",
        demo,
        "--out-dir",
        "b",
        "--fail-on",
        "critical",
    ]);
    assert_exit(&gated, 3, "--fail-on critical");
    assert!(
        stdout(&gated).contains("mlacrsandbox"),
        "the gate does not hide failures"
    );
    // The files are the same whatever either flag says.
    let (a, b) = (dir.report("a"), dir.report("b"));
    assert_eq!(a.results, b.results);
    assert_eq!(a.summary.by_status.fail, DEMO_FAILURES);
}
