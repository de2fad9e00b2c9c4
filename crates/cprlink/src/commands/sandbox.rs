//! `cprlink sandbox`: run the local stand-in for Datafordeler until Ctrl-C.
//!
//! Thin: turns the flags into `SandboxOptions`, starts `cprlink_sandbox::Sandbox`,
//! tells the person where it listens, which of Datafordeler's habits it shows and what
//! to paste next (stderr), prints the `sandbox.json` document with `--json` (stdout),
//! and shuts down cleanly on Ctrl-C or SIGTERM with exit 0 (130 if interrupted before
//! it was ready). Without `--dir` it uses a fresh temporary directory and removes it on
//! exit. The hints never show a CPR number: examples read one from `persons.csv`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cprlink_sandbox::{
    Behaviour, Faults, NoAccessAnswer, PkiOrigin, Sandbox, SandboxOptions, SchemaChange,
};

use crate::args::{NoAccessAnswerArg, SandboxArgs};
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub(crate) fn run(args: &SandboxArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let faults = Faults {
        rate_503: args.fault_rate,
        rate_429: args.fault_429_rate,
        retry_after_secs: args.retry_after,
        rate_reset: args.fault_reset_rate,
        rate_slow_body: args.fault_slow_rate,
        slow_body_ms: args.slow_body_ms,
    };
    if args.token_lifetime == 0 {
        return Err(CliError::usage(
            "--token-lifetime must be at least 1 second",
        ));
    }
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (temporary_dir()?, true),
    };
    let mut schema: Vec<SchemaChange> = args
        .schema_drop_field
        .iter()
        .map(|path| SchemaChange::Drop { path: path.clone() })
        .collect();
    for rename in &args.schema_rename_field {
        let Some((path, to)) = rename.split_once('=') else {
            return Err(CliError::usage(format!(
                "--schema-rename-field takes PATH=NAME, not {rename:?}"
            ))
            .with_hint("e.g. --schema-rename-field navne.mellemnavn=mellemnavne"));
        };
        schema.push(SchemaChange::Rename {
            path: path.to_owned(),
            to: to.to_owned(),
        });
    }
    let mut opts = SandboxOptions::new(&dir);
    opts.listen = args.listen;
    opts.persons = args.persons;
    opts.seed = args.seed;
    opts.latency_ms = args.latency_ms;
    opts.faults = faults;
    opts.behaviour = Behaviour {
        max_in_list: args.max_in_list,
        max_nodes: args.max_nodes,
        inert_secs: args.inert_secs,
        no_access_answer: match args.no_access_answer {
            NoAccessAnswerArg::Http403 => NoAccessAnswer::Http403,
            NoAccessAnswerArg::GraphqlError => NoAccessAnswer::GraphqlError,
        },
    };
    opts.data_access = !args.no_data_access;
    opts.schema = schema;

    let rt = ctx.runtime()?;
    let ui = ctx.ui.clone();
    let outcome = rt.block_on(async {
        if !ui.json {
            ui.note(&format!(
                "Starting the sandbox: {} synthetic persons (seed {}) ...",
                args.persons, args.seed
            ));
        }
        // Listen for Ctrl-C before anything is printed: a signal that arrives right
        // after `sandbox.json` appears must stop the sandbox, not kill the process.
        let mut stop = Stop::install()?;
        let sb = tokio::select! {
            started = Sandbox::start(opts) => started?,
            () = stop.wait() => return Err(CliError::interrupted()),
        };
        sb.set_token_lifetime(Duration::from_secs(args.token_lifetime));
        if ui.json {
            ui.print_json(sb.info())?;
        }
        ui.note(&describe(&sb, args, temporary));
        stop.wait().await;
        ui.note("Stopping the sandbox ...");
        sb.shutdown().await;
        Ok::<(), CliError>(())
    });
    if temporary {
        // Best effort: a leftover temporary directory is harmless.
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome?;
    ui.note(if temporary {
        "Stopped; the temporary directory is removed."
    } else {
        "Stopped; the files stay in the directory."
    });
    Ok(Code::Success)
}

/// A fresh private directory under the system's temporary directory.
fn temporary_dir() -> Result<PathBuf, CliError> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for attempt in 0..100u32 {
        let dir = base.join(format!(
            "cprlink-sandbox-{}-{:08x}",
            std::process::id(),
            nanos.wrapping_add(attempt)
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(CliError::usage(format!(
                    "cannot make a temporary directory in {}: {e}",
                    base.display()
                ))
                .with_hint("pass --dir DIR to choose where the sandbox's files go"));
            }
        }
    }
    Err(CliError::usage("cannot make a temporary directory").with_hint("pass --dir DIR"))
}

/// A path as a shell word (single-quoted when it needs to be).
fn sh(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The base URL (scheme, host, port) of a URL the sandbox reported.
fn base(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url[after..].find('/').map_or(url, |i| &url[..after + i])
}

/// The behaviours of Datafordeler this run shows that differ from the defaults, one per
/// line (none: empty).
fn habits(sb: &Sandbox, args: &SandboxArgs) -> String {
    let b = sb.behaviour();
    let mut lines = Vec::new();
    if let Some(n) = b.max_nodes {
        lines.push(format!(
            "answers cut short: at most {n} persons each (GraphQL nodes, REST pages), silently"
        ));
    }
    if b.inert_secs > 0 {
        lines.push(format!(
            "new credentials inert: 401 DAF-AUTH-0005 for {} s after registration",
            b.inert_secs
        ));
    }
    if args.no_data_access {
        lines.push(format!(
            "no data access: 403 DAF-AUTH-0001 (GraphQL: {})",
            match b.no_access_answer {
                NoAccessAnswer::Http403 => "HTTP 403",
                NoAccessAnswer::GraphqlError => "HTTP 200 with the error",
            }
        ));
    }
    if b.max_in_list != cprlink_sandbox::DEFAULT_MAX_IN_LIST {
        lines.push(format!("GraphQL `in` lists over {} refused", b.max_in_list));
    }
    for path in &args.schema_drop_field {
        lines.push(format!("schema: {path} dropped"));
    }
    for rename in &args.schema_rename_field {
        if let Some((path, to)) = rename.split_once('=') {
            lines.push(format!("schema: {path} served as {to}"));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nShowing, as Datafordeler may:\n");
    for l in lines {
        out.push_str(&format!("  - {l}\n"));
    }
    out
}

/// What the person sees on stderr once the sandbox answers (fits 100 columns for
/// the default temporary directory; the full URLs are in `sandbox.json`).
fn describe(sb: &Sandbox, args: &SandboxArgs, temporary: bool) -> String {
    let info = sb.info();
    let path = cprlink_sandbox::REST_PATH;
    let (head, tail) = path.split_at(path.rfind('/').map_or(0, |i| i + 1));
    let pki = match sb.pki_origin() {
        PkiOrigin::Reused {
            server_reissued: false,
        } => "reused from the directory".to_owned(),
        PkiOrigin::Reused {
            server_reissued: true,
        } => "reused from the directory (server certificate issued again)".to_owned(),
        PkiOrigin::Made { reason } => format!("new ({reason})"),
    };
    format!(
        "Sandbox ready: {persons} synthetic persons (seed {seed}), pid {pid}\n\
         Test PKI: {pki}\n\
         \n  REST + certificate tokens (mutual TLS)  {rest}\n  \
         GraphQL (+ /schema), admin              {api}\n  \
         shared-secret tokens                    {auth}\n  \
         files{temp:<35}{dir}\n\
         {habits}\
         \nTry, in a shell:\n  \
         D={dir}; CPR=$(sed -n 2p $D/persons.csv | cut -d, -f1)\n  \
         cprlink --config $D/cprlink.toml lookup \"$CPR\"\n  \
         cprlink --config $D/cprlink.toml lookup --api graphql --input $D/persons.csv\n  \
         cprlink --config $D/cprlink-shared-secret.toml lookup \"$CPR\"\n  \
         curl --cert $D/client.p12:\"$(cat $D/client.p12.password)\" --cert-type P12 \\\n    \
         --cacert $D/ca.pem \"{rest}{head}\\\n{tail}?pnr.personnummer.eq=$CPR\"\n\
         \nPress Ctrl-C to stop.",
        persons = info.persons,
        seed = info.seed,
        pid = info.pid,
        rest = info.rest_base_url,
        api = base(&info.graphql_url),
        auth = base(&info.shared_secret_token_url),
        habits = habits(sb, args),
        dir = sh(&sb.files().dir),
        temp = if temporary {
            " (temporary, removed on exit)"
        } else {
            ""
        },
    )
}

/// Ctrl-C (SIGINT) and SIGTERM, watched from the moment it is installed.
struct Stop {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    fn install() -> Result<Self, CliError> {
        use tokio::signal::unix::{SignalKind, signal};
        let watch = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| CliError::unavailable(format!("cannot watch for {name}: {e}")))
        };
        Ok(Stop {
            interrupt: watch(SignalKind::interrupt(), "Ctrl-C")?,
            terminate: watch(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
