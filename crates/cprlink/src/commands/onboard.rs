//! `cprlink onboard`.

use crate::args::OnboardArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub fn run(_args: &OnboardArgs, _ctx: &mut Context) -> Result<Code, CliError> {
    Err(super::not_built("onboard", 5))
}
