//! Results of evaluating rules: one [`RuleResult`] per (rule, resource) pair, with its status,
//! message, evidence and remediation.
//!
//! Remediation is a typed [`Edit`] and its argv, exactly what a person would type, rendered for a
//! POSIX shell only at the edge ([`quote`]), so a resource name with quotes, spaces or `$(...)` can
//! never be executed as code. Whether a result's fix closes it is its [`FixCheck`].

pub mod evidence;
pub mod quote;
pub mod review;
pub mod summary;
pub mod verdict;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::fixes::{Edit, FixCheck, Verified};

/// What a rule declares about itself (its METADATA, read by [`crate::policy::metadata`]): what
/// every report says about the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMeta {
    /// Stable id, such as `AML001`.
    pub id: String,
    /// Kebab-case name, such as `acr-admin-user-disabled`.
    pub name: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    /// The ARM type of the resources the rule is evaluated on.
    pub resource_type: String,
    pub remediation: String,
    /// Documentation the rule comes from.
    pub references: Vec<String>,
    pub frameworks: Vec<String>,
}

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
    /// The rule could not be evaluated on this resource (a Rego error, a malformed result, a
    /// budget overrun): nothing is known, and the scan exits 2 after writing its reports.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Unknown => "unknown",
            Status::Pass => "pass",
            Status::NotApplicable => "not_applicable",
            Status::Exempt => "exempt",
            Status::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(Status::Fail),
            "unknown" => Some(Status::Unknown),
            "pass" => Some(Status::Pass),
            "not_applicable" => Some(Status::NotApplicable),
            "exempt" => Some(Status::Exempt),
            "error" => Some(Status::Error),
            _ => None,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One fix step: the edit, its argv, and the same rendered for a POSIX shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    pub description: String,
    pub argv: Vec<String>,
    /// `argv` quoted for a POSIX shell.
    pub command: String,
    /// True only for a step the script may run unattended: not manual, no `<placeholder>` a
    /// person must fill in, and (once verified) part of a fix proven to close its result.
    #[serde(default)]
    pub automatic: bool,
    /// What the step changes. Reports written before edits existed read as manual steps.
    #[serde(default = "unknown_edit")]
    pub edit: Edit,
    /// The file the command reads (`--file <name>`), which the script writes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_content: Option<String>,
}

fn unknown_edit() -> Edit {
    Edit::Manual {
        text: String::new(),
        argv: Vec::new(),
    }
}

impl Remediation {
    /// A step for an edit, rendered against the inventory. Automatic unless it is manual or its
    /// argv holds a placeholder other than a captured earlier step's output; verification may
    /// take that back.
    pub fn from_edit(
        description: String,
        edit: Edit,
        inventory: Option<&dyn crate::inventory::InventoryView>,
    ) -> Self {
        let rendered = edit.render(inventory);
        let captured = edit
            .principal_from_step()
            .map(crate::fixes::step_placeholder);
        let automatic = !edit.is_manual()
            && !rendered.argv.is_empty()
            && rendered
                .argv
                .iter()
                .all(|w| !crate::fixes::is_placeholder(w) || Some(w) == captured.as_ref());
        let (file_name, file_content) = match rendered.file {
            Some(f) => (Some(f.name), Some(f.content)),
            None => (None, None),
        };
        Remediation {
            description,
            command: quote::join(&rendered.argv),
            argv: rendered.argv,
            automatic,
            edit,
            file_name,
            file_content,
        }
    }

    /// A step from a rule written before edits: a manual step with that argv, never verified.
    pub fn legacy(description: String, argv: Vec<String>) -> Self {
        let edit = Edit::Manual {
            text: description.clone(),
            argv,
        };
        Remediation::from_edit(description, edit, None)
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
    pub exemption: Option<review::ExemptionRecord>,
    /// Set when a baseline is in use: whether this failure is new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<review::BaselineState>,
    /// Where the resource is written in a source file (a template's resource object), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Whether the remediation was proven to close this result; set for results with remediation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixCheck>,
}

/// A place in a source file: a path as given on the command line, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
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
