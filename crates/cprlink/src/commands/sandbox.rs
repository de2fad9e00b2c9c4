//! `cprlink sandbox`: run the local stand-in for Datafordeler until Ctrl-C.
//!
//! Thin: turns the flags into `SandboxOptions`, starts `cprlink_sandbox::Sandbox`,
//! tells the person where it listens and what to paste next (stderr), prints the
//! `sandbox.json` document with `--json` (stdout), and shuts down cleanly on Ctrl-C
//! or SIGTERM with exit 0 (130 if interrupted before it was ready). Without `--dir` it uses a fresh temporary directory and
//! removes it on exit. The hints never show a CPR number: examples read one from
//! `persons.csv`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cprlink_sandbox::{Faults, Sandbox, SandboxOptions};

use crate::args::SandboxArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub fn run(args: &SandboxArgs, ctx: &mut Context) -> Result<Code, CliError> {
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
    let mut opts = SandboxOptions::new(&dir);
    opts.listen = args.listen;
    opts.persons = args.persons;
    opts.seed = args.seed;
    opts.latency_ms = args.latency_ms;
    opts.faults = faults;

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
        ui.note(&describe(&sb, temporary));
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

/// What the person sees on stderr once the sandbox answers (fits 100 columns for
/// the default temporary directory; the full URLs are in `sandbox.json`).
fn describe(sb: &Sandbox, temporary: bool) -> String {
    let info = sb.info();
    let path = cprlink_sandbox::REST_PATH;
    let (head, tail) = path.split_at(path.rfind('/').map_or(0, |i| i + 1));
    let other = info
        .graphql_url
        .strip_suffix(cprlink_sandbox::GRAPHQL_PATH)
        .unwrap_or(&info.graphql_url);
    format!(
        "Sandbox ready: {persons} synthetic persons (seed {seed}), pid {pid}\n\
         \n  REST + certificate tokens (mutual TLS)  {rest}\n  \
         GraphQL, shared-secret tokens, admin    {other}\n  \
         files{temp:<35}{dir}\n\
         \nTry, in a shell:\n  \
         D={dir}; CPR=$(sed -n 2p $D/persons.csv | cut -d, -f1)\n  \
         cprlink --config $D/cprlink.toml lookup \"$CPR\"\n  \
         cprlink --config $D/cprlink.toml lookup --api graphql --input $D/persons.csv\n  \
         curl --cert $D/client.p12:\"$(cat $D/client.p12.password)\" --cert-type P12 \\\n    \
         --cacert $D/ca.pem \"{rest}{head}\\\n{tail}?pnr.personnummer.eq=$CPR\"\n\
         \nPress Ctrl-C to stop.",
        persons = info.persons,
        seed = info.seed,
        pid = info.pid,
        rest = info.rest_base_url,
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
