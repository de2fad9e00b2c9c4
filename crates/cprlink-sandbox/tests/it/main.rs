//! The sandbox's integration tests: a real server on 127.0.0.1, talked to by
//! independent clients (curl and reqwest with native TLS), never by cprlink's own
//! client code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests: a failed unwrap is a failed test, and skip notices go to the test log"
)]

mod access;
mod datafordeler;
mod faults;
mod files;
mod graphql;
mod pinned;
mod population;
mod rest;
mod support;
