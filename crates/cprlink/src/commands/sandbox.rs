//! `cprlink sandbox`.

use crate::args::SandboxArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub fn run(_args: &SandboxArgs, _ctx: &mut Context) -> Result<Code, CliError> {
    Err(super::not_built("sandbox", 3))
}
