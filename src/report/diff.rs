//! Comparing two JSON reports (`amlaudit diff OLD NEW`): what was fixed, what newly fails, and
//! what else changed status, keyed by (rule id, normalised resource id) so that a re-cased id is
//! the same finding.
//!
//! "New" means failing now and not failing before (absent, passing, unknown, exempt with an
//! exemption that has since expired): that is what a "no regressions" gate fails on. "Fixed"
//! means failing before and now passing, not applicable, or gone from the snapshot; a failure
//! that became exempt or unknown is a change, not a fix.

use std::collections::BTreeMap;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde::{Deserialize, Serialize};

use super::Report;
use crate::findings::{RuleResult, Severity, Status};
use crate::text::visible;

/// The diff format version.
pub const DIFF_VERSION: u32 = 1;

/// Which report a side of the diff is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub path: String,
    pub generated_at: String,
    pub snapshot_sha256: String,
}

/// One (rule, resource) pair whose status differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub rule_id: String,
    pub resource_id: String,
    pub resource_name: String,
    pub severity: Severity,
    /// `None` when the pair is not in that report.
    pub before: Option<Status>,
    pub after: Option<Status>,
    /// The newer message, or the old one when the pair is gone.
    pub message: String,
}

/// Everything that differs between two reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDiff {
    pub amlaudit_diff: u32,
    pub old: Side,
    pub new: Side,
    pub fixed: Vec<Change>,
    /// Failing now, not failing before.
    pub new_failures: Vec<Change>,
    /// Every other change of status, including pairs that appeared or disappeared.
    pub changed: Vec<Change>,
    /// Pairs with the same status in both.
    pub unchanged: usize,
}

impl ReportDiff {
    /// A regression gate fails when something new fails.
    pub fn has_new_failures(&self) -> bool {
        !self.new_failures.is_empty()
    }
}

fn change(before: Option<&RuleResult>, after: Option<&RuleResult>) -> Option<Change> {
    let shown = after.or(before)?;
    Some(Change {
        rule_id: shown.rule_id.clone(),
        resource_id: shown.resource_id.clone(),
        resource_name: shown.resource_name.clone(),
        severity: shown.severity,
        before: before.map(|r| r.status),
        after: after.map(|r| r.status),
        message: shown.message.clone(),
    })
}

/// Compares `old` with `new`; paths name the files in the output.
pub fn diff(old: &Report, old_path: &str, new: &Report, new_path: &str) -> ReportDiff {
    let before = index(old);
    let after = index(new);
    let mut keys: Vec<&(String, String)> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();

    let mut out = ReportDiff {
        amlaudit_diff: DIFF_VERSION,
        old: side(old, old_path),
        new: side(new, new_path),
        fixed: vec![],
        new_failures: vec![],
        changed: vec![],
        unchanged: 0,
    };
    for key in keys {
        let b = before.get(key).copied();
        let a = after.get(key).copied();
        let (bs, as_) = (b.map(|r| r.status), a.map(|r| r.status));
        if bs == as_ {
            out.unchanged += 1;
            continue;
        }
        let Some(c) = change(b, a) else { continue };
        let was_failing = bs == Some(Status::Fail);
        let is_failing = as_ == Some(Status::Fail);
        if is_failing {
            out.new_failures.push(c);
        } else if was_failing
            && matches!(as_, None | Some(Status::Pass) | Some(Status::NotApplicable))
        {
            out.fixed.push(c);
        } else {
            out.changed.push(c);
        }
    }
    out
}

fn index(report: &Report) -> BTreeMap<(String, String), &RuleResult> {
    report.results.iter().map(|r| (r.key(), r)).collect()
}

fn side(report: &Report, path: &str) -> Side {
    Side {
        path: path.to_string(),
        generated_at: report.generated_at.clone(),
        snapshot_sha256: report.snapshot.sha256.clone(),
    }
}

fn status_text(s: Option<Status>) -> &'static str {
    s.map_or("absent", Status::as_str)
}

fn section(out: &mut String, title: &str, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["Rule", "Severity", "Resource", "Before", "After", "Message"]);
    for c in changes {
        let line = c.message.lines().next().unwrap_or_default();
        table.add_row(vec![
            visible(&c.rule_id),
            visible(c.severity.as_str()),
            visible(&c.resource_name),
            visible(status_text(c.before)),
            visible(status_text(c.after)),
            visible(line),
        ]);
    }
    out.push_str(&format!("{title} ({})\n{table}\n\n", changes.len()));
}

/// The diff as tables, one per kind of change, and a closing count.
pub fn render_table(diff: &ReportDiff) -> String {
    let mut out = String::new();
    section(&mut out, "New failures", &diff.new_failures);
    section(&mut out, "Fixed", &diff.fixed);
    section(&mut out, "Changed status", &diff.changed);
    out.push_str(&format!(
        "{} new failure(s), {} fixed, {} changed, {} unchanged ({} -> {})\n",
        diff.new_failures.len(),
        diff.fixed.len(),
        diff.changed.len(),
        diff.unchanged,
        visible(&diff.old.path),
        visible(&diff.new.path)
    ));
    out
}

pub fn render_json(diff: &ReportDiff) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(diff)
        .expect("a diff holds only strings, numbers and enums, which always serialise");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{report, result};

    #[test]
    fn sorts_changes_into_fixed_new_and_changed() {
        let old = report(vec![
            result("A", "/s/fixed", Status::Fail),
            result("A", "/s/gone", Status::Fail),
            result("A", "/s/regressed", Status::Pass),
            result("A", "/s/exempted", Status::Fail),
            result("A", "/s/same", Status::Fail),
        ]);
        let new = report(vec![
            result("A", "/S/FIXED", Status::Pass),
            result("A", "/s/regressed", Status::Fail),
            result("A", "/s/exempted", Status::Exempt),
            result("A", "/s/same", Status::Fail),
            result("A", "/s/added", Status::Fail),
            result("A", "/s/added-pass", Status::Pass),
        ]);
        let d = diff(&old, "old.json", &new, "new.json");
        let names = |c: &[Change]| {
            c.iter()
                .map(|c| c.resource_name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&d.fixed), vec!["FIXED", "gone"]);
        assert_eq!(names(&d.new_failures), vec!["added", "regressed"]);
        assert_eq!(names(&d.changed), vec!["added-pass", "exempted"]);
        assert_eq!(d.unchanged, 1);
        assert!(d.has_new_failures());
        assert!(render_table(&d).contains("2 new failure(s), 2 fixed, 2 changed, 1 unchanged"));
    }
}
