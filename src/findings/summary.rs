//! Totals of a set of results: by status, by rule, and the scopes not read completely. The
//! report carries them and the gate decides from them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{RuleResult, Status};
use crate::findings::RuleMeta;
use crate::inventory::ScopeCoverage;

/// Counts of results by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub unknown: usize,
    pub not_applicable: usize,
    #[serde(default)]
    pub exempt: usize,
    /// Pairs a rule could not evaluate; any makes the scan exit 2. Left out of the JSON when zero,
    /// so reports without errors read as before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Counts {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Unknown => self.unknown += 1,
            Status::NotApplicable => self.not_applicable += 1,
            Status::Exempt => self.exempt += 1,
            Status::Error => self.error += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.pass + self.fail + self.unknown + self.not_applicable + self.exempt + self.error
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
            .filter(|c| {
                matches!(
                    c.status,
                    crate::inventory::ScopeStatus::Partial | crate::inventory::ScopeStatus::Failed
                )
            })
            .map(|c| c.subscription_id.clone())
            .collect();
        s
    }
}
