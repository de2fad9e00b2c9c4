//! `cprlink-lookup` against the sandbox over real mutual TLS: one test binary, one
//! shared sandbox for the read-only tests, own sandboxes where a test changes faults or
//! access.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests: a failed unwrap is a failed test, and skip notices go to the test log"
)]

mod access;
mod audit;
mod batch;
mod confirm;
mod faults;
mod habits;
mod lookups;
mod support;
mod tls;
