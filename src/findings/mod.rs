//! Results of evaluating rules: one [`RuleResult`] per (rule, resource) pair, with its status,
//! message, evidence and remediation.
//!
//! Remediation is kept as argv, exactly what a person would type, and rendered for a POSIX shell
//! only at the edge ([`quote`]), so a resource name with quotes, spaces or `$(...)` can never be
//! executed as code.

pub mod quote;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How serious a rule's violation is; ordered from least to most severe.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one (rule, resource) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Fail,
    Unknown,
    Pass,
    NotApplicable,
    /// A failure covered by an unexpired exemption.
    Exempt,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Unknown => "unknown",
            Status::Pass => "pass",
            Status::NotApplicable => "not_applicable",
            Status::Exempt => "exempt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(Status::Fail),
            "unknown" => Some(Status::Unknown),
            "pass" => Some(Status::Pass),
            "not_applicable" => Some(Status::NotApplicable),
            "exempt" => Some(Status::Exempt),
            _ => None,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One fix: argv to run, and the same rendered for a POSIX shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    pub description: String,
    pub argv: Vec<String>,
    /// `argv` quoted for a POSIX shell.
    pub command: String,
    /// False when the argv holds a placeholder a person must fill in (ruff's "fix availability").
    #[serde(default = "yes")]
    pub automatic: bool,
}

fn yes() -> bool {
    true
}

impl Remediation {
    pub fn new(description: String, argv: Vec<String>, automatic: bool) -> Self {
        let command = quote::join(&argv);
        Remediation {
            description,
            argv,
            command,
            automatic,
        }
    }
}

/// One evaluated (rule, resource) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub resource_id: String,
    pub resource_type: String,
    pub resource_name: String,
    pub subscription_id: Option<String>,
    pub resource_group: Option<String>,
    pub workspace_id: Option<String>,
    pub message: String,
    #[serde(default)]
    pub evidence: Vec<Value>,
    #[serde(default)]
    pub remediation: Vec<Remediation>,
    /// Set when an exemption applies: its justification, owner and expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemption: Option<Value>,
    /// Set when a baseline is in use: whether this failure is new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Where the resource is written: the snapshot or template file, line and column of its object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    pub file: String,
    pub line: u64,
    pub column: u64,
}

impl RuleResult {
    /// The key that identifies this pair across runs: rule id and normalised resource id.
    pub fn key(&self) -> (String, String) {
        (
            self.rule_id.clone(),
            crate::ids::normalize(&self.resource_id),
        )
    }
}
