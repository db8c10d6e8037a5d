//! Azure role-assignment conditions (ABAC, `conditionVersion` 2.0), decided where they can be.
//!
//! Parsing and operator semantics are regorus's Azure RBAC condition evaluator (feature
//! `azure-rbac`); this module only decides *whether* a condition can be decided and feeds the
//! evaluator the one attribute amlaudit knows: the name of the repository a pull question is
//! about (`@Request[` or `@Resource[Microsoft.ContainerRegistry/registries/repositories:name]`,
//! both used in Microsoft's examples).
//!
//! Three-valued: `AND`, `OR` and `NOT` are combined here in Kleene logic, and each comparison is
//! handed to regorus only when every attribute it reads is known. A comparison that reads
//! anything else (principal or environment attributes, tags, request attributes amlaudit has no
//! data for) is `unknown`, so a condition such as
//! `!(ActionMatches{'…/content/read'}) OR @Request[…:name] StringStartsWith 'x'` is still decided
//! for other actions, where the guard alone makes it true.
//!
//! Two spellings Azure documents (<https://learn.microsoft.com/azure/role-based-access-control/conditions-format>)
//! are not accepted by regorus 0.14's parser, so the text is adapted before parsing, without
//! changing its meaning: `ActionMatches{'…'}` / `SubOperationMatches{'…'}` become the function
//! form regorus reads, and the `…IgnoreCase` string operators regorus lacks become their
//! case-sensitive operator over `ToLower` of both operands.

use regorus::Value;
use regorus::languages::azure_rbac::ast::{
    AttributeReference, AttributeSource, BinaryExpression, ConditionExpr, EmptySpan,
    EnvironmentContext, EvaluationContext, FunctionCallExpression, LogicalOperator, Principal,
    PrincipalType, RequestContext, Resource, UnaryOperator,
};
use regorus::languages::azure_rbac::builtins::RbacBuiltin;
use regorus::languages::azure_rbac::interpreter::ConditionInterpreter;
use regorus::languages::azure_rbac::parser::parse_condition_expression;

/// The attribute namespace of an ACR repository.
pub const REPOSITORY_NAMESPACE: &str = "Microsoft.ContainerRegistry/registries/repositories";

/// The result of one condition for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    True,
    False,
    /// Cannot be decided, and why.
    Unknown(String),
}

/// What the request being evaluated is known to be.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The action or data action asked about, as spelled by the question.
    pub action: &'a str,
    /// The repository the question is about; `None` when it names none.
    pub repository: Option<&'a str>,
}

/// Decides a condition for a request.
pub fn evaluate(condition: &str, request: Request<'_>) -> Outcome {
    let adapted = adapt_syntax(condition);
    let ignore_case = ignore_case_operators(&adapted);
    let parsed = match parse_condition_expression(&strip_ignore_case(&adapted)) {
        Ok(p) => p,
        Err(e) => {
            let e = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            return Outcome::Unknown(format!("the condition does not parse: {e}"));
        }
    };
    let Some(mut expr) = parsed.expression else {
        return Outcome::Unknown("the condition does not parse".to_string());
    };
    let mut counter = 0usize;
    rewrite_ignore_case(&mut expr, &ignore_case, &mut counter);
    if counter != ignore_case.len() {
        return Outcome::Unknown(
            "the condition's operators could not be matched to its text".to_string(),
        );
    }
    let lowered_action = request.action.to_ascii_lowercase();
    lowercase_action_patterns(&mut expr);
    let mut repository_keys = Vec::new();
    collect_repository_keys(&expr, &mut repository_keys);
    let context = context(&lowered_action, request.repository, &repository_keys);
    let interpreter = ConditionInterpreter::new(&context);
    kleene(&expr, &interpreter, request.repository.is_some())
}

fn kleene(expr: &ConditionExpr, interpreter: &ConditionInterpreter<'_>, repo: bool) -> Outcome {
    match expr {
        ConditionExpr::Logical(l) => {
            let left = kleene(&l.left, interpreter, repo);
            match (&l.operator, &left) {
                (LogicalOperator::And, Outcome::False) => return Outcome::False,
                (LogicalOperator::Or, Outcome::True) => return Outcome::True,
                _ => {}
            }
            let right = kleene(&l.right, interpreter, repo);
            match (&l.operator, left, right) {
                (LogicalOperator::And, _, Outcome::False) => Outcome::False,
                (LogicalOperator::Or, _, Outcome::True) => Outcome::True,
                (_, Outcome::Unknown(why), _) | (_, _, Outcome::Unknown(why)) => {
                    Outcome::Unknown(why)
                }
                (LogicalOperator::And, _, _) => Outcome::True,
                (LogicalOperator::Or, _, _) => Outcome::False,
            }
        }
        ConditionExpr::Unary(u) if u.operator == UnaryOperator::Not => {
            match kleene(&u.operand, interpreter, repo) {
                Outcome::True => Outcome::False,
                Outcome::False => Outcome::True,
                unknown => unknown,
            }
        }
        leaf => {
            if let Some(why) = unknowable(leaf, repo) {
                return Outcome::Unknown(why);
            }
            match interpreter.evaluate_bool(leaf) {
                Ok(true) => Outcome::True,
                Ok(false) => Outcome::False,
                Err(e) => Outcome::Unknown(format!("the condition cannot be evaluated: {e}")),
            }
        }
    }
}

/// Why a comparison cannot be decided: it reads an attribute amlaudit does not know.
fn unknowable(expr: &ConditionExpr, repo: bool) -> Option<String> {
    let mut why = None;
    visit(expr, &mut |e| {
        if why.is_some() {
            return;
        }
        match e {
            ConditionExpr::AttributeReference(a) => {
                if is_repository_name(a) {
                    if !repo {
                        why = Some(format!(
                            "it depends on the repository name ({}) and the question names no repository",
                            describe(a)
                        ));
                    }
                } else {
                    why = Some(format!(
                        "it reads {}, which amlaudit has no data for",
                        describe(a)
                    ));
                }
            }
            ConditionExpr::FunctionCall(f) if f.function == "SubOperationMatches" => {
                why = Some(
                    "it depends on the request's suboperation, which amlaudit does not model"
                        .to_string(),
                );
            }
            ConditionExpr::Binary(b) if b.operator == RbacBuiltin::SubOperationMatches => {
                why = Some(
                    "it depends on the request's suboperation, which amlaudit does not model"
                        .to_string(),
                );
            }
            ConditionExpr::Identifier(i) => {
                why = Some(format!(
                    "it reads `{}`, which amlaudit has no data for",
                    i.name
                ));
            }
            _ => {}
        }
    });
    why
}

fn describe(a: &AttributeReference) -> String {
    let source = match a.source {
        AttributeSource::Request => "Request",
        AttributeSource::Resource => "Resource",
        AttributeSource::Principal => "Principal",
        AttributeSource::Environment => "Environment",
        AttributeSource::Context => "Context",
    };
    match &a.namespace {
        Some(ns) => format!("@{source}[{ns}:{}]", a.attribute),
        None => format!("@{source}[{}]", a.attribute),
    }
}

fn is_repository_name(a: &AttributeReference) -> bool {
    matches!(
        a.source,
        AttributeSource::Request | AttributeSource::Resource
    ) && a.path.is_empty()
        && a.attribute.eq_ignore_ascii_case("name")
        && a.namespace
            .as_deref()
            .is_some_and(|ns| ns.eq_ignore_ascii_case(REPOSITORY_NAMESPACE))
}

fn collect_repository_keys(expr: &ConditionExpr, keys: &mut Vec<String>) {
    visit(expr, &mut |e| {
        if let ConditionExpr::AttributeReference(a) = e
            && is_repository_name(a)
            && let Some(ns) = &a.namespace
        {
            keys.push(format!("{ns}:{}", a.attribute));
        }
    });
}

fn context(action: &str, repository: Option<&str>, keys: &[String]) -> EvaluationContext {
    let mut attributes = serde_json::Map::new();
    if let Some(repo) = repository {
        for key in keys {
            attributes.insert(key.clone(), serde_json::Value::String(repo.to_string()));
        }
    }
    let attributes = Value::from(serde_json::Value::Object(attributes));
    EvaluationContext {
        principal: Principal {
            id: String::new(),
            principal_type: PrincipalType::ServicePrincipal,
            custom_security_attributes: Value::new_object(),
        },
        resource: Resource {
            id: String::new(),
            resource_type: String::new(),
            scope: String::new(),
            attributes: attributes.clone(),
        },
        request: RequestContext {
            action: None,
            data_action: None,
            attributes,
        },
        environment: EnvironmentContext {
            is_private_link: None,
            private_endpoint: None,
            subnet: None,
            utc_now: None,
        },
        action: Some(action.to_string()),
        suboperation: None,
    }
}

/// Calls `f` on every node, depth first.
fn visit(expr: &ConditionExpr, f: &mut dyn FnMut(&ConditionExpr)) {
    f(expr);
    match expr {
        ConditionExpr::Logical(l) => {
            visit(&l.left, f);
            visit(&l.right, f);
        }
        ConditionExpr::Unary(u) => visit(&u.operand, f),
        ConditionExpr::Binary(b) => {
            visit(&b.left, f);
            visit(&b.right, f);
        }
        ConditionExpr::FunctionCall(c) => c.arguments.iter().for_each(|a| visit(a, f)),
        ConditionExpr::ArrayExpression(a) => {
            visit(&a.array, f);
            visit(&a.condition, f);
        }
        ConditionExpr::PropertyAccess(p) => visit(&p.object, f),
        ConditionExpr::SetLiteral(s) => s.elements.iter().for_each(|e| visit(e, f)),
        ConditionExpr::ListLiteral(l) => l.elements.iter().for_each(|e| visit(e, f)),
        _ => {}
    }
}

fn visit_mut(expr: &mut ConditionExpr, f: &mut dyn FnMut(&mut ConditionExpr)) {
    f(expr);
    match expr {
        ConditionExpr::Logical(l) => {
            visit_mut(&mut l.left, f);
            visit_mut(&mut l.right, f);
        }
        ConditionExpr::Unary(u) => visit_mut(&mut u.operand, f),
        ConditionExpr::Binary(b) => {
            visit_mut(&mut b.left, f);
            visit_mut(&mut b.right, f);
        }
        ConditionExpr::FunctionCall(c) => c.arguments.iter_mut().for_each(|a| visit_mut(a, f)),
        ConditionExpr::ArrayExpression(a) => {
            visit_mut(&mut a.array, f);
            visit_mut(&mut a.condition, f);
        }
        ConditionExpr::PropertyAccess(p) => visit_mut(&mut p.object, f),
        ConditionExpr::SetLiteral(s) => s.elements.iter_mut().for_each(|e| visit_mut(e, f)),
        ConditionExpr::ListLiteral(l) => l.elements.iter_mut().for_each(|e| visit_mut(e, f)),
        _ => {}
    }
}

/// Azure compares operation names case-insensitively; regorus's `ActionMatches` does not, so
/// both the patterns and the action are lower-cased.
fn lowercase_action_patterns(expr: &mut ConditionExpr) {
    visit_mut(expr, &mut |e| match e {
        ConditionExpr::FunctionCall(c) if c.function == "ActionMatches" => {
            for arg in &mut c.arguments {
                if let ConditionExpr::StringLiteral(s) = arg {
                    s.value = s.value.to_ascii_lowercase();
                }
            }
        }
        ConditionExpr::Binary(b) if b.operator == RbacBuiltin::ActionMatches => {
            if let ConditionExpr::StringLiteral(s) = b.right.as_mut() {
                s.value = s.value.to_ascii_lowercase();
            }
        }
        _ => {}
    });
}

/// Splits a condition into code and quoted-string pieces: `(text, quoted)`.
fn pieces(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => {
                out.push((&text[start..=i], true));
                start = i + c.len_utf8();
                quote = None;
            }
            Some(_) => {}
            None if c == '\'' || c == '"' => {
                if start < i {
                    out.push((&text[start..i], false));
                }
                start = i;
                quote = Some(c);
            }
            None => {}
        }
    }
    if start < text.len() {
        out.push((&text[start..], quote.is_some()));
    }
    out
}

/// `!` (Azure's spelling of NOT, which regorus reads only as the word) → ` NOT `, outside
/// quoted strings; `!=` is left alone.
fn replace_bang(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (piece, quoted) in pieces(text) {
        if quoted {
            out.push_str(piece);
            continue;
        }
        let mut chars = piece.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '!' && chars.peek() != Some(&'=') {
                out.push_str(" NOT ");
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// `ActionMatches{'x'}` → `ActionMatches('x')` and `!` → `NOT`, outside quoted strings.
fn adapt_syntax(condition: &str) -> String {
    adapt_braces(&replace_bang(condition))
}

fn adapt_braces(condition: &str) -> String {
    let mut out = String::with_capacity(condition.len());
    let mut open_call = false;
    for (piece, quoted) in pieces(condition) {
        if quoted {
            out.push_str(piece);
            continue;
        }
        let mut rest = piece;
        loop {
            if open_call {
                match rest.find('}') {
                    Some(i) if rest[..i].trim().is_empty() => {
                        out.push_str(&rest[..i]);
                        out.push(')');
                        rest = &rest[i + 1..];
                        open_call = false;
                    }
                    _ => {
                        out.push_str(rest);
                        break;
                    }
                }
                continue;
            }
            let next = ["ActionMatches", "SubOperationMatches"]
                .iter()
                .filter_map(|name| rest.find(name).map(|i| (i, name.len())))
                .min();
            let Some((at, len)) = next else {
                out.push_str(rest);
                break;
            };
            let after = &rest[at + len..];
            let trimmed = after.trim_start();
            out.push_str(&rest[..at + len]);
            if let Some(stripped) = trimmed.strip_prefix('{') {
                out.push('(');
                rest = stripped;
                open_call = true;
            } else {
                rest = after;
            }
        }
    }
    out
}

/// The `…IgnoreCase` operators in the text, in order, each as `Some(base operator)` when regorus
/// lacks it (it will be rewritten) or `None` when regorus has it; other operators as `None` too,
/// so positions line up with the binary expressions of the parsed tree.
fn ignore_case_operators(text: &str) -> Vec<Option<RbacBuiltin>> {
    let mut out = Vec::new();
    for (piece, quoted) in pieces(text) {
        if quoted {
            continue;
        }
        for word in piece.split(|c: char| !c.is_ascii_alphanumeric()) {
            // The action guards are function calls once adapted, not binary expressions.
            if word.is_empty() || word == "ActionMatches" || word == "SubOperationMatches" {
                continue;
            }
            if RbacBuiltin::parse_operator(word).is_some() {
                out.push(None);
            } else if let Some(base) = word.strip_suffix("IgnoreCase")
                && let Some(op) = RbacBuiltin::parse_operator(base)
            {
                out.push(Some(op));
            }
        }
    }
    out
}

/// Replaces each unsupported `…IgnoreCase` operator word by its base before parsing.
fn strip_ignore_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (piece, quoted) in pieces(text) {
        if quoted {
            out.push_str(piece);
            continue;
        }
        let mut word = String::new();
        for c in piece.chars() {
            if c.is_ascii_alphanumeric() {
                word.push(c);
            } else {
                out.push_str(&replace_word(&word));
                word.clear();
                out.push(c);
            }
        }
        out.push_str(&replace_word(&word));
    }
    out
}

fn replace_word(word: &str) -> String {
    if RbacBuiltin::parse_operator(word).is_none()
        && let Some(base) = word.strip_suffix("IgnoreCase")
        && RbacBuiltin::parse_operator(base).is_some()
    {
        return base.to_string();
    }
    word.to_string()
}

/// Wraps both operands of the binary expressions that were `…IgnoreCase` in `ToLower`.
fn rewrite_ignore_case(
    expr: &mut ConditionExpr,
    operators: &[Option<RbacBuiltin>],
    counter: &mut usize,
) {
    // In-order walk: binary operators appear in the tree in the order they appear in the text.
    match expr {
        ConditionExpr::Logical(l) => {
            rewrite_ignore_case(&mut l.left, operators, counter);
            rewrite_ignore_case(&mut l.right, operators, counter);
        }
        ConditionExpr::Unary(u) => rewrite_ignore_case(&mut u.operand, operators, counter),
        ConditionExpr::Binary(b)
            if matches!(
                b.operator,
                RbacBuiltin::ActionMatches | RbacBuiltin::SubOperationMatches
            ) => {}
        ConditionExpr::Binary(b) => {
            rewrite_ignore_case(&mut b.left, operators, counter);
            if let Some(Some(_)) = operators.get(*counter) {
                lower_operands(b);
            }
            *counter += 1;
            rewrite_ignore_case(&mut b.right, operators, counter);
        }
        ConditionExpr::FunctionCall(c) => c
            .arguments
            .iter_mut()
            .for_each(|a| rewrite_ignore_case(a, operators, counter)),
        ConditionExpr::ArrayExpression(a) => {
            rewrite_ignore_case(&mut a.array, operators, counter);
            rewrite_ignore_case(&mut a.condition, operators, counter);
        }
        _ => {}
    }
}

fn lower_operands(b: &mut BinaryExpression) {
    for side in [&mut b.left, &mut b.right] {
        let inner = std::mem::replace(
            side.as_mut(),
            ConditionExpr::NullLiteral(regorus::languages::azure_rbac::ast::NullLiteral {
                span: EmptySpan,
            }),
        );
        **side = ConditionExpr::FunctionCall(FunctionCallExpression {
            span: EmptySpan,
            function: "ToLower".to_string(),
            arguments: vec![inner],
        });
    }
}

/// The text regorus parses: both spellings adapted.
#[cfg(test)]
fn adapted_text(condition: &str) -> String {
    strip_ignore_case(&adapt_syntax(condition))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT_READ: &str = "Microsoft.ContainerRegistry/registries/repositories/content/read";
    const AZUREML_ONLY: &str = "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'azureml/'))";

    fn eval(condition: &str, action: &str, repository: Option<&str>) -> Outcome {
        evaluate(condition, Request { action, repository })
    }

    #[test]
    fn a_repository_prefix_condition_is_decided_per_repository() {
        assert_eq!(
            eval(AZUREML_ONLY, CONTENT_READ, Some("azureml/azureml_abc")),
            Outcome::True
        );
        assert_eq!(
            eval(AZUREML_ONLY, CONTENT_READ, Some("AzureML/x")),
            Outcome::True,
            "IgnoreCase"
        );
        assert_eq!(
            eval(AZUREML_ONLY, CONTENT_READ, Some("other/x")),
            Outcome::False
        );
        assert!(matches!(
            eval(AZUREML_ONLY, CONTENT_READ, None),
            Outcome::Unknown(why) if why.contains("names no repository")
        ));
    }

    #[test]
    fn the_action_guard_alone_decides_other_actions() {
        let other = "Microsoft.ContainerRegistry/registries/repositories/metadata/read";
        assert_eq!(eval(AZUREML_ONLY, other, None), Outcome::True);
        assert_eq!(
            eval(
                AZUREML_ONLY,
                &CONTENT_READ.to_ascii_uppercase(),
                Some("x/y")
            ),
            Outcome::False,
            "operation names compare case-insensitively"
        );
    }

    #[test]
    fn resource_and_request_spellings_are_the_same_attribute() {
        let c = "@Resource[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'azureml/base'";
        assert_eq!(eval(c, CONTENT_READ, Some("azureml/base")), Outcome::True);
        assert_eq!(eval(c, CONTENT_READ, Some("azureml/Base")), Outcome::False);
    }

    #[test]
    fn unknown_attributes_and_bad_text_stay_unknown() {
        let c = "@Principal[Microsoft.Directory/CustomSecurityAttributes/Attributes:Team_Name] StringEquals 'ml'";
        assert!(
            matches!(eval(c, CONTENT_READ, Some("a")), Outcome::Unknown(w) if w.contains("@Principal"))
        );
        let c = "@Environment[isPrivateLink] BoolEquals true";
        assert!(matches!(
            eval(c, CONTENT_READ, Some("a")),
            Outcome::Unknown(_)
        ));
        assert!(
            matches!(eval("((( nonsense", CONTENT_READ, Some("a")), Outcome::Unknown(w) if w.contains("parse"))
        );
    }

    #[test]
    fn or_with_a_true_side_is_true_even_when_the_other_is_unknown() {
        let c = "(@Environment[isPrivateLink] BoolEquals true) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringLike 'azureml/*')";
        assert_eq!(eval(c, CONTENT_READ, Some("azureml/x")), Outcome::True);
        assert!(matches!(
            eval(c, CONTENT_READ, Some("b/x")),
            Outcome::Unknown(_)
        ));
    }

    #[test]
    fn quoted_text_is_never_rewritten() {
        assert_eq!(
            adapted_text("@Request[a:b] StringEquals 'ActionMatches{x} StringEqualsIgnoreCase!'"),
            "@Request[a:b] StringEquals 'ActionMatches{x} StringEqualsIgnoreCase!'"
        );
        assert_eq!(
            adapted_text("!(ActionMatches{'a/b'}) OR x StringStartsWithIgnoreCase 'y'"),
            " NOT (ActionMatches('a/b')) OR x StringStartsWith 'y'"
        );
    }
}
