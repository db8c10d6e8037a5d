//! The snapshot file (format version 1): what ARM said, kept as ARM said it.
//!
//! Reading is two-phase, like cargo-deny's raw-then-valid config: the file is parsed with each
//! resource left as raw JSON (cheap, and errors carry line and column), then every resource is
//! checked in parallel for the `id`/`type` it must have. All problems are collected, each naming
//! the file, the line and column in it, and the JSON path, before anything downstream runs.
//!
//! The shape is checked strictly (docs/snapshot.schema.json describes it): the document is an
//! object, a key appears once in any object (see [`crate::strict_json`]), the version is exactly
//! `1`, and `collected_at` is an RFC 3339 date-time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::ids;

/// The only snapshot format version this build reads and writes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// How completely a subscription was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeStatus {
    Complete,
    Partial,
    Failed,
    /// Not in the snapshot at all: only reports say this, for a subscription their results
    /// mention (a snapshot that lists one so is read as not listing it).
    #[serde(rename = "not_covered")]
    NotCovered,
}

/// One failed read that made a scope incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeError {
    pub resource_type: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

/// Whether a subscription's deny assignments were read. A snapshot that does not say (older
/// ones) did not read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyAssignmentsRead {
    Read,
    NotRead,
}

/// A subscription the snapshot covers, and how completely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeCoverage {
    pub subscription_id: String,
    pub status: ScopeStatus,
    #[serde(default)]
    pub errors: Vec<ScopeError>,
    /// Whether `Microsoft.Authorization/denyAssignments` were listed for this subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_assignments: Option<DenyAssignmentsRead>,
}

impl ScopeCoverage {
    /// Whether the subscription's deny assignments are in the snapshot.
    pub fn deny_assignments_read(&self) -> bool {
        self.deny_assignments == Some(DenyAssignmentsRead::Read)
    }
}

/// One principal whose group memberships could not be read from Microsoft Graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryError {
    pub principal_id: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

/// What the snapshot knows from the directory (Microsoft Graph), not from ARM.
///
/// A principal listed in `group_memberships` has exactly those transitive groups; a principal
/// not listed has unknown memberships. `service_principals` maps an application (client) id to
/// its service principal's object id, for identities ARM names only by app id (an AKS cluster's
/// `servicePrincipalProfile.clientId`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_memberships: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<DirectoryError>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_principals: BTreeMap<String, String>,
}

impl Directory {
    pub fn is_empty(&self) -> bool {
        self.group_memberships.is_empty()
            && self.errors.is_empty()
            && self.service_principals.is_empty()
    }
}

/// A snapshot in memory: the header plus every resource as ARM JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub amlaudit_snapshot: u32,
    pub collected_at: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default = "default_cloud")]
    pub cloud: String,
    #[serde(default)]
    pub scopes: Vec<ScopeCoverage>,
    #[serde(default)]
    pub resources: Vec<Value>,
    /// Group memberships and app-id lookups from Microsoft Graph.
    #[serde(default, skip_serializing_if = "Directory::is_empty")]
    pub directory: Directory,
    /// Where each resource is written in the file it was read from, index for index with
    /// `resources`; empty for a snapshot built in memory.
    #[serde(skip)]
    pub positions: Vec<Option<TextPosition>>,
}

/// A place in a snapshot file: 1-based line, and 1-based column counted in UTF-16 code units
/// (SARIF's default `columnKind`, which is what GitHub code scanning reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    pub line: usize,
    pub column: usize,
}

fn default_cloud() -> String {
    "AzureCloud".to_string()
}

/// A snapshot that could not be read: the file, and every problem in it.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not valid JSON: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}", describe(.path, .problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// One problem at a JSON path, and where it is in the file when that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub json_path: String,
    pub message: String,
    /// 1-based line and column in the file.
    pub position: Option<(usize, usize)>,
}

impl Problem {
    /// A problem at a JSON path, without a position.
    pub fn at(json_path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            json_path: json_path.into(),
            message: message.into(),
            position: None,
        }
    }
}

impl From<crate::strict_json::JsonError> for Problem {
    fn from(e: crate::strict_json::JsonError) -> Self {
        Problem {
            json_path: e.json_path,
            message: e.message,
            position: Some((e.line, e.column)),
        }
    }
}

impl std::fmt::Display for Problem {
    /// `line:column: at $.path: message`, so that after the file name it reads as a compiler's
    /// `file:line:column:` does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((line, column)) = self.position {
            write!(f, "{line}:{column}: ")?;
        }
        write!(f, "at {}: {}", self.json_path, self.message)
    }
}

/// `file:line:column: at $.path: message` (or `file: at ...` without a position), one problem per
/// line, as compilers list their errors.
fn describe(path: &Path, problems: &[Problem]) -> String {
    const SHOWN: usize = 20;
    let mut lines: Vec<String> = problems
        .iter()
        .take(SHOWN)
        .map(|p| {
            let separator = if p.position.is_some() { ":" } else { ": " };
            format!("{}{separator}{p}", path.display())
        })
        .collect();
    if problems.len() > SHOWN {
        lines.push(format!("and {} more problems", problems.len() - SHOWN));
    }
    lines.join("\n")
}

#[derive(Deserialize)]
struct RawSnapshot<'a> {
    amlaudit_snapshot: Option<Value>,
    collected_at: Option<Value>,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    cloud: Option<String>,
    #[serde(default, borrow)]
    scopes: Option<&'a RawValue>,
    #[serde(default, borrow)]
    resources: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    directory: Option<Value>,
}

impl Snapshot {
    /// An empty snapshot stamped with the current time.
    pub fn new(tenant_id: Option<String>, cloud: &str) -> Self {
        Snapshot {
            amlaudit_snapshot: SNAPSHOT_VERSION,
            collected_at: crate::time_util::now_rfc3339(),
            tenant_id,
            cloud: cloud.to_string(),
            scopes: Vec::new(),
            resources: Vec::new(),
            directory: Directory::default(),
            positions: Vec::new(),
        }
    }

    /// Reads and checks a snapshot file.
    pub fn load(path: &Path) -> Result<Self, SnapshotError> {
        let bytes = std::fs::read(path).map_err(|source| SnapshotError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_slice(path, &bytes)
    }

    /// Parses and checks snapshot bytes; `path` only names the source in errors.
    pub fn from_slice(path: &Path, bytes: &[u8]) -> Result<Self, SnapshotError> {
        let syntax = |e: serde_json::Error| SnapshotError::Syntax {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        };
        let invalid = |problems| SnapshotError::Invalid {
            path: path.to_path_buf(),
            problems,
        };
        // serde accepts a struct written as an array; a snapshot is an object.
        let first = bytes
            .iter()
            .position(|b| !b" \t\r\n".contains(b))
            .unwrap_or(bytes.len());
        if bytes.get(first) != Some(&b'{') {
            let (line, column) = crate::strict_json::line_column(bytes, first);
            let found = match bytes.get(first) {
                Some(b'[') => "an array",
                None => "an empty file",
                _ => "not an object",
            };
            return Err(invalid(vec![Problem {
                json_path: "$".into(),
                message: format!("a snapshot is a JSON object, this is {found}"),
                position: Some((line, column)),
            }]));
        }
        let raw: RawSnapshot<'_> = serde_json::from_slice(bytes).map_err(syntax)?;
        let mut problems = Vec::new();
        match &raw.amlaudit_snapshot {
            Some(Value::Number(n)) if n.as_u64() == Some(u64::from(SNAPSHOT_VERSION)) => {}
            None | Some(Value::Null) => problems.push(Problem::at(
                "$.amlaudit_snapshot",
                format!("missing: not an amlaudit snapshot (expected \"amlaudit_snapshot\": {SNAPSHOT_VERSION}; use `amlaudit import` to build one from ARM or az output)"),
            )),
            Some(v) => problems.push(Problem::at(
                "$.amlaudit_snapshot",
                format!("unsupported version {v} (this build reads version {SNAPSHOT_VERSION}, written as the integer {SNAPSHOT_VERSION})"),
            )),
        }
        let collected_at = match raw.collected_at {
            Some(Value::String(text)) => {
                if crate::time_util::parse_rfc3339(&text).is_none() {
                    problems.push(Problem::at(
                        "$.collected_at",
                        format!(
                            "`{text}` is not an RFC 3339 date-time (such as 2026-11-20T09:30:00Z)"
                        ),
                    ));
                }
                text
            }
            None | Some(Value::Null) => {
                problems.push(Problem::at(
                    "$.collected_at",
                    "missing: the snapshot must say when it was collected",
                ));
                String::new()
            }
            Some(other) => {
                problems.push(Problem::at(
                    "$.collected_at",
                    format!("must be an RFC 3339 date-time string, got {other}"),
                ));
                String::new()
            }
        };
        // A piece of the file parsed on its own: duplicate keys refused, positions in the file.
        let piece = |raw: &RawValue, root: &str| -> Result<Value, Problem> {
            let text = raw.get();
            // The piece borrows from `bytes`, so its address says where it starts in the file.
            let offset = (text.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
            crate::strict_json::parse(text, root).map_err(|mut e| {
                crate::strict_json::shift(&mut e, bytes, offset);
                Problem::from(e)
            })
        };
        let scopes: Vec<ScopeCoverage> = match raw.scopes {
            None => Vec::new(),
            Some(raw) => match piece(raw, "$.scopes") {
                Ok(Value::Null) => Vec::new(),
                Ok(v) => match serde_json::from_value::<Vec<ScopeCoverage>>(v) {
                    Ok(s) => {
                        // `not_covered` is what reports say of a subscription a snapshot lacks;
                        // in a snapshot it would claim coverage while saying there is none.
                        for (i, c) in s.iter().enumerate() {
                            if c.status == ScopeStatus::NotCovered {
                                problems.push(Problem::at(
                                    format!("$.scopes[{i}].status"),
                                    "`not_covered` is a report status; a snapshot leaves a subscription it does not cover out of `scopes`",
                                ));
                            }
                        }
                        s
                    }
                    Err(e) => {
                        problems.push(Problem::at("$.scopes", e.to_string()));
                        Vec::new()
                    }
                },
                Err(p) => {
                    problems.push(p);
                    Vec::new()
                }
            },
        };
        let directory = match raw.directory {
            None | Some(Value::Null) => Directory::default(),
            Some(v) => match serde_json::from_value::<Directory>(v) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(Problem {
                        json_path: "$.directory".into(),
                        message: e.to_string(),
                        position: None,
                    });
                    Directory::default()
                }
            },
        };
        let raw_resources = raw.resources.unwrap_or_default();
        let positions = positions(bytes, &raw_resources);
        let parsed: Vec<Result<Value, Problem>> = raw_resources
            .par_iter()
            .enumerate()
            .map(|(i, raw)| {
                let json_path = format!("$.resources[{i}]");
                let value = piece(raw, &json_path)?;
                check_resource(&value, &json_path).map_err(|mut p| {
                    let offset =
                        (raw.get().as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
                    p.position = Some(crate::strict_json::line_column(bytes, offset));
                    p
                })?;
                Ok(value)
            })
            .collect();
        let mut resources = Vec::with_capacity(parsed.len());
        for item in parsed {
            match item {
                Ok(v) => resources.push(v),
                Err(p) => problems.push(p),
            }
        }
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        Ok(Snapshot {
            amlaudit_snapshot: SNAPSHOT_VERSION,
            collected_at,
            tenant_id: raw.tenant_id,
            cloud: raw.cloud.unwrap_or_else(default_cloud),
            scopes,
            resources,
            directory,
            positions,
        })
    }

    /// Coverage of one subscription (GUID compared case-insensitively).
    pub fn coverage(&self, subscription_id: &str) -> Option<&ScopeCoverage> {
        self.scopes
            .iter()
            .find(|s| s.subscription_id.eq_ignore_ascii_case(subscription_id))
    }

    /// Whether every covered scope was read completely.
    pub fn is_complete(&self) -> bool {
        self.scopes
            .iter()
            .all(|s| s.status == ScopeStatus::Complete)
    }

    /// Serialises to pretty JSON.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self)
            .expect("a snapshot holds JSON values and string-keyed maps, which always serialise");
        out.push(b'\n');
        out
    }
}

/// Where each resource of a snapshot file is written, index for index with its `resources`
/// (for bytes this build wrote itself, such as a live scan's saved snapshot). Only the raw
/// structure is parsed; resources are not turned into values.
pub fn resource_positions(bytes: &[u8]) -> Vec<Option<TextPosition>> {
    #[derive(Deserialize)]
    struct Resources<'a> {
        #[serde(default, borrow)]
        resources: Option<Vec<&'a RawValue>>,
    }
    match serde_json::from_slice::<Resources<'_>>(bytes) {
        Ok(raw) => positions(bytes, &raw.resources.unwrap_or_default()),
        Err(_) => Vec::new(),
    }
}

/// The position of each raw resource's `"id"` key (or of its opening brace when it has no
/// top-level `id`). The raw values borrow from `bytes`, so their byte offsets are known without
/// a search; line numbers come from one pass over the bytes, in file order.
fn positions(bytes: &[u8], raw: &[&RawValue]) -> Vec<Option<TextPosition>> {
    let base = bytes.as_ptr() as usize;
    let offsets: Vec<Option<usize>> = raw
        .par_iter()
        .map(|r| {
            let text = r.get();
            let start = (text.as_ptr() as usize).checked_sub(base)?;
            (start + text.len() <= bytes.len()).then(|| start + id_key_offset(text).unwrap_or(0))
        })
        .collect();
    let mut line = 1usize;
    let mut line_start = 0usize;
    let mut cursor = 0usize;
    offsets
        .into_iter()
        .map(|offset| {
            let offset = offset?;
            if offset < cursor {
                return None;
            }
            for (i, b) in bytes[cursor..offset].iter().enumerate() {
                if *b == b'\n' {
                    line += 1;
                    line_start = cursor + i + 1;
                }
            }
            cursor = offset;
            let column = String::from_utf8_lossy(&bytes[line_start..offset])
                .encode_utf16()
                .count()
                + 1;
            Some(TextPosition { line, column })
        })
        .collect()
}

/// The byte offset of the top-level `"id"` key in one JSON object's text.
fn id_key_offset(object: &str) -> Option<usize> {
    let bytes = object.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    // At depth 1, a string that follows `{` or `,` is a key.
    let mut expect_key = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if depth == 1 && expect_key && &bytes[start..(i + 1).min(bytes.len())] == b"\"id\""
                {
                    return Some(start);
                }
                expect_key = false;
            }
            b'{' | b'[' => {
                depth += 1;
                expect_key = bytes[i] == b'{' && depth == 1;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => expect_key = depth == 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// A resource must be an object with a string `id` and a string `type`.
pub fn check_resource(value: &Value, json_path: &str) -> Result<(), Problem> {
    let Some(obj) = value.as_object() else {
        return Err(Problem::at(
            json_path.to_string(),
            "a resource must be a JSON object",
        ));
    };
    for key in ["id", "type"] {
        match obj.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(_) => {
                return Err(Problem::at(
                    format!("{json_path}.{key}"),
                    format!("`{key}` must be a non-empty string"),
                ));
            }
            None => {
                return Err(Problem::at(
                    json_path,
                    format!("missing `{key}`: every resource needs an ARM `id` and `type`"),
                ));
            }
        }
    }
    if obj
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.starts_with('/'))
    {
        return Err(Problem::at(
            format!("{json_path}.id"),
            "an ARM id starts with `/`",
        ));
    }
    // An assignment that cannot be attributed to a principal and a role could grant anyone
    // anything; rather than drop it, refuse the snapshot.
    if resource_type(value) == super::types::ROLE_ASSIGNMENT {
        for key in ["principalId", "roleDefinitionId"] {
            let ok = value
                .pointer(&format!("/properties/{key}"))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty());
            if !ok {
                return Err(Problem::at(
                    format!("{json_path}.properties.{key}"),
                    format!("a role assignment needs a non-empty `properties.{key}`"),
                ));
            }
        }
    }
    Ok(())
}

/// serde_json appends " at line L column C"; the error type already carries both.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The normalised type of a resource (`microsoft.containerregistry/registries`).
pub fn resource_type(value: &Value) -> String {
    value
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// The normalised id of a resource.
pub fn resource_id(value: &Value) -> String {
    ids::normalize(value.get("id").and_then(Value::as_str).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_point_at_each_resources_id_key() {
        let text = "{\"amlaudit_snapshot\": 1, \"collected_at\": \"2026-01-01T00:00:00Z\",\n \"resources\": [\n  {\"type\": \"a/b\", \"properties\": {\"id\": \"x\", \"s\": \"\\\"id\\\"\"},\n   \"id\": \"/r/1\"},\n  {\"id\": \"/r/é\", \"type\": \"a/b\"}, {\"type\": \"a/b\", \"id\": \"/r/3\"}\n]}\n";
        let snapshot = Snapshot::from_slice(Path::new("s.json"), text.as_bytes()).unwrap();
        let at = |line, column| Some(TextPosition { line, column });
        // The first resource's nested `id` and the escaped one in a string do not count.
        assert_eq!(snapshot.positions, vec![at(4, 4), at(5, 4), at(5, 50)]);
        assert_eq!(resource_positions(text.as_bytes()), snapshot.positions);
    }
}
