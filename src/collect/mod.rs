//! Live inventory from Azure: everything `amlaudit collect` (and `scan --subscription`) needs to
//! turn subscriptions into a [`Snapshot`], the same format `import` writes, so the audit
//! downstream never knows where its data came from.
//!
//! This module owns the talking to Azure and nothing else:
//! - [`endpoints`]: clouds, `--arm-endpoint`/`--ml-endpoint` (plain http only on loopback), the
//!   token scope;
//! - [`auth`]: the credential chain built on azure_identity, and the token cache;
//! - `client`: requests with bounded, fair concurrency (`limiter`), throttling and retries
//!   (`pacing`), `nextLink` and `$skipToken` paging;
//! - `arm` and `graph`: what is read, per subscription through ARM, or through one paged Resource
//!   Graph query per batch of subscriptions (`--via resource-graph`);
//! - `directory`: Microsoft Graph, for the transitive group memberships of the identities the
//!   rules ask about and the object ids of AKS service principals (a 403 is recorded in the
//!   snapshot's `directory.errors` and the collection goes on);
//! - `accumulate`: de-duplication and the per-subscription record of failed reads;
//! - `progress`: the indicatif display on stderr.
//!
//! What is read: subscriptions (with management-group ancestry where readable), ML workspaces,
//! their computes and connections, container registries, managed clusters, user-assigned
//! identities, every role assignment that applies at or below each subscription (inherited ones
//! included), the deny assignments of each subscription, the role definitions they reference that amlaudit does not embed, and the Azure ML
//! v1 web services of each workspace from its regional data plane. APIs that return secrets
//! (`listKeys`, `listCredentials`, `listsecrets`) are never called; the client refuses them.
//!
//! A read that fails for good (401/403/404, or retries exhausted) is recorded in the snapshot's
//! `scopes` as a `partial` or `failed` subscription with the error, and the collection goes on.
//! One exception: a role definition that answers 404 is a dangling reference, not a permission
//! gap; it becomes a warning, and the audit already answers "unknown" for a missing definition.
//! Tokio stays inside this module: callers use the blocking [`Collector`] or [`collect_blocking`].

pub mod auth;
pub mod endpoints;

mod accumulate;
mod arm;
mod client;
mod directory;
mod graph;
mod limiter;
mod pacing;
mod progress;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

pub(crate) use crate::ids::is_guid;
use crate::inventory::{ArmType, Snapshot};
pub use auth::{AuthEnv, AuthMethod};
pub use client::{CollectStats, RequestError};
pub use endpoints::{Cloud, Endpoints};

use accumulate::Accumulator;
use client::{Client, RetryPolicy};
use pacing::Backoff;
use progress::Progress;

/// api-versions, one per resource provider, as in the saved Microsoft REST examples.
pub mod api {
    pub const ML: &str = "2025-06-01";
    /// A stable Container Registry api-version whose registry properties carry
    /// `roleAssignmentMode`, which decides how pull is authorised: Azure/azure-rest-api-specs
    /// publishes `Combine/stable/2025-11-01`, and its TypeSpec (`Registry/Registry.models.tsp`,
    /// `RegistryProperties.roleAssignmentMode`, default `LegacyRegistryPermissions`) gates that
    /// property to no preview version.
    pub const ACR: &str = "2025-11-01";
    pub const AKS: &str = "2025-07-01";
    pub const MANAGED_IDENTITY: &str = "2024-11-30";
    /// `Vaults_ListBySubscription` (`/subscriptions/{sub}/providers/Microsoft.KeyVault/vaults`,
    /// https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults/list-by-subscription):
    /// unlike the generic resource list, it returns `properties` (`enableRbacAuthorization`,
    /// `accessPolicies`).
    pub const KEY_VAULT: &str = "2023-07-01";
    pub const AUTHORIZATION: &str = "2022-04-01";
    pub const RESOURCE_GRAPH: &str = "2024-04-01";
    pub const SUBSCRIPTIONS: &str = "2022-12-01";
    pub const MANAGEMENT_GROUPS: &str = "2023-04-01";
}

/// Top-level types listed per subscription, with their api-versions.
pub(crate) const TOP_LEVEL: &[(&str, &str)] = &[
    (ArmType::Workspace.canonical(), api::ML),
    (ArmType::Registry.canonical(), api::ACR),
    (ArmType::ManagedCluster.canonical(), api::AKS),
    (
        ArmType::UserAssignedIdentity.canonical(),
        api::MANAGED_IDENTITY,
    ),
    (ArmType::KeyVault.canonical(), api::KEY_VAULT),
];

/// The fairness and pacing key of tenant-wide ARM reads.
pub(crate) const TENANT_KEY: &str = "tenant";
/// The fairness and pacing key of Resource Graph queries (their quota is per user, not per
/// subscription).
pub(crate) const GRAPH_KEY: &str = "resource graph";

/// How the top-level inventory is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Via {
    /// Per subscription, through ARM list calls.
    #[default]
    Arm,
    /// Top-level types and role assignments through Azure Resource Graph; computes, connections
    /// and services still per workspace.
    ResourceGraph,
}

/// Which subscriptions to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscriptions {
    Listed(Vec<String>),
    /// Every subscription the credential can list.
    All,
}

/// Everything a collection needs to know, resolved from the command line.
#[derive(Debug, Clone)]
pub struct CollectSettings {
    pub subscriptions: Subscriptions,
    pub cloud: Cloud,
    pub arm_endpoint: Option<String>,
    /// Microsoft Graph (group memberships, app ids); the cloud's when `None`.
    pub graph_endpoint: Option<String>,
    pub ml_endpoint: Option<String>,
    /// Requests in flight at most, shared fairly across subscriptions.
    pub concurrency: usize,
    pub via: Via,
    pub auth: AuthMethod,
    /// One request, body included, must finish within this.
    pub request_timeout: Duration,
    /// Retries of one request after 429, 5xx, timeouts and dropped connections.
    pub max_retries: u32,
    /// The longest single wait; a `Retry-After` longer than this fails the request instead.
    pub max_retry_wait: Duration,
    /// Draw the progress display (only when stderr is a terminal).
    pub progress: bool,
}

/// Default in-flight requests: enough to hide ARM's latency, well under its read bucket.
pub const DEFAULT_CONCURRENCY: usize = 16;

impl CollectSettings {
    /// Defaults for everything but the subscriptions.
    pub fn new(subscriptions: Subscriptions) -> Self {
        CollectSettings {
            subscriptions,
            cloud: Cloud::AzureCloud,
            arm_endpoint: None,
            graph_endpoint: None,
            ml_endpoint: None,
            concurrency: DEFAULT_CONCURRENCY,
            via: Via::Arm,
            auth: AuthMethod::Auto,
            request_timeout: Duration::from_secs(60),
            max_retries: 6,
            max_retry_wait: Duration::from_secs(120),
            progress: false,
        }
    }
}

/// A collection that could not run at all. Failures of single reads are not errors: they are
/// recorded in the snapshot's `scopes`.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{flag} {url:?}: {reason}")]
    Endpoint {
        flag: &'static str,
        url: String,
        reason: String,
    },
    #[error("{0}")]
    Settings(String),
    #[error("authentication failed: {0}")]
    Credential(String),
    #[error("cannot list the subscriptions this identity can read: {0}")]
    ListSubscriptions(#[source] RequestError),
    #[error("no subscription to collect: the identity can list none (or all are disabled)")]
    NoSubscriptions,
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// A finished collection.
#[derive(Debug)]
pub struct Collection {
    pub snapshot: Snapshot,
    /// The credential that signed the requests, as told to the user.
    pub credential: String,
    pub stats: CollectStats,
    /// Things the user must know that did not make a scope incomplete (unreadable
    /// management-group ancestry, dangling role definitions, skipped disabled subscriptions).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

/// Shared by every task of one collection.
pub(crate) struct Ctx {
    pub client: Client,
    /// The Microsoft Graph client: its own token audience and its own throttling.
    pub graph: Client,
    pub endpoints: Endpoints,
    pub acc: Accumulator,
    pub progress: Progress,
}

impl Ctx {
    /// Lists one collection into the accumulator on behalf of `sub`, recording the outcome.
    /// `each` turns an item into the resource to keep; an `Err` is recorded, not dropped.
    pub(crate) async fn read_list(
        &self,
        key: &str,
        sub: &str,
        resource_type: &str,
        url: Result<url::Url, String>,
        mut each: impl FnMut(serde_json::Value) -> Result<serde_json::Value, String>,
    ) {
        self.progress.start(key, short_type(resource_type));
        let outcome = match url {
            Err(e) => Err(RequestError::BadUrl(e)),
            Ok(url) => {
                self.client
                    .list(key, url, false, |items| {
                        for item in items {
                            match each(item) {
                                Ok(resource) => self.acc.add(sub, resource_type, resource),
                                Err(message) => {
                                    self.acc.read_failed(sub, resource_type, message, None)
                                }
                            }
                        }
                    })
                    .await
            }
        };
        self.acc.record(sub, resource_type, &outcome);
        self.progress.finish_one(key);
    }
}

fn short_type(resource_type: &str) -> &str {
    resource_type.rsplit('/').next().unwrap_or(resource_type)
}

/// Tasks whose panics are recorded against the subscription they worked for, so a bug cannot
/// make data vanish without a trace.
pub(crate) struct Tasks {
    set: JoinSet<()>,
    owners: HashMap<tokio::task::Id, String>,
}

impl Tasks {
    pub(crate) fn new() -> Self {
        Tasks {
            set: JoinSet::new(),
            owners: HashMap::new(),
        }
    }

    pub(crate) fn spawn(
        &mut self,
        sub: &str,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let handle = self.set.spawn(task);
        self.owners.insert(handle.id(), sub.to_string());
    }

    pub(crate) async fn join(mut self, acc: &Accumulator) {
        while let Some(result) = self.set.join_next().await {
            if let Err(e) = result {
                let message = format!("internal error, part of the collection was lost: {e}");
                match self.owners.get(&e.id()).filter(|s| !s.is_empty()) {
                    Some(sub) => acc.read_failed(sub, "amlaudit", message, None),
                    None => acc.warn(message),
                }
            }
        }
    }
}

/// A configured collection, authenticated and ready to run.
pub struct Collector {
    runtime: tokio::runtime::Runtime,
    client: Client,
    graph: Client,
    endpoints: Endpoints,
    progress: Progress,
    subscriptions: Subscriptions,
    via: Via,
    cloud: Cloud,
    credential: String,
}

impl Collector {
    /// Checks the settings, starts the runtime and finds a credential that works (the chain,
    /// or the one `settings.auth` names). Nothing is listed yet.
    pub fn connect(settings: &CollectSettings) -> Result<Self, CollectError> {
        let subscriptions = match &settings.subscriptions {
            Subscriptions::Listed(list) if list.is_empty() => {
                return Err(CollectError::Settings(
                    "name at least one --subscription, or --all-subscriptions".into(),
                ));
            }
            Subscriptions::Listed(list) => {
                let mut checked = Vec::new();
                for sub in list {
                    let sub = sub.trim().to_ascii_lowercase();
                    if !is_guid(&sub) {
                        return Err(CollectError::Settings(format!(
                            "--subscription {sub:?} is not a subscription id (a GUID)"
                        )));
                    }
                    if !checked.contains(&sub) {
                        checked.push(sub);
                    }
                }
                Subscriptions::Listed(checked)
            }
            Subscriptions::All => Subscriptions::All,
        };
        if settings.concurrency == 0 {
            return Err(CollectError::Settings(
                "--concurrency must be at least 1".into(),
            ));
        }
        let endpoints = Endpoints::new(
            settings.cloud,
            settings.arm_endpoint.as_deref(),
            settings.ml_endpoint.as_deref(),
        )?
        .with_graph(settings.graph_endpoint.as_deref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(CollectError::Runtime)?;
        let scope = endpoints.token_scope().to_string();
        let env = AuthEnv::from_process();
        let resolved =
            runtime.block_on(auth::resolve(settings.auth, settings.cloud, &scope, &env))?;
        let label = resolved.label;
        let graph_tokens = auth::TokenSource::new(
            resolved.credential.clone(),
            endpoints.graph_token_scope(),
            None,
        );
        let tokens = auth::TokenSource::new(resolved.credential, scope, Some(resolved.first_token));
        let policy = RetryPolicy {
            max_retries: settings.max_retries,
            max_wait: settings.max_retry_wait,
            backoff: Backoff {
                base: Duration::from_millis(500),
                cap: Duration::from_secs(30).min(settings.max_retry_wait),
            },
        };
        let client = {
            // reqwest's client must be built inside the runtime it will run on.
            let _guard = runtime.enter();
            let graph = Client::new(
                graph_tokens,
                settings.concurrency,
                settings.request_timeout,
                policy,
            )
            .map_err(CollectError::HttpClient)?;
            let arm = Client::new(
                tokens,
                settings.concurrency,
                settings.request_timeout,
                policy,
            )
            .map_err(CollectError::HttpClient)?;
            (arm, graph)
        };
        let (client, graph) = client;
        Ok(Collector {
            runtime,
            client,
            graph,
            endpoints,
            progress: Progress::new(settings.progress),
            subscriptions,
            via: settings.via,
            cloud: settings.cloud,
            credential: label,
        })
    }

    /// The credential that will sign the requests, as told to the user.
    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// Collects everything and builds the snapshot.
    pub fn run(self) -> Result<Collection, CollectError> {
        let started = Instant::now();
        let Collector {
            runtime,
            client,
            graph,
            endpoints,
            progress,
            subscriptions,
            via,
            cloud,
            credential,
        } = self;
        let mut warnings = Vec::new();
        let subs = match subscriptions {
            Subscriptions::Listed(list) => list,
            Subscriptions::All => {
                let (subs, skipped) =
                    runtime.block_on(arm::list_subscriptions(&client, &endpoints))?;
                warnings.extend(skipped);
                if subs.is_empty() {
                    return Err(CollectError::NoSubscriptions);
                }
                subs
            }
        };
        // Every subscription gets a scope up front, so one that yields nothing is still reported.
        let ctx = Arc::new(Ctx {
            client,
            graph,
            endpoints,
            acc: Accumulator::new(&subs),
            progress,
        });
        runtime.block_on(async {
            match via {
                Via::Arm => arm::collect(ctx.clone(), subs).await,
                Via::ResourceGraph => graph::collect(ctx.clone(), subs).await,
            }
            directory::collect(ctx.clone()).await;
        });
        ctx.progress.clear();
        let stats = ctx.client.stats().merged(ctx.graph.stats());
        let (snapshot, more) = ctx.acc.finish(cloud.name());
        warnings.extend(more);
        Ok(Collection {
            snapshot,
            credential,
            stats,
            warnings,
            elapsed: started.elapsed(),
        })
    }
}

/// Connects and collects in one call: what `scan --subscription` needs.
pub fn collect_blocking(settings: &CollectSettings) -> Result<Collection, CollectError> {
    Collector::connect(settings)?.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_ids_must_be_guids() {
        assert!(is_guid("b61e6ba5-3682-4dd6-b804-69b84b2d451c"));
        assert!(!is_guid("b61e6ba5-3682-4dd6-b804-69b84b2d451"));
        assert!(!is_guid("../../providers/x"));
        let settings = CollectSettings::new(Subscriptions::Listed(vec!["nope".into()]));
        let err = Collector::connect(&settings).err().unwrap();
        assert!(err.to_string().contains("not a subscription id"), "{err}");
    }
}
