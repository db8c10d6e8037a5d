//! Builders shared by unit tests: a minimal result and a report around results.

use crate::findings::{RuleResult, Severity, Status};
use crate::report::{Report, SnapshotInfo};

/// A high-severity result of `rule` on resource `id`.
pub fn result(rule: &str, id: &str, status: Status) -> RuleResult {
    RuleResult {
        rule_id: rule.into(),
        title: "t".into(),
        severity: Severity::High,
        status,
        resource_id: id.into(),
        resource_type: "t".into(),
        resource_name: crate::ids::short_name(id).into(),
        subscription_id: crate::ids::subscription_of(id),
        resource_group: None,
        workspace_id: None,
        message: "m".into(),
        evidence: vec![],
        remediation: vec![],
        exemption: None,
        baseline: None,
        location: None,
        fix: None,
    }
}

/// A report holding `results`, with no rules or scopes.
pub fn report(results: Vec<RuleResult>) -> Report {
    let info = SnapshotInfo {
        path: "s.json".into(),
        sha256: String::new(),
        collected_at: String::new(),
        tenant_id: None,
        cloud: None,
    };
    Report::new(info, vec![], vec![], results)
}
