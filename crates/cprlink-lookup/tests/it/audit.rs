//! The audit trail read back as evidence: `find` among thousands of entries, `verify`
//! against each kind of tampering, and `prune` (also while writers append).

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use cprlink_lookup::Cpr;
use cprlink_lookup::Status;
use cprlink_lookup::audit::{self, AuditKey, AuditLog, ProblemKind};

/// A trail in `dir/logs/` and its key in `dir/keys/`, as an operator keeps them.
struct Trail {
    _dir: tempfile::TempDir,
    log: PathBuf,
    key: PathBuf,
}

fn trail() -> Trail {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    Trail {
        log: dir.path().join("logs").join("audit.jsonl"),
        key: dir.path().join("keys").join("audit.key"),
        _dir: dir,
    }
}

impl Trail {
    fn writer(&self, purpose: &str) -> AuditLog {
        AuditLog::open(&self.log, &self.key, Some(purpose.to_owned())).unwrap()
    }

    fn key(&self) -> AuditKey {
        AuditKey::open(&self.key, false).unwrap()
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The `i`-th of many distinct valid numbers (days 1-28, so every one is a date).
fn nth_cpr(i: u32) -> Cpr {
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    let year = 40 + (i / 336) % 50;
    let seq = 1000 + i % 9000;
    Cpr::parse(&format!("{day:02}{month:02}{year:02}{seq:04}")).unwrap()
}

/// Writes `lines` to a copy of the trail and verifies it: (line, kind) of each problem.
fn verify_text(t: &Trail, name: &str, lines: &[String], end: &str) -> Vec<(u64, ProblemKind)> {
    let copy = t.log.with_file_name(name);
    std::fs::write(&copy, format!("{}{end}", lines.join("\n"))).unwrap();
    let v = audit::verify(&copy, &t.key()).unwrap();
    v.problems.iter().map(|p| (p.line, p.kind)).collect()
}

fn twelve(t: &Trail) -> Vec<String> {
    let w = t.writer("mailing");
    for i in 0..12 {
        w.record(&nth_cpr(i), Status::Found, "rest").unwrap();
    }
    t.lines()
}

#[test]
fn find_finds_exactly_the_lookups_of_one_person_among_thousands() {
    let t = trail();
    let target = Cpr::parse("0703851234").unwrap();
    // Thousands of others, among them every other number with the same masked
    // prefix (070385-xxxx): only the key tells them apart.
    let mut others: Vec<Cpr> = (0..10_000u32)
        .filter(|s| *s != 1234)
        .map(|s| Cpr::parse(&format!("070385{s:04}")).unwrap())
        .collect();
    others.extend((0..3000).map(nth_cpr));
    let a = t.writer("mailing 2026");
    let b = t.writer("inkasso");
    let mut want_lines = Vec::new();
    let mut line = 0u64;
    for (i, chunk) in others.chunks(20).enumerate() {
        let mut batch: Vec<(Cpr, Status)> = chunk.iter().map(|c| (*c, Status::Found)).collect();
        if i % 97 == 3 {
            batch.insert(7, (target, Status::NotFound));
            want_lines.push(line + 8);
        }
        line += batch.len() as u64;
        let w = if i % 2 == 0 { &a } else { &b };
        w.record_all(&batch, if i % 3 == 0 { "graphql" } else { "rest" })
            .unwrap();
    }
    assert!(want_lines.len() >= 7, "{want_lines:?}");
    let key = t.key();
    let found = audit::find(&t.log, &key, &target, None).unwrap().lookups;
    let lines: Vec<u64> = found.iter().map(|f| f.line).collect();
    assert_eq!(lines, want_lines);
    for f in &found {
        assert_eq!(f.outcome, "not_found");
        assert!(f.intact);
        assert!(
            f.purpose.as_deref() == Some("mailing 2026") || f.purpose.as_deref() == Some("inkasso")
        );
        assert!(!f.operator.is_empty());
    }
    // One of the others, found once; a number never looked up, not at all.
    let one = audit::find(&t.log, &key, &others[4321], None)
        .unwrap()
        .lookups;
    assert_eq!(one.len(), 1);
    let never = Cpr::parse("0101990001").unwrap();
    assert!(
        audit::find(&t.log, &key, &never, None)
            .unwrap()
            .lookups
            .is_empty()
    );
    // --since: none after now; all since a minute ago.
    let later = Utc::now() + chrono::Duration::seconds(1);
    assert!(
        audit::find(&t.log, &key, &target, Some(later))
            .unwrap()
            .lookups
            .is_empty()
    );
    let earlier = Utc::now() - chrono::Duration::minutes(1);
    assert_eq!(
        audit::find(&t.log, &key, &target, Some(earlier))
            .unwrap()
            .lookups
            .len(),
        want_lines.len()
    );
    assert!(audit::verify(&t.log, &key).unwrap().ok());
}

#[test]
fn verify_reports_each_kind_of_tampering_by_line() {
    let t = trail();
    let good = twelve(&t);
    let v = audit::verify(&t.log, &t.key()).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(
        (v.entries, v.first_seq, v.last_seq),
        (12, Some(1), Some(12))
    );

    // Changed: an outcome rewritten.
    let mut changed = good.clone();
    changed[4] = changed[4].replace("\"outcome\":\"found\"", "\"outcome\":\"not_found\"");
    assert_ne!(changed[4], good[4]);
    assert_eq!(
        verify_text(&t, "changed", &changed, "\n"),
        [(5, ProblemKind::Changed)]
    );
    // Changed with a MAC made up for it: that line, and the next no longer follows.
    let mut remac = good.clone();
    let at = remac[4].rfind("\"mac\":\"").unwrap() + 7;
    remac[4].replace_range(at..at + 64, &"ab".repeat(32));
    assert_eq!(
        verify_text(&t, "remac", &remac, "\n"),
        [(5, ProblemKind::Changed), (6, ProblemKind::Changed)]
    );
    // Removed: entry 5 gone, so line 5 holds entry 6.
    let mut removed = good.clone();
    removed.remove(4);
    assert_eq!(
        verify_text(&t, "removed", &removed, "\n"),
        [(5, ProblemKind::Removed)]
    );
    // Several removed in a row: one finding.
    let mut gap = good.clone();
    gap.drain(3..7);
    assert_eq!(
        verify_text(&t, "gap", &gap, "\n"),
        [(4, ProblemKind::Removed)]
    );
    // Reordered: lines 4 and 5 swapped; an entry moved to the end.
    let mut swapped = good.clone();
    swapped.swap(3, 4);
    assert_eq!(
        verify_text(&t, "swapped", &swapped, "\n"),
        [(4, ProblemKind::Reordered), (5, ProblemKind::Reordered)]
    );
    let mut moved = good.clone();
    let second = moved.remove(1);
    moved.push(second);
    assert_eq!(
        verify_text(&t, "moved", &moved, "\n"),
        [(2, ProblemKind::Reordered), (12, ProblemKind::Reordered)]
    );
    // Duplicated: an entry copied to the end.
    let mut copied = good.clone();
    copied.push(good[2].clone());
    assert_eq!(
        verify_text(&t, "copied", &copied, "\n"),
        [(13, ProblemKind::Duplicated)]
    );
    // The start removed, with no prune marker to say why.
    assert_eq!(
        verify_text(&t, "start", &good[2..], "\n"),
        [(1, ProblemKind::StartRemoved)]
    );
    // Truncated: the file cut in the middle of its last line.
    let mut cut = good.clone();
    let last = cut.pop().unwrap();
    cut.push(last[..last.len() / 2].to_owned());
    assert_eq!(
        verify_text(&t, "cut", &cut, ""),
        [(12, ProblemKind::Truncated)]
    );
    // An entry in the middle cut short: that line, and the entry it held is missing.
    let mut halved = good.clone();
    halved[5].truncate(90);
    assert_eq!(
        verify_text(&t, "halved", &halved, "\n"),
        [(6, ProblemKind::Truncated), (7, ProblemKind::Removed)]
    );
    // Appended garbage, with or without a line end; a forged entry.
    let mut garbage = good.clone();
    garbage.push("rm -rf / # oops".to_owned());
    assert_eq!(
        verify_text(&t, "garbage", &garbage, "\n"),
        [(13, ProblemKind::NotAnEntry)]
    );
    assert_eq!(
        verify_text(&t, "garbage2", &garbage, ""),
        [(13, ProblemKind::NotAnEntry)]
    );
    let forged = good[11]
        .replace("\"seq\":12", "\"seq\":13")
        .replace("\"outcome\":\"found\"", "\"outcome\":\"error\"");
    let mut appended = good.clone();
    appended.push(forged);
    assert_eq!(
        verify_text(&t, "forged", &appended, "\n"),
        [(13, ProblemKind::Changed), (13, ProblemKind::Changed)]
    );
    // Whole entries cut from the end leave a valid chain: the head says it, against
    // the one recorded before.
    let v = audit::verify(&t.log, &t.key()).unwrap();
    let copy = t.log.with_file_name("shorter");
    std::fs::write(&copy, format!("{}\n", good[..10].join("\n"))).unwrap();
    let shorter = audit::verify(&copy, &t.key()).unwrap();
    assert!(shorter.ok());
    assert_eq!(shorter.last_seq, Some(10));
    assert_ne!(shorter.head, v.head);
    // Another key: every line is changed.
    let other = tempfile::tempdir().unwrap();
    let k2 = AuditKey::open(&other.path().join("k"), true).unwrap();
    assert_eq!(audit::verify(&t.log, &k2).unwrap().problems.len(), 12);
}

#[test]
fn prune_drops_the_older_entries_and_the_rest_still_verifies() {
    let t = trail();
    let w = t.writer("old");
    let batch = |from: u32| -> Vec<(Cpr, Status)> {
        (from..from + 10)
            .map(|i| (nth_cpr(i), Status::Found))
            .collect()
    };
    w.record_all(&batch(0), "rest").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let first_cut = Utc::now();
    std::thread::sleep(Duration::from_millis(20));
    w.record_all(&batch(10), "rest").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let second_cut = Utc::now();
    std::thread::sleep(Duration::from_millis(20));
    w.record_all(&batch(20), "rest").unwrap();
    let key = t.key();
    let head = audit::verify(&t.log, &key).unwrap().head;

    // Nothing older: nothing changes.
    let before = std::fs::read(&t.log).unwrap();
    let p = audit::prune(&t.log, &key, first_cut - chrono::Duration::hours(1)).unwrap();
    assert_eq!((p.dropped, p.kept), (0, 30));
    assert_eq!(std::fs::read(&t.log).unwrap(), before);

    let p = audit::prune(&t.log, &key, first_cut).unwrap();
    assert_eq!((p.dropped, p.kept), (10, 20));
    let v = audit::verify(&t.log, &key).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.entries, 20);
    assert_eq!(v.first_seq, Some(11));
    assert_eq!(v.head, head, "the head is kept");
    let c = v.cut.clone().unwrap();
    assert_eq!((c.dropped, c.after_seq), (10, 10));
    let gone = audit::find(&t.log, &key, &nth_cpr(3), None).unwrap();
    assert!(gone.lookups.is_empty());
    assert_eq!(gone.pruned.map(|c| c.dropped), Some(10));
    let kept = audit::find(&t.log, &key, &nth_cpr(13), None).unwrap();
    assert_eq!(kept.lookups.len(), 1);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&t.log).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The open writer follows the replaced file and chains on; a second prune counts
    // every entry dropped so far.
    w.record(&nth_cpr(99), Status::NotFound, "rest").unwrap();
    let p = audit::prune(&t.log, &key, second_cut).unwrap();
    assert_eq!((p.dropped, p.kept), (10, 11));
    let v = audit::verify(&t.log, &key).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!((v.first_seq, v.last_seq), (Some(21), Some(31)));
    assert_eq!(v.cut.as_ref().map(|c| c.dropped), Some(20));

    // The marker cannot be removed or changed unseen.
    let lines = t.lines();
    assert!(lines[0].contains("\"event\":\"pruned\""), "{}", lines[0]);
    assert_eq!(
        verify_text(&t, "nomarker", &lines[1..], "\n"),
        [(1, ProblemKind::StartRemoved)]
    );
    let mut bigger = lines.clone();
    bigger[0] = bigger[0].replace("\"dropped\":20", "\"dropped\":2");
    assert_eq!(
        verify_text(&t, "marker", &bigger, "\n"),
        [(1, ProblemKind::Changed)]
    );

    // Everything older: only the marker stays, and the next entry still links.
    let p = audit::prune(&t.log, &key, Utc::now()).unwrap();
    assert_eq!((p.dropped, p.kept), (11, 0));
    assert_eq!(t.lines().len(), 1);
    w.record(&nth_cpr(100), Status::Found, "rest").unwrap();
    let v = audit::verify(&t.log, &key).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!((v.entries, v.last_seq), (1, Some(32)));

    // A trail that does not verify is not pruned (that would hide what is wrong).
    let mut broken = t.lines();
    broken[1] = broken[1].replace("\"outcome\":\"found\"", "\"outcome\":\"error\"");
    std::fs::write(&t.log, format!("{}\n", broken.join("\n"))).unwrap();
    let before = std::fs::read(&t.log).unwrap();
    let e = audit::prune(&t.log, &key, Utc::now()).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    assert_eq!(std::fs::read(&t.log).unwrap(), before);
}

/// Runs `writers` threads (each with its own open trail, as separate processes would)
/// that append until another thread, pruning everything older than now again and
/// again, has cut the trail at least `cuts` times, while a third verifies it again and
/// again. Returns the trail and how many entries were written.
fn prune_while_writing(writers: u32, cuts: u64) -> (Trail, u64) {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let t = trail();
    t.writer("start"); // makes the key and the file
    let done = AtomicBool::new(false);
    let written = AtomicU64::new(0);
    std::thread::scope(|s| {
        for n in 0..writers {
            let (log, key) = (t.log.clone(), t.key.clone());
            let (done, written) = (&done, &written);
            s.spawn(move || {
                let w = AuditLog::open(&log, &key, Some(format!("writer {n}"))).unwrap();
                let mut i = 0;
                while !done.load(Ordering::SeqCst) || i < 50 {
                    w.record(&nth_cpr(n * 5000 + i % 5000), Status::Found, "rest")
                        .unwrap();
                    written.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
            });
        }
        // A reader alongside: it sees the trail between two writes, whole, every time.
        let checks = s.spawn(|| {
            let key = t.key();
            let mut checks = 0u32;
            while !done.load(Ordering::SeqCst) {
                let v = audit::verify(&t.log, &key).unwrap();
                assert!(v.ok(), "verify while writing: {:?}", v.problems);
                checks += 1;
            }
            checks
        });
        let key = t.key();
        let mut made = 0;
        while made < cuts {
            if audit::prune(&t.log, &key, Utc::now()).unwrap().dropped > 0 {
                made += 1;
            }
        }
        done.store(true, Ordering::SeqCst);
        assert!(checks.join().unwrap() > 0);
    });
    let n = written.load(Ordering::SeqCst);
    (t, n)
}

#[test]
fn prune_while_writers_append_loses_no_entry() {
    let (t, total) = prune_while_writing(3, 40);
    let key = t.key();
    let v = audit::verify(&t.log, &key).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    // Every entry is either still there or counted by the marker, and the chain has
    // every sequence number from the marker's to the last (an entry appended to a file
    // already replaced would be missing, and the next writer would reuse its number).
    let dropped = v.cut.as_ref().map_or(0, |c| c.dropped);
    let after = v.cut.as_ref().map_or(0, |c| c.after_seq);
    // (The last prune may have dropped every entry: then the marker holds the last.)
    assert_eq!(v.last_seq.unwrap_or(after), total, "{v:?}");
    assert_eq!(dropped, after);
    assert_eq!(dropped + v.entries, total);
}

#[test]
fn a_forged_entry_number_near_the_end_of_the_range_neither_hangs_verify_nor_breaks_the_writer() {
    let t = trail();
    let good = twelve(&t);
    let huge = u64::MAX - 615;
    let mut forged = good.clone();
    forged.insert(
        1,
        good[1].replace("\"seq\":2,", &format!("\"seq\":{huge},")),
    );
    let copy = t.log.with_file_name("forged-seq");
    std::fs::write(&copy, format!("{}\n", forged.join("\n"))).unwrap();
    // The gap before it spans almost every number there is: it is counted over the
    // entries that exist, not walked number by number (that took practically forever).
    let key = t.key();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(audit::verify(&copy, &key).map(|v| v.problems));
    });
    let problems = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("verify finished")
        .unwrap();
    assert!(
        problems.iter().any(|p| p.line == 2),
        "the forged line is reported: {problems:?}"
    );
    // A writer taking up such an end refuses to wrap around to entry 0.
    let mut last = good.clone();
    last.push(good[11].replace("\"seq\":12,", &format!("\"seq\":{},", u64::MAX)));
    std::fs::write(&t.log, format!("{}\n", last.join("\n"))).unwrap();
    let w = t.writer("mailing");
    let err = w.record(&nth_cpr(99), Status::Found, "rest").unwrap_err();
    assert!(err.to_string().contains("largest there is"), "{err}");
    assert_eq!(t.lines().len(), 13, "nothing was appended");
}
