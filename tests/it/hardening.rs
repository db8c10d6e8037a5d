//! Issue 14, as an attacker or a careless user would meet it through the binary: ids whose
//! lower-case form changes length, rules that never end or allocate without bound, one rule error
//! among many results, escape sequences in names, snapshots and baselines that are almost right,
//! paginated and secret-bearing imports, and report directories that cannot be written.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::support::{Dir, repo_file as repo, stderr, stdout};

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn expect_code(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// A user rule on registries, in `dir/policies/<id>.rego`.
/// `scan` of the demo tenant with the rules of `policies`, reports into `out`, and `extra`.
fn scan_demo_with(dir: &Dir, policies: &Path, extra: &[&str]) -> Output {
    let demo = repo("fixtures/demo-tenant.json");
    let mut args = vec![
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--policy-dir",
        policies.to_str().unwrap(),
        "--out-dir",
        "out",
    ];
    args.extend_from_slice(extra);
    dir.run(&args)
}

fn user_rule(dir: &Dir, id: &str, body: &str) -> PathBuf {
    let package = id.to_ascii_lowercase();
    dir.write(
        &format!("policies/{package}.rego"),
        &format!(
            "# METADATA\n# title: {id}\n# description: {id}.\n# custom:\n#   id: {id}\n#   severity: low\n#   resource_type: Microsoft.ContainerRegistry/registries\n#   remediation: X\npackage amlaudit.rules.{package}\n\nimport rego.v1\n\n{body}\n"
        ),
    );
    dir.path("policies")
}

/// Characters a terminal obeys; none may reach stdout, stderr or a human-read report.
fn assert_inert(what: &str, text: &str) {
    for c in text.chars() {
        let hazard = (c.is_control() && c != '\n' && c != '\r' && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
        assert!(!hazard, "{what} emits {c:?}:\n{text}");
    }
}

// ---- Crashes, hangs and resource exhaustion ----

#[test]
fn ids_whose_lower_case_changes_length_neither_panic_nor_pick_the_wrong_workspace() {
    let dir = Dir::new();
    let sub = "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c";
    // U+212A KELVIN SIGN and U+0130 lower-case to fewer/more bytes; U+1E9E too.
    let rg = format!("{sub}/resourceGroups/rg-\u{212A}\u{212A}\u{130}\u{1E9E}\u{20AC}");
    let ws =
        |name: &str| format!("{rg}/providers/Microsoft.MachineLearningServices/workspaces/{name}");
    let snapshot = json!({
        "amlaudit_snapshot": 1,
        "collected_at": "2026-11-20T09:30:00Z",
        "scopes": [{"subscription_id": "b61e6ba5-3682-4dd6-b804-69b84b2d451c", "status": "complete", "errors": []}],
        "resources": [
            {"id": ws("mlw-prod"), "name": "mlw-prod", "type": "Microsoft.MachineLearningServices/workspaces", "properties": {}},
            {"id": ws("mlw-prod-cmk"), "name": "mlw-prod-cmk", "type": "Microsoft.MachineLearningServices/workspaces", "properties": {}},
            {"id": format!("{}/computes/c1", ws("mlw-prod-cmk")), "name": "c1",
             "type": "Microsoft.MachineLearningServices/workspaces/computes",
             "properties": {"computeType": "AmlCompute"}}
        ]
    });
    let path = dir.json("unicode.json", &snapshot);
    let out = dir.run(&[
        "scan",
        "--snapshot",
        path.to_str().unwrap(),
        "--out-dir",
        "out",
    ]);
    assert_ne!(code(&out), 101, "panicked: {}", stderr(&out));
    assert!(dir.path("out/findings.json").exists(), "{}", stderr(&out));
    let report = dir.findings_json("out");
    let computes: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["resource_name"] == "c1")
        .collect();
    assert!(!computes.is_empty(), "a rule evaluates computes");
    for r in computes {
        assert_eq!(r["workspace_id"], json!(ws("mlw-prod-cmk")), "{r}");
    }
}

#[test]
fn a_rule_that_never_ends_is_stopped_and_named_with_its_file_and_resource() {
    let dir = Dir::new();
    let policies = user_rule(
        &dir,
        "SLOW001",
        "n := count([x | some x in numbers.range(1, 3000); some y in numbers.range(1, 3000); some z in numbers.range(1, 3000)])\n\nresult := {\"status\": \"pass\", \"message\": sprintf(\"%d\", [n])}",
    );
    let out = scan_demo_with(&dir, &policies, &["--rule-time-limit", "0.2"]);
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("slow001.rego"), "{err}");
    assert!(err.contains("SLOW001"), "{err}");
    assert!(err.contains("/registries/"), "names the resource: {err}");
    assert!(err.contains("time limit"), "{err}");
    // The scan finished: every report is there, with the errors in it.
    let report = dir.findings_json("out");
    assert!(report["summary"]["by_status"]["error"].as_u64().unwrap() >= 1);
    let errors: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "error")
        .collect();
    assert!(errors.iter().all(|r| r["rule_id"] == "SLOW001"));
    let at = errors[0]["message"].as_str().unwrap();
    // The loop is in `n`; regorus gives no place for a time limit, so the error points at the
    // `result` being evaluated: line 15 of the rule file.
    assert!(at.contains("slow001.rego:15"), "the file and line: {at}");
}

#[test]
fn a_rule_that_allocates_without_bound_is_an_error_not_an_abort() {
    let dir = Dir::new();
    let policies = user_rule(
        &dir,
        "BIG001",
        "result := {\"status\": \"pass\", \"message\": sprintf(\"%d\", [count(numbers.range(1, 1e9))])}",
    );
    let out = scan_demo_with(&dir, &policies, &[]);
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("memory budget"), "{err}");
    assert!(err.contains("big001.rego"), "{err}");
}

#[test]
fn recursion_is_refused_when_policies_load() {
    let dir = Dir::new();
    let policies = user_rule(
        &dir,
        "REC001",
        "depth(n) := depth(n + 1)\n\nresult := {\"status\": \"pass\", \"message\": sprintf(\"%d\", [depth(1)])}",
    );
    let out = scan_demo_with(&dir, &policies, &[]);
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("rec001.rego:13:"), "file and line: {err}");
    assert!(err.contains("recursive"), "{err}");
    assert!(!dir.path("out").exists());
}

#[test]
fn bundled_rules_stay_far_inside_the_default_budget() {
    // The default is 10 s per (rule, resource); a hundredth of it must still be plenty.
    let dir = Dir::new();
    for fixture in [
        "fixtures/demo-tenant.json",
        "tests/data/hostile-tenant.json",
    ] {
        let out = dir.run(&[
            "scan",
            "--snapshot",
            repo(fixture).to_str().unwrap(),
            "--out-dir",
            "out",
            "--rule-time-limit",
            "0.1",
        ]);
        assert_ne!(code(&out), 2, "{fixture}: {}", stderr(&out));
        assert!(dir.findings_json("out")["summary"]["by_status"]["error"].is_null());
    }
}

#[test]
fn one_rule_error_is_an_error_result_the_rest_is_reported_and_the_scan_exits_2() {
    let dir = Dir::new();
    // Fails only on `mlacrsandbox`, where it builds a range over the budget.
    let policies = user_rule(
        &dir,
        "ERR001",
        "size := count(numbers.range(1, 1e12)) if input.resource.name == \"mlacrsandbox\"\n\nsize := 1 if input.resource.name != \"mlacrsandbox\"\n\nresult := {\"status\": \"pass\", \"message\": sprintf(\"fine %d\", [size])}",
    );
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "scan".to_string(),
            "--snapshot".into(),
            repo("fixtures/demo-tenant.json").display().to_string(),
            "--policy-dir".into(),
            policies.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        dir.run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run(&[
        "--out-dir",
        "out",
        "--format",
        "table",
        "--format",
        "sarif",
        "--format",
        "junit",
        "--format",
        "markdown",
    ]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("mlacrsandbox"), "{}", stderr(&out));
    let report = dir.findings_json("out");
    let results = report["results"].as_array().unwrap();
    let err001: Vec<&Value> = results
        .iter()
        .filter(|r| r["rule_id"] == "ERR001")
        .collect();
    assert_eq!(err001.len(), 10, "every registry has a result");
    for r in &err001 {
        let expected = if r["resource_name"] == "mlacrsandbox" {
            "error"
        } else {
            "pass"
        };
        assert_eq!(r["status"], expected, "{r}");
    }
    assert_eq!(report["summary"]["by_status"]["error"], 1);
    // The bundled rules still ran.
    assert!(
        results
            .iter()
            .any(|r| r["rule_id"] == "AML001" && r["status"] == "fail")
    );
    // Every format carries the error.
    assert!(dir.read("out/findings.csv").contains("\"error\""));
    let sarif: Value = serde_json::from_str(&dir.read("out/findings.sarif")).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(
        invocation["toolExecutionNotifications"][0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("mlacrsandbox")
    );
    assert!(
        dir.read("out/findings.junit.xml")
            .contains("type=\"error\"")
    );
    assert!(dir.read("out/summary.md").contains("Rule errors"));
    assert!(stdout(&out).contains("Rule errors"));

    // --no-fail does not wave a broken audit through.
    expect_code(&run(&["--out-dir", "out2", "--no-fail", "-q"]), 2);

    // --fail-fast stops at the error, before any report is written.
    let out = run(&["--out-dir", "fast", "--fail-fast"]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("mlacrsandbox"), "{}", stderr(&out));
    assert!(!dir.path("fast").exists());
}

#[test]
fn quiet_silences_what_rules_print() {
    let dir = Dir::new();
    let policies = user_rule(
        &dir,
        "PRN001",
        "result := {\"status\": \"pass\", \"message\": \"ok\"} if {\n\tprint(\"debugging\", input.resource.name)\n}",
    );
    let out = scan_demo_with(&dir, &policies, &["-q"]);
    expect_code(&out, 1);
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "");
}

// ---- Output that lies to a terminal ----

#[test]
fn control_and_bidi_characters_are_shown_never_obeyed() {
    let dir = Dir::new();
    let snapshot = repo("tests/data/terminal-tenant.json");
    let out = dir.run(&[
        "scan",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--out-dir",
        "out",
        "--format",
        "table",
        "--format",
        "markdown",
        "--format",
        "script",
        "--format",
        "junit",
        "--format",
        "sarif",
    ]);
    expect_code(&out, 1);
    let table = stdout(&out);
    assert_inert("the table", &table);
    assert!(table.contains("\\u{1b}[31mRED"), "{table}");
    assert!(table.contains("\\u{202e}"), "{table}");
    assert_inert("stderr", &stderr(&out));

    let csv = dir.read("out/findings.csv");
    // Cells are quoted with CRLF row ends; nothing else may be a control character.
    assert_inert("findings.csv", &csv.replace("\r\n", "\n"));
    assert!(
        !csv.replace("\r\n", "").contains('\r'),
        "a raw CR in a cell"
    );
    assert!(csv.contains("\\u{1b}]0;pwned-title\\u{7}"), "{csv}");

    let markdown = dir.read("out/summary.md");
    assert_inert("summary.md", &markdown);
    // Outside code blocks (where GitHub does not notify), no `@` is left bare.
    let mut in_code = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code {
            assert!(!line.contains(" @octocat"), "an @mention survives: {line}");
        }
    }
    assert!(markdown.contains("\\@octocat"), "{markdown}");

    let script = dir.read("out/remediation.sh");
    assert_inert("remediation.sh", &script);
    // The argv keeps the exact bytes, quoted as $'...'.
    assert!(script.contains("$'"), "{script}");
    assert!(script.contains("\\x1b[31mRED"), "{script}");

    // Machine formats keep the exact name, escaped by their own syntax.
    let report = dir.findings_json("out");
    assert!(report["results"].as_array().unwrap().iter().any(|r| {
        r["resource_name"]
            .as_str()
            .unwrap()
            .contains("\u{1b}[31mRED")
    }));

    // The argv a person would run is the resource's name, byte for byte.
    #[cfg(unix)]
    {
        let line = script
            .lines()
            .find(|l| l.starts_with("run az acr update"))
            .expect("the AML001 fix");
        let echo = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "printf '%s\\0' {}",
                line.trim_start_matches("run az acr update ")
            ))
            .output()
            .unwrap();
        let words: Vec<&[u8]> = echo.stdout.split(|b| *b == 0).collect();
        assert!(
            words.iter().any(|w| *w
                == "mlacr\u{1b}[31mRED\u{1b}]0;pwned-title\u{7}\u{202e}evil\rhidden @octocat"
                    .as_bytes()),
            "{line}"
        );
    }

    // diff between two reports with these names.
    std::fs::copy(dir.path("out/findings.json"), dir.path("old.json")).unwrap();
    let mut changed = report.clone();
    for r in changed["results"].as_array_mut().unwrap() {
        if r["status"] == "fail" {
            r["status"] = json!("pass");
        }
    }
    dir.json("new.json", &changed);
    let out = dir.run(&["diff", "old.json", "new.json"]);
    assert_inert("diff", &stdout(&out));
    assert!(stdout(&out).contains("\\u{1b}"), "{}", stdout(&out));

    // stderr: an error message carrying a hostile file name.
    let out = dir.run(&["scan", "--snapshot", "missing\u{1b}]0;owned\u{7}.json"]);
    expect_code(&out, 2);
    assert_inert("stderr", &stderr(&out));
    assert!(
        stderr(&out).contains("missing\\u{1b}]0;owned\\u{7}.json"),
        "{}",
        stderr(&out)
    );
}

// ---- Input that is quietly accepted ----

fn scan_snapshot(dir: &Dir, name: &str, text: &str) -> Output {
    let path = dir.write(name, text);
    dir.run(&[
        "scan",
        "--snapshot",
        path.to_str().unwrap(),
        "--out-dir",
        "out",
    ])
}

#[test]
fn duplicate_keys_inside_a_resource_are_refused_with_file_line_column_and_path() {
    let dir = Dir::new();
    let text = "{\n  \"amlaudit_snapshot\": 1,\n  \"collected_at\": \"2026-11-20T09:30:00Z\",\n  \"resources\": [\n    {\"id\": \"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r\",\n     \"type\": \"Microsoft.ContainerRegistry/registries\",\n     \"properties\": {\"adminUserEnabled\": true,\n                    \"adminUserEnabled\": false}}\n  ]\n}\n";
    let out = scan_snapshot(&dir, "dup.json", text);
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("dup.json:8:"),
        "the file's line, not the resource's: {err}"
    );
    assert!(err.contains("$.resources[0].properties"), "{err}");
    assert!(err.contains("duplicate key \"adminUserEnabled\""), "{err}");
    assert!(!dir.path("out").exists());

    // A syntax error inside a resource is placed in the file too.
    let broken = text.replace("\"adminUserEnabled\": false", "\"adminUserEnabled\": fals");
    let err = stderr(&scan_snapshot(&dir, "broken.json", &broken));
    assert!(err.contains("broken.json:8:"), "{err}");

    // Same in import.
    let list = dir.write(
        "list.json",
        "{\"value\": [\n  {\"id\": \"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r\",\n   \"type\": \"Microsoft.ContainerRegistry/registries\", \"name\": \"a\", \"name\": \"b\"}]}",
    );
    let out = dir.run(&["import", "--output", "snap.json", list.to_str().unwrap()]);
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("list.json:3:"), "{err}");
    assert!(err.contains("$.value[0]"), "{err}");
    assert!(!dir.path("snap.json").exists());
}

#[test]
fn the_snapshot_shape_is_checked_strictly() {
    let dir = Dir::new();
    let cases = [
        (
            "array.json",
            "[{\"amlaudit_snapshot\": 1, \"collected_at\": \"2026-11-20T09:30:00Z\"}]",
            "a snapshot is a JSON object",
        ),
        (
            "float.json",
            "{\"amlaudit_snapshot\": 1.0, \"collected_at\": \"2026-11-20T09:30:00Z\"}",
            "unsupported version 1.0",
        ),
        (
            "string.json",
            "{\"amlaudit_snapshot\": \"1\", \"collected_at\": \"2026-11-20T09:30:00Z\"}",
            "unsupported version \"1\"",
        ),
        (
            "when.json",
            "{\"amlaudit_snapshot\": 1, \"collected_at\": \"last tuesday\"}",
            "not an RFC 3339 date-time",
        ),
        (
            "top-dup.json",
            "{\"amlaudit_snapshot\": 1, \"amlaudit_snapshot\": 1, \"collected_at\": \"2026-11-20T09:30:00Z\"}",
            "duplicate field",
        ),
        (
            "scope-dup.json",
            "{\"amlaudit_snapshot\": 1, \"collected_at\": \"2026-11-20T09:30:00Z\", \"scopes\": [{\"subscription_id\": \"a\", \"status\": \"complete\", \"status\": \"failed\"}]}",
            "duplicate key",
        ),
    ];
    for (name, text, message) in cases {
        let out = scan_snapshot(&dir, name, text);
        expect_code(&out, 2);
        assert!(stderr(&out).contains(name), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{name}: {}", stderr(&out));
        assert!(!dir.path("out").exists(), "{name}");
    }
    // Covering nothing is not clean.
    let out = scan_snapshot(
        &dir,
        "empty.json",
        "{\"amlaudit_snapshot\": 1, \"collected_at\": \"2026-11-20T09:30:00Z\"}",
    );
    expect_code(&out, 3);
    assert!(stderr(&out).contains("covers nothing"), "{}", stderr(&out));
}

#[test]
fn the_published_schema_accepts_every_snapshot_amlaudit_writes_and_refuses_bad_ones() {
    let schema: Value =
        serde_json::from_slice(&std::fs::read(repo("docs/snapshot.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    let check = |what: &str, snapshot: &Value| {
        let errors: Vec<String> = validator
            .iter_errors(snapshot)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
    };
    for fixture in [
        "fixtures/demo-tenant.json",
        "tests/data/hostile-tenant.json",
        "tests/data/terminal-tenant.json",
    ] {
        check(
            fixture,
            &serde_json::from_slice(&std::fs::read(repo(fixture)).unwrap()).unwrap(),
        );
    }
    for seed in std::fs::read_dir(repo("tests/fuzz-corpus/snapshot")).unwrap() {
        let path = seed.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        // Seeds amlaudit accepts must be schema-valid; the schema must refuse the rest
        // (except what JSON Schema cannot see: duplicate keys).
        let loaded = amlaudit::inventory::Snapshot::from_slice(&path, &bytes);
        if let (Ok(_), Ok(value)) = (loaded, serde_json::from_slice::<Value>(&bytes)) {
            check(&path.display().to_string(), &value);
        }
    }
    // A snapshot `import` writes.
    let dir = Dir::new();
    let out = dir.run(&[
        "import",
        "--output",
        "snap.json",
        "--subscription",
        "b61e6ba5-3682-4dd6-b804-69b84b2d451c",
        repo("tests/data/az/acr-show.json").to_str().unwrap(),
    ]);
    expect_code(&out, 0);
    check(
        "import",
        &serde_json::from_str(&dir.read("snap.json")).unwrap(),
    );
    let keyvault = json!({
        "amlaudit_snapshot": 1, "collected_at": "2026-11-20T09:30:00Z",
        "directory": {"groups": []},
        "scopes": [{"subscription_id": "s", "status": "complete", "errors": [], "deny_assignments": "read"}],
        "resources": [{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", "type": "Microsoft.KeyVault/vaults", "properties": {"enableRbacAuthorization": false}}]
    });
    check("key vault, directory, deny assignments", &keyvault);
    for bad in [
        json!([]),
        json!({"amlaudit_snapshot": 1.5, "collected_at": "2026-11-20T09:30:00Z"}),
        json!({"amlaudit_snapshot": 1, "collected_at": "yesterday"}),
        json!({"amlaudit_snapshot": 1, "collected_at": "2026-11-20T09:30:00Z", "resources": [{"id": "no-slash", "type": "T"}]}),
        json!({"amlaudit_snapshot": 1, "collected_at": "2026-11-20T09:30:00Z", "resources": [{"id": "/a", "type": "microsoft.authorization/roleassignments", "properties": {"principalId": "p"}}]}),
    ] {
        assert!(!validator.is_valid(&bad), "accepted {bad}");
    }
}

#[test]
fn baselines_are_objects_and_match_rule_ids_in_any_case() {
    let dir = Dir::new();
    let demo_path = repo("fixtures/demo-tenant.json");
    dir.write("array.json", "[1]");
    let out = dir.run(&[
        "scan",
        "--snapshot",
        demo_path.to_str().unwrap(),
        "--baseline",
        "array.json",
        "--out-dir",
        "out",
    ]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("array.json"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a baseline is a JSON object"),
        "{}",
        stderr(&out)
    );

    // Every demo failure, with its rule id lower-cased, still counts as baselined.
    expect_code(
        &dir.run(&[
            "scan",
            "--snapshot",
            demo_path.to_str().unwrap(),
            "--create-baseline",
            "base.json",
            "--out-dir",
            "out",
        ]),
        1,
    );
    let lowered = dir.read("base.json").replace("\"AML", "\"aml");
    assert!(lowered.contains("\"aml001\""));
    dir.write("base.json", &lowered);
    let out = dir.run(&[
        "scan",
        "--snapshot",
        demo_path.to_str().unwrap(),
        "--baseline",
        "base.json",
        "--out-dir",
        "out",
    ]);
    assert_ne!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(dir.findings_json("out")["baseline"]["new"], 0);
}

#[test]
fn import_marks_paginated_bodies_partial_and_drops_secrets() {
    let dir = Dir::new();
    let sub = "b61e6ba5-3682-4dd6-b804-69b84b2d451c";
    let page = dir.json(
        "page1.json",
        &json!({
            "value": [{
                "id": format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1"),
                "type": "Microsoft.ContainerRegistry/registries",
                "name": "acr1",
                "properties": {"adminUserEnabled": false}
            }],
            "nextLink": "https://management.azure.com/subscriptions/x/providers/Microsoft.ContainerRegistry/registries?$skiptoken=abc"
        }),
    );
    let connection = dir.json(
        "connection.json",
        &json!({
            "id": format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/connections/c"),
            "type": "Microsoft.MachineLearningServices/workspaces/connections",
            "name": "c",
            "properties": {
                "authType": "ServicePrincipal",
                "target": "https://example.azurecr.io",
                "credentials": {"clientId": "cid", "clientSecret": "s3cr3t-value", "resourceId": "/x"},
                "password": "hunter2"
            }
        }),
    );
    let keys = dir.json(
        "acr-credential.json",
        &json!({
            "id": format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr2"),
            "type": "Microsoft.ContainerRegistry/registries",
            "name": "acr2",
            "passwords": [{"name": "password", "value": "AAAAsecret"}],
            "username": "acr2"
        }),
    );
    let out = dir.run(&[
        "import",
        "--output",
        "snap.json",
        "--subscription",
        sub,
        page.to_str().unwrap(),
        connection.to_str().unwrap(),
        keys.to_str().unwrap(),
    ]);
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("page1.json") && err.contains("nextLink"),
        "{err}"
    );
    let snapshot = dir.read("snap.json");
    for secret in ["s3cr3t-value", "hunter2", "AAAAsecret"] {
        assert!(!snapshot.contains(secret), "{secret} kept:\n{snapshot}");
    }
    let snapshot: Value = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(snapshot["scopes"][0]["status"], "partial");
    assert!(
        snapshot["scopes"][0]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("page1.json")
    );
    // What rules need from a connection stays.
    let c = snapshot["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "c")
        .unwrap();
    assert_eq!(c["properties"]["credentials"]["clientId"], "cid");
    assert_eq!(c["properties"]["credentials"]["resourceId"], "/x");
    // And a scan of it is incomplete, not clean.
    let out = dir.run(&["scan", "--snapshot", "snap.json", "--out-dir", "out"]);
    expect_code(&out, 3);
}

// ---- Nothing half-written ----

#[test]
fn a_report_that_cannot_be_written_leaves_the_out_dir_as_it_was() {
    let dir = Dir::new();
    let demo_path = repo("fixtures/demo-tenant.json");
    std::fs::create_dir_all(dir.path("out/findings.sarif")).unwrap();
    dir.write("out/findings.json", "old json");
    let out = dir.run(&[
        "scan",
        "--snapshot",
        demo_path.to_str().unwrap(),
        "--out-dir",
        "out",
        "--format",
        "sarif",
    ]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("findings.sarif"), "{}", stderr(&out));
    assert_eq!(dir.read("out/findings.json"), "old json");
    let mut left: Vec<String> = std::fs::read_dir(dir.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["findings.json", "findings.sarif"]);

    // An unwritable --create-baseline: nothing is written either.
    std::fs::remove_dir(dir.path("out/findings.sarif")).unwrap();
    dir.write("not-a-dir", "a file");
    let out = dir.run(&[
        "scan",
        "--snapshot",
        demo_path.to_str().unwrap(),
        "--out-dir",
        "out",
        "--create-baseline",
        "not-a-dir/baseline.json",
    ]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("baseline.json"), "{}", stderr(&out));
    assert_eq!(dir.read("out/findings.json"), "old json");
    assert!(!dir.path("out/findings.csv").exists());
}

#[test]
fn an_orphan_connection_never_aborts_the_scan_or_passes() {
    let dir = Dir::new();
    let mut snapshot: Value =
        serde_json::from_slice(&std::fs::read(repo("fixtures/demo-tenant.json")).unwrap()).unwrap();
    let resources = snapshot["resources"].as_array_mut().unwrap();
    let mut orphan = resources
        .iter()
        .find(|r| r["type"] == "Microsoft.MachineLearningServices/workspaces/connections")
        .unwrap()
        .clone();
    let id = orphan["id"]
        .as_str()
        .unwrap()
        .replace("/workspaces/", "/workspaces/gone-")
        .replace("/connections/", "/connections/orphan-");
    orphan["id"] = json!(id);
    orphan["name"] = json!("orphan-connection");
    resources.push(orphan);
    let path = dir.json("orphan.json", &snapshot);
    let out = dir.run(&[
        "scan",
        "--snapshot",
        path.to_str().unwrap(),
        "--out-dir",
        "out",
    ]);
    // An error result (exit 2) or an unknown (exit 3, once the rule says so): never a crash
    // that writes nothing, never a pass.
    assert!(matches!(code(&out), 1..=3), "{}", stderr(&out));
    let report = dir.findings_json("out");
    let results = report["results"].as_array().unwrap();
    let orphan: Vec<&Value> = results
        .iter()
        .filter(|r| r["resource_name"] == "orphan-connection")
        .collect();
    assert!(!orphan.is_empty());
    assert!(orphan.iter().all(|r| r["status"] != "pass"), "{orphan:?}");
    // Every other rule and resource was still evaluated.
    assert!(
        results
            .iter()
            .any(|r| r["rule_id"] == "AML001" && r["status"] == "fail")
    );
}
