//! `cprlink-sandbox`: a local stand-in for Datafordeler (the server lands next).
//!
//! This commit brings the deterministic synthetic population and the CPR-number
//! arithmetic it rests on.

pub mod cpr;
mod hash;
mod names;
pub mod population;

pub use population::{Case, Expected, MAX_PERSONS, Person, Population};
