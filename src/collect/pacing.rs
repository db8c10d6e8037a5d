//! Throttling: how long to wait before the next request, per subscription, driven by what Azure
//! says in its response headers.
//!
//! - `Retry-After` (seconds or an HTTP date), `retry-after-ms` and `x-ms-retry-after-ms` on 429
//!   and 503 answers block the whole subscription until then, not just the request that got it:
//!   the bucket is per subscription, so every other request to it would be throttled too.
//! - `x-ms-ratelimit-remaining-subscription-reads` (and `-tenant-reads`) tells what is left of
//!   ARM's token bucket. Once it is at or below a low-water mark, requests to that subscription
//!   are spaced at the bucket's documented refill rate, so the bucket is not emptied and no 429
//!   is needed to slow down.
//! - Resource Graph's own quota: `x-ms-user-quota-remaining: 0` blocks Resource Graph queries for
//!   `x-ms-user-quota-resets-after` (hh:mm:ss).
//!
//! Errors without such headers (5xx, timeouts, dropped connections) back off exponentially with
//! jitter; see [`Backoff`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// ARM refills a subscription's read bucket at 25 tokens a second ("Understand how Azure Resource
/// Manager throttles requests", token bucket algorithm); pacing spaces requests by its inverse.
const ARM_REFILL_INTERVAL: Duration = Duration::from_millis(40);

/// Why a request was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// A 429/503 asked this subscription to wait.
    RetryAfter,
    /// The bucket is nearly empty: spacing requests at the refill rate.
    Paced,
}

#[derive(Debug, Default)]
struct Bucket {
    remaining: Option<u64>,
    blocked_until: Option<Instant>,
    next_slot: Option<Instant>,
}

/// Per-key (subscription) throttling state.
#[derive(Debug)]
pub(crate) struct Pacer {
    low_water: u64,
    interval: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Pacer {
    /// `concurrency` sets the low-water mark: that many requests can be in flight at once, so
    /// pacing starts while twice that many tokens are still left.
    pub(crate) fn new(concurrency: usize) -> Self {
        Pacer {
            low_water: (2 * concurrency as u64).max(10),
            interval: ARM_REFILL_INTERVAL,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves the next turn for `key`: how long to wait before sending, and why.
    pub(crate) fn reserve(&self, key: &str) -> Option<(Duration, Hold)> {
        let now = Instant::now();
        let mut buckets = self.buckets();
        let bucket = buckets.entry(key.to_string()).or_default();
        let mut at = now;
        let mut why = None;
        match bucket.blocked_until {
            Some(until) if until > now => {
                at = until;
                why = Some(Hold::RetryAfter);
            }
            Some(_) => bucket.blocked_until = None,
            None => {}
        }
        if bucket.remaining.is_some_and(|r| r <= self.low_water) {
            let slot = bucket.next_slot.map_or(at, |s| s.max(at));
            bucket.next_slot = Some(slot + self.interval);
            if slot > at {
                at = slot;
                why = Some(Hold::Paced);
            }
        } else {
            bucket.next_slot = None;
        }
        why.map(|w| (at - now, w))
    }

    /// Reads the rate-limit headers of an ARM or Resource Graph answer.
    pub(crate) fn observe(&self, key: &str, headers: &HeaderMap) {
        let remaining = header_u64(headers, "x-ms-ratelimit-remaining-subscription-reads")
            .or_else(|| header_u64(headers, "x-ms-ratelimit-remaining-tenant-reads"));
        let quota_reset = graph_quota_reset(headers);
        if remaining.is_none() && quota_reset.is_none() {
            return;
        }
        let mut buckets = self.buckets();
        let bucket = buckets.entry(key.to_string()).or_default();
        if let Some(r) = remaining {
            bucket.remaining = Some(r);
        }
        if let Some(reset) = quota_reset {
            let until = Instant::now() + reset;
            bucket.blocked_until = Some(bucket.blocked_until.map_or(until, |b| b.max(until)));
        }
    }

    /// Holds every request to `key` until `until` (after a 429 with `Retry-After`).
    pub(crate) fn block(&self, key: &str, until: Instant) {
        let mut buckets = self.buckets();
        let bucket = buckets.entry(key.to_string()).or_default();
        bucket.blocked_until = Some(bucket.blocked_until.map_or(until, |b| b.max(until)));
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name).and_then(|v| v.parse().ok())
}

/// How long the server asked us to wait: `retry-after-ms` / `x-ms-retry-after-ms` first (they
/// are more precise), then `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = header_u64(headers, name) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = header_str(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let when =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = when - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

/// Resource Graph's quota: when none is left, how long until it resets.
fn graph_quota_reset(headers: &HeaderMap) -> Option<Duration> {
    if header_u64(headers, "x-ms-user-quota-remaining")? > 0 {
        return None;
    }
    let raw = header_str(headers, "x-ms-user-quota-resets-after")?;
    let mut total = 0u64;
    for part in raw.split(':') {
        total = total * 60 + part.parse::<u64>().ok()?;
    }
    Some(Duration::from_secs(total))
}

/// Exponential back-off with jitter for failures that carry no `Retry-After`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The wait before retry number `attempt` (0-based): a random point in the upper half of
    /// `base * 2^attempt` ("equal jitter"), so clients that failed together do not retry together,
    /// and no wait collapses to nothing.
    pub(crate) fn wait(&self, attempt: u32) -> Duration {
        use rand::Rng;
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        let half = ceiling / 2;
        let jitter = rand::rng().random_range(0..=half.as_micros().max(1) as u64);
        half + Duration::from_micros(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_in_its_three_spellings() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3"), ("retry-after-ms", "250")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[("x-ms-retry-after-ms", "40")])),
            Some(Duration::from_millis(40))
        );
        // An HTTP date in the past means "now".
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Sun, 06 Nov 1994 08:49:37 GMT"
            )])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn an_http_date_in_the_future_is_honoured() {
        let when = time::OffsetDateTime::now_utc() + time::Duration::seconds(120);
        let text = when
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        let wait = retry_after(&headers(&[("retry-after", &text)])).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
    }

    #[tokio::test]
    async fn low_bucket_spaces_requests_at_the_refill_rate() {
        let pacer = Pacer::new(4);
        assert_eq!(pacer.reserve("s"), None);
        pacer.observe(
            "s",
            &headers(&[("x-ms-ratelimit-remaining-subscription-reads", "3")]),
        );
        assert_eq!(pacer.reserve("s"), None, "the first paced request goes now");
        let (wait, why) = pacer.reserve("s").unwrap();
        assert_eq!(why, Hold::Paced);
        assert!(wait > ARM_REFILL_INTERVAL / 2 && wait <= ARM_REFILL_INTERVAL);
        let (wait, _) = pacer.reserve("s").unwrap();
        assert!(wait > ARM_REFILL_INTERVAL && wait <= 2 * ARM_REFILL_INTERVAL);
        // Other subscriptions have their own bucket.
        assert_eq!(pacer.reserve("t"), None);
        // A full bucket again ends the pacing.
        pacer.observe(
            "s",
            &headers(&[("x-ms-ratelimit-remaining-subscription-reads", "240")]),
        );
        assert_eq!(pacer.reserve("s"), None);
    }

    #[tokio::test]
    async fn a_block_holds_every_request_of_the_key() {
        let pacer = Pacer::new(4);
        pacer.block("s", Instant::now() + Duration::from_secs(3));
        let (wait, why) = pacer.reserve("s").unwrap();
        assert_eq!(why, Hold::RetryAfter);
        assert!(wait > Duration::from_secs(2));
        assert_eq!(pacer.reserve("other"), None);
    }

    #[tokio::test]
    async fn resource_graph_quota_blocks_until_reset() {
        let pacer = Pacer::new(4);
        pacer.observe(
            "graph",
            &headers(&[
                ("x-ms-user-quota-remaining", "0"),
                ("x-ms-user-quota-resets-after", "00:00:02"),
            ]),
        );
        let (wait, why) = pacer.reserve("graph").unwrap();
        assert_eq!(why, Hold::RetryAfter);
        assert!(wait > Duration::from_secs(1) && wait <= Duration::from_secs(2));
    }

    #[test]
    fn backoff_grows_and_stays_under_its_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for attempt in 0..20 {
            let w = b.wait(attempt);
            let ceiling = (Duration::from_millis(100) * 2u32.pow(attempt.min(16))).min(b.cap);
            assert!(w >= ceiling / 2 && w <= ceiling, "{attempt}: {w:?}");
        }
    }
}
