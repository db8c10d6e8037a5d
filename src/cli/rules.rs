//! `amlaudit rules`: the rule catalogue (bundled and user rules) from the rules' METADATA, as a
//! table, as JSON, or as the Markdown reference pages kept in `docs/rules/`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use super::Exit;
use crate::output::write_atomically;
use crate::policy::authoring::docs::{self, MARKER};
use crate::policy::{PolicySet, RuleMeta};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    /// Write one reference page per rule and an index into --out-dir.
    Markdown,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// A directory of your own rules (repeatable); listed with the bundled ones.
    #[arg(long = "policy-dir", value_name = "DIR")]
    policy_dirs: Vec<PathBuf>,
    /// How to print the catalogue.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Where `--format markdown` writes the reference pages.
    #[arg(long, value_name = "DIR", default_value = "docs/rules")]
    out_dir: PathBuf,
}

/// A catalogue entry as `--format json` prints it.
#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    meta: &'a RuleMeta,
    package: &'a str,
    file: &'a str,
    bundled: bool,
}

pub fn run(args: RulesArgs) -> anyhow::Result<Exit> {
    let set = PolicySet::load(&args.policy_dirs)?;
    // A catalogue entry for a rule that cannot run would mislead, so the policies must compile.
    set.check()?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            let mut table = Table::new();
            table
                .load_style(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(["Id", "Severity", "Resource type", "Title", "Source"]);
            for r in &set.rules {
                let source = if r.bundled {
                    "bundled"
                } else {
                    r.file.as_str()
                };
                table.add_row([
                    r.meta.id.as_str(),
                    r.meta.severity.as_str(),
                    r.meta.resource_type.as_str(),
                    r.meta.title.as_str(),
                    source,
                ]);
            }
            writeln!(out, "{table}")?;
            writeln!(out, "{} rules", set.rules.len())?;
        }
        Format::Json => {
            let entries: Vec<Entry> = set
                .rules
                .iter()
                .map(|r| Entry {
                    meta: &r.meta,
                    package: &r.package,
                    file: &r.file,
                    bundled: r.bundled,
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&entries)?)?;
        }
        Format::Markdown => {
            let pages = docs::reference_pages(&set.rules);
            for page in &pages {
                write_atomically(&args.out_dir.join(&page.file_name), page.text.as_bytes())?;
            }
            let removed = remove_stale(&args.out_dir, &pages)?;
            writeln!(
                out,
                "Wrote {} rule pages and {} to {}{}",
                pages.len() - 1,
                docs::INDEX,
                args.out_dir.display(),
                if removed.is_empty() {
                    String::new()
                } else {
                    format!("; removed {}", removed.join(", "))
                }
            )?;
        }
    }
    out.flush()?;
    Ok(Exit::Clean)
}

/// Removes pages this command generated earlier for rules that are gone; other files stay.
fn remove_stale(dir: &std::path::Path, pages: &[docs::Page]) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.extension().is_none_or(|e| e != "md") || pages.iter().any(|p| p.file_name == name) {
            continue;
        }
        let generated = std::fs::read_to_string(&path).is_ok_and(|t| t.starts_with(MARKER));
        if generated {
            std::fs::remove_file(&path)
                .with_context(|| format!("{}: cannot remove", path.display()))?;
            removed.push(name.into_owned());
        }
    }
    removed.sort();
    Ok(removed)
}
