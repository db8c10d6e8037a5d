//! What the gate's inputs said about a result, recorded on it and summarised in the report:
//! whether a baseline knew the failure ([`BaselineState`]), which exemption covered it
//! ([`ExemptionRecord`]), and the report sections for both.
//!
//! These are plain data in `findings` so that the gate writes them and every report reads them
//! without reports depending on the gate.

use serde::{Deserialize, Serialize};

/// A (rule, resource) pair, the identity of a result across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResultRef {
    pub rule_id: String,
    pub resource_id: String,
}

/// Whether a baseline lists a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    /// A failure the baseline does not list: the gate fails on it.
    New,
    /// A failure the baseline lists: the gate skips it.
    Baselined,
}

impl BaselineState {
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "new",
            BaselineState::Baselined => "baselined",
        }
    }
}

impl std::fmt::Display for BaselineState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A baseline entry that no longer fails, and what it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedEntry {
    pub rule_id: String,
    pub resource_id: String,
    /// `pass` or `not_applicable`, or `absent` when the resource is no longer in the snapshot.
    pub status: String,
}

/// The report's `baseline` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineReport {
    pub file: String,
    /// Failures the baseline does not list: these are what the gate fails on.
    pub new: usize,
    /// Failures the baseline lists.
    pub baselined: usize,
    /// Baseline entries that no longer fail.
    #[serde(default)]
    pub fixed: Vec<FixedEntry>,
}

/// An exemption as the report shows it: what the file said, with the expiry in RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionRecord {
    /// 1-based position in the file.
    pub entry: usize,
    pub rule: String,
    pub resource: String,
    pub justification: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub expires: String,
}

/// An exemption with the failures it covers (or, once expired, would have covered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionUse {
    #[serde(flatten)]
    pub exemption: ExemptionRecord,
    pub results: Vec<ResultRef>,
}

/// The report's `exemptions` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionReport {
    pub file: String,
    /// Unexpired exemptions and the failures they turned into `exempt`.
    #[serde(default)]
    pub applied: Vec<ExemptionUse>,
    /// Exemptions past their expiry: they no longer apply, and the failures stay failures.
    #[serde(default)]
    pub expired: Vec<ExemptionUse>,
    /// Unexpired exemptions that cover no failing result (fixed, renamed, or never matched).
    #[serde(default)]
    pub unmatched: Vec<ExemptionRecord>,
}
