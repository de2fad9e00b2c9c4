//! `cprlink serve`: the lookup runtime as a small local HTTP service.
//!
//! Thin: checks the token rule before anything else (a non-loopback address needs
//! `--token-file`), opens the certificate once, binds, and serves until Ctrl-C or
//! SIGTERM, finishing the requests in progress. Stopping on a signal is the normal end
//! of a service: exit 0.
//!
//! SIGHUP re-reads the identity: the files the config named at start (the .p12 with
//! its `password_file` or `password_env`, or `client_secret_file`) make a new client
//! that new requests use, while those in flight finish on the old one. A reload never
//! prompts (the password must come from the config) and a file that fails to load
//! keeps the identity in use; either way it is said on stderr and counted in
//! `/metrics`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use cprlink_lookup::serve::{self, ServeHandle, ServeOptions};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::args::ServeArgs;
use crate::commands::Context;
use crate::commands::connect::{self, Overrides};
use crate::config::LoadedConfig;
use crate::exit::{CliError, Code, ForRoute};
use crate::output::Ui;
use crate::prompt::NoInputPrompter;
use crate::secrets::ExposeSecret;

pub(crate) fn run(args: &ServeArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let token = match &args.token_file {
        Some(path) => {
            let secret = crate::secrets::read_secret_file(path)?;
            let token = secret.expose_secret().trim().to_owned();
            if token.len() < 16 {
                return Err(CliError::usage(format!(
                    "the token in {} is {} characters; use at least 16",
                    path.display(),
                    token.len()
                ))
                .with_hint("e.g. `openssl rand -hex 32 > token && chmod 600 token`"));
            }
            if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
                ctx.ui.warn(&format!(
                    "{} is readable by other users; `chmod 600` it",
                    path.display()
                ));
            }
            Some(token)
        }
        None => None,
    };
    if !args.listen.ip().is_loopback() && token.is_none() {
        return Err(crate::exit::token_required(args.listen));
    }
    let cfg = ctx.config()?.clone();
    let overrides = Overrides {
        api: args.api.map(connect::api),
        ..Overrides::default()
    };
    let client = connect::client(ctx.prompter.as_mut(), &cfg, overrides)?;
    let audit = connect::audit_log(&cfg, Some("serve".to_owned()))?;
    let opts = options(args, &cfg.config.serve, token, audit)?;
    let cache_ttl = opts.cache_ttl.as_secs();
    let rt = ctx.runtime()?;
    let api = client.settings().api.as_str();
    let ui = ctx.ui.clone();
    let route = cfg.route();
    rt.block_on(async move {
        let stop = connect::interrupted();
        // Before anything is announced: SIGHUP's default action ends the process.
        let hangups = signal(SignalKind::hangup()).map_err(|e| {
            CliError::internal(format!("cannot watch for SIGHUP: {e}"))
        })?;
        let bound = serve::bind(client, opts).await.for_route(route)?;
        tokio::spawn(reload_on_hangup(hangups, bound.handle(), cfg, overrides, ui.clone()));
        ui.note(&format!(
            "cprlink serve: listening on http://{} (api {api}, cache {cache_ttl} s{}); Ctrl-C to stop",
            bound.local_addr(),
            if args.token_file.is_some() {
                ", Bearer token required"
            } else {
                ""
            }
        ));
        bound.run(stop).await.for_route(route)?;
        ui.note("cprlink serve: stopped");
        Ok::<_, CliError>(())
    })?;
    Ok(Code::Success)
}

/// The longest `cache_ttl_secs` / `--cache-ttl`: a week.
const MAX_CACHE_TTL_SECS: u64 = 7 * 24 * 3600;
/// The longest `header_timeout_secs`: an hour.
const MAX_HEADER_TIMEOUT_SECS: u64 = 3600;

/// The service's options: the flags over `[serve]`, checked.
fn options(
    args: &ServeArgs,
    serve: &cprlink_lookup::config::Serve,
    token: Option<String>,
    audit: Option<std::sync::Arc<cprlink_lookup::audit::AuditLog>>,
) -> Result<ServeOptions, CliError> {
    let positive = |key: &str, v: u64| {
        if v == 0 {
            Err(
                CliError::usage(format!("[serve] {key} = 0: it must be at least 1"))
                    .with_hint("see docs/config.md for the [serve] keys and their defaults"),
            )
        } else {
            Ok(v)
        }
    };
    // Beyond these a value is a slip (a clock adding it would overflow, too).
    let at_most = |key: &str, v: u64, max: u64, what: &str| {
        if v > max {
            Err(
                CliError::usage(format!("{key} = {v}: it can be at most {max} ({what})"))
                    .with_hint("see docs/config.md for the [serve] keys and their defaults"),
            )
        } else {
            Ok(v)
        }
    };
    let mut opts = ServeOptions::new(args.listen);
    opts.token = token;
    opts.audit = audit;
    opts.cache_ttl = Duration::from_secs(at_most(
        if args.cache_ttl.is_some() {
            "--cache-ttl"
        } else {
            "[serve] cache_ttl_secs"
        },
        args.cache_ttl.unwrap_or(serve.cache_ttl_secs),
        MAX_CACHE_TTL_SECS,
        "a week: names change, and the cache holds personal data",
    )?);
    opts.cache_max_entries = usize::try_from(serve.cache_max_entries).unwrap_or(usize::MAX);
    opts.header_timeout = Duration::from_secs(at_most(
        "[serve] header_timeout_secs",
        positive("header_timeout_secs", serve.header_timeout_secs)?,
        MAX_HEADER_TIMEOUT_SECS,
        "an hour",
    )?);
    opts.max_connections =
        usize::try_from(positive("max_connections", serve.max_connections)?).unwrap_or(usize::MAX);
    for host in &serve.allowed_hosts {
        if host.trim().is_empty() || host.contains(['/', ' ']) {
            return Err(CliError::usage(format!(
                "[serve] allowed_hosts: {:?} is not a host name",
                cprlink_lookup::error::excerpt(host.as_bytes())
            ))
            .with_hint("give names as clients send them in Host, e.g. [\"names.internal\"]"));
        }
    }
    opts.allowed_hosts = serve.allowed_hosts.clone();
    Ok(opts)
}

/// On each SIGHUP, a new client from the identity's files; the old one stays when
/// they do not load.
async fn reload_on_hangup(
    mut hangups: Signal,
    handle: ServeHandle,
    cfg: LoadedConfig,
    overrides: Overrides,
    ui: Ui,
) {
    let cfg = std::sync::Arc::new(cfg);
    while hangups.recv().await.is_some() {
        let cfg = cfg.clone();
        // Reading and decrypting a .p12 blocks; the requests go on meanwhile.
        let built = tokio::task::spawn_blocking(move || {
            connect::client(&mut NoInputPrompter, &cfg, overrides)
        })
        .await
        .unwrap_or_else(|e| Err(CliError::internal(format!("the reload stopped: {e}"))));
        match built {
            Ok(client) => {
                let note = match (client.thumbprint(), client.identity_not_after()) {
                    (Some(thumbprint), Some(until)) => format!(
                        "cprlink serve: SIGHUP: identity reloaded (certificate {thumbprint}, valid until {})",
                        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                    _ => "cprlink serve: SIGHUP: identity reloaded (the shared secret)".to_owned(),
                };
                handle.replace_client(client);
                ui.note(&note);
            }
            Err(e) => {
                handle.reload_failed();
                let mut text = format!(
                    "SIGHUP: the identity was not reloaded, the one in use stays: {}",
                    e.message
                );
                for hint in &e.hints {
                    text.push_str("\nHint: ");
                    text.push_str(hint);
                }
                ui.warn(&text);
            }
        }
    }
}
