//! A fake Azure on 127.0.0.1 for the collector's tests and benchmark.
//!
//! It serves a tenant (the demo fixture, or a generated one) through the real ARM paths and
//! api-versions, the Azure ML v1 data plane, the management-group entities list, Resource Graph,
//! and an App Service-style managed identity token endpoint (`IDENTITY_ENDPOINT` /
//! `IDENTITY_HEADER`) that azure_identity's own credential talks to. Lists are paged with
//! absolute `nextLink`s; faults (429 with `Retry-After`, 503, slow answers, a looping
//! `nextLink`, a low read bucket) are injected by path. Every request is recorded so tests can
//! assert on what the collector actually did. Nothing here reaches beyond loopback.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Lower-cased types the collector reads, with the provider's api-version.
const LISTED: &[(&str, &str)] = &[
    ("microsoft.machinelearningservices/workspaces", "2025-06-01"),
    ("microsoft.containerregistry/registries", "2025-11-01"),
    ("microsoft.containerservice/managedclusters", "2025-07-01"),
    (
        "microsoft.managedidentity/userassignedidentities",
        "2024-11-30",
    ),
    ("microsoft.keyvault/vaults", "2023-07-01"),
];
const COMPUTE: &str = "microsoft.machinelearningservices/workspaces/computes";
const CONNECTION: &str = "microsoft.machinelearningservices/workspaces/connections";
const SERVICE: &str = "microsoft.machinelearningservices/workspaces/services";
const ASSIGNMENT: &str = "microsoft.authorization/roleassignments";
const DEFINITION: &str = "microsoft.authorization/roledefinitions";
const SUBSCRIPTION: &str = "microsoft.resources/subscriptions";
const DENY: &str = "microsoft.authorization/denyassignments";

/// GUIDs of the built-in roles amlaudit embeds (it does not fetch those).
fn builtin_guids() -> BTreeSet<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/permissions/builtin_roles.json"),
    )
    .expect("builtin_roles.json");
    let file: Value = serde_json::from_str(&text).expect("builtin roles JSON");
    file["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn norm(s: &str) -> String {
    s.trim_end_matches('/').to_ascii_lowercase()
}

fn ty(v: &Value) -> String {
    v["type"].as_str().unwrap_or_default().to_ascii_lowercase()
}

fn id(v: &Value) -> String {
    norm(v["id"].as_str().unwrap_or_default())
}

fn sub_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("subscriptions") {
            return parts.next().map(str::to_ascii_lowercase);
        }
    }
    None
}

fn parent_of(id: &str) -> String {
    let mut cut = norm(id);
    for _ in 0..2 {
        if let Some(i) = cut.rfind('/') {
            cut.truncate(i);
        }
    }
    cut
}

fn contains_scope(scope: &str, resource: &str) -> bool {
    let (scope, resource) = (norm(scope), norm(resource));
    scope.is_empty() || resource == scope || resource.starts_with(&format!("{scope}/"))
}

/// The resources of a fake tenant, as ARM returns them (subscriptions carry their ancestry
/// under `properties.managementGroupAncestorsChain`, as in snapshots).
#[derive(Debug, Clone)]
pub struct Tenant {
    pub resources: Vec<Value>,
    /// Subscriptions that exist but answer 403 to everything.
    pub denied: Vec<String>,
    /// What Microsoft Graph knows: the fixture's `directory` section (group memberships by
    /// principal, service principal object ids by app id).
    pub directory: Value,
    /// Principals whose groups Graph refuses to list (403, no directory read permission).
    pub graph_denied: Vec<String>,
}

impl Tenant {
    /// The demo tenant of `fixtures/demo-tenant.json`.
    pub fn demo() -> Tenant {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo-tenant.json");
        let snapshot: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("demo fixture"))
                .expect("demo fixture JSON");
        Tenant {
            resources: snapshot["resources"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            denied: Vec::new(),
            directory: snapshot["directory"].clone(),
            graph_denied: Vec::new(),
        }
    }

    /// Makes Graph answer 403 for this principal's groups.
    pub fn with_graph_denied(mut self, principal: &str) -> Tenant {
        self.graph_denied.push(principal.to_ascii_lowercase());
        self
    }

    /// Adds a subscription that exists but answers 403 to everything.
    pub fn with_denied(mut self, sub: &str) -> Tenant {
        self.denied.push(sub.to_ascii_lowercase());
        self
    }

    /// A generated tenant: `subs` subscriptions of `workspaces` workspaces each, every workspace
    /// with two computes, a connection and a v1 service, plus registries, clusters, identities,
    /// a custom role per subscription and role assignments, under one management group.
    pub fn generated(subs: usize, workspaces: usize) -> Tenant {
        let root = "00000000-0000-0000-0000-0000000000aa";
        let mut resources = Vec::new();
        for s in 0..subs {
            let sub = format!("{s:08x}-1111-4111-8111-{s:012x}");
            let base = format!("/subscriptions/{sub}/resourceGroups/rg-{s}");
            resources.push(json!({
                "id": format!("/subscriptions/{sub}"), "type": "Microsoft.Resources/subscriptions",
                "subscriptionId": sub, "displayName": format!("bench-{s}"), "state": "Enabled",
                "tenantId": root,
                "properties": {"managementGroupAncestorsChain": [
                    {"name": "bench", "displayName": "Bench"}, {"name": root, "displayName": "Tenant Root Group"}]}
            }));
            let custom = format!("{s:08x}-2222-4222-8222-{s:012x}");
            resources.push(json!({
                "id": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{custom}"),
                "type": "Microsoft.Authorization/roleDefinitions", "name": custom,
                "properties": {"roleName": format!("Bench reader {s}"), "type": "CustomRole",
                    "assignableScopes": [format!("/subscriptions/{sub}")],
                    "permissions": [{"actions": ["Microsoft.ContainerRegistry/registries/*/read"], "notActions": [], "dataActions": [], "notDataActions": []}]}
            }));
            let registries = (workspaces / 5).max(1);
            for r in 0..registries {
                resources.push(json!({
                    "id": format!("{base}/providers/Microsoft.ContainerRegistry/registries/acr{s}x{r}"),
                    "type": "Microsoft.ContainerRegistry/registries", "name": format!("acr{s}x{r}"),
                    "location": "eastus", "sku": {"name": "Premium"},
                    "properties": {"loginServer": format!("acr{s}x{r}.azurecr.io"), "adminUserEnabled": r % 2 == 0}
                }));
            }
            for c in 0..2 {
                resources.push(json!({
                    "id": format!("{base}/providers/Microsoft.ContainerService/managedClusters/aks{c}"),
                    "type": "Microsoft.ContainerService/managedClusters", "name": format!("aks{c}"),
                    "location": "eastus",
                    "properties": {"servicePrincipalProfile": {"clientId": "msi"}}
                }));
            }
            for u in 0..(workspaces / 2).max(1) {
                resources.push(json!({
                    "id": format!("{base}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai{u}"),
                    "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "name": format!("uai{u}"),
                    "location": "eastus",
                    "properties": {"principalId": format!("{u:08x}-3333-4333-8333-{s:012x}"), "clientId": format!("{u:08x}-4444-4444-8444-{s:012x}")}
                }));
            }
            resources.push(json!({
                "id": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{s:08x}-5555-4555-8555-000000000000"),
                "type": "Microsoft.Authorization/roleAssignments", "name": format!("{s:08x}-5555-4555-8555-000000000000"),
                "properties": {"roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{custom}"),
                    "principalId": format!("{s:08x}-6666-4666-8666-000000000000"), "principalType": "Group", "scope": format!("/subscriptions/{sub}")}
            }));
            for w in 0..workspaces {
                let ws =
                    format!("{base}/providers/Microsoft.MachineLearningServices/workspaces/ws{w}");
                let registry = format!(
                    "{base}/providers/Microsoft.ContainerRegistry/registries/acr{s}x{}",
                    w % registries
                );
                resources.push(json!({
                    "id": ws, "type": "Microsoft.MachineLearningServices/workspaces", "name": format!("ws{w}"),
                    "location": "eastus", "kind": "Default",
                    "identity": {"type": "SystemAssigned", "principalId": format!("{w:08x}-7777-4777-8777-{s:012x}")},
                    "properties": {"containerRegistry": registry}
                }));
                for c in 0..2 {
                    let principal = format!("{w:08x}-{c:04x}-4888-8888-{s:012x}");
                    resources.push(json!({
                        "id": format!("{ws}/computes/cpu{c}"), "type": "Microsoft.MachineLearningServices/workspaces/computes",
                        "name": format!("cpu{c}"), "location": "eastus",
                        "identity": {"type": "SystemAssigned", "principalId": principal},
                        "properties": {"computeType": "AmlCompute"}
                    }));
                    resources.push(json!({
                        "id": format!("{registry}/providers/Microsoft.Authorization/roleAssignments/{w:08x}-{c:04x}-4999-8999-{s:012x}"),
                        "type": "Microsoft.Authorization/roleAssignments", "name": format!("{w:08x}-{c:04x}-4999-8999-{s:012x}"),
                        "properties": {"roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"),
                            "principalId": principal, "principalType": "ServicePrincipal", "scope": registry}
                    }));
                }
                resources.push(json!({
                    "id": format!("{ws}/connections/base-images"), "type": "Microsoft.MachineLearningServices/workspaces/connections",
                    "name": "base-images",
                    "properties": {"category": "ContainerRegistry", "authType": "ManagedIdentity", "target": "acr.azurecr.io"}
                }));
                resources.push(json!({
                    "id": format!("{ws}/services/score"), "type": "Microsoft.MachineLearningServices/workspaces/services",
                    "name": "score", "location": "eastus",
                    "properties": {"computeType": if w % 3 == 0 { "ACI" } else { "AKS" }, "state": "Healthy"}
                }));
            }
        }
        Tenant {
            resources,
            denied: Vec::new(),
            directory: Value::Null,
            graph_denied: Vec::new(),
        }
    }

    /// Subscriptions that answer (not the denied ones).
    pub fn subscriptions(&self) -> Vec<String> {
        let mut subs: Vec<String> = self
            .resources
            .iter()
            .filter(|r| ty(r) == SUBSCRIPTION)
            .filter_map(|r| sub_of(&id(r)))
            .collect();
        subs.sort();
        subs
    }

    fn chain(&self, sub: &str) -> Vec<Value> {
        self.resources
            .iter()
            .find(|r| ty(r) == SUBSCRIPTION && sub_of(&id(r)).as_deref() == Some(sub))
            .and_then(|r| r.pointer("/properties/managementGroupAncestorsChain"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether an assignment scope is the subscription, above it, or (unless `at_scope`) below.
    fn applies(&self, sub: &str, scope: &str, at_scope: bool) -> bool {
        let sub_scope = format!("/subscriptions/{sub}");
        let scope = norm(scope);
        if scope.is_empty() || scope == "/" || scope == sub_scope {
            return true;
        }
        if let Some(mg) = scope.strip_prefix("/providers/microsoft.management/managementgroups/") {
            return self.chain(sub).iter().any(|l| {
                l["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(mg))
            });
        }
        !at_scope && contains_scope(&sub_scope, &scope)
    }

    fn assignment_scope(a: &Value) -> String {
        a.pointer("/properties/scope")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                let i = id(a);
                i[..i.find("/providers/microsoft.authorization/").unwrap_or(0)].to_string()
            })
    }

    /// What a correct collection of `subs` holds, by normalised id, in snapshot shape.
    pub fn expected(&self, subs: &[String]) -> BTreeMap<String, Value> {
        let subs: Vec<String> = subs
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| !self.denied.contains(s))
            .collect();
        let in_subs = |r: &Value| sub_of(&id(r)).is_some_and(|s| subs.contains(&s));
        let mut out = BTreeMap::new();
        let mut referenced = BTreeSet::new();
        for r in &self.resources {
            let t = ty(r);
            let keep = match t.as_str() {
                ASSIGNMENT => {
                    let scope = Self::assignment_scope(r);
                    let applies = subs.iter().any(|s| self.applies(s, &scope, false));
                    if applies
                        && let Some(role) = r
                            .pointer("/properties/roleDefinitionId")
                            .and_then(Value::as_str)
                    {
                        referenced.insert(
                            role.rsplit('/')
                                .next()
                                .unwrap_or_default()
                                .to_ascii_lowercase(),
                        );
                    }
                    applies
                }
                DEFINITION => false,
                SUBSCRIPTION | DENY => in_subs(r),
                // Children are listed per workspace: an orphan (its workspace missing) is never
                // served, so it cannot be collected.
                COMPUTE | CONNECTION | SERVICE => {
                    let parent = parent_of(&id(r));
                    in_subs(r) && self.resources.iter().any(|w| id(w) == parent)
                }
                t if LISTED.iter().any(|(l, _)| *l == t) => in_subs(r),
                _ => false,
            };
            if keep {
                out.insert(id(r), r.clone());
            }
        }
        let builtin = builtin_guids();
        for r in &self.resources {
            if ty(r) == DEFINITION {
                let guid = r["name"].as_str().unwrap_or_default().to_ascii_lowercase();
                if referenced.contains(&guid) && !builtin.contains(&guid) {
                    out.insert(id(r), r.clone());
                }
            }
        }
        out
    }
}

/// What goes wrong, and where.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// HTTP 429 with this `Retry-After` value.
    Throttle(String),
    /// HTTP 503 without `Retry-After`.
    Unavailable,
    /// The answer comes this much later.
    Slow(Duration),
    /// The page's `nextLink` points back at the same page.
    LoopingNextLink,
}

#[derive(Debug)]
pub struct Fault {
    /// Applies to requests whose lower-cased path contains this.
    pub path_contains: String,
    pub kind: FaultKind,
    /// How many matching requests it hits (then it stops).
    remaining: AtomicUsize,
}

impl Fault {
    pub fn new(path_contains: &str, kind: FaultKind, times: usize) -> Fault {
        Fault {
            path_contains: path_contains.to_ascii_lowercase(),
            kind,
            remaining: AtomicUsize::new(times),
        }
    }
}

pub struct Config {
    pub page_size: usize,
    /// Added to every ARM and data-plane answer.
    pub latency: Duration,
    pub faults: Vec<Fault>,
    /// `x-ms-ratelimit-remaining-subscription-reads` on answers under these subscriptions.
    pub low_bucket: Vec<(String, u32)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            page_size: 2,
            latency: Duration::ZERO,
            faults: Vec::new(),
            low_bucket: Vec::new(),
        }
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub query: String,
    pub at: Instant,
    pub status: u16,
    pub authorization: Option<String>,
}

/// The tenant indexed once, so a request costs a lookup, not a scan (the benchmark's fake
/// serves thousands of requests over thousands of resources).
struct Index {
    /// Top-level resources by (lower-cased type, subscription).
    top: HashMap<(String, String), Vec<Value>>,
    /// Computes, connections and services by (lower-cased type, normalised parent id).
    children: HashMap<(String, String), Vec<Value>>,
    /// Role assignments with their normalised scope.
    assignments: Vec<(String, Value)>,
    /// Role definitions by lower-cased GUID.
    definitions: HashMap<String, Value>,
    /// Management-group ancestry (lower-cased names) by subscription.
    ancestors: HashMap<String, Vec<String>>,
}

impl Index {
    fn new(tenant: &Tenant) -> Index {
        let mut index = Index {
            top: HashMap::new(),
            children: HashMap::new(),
            assignments: Vec::new(),
            definitions: HashMap::new(),
            ancestors: HashMap::new(),
        };
        for r in &tenant.resources {
            let (t, i) = (ty(r), id(r));
            match t.as_str() {
                COMPUTE | CONNECTION | SERVICE => index
                    .children
                    .entry((t, parent_of(&i)))
                    .or_default()
                    .push(r.clone()),
                ASSIGNMENT => index
                    .assignments
                    .push((norm(&Tenant::assignment_scope(r)), r.clone())),
                DEFINITION => {
                    let guid = r["name"].as_str().unwrap_or_default().to_ascii_lowercase();
                    index.definitions.insert(guid, r.clone());
                }
                SUBSCRIPTION => {
                    if let Some(sub) = sub_of(&i) {
                        let names = tenant
                            .chain(&sub)
                            .iter()
                            .filter_map(|l| l["name"].as_str().map(str::to_ascii_lowercase))
                            .collect();
                        index.ancestors.insert(sub, names);
                    }
                }
                _ => {
                    if let Some(sub) = sub_of(&i) {
                        index.top.entry((t, sub)).or_default().push(r.clone());
                    }
                }
            }
        }
        index
    }

    fn children(&self, ty: &str, parent: &str) -> Vec<Value> {
        self.children
            .get(&(ty.to_string(), parent.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// Assignments a subscription-scope list returns: at and above the subscription, and below
    /// it unless `at_scope`.
    fn assignments_for(&self, sub: &str, at_scope: bool) -> Vec<Value> {
        let sub_scope = format!("/subscriptions/{sub}");
        let below = format!("{sub_scope}/");
        let groups = self.ancestors.get(sub).cloned().unwrap_or_default();
        self.assignments
            .iter()
            .filter(|(scope, _)| {
                scope.is_empty()
                    || *scope == sub_scope
                    || scope
                        .strip_prefix("/providers/microsoft.management/managementgroups/")
                        .is_some_and(|mg| groups.iter().any(|g| g == mg))
                    || (!at_scope && scope.starts_with(&below))
            })
            .map(|(_, a)| a.clone())
            .collect()
    }
}

struct Shared {
    tenant: Tenant,
    index: Index,
    config: Config,
    base: String,
    token: String,
    identity_header: String,
    hits: Mutex<Vec<Hit>>,
    token_resources: Mutex<Vec<String>>,
    next_id: AtomicUsize,
}

/// A running fake; stops when dropped.
pub struct FakeAzure {
    pub url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeAzure {
    pub fn start(tenant: Tenant, config: Config) -> FakeAzure {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Shared {
            index: Index::new(&tenant),
            tenant,
            config,
            base: url.clone(),
            token: format!(
                "fake-token-{:x}",
                std::process::id() as u64 * 7919 + rand_suffix()
            ),
            identity_header: "fake-identity-header-secret".to_string(),
            hits: Mutex::new(Vec::new()),
            token_resources: Mutex::new(Vec::new()),
            next_id: AtomicUsize::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("fake runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = Router::new().fallback(handle).with_state(state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("fake server");
            });
        });
        FakeAzure {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The token the managed identity endpoint hands out.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.url)
    }

    pub fn identity_header(&self) -> &str {
        &self.shared.identity_header
    }

    /// Every request except those to the token endpoint.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path != "/msi/token")
            .cloned()
            .collect()
    }

    /// Requests whose lower-cased path contains `needle`.
    pub fn hits_on(&self, needle: &str) -> Vec<Hit> {
        let needle = needle.to_ascii_lowercase();
        self.hits()
            .into_iter()
            .filter(|h| h.path.to_ascii_lowercase().contains(&needle))
            .collect()
    }

    /// The `resource` of every token request.
    pub fn token_requests(&self) -> Vec<String> {
        self.shared.token_resources.lock().unwrap().clone()
    }
}

impl Drop for FakeAzure {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let started = Instant::now();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut response = if path == "/msi/token" {
        token_endpoint(&shared, &uri, &headers)
    } else if path.starts_with("/v1.0/") {
        microsoft_graph(&shared, &uri, authorization.as_deref())
    } else {
        if !shared.config.latency.is_zero() {
            tokio::time::sleep(shared.config.latency).await;
        }
        arm(&shared, &method, &uri, authorization.as_deref(), &body).await
    };
    let request_id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    response.headers_mut().insert(
        "x-ms-request-id",
        format!("fake-{request_id}").parse().expect("header"),
    );
    let lower = path.to_ascii_lowercase();
    for (sub, remaining) in &shared.config.low_bucket {
        if lower.starts_with(&format!("/subscriptions/{sub}")) {
            response.headers_mut().insert(
                "x-ms-ratelimit-remaining-subscription-reads",
                remaining.to_string().parse().expect("header"),
            );
        }
    }
    shared.hits.lock().unwrap().push(Hit {
        method: method.to_string(),
        path,
        query: uri.query().unwrap_or_default().to_string(),
        at: started,
        status: response.status().as_u16(),
        authorization,
    });
    response
}

fn token_endpoint(shared: &Shared, uri: &Uri, headers: &HeaderMap) -> Response {
    let secret_ok = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        == Some(shared.identity_header.as_str());
    if !secret_ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "bad x-identity-header",
        );
    }
    let q = query_map(uri);
    let resource = q.get("resource").cloned().unwrap_or_default();
    shared
        .token_resources
        .lock()
        .unwrap()
        .push(resource.clone());
    // The token's audience must be the ARM endpoint the collector talks to.
    if resource.trim_end_matches('/') != shared.base {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            "unknown resource",
        );
    }
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600;
    axum::Json(json!({
        "access_token": shared.token,
        "expires_on": expires.to_string(),
        "token_type": "Bearer",
        "resource": resource,
    }))
    .into_response()
}

/// The api-version each provider answers to.
fn api_version_for(lower_path: &str) -> Option<&'static str> {
    let providers: &[(&str, &str)] = &[
        ("/providers/microsoft.resourcegraph/", "2024-04-01"),
        ("/providers/microsoft.management/", "2023-04-01"),
        ("/providers/microsoft.authorization/", "2022-04-01"),
        (
            "/providers/microsoft.machinelearningservices/",
            "2025-06-01",
        ),
        ("/providers/microsoft.containerregistry/", "2025-11-01"),
        ("/providers/microsoft.containerservice/", "2025-07-01"),
        ("/providers/microsoft.managedidentity/", "2024-11-30"),
        ("/providers/microsoft.keyvault/", "2023-07-01"),
    ];
    // The provider of the last `/providers/` segment decides, as in ARM.
    let at = lower_path.rfind("/providers/")?;
    let tail = &lower_path[at..];
    providers
        .iter()
        .find(|(p, _)| tail.starts_with(p))
        .map(|(_, v)| *v)
}

async fn arm(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    authorization: Option<&str>,
    body: &Bytes,
) -> Response {
    let path = uri.path();
    let lower = norm(path);
    if authorization != Some(format!("Bearer {}", shared.token).as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "missing or wrong bearer token",
        );
    }
    if ["/listkeys", "/listcredentials", "/listsecrets"]
        .iter()
        .any(|p| lower.contains(p))
    {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SecretApiCalled",
            "the collector must never call secret-returning APIs",
        );
    }
    let q = query_map(uri);
    let data_plane = lower.starts_with("/modelmanagement/v1.0/");
    if !data_plane {
        let expected = if lower == "/subscriptions"
            || lower.matches('/').count() == 2 && lower.starts_with("/subscriptions/")
        {
            Some("2022-12-01")
        } else {
            api_version_for(&lower)
        };
        let Some(expected) = expected else {
            return error(
                StatusCode::NOT_FOUND,
                "NoRoute",
                "no such ARM path in the fake",
            );
        };
        if q.get("api-version").map(String::as_str) != Some(expected) {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersionParameter",
                &format!("this fake answers {path} with api-version {expected}"),
            );
        }
    }
    let mut looping = false;
    for fault in &shared.config.faults {
        if !lower.contains(&fault.path_contains) {
            continue;
        }
        if fault
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
        {
            continue;
        }
        match &fault.kind {
            FaultKind::Throttle(after) => {
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "the subscription's read bucket is empty",
                );
                r.headers_mut()
                    .insert("retry-after", after.parse().expect("header"));
                return r;
            }
            FaultKind::Unavailable => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "try again later",
                );
            }
            FaultKind::Slow(delay) => tokio::time::sleep(*delay).await,
            FaultKind::LoopingNextLink => looping = true,
        }
    }
    let tenant = &shared.tenant;
    if let Some(sub) = sub_of(&lower)
        && tenant.denied.contains(&sub)
    {
        return error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            &format!("the client does not have authorization to read /subscriptions/{sub}"),
        );
    }
    let segments: Vec<&str> = lower.trim_start_matches('/').split('/').collect();
    let page = |items: Vec<Value>| paged(shared, uri, &q, items, looping);

    if data_plane {
        let ws = lower.trim_start_matches("/modelmanagement/v1.0");
        let Some(ws) = ws.strip_suffix("/services") else {
            return error(StatusCode::NOT_FOUND, "NotFound", "no such data-plane path");
        };
        let items = shared
            .index
            .children(SERVICE, ws)
            .iter()
            .map(|r| {
                let mut item = r["properties"].as_object().cloned().unwrap_or_default();
                item.insert("name".into(), r["name"].clone());
                if let Some(l) = r.get("location") {
                    item.insert("location".into(), l.clone());
                }
                Value::Object(item)
            })
            .collect();
        return page(items);
    }
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["subscriptions"]) => page(
            tenant
                .subscriptions()
                .iter()
                .filter_map(|s| arm_subscription(tenant, s))
                .collect(),
        ),
        ("GET", ["subscriptions", sub]) => match arm_subscription(tenant, sub) {
            Some(s) => axum::Json(s).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                "no such subscription",
            ),
        },
        ("POST", ["providers", "microsoft.management", "getentities"]) => page(entities(tenant)),
        ("POST", ["providers", "microsoft.resourcegraph", "resources"]) => graph(shared, body),
        (
            "GET",
            [
                "subscriptions",
                sub,
                "providers",
                "microsoft.authorization",
                "roleassignments",
            ],
        ) => {
            let at_scope = q.get("$filter").is_some_and(|f| f == "atScope()");
            page(shared.index.assignments_for(sub, at_scope))
        }
        (
            "GET",
            [
                "subscriptions",
                sub,
                "providers",
                "microsoft.authorization",
                "denyassignments",
            ],
        ) => page(
            shared
                .index
                .top
                .get(&(DENY.to_string(), sub.to_string()))
                .cloned()
                .unwrap_or_default(),
        ),
        (
            "GET",
            [
                ..,
                "providers",
                "microsoft.authorization",
                "roledefinitions",
                guid,
            ],
        ) => match shared.index.definitions.get(*guid) {
            Some(d) => axum::Json(d.clone()).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "RoleDefinitionDoesNotExist",
                "no such role definition",
            ),
        },
        ("GET", ["subscriptions", sub, "providers", ns, kind]) => {
            let wanted = format!("{ns}/{kind}");
            if !LISTED.iter().any(|(t, _)| *t == wanted) {
                return error(StatusCode::NOT_FOUND, "NoRoute", "type not served");
            }
            page(
                shared
                    .index
                    .top
                    .get(&(wanted, sub.to_string()))
                    .cloned()
                    .unwrap_or_default(),
            )
        }
        ("GET", [.., "workspaces", _, child @ ("computes" | "connections")]) => {
            let ws = lower.rsplit_once('/').map(|(ws, _)| ws).unwrap_or_default();
            let wanted = if *child == "computes" {
                COMPUTE
            } else {
                CONNECTION
            };
            page(shared.index.children(wanted, ws))
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NoRoute",
            &format!("the fake does not serve {method} {path}"),
        ),
    }
}

/// A subscription as `GET /subscriptions/{id}` returns it: no `type`, no ancestry.
fn arm_subscription(tenant: &Tenant, sub: &str) -> Option<Value> {
    let mut s = tenant
        .resources
        .iter()
        .find(|r| ty(r) == SUBSCRIPTION && sub_of(&id(r)).as_deref() == Some(sub))?
        .clone();
    let obj = s.as_object_mut()?;
    obj.remove("type");
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        props.remove("managementGroupAncestorsChain");
        if props.is_empty() {
            obj.remove("properties");
        }
    }
    Some(s)
}

/// The management-group entities list: subscriptions and groups with root-first chains.
fn entities(tenant: &Tenant) -> Vec<Value> {
    let mut out = Vec::new();
    let mut groups = BTreeMap::new();
    for sub in tenant.subscriptions() {
        let chain = tenant.chain(&sub);
        let names: Vec<Value> = chain.iter().rev().map(|l| l["name"].clone()).collect();
        let displays: Vec<Value> = chain
            .iter()
            .rev()
            .map(|l| l["displayName"].clone())
            .collect();
        for (i, link) in chain.iter().enumerate() {
            let above: Vec<Value> = chain[i + 1..]
                .iter()
                .rev()
                .map(|l| l["name"].clone())
                .collect();
            groups.insert(
                link["name"].as_str().unwrap_or_default().to_string(),
                (link.clone(), above),
            );
        }
        out.push(json!({
            "id": format!("/subscriptions/{sub}"), "type": "/subscriptions", "name": sub,
            "properties": {
                "parent": chain.first().map(|l| json!({"id": format!("/providers/Microsoft.Management/managementGroups/{}", l["name"].as_str().unwrap_or_default())})),
                "parentNameChain": names, "parentDisplayNameChain": displays, "permissions": "view"
            }
        }));
    }
    for (name, (link, above)) in groups {
        out.push(json!({
            "id": format!("/providers/Microsoft.Management/managementGroups/{name}"),
            "type": "Microsoft.Management/managementGroups", "name": name,
            "properties": {"displayName": link["displayName"], "parentNameChain": above, "permissions": "view"}
        }));
    }
    out
}

/// Microsoft Graph: `servicePrincipals/{id}/transitiveMemberOf/microsoft.graph.group` (paged
/// with `@odata.nextLink`, 403 for `graph_denied` principals, 404 for principals the fixture's
/// directory does not list) and `servicePrincipals(appId='…')`.
fn microsoft_graph(shared: &Shared, uri: &Uri, authorization: Option<&str>) -> Response {
    if authorization != Some(format!("Bearer {}", shared.token).as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "missing or wrong bearer token",
        );
    }
    let path = uri.path().to_string();
    let q = query_map(uri);
    let directory = &shared.tenant.directory;
    if let Some(rest) = path.strip_prefix("/v1.0/servicePrincipals(appId='")
        && let Some(app) = rest.strip_suffix("')")
    {
        return match directory["service_principals"][app.to_ascii_lowercase()].as_str() {
            Some(id) => axum::Json(json!({"id": id})).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                "no service principal with that appId",
            ),
        };
    }
    let Some(principal) = path
        .strip_prefix("/v1.0/servicePrincipals/")
        .and_then(|r| r.strip_suffix("/transitiveMemberOf/microsoft.graph.group"))
        .map(str::to_ascii_lowercase)
    else {
        return error(
            StatusCode::NOT_FOUND,
            "BadRequest",
            "the fake does not serve this Graph path",
        );
    };
    if shared.tenant.graph_denied.contains(&principal) {
        return error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let Some(groups) = directory["group_memberships"][&principal].as_array() else {
        return error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!("Resource '{principal}' does not exist"),
        );
    };
    let items: Vec<Value> = groups
        .iter()
        .map(|g| json!({"@odata.type": "#microsoft.graph.group", "id": g}))
        .collect();
    let start: usize = q
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = shared.config.page_size.max(1);
    let end = (start + size).min(items.len());
    let value = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups",
        "value": value,
    });
    if end < items.len() {
        body["@odata.nextLink"] = Value::String(format!(
            "{}{}?$select=id&$skiptoken={end}",
            shared.base, path
        ));
    }
    axum::Json(body).into_response()
}

/// An ARM list page: `value` and an absolute `nextLink` while more remain.
fn paged(
    shared: &Shared,
    uri: &Uri,
    q: &HashMap<String, String>,
    items: Vec<Value>,
    looping: bool,
) -> Response {
    let start: usize = q
        .get("$skipToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = shared.config.page_size.max(1);
    let end = (start + size).min(items.len());
    let value: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let next = if looping {
        Some(format!("{}{}", shared.base, uri))
    } else if end < items.len() {
        let mut query: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "$skipToken")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        query.sort();
        query.push(("$skipToken".into(), end.to_string()));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        Some(format!("{}{}?{}", shared.base, uri.path(), encoded))
    } else {
        None
    };
    axum::Json(json!({"value": value, "nextLink": next})).into_response()
}

/// Resource Graph: the handful of queries the collector sends, over the subscriptions asked
/// for; denied subscriptions are silently left out, as Resource Graph does.
fn graph(shared: &Shared, body: &Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "BadRequest", "not JSON");
    };
    let tenant = &shared.tenant;
    let subs: Vec<String> = request["subscriptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_ascii_lowercase)
        .filter(|s| !tenant.denied.contains(s))
        .collect();
    let query = request["query"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let quoted: Vec<String> = query
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let in_subs = |r: &Value| sub_of(&id(r)).is_some_and(|s| subs.contains(&s));
    let rows: Vec<Value> = if query.starts_with("resourcecontainers") {
        tenant
            .resources
            .iter()
            .filter(|r| ty(r) == SUBSCRIPTION && in_subs(r))
            .map(|r| graph_row(r, true))
            .collect()
    } else if query.starts_with("resources") {
        tenant
            .resources
            .iter()
            .filter(|r| quoted.contains(&ty(r)) && in_subs(r))
            .map(|r| graph_row(r, false))
            .collect()
    } else if query.contains("roleassignments") {
        tenant
            .resources
            .iter()
            .filter(|r| ty(r) == ASSIGNMENT)
            .filter(|r| {
                let scope = Tenant::assignment_scope(r);
                subs.iter()
                    .any(|s| contains_scope(&format!("/subscriptions/{s}"), &scope))
            })
            .map(|r| graph_row(r, false))
            .collect()
    } else if query.contains("roledefinitions") {
        tenant
            .resources
            .iter()
            .filter(|r| ty(r) == DEFINITION)
            .filter(|r| {
                r["name"]
                    .as_str()
                    .is_some_and(|n| quoted.contains(&n.to_ascii_lowercase()))
            })
            .map(|r| graph_row(r, false))
            .collect()
    } else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidQuery",
            "the fake does not know this query",
        );
    };
    let options = &request["options"];
    let start: usize = options["$skipToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let top = options["$top"].as_u64().unwrap_or(100) as usize;
    let size = top.min(shared.config.page_size.max(1));
    let end = (start + size).min(rows.len());
    let data: Vec<Value> = rows
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut answer = json!({
        "totalRecords": rows.len(), "count": data.len(), "resultTruncated": "false",
        "facets": [], "data": data,
    });
    if end < rows.len() {
        answer["$skipToken"] = json!(end.to_string());
    }
    let mut r = axum::Json(answer).into_response();
    r.headers_mut()
        .insert("x-ms-user-quota-remaining", "14".parse().expect("header"));
    r.headers_mut().insert(
        "x-ms-user-quota-resets-after",
        "00:00:05".parse().expect("header"),
    );
    r
}

/// A Resource Graph row: the ARM object with a lower-cased type and the extra columns.
fn graph_row(r: &Value, container: bool) -> Value {
    let mut row: Map<String, Value> = r.as_object().cloned().unwrap_or_default();
    row.insert("type".into(), json!(ty(r)));
    let rid = r["id"].as_str().unwrap_or_default().to_string();
    if let Some(sub) = sub_of(&rid) {
        row.insert("subscriptionId".into(), json!(sub));
    } else {
        row.insert("subscriptionId".into(), json!(""));
    }
    if !container {
        let rg = rid
            .split('/')
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| w[0].eq_ignore_ascii_case("resourcegroups"))
            .map(|w| w[1].to_ascii_lowercase())
            .unwrap_or_default();
        row.insert("resourceGroup".into(), json!(rg));
    } else {
        row.insert("name".into(), json!(sub_of(&rid).unwrap_or_default()));
    }
    Value::Object(row)
}
