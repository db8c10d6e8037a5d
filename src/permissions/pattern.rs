//! Azure RBAC action patterns: `*` matches any run of characters, comparisons ignore case.

/// An action or notAction pattern, lower-cased once when a role is compiled.
#[derive(Debug, Clone)]
pub struct ActionPattern {
    /// As the role definition wrote it, for evidence.
    pub original: String,
    lowered: String,
}

impl ActionPattern {
    pub fn new(original: &str) -> Self {
        ActionPattern {
            original: original.to_string(),
            lowered: original.trim().to_ascii_lowercase(),
        }
    }

    /// Whether the pattern matches a lower-cased action.
    pub fn matches(&self, lowered_action: &str) -> bool {
        wildcard_match(self.lowered.as_bytes(), lowered_action.as_bytes())
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
        assert!(!m("a*b*c", "axxbyy"));
    }
}
