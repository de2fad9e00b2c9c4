//! The `cprlink` binary's integration tests: one test binary, one module per command.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests: a failed unwrap is a failed test, and skip notices go to the test log"
)]

mod audit;
mod cert;
mod cli;
mod demo;
mod doctor;
mod habits;
mod lookup;
mod onboard;
mod sandbox;
mod screens;
mod serve;
mod support;
