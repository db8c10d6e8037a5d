//! Evaluating every (rule, resource) pair in parallel: one input document per resource, each rule
//! of its type run on the bytecode VM where it compiled and on the interpreter otherwise, and an
//! `error` result (or, failing fast, the error) for a pair that cannot be evaluated.

use std::sync::Arc;

use rayon::prelude::*;
use regorus::Engine;
use serde_json::Value;

use super::decode::{base_result, fill_from_output};
use super::load::declaration_line;
use super::{Budget, Params, PolicyError, PolicySet, Rule, input, location, vm};
use crate::findings::{RuleResult, Status};
use crate::ids;
use crate::inventory::Inventory;
use crate::permissions::PermissionIndex;

/// A loaded engine and the rules to run: evaluates every (rule, resource) pair in parallel.
pub struct Evaluator {
    /// One engine per rule, in `rules` order.
    engines: Vec<Engine>,
    pub(super) rules: Vec<Rule>,
    /// Per rule: the `applicable` query when the rule declares one, and the `result` query.
    pub(super) queries: Vec<(Option<String>, String)>,
    /// Per rule: where `applicable` and `result` are declared (`file:line`), to place an error
    /// regorus reports without a location (a budget overrun).
    pub(super) declared_at: Vec<(String, String)>,
    /// Stop at the first pair that cannot be evaluated instead of recording an `error` result.
    fail_fast: bool,
    /// Per rule: its bytecode, when it runs on the VM ([`vm`]).
    programs: Vec<Option<vm::RuleProgram>>,
    /// What the VM's host calls answer from.
    index: Arc<PermissionIndex>,
    budget: Budget,
    /// Per rule: pairs the VM left to the interpreter (for `-vv`).
    fallbacks: Vec<std::sync::atomic::AtomicU64>,
}

/// What one (rule, resource) pair gave: no result (not applicable), a result, or an error.
type PairResult = Result<Option<RuleResult>, PolicyError>;

/// One worker's engines and VMs, one of each per rule.
pub(super) type Workers = (Vec<Engine>, Vec<Option<regorus::rvm::vm::RegoVM>>);

/// A rule's VM for one evaluation, with what its host calls answer from.
pub(super) struct VmRun<'a> {
    program: &'a vm::RuleProgram,
    machine: &'a mut regorus::rvm::vm::RegoVM,
    index: &'a PermissionIndex,
    budget: &'a Budget,
    fallbacks: &'a std::sync::atomic::AtomicU64,
}

// Engines are cloned into rayon workers; this fails to compile if regorus stops being Send.
const _: fn() = || {
    fn assert_send<T: Send + Sync>() {}
    assert_send::<Engine>();
};

impl Evaluator {
    pub fn new(
        set: &PolicySet,
        index: Arc<PermissionIndex>,
        params: &Params,
    ) -> Result<Self, PolicyError> {
        // The whole set is compiled once so that problems across modules are reported as a user
        // would expect, then each rule gets an engine of its own.
        drop(set.engine(Arc::clone(&index), params, false)?);
        let mut queries = Vec::with_capacity(set.rules.len());
        let mut engines = Vec::with_capacity(set.rules.len());
        let mut declared_at = Vec::with_capacity(set.rules.len());
        let mut programs = Vec::with_capacity(set.rules.len());
        let use_vm = vm::enabled();
        let data =
            regorus::Value::from(serde_json::json!({"amlaudit": {"params": params.to_json()}}));
        for rule in &set.rules {
            let text = set
                .modules
                .iter()
                .find(|m| m.path == rule.file)
                .map_or("", |m| m.text.as_str());
            let at = |name: &str| match declaration_line(text, name) {
                Some(line) => format!("{}:{line}", rule.file),
                None => rule.file.clone(),
            };
            declared_at.push((at("applicable"), at("result")));
            let mut engine = set.rule_engine(rule, Arc::clone(&index), params)?;
            let declares = |name: &str| {
                engine
                    .has_declared_rule_rooted_at(&rule.file, name)
                    .unwrap_or(false)
            };
            if !declares("result") {
                return Err(PolicyError::Metadata(format!(
                    "{}: rule {} declares no `result`",
                    rule.file, rule.meta.id
                )));
            }
            queries.push((
                declares("applicable").then(|| format!("data.{}.applicable", rule.package)),
                format!("data.{}.result", rule.package),
            ));
            // `print()` output goes to the debug log, never straight to the terminal (and so
            // not at all under `-q`).
            engine.set_gather_prints(true);
            let queries = queries.last().expect("pushed above");
            programs.push(
                (use_vm && rule.bundled)
                    .then(|| vm::compile(&engine, &rule.meta.id, queries, data.clone()))
                    .flatten(),
            );
            engines.push(engine);
        }
        Ok(Evaluator {
            engines,
            rules: set.rules.clone(),
            queries,
            declared_at,
            fail_fast: false,
            fallbacks: programs.iter().map(|_| Default::default()).collect(),
            programs,
            index,
            budget: set.budget,
        })
    }

    /// Every rule on the interpreter, as with `AMLAUDIT_RVM=0`.
    pub fn without_vm(mut self) -> Self {
        self.programs.iter_mut().for_each(|p| *p = None);
        self
    }

    /// The ids of the rules that run on the bytecode VM.
    pub fn rules_on_vm(&self) -> Vec<&str> {
        self.rules
            .iter()
            .zip(&self.programs)
            .filter(|(_, p)| p.is_some())
            .map(|(r, _)| r.meta.id.as_str())
            .collect()
    }

    /// A fresh set of engines and VMs for one rayon worker.
    pub(super) fn workers(&self) -> Workers {
        let machines = self
            .programs
            .iter()
            .map(|p| p.as_ref().map(|p| p.machine(&self.budget)))
            .collect();
        (self.engines.clone(), machines)
    }

    /// Rule `ri`'s VM in `workers`, when it runs on one.
    pub(super) fn vm_run<'a>(
        &'a self,
        machines: &'a mut [Option<regorus::rvm::vm::RegoVM>],
        ri: usize,
    ) -> Option<VmRun<'a>> {
        Some(VmRun {
            program: self.programs[ri].as_ref()?,
            machine: machines[ri].as_mut()?,
            index: &self.index,
            budget: &self.budget,
            fallbacks: &self.fallbacks[ri],
        })
    }

    /// With `true`, [`Evaluator::evaluate`] returns the first evaluation error instead of
    /// recording an `error` result for the pair and going on.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Evaluates every rule on every resource of its type; results sorted by rule and resource.
    pub fn evaluate(&self, inventory: &Inventory) -> Result<Vec<RuleResult>, PolicyError> {
        let mut types: Vec<String> = self
            .rules
            .iter()
            .map(|r| r.meta.resource_type.to_ascii_lowercase())
            .collect();
        types.sort();
        types.dedup();
        // Per type, the rules that read it; the work is every resource of those types. Each
        // resource's input document is built once, used by every rule on its type and dropped,
        // so the scan never holds all the documents at once.
        let rules_of: Vec<Vec<usize>> = types
            .iter()
            .map(|ty| {
                (0..self.rules.len())
                    .filter(|&ri| self.rules[ri].meta.resource_type.eq_ignore_ascii_case(ty))
                    .collect()
            })
            .collect();
        let work: Vec<(usize, usize, &Value)> = types
            .iter()
            .enumerate()
            .flat_map(|(ti, ty)| {
                inventory
                    .of_type(ty)
                    .enumerate()
                    .map(move |(si, r)| (ti, si, r))
            })
            .collect();
        // Time spent per rule, for `-vv`: which rule makes a large scan slow.
        let spent: Vec<std::sync::atomic::AtomicU64> =
            self.rules.iter().map(|_| Default::default()).collect();
        let mut results: Vec<((usize, usize), PairResult)> = work
            .par_iter()
            .with_min_len(256)
            .map_init(
                || self.workers(),
                |(engines, machines), &(ti, si, resource)| {
                    let input = regorus::Value::from(input::input_for(inventory, resource));
                    let mut out = Vec::with_capacity(rules_of[ti].len());
                    for &ri in &rules_of[ti] {
                        let rule = &self.rules[ri];
                        let started = std::time::Instant::now();
                        let result = evaluate_one(
                            &mut engines[ri],
                            self.vm_run(machines, ri),
                            rule,
                            &self.queries[ri],
                            &self.declared_at[ri],
                            inventory,
                            resource,
                            &input,
                        );
                        log_prints(&mut engines[ri], rule, resource);
                        let result = match result {
                            Err(e) if !self.fail_fast => Ok(Some(error_result(rule, resource, &e))),
                            other => other,
                        };
                        spent[ri].fetch_add(
                            started.elapsed().as_nanos() as u64,
                            std::sync::atomic::Ordering::Relaxed,
                        );
                        out.push(((ri, si), result));
                    }
                    out
                },
            )
            .flatten_iter()
            .collect();
        // Rule by rule, each in the inventory's order, as results have always come: the first
        // error --fail-fast reports, and the order of results the sort below finds equal.
        results.sort_by_key(|(at, _)| *at);
        for (rule, nanos) in self.rules.iter().zip(&spent) {
            let busy =
                std::time::Duration::from_nanos(nanos.load(std::sync::atomic::Ordering::Relaxed));
            let ri = self.rules.iter().position(|r| r.meta.id == rule.meta.id);
            let on_vm = ri.is_some_and(|ri| self.programs[ri].is_some());
            let fallbacks = ri.map_or(0, |ri| {
                self.fallbacks[ri].load(std::sync::atomic::Ordering::Relaxed)
            });
            tracing::debug!(rule = %rule.meta.id, ?busy, on_vm, fallbacks, "rule evaluation time (summed over workers)");
        }
        let mut out = Vec::with_capacity(results.len());
        for (_, r) in results {
            if let Some(result) = r? {
                out.push(result);
            }
        }
        out.sort_by_cached_key(|r| (r.rule_id.clone(), ids::normalize(&r.resource_id)));
        Ok(out)
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn evaluate_one(
    engine: &mut Engine,
    vm: Option<VmRun<'_>>,
    rule: &Rule,
    (applicable_query, result_query): &(Option<String>, String),
    (applicable_at, result_at): &(String, String),
    inventory: &dyn crate::inventory::InventoryView,
    resource: &Value,
    input: &regorus::Value,
) -> Result<Option<RuleResult>, PolicyError> {
    let resource_id = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Without a location from regorus (a budget overrun carries none), the error is placed at
    // the declaration of the rule being evaluated.
    let eval_error = |declared_at: String, name: &'static str| {
        move |e: anyhow::Error| {
            let mut message = format!("{e:#}").trim_start().to_string();
            let at = match location(&message) {
                Some(at) => at,
                None => {
                    message.push_str(&format!(" (while evaluating `{name}`)"));
                    declared_at
                }
            };
            PolicyError::Evaluation {
                at,
                file: rule.file.clone(),
                rule_id: rule.meta.id.clone(),
                resource_id: resource_id.to_string(),
                message,
            }
        }
    };
    let on_vm = vm.and_then(|vm| {
        let outcome = vm.program.run(vm.machine, vm.index, vm.budget, input);
        if outcome.is_none() {
            vm.fallbacks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        outcome
    });
    let output = match on_vm {
        Some(vm::Outcome::NotApplicable) => return Ok(None),
        Some(vm::Outcome::Result(output)) => output,
        // Not on the VM, or the VM could not decide: the interpreter does, as it always has.
        None => {
            engine.set_input(input.clone());
            // A declared `applicable` that is false or undefined (its body did not hold) skips
            // the pair.
            if let Some(query) = applicable_query {
                match engine
                    .eval_rule(query.clone())
                    .map_err(eval_error(applicable_at.clone(), "applicable"))?
                {
                    regorus::Value::Bool(true) => {}
                    regorus::Value::Bool(false) | regorus::Value::Undefined => return Ok(None),
                    other => {
                        return Err(PolicyError::BadResult {
                            file: rule.file.clone(),
                            rule_id: rule.meta.id.clone(),
                            resource_id: resource_id.to_string(),
                            message: format!("`applicable` must be a boolean, got {other}"),
                        });
                    }
                }
            }
            engine
                .eval_rule(result_query.clone())
                .map_err(eval_error(result_at.clone(), "result"))?
        }
    };
    let mut result = base_result(rule, resource);
    if output == regorus::Value::Undefined {
        result.status = Status::Unknown;
        result.message = format!(
            "rule {} produced no result for this resource (an input it needs is missing or malformed)",
            rule.meta.id
        );
        return Ok(Some(result));
    }
    let output = serde_json::to_value(&output).map_err(|e| PolicyError::BadResult {
        file: rule.file.clone(),
        rule_id: rule.meta.id.clone(),
        resource_id: resource_id.to_string(),
        message: format!("`result` is not JSON (an object key that is not a string?): {e}"),
    })?;
    fill_from_output(&mut result, &output, Some(inventory)).map_err(|message| {
        PolicyError::BadResult {
            file: rule.file.clone(),
            rule_id: rule.meta.id.clone(),
            resource_id: resource_id.to_string(),
            message,
        }
    })?;
    Ok(Some(result))
}

/// The `error` result recorded for a pair that could not be evaluated.
fn error_result(rule: &Rule, resource: &Value, error: &PolicyError) -> RuleResult {
    let mut result = base_result(rule, resource);
    result.status = Status::Error;
    result.message = error.to_string();
    result
}

/// Hands what a rule printed on this resource to the debug log, shown and not obeyed.
fn log_prints(engine: &mut Engine, rule: &Rule, resource: &Value) {
    let Ok(lines) = engine.take_prints() else {
        return;
    };
    let resource = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for line in lines {
        tracing::debug!(
            rule = %rule.meta.id,
            resource = %crate::text::visible(resource),
            "print: {}",
            crate::text::visible(&line)
        );
    }
}
