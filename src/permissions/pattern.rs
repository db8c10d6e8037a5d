//! Azure RBAC action patterns: `*` matches any run of characters, comparisons ignore case.
//!
//! A `*` between two slashes also matches nothing at all: Managed Identity Operator's
//! `Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action` grants the operation Azure
//! checks when an identity is assigned, `Microsoft.ManagedIdentity/userAssignedIdentities/assign/action`
//! (the one its `LinkedAuthorizationFailed` errors name). Each `/*/` is therefore tried both as
//! written and collapsed to `/`.

/// An action or notAction pattern, lower-cased once when a role is compiled.
#[derive(Debug, Clone)]
pub struct ActionPattern {
    /// As the role definition wrote it, for evidence.
    pub original: String,
    /// The pattern lower-cased, then every way of collapsing its `/*/` segments to `/`.
    variants: Vec<String>,
}

/// Patterns with more `/*/` segments than this are matched only as written plus fully collapsed.
const MAX_COLLAPSED: usize = 6;

fn variants(lowered: &str) -> Vec<String> {
    let parts: Vec<&str> = lowered.split("/*/").collect();
    let gaps = parts.len() - 1;
    if gaps == 0 {
        return vec![lowered.to_string()];
    }
    let masks: Vec<u32> = if gaps <= MAX_COLLAPSED {
        (0..(1u32 << gaps)).collect()
    } else {
        vec![0, (1u32 << MAX_COLLAPSED) - 1]
    };
    masks
        .into_iter()
        .map(|mask| {
            let mut out = parts[0].to_string();
            for (i, part) in parts.iter().enumerate().skip(1) {
                out.push_str(if mask & (1 << ((i - 1).min(31))) != 0 {
                    "/"
                } else {
                    "/*/"
                });
                out.push_str(part);
            }
            out
        })
        .collect()
}

impl ActionPattern {
    pub fn new(original: &str) -> Self {
        ActionPattern {
            original: original.to_string(),
            variants: variants(&original.trim().to_ascii_lowercase()),
        }
    }

    /// Whether the pattern matches a lower-cased action.
    pub fn matches(&self, lowered_action: &str) -> bool {
        self.variants
            .iter()
            .any(|v| wildcard_match(v.as_bytes(), lowered_action.as_bytes()))
    }
}

/// Glob matching where `*` is the only metacharacter; linear-time with single backtrack point.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, a: &str) -> bool {
        ActionPattern::new(p).matches(&a.to_ascii_lowercase())
    }

    #[test]
    fn star_matches_any_run_and_case_is_ignored() {
        assert!(m("*", "Microsoft.ContainerRegistry/registries/pull/read"));
        assert!(m(
            "*/read",
            "Microsoft.ContainerRegistry/registries/pull/read"
        ));
        assert!(!m(
            "*/read",
            "Microsoft.ContainerRegistry/registries/push/write"
        ));
        assert!(m(
            "Microsoft.ContainerRegistry/*",
            "microsoft.containerregistry/registries/pull/read"
        ));
        assert!(m(
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action"
        ));
        assert!(m(
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/roleAssignments/write"
        ));
        assert!(!m(
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/roleAssignments/read"
        ));
        assert!(!m(
            "Microsoft.ContainerRegistry/registries/pull/read",
            "Microsoft.ContainerRegistry/registries/pull/readx"
        ));
        assert!(m("a*b*c", "axxbyyc"));
        // `/*/` also matches a single `/`: Managed Identity Operator grants the real operation.
        assert!(m(
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
        ));
        assert!(m(
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.ManagedIdentity/userAssignedIdentities/x/assign/action"
        ));
        assert!(!m(
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.ManagedIdentity/userAssignedIdentities/read"
        ));
        assert!(m("a/*/b/*/c", "a/b/c"));
        assert!(m("a/*/b/*/c", "a/x/b/c"));
        assert!(!m("a*b*c", "axxbyy"));
    }
}
