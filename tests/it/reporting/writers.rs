//! Every report writer pinned with insta, in-process, on the demo tenant: the library pipeline a
//! scan runs (load, index, rules, fix proof, report), rendered by each format without the
//! binary, so a change to any writer's output shows up in review as a snapshot diff. The report's
//! time and the tool's version are fixed before rendering; the browser checks of the HTML page
//! are in `html_report`.

use std::path::Path;
use std::sync::Arc;

use amlaudit::gate::Gate;
use amlaudit::inventory::{Inventory, Snapshot};
use amlaudit::permissions::PermissionIndex;
use amlaudit::policy::{Evaluator, Params, PolicySet};
use amlaudit::report::{Format, Report, SnapshotInfo};

/// The demo tenant's report as `scan` builds it, with nothing that varies between runs.
fn demo_report() -> Report {
    let path = crate::support::demo_tenant();
    let bytes = std::fs::read(&path).expect("demo tenant");
    let snapshot = Snapshot::from_slice(Path::new("fixtures/demo-tenant.json"), &bytes)
        .expect("the demo tenant loads");
    let info = SnapshotInfo {
        path: "fixtures/demo-tenant.json".into(),
        sha256: "[sha256]".into(),
        collected_at: snapshot.collected_at.clone(),
        tenant_id: snapshot.tenant_id.clone(),
        cloud: Some(snapshot.cloud.clone()),
    };
    let inventory = Inventory::new(snapshot);
    let index = Arc::new(PermissionIndex::new(&inventory));
    let policies = PolicySet::load(&[]).expect("bundled policies");
    let evaluator = Evaluator::new(&policies, index, &Params::default()).expect("engine");
    let mut results = evaluator.evaluate(&inventory).expect("rules");
    evaluator.prove_fixes(&inventory, &mut results);
    let rules = policies.rules.iter().map(|r| r.meta.clone()).collect();
    let mut report = Report::new(info, inventory.snapshot.scopes.clone(), rules, results);
    report.generated_at = "[generated_at]".into();
    report.tool_version = "[version]".into();
    report
}

fn render(format: Format) -> String {
    let report = demo_report();
    let gate = Gate::default().outcome(&report.results, &report.summary);
    let bytes = format.render(&report, false, &gate).expect("renders");
    String::from_utf8(bytes).expect("UTF-8")
}

#[test]
fn json_report() {
    insta::assert_snapshot!(render(Format::Json));
}

#[test]
fn csv_report() {
    insta::assert_snapshot!(render(Format::Csv));
}

#[test]
fn sarif_report() {
    insta::assert_snapshot!(render(Format::Sarif));
}

#[test]
fn junit_report() {
    insta::assert_snapshot!(render(Format::Junit));
}

#[test]
fn markdown_summary() {
    insta::assert_snapshot!(render(Format::Markdown));
}

#[test]
fn remediation_script() {
    insta::assert_snapshot!(render(Format::Script));
}

#[test]
fn terminal_table() {
    insta::assert_snapshot!(render(Format::Table));
}

#[test]
fn html_report() {
    insta::assert_snapshot!(render(Format::Html));
}
