//! Resource Graph mode (`--via resource-graph`): for tenants with many subscriptions, the
//! subscriptions (with their management-group ancestry), the top-level types and the role
//! assignments come from a few paged Resource Graph queries per batch of 1,000 subscriptions
//! (the most one query accepts), instead of several ARM lists per subscription.
//!
//! Resource Graph does not hold ML computes, connections or v1 services, and scoped to
//! subscriptions it does not return assignments made at management groups, so those are still
//! read per workspace, and per subscription with `$filter=atScope()`, through ARM. A subscription
//! Resource Graph silently leaves out (it does so for ones the identity cannot read) is recorded
//! as a failed read, never taken as empty.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use super::arm::{self, Assignments, WorkspaceRef};
use super::client::RequestError;
use super::{Ctx, GRAPH_KEY, TOP_LEVEL, Tasks, api};
use crate::ids;
use crate::inventory::ArmType;

/// The most subscriptions one Resource Graph query accepts.
const BATCH: usize = 1000;

const SUBSCRIPTIONS_QUERY: &str =
    "resourcecontainers | where type =~ 'microsoft.resources/subscriptions'";
const ASSIGNMENTS_QUERY: &str =
    "authorizationresources | where type =~ 'microsoft.authorization/roleassignments'";

fn resources_query() -> String {
    let types: Vec<String> = TOP_LEVEL
        .iter()
        .map(|(ty, _)| format!("'{}'", ty.to_ascii_lowercase()))
        .collect();
    format!("resources | where type in~ ({})", types.join(", "))
}

/// The whole Resource Graph-mode collection.
pub(crate) async fn collect(ctx: Arc<Ctx>, subs: Vec<String>) {
    for batch in subs.chunks(BATCH) {
        let batch = batch.to_vec();
        // Resource Graph leaves out subscriptions it cannot read without a word, so the other
        // queries run only over the ones it shows; an empty answer for the others would lie.
        let visible = Arc::new(subscriptions(&ctx, &batch).await);
        let mut tasks = Tasks::new();
        if !visible.is_empty() {
            {
                let (ctx, visible) = (ctx.clone(), visible.clone());
                tasks.spawn("", async move { resources(ctx, visible).await });
            }
            {
                let (ctx, visible) = (ctx.clone(), visible.clone());
                tasks.spawn("", async move { assignments(&ctx, &visible).await });
            }
        }
        for sub in &batch {
            let (ctx1, s) = (ctx.clone(), sub.clone());
            tasks.spawn(sub, async move {
                arm::role_assignments(&ctx1, &s, Assignments::AtAndInherited).await
            });
            let (ctx2, s) = (ctx.clone(), sub.clone());
            tasks.spawn(sub, async move { arm::deny_assignments(&ctx2, &s).await });
        }
        tasks.join(&ctx.acc).await;
    }
    role_definitions(ctx, &subs).await;
}

async fn query(
    ctx: &Ctx,
    batch: &[String],
    what: &str,
    query: &str,
    mut each: impl FnMut(Value),
) -> Result<(), RequestError> {
    ctx.progress.start(GRAPH_KEY, what);
    let outcome = match ctx.endpoints.arm_url(
        "/providers/Microsoft.ResourceGraph/resources",
        api::RESOURCE_GRAPH,
    ) {
        Err(e) => Err(RequestError::BadUrl(e)),
        Ok(url) => {
            ctx.client
                .graph_query(&url, batch, query, |rows| {
                    rows.into_iter().for_each(&mut each)
                })
                .await
        }
    };
    ctx.progress.finish_one(GRAPH_KEY);
    outcome
}

/// The subscription a row belongs to: its `subscriptionId` column, else its id.
fn row_subscription(row: &Value) -> Option<String> {
    row.get("subscriptionId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .or_else(|| {
            row.get("id")
                .and_then(Value::as_str)
                .and_then(ids::subscription_of)
        })
}

fn record_batch(ctx: &Ctx, batch: &[String], what: &str, outcome: &Result<(), RequestError>) {
    for sub in batch {
        ctx.acc.record(sub, what, outcome);
    }
}

/// Reads the subscription rows of a batch and returns the subscriptions Resource Graph shows.
async fn subscriptions(ctx: &Ctx, batch: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    let outcome = query(ctx, batch, "subscriptions", SUBSCRIPTIONS_QUERY, |row| {
        if let Some(sub) = row_subscription(&row).filter(|s| batch.contains(s)) {
            seen.insert(sub.clone());
            ctx.acc.add(&sub, ArmType::Subscription.canonical(), row);
        }
    })
    .await;
    if outcome.is_err() {
        record_batch(ctx, batch, ArmType::Subscription.canonical(), &outcome);
        return Vec::new();
    }
    let mut visible = Vec::new();
    for sub in batch {
        if seen.contains(sub) {
            ctx.acc.read_ok(sub);
            visible.push(sub.clone());
        } else {
            ctx.acc.read_failed(
                sub,
                ArmType::Subscription.canonical(),
                "Resource Graph returns nothing for this subscription (this identity cannot \
                 read it, or it does not exist), so none of its resources were read"
                    .into(),
                None,
            );
        }
    }
    visible
}

async fn resources(ctx: Arc<Ctx>, batch: Arc<Vec<String>>) {
    let mut children = Tasks::new();
    let outcome = query(
        &ctx,
        &batch,
        "workspaces, registries, clusters, identities",
        &resources_query(),
        |row| {
            let Some(sub) = row_subscription(&row).filter(|s| batch.contains(s)) else {
                return;
            };
            let ty = row
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if ty.eq_ignore_ascii_case(ArmType::Workspace.canonical())
                && let Some(ws) = WorkspaceRef::of(&row)
            {
                children.spawn(&sub, arm::workspace_children(ctx.clone(), sub.clone(), ws));
            }
            ctx.acc.add(&sub, &ty, row);
        },
    )
    .await;
    record_batch(
        &ctx,
        &batch,
        "Resource Graph: workspaces, registries, managed clusters, user-assigned identities",
        &outcome,
    );
    children.join(&ctx.acc).await;
}

async fn assignments(ctx: &Ctx, batch: &[String]) {
    let outcome = query(ctx, batch, "role assignments", ASSIGNMENTS_QUERY, |row| {
        // Rows at a management group have no subscription; the ARM atScope() lists attribute them.
        let sub = row_subscription(&row)
            .filter(|s| batch.contains(s))
            .or_else(|| batch.first().cloned())
            .unwrap_or_default();
        ctx.acc.add(&sub, ArmType::RoleAssignment.canonical(), row);
    })
    .await;
    record_batch(ctx, batch, ArmType::RoleAssignment.canonical(), &outcome);
}

/// Referenced custom role definitions from Resource Graph, then through ARM for any it does not
/// have (definitions made at management groups are not in a subscription-scoped query).
async fn role_definitions(ctx: Arc<Ctx>, subs: &[String]) {
    let wanted = arm::to_fetch(&ctx);
    // Only plain GUIDs go into the query text; anything else is read through ARM.
    let queryable: Vec<&str> = wanted
        .iter()
        .map(|r| r.guid.as_str())
        .filter(|g| !g.is_empty() && g.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .collect();
    let mut found = HashSet::new();
    if !queryable.is_empty() {
        let text = format!(
            "authorizationresources | where type =~ 'microsoft.authorization/roledefinitions' \
             | where name in~ ({})",
            queryable
                .iter()
                .map(|g| format!("'{g}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for batch in subs.chunks(BATCH) {
            let outcome = query(&ctx, batch, "role definitions", &text, |row| {
                let guid = row
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_default();
                if let Some(role) = wanted.iter().find(|r| r.guid == guid)
                    && found.insert(guid)
                {
                    ctx.acc.add_role_definition(role, row);
                }
            })
            .await;
            if let Err(e) = outcome {
                tracing::info!(
                    "Resource Graph could not list role definitions ({e}); reading them through ARM"
                );
                break;
            }
        }
    }
    let rest = wanted
        .into_iter()
        .filter(|r| !found.contains(&r.guid))
        .collect();
    arm::role_definitions(ctx, rest).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resources_query_names_every_top_level_type() {
        let q = resources_query();
        for (ty, _) in TOP_LEVEL {
            assert!(q.contains(&ty.to_ascii_lowercase()), "{q}");
        }
    }

    #[test]
    fn rows_belong_to_their_subscription() {
        let row =
            serde_json::json!({"id": "/subscriptions/AB/resourceGroups/x", "subscriptionId": ""});
        assert_eq!(row_subscription(&row).as_deref(), Some("ab"));
        let row = serde_json::json!({"id": "/x", "subscriptionId": "CD"});
        assert_eq!(row_subscription(&row).as_deref(), Some("cd"));
    }
}
