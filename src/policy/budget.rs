//! Limits on what one rule may spend on one resource, so a user rule cannot hang or kill a scan.
//!
//! - Time: regorus's cooperative execution timer ([`regorus::utils::limits::ExecutionTimerConfig`]),
//!   checked as the interpreter works, bounds every evaluation (the `applicable` and `result`
//!   queries of one rule on one resource) in wall-clock time. A triple loop that would never end
//!   stops with a `time limit` error.
//! - Memory: regorus 0.14 enforces memory limits only with its own allocator
//!   (`allocator-memory-limits`, which would replace amlaudit's), and even then
//!   `numbers.range(1, 1e9)` asks for its whole array before any check runs, which aborts the
//!   process. So the collection builders are replaced by versions that refuse, before allocating,
//!   to build more than [`Budget::max_elements`] elements, and `concat` and `replace` (which
//!   multiply a string's length in one call), `strings.replace_n` and `regex.replace` refuse to
//!   build a string over [`Budget::max_string_bytes`]; `sprintf` widths are checked when policies load. Everything
//!   else grows step by step, under the timer.
//! - Recursion (which Rego forbids, and which overflows the stack) is refused when policies load
//!   ([`super::calls`]).
//!
//! Any overrun is an error on that (rule, resource) pair, naming the rule file and the resource.

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

use super::PolicyError;

/// The limits for one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time one rule may spend on one resource.
    pub time: Duration,
    /// The most elements `numbers.range` and `numbers.range_step` may build at once.
    pub max_elements: usize,
    /// The longest string (in bytes) `concat`, `replace`, `strings.replace_n`, `regex.replace` or
    /// a `sprintf` width may build.
    pub max_string_bytes: usize,
}

impl Default for Budget {
    /// Bundled rules take well under a millisecond per resource (see BENCHMARKS.md), so the
    /// defaults leave rules four orders of magnitude of room while still ending a runaway rule
    /// in seconds and a runaway range in megabytes.
    fn default() -> Self {
        Budget {
            time: Duration::from_secs(10),
            max_elements: 1_000_000,
            max_string_bytes: 64 << 20,
        }
    }
}

impl Budget {
    /// Installs the limits on an engine. Must run before policies are added, so the replaced
    /// builtins are the ones every rule calls.
    pub fn apply(&self, engine: &mut Engine) -> Result<(), PolicyError> {
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: self.time,
            // A clock read every 64 interpreter steps: cheap, and a step is microseconds.
            check_interval: NonZeroU32::new(64).expect("64 is not zero"),
        });
        // The interpreter's extensions and the bytecode VM's host calls answer through the same
        // function, so both evaluate a replaced builtin alike.
        let budget = *self;
        for &(name, arity) in REPLACED {
            engine
                .add_extension(
                    name.to_string(),
                    arity as u8,
                    Box::new(move |args: Vec<Value>| {
                        budget
                            .call(name, &args)
                            .unwrap_or_else(|| anyhow::bail!("{name} is not a replaced builtin"))
                    }),
                )
                .map_err(|e| PolicyError::Engine(format!("{name}: {e:#}")))?;
        }
        Ok(())
    }
}

/// The builtins [`Budget::apply`] replaces, by name, as the bytecode VM asks for them
/// ([`super::vm`]).
pub(super) const REPLACED: &[(&str, usize)] = &[
    ("numbers.range", 2),
    ("numbers.range_step", 3),
    ("concat", 2),
    ("replace", 3),
    ("strings.replace_n", 2),
    ("regex.replace", 3),
];

impl Budget {
    /// Answers a call of a replaced builtin exactly as the extension [`Budget::apply`] installs;
    /// `None` when `name` is not one of [`REPLACED`].
    pub(super) fn call(&self, name: &str, args: &[Value]) -> Option<anyhow::Result<Value>> {
        let max = self.max_elements;
        let max_bytes = self.max_string_bytes;
        Some(match name {
            "numbers.range" => range(args, None, max),
            "numbers.range_step" => {
                let step = args.get(2).and_then(|v| v.as_i64().ok());
                match step {
                    Some(step) if step > 0 => range(args, Some(step), max),
                    _ => Err(anyhow::anyhow!(
                        "numbers.range_step: step must be a positive integer"
                    )),
                }
            }
            "concat" => concat(args, max_bytes),
            "replace" => replace(args, max_bytes),
            "strings.replace_n" => replace_n(args, max_bytes),
            "regex.replace" => regex_replace(args, max_bytes),
            _ => return None,
        })
    }
}

/// `numbers.range(a, b)` / `numbers.range_step(a, b, step)` as OPA defines them (from `a` towards
/// `b`, both ends included when reached), refusing to build more than `max` elements.
fn range(args: &[Value], step: Option<i64>, max: usize) -> anyhow::Result<Value> {
    let name = if step.is_some() {
        "numbers.range_step"
    } else {
        "numbers.range"
    };
    let bound = |i: usize| -> anyhow::Result<Option<i64>> {
        let Some(Value::Number(n)) = args.get(i) else {
            anyhow::bail!("{name} expects numeric arguments");
        };
        if !n.is_integer() {
            // regorus gives undefined for non-integer bounds; so do we.
            return Ok(None);
        }
        match n.as_i64() {
            Some(v) => Ok(Some(v)),
            None => anyhow::bail!(
                "{name}: a bound beyond 64 bits is over the memory budget of {max} elements per collection"
            ),
        }
    };
    let (Some(a), Some(b)) = (bound(0)?, bound(1)?) else {
        return Ok(Value::Undefined);
    };
    let step = step.unwrap_or(1);
    let span = (i128::from(b) - i128::from(a)).unsigned_abs();
    let count = span / step.unsigned_abs() as u128 + 1;
    if count > max as u128 {
        anyhow::bail!(
            "{name}({a}, {b}) would build {count} elements: over the memory budget of {max} elements per collection"
        );
    }
    let direction: i64 = if b >= a { 1 } else { -1 };
    let values: Vec<Value> = (0..count as i64)
        .map(|i| Value::from(a + direction * step * i))
        .collect();
    Ok(Value::from(values))
}

fn string_arg<'a>(name: &str, args: &'a [Value], i: usize) -> anyhow::Result<&'a str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        other => anyhow::bail!(
            "`{name}` expects a string as argument {}, got `{}`",
            i + 1,
            other.map_or_else(|| "nothing".to_string(), ToString::to_string)
        ),
    }
}

fn over_budget(name: &str, bytes: usize, max: usize) -> anyhow::Error {
    anyhow::anyhow!(
        "{name} would build a string of {bytes} bytes: over the memory budget of {max} bytes per string"
    )
}

/// `concat(delimiter, array_or_set)`, refusing a result over `max` bytes before building it.
fn concat(args: &[Value], max: usize) -> anyhow::Result<Value> {
    let delimiter = string_arg("concat", args, 0)?;
    let items: Vec<&Value> = match args.get(1) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Set(s)) => s.iter().collect(),
        _ => anyhow::bail!("`concat` expects array/set of strings."),
    };
    let mut parts = Vec::with_capacity(items.len());
    let mut bytes = 0usize;
    for (i, item) in items.into_iter().enumerate() {
        let Value::String(s) = item else {
            anyhow::bail!("`concat` expects array/set of strings: element {i} is `{item}`");
        };
        bytes =
            bytes
                .saturating_add(s.len())
                .saturating_add(if i > 0 { delimiter.len() } else { 0 });
        if bytes > max {
            return Err(over_budget("concat", bytes, max));
        }
        parts.push(s.as_ref());
    }
    Ok(Value::String(parts.join(delimiter).into()))
}

/// `replace(s, old, new)`, refusing a result over `max` bytes before building it.
fn replace(args: &[Value], max: usize) -> anyhow::Result<Value> {
    let s = string_arg("replace", args, 0)?;
    let old = string_arg("replace", args, 1)?;
    let new = string_arg("replace", args, 2)?;
    // An empty `old` matches before every character and at the end (as Go and Rust both do).
    let matches = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let bytes = (s.len() - matches * old.len()).saturating_add(matches.saturating_mul(new.len()));
    if bytes > max {
        return Err(over_budget("replace", bytes, max));
    }
    Ok(Value::String(s.replace(old, new).into()))
}

/// `strings.replace_n(patterns, s)` as regorus evaluates it (each pattern in sorted key order
/// replaced in turn), refusing a result over `max` bytes before building it.
fn replace_n(args: &[Value], max: usize) -> anyhow::Result<Value> {
    let Some(Value::Object(patterns)) = args.first() else {
        anyhow::bail!("`strings.replace_n` expects an object of patterns as argument 1");
    };
    let mut s = Value::String(string_arg("strings.replace_n", args, 1)?.into());
    for (old, new) in patterns.iter_sorted() {
        let (Value::String(_), Value::String(_)) = (old, new) else {
            anyhow::bail!("`strings.replace_n` expects string keys and values in pattern object.");
        };
        s = replace(&[s, old.clone(), new.clone()], max)
            .map_err(|e| anyhow::anyhow!("strings.replace_n: {e}"))?;
    }
    Ok(s)
}

/// regorus's limit on a compiled pattern (`regex.*` builtins), kept so that the replacement
/// accepts and refuses the same patterns.
const REGEX_SIZE_LIMIT: usize = 100 * 1024;

/// `regex.replace(s, pattern, value)` as regorus evaluates it (`$1`-style group references
/// expanded; a pattern that does not compile gives undefined), refusing a result over `max`
/// bytes: a pattern matching every character with a long value multiplies the string.
fn regex_replace(args: &[Value], max: usize) -> anyhow::Result<Value> {
    let s = string_arg("regex.replace", args, 0)?;
    let pattern = string_arg("regex.replace", args, 1)?;
    let value = string_arg("regex.replace", args, 2)?;
    let re = match compiled(pattern) {
        Ok(re) => re,
        Err(regex::Error::CompiledTooBig(_)) => anyhow::bail!(
            "regex.replace: the pattern compiles to more than {REGEX_SIZE_LIMIT} bytes"
        ),
        Err(_) => return Ok(Value::Undefined),
    };
    let mut bytes = s.len();
    let mut expanded = String::new();
    for caps in re.captures_iter(s) {
        expanded.clear();
        caps.expand(value, &mut expanded);
        let matched = caps.get(0).map_or(0, |m| m.len());
        bytes = (bytes - matched).saturating_add(expanded.len());
        if bytes > max {
            return Err(over_budget("regex.replace", bytes, max));
        }
    }
    Ok(Value::String(re.replace_all(s, value).into()))
}

/// Compiled patterns, per thread (rules are evaluated on rayon's threads): a rule calls
/// `regex.replace` with the same pattern for every resource.
fn compiled(pattern: &str) -> Result<regex::Regex, regex::Error> {
    std::thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    CACHE.with(|cache| {
        if let Some(re) = cache.borrow().get(pattern) {
            return Ok(re.clone());
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
        Ok(re)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(budget: Budget, query: &str) -> anyhow::Result<regorus::Value> {
        let mut engine = Engine::new();
        budget.apply(&mut engine).unwrap();
        engine.add_policy("t.rego".into(), format!("package t\nx := {query}"))?;
        engine.eval_rule("data.t.x".into())
    }

    #[test]
    fn ranges_match_opa_and_stop_at_the_budget() {
        let budget = Budget::default();
        let json = |q: &str| serde_json::to_value(eval(budget, q).unwrap()).unwrap();
        assert_eq!(json("numbers.range(1, 3)"), serde_json::json!([1, 2, 3]));
        assert_eq!(json("numbers.range(3, 1)"), serde_json::json!([3, 2, 1]));
        assert_eq!(
            json("numbers.range_step(0, 10, 4)"),
            serde_json::json!([0, 4, 8])
        );
        assert_eq!(
            json("numbers.range_step(10, 0, 5)"),
            serde_json::json!([10, 5, 0])
        );
        let err = eval(budget, "numbers.range(1, 1e9)").unwrap_err();
        assert!(format!("{err:#}").contains("memory budget"), "{err:#}");
    }

    #[test]
    fn strings_match_opa_and_stop_at_the_budget() {
        let budget = Budget {
            max_string_bytes: 1000,
            ..Budget::default()
        };
        let json = |q: &str| serde_json::to_value(eval(budget, q).unwrap()).unwrap();
        assert_eq!(json(r#"concat(", ", ["a", "b"])"#), "a, b");
        assert_eq!(json(r#"concat("-", {"b", "a"})"#), "a-b");
        assert_eq!(json(r#"replace("a.b.c", ".", "::")"#), "a::b::c");
        assert_eq!(json(r#"replace("ab", "", "-")"#), "-a-b-");
        let err = eval(budget, r#"replace("aaaaaaaaaa", "a", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")"#).unwrap_err();
        assert!(format!("{err:#}").contains("memory budget"), "{err:#}");
        let err = eval(
            budget,
            r#"concat("", [x | some i in numbers.range(1, 200); x := "0123456789"])"#,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("memory budget"), "{err:#}");
    }

    #[test]
    fn pattern_replacements_match_regorus_and_stop_at_the_budget() {
        let budget = Budget {
            max_string_bytes: 1000,
            ..Budget::default()
        };
        let json = |q: &str| serde_json::to_value(eval(budget, q).unwrap()).unwrap();
        // Each pattern in turn, in key order: "a" becomes "b", then every "b" becomes "c".
        assert_eq!(
            json(r#"strings.replace_n({"a": "b", "b": "c"}, "ab")"#),
            "cc"
        );
        assert_eq!(
            json(r#"regex.replace("acr-prod-01", `([a-z]+)-([0-9]+)`, "${2}_$1")"#),
            "acr-01_prod"
        );
        // A pattern that does not compile is undefined, as in regorus.
        assert_eq!(
            eval(budget, r#"regex.replace("a", "(", "b")"#).unwrap(),
            regorus::Value::Undefined
        );
        let long = "b".repeat(200);
        let err = eval(
            budget,
            &format!(r#"regex.replace("aaaaaaaaaa", ".", "{long}")"#),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("memory budget"), "{err:#}");
        let err = eval(
            budget,
            &format!(r#"strings.replace_n({{"a": "{long}"}}, "aaaaaaaaaa")"#),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("memory budget"), "{err:#}");
    }
}
