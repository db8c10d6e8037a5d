//! Host builtins that give Rego rules the permission engine:
//! `amlaudit.access(principal, scope, action)`, `amlaudit.data_access(principal, scope, action)`
//! and `amlaudit.pull(principal, registry_id, repositories)`.
//!
//! `pull` asks "can the principal pull these repositories from this registry" knowing the
//! registry's mode (legacy or ABAC repository permissions, see `permissions`); its object adds
//! `mode` (`legacy`, `abac` or `unknown`) and `repositories` (an empty array: the question names
//! no repository, so a condition on the repository name is `unknown`).
//!
//! Both return the engine's decision as an object: `decision` (`granted`, `denied` or `unknown`),
//! `summary` (one line), `reasons`, `evidence` (each candidate assignment and why it did or did not
//! count), `principal`, `scope`, `action`. A principal that is not a non-empty string gives
//! `unknown`: a rule can never turn a missing identity into a pass.
//!
//! While a fix is being proven ([`with_extra_assignments`]), both answer as if the role
//! assignments the fix adds existed. The engines are shared by rayon workers, so the extra
//! assignments are per thread: a proof runs on one thread from start to end.

use std::cell::RefCell;
use std::sync::Arc;

use regorus::{Engine, Value};

use super::PolicyError;
use crate::inventory::RoleAssignment;
use crate::permissions::{ACR_PULL_ACTION, AccessDecision, Action, Decision, PermissionIndex};

thread_local! {
    static EXTRA_ASSIGNMENTS: RefCell<Vec<RoleAssignment>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the builtins answering as if `extra` assignments existed, on this thread only.
pub fn with_extra_assignments<T>(extra: &[RoleAssignment], f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            EXTRA_ASSIGNMENTS.with(|e| e.borrow_mut().clear());
        }
    }
    EXTRA_ASSIGNMENTS.with(|e| *e.borrow_mut() = extra.to_vec());
    let _reset = Reset;
    f()
}

/// The names of the host builtins, as rules call them.
pub const NAMES: &[&str] = &[ACCESS, DATA_ACCESS, PULL];

const ACCESS: &str = "amlaudit.access";
const DATA_ACCESS: &str = "amlaudit.data_access";
const PULL: &str = "amlaudit.pull";

/// Registers the builtins on an engine, answering from `index`.
pub fn register(engine: &mut Engine, index: Arc<PermissionIndex>) -> Result<(), PolicyError> {
    for (name, data) in [(ACCESS, false), (DATA_ACCESS, true)] {
        let index = Arc::clone(&index);
        engine
            .add_extension(
                name.to_string(),
                3,
                Box::new(move |args: Vec<Value>| access(&index, name, data, &args)),
            )
            .map_err(|e| PolicyError::Engine(format!("registering {name}: {e:#}")))?;
    }
    engine
        .add_extension(
            PULL.to_string(),
            3,
            Box::new(move |args: Vec<Value>| pull(&index, &args)),
        )
        .map_err(|e| PolicyError::Engine(format!("registering {PULL}: {e:#}")))?;
    Ok(())
}

/// Answers a call of host builtin `name` (one of [`NAMES`]) as the interpreter's extension does;
/// `None` when `name` is not one of them.
pub(super) fn call(
    index: &PermissionIndex,
    name: &str,
    args: &[Value],
) -> Option<anyhow::Result<Value>> {
    match name {
        ACCESS => Some(access(index, ACCESS, false, args)),
        DATA_ACCESS => Some(access(index, DATA_ACCESS, true, args)),
        PULL => Some(pull(index, args)),
        _ => None,
    }
}

/// `amlaudit.access` and `amlaudit.data_access` (`data`): the decision on (principal, scope,
/// action).
fn access(
    index: &PermissionIndex,
    name: &str,
    data: bool,
    args: &[Value],
) -> anyhow::Result<Value> {
    let text = |i: usize| -> Option<String> {
        args.get(i)
            .and_then(|v| v.as_string().ok())
            .map(|s| s.to_string())
            .filter(|s| !s.trim().is_empty())
    };
    let (Some(scope), Some(action)) = (text(1), text(2)) else {
        anyhow::bail!(
            "{name}(principal, scope, action): scope and action must be non-empty strings"
        );
    };
    let action = if data {
        Action::data(&action)
    } else {
        Action::control(&action)
    };
    let decision = match text(0) {
        Some(principal) => EXTRA_ASSIGNMENTS
            .with(|extra| index.check_with(&principal, &scope, &action, &extra.borrow())),
        None => AccessDecision {
            decision: Decision::Unknown,
            principal: String::new(),
            scope,
            action: action.name.clone(),
            data_action: data,
            evidence: Vec::new(),
            reasons: vec!["the identity's principal id is not known".to_string()],
            mode: None,
            repositories: None,
        },
    };
    Ok(to_value(&decision))
}

/// `amlaudit.pull(principal, registry_id, repositories)`.
fn pull(index: &PermissionIndex, args: &[Value]) -> anyhow::Result<Value> {
    let registry = args
        .get(1)
        .and_then(|v| v.as_string().ok())
        .map(|s| s.to_string())
        .filter(|s| !s.trim().is_empty());
    let Some(registry) = registry else {
        anyhow::bail!(
            "{PULL}(principal, registry_id, repositories): registry_id must be a non-empty string"
        );
    };
    let repositories: Vec<String> = match args.get(2) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_string().map(|s| s.to_string()))
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow::anyhow!("{PULL}: repositories must be an array of strings"))?,
        Some(Value::Set(items)) => items
            .iter()
            .map(|v| v.as_string().map(|s| s.to_string()))
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow::anyhow!("{PULL}: repositories must be an array of strings"))?,
        _ => anyhow::bail!(
            "{PULL}(principal, registry_id, repositories): repositories must be an array of repository names ([] for none)"
        ),
    };
    let principal = args
        .first()
        .and_then(|v| v.as_string().ok())
        .map(|s| s.to_string())
        .filter(|s| !s.trim().is_empty());
    let decision = match principal {
        Some(principal) => EXTRA_ASSIGNMENTS.with(|extra| {
            index.check_pull_with(&principal, &registry, &repositories, &extra.borrow())
        }),
        None => AccessDecision {
            decision: Decision::Unknown,
            principal: String::new(),
            scope: registry.clone(),
            action: ACR_PULL_ACTION.to_string(),
            data_action: false,
            evidence: Vec::new(),
            reasons: vec!["the identity's principal id is not known".to_string()],
            mode: Some(index.registry_mode(&registry)),
            repositories: Some(repositories),
        },
    };
    Ok(to_value(&decision))
}

/// The decision as the object rules see.
pub fn to_value(decision: &AccessDecision) -> Value {
    let mut json = serde_json::to_value(decision).expect(
        "an access decision holds only strings, booleans and lists, which always serialise",
    );
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "summary".into(),
            serde_json::Value::String(decision.summary()),
        );
    }
    Value::from(json)
}
