//! The clock behind `--latency-ms`: a wait that ends when it is due, not a millisecond
//! or two later.
//!
//! Tokio's timer counts whole milliseconds and rounds every deadline up, and its driver
//! parks for whole milliseconds too: a 50 ms `sleep_until` measured 51.2-51.4 ms on the
//! bench machine. A sandbox told to answer in 50 ms that answers in 51.3 ms makes a
//! client look 2.6% slower against Little's law than it is. Here one thread keeps the
//! deadlines in a heap and waits on a condition variable, whose timeout is in
//! nanoseconds; each waiting request holds a oneshot that the thread fires when due.
//! The heap holds one entry per request in its latency, so it is bounded by what the
//! listeners accept.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

/// Precise waits for the request latency. Stops its thread when dropped.
pub(crate) struct Clock {
    inner: Arc<Inner>,
    /// Whether the thread runs; without it [`Clock::until`] falls back to tokio's timer.
    running: bool,
}

struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    due: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
    stopped: bool,
}

struct Entry {
    at: Instant,
    seq: u64,
    fire: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a heap that is still a heap.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock {
    /// Starts the clock's thread.
    pub(crate) fn start() -> Clock {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let theirs = inner.clone();
        let running = std::thread::Builder::new()
            .name("sandbox-clock".into())
            .spawn(move || run(&theirs))
            .is_ok();
        if !running {
            tracing::warn!("sandbox: no thread for the latency clock; using tokio's timer");
        }
        Clock { inner, running }
    }

    /// Returns at `at` (at once if it has passed).
    pub(crate) async fn until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        if !self.running {
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        let (fire, fired) = oneshot::channel();
        {
            let mut st = self.inner.lock();
            if st.stopped {
                return;
            }
            let seq = st.next_seq;
            st.next_seq = seq.wrapping_add(1);
            let earliest = st.due.peek().is_none_or(|Reverse(e)| at < e.at);
            st.due.push(Reverse(Entry { at, seq, fire }));
            if earliest {
                self.inner.wake.notify_one();
            }
        }
        // An error means the clock stopped with the sandbox: nothing is left to wait for.
        let _ = fired.await;
    }
}

impl Clock {
    /// Stops the thread; whoever still waits is let go.
    fn stop(&self) {
        self.inner.lock().stopped = true;
        self.inner.wake.notify_one();
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The thread: fires what is due, then sleeps until the next deadline or a new earliest one.
fn run(inner: &Inner) {
    let mut st = inner.lock();
    loop {
        if st.stopped {
            st.due.clear();
            return;
        }
        let now = Instant::now();
        while st.due.peek().is_some_and(|Reverse(e)| e.at <= now) {
            if let Some(Reverse(e)) = st.due.pop() {
                // The request may have gone (its client hung up): nobody to tell.
                let _ = e.fire.send(());
            }
        }
        st = match st.due.peek() {
            Some(Reverse(e)) => {
                let wait = e.at.saturating_duration_since(now);
                inner
                    .wake
                    .wait_timeout(st, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => inner.wake.wait(st).unwrap_or_else(PoisonError::into_inner),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_is_never_early_and_in_any_order_of_deadlines() {
        let clock = Arc::new(Clock::start());
        let start = Instant::now();
        // Later deadlines first, so each new one becomes the earliest and wakes the thread.
        let waits: Vec<_> = [40u64, 30, 20, 10, 0]
            .into_iter()
            .map(|ms| {
                let clock = clock.clone();
                tokio::spawn(async move {
                    let at = start + Duration::from_millis(ms);
                    clock.until(at).await;
                    (ms, Instant::now().saturating_duration_since(at))
                })
            })
            .collect();
        for w in waits {
            let (ms, late) = w.await.unwrap();
            assert!(Instant::now() >= start + Duration::from_millis(ms));
            // Generous: a loaded CI machine may be late, but not by a whole second.
            assert!(
                late < Duration::from_secs(1),
                "{ms} ms wait was {late:?} late"
            );
        }
    }

    #[tokio::test]
    async fn stopping_the_clock_releases_every_waiter() {
        let clock = Arc::new(Clock::start());
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move {
                clock
                    .until(Instant::now() + Duration::from_secs(3600))
                    .await;
            })
        };
        // Let the waiter register its hour-long wait, then stop the clock.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(clock.inner.lock().due.len(), 1);
        clock.stop();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter was released")
            .unwrap();
    }
}
