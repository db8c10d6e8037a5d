//! The Markdown summary (`summary.md`), for `$GITHUB_STEP_SUMMARY` or a pull-request comment:
//! totals, the failures with their fix commands, what could not be decided and why (each unknown
//! is a task: collect what it names), and the exemptions that need attention soon.
//!
//! Resource names come from the tenant, so they are never trusted as Markdown: text is
//! backslash-escaped (a `|` would break a table, a `<` open HTML, a backtick a code span), and
//! commands go in fenced blocks whose fence is longer than any run of backticks inside them.
//! The list of failures is capped, because GitHub truncates step summaries at 1 MiB; the JSON
//! report has the rest.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::Report;
use crate::findings::review::BaselineState;
use crate::findings::{RuleResult, Status};

/// How many failures are listed with their fix commands.
pub const MAX_FAILURES: usize = 100;

/// How many unknown results are listed with their reasons.
pub const MAX_UNKNOWNS: usize = 100;

/// How far ahead an exemption's expiry is called out.
pub const EXPIRY_WINDOW_DAYS: i64 = 30;

/// Escapes text for use inline and in table cells; line breaks become spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            // `$` starts GitHub's inline maths; the rest are CommonMark's own.
            // `@` too: a PR comment must not mention (notify) a user or team named in a resource.
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' | '$' | '@' => {
                out.push('\\');
                out.push(c);
            }
            c if crate::text::is_hazard(c) => {
                out.push_str(&crate::text::visible(c.encode_utf8(&mut [0; 4])))
            }
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block that no content can close early.
pub fn fenced(code: &str, info: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in code.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{info}\n{code}\n{fence}\n")
}

/// One line of a `#` comment inside a code block: control characters would start a new line.
fn one_line(text: &str) -> String {
    crate::text::visible(text).into_owned()
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn fixes_block(r: &RuleResult) -> Option<String> {
    if r.remediation.is_empty() {
        return None;
    }
    let mut code = String::new();
    for fix in &r.remediation {
        if !code.is_empty() {
            code.push('\n');
        }
        let _ = writeln!(code, "# {}", one_line(&fix.description));
        if let Some(why) = super::script::manual_reason(fix) {
            let _ = writeln!(code, "# manual: {}", why.instruction());
        }
        if fix.argv.is_empty() {
            if let crate::findings::Edit::Manual { text, .. } = &fix.edit {
                let _ = writeln!(code, "# {}", one_line(text));
            }
            continue;
        }
        code.push_str(&crate::findings::quote::join(&fix.argv));
    }
    let proof = r
        .fix
        .as_ref()
        .map(|f| format!("{}\n\n", fix_line(f)))
        .unwrap_or_default();
    Some(format!("{proof}{}", fenced(code.trim_end(), "sh")))
}

/// `Fix proven: closes (...)`, the verdict in words a reviewer reads.
fn fix_line(fix: &crate::findings::FixCheck) -> String {
    let verdict = match fix.verified {
        crate::findings::Verified::Closes => "✅ fix proven: closes the finding",
        crate::findings::Verified::Partial => {
            "⚠️ fix partly proven: the rule cannot decide afterwards"
        }
        crate::findings::Verified::DoesNotClose => "❌ fix does NOT close the finding",
        crate::findings::Verified::NotVerified => "ℹ️ fix not verified",
    };
    format!("{verdict} ({})", escape(&fix.detail))
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary.by_status;
    let now = parse_time(&report.generated_at).unwrap_or_else(OffsetDateTime::now_utc);

    let incomplete = s.unknown > 0 || !report.summary.incomplete_scopes.is_empty();
    let headline = if s.error > 0 {
        format!(
            "❗ {} rule error{}: the audit is incomplete",
            s.error,
            if s.error == 1 { "" } else { "s" }
        )
    } else if s.fail > 0 {
        format!(
            "❌ {} failure{}",
            s.fail,
            if s.fail == 1 { "" } else { "s" }
        )
    } else if incomplete {
        let mut parts = Vec::new();
        if s.unknown > 0 {
            parts.push(format!(
                "{} result{} could not be decided",
                s.unknown,
                if s.unknown == 1 { "" } else { "s" }
            ));
        }
        let scopes = report.summary.incomplete_scopes.len();
        if scopes > 0 {
            parts.push(format!(
                "{scopes} subscription{} not read completely",
                if scopes == 1 { "" } else { "s" }
            ));
        }
        format!("⚠️ no failures, but {}", parts.join(" and "))
    } else {
        "✅ no failures".to_string()
    };
    let _ = writeln!(out, "## amlaudit: {headline}\n");
    let _ = writeln!(
        out,
        "Snapshot {} (sha256 {}, collected {}), amlaudit {}, report generated {}.\n",
        escape(&report.snapshot.path),
        escape(
            report
                .snapshot
                .sha256
                .get(..12)
                .unwrap_or(&report.snapshot.sha256)
        ),
        escape(&report.snapshot.collected_at),
        escape(&report.tool_version),
        escape(&report.generated_at),
    );
    out.push_str("| Fail | Unknown | Pass | Not applicable | Exempt | Total |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |\n",
        s.fail, s.unknown, s.pass, s.not_applicable, s.exempt, report.summary.total
    );
    if let Some(b) = &report.baseline {
        let _ = writeln!(
            out,
            "Baseline {}: **{} new** failure{}, {} baselined, {} fixed.\n",
            escape(&b.file),
            b.new,
            if b.new == 1 { "" } else { "s" },
            b.baselined,
            b.fixed.len()
        );
    }
    if !report.summary.incomplete_scopes.is_empty() {
        let _ = writeln!(
            out,
            "⚠️ Not read completely: {} (results that needed them are unknown).\n",
            escape(&report.summary.incomplete_scopes.join(", "))
        );
    }
    let uncovered = super::uncovered_scopes(report);
    if !uncovered.is_empty() {
        let _ = writeln!(
            out,
            "⚠️ Not covered by the snapshot: {} (results that needed them are unknown).\n",
            escape(&uncovered.join(", "))
        );
    }

    out.push_str("| Rule | Title | Severity | Fail | Unknown | Pass | N/A | Exempt |\n");
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|\n");
    for rule in &report.rules {
        let c = report
            .summary
            .by_rule
            .get(&rule.id)
            .cloned()
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            escape(&rule.id),
            escape(&rule.title),
            rule.severity,
            c.fail,
            c.unknown,
            c.pass,
            c.not_applicable,
            c.exempt
        );
    }
    out.push('\n');

    let errors: Vec<&RuleResult> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Error)
        .collect();
    if !errors.is_empty() {
        out.push_str("### Rule errors\n\n");
        for r in errors.iter().take(MAX_FAILURES) {
            let _ = writeln!(
                out,
                "- {} on {}: {}",
                escape(&r.rule_id),
                escape(&r.resource_id),
                escape(&r.message)
            );
        }
        out.push('\n');
    }

    let failures: Vec<&RuleResult> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .collect();
    if !failures.is_empty() {
        out.push_str("### Failures\n\n");
        let steps = super::script::StepCounts::of(report);
        let _ = writeln!(
            out,
            "Fixes: {} automatic step{}; {} manual: {} with a \\<placeholder\\> to fill in, {} that need{} a person's choice, {} not proven to close {}.\n",
            steps.automatic,
            if steps.automatic == 1 { "" } else { "s" },
            steps.manual(),
            steps.placeholder,
            steps.choice,
            if steps.choice == 1 { "s" } else { "" },
            steps.not_proven,
            if steps.not_proven == 1 {
                "its finding"
            } else {
                "their findings"
            },
        );
        for r in failures.iter().take(MAX_FAILURES) {
            let marker = match r.baseline {
                Some(BaselineState::Baselined) => " (baselined)",
                Some(_) => " (new)",
                None => "",
            };
            let _ = writeln!(
                out,
                "#### {} {} ({}){}\n",
                escape(&r.rule_id),
                escape(&r.resource_name),
                r.severity,
                marker
            );
            let _ = writeln!(out, "{}\n", escape(&r.message));
            let _ = writeln!(out, "Resource: {}\n", escape(&r.resource_id));
            if let Some(block) = fixes_block(r) {
                out.push_str(&block);
                out.push('\n');
            }
        }
        if failures.len() > MAX_FAILURES {
            let _ = writeln!(
                out,
                "…and {} more failures: see findings.json.\n",
                failures.len() - MAX_FAILURES
            );
        }
    }

    let unknowns: Vec<&RuleResult> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Unknown)
        .collect();
    if !unknowns.is_empty() {
        out.push_str("### Unknown: could not be decided\n\n");
        out.push_str(
            "Each of these needs data the snapshot does not have; collect what the reason names and scan again.\n\n",
        );
        out.push_str("| Rule | Severity | Resource | Why it is unknown |\n");
        out.push_str("|---|---|---|---|\n");
        for r in unknowns.iter().take(MAX_UNKNOWNS) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                escape(&r.rule_id),
                r.severity,
                escape(&r.resource_id),
                escape(&r.message)
            );
        }
        out.push('\n');
        if unknowns.len() > MAX_UNKNOWNS {
            let _ = writeln!(
                out,
                "…and {} more unknown results: see findings.json.\n",
                unknowns.len() - MAX_UNKNOWNS
            );
        }
    }

    if let Some(ex) = &report.exemptions {
        let horizon = now + Duration::days(EXPIRY_WINDOW_DAYS);
        let soon: Vec<_> = ex
            .applied
            .iter()
            .filter(|u| parse_time(&u.exemption.expires).is_some_and(|t| t <= horizon))
            .collect();
        if !soon.is_empty() {
            let _ = writeln!(
                out,
                "### Exemptions expiring within {EXPIRY_WINDOW_DAYS} days\n"
            );
            out.push_str(
                "| Expires | Rule | Resource | Justification | Owner / ticket | Covers |\n",
            );
            out.push_str("|---|---|---|---|---|---:|\n");
            for u in soon {
                let e = &u.exemption;
                let who = [e.owner.as_deref(), e.ticket.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    escape(&e.expires),
                    escape(&e.rule),
                    escape(&e.resource),
                    escape(&e.justification),
                    escape(&who),
                    u.results.len()
                );
            }
            out.push('\n');
        }
        if !ex.expired.is_empty() || !ex.unmatched.is_empty() {
            out.push_str("### Exemptions that need attention\n\n");
            for u in &ex.expired {
                let e = &u.exemption;
                let _ = writeln!(
                    out,
                    "- Expired {}: exemption {} (rule {}, resource {}) no longer applies; {} failure{} count again.",
                    escape(&e.expires),
                    e.entry,
                    escape(&e.rule),
                    escape(&e.resource),
                    u.results.len(),
                    if u.results.len() == 1 { "" } else { "s" }
                );
            }
            for e in &ex.unmatched {
                let _ = writeln!(
                    out,
                    "- Matches no failure: exemption {} (rule {}, resource {}); remove it if the finding is gone.",
                    e.entry,
                    escape(&e.rule),
                    escape(&e.resource)
                );
            }
            out.push('\n');
        }
    }

    if let Some(b) = report.baseline.as_ref().filter(|b| !b.fixed.is_empty()) {
        out.push_str("### Fixed since the baseline\n\n");
        for f in &b.fixed {
            let _ = writeln!(
                out,
                "- {} {} (now {})",
                escape(&f.rule_id),
                escape(&f.resource_id),
                escape(&f.status)
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_stays_text() {
        assert_eq!(
            escape("a|b<script>`x`\n$y @team\u{1b}[2J"),
            r"a\|b\<script\>\`x\`\u{a}\$y \@team\u{1b}\[2J"
        );
        let block = fenced("echo ```` done", "sh");
        assert!(block.starts_with("`````sh\n"), "{block}");
        assert!(block.ends_with("\n`````\n"), "{block}");
    }
}
