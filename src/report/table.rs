//! The terminal table: a summary line per rule, then the failures grouped by rule. Short by
//! design; the details are in the JSON and CSV files. Coloured only on a TTY.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::Report;
use crate::findings::{Severity, Status};
use crate::text::visible;

fn colored(text: impl ToString, color: Option<Color>, enabled: bool) -> Cell {
    let cell = Cell::new(text);
    match (enabled, color) {
        (true, Some(c)) => cell.fg(c),
        _ => cell,
    }
}

fn severity_color(s: Severity) -> Color {
    match s {
        Severity::Critical | Severity::High => Color::Red,
        Severity::Medium => Color::Yellow,
        Severity::Low => Color::Cyan,
    }
}

/// Renders the summary and the failures; `min_severity` hides failures below it (display only).
pub fn render(report: &Report, color: bool, min_severity: Option<Severity>) -> String {
    let mut summary = Table::new();
    summary
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "Rule", "Title", "Severity", "Pass", "Fail", "Unknown", "N/A", "Exempt",
        ]);
    for rule in &report.rules {
        let c = report
            .summary
            .by_rule
            .get(&rule.id)
            .cloned()
            .unwrap_or_default();
        summary.add_row(vec![
            Cell::new(visible(&rule.id)),
            Cell::new(visible(&rule.title)),
            colored(rule.severity, Some(severity_color(rule.severity)), color),
            colored(c.pass, (c.pass > 0).then_some(Color::Green), color),
            colored(c.fail, (c.fail > 0).then_some(Color::Red), color),
            colored(c.unknown, (c.unknown > 0).then_some(Color::Yellow), color),
            Cell::new(c.not_applicable),
            Cell::new(c.exempt),
        ]);
    }
    let mut out = summary.to_string();
    out.push('\n');

    let shown = |s: Severity| min_severity.is_none_or(|m| s >= m);
    let mut failure_header = vec![
        "Rule",
        "Severity",
        "Resource",
        "Subscription",
        "Message",
        "Fix",
    ];
    // With a baseline only new failures fail the gate, so the table says which ones they are.
    if report.baseline.is_some() {
        failure_header.push("Baseline");
    }
    // Planned resources of a template scan say where they are written.
    let located = report.results.iter().any(|r| r.location.is_some());
    if located {
        failure_header.push("Location");
    }
    let mut failures = Table::new();
    failures
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(failure_header);
    let mut any = false;
    for rule in &report.rules {
        for r in report
            .results
            .iter()
            .filter(|r| r.rule_id == rule.id && r.status == Status::Fail && shown(r.severity))
        {
            any = true;
            let mut row = vec![
                Cell::new(visible(&r.rule_id)),
                colored(r.severity, Some(severity_color(r.severity)), color),
                Cell::new(visible(&r.resource_name)),
                Cell::new(visible(r.subscription_id.as_deref().unwrap_or("-"))),
                Cell::new(visible(&first_line(&r.message))),
                fix_marker(r, color),
            ];
            if report.baseline.is_some() {
                row.push(Cell::new(r.baseline.map_or("-", |b| b.as_str())));
            }
            if located {
                row.push(Cell::new(match &r.location {
                    Some(at) => format!("{}:{}:{}", at.file, at.line, at.column),
                    None => "-".to_string(),
                }));
            }
            failures.add_row(row);
        }
    }
    if any {
        out.push_str("\nFailures\n");
        out.push_str(&failures.to_string());
        out.push('\n');
    }
    let errors: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Error)
        .collect();
    if !errors.is_empty() {
        let mut table = Table::new();
        table
            .load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(["Rule", "Resource", "Error"]);
        for r in &errors {
            table.add_row(vec![
                Cell::new(visible(&r.rule_id)),
                Cell::new(visible(&r.resource_name)),
                Cell::new(visible(&first_line(&r.message))),
            ]);
        }
        out.push_str("\nRule errors (nothing is known about these pairs)\n");
        out.push_str(&table.to_string());
        out.push('\n');
    }
    let s = &report.summary.by_status;
    out.push_str(&format!(
        "\n{} results: {} fail, {} unknown, {} pass, {} not applicable, {} exempt",
        report.summary.total, s.fail, s.unknown, s.pass, s.not_applicable, s.exempt
    ));
    if s.error > 0 {
        out.push_str(&format!(", {} error", s.error));
    }
    out.push('\n');
    if let Some(ex) = &report.exemptions {
        out.push_str(&format!(
            "Exemptions ({}): {} applied, {} expired, {} matched no failure\n",
            visible(&ex.file),
            ex.applied.len(),
            ex.expired.len(),
            ex.unmatched.len()
        ));
    }
    if let Some(b) = &report.baseline {
        out.push_str(&format!(
            "Baseline ({}): {} new failure(s), {} baselined, {} fixed\n",
            visible(&b.file),
            b.new,
            b.baselined,
            b.fixed.len()
        ));
    }
    if !report.summary.incomplete_scopes.is_empty() {
        out.push_str(&format!(
            "Not read completely: {} (results that needed them are unknown)\n",
            visible(&report.summary.incomplete_scopes.join(", "))
        ));
    }
    out
}

/// Whether the failure's fix is proven: `✓ closes`, `~ partial`, `✗ does not close`, `manual`.
fn fix_marker(r: &crate::findings::RuleResult, color: bool) -> Cell {
    use crate::findings::Verified;
    match r.fix.as_ref().map(|f| f.verified) {
        Some(Verified::Closes) => colored("✓ closes", Some(Color::Green), color),
        Some(Verified::Partial) => colored("~ partial", Some(Color::Yellow), color),
        Some(Verified::DoesNotClose) => colored("✗ does not close", Some(Color::Red), color),
        Some(Verified::NotVerified) => Cell::new("manual"),
        None => Cell::new("-"),
    }
}

fn first_line(message: &str) -> String {
    const MAX: usize = 160;
    let line = message.lines().next().unwrap_or_default();
    if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line.to_string()
    }
}
