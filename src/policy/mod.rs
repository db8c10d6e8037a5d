//! Policy evaluation: Rego rules from `policies/` (bundled) and `--policy-dir`, their METADATA
//! registry, and parallel evaluation with regorus.
//!
//! A rule is a module whose package sits under `amlaudit.rules.`; it must carry METADATA
//! ([`metadata`]). It is evaluated once per resource of its `custom.resource_type`, with the input
//! document of [`input`], and may define:
//! - `applicable` (boolean; when it is declared and not true, the pair produces no result);
//! - `result`: `{"status": "pass"|"fail"|"unknown"|"not_applicable", "message": "...",
//!   "evidence": [...], "remediation": [{"description", "edit": {"kind", ...}}]}`, each step a
//!   typed edit ([`crate::fixes::Edit`]); a step with a bare `argv` (rules written before edits)
//!   is kept as a `manual` step.
//!
//! An applicable pair whose `result` is undefined becomes `unknown` (fail closed); a pair whose
//! evaluation fails (a Rego error, a malformed result, a [`budget`] overrun) becomes an `error`
//! result naming the rule file and the resource, unless the evaluator fails fast. Other modules
//! are libraries (`data.amlaudit.lib` ships with the bundled rules). Parameters are
//! `data.amlaudit.params`. The engine is loaded once, then cloned per rayon worker; bundled rules
//! also run compiled to regorus's bytecode VM, with the interpreter deciding whatever the VM
//! cannot ([`vm`]).

pub mod budget;
pub mod builtins;
pub mod bundled;
mod calls;
pub mod docs;
pub mod input;
pub mod metadata;
pub mod params;
mod prove;
pub mod skeleton;
pub mod testing;
pub mod vm;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use regorus::Engine;
use serde_json::Value;

use crate::findings::{Remediation, RuleResult, Status};
use crate::fixes::Edit;
use crate::ids;
use crate::inventory::Inventory;
use crate::permissions::PermissionIndex;
pub use budget::Budget;
pub use metadata::RuleMeta;
pub use params::Params;

/// Why policies could not be loaded or evaluated. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Metadata(String),
    #[error("rule id {id} is declared twice: in {first} and in {second}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    #[error("package {package} is declared by two rules: {first} and {second}")]
    DuplicatePackage {
        package: String,
        first: String,
        second: String,
    },
    /// A syntax or analysis error; `at` is `file:line:col` when regorus says where.
    #[error("{at}: cannot compile {subject}: {message}")]
    Parse {
        file: String,
        at: String,
        subject: String,
        message: String,
    },
    /// Found before evaluation, so a call on a path no test or resource reaches is still caught.
    #[error(
        "{at}: {subject} calls unknown function `{function}`: it is not a Rego builtin, an amlaudit builtin (amlaudit.access, amlaudit.data_access, amlaudit.pull) or a function declared in a loaded policy"
    )]
    UnknownFunction {
        file: String,
        at: String,
        subject: String,
        function: String,
    },
    /// Rego forbids recursion; followed, it would overflow the stack.
    #[error(
        "{at}: {subject} is recursive ({cycle}): Rego does not allow a function to call itself, directly or through others"
    )]
    Recursion {
        file: String,
        at: String,
        subject: String,
        cycle: String,
    },
    /// A literal that would exceed the evaluation [`Budget`] whatever the input.
    #[error("{at}: {subject}: {message}")]
    Budget {
        file: String,
        at: String,
        subject: String,
        message: String,
    },
    #[error("{at}: rule {rule_id} ({file}) failed on {resource_id}: {message}")]
    Evaluation {
        at: String,
        file: String,
        rule_id: String,
        resource_id: String,
        message: String,
    },
    #[error("{file}: rule {rule_id} returned a malformed result for {resource_id}: {message}")]
    BadResult {
        file: String,
        rule_id: String,
        resource_id: String,
        message: String,
    },
    #[error("policy engine: {0}")]
    Engine(String),
}

/// One `.rego` file.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// How the file is named in messages: `policies/...` for bundled files, the path otherwise.
    pub path: String,
    pub text: String,
    pub bundled: bool,
}

impl PolicySource {
    /// Every file shipped in the binary.
    pub fn bundled() -> Vec<PolicySource> {
        bundled::FILES
            .iter()
            .map(|(path, text)| PolicySource {
                path: (*path).to_string(),
                text: (*text).to_string(),
                bundled: true,
            })
            .collect()
    }
}

/// A rule: its metadata, package and file.
#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: RuleMeta,
    pub package: String,
    pub file: String,
    pub bundled: bool,
}

/// Every policy module, rule and test file, read and checked but not yet compiled.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub modules: Vec<PolicySource>,
    pub tests: Vec<PolicySource>,
    pub rules: Vec<Rule>,
    /// The limits every engine built from this set enforces on each evaluation.
    pub budget: Budget,
}

impl PolicySet {
    /// The bundled policies plus every `.rego` file below each directory (recursively, sorted).
    /// A user file identical to a bundled one is skipped, so pointing `--policy-dir` at a copy of
    /// `policies/` does not declare every rule twice.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, PolicyError> {
        let mut sources = PolicySource::bundled();
        for dir in dirs {
            for path in rego_files(dir)? {
                let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io {
                    path: path.clone(),
                    source,
                })?;
                if bundled::FILES.iter().any(|(_, t)| *t == text) {
                    continue;
                }
                sources.push(PolicySource {
                    path: path.display().to_string(),
                    text,
                    bundled: false,
                });
            }
        }
        Self::from_sources(sources)
    }

    /// Sorts sources into modules, tests and rules, checking every rule's METADATA.
    pub fn from_sources(sources: Vec<PolicySource>) -> Result<Self, PolicyError> {
        let mut set = PolicySet::default();
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut packages: HashMap<String, String> = HashMap::new();
        for source in sources {
            if bundled::is_test_file(&source.path) {
                set.tests.push(source);
                continue;
            }
            let package = package_of(&source.text).unwrap_or_default();
            if package.starts_with("amlaudit.rules.") {
                let meta = metadata::parse(Path::new(&source.path), &source.text)
                    .map_err(PolicyError::Metadata)?;
                if let Some(first) = ids.insert(meta.id.to_ascii_uppercase(), source.path.clone()) {
                    return Err(PolicyError::DuplicateId {
                        id: meta.id,
                        first,
                        second: source.path,
                    });
                }
                if let Some(first) = packages.insert(package.clone(), source.path.clone()) {
                    return Err(PolicyError::DuplicatePackage {
                        package,
                        first,
                        second: source.path,
                    });
                }
                set.rules.push(Rule {
                    meta,
                    package,
                    file: source.path.clone(),
                    bundled: source.bundled,
                });
            }
            set.modules.push(source);
        }
        set.rules.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok(set)
    }

    /// A regorus engine with every module (and, when asked, every test file), the builtins and
    /// the parameters loaded, checked for calls to unknown functions, and analysed, so that every
    /// compile-time problem surfaces here, naming its file, line and rule, before any evaluation.
    pub fn engine(
        &self,
        index: Arc<PermissionIndex>,
        params: &Params,
        with_tests: bool,
    ) -> Result<Engine, PolicyError> {
        let files = self.modules.iter().chain(
            with_tests
                .then_some(self.tests.iter())
                .into_iter()
                .flatten(),
        );
        self.engine_of(files, index, params)
    }

    /// An engine with the libraries (modules that are not rules) and one rule. regorus walks
    /// every loaded module on each `data` reference, so a rule evaluated on its own runs
    /// several times faster than among all the others.
    pub fn rule_engine(
        &self,
        rule: &Rule,
        index: Arc<PermissionIndex>,
        params: &Params,
    ) -> Result<Engine, PolicyError> {
        let files = self
            .modules
            .iter()
            .filter(|m| m.path == rule.file || !self.rules.iter().any(|r| r.file == m.path));
        self.engine_of(files, index, params)
    }

    fn engine_of<'a>(
        &self,
        files: impl Iterator<Item = &'a PolicySource>,
        index: Arc<PermissionIndex>,
        params: &Params,
    ) -> Result<Engine, PolicyError> {
        let mut engine = Engine::new();
        self.budget.apply(&mut engine)?;
        builtins::register(&mut engine, index)?;
        for source in files {
            engine
                .add_policy(source.path.clone(), source.text.clone())
                .map_err(|e| self.parse_error(&source.path, &e))?;
        }
        calls::check(&mut engine, builtins::NAMES, |file| self.subject_of(file))?;
        let data = serde_json::json!({"amlaudit": {"params": params.to_json()}});
        engine
            .add_data(regorus::Value::from(data))
            .map_err(|e| PolicyError::Engine(format!("{e:#}")))?;
        // The first evaluation runs regorus's analysis (unsafe variables, recursion); doing it
        // now reports those problems as compile errors, and clones of the engine start prepared.
        engine
            .eval_bool_query("true".to_string(), false)
            .map_err(|e| {
                let message = format!("{e:#}");
                let file = located_file(&message).unwrap_or_default();
                self.parse_error(&file, &e)
            })?;
        Ok(engine)
    }

    /// Compiles every module and test file, with the load-time checks of [`PolicySet::engine`],
    /// without evaluating any rule: what `amlaudit rules` vouches for before listing a rule.
    pub fn check(&self) -> Result<(), PolicyError> {
        testing::test_engine(self).map(drop)
    }

    /// How messages name what a file holds: `rule AML001`, `tests`, or `module <package>`.
    pub fn subject_of(&self, file: &str) -> String {
        if let Some(rule) = self.rules.iter().find(|r| r.file == file) {
            return format!("rule {}", rule.meta.id);
        }
        let source = self
            .modules
            .iter()
            .chain(&self.tests)
            .find(|s| s.path == file);
        match source {
            Some(s) if bundled::is_test_file(&s.path) => "tests".to_string(),
            Some(s) => format!(
                "module {}",
                package_of(&s.text).unwrap_or_else(|| "(no package)".to_string())
            ),
            None => "policy".to_string(),
        }
    }

    fn parse_error(&self, file: &str, e: &anyhow::Error) -> PolicyError {
        let message = format!("{e:#}").trim_start().to_string();
        PolicyError::Parse {
            file: file.to_string(),
            at: location(&message).unwrap_or_else(|| file.to_string()),
            subject: self.subject_of(file),
            message,
        }
    }
}

/// `file:line:col` from a regorus message, which points at the code as `--> file:line:col`.
pub fn location(message: &str) -> Option<String> {
    message.lines().find_map(|l| {
        let at = l.trim_start().strip_prefix("--> ")?.trim();
        (!at.is_empty()).then(|| at.to_string())
    })
}

/// The 1-based line where a module declares rule `name` (`name :=`, `name if`, `default name`).
fn declaration_line(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("default ").unwrap_or(l);
            l.strip_prefix(name).is_some_and(|rest| {
                let rest = rest.trim_start();
                rest.starts_with(":=")
                    || rest.starts_with('=')
                    || rest.starts_with("if")
                    || rest.starts_with('{')
                    || rest.starts_with("contains")
            })
        })
        .map(|i| i + 1)
}

/// The file of a regorus message's location (the location minus `:line:col`).
fn located_file(message: &str) -> Option<String> {
    let at = location(message)?;
    let mut parts = at.rsplitn(3, ':');
    let (_col, _line) = (parts.next()?, parts.next()?);
    parts.next().map(str::to_string)
}

fn rego_files(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PolicyError::Io { path, source }
    };
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let path = entry.map_err(io(&d))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rego") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The package a module declares.
pub fn package_of(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("package ")?;
        Some(rest.trim().to_string())
    })
}

/// A loaded engine and the rules to run: evaluates every (rule, resource) pair in parallel.
pub struct Evaluator {
    /// One engine per rule, in `rules` order.
    engines: Vec<Engine>,
    rules: Vec<Rule>,
    /// Per rule: the `applicable` query when the rule declares one, and the `result` query.
    queries: Vec<(Option<String>, String)>,
    /// Per rule: where `applicable` and `result` are declared (`file:line`), to place an error
    /// regorus reports without a location (a budget overrun).
    declared_at: Vec<(String, String)>,
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
type Workers = (Vec<Engine>, Vec<Option<regorus::rvm::vm::RegoVM>>);

/// A rule's VM for one evaluation, with what its host calls answer from.
struct VmRun<'a> {
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
    fn workers(&self) -> Workers {
        let machines = self
            .programs
            .iter()
            .map(|p| p.as_ref().map(|p| p.machine(&self.budget)))
            .collect();
        (self.engines.clone(), machines)
    }

    /// Rule `ri`'s VM in `workers`, when it runs on one.
    fn vm_run<'a>(
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
fn evaluate_one(
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

fn base_result(rule: &Rule, resource: &Value) -> RuleResult {
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

fn fill_from_output(
    result: &mut RuleResult,
    output: &Value,
    inventory: Option<&dyn crate::inventory::InventoryView>,
) -> Result<(), String> {
    let obj = output
        .as_object()
        .ok_or_else(|| format!("`result` must be an object, got {output}"))?;
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
