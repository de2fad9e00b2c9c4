//! The streaming runner: every row answered once, in order.

use std::sync::{Arc, Mutex};

use cprlink_lookup::batch::{self, BatchOptions, Continue, Earlier, RecordSink};
use cprlink_lookup::input::InputReader;
use cprlink_lookup::{Record, Status};

use crate::support::{APIS, client, expected, shared};

/// Keeps what was written, for the test to read.
#[derive(Clone, Default)]
pub(crate) struct Memory(pub Arc<Mutex<Vec<Record>>>);

impl RecordSink for Memory {
    fn write(&mut self, records: &[Record]) -> std::io::Result<()> {
        self.0.lock().unwrap().extend_from_slice(records);
        Ok(())
    }
}

#[test]
fn mixed_valid_invalid_and_unknown_rows_are_answered_once_in_order() {
    let run = shared();
    let want = expected(&run.sb);
    let unknown = run.sb.population().unknown_cpr(3);
    // Known, unknown, invalid shapes and dates, blank lines, the dashed spelling.
    let mut lines = Vec::new();
    let mut expect = Vec::new();
    for (i, w) in want.iter().take(57).enumerate() {
        match i % 5 {
            0 => {
                lines.push(format!("{}-{}", &w.0[..6], &w.0[6..]));
                expect.push((w.0.clone(), Status::Found));
            }
            1 => {
                lines.push(unknown.clone());
                expect.push((unknown.clone(), Status::NotFound));
            }
            2 => {
                lines.push("3213011234".to_owned());
                expect.push(("3213011234".to_owned(), Status::Invalid));
                lines.push(String::new());
            }
            3 => {
                lines.push("abc".to_owned());
                expect.push(("abc".to_owned(), Status::Invalid));
            }
            _ => {
                lines.push(w.0.clone());
                expect.push((w.0.clone(), Status::Found));
            }
        }
    }
    let text = lines.join("\n");
    for api in APIS {
        let c = client(&run.sb, api, |s| {
            s.batch_size = 7;
            s.concurrency = 3;
        });
        let sink = Memory::default();
        let input = InputReader::new(std::io::Cursor::new(text.clone().into_bytes()));
        let summary = run
            .rt
            .block_on(batch::run(
                &c,
                input,
                Box::new(sink.clone()),
                BatchOptions::default(),
                None,
                std::future::pending(),
            ))
            .unwrap();
        let got = sink.0.lock().unwrap().clone();
        let pairs: Vec<(String, Status)> = got.iter().map(|r| (r.cpr.clone(), r.status)).collect();
        assert_eq!(pairs, expect, "{api:?}");
        assert_eq!(summary.rows(), expect.len() as u64);
        assert_eq!(
            summary.invalid,
            expect.iter().filter(|e| e.1 == Status::Invalid).count() as u64
        );
        assert_eq!(summary.error, 0);
    }
}

/// An earlier output of `records` for `then_answer`.
fn earlier(records: Vec<Earlier>, then_answer: bool) -> Continue {
    Continue {
        records: Box::new(records.into_iter().map(Ok)),
        then_answer,
        label: "--resume: out.jsonl".to_owned(),
    }
}

fn run_with(
    text: &str,
    opts: BatchOptions,
) -> (Result<batch::Summary, batch::Stopped>, Vec<Record>) {
    let run = shared();
    let c = client(&run.sb, APIS[0], |_| {});
    let sink = Memory::default();
    let input = InputReader::new(std::io::Cursor::new(text.to_owned().into_bytes()));
    let r = run.rt.block_on(batch::run(
        &c,
        input,
        Box::new(sink.clone()),
        opts,
        None,
        std::future::pending(),
    ));
    let got = sink.0.lock().unwrap().clone();
    (r, got)
}

#[test]
fn resume_skips_answered_rows_and_checks_every_one_matches() {
    let run = shared();
    let want = expected(&run.sb);
    let text: String = want.iter().take(30).map(|w| format!("{}\n", w.0)).collect();
    let written = |range: std::ops::Range<usize>| -> Vec<Earlier> {
        range
            .map(|i| Earlier::Written {
                cpr: want[i].0.clone(),
            })
            .collect()
    };
    let opts = BatchOptions {
        earlier: Some(earlier(written(0..10), true)),
        ..BatchOptions::default()
    };
    let (s, got) = run_with(&text, opts);
    let s = s.unwrap();
    assert_eq!((s.rows(), s.skipped), (20, 10));
    assert_eq!(got[0].cpr, want[10].0);
    // The first record is for another number (the last one matches): refused,
    // nothing written.
    let mut other = written(0..10);
    other[0] = Earlier::Written {
        cpr: want[20].0.clone(),
    };
    for (what, records) in [
        ("another first row", other),
        (
            "more records than rows",
            written(0..30).into_iter().chain(written(0..5)).collect(),
        ),
    ] {
        let opts = BatchOptions {
            earlier: Some(earlier(records, true)),
            ..BatchOptions::default()
        };
        let (r, got) = run_with(&text, opts);
        let err = r.unwrap_err();
        assert!(
            err.error.to_string().contains("--resume"),
            "{what}: {}",
            err.error
        );
        assert!(
            !err.error.to_string().contains(&want[20].0),
            "{what}: unmasked: {}",
            err.error
        );
        assert!(got.is_empty(), "{what}");
    }
}

#[test]
fn retry_keeps_the_answered_rows_and_asks_the_error_rows_again() {
    let run = shared();
    let want = expected(&run.sb);
    let text: String = want.iter().take(12).map(|w| format!("{}\n", w.0)).collect();
    let records: Vec<Earlier> = (0..12)
        .map(|i| {
            if i % 4 == 1 {
                Earlier::Ask {
                    cpr: want[i].0.clone(),
                }
            } else {
                let mut r = Record::not_found(&cprlink_lookup::Cpr::parse(&want[i].0).unwrap());
                r.name = Some(format!("kept {i}"));
                Earlier::Keep(r)
            }
        })
        .collect();
    let opts = BatchOptions {
        earlier: Some(earlier(records.clone(), false)),
        ..BatchOptions::default()
    };
    let (s, got) = run_with(&text, opts);
    let s = s.unwrap();
    assert_eq!((s.kept, s.found, s.rows()), (9, 3, 3));
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.cpr, want[i].0);
        if i % 4 == 1 {
            assert_eq!(r.status, Status::Found, "row {i}");
            assert_eq!(r.name.as_deref(), Some(want[i].1.as_str()));
        } else {
            assert_eq!(r.name.as_deref(), Some(format!("kept {i}").as_str()));
        }
    }
    // A shorter earlier output is refused unless the rest is to be answered.
    let short: Vec<Earlier> = records[..8].to_vec();
    let opts = BatchOptions {
        earlier: Some(earlier(short.clone(), false)),
        ..BatchOptions::default()
    };
    let err = run_with(&text, opts).0.unwrap_err();
    assert!(
        err.error.to_string().contains("ends after 8 records"),
        "{}",
        err.error
    );
    let opts = BatchOptions {
        earlier: Some(earlier(short, true)),
        ..BatchOptions::default()
    };
    let s = run_with(&text, opts).0.unwrap();
    assert_eq!((s.kept, s.rows()), (6, 6));
    // The same check without a run, for inputs that can be read twice.
    let rows = InputReader::new(std::io::Cursor::new(text.clone().into_bytes()));
    assert_eq!(
        batch::check_earlier(rows, earlier(records, false)).unwrap(),
        12
    );
}
