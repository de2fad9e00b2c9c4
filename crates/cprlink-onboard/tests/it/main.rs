//! `cprlink-onboard`'s integration tests: one test binary, one module per concern.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests: a failed unwrap is a failed test, and skip notices go to the test log"
)]

mod administration;
mod letters_report;
mod renewal;
mod report;
mod selfservice;
mod state_file;
mod status;
mod support;
