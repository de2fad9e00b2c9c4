//! `cprlink-cert` integration tests: one test binary, one module per concern. Test PKIs
//! are made once per binary (`support::fx`): RSA key generation is the slow part.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests: a failed unwrap is a failed test, and skip notices go to the test log"
)]

mod hostile;
mod protection;
mod revocation;
mod support;
mod trust;
mod verify;
