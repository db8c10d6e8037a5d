//! Proof of fixes: every failing result's remediation is applied to a copy-on-write overlay of the
//! inventory ([`crate::fixes::overlay`]) and its rule evaluated again on that resource, with the
//! permission builtins seeing the role assignments the fix adds. The verdict is the result's
//! [`FixCheck`]; only steps of a fix that `closes` its result stay `automatic`.

use rayon::prelude::*;

use super::{Evaluator, builtins, evaluate_one, input};
use crate::findings::{Edit, FixCheck, RuleResult, Status, Verified};
use crate::fixes::overlay::{ApplyError, Overlay};
use crate::inventory::{Inventory, InventoryView};

impl Evaluator {
    /// Proves the fix of every result that carries remediation, in parallel, and records the
    /// verdict on it. A rule that cannot be evaluated on the fixed inventory leaves its fix
    /// `not_verified` (with the error) rather than stopping the scan.
    pub fn prove_fixes(&self, inventory: &Inventory, results: &mut [RuleResult]) {
        let todo: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.remediation.is_empty())
            .map(|(i, _)| i)
            .collect();
        let checks: Vec<(usize, FixCheck)> = todo
            .par_iter()
            .with_min_len(64)
            .map_init(
                || self.workers(),
                |workers, &i| (i, self.prove_one(workers, inventory, &results[i])),
            )
            .collect();
        for (i, check) in checks {
            let result = &mut results[i];
            if check.verified != Verified::Closes {
                for step in &mut result.remediation {
                    step.automatic = false;
                }
            }
            result.fix = Some(check);
        }
    }

    fn prove_one(
        &self,
        (engines, machines): &mut super::Workers,
        inventory: &Inventory,
        result: &RuleResult,
    ) -> FixCheck {
        let check = |verified, detail: String| FixCheck { verified, detail };
        if result.status != Status::Fail {
            return check(
                Verified::NotVerified,
                format!(
                    "only failing results are proven; this one is {}",
                    result.status
                ),
            );
        }
        let Some(ri) = self.rules.iter().position(|r| r.meta.id == result.rule_id) else {
            return check(Verified::NotVerified, "the rule is not loaded".to_string());
        };
        let edits: Vec<&Edit> = result.remediation.iter().map(|s| &s.edit).collect();
        if let Some(step) = edits.iter().position(|e| e.is_manual()) {
            return check(
                Verified::NotVerified,
                format!("step {step} is manual, so amlaudit cannot apply the fix and prove it"),
            );
        }
        let mut overlay = Overlay::new(inventory);
        match overlay.apply_all(&edits) {
            Ok(()) => {}
            Err(e @ ApplyError::Rejected { .. }) => {
                return check(Verified::DoesNotClose, e.to_string());
            }
            Err(e @ ApplyError::Manual { .. }) => {
                return check(Verified::NotVerified, e.to_string());
            }
        }
        let Some(resource) = overlay.resource(&result.resource_id) else {
            return check(
                Verified::NotVerified,
                "the resource is not in the inventory".to_string(),
            );
        };
        let doc = regorus::Value::from(input::input_for(&overlay, resource));
        let rule = &self.rules[ri];
        let after = builtins::with_extra_assignments(overlay.assignments(), || {
            evaluate_one(
                &mut engines[ri],
                self.vm_run(machines, ri),
                rule,
                &self.queries[ri],
                &self.declared_at[ri],
                &overlay,
                resource,
                &doc,
            )
        });
        let uncertain = overlay.uncertain();
        let caveat = if uncertain.is_empty() {
            String::new()
        } else {
            format!("; but {}", uncertain.join("; "))
        };
        match after {
            Err(e) => check(
                Verified::NotVerified,
                format!("the rule could not be evaluated with the fix applied: {e}"),
            ),
            Ok(None) => check(
                if uncertain.is_empty() {
                    Verified::Closes
                } else {
                    Verified::Partial
                },
                format!("with the fix applied the rule no longer applies to the resource{caveat}"),
            ),
            Ok(Some(after)) => {
                let verified = match after.status {
                    Status::Pass | Status::NotApplicable if uncertain.is_empty() => {
                        Verified::Closes
                    }
                    Status::Pass | Status::NotApplicable | Status::Unknown | Status::Error => {
                        Verified::Partial
                    }
                    Status::Fail | Status::Exempt => Verified::DoesNotClose,
                };
                check(
                    verified,
                    format!(
                        "with the fix applied: {}: {}{caveat}",
                        after.status, after.message
                    ),
                )
            }
        }
    }
}
