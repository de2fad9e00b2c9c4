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
    let batch_size = state.client.settings().batch_size.max(1);
    while let Some(first) = rx.recv().await {
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
            let result = state.client.lookup_records(&cprs).await;
            match result {
                Ok(records) => {
                    for ((cpr, waiter), record) in batch.into_iter().zip(records) {
                        state.audit(&cpr, record.status);
                        let _ = waiter.send(Ok(record));
                    }
                }
                Err(e) => {
                    let e = Arc::new(e);
                    for (cpr, waiter) in batch {
                        state.audit(&cpr, Status::Error);
                        let _ = waiter.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}
