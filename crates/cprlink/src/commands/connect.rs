//! The set-up `lookup`, `serve` and `doctor` share: client settings from the config
//! with the flags applied, the .p12 password, the client identity (only when the
//! settings need one: GraphQL with a shared secret goes without, and then `[certificate]`
//! is not read and no password asked), the client, the audit trail, and the signal
//! that stops a run.
//!
//! It takes resolved values (the loaded config, the prompter, the flags' values as
//! [`Overrides`]) rather than the commands' clap structs, so each command picks what
//! it needs. Secrets stay in [`Secret`] until the library that uses them. Library
//! errors are turned into messages for the config's onboarding route
//! (`LoadedConfig::route`), so their hints name its steps.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cprlink_lookup::audit::AuditLog;
use cprlink_lookup::config::Api;
use cprlink_lookup::{Client, ClientIdentity, Settings};

use crate::args::ApiArg;
use crate::config::LoadedConfig;
use crate::exit::{CliError, ForRoute};
use crate::prompt::Prompter;
use crate::secrets::{ExposeSecret, Secret};

/// The flag values that override `[lookup]` and `[datafordeler] api`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Overrides {
    pub api: Option<Api>,
    pub concurrency: Option<u32>,
    pub batch_size: Option<u32>,
    pub rate: Option<u32>,
    pub retries: Option<u32>,
    pub timeout: Option<u64>,
}

/// `--api` as the library's value.
pub(crate) fn api(arg: ApiArg) -> Api {
    match arg {
        ApiArg::Rest => Api::Rest,
        ApiArg::Graphql => Api::Graphql,
    }
}

/// Client settings from the config with the flags applied, checked.
pub(crate) fn settings(cfg: &LoadedConfig, o: Overrides) -> Result<Settings, CliError> {
    let route = cfg.route();
    let mut s = Settings::from_config(&cfg.config, &cfg.base_dir).for_route(route)?;
    if let Some(api) = o.api {
        s.api = api;
    }
    if let Some(v) = o.concurrency {
        s.concurrency = v as usize;
    }
    if let Some(v) = o.batch_size {
        s.batch_size = v as usize;
    }
    if let Some(v) = o.rate {
        s.rate_limit_per_sec = v;
    }
    if let Some(v) = o.retries {
        s.retries = v;
    }
    if let Some(v) = o.timeout {
        s.timeout = Duration::from_secs(v);
    }
    s.validate().for_route(route)?;
    Ok(s)
}

/// The .p12 password from the config's sources, else asked for (hidden) when we may
/// prompt. `None` when the file opens without one.
pub(crate) fn p12_password(
    prompter: &mut dyn Prompter,
    cfg: &LoadedConfig,
    p12: &Path,
) -> Result<Option<Secret>, CliError> {
    if let Some(secret) = cfg.certificate_password().resolve()? {
        return Ok(Some(secret));
    }
    match cprlink_cert::load(p12, None) {
        Ok(_) => return Ok(None),
        Err(cprlink_cert::Error::PasswordRequired { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let flag = "a password source in cprlink.toml: [certificate] password_file = \"FILE\" or password_env = \"VAR\" (default CPRLINK_P12_PASSWORD)";
    let answer = prompter.password(&format!("Password for {}", p12.display()), flag)?;
    Ok(Some(Secret::from(answer)))
}

/// The configured .p12, opened once.
pub(crate) fn identity(
    prompter: &mut dyn Prompter,
    cfg: &LoadedConfig,
) -> Result<ClientIdentity, CliError> {
    let p12 = cfg.path(&cfg.config.certificate.p12).ok_or_else(|| {
        CliError::usage("no client certificate: [certificate] p12 is empty")
            .with_hint("set p12 in cprlink.toml")
    })?;
    if let Some(e) = cfg.defaults_cannot_work() {
        return Err(e);
    }
    let password = p12_password(prompter, cfg, &p12)?;
    let loaded = cprlink_cert::load(&p12, password.as_ref().map(|p| p.expose_secret()))?;
    ClientIdentity::from_loaded(&loaded).for_route(cfg.route())
}

/// Settings, identity (when needed) and client, ready to send.
pub(crate) fn client(
    prompter: &mut dyn Prompter,
    cfg: &LoadedConfig,
    o: Overrides,
) -> Result<Client, CliError> {
    let settings = settings(cfg, o)?;
    let identity = if settings.needs_certificate() {
        Some(identity(prompter, cfg)?)
    } else {
        None
    };
    Client::new(settings, identity.as_ref()).for_route(cfg.route())
}

/// The audit trail named by the config's `audit_log`, if any, opened for `purpose`
/// with its key (`audit_key_file`, else the default place beside no log).
pub(crate) fn audit_log(
    cfg: &LoadedConfig,
    purpose: Option<String>,
) -> Result<Option<Arc<AuditLog>>, CliError> {
    let Some(log) = cfg.path(&cfg.config.lookup.audit_log) else {
        return Ok(None);
    };
    let key = audit_key(cfg)?;
    Ok(Some(Arc::new(
        AuditLog::open(&log, &key, purpose).for_route(cfg.route())?,
    )))
}

/// Where the audit trail's key is: `audit_key_file`, else
/// `$XDG_DATA_HOME/cprlink/audit.key`.
pub(crate) fn audit_key(cfg: &LoadedConfig) -> Result<std::path::PathBuf, CliError> {
    if let Some(p) = cfg.path(&cfg.config.lookup.audit_key_file) {
        return Ok(p);
    }
    let env = |k: &str| std::env::var(k).ok();
    cprlink_lookup::audit::default_key_path(&env).ok_or_else(|| {
        CliError::usage("the audit trail needs a key, and neither audit_key_file nor $XDG_DATA_HOME or $HOME says where")
            .with_hint("set audit_key_file in [lookup] to a path outside the log's directory")
    })
}

/// A future that completes on Ctrl-C or SIGTERM. The handlers are installed at once
/// (inside the runtime), so a signal that arrives before the future is first polled is
/// not lost to the default action.
pub(crate) fn interrupted() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(int) => {}
            () = wait(term) => {}
        }
    }
}
