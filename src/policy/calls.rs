//! A load-time check that every function a policy calls exists somewhere: a Rego builtin, an
//! amlaudit host builtin, or a function declared in a loaded module.
//!
//! regorus only notices an unknown function when a call to it is evaluated, so a typo on a path
//! no test and no resource of the snapshot reaches would go unnoticed until the day it is
//! reached. Walking the parsed modules once reports it up front, with its file, line and rule.
//!
//! The parsed modules are only reachable through regorus's `unstable` AST (pinned by the
//! `regorus` version in Cargo.toml); calls are resolved as the interpreter resolves them: a
//! leading import alias is replaced by its target, then `data.` paths must name a declared rule
//! and other paths may be a rule of the calling module's package, a host builtin or a builtin.

use std::collections::{HashMap, HashSet};

use regorus::Engine;
use regorus::unstable::{BUILTINS, Expr, Literal, Module, Query, Rule, RuleHead};

use super::PolicyError;

type Node<T> = regorus::unstable::Ref<T>;
type Span = regorus::unstable::Span;

/// What [`collect_calls`] finds in an expression.
#[derive(Default)]
struct Calls {
    /// Every call: the name it is called by, and where.
    calls: Vec<(String, Span)>,
    /// The largest width or precision of each `sprintf` with a literal format.
    sprintf_widths: Vec<(u64, Span)>,
}

/// Fails on the first call to a function that exists nowhere. `subject_of` names what a file
/// holds (`rule AML001`, `tests`, ...) for the message.
pub fn check(
    engine: &mut Engine,
    host_builtins: &[&str],
    subject_of: impl Fn(&str) -> String,
) -> Result<(), PolicyError> {
    let modules = engine.get_modules();
    let declared: HashSet<String> = modules
        .iter()
        .flat_map(|module| {
            let package = package_path(module);
            module
                .policy
                .iter()
                .filter_map(move |rule| head_path(rule).map(|name| format!("{package}.{name}")))
        })
        .collect();
    // caller -> (callee, where the call is), over functions declared in loaded policies.
    let mut graph: HashMap<String, Vec<(String, regorus::unstable::Span)>> = HashMap::new();
    for module in modules.iter() {
        let package = package_path(module);
        let imports: HashMap<String, String> = module
            .imports
            .iter()
            .filter_map(|import| {
                let target = path_of(&import.refr)?;
                let alias = match &import.r#as {
                    Some(span) => span.text().to_string(),
                    None => target.rsplit('.').next()?.to_string(),
                };
                Some((alias, target))
            })
            .collect();
        // The declared function a call reaches, if it reaches one.
        let declared_target = |path: &str| -> Option<String> {
            let (first, rest) = path.split_once('.').unwrap_or((path, ""));
            let resolved = match imports.get(first) {
                Some(target) if rest.is_empty() => target.clone(),
                Some(target) => format!("{target}.{rest}"),
                None => path.to_string(),
            };
            if resolved.starts_with("data.") {
                return declared.contains(&resolved).then_some(resolved);
            }
            let local = format!("{package}.{resolved}");
            declared.contains(&local).then_some(local)
        };
        let known = |path: &str| {
            let (first, rest) = path.split_once('.').unwrap_or((path, ""));
            let resolved = match imports.get(first) {
                Some(target) if rest.is_empty() => target.clone(),
                Some(target) => format!("{target}.{rest}"),
                None => path.to_string(),
            };
            if resolved.starts_with("data.") {
                return declared.contains(&resolved);
            }
            declared.contains(&format!("{package}.{resolved}"))
                || host_builtins.contains(&resolved.as_str())
                || resolved == "print"
                || BUILTINS.contains_key(resolved.as_str())
        };
        for rule in &module.policy {
            let mut found = Calls::default();
            rule_exprs(rule, &mut |e| collect_calls(e, &mut found));
            let Calls {
                calls,
                sprintf_widths,
            } = found;
            let max = super::Budget::default().max_string_bytes as u64;
            if let Some((width, span)) = sprintf_widths.iter().find(|(w, _)| *w > max) {
                let file = span.source.get_path().to_string();
                return Err(PolicyError::Budget {
                    at: format!("{file}:{}:{}", span.line, span.col),
                    subject: subject_of(&file),
                    message: format!(
                        "a sprintf width or precision of {width} would build a string over the memory budget of {max} bytes"
                    ),
                    file,
                });
            }
            if let Some(caller) = head_path(rule).map(|name| format!("{package}.{name}")) {
                let edges = graph.entry(caller).or_default();
                for (function, span) in &calls {
                    if let Some(callee) = declared_target(function) {
                        edges.push((callee, span.clone()));
                    }
                }
            }
            for (function, span) in calls {
                if !known(&function) {
                    let file = span.source.get_path().to_string();
                    let rule_name = head_path(rule).unwrap_or_else(|| "?".to_string());
                    return Err(PolicyError::UnknownFunction {
                        at: format!("{file}:{}:{}", span.line, span.col),
                        subject: format!("{} (`{rule_name}`)", subject_of(&file)),
                        file,
                        function,
                    });
                }
            }
        }
    }
    check_recursion(&graph, &subject_of)
}

/// Every function the loaded modules call, by the name they call it (import aliases not
/// resolved): what decides whether a rule can run on the bytecode VM ([`super::vm`]).
pub fn called_names(engine: &mut Engine) -> HashSet<String> {
    let mut found = Calls::default();
    for module in engine.get_modules().iter() {
        for rule in &module.policy {
            rule_exprs(rule, &mut |e| collect_calls(e, &mut found));
        }
    }
    found.calls.into_iter().map(|(name, _)| name).collect()
}

/// Rego forbids recursion, and regorus would follow a recursive function until the stack
/// overflows and the process aborts; a cycle in the call graph is refused at load, naming the
/// call that closes it.
fn check_recursion(
    graph: &HashMap<String, Vec<(String, regorus::unstable::Span)>>,
    subject_of: &impl Fn(&str) -> String,
) -> Result<(), PolicyError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    let mut roots: Vec<&String> = graph.keys().collect();
    roots.sort();
    for root in roots {
        if marks.contains_key(root.as_str()) {
            continue;
        }
        // Iterative depth-first search: (function, next edge to follow); the stack is the path.
        let mut stack: Vec<(&str, usize)> = vec![(root.as_str(), 0)];
        marks.insert(root, Mark::Active);
        while let Some((node, next)) = stack.last_mut() {
            let edges = graph.get(*node).map_or(&[][..], Vec::as_slice);
            let Some((callee, span)) = edges.get(*next) else {
                marks.insert(*node, Mark::Done);
                stack.pop();
                continue;
            };
            *next += 1;
            match marks.get(callee.as_str()) {
                Some(Mark::Done) => {}
                Some(Mark::Active) => {
                    let start = stack
                        .iter()
                        .position(|(n, _)| *n == callee.as_str())
                        .unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[start..].iter().map(|(n, _)| *n).collect();
                    cycle.push(callee);
                    let file = span.source.get_path().to_string();
                    return Err(PolicyError::Recursion {
                        at: format!("{file}:{}:{}", span.line, span.col),
                        subject: subject_of(&file),
                        cycle: cycle
                            .iter()
                            .map(|n| n.trim_start_matches("data."))
                            .collect::<Vec<_>>()
                            .join(" -> "),
                        file,
                    });
                }
                None => {
                    marks.insert(callee, Mark::Active);
                    stack.push((callee.as_str(), 0));
                }
            }
        }
    }
    Ok(())
}

/// `data.` followed by the module's package.
fn package_path(module: &Module) -> String {
    let package = path_of(&module.package.refr).unwrap_or_default();
    format!("data.{package}")
}

/// The dotted name a rule is declared under, when it is a plain dotted path.
fn head_path(rule: &Rule) -> Option<String> {
    match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. }
            | RuleHead::Set { refr, .. }
            | RuleHead::Func { refr, .. } => path_of(refr),
        },
        Rule::Default { refr, .. } => path_of(refr),
    }
}

/// `a.b.c` for a chain of plain field accesses; `None` for anything with brackets.
fn path_of(expr: &Node<Expr>) -> Option<String> {
    match expr.as_ref() {
        Expr::Var { span, .. } => Some(span.text().to_string()),
        Expr::RefDot { refr, field, .. } => {
            let field = field.1.as_string().ok()?;
            Some(format!("{}.{}", path_of(refr)?, field))
        }
        _ => None,
    }
}

/// The first name of a dotted path (`lib` of `lib.access`), where a message should point.
fn root(expr: &Node<Expr>) -> &Node<Expr> {
    match expr.as_ref() {
        Expr::RefDot { refr, .. } => root(refr),
        _ => expr,
    }
}

/// Calls every top-level expression of a rule (heads, bodies, defaults).
fn rule_exprs(rule: &Rule, f: &mut dyn FnMut(&Node<Expr>)) {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { assign, .. } => {
                    if let Some(a) = assign {
                        f(&a.value);
                    }
                }
                RuleHead::Set { key, .. } => {
                    if let Some(k) = key {
                        f(k);
                    }
                }
                RuleHead::Func { args, assign, .. } => {
                    args.iter().for_each(&mut *f);
                    if let Some(a) = assign {
                        f(&a.value);
                    }
                }
            }
            for body in bodies {
                if let Some(a) = &body.assign {
                    f(&a.value);
                }
                query_exprs(&body.query, f);
            }
        }
        Rule::Default { args, value, .. } => {
            args.iter().for_each(&mut *f);
            f(value);
        }
    }
}

fn query_exprs(query: &Node<Query>, f: &mut dyn FnMut(&Node<Expr>)) {
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                key.iter().for_each(&mut *f);
                f(value);
                f(collection);
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => f(expr),
            Literal::Every { domain, query, .. } => {
                f(domain);
                query_exprs(query, f);
            }
        }
        // `with x as y`: x is replaced, not called, but y may contain calls.
        for modifier in &stmt.with_mods {
            f(&modifier.r#as);
        }
    }
}

/// The largest width or precision in a `sprintf` format (`%200000000d` pads to 200 million
/// characters in one call, which no time budget can interrupt).
pub fn largest_sprintf_width(format: &str) -> u64 {
    let mut largest = 0u64;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        while chars.peek().is_some_and(|c| "-+# 0".contains(*c)) {
            chars.next();
        }
        for _ in 0..2 {
            let mut n = 0u64;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            largest = largest.max(n);
            if chars.peek() == Some(&'.') {
                chars.next();
            } else {
                break;
            }
        }
    }
    largest
}

/// Every call in an expression, with the name it is called by and where.
fn collect_calls(expr: &Node<Expr>, out: &mut Calls) {
    let mut recurse = |e: &Node<Expr>| collect_calls(e, out);
    match expr.as_ref() {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().for_each(recurse),
        Expr::Object { fields, .. } => {
            for (_, k, v) in fields {
                recurse(k);
                recurse(v);
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            recurse(term);
            query_exprs(query, &mut recurse);
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            recurse(key);
            recurse(value);
            query_exprs(query, &mut recurse);
        }
        Expr::Call { fcn, params, .. } => {
            if let Some(name) = path_of(fcn) {
                if name == "sprintf"
                    && let Some(Expr::String { value, .. } | Expr::RawString { value, .. }) =
                        params.first().map(|p| p.as_ref())
                    && let Ok(format) = value.as_string()
                {
                    out.sprintf_widths
                        .push((largest_sprintf_width(format), root(fcn).span().clone()));
                }
                out.calls.push((name, root(fcn).span().clone()));
            }
            params.iter().for_each(|p| collect_calls(p, out));
        }
        Expr::UnaryExpr { expr, .. } => recurse(expr),
        Expr::RefDot { refr, .. } => recurse(refr),
        Expr::RefBrack { refr, index, .. } => {
            recurse(refr);
            recurse(index);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            recurse(lhs);
            recurse(rhs);
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            key.iter().for_each(&mut recurse);
            recurse(value);
            recurse(collection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_sources(sources: &[(&str, &str)]) -> Result<(), PolicyError> {
        let mut engine = Engine::new();
        for (path, text) in sources {
            engine
                .add_policy(path.to_string(), text.to_string())
                .expect("parses");
        }
        check(&mut engine, &["amlaudit.access"], |f| {
            format!("subject of {f}")
        })
    }

    const LIB: &str =
        "package corp.lib\n\nimport rego.v1\n\nwrap(x) := amlaudit.access(x, \"s\", \"a\")\n";

    #[test]
    fn builtins_host_builtins_and_declared_functions_are_known() {
        let rule = "package corp.rule\n\nimport data.corp.lib\nimport data.corp.lib as other\nimport rego.v1\n\nlocal(x) := upper(x)\n\nr := [lib.wrap(1), other.wrap(2), data.corp.lib.wrap(3), local(\"a\"), count([]), array.concat([], [])] if {\n\tprint(\"x\")\n}\n";
        check_sources(&[("lib.rego", LIB), ("rule.rego", rule)]).expect("all known");
    }

    #[test]
    fn sprintf_widths_over_the_budget_are_refused_at_load() {
        assert_eq!(largest_sprintf_width("%s and %-08.3f, 100%%"), 8);
        assert_eq!(largest_sprintf_width("%0200000000d"), 200_000_000);
        let rule = "package corp.rule\n\nimport rego.v1\n\nr := sprintf(\"%0200000000d\", [1])\n";
        let err = check_sources(&[("rule.rego", rule)])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("rule.rego:5:"), "{err}");
        assert!(err.contains("memory budget"), "{err}");
    }

    #[test]
    fn recursion_is_refused_with_the_call_that_closes_the_cycle() {
        let rule =
            "package corp.rule\n\nimport rego.v1\n\nf(x) := g(x)\n\ng(x) := f(x)\n\nr := f(1)\n";
        let err = check_sources(&[("rule.rego", rule)]).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("rule.rego:7:"), "{text}");
        assert!(
            text.contains("corp.rule.f -> corp.rule.g -> corp.rule.f"),
            "{text}"
        );
        let direct = "package corp.rule\n\nimport rego.v1\n\nf(x) := f(x + 1)\n";
        assert!(check_sources(&[("rule.rego", direct)]).is_err());
        check_sources(&[("lib.rego", LIB)]).expect("no recursion");
    }

    #[test]
    fn an_unknown_function_is_named_with_its_place_and_rule() {
        let rule = "package corp.rule\n\nimport data.corp.lib\nimport rego.v1\n\nr := x if {\n\tsome v in [1]\n\tx := [y | y := lib.wrapp(v)]\n}\n";
        let err = check_sources(&[("lib.rego", LIB), ("rule.rego", rule)]).unwrap_err();
        // regorus counts a tab as four columns.
        assert_eq!(
            err.to_string(),
            "rule.rego:8:20: subject of rule.rego (`r`) calls unknown function `lib.wrapp`: it is not a Rego builtin, an amlaudit builtin (amlaudit.access, amlaudit.data_access, amlaudit.pull) or a function declared in a loaded policy"
        );
        let builtin = "package corp.rule\n\nimport rego.v1\n\nr if time.now_nss() > 0\n";
        let err = check_sources(&[("rule.rego", builtin)]).unwrap_err();
        assert!(err.to_string().contains("`time.now_nss`"), "{err}");
    }
}
