//! The confirmation of numbers missing from a batch answer, before any is called
//! `not_found` (datafordeler.md 5.1): a server that cuts answers short, pages silently
//! or caps lists must never turn a real person into "not found".
//!
//! Owns the pool the facade in `client` hands missing numbers to. Numbers wait in the
//! pool by the largest request they may go in ("level"); numbers from every batch in
//! flight share requests, so confirming costs about one request per `batch_size`
//! missing numbers, not one per number. A level is sent when it holds a full request,
//! when it has waited `linger`, or at once when no request is in flight that could add
//! to it. For each answer:
//! - no persons at all: conclusive, every number in the request is not found (a cap of
//!   zero is not a cap);
//! - a number found: answered;
//! - a number still missing from a non-empty answer: asked again in a smaller request
//!   (at most half the size, and no more than the answer held), down to one number
//!   alone, whose answer is conclusive.
//!
//! It never decides how a request is made (`Client::ask` does, with the retries and the
//! grace for `DAF-AUTH-0005`), and never logs a number.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::client::{Client, assign};
use crate::cpr::Cpr;
use crate::error::Error;
use crate::person::Person;

/// What the pool answers for one number: the person, `None` for not found, or the
/// error of the request it was in (shared by every batch waiting on that request).
pub(crate) type Outcome = Result<Option<Person>, Arc<Error>>;

struct Waiting {
    cpr: Cpr,
    tx: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct State {
    /// Numbers waiting, by the largest request they may go in.
    levels: BTreeMap<usize, Vec<Waiting>>,
    /// Levels with a linger timer running.
    timed: BTreeSet<usize>,
    /// Requests in flight whose answers may add numbers: batch requests and the pool's
    /// own. When none is left, waiting for more is pointless.
    producers: usize,
}

/// The pool, one per [`Client`].
pub(crate) struct Pool {
    state: Mutex<State>,
    linger: Duration,
}

impl Pool {
    pub(crate) fn new(linger: Duration) -> Pool {
        Pool {
            state: Mutex::new(State::default()),
            linger,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: carry on with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Held while a batch request is in flight: its answer may add numbers to the pool.
pub(crate) struct Producer {
    client: Client,
}

impl Producer {
    pub(crate) fn start(client: &Client) -> Producer {
        client.pool().lock().producers += 1;
        Producer {
            client: client.clone(),
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let mut state = self.client.pool().lock();
        state.producers = state.producers.saturating_sub(1);
        schedule_all(&self.client, &mut state);
    }
}

/// Confirms `cprs` (missing from a batch answer), starting with requests of up to
/// `level` numbers. One outcome per number, in order. `from` is the batch they came
/// from: it counts as in flight until they are in the pool, so the numbers other
/// batches left waiting are not sent alone a moment before these could join them.
pub(crate) async fn confirm(
    client: &Client,
    cprs: &[Cpr],
    level: usize,
    from: Producer,
) -> Vec<Outcome> {
    let level = level.max(1);
    let mut receivers = Vec::with_capacity(cprs.len());
    {
        let mut state = client.pool().lock();
        let queue = state.levels.entry(level).or_default();
        for &cpr in cprs {
            let (tx, rx) = oneshot::channel();
            queue.push(Waiting { cpr, tx });
            receivers.push(rx);
        }
        schedule(client, &mut state, level);
    }
    // Not in flight any more: if nothing else is, what waits goes out now.
    drop(from);
    let mut out = Vec::with_capacity(receivers.len());
    for rx in receivers {
        out.push(rx.await.unwrap_or_else(|_| {
            Err(Arc::new(Error::TaskLost {
                what: "the confirmation of numbers missing from a batch answer",
            }))
        }));
    }
    out
}

/// Sends what is due at `level`: every full request, and the rest too when nothing in
/// flight could add to it; otherwise the rest waits for the linger timer.
fn schedule(client: &Client, state: &mut State, level: usize) {
    let idle = state.producers == 0;
    let Some(queue) = state.levels.get_mut(&level) else {
        return;
    };
    let mut due: Vec<Vec<Waiting>> = Vec::new();
    while queue.len() >= level {
        due.push(queue.drain(..level).collect());
    }
    if idle && !queue.is_empty() {
        due.push(std::mem::take(queue));
    }
    let waiting = !queue.is_empty();
    if queue.is_empty() {
        state.levels.remove(&level);
    }
    for chunk in due {
        send(client, state, chunk, level);
    }
    if waiting && state.timed.insert(level) {
        let c = client.clone();
        let linger = client.pool().linger;
        spawn(async move {
            tokio::time::sleep(linger).await;
            let mut state = c.pool().lock();
            state.timed.remove(&level);
            if let Some(rest) = state.levels.remove(&level) {
                for chunk in chunks(rest, level) {
                    send(&c, &mut state, chunk, level);
                }
            }
        });
    }
}

/// `tokio::spawn`, except while a runtime shuts down (a batch dropped then): nobody
/// waits for the answer any more, and the waiting numbers' senders are dropped.
fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(task);
    }
}

fn schedule_all(client: &Client, state: &mut State) {
    let levels: Vec<usize> = state.levels.keys().copied().collect();
    for level in levels {
        schedule(client, state, level);
    }
}

fn chunks(mut items: Vec<Waiting>, size: usize) -> Vec<Vec<Waiting>> {
    let mut out = Vec::new();
    while items.len() > size {
        let rest = items.split_off(size);
        out.push(std::mem::replace(&mut items, rest));
    }
    if !items.is_empty() {
        out.push(items);
    }
    out
}

/// Asks one request's numbers in a task of its own (a batch that stops waiting must
/// not take the answer of other batches' numbers with it).
fn send(client: &Client, state: &mut State, chunk: Vec<Waiting>, level: usize) {
    state.producers += 1;
    let c = client.clone();
    spawn(async move {
        let cprs: Vec<Cpr> = chunk.iter().map(|w| w.cpr).collect();
        c.stats().reask_requests.fetch_add(1, Ordering::Relaxed);
        let answer = c.ask(&cprs).await;
        let mut again: Vec<Waiting> = Vec::new();
        let mut next_level = 1;
        match answer {
            Err(e) => {
                let e = Arc::new(e);
                for w in chunk {
                    let _ = w.tx.send(Err(e.clone()));
                }
            }
            Ok(persons) => {
                let held = persons.len();
                let conclusive = held == 0 || cprs.len() == 1;
                let found = assign(&cprs, persons);
                for (w, person) in chunk.into_iter().zip(found) {
                    match person {
                        Some(p) => {
                            let _ = w.tx.send(Ok(Some(p)));
                        }
                        None if conclusive => {
                            let _ = w.tx.send(Ok(None));
                        }
                        None => again.push(w),
                    }
                }
                // Smaller than this request, and no larger than what the server
                // answered: that may be its cap.
                next_level = held.min(cprs.len().div_ceil(2)).clamp(1, level);
            }
        }
        let mut state = c.pool().lock();
        state.producers = state.producers.saturating_sub(1);
        if !again.is_empty() {
            state.levels.entry(next_level).or_default().extend(again);
        }
        schedule_all(&c, &mut state);
    });
}
