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
use crate::findings::evidence::{self, EvidenceDetail};
use crate::findings::{Location, RuleResult, Severity, Status};
use crate::gate::{Baseline, Exemptions, Gate, GateOutcome, Verdict};
use crate::inventory::{Inventory, Snapshot};
use crate::output::{PendingFile, write_all, write_atomically};
use crate::permissions::PermissionIndex;
use crate::policy::{Evaluator, Params, PolicySet};
use crate::report::{self, Format, Report, SnapshotInfo};
use crate::template::{self, Plan, Template};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The snapshot to audit (from `amlaudit import` or `amlaudit collect`); or collect one live
    /// with --subscription / --all-subscriptions.
    #[arg(
        long,
        value_name = "SNAPSHOT",
        required_unless_present_any = ["subscriptions", "all_subscriptions", "template"],
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
    /// junit, markdown, script and html add findings.sarif, findings.junit.xml, summary.md,
    /// remediation.sh and report.html. Stdout shows the table, unless formats are given without `table`: then
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
    /// Print nothing on stdout or stderr but errors (rules' `print()` output goes to the debug
    /// log, -vv).
    #[arg(short, long)]
    pub quiet: bool,
    /// Stop at the first rule that cannot be evaluated on a resource (exit 2, no reports). By
    /// default such a pair is an `error` result, the scan goes on, writes every report with the
    /// errors in them, and exits 2.
    #[arg(long)]
    pub fail_fast: bool,
    /// How much of the permission engine's evidence the reports keep: `compact` keeps, in pass
    /// results, only what granted (the deciding assignment, role and scope); fail, unknown and
    /// error results keep every candidate. `full` keeps every candidate everywhere.
    #[arg(long, value_enum, value_name = "DETAIL", default_value = "compact")]
    pub evidence: EvidenceDetail,
    /// Wall-clock seconds one rule may spend on one resource before it is stopped as an error.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = positive_seconds)]
    pub rule_time_limit: f64,
    /// Where to keep the snapshot a live scan collected, as evidence of what was audited.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "snapshot",
        help_heading = "Live collection"
    )]
    pub save_snapshot: Option<PathBuf>,
    /// An ARM deployment template (JSON; compile Bicep first with `az bicep build`) whose planned
    /// resources are audited: laid over --snapshot (or a live collection) when given, alone
    /// otherwise. Results about them point at the template's lines.
    #[arg(
        long,
        value_name = "TEMPLATE.json",
        requires = "deploy_to",
        help_heading = "Before deployment"
    )]
    pub template: Option<PathBuf>,
    /// An ARM parameters file for --template.
    #[arg(
        long,
        value_name = "PARAMS.json",
        requires = "template",
        help_heading = "Before deployment"
    )]
    pub template_parameters: Option<PathBuf>,
    /// Where the template would be deployed: /subscriptions/<id>/resourceGroups/<name>.
    #[arg(
        long,
        value_name = "SCOPE",
        requires = "template",
        help_heading = "Before deployment"
    )]
    pub deploy_to: Option<String>,
    #[command(flatten)]
    pub collect: CollectArgs,
}

pub fn run(args: ScanArgs) -> anyhow::Result<Exit> {
    // Parameters, exemptions, baseline and policies are checked before the snapshot is read or
    // collected, so a typo in one of them fails at once rather than after a long read.
    let inputs = Inputs::load(&args)?;
    let Some(path) = args.snapshot.clone() else {
        if args.template.is_some() && !args.collect.is_requested() {
            return scan_template_alone(inputs, &args);
        }
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

/// `scan --template` without a snapshot: the planned resources alone. The report names the
/// template as what was audited, with the SHA-256 of its bytes.
fn scan_template_alone(inputs: Inputs, args: &ScanArgs) -> anyhow::Result<Exit> {
    let path = args.template.clone().unwrap_or_default();
    let bytes = std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let snapshot = Snapshot::new(None, "AzureCloud");
    let info = snapshot_info(
        &snapshot,
        path.display().to_string(),
        hex(&Sha256::digest(&bytes)),
    );
    audit_with(None, info, inputs, args)
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
    template: Option<Template>,
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
        let mut policies = PolicySet::load(&args.policy_dirs)?;
        policies.budget.time = std::time::Duration::from_secs_f64(args.rule_time_limit);
        let template = args
            .template
            .as_deref()
            .map(|t| Template::load(t, args.template_parameters.as_deref()))
            .transpose()?;
        Ok(Inputs {
            params,
            exemptions,
            baseline,
            policies,
            template,
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
    audit_with(Some(snapshot), info, inputs, args)
}

/// Audits a snapshot, with a template's planned resources laid over it when one is given; with
/// no snapshot, the planned resources alone.
fn audit_with(
    snapshot: Option<Snapshot>,
    info: SnapshotInfo,
    inputs: Inputs,
    args: &ScanArgs,
) -> anyhow::Result<Exit> {
    let Inputs {
        params,
        exemptions,
        baseline,
        policies,
        template,
    } = inputs;
    let started = std::time::Instant::now();
    let (snapshot, plan) = match (&template, args.deploy_to.as_deref()) {
        (Some(template), Some(deploy_to)) => {
            let plan = template.plan(deploy_to, snapshot.as_ref())?;
            if !args.quiet {
                for gap in &plan.gaps {
                    eprintln!("warning: {}: {gap}", plan.template);
                }
            }
            tracing::info!(planned = plan.resources.len(), "template evaluated");
            (template::overlay(snapshot, &plan), Some(plan))
        }
        _ => (
            snapshot.unwrap_or_else(|| Snapshot::new(None, "AzureCloud")),
            None,
        ),
    };
    let inventory = Inventory::new(snapshot);
    check_params(&params, &inventory, args)?;
    let index = Arc::new(PermissionIndex::new(&inventory));
    tracing::info!(assignments = index.len(), elapsed = ?started.elapsed(), "inventory and permission index built");
    let evaluator = Evaluator::new(&policies, index, &params)?.fail_fast(args.fail_fast);
    let started = std::time::Instant::now();
    let mut results = evaluator.evaluate(&inventory)?;
    // Each result points at its resource's `"id"` in the snapshot file; a planned resource's
    // result points at the template instead (below).
    for r in &mut results {
        r.location = inventory.position_of(&r.resource_id).map(|p| Location {
            file: info.path.clone(),
            line: p.line,
            column: p.column,
        });
    }
    if let Some(plan) = &plan {
        annotate(&mut results, plan, &inventory);
    }
    tracing::info!(results = results.len(), elapsed = ?started.elapsed(), "rules evaluated");
    let proving = std::time::Instant::now();
    evaluator.prove_fixes(&inventory, &mut results);
    tracing::info!(elapsed = ?proving.elapsed(), "fixes proven");
    let started = std::time::Instant::now();

    // Exemptions first: an exempt result is no longer a failure, so the baseline neither marks
    // it nor records it.
    let now = time::OffsetDateTime::now_utc();
    let exemption_report = exemptions.as_ref().map(|e| e.apply(&mut results, now));
    let baseline_report = baseline
        .as_ref()
        .map(|(path, b)| b.apply(&mut results, path));
    // After fix proofs and the template annotations, which read the full evidence.
    evidence::apply(&mut results, args.evidence);
    let rules = policies.rules.iter().map(|r| r.meta.clone()).collect();
    let mut report = Report::new(info, inventory.snapshot.scopes.clone(), rules, results);
    report.exemptions = exemption_report;
    report.baseline = baseline_report;

    let gate = Gate {
        fail_on: args.fail_on,
        no_fail: args.no_fail,
        allow_unknown: args.allow_unknown,
    };
    let outcome = gate.outcome(&report.results, &report.summary);
    let mut formats = vec![Format::Json, Format::Csv];
    for format in &args.formats {
        if !formats.contains(format) {
            formats.push(*format);
        }
    }
    // Every file is rendered before any is written, and all are written together: a failure
    // leaves the output directory (and the baseline) as they were.
    let mut files = formats
        .par_iter()
        .map(|format| report::pending(*format, &report, &args.out_dir, &outcome))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    if let Some(path) = &args.create_baseline {
        files.push(PendingFile {
            path: path.clone(),
            bytes: Baseline::from_results(&report.results).to_json_bytes(&report.generated_at),
            executable: false,
        });
    }
    write_all(&files)?;
    drop(files);

    tracing::info!(elapsed = ?started.elapsed(), "reports written");
    if !args.quiet {
        warn_about_exemptions(&report);
        print_stdout(&report, args, &outcome)?;
    }
    // Errors are reported even under -q: they decide the exit status.
    report_rule_errors(&report);
    let covers_nothing =
        inventory.snapshot.scopes.is_empty() && inventory.snapshot.resources.is_empty();
    if covers_nothing {
        say!(
            "warning: {}: the snapshot covers nothing (no scopes and no resources): nothing was audited",
            report.snapshot.path
        );
    }
    // Freeing a large tenant's millions of small allocations takes seconds; the process is about
    // to exit and the OS reclaims it all at once.
    std::mem::forget(inventory);
    let verdict = outcome.verdict;
    std::mem::forget(report);
    Ok(match verdict {
        Verdict::Error => Exit::Error,
        _ if covers_nothing && !args.no_fail => Exit::Incomplete,
        Verdict::Clean => Exit::Clean,
        Verdict::Violations => Exit::Violations,
        Verdict::Incomplete => Exit::Incomplete,
    })
}

fn print_stdout(report: &Report, args: &ScanArgs, gate: &GateOutcome) -> anyhow::Result<()> {
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
            locations: args.template.is_some(),
        };
        out.write_all(crate::report::table::render(report, &options).as_bytes())?;
        writeln!(out, "Reports written to {}", args.out_dir.display())?;
    } else if let Some(format) = args.formats.first() {
        out.write_all(&format.render(report, false, gate)?)?;
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
            say!("warning: {line}");
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
        say!(
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
        say!(
            "warning: {}: exemption {} (rule {}, resource {}) matches no failure",
            ex.file,
            e.entry,
            e.rule,
            e.resource
        );
    }
}

/// Every pair a rule could not evaluate, on stderr (the first few; the reports hold them all).
fn report_rule_errors(report: &Report) {
    const SHOWN: usize = 10;
    let errors: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Error)
        .collect();
    for r in errors.iter().take(SHOWN) {
        say!("error: {}", r.message);
    }
    if errors.len() > SHOWN {
        say!(
            "error: and {} more rule errors (see findings.json)",
            errors.len() - SHOWN
        );
    }
    if !errors.is_empty() {
        say!(
            "error: {} (rule, resource) pair(s) could not be evaluated; the reports were written with them as `error` results",
            errors.len()
        );
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "`{text}` is not a number of seconds between 0 and 86400"
        )),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Results about planned resources get the template location; a pass or fail that rests on
/// something the template leaves unknown until deployment becomes `unknown`, naming it.
fn annotate(results: &mut [RuleResult], plan: &Plan, inventory: &Inventory) {
    let uncertain = plan.uncertain_assignments();
    for r in results.iter_mut() {
        let mut reasons = Vec::new();
        if let Some(p) = plan.get(&r.resource_id) {
            r.location = Some(Location {
                file: p.location.file.clone(),
                line: p.location.line,
                column: p.location.column,
            });
            // The resource is not deployed yet: the fix belongs in the template, and a command
            // naming a planned principal cannot run.
            for fix in &mut r.remediation {
                fix.automatic = false;
                fix.description = format!(
                    "{} (not deployed yet: make the change in {}:{})",
                    fix.description, p.location.file, p.location.line
                );
            }
            // A planned child (a compute) of a parent neither planned nor in the snapshot: what
            // the rule read from the parent is missing, so only a failure of its own stands.
            let normalized = crate::ids::normalize(&r.resource_id);
            if let Some(parent) = crate::ids::parent_of(&normalized)
                && crate::ids::arm_type_of(parent).is_some()
                && inventory.get(parent).is_none()
                && r.status != Status::Fail
            {
                reasons.push(format!(
                    "its parent {parent} is not created by the template and not in the snapshot"
                ));
            }
        }
        match r.status {
            Status::Pass | Status::Fail => {}
            Status::NotApplicable if !reasons.is_empty() => {}
            _ => {
                // An unknown the template caused names the expression behind it too.
                reasons.extend(plan.uncertainty(&r.resource_id));
                if !reasons.is_empty() {
                    r.message = format!("{} ({})", r.message, reasons.join("; "));
                }
                continue;
            }
        }
        reasons.extend(plan.uncertainty(&r.resource_id));
        let evidence = serde_json::to_string(&r.evidence)
            .expect("evidence is JSON already")
            .to_ascii_lowercase();
        for (id, open) in &uncertain {
            // A pass that counts on a planned assignment the deployment may not make, or a failed
            // access check that an assignment to an unknown principal, role or scope might meet.
            let rests_on_it = match r.status {
                Status::Pass => evidence.contains(id.as_str()),
                _ => *open && evidence.contains("\"decision\""),
            };
            if rests_on_it {
                reasons.push(format!(
                    "planned role assignment {id} is not fully known before deployment"
                ));
            }
        }
        if !reasons.is_empty() {
            r.status = Status::Unknown;
            r.message = format!(
                "{} (cannot be decided before deployment: {})",
                r.message,
                reasons.join("; ")
            );
            r.remediation.clear();
        }
    }
}
