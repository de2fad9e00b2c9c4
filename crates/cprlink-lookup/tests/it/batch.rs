//! The streaming runner: every row answered once, in order.

use std::sync::{Arc, Mutex};

use cprlink_lookup::batch::{self, BatchOptions, RecordSink};
use cprlink_lookup::input::InputReader;
use cprlink_lookup::{Record, Status};

use crate::support::{APIS, client, expected, shared};

/// Keeps what was written, for the test to read.
#[derive(Clone, Default)]
pub struct Memory(pub Arc<Mutex<Vec<Record>>>);

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

#[test]
fn resume_skips_answered_rows_and_checks_the_input_matches() {
    let run = shared();
    let want = expected(&run.sb);
    let text: String = want.iter().take(30).map(|w| format!("{}\n", w.0)).collect();
    let c = client(&run.sb, APIS[0], |_| {});
    let sink = Memory::default();
    let opts = BatchOptions {
        skip: 10,
        resume_check: Some(want[9].0.clone()),
        ..BatchOptions::default()
    };
    let input = InputReader::new(std::io::Cursor::new(text.clone().into_bytes()));
    let s = run
        .rt
        .block_on(batch::run(
            &c,
            input,
            Box::new(sink.clone()),
            opts,
            None,
            std::future::pending(),
        ))
        .unwrap();
    assert_eq!((s.rows(), s.skipped), (20, 10));
    assert_eq!(sink.0.lock().unwrap()[0].cpr, want[10].0);
    // A different input: refused, nothing written.
    let sink = Memory::default();
    let opts = BatchOptions {
        skip: 10,
        resume_check: Some(want[3].0.clone()),
        ..BatchOptions::default()
    };
    let input = InputReader::new(std::io::Cursor::new(text.into_bytes()));
    let err = run
        .rt
        .block_on(batch::run(
            &c,
            input,
            Box::new(sink.clone()),
            opts,
            None,
            std::future::pending(),
        ))
        .unwrap_err();
    assert!(err.error.to_string().contains("--resume"), "{}", err.error);
    assert!(sink.0.lock().unwrap().is_empty());
}
