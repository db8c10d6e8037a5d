//! `amlaudit fix plan`: applies every selected proven fix to the snapshot together, scans the
//! result again, and shows what the remediation script would change, per rule, before and after,
//! including any result the fixes make worse (one rule's fix can break another's check: disabling
//! a registry's admin user that an ACI workspace needs, say).
//!
//! Only fixes proven to close their result on their own (`closes`) are applied: exactly the
//! commands `--script` writes and runs. The simulated inventory can be written as a snapshot
//! (`--write-snapshot`), so `amlaudit scan` and `amlaudit diff` can show the change in full.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::Exit;
use crate::findings::{Edit, RuleResult, Severity, Status, Verified};
use crate::fixes::overlay::Overlay;
use crate::ids;
use crate::inventory::{Inventory, Snapshot};
use crate::output::{write_atomically, write_atomically_executable};
use crate::permissions::PermissionIndex;
use crate::policy::{Evaluator, Params, PolicySet};
use crate::report::{Report, SnapshotInfo};

#[derive(Debug, Args)]
pub struct FixArgs {
    #[command(subcommand)]
    command: FixCommand,
}

#[derive(Debug, Subcommand)]
enum FixCommand {
    /// Apply every selected proven fix to the snapshot together, scan again, and show each rule
    /// before and after, plus anything the fixes make worse. Exit 1 when a fix makes another
    /// result worse or a failure with an automatic fix remains.
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The snapshot to plan fixes for.
    #[arg(long, value_name = "SNAPSHOT")]
    snapshot: PathBuf,
    /// A directory of your own rules (repeatable).
    #[arg(long = "policy-dir", value_name = "DIR")]
    policy_dirs: Vec<PathBuf>,
    /// Rule parameters (TOML, or JSON when the name ends in .json).
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
    /// Fix only failures of these rules (repeatable); all rules by default.
    #[arg(long = "rule", value_name = "RULE_ID")]
    rules: Vec<String>,
    /// Fix only failures at or above this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    severity: Option<Severity>,
    /// Write the inventory as the fixes leave it, as a snapshot.
    #[arg(long, value_name = "AFTER.json")]
    write_snapshot: Option<PathBuf>,
    /// Write the ordered script of the applied (proven) fixes.
    #[arg(long, value_name = "plan.sh")]
    script: Option<PathBuf>,
}

pub fn run(args: FixArgs) -> anyhow::Result<Exit> {
    match args.command {
        FixCommand::Plan(plan) => run_plan(plan),
    }
}

/// Counts of one rule's results by status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    fail: usize,
    unknown: usize,
    pass: usize,
}

impl Counts {
    fn of<'a>(results: impl Iterator<Item = &'a RuleResult>) -> BTreeMap<String, Counts> {
        let mut out: BTreeMap<String, Counts> = BTreeMap::new();
        for r in results {
            let c = out.entry(r.rule_id.clone()).or_default();
            match r.status {
                Status::Fail => c.fail += 1,
                Status::Unknown => c.unknown += 1,
                Status::Pass => c.pass += 1,
                // A rule error is counted as unknown: nothing was decided.
                Status::Error => c.unknown += 1,
                Status::NotApplicable | Status::Exempt => {}
            }
        }
        out
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} fail, {} unknown, {} pass",
            self.fail, self.unknown, self.pass
        )
    }
}

/// How bad a status is, for "made worse": fail is worst.
fn badness(status: Status) -> u8 {
    match status {
        Status::Fail => 3,
        Status::Unknown | Status::Error => 2,
        Status::Pass | Status::NotApplicable | Status::Exempt => 0,
    }
}

fn run_plan(args: PlanArgs) -> anyhow::Result<Exit> {
    let params = match &args.params {
        Some(path) => Params::load(path)?,
        None => Params::default(),
    };
    let policies = PolicySet::load(&args.policy_dirs)?;
    for wanted in &args.rules {
        if !policies
            .rules
            .iter()
            .any(|r| r.meta.id.eq_ignore_ascii_case(wanted))
        {
            anyhow::bail!("--rule {wanted}: no loaded rule has this id");
        }
    }
    let snapshot = Snapshot::load(&args.snapshot)?;
    // The inventory drops role assignments' JSON; the snapshot written afterwards needs them.
    let original = snapshot.clone();
    let info = SnapshotInfo {
        path: args.snapshot.display().to_string(),
        sha256: String::new(),
        collected_at: snapshot.collected_at.clone(),
        tenant_id: snapshot.tenant_id.clone(),
        cloud: Some(snapshot.cloud.clone()),
    };

    let before_inventory = Inventory::new(snapshot);
    // As `scan` does: a parameter value that names nothing in the snapshot is said, not ignored.
    if let Some(path) = &args.params {
        for warning in params.check(&before_inventory) {
            say!("warning: {}: {warning}", path.display());
        }
    }
    let before = scan(&before_inventory, &policies, &params)?;

    let selected: Vec<&RuleResult> = before
        .iter()
        .filter(|r| r.status == Status::Fail && !r.remediation.is_empty())
        .filter(|r| {
            args.rules.is_empty()
                || args
                    .rules
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(&r.rule_id))
        })
        .filter(|r| args.severity.is_none_or(|min| r.severity >= min))
        .collect();
    let mut overlay = Overlay::new(&before_inventory);
    let mut applied: Vec<&RuleResult> = Vec::new();
    let mut skipped: Vec<(&RuleResult, String)> = Vec::new();
    for r in &selected {
        let check = r.fix.as_ref();
        if check.map(|c| c.verified) != Some(Verified::Closes) {
            let why = check.map_or_else(
                || "not verified".to_string(),
                |c| format!("{}: {}", c.verified, c.detail),
            );
            skipped.push((r, why));
            continue;
        }
        let edits: Vec<&Edit> = r.remediation.iter().map(|s| &s.edit).collect();
        match overlay.apply_all(&edits) {
            Ok(()) => applied.push(r),
            Err(e) => skipped.push((r, format!("with the other fixes applied, {e}"))),
        }
    }
    let after_snapshot = overlay.materialize(original);
    drop(overlay);
    let after_bytes = after_snapshot.to_json_bytes();
    let after_inventory = Inventory::new(after_snapshot);
    let after = scan(&after_inventory, &policies, &params)?;

    // Results that got worse: a status worse than before, or a new result that fails or is unknown.
    let before_by_key: HashMap<(String, String), &RuleResult> =
        before.iter().map(|r| (r.key(), r)).collect();
    let worse: Vec<(Option<&RuleResult>, &RuleResult)> = after
        .iter()
        .filter_map(|a| {
            let b = before_by_key.get(&a.key()).copied();
            let was = b.map_or(0, |b| badness(b.status));
            (badness(a.status) > was).then_some((b, a))
        })
        .collect();
    let left_automatic: Vec<&RuleResult> = after
        .iter()
        .filter(|r| r.status == Status::Fail && r.remediation.iter().any(|s| s.automatic))
        .filter(|r| {
            args.rules.is_empty()
                || args
                    .rules
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(&r.rule_id))
        })
        .filter(|r| args.severity.is_none_or(|min| r.severity >= min))
        .collect();

    if let Some(path) = &args.write_snapshot {
        write_atomically(path, &after_bytes)
            .with_context(|| format!("{}: cannot write the snapshot", path.display()))?;
    }
    if let Some(path) = &args.script {
        let rules = policies.rules.iter().map(|r| r.meta.clone()).collect();
        let results: Vec<RuleResult> = applied.iter().map(|r| (*r).clone()).collect();
        let report = Report::new(
            info,
            before_inventory.snapshot.scopes.clone(),
            rules,
            results,
        );
        let script = crate::report::script::render(&report);
        write_atomically_executable(path, script.as_bytes())
            .with_context(|| format!("{}: cannot write the script", path.display()))?;
    }

    let before_counts = Counts::of(before.iter());
    let after_counts = Counts::of(after.iter());
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["Rule", "Before", "After", "Fixes applied"]);
    for rule in &policies.rules {
        let id = &rule.meta.id;
        let fixed = applied.iter().filter(|r| &r.rule_id == id).count();
        table.add_row(vec![
            id.clone(),
            before_counts
                .get(id)
                .copied()
                .unwrap_or_default()
                .to_string(),
            after_counts
                .get(id)
                .copied()
                .unwrap_or_default()
                .to_string(),
            fixed.to_string(),
        ]);
    }
    let mut out = String::new();
    out.push_str(&format!(
        "Fix plan for {}: {} proven fix(es) applied together, {} failure(s) left as they are.\n",
        terminal_text(&args.snapshot.display().to_string()),
        applied.len(),
        skipped.len()
    ));
    out.push_str(&table.to_string());
    out.push('\n');
    if worse.is_empty() {
        out.push_str("\nNo result gets worse.\n");
    } else {
        out.push_str(&format!("\nMade worse by the fixes ({}):\n", worse.len()));
        for (b, a) in &worse {
            out.push_str(&format!(
                "  {} {}: {} -> {}: {}\n",
                a.rule_id,
                terminal_text(&a.resource_name),
                b.map_or("(no result)", |b| b.status.as_str()),
                a.status,
                terminal_text(&a.message)
            ));
        }
    }
    if !skipped.is_empty() {
        out.push_str("\nNot applied (manual, or not proven to close):\n");
        for (r, why) in &skipped {
            out.push_str(&format!(
                "  {} {}: {}\n",
                r.rule_id,
                terminal_text(&r.resource_name),
                terminal_text(why)
            ));
        }
    }
    if !left_automatic.is_empty() {
        out.push_str(&format!(
            "\n{} failure(s) with an automatic fix remain after the plan:\n",
            left_automatic.len()
        ));
        for r in &left_automatic {
            out.push_str(&format!(
                "  {} {}\n",
                r.rule_id,
                terminal_text(&r.resource_name)
            ));
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(if worse.is_empty() && left_automatic.is_empty() {
        Exit::Clean
    } else {
        Exit::Violations
    })
}

/// Evaluates every rule and proves every fix, as `scan` does.
fn scan(
    inventory: &Inventory,
    policies: &PolicySet,
    params: &Params,
) -> anyhow::Result<Vec<RuleResult>> {
    let index = Arc::new(PermissionIndex::new(inventory));
    let evaluator = Evaluator::new(policies, index, params)?;
    let mut results = evaluator.evaluate(inventory)?;
    evaluator.prove_fixes(inventory, &mut results);
    results.sort_by_cached_key(|r| (r.rule_id.clone(), ids::normalize(&r.resource_id)));
    Ok(results)
}

/// Text from the tenant made safe for a terminal: control and bidirectional-formatting
/// characters are shown as escapes instead of being obeyed.
pub fn terminal_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}');
            if c.is_control() || bidi {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
