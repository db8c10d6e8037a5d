//! Live collection speed (issue 4): `amlaudit collect`, the release binary, against the fake
//! Azure of `tests/it/fake_azure` with a fixed latency added to every ARM and data-plane answer, on
//! a generated tenant (1,000 workspaces by default). The figure that matters is wall time over
//! the ideal `requests × latency / concurrency`: the issue asks for at most 1.5.
//!
//! ```text
//! cargo bench --bench collect
//! cargo bench --bench collect -- --subscriptions 10 --workspaces 100 --latency-ms 20 --concurrency 16,32,64 --runs 3
//! ```
//!
//! Prints a Markdown table (the median of `--runs` runs per row) for BENCHMARKS.md.

#[path = "../tests/it/fake_azure/mod.rs"]
mod fake_azure;

use std::process::Command;
use std::time::{Duration, Instant};

use fake_azure::{Config, FakeAzure, Tenant};

struct Options {
    subscriptions: usize,
    workspaces: usize,
    latency: Duration,
    concurrency: Vec<usize>,
    runs: usize,
    page_size: usize,
}

fn options() -> Options {
    let mut o = Options {
        subscriptions: 10,
        workspaces: 100,
        latency: Duration::from_millis(20),
        concurrency: vec![16, 32, 64],
        runs: 3,
        page_size: 100,
    };
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: usize| {
        value(name)
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} takes a number"))
            })
            .unwrap_or(default)
    };
    o.subscriptions = number("--subscriptions", o.subscriptions);
    o.workspaces = number("--workspaces", o.workspaces);
    o.latency = Duration::from_millis(number("--latency-ms", 20) as u64);
    o.runs = number("--runs", o.runs).max(1);
    o.page_size = number("--page-size", o.page_size);
    if let Some(list) = value("--concurrency") {
        o.concurrency = list
            .split(',')
            .map(|c| c.trim().parse().expect("--concurrency takes numbers"))
            .collect();
    }
    o
}

struct Run {
    wall: Duration,
    requests: usize,
}

fn run_once(tenant: &Tenant, o: &Options, via: &str, concurrency: usize) -> Run {
    let fake = FakeAzure::start(
        tenant.clone(),
        Config {
            page_size: o.page_size,
            latency: o.latency,
            ..Config::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("snapshot.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amlaudit"));
    cmd.env_clear()
        .env("IDENTITY_ENDPOINT", fake.identity_endpoint())
        .env("IDENTITY_HEADER", fake.identity_header())
        .args(["collect", "--quiet", "--via", via])
        .args(["--arm-endpoint", &fake.url, "--ml-endpoint", &fake.url])
        .args(["--concurrency", &concurrency.to_string(), "--subscription"])
        .args(tenant.subscriptions())
        .arg("-o")
        .arg(&out);
    let started = Instant::now();
    let output = cmd.output().expect("run amlaudit");
    let wall = started.elapsed();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let snapshot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("snapshot")).expect("JSON");
    let expected = tenant.expected(&tenant.subscriptions()).len();
    assert_eq!(
        snapshot["resources"].as_array().map(Vec::len),
        Some(expected),
        "the benchmark must collect the whole tenant"
    );
    Run {
        wall,
        requests: fake.hits().len(),
    }
}

fn main() {
    let o = options();
    let tenant = Tenant::generated(o.subscriptions, o.workspaces);
    let expected = tenant.expected(&tenant.subscriptions()).len();
    println!(
        "tenant: {} subscriptions x {} workspaces = {} workspaces, {} resources; latency {} ms a request; \
         page size {}; median of {} runs",
        o.subscriptions,
        o.workspaces,
        o.subscriptions * o.workspaces,
        expected,
        o.latency.as_millis(),
        o.page_size,
        o.runs
    );
    println!();
    println!(
        "| via | concurrency | requests | ideal (requests x latency / concurrency) | wall | wall / ideal |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for via in ["arm", "resource-graph"] {
        for &concurrency in &o.concurrency {
            let mut runs: Vec<Run> = (0..o.runs)
                .map(|_| run_once(&tenant, &o, via, concurrency))
                .collect();
            runs.sort_by_key(|r| r.wall);
            let median = &runs[runs.len() / 2];
            let ideal = o.latency.as_secs_f64() * median.requests as f64 / concurrency as f64;
            println!(
                "| {via} | {concurrency} | {} | {:.2} s | {:.2} s | {:.2} |",
                median.requests,
                ideal,
                median.wall.as_secs_f64(),
                median.wall.as_secs_f64() / ideal
            );
        }
    }
}
