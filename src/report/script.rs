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
//! start a command. Only steps that are `automatic` run: a fix proven to close its finding, with
//! no value a person must supply; everything else appears as a comment that says why
//! ([`manual_reason`]): a `<placeholder>` to fill in, a choice the rule leaves to a person, or a
//! fix not proven to close its finding; the header counts each. A step that needs the
//! principal id an earlier step outputs (`principal_from_step`) gets it from that step, which the
//! script runs with `--query ... -o tsv` and captures into a variable; a command that reads a file
//! (`--file`) gets it written, from the report's `file_content`, into a private temporary folder.

use std::fmt::Write as _;

use super::Report;
use crate::findings::{Edit, Remediation, RuleResult, Status, quote};

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

/// The phase of a step: from its edit, or from the argv of a manual step.
pub fn phase_of(fix: &Remediation) -> Phase {
    match &fix.edit {
        Edit::IdentityCreate { .. } => Phase::CreateIdentity,
        Edit::ComputeIdentity { .. }
        | Edit::AttachIdentity { .. }
        | Edit::AksManagedIdentity { .. } => Phase::AssignIdentity,
        Edit::RoleAssignment { .. }
        | Edit::AksAttachAcr { .. }
        | Edit::KeyvaultAccessPolicy { .. } => Phase::Grant,
        // A workspace's primary identity is checked against its roles, and a node image upgrade
        // is what makes an identity change reach the kubelet: both go last.
        Edit::RegistryAdminUser { .. }
        | Edit::ConnectionRecreate { .. }
        | Edit::AksNodeImageUpgrade { .. }
        | Edit::WorkspacePrimaryIdentity { .. }
        | Edit::ResourceTag { .. } => Phase::Configure,
        Edit::Manual { .. } => phase(&fix.argv),
    }
}

/// One command (or manual step) and the failures it fixes.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub phase: Phase,
    pub fix: &'a Remediation,
    pub fixes: Vec<&'a RuleResult>,
    /// The step (index into the step list, before sorting: see [`steps`]) whose output this one
    /// needs, for `principal_from_step`.
    pub needs: Option<usize>,
    /// Stable number of the step, used to name its captured output.
    pub number: usize,
}

/// The steps for a report's failures, in the order the script takes them. A command several
/// failures share runs once; two steps that need different earlier outputs stay apart even when
/// their argv (which holds the same placeholder) is equal.
pub fn steps(report: &Report) -> Vec<Step<'_>> {
    let mut steps: Vec<Step<'_>> = Vec::new();
    for r in report.results.iter().filter(|r| r.status == Status::Fail) {
        // The step number each of this result's remediation steps landed on.
        let mut placed: Vec<usize> = Vec::with_capacity(r.remediation.len());
        for fix in &r.remediation {
            let needs = fix
                .edit
                .principal_from_step()
                .and_then(|k| placed.get(k).copied());
            let same = steps.iter_mut().find(|s| {
                s.fix.argv == fix.argv
                    // Steps without a command (prose for a person) are one only when they say
                    // the same.
                    && (!fix.argv.is_empty() || s.fix.description == fix.description)
                    && s.fix.automatic == fix.automatic
                    && s.fix.file_content == fix.file_content
                    && s.needs == needs
            });
            match same {
                Some(step) => {
                    step.fixes.push(r);
                    placed.push(step.number);
                }
                None => {
                    let number = steps.len();
                    steps.push(Step {
                        phase: phase_of(fix),
                        fix,
                        fixes: vec![r],
                        needs,
                        number,
                    });
                    placed.push(number);
                }
            }
        }
    }
    // Stable: within a phase the report's order stays, so a producer precedes its consumers.
    steps.sort_by_key(|s| s.phase);
    steps
}

/// Which steps (by number) the script runs: automatic ones whose needed output comes from a step
/// that runs too.
fn runnable(steps: &[Step<'_>]) -> Vec<bool> {
    let mut runs = vec![false; steps.len()];
    // Sorted by phase, a producer comes before its consumers.
    for s in steps {
        runs[s.number] = s.fix.automatic && s.needs.is_none_or(|n| runs[n]);
    }
    runs
}

/// Why a fix step is left to a person instead of run by the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manual {
    /// Its argv holds a `<placeholder>` only a person can fill in (or needs the output of an
    /// earlier step that is itself manual).
    Placeholder,
    /// The rule leaves it to a person: a `manual` edit, which is prose or a command that runs as
    /// written once a person has made the choice its description names.
    Choice,
    /// It would run as written, but amlaudit did not prove that the fix closes its finding
    /// (`fix.verified` is not `closes`), or it changes a resource that is not deployed yet.
    NotProven,
}

impl Manual {
    /// What a person does about it, as the script and summary.md say it.
    pub fn instruction(self) -> &'static str {
        match self {
            Manual::Placeholder => "replace the <placeholder>, then run it yourself",
            Manual::Choice => "a choice or a task for a person: read the description first",
            Manual::NotProven => {
                "not proven to close its finding: check it against fix.verified before running"
            }
        }
    }
}

/// Why one fix step is manual, on its own (without the script's order); `None`
/// for a step that runs unattended. The principal an earlier step outputs is not a placeholder:
/// the script captures it.
pub fn manual_reason(fix: &Remediation) -> Option<Manual> {
    let captured = fix
        .edit
        .principal_from_step()
        .map(crate::fixes::step_placeholder);
    let placeholder = fix
        .argv
        .iter()
        .any(|w| Some(w) != captured.as_ref() && has_placeholder(w));
    if fix.automatic {
        None
    } else if placeholder {
        Some(Manual::Placeholder)
    } else if fix.edit.is_manual() || fix.argv.is_empty() {
        Some(Manual::Choice)
    } else {
        Some(Manual::NotProven)
    }
}

/// A step's reason in the script: its own, or a placeholder when the earlier step whose output
/// it needs does not run.
fn step_reason(step: &Step<'_>, runs: &[bool]) -> Option<Manual> {
    if runs[step.number] {
        return None;
    }
    manual_reason(step.fix).or(Some(Manual::Placeholder))
}

/// `<` then `>` with something between, anywhere in a word (`--scope=<scope>` too).
fn has_placeholder(word: &str) -> bool {
    word.find('<')
        .is_some_and(|open| word[open + 1..].find('>').is_some_and(|len| len > 0))
}

/// How many distinct fix steps the failures have, by what the script does with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepCounts {
    pub automatic: usize,
    pub placeholder: usize,
    pub choice: usize,
    pub not_proven: usize,
}

impl StepCounts {
    /// The counts of the report's remediation script.
    pub fn of(report: &Report) -> Self {
        let steps = steps(report);
        let runs = runnable(&steps);
        Self::of_steps(&steps, &runs)
    }

    fn of_steps(steps: &[Step<'_>], runs: &[bool]) -> Self {
        let mut counts = StepCounts::default();
        for step in steps {
            match step_reason(step, runs) {
                None => counts.automatic += 1,
                Some(Manual::Placeholder) => counts.placeholder += 1,
                Some(Manual::Choice) => counts.choice += 1,
                Some(Manual::NotProven) => counts.not_proven += 1,
            }
        }
        counts
    }

    pub fn manual(&self) -> usize {
        self.placeholder + self.choice + self.not_proven
    }
}

/// The shell variable holding step `number`'s captured output.
fn capture_var(number: usize) -> String {
    format!("principal_{number}")
}

/// Text made safe for a `#` comment: a control character is written as an escape, so it can
/// neither end the comment nor hide what follows it on a terminal.
pub fn comment_text(text: &str) -> String {
    crate::text::visible(text).into_owned()
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

# Like run, for a command whose output (a principal id) a later command needs: stores it in the
# variable named first. In a dry run the variable holds the placeholder named second.
capture() {
  local name=$1 placeholder=$2 value
  shift 2
  ran=$((ran + 1))
  if [ "$apply" = true ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    value=$("$@")
    if [ -z "$value" ]; then
      echo "no principal id came back from: $*" >&2
      exit 1
    fi
    printf -v "$name" '%s' "$value"
  else
    printf 'would run:'
    printf ' %q' "$@"
    printf '\n'
    printf -v "$name" '%s' "$placeholder"
  fi
}

# Files that commands read (--file) live in a private folder removed on exit.
files=""
write_file() {
  if [ -z "$files" ]; then
    files=$(mktemp -d)
    trap 'rm -rf -- "$files"' EXIT
  fi
  printf '%s' "$2" >"$files/$1"
}
"#;

pub fn render(report: &Report) -> String {
    let steps = steps(report);
    let runs = runnable(&steps);
    let counts = StepCounts::of_steps(&steps, &runs);
    let automatic = counts.automatic;
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
            "{automatic} command(s) to run; {manual} manual step(s) left as comments: {} with a <placeholder> to fill in, {} that need your choice, {} not proven to close their finding.",
            counts.placeholder, counts.choice, counts.not_proven
        ),
    );
    out.push('\n');
    out.push_str(PRELUDE);

    // Producers whose output an automatic step needs.
    let captured: Vec<usize> = steps
        .iter()
        .filter(|s| runs[s.number])
        .filter_map(|s| s.needs)
        .collect();
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
        if runs[step.number] {
            comment(&mut out, &step.fix.description);
            if let (Some(name), Some(content)) = (&step.fix.file_name, &step.fix.file_content) {
                let _ = writeln!(
                    out,
                    "write_file {} {}",
                    quote::quote(name),
                    quote::quote(content)
                );
            }
            let command = shell_words(step, &steps);
            match captured
                .contains(&step.number)
                .then(|| step.fix.edit.principal_query())
            {
                Some(Some(query)) => {
                    let _ = writeln!(
                        out,
                        "capture {} {} {command} --query {} -o tsv",
                        capture_var(step.number),
                        quote::quote(&crate::fixes::step_placeholder(step.number)),
                        quote::quote(query)
                    );
                }
                _ => {
                    let _ = writeln!(out, "run {command}");
                }
            }
        } else {
            let text = match &step.fix.edit {
                Edit::Manual { text, .. } if !text.is_empty() && *text != step.fix.description => {
                    format!("{}: {text}", step.fix.description)
                }
                _ => step.fix.description.clone(),
            };
            let why = step_reason(step, &runs).map_or("", Manual::instruction);
            if step.fix.argv.is_empty() {
                comment(&mut out, &format!("MANUAL: {text} ({why})"));
            } else {
                comment(&mut out, &format!("MANUAL: {text} ({why}):"));
                comment(&mut out, &format!("  {}", quote::join(&step.fix.argv)));
            }
        }
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

/// The step's command as shell words: every word quoted, except that the placeholder of an earlier
/// step's output becomes that step's variable, and a `--file` name the path of the written file.
fn shell_words(step: &Step<'_>, steps: &[Step<'_>]) -> String {
    let placeholder = step
        .fix
        .edit
        .principal_from_step()
        .map(crate::fixes::step_placeholder);
    let producer = step
        .needs
        .and_then(|n| steps.iter().find(|s| s.number == n));
    step.fix
        .argv
        .iter()
        .map(|word| {
            if let (Some(p), Some(producer)) = (&placeholder, producer)
                && word == p
            {
                return format!("\"${}\"", capture_var(producer.number));
            }
            if step.fix.file_name.as_deref() == Some(word.as_str()) {
                return format!("\"$files\"/{}", quote::quote(word));
            }
            quote::quote(word)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn failure(id: &str, steps: Vec<Remediation>) -> RuleResult {
        let mut r = crate::test_support::result("AML001", id, Status::Fail);
        r.remediation = steps;
        r
    }

    fn manual(description: &str, text: &str, words: &[&str]) -> Remediation {
        Remediation::from_edit(
            description.into(),
            Edit::Manual {
                text: text.into(),
                argv: argv(words),
            },
            None,
        )
    }

    #[test]
    fn a_manual_step_says_why_and_prose_steps_stay_apart() {
        let registry =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/a";
        let proven = Remediation::from_edit(
            "Disable the admin user".into(),
            Edit::RegistryAdminUser {
                registry: registry.into(),
                enabled: false,
            },
            None,
        );
        let mut unproven = proven.clone();
        unproven.automatic = false;
        let placeholder = manual(
            "Pick a cluster",
            "",
            &["az", "aks", "create", "--name", "<new cluster name>"],
        );
        let choice = manual(
            "Choose",
            "Point the key at the identity",
            &["az", "resource", "update"],
        );
        assert_eq!(manual_reason(&proven), None);
        assert_eq!(manual_reason(&unproven), Some(Manual::NotProven));
        assert_eq!(manual_reason(&placeholder), Some(Manual::Placeholder));
        assert_eq!(manual_reason(&choice), Some(Manual::Choice));
        assert_eq!(
            manual_reason(&manual("Lift it", "A deny assignment blocks it", &[])),
            Some(Manual::Choice)
        );

        // Two failures whose manual steps are prose only: two steps, each with its own text.
        let report = crate::test_support::report(vec![
            failure(
                &format!("{registry}1"),
                vec![manual("Lift deny assignment one", "one", &[])],
            ),
            failure(
                &format!("{registry}2"),
                vec![manual("Lift deny assignment two", "two", &[])],
            ),
            failure(
                &format!("{registry}3"),
                vec![proven.clone(), placeholder.clone()],
            ),
        ]);
        let counts = StepCounts::of(&report);
        assert_eq!(
            counts,
            StepCounts {
                automatic: 1,
                placeholder: 1,
                choice: 2,
                not_proven: 0
            }
        );
        let script = render(&report);
        assert!(script.contains("# MANUAL: Lift deny assignment one: one (a choice or a task for a person: read the description first)"), "{script}");
        assert!(
            script.contains("# MANUAL: Lift deny assignment two: two (a choice"),
            "{script}"
        );
        assert!(
            script.contains(
                "# MANUAL: Pick a cluster (replace the <placeholder>, then run it yourself):"
            ),
            "{script}"
        );
        assert!(script.contains("1 command(s) to run; 3 manual step(s) left as comments: 1 with a <placeholder> to fill in, 2 that need your choice, 0 not proven"), "{script}");
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
        assert_eq!(
            comment_text("a\nrm -rf /\r\u{202e}"),
            "a\\u{a}rm -rf /\\u{d}\\u{202e}"
        );
    }
}
