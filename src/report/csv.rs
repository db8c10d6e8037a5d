//! The CSV report: RFC 4180, every field quoted, one row per result, with cells that a
//! spreadsheet would run as a formula neutralised (OWASP CSV injection).
//!
//! The columns of issue 3 come first and keep their order; `exemption` (justification, owner or
//! ticket, expiry), `baseline` (`new` or `baselined`) and `fix_verified` (`closes`, `partial`,
//! `does_not_close` or `not_verified`: whether the remediation was proven to close the result)
//! were appended, so readers that pick columns by position still work.

use super::Report;
use crate::findings::RuleResult;
use crate::findings::review::ExemptionRecord;

pub const COLUMNS: &[&str] = &[
    "subscription_id",
    "resource_group",
    "resource_type",
    "resource_name",
    "resource_id",
    "workspace",
    "rule_id",
    "title",
    "severity",
    "status",
    "message",
    "remediation",
    "exemption",
    "baseline",
    "fix_verified",
];

/// A cell that starts with `=`, `+`, `-`, `@`, tab, CR or LF is prefixed with `'`, so
/// spreadsheets show it as text instead of evaluating it.
pub fn neutralize(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn row(r: &RuleResult) -> Vec<String> {
    let workspace = r
        .workspace_id
        .as_deref()
        .map(crate::ids::short_name)
        .unwrap_or_default();
    let remediation = r
        .remediation
        .iter()
        .map(|f| crate::text::visible(&f.command))
        .collect::<Vec<_>>()
        .join("\n");
    let exemption = r.exemption.as_ref().map(exemption_cell).unwrap_or_default();
    [
        r.subscription_id.as_deref().unwrap_or_default(),
        r.resource_group.as_deref().unwrap_or_default(),
        &r.resource_type,
        &r.resource_name,
        &r.resource_id,
        workspace,
        &r.rule_id,
        &r.title,
        r.severity.as_str(),
        r.status.as_str(),
        &r.message,
        &remediation,
        &exemption,
        r.baseline.map(|b| b.as_str()).unwrap_or_default(),
        r.fix
            .as_ref()
            .map(|f| f.verified.as_str())
            .unwrap_or_default(),
    ]
    .iter()
    .enumerate()
    .map(|(i, c)| {
        // The remediation cell's line breaks separate commands; each command is already shown.
        if COLUMNS[i] == "remediation" {
            neutralize(c)
        } else {
            neutralize(&crate::text::visible(c))
        }
    })
    .collect()
}

/// `justification (owner o, ticket t, expires e)`.
fn exemption_cell(e: &ExemptionRecord) -> String {
    let details: Vec<String> = [
        ("owner", e.owner.as_deref()),
        ("ticket", e.ticket.as_deref()),
        ("expires", Some(e.expires.as_str())),
    ]
    .into_iter()
    .filter_map(|(label, v)| v.filter(|v| !v.is_empty()).map(|v| format!("{label} {v}")))
    .collect();
    format!("{} ({})", e.justification, details.join(", "))
}

pub fn render(report: &Report) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    const IN_MEMORY: &str = "writing CSV into memory cannot fail";
    writer.write_record(COLUMNS).expect(IN_MEMORY);
    for r in &report.results {
        writer.write_record(row(r)).expect(IN_MEMORY);
    }
    writer.into_inner().expect(IN_MEMORY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        for bad in [
            "=HYPERLINK(\"x\")",
            "+1",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "\nx",
        ] {
            assert!(neutralize(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralize("mlacr"), "mlacr");
        assert_eq!(neutralize("/subscriptions/x"), "/subscriptions/x");
    }
}
