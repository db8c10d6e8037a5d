//! The command line: argument definitions, one module per subcommand, and the exit policy.
//!
//! Subcommands resolve their arguments into settings before doing any work, never print from the
//! library, and return an [`Exit`] that `main` turns into the process status. Errors are printed
//! once, with their chain, and exit 2.

/// `eprintln!` for everything the CLI tells a person on stderr: control and bidi characters in
/// the message (from resource names, file names, rule output) are shown, not obeyed.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::text::visible_lines(&format!($($arg)*)))
    };
}

mod access;
mod collect;
mod diff;
mod fix;
mod import;
mod new_rule;
mod rules;
pub mod scan;
mod test;

pub use collect::{CollectArgs, exit_for as collect_exit};

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Process exit statuses, shared by every subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Clean: nothing failed and everything could be seen.
    Clean = 0,
    /// Violations at or above the gate (or: access denied, a regression, a failing test).
    Violations = 1,
    /// Usage, configuration or input error: nothing trustworthy was evaluated.
    Error = 2,
    /// Nothing failed, but something could not be decided or seen.
    Incomplete = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "amlaudit",
    version,
    about = "Audit how Azure Machine Learning workspaces use managed identities to reach registries, clusters and keys",
    long_about = "amlaudit inventories Azure ML workspaces, computes, registries, AKS clusters, identities and role \
assignments, decides effective permissions from role assignments (inherited scopes, custom roles, wildcards, \
notActions), evaluates Rego rules over them in parallel, and reports what is wrong, why, and the az command \
that fixes it.",
    after_help = "Exit status: 0 clean, 1 violations, 2 usage or input error, 3 incomplete (unknown results or scopes not fully read)."
)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process; boxing the scan flags would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Build a snapshot from ARM JSON or az CLI output you already have.
    Import(import::ImportArgs),
    /// Ask whether an identity may perform an action on a resource, and through which assignment.
    Access(access::AccessArgs),
    /// Inventory subscriptions live from Azure into a snapshot (exit 3 if any could not be read
    /// completely).
    Collect(collect::CollectCommandArgs),
    /// Audit a snapshot with the bundled and your own rules; write reports; gate CI.
    Scan(scan::ScanArgs),
    /// Compare two JSON reports: fixed, new and changed results; exit 1 when something new fails.
    Diff(diff::DiffArgs),
    /// List the rule catalogue from the rules' METADATA, or generate its reference pages.
    Rules(rules::RulesArgs),
    /// Run the policies' `test_*` rules (bundled and yours), optionally with coverage.
    Test(test::TestArgs),
    /// Write a new rule and its tests, ready to edit, that pass `amlaudit test` as they are.
    NewRule(new_rule::NewRuleArgs),
    /// Plan remediation: apply the proven fixes to a snapshot, scan again, show before -> after.
    Fix(fix::FixArgs),
}

/// Parses the command line, runs the subcommand and maps the outcome to an exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            say!("error: {}", error_text(&err));
            Exit::Error.into()
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Import(args) => import::run(args),
        Command::Access(args) => access::run(args),
        Command::Collect(args) => collect::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Test(args) => test::run(args),
        Command::NewRule(args) => new_rule::run(args),
        Command::Fix(args) => fix::run(args),
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "amlaudit=info",
        _ => "amlaudit=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// An error and its causes on one line, each said once: library errors often include their
/// source in their own message ("cannot read: No such file or directory") as well as returning
/// it as the source, and the chain would repeat it.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if cause.is_empty() || text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
