//! The terminal table: a summary line per rule, then the failures grouped by rule, then what
//! could not be decided and why. Messages are wrapped to the terminal's width, never cut; the
//! evidence and fixes are in the JSON and CSV files, and the table says where once. Coloured
//! only on a TTY.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, Width};

use super::Report;
use crate::findings::{Severity, Status};

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

/// The width tables are wrapped to when stdout is not a terminal and `COLUMNS` is not set (a CI
/// log, a file): wide enough for the id columns and a readable message column.
pub const DEFAULT_WIDTH: u16 = 140;

/// The width to wrap to on stdout: the terminal's, else `COLUMNS`, else [`DEFAULT_WIDTH`].
pub fn stdout_width() -> u16 {
    Table::new()
        .width()
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<u16>().ok())
        })
        .filter(|w| *w >= 40)
        .unwrap_or(DEFAULT_WIDTH)
}

/// How the table is laid out.
#[derive(Debug, Clone)]
pub struct Options {
    pub color: bool,
    /// Hides failures below this severity (display only). Unknowns are always listed: the gate
    /// counts them whatever their severity.
    pub min_severity: Option<Severity>,
    /// The width messages are wrapped to.
    pub width: u16,
    /// Where the full text, evidence and fixes are, said once under the tables.
    pub details: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            color: false,
            min_severity: None,
            width: DEFAULT_WIDTH,
            details: None,
        }
    }
}

/// Short, unbreakable columns keep their width (an id cut in two is unreadable); the last
/// column, the message, gets at least this much and wraps.
const MIN_MESSAGE_WIDTH: u16 = 40;

/// Lays out a list of results: the first columns keep their content width where they can, the
/// last (the message) wraps in the rest.
fn constrain(t: &mut Table, keep: &[usize]) {
    let last = t.column_count().saturating_sub(1);
    for i in keep {
        if let Some(column) = t.column_mut(*i) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    if let Some(column) = t.column_mut(last) {
        column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(
            MIN_MESSAGE_WIDTH,
        )));
    }
}

fn table(width: u16) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    t
}

/// Renders the summary, the failures and the unknowns.
pub fn render(report: &Report, options: &Options) -> String {
    let color = options.color;
    let min_severity = options.min_severity;
    let mut summary = table(options.width);
    summary.set_header([
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
            Cell::new(&rule.id),
            Cell::new(&rule.title),
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
    let mut failure_header = vec!["Rule", "Severity", "Resource", "Subscription", "Message"];
    // With a baseline only new failures fail the gate, so the table says which ones they are.
    if report.baseline.is_some() {
        failure_header.push("Baseline");
    }
    let mut failures = table(options.width);
    failures.set_header(failure_header);
    let mut any = false;
    for rule in &report.rules {
        for r in report
            .results
            .iter()
            .filter(|r| r.rule_id == rule.id && r.status == Status::Fail && shown(r.severity))
        {
            any = true;
            let mut row = vec![
                Cell::new(&r.rule_id),
                colored(r.severity, Some(severity_color(r.severity)), color),
                Cell::new(&r.resource_name),
                Cell::new(r.subscription_id.as_deref().unwrap_or("-")),
                Cell::new(&r.message),
            ];
            if report.baseline.is_some() {
                row.push(Cell::new(r.baseline.as_deref().unwrap_or("-")));
            }
            failures.add_row(row);
        }
    }
    if any {
        constrain(&mut failures, &[0, 1]);
        out.push_str("\nFailures\n");
        out.push_str(&failures.to_string());
        out.push('\n');
    }

    let mut unknowns = table(options.width);
    unknowns.set_header([
        "Rule",
        "Severity",
        "Resource",
        "Subscription",
        "Why it is unknown",
    ]);
    let mut any_unknown = false;
    for rule in &report.rules {
        for r in report
            .results
            .iter()
            .filter(|r| r.rule_id == rule.id && r.status == Status::Unknown)
        {
            any_unknown = true;
            unknowns.add_row(vec![
                Cell::new(&r.rule_id),
                colored(r.severity, Some(Color::Yellow), color),
                Cell::new(&r.resource_name),
                Cell::new(r.subscription_id.as_deref().unwrap_or("-")),
                Cell::new(&r.message),
            ]);
        }
    }
    if any_unknown {
        constrain(&mut unknowns, &[0, 1]);
        out.push_str(
            "\nUnknown: could not be decided (collect what each names, then scan again)\n",
        );
        out.push_str(&unknowns.to_string());
        out.push('\n');
    }
    if let (Some(details), true) = (&options.details, any || any_unknown) {
        out.push_str(&format!("Full messages, evidence and fixes: {details}\n"));
    }
    let s = &report.summary.by_status;
    out.push_str(&format!(
        "\n{} results: {} fail, {} unknown, {} pass, {} not applicable, {} exempt\n",
        report.summary.total, s.fail, s.unknown, s.pass, s.not_applicable, s.exempt
    ));
    if let Some(ex) = &report.exemptions {
        out.push_str(&format!(
            "Exemptions ({}): {} applied, {} expired, {} matched no failure\n",
            ex.file,
            ex.applied.len(),
            ex.expired.len(),
            ex.unmatched.len()
        ));
    }
    if let Some(b) = &report.baseline {
        out.push_str(&format!(
            "Baseline ({}): {} new failure(s), {} baselined, {} fixed\n",
            b.file,
            b.new,
            b.baselined,
            b.fixed.len()
        ));
    }
    if !report.summary.incomplete_scopes.is_empty() {
        out.push_str(&format!(
            "Not read completely: {} (results that needed them are unknown)\n",
            report.summary.incomplete_scopes.join(", ")
        ));
    }
    let uncovered = super::uncovered_scopes(report);
    if !uncovered.is_empty() {
        out.push_str(&format!(
            "Not covered by the snapshot: {} (results that needed them are unknown)\n",
            uncovered.join(", ")
        ));
    }
    out
}
