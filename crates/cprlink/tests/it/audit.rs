//! The audit trail: what `lookup` and `serve` write into it (keyed hashes, a chain of
//! MACs, a key kept apart from the log), and `cprlink audit find|verify|prune`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cprlink_cert::openssl;

use crate::lookup::{Running, shared};

/// A log in `dir/logs/` and its key in `dir/keys/`, as an operator would keep them.
pub struct Trail {
    pub log: PathBuf,
    pub key: PathBuf,
}

pub fn trail(dir: &Path) -> Trail {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    Trail {
        log: dir.join("logs").join("audit.jsonl"),
        key: dir.join("keys").join("audit.key"),
    }
}

impl Trail {
    /// `cprlink ... ` with this trail configured through the environment.
    pub fn cprlink(&self, run: &Running) -> assert_cmd::Command {
        let mut c = run.cprlink();
        c.env("CPRLINK_LOOKUP_AUDIT_LOG", &self.log)
            .env("CPRLINK_LOOKUP_AUDIT_KEY_FILE", &self.key);
        c
    }

    pub fn entries(&self) -> Vec<serde_json::Value> {
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
