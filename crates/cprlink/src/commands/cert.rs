//! `cprlink cert`.

use crate::args::CertCommand;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub fn run(_args: &CertCommand, _ctx: &mut Context) -> Result<Code, CliError> {
    Err(super::not_built("cert", 2))
}
