//! The JUnit XML report (`findings.junit.xml`): one test suite per rule, one test case per
//! (rule, resource), for CI systems that show test results (Azure DevOps, GitLab, Jenkins).
//!
//! `fail` is a failure, `exempt` and `not_applicable` are skipped, `unknown` is an error and
//! `pass` passes. Test-case names carry the rule id and the full ARM id, so they are unique
//! across the whole file: GitLab collapses test cases that share a name.

use std::collections::HashSet;

use quick_junit::{NonSuccessKind, Report as JUnitReport, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::findings::review::BaselineState;
use crate::findings::{RuleResult, Status};

fn description(r: &RuleResult) -> String {
    let mut text = r.message.clone();
    if !r.remediation.is_empty() {
        text.push_str("\n\nRemediation:");
        for fix in &r.remediation {
            text.push_str(&format!("\n# {}\n{}", fix.description, fix.command));
        }
    }
    text
}

fn exemption_text(r: &RuleResult) -> String {
    let Some(e) = &r.exemption else {
        return "exempt".to_string();
    };
    let mut who = Vec::new();
    if let Some(owner) = e.owner.as_deref().filter(|o| !o.is_empty()) {
        who.push(format!("owner {owner}"));
    }
    if let Some(ticket) = e.ticket.as_deref().filter(|t| !t.is_empty()) {
        who.push(format!("ticket {ticket}"));
    }
    format!(
        "exempt until {}: {} ({})",
        e.expires,
        e.justification,
        who.join(", ")
    )
}

fn status(r: &RuleResult) -> TestCaseStatus {
    match r.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Fail => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let message = match r.baseline {
                Some(BaselineState::Baselined) => format!("[baselined] {}", r.message),
                _ => r.message.clone(),
            };
            s.set_message(message)
                .set_type(r.severity.as_str())
                .set_description(description(r));
            s
        }
        Status::Unknown => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(r.message.clone())
                .set_type("unknown")
                .set_description(description(r));
            s
        }
        Status::Exempt => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(exemption_text(r))
                .set_type("exempt")
                .set_description(r.message.clone());
            s
        }
        Status::Error => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(r.message.clone())
                .set_type("error")
                .set_description(description(r));
            s
        }
        Status::NotApplicable => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(r.message.clone()).set_type("not_applicable");
            s
        }
    }
}

/// The JUnit document for a report.
pub fn to_junit(report: &Report) -> JUnitReport {
    let mut rule_ids: Vec<&str> = report.rules.iter().map(|r| r.id.as_str()).collect();
    for r in &report.results {
        if !rule_ids.contains(&r.rule_id.as_str()) {
            rule_ids.push(&r.rule_id);
        }
    }
    let mut junit = JUnitReport::new("amlaudit");
    let mut names = HashSet::new();
    for rule_id in rule_ids {
        let title = report
            .rules
            .iter()
            .find(|m| m.id == rule_id)
            .map(|m| m.title.as_str())
            .unwrap_or_default();
        let mut suite = TestSuite::new(format!("{rule_id} {title}").trim_end().to_string());
        for r in report.results.iter().filter(|r| r.rule_id == rule_id) {
            // One result per (rule, resource) is the contract; a duplicate from a user rule
            // still gets its own name rather than being merged away by the CI system.
            let base = format!("{} {}", r.rule_id, r.resource_id);
            let mut name = base.clone();
            let mut n = 1;
            while !names.insert(name.clone()) {
                n += 1;
                name = format!("{base} #{n}");
            }
            let mut case = TestCase::new(name, status(r));
            case.set_classname(format!("amlaudit.{}", r.rule_id));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit
}

pub fn render(report: &Report) -> Result<Vec<u8>, quick_junit::SerializeError> {
    let mut out = Vec::new();
    to_junit(report).serialize(&mut out)?;
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    Ok(out)
}
