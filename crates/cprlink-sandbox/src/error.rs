//! The one error type of `cprlink-sandbox`.
//!
//! Variants say what went wrong in the user's terms (a port in use, a directory that
//! cannot be written, a bad option). They never carry a CPR number or a secret. The
//! binary maps them to exit codes and adds hints; the enum is deliberately not
//! `#[non_exhaustive]`, so a new variant does not compile until the binary has chosen
//! its exit code and hint.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop a sandbox from starting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: the address is already in use")]
    AddressInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot use {} as the sandbox directory: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the population size must be between 1 and {max}, not {persons}")]
    PopulationSize { persons: u32, max: u32 },
    #[error("fault {name} must be between 0 and 1, not {value}")]
    FaultRate { name: &'static str, value: String },
    /// A limit of [`crate::Behaviour`] out of range (`name` is the field's name).
    #[error("{name} must be between {min} and {max}, not {value}")]
    Limit {
        name: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    /// A [`crate::SchemaChange`] that cannot be made.
    #[error("cannot change the GraphQL schema at `{path}`: {problem}")]
    SchemaChange { path: String, problem: String },
    /// A file in the sandbox's directory by one of the names it writes, which it did
    /// not make: it is left untouched and the sandbox does not start.
    #[error("{} is not a file the sandbox made, so it will not replace it", path.display())]
    NotOurs { path: PathBuf },
    /// Making or packing the test PKI failed: not the user's input (a bug).
    #[error("cannot make the sandbox's test certificates: {0}")]
    Pki(#[from] cprlink_cert::Error),
    /// OpenSSL refused the sandbox's own material or settings (a bug).
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] openssl::error::ErrorStack),
    /// A set-up task panicked or was cancelled (a bug).
    #[error("the sandbox's setup task failed: {0}")]
    Task(String),
}
