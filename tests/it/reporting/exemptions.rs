//! `--exemptions`: entries that match, that have expired, that match nothing, and that are
//! malformed.

use amlaudit::findings::Status;

use super::common::*;

const SANDBOX_ACR: &str = "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.ContainerRegistry/registries/mlacrsandbox";

/// Not `--quiet`: the warnings about expired and unused exemptions go to stderr.
fn scan_with(dir: &Dir, file: &str, out_dir: &str, formats: &[&str]) -> std::process::Output {
    let demo = repo_file(DEMO);
    let mut args = vec![
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--out-dir",
        out_dir,
        "--exemptions",
        file,
    ];
    for f in formats {
        args.extend(["--format", f]);
    }
    dir.run(&args)
}

#[test]
fn a_matching_exemption_makes_the_failure_exempt_everywhere_but_sarif() {
    let dir = Dir::new();
    // A glob in another case than the snapshot's id: ARM ids are case-insensitive.
    dir.write(
        "ex.toml",
        &format!(
            r#"
[[exemptions]]
rule = "AML001"
resource = "/SUBSCRIPTIONS/*/resourcegroups/RG-ML-DEV/*/registries/MLACRSANDBOX"
justification = "Sandbox registry, shared credentials needed by a vendor tool"
owner = "ml-platform@contoso.com"
ticket = "SEC-42"
expires = {}
"#,
            date_in(10)
        ),
    );
    let output = scan_with(&dir, "ex.toml", "out", &["sarif", "junit", "markdown"]);
    assert_exit(&output, 1, "the other failures still fail");

    let report = dir.report("out");
    let exempted = report
        .results
        .iter()
        .find(|r| r.resource_id == SANDBOX_ACR && r.rule_id == "AML001")
        .unwrap();
    assert_eq!(exempted.status, Status::Exempt);
    let record = exempted.exemption.as_ref().unwrap();
    assert_eq!(
        record.justification,
        "Sandbox registry, shared credentials needed by a vendor tool"
    );
    assert_eq!(record.ticket.as_deref(), Some("SEC-42"));
    assert_eq!(report.summary.by_status.exempt, 1);
    assert_eq!(report.summary.by_status.fail, DEMO_FAILURES - 1);
    let section = report.exemptions.as_ref().unwrap();
    assert_eq!(section.applied.len(), 1);
    assert_eq!(section.applied[0].results[0].resource_id, SANDBOX_ACR);
    assert!(section.expired.is_empty() && section.unmatched.is_empty());

    let csv = dir.read("out/findings.csv");
    let row = csv.lines().find(|l| l.contains("mlacrsandbox")).unwrap();
    assert!(row.contains("\"exempt\""), "{row}");
    assert!(
        row.contains("shared credentials needed by a vendor tool"),
        "{row}"
    );

    let junit = dir.read("out/findings.junit.xml");
    let junit = quick_junit::Report::deserialize_from_str(&junit).unwrap();
    let case = junit
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .find(|c| c.name.as_str().ends_with("/mlacrsandbox"))
        .unwrap();
    match &case.status {
        quick_junit::TestCaseStatus::Skipped { message, .. } => {
            let message = message.as_ref().unwrap().as_str();
            assert!(
                message.contains("shared credentials needed by a vendor tool"),
                "{message}"
            );
            assert!(message.contains("SEC-42"), "{message}");
        }
        other => panic!("exempt should be skipped, got {other:?}"),
    }

    let sarif = dir.read("out/findings.sarif");
    assert!(
        !sarif.contains("registries/mlacrsandbox\""),
        "exempt results are left out of SARIF"
    );

    let md = dir.read("out/summary.md");
    let expiring = md
        .split("### Exemptions expiring within 30 days")
        .nth(1)
        .expect("an exemption that expires in 10 days is called out");
    assert!(expiring.contains("SEC-42"), "{expiring}");
}

#[test]
fn an_expired_exemption_no_longer_applies_and_is_reported() {
    let dir = Dir::new();
    dir.write(
        "ex.yaml",
        &format!(
            "exemptions:\n  - rule: AML001\n    resource: '{SANDBOX_ACR}'\n    justification: was needed last year\n    owner: alice\n    expires: 2020-01-01\n"
        ),
    );
    let output = scan_with(&dir, "ex.yaml", "out", &[]);
    assert_exit(&output, 1, "expired exemption");
    let report = dir.report("out");
    let result = report
        .results
        .iter()
        .find(|r| r.resource_id == SANDBOX_ACR)
        .unwrap();
    assert_eq!(result.status, Status::Fail);
    assert!(result.exemption.is_none());
    let section = report.exemptions.unwrap();
    assert_eq!(section.expired.len(), 1);
    assert_eq!(section.expired[0].exemption.expires, "2020-01-01T00:00:00Z");
    assert_eq!(section.expired[0].results[0].resource_id, SANDBOX_ACR);
    // The warning is on stderr too, for the CI log.
    assert!(
        stderr(&output).contains("expired 2020-01-01T00:00:00Z"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_exemption_that_matches_nothing_is_reported() {
    let dir = Dir::new();
    dir.write(
        "ex.toml",
        r#"
[[exemptions]]
rule = "AML001"
resource = "/subscriptions/*/resourceGroups/rg-gone/*"
justification = "the registry was deleted"
ticket = "SEC-7"
expires = "2999-01-01T00:00:00Z"

[[exemptions]]
rule = "AML001"
resource = "/subscriptions/ec7ac8ad-1b2b-406b-aae1-2c972399d29d/resourceGroups/rg-ml-dev/providers/Microsoft.ContainerRegistry/registries/mlacrdev"
justification = "passes already: the ACI exception applies"
ticket = "SEC-8"
expires = 2999-01-01
"#,
    );
    let output = scan_with(&dir, "ex.toml", "out", &[]);
    assert_exit(&output, 1, "nothing exempted");
    let section = dir.report("out").exemptions.unwrap();
    let unmatched: Vec<usize> = section.unmatched.iter().map(|e| e.entry).collect();
    assert_eq!(unmatched, vec![1, 2]);
    assert!(stderr(&output).contains("exemption 1 (rule AML001, resource /subscriptions/*/resourceGroups/rg-gone/*) matches no failure"));
}

#[test]
fn malformed_exemptions_name_the_file_and_entry_and_write_nothing() {
    let good = "rule = \"AML001\"\nresource = \"*\"\njustification = \"j\"\nowner = \"o\"\nexpires = 2999-01-01\n";
    let cases = [
        ("missing.toml", format!("[[exemptions]]\n{good}\n[[exemptions]]\nrule = \"AML002\"\nresource = \"*\"\nowner = \"o\"\nexpires = 2999-01-01\n"), "exemption 2 (rule AML002, resource *): lacks justification"),
        ("date.toml", format!("[[exemptions]]\n{}", good.replace("2999-01-01", "\"soon\"")), "exemption 1 (rule AML001, resource *): expires `soon` is not a date"),
        ("owner.yaml", "exemptions:\n  - rule: AML003\n    resource: '*'\n    justification: j\n    expires: 2999-01-01\n".to_string(), "exemption 1 (rule AML003, resource *): lacks owner or ticket"),
        ("glob.yml", "exemptions:\n  - rule: AML001\n    resource: /subscriptions/[x\n    justification: j\n    owner: o\n    expires: 2999-01-01\n".to_string(), "is not a valid glob"),
        ("typo.toml", format!("[[exemptions]]\n{good}expiry = 2999-01-01\n"), "exemption 1 (rule AML001, resource *): unknown field `expiry`"),
        ("syntax.yaml", "exemptions: [\n".to_string(), "not valid YAML"),
        ("layout.toml", format!("[[exemption]]\n{good}"), "unknown key `exemption`"),
        ("wrong.json", "{}".to_string(), "must be a .toml, .yaml or .yml file"),
    ];
    for (name, text, expected) in cases {
        let dir = Dir::new();
        dir.write(name, &text);
        let output = scan_with(&dir, name, "out", &["sarif"]);
        assert_exit(&output, 2, name);
        let err = stderr(&output);
        assert!(
            err.contains(&format!("{name}: ")),
            "{name}: the file is named: {err}"
        );
        assert!(err.contains(expected), "{name}: {err}");
        assert!(!dir.path("out").exists(), "{name}: nothing is written");
    }
}
