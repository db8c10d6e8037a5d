//! The floor issue 13 measures `amlaudit scan` against: a process that only reads a snapshot and
//! parses it into a `serde_json::Value` tree, with amlaudit's allocator and, like amlaudit, no
//! teardown of the tree at exit.
//!
//! cargo build --release --example parse_floor
//! /usr/bin/time -f "%e s %M KB" target/release/examples/parse_floor /tmp/large.json

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        anyhow::bail!("usage: parse_floor SNAPSHOT.json");
    };
    let bytes = std::fs::read(&path)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{path}: not JSON: {e}"))?;
    let resources = value
        .get("resources")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    eprintln!("{path}: {} bytes, {resources} resources", bytes.len());
    // Freeing the tree would add seconds the scan does not spend either (it forgets its tenant).
    std::mem::forget(value);
    std::mem::forget(bytes);
    Ok(())
}
