//! The CI gate's conclusion as the reports show it. `gate` decides it; reports only read it, so
//! they never depend on the gate's own types.

use super::Severity;

/// What the gate concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing failed at or above the threshold and everything could be seen.
    Clean,
    /// A `fail` at or above the threshold.
    Violations,
    /// Nothing failed, but some result is `unknown` or some scope was not read completely.
    Incomplete,
    /// A rule could not be evaluated on some resource: the audit itself is broken, whatever
    /// `--no-fail` or `--allow-unknown` say.
    Error,
}

/// A verdict with the settings that explain it (the HTML page says why it is what it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateOutcome {
    pub verdict: Verdict,
    /// The lowest severity whose failures fail the gate.
    pub fail_on: Severity,
    /// The scan reports but never fails (`--no-fail`).
    pub no_fail: bool,
    /// Unknown results do not make the scan incomplete (`--allow-unknown`).
    pub allow_unknown: bool,
}
