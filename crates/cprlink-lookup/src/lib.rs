//! `cprlink-lookup`: the Datafordeler client and the lookup runtime.
//!
//! `cpr` (validation, masking), `person` (reading answers, the name rules), `record` (the
//! output record); the client in layers: `identity` (our certificate), `transport` (the
//! connection pool, bounds, `retry`, what failures mean), the back-ends `rest`,
//! `graphql` (with `query`, the checked query text) and `token`, `client` (the one
//! interface over both) and `confirm` (numbers missing from an answer asked again
//! before `not_found`); `input` and `batch` (the streaming runner), `audit`, `serve`
//! (the HTTP runtime), `doctor` (the go-live checks), `error`.
//!
//! The library never prints, prompts or exits: the `cprlink` binary owns the terminal.

pub mod audit;
pub mod batch;
pub mod client;
pub mod config;
mod confirm;
pub mod cpr;
pub mod doctor;
pub mod error;
pub mod graphql;
pub mod identity;
pub mod input;
pub mod person;
pub mod query;
pub mod record;
pub mod rest;
pub mod retry;
pub mod serve;
mod tls;
pub mod token;
pub mod transport;

pub use client::{Client, Settings};
pub use cpr::{Cpr, InvalidCpr};
pub use error::{Error, ErrorKind};
pub use identity::ClientIdentity;
pub use record::{Record, Status};
