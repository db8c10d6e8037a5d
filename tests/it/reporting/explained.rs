//! Every verdict explained where people look (issue 15), read as the user reads it: the terminal
//! table from the real binary, `summary.md`, SARIF in GitHub's shape, the JSON report's scopes,
//! parameter warnings and error messages.

use std::collections::HashSet;
use std::process::Output;

use amlaudit::findings::Status;
use amlaudit::inventory::ScopeStatus;
use serde_json::Value;

use super::common::*;

/// The subscription the demo tenant's results mention but its snapshot does not cover.
const UNCOVERED: &str = "dc36fc90-2248-4d70-aca4-a1a9f5b19f71";

fn copy_demo(dir: &Dir) {
    std::fs::copy(repo_file(DEMO), dir.path("snapshot.json")).unwrap();
}

/// `amlaudit ARGS` in `dir` with stdout a pipe, as in CI, and `COLUMNS` as given.
fn run_with_columns(dir: &Dir, columns: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    cmd.current_dir(dir.tmp.path())
        .env_remove("RUST_LOG")
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1")
        .args(args);
    if let Some(c) = columns {
        cmd.env("COLUMNS", c);
    }
    cmd.output().expect("run amlaudit")
}

/// The rows of the table under `heading` (after its header) as (first column, column `column`),
/// each cell's wrapped lines joined. The condensed style draws no line between rows, so a row
/// starts where its first cell has text.
fn table_rows(stdout: &str, heading: &str, column: usize) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = Vec::new();
    let lines = stdout
        .lines()
        .skip_while(|l| *l != heading)
        .skip_while(|l| !l.starts_with('╞'))
        .skip(1);
    for line in lines {
        if line.starts_with('└') {
            break;
        }
        let Some(inner) = line.strip_prefix('│').and_then(|l| l.strip_suffix('│')) else {
            continue;
        };
        let cells: Vec<&str> = inner.split('┆').map(str::trim).collect();
        let (first, last) = (cells[0], cells[column]);
        if !first.is_empty() {
            rows.push((first.to_string(), last.to_string()));
        } else if let Some(row) = rows.last_mut() {
            row.1.push(' ');
            row.1.push_str(last);
        }
    }
    rows
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect()
}

#[test]
fn the_table_wraps_whole_messages_lists_unknowns_and_says_where_the_details_are() {
    let dir = Dir::new();
    copy_demo(&dir);
    let args = ["scan", "--snapshot", "snapshot.json", "--out-dir", "out"];
    let narrow = run_with_columns(&dir, Some("100"), &args);
    assert_exit(&narrow, 1, "scan");
    let text = stdout(&narrow);
    for line in text.lines().filter(|l| l.starts_with(['┌', '│', '╞', '└'])) {
        assert!(
            line.chars().count() <= 100,
            "wider than COLUMNS=100: {line}"
        );
    }
    assert!(!text.contains('…'), "nothing is cut: {text}");
    let report = dir.report("out");

    // Rule, Severity, Resource, Subscription, Message, Fix.
    let failures = table_rows(&text, "Failures", 4);
    let expected: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .collect();
    assert_eq!(failures.len(), expected.len(), "{text}");
    for r in &expected {
        assert!(
            failures.iter().any(
                |(rule, message)| *rule == r.rule_id && squeeze(message) == squeeze(&r.message)
            ),
            "the whole message of {} {} is in the table:\n{text}",
            r.rule_id,
            r.resource_name
        );
    }

    let heading = "Unknown: could not be decided (collect what each names, then scan again)";
    let unknowns = table_rows(&text, heading, 4);
    let expected: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Unknown)
        .collect();
    assert_eq!(expected.len(), DEMO_UNKNOWNS);
    assert_eq!(unknowns.len(), DEMO_UNKNOWNS, "{text}");
    for r in &expected {
        assert!(
            unknowns
                .iter()
                .any(|(rule, reason)| *rule == r.rule_id && squeeze(reason) == squeeze(&r.message)),
            "{} {} and its reason are listed:\n{text}",
            r.rule_id,
            r.resource_name
        );
    }
    let unknown_at = text.find(heading).unwrap();
    assert!(
        text.find("Failures").unwrap() < unknown_at,
        "after the failures"
    );

    let pointer = "Full messages, evidence and fixes: out/findings.json";
    assert_eq!(text.matches(pointer).count(), 1, "{text}");
    assert!(
        text.contains(&format!("Not covered by the snapshot: {UNCOVERED}")),
        "{text}"
    );

    // Not a terminal and no COLUMNS: a default width, still wrapped.
    let default = run_with_columns(&dir, None, &args);
    let widest = stdout(&default)
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '└']))
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!((100..=140).contains(&widest), "widest line {widest}");
}

#[test]
fn summary_lists_unknowns_with_their_reasons_and_says_what_when_nothing_fails() {
    let dir = Dir::new();
    copy_demo(&dir);
    let output = dir.run(&[
        "scan",
        "--snapshot",
        "snapshot.json",
        "--out-dir",
        "out",
        "--format",
        "markdown",
        "-q",
    ]);
    assert_exit(&output, 1, "scan");
    let report = dir.report("out");
    let md = dir.read("out/summary.md");
    let section = md
        .split("### Unknown: could not be decided\n")
        .nth(1)
        .unwrap_or_else(|| panic!("an unknown section: {md}"));
    assert!(
        md.find("### Failures").unwrap() < md.find("### Unknown").unwrap(),
        "after the failures"
    );
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| AML")).collect();
    assert_eq!(rows.len(), DEMO_UNKNOWNS, "{section}");
    for r in report
        .results
        .iter()
        .filter(|r| r.status == Status::Unknown)
    {
        let row = format!(
            "| {} | {} | {} | {} |",
            amlaudit::report::markdown::escape(&r.rule_id),
            r.severity,
            amlaudit::report::markdown::escape(&r.resource_id),
            amlaudit::report::markdown::escape(&r.message)
        );
        assert!(rows.contains(&row.as_str()), "{row}\nin\n{section}");
    }
    assert!(
        md.contains(&format!(
            "⚠️ Not covered by the snapshot: {UNCOVERED} (results that needed them are unknown)."
        )),
        "{md}"
    );

    // With every failure exempt nothing fails; the headline says what is undecided.
    dir.write(
        "ex.toml",
        &format!(
            "[[exemptions]]\nrule = \"*\"\nresource = \"*\"\njustification = \"test\"\nowner = \"o\"\nexpires = {}\n",
            date_in(400)
        ),
    );
    let quiet = dir.run(&[
        "scan",
        "--snapshot",
        "snapshot.json",
        "--out-dir",
        "exempt",
        "--exemptions",
        "ex.toml",
        "--format",
        "markdown",
        "-q",
    ]);
    assert_exit(&quiet, 3, "nothing fails, something is unknown");
    let md = dir.read("exempt/summary.md");
    assert!(
        md.starts_with(&format!(
            "## amlaudit: ⚠️ no failures, but {DEMO_UNKNOWNS} results could not be decided\n"
        )),
        "{md}"
    );
    assert!(md.contains("### Unknown: could not be decided"), "{md}");
}

#[test]
fn sarif_points_at_each_resource_and_carries_unknowns_as_warnings() {
    let dir = Dir::new();
    copy_demo(&dir);
    let output = dir.run(&[
        "scan",
        "--snapshot",
        "snapshot.json",
        "--out-dir",
        "out",
        "--format",
        "sarif",
        "-q",
    ]);
    assert_exit(&output, 1, "scan");
    let sarif: Value = serde_json::from_str(&dir.read("out/findings.sarif")).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("tests/data/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    let report = dir.report("out");
    let snapshot_lines: Vec<String> = dir
        .read("snapshot.json")
        .lines()
        .map(str::to_string)
        .collect();
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        DEMO_FAILURES + DEMO_UNKNOWNS,
        "failures and unknowns"
    );
    let mut fingerprints = HashSet::new();
    let mut unknown = 0;
    for r in results {
        // The region is the resource's `"id"` in the snapshot, and the logical location the
        // same resource.
        let location = &r["locations"][0];
        assert_eq!(
            location["physicalLocation"]["artifactLocation"]["uri"],
            "snapshot.json"
        );
        let region = &location["physicalLocation"]["region"];
        let line = region["startLine"].as_u64().unwrap() as usize;
        let column = region["startColumn"].as_u64().unwrap() as usize;
        let text: String = snapshot_lines[line - 1].chars().skip(column - 1).collect();
        let id = location["logicalLocations"][0]["fullyQualifiedName"]
            .as_str()
            .unwrap();
        assert!(
            text.starts_with(&format!("\"id\": \"{id}\"")),
            "{line}:{column} is `{text}`, not the id of {id}"
        );

        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        if r["properties"]["status"] == "unknown" {
            unknown += 1;
            assert_eq!(r["level"], "warning", "{r}");
            assert!(r["ruleId"].as_str().unwrap().ends_with("/unknown"), "{r}");
            assert_eq!(rule["defaultConfiguration"]["level"], "warning");
            assert!(
                rule["properties"].get("security-severity").is_none(),
                "an unknown is not a security alert of the rule's severity: {rule}"
            );
            let reason = report
                .results
                .iter()
                .find(|u| {
                    u.status == Status::Unknown
                        && u.resource_id == id
                        && r["ruleId"] == format!("{}/unknown", u.rule_id)
                })
                .map(|u| u.message.as_str());
            assert_eq!(
                r["message"]["text"].as_str(),
                reason,
                "the reason is the message: {r}"
            );
        }
        let fp = r["partialFingerprints"]["amlauditFinding/v1"]
            .as_str()
            .unwrap();
        assert!(fingerprints.insert(fp.to_string()), "unique: {fp}");
    }
    assert_eq!(unknown, DEMO_UNKNOWNS);
}

#[test]
fn the_json_scopes_name_every_subscription_the_results_mention() {
    let dir = Dir::new();
    copy_demo(&dir);
    let output = dir.run(&[
        "scan",
        "--snapshot",
        "snapshot.json",
        "--out-dir",
        "out",
        "-q",
    ]);
    assert_exit(&output, 1, "scan");
    let report = dir.report("out");
    let status = |sub: &str| {
        report
            .scopes
            .iter()
            .find(|s| s.subscription_id == sub)
            .map(|s| s.status)
    };
    assert_eq!(status(UNCOVERED), Some(ScopeStatus::NotCovered));
    assert_eq!(
        status("b61e6ba5-3682-4dd6-b804-69b84b2d451c"),
        Some(ScopeStatus::Complete)
    );
    for r in &report.results {
        let sub = r.subscription_id.as_deref().unwrap();
        assert!(
            status(sub).is_some(),
            "{sub} of {} is listed",
            r.resource_id
        );
    }
    let json: Value = serde_json::from_str(&dir.read("out/findings.json")).unwrap();
    assert!(
        json["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["subscription_id"] == UNCOVERED && s["status"] == "not_covered"),
        "{}",
        json["scopes"]
    );
    // Not covered is not "read incompletely": that list keeps its meaning.
    assert!(report.summary.incomplete_scopes.is_empty());
}

#[test]
fn fix_steps_are_manual_only_for_a_placeholder_or_a_choice_and_say_which() {
    let dir = Dir::new();
    copy_demo(&dir);
    let output = dir.run(&[
        "scan",
        "--snapshot",
        "snapshot.json",
        "--out-dir",
        "out",
        "--format",
        "markdown",
        "--format",
        "script",
        "-q",
    ]);
    assert_exit(&output, 1, "scan");
    let json: Value = serde_json::from_str(&dir.read("out/findings.json")).unwrap();
    // Count the distinct steps of the failures as a reader of findings.json would: a step runs
    // when it is `automatic`; otherwise it has a `<placeholder>` (other than the principal an
    // earlier step outputs, which the script captures), or is a `manual` edit (a choice or a
    // task for a person), or its fix was not proven to close the finding.
    let mut seen = HashSet::new();
    let (mut automatic, mut placeholder, mut choice, mut not_proven) = (0, 0, 0, 0);
    for r in json["results"].as_array().unwrap() {
        if r["status"] != "fail" {
            continue;
        }
        for fix in r["remediation"].as_array().unwrap() {
            let argv: Vec<&str> = fix["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            // The script runs a command several failures share once; steps without a command
            // are told apart by what they say.
            let key = (
                argv.join("\u{0}"),
                fix["automatic"].as_bool(),
                argv.is_empty()
                    .then(|| fix["description"].as_str().unwrap().to_string()),
            );
            if !seen.insert(key) {
                continue;
            }
            let has_placeholder = argv.iter().any(|w| {
                w.contains('<') && w.contains('>') && !w.starts_with("<principal id from step")
            });
            if fix["automatic"] == true {
                automatic += 1;
            } else if has_placeholder {
                placeholder += 1;
            } else if fix["edit"]["kind"] == "manual" || argv.is_empty() {
                choice += 1;
            } else {
                assert_ne!(r["fix"]["verified"], "closes", "{r}");
                not_proven += 1;
            }
        }
    }
    assert!(
        placeholder > 0 && choice > 0 && automatic > 0,
        "{placeholder} {choice} {automatic}"
    );
    let manual = placeholder + choice + not_proven;

    let script = dir.read("out/remediation.sh");
    assert!(
        script.contains(&format!(
            "# {automatic} command(s) to run; {manual} manual step(s) left as comments: {placeholder} with a <placeholder> to fill in, {choice} that need your choice, {not_proven} not proven to close their finding."
        )),
        "{script}"
    );
    assert_eq!(
        script
            .lines()
            .filter(|l| l.starts_with("run ") || l.starts_with("capture "))
            .count(),
        automatic
    );
    // Every manual step says why, in the words the header counts.
    let says = |why: &str| {
        script
            .lines()
            .filter(|l| l.starts_with("# MANUAL: ") && l.contains(why))
            .count()
    };
    assert_eq!(
        says("(replace the <placeholder>, then run it yourself)"),
        placeholder,
        "{script}"
    );
    assert_eq!(
        says("(a choice or a task for a person: read the description first)"),
        choice,
        "{script}"
    );
    assert_eq!(
        says("(not proven to close its finding:"),
        not_proven,
        "{script}"
    );
    assert_eq!(
        script
            .lines()
            .filter(|l| l.starts_with("# MANUAL: "))
            .count(),
        manual
    );

    let md = dir.read("out/summary.md");
    assert!(
        md.contains(&format!(
            "Fixes: {automatic} automatic steps; {manual} manual: {placeholder} with a \\<placeholder\\> to fill in, {choice} that need{} a person's choice, {not_proven} not proven to close {}.",
            if choice == 1 { "s" } else { "" },
            if not_proven == 1 { "its finding" } else { "their findings" },
        )),
        "{md}"
    );
    // The step that is a choice is not told to replace a placeholder it does not have.
    let cmk = md
        .split("#### AML004 mlw-dev-cmk")
        .nth(1)
        .unwrap()
        .split("#### ")
        .next()
        .unwrap();
    assert!(
        cmk.contains("# Point the workspace's encryption at the identity")
            && cmk.contains("# manual: a choice or a task for a person: read the description first\naz resource update"),
        "{cmk}"
    );
}

#[test]
fn params_that_name_nothing_are_warnings_and_errors_under_strict() {
    let dir = Dir::new();
    copy_demo(&dir);
    dir.write(
        "params.toml",
        r#"aci_workspaces = ["mlw-legacy-scorng"]
[private_registries]
mlw-prd = ["/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/base"]
mlw-prod = ["/subscriptions/.../providers/Microsoft.ContainerRegistry/registries/contosobaseimages"]
"#,
    );
    let base = [
        "scan",
        "--snapshot",
        "snapshot.json",
        "--params",
        "params.toml",
        "--out-dir",
    ];
    let warned = dir.run(&[&base[..], &["out"]].concat());
    assert_exit(&warned, 1, "warnings do not change the exit");
    let err = stderr(&warned);
    for entry in [
        "params.toml: aci_workspaces[0] = \"mlw-legacy-scorng\": names no workspace in the snapshot",
        "params.toml: private_registries.\"mlw-prd\": names no workspace in the snapshot",
        "params.toml: private_registries.\"mlw-prod\"[0] = \"/subscriptions/.../providers/Microsoft.ContainerRegistry/registries/contosobaseimages\": contains `...`",
    ] {
        assert!(
            err.contains(&format!("warning: {entry}")),
            "{entry}\nin\n{err}"
        );
    }
    assert_eq!(err.matches("warning: params.toml").count(), 3, "{err}");

    let strict = dir.run(&[&base[..], &["strict", "--strict"]].concat());
    assert_exit(&strict, 2, "--strict");
    let err = stderr(&strict);
    assert!(
        err.starts_with("error: params.toml: aci_workspaces[0]") && err.contains("--strict"),
        "{err}"
    );
    assert!(!dir.path("strict").exists(), "nothing written");

    // `fix plan` reads the same parameters and says the same.
    let plan = dir.run(&[
        "fix",
        "plan",
        "--snapshot",
        "snapshot.json",
        "--params",
        "params.toml",
    ]);
    let err = stderr(&plan);
    assert_eq!(err.matches("warning: params.toml").count(), 3, "{err}");

    // A registry given by its login server is warned about, and AML002 cannot ask about it: its
    // clusters in that workspace are unknown, saying why, never a pass (and not a rule error).
    dir.write(
        "login-server.toml",
        "[private_registries]\nmlw-prod = [\"contosobase.azurecr.io\"]\n",
    );
    let hostname = dir.run(&[
        "scan",
        "--snapshot",
        "snapshot.json",
        "--params",
        "login-server.toml",
        "--out-dir",
        "hostname",
    ]);
    let err = stderr(&hostname);
    assert!(
        err.contains("warning: login-server.toml: private_registries.\"mlw-prod\"[0] = \"contosobase.azurecr.io\": is not a container registry's ARM id"),
        "{err}"
    );
    assert_exit(&hostname, 1, "the demo's failures; no rule error");
    let report = dir.report("hostname");
    let mlw_prod: Vec<_> = report
        .results
        .iter()
        .filter(|r| {
            r.rule_id == "AML002"
                && r.resource_id.contains("/workspaces/mlw-prod/")
                && r.status != Status::NotApplicable
        })
        .collect();
    assert!(!mlw_prod.is_empty());
    for r in mlw_prod {
        assert!(
            r.status == Status::Fail
                || (r.status == Status::Unknown
                    && r.message.contains("`contosobase.azurecr.io` for this workspace, which is not a registry resource id")),
            "{} {:?}: {}",
            r.resource_name,
            r.status,
            r.message
        );
    }
}

#[test]
fn io_errors_say_their_cause_once() {
    let dir = Dir::new();
    copy_demo(&dir);
    let diff = dir.run(&["diff", "missing.json", "also-missing.json"]);
    assert_exit(&diff, 2, "diff");
    let params = dir.run(&[
        "scan",
        "--snapshot",
        "snapshot.json",
        "--params",
        "missing.toml",
    ]);
    assert_exit(&params, 2, "params");
    for (what, output, file) in [
        ("diff", &diff, "missing.json"),
        ("params", &params, "missing.toml"),
    ] {
        let err = stderr(output);
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(
            err.starts_with(&format!("error: {file}: cannot read: ")),
            "{what}: {err}"
        );
        assert_eq!(err.matches("(os error 2)").count(), 1, "{what}: {err}");
    }
}
