//! `cprlink lookup`: names for CPR numbers, one, several, or a file in bulk.
//!
//! Thin: picks the input, the output and its format (and the `--resume` point), gets a
//! client from `connect` (config, flags, certificate), then runs the library's
//! streaming batch runner and turns its outcome into an exit code. `output` renders the
//! records and reads the resume point. stderr only ever gets masked CPR numbers.

mod output;

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;
use std::sync::Arc;

use cprlink_lookup::batch::{self, BatchOptions, Progress, RecordSink};
use cprlink_lookup::cpr::mask_input;
use cprlink_lookup::input::{InputItem, InputReader};

use crate::args::{LookupArgs, OutputFormat};
use crate::commands::Context;
use crate::commands::connect::{self, Overrides};
use crate::exit::{CliError, Code};
use output::{Renderer, WriterSink, resume_point};

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
    let file = std::fs::File::open(&path)
        .map_err(|e| CliError::usage(format!("cannot read the input {}: {e}", path.display())))?;
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
        "{bar:30} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}"
    } else {
        "{spinner} {pos} rows  {per_sec}  {msg}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(5));
    bar
}

pub fn run(args: &LookupArgs, ctx: &mut Context) -> Result<Code, CliError> {
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

    // Output, its format, and where to resume.
    let format = match (args.format, &args.output) {
        (Some(f), _) => f,
        (None, _) if ctx.ui.json => OutputFormat::Jsonl,
        (None, Some(p)) => format_for_file(p),
        (None, None) if ctx.ui.stdout_is_terminal => OutputFormat::Table,
        (None, None) => OutputFormat::Jsonl,
    };
    let mut skip = 0u64;
    let mut resume_check = None;
    let sink: Box<dyn RecordSink> = match &args.output {
        None => Box::new(WriterSink::new(
            std::io::stdout(),
            Renderer::new(format, true),
        )),
        Some(path) => {
            let mut with_header = true;
            let file = if args.resume {
                let point = resume_point(path, format).map_err(CliError::usage)?;
                if point.repaired_bytes > 0 {
                    ctx.ui.note(&format!(
                        "resume: cut a half-written last line ({} bytes) from {}",
                        point.repaired_bytes,
                        path.display()
                    ));
                }
                if point.answered > 0 {
                    ctx.ui.note(&format!(
                        "resume: {} rows already answered in {}",
                        point.answered,
                        path.display()
                    ));
                }
                skip = point.answered;
                resume_check = point.last_cpr;
                with_header = !point.has_header;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
            } else {
                if !args.force && std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
                    return Err(
                        CliError::usage(format!("{} already exists", path.display())).with_hint(
                            "pass --resume to carry on where it stopped, or --force to replace it",
                        ),
                    );
                }
                std::fs::File::create(path)
            }
            .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))?;
            Box::new(WriterSink::new(file, Renderer::new(format, with_header)))
        }
    };

    let cfg = ctx.config()?.clone();
    let client = connect::client(ctx.prompter.as_mut(), &cfg, overrides)?;
    let audit = connect::audit_log(&cfg, args.purpose.clone())?;

    let bar = (ctx.ui.stderr_is_terminal && !ctx.ui.quiet && args.cprs.len() != 1)
        .then(|| progress_bar(total));
    let progress: Option<Arc<dyn Progress>> = bar.clone().map(|b| {
        Arc::new(Bar {
            bar: b,
            failed: Default::default(),
        }) as Arc<dyn Progress>
    });
    let opts = BatchOptions {
        skip,
        audit,
        resume_check,
        ..BatchOptions::default()
    };
    let rt = ctx.runtime()?;
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
            if args.cprs.len() != 1 || args.output.is_some() {
                let skipped = if s.skipped > 0 {
                    format!(" ({} skipped: already answered)", s.skipped)
                } else {
                    String::new()
                };
                let rows = s.rows();
                ctx.ui.note(&format!(
                    "{rows} row{}{destination}: {} found, {} not found, {} invalid, {} errors{skipped}; {} re-asked before not_found",
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
            let mut err = crate::exit::lookup(stopped.error, cfg.route());
            if err.code == Code::Success {
                return Ok(Code::Success);
            }
            if s.rows() > 0 {
                let resume = match &args.output {
                    Some(p) => format!(
                        "; `cprlink lookup --input ... --output {} --resume` carries on",
                        p.display()
                    ),
                    None => String::new(),
                };
                let note = format!(
                    "{} rows were answered and written{destination} before the stop{resume}",
                    s.rows()
                );
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
