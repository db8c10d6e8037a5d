//! `amlaudit scan --subscription` (issue 4): collect live from the fake Azure, then audit exactly
//! as `scan --snapshot` does, so the same data gives the same results.

use crate::fake_azure;

use std::path::Path;
use std::time::Duration;

use fake_azure::{Config, FakeAzure, Fault, FaultKind, Tenant};
use serde_json::Value;
use sha2::{Digest, Sha256};

const DENIED: &str = "0d3d0d3d-0403-4403-8403-000000000403";

use crate::support::demo_tenant as demo;

fn amlaudit() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    cmd.env_clear()
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60));
    cmd
}

/// `scan` reading live from the fake, authenticated by the fake's managed identity endpoint.
fn live_scan(fake: &FakeAzure, out: &Path) -> assert_cmd::Command {
    let mut cmd = amlaudit();
    cmd.env("IDENTITY_ENDPOINT", fake.identity_endpoint())
        .env("IDENTITY_HEADER", fake.identity_header())
        .args(["scan", "--format", "json", "--quiet", "--out-dir"])
        .arg(out)
        .args([
            "--arm-endpoint",
            &fake.url,
            "--ml-endpoint",
            &fake.url,
            "--graph-endpoint",
            &fake.url,
        ]);
    cmd
}

fn snapshot_scan(snapshot: &Path, out: &Path) -> assert_cmd::Command {
    let mut cmd = amlaudit();
    cmd.args(["scan", "--format", "json", "--quiet", "--snapshot"])
        .arg(snapshot)
        .arg("--out-dir")
        .arg(out);
    cmd
}

fn report(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("findings.json")).expect("findings.json"))
        .expect("JSON report")
}

#[test]
fn scan_subscription_gives_the_same_results_as_scan_snapshot() {
    let tenant = Tenant::demo();
    let subs = tenant.subscriptions();
    let fake = FakeAzure::start(
        tenant,
        Config {
            faults: vec![Fault::new("/computes", FaultKind::Unavailable, 2)],
            ..Config::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (offline_out, live_out, saved) = (
        dir.path().join("offline"),
        dir.path().join("live"),
        dir.path().join("evidence/snapshot.json"),
    );

    // A live scan lists children per workspace, so it never sees the demo's orphan connection
    // (its workspace is missing); the offline side leaves orphans out too.
    let mut demo_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo()).unwrap()).unwrap();
    let ids: Vec<String> = demo_json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_ascii_lowercase))
        .collect();
    demo_json["resources"].as_array_mut().unwrap().retain(|r| {
        let id = r["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        match id
            .find("/workspaces/")
            .and_then(|w| id[w + 12..].find('/').map(|c| w + 12 + c))
        {
            Some(end) if id[end..].matches('/').count() == 2 => {
                ids.contains(&id[..end].to_string())
            }
            _ => true,
        }
    });
    let without_orphans = dir.path().join("demo-without-orphans.json");
    std::fs::write(&without_orphans, serde_json::to_vec(&demo_json).unwrap()).unwrap();
    let offline = snapshot_scan(&without_orphans, &offline_out)
        .output()
        .unwrap();
    let live = live_scan(&fake, &live_out)
        .arg("--subscription")
        .args(&subs)
        .arg("--save-snapshot")
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(
        live.status.code(),
        offline.status.code(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    assert_eq!(
        offline.status.code(),
        Some(1),
        "the demo tenant has failures"
    );

    let (mut offline_report, mut live_report) = (report(&offline_out), report(&live_out));
    assert!(!offline_report["results"].as_array().unwrap().is_empty());
    // Each result points at its resource in the file that was scanned: the saved snapshot for
    // the live scan. Apart from that, the results are the same.
    let live_results = live_report["results"].clone();
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    let saved_lines: Vec<&str> = saved_text.lines().collect();
    for (r, file) in [
        (&mut live_report, saved.display().to_string()),
        (&mut offline_report, without_orphans.display().to_string()),
    ] {
        for result in r["results"].as_array_mut().unwrap() {
            let location = result
                .as_object_mut()
                .unwrap()
                .remove("location")
                .unwrap_or_else(|| panic!("a location: {result}"));
            assert_eq!(location["file"], file.as_str());
            if file == saved.display().to_string() {
                let line = saved_lines[location["line"].as_u64().unwrap() as usize - 1];
                let at: String = line
                    .chars()
                    .skip(location["column"].as_u64().unwrap() as usize - 1)
                    .collect();
                assert!(at.starts_with("\"id\""), "{at} for {result}");
            }
        }
    }
    assert_eq!(live_report["results"], offline_report["results"]);
    assert_eq!(live_report["summary"], offline_report["summary"]);
    assert_eq!(live_report["scopes"], offline_report["scopes"]);

    // The report names the evidence and its hash, and the evidence audits the same again.
    let bytes = std::fs::read(&saved).expect("the collected snapshot was saved");
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(live_report["snapshot"]["sha256"], sha.as_str());
    assert_eq!(
        live_report["snapshot"]["path"],
        saved.display().to_string().as_str()
    );
    let again_out = dir.path().join("again");
    snapshot_scan(&saved, &again_out)
        .assert()
        .code(offline.status.code().unwrap());
    // Locations and all: the saved snapshot is the file the live results point into.
    assert_eq!(report(&again_out)["results"], live_results);
}

#[test]
fn a_live_scan_reports_the_subscription_it_could_not_read() {
    let tenant = Tenant::demo();
    let s1 = tenant.subscriptions()[0].clone();
    let fake = FakeAzure::start(tenant.with_denied(DENIED), Config::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let live = live_scan(&fake, &out)
        .args(["--subscription", &s1, DENIED])
        .output()
        .unwrap();
    assert_ne!(live.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(
        r["summary"]["incomplete_scopes"],
        serde_json::json!([DENIED])
    );
    let denied = r["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subscription_id"] == DENIED)
        .unwrap();
    assert_eq!(denied["status"], "failed");
}

#[test]
fn a_live_scan_checks_its_inputs_before_collecting() {
    let tenant = Tenant::demo();
    let s1 = tenant.subscriptions()[0].clone();
    let fake = FakeAzure::start(tenant, Config::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    live_scan(&fake, &out)
        .args(["--subscription", &s1, "--params"])
        .arg(dir.path().join("missing.toml"))
        .assert()
        .code(2);
    assert!(fake.hits().is_empty() && fake.token_requests().is_empty());
    assert!(!out.exists(), "nothing is written when an input is bad");
}

#[test]
fn scan_needs_a_snapshot_or_subscriptions_but_not_both() {
    amlaudit().args(["scan"]).assert().code(2);
    amlaudit()
        .args(["scan", "--snapshot"])
        .arg(demo())
        .args(["--subscription", "b61e6ba5-3682-4dd6-b804-69b84b2d451c"])
        .assert()
        .code(2);
    amlaudit()
        .args(["scan", "--snapshot"])
        .arg(demo())
        .args(["--save-snapshot", "x.json"])
        .assert()
        .code(2);
}
