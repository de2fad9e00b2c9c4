//! `cprlink doctor`.

use crate::args::DoctorArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub fn run(_args: &DoctorArgs, _ctx: &mut Context) -> Result<Code, CliError> {
    Err(super::not_built("doctor", 4))
}
