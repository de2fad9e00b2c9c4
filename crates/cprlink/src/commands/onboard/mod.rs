//! `cprlink onboard`: init, next (the default), record, status, letter, report, config,
//! renew.
//!
//! Thin on purpose: it turns flags and answers into `cprlink_onboard` calls, resolves
//! who makes a change (`--by`, `CPRLINK_OPERATOR`, the login name), asks for the route
//! on a terminal, reads certificate files (with the password flags or a hidden prompt)
//! into evidence for the model (for a renewal, with `cprlink_cert`'s comparison of the
//! new certificate with the old one), writes the go-live config the model composes, and
//! renders what the model says. The rules live in the library; the terminal, the
//! output formats and the exit codes live here: `render` holds what is shown
//! (checklist, guidance, JSON), `interactive` the prompting walk of `next`.

mod interactive;
mod render;

use std::path::{Path, PathBuf};

use cprlink_cert::openssl::x509::X509;
use cprlink_cert::trust::{self, ChainStatus};
use cprlink_cert::verify::{self, CheckStatus, Report, Verdict, VerifyOptions};
use cprlink_cert::{CertFacts, FileFormat, Loaded};
use cprlink_onboard::steps::{FieldKind, StepDef};
use cprlink_onboard::{
    Case, CertificateEvidence, Facts, HandoverEvidence, Language, LetterKind, NewCase,
    NewCredential, RenewalEvidence, Route, Stamp, TargetEnvironment, VerifyVerdict, letters,
    report,
};
use serde::Serialize;

use crate::args::{
    self, OnboardArgs, OnboardCommand, OnboardConfigArgs, OnboardInitArgs, OnboardLetterArgs,
    OnboardRecordArgs, OnboardRenewArgs, OnboardReportArgs, PasswordArgs, ReportFormat,
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

pub(crate) fn run(args: &OnboardArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let prefix = command_prefix(&args.state);
    let by = args.by.as_deref();
    match &args.command {
        Some(OnboardCommand::Init(a)) => init(&args.state, a, &prefix, by, ctx),
        None => next(&args.state, &[], &prefix, by, ctx),
        Some(OnboardCommand::Next(a)) => next(&args.state, &a.trust, &prefix, by, ctx),
        Some(OnboardCommand::Record(a)) => record(&args.state, a, &prefix, by, ctx),
        Some(OnboardCommand::Status) => status(&args.state, &prefix, ctx),
        Some(OnboardCommand::Letter(a)) => letter(&args.state, a, ctx),
        Some(OnboardCommand::Report(a)) => report_cmd(&args.state, a, ctx),
        Some(OnboardCommand::Config(a)) => config(&args.state, a, ctx),
        Some(OnboardCommand::Renew(a)) => renew(&args.state, a, &prefix, by, ctx),
    }
}

/// Who makes the change, for the history: `--by NAME`, else `CPRLINK_OPERATOR`, else
/// the login name. A name given that is not one plain line is refused.
pub(crate) fn operator(by: Option<&str>) -> Result<Stamp, CliError> {
    let check = |name: &str, source: &str| {
        cprlink_onboard::validate::text(name).map_err(|reason| {
            CliError::usage(format!(
                "{source} {}: {reason}",
                cprlink_onboard::error::shown(name)
            ))
            .with_hint("the operator's name is one line of plain text, e.g. --by \"Ida Hansen\"")
        })
    };
    if let Some(name) = by {
        return Ok(Stamp::by(check(name, "--by")?));
    }
    match std::env::var("CPRLINK_OPERATOR") {
        Ok(name) if !name.trim().is_empty() => Ok(Stamp::by(check(&name, "CPRLINK_OPERATOR")?)),
        _ => Ok(Stamp::now()),
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
    by: Option<&str>,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    let stamp = operator(by)?;
    let route = match a.route {
        Some(args::RouteArg::Administration) => Route::Administration,
        Some(args::RouteArg::Selfservice) => Route::Selfservice,
        None => ask_route(ctx)?,
    };
    let new = NewCase {
        authority: a.authority.clone(),
        cvr: a.cvr.clone(),
        route,
        environment: target_environment(a.environment),
        contact_name: a.contact_name.clone(),
        contact_email: a.contact_email.clone(),
    };
    let case = Case::init(path, new, &stamp)?;
    if route == Route::Selfservice {
        ctx.ui.warn(
            "Datafordeler closed the Self-Service route to new sign-ups on 30 June 2026: use it \
             only if the authority already has a service user (otherwise `--route administration`)",
        );
    }
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
        if ctx.ui.shows_next() {
            say(&ctx.ui, &format!("Next: {}", st.next_action));
        }
        say(&ctx.ui, &format!("Guidance for each step: `{prefix}`"));
    }
    Ok(Code::Success)
}

/// The two routes, two lines each, for the question at `init`.
const ROUTES: [(&str, &str); 2] = [
    (
        "administration",
        "Datafordeler Administration (MitID Erhverv): an IT-system with an OAuth\n\
         certificate or shared secret; GraphQL lookups. The route for every new case.",
    ),
    (
        "selfservice",
        "Datafordeler Self-Service: a service user with the certificate (CER); REST lookups.\n\
         Closed to new sign-ups since 30 June 2026; only for an existing service user.",
    ),
];

/// On a terminal, asks which route (explaining both); without one, `administration`,
/// and says so.
fn ask_route(ctx: &mut Context) -> Result<Route, CliError> {
    if !ctx.ui.interactive {
        say(
            &ctx.ui,
            "route administration (no terminal to ask on; pass --route selfservice for an \
             authority that already has a Datafordeler service user)",
        );
        return Ok(Route::Administration);
    }
    let mut text = String::from("Which route? Datafordeler has two:\n");
    for (name, lines) in ROUTES {
        for (i, line) in lines.lines().enumerate() {
            let head = if i == 0 { name } else { "" };
            text.push_str(&format!("  {head:<15} {line}\n"));
        }
    }
    ctx.ui.note(text.trim_end());
    let names: Vec<&str> = ROUTES.iter().map(|(n, _)| *n).collect();
    let i = ctx
        .prompter
        .select("Route", &names, 0, "--route administration|selfservice")?;
    Ok(if i == 1 {
        Route::Selfservice
    } else {
        Route::Administration
    })
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
        ("it_system", "--it-system", a.it_system.as_ref()),
        ("client_id", "--client-id", a.client_id.as_ref()),
        ("created_on", "--created-on", a.created_on.as_ref()),
        ("expires_on", "--expires-on", a.expires_on.as_ref()),
        ("added_on", "--added-on", a.added_on.as_ref()),
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
        ("granted_on", "--granted-on", a.granted_on.as_ref()),
        (
            "support_ticket",
            "--support-ticket",
            a.support_ticket.as_ref(),
        ),
        ("confirmed_on", "--confirmed-on", a.confirmed_on.as_ref()),
        ("registered_on", "--registered-on", a.registered_on.as_ref()),
        ("installed_on", "--installed-on", a.installed_on.as_ref()),
        ("retired_on", "--retired-on", a.retired_on.as_ref()),
        (
            "handed_over_on",
            "--handed-over-on",
            a.handed_over_on.as_ref(),
        ),
        ("received_by", "--received-by", a.received_by.as_ref()),
    ]
}

/// Every `record` flag that takes one of a few words, with the fact key it sets.
fn choice_flags(a: &OnboardRecordArgs) -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    vec![
        (
            "login_method",
            "--login-method",
            a.login_method.map(|m| match m {
                args::LoginMethod::Password => "password",
                args::LoginMethod::Mitid => "mitid",
            }),
        ),
        (
            "method",
            "--method",
            a.method.map(|m| match m {
                args::MethodArg::Certificate => "certificate",
                args::MethodArg::SharedSecret => "shared-secret",
            }),
        ),
        (
            "via",
            "--via",
            a.via.map(|v| match v {
                args::ViaArg::Portal => "portal",
                args::ViaArg::ServiceCenter => "service-center",
            }),
        ),
    ]
}

fn record(
    path: &Path,
    a: &OnboardRecordArgs,
    prefix: &str,
    by: Option<&str>,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    let stamp = operator(by)?;
    if a.step == "contact" {
        return record_contact(path, a, &stamp, ctx);
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
    for (key, flag, value) in choice_flags(a) {
        if let Some(v) = value {
            if def.field(key).is_none() {
                return Err(stranger(flag));
            }
            facts = facts.text(key, v);
        }
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
        if !case.applies(field) {
            // Said before a password is asked for: a shared secret has no .p12.
            return Err(cprlink_onboard::Error::NotApplicable {
                step: def.id.to_owned(),
                flag: "--p12".to_owned(),
                reason: "credential is recorded with --method shared-secret".to_owned(),
            }
            .into());
        }
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
    let recorded = case.record(def.id, &facts, a.done, &stamp)?;
    report_recorded(&ctx.ui, &case, def, &recorded, prefix)?;
    Ok(Code::Success)
}

fn record_contact(
    path: &Path,
    a: &OnboardRecordArgs,
    stamp: &Stamp,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    if a.contact_name.is_none() && a.contact_email.is_none() {
        return Err(CliError::usage(
            "nothing to record for contact: pass --contact-name NAME or --contact-email EMAIL",
        ));
    }
    let others = text_flags(a).into_iter().any(|(_, _, v)| v.is_some())
        || choice_flags(a).into_iter().any(|(_, _, v)| v.is_some())
        || a.certificate.is_some()
        || a.p12.is_some()
        || a.done;
    if others {
        return Err(CliError::usage(
            "`record contact` takes only --contact-name and --contact-email",
        ));
    }
    let mut case = Case::open(path)?;
    let r = case.set_contact(a.contact_name.as_deref(), a.contact_email.as_deref(), stamp)?;
    say_backup(&ctx.ui, &r);
    if ctx.ui.json {
        print_json(
            &ctx.ui,
            &RecordedJson {
                step: "contact",
                changed: &r.changed,
                marked_done: false,
                notes: &r.notes,
                next_action: None,
                backup: r.backup.as_ref().map(|b| b.display().to_string()),
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
    /// The version-1 file kept when this change migrated the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

/// Says where the older version of a migrated case file was kept (stderr).
fn say_backup(ui: &Ui, r: &cprlink_onboard::Recorded) {
    if let Some(b) = &r.backup {
        ui.note(&format!(
            "the case file is now state version {}; the old one is kept as {}",
            cprlink_onboard::CURRENT_VERSION,
            b.display()
        ));
    }
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
                backup: r.backup.as_ref().map(|b| b.display().to_string()),
            },
        )?;
        say_backup(ui, r);
        return Ok(());
    }
    say_backup(ui, r);
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
        if n.contains("renewal") || n.contains("rotated") || n.contains("changes from") {
            ui.warn(n);
        } else {
            say(ui, &format!("note: {n}"));
        }
    }
    if ui.shows_next() {
        say(ui, &format!("Next: {}", st.next_action));
    }
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
    // Absolute: `onboard config` and the report must find it from anywhere.
    let shown = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let mut ev = CertificateEvidence::from_facts(shown.display().to_string(), facts);
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
    Ok(if st.needs_attention() {
        Code::No
    } else {
        Code::Success
    })
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
        args::LetterKind::DataAccess => LetterKind::DataAccess,
        args::LetterKind::RenewalSupport => LetterKind::RenewalSupport,
        args::LetterKind::RenewalDpg => LetterKind::RenewalDpg,
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
        let via_step = if kind == LetterKind::RenewalDpg {
            "install-dpg"
        } else {
            "dpg-handover"
        };
        if matches!(kind, LetterKind::DpgHandover | LetterKind::RenewalDpg) {
            let reminder = match (case.credential_method(), case.state().fact(via_step, "via")) {
                (Some("shared-secret"), _) => {
                    "Give DPG the shared secret through a secure channel, never in this letter."
                }
                (_, Some("service-center")) => {
                    "Send the .p12 password to DPG by another channel (phone or SMS), never with the file."
                }
                _ => {
                    "You install the .p12 yourself in the DPG Customer Portal \
                     (https://portal.timengodpg.com); the letter tells DPG Service Center."
                }
            };
            say(&ctx.ui, reminder);
        }
    }
    Ok(Code::Success)
}

fn report_cmd(path: &Path, a: &OnboardReportArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let case = Case::load(path)?;
    let today = Stamp::now().today;
    let lang = match a.lang {
        args::Language::Da => Language::Da,
        args::Language::En => Language::En,
    };
    let text = match a.format {
        ReportFormat::Markdown => report::markdown(&case, today, lang),
        ReportFormat::Html => report::html(&case, today, lang),
    };
    ctx.ui.print(&text)?;
    Ok(Code::Success)
}

fn next(
    path: &Path,
    trust: &[PathBuf],
    prefix: &str,
    by: Option<&str>,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    if !ctx.ui.interactive || ctx.ui.json {
        let case = Case::load(path)?;
        return guidance_only(&case, prefix, &ctx.ui);
    }
    let who = operator(by)?.who;
    let mut case = Case::open(path)?;
    let ui = ctx.ui.clone();
    exit_on_ctrl_c(&ui);
    let result = interactive::walk(&mut case, prefix, trust, &who, &ui, ctx.prompter.as_mut());
    if matches!(&result, Err(e) if e.code == Code::Interrupted) {
        // dialoguer hides the cursor in selections and does not show it again when a
        // prompt is cut short.
        restore_terminal(&ui);
    }
    result
}

// ---- renew ----------------------------------------------------------------------------

/// `onboard renew`: the new credential, checked by the model. A certificate is first
/// compared by `cprlink_cert` with the one it replaces (`--renewal-of`, else the file
/// recorded at the credential step, which must still hold the registered certificate).
fn renew(
    path: &Path,
    a: &OnboardRenewArgs,
    prefix: &str,
    by: Option<&str>,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    let stamp = operator(by)?;
    let secret = match (a.method, &a.certificate) {
        (Some(args::MethodArg::SharedSecret), None) => true,
        (None, None) if a.expires_on.is_some() || a.created_on.is_some() => true,
        (Some(args::MethodArg::Certificate) | None, Some(_)) => false,
        (Some(args::MethodArg::SharedSecret), Some(_)) => {
            return Err(CliError::usage(
                "--certificate belongs to --method certificate, not shared-secret",
            ));
        }
        _ => {
            return Err(CliError::usage("nothing to renew with").with_hint(format!(
                "{prefix} renew --certificate NEW.pem, or {prefix} renew --method shared-secret \
                 --created-on DATE --expires-on DATE"
            )));
        }
    };
    let mut case = Case::open(path)?;
    let new = if secret {
        let Some(expires_on) = a.expires_on.clone() else {
            return Err(
                CliError::usage("the renewal of a shared secret needs --expires-on DATE")
                    .with_hint(format!(
                        "{prefix} renew --method shared-secret --created-on DATE --expires-on DATE"
                    )),
            );
        };
        NewCredential::SharedSecret {
            created_on: a
                .created_on
                .clone()
                .unwrap_or_else(|| stamp.today.to_string()),
            expires_on,
        }
    } else {
        let file = a.certificate.as_deref().unwrap_or(Path::new(""));
        NewCredential::Certificate(renewal_evidence(file, a, &case, ctx)?)
    };
    let r = case.renew(&new, &stamp)?;
    let st = case.status_with(stamp.today, prefix);
    if ctx.ui.json {
        print_json(
            &ctx.ui,
            &RecordedJson {
                step: "renewal",
                changed: &r.changed,
                marked_done: false,
                notes: &r.notes,
                next_action: Some(st.next_action.clone()),
                backup: r.backup.as_ref().map(|b| b.display().to_string()),
            },
        )?;
        say_backup(&ctx.ui, &r);
        return Ok(Code::Success);
    }
    say_backup(&ctx.ui, &r);
    if let Some(rn) = case.renewal() {
        say(
            &ctx.ui,
            &format!(
                "Started the renewal: the new {} replaces the {}.",
                cprlink_onboard::renewal::describe_new(rn),
                cprlink_onboard::renewal::describe_old(rn)
            ),
        );
    }
    for n in &r.notes {
        say(&ctx.ui, &format!("note: {n}"));
    }
    if ctx.ui.shows_next() {
        say(&ctx.ui, &format!("Next: {}", st.next_action));
    }
    Ok(Code::Success)
}

/// The new certificate's evidence, with `cprlink_cert`'s verdict on it as a renewal of
/// the old one.
fn renewal_evidence(
    file: &Path,
    a: &OnboardRenewArgs,
    case: &Case,
    ctx: &mut Context,
) -> Result<RenewalEvidence, CliError> {
    let cert_step = case.route().certificate_step();
    let registered = case
        .state()
        .fact(cert_step, "certificate_sha1_thumbprint")
        .unwrap_or_default()
        .to_owned();
    let old_path = match (
        &a.renewal_of,
        case.state().fact(cert_step, "certificate_file"),
    ) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => PathBuf::from(f),
        (None, None) => {
            return Err(CliError::usage(format!(
                "step {cert_step} records no certificate file to compare the new one with"
            ))
            .with_hint("pass the certificate being replaced with --renewal-of OLD.pem"));
        }
    };
    // The old certificate is public (.pem, .cer); a .p12 asks for its own password.
    let (old, _) = secrets::open_certificate_file(
        &old_path,
        &PasswordArgs::default(),
        None,
        &ctx.ui,
        ctx.prompter.as_mut(),
    )
    .map_err(|e| {
        e.with_hint(format!(
            "the registered certificate (SHA-1 {registered}) was read from {}; if it is \
             elsewhere now, pass it with --renewal-of OLD.pem",
            old_path.display()
        ))
    })?;
    let old_leaf = old
        .leaf()
        .ok_or_else(|| CliError::usage(format!("{} holds no certificate", old_path.display())))?;
    let extra = read_trust(&a.trust)?;
    let (loaded, _secret) =
        secrets::open_certificate_file(file, &a.password, None, &ctx.ui, ctx.prompter.as_mut())?;
    let certificate = evidence_of(&loaded, file, &extra)?;
    let new_leaf = loaded
        .leaf()
        .ok_or_else(|| CliError::usage(format!("{} holds no certificate", file.display())))?;
    let problems = verify::renewal_problems(old_leaf, new_leaf)?
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(RenewalEvidence {
        certificate,
        compared_with: cprlink_cert::facts::sha1_thumbprint(old_leaf)?,
        problems,
    })
}

// ---- config ---------------------------------------------------------------------------

#[derive(Serialize)]
struct ConfigJson<'a> {
    file: String,
    environment: Option<&'a str>,
    api: Option<&'a str>,
    client_id: Option<&'a str>,
    placeholders: Vec<String>,
}

/// `onboard config`: the go-live `cprlink.toml`, composed by the library from the case
/// and written atomically here (0644: it names files, it holds no secret).
fn config(path: &Path, a: &OnboardConfigArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let case = Case::load(path)?;
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let out = absolute(&a.out);
    let parent_of = |p: &Path| p.parent().map(Path::to_path_buf).unwrap_or_default();
    let config_dir = parent_of(&out);
    let case_dir = parent_of(&absolute(path));
    let exists = |p: &Path| p.is_file();
    let golive = cprlink_onboard::golive::config(
        &case,
        cprlink_onboard::golive::Target {
            config_dir: &config_dir,
            case_dir: &case_dir,
            exists: &exists,
        },
    )?;
    let overwrite = if a.force {
        cprlink_cert::files::Overwrite::Replace
    } else {
        cprlink_cert::files::Overwrite::Refuse
    };
    cprlink_cert::files::write_atomic(&a.out, golive.to_toml().as_bytes(), 0o644, overwrite)
        .map_err(|e| match e {
            cprlink_cert::Error::AlreadyExists { .. } => {
                CliError::usage(format!("{} already exists", a.out.display()))
                    .with_hint("pass --force to replace it, or --out FILE for another file")
            }
            other => CliError::from(other),
        })?;
    let placeholders = golive.placeholders();
    if ctx.ui.json {
        print_json(
            &ctx.ui,
            &ConfigJson {
                file: a.out.display().to_string(),
                environment: golive.get("datafordeler", "environment"),
                api: golive.get("datafordeler", "api"),
                client_id: golive.get("datafordeler", "client_id"),
                placeholders,
            },
        )?;
        return Ok(Code::Success);
    }
    say(
        &ctx.ui,
        &format!(
            "Wrote {}: environment {}, api {}{}.",
            a.out.display(),
            golive.get("datafordeler", "environment").unwrap_or("?"),
            golive.get("datafordeler", "api").unwrap_or("?"),
            golive
                .get("datafordeler", "client_id")
                .map_or_else(String::new, |c| format!(", client_id {c}"))
        ),
    );
    if let Some(p12) = golive.get("certificate", "p12") {
        let p12 = config_dir.join(p12);
        if !p12.is_file() {
            ctx.ui.warn(&format!(
                "{} does not exist here: copy the .p12 there, or change `p12`",
                p12.display()
            ));
        }
    }
    if let Some(secret) = golive.get("datafordeler", "client_secret_file") {
        let secret = config_dir.join(secret);
        if !secret.is_file() {
            ctx.ui.warn(&format!(
                "{} does not exist here: put the IT-system's shared secret in it (one line, mode 0600), or change `client_secret_file`",
                secret.display()
            ));
        }
    }
    if placeholders.is_empty() {
        if ctx.ui.shows_next() {
            say(
                &ctx.ui,
                &format!(
                    "Check it with `cprlink --config {} doctor`.",
                    a.out.display()
                ),
            );
        }
    } else {
        say(
            &ctx.ui,
            &format!(
                "Fill in {} (each is explained in the file), then check it with `cprlink --config {} doctor`.",
                placeholders.join(", "),
                a.out.display()
            ),
        );
    }
    Ok(Code::Success)
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
