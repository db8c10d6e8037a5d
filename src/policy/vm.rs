//! Rules on regorus's bytecode VM (RVM): the scan's fast path, with the interpreter as the
//! reference it falls back to.
//!
//! A rule's engine (its modules, the libraries, the parameters) is compiled once to an RVM program
//! with two entry points, `applicable` (when declared) and `result`. The calls the interpreter
//! answers with amlaudit's own functions are compiled as host-await instructions, so the VM
//! suspends on each and amlaudit answers it with the very same code: the permission builtins
//! ([`super::builtins::call`]) and the budget's bounded builtins (`numbers.range`,
//! `numbers.range_step`, `concat`, `replace`, `strings.replace_n`, `regex.replace`:
//! [`super::Budget::call`]). The evaluation time limit is the VM's timer,
//! with the same limit as the interpreter's.
//!
//! The VM never decides a result on its own terms:
//! - only bundled rules run on the VM: their equivalence is what the test suite, the Rego tests
//!   and the report diffs of BENCHMARKS.md prove. User rules stay on the interpreter, because the
//!   VM's compiler folds some errors into `undefined` (`sprintf("%s", [1 / 0])` is an error on
//!   the interpreter and an undefined `result` on the VM), which in a `not` or an `else` could
//!   turn into a different verdict;
//! - a rule that does not compile to bytecode, or that calls `print` (whose output the scan logs
//!   from the interpreter), runs on the interpreter, as before;
//! - an undefined `applicable` or `result` is decided again by the interpreter, which may have
//!   an error to report instead;
//! - any error on a pair (a Rego error, a builtin error, a time limit, a malformed host answer)
//!   discards the VM's attempt and evaluates the pair again on the interpreter, so error results
//!   say exactly what they always said;
//! - an `applicable` that is not a boolean is left to the interpreter too, which reports it.
//!
//! `amlaudit test` (coverage) always runs on the interpreter. BENCHMARKS.md records the speed-up
//! and the check that reports are byte-identical with and without the VM.

use std::sync::Arc;

use regorus::Engine;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::Instruction;
use regorus::rvm::program::Program;
use regorus::rvm::vm::{ExecutionMode, ExecutionState, RegoVM, SuspendReason};
use regorus::utils::limits::ExecutionTimerConfig;

use super::{Budget, builtins, calls};
use crate::permissions::PermissionIndex;

/// Set `AMLAUDIT_RVM=0` to evaluate every rule on the interpreter (to compare the two).
pub const SWITCH: &str = "AMLAUDIT_RVM";

/// One rule compiled to bytecode.
pub struct RuleProgram {
    program: Arc<Program>,
    /// Entry point indices: `applicable` when the rule declares it, then `result`.
    applicable: Option<usize>,
    result: usize,
    data: regorus::Value,
    /// Whether the program calls a host function (then it must run suspendable).
    awaits: bool,
}

impl std::fmt::Debug for RuleProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleProgram")
            .field("instructions", &self.program.instructions.len())
            .field("awaits", &self.awaits)
            .finish()
    }
}

/// What the VM made of one pair.
pub enum Outcome {
    /// `applicable` is declared and false or undefined.
    NotApplicable,
    /// The value of `result` (possibly undefined).
    Result(regorus::Value),
}

/// Whether the scan uses the VM at all (`AMLAUDIT_RVM=0` turns it off).
pub fn enabled() -> bool {
    std::env::var(SWITCH).map_or(true, |v| v != "0")
}

/// Compiles a rule's engine to bytecode; `None` (with the reason in the debug log) when the rule
/// must stay on the interpreter.
pub fn compile(
    engine: &Engine,
    rule_id: &str,
    queries: &(Option<String>, String),
    data: regorus::Value,
) -> Option<RuleProgram> {
    let mut engine = engine.clone();
    if calls::called_names(&mut engine).contains("print") {
        tracing::debug!(rule = %rule_id, "runs on the interpreter: it calls print");
        return None;
    }
    let (applicable, result) = queries;
    let compiled = match engine.compile_with_entrypoint(&result.as_str().into()) {
        Ok(compiled) => compiled,
        Err(e) => {
            tracing::debug!(rule = %rule_id, "runs on the interpreter: {e:#}");
            return None;
        }
    };
    let mut entry_points: Vec<&str> = Vec::new();
    if let Some(applicable) = applicable {
        entry_points.push(applicable);
    }
    entry_points.push(result);
    let host: Vec<(&str, usize)> = builtins::NAMES
        .iter()
        .map(|name| (*name, 3))
        .chain(super::budget::REPLACED.iter().copied())
        .collect();
    let program =
        match Compiler::compile_from_policy_with_host_await(&compiled, &entry_points, &host) {
            Ok(program) => program,
            Err(e) => {
                tracing::debug!(rule = %rule_id, "runs on the interpreter: {e:#}");
                return None;
            }
        };
    let awaits = program
        .instructions
        .iter()
        .any(|i| matches!(i, Instruction::HostAwait { .. }));
    // The parameters must load as they did on the interpreter; if the VM refused them, the rule
    // would read undefined parameters.
    let mut probe = RegoVM::new();
    probe.load_program(Arc::clone(&program));
    if let Err(e) = probe.set_data(data.clone()) {
        tracing::debug!(rule = %rule_id, "runs on the interpreter: the VM refuses its data: {e}");
        return None;
    }
    tracing::debug!(rule = %rule_id, instructions = program.instructions.len(), awaits, "compiled to bytecode");
    Some(RuleProgram {
        program,
        applicable: applicable.as_ref().map(|_| 0),
        result: usize::from(applicable.is_some()),
        data,
        awaits,
    })
}

impl RuleProgram {
    /// A VM loaded with this program, the parameters and the budget's time limit.
    pub fn machine(&self, budget: &Budget) -> RegoVM {
        let mut vm = RegoVM::new();
        vm.load_program(Arc::clone(&self.program));
        // Checked when the rule was compiled: the VM accepts this data document.
        let _ = vm.set_data(self.data.clone());
        vm.set_execution_timer_config(Some(ExecutionTimerConfig {
            limit: budget.time,
            check_interval: std::num::NonZeroU32::new(64).expect("64 is not zero"),
        }));
        // The time limit bounds an evaluation; the instruction count must not stop one sooner.
        vm.set_max_instructions(usize::MAX);
        // A builtin error is an error (as on the interpreter), never a silent undefined.
        vm.set_strict_builtin_errors(true);
        vm.set_execution_mode(if self.awaits {
            ExecutionMode::Suspendable
        } else {
            ExecutionMode::RunToCompletion
        });
        vm
    }

    /// Evaluates one pair; `None` when the interpreter must decide it (any error, or an
    /// `applicable` that is not a boolean).
    pub fn run(
        &self,
        vm: &mut RegoVM,
        index: &PermissionIndex,
        budget: &Budget,
        input: &regorus::Value,
    ) -> Option<Outcome> {
        vm.set_input(input.clone());
        if let Some(entry) = self.applicable {
            match run_entry(vm, entry, index, budget)? {
                regorus::Value::Bool(true) => {}
                regorus::Value::Bool(false) => return Some(Outcome::NotApplicable),
                _ => return None,
            }
        }
        match run_entry(vm, self.result, index, budget)? {
            regorus::Value::Undefined => None,
            value => Some(Outcome::Result(value)),
        }
    }
}

/// Runs one entry point to its end, answering every host call on the way.
fn run_entry(
    vm: &mut RegoVM,
    entry: usize,
    index: &PermissionIndex,
    budget: &Budget,
) -> Option<regorus::Value> {
    let mut value = vm.execute_entry_point_by_index(entry).ok()?;
    loop {
        let (name, args) = match vm.execution_state() {
            ExecutionState::Suspended {
                reason:
                    SuspendReason::HostAwait {
                        argument: regorus::Value::Array(args),
                        identifier,
                        ..
                    },
                ..
            } => (
                identifier.as_string().ok()?.clone(),
                args.iter().cloned().collect::<Vec<_>>(),
            ),
            ExecutionState::Suspended { .. } | ExecutionState::Error { .. } => return None,
            _ => return Some(value),
        };
        if args.contains(&regorus::Value::Undefined) {
            return None;
        }
        let answer = builtins::call(index, &name, &args)
            .or_else(|| budget.call(&name, &args))?
            .ok()?;
        value = vm.resume(Some(answer)).ok()?;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::inventory::Inventory;
    use crate::permissions::PermissionIndex;
    use crate::policy::{Evaluator, Params, PolicySet};
    use crate::synthetic::{TenantSize, tenant};

    #[test]
    fn bundled_rules_run_on_the_vm_with_the_interpreters_results_and_fix_proofs() {
        let policies = PolicySet::load(&[]).unwrap();
        let size = TenantSize {
            subscriptions: 3,
            workspaces: 12,
            computes_per_workspace: 2,
            role_assignments: 80,
        };
        let inventory = Inventory::new(tenant(size));
        let index = Arc::new(PermissionIndex::new(&inventory));
        let scan = |evaluator: Evaluator| {
            let mut results = evaluator.evaluate(&inventory).unwrap();
            evaluator.prove_fixes(&inventory, &mut results);
            results
        };
        let on_vm = Evaluator::new(&policies, Arc::clone(&index), &Params::default()).unwrap();
        // A bundled rule that stops compiling to bytecode would still be right, only slow.
        assert_eq!(
            on_vm.rules_on_vm().len(),
            policies.rules.len(),
            "{:?}",
            on_vm.rules_on_vm()
        );
        let interpreted = Evaluator::new(&policies, Arc::clone(&index), &Params::default())
            .unwrap()
            .without_vm();
        assert!(interpreted.rules_on_vm().is_empty());
        let (a, b) = (scan(on_vm), scan(interpreted));
        assert!(a.iter().any(|r| r.fix.is_some()));
        assert_eq!(a, b);
    }
}
