//! `amlaudit scan`: load a snapshot, evaluate every rule in parallel, write the reports, and
//! decide the exit status from the gate.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::Exit;
use crate::findings::Severity;
use crate::gate::{Gate, Verdict};
use crate::inventory::{Inventory, Snapshot};
use crate::permissions::PermissionIndex;
use crate::policy::{Evaluator, Params, PolicySet};
use crate::report::{self, Format, Report, SnapshotInfo};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The snapshot to audit (from `amlaudit import` or `amlaudit collect`).
    #[arg(long, value_name = "SNAPSHOT")]
    pub snapshot: PathBuf,
    /// A directory of your own rules (repeatable); evaluated with the bundled ones.
    #[arg(long = "policy-dir", value_name = "DIR")]
    pub policy_dirs: Vec<PathBuf>,
    /// Rule parameters (TOML, or JSON when the name ends in .json).
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Where report files go.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out_dir: PathBuf,
    /// What to print on stdout (repeatable). findings.json and findings.csv are always written.
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub formats: Vec<Format>,
    /// The lowest severity whose failures fail the run (exit 1).
    #[arg(long, value_enum, default_value = "low", value_name = "SEVERITY")]
    pub fail_on: Severity,
    /// Only show failures at or above this severity in the table; never changes the exit status.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub severity: Option<Severity>,
    /// Exit 0 after writing reports, whatever they say.
    #[arg(long)]
    pub no_fail: bool,
    /// Let unknown results and incompletely read scopes exit 0 when nothing fails.
    #[arg(long)]
    pub allow_unknown: bool,
    /// Print nothing on stdout or stderr but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: ScanArgs) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let bytes = std::fs::read(&args.snapshot)
        .with_context(|| format!("{}: cannot read", args.snapshot.display()))?;
    let (sha256, snapshot) = rayon::join(
        || hex(&Sha256::digest(&bytes)),
        || Snapshot::from_slice(&args.snapshot, &bytes),
    );
    let snapshot = snapshot?;
    drop(bytes);
    tracing::info!(resources = snapshot.resources.len(), elapsed = ?started.elapsed(), "snapshot read");
    let info = SnapshotInfo {
        path: args.snapshot.display().to_string(),
        sha256,
        collected_at: snapshot.collected_at.clone(),
        tenant_id: snapshot.tenant_id.clone(),
        cloud: Some(snapshot.cloud.clone()),
    };
    audit(snapshot, info, &args)
}

/// Audits a snapshot already in memory (from a file or a live collection).
pub fn audit(snapshot: Snapshot, info: SnapshotInfo, args: &ScanArgs) -> anyhow::Result<Exit> {
    let params = match &args.params {
        Some(path) => Params::load(path)?,
        None => Params::default(),
    };
    let policies = PolicySet::load(&args.policy_dirs)?;
    let started = std::time::Instant::now();
    let inventory = Inventory::new(snapshot);
    let index = Arc::new(PermissionIndex::new(&inventory));
    tracing::info!(assignments = index.len(), elapsed = ?started.elapsed(), "inventory and permission index built");
    let evaluator = Evaluator::new(&policies, index, &params)?;
    let started = std::time::Instant::now();
    let results = evaluator.evaluate(&inventory)?;
    tracing::info!(results = results.len(), elapsed = ?started.elapsed(), "rules evaluated");
    let started = std::time::Instant::now();
    let rules = policies.rules.iter().map(|r| r.meta.clone()).collect();
    let report = Report::new(info, inventory.snapshot.scopes.clone(), rules, results);

    let mut files = vec![Format::Json, Format::Csv];
    for format in &args.formats {
        if !files.contains(format) {
            files.push(*format);
        }
    }
    files
        .par_iter()
        .try_for_each(|format| report::write(*format, &report, &args.out_dir))?;

    tracing::info!(elapsed = ?started.elapsed(), "reports written");
    if !args.quiet {
        print_stdout(&report, args)?;
    }
    // Freeing a large tenant's millions of small allocations takes seconds; the process is about
    // to exit and the OS reclaims it all at once.
    std::mem::forget(inventory);
    let gate = Gate {
        fail_on: args.fail_on,
        no_fail: args.no_fail,
        allow_unknown: args.allow_unknown,
    };
    let verdict = gate.verdict(&report);
    std::mem::forget(report);
    Ok(match verdict {
        Verdict::Clean => Exit::Clean,
        Verdict::Violations => Exit::Violations,
        Verdict::Incomplete => Exit::Incomplete,
    })
}

fn print_stdout(report: &Report, args: &ScanArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = stdout.lock();
    let table = args.formats.is_empty() || args.formats.contains(&Format::Table);
    if table {
        out.write_all(crate::report::table::render(report, color, args.severity).as_bytes())?;
        writeln!(out, "Reports written to {}", args.out_dir.display())?;
    } else if let Some(format) = args.formats.first() {
        out.write_all(&format.render(report, false))?;
    }
    out.flush()?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
