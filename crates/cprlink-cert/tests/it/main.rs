//! `cprlink-cert` integration tests: one test binary, one module per concern. Test PKIs
//! are made once per binary (`support::fx`): RSA key generation is the slow part.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod hostile;
mod protection;
mod revocation;
mod support;
mod trust;
mod verify;
