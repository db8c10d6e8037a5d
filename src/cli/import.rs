//! `amlaudit import`: ARM / az JSON files in, one snapshot out.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::Exit;
use crate::inventory::import::Importer;
use crate::output::write_atomically;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Where to write the snapshot.
    #[arg(short, long, value_name = "SNAPSHOT")]
    output: PathBuf,
    /// A subscription these files cover completely (repeatable). Subscriptions that appear only
    /// in ids are recorded as not covered, so access to them is "unknown", never "denied".
    #[arg(long = "subscription", value_name = "SUB")]
    subscriptions: Vec<String>,
    /// A subscription whose complete deny-assignment list the files hold (repeatable); needed
    /// when that list is empty, since an empty list names no subscription. A non-empty list of
    /// `Microsoft.Authorization/denyAssignments` marks its subscription by itself.
    #[arg(long = "deny-assignments-listed", value_name = "SUB")]
    deny_assignments_listed: Vec<String>,
    /// The tenant the files come from.
    #[arg(long, value_name = "GUID")]
    tenant: Option<String>,
    /// The Azure cloud the files come from.
    #[arg(long, default_value = "AzureCloud", value_parser = ["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"])]
    cloud: String,
    /// ARM list bodies (deny assignments included), JSON arrays, single ARM objects, az CLI
    /// output, Graph group-membership files (`{"<principal id>": <transitiveMemberOf or
    /// getMemberGroups answer>}`), or other snapshots.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<Exit> {
    let mut importer = Importer::new();
    for file in &args.files {
        importer.add_file(file)?;
    }
    for sub in &args.deny_assignments_listed {
        importer.deny_assignments_listed(sub);
    }
    for t in importer.truncated() {
        say!(
            "warning: {}: the list body has a nextLink, so it holds only the first page; {} recorded as partial (fetch every page, or use `amlaudit collect`)",
            t.file,
            if t.subscriptions.is_empty() {
                "the subscriptions it covers are".to_string()
            } else {
                format!("subscription(s) {} are", t.subscriptions.join(", "))
            }
        );
    }
    if importer.secrets_removed() > 0 {
        say!(
            "note: dropped {} secret field(s) (passwords, keys, connection strings, tokens): amlaudit never stores secrets",
            importer.secrets_removed()
        );
    }
    let uncovered = importer.uncovered_subscriptions(&args.subscriptions);
    if !uncovered.is_empty() {
        say!(
            "note: not covered (pass --subscription to vouch that the files hold all of it): {}",
            uncovered.join(", ")
        );
    }
    let snapshot = importer.finish(&args.subscriptions, args.tenant, &args.cloud);
    write_atomically(&args.output, &snapshot.to_json_bytes())
        .with_context(|| "writing the snapshot".to_string())?;
    say!(
        "wrote {} resources covering {} subscription(s) to {}",
        snapshot.resources.len(),
        snapshot.scopes.len(),
        args.output.display()
    );
    Ok(Exit::Clean)
}
