//! `amlaudit scan`: load a snapshot (or collect one live with `--subscription`), evaluate every
//! rule in parallel, apply exemptions and the baseline, write the reports, and decide the exit
//! status from the gate.
//!
//! Every input (snapshot, parameters, policies, exemptions, baseline) is read and checked before
//! anything is written, so an input error exits 2 and leaves the output directory as it was. A
//! live scan checks them before it starts collecting, so a typo costs seconds, not a collection.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::Exit;
use super::collect::CollectArgs;
use crate::findings::{Severity, SourceLocation};
use crate::gate::{Baseline, Exemptions, Gate, Verdict};
use crate::inventory::{Inventory, Snapshot};
use crate::output::write_atomically;
use crate::permissions::PermissionIndex;
use crate::policy::{Evaluator, Params, PolicySet};
use crate::report::{self, Format, Report, SnapshotInfo};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The snapshot to audit (from `amlaudit import` or `amlaudit collect`); or collect one live
    /// with --subscription / --all-subscriptions.
    #[arg(
        long,
        value_name = "SNAPSHOT",
        required_unless_present_any = ["subscriptions", "all_subscriptions"],
        conflicts_with_all = ["subscriptions", "all_subscriptions"]
    )]
    pub snapshot: Option<PathBuf>,
    /// A directory of your own rules (repeatable); evaluated with the bundled ones.
    #[arg(long = "policy-dir", value_name = "DIR")]
    pub policy_dirs: Vec<PathBuf>,
    /// Rule parameters (TOML, or JSON when the name ends in .json).
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Where report files go.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out_dir: PathBuf,
    /// Reports to produce (repeatable). findings.json and findings.csv are always written; sarif,
    /// junit, markdown and script add findings.sarif, findings.junit.xml, summary.md and
    /// remediation.sh. Stdout shows the table, unless formats are given without `table`: then
    /// the first of them.
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub formats: Vec<Format>,
    /// Accepted risks (TOML or YAML): rule, resource (ARM id or glob), justification, owner or
    /// ticket, expires. Covered failures become `exempt` until they expire.
    #[arg(long, value_name = "FILE")]
    pub exemptions: Option<PathBuf>,
    /// Gate only on failures that this baseline does not list; mark each failure new or baselined.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write the current failures to FILE as a baseline (the exit status is decided as usual).
    #[arg(long, value_name = "FILE")]
    pub create_baseline: Option<PathBuf>,
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
    /// Treat warnings about the inputs (a `--params` value that names no workspace, or a
    /// registry that is not a registry's ARM id) as errors: exit 2, nothing written.
    #[arg(long)]
    pub strict: bool,
    /// Print nothing on stdout or stderr but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Where to keep the snapshot a live scan collected, as evidence of what was audited.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "snapshot",
        help_heading = "Live collection"
    )]
    pub save_snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub collect: CollectArgs,
}

pub fn run(args: ScanArgs) -> anyhow::Result<Exit> {
    // Parameters, exemptions, baseline and policies are checked before the snapshot is read or
    // collected, so a typo in one of them fails at once rather than after a long read.
    let inputs = Inputs::load(&args)?;
    let Some(path) = args.snapshot.clone() else {
        return scan_live(inputs, &args);
    };
    let started = std::time::Instant::now();
    let bytes = std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let (sha256, snapshot) = rayon::join(
        || hex(&Sha256::digest(&bytes)),
        || Snapshot::from_slice(&path, &bytes),
    );
    let snapshot = snapshot?;
    drop(bytes);
    tracing::info!(resources = snapshot.resources.len(), elapsed = ?started.elapsed(), "snapshot read");
    let info = snapshot_info(&snapshot, path.display().to_string(), sha256);
    audit(snapshot, info, inputs, &args)
}

/// `scan --subscription`: collects, keeps the evidence if asked, then audits exactly as
/// `--snapshot` would. The report names the saved file (or the live collection) and the SHA-256
/// of the snapshot's bytes, which are the saved file's bytes.
fn scan_live(inputs: Inputs, args: &ScanArgs) -> anyhow::Result<Exit> {
    let mut collection = args.collect.collect(args.quiet)?;
    let bytes = collection.snapshot.to_json_bytes();
    let path = match &args.save_snapshot {
        Some(path) => {
            write_atomically(path, &bytes).context("saving the collected snapshot")?;
            // Findings can then point at the saved file, as they do for `--snapshot`.
            collection.snapshot.positions = crate::inventory::snapshot::resource_positions(&bytes);
            path.display().to_string()
        }
        None => format!(
            "(collected live from {} subscription(s))",
            collection.snapshot.scopes.len()
        ),
    };
    let info = snapshot_info(&collection.snapshot, path, hex(&Sha256::digest(&bytes)));
    drop(bytes);
    audit(collection.snapshot, info, inputs, args)
}

/// What the report says about the snapshot it was computed from.
fn snapshot_info(snapshot: &Snapshot, path: String, sha256: String) -> SnapshotInfo {
    SnapshotInfo {
        path,
        sha256,
        collected_at: snapshot.collected_at.clone(),
        tenant_id: snapshot.tenant_id.clone(),
        cloud: Some(snapshot.cloud.clone()),
    }
}

/// Everything besides the snapshot that an audit reads.
struct Inputs {
    params: Params,
    exemptions: Option<Exemptions>,
    baseline: Option<(String, Baseline)>,
    policies: PolicySet,
}

impl Inputs {
    fn load(args: &ScanArgs) -> anyhow::Result<Self> {
        let params = match &args.params {
            Some(path) => Params::load(path)?,
            None => Params::default(),
        };
        let exemptions = args
            .exemptions
            .as_deref()
            .map(Exemptions::load)
            .transpose()?;
        let baseline = args
            .baseline
            .as_deref()
            .map(|path| Baseline::load(path).map(|b| (path.display().to_string(), b)))
            .transpose()?;
        let policies = PolicySet::load(&args.policy_dirs)?;
        Ok(Inputs {
            params,
            exemptions,
            baseline,
            policies,
        })
    }
}

/// Audits a snapshot already in memory (from a file or a live collection).
fn audit(
    snapshot: Snapshot,
    info: SnapshotInfo,
    inputs: Inputs,
    args: &ScanArgs,
) -> anyhow::Result<Exit> {
    let Inputs {
        params,
        exemptions,
        baseline,
        policies,
    } = inputs;
    let started = std::time::Instant::now();
    let inventory = Inventory::new(snapshot);
    check_params(&params, &inventory, args)?;
    let index = Arc::new(PermissionIndex::new(&inventory));
    tracing::info!(assignments = index.len(), elapsed = ?started.elapsed(), "inventory and permission index built");
    let evaluator = Evaluator::new(&policies, index, &params)?;
    let started = std::time::Instant::now();
    let mut results = evaluator.evaluate(&inventory)?;
    tracing::info!(results = results.len(), elapsed = ?started.elapsed(), "rules evaluated");
    for r in &mut results {
        r.location = inventory
            .position_of(&r.resource_id)
            .map(|p| SourceLocation {
                file: info.path.clone(),
                line: p.line,
                column: p.column,
            });
    }
    let started = std::time::Instant::now();

    // Exemptions first: an exempt result is no longer a failure, so the baseline neither marks
    // it nor records it.
    let now = time::OffsetDateTime::now_utc();
    let exemption_report = exemptions.as_ref().map(|e| e.apply(&mut results, now));
    let baseline_report = baseline
        .as_ref()
        .map(|(path, b)| b.apply(&mut results, path));
    let rules = policies.rules.iter().map(|r| r.meta.clone()).collect();
    let mut report = Report::new(info, inventory.snapshot.scopes.clone(), rules, results);
    report.exemptions = exemption_report;
    report.baseline = baseline_report;

    let mut files = vec![Format::Json, Format::Csv];
    for format in &args.formats {
        if !files.contains(format) {
            files.push(*format);
        }
    }
    files
        .par_iter()
        .try_for_each(|format| report::write(*format, &report, &args.out_dir))?;
    if let Some(path) = &args.create_baseline {
        Baseline::from_results(&report.results).write(path, &report.generated_at)?;
    }

    tracing::info!(elapsed = ?started.elapsed(), "reports written");
    if !args.quiet {
        warn_about_exemptions(&report);
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
        let options = crate::report::table::Options {
            color,
            min_severity: args.severity,
            width: crate::report::table::stdout_width(),
            details: Some(args.out_dir.join("findings.json").display().to_string()),
        };
        out.write_all(crate::report::table::render(report, &options).as_bytes())?;
        writeln!(out, "Reports written to {}", args.out_dir.display())?;
    } else if let Some(format) = args.formats.first() {
        out.write_all(&format.render(report, false)?)?;
    }
    out.flush()?;
    Ok(())
}

/// Parameter values that name nothing in the snapshot: warnings on stderr, or with `--strict`
/// an error (exit 2) before anything is evaluated or written.
fn check_params(params: &Params, inventory: &Inventory, args: &ScanArgs) -> anyhow::Result<()> {
    let Some(path) = &args.params else {
        return Ok(());
    };
    let warnings = params.check(inventory);
    if warnings.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = warnings
        .iter()
        .map(|w| format!("{}: {w}", path.display()))
        .collect();
    if args.strict {
        anyhow::bail!(
            "{}\n(--strict: parameter values must name what is in the snapshot)",
            lines.join("\n")
        );
    }
    if !args.quiet {
        for line in &lines {
            eprintln!("warning: {line}");
        }
    }
    Ok(())
}

/// Expired and unused exemptions go to stderr as well as into the reports, because in CI the log
/// is often the only thing a person reads.
fn warn_about_exemptions(report: &Report) {
    let Some(ex) = &report.exemptions else {
        return;
    };
    for u in &ex.expired {
        let e = &u.exemption;
        eprintln!(
            "warning: {}: exemption {} (rule {}, resource {}) expired {} and no longer applies ({} failure(s))",
            ex.file,
            e.entry,
            e.rule,
            e.resource,
            e.expires,
            u.results.len()
        );
    }
    for e in &ex.unmatched {
        eprintln!(
            "warning: {}: exemption {} (rule {}, resource {}) matches no failure",
            ex.file, e.entry, e.rule, e.resource
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
