//! Fix proof end to end: no bundled rule prints a fix that does not close its finding on the demo
//! tenant, and `amlaudit fix plan` applies the proven fixes together without making anything worse.

use crate::support::{amlaudit_in as amlaudit, repo_file as repo};

#[test]
fn no_bundled_fix_on_the_demo_tenant_fails_to_close() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo("fixtures/demo-tenant.json");
    amlaudit(dir.path())
        .args([
            "scan",
            "--snapshot",
            demo.to_str().unwrap(),
            "--out-dir",
            "out",
            "-q",
        ])
        .assert()
        .code(1);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/findings.json")).unwrap())
            .unwrap();
    let mut closes = 0;
    for r in report["results"].as_array().unwrap() {
        if r["status"] != "fail" {
            continue;
        }
        let verified = r["fix"]["verified"]
            .as_str()
            .expect("every failure is checked");
        assert_ne!(verified, "does_not_close", "{r:#}");
        let automatic = r["remediation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["automatic"] == true);
        assert_eq!(automatic, verified == "closes", "{r:#}");
        closes += usize::from(verified == "closes");
    }
    assert!(closes >= 5, "{closes} proven fixes");
}

#[test]
fn the_plan_applies_proven_fixes_and_writes_the_after_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo("fixtures/demo-tenant.json");
    let out = amlaudit(dir.path())
        .args([
            "fix",
            "plan",
            "--snapshot",
            demo.to_str().unwrap(),
            "--write-snapshot",
            "after.json",
            "--script",
            "plan.sh",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("No result gets worse."), "{stdout}");
    assert!(stdout.contains("AML001 ┆ 1 fail"), "{stdout}");
    // Scanning the simulated tenant leaves only the failures whose fixes are manual.
    amlaudit(dir.path())
        .args([
            "scan",
            "--snapshot",
            "after.json",
            "--out-dir",
            "after",
            "-q",
        ])
        .assert()
        .code(1);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("after/findings.json")).unwrap())
            .unwrap();
    let failing: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| r["rule_id"].as_str().unwrap())
        .collect();
    // What still fails has a manual step: a deny assignment (AML002), a cluster to recreate
    // (AML003), a key identity to attach (AML004), an identity to choose (AML009).
    assert_eq!(failing, ["AML002", "AML003", "AML004", "AML009"]);
    let script = std::fs::read_to_string(dir.path().join("plan.sh")).unwrap();
    assert!(script.contains("capture principal_"), "{script}");
}

#[test]
fn no_bundled_fix_on_generated_tenants_fails_to_close() {
    use amlaudit::synthetic::{TenantSize, tenant};
    use amlaudit::{inventory::Inventory, permissions::PermissionIndex, policy};
    let policies = policy::PolicySet::load(&[]).unwrap();
    for (workspaces, computes, assignments) in [(6, 2, 40), (11, 3, 90), (17, 1, 25)] {
        let size = TenantSize {
            subscriptions: 3,
            workspaces,
            computes_per_workspace: computes,
            role_assignments: assignments,
        };
        let inventory = Inventory::new(tenant(size));
        let index = std::sync::Arc::new(PermissionIndex::new(&inventory));
        let evaluator =
            policy::Evaluator::new(&policies, index, &policy::Params::default()).unwrap();
        let mut results = evaluator.evaluate(&inventory).unwrap();
        evaluator.prove_fixes(&inventory, &mut results);
        for r in results
            .iter()
            .filter(|r| r.status == amlaudit::findings::Status::Fail)
        {
            let check = r.fix.as_ref().expect("every failure is checked");
            assert_ne!(
                check.verified,
                amlaudit::findings::Verified::DoesNotClose,
                "{size:?}: {} {}: {}",
                r.rule_id,
                r.resource_id,
                check.detail
            );
        }
    }
}
