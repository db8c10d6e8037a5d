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

pub mod authoring;
pub mod budget;
pub mod builtins;
pub mod bundled;
mod calls;
mod decode;
mod evaluate;
pub mod input;
mod load;
pub mod metadata;
pub mod params;
mod prove;
pub mod vm;

use std::path::PathBuf;

pub use budget::Budget;
pub use evaluate::Evaluator;
use evaluate::{Workers, evaluate_one};
pub use load::{PolicySet, PolicySource, Rule, location, package_of};
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
