//! Fuzzing the parsers on stable Rust: proptest mutates every seed of `tests/fuzz-corpus/` (byte
//! flips, cuts, splices, inserted JSON/YAML/TOML tokens, control and multi-byte characters) and
//! also builds snapshots from random JSON trees. Each target runs a bounded number of cases inside
//! `cargo test` (`AMLAUDIT_FUZZ_CASES` raises it for a longer run; see BENCHMARKS.md for the last
//! long run). The properties: no parser panics; whatever a parser accepts survives a round trip;
//! whatever `import` writes, `scan` can read.
//!
//! proptest rather than cargo-fuzz (which needs nightly) or bolero (whose stable mode is a random
//! engine like this one, with a C libFuzzer build for its other modes): proptest is pure Rust,
//! runs inside `cargo test` with a fixed case budget, and shrinks a failure to a small input.

use std::path::{Path, PathBuf};

use amlaudit::gate::{Baseline, Exemptions};
use amlaudit::inventory::Snapshot;
use amlaudit::inventory::import::Importer;
use amlaudit::template::{self, Template};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::Value;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(target);
    let mut seeds: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn config() -> Config {
    let cases = std::env::var("AMLAUDIT_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

/// Fragments worth splicing into JSON, YAML and TOML: structure, duplicate keys, numbers serde
/// handles specially, escapes, and characters whose lower case changes byte length.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "null",
    "true",
    "1.0",
    "-0",
    "1e999",
    "18446744073709551616",
    "\"id\": \"/\"",
    "\"type\": \"\"",
    "\"id\": 1,",
    "\"a\": 1, \"a\": 2",
    "\"amlaudit_snapshot\": 1.0",
    "\"collected_at\": \"x\"",
    "\"value\": [], \"nextLink\": \"n\"",
    "\\u0000",
    "\\ud800",
    "\u{212A}",
    "\u{130}",
    "\u{1E9E}",
    "\u{202E}",
    "\u{1b}[2J",
    "\r",
    "\n",
    "- ",
    "  ",
    "\t",
    "[[exemptions]]",
    "rule = ",
    "expires = 2999-01-01",
    "resource = \"**\"",
    "*",
    "{a,b}",
    "[!",
    "/providers/",
    "/subscriptions/",
    "#",
    "'",
    "&a",
    "*a",
    "!!binary",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Cut(usize, usize),
    Insert(usize, &'static str),
    Splice(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Cut(p, n)),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(p, t)| Mutation::Insert(p, t)),
        (any::<usize>(), any::<usize>(), 1usize..256)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(p, b) => {
                if !bytes.is_empty() {
                    let i = p % bytes.len();
                    bytes[i] ^= b;
                }
            }
            Mutation::Cut(p, n) => {
                let start = p % len;
                let end = (start + n).min(bytes.len());
                if start < end {
                    bytes.drain(start..end);
                }
            }
            Mutation::Insert(p, t) => {
                let at = (p % len).min(bytes.len());
                bytes.splice(at..at, t.bytes());
            }
            Mutation::Splice(from, to, n) => {
                // Copies a run of the input elsewhere: repeats keys, objects and brackets.
                if !bytes.is_empty() {
                    let start = from % bytes.len();
                    let end = (start + n).min(bytes.len());
                    let run: Vec<u8> = bytes[start..end].to_vec();
                    let at = to % bytes.len();
                    bytes.splice(at..at, run);
                }
            }
            Mutation::Truncate(p) => bytes.truncate(p % len),
        }
    }
    bytes
}

/// A seed and a few mutations of it.
fn mutated(target: &str) -> impl Strategy<Value = (PathBuf, Vec<u8>)> {
    let seeds = corpus(target);
    (
        prop::sample::select(seeds),
        prop::collection::vec(mutation(), 0..6),
    )
        .prop_map(|((path, seed), ms)| (path, apply(&seed, &ms)))
}

/// Snapshots from random JSON: random resources and scopes under the real header.
fn random_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z/._ \u{212A}\u{202E}\u{1b}-]{0,12}".prop_map(Value::String),
        prop::sample::select(
            &[
                "id",
                "type",
                "/subscriptions/s/resourceGroups/rg",
                "Microsoft.Authorization/roleAssignments",
                "Microsoft.ContainerRegistry/registries"
            ][..]
        )
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(
                    &[
                        "id",
                        "type",
                        "name",
                        "properties",
                        "principalId",
                        "roleDefinitionId",
                        "scope",
                        "x"
                    ][..]
                ),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// Where the template targets deploy: a resource group of a subscription no snapshot covers.
const DEPLOY_TO: &str =
    "/subscriptions/b61e6ba5-3682-4dd6-b804-69b84b2d451c/resourceGroups/rg-ml-prod";

/// Loads and evaluates a template as `scan --template` does; whatever it plans must make an
/// inventory. Errors must name a line and column of the file.
fn plan_template(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.json");
    std::fs::write(&path, bytes).unwrap();
    let plan = Template::load(&path, None).and_then(|t| t.plan(DEPLOY_TO, None));
    match plan {
        Ok(plan) => {
            let snapshot = template::overlay(None, &plan);
            let inventory = amlaudit::inventory::Inventory::new(snapshot);
            let _ = amlaudit::permissions::PermissionIndex::new(&inventory);
        }
        Err(template::TemplateError::Invalid { line, column, .. }) => {
            prop_assert!(line >= 1 && column >= 1, "an error names its place");
        }
        Err(_) => {}
    }
    Ok(())
}

/// ARM expressions from a small grammar: the functions amlaudit evaluates (and one it does
/// not), literals that stress them, members and indexes.
fn arm_expression() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(
        &[
            "'a'",
            "''",
            "'\u{202E}x'''",
            "0",
            "-1",
            "9223372036854775807",
            "800",
            "resourceGroup().id",
            "subscription().subscriptionId",
            "parameters('p')",
            "variables('v')",
            "copyIndex()",
            "createObject('k', 1)",
            "json('{\"a\": [1, 2]}')",
            "lambda('x', lambdaVariables('x'))",
            "lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b')))",
        ][..],
    )
    .prop_map(str::to_string);
    leaf.prop_recursive(6, 64, 4, |inner| {
        let function = prop::sample::select(
            &[
                "concat",
                "format",
                "uniqueString",
                "guid",
                "toLower",
                "replace",
                "substring",
                "padLeft",
                "take",
                "skip",
                "range",
                "union",
                "intersection",
                "createArray",
                "length",
                "if",
                "equals",
                "and",
                "not",
                "coalesce",
                "resourceId",
                "reference",
                "split",
                "join",
                "first",
                "last",
                "contains",
                "empty",
                "base64",
                "string",
                "int",
                "add",
                "div",
                "mod",
                "min",
                "max",
                "items",
                "dateTimeAdd",
                "filter",
                "map",
                "sort",
                "toObject",
                "lambda",
                "lambdaVariables",
                "environment",
                "unknownFunction",
            ][..],
        );
        prop_oneof![
            (function, prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            inner.clone().prop_map(|e| format!("{e}.name")),
            (inner.clone(), inner).prop_map(|(e, i)| format!("{e}[{i}]")),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn template_evaluator_never_panics_on_mutated_templates((_, bytes) in mutated("template")) {
        plan_template(&bytes)?;
    }

    #[test]
    fn template_evaluator_never_panics_on_random_expressions(
        expressions in prop::collection::vec(arm_expression(), 1..4)
    ) {
        let properties: serde_json::Map<String, Value> = expressions
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("x{i}"), Value::String(format!("[{e}]"))))
            .collect();
        let doc = serde_json::json!({
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {"p": {"type": "string", "defaultValue": "[variables('v')]"}},
            "variables": {"v": format!("[{}]", expressions[0])},
            "resources": [{
                "type": "Microsoft.ContainerRegistry/registries",
                "apiVersion": "2023-07-01",
                "name": "[concat('acr', copyIndex())]",
                "copy": {"name": "c", "count": 2},
                "properties": properties,
            }],
        });
        plan_template(&serde_json::to_vec(&doc).unwrap())?;
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn snapshot_loader_never_panics_and_round_trips((path, bytes) in mutated("snapshot")) {
        if let Ok(snapshot) = Snapshot::from_slice(&path, &bytes) {
            let again = Snapshot::from_slice(&path, &snapshot.to_json_bytes())
                .expect("what the loader accepted, written back, loads again");
            prop_assert_eq!(again.resources, snapshot.resources);
            prop_assert_eq!(again.scopes, snapshot.scopes);
        }
    }

    #[test]
    fn snapshot_loader_checks_random_resources(resources in prop::collection::vec(random_json(), 0..8)) {
        let doc = serde_json::json!({
            "amlaudit_snapshot": 1,
            "collected_at": "2026-11-20T09:30:00Z",
            "resources": resources,
        });
        let bytes = serde_json::to_vec(&doc).unwrap();
        if let Ok(snapshot) = Snapshot::from_slice(Path::new("random.json"), &bytes) {
            for r in &snapshot.resources {
                prop_assert!(r["id"].as_str().is_some_and(|id| id.starts_with('/')));
                prop_assert!(r["type"].as_str().is_some_and(|t| !t.trim().is_empty()));
            }
            // Inventory, permission index and input documents take whatever loads.
            let inventory = amlaudit::inventory::Inventory::new(snapshot);
            let _ = amlaudit::permissions::PermissionIndex::new(&inventory);
        }
    }

    #[test]
    fn import_never_panics_and_what_it_writes_loads((path, bytes) in mutated("import")) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join(path.file_name().unwrap());
        std::fs::write(&input, &bytes).unwrap();
        let mut importer = Importer::new();
        if importer.add_file(&input).is_ok() {
            let snapshot = importer.finish(&["s".to_string()], None, "AzureCloud");
            let written = snapshot.to_json_bytes();
            let loaded = Snapshot::from_slice(Path::new("imported.json"), &written);
            prop_assert!(loaded.is_ok(), "import wrote a snapshot scan refuses: {:?}", loaded.err());
        }
    }

    #[test]
    fn exemptions_loader_never_panics((path, bytes) in mutated("exemptions")) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Exemptions::parse(&path, &text);
    }

    #[test]
    fn baseline_loader_never_panics_and_round_trips((path, bytes) in mutated("baseline")) {
        if let Ok(baseline) = Baseline::parse(&path, &bytes) {
            let again = Baseline::parse(&path, &baseline.to_json_bytes("2026-11-20T09:30:00Z"))
                .expect("a written baseline loads");
            prop_assert_eq!(again, baseline);
        }
    }

    #[test]
    fn strict_json_agrees_with_serde_json_when_no_key_repeats((_, bytes) in mutated("snapshot")) {
        let strict = amlaudit::strict_json::parse_slice(&bytes, "$");
        let lenient = serde_json::from_slice::<Value>(&bytes);
        match (strict, lenient) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Ok(_), Err(e)) => prop_assert!(false, "strict accepted what serde_json refuses: {e}"),
            (Err(e), Ok(_)) => prop_assert!(e.message.starts_with("duplicate key"), "{}", e),
            (Err(_), Err(_)) => {}
        }
    }
}
