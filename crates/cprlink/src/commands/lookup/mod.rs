//! `cprlink lookup`: names for CPR numbers, one, several, or a file in bulk.
//!
//! Thin: checks the flags' values, picks the input, the output and its format, takes
//! up an earlier output (`--resume`, `--retry-errors`), gets a client from `connect`
//! (config, flags, certificate), then runs the library's streaming batch runner and
//! turns its outcome into an exit code. `file` keeps the output file's rules (lock,
//! staging, the input never overwritten), `output` renders records and reads earlier
//! ones back. Everything about the output is settled before the config is read, so a
//! mistake there changes nothing. stderr only ever gets masked CPR numbers.

mod file;
mod output;

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;
use std::sync::Arc;

use cprlink_lookup::batch::{self, BatchOptions, Continue, Progress, RecordSink};
use cprlink_lookup::cpr::mask_input;
use cprlink_lookup::input::{InputItem, InputReader};

use crate::args::{LookupArgs, OutputFormat};
use crate::commands::Context;
use crate::commands::connect::{self, Overrides};
use crate::exit::{CliError, Code};
use file::{Existing, InputSource, Output, Writing};
use output::{EarlierLines, FileSink, Renderer, WriterSink};

/// The longest `--purpose` kept in the audit trail.
pub(crate) const MAX_PURPOSE_CHARS: usize = 200;

/// `--purpose` goes into every audit-trail entry: one short line, and never a CPR
/// number (the trail keeps numbers only masked and keyed). A refused value is not
/// echoed whole.
pub(crate) fn check_purpose(purpose: &str) -> Result<(), CliError> {
    let chars = purpose.chars().count();
    if chars > MAX_PURPOSE_CHARS {
        return Err(CliError::usage(format!(
            "--purpose is {chars} characters long; at most {MAX_PURPOSE_CHARS} are allowed"
        ))
        .with_hint(
            "say why in a few words (e.g. \"mailing 2025-03\"); the case number is enough",
        ));
    }
    if purpose.chars().any(char::is_control) {
        return Err(CliError::usage(
            "--purpose holds a control character (a line break, a tab, an escape)",
        )
        .with_hint("give the purpose as one line of plain text"));
    }
    if let Some(cpr) = cprlink_lookup::cpr::find_in(purpose) {
        return Err(CliError::usage(format!(
            "--purpose holds a CPR number ({}): the audit trail never keeps one unmasked",
            cpr.masked()
        ))
        .with_hint("name the purpose, not the person (e.g. \"reply to case 2025-118\")"));
    }
    Ok(())
}

fn format_for_file(path: &Path) -> OutputFormat {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => OutputFormat::Csv,
        Some("txt") => OutputFormat::Table,
        _ => OutputFormat::Jsonl,
    }
}

type Rows = Box<dyn Iterator<Item = Result<InputItem, cprlink_lookup::Error>> + Send>;

/// The input rows and, when cheap to know, how many there are (for the progress bar).
fn input(args: &LookupArgs, ctx: &Context) -> Result<(Rows, Option<u64>), CliError> {
    if !args.cprs.is_empty() {
        let items: Vec<InputItem> = args.cprs.iter().map(|c| InputItem::new(c)).collect();
        if items.iter().all(|i| i.cpr.is_err()) {
            let first = &items[0];
            let reason = first
                .cpr
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default();
            let shown: Vec<String> = args.cprs.iter().map(|c| mask_input(c)).collect();
            return Err(CliError::usage(format!(
                "not a CPR number: {} ({reason})",
                shown.join(", ")
            ))
            .with_hint(
                "CPR numbers look like DDMMYYSSSS or DDMMYY-SSSS; use --input FILE for a list",
            ));
        }
        let n = items.len() as u64;
        return Ok((Box::new(items.into_iter().map(Ok)), Some(n)));
    }
    let from_stdin = match &args.input {
        Some(p) if p.as_os_str() == "-" => true,
        Some(_) => false,
        None => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::usage("no CPR numbers given")
                    .with_hint("pass CPR numbers as arguments, --input FILE (one per line, or CSV with a `cpr` column), or pipe them in"));
            }
            true
        }
    };
    if from_stdin {
        let reader: Box<dyn BufRead + Send> =
            Box::new(BufReader::with_capacity(64 * 1024, std::io::stdin()));
        return Ok((Box::new(InputReader::new(reader)), None));
    }
    let path = args.input.clone().unwrap_or_default();
    let file = std::fs::File::open(&path).map_err(|e| input_unreadable(&path, &e))?;
    let total = if ctx.ui.stderr_is_terminal && !ctx.ui.quiet {
        count_rows(&path)
    } else {
        None
    };
    let reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(64 * 1024, file));
    Ok((Box::new(InputReader::new(reader)), total))
}

/// Non-blank lines of a file (a CSV header counts once too much; fine for an ETA).
fn count_rows(path: &Path) -> Option<u64> {
    let f = std::fs::File::open(path).ok()?;
    let mut r = BufReader::with_capacity(256 * 1024, f);
    let mut n = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) => return Some(n),
            Ok(_) => {
                if line.iter().any(|b| !b.is_ascii_whitespace()) {
                    n += 1;
                }
            }
            Err(_) => return None,
        }
    }
}

struct Bar {
    bar: indicatif::ProgressBar,
    failed: std::sync::atomic::AtomicU64,
}

impl Progress for Bar {
    fn advance(&self, rows: u64, failed: u64) {
        self.bar.inc(rows);
        if failed > 0 {
            let total = self
                .failed
                .fetch_add(failed, std::sync::atomic::Ordering::Relaxed)
                + failed;
            self.bar.set_message(format!("{total} invalid/error"));
        }
    }
}

fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    let template = if total.is_some() {
        "{bar:30} {pos}/{len} rows  {rate}  ETA {eta}  {msg}"
    } else {
        "{spinner} {pos} rows  {rate}  {msg}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.with_key("rate", rate));
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(5));
    bar
}

/// Rows per second as a person reads it: whole rows ("1,986/s", not indicatif's
/// "1986.4075/s").
fn rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(
        w,
        "{}/s",
        cprlink_cert::protection::group(state.per_sec().round() as u64)
    );
}

/// The input file cannot be opened.
fn input_unreadable(path: &Path, e: &std::io::Error) -> CliError {
    CliError::usage(format!("cannot read the input {}: {e}", path.display())).with_hint(
        "check the file name and the directory you run in; `--input -` reads the numbers from stdin",
    )
}

/// The `--output` file, settled before anything is asked.
struct Prepared {
    /// Holds the lock until the run ends.
    lock: file::Target,
    output: Output,
    sink: Box<dyn RecordSink>,
    earlier: Option<Continue>,
    /// `--retry-errors`: the file is only replaced when the run completes.
    rewrite: bool,
    /// `--retry-errors` found no `error` row (and nothing after the end to answer).
    nothing_to_do: bool,
}

/// Where the rows come from, for the same-file check (`None`: the command line).
fn input_source(args: &LookupArgs) -> Option<InputSource<'_>> {
    if !args.cprs.is_empty() {
        return None;
    }
    Some(match &args.input {
        Some(p) if p.as_os_str() != "-" => InputSource::File(p),
        _ => InputSource::Stdin,
    })
}

/// What to say when an earlier output does not match its input; nothing was changed.
fn mismatch_hint(args: &LookupArgs) -> String {
    let mut hint = crate::exit::EARLIER_HINT.to_owned();
    if args.retry_errors && !args.resume {
        hint.push_str("; add --resume to also answer the input rows after the output's end");
    }
    hint
}

/// Locks and checks `--output`, reads what an earlier run left there, and opens it
/// the way the flags ask. Changes nothing on disk but the lock file.
fn prepare_output(
    args: &LookupArgs,
    path: &Path,
    format: OutputFormat,
    ctx: &Context,
) -> Result<Prepared, CliError> {
    let source = input_source(args);
    let target = file::open_target(path, source)?;
    let exists = matches!(target.existing, Existing::File(n) if n > 0);
    let flag = if args.retry_errors {
        "--retry-errors"
    } else {
        "--resume"
    };
    let label = format!("{flag}: {}", path.display());
    let earlier_of = |retry: bool, then_answer: bool| -> Result<Continue, CliError> {
        Ok(Continue {
            records: Box::new(EarlierLines::open(&target.path, format, &label)?.earlier(retry)),
            then_answer,
            label: label.clone(),
        })
    };
    // Where the input is a file, match it against the output now, before the config
    // and the connection: a mismatch is refused at once.
    let precheck = |cont: Continue| -> Result<(), CliError> {
        if let Some(InputSource::File(p)) = source {
            let f = std::fs::File::open(p).map_err(|e| input_unreadable(p, &e))?;
            let rows = InputReader::new(BufReader::with_capacity(64 * 1024, f));
            batch::check_earlier(rows, cont).map_err(|e| match e {
                cprlink_lookup::Error::Earlier(m) => {
                    CliError::usage(m).with_hint(mismatch_hint(args))
                }
                // An input error: its own hint (no route names one).
                other => crate::exit::lookup(other, cprlink_onboard::Route::Administration),
            })?;
        }
        Ok(())
    };
    if target.existing == Existing::Special {
        let output = Output::open(&target, Writing::Replace)?;
        return Ok(Prepared {
            sink: Box::new(FileSink::new(output.clone(), Renderer::new(format, true))),
            output,
            earlier: None,
            rewrite: false,
            nothing_to_do: false,
            lock: target,
        });
    }
    if args.retry_errors {
        if !exists {
            return Err(CliError::usage(format!(
                "--retry-errors: {} does not exist or is empty: there are no error rows to ask again",
                path.display()
            ))
            .with_hint("run without --retry-errors to write it"));
        }
        let scan = EarlierLines::open(&target.path, format, &label)?.scan()?;
        precheck(earlier_of(true, args.resume)?)?;
        let nothing_to_do = scan.errors == 0 && !args.resume;
        if nothing_to_do {
            ctx.ui.note(&format!(
                "retry-errors: {} has no `error` rows; nothing to ask again",
                path.display()
            ));
        } else {
            ctx.ui.note(&format!(
                "retry-errors: {} of the {} rows in {} are `error` rows, asked again; the file is replaced when the run completes",
                scan.errors,
                scan.records,
                path.display()
            ));
        }
        let earlier = earlier_of(true, args.resume)?;
        let output = Output::open(&target, Writing::Rewrite)?;
        return Ok(Prepared {
            sink: Box::new(FileSink::new(output.clone(), Renderer::new(format, true))),
            output,
            earlier: Some(earlier),
            rewrite: true,
            nothing_to_do,
            lock: target,
        });
    }
    if args.resume && exists {
        let scan = EarlierLines::open(&target.path, format, &label)?.scan()?;
        precheck(earlier_of(false, true)?)?;
        let len = match target.existing {
            Existing::File(n) => n,
            Existing::Nothing | Existing::Special => 0,
        };
        let cut = scan.cut_bytes(len);
        if cut > 0 {
            ctx.ui.note(&format!(
                "resume: a half-written last line ({cut} bytes) of {} is cut before carrying on",
                path.display()
            ));
        }
        if scan.records > 0 {
            ctx.ui.note(&format!(
                "resume: {} rows already answered in {}",
                scan.records,
                path.display()
            ));
        }
        let earlier = earlier_of(false, true)?;
        let output = Output::open(
            &target,
            Writing::Append {
                cut_to: scan.whole_len,
            },
        )?;
        return Ok(Prepared {
            sink: Box::new(FileSink::new(
                output.clone(),
                Renderer::new(format, !scan.has_header),
            )),
            output,
            earlier: Some(earlier),
            rewrite: false,
            nothing_to_do: false,
            lock: target,
        });
    }
    if exists && !args.force && !args.resume {
        return Err(
            CliError::usage(format!("{} already exists", path.display())).with_hint(
                "pass --resume to carry on where it stopped, --retry-errors to ask its error rows again, or --force to replace it",
            ),
        );
    }
    let output = Output::open(&target, Writing::Replace)?;
    Ok(Prepared {
        sink: Box::new(FileSink::new(output.clone(), Renderer::new(format, true))),
        output,
        earlier: None,
        rewrite: false,
        nothing_to_do: false,
        lock: target,
    })
}

pub(crate) fn run(args: &LookupArgs, ctx: &mut Context) -> Result<Code, CliError> {
    if let Some(p) = &args.purpose {
        check_purpose(p)?;
    }
    let overrides = Overrides {
        api: args.api.map(connect::api),
        concurrency: args.concurrency,
        batch_size: args.batch_size,
        rate: args.rate,
        retries: args.retries,
        timeout: args.timeout,
    };
    // Input first: a typo on the command line is reported before any file is opened.
    let (rows, total) = input(args, ctx)?;

    // The output, its format, and what an earlier run left there.
    let format = match (args.format, &args.output) {
        (Some(f), _) => f,
        (None, _) if ctx.ui.json => OutputFormat::Jsonl,
        (None, Some(p)) => format_for_file(p),
        (None, None) if ctx.ui.stdout_is_terminal => OutputFormat::Table,
        (None, None) => OutputFormat::Jsonl,
    };
    let prepared = match &args.output {
        None => None,
        Some(path) => Some(prepare_output(args, path, format, ctx)?),
    };
    let (sink, earlier, output, rewrite, _lock): (Box<dyn RecordSink>, _, _, _, _) = match prepared
    {
        None => (
            Box::new(WriterSink::new(
                std::io::stdout(),
                Renderer::new(format, true),
            )),
            None,
            None,
            false,
            None,
        ),
        Some(p) if p.nothing_to_do => {
            p.output.discard();
            return Ok(Code::Success);
        }
        Some(p) => (p.sink, p.earlier, Some(p.output), p.rewrite, Some(p.lock)),
    };
    let outcome = (|| {
        let cfg = ctx.config()?.clone();
        let client = connect::client(ctx.prompter.as_mut(), &cfg, overrides)?;
        let audit = connect::audit_log(&cfg, args.purpose.clone())?;
        Ok::<_, CliError>((cfg, client, audit))
    })();
    let (cfg, client, audit) = match outcome {
        Ok(v) => v,
        Err(e) => {
            if let Some(o) = &output {
                o.discard();
            }
            return Err(e);
        }
    };

    let bar = (ctx.ui.stderr_is_terminal && !ctx.ui.quiet && args.cprs.len() != 1)
        .then(|| progress_bar(total));
    let progress: Option<Arc<dyn Progress>> = bar.clone().map(|b| {
        Arc::new(Bar {
            bar: b,
            failed: Default::default(),
        }) as Arc<dyn Progress>
    });
    let opts = BatchOptions {
        earlier,
        audit,
        ..BatchOptions::default()
    };
    let rt = match ctx.runtime() {
        Ok(rt) => rt,
        Err(e) => {
            if let Some(o) = &output {
                o.discard();
            }
            return Err(e);
        }
    };
    let outcome = rt.block_on(async {
        let stop = connect::interrupted();
        batch::run(&client, rows, sink, opts, progress, stop).await
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let destination = args
        .output
        .as_ref()
        .map(|p| format!(" to {}", p.display()))
        .unwrap_or_default();
    match outcome {
        Ok(s) => {
            if let Some(o) = &output {
                o.commit().map_err(|e| {
                    CliError::usage(format!("cannot put the output in place{destination}: {e}"))
                        .with_hint("check that the directory is writable and the disk is not full")
                })?;
            }
            if args.cprs.len() != 1 || args.output.is_some() {
                let mut extra = String::new();
                if s.skipped > 0 {
                    extra.push_str(&format!(" ({} skipped: already answered)", s.skipped));
                }
                if s.kept > 0 {
                    extra.push_str(&format!(" ({} kept as they were)", s.kept));
                }
                let rows = s.rows();
                ctx.ui.note(&format!(
                    "{rows} row{}{destination}: {} found, {} not found, {} invalid, {} errors{extra}; {} re-asked before not_found",
                    if rows == 1 { "" } else { "s" },
                    s.found,
                    s.not_found,
                    s.invalid,
                    s.error,
                    s.reasked
                ));
            }
            Ok(if s.invalid + s.error > 0 {
                Code::No
            } else {
                Code::Success
            })
        }
        Err(stopped) => {
            let s = stopped.summary;
            let untouched = output.as_ref().is_some_and(Output::discard);
            let mismatch = matches!(stopped.error, cprlink_lookup::Error::Earlier(_));
            let refused = matches!(
                stopped.error,
                cprlink_lookup::Error::Unavailable {
                    last: cprlink_lookup::error::Transient::Connect(_),
                    ..
                }
            );
            let mut err = crate::exit::lookup(stopped.error, cfg.route());
            if err.code == Code::Success {
                return Ok(Code::Success);
            }
            if let Some(hint) = cfg.sandbox_not_running().filter(|_| refused) {
                err.hints = vec![hint];
            }
            if mismatch {
                err.hints = vec![mismatch_hint(args)];
            }
            let note = match (&args.output, untouched) {
                // The hint said that nothing was changed.
                _ if mismatch => None,
                (Some(p), true) if rewrite => Some(format!(
                    "{} was left as it was: --retry-errors replaces it only when the run completes",
                    p.display()
                )),
                (Some(p), true) => Some(format!(
                    "{} was left as it was (nothing had been answered yet)",
                    p.display()
                )),
                _ if s.rows() > 0 => {
                    let resume = match &args.output {
                        Some(p) => format!(
                            "; `cprlink lookup --input ... --output {} --resume` carries on",
                            p.display()
                        ),
                        None => String::new(),
                    };
                    Some(format!(
                        "{} rows were answered and written{destination} before the stop{resume}",
                        s.rows()
                    ))
                }
                _ => None,
            };
            if let Some(note) = note {
                if err.code == Code::Interrupted {
                    // Interruptions print no hints; say it here.
                    ctx.ui.note(&note);
                } else {
                    err = err.with_hint(note);
                }
            }
            Err(err)
        }
    }
}
