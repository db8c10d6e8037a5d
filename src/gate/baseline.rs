//! Baselines: the failures a team already knew about when it switched the gate on.
//!
//! `--create-baseline FILE` writes the current `fail` results as (rule id, normalised resource id)
//! pairs; `--baseline FILE` marks each failure `new` or `baselined`, and the gate then fails only
//! on new ones. Baselined pairs that no longer fail are listed as fixed, so the file can shrink.
//! Resource ids are normalised (ARM ids are case-insensitive), so a re-cased id from another
//! collection run is still the same finding.
//!
//! The file is JSON, sorted, one pair per entry, so that changes to it read well in review:
//! `{"amlaudit_baseline": 1, "created_at": "...", "entries": [{"rule_id", "resource_id"}]}`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::findings::review::{BaselineReport, BaselineState, FixedEntry, ResultRef};
use crate::findings::{RuleResult, Status};
use crate::output::{WriteError, write_atomically};

/// The baseline file format version.
pub const BASELINE_VERSION: u32 = 1;

/// Why a baseline could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a baseline: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error(
        "{}: baseline format {found} is not supported (this amlaudit reads {BASELINE_VERSION})",
        path.display()
    )]
    Version { path: PathBuf, found: u32 },
    #[error(transparent)]
    Write(#[from] WriteError),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    amlaudit_baseline: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(default)]
    entries: Vec<ResultRef>,
}

/// A set of (rule id, normalised resource id) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    pub entries: BTreeSet<ResultRef>,
}

/// Rule ids compare case-insensitively (as exemptions and the rule registry compare them), ARM
/// ids as ARM does.
fn key(rule_id: &str, resource_id: &str) -> ResultRef {
    ResultRef {
        rule_id: rule_id.to_ascii_uppercase(),
        resource_id: crate::ids::normalize(resource_id),
    }
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
        serde_json::Value::Object(_) => "an object",
    }
}

impl Baseline {
    /// The current failures (exempt results are not failures, and are left out).
    pub fn from_results(results: &[RuleResult]) -> Self {
        Baseline {
            entries: results
                .iter()
                .filter(|r| r.status == Status::Fail)
                .map(|r| key(&r.rule_id, &r.resource_id))
                .collect(),
        }
    }

    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let bytes = std::fs::read(path).map_err(|source| BaselineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &bytes)
    }

    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, BaselineError> {
        let syntax = |message: String| BaselineError::Syntax {
            path: path.to_path_buf(),
            message,
        };
        // Strictly: duplicate keys refused, and the document must be an object (serde would
        // take `[1]` as a struct written as an array).
        let value =
            crate::strict_json::parse_slice(bytes, "$").map_err(|e| syntax(e.to_string()))?;
        if !value.is_object() {
            return Err(syntax(format!(
                "a baseline is a JSON object {{\"amlaudit_baseline\": {BASELINE_VERSION}, \"entries\": [...]}}, this is {}",
                kind_of(&value)
            )));
        }
        let file: BaselineFile =
            serde_json::from_value(value).map_err(|e| syntax(e.to_string()))?;
        if file.amlaudit_baseline != BASELINE_VERSION {
            return Err(BaselineError::Version {
                path: path.to_path_buf(),
                found: file.amlaudit_baseline,
            });
        }
        // Normalised again in case the file was edited by hand.
        Ok(Baseline {
            entries: file
                .entries
                .iter()
                .map(|e| key(&e.rule_id, &e.resource_id))
                .collect(),
        })
    }

    /// The file's bytes: pretty JSON, entries sorted.
    pub fn to_json_bytes(&self, created_at: &str) -> Vec<u8> {
        let file = BaselineFile {
            amlaudit_baseline: BASELINE_VERSION,
            created_at: Some(created_at.to_string()),
            entries: self.entries.iter().cloned().collect(),
        };
        let mut out = serde_json::to_vec_pretty(&file)
            .expect("a baseline holds only strings and numbers, which always serialise");
        out.push(b'\n');
        out
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path, created_at: &str) -> Result<(), BaselineError> {
        Ok(write_atomically(path, &self.to_json_bytes(created_at))?)
    }

    /// Marks every `fail` result `new` or `baselined` and lists the entries that are fixed.
    /// `file` is how the report names the baseline.
    pub fn apply(&self, results: &mut [RuleResult], file: &str) -> BaselineReport {
        let mut report = BaselineReport {
            file: file.to_string(),
            ..BaselineReport::default()
        };
        let mut now: HashMap<ResultRef, Status> = HashMap::new();
        for result in results.iter_mut() {
            let k = key(&result.rule_id, &result.resource_id);
            if result.status == Status::Fail {
                if self.entries.contains(&k) {
                    result.baseline = Some(BaselineState::Baselined);
                    report.baselined += 1;
                } else {
                    result.baseline = Some(BaselineState::New);
                    report.new += 1;
                }
            }
            now.insert(k, result.status);
        }
        for entry in &self.entries {
            // Unknown and exempt results are not fixed: nobody knows, or the risk was accepted.
            let status = match now.get(entry) {
                None => "absent",
                Some(Status::Pass) => "pass",
                Some(Status::NotApplicable) => "not_applicable",
                Some(Status::Fail | Status::Unknown | Status::Exempt | Status::Error) => continue,
            };
            report.fixed.push(FixedEntry {
                rule_id: entry.rule_id.clone(),
                resource_id: entry.resource_id.clone(),
                status: status.to_string(),
            });
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::result;

    #[test]
    fn round_trip_marks_new_baselined_and_fixed() {
        let before = vec![
            result("AML001", "/subscriptions/S/A", Status::Fail),
            result("AML001", "/subscriptions/S/B", Status::Fail),
            result("AML002", "/subscriptions/S/C", Status::Fail),
            result("AML002", "/subscriptions/S/D", Status::Pass),
        ];
        let baseline = Baseline::from_results(&before);
        let bytes = baseline.to_json_bytes("2026-01-01T00:00:00Z");
        let back = Baseline::parse(Path::new("b.json"), &bytes).unwrap();
        assert_eq!(back, baseline);
        assert!(back.entries.contains(&ResultRef {
            rule_id: "AML001".into(),
            resource_id: "/subscriptions/s/a".into()
        }));

        let mut after = vec![
            result("AML001", "/SUBSCRIPTIONS/s/a", Status::Fail),
            result("AML001", "/subscriptions/S/B", Status::Pass),
            result("AML002", "/subscriptions/S/D", Status::Fail),
        ];
        let report = back.apply(&mut after, "b.json");
        assert_eq!(after[0].baseline, Some(BaselineState::Baselined));
        assert_eq!(after[1].baseline, None);
        assert_eq!(after[2].baseline, Some(BaselineState::New));
        assert_eq!((report.new, report.baselined), (1, 1));
        let fixed: Vec<(&str, &str)> = report
            .fixed
            .iter()
            .map(|f| (f.resource_id.as_str(), f.status.as_str()))
            .collect();
        assert_eq!(
            fixed,
            vec![
                ("/subscriptions/s/b", "pass"),
                ("/subscriptions/s/c", "absent")
            ]
        );
    }

    #[test]
    fn bad_files_are_named() {
        let err = Baseline::parse(Path::new("b.json"), b"{\"amlaudit_baseline\": 2}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("b.json: baseline format 2"), "{err}");
        let err = Baseline::parse(Path::new("b.json"), b"[]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("b.json: not a baseline"), "{err}");
    }
}
