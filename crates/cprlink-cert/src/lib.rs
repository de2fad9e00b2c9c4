//! `cprlink-cert`: everything done with the OCES3 certificate.
//!
//! Reading any certificate file (`load`, `p12`), its facts in OCES3 terms (`facts`),
//! writing key-bearing files safely (`files`), and OCES3-shaped test PKIs for the
//! sandbox, the demo and the tests (`testpki`). The library never prints, prompts or
//! exits: the `cprlink` binary owns the terminal.

pub mod der;
pub mod error;
pub mod facts;
pub mod files;
pub mod load;
pub mod p12;
pub mod protection;
pub mod testpki;

pub use error::Error;
pub use facts::{CertFacts, Environment, Generation, Kind};
pub use load::{FileFormat, Loaded, load};
pub use p12::Profile;
