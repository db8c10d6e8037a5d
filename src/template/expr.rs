//! The ARM template expression language: parsing `[...]` strings and evaluating them.
//!
//! Grammar (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions):
//! a string that starts with `[` and ends with `]` is an expression, `[[` escapes a literal `[`;
//! an expression is a function call, a single-quoted string (`''` escapes a quote) or an integer,
//! followed by any number of `.property`, `['property']` and `[index]` accesses (`?.` and `?[`
//! give null instead of an error when the left side is null).
//!
//! A value the template cannot know before deployment (a function amlaudit does not evaluate, a
//! secure parameter, a runtime property) is [`Val::Unknown`], carrying the expression that made
//! it, and anything computed from it is unknown too. Unknown values inside JSON are written as the
//! string `<unknown: reason>` so they survive being stored in objects and arrays.

use serde_json::{Map, Value, json};

use super::hash;

/// A key an object carries when its missing properties are runtime values, not absent ones
/// (what `reference()` returns); its value says why. Removed before resources are stored.
pub const RUNTIME_KEY: &str = "$amlaudit.runtime";

/// The prefix that marks an unknown value stored inside JSON.
pub const UNKNOWN_PREFIX: &str = "<unknown: ";

/// A value, or the reason it cannot be known before deployment.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Known(Value),
    Unknown(String),
}

impl Val {
    /// Reads JSON back, turning stored unknown markers into [`Val::Unknown`].
    pub fn from_json(v: Value) -> Val {
        match &v {
            Value::String(s) => match unknown_reason(s) {
                Some(r) => Val::Unknown(r.to_string()),
                None => Val::Known(v),
            },
            _ => Val::Known(v),
        }
    }

    /// The value as JSON, unknowns as markers.
    pub fn into_json(self) -> Value {
        match self {
            Val::Known(v) => v,
            Val::Unknown(reason) => marker(&reason),
        }
    }
}

/// The JSON marker for an unknown value.
pub fn marker(reason: &str) -> Value {
    Value::String(format!("{UNKNOWN_PREFIX}{reason}>"))
}

/// The reason inside a marker string.
pub fn unknown_reason(s: &str) -> Option<&str> {
    s.strip_prefix(UNKNOWN_PREFIX)?.strip_suffix('>')
}

/// The first unknown marker anywhere inside a value.
pub fn first_unknown(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => unknown_reason(s).map(str::to_string),
        Value::Array(a) => a.iter().find_map(first_unknown),
        Value::Object(o) => o.values().find_map(first_unknown),
        _ => None,
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Str(String),
    Int(i64),
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Member {
        target: Box<Expr>,
        name: String,
        safe: bool,
    },
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
        safe: bool,
    },
}

/// What evaluation needs from the template around it.
pub trait Context {
    fn parameter(&self, name: &str) -> Result<Val, String>;
    fn variable(&self, name: &str) -> Result<Val, String>;
    fn copy_index(&self, loop_name: Option<&str>) -> Result<i64, String>;
    /// `reference(target, apiVersion, 'Full')`; `text` is the call as written, for messages.
    fn reference(&self, target: &str, full: bool, text: &str) -> Val;
    fn subscription_id(&self) -> Val;
    fn resource_group_name(&self) -> Option<Val>;
    fn resource_group(&self) -> Result<Val, String>;
    fn subscription(&self) -> Val;
    fn deployment(&self) -> Val;
    fn tenant_id(&self) -> Val;
    /// The cloud's name (`AzureCloud`, ...) when it is known, for `environment()`.
    fn cloud(&self) -> Option<String> {
        None
    }
    /// `lambdaVariables('name')`: only inside a lambda (see [`Lambda`]).
    fn lambda_variable(&self, name: &str) -> Result<Val, String> {
        Err(format!(
            "lambdaVariables('{name}') outside a lambda of filter, groupBy, map, mapValues, reduce, sort or toObject"
        ))
    }
}

/// Whether a template string is an expression, and its text without brackets; `[[x]` is the
/// literal `[x]`.
pub fn as_expression(s: &str) -> Result<&str, String> {
    if s.starts_with("[[") {
        return Err(s[1..].to_string());
    }
    match s.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => Ok(inner),
        None => Err(s.to_string()),
    }
}

/// How deeply an expression may nest calls, members and indexes. Parsing, evaluating and dropping
/// an expression recurse once per level; a hostile template nesting thousands of `concat(` would
/// otherwise overflow the stack. Real templates stay far below it.
pub const MAX_NESTING: usize = 128;

/// The largest value (string bytes plus array and object entries) an expression may produce:
/// ARM refuses templates over 4 MB, and `padLeft` or values concatenated with themselves could
/// otherwise ask for more memory than the machine has.
pub const MAX_VALUE_SIZE: usize = 4 * 1024 * 1024;

/// Parses the text between the brackets.
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        at: 0,
        depth: 0,
    };
    p.blank();
    let e = p.expression()?;
    p.blank();
    if p.at < p.chars.len() {
        return Err(format!(
            "unexpected `{}` at character {} of the expression",
            p.chars[p.at],
            p.at + 1
        ));
    }
    Ok(e)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }
    fn blank(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Option<String> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            self.at += 1;
        }
        (self.at > start).then(|| self.chars[start..self.at].iter().collect())
    }

    fn expression(&mut self) -> Result<Expr, String> {
        let entered = self.depth;
        let e = self.nested_expression();
        self.depth = entered;
        e
    }

    /// One more level of nesting, refused past [`MAX_NESTING`].
    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!(
                "the expression nests more than {MAX_NESTING} levels deep (at character {})",
                self.at + 1
            ));
        }
        Ok(())
    }

    fn nested_expression(&mut self) -> Result<Expr, String> {
        self.deeper()?;
        let mut e = self.primary()?;
        loop {
            self.blank();
            let safe = self.peek() == Some('?')
                && matches!(self.chars.get(self.at + 1), Some('.') | Some('['));
            if safe {
                self.at += 1;
            }
            if self.peek() == Some('.') || self.peek() == Some('[') {
                // Each member or index wraps what came before: it nests as deeply as a call.
                self.deeper()?;
            }
            if self.eat('.') {
                self.blank();
                let name = self.ident().ok_or_else(|| {
                    format!("expected a property name at character {}", self.at + 1)
                })?;
                e = Expr::Member {
                    target: Box::new(e),
                    name,
                    safe,
                };
            } else if self.eat('[') {
                self.blank();
                let index = self.expression()?;
                self.blank();
                if !self.eat(']') {
                    return Err(format!("expected `]` at character {}", self.at + 1));
                }
                e = Expr::Index {
                    target: Box::new(e),
                    index: Box::new(index),
                    safe,
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        self.blank();
        match self.peek() {
            Some('\'') => {
                self.at += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') => {
                            self.at += 1;
                            if self.eat('\'') {
                                s.push('\'');
                            } else {
                                return Ok(Expr::Str(s));
                            }
                        }
                        Some(c) => {
                            s.push(c);
                            self.at += 1;
                        }
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.at;
                self.at += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().collect();
                text.parse::<i64>()
                    .map(Expr::Int)
                    .map_err(|_| format!("`{text}` is not an integer"))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = self.ident().unwrap_or_default();
                self.blank();
                // A user-defined function: `namespace.member(...)`.
                if self.peek() == Some('.') {
                    let save = self.at;
                    self.at += 1;
                    if let Some(member) = self.ident() {
                        self.blank();
                        if self.peek() == Some('(') {
                            name = format!("{name}.{member}");
                        } else {
                            self.at = save;
                        }
                    } else {
                        self.at = save;
                    }
                }
                self.blank();
                if !self.eat('(') {
                    return Err(format!(
                        "`{name}` must be called as a function: `{name}(...)`"
                    ));
                }
                let mut args = Vec::new();
                self.blank();
                if !self.eat(')') {
                    loop {
                        args.push(self.expression()?);
                        self.blank();
                        if self.eat(',') {
                            continue;
                        }
                        if self.eat(')') {
                            break;
                        }
                        return Err(format!(
                            "expected `,` or `)` in the arguments of `{name}` at character {}",
                            self.at + 1
                        ));
                    }
                }
                Ok(Expr::Call { name, args })
            }
            Some(c) => Err(format!("unexpected `{c}` at character {}", self.at + 1)),
            None => Err("the expression is empty".into()),
        }
    }
}

/// Renders an expression back to text, for messages.
pub fn render(e: &Expr) -> String {
    match e {
        Expr::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Expr::Int(i) => i.to_string(),
        Expr::Call { name, args } => format!(
            "{name}({})",
            args.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Expr::Member { target, name, safe } => {
            format!("{}{}.{name}", render(target), if *safe { "?" } else { "" })
        }
        Expr::Index {
            target,
            index,
            safe,
        } => format!(
            "{}{}[{}]",
            render(target),
            if *safe { "?" } else { "" },
            render(index)
        ),
    }
}

/// How deeply evaluation may recurse in all: expressions within expressions, and variables,
/// parameters and user functions that refer to one another (ARM allows 256 variables, and a
/// chain of them each nesting calls would otherwise overflow the stack). The template is
/// evaluated on a thread whose stack holds this many levels.
pub const MAX_EVAL_DEPTH: usize = 1024;

std::thread_local! {
    static EVAL_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Evaluates an expression.
pub fn eval(e: &Expr, ctx: &dyn Context) -> Result<Val, String> {
    let depth = EVAL_DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let result = if depth > MAX_EVAL_DEPTH {
        Err(format!(
            "evaluation nests more than {MAX_EVAL_DEPTH} levels deep (variables, parameters or functions referring to one another)"
        ))
    } else {
        eval_unguarded(e, ctx)
    };
    EVAL_DEPTH.with(|d| d.set(depth - 1));
    result
}

fn eval_unguarded(e: &Expr, ctx: &dyn Context) -> Result<Val, String> {
    match e {
        Expr::Str(s) => Ok(Val::Known(json!(s))),
        Expr::Int(i) => Ok(Val::Known(json!(i))),
        Expr::Member { target, name, safe } => {
            let base = eval(target, ctx)?;
            access(base, &Value::String(name.clone()), *safe, e)
        }
        Expr::Index {
            target,
            index,
            safe,
        } => {
            let base = eval(target, ctx)?;
            match eval(index, ctx)? {
                Val::Unknown(r) => Ok(Val::Unknown(r)),
                Val::Known(i) => access(base, &i, *safe, e),
            }
        }
        Expr::Call { name, args } => call(name, args, ctx, e),
    }
}

fn access(base: Val, key: &Value, safe: bool, e: &Expr) -> Result<Val, String> {
    let base = match base {
        Val::Unknown(r) => return Ok(Val::Unknown(r)),
        Val::Known(v) => v,
    };
    match (&base, key) {
        (Value::Null, _) if safe => Ok(Val::Known(Value::Null)),
        (Value::Object(o), Value::String(k)) => {
            // Property names are case-insensitive in ARM.
            let found = o.get(k).or_else(|| {
                o.iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            });
            match found {
                Some(v) => Ok(Val::from_json(v.clone())),
                None if safe => Ok(Val::Known(Value::Null)),
                // An object standing for a resource whose runtime state is not known: what the
                // template did not set is decided at deployment.
                None if o.contains_key(RUNTIME_KEY) => Ok(Val::Unknown(format!(
                    "`{}`: `{k}` is {}",
                    render(e),
                    o.get(RUNTIME_KEY)
                        .and_then(Value::as_str)
                        .unwrap_or("a runtime value")
                ))),
                None => Err(format!("`{}`: the object has no property `{k}`", render(e))),
            }
        }
        (Value::Array(a), Value::Number(n)) => match n.as_u64().and_then(|i| a.get(i as usize)) {
            Some(v) => Ok(Val::from_json(v.clone())),
            None if safe => Ok(Val::Known(Value::Null)),
            None => Err(format!("`{}`: index {n} is out of range", render(e))),
        },
        _ => Err(format!(
            "`{}`: cannot take {key} of {}",
            render(e),
            type_name(&base)
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Unknown when any argument is unknown (the first one's reason), else the known values.
fn known_args(args: Vec<Val>) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Val::Known(v) => out.push(v),
            Val::Unknown(r) => return Err(r),
        }
    }
    Ok(out)
}

fn to_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn truthy(v: &Value, f: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(format!("{f}: expected a boolean, got {}", type_name(other))),
    }
}

fn int_of(v: &Value, f: &str) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|x| x as i64))
            .ok_or_else(|| format!("{f}: {n} is not an integer")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("{f}: `{s}` is not an integer")),
        other => Err(format!(
            "{f}: expected an integer, got {}",
            type_name(other)
        )),
    }
}

fn arity(f: &str, args: &[Expr], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!(
            "`{f}` takes {want} argument(s), got {}",
            args.len()
        ));
    }
    Ok(())
}

/// Why a value is too large for amlaudit to hold: more than [`MAX_VALUE_SIZE`] (counting stops
/// there), or nested more than [`MAX_NESTING`] levels (each function can nest its argument once
/// more, so a chain of variables could otherwise build a value too deep to walk or drop).
fn too_large(v: &Value) -> Option<String> {
    fn walk(v: &Value, depth: usize, budget: &mut usize) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err(format!(
                "a value nested more than {MAX_NESTING} levels deep"
            ));
        }
        let own = match v {
            Value::String(s) => s.len(),
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len() + o.keys().map(String::len).sum::<usize>(),
            _ => 1,
        };
        if own > *budget {
            return Err(format!(
                "a value larger than {} MB, the size limit of an ARM template",
                MAX_VALUE_SIZE / (1024 * 1024)
            ));
        }
        *budget -= own;
        match v {
            Value::Array(a) => a.iter().try_for_each(|x| walk(x, depth + 1, budget)),
            Value::Object(o) => o.values().try_for_each(|x| walk(x, depth + 1, budget)),
            _ => Ok(()),
        }
    }
    let mut budget = MAX_VALUE_SIZE;
    walk(v, 0, &mut budget).err()
}

/// The functions amlaudit evaluates, refusing results that are too large (see [`too_large`]).
fn call(name: &str, args: &[Expr], ctx: &dyn Context, e: &Expr) -> Result<Val, String> {
    let value = call_unbounded(name, args, ctx, e)?;
    if let Val::Known(v) = &value
        && let Some(why) = too_large(v)
    {
        return Err(format!("`{name}` produces {why}"));
    }
    Ok(value)
}

/// The functions amlaudit evaluates. Anything else evaluates to unknown, naming the call.
fn call_unbounded(name: &str, args: &[Expr], ctx: &dyn Context, e: &Expr) -> Result<Val, String> {
    let f = name.to_ascii_lowercase();
    // Functions whose arguments are evaluated lazily or specially come first.
    match f.as_str() {
        "if" => {
            arity(name, args, 3, 3)?;
            return match eval(&args[0], ctx)? {
                Val::Unknown(r) => Ok(Val::Unknown(r)),
                Val::Known(c) => {
                    if truthy(&c, name)? {
                        eval(&args[1], ctx)
                    } else {
                        eval(&args[2], ctx)
                    }
                }
            };
        }
        "coalesce" => {
            arity(name, args, 1, usize::MAX)?;
            for a in args {
                match eval(a, ctx)? {
                    Val::Known(Value::Null) => continue,
                    other => return Ok(other),
                }
            }
            return Ok(Val::Known(Value::Null));
        }
        "and" | "or" => {
            arity(name, args, 2, usize::MAX)?;
            let want = f == "or";
            let mut unknown = None;
            for a in args {
                match eval(a, ctx)? {
                    Val::Unknown(r) => unknown = unknown.or(Some(r)),
                    Val::Known(v) => {
                        if truthy(&v, name)? == want {
                            return Ok(Val::Known(json!(want)));
                        }
                    }
                }
            }
            return Ok(match unknown {
                Some(r) => Val::Unknown(r),
                None => Val::Known(json!(!want)),
            });
        }
        "reference" => {
            arity(name, args, 1, 3)?;
            let full = match args.get(2).map(|a| eval(a, ctx)).transpose()? {
                Some(Val::Known(Value::String(s))) => s.eq_ignore_ascii_case("full"),
                Some(Val::Unknown(r)) => return Ok(Val::Unknown(r)),
                _ => false,
            };
            return Ok(match eval(&args[0], ctx)? {
                Val::Unknown(r) => Val::Unknown(r),
                Val::Known(t) => ctx.reference(&to_str(&t), full, &render(e)),
            });
        }
        "filter" | "map" | "reduce" | "sort" | "toobject" | "mapvalues" | "groupby" => {
            return lambda_function(&f, name, args, ctx);
        }
        "lambda" => {
            return Err(
                "`lambda` is only an argument of filter, groupBy, map, mapValues, reduce, sort and toObject"
                    .into(),
            );
        }
        "lambdavariables" => {
            arity(name, args, 1, 1)?;
            return match eval(&args[0], ctx)? {
                Val::Known(Value::String(n)) => ctx.lambda_variable(&n),
                Val::Known(other) => Err(format!("{name}: expected a name, got {other}")),
                Val::Unknown(r) => Ok(Val::Unknown(r)),
            };
        }
        "copyindex" => {
            arity(name, args, 0, 2)?;
            let mut loop_name = None;
            let mut offset = 0;
            for a in args {
                match eval(a, ctx)? {
                    Val::Known(Value::String(s)) => loop_name = Some(s),
                    Val::Known(v) => offset = int_of(&v, name)?,
                    Val::Unknown(r) => return Ok(Val::Unknown(r)),
                }
            }
            return Ok(Val::Known(json!(
                ctx.copy_index(loop_name.as_deref())?
                    .checked_add(offset)
                    .ok_or_else(|| format!("{name}: the offset {offset} overflows"))?
            )));
        }
        _ => {}
    }
    let values: Vec<Val> = args
        .iter()
        .map(|a| eval(a, ctx))
        .collect::<Result<_, _>>()?;
    // Functions that handle unknown arguments themselves.
    match f.as_str() {
        "parameters" | "variables" => {
            arity(name, args, 1, 1)?;
            let n = match &values[0] {
                Val::Known(Value::String(s)) => s.clone(),
                Val::Known(other) => return Err(format!("{name}: expected a name, got {other}")),
                Val::Unknown(r) => return Ok(Val::Unknown(r.clone())),
            };
            return if f == "parameters" {
                ctx.parameter(&n)
            } else {
                ctx.variable(&n)
            };
        }
        "resourcegroup" => return ctx.resource_group(),
        "subscription" => return Ok(ctx.subscription()),
        "deployment" => return Ok(ctx.deployment()),
        "tenant" => {
            return Ok(match ctx.tenant_id() {
                Val::Known(t) => {
                    Val::Known(json!({"tenantId": t, "id": format!("/tenants/{}", to_str(&t))}))
                }
                u => u,
            });
        }
        "environment" => return Ok(environment(ctx.cloud().as_deref())),
        "true" => return Ok(Val::Known(json!(true))),
        "false" => return Ok(Val::Known(json!(false))),
        "null" => return Ok(Val::Known(Value::Null)),
        "resourceid" | "subscriptionresourceid" | "extensionresourceid" | "tenantresourceid" => {
            return resource_id_fn(&f, name, values, ctx);
        }
        _ => {}
    }
    let known = matches!(
        f.as_str(),
        "concat"
            | "format"
            | "guid"
            | "uniquestring"
            | "equals"
            | "not"
            | "empty"
            | "contains"
            | "length"
            | "tolower"
            | "toupper"
            | "split"
            | "first"
            | "last"
            | "union"
            | "createobject"
            | "createarray"
            | "json"
            | "string"
            | "int"
            | "bool"
            | "replace"
            | "substring"
            | "take"
            | "skip"
            | "startswith"
            | "endswith"
            | "trim"
            | "indexof"
            | "lastindexof"
            | "add"
            | "sub"
            | "mul"
            | "div"
            | "mod"
            | "greater"
            | "less"
            | "greaterorequals"
            | "lessorequals"
            | "intersection"
            | "min"
            | "max"
            | "range"
            | "items"
            | "padleft"
            | "base64"
            | "join"
            | "array"
    );
    if !known {
        return Ok(Val::Unknown(format!(
            "`{}` uses `{name}`, which amlaudit does not evaluate",
            render(e)
        )));
    }
    let v = match known_args(values) {
        Ok(v) => v,
        Err(r) => return Ok(Val::Unknown(r)),
    };
    // Deep values (objects, arrays) may hold unknown parts; comparisons over them are unknown.
    if matches!(
        f.as_str(),
        "equals" | "string" | "json" | "empty" | "contains" | "union" | "intersection" | "join"
    ) && let Some(r) = v.iter().find_map(first_unknown)
    {
        return Ok(Val::Unknown(r));
    }
    pure(&f, name, args, v).map(|r| match r {
        Value::String(ref s) if unknown_reason(s).is_some() => Val::from_json(r),
        other => Val::Known(other),
    })
}

/// `environment()` in Azure's public cloud, as Microsoft Learn's "Deployment functions for ARM
/// templates" documents it; other clouds' values are not known here.
fn environment(cloud: Option<&str>) -> Val {
    match cloud {
        Some(c) if c.eq_ignore_ascii_case("AzureCloud") => Val::Known(json!({
            "name": "AzureCloud",
            "gallery": "https://gallery.azure.com/",
            "graph": "https://graph.windows.net/",
            "portal": "https://portal.azure.com",
            "graphAudience": "https://graph.windows.net/",
            "activeDirectoryDataLake": "https://datalake.azure.net/",
            "batch": "https://batch.core.windows.net/",
            "media": "https://rest.media.azure.net",
            "sqlManagement": "https://management.core.windows.net:8443/",
            "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
            "resourceManager": "https://management.azure.com/",
            "authentication": {
                "loginEndpoint": "https://login.microsoftonline.com/",
                "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
                "tenant": "common",
                "identityProvider": "AAD"
            },
            "suffixes": {
                "acrLoginServer": ".azurecr.io",
                "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
                "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
                "azureFrontDoorEndpointSuffix": "azurefd.net",
                "keyvaultDns": ".vault.azure.net",
                "sqlServerHostname": ".database.windows.net",
                "storage": "core.windows.net"
            }
        })),
        Some(c) => Val::Unknown(format!("environment() of cloud `{c}`")),
        None => Val::Unknown("environment() (the cloud is not known)".into()),
    }
}

/// A `lambda('a', 'b', body)` argument: its variable names and its body, evaluated once per
/// element with the names bound (Microsoft Learn, "Lambda functions for ARM templates").
struct Lambda<'e> {
    names: Vec<String>,
    body: &'e Expr,
}

impl<'e> Lambda<'e> {
    fn of(arg: &'e Expr, function: &str, ctx: &dyn Context, most: usize) -> Result<Self, String> {
        let Expr::Call { name, args } = arg else {
            return Err(format!("{function}: expected a lambda(...) argument"));
        };
        if !name.eq_ignore_ascii_case("lambda") || args.len() < 2 {
            return Err(format!(
                "{function}: expected a lambda('name', ..., expression) argument"
            ));
        }
        let (body, params) = args.split_last().expect("at least two arguments");
        if params.len() > most {
            return Err(format!(
                "{function}: its lambda takes at most {most} variables, not {}",
                params.len()
            ));
        }
        let names = params
            .iter()
            .map(|p| match eval(p, ctx)? {
                Val::Known(Value::String(s)) => Ok(s),
                _ => Err(format!("{function}: lambda variable names are strings")),
            })
            .collect::<Result<_, String>>()?;
        Ok(Lambda { names, body })
    }

    /// The body with the names bound to the first values (an index the lambda does not name is
    /// not bound).
    fn apply(&self, ctx: &dyn Context, values: &[Value]) -> Result<Val, String> {
        if values.len() < self.names.len() {
            return Err(format!(
                "a lambda with {} variables where {} are given",
                self.names.len(),
                values.len()
            ));
        }
        let bound = Bound {
            inner: ctx,
            names: &self.names,
            values,
        };
        eval(self.body, &bound)
    }
}

/// A context with lambda variables bound; everything else is the enclosing context's.
struct Bound<'a> {
    inner: &'a dyn Context,
    names: &'a [String],
    values: &'a [Value],
}

impl Context for Bound<'_> {
    fn parameter(&self, name: &str) -> Result<Val, String> {
        self.inner.parameter(name)
    }
    fn variable(&self, name: &str) -> Result<Val, String> {
        self.inner.variable(name)
    }
    fn copy_index(&self, loop_name: Option<&str>) -> Result<i64, String> {
        self.inner.copy_index(loop_name)
    }
    fn reference(&self, target: &str, full: bool, text: &str) -> Val {
        self.inner.reference(target, full, text)
    }
    fn subscription_id(&self) -> Val {
        self.inner.subscription_id()
    }
    fn resource_group_name(&self) -> Option<Val> {
        self.inner.resource_group_name()
    }
    fn resource_group(&self) -> Result<Val, String> {
        self.inner.resource_group()
    }
    fn subscription(&self) -> Val {
        self.inner.subscription()
    }
    fn deployment(&self) -> Val {
        self.inner.deployment()
    }
    fn tenant_id(&self) -> Val {
        self.inner.tenant_id()
    }
    fn cloud(&self) -> Option<String> {
        self.inner.cloud()
    }
    fn lambda_variable(&self, name: &str) -> Result<Val, String> {
        match self.names.iter().position(|n| n == name) {
            Some(i) => Ok(Val::from_json(self.values[i].clone())),
            None => self.inner.lambda_variable(name),
        }
    }
}

/// `filter`, `map`, `reduce`, `sort`, `toObject`, `mapValues` and `groupBy`. An unknown input, or
/// a lambda that gives an unknown where the result depends on it, makes the result unknown.
fn lambda_function(f: &str, name: &str, args: &[Expr], ctx: &dyn Context) -> Result<Val, String> {
    let (min, max) = match f {
        "reduce" => (3, 3),
        "toobject" => (2, 3),
        _ => (2, 2),
    };
    arity(name, args, min, max)?;
    let input = match eval(&args[0], ctx)? {
        Val::Unknown(r) => return Ok(Val::Unknown(r)),
        Val::Known(v) => v,
    };
    if f == "mapvalues" {
        let Value::Object(object) = input else {
            return Err(format!("{name}: expected an object"));
        };
        let lambda = Lambda::of(&args[1], name, ctx, 1)?;
        let mut out = serde_json::Map::new();
        for (key, value) in object {
            let mapped = lambda.apply(ctx, std::slice::from_ref(&value))?;
            out.insert(key, mapped.into_json());
        }
        return Ok(Val::Known(Value::Object(out)));
    }
    let Value::Array(items) = input else {
        return Err(format!("{name}: expected an array"));
    };
    let indexed = |i: usize, item: &Value| [item.clone(), json!(i)];
    match f {
        "filter" => {
            let lambda = Lambda::of(&args[1], name, ctx, 2)?;
            let mut kept = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match lambda.apply(ctx, &indexed(i, item))? {
                    Val::Unknown(r) => return Ok(Val::Unknown(r)),
                    Val::Known(keep) => {
                        if truthy(&keep, name)? {
                            kept.push(item.clone());
                        }
                    }
                }
            }
            Ok(Val::Known(Value::Array(kept)))
        }
        "map" => {
            let lambda = Lambda::of(&args[1], name, ctx, 2)?;
            let mapped = items
                .iter()
                .enumerate()
                .map(|(i, item)| lambda.apply(ctx, &indexed(i, item)).map(Val::into_json))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Val::Known(Value::Array(mapped)))
        }
        "reduce" => {
            let lambda = Lambda::of(&args[2], name, ctx, 3)?;
            let mut current = eval(&args[1], ctx)?;
            for (i, item) in items.iter().enumerate() {
                let Val::Known(acc) = current else {
                    return Ok(current);
                };
                current = lambda.apply(ctx, &[acc, item.clone(), json!(i)])?;
            }
            Ok(current)
        }
        "sort" => {
            let lambda = Lambda::of(&args[1], name, ctx, 2)?;
            // The lambda says whether its first argument comes before its second.
            let before = |a: &Value, b: &Value| -> Result<Option<bool>, String> {
                match lambda.apply(ctx, &[a.clone(), b.clone()])? {
                    Val::Unknown(_) => Ok(None),
                    Val::Known(v) => truthy(&v, name).map(Some),
                }
            };
            let mut failure: Option<Result<Val, String>> = None;
            let mut sorted = items.clone();
            sorted.sort_by(|a, b| {
                if failure.is_some() {
                    return std::cmp::Ordering::Equal;
                }
                let order = before(a, b).and_then(|ab| Ok((ab, before(b, a)?)));
                match order {
                    Ok((Some(true), _)) => std::cmp::Ordering::Less,
                    Ok((_, Some(true))) => std::cmp::Ordering::Greater,
                    Ok((Some(false), Some(false))) => std::cmp::Ordering::Equal,
                    Ok(_) => {
                        failure = Some(Ok(Val::Unknown(format!(
                            "`{name}` compares values that are not known before deployment"
                        ))));
                        std::cmp::Ordering::Equal
                    }
                    Err(e) => {
                        failure = Some(Err(e));
                        std::cmp::Ordering::Equal
                    }
                }
            });
            failure.unwrap_or(Ok(Val::Known(Value::Array(sorted))))
        }
        "toobject" | "groupby" => {
            let key_of = Lambda::of(&args[1], name, ctx, 1)?;
            let value_of = args
                .get(2)
                .map(|a| Lambda::of(a, name, ctx, 1))
                .transpose()?;
            let mut out = serde_json::Map::new();
            for item in &items {
                let key = match key_of.apply(ctx, std::slice::from_ref(item))? {
                    Val::Unknown(r) => return Ok(Val::Unknown(r)),
                    Val::Known(Value::String(s)) => s,
                    Val::Known(other) => {
                        return Err(format!("{name}: a key must be a string, not {other}"));
                    }
                };
                if f == "groupby" {
                    let group = out.entry(key).or_insert_with(|| json!([]));
                    if let Value::Array(members) = group {
                        members.push(item.clone());
                    }
                } else {
                    let value = match &value_of {
                        Some(lambda) => lambda.apply(ctx, std::slice::from_ref(item))?.into_json(),
                        None => item.clone(),
                    };
                    out.insert(key, value);
                }
            }
            Ok(Val::Known(Value::Object(out)))
        }
        _ => unreachable!("only lambda functions are dispatched here"),
    }
}

fn resource_id_fn(f: &str, name: &str, values: Vec<Val>, ctx: &dyn Context) -> Result<Val, String> {
    let v = match known_args(values) {
        Ok(v) => v,
        Err(r) => return Ok(Val::Unknown(r)),
    };
    let strs: Vec<String> = v.iter().map(to_str).collect();
    let (prefix, rest): (String, &[String]) = match f {
        "extensionresourceid" => {
            let Some((scope, rest)) = strs.split_first() else {
                return Err(format!("`{name}` needs a resource id, a type and names"));
            };
            (scope.trim_end_matches('/').to_string(), rest)
        }
        "tenantresourceid" => (String::new(), &strs[..]),
        _ => {
            // Arguments before the first one with a `/` are the subscription and resource group.
            let Some(type_at) = strs.iter().position(|s| s.contains('/')) else {
                return Err(format!(
                    "`{name}`: no argument is a resource type (`Namespace/type`)"
                ));
            };
            let sub = |given: Option<&String>| -> Result<String, Val> {
                match given {
                    Some(s) => Ok(s.clone()),
                    None => match ctx.subscription_id() {
                        Val::Known(v) => Ok(to_str(&v)),
                        u => Err(u),
                    },
                }
            };
            let prefix = if f == "subscriptionresourceid" {
                match type_at {
                    0 => match sub(None) {
                        Ok(s) => format!("/subscriptions/{s}"),
                        Err(u) => return Ok(u),
                    },
                    1 => format!("/subscriptions/{}", strs[0]),
                    _ => {
                        return Err(format!(
                            "`{name}` takes at most a subscription id before the type"
                        ));
                    }
                }
            } else {
                let (s, rg) = match type_at {
                    0 => (None, None),
                    1 => (None, Some(strs[0].clone())),
                    2 => (Some(&strs[0]), Some(strs[1].clone())),
                    _ => {
                        return Err(format!(
                            "`{name}` takes at most a subscription id and a resource group before the type"
                        ));
                    }
                };
                let s = match sub(s) {
                    Ok(s) => s,
                    Err(u) => return Ok(u),
                };
                let rg = match rg {
                    Some(rg) => rg,
                    None => match ctx.resource_group_name() {
                        Some(Val::Known(v)) => to_str(&v),
                        Some(u) => return Ok(u),
                        None => {
                            return Err(format!(
                                "`{name}` without a resource group outside a resource-group deployment"
                            ));
                        }
                    },
                };
                format!("/subscriptions/{s}/resourceGroups/{rg}")
            };
            (prefix, &strs[type_at..])
        }
    };
    let Some((ty, names)) = rest.split_first() else {
        return Err(format!("`{name}` needs a resource type"));
    };
    let segments: Vec<&str> = ty.split('/').collect();
    if segments.len() < 2 || segments.len() - 1 != names.len() {
        return Err(format!(
            "`{name}`: type `{ty}` needs {} name(s), got {}",
            segments.len().saturating_sub(1),
            names.len()
        ));
    }
    let mut id = format!("{prefix}/providers/{}", segments[0]);
    for (t, n) in segments[1..].iter().zip(names) {
        id.push('/');
        id.push_str(t);
        id.push('/');
        id.push_str(n);
    }
    Ok(Val::Known(json!(id)))
}

/// Functions of known arguments.
fn pure(f: &str, name: &str, args: &[Expr], v: Vec<Value>) -> Result<Value, String> {
    let n = v.len();
    let need = |min: usize, max: usize| arity(name, args, min, max);
    Ok(match f {
        "concat" => {
            need(1, usize::MAX)?;
            if v.iter().all(|x| x.is_array() || x.is_null()) {
                Value::Array(
                    v.into_iter()
                        .flat_map(|x| match x {
                            Value::Array(a) => a,
                            _ => vec![],
                        })
                        .collect(),
                )
            } else {
                json!(v.iter().map(to_str).collect::<String>())
            }
        }
        "format" => {
            need(1, usize::MAX)?;
            json!(format_string(&to_str(&v[0]), &v[1..])?)
        }
        "guid" => {
            need(1, usize::MAX)?;
            let parts: Vec<String> = v.iter().map(to_str).collect();
            json!(hash::guid(
                &parts.iter().map(String::as_str).collect::<Vec<_>>()
            ))
        }
        "uniquestring" => {
            need(1, usize::MAX)?;
            let parts: Vec<String> = v.iter().map(to_str).collect();
            json!(hash::unique_string(
                &parts.iter().map(String::as_str).collect::<Vec<_>>()
            ))
        }
        "equals" => {
            need(2, 2)?;
            json!(loosely_equal(&v[0], &v[1]))
        }
        "not" => {
            need(1, 1)?;
            json!(!truthy(&v[0], name)?)
        }
        "empty" => {
            need(1, 1)?;
            json!(match &v[0] {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                _ => false,
            })
        }
        "contains" => {
            need(2, 2)?;
            json!(match (&v[0], &v[1]) {
                // Case-sensitive for strings and array items, case-insensitive for object keys
                // (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-array#contains).
                (Value::String(s), x) => s.contains(&to_str(x)),
                (Value::Array(a), x) => a.iter().any(|i| loosely_equal(i, x)),
                (Value::Object(o), x) => {
                    let k = to_str(x);
                    o.keys().any(|key| key.eq_ignore_ascii_case(&k))
                }
                (other, _) => return Err(format!("{name}: cannot search {}", type_name(other))),
            })
        }
        "length" => {
            need(1, 1)?;
            json!(match &v[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                other => return Err(format!("{name}: no length for {}", type_name(other))),
            })
        }
        "tolower" => {
            need(1, 1)?;
            json!(to_str(&v[0]).to_lowercase())
        }
        "toupper" => {
            need(1, 1)?;
            json!(to_str(&v[0]).to_uppercase())
        }
        "trim" => {
            need(1, 1)?;
            json!(to_str(&v[0]).trim())
        }
        "split" => {
            need(2, 2)?;
            let s = to_str(&v[0]);
            let delims: Vec<String> = match &v[1] {
                Value::Array(a) => a.iter().map(to_str).collect(),
                other => vec![to_str(other)],
            };
            let mut parts = vec![s];
            for d in delims.iter().filter(|d| !d.is_empty()) {
                parts = parts
                    .iter()
                    .flat_map(|p| p.split(d.as_str()).map(str::to_string).collect::<Vec<_>>())
                    .collect();
            }
            json!(parts)
        }
        "first" | "last" => {
            need(1, 1)?;
            match &v[0] {
                Value::String(s) => {
                    let c = if f == "first" {
                        s.chars().next()
                    } else {
                        s.chars().last()
                    };
                    json!(c.map(String::from).unwrap_or_default())
                }
                Value::Array(a) => {
                    let x = if f == "first" { a.first() } else { a.last() };
                    x.cloned().unwrap_or(Value::Null)
                }
                other => {
                    return Err(format!(
                        "{name}: expected a string or an array, got {}",
                        type_name(other)
                    ));
                }
            }
        }
        "union" => {
            need(1, usize::MAX)?;
            if v.iter().all(Value::is_object) {
                // Objects merge recursively; the last value wins for anything else
                // (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-object#union).
                let mut out = Value::Object(Map::new());
                for o in v {
                    merge_objects(&mut out, o);
                }
                out
            } else {
                let mut out: Vec<Value> = Vec::new();
                for a in v {
                    for x in a.as_array().cloned().unwrap_or_default() {
                        if !out.contains(&x) {
                            out.push(x);
                        }
                    }
                }
                Value::Array(out)
            }
        }
        "intersection" => {
            need(2, usize::MAX)?;
            match &v[0] {
                Value::Object(first) => {
                    let mut out = Map::new();
                    for (k, x) in first {
                        if v[1..].iter().all(|o| o.get(k) == Some(x)) {
                            out.insert(k.clone(), x.clone());
                        }
                    }
                    Value::Object(out)
                }
                Value::Array(first) => Value::Array(
                    first
                        .iter()
                        .filter(|x| {
                            v[1..]
                                .iter()
                                .all(|a| a.as_array().is_some_and(|a| a.contains(x)))
                        })
                        .cloned()
                        .collect(),
                ),
                other => return Err(format!("{name}: cannot intersect {}", type_name(other))),
            }
        }
        "createobject" => {
            if !n.is_multiple_of(2) {
                return Err(format!("{name} takes pairs of keys and values"));
            }
            let mut out = Map::new();
            for pair in v.chunks(2) {
                out.insert(to_str(&pair[0]), pair[1].clone());
            }
            Value::Object(out)
        }
        "createarray" | "array" => {
            if f == "array" {
                need(1, 1)?;
                match &v[0] {
                    Value::Array(_) => v[0].clone(),
                    other => json!([other]),
                }
            } else {
                Value::Array(v)
            }
        }
        "json" => {
            need(1, 1)?;
            let s = to_str(&v[0]);
            serde_json::from_str(&s).map_err(|e| format!("{name}: not valid JSON: {e}"))?
        }
        "string" => {
            need(1, 1)?;
            json!(to_str(&v[0]))
        }
        "int" => {
            need(1, 1)?;
            json!(int_of(&v[0], name)?)
        }
        "bool" => {
            need(1, 1)?;
            json!(match &v[0] {
                Value::Number(n) => n.as_f64().unwrap_or(0.0) != 0.0,
                other => truthy(other, name)?,
            })
        }
        "replace" => {
            need(3, 3)?;
            json!(to_str(&v[0]).replace(&to_str(&v[1]), &to_str(&v[2])))
        }
        "substring" => {
            need(1, 3)?;
            let s: Vec<char> = to_str(&v[0]).chars().collect();
            let start = v.get(1).map(|x| int_of(x, name)).transpose()?.unwrap_or(0);
            let len = v
                .get(2)
                .map(|x| int_of(x, name))
                .transpose()?
                .unwrap_or((s.len() as i64).saturating_sub(start));
            let end = start
                .checked_add(len)
                .filter(|end| *end as usize <= s.len());
            let (true, true, Some(end)) = (start >= 0, len >= 0, end) else {
                return Err(format!(
                    "{name}: start {start} and length {len} are outside the string"
                ));
            };
            json!(s[start as usize..end as usize].iter().collect::<String>())
        }
        "take" | "skip" => {
            need(2, 2)?;
            let k = int_of(&v[1], name)?.max(0) as usize;
            match &v[0] {
                Value::String(s) => {
                    let it = s.chars();
                    json!(if f == "take" {
                        it.take(k).collect::<String>()
                    } else {
                        it.skip(k).collect::<String>()
                    })
                }
                Value::Array(a) => Value::Array(if f == "take" {
                    a.iter().take(k).cloned().collect()
                } else {
                    a.iter().skip(k).cloned().collect()
                }),
                other => {
                    return Err(format!(
                        "{name}: expected a string or an array, got {}",
                        type_name(other)
                    ));
                }
            }
        }
        "startswith" | "endswith" | "indexof" | "lastindexof" => {
            need(2, 2)?;
            let s = to_str(&v[0]).to_lowercase();
            let t = to_str(&v[1]).to_lowercase();
            match f {
                "startswith" => json!(s.starts_with(&t)),
                "endswith" => json!(s.ends_with(&t)),
                "indexof" => json!(s.find(&t).map_or(-1, |i| s[..i].chars().count() as i64)),
                _ => json!(s.rfind(&t).map_or(-1, |i| s[..i].chars().count() as i64)),
            }
        }
        "add" | "sub" | "mul" | "div" | "mod" => {
            need(2, 2)?;
            let (a, b) = (int_of(&v[0], name)?, int_of(&v[1], name)?);
            json!(
                match f {
                    "add" => a.checked_add(b),
                    "sub" => a.checked_sub(b),
                    "mul" => a.checked_mul(b),
                    "div" => a.checked_div(b),
                    _ => a.checked_rem(b),
                }
                .ok_or_else(|| format!("{name}({a}, {b}) overflows or divides by zero"))?
            )
        }
        "greater" | "less" | "greaterorequals" | "lessorequals" => {
            need(2, 2)?;
            let ord = match (&v[0], &v[1]) {
                (Value::String(a), Value::String(b)) => a.cmp(b),
                (a, b) => int_of(a, name)?.cmp(&int_of(b, name)?),
            };
            json!(match f {
                "greater" => ord.is_gt(),
                "less" => ord.is_lt(),
                "greaterorequals" => ord.is_ge(),
                _ => ord.is_le(),
            })
        }
        "min" | "max" => {
            need(1, usize::MAX)?;
            let nums: Vec<i64> = v
                .iter()
                .flat_map(|x| match x {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                })
                .map(|x| int_of(&x, name))
                .collect::<Result<_, _>>()?;
            json!(if f == "min" {
                nums.iter().min()
            } else {
                nums.iter().max()
            })
        }
        "range" => {
            need(2, 2)?;
            let (start, count) = (int_of(&v[0], name)?, int_of(&v[1], name)?);
            // Microsoft Learn, "Array functions for ARM templates", range: count is at most
            // 10000, and startIndex + count at most 2147483647.
            if !(0..=10_000).contains(&count) {
                return Err(format!("{name}: count {count} is outside 0..10000"));
            }
            let end = start
                .checked_add(count)
                .filter(|end| *end <= i64::from(i32::MAX))
                .ok_or_else(|| {
                    format!("{name}: startIndex {start} plus count {count} is over 2147483647")
                })?;
            json!((start..end).collect::<Vec<_>>())
        }
        "items" => {
            need(1, 1)?;
            let Value::Object(o) = &v[0] else {
                return Err(format!("{name}: expected an object"));
            };
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by_key(|k| k.to_lowercase());
            json!(
                keys.into_iter()
                    .map(|k| json!({"key": k, "value": o[k]}))
                    .collect::<Vec<_>>()
            )
        }
        "padleft" => {
            need(2, 3)?;
            let s = to_str(&v[0]);
            let width = int_of(&v[1], name)?.max(0) as usize;
            if width > MAX_VALUE_SIZE {
                return Err(format!(
                    "{name}: total length {width} is larger than an ARM template can hold"
                ));
            }
            let pad = v
                .get(2)
                .map(to_str)
                .and_then(|p| p.chars().next())
                .unwrap_or(' ');
            let len = s.chars().count();
            json!(format!(
                "{}{s}",
                pad.to_string().repeat(width.saturating_sub(len))
            ))
        }
        "join" => {
            need(2, 2)?;
            let items = v[0].as_array().cloned().unwrap_or_default();
            json!(
                items
                    .iter()
                    .map(to_str)
                    .collect::<Vec<_>>()
                    .join(&to_str(&v[1]))
            )
        }
        "base64" => {
            need(1, 1)?;
            json!(base64(to_str(&v[0]).as_bytes()))
        }
        _ => unreachable!("every known function is listed"),
    })
}

fn merge_objects(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_objects(existing, v)
                    }
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// `equals`: strings compare case-sensitively in ARM, numbers by value.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// `format('{0}-{1:D2}', ...)`: .NET composite formatting, the subset templates use.
fn format_string(fmt: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                out.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                out.push('}');
                i += 2;
            }
            '{' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| format!("format: unclosed `{{` in `{fmt}`"))?;
                let spec: String = chars[i + 1..i + close].iter().collect();
                let (index, pad) = spec.split_once(':').unwrap_or((&spec, ""));
                let index: usize = index
                    .trim()
                    .parse()
                    .map_err(|_| format!("format: `{{{spec}}}` is not a placeholder"))?;
                let arg = args
                    .get(index)
                    .ok_or_else(|| format!("format: `{{{index}}}` has no argument"))?;
                let text = to_str(arg);
                let width = pad
                    .strip_prefix(['D', 'd'])
                    .and_then(|w| w.parse::<usize>().ok());
                match width {
                    Some(w) => out.push_str(&format!("{text:0>w$}")),
                    None => out.push_str(&text),
                }
                i += close + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Context for Fixed {
        fn parameter(&self, name: &str) -> Result<Val, String> {
            match name {
                "name" => Ok(Val::Known(json!("ws1"))),
                "secret" => Ok(Val::Unknown("secure parameter `secret`".into())),
                _ => Err(format!("no parameter `{name}`")),
            }
        }
        fn variable(&self, _: &str) -> Result<Val, String> {
            Ok(Val::Known(json!({"a": [1, 2, 3]})))
        }
        fn copy_index(&self, _: Option<&str>) -> Result<i64, String> {
            Ok(2)
        }
        fn reference(&self, target: &str, full: bool, _: &str) -> Val {
            Val::Known(json!({"target": target, "full": full}))
        }
        fn subscription_id(&self) -> Val {
            Val::Known(json!("s1"))
        }
        fn resource_group_name(&self) -> Option<Val> {
            Some(Val::Known(json!("rg")))
        }
        fn resource_group(&self) -> Result<Val, String> {
            Ok(Val::Known(
                json!({"id": "/subscriptions/s1/resourceGroups/rg", "name": "rg"}),
            ))
        }
        fn subscription(&self) -> Val {
            Val::Known(json!({"subscriptionId": "s1"}))
        }
        fn deployment(&self) -> Val {
            Val::Known(json!({"name": "d"}))
        }
        fn tenant_id(&self) -> Val {
            Val::Unknown("tenant".into())
        }
    }

    fn run(s: &str) -> Val {
        let inner = as_expression(s).unwrap();
        eval(&parse(inner).unwrap(), &Fixed).unwrap()
    }

    /// The examples of Microsoft Learn's "Lambda functions for ARM templates", with their
    /// documented outputs.
    #[test]
    fn lambda_functions_give_the_documented_outputs() {
        let dogs = "json('[{\"name\":\"Evie\",\"age\":5},{\"name\":\"Casper\",\"age\":3},{\"name\":\"Indy\",\"age\":2},{\"name\":\"Kira\",\"age\":8}]')";
        let value = |text: &str| match eval(&parse(&text.replace("DOGS", dogs)).unwrap(), &Fixed) {
            Ok(Val::Known(v)) => v,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            value(
                "map(filter(DOGS, lambda('dog', greaterOrEquals(lambdaVariables('dog').age, 5))), lambda('d', lambdaVariables('d').name))"
            ),
            json!(["Evie", "Kira"])
        );
        assert_eq!(
            value("filter(range(0, 10), lambda('i', equals(0, mod(lambdaVariables('i'), 2))))"),
            json!([0, 2, 4, 6, 8])
        );
        assert_eq!(
            value("map(DOGS, lambda('dog', format('Hello {0}!', lambdaVariables('dog').name)))")[3],
            json!("Hello Kira!")
        );
        assert_eq!(
            value(
                "reduce(map(DOGS, lambda('dog', lambdaVariables('dog').age)), 1, lambda('cur', 'next', add(lambdaVariables('cur'), lambdaVariables('next'))))"
            ),
            json!(19)
        );
        assert_eq!(
            value(
                "map(sort(DOGS, lambda('a', 'b', less(lambdaVariables('a').age, lambdaVariables('b').age))), lambda('d', lambdaVariables('d').name))"
            ),
            json!(["Indy", "Casper", "Evie", "Kira"])
        );
        assert_eq!(
            value(
                "toObject(DOGS, lambda('e', lambdaVariables('e').name), lambda('e', lambdaVariables('e').age))"
            ),
            json!({"Evie": 5, "Casper": 3, "Indy": 2, "Kira": 8})
        );
        // The index a filter or map lambda may name, and nested lambdas seeing outer variables.
        assert_eq!(
            value(
                "map(createArray('a', 'b'), lambda('x', 'i', concat(lambdaVariables('x'), string(lambdaVariables('i')))))"
            ),
            json!(["a0", "b1"])
        );
        assert_eq!(
            value(
                "map(createArray(1, 2), lambda('x', map(createArray(10), lambda('y', add(lambdaVariables('x'), lambdaVariables('y'))))))"
            ),
            json!([[11], [12]])
        );
        // An unknown the predicate depends on makes the whole result unknown.
        assert!(matches!(
            eval(&parse("filter(createArray(1), lambda('x', equals(lambdaVariables('x'), tenant().tenantId)))").unwrap(), &Fixed),
            Ok(Val::Unknown(_))
        ));
        assert!(eval(&parse("lambdaVariables('x')").unwrap(), &Fixed).is_err());
    }

    #[test]
    fn hostile_nesting_and_sizes_are_errors_not_crashes() {
        let deep = format!("{}'a'{}", "concat(".repeat(20_000), ")".repeat(20_000));
        assert!(parse(&deep).unwrap_err().contains("nests more than"));
        let chain = format!("concat('a'){}", ".x".repeat(20_000));
        assert!(parse(&chain).unwrap_err().contains("nests more than"));
        let fine = format!("{}'a'{}", "concat(".repeat(60), ")".repeat(60));
        assert_eq!(
            eval(&parse(&fine).unwrap(), &Fixed).unwrap(),
            Val::Known(json!("a"))
        );

        let err = |text: &str| eval(&parse(text).unwrap(), &Fixed).unwrap_err();
        assert!(err("padLeft('a', 1000000000000)").contains("larger than"));
        // Found by the fuzz target: integer overflow in range and substring.
        assert!(err("range(9223372036854775807, 800)").contains("over 2147483647"));
        assert!(err("substring('abc', 1, 9223372036854775807)").contains("outside the string"));
        assert!(err("substring('abc', -9223372036854775807)").contains("outside the string"));
        let half = "a".repeat(3 * 1024 * 1024);
        let doubled = format!("concat('{half}', '{half}')");
        assert!(
            err(&doubled).contains("larger than 4 MB"),
            "{}",
            err(&doubled)
        );
        let nested = (0..24).fold("'x'".to_string(), |e, _| format!("createArray({e})"));
        assert_eq!(
            eval(&parse(&nested).unwrap(), &Fixed).map(|_| ()),
            Ok(()),
            "24 levels are fine"
        );
    }

    #[test]
    fn functions_and_access() {
        assert_eq!(
            run("[concat('a', parameters('name'), 'c')]"),
            Val::Known(json!("aws1c"))
        );
        assert_eq!(
            run(
                "[resourceId('Microsoft.MachineLearningServices/workspaces/computes', parameters('name'), 'c1')]"
            ),
            Val::Known(json!(
                "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/c1"
            ))
        );
        assert_eq!(
            run("[resourceId('other', 'Microsoft.X/y', 'n')]"),
            Val::Known(json!(
                "/subscriptions/s1/resourceGroups/other/providers/Microsoft.X/y/n"
            ))
        );
        assert_eq!(
            run("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda')]"),
            Val::Known(json!(
                "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/7f951dda"
            ))
        );
        assert_eq!(
            run("[extensionResourceId('/x/y', 'Microsoft.Authorization/roleAssignments', 'g')]"),
            Val::Known(json!(
                "/x/y/providers/Microsoft.Authorization/roleAssignments/g"
            ))
        );
        assert_eq!(run("[variables('v').a[1]]"), Val::Known(json!(2)));
        assert_eq!(
            run("[variables('v')['a'][copyIndex(-2)]]"),
            Val::Known(json!(1))
        );
        assert_eq!(
            run("[format('{0}-{1:D3}', 'x', 7)]"),
            Val::Known(json!("x-007"))
        );
        assert_eq!(
            run("[if(equals(parameters('name'), 'ws1'), 'yes', 'no')]"),
            Val::Known(json!("yes"))
        );
        assert_eq!(
            run("[reference('u', '2023-01-31', 'Full').full]"),
            Val::Known(json!(true))
        );
        assert_eq!(
            run("[length(split('a,b;c', createArray(',', ';')))]"),
            Val::Known(json!(3))
        );
        assert_eq!(
            run("[union(createObject('a', 1), json('{\"b\": 2}'))]"),
            Val::Known(json!({"a": 1, "b": 2}))
        );
        assert_eq!(run("[coalesce(null(), 'x')]"), Val::Known(json!("x")));
        assert_eq!(run("[contains('OneTwo', 'two')]"), Val::Known(json!(false)));
        assert_eq!(
            run("[contains(createObject('Key', 1), 'key')]"),
            Val::Known(json!(true))
        );
        assert_eq!(
            run("[startsWith('OneTwo', 'one')]"),
            Val::Known(json!(true))
        );
        assert_eq!(
            run("[union(json('{\"a\": {\"x\": 1, \"y\": 1}}'), json('{\"a\": {\"y\": 2}}'))]"),
            Val::Known(json!({"a": {"x": 1, "y": 2}}))
        );
        assert_eq!(
            as_expression("[[not an expression]"),
            Err("[not an expression]".to_string())
        );
        assert_eq!(run("[variables('v')?.missing]"), Val::Known(Value::Null));
    }

    #[test]
    fn unknown_propagates_and_names_the_expression() {
        match run("[concat('x', listKeys(parameters('name'), '2020-01-01').keys[0])]") {
            Val::Unknown(r) => assert!(r.contains("listKeys"), "{r}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run("[toLower(parameters('secret'))]"),
            Val::Unknown(_)
        ));
        // A known condition picks its branch even when the other one is unknown.
        assert_eq!(
            run("[if(true(), 'a', parameters('secret'))]"),
            Val::Known(json!("a"))
        );
        assert_eq!(
            run("[or(true(), parameters('secret'))]"),
            Val::Known(json!(true))
        );
    }
}
