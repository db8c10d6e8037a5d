//! `amlaudit new-rule`: writes the skeleton of [`crate::policy::authoring::skeleton`] for a new rule, after
//! checking that its id and package are not already taken by a bundled rule or one in `--dir`.
//!
//! Rules go to `policies/custom/` unless `--dir` says otherwise, and never into a repository's
//! root: `--policy-dir` reads every `.rego` file below a directory, so a rule written at the root
//! would be loaded together with whatever else the repository holds (the documentation's example
//! rules, for one). The next steps it prints name exactly the directory it wrote to, and say so
//! when that directory already holds other rule files that they would load too.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::Exit;
use crate::findings::{Severity, quote};
use crate::policy::PolicySet;
use crate::policy::authoring::skeleton::{self, Spec};

/// Where `new-rule` writes when `--dir` is not given, relative to the working directory.
pub const DEFAULT_DIR: &str = "policies/custom";

#[derive(Debug, Args)]
pub struct NewRuleArgs {
    /// The rule's id, such as CORP001.
    id: String,
    /// The ARM type of the resources it is evaluated on.
    #[arg(long, value_name = "TYPE")]
    resource_type: String,
    /// Where to write `<id>.rego` and `<id>_test.rego` (created if missing); never a
    /// repository's root, whose every `.rego` file `--policy-dir` would load.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    dir: PathBuf,
    /// The severity its METADATA declares (what `scan --fail-on` compares with).
    #[arg(long, value_enum, default_value = "medium")]
    severity: Severity,
}

/// Whether `dir` is the root of a repository (it holds `.git`, a directory or a worktree's file).
fn is_repository_root(dir: &Path) -> bool {
    dir.join(".git").exists()
}

pub fn run(args: NewRuleArgs) -> anyhow::Result<Exit> {
    let spec = Spec {
        id: args.id,
        resource_type: args.resource_type,
        severity: args.severity,
    };
    if is_repository_root(&args.dir) {
        bail!(
            "{}: is the root of a repository; `--policy-dir` loads every .rego file below the directory it is given, so a rule here would be loaded with everything else in the repository. Use --dir {DEFAULT_DIR} (the default) or another directory of its own",
            args.dir.display()
        );
    }
    let skeleton = skeleton::generate(&spec)?;
    let policy = args.dir.join(format!("{}.rego", skeleton.stem));
    let test = args.dir.join(format!("{}_test.rego", skeleton.stem));
    for path in [&policy, &test] {
        if path.exists() {
            bail!("{}: already exists; not overwriting it", path.display());
        }
    }
    let dirs: Vec<PathBuf> = args
        .dir
        .is_dir()
        .then(|| args.dir.clone())
        .into_iter()
        .collect();
    let existing = PolicySet::load(&dirs)?;
    let package = format!("amlaudit.rules.{}", skeleton.stem);
    if let Some(rule) = existing
        .rules
        .iter()
        .find(|r| r.meta.id.eq_ignore_ascii_case(&spec.id) || r.package == package)
    {
        bail!(
            "rule {} (package {}) in {} already uses id {} or package {package}",
            rule.meta.id,
            rule.package,
            rule.file,
            spec.id
        );
    }
    // A rule is also one of the set's modules, so files are counted once by path.
    let others: std::collections::BTreeSet<&str> = existing
        .rules
        .iter()
        .filter(|r| !r.bundled)
        .map(|r| r.file.as_str())
        .chain(
            existing
                .modules
                .iter()
                .chain(&existing.tests)
                .filter(|m| !m.bundled)
                .map(|m| m.path.as_str()),
        )
        .collect();
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("{}: cannot create", args.dir.display()))?;
    for (path, text) in [(&policy, &skeleton.policy), (&test, &skeleton.test)] {
        std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    let dir = quote::quote(&args.dir.display().to_string());
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Wrote {} and {}.\nNext: edit them, then\n  amlaudit test --policy-dir {dir} --coverage\n  amlaudit rules --policy-dir {dir}\n  amlaudit scan --snapshot SNAPSHOT --policy-dir {dir}",
        policy.display(),
        test.display()
    )?;
    if !others.is_empty() {
        writeln!(
            out,
            "Note: --policy-dir {dir} also loads the {} other .rego file(s) below it, such as {}.",
            others.len(),
            others.first().copied().unwrap_or_default()
        )?;
    }
    Ok(Exit::Clean)
}
