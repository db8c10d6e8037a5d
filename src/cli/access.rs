//! `amlaudit access`: one effective-permission question, answered with its evidence.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Exit;
use crate::inventory::{Inventory, Snapshot};
use crate::permissions::{ACR_PULL_ACTION, Action, Contribution, Decision, PermissionIndex};

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
    /// The identity's principal (object) id.
    #[arg(long, value_name = "OBJECT_ID")]
    principal: String,
    /// The resource (or scope) id the action is performed on.
    #[arg(long, value_name = "RESOURCE_ID")]
    scope: String,
    /// The action to ask about.
    #[arg(long, default_value = ACR_PULL_ACTION)]
    action: String,
    /// The action is a data action (answered by dataActions/notDataActions only).
    #[arg(long)]
    data_action: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: AccessArgs) -> anyhow::Result<Exit> {
    let inventory = Inventory::new(Snapshot::load(&args.snapshot)?);
    let index = PermissionIndex::new(&inventory);
    let action = if args.data_action {
        Action::data(&args.action)
    } else {
        Action::control(&args.action)
    };
    let decision = index.check(&args.principal, &args.scope, &action);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &decision)?;
            writeln!(out)?;
        }
        Format::Text => {
            let kind = if decision.data_action {
                "data action"
            } else {
                "action"
            };
            writeln!(
                out,
                "{}: {} {} {}",
                decision.decision.as_str().to_uppercase(),
                decision.principal,
                kind,
                decision.action
            )?;
            writeln!(out, "  on {}", decision.scope)?;
            for e in &decision.evidence {
                let mark = match e.contribution {
                    Contribution::Grants => "grants",
                    Contribution::DoesNotGrant => "does not grant",
                    Contribution::Inconclusive => "inconclusive",
                };
                writeln!(
                    out,
                    "  - {} ({}) at {}: {mark}: {}",
                    e.role_name.as_deref().unwrap_or("unknown role"),
                    e.role_definition_id,
                    e.scope,
                    e.detail
                )?;
                writeln!(out, "    assignment {}", e.assignment_id)?;
            }
            for r in &decision.reasons {
                writeln!(out, "  because {r}")?;
            }
        }
    }
    Ok(match decision.decision {
        Decision::Granted => Exit::Clean,
        Decision::Denied => Exit::Violations,
        Decision::Unknown => Exit::Incomplete,
    })
}
