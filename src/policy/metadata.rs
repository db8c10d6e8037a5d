//! Rule METADATA: the `# METADATA` YAML comment block above a rule's `package` line.
//!
//! regorus parses these comments but offers no `rego.metadata.*` builtins, so amlaudit reads
//! them itself. They are the rule registry: id, name, title, severity, resource type, description,
//! remediation and references all come from here and nowhere else.

use std::path::Path;

use serde::Deserialize;

use crate::findings::Severity;

pub use crate::findings::RuleMeta;

// OPA's other METADATA fields are accepted (and ignored) so rules written for OPA load unchanged.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RawMeta {
    title: Option<String>,
    description: Option<String>,
    #[serde(default)]
    related_resources: Vec<RawRelated>,
    #[serde(default)]
    custom: Option<RawCustom>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    authors: Option<serde_norway::Value>,
    #[serde(default)]
    organizations: Option<serde_norway::Value>,
    #[serde(default)]
    schemas: Option<serde_norway::Value>,
    #[serde(default)]
    entrypoint: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRelated {
    Ref { r#ref: String },
    Plain(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustom {
    id: Option<String>,
    name: Option<String>,
    severity: Option<String>,
    resource_type: Option<String>,
    remediation: Option<String>,
    #[serde(default)]
    frameworks: Vec<String>,
}

/// Extracts the YAML of the first `# METADATA` block, with the line it starts on.
pub fn metadata_block(source: &str) -> Option<(usize, String)> {
    let mut lines = source.lines().enumerate();
    let (start, _) = lines.find(|(_, l)| l.trim() == "# METADATA")?;
    let mut yaml = String::new();
    for (_, line) in lines {
        let trimmed = line.trim_start();
        let Some(comment) = trimmed.strip_prefix('#') else {
            break;
        };
        yaml.push_str(comment.strip_prefix(' ').unwrap_or(comment));
        yaml.push('\n');
    }
    Some((start + 1, yaml))
}

/// Where a YAML error in the METADATA block is in the `.rego` file: the block's YAML line `k` is
/// file line `block_line + k`, and its columns are shifted by the `#` (and one space) removed
/// from the comment. Without a location, the `# METADATA` line itself.
fn yaml_error_position(source: &str, block_line: usize, e: &serde_norway::Error) -> (usize, usize) {
    let Some(location) = e.location() else {
        return (block_line, 1);
    };
    let file_line = block_line + location.line();
    let prefix = source.lines().nth(file_line - 1).map_or(0, |l| {
        let indent = l.len() - l.trim_start().len();
        let after_hash = &l.trim_start()[1.min(l.trim_start().len())..];
        indent + 1 + usize::from(after_hash.starts_with(' '))
    });
    (file_line, location.column() + prefix)
}

/// Reads and checks a rule's METADATA. Every missing field is reported at once.
pub fn parse(file: &Path, source: &str) -> Result<RuleMeta, String> {
    let Some((line, yaml)) = metadata_block(source) else {
        return Err(format!(
            "{}: no `# METADATA` block above the package; a rule needs title, description, custom.id, custom.severity, custom.resource_type and custom.remediation",
            file.display()
        ));
    };
    let raw: RawMeta = serde_norway::from_str(&yaml).map_err(|e| {
        let (at_line, at_column) = yaml_error_position(source, line, &e);
        let message = e.to_string();
        // The YAML-relative " at line L column C" is replaced by the file's position.
        let message = match message.rfind(" at line ") {
            Some(i) => &message[..i],
            None => &message,
        };
        format!(
            "{}:{at_line}:{at_column}: METADATA is not valid: {message}",
            file.display()
        )
    })?;
    let custom = raw.custom.unwrap_or(RawCustom {
        id: None,
        name: None,
        severity: None,
        resource_type: None,
        remediation: None,
        frameworks: Vec::new(),
    });
    let mut missing = Vec::new();
    let mut need = |v: Option<String>, name: &str| {
        let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if v.is_none() {
            missing.push(name.to_string());
        }
        v.unwrap_or_default()
    };
    let title = need(raw.title, "title");
    let description = need(raw.description, "description");
    let id = need(custom.id, "custom.id");
    let severity_text = need(custom.severity, "custom.severity");
    let resource_type = need(custom.resource_type, "custom.resource_type");
    let remediation = need(custom.remediation, "custom.remediation");
    if !missing.is_empty() {
        return Err(format!(
            "{}:{}: METADATA lacks {}",
            file.display(),
            line,
            missing.join(", ")
        ));
    }
    let severity = Severity::parse(&severity_text).ok_or_else(|| {
        format!(
            "{}:{}: custom.severity `{severity_text}` is not one of critical, high, medium, low",
            file.display(),
            line
        )
    })?;
    if !resource_type.contains('/') {
        return Err(format!(
            "{}:{}: custom.resource_type `{resource_type}` is not an ARM type such as Microsoft.ContainerRegistry/registries",
            file.display(),
            line
        ));
    }
    let name = custom.name.unwrap_or_else(|| id.to_ascii_lowercase());
    Ok(RuleMeta {
        id,
        name,
        title,
        description: description.split_whitespace().collect::<Vec<_>>().join(" "),
        severity,
        resource_type,
        remediation,
        references: raw
            .related_resources
            .into_iter()
            .map(|r| match r {
                RawRelated::Ref { r#ref } => r#ref,
                RawRelated::Plain(s) => s,
            })
            .collect(),
        frameworks: custom.frameworks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_block_and_names_missing_fields() {
        let src = "# METADATA\n# title: T\n# description: D\n# custom:\n#   id: X1\n#   severity: high\n#   resource_type: A/b\n#   remediation: R\npackage amlaudit.rules.x\n";
        let m = parse(Path::new("x.rego"), src).unwrap();
        assert_eq!(
            (m.id.as_str(), m.severity, m.resource_type.as_str()),
            ("X1", Severity::High, "A/b")
        );
        let err = parse(Path::new("y.rego"), "# METADATA\n# title: T\npackage p\n").unwrap_err();
        assert!(
            err.contains("y.rego:1: METADATA lacks description, custom.id, custom.severity"),
            "{err}"
        );
        assert!(
            parse(Path::new("z.rego"), "package p\n")
                .unwrap_err()
                .contains("z.rego: no `# METADATA`")
        );
    }

    #[test]
    fn yaml_errors_point_into_the_rego_file() {
        // Line 5 of the file holds the bad value; the YAML error is on its line 3.
        let src = "package before\n\n# METADATA\n# title: T\n# custom: [unclosed\npackage amlaudit.rules.x\n";
        let err = parse(Path::new("x.rego"), src).unwrap_err();
        assert!(
            err.starts_with("x.rego:5:") || err.starts_with("x.rego:6:"),
            "{err}"
        );
        assert!(!err.contains(" at line "), "{err}");
        let src = "# METADATA\n# title: T\n# description: D\n# custom:\n#   id: X1\n#   unknown_key: 1\npackage amlaudit.rules.x\n";
        let err = parse(Path::new("x.rego"), src).unwrap_err();
        assert!(
            err.starts_with("x.rego:6:5: METADATA is not valid"),
            "{err}"
        );
    }
}
