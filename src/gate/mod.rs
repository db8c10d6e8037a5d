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

use crate::findings::review::BaselineState;
pub use crate::findings::review::ResultRef;
use crate::findings::summary::Summary;
pub use crate::findings::verdict::{GateOutcome, Verdict};
use crate::findings::{RuleResult, Severity, Status};
pub use baseline::Baseline;
pub use exemptions::Exemptions;

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
    /// The verdict with the settings that explain it, as the reports show it.
    pub fn outcome(&self, results: &[RuleResult], summary: &Summary) -> GateOutcome {
        GateOutcome {
            verdict: self.verdict(results, summary),
            fail_on: self.fail_on,
            no_fail: self.no_fail,
            allow_unknown: self.allow_unknown,
        }
    }

    /// The verdict on a set of results and their [`Summary`] (which says what was not read).
    pub fn verdict(&self, results: &[RuleResult], summary: &Summary) -> Verdict {
        if summary.by_status.error > 0 {
            return Verdict::Error;
        }
        if self.no_fail {
            return Verdict::Clean;
        }
        let gating_failure = results.iter().any(|r| {
            r.status == Status::Fail
                && r.severity >= self.fail_on
                && r.baseline != Some(BaselineState::Baselined)
        });
        if gating_failure {
            return Verdict::Violations;
        }
        let unknown = summary.by_status.unknown > 0;
        let incomplete_scopes = !summary.incomplete_scopes.is_empty();
        if (unknown || incomplete_scopes) && !self.allow_unknown {
            return Verdict::Incomplete;
        }
        Verdict::Clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict on these results, as a scan decides it.
    fn report(results: Vec<RuleResult>) -> (Vec<RuleResult>, Summary) {
        let summary = Summary::new(&[], &results, &[]);
        (results, summary)
    }

    trait Decide {
        fn on(&self, r: (Vec<RuleResult>, Summary)) -> Verdict;
    }

    impl Decide for Gate {
        fn on(&self, (results, summary): (Vec<RuleResult>, Summary)) -> Verdict {
            self.verdict(&results, &summary)
        }
    }

    fn result(status: Status, severity: Severity) -> crate::findings::RuleResult {
        crate::findings::RuleResult {
            severity,
            ..crate::test_support::result("AML001", "/subscriptions/s/x", status)
        }
    }

    fn soft_and_lenient() -> Gate {
        Gate {
            no_fail: true,
            allow_unknown: true,
            ..Gate::default()
        }
    }

    #[test]
    fn every_combination() {
        let gate = Gate::default();
        assert_eq!(
            gate.on(report(vec![result(Status::Pass, Severity::High)])),
            Verdict::Clean
        );
        assert_eq!(
            gate.on(report(vec![result(Status::Fail, Severity::Low)])),
            Verdict::Violations
        );
        assert_eq!(
            gate.on(report(vec![result(Status::Unknown, Severity::High)])),
            Verdict::Incomplete
        );
        let high = Gate {
            fail_on: Severity::High,
            ..Gate::default()
        };
        assert_eq!(
            high.on(report(vec![
                result(Status::Fail, Severity::Medium),
                result(Status::Unknown, Severity::Low)
            ])),
            Verdict::Incomplete
        );
        assert_eq!(
            high.on(report(vec![result(Status::Fail, Severity::Critical)])),
            Verdict::Violations
        );
        let lenient = Gate {
            allow_unknown: true,
            ..Gate::default()
        };
        assert_eq!(
            lenient.on(report(vec![result(Status::Unknown, Severity::High)])),
            Verdict::Clean
        );
        assert_eq!(
            soft_and_lenient().on(report(vec![
                result(Status::Error, Severity::Low),
                result(Status::Fail, Severity::Critical)
            ])),
            Verdict::Error,
            "a rule error is never waved through"
        );
        let soft = Gate {
            no_fail: true,
            ..Gate::default()
        };
        assert_eq!(
            soft.on(report(vec![result(Status::Fail, Severity::Critical)])),
            Verdict::Clean
        );
    }
}
