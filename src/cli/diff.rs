//! `amlaudit diff OLD_REPORT NEW_REPORT`: what was fixed, what newly fails and what changed
//! status between two JSON reports; exits 1 when something new fails, for a "no regressions"
//! gate.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Exit;
use crate::report::Report;
use crate::report::diff;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier JSON report (findings.json).
    #[arg(value_name = "OLD_REPORT")]
    old: PathBuf,
    /// The later JSON report.
    #[arg(value_name = "NEW_REPORT")]
    new: PathBuf,
    /// A table per kind of change, or the whole comparison as JSON.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(args: DiffArgs) -> anyhow::Result<Exit> {
    let old = Report::load(&args.old)?;
    let new = Report::load(&args.new)?;
    let d = diff::diff(
        &old,
        &args.old.display().to_string(),
        &new,
        &args.new.display().to_string(),
    );
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => out.write_all(diff::render_table(&d).as_bytes())?,
        Format::Json => out.write_all(&diff::render_json(&d))?,
    }
    out.flush()?;
    Ok(if d.has_new_failures() {
        Exit::Violations
    } else {
        Exit::Clean
    })
}
