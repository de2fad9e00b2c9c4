//! `cprlink lookup`.

use crate::args::LookupArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub fn run(_args: &LookupArgs, _ctx: &mut Context) -> Result<Code, CliError> {
    Err(super::not_built("lookup", 4))
}
