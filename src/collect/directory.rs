//! Microsoft Graph: what the directory knows that ARM does not.
//!
//! - The transitive group memberships of every identity the rules ask about (workspace, compute,
//!   kubelet and user-assigned identities, and clusters' service principals), from
//!   `GET /v1.0/servicePrincipals/{id}/transitiveMemberOf/microsoft.graph.group?$select=id`
//!   (managed identities are service principals), paged with `@odata.nextLink`.
//! - The object id of the service principal behind an AKS cluster's
//!   `servicePrincipalProfile.clientId` (an app id), from `GET /v1.0/servicePrincipals(appId='…')`.
//!
//! Reading the directory needs a Graph token with directory read permission, which many audit
//! identities lack: a failure (403 included) is recorded per principal in the snapshot's
//! `directory.errors`, that principal's memberships stay unknown, and the collection goes on.

use std::sync::Arc;

use serde_json::Value;

use super::Ctx;
use super::client::RequestError;

/// The fairness key of Graph requests (Graph throttles per tenant and app, not per subscription).
const KEY: &str = "microsoft graph";

pub(crate) async fn collect(ctx: Arc<Ctx>) {
    let (mut principals, apps) = ctx.acc.directory_subjects();
    for app in apps {
        if let Some(object_id) = service_principal(&ctx, &app).await {
            principals.push(object_id);
        }
    }
    principals.sort();
    principals.dedup();
    let mut tasks = super::Tasks::new();
    for principal in principals {
        let ctx = ctx.clone();
        tasks.spawn("", async move { memberships(&ctx, &principal).await });
    }
    tasks.join(&ctx.acc).await;
}

async fn service_principal(ctx: &Ctx, app_id: &str) -> Option<String> {
    if !super::is_guid(app_id) {
        return None;
    }
    ctx.progress.start(KEY, "service principals");
    let url = ctx.endpoints.graph_url(
        &format!("/v1.0/servicePrincipals(appId='{app_id}')"),
        &[("$select", "id")],
    );
    let outcome = match url {
        Err(e) => Err(RequestError::BadUrl(e)),
        Ok(url) => ctx.graph.get(KEY, &url).await,
    };
    ctx.progress.finish_one(KEY);
    match outcome {
        Ok(body) => match body.get("id").and_then(Value::as_str) {
            Some(id) if super::is_guid(&id.to_ascii_lowercase()) => {
                ctx.acc.set_service_principal(app_id, id);
                Some(id.to_ascii_lowercase())
            }
            _ => {
                ctx.acc.directory_failed(
                    app_id,
                    "Microsoft Graph answered without the service principal's object id".into(),
                    None,
                );
                None
            }
        },
        Err(e) => {
            ctx.acc.directory_failed(
                app_id,
                format!("cannot resolve app id {app_id} to its service principal: {e}"),
                e.http_status(),
            );
            None
        }
    }
}

async fn memberships(ctx: &Ctx, principal: &str) {
    ctx.progress.start(KEY, "group memberships");
    let url = ctx.endpoints.graph_url(
        &format!("/v1.0/servicePrincipals/{principal}/transitiveMemberOf/microsoft.graph.group"),
        &[("$select", "id")],
    );
    let mut groups = Vec::new();
    let mut malformed = false;
    let outcome = match url {
        Err(e) => Err(RequestError::BadUrl(e)),
        Ok(url) => {
            ctx.graph
                .odata_list(KEY, url, |items| {
                    for item in items {
                        match item.get("id").and_then(Value::as_str) {
                            Some(id) => groups.push(id.to_ascii_lowercase()),
                            None => malformed = true,
                        }
                    }
                })
                .await
        }
    };
    ctx.progress.finish_one(KEY);
    match outcome {
        Ok(()) if !malformed => ctx.acc.set_memberships(principal, groups),
        Ok(()) => ctx.acc.directory_failed(
            principal,
            "Microsoft Graph listed a group without an id".into(),
            None,
        ),
        Err(e) => ctx.acc.directory_failed(
            principal,
            format!("cannot read the groups of {principal} from Microsoft Graph: {e}"),
            e.http_status(),
        ),
    }
}
