//! Writes a synthetic tenant snapshot, the input of the scan benchmark.
//!
//! cargo run --release --example generate_tenant -- OUT.json [WORKSPACES SUBSCRIPTIONS ROLE_ASSIGNMENTS]
//! Defaults to the benchmark scale: 10,000 workspaces (40,000 computes, 10,000 registries) in
//! 100 subscriptions with 200,000 role assignments.

use amlaudit::synthetic::{TenantSize, tenant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        anyhow::bail!(
            "usage: generate_tenant OUT.json [WORKSPACES SUBSCRIPTIONS ROLE_ASSIGNMENTS]"
        );
    };
    let number = |i: usize, default: usize| -> anyhow::Result<usize> {
        Ok(match args.get(i) {
            Some(v) => v.parse()?,
            None => default,
        })
    };
    let size = TenantSize {
        workspaces: number(1, TenantSize::LARGE.workspaces)?,
        subscriptions: number(2, TenantSize::LARGE.subscriptions)?,
        role_assignments: number(3, TenantSize::LARGE.role_assignments)?,
        ..TenantSize::LARGE
    };
    let snapshot = tenant(size);
    amlaudit::output::write_atomically(std::path::Path::new(out), &snapshot.to_json_bytes())?;
    eprintln!("wrote {} resources to {out}", snapshot.resources.len());
    Ok(())
}
