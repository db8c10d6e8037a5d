//! Evaluates a deployment: parameters, variables, resources (conditions, copy loops, child
//! resources, extension scopes), nested deployments and outputs, into planned ARM resources.
//!
//! Evaluation runs twice. The first pass learns which resource ids the deployment creates (and
//! the outputs of its nested deployments); the second evaluates again with that knowledge, so
//! `reference()` of a resource the deployment creates is a planned value wherever it is written,
//! before or after the resource in the file.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::expr::{self, Context, RUNTIME_KEY, Val};
use super::source::escape_segment;
use crate::ids;
use crate::inventory::Snapshot;

/// The principal id a planned managed identity is given until Azure assigns the real one.
pub fn planned_principal(resource_id: &str) -> String {
    format!("{}{resource_id}", ids::PLANNED_PRINCIPAL_PREFIX)
}

/// The client id a planned user-assigned identity is given.
pub fn planned_client(resource_id: &str) -> String {
    format!("planned-client:{resource_id}")
}

/// One resource the deployment creates or updates.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// ARM GET shape: `id`, `name`, `type`, `location`, `identity`, `properties`, ...
    pub resource: Value,
    /// The JSON pointer of the resource's object in the template file.
    pub pointer: String,
    /// Values the template leaves unknown until deployment, in `properties`, `identity` or the
    /// resource's `condition`.
    pub unknowns: Vec<String>,
}

/// What a deployment could not be evaluated for, as a whole.
#[derive(Debug, Clone, Default)]
pub struct Gaps {
    pub messages: Vec<String>,
}

/// Where resources go, and what `resourceGroup()`/`subscription()` answer.
#[derive(Debug, Clone)]
pub struct Target {
    pub subscription: String,
    pub resource_group: Option<String>,
}

impl Target {
    fn id(&self) -> String {
        match &self.resource_group {
            Some(rg) => format!("/subscriptions/{}/resourceGroups/{rg}", self.subscription),
            None => format!("/subscriptions/{}", self.subscription),
        }
    }
}

/// Inputs shared by every frame of one evaluation pass.
pub struct Shared<'a> {
    pub snapshot: Option<&'a Snapshot>,
    pub tenant_id: Option<String>,
    /// Normalised ids of everything the deployment creates (known after the first pass).
    pub planned: HashSet<String>,
    /// Planned resources by normalised id, from the first pass.
    pub bodies: HashMap<String, Value>,
    /// Outputs of nested deployments by normalised deployment id, from the first pass.
    pub outputs: HashMap<String, Value>,
    /// Planned resource ids by lower-cased name (full and last segment), for `reference('name')`.
    pub by_name: HashMap<String, String>,
}

/// A template being evaluated, with its parameters, variables and scope.
struct Frame<'a> {
    template: &'a Value,
    pointer: String,
    /// Declared parameters by lower-cased name: (declaration, provided value).
    params: HashMap<String, (Value, Option<Val>)>,
    param_cache: RefCell<HashMap<String, Val>>,
    var_cache: RefCell<HashMap<String, Val>>,
    in_progress: RefCell<Vec<String>>,
    /// For `outer` nested templates: parameters, variables and functions are the parent's.
    outer: Option<&'a Frame<'a>>,
    /// Where this template's resources go.
    target: Target,
    deployment_name: String,
    copy: Vec<(String, i64)>,
    /// Symbolic names of a languageVersion 2.0 template, to resource ids.
    symbols: RefCell<HashMap<String, String>>,
    shared: &'a Shared<'a>,
}

/// The output of a pass.
pub struct Pass {
    pub resources: Vec<Evaluated>,
    pub outputs: HashMap<String, Value>,
    pub gaps: Gaps,
}

/// An error in the template: the JSON pointer of the value at fault and what is wrong.
#[derive(Debug, Clone)]
pub struct EvalError {
    pub pointer: String,
    pub message: String,
}

type Result<T> = std::result::Result<T, EvalError>;

fn err(pointer: &str, message: impl Into<String>) -> EvalError {
    EvalError {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

/// Evaluates the root template once.
pub fn evaluate(
    template: &Value,
    provided: HashMap<String, Val>,
    target: Target,
    deployment_name: &str,
    shared: &Shared<'_>,
) -> Result<Pass> {
    let frame = Frame::new(
        template,
        String::new(),
        provided,
        None,
        target,
        deployment_name,
        shared,
    )?;
    let mut pass = Pass {
        resources: Vec::new(),
        outputs: HashMap::new(),
        gaps: Gaps::default(),
    };
    frame.run(&mut pass)?;
    Ok(pass)
}

impl<'a> Frame<'a> {
    fn new(
        template: &'a Value,
        pointer: String,
        provided: HashMap<String, Val>,
        outer: Option<&'a Frame<'a>>,
        target: Target,
        deployment_name: &str,
        shared: &'a Shared<'a>,
    ) -> Result<Self> {
        if !template.is_object() {
            return Err(err(&pointer, "a template must be a JSON object"));
        }
        let mut params = HashMap::new();
        if outer.is_none() {
            let declared = template.get("parameters").and_then(Value::as_object);
            let mut provided = provided;
            for (name, decl) in declared.into_iter().flatten() {
                let value = provided.remove(&name.to_ascii_lowercase());
                params.insert(name.to_ascii_lowercase(), (decl.clone(), value));
            }
            if let Some(extra) = provided.keys().next() {
                return Err(err(
                    &format!("{pointer}/parameters"),
                    format!(
                        "a value is given for parameter `{extra}`, which the template does not declare"
                    ),
                ));
            }
        }
        Ok(Frame {
            template,
            pointer,
            params,
            param_cache: RefCell::default(),
            var_cache: RefCell::default(),
            in_progress: RefCell::default(),
            outer,
            target,
            deployment_name: deployment_name.to_string(),
            copy: Vec::new(),
            symbols: RefCell::default(),
            shared,
        })
    }

    /// The frame whose parameters, variables and functions expressions use.
    fn scope(&self) -> &Frame<'a> {
        match self.outer {
            Some(o) => o.scope(),
            None => self,
        }
    }

    fn with_copy(&self, name: &str, index: i64) -> Frame<'a> {
        let mut copy = self.copy.clone();
        copy.push((name.to_string(), index));
        Frame {
            template: self.template,
            pointer: self.pointer.clone(),
            params: self.params.clone(),
            param_cache: RefCell::new(self.param_cache.borrow().clone()),
            var_cache: RefCell::new(self.var_cache.borrow().clone()),
            in_progress: RefCell::default(),
            outer: self.outer,
            target: self.target.clone(),
            deployment_name: self.deployment_name.clone(),
            copy,
            symbols: RefCell::new(self.symbols.borrow().clone()),
            shared: self.shared,
        }
    }

    /// Evaluates a template value: expressions in strings (and keys), property `copy` loops.
    fn value(&self, v: &Value, pointer: &str) -> Result<Value> {
        match v {
            Value::String(s) => Ok(self.string(s, pointer)?.into_json()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, x)| self.value(x, &format!("{pointer}/{i}")))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array),
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, x) in o {
                    let child = format!("{pointer}/{}", escape_segment(k));
                    if k == "copy" && x.is_array() {
                        for (name, items) in self.property_copy(x, &child)? {
                            out.insert(name, items);
                        }
                        continue;
                    }
                    let key = match self.string(k, &child)? {
                        Val::Known(kv) => expr_string(&kv),
                        Val::Unknown(r) => {
                            expr::marker(&r).as_str().unwrap_or_default().to_string()
                        }
                    };
                    out.insert(key, self.value(x, &child)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn string(&self, s: &str, pointer: &str) -> Result<Val> {
        match expr::as_expression(s) {
            Err(literal) => Ok(Val::Known(Value::String(literal))),
            Ok(text) => {
                let parsed = expr::parse(text)
                    .map_err(|m| err(pointer, format!("cannot parse `{}`: {m}", excerpt(s))))?;
                expr::eval(&parsed, self).map_err(|m| {
                    // Each expression on the way names itself, unless a long chain of them
                    // (variables referring to variables) has already made the message long.
                    if m.len() > 1_000 {
                        err(pointer, m)
                    } else {
                        err(pointer, format!("`{}`: {m}", excerpt(s)))
                    }
                })
            }
        }
    }

    /// `copy: [{name, count, input}]` inside an object: each entry becomes an array property.
    fn property_copy(&self, spec: &Value, pointer: &str) -> Result<Vec<(String, Value)>> {
        let mut out = Vec::new();
        for (i, entry) in spec.as_array().into_iter().flatten().enumerate() {
            let at = format!("{pointer}/{i}");
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| err(&at, "a `copy` entry needs a `name`"))?;
            let input = entry
                .get("input")
                .ok_or_else(|| err(&at, "a `copy` entry needs an `input`"))?;
            let count = match self.count(entry.get("count"), &format!("{at}/count"))? {
                Some(n) => n,
                None => {
                    out.push((
                        name.to_string(),
                        expr::marker(&format!(
                            "the count of copy loop `{name}` is not known before deployment"
                        )),
                    ));
                    continue;
                }
            };
            let mut items = Vec::new();
            for index in 0..count {
                let f = self.with_copy(name, index);
                items.push(f.value(input, &format!("{at}/input"))?);
            }
            out.push((name.to_string(), Value::Array(items)));
        }
        Ok(out)
    }

    fn count(&self, v: Option<&Value>, pointer: &str) -> Result<Option<i64>> {
        let Some(v) = v else {
            return Err(err(pointer, "a copy loop needs a `count`"));
        };
        match Val::from_json(self.value(v, pointer)?) {
            Val::Known(Value::Number(n)) => match n.as_i64() {
                Some(c) if (0..=800).contains(&c) => Ok(Some(c)),
                _ => Err(err(pointer, format!("copy count {n} is outside 0..800"))),
            },
            Val::Known(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| err(pointer, format!("copy count `{s}` is not a number"))),
            Val::Known(other) => Err(err(pointer, format!("copy count {other} is not a number"))),
            Val::Unknown(_) => Ok(None),
        }
    }

    fn run(&self, pass: &mut Pass) -> Result<()> {
        let resources = self.template.get("resources");
        let list: Vec<(String, String, &Value)> = match resources {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, r)| (String::new(), format!("{}/resources/{i}", self.pointer), r))
                .collect(),
            // languageVersion 2.0: resources by symbolic name.
            Some(Value::Object(o)) => o
                .iter()
                .map(|(k, r)| {
                    (
                        k.clone(),
                        format!("{}/resources/{}", self.pointer, escape_segment(k)),
                        r,
                    )
                })
                .collect(),
            Some(_) => {
                return Err(err(
                    &format!("{}/resources", self.pointer),
                    "`resources` must be an array or (languageVersion 2.0) an object",
                ));
            }
        };
        // Symbolic names first, so any resource may refer to any other.
        for (symbol, pointer, r) in &list {
            if !symbol.is_empty() && r.get("copy").is_none() {
                let mut scratch = Pass {
                    resources: vec![],
                    outputs: HashMap::new(),
                    gaps: Gaps::default(),
                };
                if let Ok(Some(id)) = self.resource_id_of(r, pointer, None, &mut scratch) {
                    self.symbols
                        .borrow_mut()
                        .insert(symbol.to_ascii_lowercase(), id);
                }
            }
        }
        for (_, pointer, r) in &list {
            self.resource(r, pointer, None, pass)?;
        }
        Ok(())
    }

    /// The id a resource declaration names (`None` when part of it is unknown).
    fn resource_id_of(
        &self,
        r: &Value,
        pointer: &str,
        parent: Option<(&str, &str, &str)>,
        _pass: &mut Pass,
    ) -> Result<Option<String>> {
        let ty = self.required_string(r, "type", pointer)?;
        let name = self.required_string(r, "name", pointer)?;
        let (Some(ty), Some(name)) = (ty, name) else {
            return Ok(None);
        };
        let (full_type, full_name, base) = match parent {
            // A child's type and name are relative to its parent unless the type is qualified
            // with its namespace (`Microsoft.X/...`).
            Some((pty, pname, pbase))
                if !ty.split('/').next().unwrap_or_default().contains('.') =>
            {
                (
                    format!("{pty}/{ty}"),
                    format!("{pname}/{name}"),
                    pbase.to_string(),
                )
            }
            Some((_, _, pbase)) => (ty, name, pbase.to_string()),
            None => {
                let scope = match r.get("scope") {
                    Some(s) => match Val::from_json(self.value(s, &format!("{pointer}/scope"))?) {
                        Val::Known(Value::String(s)) => Some(self.resolve_scope(&s)),
                        Val::Known(other) => {
                            return Err(err(
                                &format!("{pointer}/scope"),
                                format!("`scope` must be a string, got {other}"),
                            ));
                        }
                        Val::Unknown(_) => return Ok(None),
                    },
                    None => None,
                };
                let base = match scope {
                    Some(s) => s,
                    None => match self.target_of(r, pointer)? {
                        Some(t) => t.id(),
                        None => return Ok(None),
                    },
                };
                (ty, name, base)
            }
        };
        Ok(Some(build_id(&base, &full_type, &full_name)))
    }

    /// A `scope` value: a resource id, a symbolic name (2.0), or `Namespace/type/name` relative
    /// to the deployment's resource group.
    fn resolve_scope(&self, s: &str) -> String {
        if s.starts_with('/') {
            return s.trim_end_matches('/').to_string();
        }
        if let Some(id) = self.symbols.borrow().get(&s.to_ascii_lowercase()) {
            return id.clone();
        }
        let segments: Vec<&str> = s.split('/').collect();
        if segments.len() >= 3 && segments.len() % 2 == 1 {
            let ty: Vec<&str> = std::iter::once(segments[0])
                .chain(segments[1..].iter().step_by(2).copied())
                .collect();
            let names: Vec<&str> = segments[2..].iter().step_by(2).copied().collect();
            return build_id(&self.target.id(), &ty.join("/"), &names.join("/"));
        }
        format!("{}/{s}", self.target.id())
    }

    /// A nested deployment's target from its `subscriptionId`/`resourceGroup` properties.
    /// `None` when either is not known before deployment.
    fn target_of(&self, r: &Value, pointer: &str) -> Result<Option<Target>> {
        let mut target = self.target.clone();
        if let Some(sub) = r.get("subscriptionId") {
            match Val::from_json(self.value(sub, &format!("{pointer}/subscriptionId"))?) {
                Val::Known(v) => target.subscription = expr_string(&v),
                Val::Unknown(_) => return Ok(None),
            }
        }
        if let Some(rg) = r.get("resourceGroup") {
            match Val::from_json(self.value(rg, &format!("{pointer}/resourceGroup"))?) {
                Val::Known(v) => target.resource_group = Some(expr_string(&v)),
                Val::Unknown(_) => return Ok(None),
            }
        } else if r.get("subscriptionId").is_some() {
            target.resource_group = None;
        }
        Ok(Some(target))
    }

    fn required_string(&self, r: &Value, key: &str, pointer: &str) -> Result<Option<String>> {
        let at = format!("{pointer}/{key}");
        let v = r
            .get(key)
            .ok_or_else(|| err(pointer, format!("a resource needs a `{key}`")))?;
        match Val::from_json(self.value(v, &at)?) {
            Val::Known(Value::String(s)) => Ok(Some(s)),
            Val::Known(other) => Err(err(&at, format!("`{key}` must be a string, got {other}"))),
            Val::Unknown(_) => Ok(None),
        }
    }

    fn resource(
        &self,
        r: &Value,
        pointer: &str,
        parent: Option<(&str, &str, &str)>,
        pass: &mut Pass,
    ) -> Result<()> {
        if !r.is_object() {
            return Err(err(pointer, "a resource must be a JSON object"));
        }
        if let Some(spec) = r.get("copy").filter(|_| parent.is_none()) {
            let at = format!("{pointer}/copy");
            let name = spec
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| err(&at, "a resource `copy` needs a `name`"))?;
            let Some(count) = self.count(spec.get("count"), &format!("{at}/count"))? else {
                pass.gaps.messages.push(format!(
                    "{pointer}: the count of copy loop `{name}` is not known before deployment, so its resources were not evaluated"
                ));
                return Ok(());
            };
            for index in 0..count {
                self.with_copy(name, index).one(r, pointer, parent, pass)?;
            }
            return Ok(());
        }
        self.one(r, pointer, parent, pass)
    }

    fn one(
        &self,
        r: &Value,
        pointer: &str,
        parent: Option<(&str, &str, &str)>,
        pass: &mut Pass,
    ) -> Result<()> {
        let mut unknowns = Vec::new();
        if let Some(c) = r.get("condition") {
            match Val::from_json(self.value(c, &format!("{pointer}/condition"))?) {
                Val::Known(Value::Bool(false)) => return Ok(()),
                Val::Known(Value::Bool(true)) => {}
                Val::Known(Value::String(s)) if s.eq_ignore_ascii_case("false") => return Ok(()),
                Val::Known(Value::String(s)) if s.eq_ignore_ascii_case("true") => {}
                Val::Known(other) => {
                    return Err(err(
                        &format!("{pointer}/condition"),
                        format!("`condition` must be a boolean, got {other}"),
                    ));
                }
                Val::Unknown(reason) => {
                    unknowns.push(format!("whether the resource is deployed at all: {reason}"))
                }
            }
        }
        // `existing` resources (languageVersion 2.0) are references, not deployments.
        if r.get("existing").and_then(Value::as_bool) == Some(true) {
            return Ok(());
        }
        let Some(id) = self.resource_id_of(r, pointer, parent, pass)? else {
            pass.gaps.messages.push(format!(
                "{pointer}: the resource's name, type or scope is not known before deployment, so it was not evaluated"
            ));
            return Ok(());
        };
        let full_type = ids::arm_type_of(&id).unwrap_or_default();
        if full_type.eq_ignore_ascii_case("Microsoft.Resources/deployments") {
            return self.nested(r, pointer, &id, pass);
        }
        let mut body = Map::new();
        body.insert("id".into(), json!(id));
        body.insert("name".into(), json!(ids::short_name(&id)));
        body.insert("type".into(), json!(full_type));
        for key in [
            "location",
            "kind",
            "sku",
            "tags",
            "identity",
            "properties",
            "zones",
            "plan",
            "apiVersion",
        ] {
            if let Some(v) = r.get(key) {
                body.insert(
                    key.to_string(),
                    self.value(v, &format!("{pointer}/{}", escape_segment(key)))?,
                );
            }
        }
        let mut resource = Value::Object(body);
        apply_defaults(&mut resource, self.shared.snapshot);
        strip_runtime(&mut resource);
        for key in ["properties", "identity"] {
            if let Some(v) = resource.get(key) {
                collect_unknowns(v, &mut unknowns);
            }
        }
        pass.resources.push(Evaluated {
            resource,
            pointer: pointer.to_string(),
            unknowns,
        });
        // Child resources nested in `resources`.
        if let Some(children) = r.get("resources").and_then(Value::as_array) {
            let base = {
                let lower = id.to_ascii_lowercase();
                match lower.rfind("/providers/") {
                    Some(i) => id[..i].to_string(),
                    None => self.target.id(),
                }
            };
            let name_path = full_name_of(&id);
            for (i, child) in children.iter().enumerate() {
                let at = format!("{pointer}/resources/{i}");
                self.resource(child, &at, Some((&full_type, &name_path, &base)), pass)?;
            }
        }
        Ok(())
    }

    /// A `Microsoft.Resources/deployments` resource with an inline template.
    fn nested(&self, r: &Value, pointer: &str, id: &str, pass: &mut Pass) -> Result<()> {
        let props = r.get("properties").cloned().unwrap_or(Value::Null);
        let Some(template) = r.pointer("/properties/template") else {
            pass.gaps.messages.push(format!(
                "{pointer}: nested deployment `{}` uses a linked template (templateLink), which amlaudit does not fetch; what it deploys is unknown",
                ids::short_name(id)
            ));
            return Ok(());
        };
        let inner = props
            .pointer("/expressionEvaluationOptions/scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
        let Some(target) = self.target_of(r, pointer)? else {
            return Ok(());
        };
        let name = ids::short_name(id).to_string();
        let template_pointer = format!("{pointer}/properties/template");
        if inner {
            let mut provided = HashMap::new();
            if let Some(params) = props.get("parameters").and_then(Value::as_object) {
                for (k, v) in params {
                    let at = format!("{pointer}/properties/parameters/{}", escape_segment(k));
                    let value = if v.get("reference").is_some() {
                        Val::Unknown(format!(
                            "parameter `{k}` of nested deployment `{name}` is a Key Vault reference"
                        ))
                    } else {
                        Val::from_json(self.value(
                            v.get("value").unwrap_or(&Value::Null),
                            &format!("{at}/value"),
                        )?)
                    };
                    provided.insert(k.to_ascii_lowercase(), value);
                }
            }
            let frame = Frame::new(
                template,
                template_pointer,
                provided,
                None,
                target,
                &name,
                self.shared,
            )?;
            frame.run(pass)?;
            let outputs = frame.outputs()?;
            pass.outputs.insert(ids::normalize(id), outputs);
        } else {
            let scope = self.scope();
            let frame = Frame {
                template,
                pointer: template_pointer,
                params: HashMap::new(),
                param_cache: RefCell::default(),
                var_cache: RefCell::default(),
                in_progress: RefCell::default(),
                outer: Some(scope),
                target,
                deployment_name: name,
                copy: self.copy.clone(),
                symbols: RefCell::default(),
                shared: self.shared,
            };
            frame.run(pass)?;
            let outputs = frame.outputs()?;
            pass.outputs.insert(ids::normalize(id), outputs);
        }
        Ok(())
    }

    /// `outputs` as `reference(deployment).outputs` returns them: `{name: {type, value}}`.
    fn outputs(&self) -> Result<Value> {
        let mut out = Map::new();
        if let Some(o) = self.template.get("outputs").and_then(Value::as_object) {
            for (k, decl) in o {
                let at = format!("{}/outputs/{}", self.pointer, escape_segment(k));
                let value = match decl.get("value") {
                    Some(v) => self.value(v, &format!("{at}/value"))?,
                    None => expr::marker(&format!("output `{k}` is computed with a copy loop")),
                };
                out.insert(
                    k.clone(),
                    json!({"type": decl.get("type").cloned().unwrap_or(Value::Null), "value": value}),
                );
            }
        }
        Ok(Value::Object(out))
    }

    fn deployment_id(&self) -> String {
        format!(
            "{}/providers/Microsoft.Resources/deployments/{}",
            self.target.id(),
            self.deployment_name
        )
    }
}

fn expr_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `<scope>/providers/<Namespace>/<t1>/<n1>/<t2>/<n2>`.
fn build_id(base: &str, ty: &str, name: &str) -> String {
    let mut types = ty.split('/');
    let namespace = types.next().unwrap_or_default();
    let mut id = format!("{}/providers/{namespace}", base.trim_end_matches('/'));
    for (t, n) in types.zip(name.split('/')) {
        id.push('/');
        id.push_str(t);
        id.push('/');
        id.push_str(n);
    }
    id
}

/// `ws/compute` from `.../workspaces/ws/computes/compute`.
fn full_name_of(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    let Some(at) = lower.rfind("/providers/") else {
        return ids::short_name(id).to_string();
    };
    let rest: Vec<&str> = id[at + "/providers/".len()..].split('/').collect();
    rest.iter()
        .skip(2)
        .step_by(2)
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

fn collect_unknowns(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(r) = expr::unknown_reason(s)
                && !out.iter().any(|o| o == r)
            {
                out.push(r.to_string());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_unknowns(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            collect_unknowns(&Value::String(k.clone()), out);
            collect_unknowns(x, out);
        }),
        _ => {}
    }
}

fn strip_runtime(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove(RUNTIME_KEY);
            o.values_mut().for_each(strip_runtime);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_runtime),
        _ => {}
    }
}

/// Azure's defaults and the values Azure assigns at creation that the rules read (see
/// docs/templates.md for each one's source).
fn apply_defaults(resource: &mut Value, snapshot: Option<&Snapshot>) {
    let id = resource["id"].as_str().unwrap_or_default().to_string();
    let ty = resource["type"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let existing = snapshot.and_then(|s| {
        let key = ids::normalize(&id);
        s.resources.iter().find(|r| {
            r.get("id")
                .and_then(Value::as_str)
                .is_some_and(|i| ids::normalize(i) == key)
        })
    });
    let Value::Object(obj) = resource else {
        return;
    };
    // A system-assigned identity keeps its principal when the resource already has one.
    if let Some(Value::Object(identity)) = obj.get_mut("identity") {
        let kinds = identity
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if kinds.split(',').any(|k| k.trim() == "systemassigned") {
            let keep = existing
                .and_then(|e| e.pointer("/identity/principalId"))
                .and_then(Value::as_str)
                .map(str::to_string);
            identity.insert(
                "principalId".into(),
                json!(keep.unwrap_or_else(|| planned_principal(&id))),
            );
        }
    }
    let props = obj
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if !props.is_object() {
        return;
    }
    let Value::Object(props) = props else {
        return;
    };
    match ty.as_str() {
        crate::inventory::types::REGISTRY => {
            props.entry("adminUserEnabled").or_insert(json!(false));
            props.entry("anonymousPullEnabled").or_insert(json!(false));
            if let Some(name) = id.rsplit('/').next() {
                // The login server is `<name>.azurecr.io` in the public cloud, lower-cased.
                props
                    .entry("loginServer")
                    .or_insert_with(|| json!(format!("{}.azurecr.io", name.to_ascii_lowercase())));
            }
        }
        crate::inventory::types::USER_ASSIGNED_IDENTITY => {
            let keep = |k: &str| {
                existing
                    .and_then(|e| e.pointer(&format!("/properties/{k}")))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            props.insert(
                "principalId".into(),
                json!(keep("principalId").unwrap_or_else(|| planned_principal(&id))),
            );
            props.insert(
                "clientId".into(),
                json!(keep("clientId").unwrap_or_else(|| planned_client(&id))),
            );
        }
        "microsoft.keyvault/vaults" => {
            props
                .entry("enableRbacAuthorization")
                .or_insert(json!(false));
        }
        crate::inventory::types::ROLE_ASSIGNMENT => {
            let lower = id.to_ascii_lowercase();
            if let Some(cut) = lower.rfind("/providers/microsoft.authorization/roleassignments/") {
                let scope = if cut == 0 {
                    "/".to_string()
                } else {
                    id[..cut].to_string()
                };
                props.entry("scope").or_insert(json!(scope));
            }
        }
        _ => {}
    }
}

impl Context for Frame<'_> {
    fn parameter(&self, name: &str) -> std::result::Result<Val, String> {
        let s = self.scope();
        let key = name.to_ascii_lowercase();
        if let Some(v) = s.param_cache.borrow().get(&key) {
            return Ok(v.clone());
        }
        let Some((decl, provided)) = s.params.get(&key) else {
            return Err(format!("the template declares no parameter `{name}`"));
        };
        let ty = decl
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let value = if ty == "securestring" || ty == "secureobject" {
            Val::Unknown(format!(
                "parameter `{name}` is secure; amlaudit does not read its value"
            ))
        } else if let Some(v) = provided {
            v.clone()
        } else if let Some(default) = decl.get("defaultValue") {
            if s.in_progress.borrow().contains(&format!("p:{key}")) {
                return Err(format!("parameter `{name}` refers to itself"));
            }
            s.in_progress.borrow_mut().push(format!("p:{key}"));
            let at = format!(
                "{}/parameters/{}/defaultValue",
                s.pointer,
                escape_segment(name)
            );
            let v = s.value(default, &at).map_err(|e| e.message);
            s.in_progress
                .borrow_mut()
                .retain(|p| p != &format!("p:{key}"));
            Val::from_json(v?)
        } else {
            return Err(format!(
                "parameter `{name}` has no value: give it in --template-parameters or a defaultValue"
            ));
        };
        s.param_cache.borrow_mut().insert(key, value.clone());
        Ok(value)
    }

    fn variable(&self, name: &str) -> std::result::Result<Val, String> {
        let s = self.scope();
        let key = name.to_ascii_lowercase();
        if s.copy.is_empty()
            && let Some(v) = s.var_cache.borrow().get(&key)
        {
            return Ok(v.clone());
        }
        let vars = s.template.get("variables").and_then(Value::as_object);
        let marker = format!("v:{key}");
        if s.in_progress.borrow().contains(&marker) {
            return Err(format!("variable `{name}` refers to itself"));
        }
        // Variables built by a `copy` section.
        if let Some(copies) = vars.and_then(|v| v.get("copy")).and_then(Value::as_array)
            && let Some(i) = copies.iter().position(|c| {
                c.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        {
            s.in_progress.borrow_mut().push(marker.clone());
            let at = format!("{}/variables/copy", s.pointer);
            let single = Value::Array(vec![copies[i].clone()]);
            let r = s.property_copy(&single, &at).map_err(|e| e.message);
            s.in_progress.borrow_mut().retain(|p| p != &marker);
            let v = r?.into_iter().next().map(|(_, v)| v).unwrap_or(Value::Null);
            return Ok(Val::from_json(v));
        }
        let Some((real, raw)) =
            vars.and_then(|v| v.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        else {
            return Err(format!("the template declares no variable `{name}`"));
        };
        s.in_progress.borrow_mut().push(marker.clone());
        let at = format!("{}/variables/{}", s.pointer, escape_segment(real));
        let r = s.value(raw, &at).map_err(|e| e.message);
        s.in_progress.borrow_mut().retain(|p| p != &marker);
        let v = Val::from_json(r?);
        if s.copy.is_empty() {
            s.var_cache.borrow_mut().insert(key, v.clone());
        }
        Ok(v)
    }

    fn copy_index(&self, loop_name: Option<&str>) -> std::result::Result<i64, String> {
        let found = match loop_name {
            None => self.copy.last(),
            Some(n) => self
                .copy
                .iter()
                .rev()
                .find(|(l, _)| l.eq_ignore_ascii_case(n)),
        };
        found.map(|(_, i)| *i).ok_or_else(|| match loop_name {
            Some(n) => format!("copyIndex('{n}') outside copy loop `{n}`"),
            None => "copyIndex() outside a copy loop".to_string(),
        })
    }

    fn reference(&self, target: &str, full: bool, text: &str) -> Val {
        let shared = self.shared;
        let key = target.to_ascii_lowercase();
        let id = if target.starts_with('/') {
            Some(target.to_string())
        } else if let Some(id) = self.symbols.borrow().get(&key) {
            Some(id.clone())
        } else {
            shared.by_name.get(&key).cloned()
        };
        let Some(id) = id else {
            return Val::Unknown(format!(
                "`{text}` names `{target}`, which this deployment does not create"
            ));
        };
        let norm = ids::normalize(&id);
        if let Some(outputs) = shared.outputs.get(&norm) {
            return Val::Known(json!({"outputs": outputs}));
        }
        if shared.planned.contains(&norm) {
            let body = shared
                .bodies
                .get(&norm)
                .cloned()
                .unwrap_or_else(|| json!({"id": id}));
            let mut body = body;
            if let Value::Object(o) = &mut body {
                o.insert(
                    RUNTIME_KEY.into(),
                    json!("set by Azure when the resource is deployed"),
                );
                o.entry("properties").or_insert_with(|| json!({}));
                if let Some(Value::Object(p)) = o.get_mut("properties") {
                    p.insert(
                        RUNTIME_KEY.into(),
                        json!("set by Azure when the resource is deployed"),
                    );
                }
                if let Some(Value::Object(i)) = o.get_mut("identity") {
                    i.insert(
                        RUNTIME_KEY.into(),
                        json!("set by Azure when the resource is deployed"),
                    );
                }
            }
            return Val::Known(if full {
                body
            } else {
                body["properties"].clone()
            });
        }
        if let Some(existing) = shared.snapshot.and_then(|s| {
            s.resources.iter().find(|r| {
                r.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|i| ids::normalize(i) == norm)
            })
        }) {
            let mut body = existing.clone();
            if let Value::Object(o) = &mut body {
                o.insert(RUNTIME_KEY.into(), json!("not in the snapshot"));
                o.entry("properties").or_insert_with(|| json!({}));
                if let Some(Value::Object(p)) = o.get_mut("properties") {
                    p.insert(RUNTIME_KEY.into(), json!("not in the snapshot"));
                }
            }
            return Val::Known(if full {
                body
            } else {
                body["properties"].clone()
            });
        }
        Val::Unknown(format!(
            "`{text}` reads `{id}`, which this deployment does not create and {}",
            if shared.snapshot.is_some() {
                "the snapshot does not hold"
            } else {
                "no --snapshot was given to look it up in"
            }
        ))
    }

    fn subscription_id(&self) -> Val {
        Val::Known(json!(self.scope().target.subscription))
    }

    fn resource_group_name(&self) -> Option<Val> {
        self.scope()
            .target
            .resource_group
            .clone()
            .map(|r| Val::Known(json!(r)))
    }

    fn resource_group(&self) -> std::result::Result<Val, String> {
        let t = &self.scope().target;
        let Some(rg) = &t.resource_group else {
            return Err("resourceGroup() outside a resource-group deployment".into());
        };
        Ok(Val::Known(json!({
            "id": t.id(),
            "name": rg,
            "type": "Microsoft.Resources/resourceGroups",
            "location": expr::marker("the resource group's location is not in the template"),
            "properties": {"provisioningState": "Succeeded"},
            RUNTIME_KEY: "not known before deployment",
        })))
    }

    fn subscription(&self) -> Val {
        let t = &self.scope().target;
        Val::Known(json!({
            "id": format!("/subscriptions/{}", t.subscription),
            "subscriptionId": t.subscription,
            "tenantId": self.tenant_id().into_json(),
            RUNTIME_KEY: "not known before deployment",
        }))
    }

    fn deployment(&self) -> Val {
        let s = self.scope();
        Val::Known(json!({
            "id": s.deployment_id(),
            "name": s.deployment_name,
            "properties": {RUNTIME_KEY: "not known before deployment"},
            RUNTIME_KEY: "not known before deployment",
        }))
    }

    fn cloud(&self) -> Option<String> {
        // A template scanned alone is audited as the public cloud, which its report names.
        Some(
            self.shared
                .snapshot
                .map_or_else(|| "AzureCloud".to_string(), |s| s.cloud.clone()),
        )
    }

    fn tenant_id(&self) -> Val {
        match &self.shared.tenant_id {
            Some(t) => Val::Known(json!(t)),
            None => Val::Unknown("the tenant id (no snapshot says it)".into()),
        }
    }
}

/// An expression as an error message quotes it: at most 120 characters.
fn excerpt(s: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 120;
    match s.char_indices().nth(MAX) {
        None => s.into(),
        Some((cut, _)) => format!("{}…", &s[..cut]).into(),
    }
}
