//! Reports: one versioned [`Report`] built from the results, and one writer per format.
//!
//! Evaluation never prints; the writers here render the same report, and every file is written
//! atomically (temporary file, then rename) so a reader never sees half a report. [`diff`]
//! compares two reports read back from JSON.

pub mod csv;
pub mod diff;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod script;
pub mod table;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::findings::RuleMeta;
use crate::findings::RuleResult;
pub use crate::findings::review::{BaselineReport, ExemptionReport};
pub use crate::findings::summary::{Counts, Summary};
use crate::findings::verdict::GateOutcome;
use crate::inventory::{ScopeCoverage, ScopeStatus};
use crate::output::{PendingFile, WriteError, write_atomically, write_atomically_executable};

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
                    deny_assignments: None,
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
    /// report.html: one self-contained page with charts, filters, evidence and fixes.
    Html,
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
            Format::Html => Some(html::FILE_NAME),
        }
    }

    /// Renders the report in this format; `gate` is what the scan's gate concluded (the HTML
    /// page shows it).
    pub fn render(
        self,
        report: &Report,
        color: bool,
        gate: &GateOutcome,
    ) -> Result<Vec<u8>, RenderError> {
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
            Format::Html => html::render(report, gate)?.into_bytes(),
        })
    }
}

/// A format's file for `out_dir`, rendered but not written: scans render every report first and
/// write them together with [`crate::output::write_all`].
pub fn pending(
    format: Format,
    report: &Report,
    out_dir: &Path,
    gate: &GateOutcome,
) -> Result<Option<PendingFile>, RenderError> {
    let Some(name) = format.file_name() else {
        return Ok(None);
    };
    Ok(Some(PendingFile {
        path: out_dir.join(name),
        bytes: format.render(report, false, gate)?,
        executable: format == Format::Script,
    }))
}

/// Writes a format's file into `out_dir`, atomically.
pub fn write(
    format: Format,
    report: &Report,
    out_dir: &Path,
    gate: &GateOutcome,
) -> Result<(), RenderError> {
    let Some(name) = format.file_name() else {
        return Ok(());
    };
    let bytes = format.render(report, false, gate)?;
    let path = out_dir.join(name);
    if format == Format::Script {
        write_atomically_executable(&path, &bytes)?;
    } else {
        write_atomically(&path, &bytes)?;
    }
    Ok(())
}
