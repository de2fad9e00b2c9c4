//! Shared helpers for the binary's integration tests.

use std::path::PathBuf;

/// The project's test data (`testdata/` at the root: the real public OCES3 certificates).
pub(crate) fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// The `cprlink` binary under test, with a clean environment for config discovery.
pub(crate) fn cprlink() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("cprlink").expect("binary built");
    cmd.env_remove("CPRLINK_CONFIG")
        .env_remove("CPRLINK_NO_INPUT")
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", "/nonexistent-cprlink-test");
    cmd
}
