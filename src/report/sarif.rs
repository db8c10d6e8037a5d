//! The SARIF 2.1.0 report (`findings.sarif`), shaped for GitHub code scanning.
//!
//! GitHub rejects results without a physical location and cannot point into Azure, so every
//! result points at the resource's own object in the file it is written in: the snapshot (the
//! line and column of its `"id"`, found when the snapshot was read) or, for a planned resource of
//! `scan --template`, the template; line 1 of the snapshot when the position is not known. Every
//! result names the resource in a `logicalLocations` entry of kind `resource`. Rules carry
//! `defaultConfiguration.level` and `properties.security-severity` (GitHub's severity buckets),
//! and each result a `partialFingerprints` entry computed from (rule id, normalised resource id)
//! only, so an alert keeps its identity across runs even when the message changes.
//!
//! Failures are results of their rule. Unknown results are results too, because each is a task
//! (find the missing assignment, membership or subscription): they go under a companion rule
//! `<id>/unknown` at level `warning`, without a `security-severity` (so GitHub shows them as
//! warnings, not as security alerts of the rule's severity), and with a fingerprint of their own,
//! so dismissing an unknown alert can never dismiss the failure the same pair may turn into.
//! Exempt results are left out because GitHub ignores SARIF suppressions; passes and
//! not-applicable pairs are not alerts. A pair a rule could not evaluate is a
//! `toolExecutionNotifications` entry of level `error` on the run's invocation, which then says
//! `executionSuccessful: false`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};
use sha2::{Digest, Sha256};

use super::Report;
use crate::findings::RuleMeta;
use crate::findings::review::BaselineState;
use crate::findings::{RuleResult, Severity, Status};

/// The `$schema` written into the log.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The `partialFingerprints` key; bump the version if the fingerprint's inputs ever change.
pub const FINGERPRINT_KEY: &str = "amlauditFinding/v1";

/// The suffix of the companion rule that carries a rule's unknown results.
pub const UNKNOWN_RULE_SUFFIX: &str = "/unknown";

/// The SARIF level of an unknown result: a possible violation the gate does not accept by
/// default (exit 3), so as visible as a warning, but below a proven high-severity failure.
pub const UNKNOWN_LEVEL: &str = "warning";

/// SARIF level for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn result_level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low => ResultLevel::Note,
    }
}

/// GitHub's `security-severity`: above 9.0 is critical, 7.0 to 8.9 high, 4.0 to 6.9 medium,
/// below that low.
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// The stable identity of a finding: a hash of the rule id and the normalised resource id. An
/// unknown result hashes its status too, so it is a different alert from the pair's failure.
pub fn fingerprint(result: &RuleResult) -> String {
    let (rule, resource) = result.key();
    let input = match result.status {
        Status::Unknown => format!("{rule}\n{resource}\nunknown"),
        _ => format!("{rule}\n{resource}"),
    };
    let digest = Sha256::digest(input.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The snapshot path as a URI reference: relative paths stay relative (GitHub resolves them
/// against the repository root), with anything that is not allowed in a URI percent-encoded.
fn artifact_uri(path: &str) -> String {
    let trimmed = path.strip_prefix("./").unwrap_or(path);
    let as_path = Path::new(trimmed);
    if as_path.is_absolute() {
        return url::Url::from_file_path(as_path)
            .map(String::from)
            .unwrap_or_else(|()| trimmed.to_string());
    }
    // The url crate only encodes absolute paths; encode under `/` and strip it again.
    match url::Url::from_file_path(Path::new("/").join(as_path)) {
        Ok(url) => url
            .as_str()
            .strip_prefix("file:///")
            .unwrap_or(trimmed)
            .to_string(),
        Err(()) => trimmed.to_string(),
    }
}

fn text(s: impl Into<String>) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s.into()).build()
}

fn descriptor(rule: &RuleMeta) -> ReportingDescriptor {
    let mut help = rule.remediation.clone();
    if !rule.references.is_empty() {
        help.push_str("\n\nReferences:");
        for r in &rule.references {
            help.push_str("\n- ");
            help.push_str(r);
        }
    }
    let mut tags = vec!["security".to_string(), "azure".to_string()];
    tags.extend(rule.frameworks.iter().cloned());
    let mut props = BTreeMap::new();
    props.insert(
        "security-severity".to_string(),
        json!(security_severity(rule.severity)),
    );
    props.insert("precision".to_string(), json!("high"));
    props.insert("resource-type".to_string(), json!(rule.resource_type));
    let builder = ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(rule.name.clone())
        .short_description(text(rule.title.clone()))
        .full_description(text(rule.description.clone()))
        .help(text(help))
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level(rule.severity)))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(tags)
                .additional_properties(props)
                .build(),
        );
    match rule.references.first() {
        Some(uri) => builder.help_uri(uri.clone()).build(),
        None => builder.build(),
    }
}

/// The companion rule of `rule` that carries its unknown results.
fn unknown_descriptor(rule: &RuleMeta) -> ReportingDescriptor {
    let mut tags = vec!["azure".to_string(), "unknown".to_string()];
    tags.extend(rule.frameworks.iter().cloned());
    let mut props = BTreeMap::new();
    props.insert("resource-type".to_string(), json!(rule.resource_type));
    props.insert("undecided-rule".to_string(), json!(rule.id));
    let builder = ReportingDescriptor::builder()
        .id(format!("{}{UNKNOWN_RULE_SUFFIX}", rule.id))
        .name(format!("{}-undecided", rule.name))
        .short_description(text(format!("{} (could not be decided)", rule.title)))
        .full_description(text(format!(
            "{} could not decide this resource: something it needs is not in the snapshot (a role assignment or definition, a group membership, an ABAC condition, a key vault's permission model, a subscription that was not read). The message says what; once that is collected the result becomes a pass or a failure of {}.",
            rule.id, rule.id
        )))
        .help(text(
            "Collect what the message names (for example include the subscription with `amlaudit collect --subscription`, or grant the reader access to role assignments there) and scan again.".to_string(),
        ))
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(UNKNOWN_LEVEL))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(tags)
                .additional_properties(props)
                .build(),
        );
    match rule.references.first() {
        Some(uri) => builder.help_uri(uri.clone()).build(),
        None => builder.build(),
    }
}

/// A rule that produced results but is not in the report's registry (a report assembled by
/// hand): described from its first result, so every `ruleIndex` stays valid.
fn stand_in(result: &RuleResult) -> RuleMeta {
    RuleMeta {
        id: result.rule_id.clone(),
        name: result.rule_id.to_ascii_lowercase(),
        title: result.title.clone(),
        description: result.title.clone(),
        severity: result.severity,
        resource_type: result.resource_type.clone(),
        remediation: String::new(),
        references: vec![],
        frameworks: vec![],
    }
}

fn result(r: &RuleResult, rule_index: usize, snapshot_uri: &str) -> SarifResult {
    let mut message = r.message.clone();
    let fixes: Vec<&str> = r.remediation.iter().map(|f| f.command.as_str()).collect();
    if !fixes.is_empty() {
        message.push_str("\n\nFix:\n");
        message.push_str(&fixes.join("\n"));
    }
    // The resource's object in the file it is written in (the snapshot, or a template).
    let physical = match &r.location {
        Some(at) => PhysicalLocation::builder()
            .artifact_location(
                ArtifactLocation::builder()
                    .uri(artifact_uri(&at.file))
                    .build(),
            )
            .region(
                Region::builder()
                    .start_line(at.line.max(1) as i64)
                    .start_column(at.column.max(1) as i64)
                    .build(),
            )
            .build(),
        None => PhysicalLocation::builder()
            .artifact_location(
                ArtifactLocation::builder()
                    .uri(snapshot_uri.to_string())
                    .build(),
            )
            .region(Region::builder().start_line(1).build())
            .build(),
    };
    let location = Location::builder()
        .physical_location(physical)
        .logical_locations(vec![
            LogicalLocation::builder()
                .kind("resource")
                .name(r.resource_name.clone())
                .fully_qualified_name(r.resource_id.clone())
                .build(),
        ])
        .build();
    let mut props = BTreeMap::new();
    props.insert("severity".to_string(), json!(r.severity.as_str()));
    props.insert("resource-type".to_string(), json!(r.resource_type));
    if let Some(sub) = &r.subscription_id {
        props.insert("subscription-id".to_string(), json!(sub));
    }
    let (rule_id, level) = match r.status {
        Status::Unknown => (
            format!("{}{UNKNOWN_RULE_SUFFIX}", r.rule_id),
            ResultLevel::Warning,
        ),
        _ => (r.rule_id.clone(), result_level(r.severity)),
    };
    props.insert("status".to_string(), json!(r.status.as_str()));
    // Whether the fix in the message was proven to close the result (closes, partial,
    // does_not_close, not_verified), and why.
    if let Some(fix) = &r.fix {
        props.insert("fix-verified".to_string(), json!(fix.verified.as_str()));
        props.insert("fix-verified-detail".to_string(), json!(fix.detail));
    }
    let builder = SarifResult::builder()
        .rule_id(rule_id)
        .rule_index(rule_index as i64)
        .level(level)
        .message(Message::builder().text(message).build())
        .locations(vec![location])
        .partial_fingerprints(BTreeMap::from([(
            FINGERPRINT_KEY.to_string(),
            fingerprint(r),
        )]))
        .properties(PropertyBag::builder().additional_properties(props).build());
    match r.baseline {
        Some(BaselineState::Baselined) => builder.baseline_state(json!("unchanged")).build(),
        Some(_) => builder.baseline_state(json!("new")).build(),
        None => builder.build(),
    }
}

/// The SARIF log for a report.
pub fn to_sarif(report: &Report) -> Sarif {
    let mut rules: Vec<RuleMeta> = report.rules.clone();
    for r in &report.results {
        if !rules.iter().any(|m| m.id == r.rule_id) {
            rules.push(stand_in(r));
        }
    }
    let mut descriptors: Vec<ReportingDescriptor> = rules.iter().map(descriptor).collect();
    let mut index: BTreeMap<(&str, bool), usize> = rules
        .iter()
        .enumerate()
        .map(|(i, m)| ((m.id.as_str(), false), i))
        .collect();
    // Companion rules only for rules that have unknown results, after the rules themselves, so
    // the rule indexes of failures do not depend on what is unknown.
    for m in &rules {
        if report
            .results
            .iter()
            .any(|r| r.status == Status::Unknown && r.rule_id == m.id)
        {
            index.insert((m.id.as_str(), true), descriptors.len());
            descriptors.push(unknown_descriptor(m));
        }
    }
    let uri = artifact_uri(&report.snapshot.path);
    let (index, uri) = (&index, uri.as_str());
    let alerts = move |status: Status| {
        report
            .results
            .iter()
            .filter(move |r| r.status == status)
            .map(move |r| {
                let key = (r.rule_id.as_str(), status == Status::Unknown);
                result(r, index.get(&key).copied().unwrap_or(0), uri)
            })
    };
    let results: Vec<SarifResult> = alerts(Status::Fail)
        .chain(alerts(Status::Unknown))
        .collect();
    let driver = ToolComponent::builder()
        .name("amlaudit")
        .full_name(format!("amlaudit {}", report.tool_version))
        .version(report.tool_version.clone())
        .semantic_version(report.tool_version.clone())
        .rules(descriptors)
        .build();
    let mut run_props = BTreeMap::new();
    run_props.insert("snapshot-sha256".to_string(), json!(report.snapshot.sha256));
    run_props.insert(
        "snapshot-collected-at".to_string(),
        json!(report.snapshot.collected_at),
    );
    if !report.summary.incomplete_scopes.is_empty() {
        run_props.insert(
            "incomplete-scopes".to_string(),
            json!(report.summary.incomplete_scopes),
        );
    }
    let notifications: Vec<Notification> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Error)
        .map(|r| {
            Notification::builder()
                .message(
                    Message::builder()
                        .text(format!("{} on {}: {}", r.rule_id, r.resource_id, r.message))
                        .build(),
                )
                .level(json!("error"))
                .build()
        })
        .collect();
    let invocation = Invocation::builder()
        .execution_successful(notifications.is_empty())
        .tool_execution_notifications(notifications)
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .column_kind(json!("utf16CodeUnits"))
        .invocations(vec![invocation])
        .results(results)
        .properties(
            PropertyBag::builder()
                .additional_properties(run_props)
                .build(),
        )
        .build();
    Sarif::builder()
        .schema(SCHEMA.to_string())
        .version(Value::from("2.1.0"))
        .runs(vec![run])
        .build()
}

pub fn render(report: &Report) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(&to_sarif(report))
        .expect("a SARIF log holds only strings, numbers and maps, which always serialise");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded_and_relative_stays_relative() {
        assert_eq!(
            artifact_uri("fixtures/demo-tenant.json"),
            "fixtures/demo-tenant.json"
        );
        assert_eq!(artifact_uri("./a b/s#1.json"), "a%20b/s%231.json");
        assert_eq!(artifact_uri("/tmp/s.json"), "file:///tmp/s.json");
    }

    #[test]
    fn severities_land_in_githubs_buckets() {
        let bucket = |s: Severity| security_severity(s).parse::<f64>().unwrap();
        assert!(bucket(Severity::Critical) > 9.0);
        assert!((7.0..9.0).contains(&bucket(Severity::High)));
        assert!((4.0..7.0).contains(&bucket(Severity::Medium)));
        assert!((0.1..4.0).contains(&bucket(Severity::Low)));
    }
}
