//! `cprlink serve`.

use crate::args::ServeArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub fn run(_args: &ServeArgs, _ctx: &mut Context) -> Result<Code, CliError> {
    Err(super::not_built("serve", 4))
}
