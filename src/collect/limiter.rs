//! Bounded, fair concurrency: a counting semaphore whose free slots are handed out round-robin
//! across keys (one key per subscription, plus one for tenant-level calls).
//!
//! A plain FIFO semaphore would let the subscription with a thousand workspaces queue three
//! thousand requests ahead of every other subscription; here each key with waiters gets one slot
//! per turn, so a small subscription finishes early and a throttled one cannot starve the rest.
//! No crate in the dependency tree offers a keyed, round-robin semaphore, hence this small one.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// Hands out at most `slots` permits at a time, fairly across keys.
#[derive(Debug, Clone)]
pub(crate) struct FairLimiter {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    free: usize,
    /// Keys that have waiters, in the order they will be served.
    ring: VecDeque<String>,
    waiting: HashMap<String, VecDeque<oneshot::Sender<()>>>,
}

/// A held slot; dropping it passes the slot to the next key in turn.
#[derive(Debug)]
pub(crate) struct Permit {
    inner: Arc<Mutex<Inner>>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // The state stays consistent even if a holder panicked: every update is a single step.
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl FairLimiter {
    pub(crate) fn new(slots: usize) -> Self {
        FairLimiter {
            inner: Arc::new(Mutex::new(Inner {
                free: slots.max(1),
                ring: VecDeque::new(),
                waiting: HashMap::new(),
            })),
        }
    }

    /// Waits for a slot on behalf of `key`.
    pub(crate) async fn acquire(&self, key: &str) -> Permit {
        let rx = {
            let mut inner = lock(&self.inner);
            // A free slot means no live waiter exists (release always prefers one), so it is fair
            // to take it; queued senders whose receivers were dropped do not count.
            if inner.free > 0 {
                inner.free -= 1;
                return Permit {
                    inner: self.inner.clone(),
                };
            }
            let (tx, rx) = oneshot::channel();
            let queue = inner.waiting.entry(key.to_string()).or_default();
            let first = queue.is_empty();
            queue.push_back(tx);
            if first {
                inner.ring.push_back(key.to_string());
            }
            rx
        };
        let mut waiter = Waiter {
            rx: Some(rx),
            inner: &self.inner,
        };
        if let Some(rx) = waiter.rx.as_mut() {
            // The sender lives in `waiting` until it is used, so this cannot fail.
            let _ = rx.await;
        }
        waiter.rx = None;
        Permit {
            inner: self.inner.clone(),
        }
    }
}

/// Gives a slot back if the acquiring future is dropped after the slot was granted.
struct Waiter<'a> {
    rx: Option<oneshot::Receiver<()>>,
    inner: &'a Arc<Mutex<Inner>>,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take()
            && rx.try_recv().is_ok()
        {
            release(self.inner);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        release(&self.inner);
    }
}

fn release(inner: &Mutex<Inner>) {
    let mut inner = lock(inner);
    loop {
        let Some(key) = inner.ring.pop_front() else {
            inner.free += 1;
            return;
        };
        let Some(queue) = inner.waiting.get_mut(&key) else {
            continue;
        };
        let next = queue.pop_front();
        if queue.is_empty() {
            inner.waiting.remove(&key);
        } else {
            inner.ring.push_back(key);
        }
        if let Some(tx) = next
            && tx.send(()).is_ok()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[tokio::test]
    async fn slots_are_shared_round_robin_across_keys() {
        let limiter = FairLimiter::new(1);
        let order = Arc::new(StdMutex::new(Vec::new()));
        let held = limiter.acquire("x").await;
        let mut tasks = Vec::new();
        // Subscription "a" queues three requests before "b" queues any.
        for key in ["a", "a", "a", "b", "b", "b"] {
            let limiter = limiter.clone();
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _p = limiter.acquire(key).await;
                order.lock().unwrap().push(key);
            }));
            // Let each task reach the queue in the order written.
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["a", "b", "a", "b", "a", "b"]);
    }

    #[tokio::test]
    async fn never_more_than_the_bound_in_flight() {
        let limiter = FairLimiter::new(3);
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..40 {
            let limiter = limiter.clone();
            let in_flight = in_flight.clone();
            let peak = peak.clone();
            tasks.push(tokio::spawn(async move {
                let _p = limiter.acquire(&format!("k{}", i % 4)).await;
                let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_leak_its_slot() {
        let limiter = FairLimiter::new(1);
        let held = limiter.acquire("a").await;
        let cancelled =
            tokio::time::timeout(std::time::Duration::from_millis(5), limiter.acquire("b")).await;
        assert!(cancelled.is_err());
        drop(held);
        // The slot must come back even though "b"'s waiter went away.
        let again =
            tokio::time::timeout(std::time::Duration::from_secs(1), limiter.acquire("c")).await;
        assert!(again.is_ok());
    }
}
