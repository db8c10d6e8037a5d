//! A rule's `result` document decoded into a [`RuleResult`]: its status, message, evidence and
//! remediation steps (typed edits, or a legacy `argv` kept as a manual step). A result with a field
//! the contract does not have is malformed, so a misspelt `evidence` is an error, not a silently
//! empty list.

use serde_json::Value;

use super::Rule;
use crate::findings::{Remediation, RuleResult, Status};
use crate::fixes::Edit;
use crate::ids;

pub(super) fn base_result(rule: &Rule, resource: &Value) -> RuleResult {
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ty = resource
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let workspace_id = ty
        .to_ascii_lowercase()
        .starts_with(crate::inventory::types::WORKSPACE)
        .then(|| ids::workspace_of(id))
        .flatten()
        .map(str::to_string);
    RuleResult {
        rule_id: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        severity: rule.meta.severity,
        status: Status::Unknown,
        resource_id: id.to_string(),
        resource_type: ty.to_string(),
        resource_name: resource
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_else(|| ids::short_name(id))
            .to_string(),
        subscription_id: ids::subscription_of(id),
        resource_group: ids::resource_group_of(id).map(str::to_string),
        workspace_id,
        message: String::new(),
        evidence: Vec::new(),
        remediation: Vec::new(),
        exemption: None,
        baseline: None,
        location: None,
        fix: None,
    }
}

/// The fields of a `result` document; any other is a mistake in the rule.
const RESULT_FIELDS: [&str; 4] = ["status", "message", "evidence", "remediation"];

pub(super) fn fill_from_output(
    result: &mut RuleResult,
    output: &Value,
    inventory: Option<&dyn crate::inventory::InventoryView>,
) -> Result<(), String> {
    let obj = output
        .as_object()
        .ok_or_else(|| format!("`result` must be an object, got {output}"))?;
    if let Some(unknown) = obj.keys().find(|k| !RESULT_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "`result` has a field `{unknown}` the result contract does not have ({})",
            RESULT_FIELDS.join(", ")
        ));
    }
    let status = obj
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    result.status = match Status::parse(status) {
        Some(s) if !matches!(s, Status::Exempt | Status::Error) => s,
        _ => {
            return Err(format!(
                "`status` must be pass, fail, unknown or not_applicable, got {:?}",
                obj.get("status")
            ));
        }
    };
    result.message = obj
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .ok_or("`message` must be a non-empty string")?
        .to_string();
    if let Some(evidence) = obj.get("evidence") {
        result.evidence = evidence
            .as_array()
            .ok_or("`evidence` must be an array")?
            .clone();
    }
    if let Some(fixes) = obj.get("remediation") {
        let fixes = fixes.as_array().ok_or("`remediation` must be an array")?;
        let mut edits: Vec<Edit> = Vec::with_capacity(fixes.len());
        for (i, fix) in fixes.iter().enumerate() {
            let step = decode_step(i, fix, &edits, inventory)?;
            edits.push(step.edit.clone());
            result.remediation.push(step);
        }
    }
    if result.status == Status::Fail && result.remediation.is_empty() {
        return Err("a `fail` result must carry remediation".to_string());
    }
    Ok(())
}

/// One remediation step: `{"description", "edit": {"kind", ...}}`, or a legacy
/// `{"description", "argv": [...]}` kept as a manual step. `earlier` holds the result's previous
/// steps, which `principal_from_step` may name.
fn decode_step(
    i: usize,
    fix: &Value,
    earlier: &[Edit],
    inventory: Option<&dyn crate::inventory::InventoryView>,
) -> Result<Remediation, String> {
    let obj = fix
        .as_object()
        .ok_or_else(|| format!("remediation[{i}] must be an object, got {fix}"))?;
    let description = obj
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(edit) = obj.get("edit") {
        let edit: Edit = serde_json::from_value(edit.clone())
            .map_err(|e| format!("remediation[{i}].edit: {e}"))?;
        edit.validate(earlier)
            .map_err(|e| format!("remediation[{i}].edit ({}): {e}", edit.kind()))?;
        if description.trim().is_empty() {
            return Err(format!(
                "remediation[{i}].description must be a non-empty string"
            ));
        }
        return Ok(Remediation::from_edit(description, edit, inventory));
    }
    let argv: Vec<String> = obj
        .get("argv")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            format!("remediation[{i}] must carry an `edit` (or, as rules written before edits did, a non-empty `argv` array of strings)")
        })?;
    Ok(Remediation::legacy(description, argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(output: Value) -> Result<RuleResult, String> {
        let mut result = crate::test_support::result(
            "CORP001",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/a",
            Status::Unknown,
        );
        result.message.clear();
        fill_from_output(&mut result, &output, None).map(|()| result)
    }

    #[test]
    fn a_result_holds_the_contract_fields_and_nothing_else() {
        let ok = decoded(serde_json::json!({
            "status": "pass", "message": "fine", "evidence": [{"a": 1}],
        }))
        .unwrap();
        assert_eq!((ok.status, ok.message.as_str()), (Status::Pass, "fine"));
        assert_eq!(ok.evidence.len(), 1);

        // A misspelt field would otherwise vanish (an empty evidence list, a lost fix).
        let err = decoded(serde_json::json!({
            "status": "pass", "message": "fine", "evidance": [{"a": 1}],
        }))
        .unwrap_err();
        assert!(err.contains("a field `evidance`"), "{err}");

        let err = decoded(serde_json::json!({"status": "fail", "message": "broken"})).unwrap_err();
        assert!(err.contains("must carry remediation"), "{err}");
        let err = decoded(serde_json::json!({"status": "exempt", "message": "m"})).unwrap_err();
        assert!(err.contains("`status` must be"), "{err}");
    }
}
