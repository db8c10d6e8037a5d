//! The CI gate: decides from a report's results whether a scan passes, fails or is incomplete,
//! and owns what may change that decision: [`exemptions`] (accepted risks that expire) and
//! [`baseline`]s (failures known before the gate was switched on).
//!
//! Kept apart from display: `--severity` filters what the table shows, `--fail-on` decides the
//! gate, and neither affects the other. Exemptions and the baseline are applied to the results
//! before the report is built, so every report format shows the same statuses; the verdict is
//! decided once, after every report is written.

pub mod baseline;
pub mod exemptions;

use serde::{Deserialize, Serialize};

use crate::findings::{Severity, Status};
use crate::report::Report;
pub use baseline::Baseline;
pub use exemptions::Exemptions;

/// A (rule, resource) pair, the identity of a result across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResultRef {
    pub rule_id: String,
    pub resource_id: String,
}

/// What the gate concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing failed at or above the threshold and everything could be seen.
    Clean,
    /// A `fail` at or above the threshold.
    Violations,
    /// Nothing failed, but some result is `unknown` or some scope was not read completely.
    Incomplete,
}

/// How strict the gate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// The lowest severity whose failures fail the gate.
    pub fail_on: Severity,
    /// Report, but never fail.
    pub no_fail: bool,
    /// Unknown results and incomplete scopes do not make the scan incomplete.
    pub allow_unknown: bool,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            fail_on: Severity::Low,
            no_fail: false,
            allow_unknown: false,
        }
    }
}

impl Gate {
    pub fn verdict(&self, report: &Report) -> Verdict {
        if self.no_fail {
            return Verdict::Clean;
        }
        let gating_failure = report.results.iter().any(|r| {
            r.status == Status::Fail
                && r.severity >= self.fail_on
                && r.baseline.as_deref() != Some(baseline::BASELINED)
        });
        if gating_failure {
            return Verdict::Violations;
        }
        let unknown = report.results.iter().any(|r| r.status == Status::Unknown);
        let incomplete_scopes = !report.summary.incomplete_scopes.is_empty();
        if (unknown || incomplete_scopes) && !self.allow_unknown {
            return Verdict::Incomplete;
        }
        Verdict::Clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::report;

    fn result(status: Status, severity: Severity) -> crate::findings::RuleResult {
        crate::findings::RuleResult {
            severity,
            ..crate::test_support::result("AML001", "/subscriptions/s/x", status)
        }
    }

    #[test]
    fn every_combination() {
        let gate = Gate::default();
        assert_eq!(
            gate.verdict(&report(vec![result(Status::Pass, Severity::High)])),
            Verdict::Clean
        );
        assert_eq!(
            gate.verdict(&report(vec![result(Status::Fail, Severity::Low)])),
            Verdict::Violations
        );
        assert_eq!(
            gate.verdict(&report(vec![result(Status::Unknown, Severity::High)])),
            Verdict::Incomplete
        );
        let high = Gate {
            fail_on: Severity::High,
            ..Gate::default()
        };
        assert_eq!(
            high.verdict(&report(vec![
                result(Status::Fail, Severity::Medium),
                result(Status::Unknown, Severity::Low)
            ])),
            Verdict::Incomplete
        );
        assert_eq!(
            high.verdict(&report(vec![result(Status::Fail, Severity::Critical)])),
            Verdict::Violations
        );
        let lenient = Gate {
            allow_unknown: true,
            ..Gate::default()
        };
        assert_eq!(
            lenient.verdict(&report(vec![result(Status::Unknown, Severity::High)])),
            Verdict::Clean
        );
        let soft = Gate {
            no_fail: true,
            ..Gate::default()
        };
        assert_eq!(
            soft.verdict(&report(vec![result(Status::Fail, Severity::Critical)])),
            Verdict::Clean
        );
    }
}
