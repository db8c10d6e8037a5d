//! The HTTP client for Azure Resource Manager, Resource Graph and the Azure ML v1 data plane:
//! one request with its retries, pages followed to the end, and the counters that show what it
//! cost.
//!
//! Every request takes a slot from the [`FairLimiter`], waits its turn at the [`Pacer`], and
//! carries a bearer token from the [`TokenSource`] in a header marked sensitive. Failures are
//! classified once: 429 and 5xx answers, timeouts and dropped connections are retried (honouring
//! `Retry-After`, else exponential back-off with jitter) a bounded number of times; anything else
//! is returned as a [`RequestError`] for the caller to record in the snapshot's `scopes`.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;

use super::auth::TokenSource;
use super::endpoints::same_origin;
use super::limiter::FairLimiter;
use super::pacing::{Backoff, Hold, Pacer, retry_after};

/// Paths amlaudit must never call: they return secrets.
const SECRET_APIS: &[&str] = &["/listkeys", "/listcredentials", "/listsecrets"];

/// A request that failed for good.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("HTTP {status}{}: {message}{}", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default(), request_id.as_ref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
    Status {
        status: u16,
        code: Option<String>,
        message: String,
        request_id: Option<String>,
    },
    #[error("{0}")]
    Transport(String),
    #[error("the answer is not the JSON expected: {0}")]
    Json(String),
    #[error("nextLink repeats an earlier page ({0}); stopped paging")]
    PagingLoop(String),
    #[error("nextLink points to another host ({0}); not sending the token there")]
    ForeignLink(String),
    #[error("Resource Graph truncated the result")]
    Truncated,
    #[error("asked to wait {0:?} (Retry-After), longer than --max-retry-wait allows")]
    WaitTooLong(Duration),
    #[error("{0}")]
    Token(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    BadUrl(String),
}

impl RequestError {
    /// The HTTP status, when the failure was an HTTP answer.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            RequestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How requests are retried and bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub max_retries: u32,
    pub max_wait: Duration,
    pub backoff: Backoff,
}

/// What a collection cost, for the summary and for tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectStats {
    /// HTTP requests sent (each retry counts).
    pub requests: u64,
    /// Requests retried after a 429, a 5xx, a timeout or a dropped connection.
    pub retries: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// Waits the server asked for with `Retry-After`, in the order they were honoured.
    pub retry_after_waits: Vec<Duration>,
    /// Requests delayed because the subscription's read bucket was nearly empty.
    pub paced: u64,
}

impl CollectStats {
    /// The stats of two clients (ARM and Graph) together.
    pub fn merged(mut self, other: CollectStats) -> CollectStats {
        self.requests += other.requests;
        self.retries += other.retries;
        self.throttled += other.throttled;
        self.retry_after_waits.extend(other.retry_after_waits);
        self.paced += other.paced;
        self
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    paced: AtomicU64,
    retry_after_waits: Mutex<Vec<Duration>>,
}

pub(crate) struct Client {
    http: reqwest::Client,
    tokens: TokenSource,
    limiter: FairLimiter,
    pacer: Pacer,
    policy: RetryPolicy,
    counters: Counters,
}

enum Body<'a> {
    None,
    Json(&'a Value),
}

/// One failed attempt: the error, whether to retry, and the wait the server asked for.
struct Failure {
    error: RequestError,
    retryable: bool,
    retry_after: Option<Duration>,
    throttled: bool,
}

impl Client {
    pub(crate) fn new(
        tokens: TokenSource,
        concurrency: usize,
        timeout: Duration,
        policy: RetryPolicy,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("amlaudit/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(concurrency)
            .build()?;
        Ok(Client {
            http,
            tokens,
            limiter: FairLimiter::new(concurrency),
            pacer: Pacer::new(concurrency),
            policy,
            counters: Counters::default(),
        })
    }

    pub(crate) fn stats(&self) -> CollectStats {
        CollectStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
            throttled: self.counters.throttled.load(Ordering::Relaxed),
            paced: self.counters.paced.load(Ordering::Relaxed),
            retry_after_waits: self
                .counters
                .retry_after_waits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// GETs one JSON document.
    pub(crate) async fn get(&self, key: &str, url: &Url) -> Result<Value, RequestError> {
        self.send(key, reqwest::Method::GET, url, Body::None).await
    }

    /// Lists an ARM collection: GETs `first`, then every `nextLink` until it is absent or null,
    /// handing each page's `value` to `on_page`. With `post`, every page is a POST with an
    /// empty body (the management-group entities list pages that way).
    pub(crate) async fn list(
        &self,
        key: &str,
        first: Url,
        post: bool,
        on_page: impl FnMut(Vec<Value>),
    ) -> Result<(), RequestError> {
        self.list_pages(key, first, post, "nextLink", on_page).await
    }

    /// Lists a Microsoft Graph collection: the same paging, with `@odata.nextLink`.
    pub(crate) async fn odata_list(
        &self,
        key: &str,
        first: Url,
        on_page: impl FnMut(Vec<Value>),
    ) -> Result<(), RequestError> {
        self.list_pages(key, first, false, "@odata.nextLink", on_page)
            .await
    }

    async fn list_pages(
        &self,
        key: &str,
        first: Url,
        post: bool,
        next_key: &str,
        mut on_page: impl FnMut(Vec<Value>),
    ) -> Result<(), RequestError> {
        let mut seen = HashSet::new();
        let mut next = Some(first.clone());
        let empty = json!({});
        while let Some(url) = next.take() {
            if !seen.insert(url.as_str().to_string()) {
                return Err(RequestError::PagingLoop(redact(&url)));
            }
            let body = if post {
                self.send(key, reqwest::Method::POST, &url, Body::Json(&empty))
                    .await?
            } else {
                self.send(key, reqwest::Method::GET, &url, Body::None)
                    .await?
            };
            let Value::Object(mut page) = body else {
                return Err(RequestError::Json("a list answer must be an object".into()));
            };
            match page.remove("value") {
                Some(Value::Array(items)) => on_page(items),
                None | Some(Value::Null) => {}
                Some(_) => return Err(RequestError::Json("`value` is not an array".into())),
            }
            next = match page.remove(next_key) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => {
                    let link = url
                        .join(s.trim())
                        .map_err(|e| RequestError::Json(format!("nextLink {s:?}: {e}")))?;
                    if !same_origin(&first, &link) {
                        return Err(RequestError::ForeignLink(redact(&link)));
                    }
                    Some(link)
                }
                Some(_) => return Err(RequestError::Json("`nextLink` is not a string".into())),
            };
        }
        Ok(())
    }

    /// Runs a Resource Graph query over `subscriptions`, following `$skipToken` to the end.
    pub(crate) async fn graph_query(
        &self,
        url: &Url,
        subscriptions: &[String],
        query: &str,
        mut on_page: impl FnMut(Vec<Value>),
    ) -> Result<(), RequestError> {
        let mut seen = HashSet::new();
        let mut skip_token: Option<String> = None;
        loop {
            let mut options = json!({"$top": 1000, "resultFormat": "objectArray"});
            if let Some(token) = &skip_token {
                options["$skipToken"] = Value::String(token.clone());
            }
            let body = json!({"subscriptions": subscriptions, "query": query, "options": options});
            let answer = self
                .send(
                    super::GRAPH_KEY,
                    reqwest::Method::POST,
                    url,
                    Body::Json(&body),
                )
                .await?;
            let Value::Object(mut page) = answer else {
                return Err(RequestError::Json(
                    "a Resource Graph answer must be an object".into(),
                ));
            };
            let truncated = match page.get("resultTruncated") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                _ => false,
            };
            match page.remove("data") {
                Some(Value::Array(rows)) => on_page(rows),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(RequestError::Json(
                        "`data` is not an array of objects (resultFormat objectArray)".into(),
                    ));
                }
            }
            if truncated {
                return Err(RequestError::Truncated);
            }
            match page.remove("$skipToken") {
                Some(Value::String(t)) if !t.is_empty() => {
                    if !seen.insert(t.clone()) {
                        return Err(RequestError::PagingLoop("$skipToken".into()));
                    }
                    skip_token = Some(t);
                }
                _ => return Ok(()),
            }
        }
    }

    async fn send(
        &self,
        key: &str,
        method: reqwest::Method,
        url: &Url,
        body: Body<'_>,
    ) -> Result<Value, RequestError> {
        let lowered = url.path().to_ascii_lowercase();
        if let Some(api) = SECRET_APIS.iter().find(|api| lowered.contains(*api)) {
            return Err(RequestError::Refused(format!(
                "refusing to call {api}: amlaudit never reads secrets"
            )));
        }
        let mut attempt = 0u32;
        loop {
            if let Some((wait, why)) = self.pacer.reserve(key) {
                if why == Hold::Paced {
                    self.counters.paced.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        scope = key,
                        wait_ms = wait.as_millis() as u64,
                        "pacing: the read bucket is nearly empty"
                    );
                }
                tokio::time::sleep(wait).await;
            }
            let outcome = {
                let _slot = self.limiter.acquire(key).await;
                self.attempt(key, &method, url, &body).await
            };
            let failure = match outcome {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if !failure.retryable || attempt >= self.policy.max_retries {
                return Err(failure.error);
            }
            let wait = match failure.retry_after {
                Some(wait) if wait > self.policy.max_wait => {
                    return Err(RequestError::WaitTooLong(wait));
                }
                Some(wait) => {
                    self.counters
                        .retry_after_waits
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(wait);
                    tracing::info!(
                        scope = key,
                        url = %redact(url),
                        wait_s = wait.as_secs_f64(),
                        "{}; waiting as Retry-After asks",
                        failure.error
                    );
                    wait
                }
                None => {
                    let wait = self.policy.backoff.wait(attempt).min(self.policy.max_wait);
                    tracing::info!(
                        scope = key,
                        url = %redact(url),
                        wait_s = wait.as_secs_f64(),
                        attempt = attempt + 1,
                        "{}; backing off before retrying",
                        failure.error
                    );
                    wait
                }
            };
            if failure.throttled {
                // The bucket is per subscription: hold every request to it, not only this one.
                self.pacer.block(key, Instant::now() + wait);
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        key: &str,
        method: &reqwest::Method,
        url: &Url,
        body: &Body<'_>,
    ) -> Result<Value, Failure> {
        let fatal = |error| Failure {
            error,
            retryable: false,
            retry_after: None,
            throttled: false,
        };
        let token = self
            .tokens
            .token()
            .await
            .map_err(|e| fatal(RequestError::Token(e)))?;
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|_| {
                fatal(RequestError::Token(
                    "the access token is not a valid header value".into(),
                ))
            })?;
        auth.set_sensitive(true);
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json");
        if let Body::Json(value) = body {
            request = request.json(value);
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let transport = |e: reqwest::Error| Failure {
            error: RequestError::Transport(describe_transport(&e)),
            retryable: true,
            retry_after: None,
            throttled: false,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        self.pacer.observe(key, &headers);
        let bytes = response.bytes().await.map_err(transport)?;
        let request_id = header(&headers, "x-ms-request-id");
        tracing::debug!(
            %method,
            url = %redact(url),
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            request_id = request_id.as_deref().unwrap_or("-"),
            correlation_id = header(&headers, "x-ms-correlation-request-id").as_deref().unwrap_or("-"),
            "azure answered"
        );
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes)
                .map_err(|e| fatal(RequestError::Json(e.to_string())));
        }
        let (code, message) = error_body(&bytes);
        let code_num = status.as_u16();
        Err(Failure {
            error: RequestError::Status {
                status: code_num,
                code,
                message,
                request_id,
            },
            retryable: matches!(code_num, 408 | 429 | 500 | 502 | 503 | 504),
            retry_after: if matches!(code_num, 429 | 503) {
                retry_after(&headers)
            } else {
                None
            },
            throttled: {
                if code_num == 429 {
                    self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                }
                code_num == 429
            },
        })
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// ARM's error body: `{"error": {"code", "message"}}` (also `{"code", "message"}` at the top).
fn error_body(bytes: &[u8]) -> (Option<String>, String) {
    let value: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let inner = value.get("error").unwrap_or(&value);
    let code = inner
        .get("code")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = inner
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(bytes);
            let text = text.trim();
            if text.is_empty() {
                "no error details".to_string()
            } else {
                text.chars().take(300).collect()
            }
        });
    (code, message)
}

fn describe_transport(e: &reqwest::Error) -> String {
    use std::error::Error;
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let mut cause = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    match (e.url(), cause.is_empty()) {
        (Some(url), false) => format!("{what}: {} ({cause})", redact(url)),
        (Some(url), true) => format!("{what}: {}", redact(url)),
        (None, _) => format!("{what}: {cause}"),
    }
}

/// A URL for logs and errors: scheme, host and path, without the query (it carries nothing
/// secret today, but skip tokens are opaque and long).
pub(crate) fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn client(timeout: Duration) -> Client {
        Client::new(
            // The cached token is valid for an hour, so the credential is never asked.
            TokenSource::new(
                azure_identity::AzureCliCredential::new(None).unwrap(),
                "scope".into(),
                Some(azure_core::credentials::AccessToken::new(
                    "t0ken",
                    time::OffsetDateTime::now_utc() + time::Duration::hours(1),
                )),
            ),
            4,
            timeout,
            RetryPolicy {
                max_retries: 3,
                max_wait: Duration::from_secs(5),
                backoff: Backoff {
                    base: Duration::from_millis(5),
                    cap: Duration::from_millis(20),
                },
            },
        )
        .unwrap()
    }

    /// A one-route HTTP server whose behaviour per connection is scripted: `None` drops the
    /// connection without answering, `Some((delay, response))` answers after a delay.
    async fn scripted(
        script: Vec<Option<(Duration, &'static str)>>,
    ) -> (Url, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/x?api-version=1",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let handle = tokio::spawn(async move {
            let mut served = 0;
            let mut answering = Vec::new();
            for step in script {
                let (mut socket, _) = listener.accept().await.unwrap();
                served += 1;
                // Each connection is answered on its own, so a slow one does not hold the next.
                answering.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    match step {
                        None => drop(socket),
                        Some((delay, response)) => {
                            tokio::time::sleep(delay).await;
                            let _ = socket.write_all(response.as_bytes()).await;
                            let _ = socket.shutdown().await;
                        }
                    }
                }));
            }
            for a in answering {
                let _ = a.await;
            }
            served
        });
        (url, handle)
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}";

    #[tokio::test]
    async fn a_dropped_connection_is_retried() {
        let (url, server) = scripted(vec![None, Some((Duration::ZERO, OK))]).await;
        let c = client(Duration::from_secs(5));
        let v = c.get("s", &url).await.unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(server.await.unwrap(), 2);
        assert_eq!(c.stats().retries, 1);
    }

    #[tokio::test]
    async fn a_timeout_is_retried() {
        let (url, server) = scripted(vec![
            Some((Duration::from_millis(400), OK)),
            Some((Duration::ZERO, OK)),
        ])
        .await;
        let c = client(Duration::from_millis(100));
        let v = c.get("s", &url).await.unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(server.await.unwrap(), 2);
        assert_eq!(c.stats().requests, 2);
    }

    #[tokio::test]
    async fn a_403_is_not_retried() {
        let (url, server) = scripted(vec![Some((
            Duration::ZERO,
            "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: 64\r\nx-ms-request-id: r-1\r\nconnection: close\r\n\r\n{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"no access\"}}  ",
        ))])
        .await;
        let c = client(Duration::from_secs(5));
        let err = c.get("s", &url).await.unwrap_err();
        assert_eq!(err.http_status(), Some(403));
        let text = err.to_string();
        assert!(
            text.contains("AuthorizationFailed") && text.contains("r-1"),
            "{text}"
        );
        assert_eq!(server.await.unwrap(), 1);
    }

    #[tokio::test]
    async fn secret_apis_are_refused_before_any_request() {
        let c = client(Duration::from_secs(1));
        let url = Url::parse("http://127.0.0.1:9/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerRegistry/registries/a/listCredentials?api-version=1").unwrap();
        let err = c.get("s", &url).await.unwrap_err();
        assert!(matches!(err, RequestError::Refused(_)));
        assert_eq!(c.stats().requests, 0);
    }
}
