//! How much of the permission engine's evidence a report keeps (`scan --evidence`).
//!
//! A `granted` answer carries every candidate assignment the engine weighed, most of them
//! `does_not_grant` (a Reader at the subscription, a Contributor on another resource group...). On
//! a `pass` result those candidates decided nothing: the assignment that granted did. At tenant
//! scale they are most of the report (issue 17: 37.7 MB of a 64.6 MB HTML page), so by default
//! ([`EvidenceDetail::Compact`]) a `pass` result keeps, in each `granted` answer, only the entries
//! that are not `does_not_grant` (the grant, deny assignments, inconclusive candidates and notes
//! such as the registry's permission mode), and says how many it left out in
//! `evidence_omitted`. Every other answer of a pass (a `denied` or `unknown` one), and every
//! result that is not a pass (`fail`, `unknown`, `error`, `exempt`, `not_applicable`), keeps all
//! of its evidence: there the near misses are what a reader needs to act.
//! [`EvidenceDetail::Full`] keeps everything everywhere.

use serde_json::Value;

use super::{RuleResult, Status};

/// How much evidence reports keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EvidenceDetail {
    /// Pass results keep only the evidence that decided them; every other result keeps all.
    #[default]
    Compact,
    /// Every result keeps every candidate the permission engine weighed.
    Full,
}

/// The key a compacted answer gets: how many `does_not_grant` entries were left out.
pub const OMITTED_KEY: &str = "evidence_omitted";

/// Applies `detail` to every result.
pub fn apply(results: &mut [RuleResult], detail: EvidenceDetail) {
    if detail == EvidenceDetail::Full {
        return;
    }
    for result in results.iter_mut().filter(|r| r.status == Status::Pass) {
        for item in &mut result.evidence {
            compact_answers(item);
        }
    }
}

/// Drops the `does_not_grant` entries of every `granted` answer found in `value`, at any depth
/// (rules nest answers: a key-use check holds one answer per data action).
fn compact_answers(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(compact_answers),
        Value::Object(obj) => {
            let mut omitted = 0;
            if obj.get("decision").and_then(Value::as_str) == Some("granted")
                && let Some(Value::Array(entries)) = obj.get_mut("evidence")
            {
                let before = entries.len();
                entries.retain(|e| {
                    e.get("contribution").and_then(Value::as_str) != Some("does_not_grant")
                });
                omitted = before - entries.len();
            }
            obj.values_mut().for_each(compact_answers);
            if omitted > 0 {
                obj.insert(OMITTED_KEY.to_string(), Value::from(omitted));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn result(status: Status, evidence: Vec<Value>) -> RuleResult {
        let mut r = crate::test_support::result("AML002", "/subscriptions/s/x", status);
        r.evidence = evidence;
        r
    }

    fn answer(decision: &str) -> Value {
        json!({"decision": decision, "summary": "s", "evidence": [
            {"contribution": "grants", "assignment_id": "a1"},
            {"contribution": "does_not_grant", "assignment_id": "a2"},
            {"contribution": "note", "kind": "registry_mode"},
            {"contribution": "does_not_grant", "assignment_id": "a3"},
        ]})
    }

    #[test]
    fn a_pass_keeps_what_granted_and_counts_what_it_left_out() {
        let mut rs = vec![result(
            Status::Pass,
            vec![answer("granted"), answer("denied")],
        )];
        apply(&mut rs, EvidenceDetail::Compact);
        let granted = &rs[0].evidence[0];
        assert_eq!(
            granted["evidence"],
            json!([{"contribution": "grants", "assignment_id": "a1"},
                   {"contribution": "note", "kind": "registry_mode"}])
        );
        assert_eq!(granted[OMITTED_KEY], 2);
        // A denied answer inside a pass decided something too: all of it stays.
        assert_eq!(rs[0].evidence[1], answer("denied"));
    }

    #[test]
    fn nested_answers_are_compacted() {
        let mut rs = vec![result(
            Status::Pass,
            vec![json!({"decision": "granted", "evidence": [answer("granted")]})],
        )];
        apply(&mut rs, EvidenceDetail::Compact);
        assert_eq!(rs[0].evidence[0]["evidence"][0][OMITTED_KEY], 2);
        assert!(rs[0].evidence[0].get(OMITTED_KEY).is_none());
    }

    #[test]
    fn other_statuses_and_full_keep_everything() {
        for status in [
            Status::Fail,
            Status::Unknown,
            Status::Error,
            Status::Exempt,
            Status::NotApplicable,
        ] {
            let mut rs = vec![result(status, vec![answer("granted")])];
            apply(&mut rs, EvidenceDetail::Compact);
            assert_eq!(rs[0].evidence, vec![answer("granted")], "{status}");
        }
        let mut rs = vec![result(Status::Pass, vec![answer("granted")])];
        apply(&mut rs, EvidenceDetail::Full);
        assert_eq!(rs[0].evidence, vec![answer("granted")]);
    }
}
