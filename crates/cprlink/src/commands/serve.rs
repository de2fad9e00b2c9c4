//! `cprlink serve`: the lookup runtime as a small local HTTP service.
//!
//! Thin: checks the token rule before anything else (a non-loopback address needs
//! `--token-file`), opens the certificate once, binds, and serves until Ctrl-C or
//! SIGTERM, finishing the requests in progress. Stopping on a signal is the normal end
//! of a service: exit 0.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use cprlink_lookup::serve::{self, ServeOptions};

use crate::args::ServeArgs;
use crate::commands::Context;
use crate::commands::connect::{self, Overrides};
use crate::exit::{CliError, Code, ForRoute};
use crate::secrets::ExposeSecret;

pub fn run(args: &ServeArgs, ctx: &mut Context) -> Result<Code, CliError> {
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
    let client = connect::client(
        ctx.prompter.as_mut(),
        &cfg,
        Overrides {
            api: args.api.map(connect::api),
            ..Overrides::default()
        },
    )?;
    let audit = connect::audit_log(&cfg, Some("serve".to_owned()))?;
    let opts = options(args, &cfg.config.serve, token, audit)?;
    let cache_ttl = opts.cache_ttl.as_secs();
    let rt = ctx.runtime()?;
    let api = client.settings().api.as_str();
    let ui = ctx.ui.clone();
    let route = cfg.route();
    rt.block_on(async move {
        let stop = connect::interrupted();
        let bound = serve::bind(client, opts).await.for_route(route)?;
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
    let mut opts = ServeOptions::new(args.listen);
    opts.token = token;
    opts.audit = audit;
    opts.cache_ttl = Duration::from_secs(args.cache_ttl.unwrap_or(serve.cache_ttl_secs));
    opts.cache_max_entries = usize::try_from(serve.cache_max_entries).unwrap_or(usize::MAX);
    opts.header_timeout =
        Duration::from_secs(positive("header_timeout_secs", serve.header_timeout_secs)?);
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
