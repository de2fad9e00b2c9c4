//! `cprlink demo`.

use crate::args::DemoArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub fn run(_args: &DemoArgs, _ctx: &mut Context) -> Result<Code, CliError> {
    Err(super::not_built("demo", 3))
}
