//! The terminal table: a summary line per rule, then the failures grouped by rule, then what
//! could not be decided and why. Messages are wrapped to the terminal's width, never cut; the
//! evidence and fixes are in the JSON and CSV files, and the table says where once. Coloured
//! only on a TTY.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, Width};

use super::Report;
use crate::findings::{Severity, Status};
use crate::text::{visible, visible_lines};

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
    /// Adds a Location column to the failures (`scan --template`: where in the template a
    /// planned resource is written; every other result points at its snapshot).
    pub locations: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            color: false,
            min_severity: None,
            width: DEFAULT_WIDTH,
            details: None,
            locations: false,
        }
    }
}

/// Short, unbreakable columns keep their width (an id cut in two is unreadable); the last
/// column, the message, gets at least this much and wraps.
const MIN_MESSAGE_WIDTH: u16 = 40;

/// Lays out a list of results: the `keep` columns (short ids and markers) keep their content
/// width where they can, the `message` column gets at least [`MIN_MESSAGE_WIDTH`] and wraps in
/// the rest.
fn constrain(t: &mut Table, keep: &[usize], message: usize) {
    for i in keep {
        if let Some(column) = t.column_mut(*i) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    if let Some(column) = t.column_mut(message) {
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
    // Planned resources of a template scan say where in the template they are written.
    let located = options.locations && report.results.iter().any(|r| r.location.is_some());
    if located {
        failure_header.push("Location");
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
                Cell::new(visible(&r.rule_id)),
                colored(r.severity, Some(severity_color(r.severity)), color),
                Cell::new(visible(&r.resource_name)),
                Cell::new(visible(r.subscription_id.as_deref().unwrap_or("-"))),
                Cell::new(visible_lines(&r.message)),
                fix_marker(r, color),
            ];
            if report.baseline.is_some() {
                row.push(Cell::new(r.baseline.map_or("-", |b| b.as_str())));
            }
            if located {
                row.push(Cell::new(match &r.location {
                    Some(at) => format!("{}:{}:{}", visible(&at.file), at.line, at.column),
                    None => "-".to_string(),
                }));
            }
            failures.add_row(row);
        }
    }
    if any {
        // Rule, severity and the markers after the message (fix, baseline, location).
        let markers: Vec<usize> = (5..failures.column_count()).collect();
        constrain(&mut failures, &[&[0, 1], markers.as_slice()].concat(), 4);
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
                Cell::new(visible(&r.rule_id)),
                colored(r.severity, Some(Color::Yellow), color),
                Cell::new(visible(&r.resource_name)),
                Cell::new(visible(r.subscription_id.as_deref().unwrap_or("-"))),
                Cell::new(visible_lines(&r.message)),
            ]);
        }
    }
    if any_unknown {
        constrain(&mut unknowns, &[0, 1], 4);
        out.push_str(
            "\nUnknown: could not be decided (collect what each names, then scan again)\n",
        );
        out.push_str(&unknowns.to_string());
        out.push('\n');
    }
    let errors: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Error)
        .collect();
    if !errors.is_empty() {
        let mut table = table(options.width);
        table.set_header(["Rule", "Resource", "Error"]);
        for r in &errors {
            table.add_row(vec![
                Cell::new(visible(&r.rule_id)),
                Cell::new(visible(&r.resource_name)),
                Cell::new(visible_lines(&r.message)),
            ]);
        }
        constrain(&mut table, &[0], 2);
        out.push_str("\nRule errors (nothing is known about these pairs)\n");
        out.push_str(&table.to_string());
        out.push('\n');
    }
    if let (Some(details), true) = (&options.details, any || any_unknown || !errors.is_empty()) {
        out.push_str(&format!(
            "Full messages, evidence and fixes: {}\n",
            visible(details)
        ));
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
    let uncovered = super::uncovered_scopes(report);
    if !uncovered.is_empty() {
        out.push_str(&format!(
            "Not covered by the snapshot: {} (results that needed them are unknown)\n",
            visible(&uncovered.join(", "))
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
