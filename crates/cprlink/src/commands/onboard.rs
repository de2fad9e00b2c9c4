//! `cprlink onboard`: init, next (the default), record, status, letter, report.
//!
//! Thin on purpose: it turns flags and answers into `cprlink_onboard` calls, reads
//! certificate files (with the password flags or a hidden prompt) into evidence for
//! the model, and renders what the model says. The rules live in the library; the
//! terminal, the output formats and the exit codes live here. Guidance for `next` goes
//! to stderr when prompting (it accompanies the prompts) and to stdout with
//! `--no-input` (there it is the command's answer).

use std::path::{Path, PathBuf};

use cprlink_cert::files::Overwrite;
use cprlink_cert::{CertFacts, Loaded};
use cprlink_onboard::steps::{FieldDef, FieldKind, StepDef};
use cprlink_onboard::{
    Case, CertificateEvidence, Facts, HandoverEvidence, Language, LetterKind, NewCase, Route,
    Stamp, Status, StepState, TargetEnvironment, letters, report,
};
use serde::Serialize;

use crate::args::{
    self, OnboardArgs, OnboardCommand, OnboardInitArgs, OnboardLetterArgs, OnboardRecordArgs,
    OnboardReportArgs, PasswordArgs, ReportFormat,
};
use crate::commands::Context;
use crate::exit::{CliError, Code};
use crate::output::Ui;
use crate::prompt::{Prompter, Question};
use crate::secrets;

/// The default state file; other paths are spelled out in suggested commands.
const DEFAULT_STATE: &str = "onboarding.toml";
/// Human output fits this many columns.
const WIDTH: usize = 100;

pub fn run(args: &OnboardArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let prefix = command_prefix(&args.state);
    match &args.command {
        Some(OnboardCommand::Init(a)) => init(&args.state, a, &prefix, ctx),
        None | Some(OnboardCommand::Next) => next(&args.state, &prefix, ctx),
        Some(OnboardCommand::Record(a)) => record(&args.state, a, &prefix, ctx),
        Some(OnboardCommand::Status) => status(&args.state, &prefix, ctx),
        Some(OnboardCommand::Letter(a)) => letter(&args.state, a, ctx),
        Some(OnboardCommand::Report(a)) => report_cmd(&args.state, a, ctx),
    }
}

/// `cprlink onboard`, plus `--state FILE` when it is not the default.
fn command_prefix(state: &Path) -> String {
    if state == Path::new(DEFAULT_STATE) {
        "cprlink onboard".to_owned()
    } else {
        format!(
            "cprlink onboard --state {}",
            shell_word(&state.display().to_string())
        )
    }
}

/// Quotes a word for a copy-pasted shell command when it needs it.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

// ---- init ---------------------------------------------------------------------------

fn init(
    path: &Path,
    a: &OnboardInitArgs,
    prefix: &str,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    let new = NewCase {
        authority: a.authority.clone(),
        cvr: a.cvr.clone(),
        route: match a.route {
            args::RouteArg::Selfservice => Route::Selfservice,
            args::RouteArg::Administration => Route::Administration,
        },
        environment: target_environment(a.environment),
        contact_name: a.contact_name.clone(),
        contact_email: a.contact_email.clone(),
    };
    let stamp = Stamp::now();
    let case = Case::init(path, new, &stamp)?;
    let st = case.status_with(stamp.today, prefix);
    if ctx.ui.json {
        print_json(&ctx.ui, &StatusJson::from(&st))?;
    } else {
        let s = case.state();
        say(
            &ctx.ui,
            &format!(
                "Started the onboarding of {} (CVR {}), route {}, {} environment, in {}.",
                s.authority,
                s.cvr,
                s.route,
                s.environment,
                path.display()
            ),
        );
        say(&ctx.ui, &format!("Next: {}", st.next_action));
        say(&ctx.ui, &format!("Guidance for each step: `{prefix}`"));
    }
    Ok(Code::Success)
}

fn target_environment(e: args::TargetEnvironment) -> TargetEnvironment {
    match e {
        args::TargetEnvironment::Production => TargetEnvironment::Production,
        args::TargetEnvironment::Test => TargetEnvironment::Test,
    }
}

// ---- record -------------------------------------------------------------------------

/// Every `record` flag that takes plain text, with the fact key it sets.
fn text_flags(a: &OnboardRecordArgs) -> Vec<(&'static str, &'static str, Option<&String>)> {
    vec![
        ("username", "--username", a.username.as_ref()),
        ("service_user", "--service-user", a.service_user.as_ref()),
        ("case_number", "--case-number", a.case_number.as_ref()),
        ("applied_on", "--applied-on", a.applied_on.as_ref()),
        ("virk_receipt", "--virk-receipt", a.virk_receipt.as_ref()),
        ("approved_on", "--approved-on", a.approved_on.as_ref()),
        (
            "approval_reference",
            "--approval-reference",
            a.approval_reference.as_ref(),
        ),
        ("dpg_ip", "--dpg-ip", a.dpg_ip.as_ref()),
        ("requested_on", "--requested-on", a.requested_on.as_ref()),
        (
            "support_ticket",
            "--support-ticket",
            a.support_ticket.as_ref(),
        ),
        ("confirmed_on", "--confirmed-on", a.confirmed_on.as_ref()),
        (
            "handed_over_on",
            "--handed-over-on",
            a.handed_over_on.as_ref(),
        ),
        ("received_by", "--received-by", a.received_by.as_ref()),
        ("it_system", "--it-system", a.it_system.as_ref()),
        ("client_id", "--client-id", a.client_id.as_ref()),
        ("added_on", "--added-on", a.added_on.as_ref()),
    ]
}

fn record(
    path: &Path,
    a: &OnboardRecordArgs,
    prefix: &str,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    if a.step == "contact" {
        return record_contact(path, a, ctx);
    }
    if a.contact_name.is_some() || a.contact_email.is_some() {
        return Err(CliError::usage(
            "--contact-name and --contact-email belong to `record contact`",
        )
        .with_hint(format!("{prefix} record contact --contact-email EMAIL")));
    }
    let mut case = Case::open(path)?;
    let def = case.step(&a.step)?;
    let stranger = |flag: &str| {
        CliError::usage(format!("{flag} is not a field of step {}", def.id)).with_hint(format!(
            "{} takes {}{}",
            def.id,
            def.fields
                .iter()
                .map(|f| f.flag)
                .collect::<Vec<_>>()
                .join(", "),
            ", --done"
        ))
    };
    let mut facts = Facts::new();
    let mut login_method = a.login_method.map(|m| match m {
        args::LoginMethod::Password => "password",
        args::LoginMethod::Mitid => "mitid",
    });
    if let Some(m) = login_method.take() {
        if def.field("login_method").is_none() {
            return Err(stranger("--login-method"));
        }
        facts = facts.text("login_method", m);
    }
    for (key, flag, value) in text_flags(a) {
        if let Some(v) = value {
            if def.field(key).is_none() {
                return Err(stranger(flag));
            }
            facts = facts.text(key, v.clone());
        }
    }
    let today = Stamp::now().today;
    if let Some(file) = &a.certificate {
        let field = def.fields.iter().find(|f| f.kind == FieldKind::Certificate);
        let Some(field) = field else {
            return Err(stranger("--certificate"));
        };
        let evidence = certificate_evidence(file, &a.password, &ctx.ui, ctx.prompter.as_mut())?;
        facts = facts.certificate(field.key, evidence);
    }
    if let Some(file) = &a.p12 {
        let field = def.fields.iter().find(|f| f.kind == FieldKind::Handover);
        let Some(field) = field else {
            return Err(stranger("--p12"));
        };
        let evidence = handover_evidence(
            file,
            &a.password,
            &a.trust,
            &case,
            &ctx.ui,
            ctx.prompter.as_mut(),
        )?;
        facts = facts.handover(field.key, evidence);
    }
    let stamp = Stamp {
        today,
        ..Stamp::now()
    };
    let recorded = case.record(def.id, &facts, a.done, &stamp)?;
    report_recorded(&ctx.ui, &case, def, &recorded, prefix)?;
    Ok(Code::Success)
}

fn record_contact(path: &Path, a: &OnboardRecordArgs, ctx: &mut Context) -> Result<Code, CliError> {
    if a.contact_name.is_none() && a.contact_email.is_none() {
        return Err(CliError::usage(
            "nothing to record for contact: pass --contact-name NAME or --contact-email EMAIL",
        ));
    }
    let others = text_flags(a).into_iter().any(|(_, _, v)| v.is_some())
        || a.certificate.is_some()
        || a.p12.is_some()
        || a.login_method.is_some()
        || a.done;
    if others {
        return Err(CliError::usage(
            "`record contact` takes only --contact-name and --contact-email",
        ));
    }
    let mut case = Case::open(path)?;
    let r = case.set_contact(
        a.contact_name.as_deref(),
        a.contact_email.as_deref(),
        &Stamp::now(),
    )?;
    if ctx.ui.json {
        print_json(
            &ctx.ui,
            &RecordedJson {
                step: "contact",
                changed: &r.changed,
                marked_done: false,
                notes: &r.notes,
                next_action: None,
            },
        )?;
    } else if r.is_noop() {
        ctx.ui.note("contact: nothing changed");
    } else {
        ctx.ui
            .note(&format!("contact: recorded {}", r.changed.join(", ")));
    }
    Ok(Code::Success)
}

#[derive(Serialize)]
struct RecordedJson<'a> {
    step: &'a str,
    changed: &'a [String],
    marked_done: bool,
    notes: &'a [String],
    next_action: Option<String>,
}

fn report_recorded(
    ui: &Ui,
    case: &Case,
    def: &StepDef,
    r: &cprlink_onboard::Recorded,
    prefix: &str,
) -> Result<(), CliError> {
    let st = case.status_with(Stamp::now().today, prefix);
    if ui.json {
        print_json(
            ui,
            &RecordedJson {
                step: def.id,
                changed: &r.changed,
                marked_done: r.marked_done,
                notes: &r.notes,
                next_action: Some(st.next_action.clone()),
            },
        )?;
        return Ok(());
    }
    if r.is_noop() {
        say(
            ui,
            &format!("{}: nothing changed (the same values are recorded)", def.id),
        );
    } else if !r.changed.is_empty() {
        say(
            ui,
            &format!("{}: recorded {}", def.id, r.changed.join(", ")),
        );
    }
    if r.marked_done {
        say(ui, &format!("{}: done", def.id));
    }
    for n in &r.notes {
        if n.contains("renewal") {
            ui.warn(n);
        } else {
            say(ui, &format!("note: {n}"));
        }
    }
    say(ui, &format!("Next: {}", st.next_action));
    Ok(())
}

/// Reads a certificate file (.cer/.pem/.p12) into evidence. A .p12 asks for its
/// password (flags, else a hidden prompt). Only public facts leave this function.
fn certificate_evidence(
    file: &Path,
    password: &PasswordArgs,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<CertificateEvidence, CliError> {
    let (loaded, _secret) = secrets::open_certificate_file(file, password, None, ui, prompter)?;
    evidence_of(&loaded, file)
}

fn evidence_of(loaded: &Loaded, file: &Path) -> Result<CertificateEvidence, CliError> {
    let leaf = loaded
        .leaf()
        .ok_or_else(|| CliError::usage(format!("{} holds no certificate", file.display())))?;
    let facts = CertFacts::of(leaf, chrono::Utc::now())?;
    Ok(CertificateEvidence::from_facts(
        file.display().to_string(),
        &facts,
    ))
}

/// Runs `cprlink cert verify`'s checklist on the handover .p12 and turns the result
/// into evidence for the model (which refuses a failing file, or one whose certificate
/// is not the one registered at Datafordeler).
fn handover_evidence(
    file: &Path,
    password: &PasswordArgs,
    trust: &[PathBuf],
    case: &Case,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<HandoverEvidence, CliError> {
    let _ = (trust, case);
    let (loaded, _secret) = secrets::open_certificate_file(file, password, None, ui, prompter)?;
    let _certificate = evidence_of(&loaded, file)?;
    // The verify checklist (`cprlink_cert::verify`) is being built on branch `cert`;
    // until it is merged, a .p12 cannot be verified here, and an unverified one is
    // never recorded.
    Err(CliError::usage(
        "checking the handover .p12 needs the `cprlink cert verify` checklist, which is not in this build yet",
    ))
}

// ---- status ---------------------------------------------------------------------------

/// `status --json`: the SPEC's fields first, then the documented extras.
#[derive(Serialize)]
struct StatusJson<'a> {
    authority: &'a str,
    cvr: &'a str,
    route: &'a str,
    environment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_email: Option<&'a str>,
    steps: &'a [cprlink_onboard::StepStatus],
    next_action: &'a str,
    next_command: Option<&'a str>,
    current_step: Option<&'a str>,
    warnings: &'a [cprlink_onboard::Warning],
    blocked: bool,
    blockers: &'a [String],
    complete: bool,
}

impl<'a> From<&'a Status> for StatusJson<'a> {
    fn from(s: &'a Status) -> Self {
        StatusJson {
            authority: &s.authority,
            cvr: &s.cvr,
            route: s.route.as_str(),
            environment: &s.environment,
            contact_name: s.contact_name.as_deref(),
            contact_email: s.contact_email.as_deref(),
            steps: &s.steps,
            next_action: &s.next_action,
            next_command: s.next_command.as_deref(),
            current_step: s.current_step.as_deref(),
            warnings: &s.warnings,
            blocked: s.blocked,
            blockers: &s.blockers,
            complete: s.complete,
        }
    }
}

fn status(path: &Path, prefix: &str, ctx: &mut Context) -> Result<Code, CliError> {
    let case = Case::load(path)?;
    let st = case.status_with(Stamp::now().today, prefix);
    if ctx.ui.json {
        print_json(&ctx.ui, &StatusJson::from(&st))?;
    } else {
        ctx.ui.print(&render_status(&ctx.ui, &st))?;
    }
    Ok(if st.blocked { Code::No } else { Code::Success })
}

fn state_label(s: &cprlink_onboard::StepStatus) -> String {
    match s.state {
        StepState::Done => "done".to_owned(),
        StepState::InProgress => "in progress".to_owned(),
        StepState::Waiting => format!("waiting {}d", s.waiting_days.unwrap_or(0)),
        StepState::NotStarted => "not started".to_owned(),
    }
}

/// The human checklist (stdout).
fn render_status(ui: &Ui, st: &Status) -> String {
    use console::Style;
    let mut out = String::new();
    out.push_str(&format!(
        "{} (CVR {}): route {}, {} environment\n\n",
        st.authority, st.cvr, st.route, st.environment
    ));
    for (i, s) in st.steps.iter().enumerate() {
        let label = state_label(s);
        let style = match s.state {
            StepState::Done => Style::new().green(),
            StepState::Waiting | StepState::InProgress => Style::new().yellow(),
            StepState::NotStarted => Style::new().dim(),
        };
        let word = ui.style_stdout(style, &format!("{label:<12}"));
        let mut line = format!("{:>2}. {word} {} ({})", i + 1, s.title, s.id);
        if let Some(d) = s.done_on.filter(|_| s.state == StepState::Done) {
            line.push_str(&format!(", {d}"));
        }
        out.push_str(&line);
        out.push('\n');
        if let (Some(on), Some(since)) = (&s.waiting_on, s.waiting_since) {
            out.push_str(&format!("      waiting for {on} since {since}\n"));
        }
        for (k, v) in &s.facts {
            out.push_str(&fit(&format!("      {k}: {v}"), WIDTH));
            out.push('\n');
        }
        if !s.missing.is_empty() && s.state != StepState::NotStarted {
            out.push_str(&fit(
                &format!("      missing: {}", s.missing.join(", ")),
                WIDTH,
            ));
            out.push('\n');
        }
    }
    out.push('\n');
    for b in &st.blockers {
        let label = ui.style_stdout(Style::new().red().bold(), "blocked:");
        out.push_str(&wrap(&format!("{label} {b}"), WIDTH, "  "));
    }
    for w in &st.warnings {
        let label = ui.style_stdout(Style::new().yellow().bold(), "warning:");
        out.push_str(&wrap(&format!("{label} {}", w.message), WIDTH, "  "));
    }
    out.push_str(&wrap(&format!("Next: {}", st.next_action), WIDTH, "  "));
    out
}

/// One JSON document on stdout. Serialised first, so that a closed pipe
/// (`... --json | head`) reaches `exit.rs` as the broken pipe it is (success).
fn print_json<T: Serialize>(ui: &Ui, value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::usage(format!("internal: cannot write JSON: {e}")))?;
    ui.print(&text)?;
    Ok(())
}

/// A note on stderr, wrapped to the terminal width we promise.
fn say(ui: &Ui, text: &str) {
    ui.note(wrap(text, WIDTH, "  ").trim_end());
}

/// Cuts a line to `width` characters, marking the cut.
fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let mut s: String = line.chars().take(width - 3).collect();
    s.push_str("...");
    s
}

/// Wraps text at spaces to `width` columns; continuation lines start with `indent`.
/// Words longer than a line (URLs, commands) stay whole.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    for para in text.split('\n') {
        // Keep a paragraph's own indentation (aligned lists).
        let lead = &para[..para.len() - para.trim_start_matches(' ').len()];
        let mut line = lead.to_owned();
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let visible = |s: &str| console::measure_text_width(s);
            if !line.trim().is_empty() && visible(&line) + 1 + visible(word) > width {
                out.push_str(line.trim_end());
                out.push('\n');
                line = indent.to_owned();
            } else if !line.trim().is_empty() && !line.ends_with(' ') {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

// ---- letter, report -----------------------------------------------------------------------

#[derive(Serialize)]
struct LetterJson<'a> {
    kind: &'a str,
    lang: &'a str,
    to: &'a str,
    subject: &'a str,
    body: &'a str,
}

fn letter(path: &Path, a: &OnboardLetterArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let case = Case::load(path)?;
    let kind = match a.kind {
        args::LetterKind::CprApplication => LetterKind::CprApplication,
        args::LetterKind::DatafordelerSupport => LetterKind::DatafordelerSupport,
        args::LetterKind::DpgHandover => LetterKind::DpgHandover,
    };
    let lang = match a.lang {
        args::Language::Da => Language::Da,
        args::Language::En => Language::En,
    };
    let l = letters::render(kind, lang, &case)?;
    if ctx.ui.json {
        print_json(
            &ctx.ui,
            &LetterJson {
                kind: kind.as_str(),
                lang: if lang == Language::Da { "da" } else { "en" },
                to: &l.to,
                subject: &l.subject,
                body: &l.body,
            },
        )?;
    } else {
        ctx.ui.print(&l.to_text(lang))?;
        if kind == LetterKind::DpgHandover {
            ctx.ui.note("Send the .p12 password to DPG by another channel (phone or SMS), never with the file.");
        }
    }
    Ok(Code::Success)
}

fn report_cmd(path: &Path, a: &OnboardReportArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let case = Case::load(path)?;
    let today = Stamp::now().today;
    let text = match a.format {
        ReportFormat::Markdown => report::markdown(&case, today),
        ReportFormat::Html => report::html(&case, today),
    };
    ctx.ui.print(&text)?;
    Ok(Code::Success)
}

// ---- next ------------------------------------------------------------------------------

#[derive(Serialize)]
struct LinkJson<'a> {
    label: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct ValueJson<'a> {
    label: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct FieldJson<'a> {
    key: &'a str,
    flag: &'a str,
    label: &'a str,
    required: bool,
    recorded: Option<&'a str>,
}

#[derive(Serialize)]
struct NextJson<'a> {
    step: Option<&'a str>,
    title: Option<&'a str>,
    state: Option<&'a str>,
    what: Option<&'a str>,
    links: Vec<LinkJson<'a>>,
    values: Vec<ValueJson<'a>>,
    fields: Vec<FieldJson<'a>>,
    command: Option<&'a str>,
    next_action: &'a str,
    complete: bool,
}

fn next(path: &Path, prefix: &str, ctx: &mut Context) -> Result<Code, CliError> {
    if !ctx.ui.interactive || ctx.ui.json {
        let case = Case::load(path)?;
        return guidance_only(&case, prefix, &ctx.ui);
    }
    let mut case = Case::open(path)?;
    let ui = ctx.ui.clone();
    exit_on_ctrl_c(&ui);
    let result = interactive(&mut case, prefix, &ui, ctx.prompter.as_mut());
    if matches!(&result, Err(e) if e.code == Code::Interrupted) {
        // dialoguer hides the cursor in selections and does not show it again when a
        // prompt is cut short.
        restore_terminal(&ui);
    }
    result
}

/// Held while the case file is being saved, so Ctrl-C waits for a save to finish.
static SAVING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn saving() -> std::sync::MutexGuard<'static, ()> {
    SAVING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn restore_terminal(ui: &Ui) {
    if ui.stderr_is_terminal {
        let _ = console::Term::stderr().show_cursor();
    }
}

/// Ctrl-C between keystrokes arrives as SIGINT (dialoguer reads keys in raw mode only
/// while it waits for one). Catch it, let a save in progress finish, show the cursor,
/// and exit 130 like a Ctrl-C inside a prompt. Everything answered before is saved.
fn exit_on_ctrl_c(ui: &Ui) {
    let ui = ui.clone();
    let spawned = std::thread::Builder::new()
        .name("ctrl-c".to_owned())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if rt.block_on(tokio::signal::ctrl_c()).is_err() {
                return;
            }
            let _saved = saving();
            restore_terminal(&ui);
            eprintln!();
            ui.note("interrupted");
            #[allow(clippy::exit)]
            std::process::exit(Code::Interrupted.as_i32());
        });
    if spawned.is_err() {
        tracing::debug!("no Ctrl-C handler: the default applies");
    }
}

/// `next` without prompts: the guidance and the exact command, on stdout.
fn guidance_only(case: &Case, prefix: &str, ui: &Ui) -> Result<Code, CliError> {
    let st = case.status_with(Stamp::now().today, prefix);
    let def = st
        .current_step
        .as_deref()
        .map(|id| case.step(id))
        .transpose()?;
    if ui.json {
        let values = def.map(|d| case.exact_values(d)).unwrap_or_default();
        let step = def.and_then(|d| st.steps.iter().find(|s| s.id == d.id));
        let json = NextJson {
            step: def.map(|d| d.id),
            title: def.map(|d| d.title),
            state: step.map(|s| s.state.as_str()),
            what: def.map(|d| d.what),
            links: def
                .map(|d| {
                    d.links
                        .iter()
                        .map(|l| LinkJson {
                            label: l.label,
                            url: l.url,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            values: values
                .iter()
                .map(|(l, v)| ValueJson { label: l, value: v })
                .collect(),
            fields: def
                .map(|d| {
                    d.fields
                        .iter()
                        .map(|f| FieldJson {
                            key: f.key,
                            flag: f.flag,
                            label: f.label,
                            required: f.required,
                            recorded: step
                                .and_then(|s| s.facts.get(f.presence_key()))
                                .map(String::as_str),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            command: st.next_command.as_deref(),
            next_action: &st.next_action,
            complete: st.complete,
        };
        print_json(ui, &json)?;
        return Ok(Code::Success);
    }
    match def {
        Some(d) => ui.print(&guidance(case, d, &st, prefix, ui))?,
        None => ui.print(&wrap(&st.next_action, WIDTH, ""))?,
    }
    Ok(Code::Success)
}

/// The guidance for one step: what, where, exact values, what to record, the command.
fn guidance(case: &Case, def: &StepDef, st: &Status, prefix: &str, ui: &Ui) -> String {
    use console::Style;
    let n = case
        .steps()
        .iter()
        .position(|d| d.id == def.id)
        .map_or(0, |i| i + 1);
    let step = st.steps.iter().find(|s| s.id == def.id);
    let mut out = String::new();
    let title = format!("Step {n} of {}: {}", case.steps().len(), def.title);
    out.push_str(&ui.style_stdout(Style::new().bold(), &title));
    out.push_str(&format!(
        " ({}, {})\n\n",
        def.id,
        step.map_or_else(String::new, state_label)
    ));
    for b in &st.blockers {
        out.push_str(&wrap(&format!("Blocked: {b}"), WIDTH, "  "));
        out.push('\n');
    }
    if let Some(s) = step
        && let (Some(on), Some(since)) = (&s.waiting_on, s.waiting_since)
    {
        out.push_str(&format!(
            "Waiting for {on} since {since} ({} days).\n\n",
            s.waiting_days.unwrap_or(0)
        ));
    }
    out.push_str(&wrap(def.what, WIDTH, ""));
    out.push('\n');
    if !def.links.is_empty() {
        out.push_str("Where:\n");
        for l in def.links {
            let url = l.url.strip_prefix("mailto:").unwrap_or(l.url);
            out.push_str(&format!("  {}: {url}\n", l.label));
        }
        out.push('\n');
    }
    let values = case.exact_values(def);
    if !values.is_empty() {
        out.push_str("Enter exactly:\n");
        let w = values
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (label, value) in &values {
            out.push_str(&format!("  {label:<w$}  {value}\n"));
        }
        out.push('\n');
    }
    out.push_str("Record:\n");
    let w = def
        .fields
        .iter()
        .map(|f| f.usage().chars().count())
        .max()
        .unwrap_or(0);
    for f in def.fields {
        let recorded = step.and_then(|s| s.facts.get(f.presence_key()));
        let state = match (recorded, f.required) {
            (Some(v), _) => format!("recorded: {v}"),
            (None, true) if f.default_today => "required, default today".to_owned(),
            (None, true) => "required".to_owned(),
            (None, false) => "optional".to_owned(),
        };
        out.push_str(&fit(
            &format!("  {:<w$}  {} ({state})", f.usage(), f.label),
            WIDTH,
        ));
        out.push('\n');
    }
    out.push_str(&format!("\nDone when: {}.\n\n", def.done_when));
    out.push_str("Then run:\n");
    out.push_str(&format!("  {}\n", case.record_command(def, prefix)));
    out
}

/// The interactive walk: guidance, then questions; every answer is saved at once.
fn interactive(
    case: &mut Case,
    prefix: &str,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<Code, CliError> {
    loop {
        let st = case.status_with(Stamp::now().today, prefix);
        let Some(id) = st.current_step.clone() else {
            say(ui, &st.next_action);
            return Ok(Code::Success);
        };
        let def = case.step(&id)?;
        eprint!("\n{}", guidance(case, def, &st, prefix, ui));
        eprintln!();
        let waiting = st
            .steps
            .iter()
            .find(|s| s.id == id)
            .filter(|s| s.state == StepState::Waiting);
        if let Some(w) = waiting {
            let on = w.waiting_on.as_deref().unwrap_or("them");
            if !prompter.confirm(&format!("Has {on} answered?"), false, "--no-input")? {
                say(ui, &format!("Come back when they have: `{prefix}`"));
                return Ok(Code::Success);
            }
        }
        ask_fields(case, def, ui, prompter)?;
        let missing: Vec<String> = def
            .fields
            .iter()
            .filter(|f| f.required && !f.default_today)
            .filter(|f| {
                case.facts(def.id)
                    .is_none_or(|fs| !fs.contains_key(f.presence_key()))
            })
            .map(FieldDef::usage)
            .collect();
        if !missing.is_empty() {
            say(
                ui,
                &format!(
                    "Still missing for {}: {}. Your answers are saved; run `{prefix}` again when you have them.",
                    def.id,
                    missing.join(", ")
                ),
            );
            return Ok(Code::Success);
        }
        if !prompter.confirm(&format!("Mark {} done?", def.id), true, "--done")? {
            say(
                ui,
                &format!(
                    "Saved. Mark it done later with `{prefix} record {} --done`.",
                    def.id
                ),
            );
            return Ok(Code::Success);
        }
        let r = {
            let _saving = saving();
            case.mark_done(def.id, &Stamp::now())?
        };
        for n in &r.notes {
            say(ui, &format!("note: {n}"));
        }
        say(ui, &format!("{}: done", def.id));
        let after = case.status_with(Stamp::now().today, prefix);
        if after.complete {
            say(ui, &after.next_action);
            return Ok(Code::Success);
        }
        if !prompter.confirm("Go on to the next step?", true, "--no-input")? {
            say(ui, &format!("Next: {}", after.next_action));
            return Ok(Code::Success);
        }
    }
}

/// Asks for each field not yet recorded and saves each answer as it comes.
fn ask_fields(
    case: &mut Case,
    def: &StepDef,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<(), CliError> {
    for field in def.fields {
        if let Some(v) = case.facts(def.id).and_then(|f| f.get(field.presence_key())) {
            say(ui, &format!("{}: {v} (recorded)", field.label));
            continue;
        }
        let facts = match field.kind {
            FieldKind::Certificate => ask_certificate(case, def, field, ui, prompter)?,
            FieldKind::Handover => ask_handover(case, def, field, ui, prompter)?,
            FieldKind::Choice(choices) => {
                let i = prompter.select(field.label, choices, 0, &field.usage())?;
                choices.get(i).map(|c| Facts::new().text(field.key, *c))
            }
            _ => ask_text(case, def, field, prompter)?,
        };
        if let Some(facts) = facts {
            // Checked already; saved now, so Ctrl-C later loses nothing typed before.
            let _saving = saving();
            case.record(def.id, &facts, false, &Stamp::now())?;
        }
    }
    Ok(())
}

fn ask_text(
    case: &Case,
    def: &StepDef,
    field: &FieldDef,
    prompter: &mut dyn Prompter,
) -> Result<Option<Facts>, CliError> {
    let stamp = Stamp::now();
    let check = |s: &str| -> Result<(), String> {
        case.check(def.id, &Facts::new().text(field.key, s), false, &stamp)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let prompt = if field.required {
        field.label.to_owned()
    } else {
        format!("{} [Enter to skip]", field.label)
    };
    let flag = format!("{} record {} {}", "cprlink onboard", def.id, field.usage());
    let mut q = Question::new(&prompt, &flag);
    q.allow_empty = !field.required || field.kind != FieldKind::Date;
    if field.kind == FieldKind::Date && field.default_today {
        q.default = Some(stamp.today.to_string());
    }
    q.validate = Some(&check);
    let answer = prompter.input(&q)?;
    if answer.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(Facts::new().text(field.key, answer)))
}

/// Asks for a file path until one exists (empty: skip).
fn ask_path(
    prompter: &mut dyn Prompter,
    prompt: &str,
    flag: &str,
    default: Option<String>,
) -> Result<Option<PathBuf>, CliError> {
    let exists = |s: &str| -> Result<(), String> {
        if Path::new(s.trim()).is_file() {
            Ok(())
        } else {
            Err(format!("{} is not a file", s.trim()))
        }
    };
    let mut q = Question::new(prompt, flag);
    q.allow_empty = true;
    q.default = default;
    q.validate = Some(&exists);
    let a = prompter.input(&q)?;
    Ok((!a.trim().is_empty()).then(|| PathBuf::from(a.trim())))
}

/// Asks where to write a new file (must not exist yet).
fn ask_new_path(
    prompter: &mut dyn Prompter,
    prompt: &str,
    flag: &str,
    default: String,
) -> Result<PathBuf, CliError> {
    let free = |s: &str| -> Result<(), String> {
        if Path::new(s.trim()).exists() {
            Err(format!("{} exists already; choose another name", s.trim()))
        } else {
            Ok(())
        }
    };
    let mut q = Question::new(prompt, flag);
    q.default = Some(default);
    q.validate = Some(&free);
    Ok(PathBuf::from(prompter.input(&q)?.trim()))
}

/// The certificate uploaded at Datafordeler: exported here on request, or read from
/// the file the admin names; re-asked until the model accepts it.
fn ask_certificate(
    case: &Case,
    def: &StepDef,
    field: &FieldDef,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<Option<Facts>, CliError> {
    let pem = case.route() == Route::Administration;
    let flag = format!("cprlink onboard record {} {}", def.id, field.usage());
    loop {
        let what = if pem { "PEM" } else { "CER" };
        let export = prompter.confirm(
            &format!("Export the {what} to upload from your .p12 (MitID Erhverv file) now?"),
            false,
            &flag,
        )?;
        let (file, evidence) = if export {
            let Some(p12) = ask_path(prompter, "The .p12 file from MitID Erhverv", &flag, None)?
            else {
                continue;
            };
            let (loaded, _secret) = match secrets::open_certificate_file(
                &p12,
                &PasswordArgs::default(),
                None,
                ui,
                prompter,
            ) {
                Ok(x) => x,
                Err(e) => {
                    warn_retry(ui, &e, prompter)?;
                    continue;
                }
            };
            let ext = if pem { "pem" } else { "cer" };
            let out = ask_new_path(
                prompter,
                "Write the certificate to",
                &flag,
                p12.with_extension(ext).display().to_string(),
            )?;
            let leaf = loaded.leaf().ok_or_else(|| {
                CliError::usage(format!("{} holds no certificate", p12.display()))
            })?;
            let bytes = if pem { leaf.to_pem() } else { leaf.to_der() }
                .map_err(|e| CliError::usage(format!("cannot encode the certificate: {e}")))?;
            cprlink_cert::files::write_public(&out, &bytes, Overwrite::Refuse)?;
            let ev = evidence_of(&loaded, &out)?;
            say(
                ui,
                &format!(
                    "Wrote {} (public certificate only).\n  SHA-1 thumbprint:   {}\n  SHA-256 fingerprint: {}\n\
                 Upload it, then compare the thumbprint the portal shows.",
                    out.display(),
                    ev.sha1_thumbprint,
                    ev.sha256_fingerprint
                ),
            );
            (out, ev)
        } else {
            let Some(path) = ask_path(
                prompter,
                &format!("{} [Enter to skip]", field.label),
                &flag,
                None,
            )?
            else {
                return Ok(None);
            };
            match certificate_evidence(&path, &PasswordArgs::default(), ui, prompter) {
                Ok(ev) => (path, ev),
                Err(e) => {
                    warn_retry(ui, &e, prompter)?;
                    continue;
                }
            }
        };
        let facts = Facts::new().certificate(field.key, evidence);
        match case.check(def.id, &facts, false, &Stamp::now()) {
            Ok(_) => return Ok(Some(facts)),
            Err(e) => {
                ui.warn(&format!("{}: {e}", file.display()));
                if !prompter.confirm("Try another file?", true, &flag)? {
                    return Ok(None);
                }
            }
        }
    }
}

/// Shows why a file could not be read; asks whether to try again.
fn warn_retry(ui: &Ui, e: &CliError, prompter: &mut dyn Prompter) -> Result<(), CliError> {
    if e.code == Code::Interrupted {
        return Err(CliError::interrupted());
    }
    ui.warn(&e.message);
    if prompter.confirm("Try again?", true, "--no-input")? {
        Ok(())
    } else {
        Err(CliError::new(Code::Success, ""))
    }
}

/// The .p12 for DPG: packed here on request, verified, and re-asked until accepted.
fn ask_handover(
    case: &Case,
    def: &StepDef,
    field: &FieldDef,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<Option<Facts>, CliError> {
    let flag = format!(
        "cprlink onboard record {} {} --password-file FILE",
        def.id,
        field.usage()
    );
    loop {
        let mut password = PasswordArgs::default();
        let have = prompter.confirm("Do you have the .p12 to hand over to DPG?", true, &flag)?;
        let file = if have {
            match ask_path(prompter, "The .p12 for DPG [Enter to skip]", &flag, None)? {
                Some(f) => f,
                None => return Ok(None),
            }
        } else {
            if !prompter.confirm(
                "Pack one now from the certificate and its private key?",
                true,
                &flag,
            )? {
                ui.note("Make it with `cprlink cert pack` (see docs/certificates.md), then run this again.");
                return Ok(None);
            }
            match pack_in_place(ui, prompter, &flag) {
                Ok((out, pw)) => {
                    password.password_file = Some(pw);
                    out
                }
                Err(e) if e.code == Code::Interrupted => return Err(e),
                Err(e) => {
                    warn_retry(ui, &e, prompter)?;
                    continue;
                }
            }
        };
        let evidence = match handover_evidence(&file, &password, &[], case, ui, prompter) {
            Ok(ev) => ev,
            Err(e) => {
                warn_retry(ui, &e, prompter)?;
                continue;
            }
        };
        let facts = Facts::new().handover(field.key, evidence);
        match case.check(def.id, &facts, false, &Stamp::now()) {
            Ok(_) => return Ok(Some(facts)),
            Err(e) => {
                ui.warn(&format!("{}: {e}", file.display()));
                if !prompter.confirm("Try another file?", true, &flag)? {
                    return Ok(None);
                }
            }
        }
    }
}

/// Builds the handover .p12 (compat profile) from a certificate and key file, with a
/// generated password in `OUT.password` (0600). Returns both paths.
fn pack_in_place(
    ui: &Ui,
    prompter: &mut dyn Prompter,
    flag: &str,
) -> Result<(PathBuf, PathBuf), CliError> {
    let Some(cert_file) = ask_path(prompter, "Certificate file (PEM or DER)", flag, None)? else {
        return Err(CliError::usage("no certificate file given"));
    };
    let Some(key_file) = ask_path(prompter, "Private key file (PEM)", flag, None)? else {
        return Err(CliError::usage("no key file given"));
    };
    let out = ask_new_path(
        prompter,
        "Write the .p12 to",
        flag,
        "dpg-handover.p12".to_owned(),
    )?;
    let pw_path = PathBuf::from(format!("{}.password", out.display()));
    if pw_path.exists() {
        return Err(CliError::usage(format!(
            "{} exists already",
            pw_path.display()
        )));
    }
    let (certs, _) =
        secrets::open_certificate_file(&cert_file, &PasswordArgs::default(), None, ui, prompter)?;
    let (keys, _) =
        secrets::open_certificate_file(&key_file, &PasswordArgs::default(), None, ui, prompter)?;
    let leaf = certs
        .leaf()
        .ok_or_else(|| CliError::usage(format!("{} holds no certificate", cert_file.display())))?;
    let key = keys
        .key
        .as_ref()
        .ok_or_else(|| CliError::usage(format!("{} holds no private key", key_file.display())))?;
    let chain: Vec<_> = certs
        .certificates
        .iter()
        .filter(|c| c.to_der().ok() != leaf.to_der().ok())
        .cloned()
        .collect();
    let password = cprlink_cert::p12::generate_password()?;
    let der = cprlink_cert::p12::build(
        key,
        leaf,
        &chain,
        None,
        &password,
        cprlink_cert::Profile::Compat,
    )?;
    cprlink_cert::files::write_private(
        &pw_path,
        format!("{password}\n").as_bytes(),
        Overwrite::Refuse,
    )?;
    cprlink_cert::files::write_private(&out, &der, Overwrite::Refuse)?;
    say(
        ui,
        &format!(
            "Wrote {} (compat protection) and its password to {} (mode 0600). \
         Send the password to DPG by another channel, never with the file.",
            out.display(),
            pw_path.display()
        ),
    );
    Ok((out, pw_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_within_width_and_words_whole() {
        let text = "word ".repeat(60)
            + "https://example.invalid/a/very/long/url/that/cannot/be/broken/anywhere/at/all/ever/never";
        let out = wrap(&text, 40, "  ");
        for line in out.lines() {
            assert!(
                line.chars().count() <= 40 || !line.trim().contains(' '),
                "{line}"
            );
        }
        assert!(out.contains("https://example.invalid/a/very/long/url"));
    }

    /// The interactive walk through the scripted prompter: answers saved one by one,
    /// bad values re-asked, the script running dry acts as Ctrl-C.
    #[test]
    fn interactive_walk_with_scripted_answers() {
        use crate::prompt::ScriptedPrompter;
        use cprlink_cert::testpki::{LeafSpec, TestPki};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onboarding.toml");
        let new = NewCase {
            authority: "Aarhus Kommune".into(),
            cvr: "29189846".into(),
            route: Route::Selfservice,
            environment: TargetEnvironment::Test,
            contact_name: None,
            contact_email: None,
        };
        drop(Case::init(&path, new, &Stamp::now()).unwrap());
        let pki = TestPki::generate("scripted").unwrap();
        let leaf = pki
            .issue(&LeafSpec::oces3_system("DPG", "Aarhus Kommune", "29189846"))
            .unwrap();
        let cer = dir.path().join("dpg.cer");
        std::fs::write(&cer, leaf.cert.to_der().unwrap()).unwrap();
        let wrong = pki
            .issue(&LeafSpec::oces3_system("DPG", "Other", "12345678"))
            .unwrap();
        let wrong_cer = dir.path().join("wrong.cer");
        std::fs::write(&wrong_cer, wrong.cert.to_der().unwrap()).unwrap();

        let mut case = Case::open(&path).unwrap();
        let cer_s = cer.display().to_string();
        let wrong_s = wrong_cer.display().to_string();
        let mut p = ScriptedPrompter::new([
            "aarhus-dpg", // username
            "mitid",      // login method
            "y",          // mark done
            "y",          // go on
            "dpg-cpr",    // service user
            "n",          // export now? no
            "/nonexistent/dpg.cer",
            wrong_s.as_str(), // refused: other CVR
            "y",              // try another file
            "n",              // export now? no
            cer_s.as_str(),
            "y", // mark done
            "y", // go on
            "CPR-1",
            "2026-13-01", // bad date, re-asked
                          // script ends: Ctrl-C while asked for the date again
        ]);
        let err = interactive(&mut case, "cprlink onboard", &Ui::plain(), &mut p).unwrap_err();
        assert_eq!(err.code, Code::Interrupted);
        let t = p.transcript.join("\n");
        assert!(t.contains("Certificate file you uploaded (.cer, .pem or .p12) [Enter to skip] !! /nonexistent/dpg.cer is not a file"), "{t}");
        assert!(
            t.contains(
                "Date the virk.dk application was sent (YYYY-MM-DD) !! --applied-on \"2026-13-01\""
            ),
            "{t}"
        );
        assert!(t.contains("Try another file? => y"), "{t}");
        drop(case);

        let case = Case::load(&path).unwrap();
        let st = case.status(Stamp::now().today);
        assert_eq!(st.steps[0].state, StepState::Done);
        assert_eq!(st.steps[0].facts["login_method"], "mitid");
        assert_eq!(st.steps[1].state, StepState::Done);
        assert_eq!(st.steps[1].facts["certificate_cvr"], "29189846");
        assert_eq!(st.steps[2].facts["case_number"], "CPR-1");
        assert!(!st.steps[2].facts.contains_key("applied_on"));
        assert_eq!(st.steps[2].state, StepState::InProgress);
    }

    #[test]
    fn prefixes_name_a_non_default_state_file() {
        assert_eq!(
            command_prefix(Path::new("onboarding.toml")),
            "cprlink onboard"
        );
        assert_eq!(
            command_prefix(Path::new("a b.toml")),
            "cprlink onboard --state 'a b.toml'"
        );
    }
}
