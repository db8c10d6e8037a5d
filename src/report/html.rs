//! The HTML report (`report.html`): one self-contained file an auditor can hand on, that opens
//! from disk, from a mail attachment or behind an air gap.
//!
//! The page is an askama template (`templates/report.html`): the header, the coverage, the gate
//! verdict, the counts and three SVG charts are rendered here, so they show without JavaScript.
//! The results table is drawn by the page's own script from a JSON block embedded in the page,
//! one page of rows at a time, so 60,000 results filter and sort without building 60,000 rows.
//!
//! Nothing in a report is trusted as markup. askama escapes every value for HTML text and quoted
//! attributes; the JSON block has `<`, `>` and `&` written as `\u003c`, `\u003e` and `\u0026`, so
//! no resource name can close its `<script>` element; the script builds the table with
//! `textContent` and never parses strings as HTML; links are only ever `http(s)` rule references.
//! Control and bidirectional-override characters (U+202E and the like) are shown as `⟨U+202E⟩`
//! instead of being obeyed. A `Content-Security-Policy` allows only this page's own style and
//! script, by hash, and no fetch of any kind, so even a mistake above could neither run injected
//! script nor make a request.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Counts, RenderError, Report};
use crate::findings::verdict::{GateOutcome, Verdict};
use crate::findings::{RuleResult, Severity, Status};
use crate::inventory::ScopeStatus;

/// The file the HTML report is written to.
pub const FILE_NAME: &str = "report.html";

/// The page's stylesheet and script, hashed into the Content-Security-Policy.
const STYLE: &str = include_str!("../../templates/report.css");
const SCRIPT: &str = include_str!("../../templates/report.js");

/// How many unknown results the page lists with their reasons before the results table (which
/// holds them all, filtered by status).
const MAX_UNKNOWNS: usize = 200;

/// How many subscriptions the failures chart names; the rest are summed into one bar.
const MAX_SUBSCRIPTION_BARS: usize = 15;

/// Statuses in the order the page shows them, worst first.
const STATUSES: [Status; 6] = [
    Status::Error,
    Status::Fail,
    Status::Unknown,
    Status::Exempt,
    Status::Pass,
    Status::NotApplicable,
];

/// Severities, most severe first.
const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

/// Renders the report as one HTML page; `gate` is the gate the scan ran with, for the verdict.
pub fn render(report: &Report, gate: &GateOutcome) -> Result<String, RenderError> {
    let data = embedded_json(report);
    let (unknowns, more_unknowns) = unknown_rows(report);
    let page = Page {
        csp: content_security_policy(),
        style: STYLE,
        script: SCRIPT,
        data: &data,
        header: Header::new(report, gate),
        unknowns,
        more_unknowns,
        charts: vec![
            rule_chart(report),
            subscription_chart(report),
            severity_chart(report),
        ],
        legend: STATUSES.iter().map(|s| status_label(*s)).collect(),
    };
    page.render().map_err(|e| RenderError::Render {
        format: "HTML",
        message: e.to_string(),
    })
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    csp: String,
    style: &'static str,
    script: &'static str,
    /// The results as JSON, already safe inside `<script type="application/json">`.
    data: &'a str,
    header: Header,
    /// What could not be decided and why, listed without needing the page's script.
    unknowns: Vec<UnknownRow>,
    /// Unknown results beyond [`MAX_UNKNOWNS`].
    more_unknowns: usize,
    charts: Vec<Chart>,
    legend: Vec<StatusLabel>,
}

/// One unknown result: each is a task (collect what the reason names), so the page lists them.
struct UnknownRow {
    rule: String,
    severity: &'static str,
    name: String,
    id: String,
    reason: String,
}

fn unknown_rows(report: &Report) -> (Vec<UnknownRow>, usize) {
    let all: Vec<&RuleResult> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Unknown)
        .collect();
    let rows = all
        .iter()
        .take(MAX_UNKNOWNS)
        .map(|r| UnknownRow {
            rule: visible(&r.rule_id),
            severity: r.severity.as_str(),
            name: visible(&r.resource_name),
            id: visible(&r.resource_id),
            reason: visible(&r.message),
        })
        .collect();
    (rows, all.len().saturating_sub(MAX_UNKNOWNS))
}

/// Only this page's own style and script may apply, by hash; nothing may be fetched.
fn content_security_policy() -> String {
    let hash = |text: &str| {
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    };
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; base-uri 'none'; form-action 'none'",
        hash(STYLE),
        hash(SCRIPT)
    )
}

/// Shows control and bidirectional formatting characters instead of obeying them: a resource
/// named with U+202E must not read backwards, and a newline must not start a fake line.
pub fn visible(text: &str) -> String {
    if !text.chars().any(is_invisible) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_invisible(c) {
            out.push_str(&format!("⟨U+{:04X}⟩", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

#[derive(Clone)]
struct StatusLabel {
    class: &'static str,
    label: &'static str,
}

fn status_label(status: Status) -> StatusLabel {
    StatusLabel {
        class: status.as_str(),
        label: match status {
            Status::Fail => "fail",
            Status::Unknown => "unknown",
            Status::Pass => "pass",
            Status::NotApplicable => "not applicable",
            Status::Exempt => "exempt",
            Status::Error => "error",
        },
    }
}

fn count_of(counts: &Counts, status: Status) -> usize {
    match status {
        Status::Fail => counts.fail,
        Status::Unknown => counts.unknown,
        Status::Pass => counts.pass,
        Status::NotApplicable => counts.not_applicable,
        Status::Exempt => counts.exempt,
        Status::Error => counts.error,
    }
}

/// The top of the page: what was audited, how completely, and what the gate decided.
struct Header {
    tenant: String,
    cloud: String,
    snapshot_path: String,
    sha256: String,
    collected_at: String,
    generated_at: String,
    tool_version: String,
    verdict_class: &'static str,
    verdict: &'static str,
    verdict_detail: String,
    total: usize,
    /// (status label, count), worst first.
    by_status: Vec<(StatusLabel, usize)>,
    /// One row per severity: its name and the count per status, in `by_status` order.
    by_severity: Vec<(&'static str, Vec<usize>)>,
    coverage: Coverage,
    baseline: Option<String>,
    exemptions: Vec<String>,
}

struct Coverage {
    complete: usize,
    partial: usize,
    failed: usize,
    not_covered: Vec<String>,
    /// Each subscription not read completely, with what could not be read.
    unread: Vec<UnreadScope>,
}

struct UnreadScope {
    subscription: String,
    status: &'static str,
    errors: Vec<String>,
}

impl Header {
    fn new(report: &Report, gate: &GateOutcome) -> Self {
        let snapshot = &report.snapshot;
        let (verdict_class, verdict, verdict_detail) = match gate.verdict {
            Verdict::Error => (
                "fail",
                "Rule errors (exit 2)",
                "a rule could not be evaluated on some resource: see the error results".to_string(),
            ),
            Verdict::Violations => (
                "fail",
                "Violations (exit 1)",
                format!(
                    "a failure at or above {} that is neither exempt nor baselined",
                    gate.fail_on
                ),
            ),
            Verdict::Incomplete => (
                "unknown",
                "Incomplete (exit 3)",
                "nothing fails, but some result is unknown or some subscription was not read completely"
                    .to_string(),
            ),
            Verdict::Clean if gate.no_fail => (
                "pass",
                "Not gated (--no-fail, exit 0)",
                "the scan ran with --no-fail".to_string(),
            ),
            Verdict::Clean => (
                "pass",
                "Clean (exit 0)",
                format!(
                    "nothing fails at or above {}{}",
                    gate.fail_on,
                    if gate.allow_unknown {
                        " (unknown results allowed)"
                    } else {
                        ", and everything could be decided"
                    }
                ),
            ),
        };
        let counts = &report.summary.by_status;
        let mut by_severity: BTreeMap<Severity, Counts> = BTreeMap::new();
        for r in &report.results {
            by_severity.entry(r.severity).or_default().add(r.status);
        }
        let baseline = report.baseline.as_ref().map(|b| {
            format!(
                "Baseline {}: {} new failure(s), {} baselined, {} fixed since the baseline.",
                visible(&b.file),
                b.new,
                b.baselined,
                b.fixed.len()
            )
        });
        let mut exemptions = Vec::new();
        if let Some(ex) = &report.exemptions {
            exemptions.push(format!(
                "Exemptions {}: {} applied, {} expired, {} matching no failure.",
                visible(&ex.file),
                ex.applied.len(),
                ex.expired.len(),
                ex.unmatched.len()
            ));
            for u in &ex.expired {
                let e = &u.exemption;
                exemptions.push(format!(
                    "Expired {}: exemption {} (rule {}, resource {}) no longer applies.",
                    visible(&e.expires),
                    e.entry,
                    visible(&e.rule),
                    visible(&e.resource)
                ));
            }
            for e in &ex.unmatched {
                exemptions.push(format!(
                    "Matches no failure: exemption {} (rule {}, resource {}).",
                    e.entry,
                    visible(&e.rule),
                    visible(&e.resource)
                ));
            }
        }
        Header {
            tenant: visible(snapshot.tenant_id.as_deref().unwrap_or("(not recorded)")),
            cloud: visible(snapshot.cloud.as_deref().unwrap_or("")),
            snapshot_path: visible(&snapshot.path),
            sha256: visible(&snapshot.sha256),
            collected_at: visible(&snapshot.collected_at),
            generated_at: visible(&report.generated_at),
            tool_version: visible(&report.tool_version),
            verdict_class,
            verdict,
            verdict_detail,
            total: report.summary.total,
            by_status: STATUSES
                .iter()
                .map(|s| (status_label(*s), count_of(counts, *s)))
                .collect(),
            by_severity: SEVERITIES
                .iter()
                .map(|sev| {
                    let c = by_severity.get(sev).cloned().unwrap_or_default();
                    (
                        sev.as_str(),
                        STATUSES.iter().map(|s| count_of(&c, *s)).collect(),
                    )
                })
                .collect(),
            coverage: Coverage::new(report),
            baseline,
            exemptions,
        }
    }
}

impl Coverage {
    fn new(report: &Report) -> Self {
        let covered: BTreeSet<String> = report
            .scopes
            .iter()
            .filter(|s| s.status != ScopeStatus::NotCovered)
            .map(|s| crate::ids::normalize(&s.subscription_id))
            .collect();
        // A subscription is "not covered" when a result is about a resource in it, or the
        // permission engine was asked about a scope in it, and the snapshot has no scope for it.
        // The report lists them as `not_covered` scopes; a report written before it did is
        // searched the same way here.
        let mut seen: BTreeSet<String> = super::uncovered_scopes(report)
            .into_iter()
            .map(str::to_string)
            .collect();
        for r in &report.results {
            seen.extend(r.subscription_id.iter().cloned());
            for e in &r.evidence {
                subscriptions_in_scopes(e, &mut seen);
            }
        }
        let not_covered: BTreeSet<String> = seen
            .iter()
            .filter(|s| !covered.contains(&crate::ids::normalize(s)))
            .map(|s| visible(s))
            .collect();
        let count = |status| report.scopes.iter().filter(|s| s.status == status).count();
        Coverage {
            complete: count(ScopeStatus::Complete),
            partial: count(ScopeStatus::Partial),
            failed: count(ScopeStatus::Failed),
            not_covered: not_covered.into_iter().collect(),
            unread: report
                .scopes
                .iter()
                .filter(|s| matches!(s.status, ScopeStatus::Partial | ScopeStatus::Failed))
                .map(|s| UnreadScope {
                    subscription: visible(&s.subscription_id),
                    status: match s.status {
                        ScopeStatus::Complete => "complete",
                        ScopeStatus::Partial => "partial",
                        ScopeStatus::Failed => "failed",
                        ScopeStatus::NotCovered => "not covered",
                    },
                    errors: s
                        .errors
                        .iter()
                        .map(|e| {
                            let status = e.http_status.map(|h| format!(" (HTTP {h})"));
                            visible(&format!(
                                "{}{}: {}",
                                e.resource_type,
                                status.unwrap_or_default(),
                                e.message
                            ))
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Collects the subscription of every `scope` an evidence value names.
fn subscriptions_in_scopes(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if let (true, Value::String(scope)) = (key == "scope", v) {
                    let mut segments = scope.split('/').filter(|s| !s.is_empty());
                    if let (Some(first), Some(id)) = (segments.next(), segments.next())
                        && first.eq_ignore_ascii_case("subscriptions")
                    {
                        out.insert(id.to_string());
                    }
                } else {
                    subscriptions_in_scopes(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| subscriptions_in_scopes(v, out)),
        _ => {}
    }
}

/// A horizontal bar chart, laid out here so the template only draws it.
struct Chart {
    id: &'static str,
    title: String,
    /// What the chart shows, in words, for screen readers.
    description: String,
    /// Shown instead of bars when there is nothing to draw.
    empty: Option<&'static str>,
    height: u32,
    rows: Vec<Bar>,
}

struct Bar {
    label: String,
    /// The label's full text where `label` was shortened.
    label_title: String,
    label_x: u32,
    y: u32,
    text_y: u32,
    segments: Vec<Segment>,
    total_x: u32,
    total: String,
}

struct Segment {
    class: &'static str,
    x: u32,
    width: u32,
    title: String,
}

const LABEL_WIDTH: u32 = 300;
const BAR_WIDTH: u32 = 380;
const ROW_HEIGHT: u32 = 26;
const BAR_HEIGHT: u32 = 18;

/// Lays out one bar per row; each row is a label and (status, count) segments.
fn bar_chart(
    id: &'static str,
    title: String,
    description: String,
    empty: &'static str,
    rows: Vec<(String, Vec<(Status, usize)>)>,
) -> Chart {
    let max = rows
        .iter()
        .map(|(_, segs)| segs.iter().map(|(_, n)| n).sum::<usize>())
        .max()
        .unwrap_or(0);
    let mut bars = Vec::new();
    for (i, (label, segs)) in rows.iter().enumerate() {
        let y = 4 + i as u32 * ROW_HEIGHT;
        let mut x = LABEL_WIDTH;
        let mut segments = Vec::new();
        let mut parts = Vec::new();
        for (status, n) in segs.iter().filter(|(_, n)| *n > 0) {
            // At least one pixel, so a single result still shows next to thousands.
            let width = ((*n as f64 / max.max(1) as f64) * BAR_WIDTH as f64).round() as u32;
            let width = width.max(1);
            let text = format!("{n} {}", status_label(*status).label);
            segments.push(Segment {
                class: status.as_str(),
                x,
                width,
                title: format!("{}: {text}", visible(label)),
            });
            parts.push(text);
            x += width;
        }
        let shown = visible(label);
        let short = if shown.chars().count() > 36 {
            format!("{}…", shown.chars().take(35).collect::<String>())
        } else {
            shown.clone()
        };
        bars.push(Bar {
            label: short,
            label_title: shown,
            label_x: LABEL_WIDTH - 8,
            y,
            text_y: y + BAR_HEIGHT - 5,
            segments,
            total_x: x + 6,
            total: if parts.is_empty() {
                "0".to_string()
            } else {
                parts.join(", ")
            },
        });
    }
    Chart {
        id,
        title,
        description,
        empty: if max == 0 { Some(empty) } else { None },
        height: 8 + rows.len() as u32 * ROW_HEIGHT,
        rows: if max == 0 { Vec::new() } else { bars },
    }
}

fn rule_chart(report: &Report) -> Chart {
    let rows: Vec<(String, Vec<(Status, usize)>)> = report
        .summary
        .by_rule
        .iter()
        .map(|(rule, c)| {
            let segs = STATUSES.iter().map(|s| (*s, count_of(c, *s))).collect();
            (rule.clone(), segs)
        })
        .collect();
    let description = rows
        .iter()
        .map(|(rule, segs)| {
            let parts: Vec<String> = segs
                .iter()
                .map(|(s, n)| format!("{n} {}", status_label(*s).label))
                .collect();
            format!("{}: {}", visible(rule), parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    bar_chart(
        "chart-rules",
        "Results per rule, by status".to_string(),
        description,
        "No results.",
        rows,
    )
}

fn subscription_chart(report: &Report) -> Chart {
    let mut per_sub: BTreeMap<&str, usize> = BTreeMap::new();
    for r in report.results.iter().filter(|r| r.status == Status::Fail) {
        *per_sub
            .entry(r.subscription_id.as_deref().unwrap_or("(no subscription)"))
            .or_default() += 1;
    }
    let mut subs: Vec<(&str, usize)> = per_sub.into_iter().collect();
    subs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown_count = subs.len().min(MAX_SUBSCRIPTION_BARS);
    let mut rows: Vec<(String, Vec<(Status, usize)>)> = subs[..shown_count]
        .iter()
        .map(|(sub, n)| (sub.to_string(), vec![(Status::Fail, *n)]))
        .collect();
    let rest = &subs[shown_count..];
    if !rest.is_empty() {
        rows.push((
            format!("{} other subscriptions", rest.len()),
            vec![(Status::Fail, rest.iter().map(|(_, n)| n).sum())],
        ));
    }
    let description = if rows.is_empty() {
        "No subscription has a failure.".to_string()
    } else {
        rows.iter()
            .map(|(s, segs)| format!("{}: {} failures", visible(s), segs[0].1))
            .collect::<Vec<_>>()
            .join("; ")
    };
    bar_chart(
        "chart-subscriptions",
        "Failures per subscription".to_string(),
        description,
        "No failures.",
        rows,
    )
}

fn severity_chart(report: &Report) -> Chart {
    let shown = [Status::Fail, Status::Unknown, Status::Exempt];
    let mut per: BTreeMap<Severity, Counts> = BTreeMap::new();
    for r in &report.results {
        per.entry(r.severity).or_default().add(r.status);
    }
    let rows: Vec<(String, Vec<(Status, usize)>)> = SEVERITIES
        .iter()
        .map(|sev| {
            let c = per.get(sev).cloned().unwrap_or_default();
            (
                sev.as_str().to_string(),
                shown.iter().map(|s| (*s, count_of(&c, *s))).collect(),
            )
        })
        .collect();
    let description = rows
        .iter()
        .map(|(sev, segs)| {
            let parts: Vec<String> = segs
                .iter()
                .map(|(s, n)| format!("{n} {}", status_label(*s).label))
                .collect();
            format!("{sev}: {}", parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    bar_chart(
        "chart-severity",
        "Failing, unknown and exempt results by severity".to_string(),
        description,
        "No failing, unknown or exempt results.",
        rows,
    )
}

/// The data the page's script draws the table from. Rows are arrays, not objects, and rules and
/// subscriptions are indices, to keep a 60,000-result page small.
#[derive(Serialize)]
struct Data<'a> {
    statuses: Vec<&'static str>,
    severities: Vec<&'static str>,
    rules: Vec<RuleData<'a>>,
    subscriptions: Vec<&'a str>,
    rows: Vec<Row<'a>>,
}

/// `[rule, severity, status, subscription or -1, name, resource id, resource type, resource
/// group, message, details]`; details hold those of `evidence`, `remediation`, `exemption`,
/// `baseline` and `fix` that are present.
#[derive(Serialize)]
struct Row<'a>(
    usize,
    usize,
    usize,
    i64,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    serde_json::Map<String, Value>,
);

#[derive(Serialize)]
struct RuleData<'a> {
    id: &'a str,
    title: &'a str,
    /// Documentation links; only `http` and `https` URLs, so no `javascript:` ever becomes one.
    references: Vec<&'a str>,
}

fn is_web_link(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// The results as JSON that cannot end its `<script>` element: `<`, `>` and `&` (and invisible
/// formatting characters) are written as JSON escapes, which `JSON.parse` reads back unchanged.
fn embedded_json(report: &Report) -> String {
    let mut rules: Vec<RuleData> = report
        .rules
        .iter()
        .map(|r| RuleData {
            id: &r.id,
            title: &r.title,
            references: r
                .references
                .iter()
                .map(String::as_str)
                .filter(|u| is_web_link(u))
                .collect(),
        })
        .collect();
    let mut rule_index: BTreeMap<&str, usize> =
        rules.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for r in &report.results {
        if !rule_index.contains_key(r.rule_id.as_str()) {
            rule_index.insert(r.rule_id.as_str(), rules.len());
            rules.push(RuleData {
                id: &r.rule_id,
                title: &r.title,
                references: Vec::new(),
            });
        }
    }
    let subscriptions: BTreeSet<&str> = report
        .results
        .iter()
        .filter_map(|r| r.subscription_id.as_deref())
        .collect();
    let subscriptions: Vec<&str> = subscriptions.into_iter().collect();
    let sub_index: BTreeMap<&str, i64> = subscriptions
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as i64))
        .collect();
    let position = |status: Status| STATUSES.iter().position(|s| *s == status).unwrap_or(0);
    let severity = |sev: Severity| SEVERITIES.iter().position(|s| *s == sev).unwrap_or(0);
    let rows = report
        .results
        .iter()
        .map(|r| {
            Row(
                rule_index[r.rule_id.as_str()],
                severity(r.severity),
                position(r.status),
                r.subscription_id.as_deref().map_or(-1, |s| sub_index[s]),
                r.resource_name.as_str(),
                r.resource_id.as_str(),
                r.resource_type.as_str(),
                r.resource_group.as_deref().unwrap_or(""),
                r.message.as_str(),
                details(r),
            )
        })
        .collect();
    let data = Data {
        statuses: STATUSES.iter().map(|s| s.as_str()).collect(),
        severities: SEVERITIES.iter().map(|s| s.as_str()).collect(),
        rules,
        subscriptions,
        rows,
    };
    let json = serde_json::to_string(&data)
        .expect("the page data holds only strings, numbers and lists, which always serialise");
    script_safe(&json)
}

/// A result's evidence, fixes, exemption, baseline state and fix proof, taken from its JSON form
/// so that fields the report gains (such as a fix's proof) reach the page as the JSON report has
/// them.
fn details(r: &RuleResult) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let Value::Object(mut all) =
        serde_json::to_value(r).expect("a result serialises, as findings.json shows")
    else {
        unreachable!("a result serialises to a JSON object");
    };
    // A pass is proven by the assignments that grant; the candidates that did not count are
    // most of a large tenant's evidence, so the page counts them and findings.json keeps them.
    if r.status == Status::Pass
        && let Some(Value::Array(evidence)) = all.get_mut("evidence")
    {
        for item in evidence.iter_mut() {
            let Value::Object(decision) = item else {
                continue;
            };
            if decision.get("decision").and_then(Value::as_str) != Some("granted") {
                continue;
            }
            if let Some(Value::Array(candidates)) = decision.get_mut("evidence") {
                let before = candidates.len();
                candidates
                    .retain(|c| c.get("contribution").and_then(Value::as_str) == Some("grants"));
                let omitted = before - candidates.len();
                if omitted > 0 {
                    decision.insert("omitted_candidates".to_string(), Value::from(omitted));
                }
            }
        }
    }
    // A manual step says why it is manual, in the words of the script and summary.md.
    if let Some(Value::Array(steps)) = all.get_mut("remediation") {
        for (step, fix) in steps.iter_mut().zip(&r.remediation) {
            if let (Value::Object(step), Some(why)) = (step, super::script::manual_reason(fix)) {
                step.insert("manual_reason".to_string(), Value::from(why.instruction()));
            }
        }
    }
    for key in ["evidence", "remediation", "exemption", "baseline", "fix"] {
        match all.remove(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(v) => {
                out.insert(key.to_string(), v);
            }
        }
    }
    out
}

fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            // Bidirectional overrides too, so that the file reads true in a text editor as well.
            c if is_invisible(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script_and_reads_back_unchanged() {
        let hostile = "</script><script>alert(1)</script> <!-- & \"x\" \u{202E}\u{2028}";
        let safe = script_safe(&serde_json::to_string(hostile).unwrap());
        assert!(!safe.contains(['<', '>', '\u{202E}', '\u{2028}']), "{safe}");
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, hostile);
    }

    #[test]
    fn control_and_bidi_characters_are_shown() {
        assert_eq!(visible("abc"), "abc");
        assert_eq!(visible("a\u{202E}b\nc"), "a⟨U+202E⟩b⟨U+000A⟩c");
        assert_eq!(visible("\u{2066}x\u{200F}"), "⟨U+2066⟩x⟨U+200F⟩");
    }

    #[test]
    fn only_web_links_become_links() {
        assert!(is_web_link("https://learn.microsoft.com/azure/"));
        assert!(!is_web_link("javascript:alert(1)"));
        assert!(!is_web_link("JaVaScRiPt:alert(1)"));
        assert!(!is_web_link("data:text/html,<script>"));
        assert!(!is_web_link("/relative"));
    }

    #[test]
    fn the_policy_hashes_the_style_and_script_the_page_carries() {
        let report = crate::test_support::report(vec![crate::test_support::result(
            "AML001",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/a</script>",
            Status::Fail,
        )]);
        let gate = GateOutcome {
            verdict: Verdict::Violations,
            fail_on: Severity::Low,
            no_fail: false,
            allow_unknown: false,
        };
        let page = render(&report, &gate).unwrap();
        let between = |open: &str| {
            let start = page.find(open).unwrap() + open.len();
            let end = start + page[start..].find("</").unwrap();
            &page[start..end]
        };
        let digest = |t: &str| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(t.as_bytes()))
        };
        let style = digest(between("<style>"));
        // The policy sits in an attribute, where askama writes its quotes as `&#39;`.
        assert!(
            page.contains(&format!("&#39;sha256-{style}&#39;")),
            "{style}"
        );
        let script = digest(between("<script>"));
        assert!(
            page.contains(&format!("&#39;sha256-{script}&#39;")),
            "{script}"
        );
        // The only `</script>` endings are the page's own two.
        assert_eq!(page.matches("</script").count(), 2, "{page}");
    }
}
