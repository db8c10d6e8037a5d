//! The remediation script (`remediation.sh`): every automatic fix for the failures, as a bash
//! script that prints what it would do and changes nothing unless run with `--apply`.
//!
//! Commands run in dependency order: identities are created, then assigned to their resources,
//! then granted roles, then other settings change (a workspace's encryption identity, for one,
//! needs its key-vault role first). Within a phase they keep the report's order, and a command
//! that several failures share runs once.
//!
//! Resource names come from the tenant, so nothing in them may ever run: every word of a command
//! is shell-quoted from its argv ([`crate::findings::quote`]), and every comment line has its
//! control characters escaped, because a newline in a name would otherwise end the comment and
//! start a command. Manual steps ([`super::manual_reason`]) appear only as comments, and the
//! header counts them by why: a `<placeholder>` to fill in (such as the principal id of an
//! identity created a step earlier) or a choice the rule leaves to a person.

use std::fmt::Write as _;

use super::Report;
use crate::findings::{Remediation, RuleResult, Status, quote};

/// The script's file name in the output directory.
pub const FILE_NAME: &str = "remediation.sh";

/// When a command must run relative to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// `az identity create`: a user-assigned identity must exist before anything uses it.
    CreateIdentity,
    /// Giving a resource an identity (`az ml compute update --identity-type ...`).
    AssignIdentity,
    /// Role assignments, which need the identity's principal.
    Grant,
    /// Everything else.
    Configure,
}

impl Phase {
    fn heading(self) -> &'static str {
        match self {
            Phase::CreateIdentity => "1. Create identities",
            Phase::AssignIdentity => "2. Give resources their identities",
            Phase::Grant => "3. Grant roles",
            Phase::Configure => "4. Change settings",
        }
    }
}

/// Flags that give a resource a managed identity, across the az commands that take them.
const IDENTITY_FLAGS: &[&str] = &[
    "--identity-type",
    "--assign-identity",
    "--enable-managed-identity",
    "--mi-system-assigned",
    "--mi-user-assigned",
    "--system-assigned",
    "--user-assigned",
    "--primary-user-assigned-identity",
];

/// The phase of an argv.
pub fn phase(argv: &[String]) -> Phase {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["az", "identity", "create", ..] => Phase::CreateIdentity,
        ["az", "role", "assignment", "create", ..] => Phase::Grant,
        ["az", "aks", "update", ..] if words.contains(&"--attach-acr") => Phase::Grant,
        _ if words.windows(2).any(|w| w == ["identity", "assign"]) => Phase::AssignIdentity,
        _ if words.iter().any(|w| {
            let flag = w.split('=').next().unwrap_or(w);
            IDENTITY_FLAGS.contains(&flag)
        }) =>
        {
            Phase::AssignIdentity
        }
        _ => Phase::Configure,
    }
}

/// One command (or manual step) and the failures it fixes.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub phase: Phase,
    pub fix: &'a Remediation,
    pub fixes: Vec<&'a RuleResult>,
}

/// The steps for a report's failures, in the order the script takes them.
pub fn steps(report: &Report) -> Vec<Step<'_>> {
    let mut steps: Vec<Step<'_>> = Vec::new();
    for r in report.results.iter().filter(|r| r.status == Status::Fail) {
        for fix in &r.remediation {
            match steps
                .iter_mut()
                .find(|s| s.fix.argv == fix.argv && s.fix.automatic == fix.automatic)
            {
                Some(step) => step.fixes.push(r),
                None => steps.push(Step {
                    phase: phase(&fix.argv),
                    fix,
                    fixes: vec![r],
                }),
            }
        }
    }
    steps.sort_by_key(|s| s.phase);
    steps
}

/// Text made safe for a `#` comment: a control character is written as an escape, so it can
/// neither end the comment nor hide what follows it on a terminal.
pub fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn comment(out: &mut String, text: &str) {
    let _ = writeln!(out, "# {}", comment_text(text));
}

const PRELUDE: &str = r#"set -euo pipefail

apply=false
case "${1-}" in
  --apply) apply=true ;;
  '' | --dry-run) ;;
  *)
    printf 'usage: %s [--apply]\n' "$0" >&2
    exit 2
    ;;
esac
if [ "$apply" = true ] && ! command -v az >/dev/null 2>&1; then
  echo 'az (the Azure CLI) is not on PATH; install it and sign in with az login first' >&2
  exit 2
fi

ran=0
# Prints the command, quoted, and runs it only with --apply. Arguments are passed on as they
# are, never evaluated again.
run() {
  ran=$((ran + 1))
  if [ "$apply" = true ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    "$@"
  else
    printf 'would run:'
    printf ' %q' "$@"
    printf '\n'
  fi
}
"#;

pub fn render(report: &Report) -> String {
    let steps = steps(report);
    let counts = super::StepCounts::of(report);
    let manual = counts.manual();

    let mut out = String::from("#!/usr/bin/env bash\n");
    comment(
        &mut out,
        &format!(
            "amlaudit {} remediation for snapshot {} (sha256 {}, collected {}),",
            report.tool_version,
            report.snapshot.path,
            report.snapshot.sha256,
            report.snapshot.collected_at
        ),
    );
    comment(&mut out, &format!("generated {}.", report.generated_at));
    out.push_str("#\n");
    comment(
        &mut out,
        "Run without arguments, it prints each command it would run and changes nothing.",
    );
    comment(
        &mut out,
        "Review it, sign in with az login, then run it with --apply to make the changes.",
    );
    comment(
        &mut out,
        "Order: identities are created and assigned first, then roles are granted, then settings change.",
    );
    comment(
        &mut out,
        &format!(
            "{} command(s) to run; {manual} manual step(s) left as comments: {} with a <placeholder> to fill in, {} that need your choice.",
            counts.automatic, counts.placeholder, counts.choice
        ),
    );
    out.push('\n');
    out.push_str(PRELUDE);

    let mut current = None;
    for step in &steps {
        if current != Some(step.phase) {
            current = Some(step.phase);
            let _ = writeln!(out, "\n# ---- {} ----", step.phase.heading());
        }
        out.push('\n');
        for r in &step.fixes {
            comment(
                &mut out,
                &format!("{} ({}) {}", r.rule_id, r.severity, r.title),
            );
            comment(&mut out, &format!("  resource: {}", r.resource_id));
        }
        let command = quote::join(&step.fix.argv);
        let why = match super::manual_reason(step.fix) {
            None => {
                comment(&mut out, &step.fix.description);
                let _ = writeln!(out, "run {command}");
                continue;
            }
            Some(super::Manual::Placeholder) => "replace the <placeholder>, then run it yourself",
            Some(super::Manual::Choice) => "make the choice it describes, then run it yourself",
        };
        comment(
            &mut out,
            &format!("MANUAL: {} ({why}):", step.fix.description),
        );
        comment(&mut out, &format!("  {command}"));
    }
    if steps.is_empty() {
        out.push_str("\n# No failures with a fix: nothing to do.\n");
    }
    out.push_str(
        r#"
if [ "$apply" = true ]; then
  printf 'Ran %d command(s).\n' "$ran"
else
  printf 'Dry run: %d command(s) not run. Run again with --apply to make these changes.\n' "$ran"
fi
"#,
    );
    if manual > 0 {
        let _ = writeln!(
            out,
            "echo '{manual} manual step(s) are comments in this script: run them yourself.'"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn identities_come_before_roles() {
        let create = phase(&argv(&["az", "identity", "create", "--name", "x"]));
        let assign = phase(&argv(&[
            "az",
            "ml",
            "compute",
            "update",
            "--identity-type",
            "SystemAssigned",
        ]));
        let grant = phase(&argv(&["az", "role", "assignment", "create"]));
        let attach = phase(&argv(&["az", "aks", "update", "--attach-acr", "r"]));
        let other = phase(&argv(&["az", "acr", "update", "--admin-enabled", "false"]));
        assert!(create < assign && assign < grant && grant < other);
        assert_eq!(attach, Phase::Grant);
    }

    #[test]
    fn comments_cannot_be_escaped() {
        assert_eq!(comment_text("a\nrm -rf /\r"), "a\\nrm -rf /\\r");
    }
}
