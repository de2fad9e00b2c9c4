//! `cprlink-onboard`: the weeks-long onboarding of a DPG installation to CPR, as a model.
//!
//! Owns the steps of both routes as data ([`steps`]), the case file on disk with its
//! versions, migration, checks on load, lock and history ([`state`]), the checks that
//! refuse values which would fail later ([`validate`]), recording and marking steps
//! done ([`case`]), the renewal of the credential after go-live ([`renewal`]), the
//! derived status with warnings and the next action ([`status`]),
//! the texts made from a case ([`letters`], [`report`] with its words in [`labels`] and
//! its picture of the weeks in [`timeline`]) and the go-live `cprlink.toml`
//! ([`golive`]). It never prints, prompts or exits, and it does not read certificates
//! itself: the binary hands it [`CertificateEvidence`] and [`HandoverEvidence`] as
//! plain data.

pub mod case;
pub mod error;
pub mod evidence;
pub mod golive;
pub mod labels;
pub mod letters;
pub mod renewal;
pub mod report;
pub mod state;
pub mod status;
pub mod steps;
pub mod timeline;
pub mod validate;

pub use case::{Case, FactInput, Facts, NewCase, Recorded, Stamp};
pub use error::Error;
pub use evidence::{CertificateEvidence, HandoverEvidence, RenewalEvidence, VerifyVerdict};
pub use letters::{Language, Letter, LetterKind};
pub use renewal::NewCredential;
pub use state::{CURRENT_VERSION, Renewal, State};
pub use status::{RenewalStatus, Status, StepState, StepStatus, Warning};
pub use steps::{FieldDef, FieldKind, Route, StepDef, TargetEnvironment};
