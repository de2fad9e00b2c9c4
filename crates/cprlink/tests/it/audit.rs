//! The audit trail: what `lookup` and `serve` write into it (keyed hashes, a chain of
//! MACs, a key kept apart from the log), and `cprlink audit find|verify|prune`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cprlink_cert::openssl;

use crate::lookup::{Running, shared};

/// A log in `dir/logs/` and its key in `dir/keys/`, as an operator would keep them.
pub(crate) struct Trail {
    pub log: PathBuf,
    pub key: PathBuf,
}

pub(crate) fn trail(dir: &Path) -> Trail {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    Trail {
        log: dir.join("logs").join("audit.jsonl"),
        key: dir.join("keys").join("audit.key"),
    }
}

impl Trail {
    /// `cprlink ... ` with this trail configured through the environment.
    pub(crate) fn cprlink(&self, run: &Running) -> assert_cmd::Command {
        let mut c = run.cprlink();
        c.env("CPRLINK_LOOKUP_AUDIT_LOG", &self.log)
            .env("CPRLINK_LOOKUP_AUDIT_KEY_FILE", &self.key);
        c
    }

    pub(crate) fn entries(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = openssl::sha::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finish().iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    let pkey = openssl::pkey::PKey::hmac(key).unwrap();
    let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
    s.update(data).unwrap();
    s.sign_to_vec()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn lookups_are_recorded_masked_keyed_and_chained_with_their_purpose() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let t = trail(dir.path());
    t.cprlink(run)
        .args([
            "lookup",
            "--purpose",
            "test mailing",
            &want[0].0,
            &want[1].0,
            "3213011234",
        ])
        .assert()
        .code(1);
    let entries = t.entries();
    // The invalid number was never sent, so it is not in the trail.
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["v"], 2);
    assert_eq!(entries[0]["seq"], 1);
    assert_eq!(entries[0]["purpose"], "test mailing");
    assert_eq!(entries[0]["outcome"], "found");
    assert_eq!(
        entries[0]["cpr_masked"],
        format!("{}-xxxx", &want[0].0[..6])
    );
    assert_eq!(entries[1]["prev"], entries[0]["mac"]);
    let text = std::fs::read_to_string(&t.log).unwrap();
    // (Not cpr_like(): the hex of a hash may hold ten digits in a row.)
    for w in &want[..2] {
        assert!(!text.contains(&w.0), "a CPR number in the audit trail");
    }
    assert!(!text.contains(&want[0].1), "a name in the audit trail");
    assert_eq!(mode_of(&t.log), 0o600);
    // The key was made on first use, 0600, apart from the log; no salt beside the log.
    assert_eq!(mode_of(&t.key), 0o600);
    let beside: Vec<String> = std::fs::read_dir(t.log.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside, ["audit.jsonl"]);
    // A second run chains on.
    t.cprlink(run).args(["lookup", &want[2].0]).assert().code(0);
    let entries = t.entries();
    assert_eq!(entries[2]["seq"], 3);
    assert_eq!(entries[2]["prev"], entries[1]["mac"]);
}

#[test]
fn the_trail_alone_does_not_reveal_the_number() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let t = trail(dir.path());
    t.cprlink(run)
        .args(["lookup", "--purpose", "x", &want[4].0])
        .assert()
        .code(0);
    let e = &t.entries()[0];
    let hash = e["cpr_hash"].as_str().unwrap();
    let prefix = &e["cpr_masked"].as_str().unwrap()[..6];
    // Every text in the entry and every file beside the log (where the old trail kept
    // its salt), as a would-be salt, and none.
    let beside = std::fs::read_dir(t.log.parent().unwrap())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .flat_map(|text| [text.trim().to_owned(), text]);
    let salts: Vec<String> = e
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .chain(beside)
        .chain([String::new()])
        .collect();
    for suffix in 0..10_000 {
        let candidate = format!("{prefix}{suffix:04}");
        for salt in &salts {
            for parts in [
                [salt.as_bytes(), candidate.as_bytes()],
                [candidate.as_bytes(), salt.as_bytes()],
            ] {
                assert_ne!(sha256_hex(&parts), hash, "matched without the key");
            }
        }
    }
    let key_hex = std::fs::read_to_string(&t.key).unwrap();
    let key: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&key_hex.trim()[i..i + 2], 16).unwrap())
        .collect();
    let mut with_key = Vec::new();
    for suffix in 0..10_000 {
        let candidate = format!("{prefix}{suffix:04}");
        let mut data = b"cpr\0".to_vec();
        data.extend_from_slice(candidate.as_bytes());
        if hmac_hex(&key, &data) == hash {
            with_key.push(candidate);
        }
    }
    // With the key, exactly the one number.
    assert_eq!(with_key, [want[4].0.clone()]);
}

#[test]
fn a_key_beside_the_log_and_an_old_salted_trail_are_refused() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let t = trail(dir.path());
    let beside = Trail {
        log: t.log.clone(),
        key: t.log.with_file_name("audit.key"),
    };
    let o = beside
        .cprlink(run)
        .args(["lookup", &want[0].0])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("directory of the trail"), "{stderr}");
    assert!(stderr.contains("Hint:"), "{stderr}");
    assert!(o.stdout.is_empty(), "a lookup ran without its trail");
    assert!(!beside.key.exists());
    // A trail of the old format (salted, no chain) is left alone.
    let old = "{\"time\":\"2025-03-01T09:12:44.120Z\",\"purpose\":null,\"operator\":\"jdoe\",\"cpr_masked\":\"071261-xxxx\",\"cpr_hash\":\"5f0c\",\"outcome\":\"found\",\"api\":\"rest\"}\n";
    std::fs::write(&t.log, old).unwrap();
    let o = t
        .cprlink(run)
        .args(["lookup", &want[0].0])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("old format"), "{stderr}");
    assert!(stderr.contains("mv "), "{stderr}");
    assert_eq!(std::fs::read_to_string(&t.log).unwrap(), old);
}

// ---- cprlink audit find | verify | prune -------------------------------------------

use cprlink_lookup::audit::AuditLog;
use cprlink_lookup::{Cpr, Status};

fn stdout_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `cprlink audit ARGS` on this trail; `code` is the exit code expected.
fn audit_cmd(t: &Trail, run: &Running, args: &[&str], code: i32) -> std::process::Output {
    t.cprlink(run)
        .arg("audit")
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .clone()
}

/// A real lookup through the binary, by `operator` for `purpose`.
fn looked_up(t: &Trail, run: &Running, operator: &str, purpose: &str, cprs: &[&str]) {
    t.cprlink(run)
        .env("USER", operator)
        .args(["lookup", "--purpose", purpose])
        .args(cprs)
        .assert()
        .code(0);
}

#[test]
fn audit_find_finds_exactly_the_lookups_of_one_person_among_thousands() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let t = trail(dir.path());
    let (person, other) = (&want[7].0, &want[8].0);
    looked_up(&t, run, "caseworker1", "mailing 2026", &[person, other]);
    looked_up(&t, run, "caseworker2", "inkasso", &[other, person]);
    looked_up(&t, run, "caseworker1", "mailing 2026", &[other]);
    // Thousands more through the library's writer: every other number with the same
    // masked prefix (only the key tells them apart), and the whole population.
    let target = Cpr::parse(person).unwrap();
    let mut bulk: Vec<(Cpr, Status)> = (0..10_000)
        .map(|s| Cpr::parse(&format!("{}{s:04}", &person[..6])).unwrap())
        .filter(|c| *c != target)
        .map(|c| (c, Status::NotFound))
        .collect();
    bulk.extend(
        want.iter()
            .filter(|w| w.0 != *person)
            .map(|w| (Cpr::parse(&w.0).unwrap(), Status::Found)),
    );
    let w = AuditLog::open(&t.log, &t.key, Some("bulk run".to_owned())).unwrap();
    for chunk in bulk.chunks(20) {
        w.record_all(chunk, "graphql").unwrap();
    }
    drop(w);
    looked_up(&t, run, "caseworker3", "after the bulk run", &[person]);
    assert!(t.entries().len() > 10_000);

    let o = audit_cmd(&t, run, &["find", person, "--json"], 0);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<(String, String, String)> = doc["lookups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["intact"], true);
            assert!(l["time"].as_str().unwrap().ends_with('Z'));
            (
                l["operator"].as_str().unwrap().to_owned(),
                l["purpose"].as_str().unwrap().to_owned(),
                l["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |o: &str, p: &str| (o.to_owned(), p.to_owned(), "found".to_owned());
    assert_eq!(
        got,
        [
            row("caseworker1", "mailing 2026"),
            row("caseworker2", "inkasso"),
            row("caseworker3", "after the bulk run"),
        ]
    );
    assert_eq!(doc["cpr_masked"], format!("{}-xxxx", &person[..6]));
    for text in [stdout_of(&o), stderr_of(&o)] {
        assert!(
            !text.contains(person.as_str()),
            "the number unmasked: {text}"
        );
    }

    // As a table, and with the number spelled DDMMYY-SSSS.
    let dashed = format!("{}-{}", &person[..6], &person[6..]);
    let o = audit_cmd(&t, run, &["find", &dashed], 0);
    let out = stdout_of(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("TIME "), "{out}");
    assert!(lines[0].contains("OPERATOR") && lines[0].contains("PURPOSE"));
    assert!(lines[2].contains("caseworker2") && lines[2].contains("inkasso"));
    assert!(stderr_of(&o).contains(&format!("3 lookups of {}-xxxx", &person[..6])));
    assert!(!out.contains(person.as_str()) && !out.contains(&dashed));

    // The other person: three lookups by hand and one in the bulk run; a number of
    // the bulk run only: that one.
    let o = audit_cmd(&t, run, &["find", other, "--json"], 0);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let purposes: Vec<&str> = doc["lookups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(
        purposes,
        ["mailing 2026", "inkasso", "mailing 2026", "bulk run"]
    );
    let some = bulk[1234].0.as_str().to_owned();
    let o = audit_cmd(&t, run, &["find", &some, "--json"], 0);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["lookups"][0]["purpose"], "bulk run");
    assert_eq!(doc["lookups"].as_array().unwrap().len(), 1);

    // --since after the last lookup: none (an answer too: exit 0, nothing on stdout).
    let later = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let o = audit_cmd(&t, run, &["find", person, "--since", &later], 0);
    assert!(o.stdout.is_empty());
    assert!(stderr_of(&o).contains("no lookups of"), "{}", stderr_of(&o));
    let o = audit_cmd(
        &t,
        run,
        &["find", person, "--since", "2020-01-01", "--json"],
        0,
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["lookups"].as_array().unwrap().len(), 3);
    assert_eq!(doc["since"], "2020-01-01T00:00:00Z");

    // An invalid number or date: exit 2, never echoed whole.
    let o = audit_cmd(&t, run, &["find", "3213011234"], 2);
    let err = stderr_of(&o);
    assert!(
        err.contains("321301-xxxx") && !err.contains("3213011234"),
        "{err}"
    );
    assert!(err.contains("Hint:"), "{err}");
    let o = audit_cmd(&t, run, &["find", person, "--since", person], 2);
    let err = stderr_of(&o);
    assert!(
        err.contains("not a date") && !err.contains(person.as_str()),
        "{err}"
    );

    // The whole trail, written by four processes and the library, verifies.
    let o = audit_cmd(&t, run, &["verify"], 0);
    assert!(stdout_of(&o).starts_with("ok "), "{}", stdout_of(&o));
}

/// A trail of `n` entries written by the library, and its lines.
fn written(dir: &Path, n: u32) -> (Trail, Vec<String>) {
    let t = trail(dir);
    let w = AuditLog::open(&t.log, &t.key, Some("check".to_owned())).unwrap();
    for i in 0..n {
        let cpr = Cpr::parse(&format!("{:02}0190{:04}", 1 + i % 28, 1000 + i)).unwrap();
        w.record(&cpr, Status::Found, "rest").unwrap();
    }
    let lines = std::fs::read_to_string(&t.log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (t, lines)
}

#[test]
fn audit_verify_reports_each_kind_of_tampering_by_line_and_exits_1() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let (t, good) = written(dir.path(), 10);
    let o = audit_cmd(&t, run, &["verify"], 0);
    let out = stdout_of(&o);
    assert!(out.contains("10 entries (entries 1 to 10)"), "{out}");
    assert!(out.contains("head: entry 10, mac "), "{out}");

    let tampered = |name: &str, lines: &[String], end: &str| {
        let copy = Trail {
            log: t.log.with_file_name(format!("{name}.jsonl")),
            key: t.key.clone(),
        };
        std::fs::write(&copy.log, format!("{}{end}", lines.join("\n"))).unwrap();
        copy
    };
    let mut changed = good.clone();
    changed[3] = changed[3].replace("\"purpose\":\"check\"", "\"purpose\":\"other\"");
    let mut removed = good.clone();
    removed.remove(5);
    let mut reordered = good.clone();
    reordered.swap(6, 7);
    let mut truncated = good.clone();
    let last = truncated.pop().unwrap();
    truncated.push(last[..100].to_owned());
    let mut garbage = good.clone();
    garbage.push("not an entry".to_owned());
    /// (name, lines, the file's end, the problems expected: line and kind).
    type Case<'a> = (&'a str, Vec<String>, &'a str, Vec<(u64, &'a str)>);
    let cases: [Case<'_>; 5] = [
        ("changed", changed, "\n", vec![(4, "changed")]),
        ("removed", removed, "\n", vec![(6, "removed")]),
        (
            "reordered",
            reordered,
            "\n",
            vec![(7, "reordered"), (8, "reordered")],
        ),
        ("truncated", truncated, "", vec![(10, "truncated")]),
        ("garbage", garbage, "\n", vec![(11, "not_an_entry")]),
    ];
    for (name, lines, end, want) in cases {
        let copy = tampered(name, &lines, end);
        let o = audit_cmd(&copy, run, &["verify", "--json"], 1);
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(doc["ok"], false, "{name}");
        let got: Vec<(u64, String)> = doc["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["line"].as_u64().unwrap(),
                    p["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want: Vec<(u64, String)> = want.iter().map(|(l, k)| (*l, k.to_string())).collect();
        assert_eq!(got, want, "{name}");
        // The same, for people: one line per problem, then the verdict.
        let o = audit_cmd(&copy, run, &["verify"], 1);
        let out = stdout_of(&o);
        for (line, kind) in &want {
            assert!(
                out.contains(&format!("line {line}: {kind}: ")),
                "{name}: {out}"
            );
        }
        assert!(out.contains("fail "), "{name}: {out}");
    }
    // find on a changed entry says so (exit 1).
    let copy = Trail {
        log: t.log.with_file_name("changed.jsonl"),
        key: t.key.clone(),
    };
    let fourth = serde_json::from_str::<serde_json::Value>(&good[3]).unwrap();
    let prefix = &fourth["cpr_masked"].as_str().unwrap()[..6];
    let cpr = format!("{prefix}{:04}", 1003);
    let o = audit_cmd(&copy, run, &["find", &cpr], 1);
    assert!(stdout_of(&o).contains("(changed!)"), "{}", stdout_of(&o));
    assert!(stderr_of(&o).contains("line 4"), "{}", stderr_of(&o));
}

#[test]
fn audit_prune_keeps_the_trail_verifiable_and_lookups_chain_on() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let t = trail(dir.path());
    looked_up(
        &t,
        run,
        "caseworker1",
        "old mailing",
        &[&want[10].0, &want[11].0],
    );
    std::thread::sleep(std::time::Duration::from_millis(30));
    let cut = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(std::time::Duration::from_millis(30));
    looked_up(
        &t,
        run,
        "caseworker1",
        "new mailing",
        &[&want[12].0, &want[10].0],
    );

    // Not a date, a date to come, a trail that does not verify: refused, unchanged.
    let before = std::fs::read(&t.log).unwrap();
    let o = audit_cmd(&t, run, &["prune", "--before", "last year"], 2);
    assert!(stderr_of(&o).contains("YYYY-MM-DD"), "{}", stderr_of(&o));
    audit_cmd(&t, run, &["prune", "--before", "2999-01-01"], 2);
    assert_eq!(std::fs::read(&t.log).unwrap(), before);

    let o = audit_cmd(&t, run, &["prune", "--before", &cut, "--json"], 0);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (doc["dropped"].as_u64(), doc["kept"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(mode_of(&t.log), 0o600);
    let o = audit_cmd(&t, run, &["verify", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["entries"], 2);
    assert_eq!(doc["first_seq"], 3);
    assert_eq!(doc["pruned"]["dropped"], 2);
    // The old lookups are gone (and find says the trail was cut), the new ones stay.
    let o = audit_cmd(&t, run, &["find", &want[11].0], 0);
    assert!(o.stdout.is_empty());
    assert!(stderr_of(&o).contains("pruned before"), "{}", stderr_of(&o));
    let o = audit_cmd(&t, run, &["find", &want[10].0, "--json"], 0);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["lookups"].as_array().unwrap().len(), 1);
    assert_eq!(doc["lookups"][0]["purpose"], "new mailing");

    // Lookups after the prune chain on; the marker cannot go unseen.
    looked_up(&t, run, "caseworker2", "later", &[&want[13].0]);
    let o = audit_cmd(&t, run, &["verify"], 0);
    assert!(stdout_of(&o).contains("pruned before"), "{}", stdout_of(&o));
    assert!(
        stdout_of(&o).contains("entries 3 to 5"),
        "{}",
        stdout_of(&o)
    );
    let lines = t.entries();
    assert_eq!(lines[0]["event"], "pruned");
    let text = std::fs::read_to_string(&t.log).unwrap();
    let without_marker: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&t.log, &without_marker).unwrap();
    let o = audit_cmd(&t, run, &["verify"], 1);
    assert!(
        stdout_of(&o).contains("line 1: start_removed: "),
        "{}",
        stdout_of(&o)
    );
    // ... and a trail that does not verify is not pruned.
    let o = audit_cmd(&t, run, &["prune", "--before", "2020-01-01"], 2);
    assert!(stderr_of(&o).contains("line 1"), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("Hint:"), "{}", stderr_of(&o));
    assert_eq!(std::fs::read_to_string(&t.log).unwrap(), without_marker);
}

#[test]
fn audit_commands_say_what_is_missing() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let t = trail(dir.path());
    // No audit_log configured.
    let o = run
        .cprlink()
        .args(["audit", "verify"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(
        stderr_of(&o).contains("audit_log is empty"),
        "{}",
        stderr_of(&o)
    );
    assert!(stderr_of(&o).contains("Hint:"));
    // No trail there yet.
    let o = audit_cmd(&t, run, &["verify"], 2);
    assert!(
        stderr_of(&o).contains("no audit trail at"),
        "{}",
        stderr_of(&o)
    );
    // A trail, but no key: nothing can be matched or checked; none is made.
    let (t2, _) = written(&dir.path().join("second"), 2);
    std::fs::remove_file(&t2.key).unwrap();
    let o = audit_cmd(&t2, run, &["find", "0101901000"], 2);
    assert!(stderr_of(&o).contains("no key there"), "{}", stderr_of(&o));
    assert!(!t2.key.exists());
    // An old, salted trail.
    std::fs::write(
        &t.log,
        "{\"time\":\"2025-03-01T09:12:44.120Z\",\"cpr_masked\":\"071261-xxxx\",\"cpr_hash\":\"5f0c\",\"outcome\":\"found\"}\n",
    )
    .unwrap();
    cprlink_lookup::audit::AuditKey::open(&t.key, true).unwrap();
    let o = audit_cmd(&t, run, &["verify"], 2);
    assert!(stderr_of(&o).contains("old format"), "{}", stderr_of(&o));
}
