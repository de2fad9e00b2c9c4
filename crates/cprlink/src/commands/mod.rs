//! One module per command: thin (parse -> call the library -> render).

pub(crate) mod audit;
pub(crate) mod cert;
pub(crate) mod completions;
mod connect;
pub(crate) mod demo;
pub(crate) mod doctor;
pub(crate) mod lookup;
pub(crate) mod onboard;
pub(crate) mod sandbox;
pub(crate) mod serve;

use crate::args::{Cli, Command};
use crate::config::LoadedConfig;
use crate::exit::{CliError, Code};
use crate::output::Ui;
use crate::prompt::Prompter;

/// What every command gets: the terminal, a prompter, and the config on demand.
pub(crate) struct Context {
    pub ui: Ui,
    pub prompter: Box<dyn Prompter>,
    config_path: Option<std::path::PathBuf>,
    config: Option<LoadedConfig>,
    /// `CPRLINK_<SECTION>_<KEY>` values that win over the process environment (the
    /// demo points the go-live config at the sandbox this way, as a user would with
    /// environment variables).
    config_env: Vec<(String, String)>,
}

impl Context {
    pub(crate) fn new(
        ui: Ui,
        prompter: Box<dyn Prompter>,
        config_path: Option<std::path::PathBuf>,
    ) -> Self {
        Context {
            ui,
            prompter,
            config_path,
            config: None,
            config_env: Vec::new(),
        }
    }

    /// Config overrides as if they were set in the environment.
    pub(crate) fn with_config_env(mut self, vars: Vec<(String, String)>) -> Self {
        self.config_env = vars;
        self
    }

    /// The configuration, read on first use (commands that need none never fail on a bad one).
    pub(crate) fn config(&mut self) -> Result<&LoadedConfig, CliError> {
        if self.config.is_none() {
            let vars = &self.config_env;
            let env = |k: &str| {
                vars.iter()
                    .find(|(name, _)| name == k)
                    .map(|(_, v)| v.clone())
                    .or_else(|| std::env::var(k).ok())
            };
            self.config = Some(if vars.is_empty() {
                crate::config::load(self.config_path.as_deref())?
            } else {
                crate::config::load_with(
                    self.config_path.as_deref(),
                    &env,
                    std::path::Path::new("."),
                )?
            });
        }
        match &self.config {
            Some(c) => Ok(c),
            None => Err(CliError::internal("config not loaded")),
        }
    }

    /// A multi-threaded tokio runtime for the network commands.
    pub(crate) fn runtime(&self) -> Result<tokio::runtime::Runtime, CliError> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::unavailable(format!("cannot start the async runtime: {e}")))
    }
}

/// Runs the chosen command.
pub(crate) fn dispatch(cli: &Cli, ctx: &mut Context) -> Result<Code, CliError> {
    match &cli.command {
        Command::Cert(c) => cert::run(c, ctx),
        Command::Onboard(a) => onboard::run(a, ctx),
        Command::Lookup(a) => lookup::run(a, ctx),
        Command::Serve(a) => serve::run(a, ctx),
        Command::Doctor(a) => doctor::run(a, ctx),
        Command::Audit(c) => audit::run(c, ctx),
        Command::Sandbox(a) => sandbox::run(a, ctx),
        Command::Demo(a) => demo::run(a, ctx),
        Command::Completions(a) => completions::run(a, ctx),
    }
}
