//! Benchmarks of the inventory, the permission engine and the scan at tenant scale.
//!
//! cargo bench --bench engine
//!
//! The tenant is `synthetic::TenantSize::LARGE`: 100 subscriptions, 10,000 workspaces, 40,000
//! computes, 10,000 registries, 200,000 role assignments (about 190 MB of JSON).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use amlaudit::gate::Gate;
use amlaudit::inventory::{Inventory, Snapshot};
use amlaudit::permissions::{ACR_PULL_ACTION, Action, PermissionIndex};
use amlaudit::policy::{Evaluator, Params, PolicySet};
use amlaudit::report::{Format, Report, SnapshotInfo};
use amlaudit::synthetic::{TenantSize, tenant};

// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

fn large_json() -> &'static [u8] {
    static JSON: OnceLock<Vec<u8>> = OnceLock::new();
    JSON.get_or_init(|| tenant(TenantSize::LARGE).to_json_bytes())
}

fn load(bytes: &[u8]) -> Snapshot {
    Snapshot::from_slice(Path::new("large.json"), bytes).expect("generated snapshot is valid")
}

/// The floor the scan is measured against: parsing the file into JSON values, nothing else.
#[divan::bench(sample_count = 5)]
fn parse_only(bencher: divan::Bencher) {
    let bytes = large_json();
    bencher.bench(|| serde_json::from_slice::<serde_json::Value>(bytes).expect("valid JSON"));
}

/// Snapshot validation, inventory and permission index: everything before the first question.
#[divan::bench(sample_count = 5)]
fn load_and_index(bencher: divan::Bencher) {
    let bytes = large_json();
    bencher.bench(|| {
        let inventory = Inventory::new(load(bytes));
        let index = PermissionIndex::new(&inventory);
        (inventory, index)
    });
}

/// 100,000 pull questions: every compute principal against its registry and a wrong one.
#[divan::bench(sample_count = 10)]
fn queries_100k(bencher: divan::Bencher) {
    let inventory = Inventory::new(load(large_json()));
    let index = PermissionIndex::new(&inventory);
    let registries: Vec<String> = inventory
        .of_type(amlaudit::inventory::types::REGISTRY)
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let questions: Vec<(String, &str)> = (0..100_000usize)
        .map(|i| {
            let principal = inventory.role_assignments[i % inventory.role_assignments.len()]
                .principal_id
                .clone();
            (principal, registries[(i * 7) % registries.len()].as_str())
        })
        .collect();
    let pull = Action::control(ACR_PULL_ACTION);
    bencher.bench(|| {
        questions
            .iter()
            .filter(|(p, s)| {
                index.check(p, s, &pull).decision == amlaudit::permissions::Decision::Granted
            })
            .count()
    });
}

/// The whole scan in memory: load, index, evaluate every rule, build and render the JSON and
/// CSV reports.
#[divan::bench(sample_count = 3)]
fn scan_end_to_end(bencher: divan::Bencher) {
    let bytes = large_json();
    let policies = PolicySet::load(&[]).expect("bundled policies load");
    bencher.bench(|| {
        let snapshot = load(bytes);
        let info = SnapshotInfo {
            path: "large.json".into(),
            sha256: String::new(),
            collected_at: snapshot.collected_at.clone(),
            tenant_id: None,
            cloud: None,
        };
        let inventory = Inventory::new(snapshot);
        let index = Arc::new(PermissionIndex::new(&inventory));
        let evaluator = Evaluator::new(&policies, index, &Params::default()).expect("engine");
        let results = evaluator.evaluate(&inventory).expect("rules evaluate");
        let rules = policies.rules.iter().map(|r| r.meta.clone()).collect();
        let report = Report::new(info, inventory.snapshot.scopes.clone(), rules, results);
        let gate = Gate::default().outcome(&report.results, &report.summary);
        let (json, csv) = rayon::join(
            || Format::Json.render(&report, false, &gate),
            || Format::Csv.render(&report, false, &gate),
        );
        (
            json.map(|j| j.len()).unwrap_or_default(),
            csv.map(|c| c.len()).unwrap_or_default(),
        )
    });
}
