//! Coalescing of single lookups: `GET /v1/persons/{cpr}/name` requests that arrive
//! together share one batch request to Datafordeler.
//!
//! Owns the wait (a few milliseconds, or until a batch is full) and the hand-back of
//! each record, or the shared error, to the request that asked. The bound on requests
//! in flight is the client's; this only decides what goes out together.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

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
        let state = state.clone();
        tokio::spawn(async move {
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
