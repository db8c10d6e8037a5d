//! What is read through ARM: per subscription (its object, the top-level types, role
//! assignments), per workspace (computes, connections, and v1 services from the ML data plane),
//! tenant-wide (management-group ancestry, the role definitions assignments reference), and the
//! list of subscriptions for `--all-subscriptions`. Resource Graph mode reuses the per-workspace
//! and role-definition parts.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::client::{Client, RequestError};
use super::endpoints::Endpoints;
use super::{CollectError, Ctx, TENANT_KEY, TOP_LEVEL, Tasks, api};
use crate::ids;
use crate::inventory::ArmType;
use crate::permissions::catalogue;

/// The whole ARM-mode collection.
pub(crate) async fn collect(ctx: Arc<Ctx>, subs: Vec<String>) {
    let mut tasks = Tasks::new();
    {
        let ctx = ctx.clone();
        let subs = subs.clone();
        tasks.spawn("", async move { ancestry(&ctx, &subs).await });
    }
    for sub in &subs {
        tasks.spawn(sub, subscription(ctx.clone(), sub.clone()));
    }
    tasks.join(&ctx.acc).await;
    role_definitions(ctx.clone(), to_fetch(&ctx)).await;
}

/// Role definitions amlaudit must read: those referenced and not embedded in its catalogue of
/// built-in roles (which already answers for those).
pub(crate) fn to_fetch(ctx: &Ctx) -> Vec<super::accumulate::RoleRef> {
    ctx.acc
        .role_refs()
        .into_iter()
        .filter(|r| catalogue::builtin_role(&r.guid).is_none())
        .collect()
}

/// Everything of one subscription.
async fn subscription(ctx: Arc<Ctx>, sub: String) {
    let mut tasks = Tasks::new();
    {
        let (ctx, s) = (ctx.clone(), sub.clone());
        tasks.spawn(&sub, async move { subscription_object(&ctx, &s).await });
    }
    for &(ty, version) in TOP_LEVEL {
        let (ctx, s) = (ctx.clone(), sub.clone());
        if ty == ArmType::Workspace.canonical() {
            tasks.spawn(&sub, async move { workspaces(ctx, s).await });
        } else {
            tasks.spawn(&sub, async move {
                let url = ctx
                    .endpoints
                    .arm_url(&format!("/subscriptions/{s}/providers/{ty}"), version);
                ctx.read_list(&s, &s, ty, url, Ok).await;
            });
        }
    }
    {
        let (ctx, s) = (ctx.clone(), sub.clone());
        tasks.spawn(&sub, async move {
            role_assignments(&ctx, &s, Assignments::AtAndBelowAndInherited).await
        });
    }
    {
        let (ctx, s) = (ctx.clone(), sub.clone());
        tasks.spawn(&sub, async move { deny_assignments(&ctx, &s).await });
    }
    tasks.join(&ctx.acc).await;
}

async fn subscription_object(ctx: &Ctx, sub: &str) {
    ctx.progress.start(sub, "subscription");
    let outcome = match ctx
        .endpoints
        .arm_url(&format!("/subscriptions/{sub}"), api::SUBSCRIPTIONS)
    {
        Err(e) => Err(RequestError::BadUrl(e)),
        Ok(url) => ctx.client.get(sub, &url).await.map(|mut object| {
            // ARM's subscription object carries no `type`; the snapshot needs one.
            if let Some(obj) = object.as_object_mut() {
                obj.entry("type")
                    .or_insert_with(|| Value::String(ArmType::Subscription.canonical().into()));
            }
            ctx.acc.add(sub, ArmType::Subscription.canonical(), object);
        }),
    };
    ctx.acc
        .record(sub, ArmType::Subscription.canonical(), &outcome);
    ctx.progress.finish_one(sub);
}

/// Which role assignments a subscription-scope list returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assignments {
    /// No filter: at the subscription, below it, and inherited from above (management groups,
    /// the root). `$filter=atScope()` would drop the ones below.
    AtAndBelowAndInherited,
    /// `$filter=atScope()`: at the subscription and above; Resource Graph mode adds these to
    /// the ones it found below, because Resource Graph scoped to subscriptions does not return
    /// assignments made at management groups.
    AtAndInherited,
}

pub(crate) async fn role_assignments(ctx: &Ctx, sub: &str, which: Assignments) {
    let path = format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments");
    let url = match which {
        Assignments::AtAndBelowAndInherited => ctx.endpoints.arm_url(&path, api::AUTHORIZATION),
        Assignments::AtAndInherited => {
            ctx.endpoints
                .arm_url_with(&path, api::AUTHORIZATION, &[("$filter", "atScope()")])
        }
    };
    ctx.read_list(sub, sub, ArmType::RoleAssignment.canonical(), url, Ok)
        .await;
}

/// The deny assignments that apply at, above or below the subscription. Only a list read to the
/// end marks the subscription's deny assignments as read; otherwise grants stay qualified.
pub(crate) async fn deny_assignments(ctx: &Ctx, sub: &str) {
    let path = format!("/subscriptions/{sub}/providers/Microsoft.Authorization/denyAssignments");
    ctx.progress.start(sub, "denyAssignments");
    let outcome = match ctx.endpoints.arm_url(&path, api::AUTHORIZATION) {
        Err(e) => Err(RequestError::BadUrl(e)),
        Ok(url) => {
            ctx.client
                .list(sub, url, false, |items| {
                    for item in items {
                        ctx.acc.add(sub, ArmType::DenyAssignment.canonical(), item);
                    }
                })
                .await
        }
    };
    if outcome.is_ok() {
        ctx.acc.deny_assignments_read(sub);
    }
    ctx.acc
        .record(sub, ArmType::DenyAssignment.canonical(), &outcome);
    ctx.progress.finish_one(sub);
}

/// What the per-workspace reads need to know about a workspace.
#[derive(Debug, Clone)]
pub(crate) struct WorkspaceRef {
    id: String,
    location: Option<String>,
    kind: Option<String>,
}

impl WorkspaceRef {
    pub(crate) fn of(workspace: &Value) -> Option<Self> {
        let text = |k: &str| workspace.get(k).and_then(Value::as_str).map(str::to_string);
        Some(WorkspaceRef {
            id: text("id")?,
            location: text("location"),
            kind: text("kind"),
        })
    }

    /// Hubs, projects and feature stores have no v1 web services; asking their data plane would
    /// only produce errors.
    fn has_v1_services(&self) -> bool {
        self.kind
            .as_deref()
            .is_none_or(|k| k.eq_ignore_ascii_case("default"))
    }
}

async fn workspaces(ctx: Arc<Ctx>, sub: String) {
    let url = ctx.endpoints.arm_url(
        &format!(
            "/subscriptions/{sub}/providers/{}",
            ArmType::Workspace.canonical()
        ),
        api::ML,
    );
    let mut children = Tasks::new();
    ctx.read_list(&sub, &sub, ArmType::Workspace.canonical(), url, |ws| {
        // Children start as soon as their workspace's page arrives, not after the last page.
        if let Some(w) = WorkspaceRef::of(&ws) {
            children.spawn(&sub, workspace_children(ctx.clone(), sub.clone(), w));
        }
        Ok(ws)
    })
    .await;
    children.join(&ctx.acc).await;
}

/// Computes, connections and v1 services of one workspace.
pub(crate) async fn workspace_children(ctx: Arc<Ctx>, sub: String, ws: WorkspaceRef) {
    let computes = ctx.read_list(
        &sub,
        &sub,
        ArmType::Compute.canonical(),
        ctx.endpoints
            .arm_url(&format!("{}/computes", ws.id), api::ML),
        Ok,
    );
    let connections = ctx.read_list(
        &sub,
        &sub,
        ArmType::Connection.canonical(),
        ctx.endpoints
            .arm_url(&format!("{}/connections", ws.id), api::ML),
        Ok,
    );
    let services = async {
        if !ws.has_v1_services() {
            return;
        }
        let url = match &ws.location {
            Some(region) => ctx.endpoints.ml_services_url(region, &ws.id),
            None => Err(format!(
                "{}: no location, so its ML data plane is unknown",
                ws.id
            )),
        };
        ctx.read_list(&sub, &sub, ArmType::Service.canonical(), url, |item| {
            service_resource(&ws, item)
        })
        .await;
    };
    tokio::join!(computes, connections, services);
}

/// A v1 web service from the data plane, in the snapshot's ARM-like shape: its id under the
/// workspace, and the data-plane object (with its `computeType`) as `properties`.
fn service_resource(ws: &WorkspaceRef, item: Value) -> Result<Value, String> {
    let Value::Object(mut fields) = item else {
        return Err(format!(
            "{}: the ML data plane listed a service that is not an object",
            ws.id
        ));
    };
    let name = match fields.remove("name") {
        Some(Value::String(n)) if !n.is_empty() && !n.contains('/') => n,
        _ => {
            return Err(format!(
                "{}: the ML data plane listed a service without a usable name",
                ws.id
            ));
        }
    };
    let mut out = Map::new();
    out.insert("id".into(), json!(format!("{}/services/{name}", ws.id)));
    out.insert("type".into(), json!(ArmType::Service.canonical()));
    out.insert("name".into(), json!(name));
    if let Some(location) = fields.remove("location") {
        out.insert("location".into(), location);
    }
    out.insert("properties".into(), Value::Object(fields));
    Ok(Value::Object(out))
}

/// Reads each referenced role definition once, by GUID.
pub(crate) async fn role_definitions(ctx: Arc<Ctx>, refs: Vec<super::accumulate::RoleRef>) {
    let mut tasks = Tasks::new();
    for role in refs {
        let ctx = ctx.clone();
        tasks.spawn("", async move { role_definition(&ctx, role).await });
    }
    tasks.join(&ctx.acc).await;
}

async fn role_definition(ctx: &Ctx, role: super::accumulate::RoleRef) {
    // A tenant-level id (`/providers/...`) of a custom role may not resolve; the same GUID under
    // a subscription that uses it does, for built-in and custom roles alike.
    let path = match role.subscriptions.iter().next() {
        Some(sub)
            if role
                .definition_id
                .to_ascii_lowercase()
                .starts_with("/providers/") =>
        {
            format!(
                "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{}",
                role.guid
            )
        }
        _ => role.definition_id.clone(),
    };
    let key = ids::subscription_of(&path).unwrap_or_else(|| TENANT_KEY.to_string());
    ctx.progress.start(&key, "roleDefinitions");
    let outcome = match ctx.endpoints.arm_url(&path, api::AUTHORIZATION) {
        Err(e) => Err(RequestError::BadUrl(e)),
        Ok(url) => ctx.client.get(&key, &url).await,
    };
    ctx.progress.finish_one(&key);
    match outcome {
        Ok(definition) => ctx.acc.add_role_definition(&role, definition),
        Err(e) if e.http_status() == Some(404) => ctx.acc.warn(format!(
            "role definition {} (used by assignments in {}) does not exist or is not visible; \
             access through it is reported as unknown",
            role.guid,
            role.subscriptions
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => {
            for sub in &role.subscriptions {
                ctx.acc.read_failed(
                    sub,
                    ArmType::RoleDefinition.canonical(),
                    format!("{}: {e}", role.guid),
                    e.http_status(),
                );
            }
        }
    }
}

/// Management-group ancestry of the collected subscriptions, from the entities list (one paged
/// call for the tenant). Unreadable ancestry is a warning: assignments made at management groups
/// then evaluate to "unknown", which is the truth.
async fn ancestry(ctx: &Ctx, subs: &[String]) {
    ctx.progress.start(TENANT_KEY, "management groups");
    let mut chains: HashMap<String, Value> = HashMap::new();
    let outcome = match ctx.endpoints.arm_url(
        "/providers/Microsoft.Management/getEntities",
        api::MANAGEMENT_GROUPS,
    ) {
        Err(e) => Err(RequestError::BadUrl(e)),
        Ok(url) => {
            ctx.client
                .list(TENANT_KEY, url, true, |entities| {
                    for entity in &entities {
                        if let Some((sub, chain)) = subscription_chain(entity) {
                            chains.insert(sub, chain);
                        }
                    }
                })
                .await
        }
    };
    ctx.progress.finish_one(TENANT_KEY);
    if let Err(e) = outcome {
        ctx.acc.warn(format!(
            "management-group ancestry could not be read ({e}); role assignments made at \
             management groups are reported as unknown"
        ));
        return;
    }
    for sub in subs {
        match chains.remove(sub) {
            Some(chain) => ctx.acc.set_ancestry(sub, chain),
            None => ctx.acc.warn(format!(
                "management-group ancestry of subscription {sub} is not visible to this identity; \
                 role assignments made at management groups are reported as unknown for it"
            )),
        }
    }
}

/// A subscription entity's ancestors, nearest first, in Resource Graph's
/// `managementGroupAncestorsChain` shape. The entities API lists them root first.
fn subscription_chain(entity: &Value) -> Option<(String, Value)> {
    let id = entity.get("id").and_then(Value::as_str)?;
    let sub = ids::subscription_of(id)?;
    let props = entity.get("properties")?;
    let names: Vec<&str> = props
        .get("parentNameChain")?
        .as_array()?
        .iter()
        .map(Value::as_str)
        .collect::<Option<_>>()?;
    if names.is_empty() {
        return None;
    }
    let displays: Vec<Option<&str>> = props
        .get("parentDisplayNameChain")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Value::as_str).collect())
        .unwrap_or_default();
    let chain: Vec<Value> = names
        .iter()
        .enumerate()
        .rev()
        .map(|(i, name)| {
            let mut link = Map::new();
            link.insert("name".into(), json!(name));
            if let Some(Some(display)) = displays.get(i) {
                link.insert("displayName".into(), json!(display));
            }
            Value::Object(link)
        })
        .collect();
    Some((sub, Value::Array(chain)))
}

/// Every subscription the identity can list, for `--all-subscriptions`; disabled ones are
/// skipped (they cannot be read) and reported.
pub(crate) async fn list_subscriptions(
    client: &Client,
    endpoints: &Endpoints,
) -> Result<(Vec<String>, Vec<String>), CollectError> {
    let url = endpoints
        .arm_url("/subscriptions", api::SUBSCRIPTIONS)
        .map_err(|e| CollectError::ListSubscriptions(RequestError::BadUrl(e)))?;
    let mut subs = Vec::new();
    let mut skipped = Vec::new();
    client
        .list(TENANT_KEY, url, false, |items| {
            for item in items {
                let Some(id) = item
                    .get("subscriptionId")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .filter(|s| super::is_guid(s))
                else {
                    continue;
                };
                let state = item.get("state").and_then(Value::as_str).unwrap_or("");
                if state.eq_ignore_ascii_case("disabled") || state.eq_ignore_ascii_case("deleted") {
                    skipped.push(format!("subscription {id} is {state}; not collected"));
                } else if !subs.contains(&id) {
                    subs.push(id);
                }
            }
        })
        .await
        .map_err(CollectError::ListSubscriptions)?;
    subs.sort();
    Ok((subs, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_chains_are_turned_nearest_first() {
        let entity = json!({
            "id": "/subscriptions/S1", "type": "/subscriptions", "name": "S1",
            "properties": {"parentNameChain": ["root", "mid", "leaf"],
                           "parentDisplayNameChain": ["Root", "Mid", "Leaf"]}
        });
        let (sub, chain) = subscription_chain(&entity).unwrap();
        assert_eq!(sub, "s1");
        assert_eq!(
            chain,
            json!([{"name": "leaf", "displayName": "Leaf"}, {"name": "mid", "displayName": "Mid"}, {"name": "root", "displayName": "Root"}])
        );
        let group = json!({"id": "/providers/Microsoft.Management/managementGroups/x", "properties": {"parentNameChain": ["root"]}});
        assert!(subscription_chain(&group).is_none());
        let no_chain = json!({"id": "/subscriptions/S1", "properties": {}});
        assert!(subscription_chain(&no_chain).is_none());
    }

    #[test]
    fn services_get_an_id_under_their_workspace() {
        let ws = WorkspaceRef {
            id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w".into(),
            location: Some("eastus".into()),
            kind: None,
        };
        let svc = service_resource(
            &ws,
            json!({"name": "score", "location": "eastus", "computeType": "ACI"}),
        )
        .unwrap();
        assert_eq!(svc["id"], format!("{}/services/score", ws.id));
        assert_eq!(svc["type"], ArmType::Service.canonical());
        assert_eq!(svc["properties"]["computeType"], "ACI");
        assert!(svc["properties"].get("name").is_none());
        assert!(service_resource(&ws, json!({"computeType": "ACI"})).is_err());
        assert!(service_resource(&ws, json!({"name": "a/b"})).is_err());
    }
}
