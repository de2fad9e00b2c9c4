//! The streaming batch runner behind `cprlink lookup --input`.
//!
//! Owns the pipeline: a reader thread parses rows, the dispatcher groups valid numbers
//! into batches of `batch_size` and starts their lookups (the client bounds how many
//! are in flight), the collector takes the answers back in input order and hands whole
//! units of records to a writer thread. Every row is answered exactly once, in order;
//! memory stays bounded whatever the input size. It decides when a run stops: at once
//! on an authentication failure, on an interrupt, or when the service could not be
//! reached at all; later transient failures become `error` rows. It never renders
//! records (the sink does) and never logs a CPR number.
//!
//! It also takes up an earlier output ([`Continue`], for `--resume` and
//! `--retry-errors`): the [`Matcher`] checks that every earlier record belongs to its
//! input row, in order, and says per row whether it is skipped (already written),
//! kept (rewritten as it is) or asked again; an earlier output that does not match its
//! input stops the run before anything is asked.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::audit::AuditLog;
use crate::client::Client;
use crate::cpr::{Cpr, mask_input};
use crate::error::{Error, ErrorKind};
use crate::input::InputItem;
use crate::record::{Record, Status};

/// Where records go. Each call gets whole records; the sink writes them so that a
/// killed process leaves whole lines only.
pub trait RecordSink: Send {
    fn write(&mut self, records: &[Record]) -> std::io::Result<()>;
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Told after each unit of rows is written.
pub trait Progress: Send + Sync {
    fn advance(&self, rows: u64, failed_rows: u64);
}

/// How a run went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub found: u64,
    pub not_found: u64,
    pub invalid: u64,
    pub error: u64,
    /// Rows skipped because `--resume` found them answered.
    pub skipped: u64,
    /// Numbers missing from a batch answer that were asked again before `not_found`.
    pub reasked: u64,
    /// Rows of an earlier output rewritten as they were (`--retry-errors`).
    pub kept: u64,
}

impl Summary {
    pub fn rows(&self) -> u64 {
        self.found + self.not_found + self.invalid + self.error
    }

    fn count(&mut self, s: Status) {
        match s {
            Status::Found => self.found += 1,
            Status::NotFound => self.not_found += 1,
            Status::Invalid => self.invalid += 1,
            Status::Error => self.error += 1,
        }
    }
}

/// Why a run stopped early, with what it had written by then.
#[derive(Debug)]
pub struct Stopped {
    pub error: Error,
    pub summary: Summary,
}

/// Knobs of a run.
pub struct BatchOptions {
    /// An earlier output to take up (`--resume`, `--retry-errors`).
    pub earlier: Option<Continue>,
    pub audit: Option<Arc<AuditLog>>,
    /// How long to wait for more input before sending a part-filled batch.
    pub fill_wait: Duration,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            earlier: None,
            audit: None,
            fill_wait: Duration::from_millis(5),
        }
    }
}

/// What an earlier output holds for one input row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Earlier {
    /// Already in the output, which is appended to: the row is skipped.
    Written { cpr: String },
    /// Rewritten as it is into a new output.
    Keep(Record),
    /// Asked again (it was an `error` row).
    Ask { cpr: String },
}

impl Earlier {
    /// The `cpr` field of the earlier record.
    pub fn cpr(&self) -> &str {
        match self {
            Earlier::Written { cpr } | Earlier::Ask { cpr } => cpr,
            Earlier::Keep(r) => &r.cpr,
        }
    }
}

/// An earlier output to take up, its records in order.
pub struct Continue {
    pub records: Box<dyn Iterator<Item = Result<Earlier, Error>> + Send>,
    /// The input rows after its last record are answered (`true`), or refused: the
    /// earlier output was meant to be complete.
    pub then_answer: bool,
    /// Names the flag and the file in messages, e.g. "--resume: names.jsonl".
    pub label: String,
}

/// What to do with one input row, as the earlier output says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Answered in the output already.
    Skip,
    /// Its earlier record stays, as it was.
    Keep(Record),
    /// Ask Datafordeler.
    Ask,
}

/// Walks an earlier output alongside the input: every earlier record must be for its
/// input row (the same `cpr` field), and there may not be more records than rows.
pub struct Matcher {
    cont: Continue,
    rows: u64,
    earlier_done: bool,
}

impl Matcher {
    pub fn new(cont: Continue) -> Matcher {
        Matcher {
            cont,
            rows: 0,
            earlier_done: false,
        }
    }

    /// The plan for the next input row.
    pub fn next(&mut self, row: &InputItem) -> Result<Plan, Error> {
        self.rows += 1;
        let n = self.rows;
        let earlier = if self.earlier_done {
            None
        } else {
            self.cont.records.next().transpose()?
        };
        let Some(earlier) = earlier else {
            if !self.earlier_done && !self.cont.then_answer {
                self.earlier_done = true;
                return Err(Error::Earlier(format!(
                    "{}: the output ends after {} records, but the input goes on (row {n})",
                    self.cont.label,
                    n - 1
                )));
            }
            self.earlier_done = true;
            return Ok(Plan::Ask);
        };
        let key = row.answer_key();
        if earlier.cpr() != key {
            return Err(Error::Earlier(format!(
                "{}: record {n} is for {}, but row {n} of the input is {}: the output belongs to another input (or the input changed)",
                self.cont.label,
                mask_input(earlier.cpr()),
                mask_input(&key)
            )));
        }
        Ok(match earlier {
            Earlier::Written { .. } => Plan::Skip,
            Earlier::Keep(r) => Plan::Keep(r),
            Earlier::Ask { .. } => Plan::Ask,
        })
    }

    /// The input ended: the earlier output must not hold more records.
    pub fn finish(&mut self) -> Result<(), Error> {
        if self.earlier_done {
            return Ok(());
        }
        self.earlier_done = true;
        match self.cont.records.next().transpose()? {
            None => Ok(()),
            Some(_) => {
                let more = 1 + self.cont.records.by_ref().count() as u64;
                Err(Error::Earlier(format!(
                    "{}: the output holds {} records, more than the {} rows of the input",
                    self.cont.label,
                    self.rows + more,
                    self.rows
                )))
            }
        }
    }
}

/// Matches the whole `input` against `cont` without asking anything: the check a run
/// makes as it goes, done up front where the input can be read twice. Returns the
/// number of input rows.
pub fn check_earlier<I>(input: I, cont: Continue) -> Result<u64, Error>
where
    I: Iterator<Item = Result<InputItem, Error>>,
{
    let mut m = Matcher::new(cont);
    for row in input {
        m.next(&row?)?;
    }
    m.finish()?;
    Ok(m.rows)
}

/// A row on its way to the dispatcher.
enum Row {
    Ask(InputItem),
    Keep(Record),
}

/// One row of a unit: answered from the lookup, already answered (invalid), or kept
/// from an earlier output.
enum Slot {
    Lookup(Cpr),
    Done(Record),
    Kept(Record),
}

/// Consecutive rows whose valid numbers go out in one request.
struct Unit {
    slots: Vec<Slot>,
    lookup: Option<JoinHandle<Result<Vec<Record>, Error>>>,
}

/// Runs the batch: rows from `input`, records to `sink`, until the input ends, an
/// authentication failure, an unreachable service, or `cancel` completes.
pub async fn run<I, C>(
    client: &Client,
    input: I,
    sink: Box<dyn RecordSink>,
    opts: BatchOptions,
    progress: Option<Arc<dyn Progress>>,
    cancel: C,
) -> Result<Summary, Stopped>
where
    I: Iterator<Item = Result<InputItem, Error>> + Send + 'static,
    C: Future<Output = ()>,
{
    let batch_size = client.settings().batch_size.max(1);
    let in_flight = client.settings().concurrency.max(1);

    // Reader thread: a blocking read of stdin must not hold up the runtime.
    let (row_tx, row_rx) = mpsc::channel::<Result<Row, Error>>(4096);
    let mut matcher = opts.earlier.map(Matcher::new);
    let reader = std::thread::Builder::new()
        .name("cprlink-input".to_owned())
        .spawn(move || {
            let mut skipped = 0u64;
            for item in input {
                let row = match (item, &mut matcher) {
                    (Err(e), _) => Err(e),
                    (Ok(item), None) => Ok(Row::Ask(item)),
                    (Ok(item), Some(m)) => match m.next(&item) {
                        Ok(Plan::Skip) => {
                            skipped += 1;
                            continue;
                        }
                        Ok(Plan::Keep(r)) => Ok(Row::Keep(r)),
                        Ok(Plan::Ask) => Ok(Row::Ask(item)),
                        Err(e) => Err(e),
                    },
                };
                let stop = row.is_err();
                if row_tx.blocking_send(row).is_err() || stop {
                    return skipped;
                }
            }
            if let Some(Err(e)) = matcher.as_mut().map(Matcher::finish) {
                let _ = row_tx.blocking_send(Err(e));
            }
            skipped
        });
    let reader = match reader {
        Ok(r) => r,
        Err(source) => {
            return Err(Stopped {
                error: Error::Io {
                    what: "cannot start the input reader".to_owned(),
                    source,
                },
                summary: Summary::default(),
            });
        }
    };

    // Writer thread: whole units of records, in order.
    let (rec_tx, rec_rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(4);
    let writer = std::thread::Builder::new()
        .name("cprlink-output".to_owned())
        .spawn(move || {
            let mut sink = sink;
            for unit in rec_rx {
                sink.write(&unit)?;
            }
            sink.finish()
        });
    let writer = match writer {
        Ok(w) => w,
        Err(source) => {
            return Err(Stopped {
                error: Error::Io {
                    what: "cannot start the output writer".to_owned(),
                    source,
                },
                summary: Summary::default(),
            });
        }
    };

    // Dispatcher: units go into an ordered queue; its bound limits the rows held.
    let (unit_tx, unit_rx) = mpsc::channel::<Result<Unit, Error>>(in_flight * 2 + 2);
    let dispatcher = tokio::spawn(dispatch(
        client.clone(),
        row_rx,
        unit_tx,
        batch_size,
        opts.fill_wait,
    ));

    let mut summary = Summary::default();
    let reasked_before = client.stats().reasked.load(Ordering::Relaxed);
    let outcome = tokio::select! {
        r = collect(client, unit_rx, &rec_tx, opts.audit.as_deref(), progress.as_deref(), &mut summary) => r,
        () = cancel => Err(Error::Interrupted),
    };
    dispatcher.abort();
    summary.reasked = client
        .stats()
        .reasked
        .load(Ordering::Relaxed)
        .saturating_sub(reasked_before);
    drop(rec_tx);
    // Let the writer finish the units it was given: they are whole.
    let written = tokio::task::spawn_blocking(move || writer.join()).await;
    let write_result = match written {
        Ok(Ok(r)) => r,
        _ => Err(std::io::Error::other("the output writer failed")),
    };
    if outcome.is_ok() {
        summary.skipped = tokio::task::spawn_blocking(move || reader.join().unwrap_or(0))
            .await
            .unwrap_or(0);
    }
    match (outcome, write_result) {
        (Err(error), _) => Err(Stopped { error, summary }),
        (Ok(()), Err(source)) => Err(Stopped {
            error: Error::Io {
                what: "cannot write the output".to_owned(),
                source,
            },
            summary,
        }),
        (Ok(()), Ok(())) => Ok(summary),
    }
}

async fn dispatch(
    client: Client,
    mut rows: mpsc::Receiver<Result<Row, Error>>,
    units: mpsc::Sender<Result<Unit, Error>>,
    batch_size: usize,
    fill_wait: Duration,
) {
    // Invalid rows ride along with the next lookup; bound a unit's length anyway.
    let max_rows = (batch_size * 4).max(64);
    let mut slots: Vec<Slot> = Vec::new();
    let mut cprs: Vec<Cpr> = Vec::new();
    let mut ended = false;
    while !ended {
        let next = if slots.is_empty() {
            rows.recv().await
        } else {
            match rows.try_recv() {
                Ok(item) => Some(item),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout(fill_wait, rows.recv()).await {
                        Ok(item) => item,
                        // Input is slow: send what we have rather than wait.
                        Err(_) => {
                            if send_unit(&client, &units, &mut slots, &mut cprs)
                                .await
                                .is_err()
                            {
                                return;
                            }
                            continue;
                        }
                    }
                }
            }
        };
        match next {
            None => ended = true,
            Some(Err(e)) => {
                let _ = send_unit(&client, &units, &mut slots, &mut cprs).await;
                let _ = units.send(Err(e)).await;
                return;
            }
            Some(Ok(Row::Keep(record))) => slots.push(Slot::Kept(record)),
            Some(Ok(Row::Ask(item))) => match item.cpr {
                Ok(c) => {
                    slots.push(Slot::Lookup(c));
                    cprs.push(c);
                }
                Err(reason) => slots.push(Slot::Done(Record::invalid(&item.raw, &reason))),
            },
        }
        if (cprs.len() >= batch_size || slots.len() >= max_rows || (ended && !slots.is_empty()))
            && send_unit(&client, &units, &mut slots, &mut cprs)
                .await
                .is_err()
        {
            return;
        }
    }
}

async fn send_unit(
    client: &Client,
    units: &mpsc::Sender<Result<Unit, Error>>,
    slots: &mut Vec<Slot>,
    cprs: &mut Vec<Cpr>,
) -> Result<(), ()> {
    if slots.is_empty() {
        return Ok(());
    }
    let lookup = if cprs.is_empty() {
        None
    } else {
        let c = client.clone();
        let batch = std::mem::take(cprs);
        Some(tokio::spawn(async move { c.lookup_records(&batch).await }))
    };
    let unit = Unit {
        slots: std::mem::take(slots),
        lookup,
    };
    units.send(Ok(unit)).await.map_err(|_| ())
}

async fn collect(
    client: &Client,
    mut units: mpsc::Receiver<Result<Unit, Error>>,
    out: &std::sync::mpsc::SyncSender<Vec<Record>>,
    audit: Option<&AuditLog>,
    progress: Option<&dyn Progress>,
    summary: &mut Summary,
) -> Result<(), Error> {
    let api = client.settings().api.as_str();
    while let Some(unit) = units.recv().await {
        let unit = unit?;
        let answered: Option<Result<Vec<Record>, Error>> = match unit.lookup {
            None => None,
            Some(handle) => Some(match handle.await {
                Ok(r) => r,
                Err(source) => Err(Error::TaskFailed { source }),
            }),
        };
        let mut looked_up = match answered {
            None => None,
            Some(Ok(records)) => Some(Ok(records.into_iter())),
            Some(Err(e)) => match e.kind() {
                ErrorKind::Unavailable | ErrorKind::Answer => {
                    if e.kind() == ErrorKind::Unavailable
                        && !client.stats().any_success.load(Ordering::Relaxed)
                    {
                        // Nothing got through yet: the service cannot be reached at all.
                        return Err(e);
                    }
                    Some(Err(e.to_string()))
                }
                ErrorKind::Usage
                | ErrorKind::Auth
                | ErrorKind::Interrupted
                | ErrorKind::Internal => return Err(e),
            },
        };
        let mut records = Vec::with_capacity(unit.slots.len());
        let mut audited = Vec::new();
        let mut failed = 0u64;
        for slot in unit.slots {
            let rec = match slot {
                Slot::Kept(r) => {
                    summary.kept += 1;
                    records.push(r);
                    continue;
                }
                Slot::Done(r) => r,
                Slot::Lookup(cpr) => {
                    let rec = match &mut looked_up {
                        Some(Ok(it)) => it
                            .next()
                            .unwrap_or_else(|| Record::error(&cpr, "no answer for this row")),
                        Some(Err(msg)) => Record::error(&cpr, msg.clone()),
                        None => Record::error(&cpr, "no answer for this row"),
                    };
                    audited.push((cpr, rec.status));
                    rec
                }
            };
            summary.count(rec.status);
            if rec.status.is_failure() {
                failed += 1;
            }
            records.push(rec);
        }
        // Every number sent is in the trail before its record is written.
        if let Some(a) = audit {
            a.record_all(&audited, api)?;
        }
        let n = records.len() as u64;
        if out.send(records).is_err() {
            // The writer stopped (e.g. a closed pipe); its error is reported by `run`.
            return Ok(());
        }
        if let Some(p) = progress {
            p.advance(n, failed);
        }
    }
    Ok(())
}
