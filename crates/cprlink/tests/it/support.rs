//! Shared helpers for the binary's integration tests.

use std::path::PathBuf;

/// `../shared` beside the checkout (CI provides it there); `CPRLINK_SHARED_DIR` overrides.
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CPRLINK_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The `cprlink` binary under test, with a clean environment for config discovery.
pub fn cprlink() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("cprlink").expect("binary built");
    cmd.env_remove("CPRLINK_CONFIG")
        .env_remove("CPRLINK_NO_INPUT")
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", "/nonexistent-cprlink-test");
    cmd
}
