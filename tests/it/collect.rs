//! `amlaudit collect` as a user runs it, against a fake Azure on loopback (issue 4).
//!
//! The binary authenticates through azure_identity's real managed identity credential (the fake
//! serves `IDENTITY_ENDPOINT`), reads the demo tenant through the real ARM paths, and must come
//! back with exactly the fake's resources, whatever the fake throws at it.

use crate::fake_azure;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use fake_azure::{Config, FakeAzure, Fault, FaultKind, Tenant};
use serde_json::Value;

const DENIED: &str = "0d3d0d3d-0403-4403-8403-000000000403";

/// The binary with a scrubbed environment: only the fake's managed identity is configured, so
/// the credential chain must walk past workload identity and client secret to find it.
fn amlaudit(fake: &FakeAzure) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    cmd.env_clear()
        .env("IDENTITY_ENDPOINT", fake.identity_endpoint())
        .env("IDENTITY_HEADER", fake.identity_header())
        .args([
            "collect",
            "--arm-endpoint",
            &fake.url,
            "--ml-endpoint",
            &fake.url,
            "--graph-endpoint",
            &fake.url,
        ])
        .timeout(Duration::from_secs(60));
    cmd
}

fn read(path: &Path) -> Value {
    let bytes = std::fs::read(path).expect("snapshot written");
    // It must load as a snapshot, as every other command will load it.
    amlaudit::inventory::Snapshot::from_slice(path, &bytes).expect("a valid snapshot");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// Resources by normalised id, failing on any id seen twice.
fn by_id(snapshot: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for r in snapshot["resources"].as_array().expect("resources") {
        let id = r["id"].as_str().expect("id").to_ascii_lowercase();
        assert!(out.insert(id.clone(), r.clone()).is_none(), "doubled: {id}");
    }
    out
}

fn scope<'a>(snapshot: &'a Value, sub: &str) -> &'a Value {
    snapshot["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .find(|s| s["subscription_id"] == sub)
        .unwrap_or_else(|| panic!("no scope for {sub}"))
}

fn assert_same_resources(got: &BTreeMap<String, Value>, want: &BTreeMap<String, Value>) {
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    for (id, resource) in want {
        assert_eq!(&got[id], resource, "{id} differs from what the fake served");
    }
}

fn demo_subscriptions() -> (Tenant, String, String) {
    let tenant = Tenant::demo();
    let subs = tenant.subscriptions();
    assert_eq!(subs.len(), 2, "the demo tenant has two subscriptions");
    (tenant, subs[0].clone(), subs[1].clone())
}

#[test]
fn collects_exactly_the_demo_tenant_through_paging_throttling_and_errors() {
    let (tenant, s1, s2) = demo_subscriptions();
    let workspaces =
        format!("/subscriptions/{s1}/providers/microsoft.machinelearningservices/workspaces");
    let registries =
        format!("/subscriptions/{s2}/providers/microsoft.containerregistry/registries");
    let fake = FakeAzure::start(
        tenant.clone(),
        Config {
            page_size: 2,
            faults: vec![
                Fault::new(&workspaces, FaultKind::Throttle("1".into()), 1),
                Fault::new(&registries, FaultKind::Unavailable, 2),
                Fault::new(
                    "/providers/microsoft.containerservice/managedclusters",
                    FaultKind::Slow(Duration::from_millis(300)),
                    1,
                ),
            ],
            ..Config::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    let assert = amlaudit(&fake)
        .args(["--subscription", &s1, &s2, "-v", "-o"])
        .arg(&out)
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();

    let snapshot = read(&out);
    assert_same_resources(
        &by_id(&snapshot),
        &tenant.expected(&[s1.clone(), s2.clone()]),
    );
    for sub in [&s1, &s2] {
        assert_eq!(scope(&snapshot, sub)["status"], "complete", "{stderr}");
    }
    assert_eq!(snapshot["cloud"], "AzureCloud");
    assert_eq!(
        snapshot["tenant_id"],
        "62f746b4-84e6-4ceb-95bd-447e7184d454"
    );

    // 429 with Retry-After: 1, then success: exactly two requests, at least a second apart.
    let first_pages: Vec<_> = fake
        .hits()
        .into_iter()
        .filter(|h| h.path.eq_ignore_ascii_case(&workspaces) && !h.query.contains("skipToken"))
        .collect();
    assert_eq!(
        first_pages.iter().map(|h| h.status).collect::<Vec<_>>(),
        [429, 200]
    );
    assert!(first_pages[1].at.duration_since(first_pages[0].at) >= Duration::from_secs(1));
    // Two 503s, then success.
    let registry_pages: Vec<u16> = fake
        .hits()
        .into_iter()
        .filter(|h| h.path.eq_ignore_ascii_case(&registries) && !h.query.contains("skipToken"))
        .map(|h| h.status)
        .collect();
    assert_eq!(registry_pages, [503, 503, 200]);
    // Paging was followed (page size 2) and no page was read twice after success.
    assert!(fake.hits().iter().any(|h| h.query.contains("skipToken")));
    // The honoured wait is in the log and the summary.
    assert!(stderr.contains("waiting as Retry-After asks"), "{stderr}");
    assert!(stderr.contains("1 throttled (waited 1.0s"), "{stderr}");
    assert!(
        stderr.contains("authenticated with managed identity (IDENTITY_ENDPOINT)"),
        "{stderr}"
    );
    // One token per audience (ARM, and Graph, which the fake also serves), never one a request.
    let tokens = fake.token_requests();
    assert!(!tokens.is_empty() && tokens.len() <= 2, "{tokens:?}");
    assert!(tokens.iter().all(|t| t == &fake.url), "{tokens:?}");
    // Nothing that returns secrets, and nothing unauthenticated.
    for hit in fake.hits() {
        let p = hit.path.to_ascii_lowercase();
        assert!(
            !p.contains("listkeys") && !p.contains("listcredentials") && !p.contains("listsecrets"),
            "{}",
            hit.path
        );
        assert_eq!(
            hit.authorization.as_deref(),
            Some(format!("Bearer {}", fake.token()).as_str())
        );
    }
}

#[test]
fn a_forbidden_subscription_is_recorded_and_exits_3() {
    let (tenant, s1, _) = demo_subscriptions();
    let fake = FakeAzure::start(tenant.clone().with_denied(DENIED), Config::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    let assert = amlaudit(&fake)
        .args(["--subscription", &s1, "--subscription", DENIED, "-o"])
        .arg(&out)
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    let snapshot = read(&out);
    assert_eq!(scope(&snapshot, &s1)["status"], "complete");
    let denied = scope(&snapshot, DENIED);
    assert_eq!(denied["status"], "failed");
    let errors = denied["errors"].as_array().unwrap();
    let types: BTreeSet<&str> = errors
        .iter()
        .map(|e| e["resource_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "Microsoft.Authorization/denyAssignments",
            "Microsoft.Authorization/roleAssignments",
            "Microsoft.ContainerRegistry/registries",
            "Microsoft.ContainerService/managedClusters",
            "Microsoft.KeyVault/vaults",
            "Microsoft.MachineLearningServices/workspaces",
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            "Microsoft.Resources/subscriptions",
        ])
    );
    assert!(
        errors.iter().all(|e| e["http_status"] == 403),
        "{errors:#?}"
    );
    assert!(errors.iter().all(|e| {
        e["message"]
            .as_str()
            .unwrap()
            .contains("AuthorizationFailed")
    }));
    assert!(
        stderr.contains(&format!("subscription {DENIED} is failed")),
        "{stderr}"
    );
    // The readable subscription is complete and nothing of it is lost.
    assert_same_resources(
        &by_id(&snapshot),
        &tenant.expected(std::slice::from_ref(&s1)),
    );
}

#[test]
fn resource_graph_mode_reads_the_same_inventory() {
    let (tenant, s1, s2) = demo_subscriptions();
    let fake = FakeAzure::start(tenant.clone().with_denied(DENIED), Config::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    amlaudit(&fake)
        .args([
            "--via",
            "resource-graph",
            "--subscription",
            &s1,
            &s2,
            DENIED,
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(3);
    let snapshot = read(&out);
    let got = by_id(&snapshot);
    let want = tenant.expected(&[s1.clone(), s2.clone()]);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (id, resource) in &want {
        let collected = &got[id];
        assert!(
            collected["type"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(resource["type"].as_str().unwrap()),
            "{id}"
        );
        assert_eq!(
            collected.get("properties"),
            resource.get("properties"),
            "{id}"
        );
    }
    assert_eq!(scope(&snapshot, &s1)["status"], "complete");
    assert_eq!(scope(&snapshot, &s2)["status"], "complete");
    assert_eq!(scope(&snapshot, DENIED)["status"], "failed");
    // Top-level types came from Resource Graph, computes still from ARM per workspace.
    assert!(
        !fake
            .hits_on("/providers/microsoft.resourcegraph/resources")
            .is_empty()
    );
    assert!(
        fake.hits_on(&format!(
            "/subscriptions/{s1}/providers/microsoft.containerregistry"
        ))
        .is_empty()
    );
    assert!(!fake.hits_on("/computes").is_empty());
}

#[test]
fn tokens_never_reach_the_output_even_when_verbose() {
    let (tenant, s1, s2) = demo_subscriptions();
    let fake = FakeAzure::start(
        tenant,
        Config {
            faults: vec![Fault::new("/registries", FaultKind::Unavailable, 1)],
            ..Config::default()
        },
    );
    for (log, verbosity) in [
        (None, vec!["-vv"]),
        (None, vec!["-vv", "--via", "resource-graph"]),
        // Every crate's logs, azure_identity's and reqwest's included.
        (Some("trace"), vec![]),
    ] {
        let mut cmd = amlaudit(&fake);
        if let Some(filter) = log {
            cmd.env("RUST_LOG", filter);
        }
        let assert = cmd
            .args(["--subscription", &s1, &s2])
            .args(&verbosity)
            .assert()
            .code(0);
        let output = assert.get_output();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The snapshot went to stdout and the debug log to stderr ...
        assert!(stdout.contains("\"amlaudit_snapshot\": 1"));
        assert!(stderr.contains("azure answered"), "{stderr}");
        // ... and neither holds the token or the identity header secret.
        for secret in [fake.token(), fake.identity_header()] {
            assert!(!stdout.contains(secret) && !stderr.contains(secret));
        }
    }
}

#[test]
fn exhausted_retries_leave_the_subscription_partial() {
    let (tenant, s1, _) = demo_subscriptions();
    let build = tenant
        .resources
        .iter()
        .find(|r| r["name"] == "mlw-build")
        .and_then(|r| r["id"].as_str())
        .unwrap()
        .to_string();
    let fake = FakeAzure::start(
        tenant.clone(),
        Config {
            faults: vec![Fault::new(
                &format!("{build}/connections"),
                FaultKind::Unavailable,
                1000,
            )],
            ..Config::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    amlaudit(&fake)
        .args([
            "--subscription",
            &s1,
            "--max-retries",
            "2",
            "--max-retry-wait",
            "0.01",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(3);
    let snapshot = read(&out);
    let s = scope(&snapshot, &s1);
    assert_eq!(s["status"], "partial");
    let errors = s["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        errors[0]["resource_type"],
        "Microsoft.MachineLearningServices/workspaces/connections"
    );
    assert_eq!(errors[0]["http_status"], 503);
    assert_eq!(fake.hits_on(&format!("{build}/connections")).len(), 3);
    // Everything else is there; only the connections of that workspace are missing.
    let mut want = tenant.expected(std::slice::from_ref(&s1));
    want.retain(|id, _| !id.starts_with(&format!("{}/connections/", build.to_ascii_lowercase())));
    assert_same_resources(&by_id(&snapshot), &want);
}

#[test]
fn a_next_link_that_repeats_is_caught() {
    let (tenant, s1, _) = demo_subscriptions();
    let assignments =
        format!("/subscriptions/{s1}/providers/microsoft.authorization/roleassignments");
    let fake = FakeAzure::start(
        tenant,
        Config {
            faults: vec![Fault::new(&assignments, FaultKind::LoopingNextLink, 1)],
            ..Config::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    amlaudit(&fake)
        .args(["--subscription", &s1, "-o"])
        .arg(&out)
        .assert()
        .code(3);
    let snapshot = read(&out);
    let s = scope(&snapshot, &s1);
    assert_eq!(s["status"], "partial");
    assert!(
        s["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nextLink repeats"),
        "{s:#?}"
    );
    assert_eq!(fake.hits_on(&assignments).len(), 1);
}

#[test]
fn all_subscriptions_means_the_ones_the_identity_can_list() {
    let (tenant, s1, s2) = demo_subscriptions();
    let fake = FakeAzure::start(tenant.clone(), Config::default());
    let assert = amlaudit(&fake)
        .args(["--all-subscriptions", "--quiet"])
        .assert()
        .code(0);
    let snapshot: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let subs: Vec<&str> = snapshot["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscription_id"].as_str().unwrap())
        .collect();
    assert_eq!(subs, [s1.as_str(), s2.as_str()]);
    assert_same_resources(&by_id(&snapshot), &tenant.expected(&[s1, s2]));
}

#[test]
fn a_nearly_empty_read_bucket_paces_requests() {
    let (tenant, s1, _) = demo_subscriptions();
    let fake = FakeAzure::start(
        tenant,
        Config {
            low_bucket: vec![(s1.clone(), 3)],
            ..Config::default()
        },
    );
    let assert = amlaudit(&fake)
        .args(["--subscription", &s1])
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    let paced: u64 = stderr
        .split(" paced")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(paced > 0, "{stderr}");
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    let assert = cmd
        .env_clear()
        .args([
            "collect",
            "--subscription",
            "b61e6ba5-3682-4dd6-b804-69b84b2d451c",
            "--arm-endpoint",
            "http://management.example.com",
        ])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("--arm-endpoint") && stderr.contains("loopback"),
        "{stderr}"
    );
}

#[test]
fn subscription_ids_are_checked_before_anything_is_sent() {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    let assert = cmd
        .env_clear()
        .args(["collect", "--subscription", "../../providers/x"])
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("not a subscription id"));
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    cmd.env_clear().args(["collect"]).assert().code(2);
}

/// Until `scan` exists, `access` stands in for "the audit answers the same from a collected
/// snapshot as from the fixture it was served from".
#[test]
fn access_answers_the_same_from_the_collected_snapshot() {
    let (tenant, s1, s2) = demo_subscriptions();
    let fake = FakeAzure::start(tenant, Config::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    amlaudit(&fake)
        .args(["--subscription", &s1, &s2, "-o"])
        .arg(&out)
        .assert()
        .code(0);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo-tenant.json");
    let registry = |rg: &str, sub: &str, name: &str| {
        format!(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}"
        )
    };
    let questions = [
        (
            "d66b4b4d-b47a-4101-8681-89f46a84e8d5",
            registry("rg-ml-prod", &s1, "mlacrprod"),
        ),
        (
            "939ae232-588e-4bce-b71e-d78a1dc02e27",
            registry("rg-ml-prod", &s1, "mlacrprod"),
        ),
        (
            "51799876-c0ed-4e71-8c34-6fa115743f59",
            registry("rg-ml-prod", &s1, "mlacrcmk"),
        ),
        (
            "7d57a798-e3f6-473c-bf50-f9a6a61b8500",
            registry("rg-ml-build", &s1, "mlacrbuild"),
        ),
        (
            "07ddd33d-2e9e-466d-abce-3acd197f957f",
            registry("rg-ml-dev", &s2, "mlacrdev"),
        ),
        (
            "d9d23777-f197-4fd6-85dc-32322d30cb03",
            registry("rg-ml-dev", &s2, "mlacrdev"),
        ),
        (
            "217c384d-7e40-434a-a184-db174e0ca487",
            registry("rg-ml-dev", &s2, "mlacrdev"),
        ),
        (
            "93842ea6-95b9-4bd7-bbc4-bb7d683337d3",
            registry("rg-ml-dev", &s2, "mlacrdev"),
        ),
    ];
    let ask = |snapshot: &Path, principal: &str, scope: &str| {
        let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"))
            .env_clear()
            .args([
                "access",
                "--format",
                "json",
                "--principal",
                principal,
                "--scope",
                scope,
                "--snapshot",
            ])
            .arg(snapshot)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            output.status.code(),
            v["decision"].as_str().unwrap().to_string(),
        )
    };
    let mut decisions = BTreeSet::new();
    for (principal, scope) in &questions {
        let from_fixture = ask(&fixture, principal, scope);
        let from_collected = ask(&out, principal, scope);
        assert_eq!(from_collected, from_fixture, "{principal} on {scope}");
        decisions.insert(from_fixture.1);
    }
    // The questions cover every kind of answer.
    assert_eq!(
        decisions,
        BTreeSet::from(["denied".to_string(), "granted".into(), "unknown".into()])
    );
}

#[test]
fn a_configured_credential_that_fails_is_an_error_before_any_request() {
    let (tenant, s1, _) = demo_subscriptions();
    let fake = FakeAzure::start(tenant, Config::default());
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    let assert = cmd
        .env_clear()
        .env("IDENTITY_ENDPOINT", fake.identity_endpoint())
        .env("IDENTITY_HEADER", "not-the-right-secret")
        .args([
            "collect",
            "--arm-endpoint",
            &fake.url,
            "--subscription",
            &s1,
        ])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    // The managed identity was configured, so the chain stops there instead of trying `az`.
    assert!(
        stderr.contains("authentication failed: managed identity (IDENTITY_ENDPOINT)"),
        "{stderr}"
    );
    assert!(!stderr.contains("Azure CLI"), "{stderr}");
    assert!(fake.hits().is_empty(), "no ARM request without a token");
}

#[test]
fn deny_assignments_abac_registries_and_graph_memberships_are_collected() {
    let (tenant, s1, s2) = demo_subscriptions();
    // The GPU cluster's identity is in three groups: Graph pages them two at a time.
    let gpu = "d66b4b4d-b47a-4101-8681-89f46a84e8d5";
    // Graph refuses the CPU cluster's user-assigned identity (no directory read permission).
    let refused = "939ae232-588e-4bce-b71e-d78a1dc02e27";
    let fake = FakeAzure::start(tenant.with_graph_denied(refused), Config::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    amlaudit(&fake)
        .args(["--subscription", &s1, &s2, "-o"])
        .arg(&out)
        .assert()
        .code(0);
    let snapshot = read(&out);
    for sub in [&s1, &s2] {
        assert_eq!(scope(&snapshot, sub)["deny_assignments"], "read");
    }
    let resources = by_id(&snapshot);
    assert!(
        resources
            .keys()
            .any(|id| id.contains("/providers/microsoft.authorization/denyassignments/")),
        "the deny assignment was collected"
    );
    let abac = resources
        .values()
        .find(|r| r["name"] == "mlacrabac")
        .expect("the ABAC registry");
    assert_eq!(
        abac["properties"]["roleAssignmentMode"],
        "AbacRepositoryPermissions"
    );
    // Memberships, paged through @odata.nextLink.
    let memberships = &snapshot["directory"]["group_memberships"];
    assert_eq!(memberships[gpu].as_array().unwrap().len(), 3);
    assert!(
        fake.hits()
            .iter()
            .any(|h| h.path.contains(gpu) && h.query.contains("skiptoken")),
        "the second page was read"
    );
    assert_eq!(
        memberships["9d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80"],
        serde_json::json!(["5e6f7a8b-9c0d-4e1f-8a3b-4c5d6e7f8091"])
    );
    // The AKS service principal's app id was resolved to its object id.
    assert_eq!(
        snapshot["directory"]["service_principals"]["cef350e7-08d0-4bfe-b36f-4c484fee8d49"],
        "2b1522b8-a15f-49c8-98b8-413f8ef5b163"
    );
    // The 403 is recorded and that principal's groups stay unknown.
    assert!(memberships[refused].is_null());
    let error = snapshot["directory"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["principal_id"] == refused)
        .expect("the refused principal is recorded");
    assert_eq!(error["http_status"], 403);
}
