//! Reports: one versioned [`Report`] built from the results, and one writer per format.
//!
//! Evaluation never prints; the writers here render the same report, and every file is written
//! atomically (temporary file, then rename) so a reader never sees half a report. [`diff`]
//! compares two reports read back from JSON.

pub mod csv;
pub mod diff;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod script;
pub mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::findings::{Remediation, RuleResult, Status};
use crate::gate::baseline::BaselineReport;
use crate::gate::exemptions::ExemptionReport;
use crate::inventory::{ScopeCoverage, ScopeStatus};
use crate::output::{WriteError, write_atomically, write_atomically_executable};
use crate::policy::RuleMeta;

/// The JSON report format version.
pub const REPORT_VERSION: u32 = 1;

/// Which snapshot a report was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub path: String,
    pub sha256: String,
    pub collected_at: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub cloud: Option<String>,
}

/// Counts of results by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub unknown: usize,
    pub not_applicable: usize,
    #[serde(default)]
    pub exempt: usize,
}

impl Counts {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Unknown => self.unknown += 1,
            Status::NotApplicable => self.not_applicable += 1,
            Status::Exempt => self.exempt += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.pass + self.fail + self.unknown + self.not_applicable + self.exempt
    }
}

/// Totals, per rule, and the scopes that were not read completely.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub by_status: Counts,
    pub by_rule: BTreeMap<String, Counts>,
    /// Subscriptions the snapshot covers but did not read completely (`partial` or `failed`).
    pub incomplete_scopes: Vec<String>,
}

impl Summary {
    pub fn new(rules: &[RuleMeta], results: &[RuleResult], scopes: &[ScopeCoverage]) -> Self {
        let mut s = Summary {
            by_rule: rules
                .iter()
                .map(|r| (r.id.clone(), Counts::default()))
                .collect(),
            ..Summary::default()
        };
        for r in results {
            s.by_status.add(r.status);
            s.by_rule
                .entry(r.rule_id.clone())
                .or_default()
                .add(r.status);
        }
        s.total = s.by_status.total();
        s.incomplete_scopes = scopes
            .iter()
            .filter(|c| matches!(c.status, ScopeStatus::Partial | ScopeStatus::Failed))
            .map(|c| c.subscription_id.clone())
            .collect();
        s
    }
}

/// The report: run metadata, the rules evaluated, a summary and every result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub amlaudit_report: u32,
    pub generated_at: String,
    pub tool_version: String,
    pub snapshot: SnapshotInfo,
    /// The snapshot's subscriptions and how completely each was read, then every other
    /// subscription the results mention, as `not_covered`: those are why results are unknown.
    #[serde(default)]
    pub scopes: Vec<ScopeCoverage>,
    pub summary: Summary,
    /// Present when `--exemptions` was given: which applied, expired or matched nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemptions: Option<ExemptionReport>,
    /// Present when `--baseline` was given: new and baselined failures, fixed entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
    #[serde(default)]
    pub rules: Vec<RuleMeta>,
    pub results: Vec<RuleResult>,
}

/// A report file that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not an amlaudit JSON report: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error(
        "{}: report format {found} is not supported (this amlaudit reads {REPORT_VERSION})",
        path.display()
    )]
    Version { path: PathBuf, found: u32 },
}

/// A format that could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot render the {format} report: {message}")]
    Render {
        format: &'static str,
        message: String,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Report {
    pub fn new(
        snapshot: SnapshotInfo,
        scopes: Vec<ScopeCoverage>,
        rules: Vec<RuleMeta>,
        results: Vec<RuleResult>,
    ) -> Self {
        let scopes = with_uncovered(scopes, &results);
        let summary = Summary::new(&rules, &results, &scopes);
        Report {
            amlaudit_report: REPORT_VERSION,
            generated_at: crate::time_util::now_rfc3339(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            snapshot,
            scopes,
            summary,
            exemptions: None,
            baseline: None,
            rules,
            results,
        }
    }

    /// Reads a JSON report (`findings.json`) back.
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let bytes = std::fs::read(path).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // The version is checked before the rest, so a future format gets a clear message
        // rather than whichever field happens to have changed.
        #[derive(Deserialize)]
        struct Version {
            amlaudit_report: u32,
        }
        let syntax = |e: serde_json::Error| ReportError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let version: Version = serde_json::from_slice(&bytes).map_err(syntax)?;
        if version.amlaudit_report != REPORT_VERSION {
            return Err(ReportError::Version {
                path: path.to_path_buf(),
                found: version.amlaudit_report,
            });
        }
        serde_json::from_slice(&bytes).map_err(syntax)
    }
}

/// Why a fix step is left to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manual {
    /// Its argv holds a `<placeholder>` (a value such as a principal id that only exists once an
    /// earlier step has run, or a file only the person can write).
    Placeholder,
    /// It runs as written, but only once a person has made the choice its description names.
    Choice,
}

/// Whether a fix step is manual, and why: a placeholder in its argv, or a rule that marked it
/// not automatic although every word is filled in (a choice). Every other step is automatic.
pub fn manual_reason(fix: &Remediation) -> Option<Manual> {
    if fix.argv.iter().any(|w| has_placeholder(w)) {
        Some(Manual::Placeholder)
    } else if !fix.automatic {
        Some(Manual::Choice)
    } else {
        None
    }
}

fn has_placeholder(word: &str) -> bool {
    word.find('<')
        .is_some_and(|open| word[open + 1..].find('>').is_some_and(|len| len > 0))
}

/// How many distinct fix steps the failures have, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepCounts {
    pub automatic: usize,
    pub placeholder: usize,
    pub choice: usize,
}

impl StepCounts {
    pub fn of(report: &Report) -> Self {
        let mut counts = StepCounts::default();
        for step in script::steps(report) {
            match manual_reason(step.fix) {
                None => counts.automatic += 1,
                Some(Manual::Placeholder) => counts.placeholder += 1,
                Some(Manual::Choice) => counts.choice += 1,
            }
        }
        counts
    }

    pub fn manual(&self) -> usize {
        self.placeholder + self.choice
    }
}

/// The subscriptions a report's results mention that its snapshot does not cover.
pub fn uncovered_scopes(report: &Report) -> Vec<&str> {
    report
        .scopes
        .iter()
        .filter(|s| s.status == ScopeStatus::NotCovered)
        .map(|s| s.subscription_id.as_str())
        .collect()
}

/// `scopes` followed by every subscription the results mention (their resources, workspaces,
/// messages, evidence and fixes) that it does not list, as `not_covered`, in order of mention.
fn with_uncovered(mut scopes: Vec<ScopeCoverage>, results: &[RuleResult]) -> Vec<ScopeCoverage> {
    let mut known: std::collections::HashSet<String> = scopes
        .iter()
        .map(|s| s.subscription_id.to_ascii_lowercase())
        .collect();
    let mut note = |text: &str| {
        for sub in subscriptions_in(text) {
            if known.insert(sub.clone()) {
                scopes.push(ScopeCoverage {
                    subscription_id: sub,
                    status: ScopeStatus::NotCovered,
                    errors: Vec::new(),
                });
            }
        }
    };
    for r in results {
        note(&r.resource_id);
        if let Some(w) = &r.workspace_id {
            note(w);
        }
        note(&r.message);
        for e in &r.evidence {
            for_each_string(e, &mut note);
        }
        for fix in &r.remediation {
            for word in &fix.argv {
                note(word);
            }
        }
    }
    scopes
}

fn for_each_string(value: &serde_json::Value, f: &mut impl FnMut(&str)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| for_each_string(v, f)),
        serde_json::Value::Object(map) => map.values().for_each(|v| for_each_string(v, f)),
        _ => {}
    }
}

/// The subscription ids named in a text: the segment after each `/subscriptions/` (any case),
/// or after the words "subscription " when it is a GUID, lower-cased.
fn subscriptions_in(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for marker in ["/subscriptions/", "subscription "] {
        let mut rest = lower.as_str();
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            let candidate: String = rest
                .chars()
                .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
                .collect();
            if is_guid(&candidate) && !out.contains(&candidate) {
                out.push(candidate);
            }
        }
    }
    out
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Report formats. Each has one writer module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// The terminal table (stdout only).
    Table,
    /// findings.json: every result, the versioned report.
    Json,
    /// findings.csv: one row per result, for spreadsheets.
    Csv,
    /// findings.sarif: SARIF 2.1.0 for GitHub code scanning.
    Sarif,
    /// findings.junit.xml: one test case per (rule, resource).
    Junit,
    /// summary.md: for $GITHUB_STEP_SUMMARY or a pull-request comment.
    Markdown,
    /// remediation.sh: the fix commands as a bash script, dry run unless --apply.
    Script,
}

impl Format {
    /// The file this format is written to in the output directory, if any.
    pub fn file_name(self) -> Option<&'static str> {
        match self {
            Format::Table => None,
            Format::Json => Some("findings.json"),
            Format::Csv => Some("findings.csv"),
            Format::Sarif => Some("findings.sarif"),
            Format::Junit => Some("findings.junit.xml"),
            Format::Markdown => Some("summary.md"),
            Format::Script => Some(script::FILE_NAME),
        }
    }

    /// Renders the report in this format.
    pub fn render(self, report: &Report, color: bool) -> Result<Vec<u8>, RenderError> {
        Ok(match self {
            Format::Table => table::render(
                report,
                &table::Options {
                    color,
                    ..table::Options::default()
                },
            )
            .into_bytes(),
            Format::Json => json::render(report),
            Format::Csv => csv::render(report),
            Format::Sarif => sarif::render(report),
            Format::Junit => junit::render(report).map_err(|e| RenderError::Render {
                format: "JUnit",
                message: e.to_string(),
            })?,
            Format::Markdown => markdown::render(report).into_bytes(),
            Format::Script => script::render(report).into_bytes(),
        })
    }
}

/// Writes a format's file into `out_dir`, atomically.
pub fn write(format: Format, report: &Report, out_dir: &Path) -> Result<(), RenderError> {
    let Some(name) = format.file_name() else {
        return Ok(());
    };
    let bytes = format.render(report, false)?;
    let path = out_dir.join(name);
    if format == Format::Script {
        write_atomically_executable(&path, &bytes)?;
    } else {
        write_atomically(&path, &bytes)?;
    }
    Ok(())
}
