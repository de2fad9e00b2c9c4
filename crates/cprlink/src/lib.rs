//! The `cprlink` binary's library half: argument parsing, commands, output and exit
//! codes. `main.rs` only calls [`run`]; `xtask docs` uses [`command`] to render the CLI
//! reference.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the binary owns the terminal: its commands print (libraries never do)"
)]

pub mod args;
mod commands;
mod config;
mod exit;
mod help;
mod output;
pub mod prompt;
mod secrets;

use clap::{CommandFactory, FromArgMatches};

pub use exit::Code;

/// The clap command tree with every page's examples, as parsed and as documented.
pub fn command() -> clap::Command {
    help::decorate(args::Cli::command())
}

/// Runs cprlink with the process arguments; returns the exit code.
pub fn run() -> i32 {
    let parsed = command()
        .try_get_matches()
        .and_then(|m| args::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => Code::Usage.as_i32(),
            };
            // A closed pipe while printing help is not worth reporting.
            let _ = e.print();
            return code;
        }
    };
    let ui = output::Ui::from_args(&cli.global);
    init_logging(&cli.global, &ui);
    let prompter = prompt::for_ui(&ui);
    let mut ctx = commands::Context::new(ui.clone(), prompter, cli.global.config.clone());
    match commands::dispatch(&cli, &mut ctx) {
        Ok(code) => code.as_i32(),
        Err(err) => {
            if err.code == Code::Success {
                return 0;
            }
            if err.code == Code::Interrupted {
                ui.note("interrupted");
            } else {
                output::print_error(&ui, &err);
            }
            err.code.as_i32()
        }
    }
}

fn init_logging(global: &args::GlobalArgs, ui: &output::Ui) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CPRLINK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ui.color_stderr)
        .with_target(false)
        .try_init();
}
