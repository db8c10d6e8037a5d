//! `amlaudit access`: one effective-permission question, answered with its evidence.
//!
//! Without `--action` the question is the image pull the rules ask: "can P pull from registry
//! R", answered under R's mode (legacy: the action registries/pull/read; ABAC: the data action
//! registries/repositories/content/read, conditions evaluated for the repositories named with
//! `--repository`, Azure ML's `azureml/...` by default). With `--action` it asks exactly that
//! operation by RBAC alone, as a data action when the operation's namespace is one Azure serves
//! as data actions (`--data-action` / `--control-action` override).

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::Exit;
use crate::inventory::{Inventory, Snapshot};
use crate::permissions::{
    AZUREML_REPOSITORY, AccessDecision, Action, Contribution, Decision, EvidenceKind,
    PermissionIndex,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// The snapshot to answer from.
    #[arg(long, value_name = "SNAPSHOT")]
    snapshot: PathBuf,
    /// The identity's principal (object) id, a GUID.
    #[arg(long, value_name = "OBJECT_ID")]
    principal: String,
    /// The resource (or scope) id the action is performed on; the registry for a pull question.
    #[arg(long, value_name = "RESOURCE_ID")]
    scope: String,
    /// The exact operation to ask about, by RBAC alone (e.g.
    /// Microsoft.ContainerRegistry/registries/pull/read). Without it, the question is "can the
    /// principal pull from the registry --scope", answered under the registry's mode.
    #[arg(long, value_name = "OPERATION")]
    action: Option<String>,
    /// Ask the operation as a data action (answered by dataActions/notDataActions only).
    #[arg(long, conflicts_with = "control_action", requires = "action")]
    data_action: bool,
    /// Ask the operation as a control-plane action even when its namespace is a data-action one.
    #[arg(long, requires = "action")]
    control_action: bool,
    /// For a pull question: a repository the pull is about (repeatable). Default: Azure ML's
    /// image repositories (evaluated as `azureml/azureml_image`).
    #[arg(long = "repository", value_name = "NAME", conflicts_with = "action")]
    repositories: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: AccessArgs) -> anyhow::Result<Exit> {
    check_principal(&args.principal)?;
    check_scope(&args.scope)?;
    if let Some(action) = &args.action {
        check_action(action)?;
    }
    for r in &args.repositories {
        check_repository(r)?;
    }
    let started = std::time::Instant::now();
    let inventory = Inventory::new(Snapshot::load(&args.snapshot)?);
    tracing::info!(elapsed = ?started.elapsed(), "snapshot read, inventory built");
    let index = PermissionIndex::new(&inventory);
    tracing::info!(elapsed = ?started.elapsed(), "permission index built");
    let decision = match &args.action {
        Some(name) => {
            let action = if args.data_action {
                Action::data(name)
            } else if args.control_action {
                Action::control(name)
            } else {
                Action::classify(name)
            };
            index.check(&args.principal, &args.scope, &action)
        }
        None => {
            let repositories = if args.repositories.is_empty() {
                vec![AZUREML_REPOSITORY.to_string()]
            } else {
                args.repositories.clone()
            };
            index.check_pull(&args.principal, &args.scope, &repositories)
        }
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &decision)?;
            writeln!(out)?;
        }
        Format::Text => write_text(&mut out, &decision)?,
    }
    // As in `scan`: freeing a large tenant's millions of small allocations takes longer than
    // answering; the process is about to exit and the OS reclaims it all at once.
    std::mem::forget(index);
    std::mem::forget(inventory);
    Ok(match decision.decision {
        Decision::Granted => Exit::Clean,
        Decision::Denied => Exit::Violations,
        Decision::Unknown => Exit::Incomplete,
    })
}

fn write_text(out: &mut impl Write, decision: &AccessDecision) -> std::io::Result<()> {
    let question = match (&decision.mode, &decision.repositories) {
        (Some(mode), Some(repos)) => format!(
            "pull from the registry (mode {}) of {}",
            mode.as_str(),
            if repos.is_empty() {
                "no named repository".to_string()
            } else {
                repos
                    .iter()
                    .map(|r| format!("`{}`", visible(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        _ => format!(
            "{} {}",
            if decision.data_action {
                "data action"
            } else {
                "action"
            },
            visible(&decision.action)
        ),
    };
    writeln!(
        out,
        "{}: {} {}",
        decision.decision.as_str().to_uppercase(),
        visible(&decision.principal),
        question
    )?;
    writeln!(out, "  on {}", visible(&decision.scope))?;
    for e in &decision.evidence {
        let mark = match e.contribution {
            Contribution::Grants => "grants",
            Contribution::DoesNotGrant => "does not grant",
            Contribution::Inconclusive => "inconclusive",
            Contribution::Denies => "denies",
            Contribution::Note => "note",
        };
        let mode = e
            .mode
            .map(|m| format!("[{} mode] ", m.as_str()))
            .unwrap_or_default();
        match e.kind {
            EvidenceKind::RoleAssignment => {
                writeln!(
                    out,
                    "  - {mode}{} ({}) at {}: {mark}: {}",
                    visible(e.role_name.as_deref().unwrap_or("unknown role")),
                    e.role_definition_id,
                    visible(&e.scope),
                    visible(&e.detail)
                )?;
                writeln!(out, "    assignment {}", visible(&e.assignment_id))?;
            }
            EvidenceKind::DenyAssignment => {
                writeln!(
                    out,
                    "  - {mode}deny assignment {} at {}: {mark}: {}",
                    visible(e.role_name.as_deref().unwrap_or(&e.assignment_id)),
                    visible(&e.scope),
                    visible(&e.detail)
                )?;
                writeln!(out, "    deny assignment {}", visible(&e.assignment_id))?;
            }
            _ => writeln!(out, "  - {mode}{mark}: {}", visible(&e.detail))?,
        }
        if let Some(c) = &e.condition {
            writeln!(out, "    condition ({}): {}", c.result, visible(&c.text))?;
        }
    }
    for r in &decision.reasons {
        writeln!(out, "  because {}", visible(r))?;
    }
    Ok(())
}

/// Control and bidi characters shown as escapes, never obeyed by the terminal.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn has_control(text: &str) -> bool {
    text.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

fn check_principal(principal: &str) -> anyhow::Result<()> {
    let p = principal.trim();
    let groups: Vec<&str> = p.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        bail!(
            "--principal `{}`: a principal is an Entra object id, a GUID such as 00000000-0000-0000-0000-000000000000",
            visible(principal)
        );
    }
    Ok(())
}

fn check_scope(scope: &str) -> anyhow::Result<()> {
    let shown = visible(scope);
    if has_control(scope) {
        bail!("--scope `{shown}`: holds control or bidirectional-override characters");
    }
    if !scope.starts_with('/') {
        bail!(
            "--scope `{shown}`: not an ARM id (it starts with `/`, e.g. /subscriptions/<sub>/resourceGroups/<rg>/providers/<type>/<name>)"
        );
    }
    if scope == "/" {
        return Ok(());
    }
    let body = scope.strip_suffix('/').unwrap_or(scope);
    if body.len() > 1 && body[1..].split('/').any(str::is_empty) {
        bail!("--scope `{shown}`: has an empty segment (`//`)");
    }
    if body.split('/').any(|s| s == ".." || s == ".") {
        bail!("--scope `{shown}`: has a `.` or `..` segment; ARM ids name scopes, not paths");
    }
    if scope.contains('*') {
        bail!("--scope `{shown}`: wildcards are not ARM ids");
    }
    let lower = body.to_ascii_lowercase();
    let ok = body == "/"
        || lower.starts_with("/subscriptions/")
        || lower.starts_with("/providers/microsoft.management/managementgroups/");
    if !ok {
        bail!(
            "--scope `{shown}`: not an ARM id below a subscription or management group (/subscriptions/<sub>/...)"
        );
    }
    Ok(())
}

fn check_action(action: &str) -> anyhow::Result<()> {
    let a = action.trim();
    if a.is_empty() {
        bail!(
            "--action: empty; name one operation, e.g. Microsoft.ContainerRegistry/registries/pull/read"
        );
    }
    if has_control(action) {
        bail!(
            "--action `{}`: holds control or bidirectional-override characters",
            visible(action)
        );
    }
    if a.contains('*') {
        bail!(
            "--action `{}`: a question names one operation; `*` belongs in role definitions, not in questions",
            visible(action)
        );
    }
    if !a.contains('/') || a.split('/').any(str::is_empty) {
        bail!(
            "--action `{}`: not an operation name (<Provider>/<resource type>/.../<verb>)",
            visible(action)
        );
    }
    Ok(())
}

fn check_repository(name: &str) -> anyhow::Result<()> {
    if name.trim().is_empty() || has_control(name) || name.contains('*') {
        bail!(
            "--repository `{}`: a repository name such as azureml/base-image",
            visible(name)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked() {
        assert!(check_principal("d66b4b4d-b47a-4101-8681-89f46a84e8d5").is_ok());
        assert!(check_principal("p").is_err());
        assert!(check_principal("").is_err());
        assert!(check_scope("/subscriptions/s/resourceGroups/rg").is_ok());
        assert!(check_scope("/").is_ok());
        for bad in [
            "subscriptions/s",
            "/subscriptions/s/../x",
            "/subscriptions//s",
            "/subscriptions/s\u{1b}[2J",
            "/subscriptions/s\u{202e}",
            "/a",
        ] {
            assert!(check_scope(bad).is_err(), "{bad}");
        }
        for bad in ["", " ", "*", "Microsoft.Authorization/*", "read"] {
            assert!(check_action(bad).is_err(), "{bad}");
        }
        assert!(check_action("Microsoft.ContainerRegistry/registries/pull/read").is_ok());
        assert_eq!(visible("a\u{1b}b"), "a\\u{1b}b");
    }
}
