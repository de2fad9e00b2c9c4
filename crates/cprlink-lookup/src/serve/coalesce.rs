//! Coalescing of single lookups: `GET /v1/persons/{cpr}/name` requests that arrive
//! together share one batch request to Datafordeler.
//!
//! Owns the wait (a few milliseconds, or until a batch is full) and the hand-back of
//! each record, or the shared error, to the request that asked. The bound on requests
//! in flight is the client's; this decides what goes out together. A batch goes out
//! only when one of the client's `concurrency` slots is free: while every slot is busy
//! it keeps filling, so a cold cache under load sends full batches instead of queueing
//! part-full ones for a slot (issue 12's P2: 81% -> 95% of the upstream bound).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::AppState;
use crate::cpr::Cpr;
use crate::error::Error;
use crate::record::{Record, Status};

/// Where a single lookup's answer goes.
pub(super) type Waiter = oneshot::Sender<Result<Record, Arc<Error>>>;

/// Gathers single lookups for up to `wait` (or a full batch) and sends them as one
/// request; each waiter gets its own record.
pub(super) async fn run(
    state: Arc<AppState>,
    mut rx: mpsc::Receiver<(Cpr, Waiter)>,
    wait: Duration,
) {
    let slots = Arc::new(Semaphore::new(state.client().settings().concurrency.max(1)));
    while let Some(first) = rx.recv().await {
        // The client of now: a reload (SIGHUP) may have replaced it.
        let client = state.client();
        let batch_size = client.settings().batch_size.max(1);
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + wait;
        while batch.len() < batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(item)) => batch.push(item),
                _ => break,
            }
        }
        // Wait for a free slot, adding what arrives meanwhile until the batch is full.
        let permit = loop {
            if batch.len() >= batch_size {
                break slots.clone().acquire_owned().await;
            }
            tokio::select! {
                biased;
                permit = slots.clone().acquire_owned() => break permit,
                item = rx.recv() => match item {
                    Some(item) => batch.push(item),
                    None => break slots.clone().acquire_owned().await,
                },
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            // Held until the answer is in: the slot is this batch's.
            let _permit = permit;
            let cprs: Vec<Cpr> = batch.iter().map(|(c, _)| *c).collect();
            let api = client.settings().api.as_str();
            let result = client.lookup_records(&cprs).await;
            state.upstream_outcome(&result);
            match result {
                Ok(records) => {
                    let entries: Vec<(Cpr, Status)> = cprs
                        .iter()
                        .zip(&records)
                        .map(|(c, r)| (*c, r.status))
                        .collect();
                    state.audit(&entries, api);
                    for ((_, waiter), record) in batch.into_iter().zip(records) {
                        let _ = waiter.send(Ok(record));
                    }
                }
                Err(e) => {
                    let entries: Vec<(Cpr, Status)> =
                        cprs.iter().map(|c| (*c, Status::Error)).collect();
                    state.audit(&entries, api);
                    let e = Arc::new(e);
                    for (_, waiter) in batch {
                        let _ = waiter.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}
