//! Azure Resource Manager ids: normalisation and the scope hierarchy.
//!
//! ARM ids are case-insensitive (`resourceGroups` and `resourcegroups` name the same thing), so
//! every join in amlaudit goes through [`normalize`]; the original spelling is kept elsewhere for
//! display. Scope inheritance is decided on `/` segment boundaries, never on string prefixes:
//! `/subscriptions/s/resourceGroups/rg1` is not a parent of `/subscriptions/s/resourceGroups/rg10`.

/// The lower-cased id without a trailing `/`; the root scope stays `/`.
pub fn normalize(id: &str) -> String {
    let trimmed = id.trim();
    let without_slash = trimmed.trim_end_matches('/');
    if without_slash.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(without_slash.len() + 1);
    if !without_slash.starts_with('/') {
        out.push('/');
    }
    // ARM ids are ASCII in practice; this runs for every id in a large tenant.
    if without_slash.is_ascii() {
        out.push_str(without_slash);
        out.make_ascii_lowercase();
    } else {
        out.push_str(&without_slash.to_lowercase());
    }
    out
}

/// Whether `scope` is `resource` itself or one of its ancestors, on segment boundaries.
/// Both arguments must already be normalised.
pub fn scope_contains(scope: &str, resource: &str) -> bool {
    if scope == "/" {
        return true;
    }
    match resource.strip_prefix(scope) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Every scope at or above a normalised id, from the id itself up to `/`, on segment boundaries.
pub fn ancestor_scopes(normalized: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(normalized);
    std::iter::from_fn(move || {
        let current = next?;
        next = if current == "/" {
            None
        } else {
            match current.rfind('/') {
                Some(0) | None => Some("/"),
                Some(i) => Some(&current[..i]),
            }
        };
        Some(current)
    })
}

/// The value after a `/<key>/` segment, matched case-insensitively (`subscriptions`, `resourceGroups`).
pub fn segment_value<'a>(id: &'a str, key: &str) -> Option<&'a str> {
    let mut parts = id.split('/');
    while let Some(part) = parts.next() {
        if part.eq_ignore_ascii_case(key) {
            return parts.next().filter(|v| !v.is_empty());
        }
    }
    None
}

/// The subscription GUID an id lives in, lower-cased.
pub fn subscription_of(id: &str) -> Option<String> {
    segment_value(id, "subscriptions").map(str::to_ascii_lowercase)
}

/// The resource group an id lives in, as written.
pub fn resource_group_of(id: &str) -> Option<&str> {
    segment_value(id, "resourceGroups")
}

/// The last segment of an id: the resource's own name.
pub fn short_name(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// The management group a scope names, when it is a management-group scope.
pub fn management_group_of(normalized_scope: &str) -> Option<&str> {
    normalized_scope
        .strip_prefix("/providers/microsoft.management/managementgroups/")
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
}

/// The ARM resource type an id names, such as
/// `Microsoft.MachineLearningServices/workspaces/computes`, taken from its last `providers` segment.
pub fn arm_type_of(id: &str) -> Option<String> {
    let segments: Vec<&str> = id.trim_matches('/').split('/').collect();
    let provider_at = segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))?;
    let rest = segments.get(provider_at + 1..)?;
    let (namespace, pairs) = rest.split_first()?;
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return None;
    }
    let mut ty = namespace.to_string();
    for pair in pairs.chunks(2) {
        ty.push('/');
        ty.push_str(pair[0]);
    }
    Some(ty)
}

/// What a principal id starts with when it stands for a managed identity an ARM template will
/// create: the identity does not exist yet, so nothing outside the deployment refers to it.
pub const PLANNED_PRINCIPAL_PREFIX: &str = "planned:";

/// Whether a principal id is a planned identity's (see [`PLANNED_PRINCIPAL_PREFIX`]).
pub fn is_planned_principal(principal: &str) -> bool {
    principal
        .trim()
        .get(..PLANNED_PRINCIPAL_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PLANNED_PRINCIPAL_PREFIX))
}

/// Whether `s` is a GUID (8-4-4-4-12 hex digits, either case): subscription, principal, app and
/// role ids, checked before they reach a request path or are taken for a role name.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The GUID at the end of a role definition id, lower-cased; role definition ids appear with and
/// without a `/subscriptions/<sub>` prefix, so only the GUID identifies the role.
pub fn role_guid(role_definition_id: &str) -> String {
    short_name(role_definition_id).to_ascii_lowercase()
}

/// The parent of an id (one `type/name` pair up), used for child resources such as computes.
/// It cuts on `/` in the string it is given, so the parent keeps that string's spelling: pass a
/// normalised id for a join key, the original id for display.
pub fn parent_of(id: &str) -> Option<&str> {
    let mut cut = id.trim_end_matches('/');
    for _ in 0..2 {
        cut = &cut[..cut.rfind('/')?];
    }
    (!cut.is_empty()).then_some(cut)
}

/// The Azure ML workspace an id is, or lives under, in the id's own spelling:
/// `.../providers/Microsoft.MachineLearningServices/workspaces/<name>`. Segments are matched
/// case-insensitively and the result is cut from the original string on a segment boundary, never
/// by the length of a lower-cased copy (lower-casing `K` (U+212A) or `İ` changes byte lengths).
pub fn workspace_of(id: &str) -> Option<&str> {
    let trimmed = id.trim_end_matches('/');
    let mut end = 0;
    let mut found = None;
    let mut segments = trimmed.split('/').peekable();
    let mut previous: [&str; 2] = ["", ""];
    while let Some(segment) = segments.next() {
        end += segment.len();
        if previous[0].eq_ignore_ascii_case("Microsoft.MachineLearningServices")
            && previous[1].eq_ignore_ascii_case("workspaces")
            && !segment.is_empty()
        {
            found = Some(end);
        }
        previous = [previous[1], segment];
        if segments.peek().is_some() {
            end += 1;
        }
    }
    found.map(|end| &trimmed[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_lowercases_and_trims() {
        assert_eq!(
            normalize("/Subscriptions/ABC/resourceGroups/RG/"),
            "/subscriptions/abc/resourcegroups/rg"
        );
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize(""), "/");
    }

    #[test]
    fn containment_is_on_segment_boundaries() {
        let rg1 = "/subscriptions/s/resourcegroups/rg1";
        assert!(scope_contains(
            rg1,
            "/subscriptions/s/resourcegroups/rg1/providers/x/y/z"
        ));
        assert!(scope_contains(rg1, rg1));
        assert!(!scope_contains(rg1, "/subscriptions/s/resourcegroups/rg10"));
        assert!(!scope_contains(
            rg1,
            "/subscriptions/s/resourcegroups/rg10/providers/x/y/z"
        ));
        assert!(scope_contains("/", rg1));
    }

    #[test]
    fn ancestors_walk_up_to_root() {
        let got: Vec<&str> = ancestor_scopes("/subscriptions/s/resourcegroups/rg").collect();
        assert_eq!(
            got,
            vec![
                "/subscriptions/s/resourcegroups/rg",
                "/subscriptions/s/resourcegroups",
                "/subscriptions/s",
                "/subscriptions",
                "/"
            ]
        );
    }

    #[test]
    fn workspace_of_keeps_the_original_spelling_whatever_lower_casing_does() {
        // U+212A KELVIN SIGN lower-cases to a one-byte `k`; `İ` to two characters.
        let ws = "/subscriptions/s/resourceGroups/rg-\u{212A}\u{130}\u{20AC}/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod-cmk";
        let compute = format!("{ws}/computes/c1");
        assert_eq!(workspace_of(&compute), Some(ws));
        assert_eq!(workspace_of(ws), Some(ws));
        assert_eq!(workspace_of(&format!("{ws}/")), Some(ws));
        assert_eq!(workspace_of("/subscriptions/s/resourceGroups/rg"), None);
        assert_eq!(parent_of(&compute), Some(ws));
    }

    #[test]
    fn types_and_parts_come_from_the_id() {
        let id = "/subscriptions/S1/resourceGroups/Rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/c1";
        assert_eq!(
            arm_type_of(id).as_deref(),
            Some("Microsoft.MachineLearningServices/workspaces/computes")
        );
        assert_eq!(subscription_of(id).as_deref(), Some("s1"));
        assert_eq!(resource_group_of(id), Some("Rg"));
        assert_eq!(short_name(id), "c1");
        assert_eq!(
            parent_of(&normalize(id)),
            Some(
                "/subscriptions/s1/resourcegroups/rg/providers/microsoft.machinelearningservices/workspaces/ws"
            )
        );
        assert_eq!(
            role_guid(
                "/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/7F951DDA-4ed3"
            ),
            "7f951dda-4ed3"
        );
        assert_eq!(
            management_group_of("/providers/microsoft.management/managementgroups/corp"),
            Some("corp")
        );
    }
}
