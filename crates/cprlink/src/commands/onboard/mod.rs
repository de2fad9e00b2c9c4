//! `cprlink onboard`: init, next (the default), record, status, letter, report.
//!
//! Thin on purpose: it turns flags and answers into `cprlink_onboard` calls, reads
//! certificate files (with the password flags or a hidden prompt) into evidence for
//! the model, and renders what the model says. The rules live in the library; the
//! terminal, the output formats and the exit codes live here: `render` holds what is
//! shown (checklist, guidance, JSON), `interactive` the prompting walk of `next`.

mod interactive;
mod render;

use std::path::{Path, PathBuf};

use cprlink_cert::openssl::x509::X509;
use cprlink_cert::trust::{self, ChainStatus};
use cprlink_cert::verify::{self, CheckStatus, Report, Verdict, VerifyOptions};
use cprlink_cert::{CertFacts, FileFormat, Loaded};
use cprlink_onboard::steps::{FieldKind, StepDef};
use cprlink_onboard::{
    Case, CertificateEvidence, Facts, HandoverEvidence, Language, LetterKind, NewCase, Route,
    Stamp, TargetEnvironment, VerifyVerdict, letters, report,
};
use serde::Serialize;

use crate::args::{
    self, OnboardArgs, OnboardCommand, OnboardInitArgs, OnboardLetterArgs, OnboardRecordArgs,
    OnboardReportArgs, PasswordArgs, ReportFormat,
};
use crate::commands::Context;
use crate::commands::cert::read_trust;
use crate::exit::{CliError, Code};
use crate::output::Ui;
use crate::prompt::Prompter;
use crate::secrets;

use interactive::{exit_on_ctrl_c, restore_terminal};
use render::{StatusJson, guidance_only, print_json, render_status, say};

/// The default state file; other paths are spelled out in suggested commands.
const DEFAULT_STATE: &str = "onboarding.toml";

pub fn run(args: &OnboardArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let prefix = command_prefix(&args.state);
    match &args.command {
        Some(OnboardCommand::Init(a)) => init(&args.state, a, &prefix, ctx),
        None => next(&args.state, &[], &prefix, ctx),
        Some(OnboardCommand::Next(a)) => next(&args.state, &a.trust, &prefix, ctx),
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
    if let Some(m) = a.login_method {
        if def.field("login_method").is_none() {
            return Err(stranger("--login-method"));
        }
        let m = match m {
            args::LoginMethod::Password => "password",
            args::LoginMethod::Mitid => "mitid",
        };
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
    if let Some(file) = &a.certificate {
        let field = def.fields.iter().find(|f| f.kind == FieldKind::Certificate);
        let Some(field) = field else {
            return Err(stranger("--certificate"));
        };
        let evidence =
            certificate_evidence(file, &a.password, &a.trust, &ctx.ui, ctx.prompter.as_mut())?;
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
    let recorded = case.record(def.id, &facts, a.done, &Stamp::now())?;
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
    trust: &[PathBuf],
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<CertificateEvidence, CliError> {
    let extra = read_trust(trust)?;
    let (loaded, _secret) = secrets::open_certificate_file(file, password, None, ui, prompter)?;
    evidence_of(&loaded, file, &extra)
}

/// The evidence of a loaded file's certificate, with its chain built against the
/// embedded OCES3 roots and `extra` (the same chain rules as `cprlink cert verify`).
fn evidence_of(
    loaded: &Loaded,
    file: &Path,
    extra: &[X509],
) -> Result<CertificateEvidence, CliError> {
    let leaf = loaded
        .leaf()
        .ok_or_else(|| CliError::usage(format!("{} holds no certificate", file.display())))?;
    let now = chrono::Utc::now();
    let facts = CertFacts::of(leaf, now)?;
    let chain = trust::build_chain(leaf, &loaded.certificates, extra, now)?;
    Ok(evidence_with_chain(file, &facts, Some(&chain)))
}

/// Evidence from facts, judged by the chain where one was built: the root reached
/// tells production from test and OCES3 best.
fn evidence_with_chain(
    file: &Path,
    facts: &CertFacts,
    chain: Option<&ChainStatus>,
) -> CertificateEvidence {
    let mut ev = CertificateEvidence::from_facts(file.display().to_string(), facts);
    ev.environment = verify::effective_environment(facts, chain);
    ev.generation = verify::effective_generation(facts, chain);
    ev.chain_problem = chain.filter(|c| !c.verified).map(ChainStatus::describe);
    ev
}

/// The handover evidence from a verify report (for `record`, the interactive walk and
/// the demo): the certificate the key belongs to, the verdict, the failed and warned
/// check ids.
pub(crate) fn handover_evidence_from(
    report: &Report,
    loaded: &Loaded,
    file: &Path,
) -> Result<HandoverEvidence, CliError> {
    let facts = match &report.leaf {
        Some(f) => f.clone(),
        None => {
            let leaf = loaded.leaf().ok_or_else(|| {
                CliError::usage(format!("{} holds no certificate", file.display()))
            })?;
            CertFacts::of(leaf, chrono::Utc::now())?
        }
    };
    let ids = |status: CheckStatus| {
        report
            .checks
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.id.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    Ok(HandoverEvidence {
        certificate: evidence_with_chain(file, &facts, report.chain.as_ref()),
        verdict: match report.verdict {
            Verdict::Pass => VerifyVerdict::Pass,
            Verdict::Warn => VerifyVerdict::Warn,
            Verdict::Fail => VerifyVerdict::Fail,
        },
        failed_checks: ids(CheckStatus::Fail),
        warned_checks: ids(CheckStatus::Warn),
    })
}

/// Runs `cprlink cert verify`'s checklist on the handover .p12 (against the case's CVR
/// and environment) and turns the result into evidence for the model, which refuses a
/// failing file, or one whose certificate is not the one registered at Datafordeler.
fn handover_evidence(
    file: &Path,
    password: &PasswordArgs,
    trust: &[PathBuf],
    case: &Case,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<HandoverEvidence, CliError> {
    let mut opts = VerifyOptions::new();
    opts.expected_cvr = Some(case.state().cvr.clone());
    opts.environment = Some(match case.state().environment {
        TargetEnvironment::Production => cprlink_cert::Environment::Production,
        TargetEnvironment::Test => cprlink_cert::Environment::Test,
    });
    opts.extra_trust = read_trust(trust)?;
    let (loaded, _secret) = secrets::open_certificate_file(file, password, None, ui, prompter)?;
    if loaded.format != FileFormat::Pkcs12 {
        return Err(CliError::usage(format!(
            "{} is a {}, not a PKCS#12 file",
            file.display(),
            loaded.format.describe()
        ))
        .with_hint("DPG needs the .p12/.pfx with the certificate and its private key"));
    }
    let report = verify::verify(&loaded, &opts);
    handover_evidence_from(&report, &loaded, file)
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

fn next(path: &Path, trust: &[PathBuf], prefix: &str, ctx: &mut Context) -> Result<Code, CliError> {
    if !ctx.ui.interactive || ctx.ui.json {
        let case = Case::load(path)?;
        return guidance_only(&case, prefix, &ctx.ui);
    }
    let mut case = Case::open(path)?;
    let ui = ctx.ui.clone();
    exit_on_ctrl_c(&ui);
    let result = interactive::walk(&mut case, prefix, trust, &ui, ctx.prompter.as_mut());
    if matches!(&result, Err(e) if e.code == Code::Interrupted) {
        // dialoguer hides the cursor in selections and does not show it again when a
        // prompt is cut short.
        restore_terminal(&ui);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

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
