//! `cprlink-lookup`: the Datafordeler client and the lookup runtime.
//!
//! The library never prints, prompts or exits: the `cprlink` binary owns the terminal.

pub mod config;
