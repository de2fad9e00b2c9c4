//! `cprlink completions SHELL`: the shell completion script, generated from the same clap
//! tree as the help and the man pages, so it can never fall behind the flags.

use crate::args::{CompletionsArgs, Shell};
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub(crate) fn run(args: &CompletionsArgs, ctx: &mut Context) -> Result<Code, CliError> {
    use clap_complete::Shell as S;
    let shell = match args.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
    };
    let mut cmd = crate::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cprlink", &mut script);
    let text = String::from_utf8(script)
        .map_err(|e| CliError::internal(format!("completion script is not UTF-8: {e}")))?;
    ctx.ui.print(&text)?;
    Ok(Code::Success)
}
