//! "Can P pull from registry R?": one question that knows the registry's mode.
//!
//! A registry's `properties.roleAssignmentMode` is `LegacyRegistryPermissions` or
//! `AbacRepositoryPermissions` (compared case-insensitively). In legacy mode pull is the action
//! `Microsoft.ContainerRegistry/registries/pull/read` (AcrPull, AcrPush, Reader, Contributor,
//! Owner, ...); in ABAC mode Azure honours none of those for images and pull is the data action
//! `Microsoft.ContainerRegistry/registries/repositories/content/read` (Container Registry
//! Repository Reader/Writer/Contributor), usually scoped to repositories by a condition
//! (<https://learn.microsoft.com/azure/container-registry/container-registry-rbac-abac-repository-permissions>).
//! When the snapshot does not say the mode, both are asked: the answer where they agree,
//! otherwise `unknown` with both in the evidence. `anonymousPullEnabled: true` lets anyone pull,
//! unless a deny assignment denies the principal the pull.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::{
    ACR_PULL_ACTION, ACR_REPOSITORY_READ_DATA_ACTION, AccessDecision, Action, Decision, Evidence,
    EvidenceKind, PermissionIndex, Question,
};
use crate::ids;
use crate::inventory::{Inventory, RoleAssignment, types};

/// The repository a pull of Azure ML's own images is evaluated for. Azure ML names its
/// environment images `azureml/azureml_<hash>`; a condition on the repository name is evaluated
/// for this concrete name of that form.
pub const AZUREML_REPOSITORY: &str = "azureml/azureml_image";

/// The permission model of a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryMode {
    Legacy,
    Abac,
    Unknown,
}

impl RegistryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryMode::Legacy => "legacy",
            RegistryMode::Abac => "abac",
            RegistryMode::Unknown => "unknown",
        }
    }

    /// The mode `properties.roleAssignmentMode` names; `None` for a value amlaudit does not know.
    pub fn from_arm(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("LegacyRegistryPermissions") {
            Some(RegistryMode::Legacy)
        } else if value.eq_ignore_ascii_case("AbacRepositoryPermissions") {
            Some(RegistryMode::Abac)
        } else {
            None
        }
    }

    /// The action that pulls in this mode.
    pub fn pull_action(self) -> Action {
        match self {
            RegistryMode::Abac => Action::data(ACR_REPOSITORY_READ_DATA_ACTION),
            _ => Action::control(ACR_PULL_ACTION),
        }
    }
}

/// What the index keeps of a registry.
#[derive(Debug, Clone)]
pub(super) struct RegistryInfo {
    mode: Option<RegistryMode>,
    raw_mode: Option<String>,
    anonymous_pull: bool,
}

pub(super) fn registries(inventory: &Inventory) -> HashMap<String, RegistryInfo> {
    inventory
        .of_type(types::REGISTRY)
        .filter_map(|r| {
            let id = r.get("id").and_then(Value::as_str)?;
            let raw_mode = r
                .pointer("/properties/roleAssignmentMode")
                .and_then(Value::as_str)
                .map(str::to_string);
            Some((
                ids::normalize(id),
                RegistryInfo {
                    mode: raw_mode.as_deref().and_then(RegistryMode::from_arm),
                    raw_mode,
                    anonymous_pull: r
                        .pointer("/properties/anonymousPullEnabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                },
            ))
        })
        .collect()
}

impl PermissionIndex {
    /// The registry's mode as the snapshot says it (`Unknown` when it does not).
    pub fn registry_mode(&self, registry_id: &str) -> RegistryMode {
        self.registries
            .get(&ids::normalize(registry_id))
            .and_then(|r| r.mode)
            .unwrap_or(RegistryMode::Unknown)
    }

    /// May `principal` pull the named repositories (none named: an empty slice) from the registry?
    pub fn check_pull(
        &self,
        principal: &str,
        registry_id: &str,
        repositories: &[String],
    ) -> AccessDecision {
        self.check_pull_with(principal, registry_id, repositories, &[])
    }

    /// The same, as if `extra` role assignments (proposed fixes) existed too.
    pub fn check_pull_with(
        &self,
        principal: &str,
        registry_id: &str,
        repositories: &[String],
        extra: &[RoleAssignment],
    ) -> AccessDecision {
        let info = self.registries.get(&ids::normalize(registry_id));
        let mode = info.and_then(|r| r.mode).unwrap_or(RegistryMode::Unknown);
        let anonymous = info.filter(|r| r.anonymous_pull).map(|_| {
            format!("registry `{}` allows anonymous pull (anonymousPullEnabled: true), so anyone can pull", ids::short_name(registry_id))
        });
        let mode_note = mode_note(registry_id, info);
        let mut decision = match mode {
            RegistryMode::Unknown => {
                let legacy = self.pull_in(
                    principal,
                    registry_id,
                    repositories,
                    extra,
                    RegistryMode::Legacy,
                    anonymous.as_deref(),
                );
                let abac = self.pull_in(
                    principal,
                    registry_id,
                    repositories,
                    extra,
                    RegistryMode::Abac,
                    anonymous.as_deref(),
                );
                combine_modes(legacy, abac)
            }
            known => self.pull_in(
                principal,
                registry_id,
                repositories,
                extra,
                known,
                anonymous.as_deref(),
            ),
        };
        // Anyone may pull from a registry with anonymous pull, and a registry in neither the
        // snapshot nor the plan may have it: a planned identity's denial then rests on nothing.
        if info.is_none()
            && decision.decision == Decision::Denied
            && ids::is_planned_principal(principal)
        {
            decision.decision = Decision::Unknown;
            decision.reasons = vec![format!(
                "registry `{}` is not in the snapshot, so whether it allows anonymous pull is not known",
                ids::short_name(registry_id)
            )];
        }
        decision.evidence.insert(0, mode_note);
        decision.mode = Some(mode);
        decision.repositories = Some(repositories.to_vec());
        decision
    }

    fn pull_in(
        &self,
        principal: &str,
        registry_id: &str,
        repositories: &[String],
        extra: &[RoleAssignment],
        mode: RegistryMode,
        anonymous: Option<&str>,
    ) -> AccessDecision {
        let action = mode.pull_action();
        let ask = |repository: Option<&str>| {
            self.decide(
                principal,
                registry_id,
                &action,
                Question {
                    repository,
                    extra,
                    anonymous_pull: anonymous,
                },
            )
        };
        if repositories.is_empty() {
            return ask(None);
        }
        let answers: Vec<AccessDecision> = repositories.iter().map(|r| ask(Some(r))).collect();
        // Granted only when granted for every repository.
        let pick = answers
            .iter()
            .position(|a| a.decision == Decision::Denied)
            .or_else(|| answers.iter().position(|a| a.decision == Decision::Unknown))
            .unwrap_or(0);
        let mut chosen = answers.into_iter().nth(pick).unwrap_or_else(|| ask(None));
        if chosen.decision != Decision::Granted && repositories.len() > 1 {
            let repo = &repositories[pick];
            chosen
                .reasons
                .iter_mut()
                .for_each(|r| *r = format!("for repository `{repo}`: {r}"));
        }
        chosen
    }
}

fn mode_note(registry_id: &str, info: Option<&RegistryInfo>) -> Evidence {
    let name = ids::short_name(registry_id);
    let detail = match info {
        None => format!(
            "registry `{name}` is not in the snapshot, so its roleAssignmentMode is unknown: pull was asked both as the action {ACR_PULL_ACTION} (legacy mode) and as the data action {ACR_REPOSITORY_READ_DATA_ACTION} (ABAC mode)"
        ),
        Some(RegistryInfo {
            mode: Some(RegistryMode::Abac),
            ..
        }) => format!(
            "registry `{name}` is in ABAC repository mode (roleAssignmentMode AbacRepositoryPermissions): AcrPull, AcrPush, AcrDelete and Owner/Contributor/Reader give no image access; pull is the data action {ACR_REPOSITORY_READ_DATA_ACTION}"
        ),
        Some(RegistryInfo { mode: Some(_), .. }) => format!(
            "registry `{name}` uses legacy registry permissions (roleAssignmentMode LegacyRegistryPermissions): pull is the action {ACR_PULL_ACTION}"
        ),
        Some(RegistryInfo {
            raw_mode: Some(raw),
            ..
        }) => format!(
            "registry `{name}` has roleAssignmentMode `{raw}`, which amlaudit does not know: pull was asked under both modes"
        ),
        Some(_) => format!(
            "the snapshot has no roleAssignmentMode for registry `{name}`: pull was asked both as the action {ACR_PULL_ACTION} (legacy mode) and as the data action {ACR_REPOSITORY_READ_DATA_ACTION} (ABAC mode)"
        ),
    };
    Evidence::note(EvidenceKind::RegistryMode, "", registry_id, detail)
}

/// Both modes asked: the answer where they agree, otherwise `unknown` with both.
fn combine_modes(legacy: AccessDecision, abac: AccessDecision) -> AccessDecision {
    let tag = |mut d: AccessDecision, mode: RegistryMode| {
        for e in &mut d.evidence {
            e.mode = Some(mode);
        }
        d
    };
    let legacy = tag(legacy, RegistryMode::Legacy);
    let abac = tag(abac, RegistryMode::Abac);
    let agree = legacy.decision == abac.decision;
    let mut out = AccessDecision {
        decision: if agree {
            legacy.decision
        } else {
            Decision::Unknown
        },
        principal: legacy.principal.clone(),
        scope: legacy.scope.clone(),
        action: format!("{} | {}", legacy.action, abac.action),
        data_action: false,
        evidence: Vec::new(),
        reasons: Vec::new(),
        mode: None,
        repositories: None,
    };
    if agree {
        if legacy.decision != Decision::Granted {
            out.reasons = legacy
                .reasons
                .iter()
                .map(|r| format!("in legacy mode: {r}"))
                .chain(abac.reasons.iter().map(|r| format!("in ABAC mode: {r}")))
                .collect();
        }
    } else {
        out.reasons.push(format!(
            "the registry's roleAssignmentMode is unknown, and the answer depends on it: {} in legacy mode ({}), {} in ABAC mode ({})",
            legacy.decision.as_str(),
            legacy.summary(),
            abac.decision.as_str(),
            abac.summary()
        ));
    }
    out.evidence.extend(legacy.evidence);
    out.evidence.extend(abac.evidence);
    out
}
