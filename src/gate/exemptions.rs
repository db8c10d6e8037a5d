//! Exemptions (`--exemptions FILE`): accepted risks, each with a justification, an owner or a
//! ticket, and an expiry in UTC.
//!
//! A matching, unexpired exemption turns a `fail` into `exempt` and is recorded on the result, so
//! JSON, CSV and JUnit keep the finding with its justification while SARIF and the gate leave it
//! out. An expired exemption stops applying, and one that covers no failure is reported too:
//! otherwise exemptions outlive the risk they accepted, unseen (the Azure Policy `expiresOn` and
//! Trivy `exp:` lesson).
//!
//! The file is amlaudit's own, so it is read strictly: unknown keys are errors, and every bad
//! entry is reported at once, each naming the file and the entry, before anything is evaluated.
//!
//! ```toml
//! [[exemptions]]
//! rule = "AML001"            # a rule id, or "*" for every rule
//! resource = "/subscriptions/*/resourceGroups/rg-sandbox/*"  # an ARM id or a glob, any case
//! justification = "Sandbox registry, deleted with the sandbox in Q1"
//! owner = "ml-platform@contoso.com"  # an owner, a ticket, or both
//! ticket = "SEC-1234"
//! expires = 2026-12-31       # a date (expires at 00:00 UTC that day) or an RFC 3339 time
//! ```
//!
//! YAML files hold the same list under `exemptions:`. In a resource glob `*` also matches `/`, so
//! `/subscriptions/s/resourceGroups/rg/*` covers everything in that resource group.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

pub use crate::findings::review::{ExemptionRecord, ExemptionReport, ExemptionUse, ResultRef};
use crate::findings::{RuleResult, Status};
use crate::ids;

/// Why an exemptions file could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExemptionError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: exemptions must be a .toml, .yaml or .yml file", path.display())]
    UnknownFormat { path: PathBuf },
    #[error("{}: not valid {format}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("{}: {}", path.display(), format_problems(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<EntryProblem>,
    },
}

/// What is wrong with one entry (or, with `entry` 0, with the file's layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryProblem {
    /// 1-based position in the file's `exemptions` list; 0 for the file as a whole.
    pub entry: usize,
    /// The entry's rule and resource, when it names them, so the entry can be found.
    pub label: Option<String>,
    pub message: String,
}

impl std::fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.entry, &self.label) {
            (0, _) => f.write_str(&self.message),
            (n, Some(label)) => write!(f, "exemption {n} ({label}): {}", self.message),
            (n, None) => write!(f, "exemption {n}: {}", self.message),
        }
    }
}

fn format_problems(problems: &[EntryProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Which resources an exemption covers.
#[derive(Debug, Clone)]
enum ResourceMatcher {
    /// A normalised ARM id.
    Exact(String),
    Glob(GlobMatcher),
}

/// One valid exemption.
#[derive(Debug, Clone)]
pub struct Exemption {
    record: ExemptionRecord,
    /// `None` for `*`.
    rule: Option<String>,
    resource: ResourceMatcher,
    expires: OffsetDateTime,
}

impl Exemption {
    /// Whether it covers this rule and resource id (any case).
    pub fn matches(&self, rule_id: &str, resource_id: &str) -> bool {
        let rule_ok = self
            .rule
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case(rule_id));
        rule_ok
            && match &self.resource {
                ResourceMatcher::Exact(id) => *id == ids::normalize(resource_id),
                ResourceMatcher::Glob(glob) => glob.is_match(ids::normalize(resource_id)),
            }
    }

    /// Expired at `now` or before.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires
    }

    pub fn expires(&self) -> OffsetDateTime {
        self.expires
    }

    pub fn record(&self) -> &ExemptionRecord {
        &self.record
    }
}

/// Every exemption in a file, in file order.
#[derive(Debug, Clone)]
pub struct Exemptions {
    pub path: PathBuf,
    pub entries: Vec<Exemption>,
}

impl Exemptions {
    /// Reads and validates a file; the extension picks TOML or YAML.
    pub fn load(path: &Path) -> Result<Self, ExemptionError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExemptionError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates the text of a file named `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ExemptionError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let raw = match ext.as_deref() {
            Some("toml") => raw_toml(path, text)?,
            Some("yaml" | "yml") => raw_yaml(path, text)?,
            _ => {
                return Err(ExemptionError::UnknownFormat {
                    path: path.to_path_buf(),
                });
            }
        };
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        for (i, parsed) in raw.into_iter().enumerate() {
            let entry = i + 1;
            match parsed
                .and_then(|(label, raw)| validate(entry, raw).map_err(|message| (label, message)))
            {
                Ok(e) => entries.push(e),
                Err((label, message)) => problems.push(EntryProblem {
                    entry,
                    label,
                    message,
                }),
            }
        }
        if problems.is_empty() {
            Ok(Exemptions {
                path: path.to_path_buf(),
                entries,
            })
        } else {
            Err(ExemptionError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// Turns every `fail` that an unexpired exemption covers into `exempt`, recording the first
    /// such exemption (in file order) on the result, and reports which exemptions applied,
    /// expired or covered nothing.
    pub fn apply(&self, results: &mut [RuleResult], now: OffsetDateTime) -> ExemptionReport {
        let mut covered: Vec<Vec<ResultRef>> = vec![Vec::new(); self.entries.len()];
        for result in results.iter_mut().filter(|r| r.status == Status::Fail) {
            let mut applied = false;
            for (i, exemption) in self.entries.iter().enumerate() {
                if !exemption.matches(&result.rule_id, &result.resource_id) {
                    continue;
                }
                // Every exemption that covers the failure counts as used, not only the first, so
                // a narrower entry behind a broad one is not reported as matching nothing.
                covered[i].push(ResultRef {
                    rule_id: result.rule_id.clone(),
                    resource_id: result.resource_id.clone(),
                });
                if !applied && !exemption.is_expired(now) {
                    result.status = Status::Exempt;
                    result.exemption = Some(exemption.record.clone());
                    applied = true;
                }
            }
        }
        let mut report = ExemptionReport {
            file: self.path.display().to_string(),
            ..ExemptionReport::default()
        };
        for (exemption, results) in self.entries.iter().zip(covered) {
            let record = exemption.record.clone();
            if exemption.is_expired(now) {
                report.expired.push(ExemptionUse {
                    exemption: record,
                    results,
                });
            } else if results.is_empty() {
                report.unmatched.push(record);
            } else {
                report.applied.push(ExemptionUse {
                    exemption: record,
                    results,
                });
            }
        }
        report
    }
}

/// One entry exactly as written; every field is checked in [`validate`] so that all of an
/// entry's problems are reported together.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    rule: Option<String>,
    resource: Option<String>,
    justification: Option<String>,
    owner: Option<String>,
    ticket: Option<String>,
    expires: Option<String>,
}

/// Each entry, or its label and why it could not be read.
type RawEntries = Vec<Result<(Option<String>, RawEntry), (Option<String>, String)>>;

fn layout_error(path: &Path, message: String) -> ExemptionError {
    ExemptionError::Invalid {
        path: path.to_path_buf(),
        problems: vec![EntryProblem {
            entry: 0,
            label: None,
            message,
        }],
    }
}

const LAYOUT: &str =
    "the file must hold a list named `exemptions` ([[exemptions]] in TOML, `exemptions:` in YAML)";

fn label(rule: Option<&str>, resource: Option<&str>) -> Option<String> {
    match (rule, resource) {
        (None, None) => None,
        (rule, resource) => Some(format!(
            "rule {}, resource {}",
            rule.unwrap_or("?"),
            resource.unwrap_or("?")
        )),
    }
}

fn raw_toml(path: &Path, text: &str) -> Result<RawEntries, ExemptionError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ExemptionError::Syntax {
        path: path.to_path_buf(),
        format: "TOML",
        message: e.to_string().trim().to_string(),
    })?;
    let list = match table.remove("exemptions") {
        None => Vec::new(),
        Some(toml::Value::Array(list)) => list,
        Some(_) => return Err(layout_error(path, LAYOUT.to_string())),
    };
    if let Some(key) = table.keys().next() {
        return Err(layout_error(path, format!("unknown key `{key}`: {LAYOUT}")));
    }
    Ok(list
        .into_iter()
        .map(|mut value| {
            let text_of = |k: &str| {
                value
                    .get(k)
                    .and_then(toml::Value::as_str)
                    .map(str::to_string)
            };
            let label = label(text_of("rule").as_deref(), text_of("resource").as_deref());
            // A bare TOML date (`expires = 2026-12-31`) is a datetime value, not a string; both
            // spellings are accepted and parsed the same way.
            if let Some(slot) = value.get_mut("expires")
                && let toml::Value::Datetime(dt) = slot
            {
                *slot = toml::Value::String(dt.to_string());
            }
            value
                .try_into::<RawEntry>()
                .map(|raw| (label.clone(), raw))
                .map_err(|e| (label, e.message().trim().to_string()))
        })
        .collect())
}

fn raw_yaml(path: &Path, text: &str) -> Result<RawEntries, ExemptionError> {
    let doc: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| ExemptionError::Syntax {
            path: path.to_path_buf(),
            format: "YAML",
            message: e.to_string(),
        })?;
    let list = match doc {
        serde_norway::Value::Null => Vec::new(),
        serde_norway::Value::Mapping(mut map) => {
            let list = match map.remove("exemptions") {
                None | Some(serde_norway::Value::Null) => Vec::new(),
                Some(serde_norway::Value::Sequence(list)) => list,
                Some(_) => return Err(layout_error(path, LAYOUT.to_string())),
            };
            if let Some(key) = map.keys().next() {
                let key = key.as_str().unwrap_or("?");
                return Err(layout_error(path, format!("unknown key `{key}`: {LAYOUT}")));
            }
            list
        }
        _ => return Err(layout_error(path, LAYOUT.to_string())),
    };
    Ok(list
        .into_iter()
        .map(|value| {
            let text_of = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let label = label(text_of("rule").as_deref(), text_of("resource").as_deref());
            serde_norway::from_value::<RawEntry>(value)
                .map(|raw| (label.clone(), raw))
                .map_err(|e| (label, e.to_string()))
        })
        .collect())
}

fn validate(entry: usize, raw: RawEntry) -> Result<Exemption, String> {
    let present = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let rule = present(raw.rule);
    let resource = present(raw.resource);
    let justification = present(raw.justification);
    let owner = present(raw.owner);
    let ticket = present(raw.ticket);
    let expires_text = present(raw.expires);

    let mut missing = Vec::new();
    if rule.is_none() {
        missing.push("rule (a rule id or \"*\")");
    }
    if resource.is_none() {
        missing.push("resource (an ARM id or a glob)");
    }
    if justification.is_none() {
        missing.push("justification");
    }
    if owner.is_none() && ticket.is_none() {
        missing.push("owner or ticket");
    }
    if expires_text.is_none() {
        missing.push("expires (a date or time, UTC)");
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("lacks {}", missing.join(", ")));
    }
    let matcher = resource.as_deref().map(resource_matcher).transpose();
    let expires = expires_text.as_deref().map(parse_expiry).transpose();
    if let Err(e) = &matcher {
        problems.push(e.clone());
    }
    if let Err(e) = &expires {
        problems.push(e.clone());
    }
    // `owner`/`ticket` are optional one by one, so a problem can remain even when every field
    // below is present.
    let (Some(rule), Some(resource), Some(justification), Ok(Some(matcher)), Ok(Some(expires))) =
        (rule, resource, justification, matcher, expires)
    else {
        return Err(problems.join("; "));
    };
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(Exemption {
        record: ExemptionRecord {
            entry,
            rule: rule.clone(),
            resource,
            justification,
            owner,
            ticket,
            expires: crate::time_util::format_rfc3339(expires),
        },
        rule: (rule != "*").then_some(rule),
        resource: matcher,
        expires,
    })
}

fn resource_matcher(pattern: &str) -> Result<ResourceMatcher, String> {
    if !pattern.contains(['*', '?', '[', '{']) {
        return Ok(ResourceMatcher::Exact(ids::normalize(pattern)));
    }
    let normalized = pattern.trim_end_matches('/').to_lowercase();
    GlobBuilder::new(&normalized)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map(|g| ResourceMatcher::Glob(g.compile_matcher()))
        .map_err(|e| format!("resource `{pattern}` is not a valid glob: {e}"))
}

/// A date means 00:00 UTC on that day (the exemption is over once the day begins); a time
/// without an offset is UTC.
pub fn parse_expiry(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Ok(date.midnight().assume_utc());
    }
    // RFC 3339 and TOML also allow a space or a lower-case `t` between date and time.
    let mut normalized = text.to_string();
    if matches!(normalized.get(10..11), Some(" " | "t")) {
        normalized.replace_range(10..11, "T");
    }
    if let Ok(t) = OffsetDateTime::parse(&normalized, &Rfc3339) {
        return Ok(t.to_offset(UtcOffset::UTC));
    }
    let local = format_description!(
        "[year]-[month]-[day]T[hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
    );
    if let Ok(t) = PrimitiveDateTime::parse(&normalized, local) {
        return Ok(t.assume_utc());
    }
    Err(format!(
        "expires `{text}` is not a date (2026-12-31) or a time (2026-12-31T18:00:00Z; UTC unless it has an offset)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn fail(rule: &str, id: &str) -> RuleResult {
        crate::test_support::result(rule, id, Status::Fail)
    }

    const TOML: &str = r#"
[[exemptions]]
rule = "AML001"
resource = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerRegistry/registries/acr1"
justification = "needed by the legacy pipeline"
owner = "alice"
expires = 2030-01-01

[[exemptions]]
rule = "*"
resource = "/subscriptions/s/resourcegroups/sandbox/*"
justification = "sandbox"
ticket = "SEC-1"
expires = "2020-01-01T00:00:00Z"

[[exemptions]]
rule = "AML002"
resource = "/subscriptions/s/resourceGroups/gone/*"
justification = "j"
owner = "bob"
expires = 2030-01-01T12:00:00+02:00
"#;

    #[test]
    fn applies_expires_and_reports_unmatched() {
        let ex = Exemptions::parse(Path::new("ex.toml"), TOML).unwrap();
        let mut results = vec![
            fail(
                "AML001",
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerregistry/registries/ACR1",
            ),
            fail(
                "AML002",
                "/subscriptions/s/resourceGroups/Sandbox/providers/x/y/z",
            ),
        ];
        let report = ex.apply(&mut results, datetime!(2026-06-01 0:00 UTC));
        assert_eq!(results[0].status, Status::Exempt);
        assert_eq!(
            results[0].exemption.as_ref().unwrap().justification,
            "needed by the legacy pipeline"
        );
        assert_eq!(results[1].status, Status::Fail);
        assert_eq!(report.applied.len(), 1);
        assert_eq!(report.expired.len(), 1);
        assert_eq!(report.expired[0].results.len(), 1);
        assert_eq!(report.unmatched.len(), 1);
        assert_eq!(report.unmatched[0].entry, 3);
        assert_eq!(report.unmatched[0].expires, "2030-01-01T10:00:00Z");
    }

    #[test]
    fn yaml_reads_the_same_list() {
        let yaml = "exemptions:\n  - rule: AML001\n    resource: '*'\n    justification: j\n    owner: o\n    expires: 2030-01-01\n";
        let ex = Exemptions::parse(Path::new("ex.yml"), yaml).unwrap();
        assert!(ex.entries[0].matches("aml001", "/subscriptions/x/anything"));
        assert!(!ex.entries[0].matches("AML002", "/subscriptions/x/anything"));
        assert_eq!(
            ex.entries[0].expires(),
            datetime!(2030-01-01 0:00 UTC),
            "a date expires when its day begins"
        );
    }

    #[test]
    fn every_bad_entry_is_named() {
        let toml = r#"
[[exemptions]]
rule = "AML001"
resource = "/subscriptions/s/x"
owner = "o"
expires = "next week"

[[exemptions]]
rule = "AML002"
resource = "/subscriptions/s/[x"
justification = "j"
expires = 2030-01-01

[[exemptions]]
rule = "AML003"
resource = "/subscriptions/s/y"
justification = "j"
owner = "o"
expires = 2030-01-01
colour = "red"
"#;
        let err = Exemptions::parse(
            Path::new("o.yaml"),
            "exemptions:\n  - {rule: A, resource: x, justification: j, expires: 2030-01-01}\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "o.yaml: exemption 1 (rule A, resource x): lacks owner or ticket"
        );
        let err = Exemptions::parse(Path::new("bad.toml"), toml)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad.toml: exemption 1 (rule AML001, resource /subscriptions/s/x): lacks justification; expires `next week` is not a date"), "{err}");
        assert!(err.contains("exemption 2 (rule AML002, resource /subscriptions/s/[x): lacks owner or ticket; resource `/subscriptions/s/[x` is not a valid glob"), "{err}");
        assert!(
            err.contains(
                "exemption 3 (rule AML003, resource /subscriptions/s/y): unknown field `colour`"
            ),
            "{err}"
        );
    }

    #[test]
    fn layout_and_format_errors_name_the_file() {
        let err = Exemptions::parse(Path::new("e.toml"), "[[exemption]]\nrule = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("e.toml: unknown key `exemption`"), "{err}");
        let err = Exemptions::parse(Path::new("e.json"), "{}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "e.json: exemptions must be a .toml, .yaml or .yml file"
        );
        let err = Exemptions::parse(Path::new("e.yaml"), "exemptions: [")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("e.yaml: not valid YAML"), "{err}");
        assert!(
            Exemptions::parse(Path::new("e.yaml"), "")
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[test]
    fn expiry_spellings() {
        for (text, want) in [
            ("2030-01-02", datetime!(2030-01-02 0:00 UTC)),
            ("2030-01-02T03:04:05Z", datetime!(2030-01-02 3:04:05 UTC)),
            (
                "2030-01-02 03:04:05+01:00",
                datetime!(2030-01-02 2:04:05 UTC),
            ),
            ("2030-01-02T03:04:05", datetime!(2030-01-02 3:04:05 UTC)),
            ("2030-01-02T03:04", datetime!(2030-01-02 3:04 UTC)),
        ] {
            assert_eq!(parse_expiry(text), Ok(want), "{text}");
        }
        assert!(parse_expiry("03:04:05").is_err());
        assert!(parse_expiry("2030-13-01").is_err());
    }
}
