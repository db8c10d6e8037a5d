//! `amlaudit new-rule`: writes the skeleton of [`crate::policy::skeleton`] for a new rule, after
//! checking that its id and package are not already taken by a bundled rule or one in `--dir`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::Exit;
use crate::findings::Severity;
use crate::policy::PolicySet;
use crate::policy::skeleton::{self, Spec};

#[derive(Debug, Args)]
pub struct NewRuleArgs {
    /// The rule's id, such as CORP001.
    id: String,
    /// The ARM type of the resources it is evaluated on.
    #[arg(long, value_name = "TYPE")]
    resource_type: String,
    /// Where to write `<id>.rego` and `<id>_test.rego` (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The severity its METADATA declares (what `scan --fail-on` compares with).
    #[arg(long, value_enum, default_value = "medium")]
    severity: Severity,
}

pub fn run(args: NewRuleArgs) -> anyhow::Result<Exit> {
    let spec = Spec {
        id: args.id,
        resource_type: args.resource_type,
        severity: args.severity,
    };
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
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("{}: cannot create", args.dir.display()))?;
    for (path, text) in [(&policy, &skeleton.policy), (&test, &skeleton.test)] {
        std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    let dir = args.dir.display();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Wrote {} and {}.\nNext: edit them, then\n  amlaudit test --policy-dir {dir} --coverage\n  amlaudit rules --policy-dir {dir}\n  amlaudit scan --snapshot SNAPSHOT --policy-dir {dir}",
        policy.display(),
        test.display()
    )?;
    Ok(Exit::Clean)
}
