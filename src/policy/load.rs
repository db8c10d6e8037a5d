//! Loading policies: the bundled `.rego` files and those of `--policy-dir`, their METADATA, the
//! checks made before anything runs (unknown functions, recursion, budget literals), one regorus
//! engine per rule, and the file and line an error points at.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regorus::Engine;

use super::authoring::testing;
use super::{Budget, Params, PolicyError, RuleMeta, builtins, bundled, calls, metadata};
use crate::permissions::PermissionIndex;

/// One `.rego` file.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// How the file is named in messages: `policies/...` for bundled files, the path otherwise.
    pub path: String,
    pub text: String,
    pub bundled: bool,
}

impl PolicySource {
    /// Every file shipped in the binary.
    pub fn bundled() -> Vec<PolicySource> {
        bundled::FILES
            .iter()
            .map(|(path, text)| PolicySource {
                path: (*path).to_string(),
                text: (*text).to_string(),
                bundled: true,
            })
            .collect()
    }
}

/// A rule: its metadata, package and file.
#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: RuleMeta,
    pub package: String,
    pub file: String,
    pub bundled: bool,
}

/// Every policy module, rule and test file, read and checked but not yet compiled.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub modules: Vec<PolicySource>,
    pub tests: Vec<PolicySource>,
    pub rules: Vec<Rule>,
    /// The limits every engine built from this set enforces on each evaluation.
    pub budget: Budget,
}

impl PolicySet {
    /// The bundled policies plus every `.rego` file below each directory (recursively, sorted).
    /// A user file identical to a bundled one is skipped, so pointing `--policy-dir` at a copy of
    /// `policies/` does not declare every rule twice.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, PolicyError> {
        let mut sources = PolicySource::bundled();
        for dir in dirs {
            for path in rego_files(dir)? {
                let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io {
                    path: path.clone(),
                    source,
                })?;
                if bundled::FILES.iter().any(|(_, t)| *t == text) {
                    continue;
                }
                sources.push(PolicySource {
                    path: path.display().to_string(),
                    text,
                    bundled: false,
                });
            }
        }
        Self::from_sources(sources)
    }

    /// Sorts sources into modules, tests and rules, checking every rule's METADATA.
    pub fn from_sources(sources: Vec<PolicySource>) -> Result<Self, PolicyError> {
        let mut set = PolicySet::default();
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut packages: HashMap<String, String> = HashMap::new();
        for source in sources {
            if bundled::is_test_file(&source.path) {
                set.tests.push(source);
                continue;
            }
            let package = package_of(&source.text).unwrap_or_default();
            if package.starts_with("amlaudit.rules.") {
                let meta = metadata::parse(Path::new(&source.path), &source.text)
                    .map_err(PolicyError::Metadata)?;
                if let Some(first) = ids.insert(meta.id.to_ascii_uppercase(), source.path.clone()) {
                    return Err(PolicyError::DuplicateId {
                        id: meta.id,
                        first,
                        second: source.path,
                    });
                }
                if let Some(first) = packages.insert(package.clone(), source.path.clone()) {
                    return Err(PolicyError::DuplicatePackage {
                        package,
                        first,
                        second: source.path,
                    });
                }
                set.rules.push(Rule {
                    meta,
                    package,
                    file: source.path.clone(),
                    bundled: source.bundled,
                });
            }
            set.modules.push(source);
        }
        set.rules.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok(set)
    }

    /// A regorus engine with every module (and, when asked, every test file), the builtins and
    /// the parameters loaded, checked for calls to unknown functions, and analysed, so that every
    /// compile-time problem surfaces here, naming its file, line and rule, before any evaluation.
    pub fn engine(
        &self,
        index: Arc<PermissionIndex>,
        params: &Params,
        with_tests: bool,
    ) -> Result<Engine, PolicyError> {
        let files = self.modules.iter().chain(
            with_tests
                .then_some(self.tests.iter())
                .into_iter()
                .flatten(),
        );
        self.engine_of(files, index, params)
    }

    /// An engine with the libraries (modules that are not rules) and one rule. regorus walks
    /// every loaded module on each `data` reference, so a rule evaluated on its own runs
    /// several times faster than among all the others.
    pub fn rule_engine(
        &self,
        rule: &Rule,
        index: Arc<PermissionIndex>,
        params: &Params,
    ) -> Result<Engine, PolicyError> {
        let files = self
            .modules
            .iter()
            .filter(|m| m.path == rule.file || !self.rules.iter().any(|r| r.file == m.path));
        self.engine_of(files, index, params)
    }

    fn engine_of<'a>(
        &self,
        files: impl Iterator<Item = &'a PolicySource>,
        index: Arc<PermissionIndex>,
        params: &Params,
    ) -> Result<Engine, PolicyError> {
        let mut engine = Engine::new();
        self.budget.apply(&mut engine)?;
        builtins::register(&mut engine, index)?;
        for source in files {
            engine
                .add_policy(source.path.clone(), source.text.clone())
                .map_err(|e| self.parse_error(&source.path, &e))?;
        }
        calls::check(&mut engine, builtins::NAMES, |file| self.subject_of(file))?;
        let data = serde_json::json!({"amlaudit": {"params": params.to_json()}});
        engine
            .add_data(regorus::Value::from(data))
            .map_err(|e| PolicyError::Engine(format!("{e:#}")))?;
        // The first evaluation runs regorus's analysis (unsafe variables, recursion); doing it
        // now reports those problems as compile errors, and clones of the engine start prepared.
        engine
            .eval_bool_query("true".to_string(), false)
            .map_err(|e| {
                let message = format!("{e:#}");
                let file = located_file(&message).unwrap_or_default();
                self.parse_error(&file, &e)
            })?;
        Ok(engine)
    }

    /// Compiles every module and test file, with the load-time checks of [`PolicySet::engine`],
    /// without evaluating any rule: what `amlaudit rules` vouches for before listing a rule.
    pub fn check(&self) -> Result<(), PolicyError> {
        testing::test_engine(self).map(drop)
    }

    /// How messages name what a file holds: `rule AML001`, `tests`, or `module <package>`.
    pub fn subject_of(&self, file: &str) -> String {
        if let Some(rule) = self.rules.iter().find(|r| r.file == file) {
            return format!("rule {}", rule.meta.id);
        }
        let source = self
            .modules
            .iter()
            .chain(&self.tests)
            .find(|s| s.path == file);
        match source {
            Some(s) if bundled::is_test_file(&s.path) => "tests".to_string(),
            Some(s) => format!(
                "module {}",
                package_of(&s.text).unwrap_or_else(|| "(no package)".to_string())
            ),
            None => "policy".to_string(),
        }
    }

    fn parse_error(&self, file: &str, e: &anyhow::Error) -> PolicyError {
        let message = format!("{e:#}").trim_start().to_string();
        PolicyError::Parse {
            file: file.to_string(),
            at: location(&message).unwrap_or_else(|| file.to_string()),
            subject: self.subject_of(file),
            message,
        }
    }
}

/// `file:line:col` from a regorus message, which points at the code as `--> file:line:col`.
pub fn location(message: &str) -> Option<String> {
    message.lines().find_map(|l| {
        let at = l.trim_start().strip_prefix("--> ")?.trim();
        (!at.is_empty()).then(|| at.to_string())
    })
}

/// The 1-based line where a module declares rule `name` (`name :=`, `name if`, `default name`).
pub(super) fn declaration_line(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("default ").unwrap_or(l);
            l.strip_prefix(name).is_some_and(|rest| {
                let rest = rest.trim_start();
                rest.starts_with(":=")
                    || rest.starts_with('=')
                    || rest.starts_with("if")
                    || rest.starts_with('{')
                    || rest.starts_with("contains")
            })
        })
        .map(|i| i + 1)
}

/// The file of a regorus message's location (the location minus `:line:col`).
fn located_file(message: &str) -> Option<String> {
    let at = location(message)?;
    let mut parts = at.rsplitn(3, ':');
    let (_col, _line) = (parts.next()?, parts.next()?);
    parts.next().map(str::to_string)
}

fn rego_files(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PolicyError::Io { path, source }
    };
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let path = entry.map_err(io(&d))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rego") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The package a module declares.
pub fn package_of(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("package ")?;
        Some(rest.trim().to_string())
    })
}
