//! `amlaudit test`: run the policies' unit tests like `opa test`, with coverage.
//!
//! Exit 0 when every test passes (and coverage reaches `--threshold`), 1 when a test fails or
//! coverage falls short, 2 when a policy does not compile or a test stops with an error, since
//! then the verdict of the whole suite cannot be trusted.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use regex::Regex;

use super::Exit;
use crate::policy::PolicySet;
use crate::policy::authoring::testing::{self, Coverage, Outcome, TestOptions, TestRun};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// A directory of your own rules and `*_test.rego` files (repeatable); the bundled tests
    /// always run too.
    #[arg(long = "policy-dir", value_name = "DIR")]
    policy_dirs: Vec<PathBuf>,
    /// Report covered and uncovered lines per policy file and the total percentage.
    #[arg(long)]
    coverage: bool,
    /// Fail (exit 1) when total coverage is below PCT; implies --coverage.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    threshold: Option<f64>,
    /// Only run tests whose name (`data.<package>.<test>`) matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    run: Option<Regex>,
    /// How to print the results: per-test lines like `opa test`, or one JSON document.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a percentage between 0 and 100")),
    }
}

pub fn run(args: TestArgs) -> anyhow::Result<Exit> {
    let set = PolicySet::load(&args.policy_dirs)?;
    let options = TestOptions {
        filter: args.run.clone(),
        coverage: args.coverage || args.threshold.is_some(),
    };
    let run = testing::run(&set, &options)?;
    if run.results.is_empty() {
        anyhow::bail!(match &args.run {
            Some(re) => format!("no test matches --run `{re}`"),
            None => "no tests found (tests are `test_*` rules in `*_test.rego` files)".to_string(),
        });
    }
    let below = match (&run.coverage, args.threshold) {
        (Some(c), Some(t)) => c.percent < t,
        _ => false,
    };
    let text = match args.format {
        Format::Text => render_text(&run, args.threshold),
        Format::Json => {
            let mut json = serde_json::to_value(&run).context("rendering the test run")?;
            json["summary"] = serde_json::json!({
                "total": run.results.len(),
                "passed": run.passed(),
                "failed": run.failed(),
                "errored": run.errored(),
                "coverage_threshold": args.threshold,
                "below_threshold": below,
            });
            format!("{json:#}\n")
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if run.errored() > 0 {
        Exit::Error
    } else if run.failed() > 0 || below {
        Exit::Violations
    } else {
        Exit::Clean
    })
}

fn render_text(run: &TestRun, threshold: Option<f64>) -> String {
    let mut s = String::new();
    let mut file = None;
    for r in &run.results {
        if file != Some(&r.case.file) {
            if file.is_some() {
                s.push('\n');
            }
            let _ = writeln!(s, "{}:", r.case.file);
            file = Some(&r.case.file);
        }
        let millis = r.duration.as_secs_f64() * 1000.0;
        let name = r.case.full_name();
        let at = format!("{}:{}", r.case.file, r.case.line);
        match &r.outcome {
            Outcome::Pass => {
                let _ = writeln!(s, "{name}: PASS ({millis:.1}ms)");
            }
            Outcome::Fail { value } => {
                let _ = writeln!(s, "{name}: FAIL ({millis:.1}ms)");
                let why = match value {
                    None => "is undefined: some expression in its body did not hold".to_string(),
                    Some(v) => format!("is {v}, not true"),
                };
                let _ = writeln!(s, "  {at}: {} {why}", r.case.name);
            }
            Outcome::Error {
                at: where_,
                message,
            } => {
                let _ = writeln!(s, "{name}: ERROR ({millis:.1}ms)");
                let _ = writeln!(
                    s,
                    "  {at}: {} stopped with an error at {where_}:",
                    r.case.name
                );
                for line in message.lines() {
                    let _ = writeln!(s, "    {line}");
                }
            }
        }
        if !matches!(r.outcome, Outcome::Pass) && !r.output.is_empty() {
            let _ = writeln!(s, "  printed:");
            for line in &r.output {
                let _ = writeln!(s, "    {line}");
            }
        }
    }
    let total = run.results.len();
    let _ = writeln!(s, "{}", "-".repeat(80));
    for (label, n) in [
        ("PASS", run.passed()),
        ("FAIL", run.failed()),
        ("ERROR", run.errored()),
    ] {
        if n > 0 {
            let _ = writeln!(s, "{label}: {n}/{total}");
        }
    }
    if let Some(coverage) = &run.coverage {
        render_coverage(&mut s, coverage, threshold);
    }
    s
}

fn render_coverage(s: &mut String, coverage: &Coverage, threshold: Option<f64>) {
    let _ = writeln!(s, "\nCoverage:");
    let width = coverage
        .files
        .iter()
        .map(|f| f.path.len())
        .max()
        .unwrap_or(0);
    for f in &coverage.files {
        let _ = write!(
            s,
            "  {:<width$}  {:>6.2}%  {:>4}/{:<4} lines",
            f.path,
            f.percent(),
            f.covered.len(),
            f.lines()
        );
        if !f.evaluated {
            let _ = write!(s, "  no test evaluates this file");
        } else if !f.not_covered.is_empty() {
            let _ = write!(s, "  not covered: {}", ranges(&f.not_covered));
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "Total: {:.2}% ({}/{} lines)",
        coverage.percent, coverage.covered_lines, coverage.total_lines
    );
    if let Some(t) = threshold
        && coverage.percent < t
    {
        let _ = writeln!(
            s,
            "FAIL: coverage {:.2}% is below the threshold {t}%",
            coverage.percent
        );
    }
}

/// `3-5, 9, 12-13`.
fn ranges(lines: &std::collections::BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = lines.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ranges_and_percentages() {
        let lines = [3, 4, 5, 9, 12, 13].into_iter().collect();
        assert_eq!(ranges(&lines), "3-5, 9, 12-13");
        assert_eq!(parse_percent("99.5%"), Ok(99.5));
        assert!(parse_percent("101").is_err());
    }
}
