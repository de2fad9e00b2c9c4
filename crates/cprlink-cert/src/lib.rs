//! `cprlink-cert`: everything done with the OCES3 certificate.
//!
//! Reading any certificate file (`load`, `p12`, with the PKCS#12 pre-scan in
//! `protection`), its facts in OCES3 terms (`facts`), chains to the embedded OCES3 roots
//! (`trust`), the DPG handover checklist (`verify`, with optional online revocation in
//! `revocation`), the CA certificates to put into a .p12 we write (`chain`), writing
//! key-bearing files safely (`files`), and OCES3-shaped test PKIs for the sandbox, the
//! demo and the tests (`testpki`, which production modules never import). The library
//! never prints, prompts or exits: the `cprlink` binary owns the terminal.

pub mod chain;
pub mod der;
pub mod error;
pub mod facts;
pub mod files;
pub mod load;
pub mod p12;
pub mod pbe;
pub mod protection;
pub mod revocation;
pub mod testpki;
pub mod trust;
pub mod verify;

/// The `openssl` crate this library's types come from (`X509`, `PKey`), so that callers
/// name the same version without depending on it themselves.
pub use openssl;

pub use error::Error;
pub use facts::{CertFacts, Environment, Generation, Kind};
pub use load::{FileFormat, Loaded, load};
pub use p12::Profile;
pub use verify::{
    Check, CheckId, CheckStatus, Report, Verdict, VerifyOptions, verify, verify_file,
};
