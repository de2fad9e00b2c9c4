//! The interactive walk of `cprlink onboard next`: guidance, then one question per
//! fact, each answer checked by the model (and asked again when refused) and saved at
//! once, so Ctrl-C never loses what was typed before.
//!
//! Owns the prompts (through the `Prompter`, so tests script them), the certificate
//! work offered in place (export the CER/PEM for upload, pack the handover .p12), and
//! the Ctrl-C handling that restores the cursor. The rules stay in the library.

use std::path::{Path, PathBuf};

use cprlink_cert::files::Overwrite;
use cprlink_onboard::steps::{FieldDef, FieldDefault, FieldKind, StepDef};
use cprlink_onboard::{Case, Facts, Route, Stamp, StepState};

use super::render::{guidance, say};
use super::{certificate_evidence, evidence_of, handover_evidence, read_trust};
use crate::args::PasswordArgs;
use crate::exit::{CliError, Code};
use crate::output::Ui;
use crate::prompt::{Prompter, Question};
use crate::secrets;

/// Held while the case file is being saved, so Ctrl-C waits for a save to finish.
pub(super) static SAVING: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(super) fn saving() -> std::sync::MutexGuard<'static, ()> {
    SAVING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) fn restore_terminal(ui: &Ui) {
    if ui.stderr_is_terminal {
        let _ = console::Term::stderr().show_cursor();
    }
}

/// Ctrl-C between keystrokes arrives as SIGINT (dialoguer reads keys in raw mode only
/// while it waits for one). Catch it, let a save in progress finish, show the cursor,
/// and exit 130 like a Ctrl-C inside a prompt. Everything answered before is saved.
pub(super) fn exit_on_ctrl_c(ui: &Ui) {
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
            #[allow(
                clippy::exit,
                reason = "Ctrl-C at a prompt: the answers so far are saved, the terminal restored; nothing is left to unwind"
            )]
            std::process::exit(Code::Interrupted.as_i32());
        });
    if spawned.is_err() {
        tracing::debug!("no Ctrl-C handler: the default applies");
    }
}

/// The interactive walk: guidance, then questions; every answer is saved at once, in
/// the history under `who`.
pub(super) fn walk(
    case: &mut Case,
    prefix: &str,
    trust: &[PathBuf],
    who: &str,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<Code, CliError> {
    let stamp = || Stamp::by(who.to_owned());
    loop {
        let st = case.status_with(Stamp::now().today, prefix);
        let Some(id) = super::render::current_step(&st).map(str::to_owned) else {
            say(ui, &st.next_action);
            return Ok(Code::Success);
        };
        let def = case.step(&id)?;
        eprint!("\n{}", guidance(case, def, &st, prefix, ui));
        eprintln!();
        let waiting =
            super::render::step_status(&st, &id).filter(|s| s.state == StepState::Waiting);
        if let Some(w) = waiting {
            let on = w.waiting_on.as_deref().unwrap_or("them");
            if !prompter.confirm(&format!("Has {on} answered?"), false, "--no-input")? {
                say(ui, &format!("Come back when they have: `{prefix}`"));
                return Ok(Code::Success);
            }
        }
        ask_fields(case, def, trust, who, ui, prompter)?;
        let missing: Vec<String> = def
            .fields
            .iter()
            .filter(|f| f.required && f.default == FieldDefault::None && case.applies(f))
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
            case.mark_done(def.id, &stamp())?
        };
        for n in &r.notes {
            say(ui, &format!("note: {n}"));
        }
        if let Some(b) = &r.backup {
            say(
                ui,
                &format!("The old case file is kept as {}.", b.display()),
            );
        }
        say(ui, &format!("{}: done", def.id));
        let after = case.status_with(Stamp::now().today, prefix);
        if super::render::current_step(&after).is_none() {
            say(ui, &after.next_action);
            return Ok(Code::Success);
        }
        if !prompter.confirm("Go on to the next step?", true, "--no-input")? {
            say(ui, &format!("Next: {}", after.next_action));
            return Ok(Code::Success);
        }
    }
}

/// Asks for each field that applies and is not yet recorded, and saves each answer as
/// it comes (so what applies next follows the answers: a shared secret asks for its
/// dates, a certificate for its file).
pub(super) fn ask_fields(
    case: &mut Case,
    def: &StepDef,
    trust: &[PathBuf],
    who: &str,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<(), CliError> {
    for field in def.fields {
        if !case.applies(field) {
            continue;
        }
        if let Some(v) = case.facts(def.id).and_then(|f| f.get(field.presence_key())) {
            say(ui, &format!("{}: {v} (recorded)", field.label));
            continue;
        }
        let facts = match field.kind {
            FieldKind::Certificate => ask_certificate(case, def, field, trust, ui, prompter)?,
            FieldKind::Handover => ask_handover(case, def, field, trust, ui, prompter)?,
            FieldKind::Choice(choices) => {
                let default = match field.default {
                    FieldDefault::Value(v) => choices.iter().position(|c| *c == v).unwrap_or(0),
                    _ => 0,
                };
                let i = prompter.select(field.label, choices, default, &field.usage())?;
                choices.get(i).map(|c| Facts::new().text(field.key, *c))
            }
            _ => ask_text(case, def, field, prompter)?,
        };
        if let Some(facts) = facts {
            // Checked already; saved now, so Ctrl-C later loses nothing typed before.
            let r = {
                let _saving = saving();
                case.record(def.id, &facts, false, &Stamp::by(who.to_owned()))?
            };
            if let Some(b) = &r.backup {
                say(
                    ui,
                    &format!("The old case file is kept as {}.", b.display()),
                );
            }
            if field.key == "method" && case.credential_method() == Some("shared-secret") {
                say(
                    ui,
                    "Copy the shared secret now (Datafordeler shows it once) into a file only the \
                     lookup service can read (mode 0600), e.g. client-secret.txt beside \
                     cprlink.toml. cprlink never asks for it; it records only its dates.",
                );
            }
        }
    }
    Ok(())
}

pub(super) fn ask_text(
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
    if field.kind == FieldKind::Date && field.defaults_to_today() {
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
pub(super) fn ask_path(
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
pub(super) fn ask_new_path(
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
pub(super) fn ask_certificate(
    case: &Case,
    def: &StepDef,
    field: &FieldDef,
    trust: &[PathBuf],
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
            let ev = evidence_of(&loaded, &out, &read_trust(trust)?)?;
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
            match certificate_evidence(&path, &PasswordArgs::default(), trust, ui, prompter) {
                Ok(ev) => (path, ev),
                Err(e) => {
                    warn_retry(ui, &e, prompter)?;
                    continue;
                }
            }
        };
        let facts = Facts::new().certificate(field.key, evidence);
        if let Some(answer) = accept_or_retry(case, def, facts, &file, &flag, ui, prompter)? {
            return Ok(answer);
        }
    }
}

/// The model's verdict on a file's evidence: `Some(Some(facts))` accepted,
/// `Some(None)` refused and the person gives up, `None` refused and they try again.
fn accept_or_retry(
    case: &Case,
    def: &StepDef,
    facts: Facts,
    file: &Path,
    flag: &str,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<Option<Option<Facts>>, CliError> {
    match case.check(def.id, &facts, false, &Stamp::now()) {
        Ok(_) => Ok(Some(Some(facts))),
        Err(e) => {
            ui.warn(&format!("{}: {e}", file.display()));
            if prompter.confirm("Try another file?", true, flag)? {
                Ok(None)
            } else {
                Ok(Some(None))
            }
        }
    }
}

/// Shows why a file could not be read; asks whether to try again.
pub(super) fn warn_retry(
    ui: &Ui,
    e: &CliError,
    prompter: &mut dyn Prompter,
) -> Result<(), CliError> {
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
pub(super) fn ask_handover(
    case: &Case,
    def: &StepDef,
    field: &FieldDef,
    trust: &[PathBuf],
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
        let evidence = match handover_evidence(&file, &password, trust, case, ui, prompter) {
            Ok(ev) => ev,
            Err(e) => {
                warn_retry(ui, &e, prompter)?;
                continue;
            }
        };
        let facts = Facts::new().handover(field.key, evidence);
        if let Some(answer) = accept_or_retry(case, def, facts, &file, &flag, ui, prompter)? {
            return Ok(answer);
        }
    }
}

/// Builds the handover .p12 (compat profile) from a certificate and key file, with a
/// generated password in `OUT.password` (0600). Returns both paths.
pub(super) fn pack_in_place(
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
    // The file's own CA certificates, else the embedded OCES3 issuing CA that signed
    // the leaf: without the intermediate, mutual TLS fails with "unknown ca".
    let mut chain: Vec<_> = certs
        .certificates
        .iter()
        .filter(|c| c.to_der().ok() != leaf.to_der().ok())
        .cloned()
        .collect();
    if chain.is_empty()
        && let Some(ca) = cprlink_cert::trust::embedded_issuing_ca_for(leaf)
    {
        chain.push(ca);
    }
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
         Keep the password apart from the file: you type it when you install the .p12 in \
         the DPG Customer Portal, or send it to DPG Service Center by another channel.",
            out.display(),
            pw_path.display()
        ),
    );
    Ok((out, pw_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cprlink_onboard::{NewCase, TargetEnvironment};
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

        let ca = dir.path().join("test-ca.pem");
        std::fs::write(&ca, pki.ca_bundle_pem().unwrap()).unwrap();

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
        let err = walk(
            &mut case,
            "cprlink onboard",
            &[ca],
            "tester",
            &Ui::plain(),
            &mut p,
        )
        .unwrap_err();
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

    /// At the handover, the walk packs the .p12 in place (password generated into a
    /// 0600 file), verifies it with the case's CVR and environment, and records it.
    #[test]
    fn walk_packs_verifies_and_records_the_handover() {
        use crate::prompt::ScriptedPrompter;
        use cprlink_cert::testpki::{LeafSpec, TestPki};
        use cprlink_onboard::CertificateEvidence;
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onboarding.toml");
        let pki = TestPki::generate("pack in place").unwrap();
        let leaf = pki
            .issue(&LeafSpec::oces3_system("DPG", "Aarhus Kommune", "29189846"))
            .unwrap();
        let facts = cprlink_cert::CertFacts::of(&leaf.cert, chrono::Utc::now()).unwrap();
        let new = NewCase {
            authority: "Aarhus Kommune".into(),
            cvr: "29189846".into(),
            route: Route::Selfservice,
            environment: TargetEnvironment::Test,
            contact_name: None,
            contact_email: None,
        };
        let mut case = Case::init(&path, new, &Stamp::now()).unwrap();
        let now = Stamp::now();
        let steps = [
            (
                "selfservice-user",
                Facts::new()
                    .text("username", "u")
                    .text("login_method", "mitid"),
            ),
            (
                "service-user",
                Facts::new().text("service_user", "s").certificate(
                    "certificate",
                    CertificateEvidence::from_facts("dpg.cer", &facts),
                ),
            ),
            ("cpr-application", Facts::new().text("case_number", "C-1")),
            ("cpr-approval", Facts::new()),
            (
                "production-access",
                Facts::new().text("dpg_ip", "80.62.117.20"),
            ),
        ];
        for (id, f) in steps {
            case.record(id, &f, true, &now).unwrap();
        }

        let cert_pem = dir.path().join("dpg.pem");
        let mut pem = leaf.cert.to_pem().unwrap();
        pem.extend(pki.issuing.cert.to_pem().unwrap());
        std::fs::write(&cert_pem, pem).unwrap();
        let key_pem = dir.path().join("dpg.key");
        std::fs::write(&key_pem, leaf.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let ca = dir.path().join("test-ca.pem");
        std::fs::write(&ca, pki.ca_bundle_pem().unwrap()).unwrap();
        let out = dir.path().join("handover.p12");

        let (c, k, o) = (
            cert_pem.display().to_string(),
            key_pem.display().to_string(),
            out.display().to_string(),
        );
        let mut p = ScriptedPrompter::new([
            "n", // have the .p12? no
            "y", // pack now
            c.as_str(),
            k.as_str(),
            o.as_str(),
            "",  // via: the default, the DPG Customer Portal (no receiver then)
            "",  // handed over: today
            "y", // mark done
        ]);
        let code = walk(
            &mut case,
            "cprlink onboard",
            &[ca],
            "tester",
            &Ui::plain(),
            &mut p,
        )
        .unwrap();
        assert_eq!(code, Code::Success, "{:?}", p.transcript);
        assert_eq!(p.remaining(), 0);

        let mode = |f: &Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        let pw = dir.path().join("handover.p12.password");
        assert_eq!((mode(&out), mode(&pw)), (0o600, 0o600));
        let password = std::fs::read_to_string(&pw).unwrap();
        assert!(cprlink_cert::load(&out, Some(password.trim())).is_ok());

        let st = Case::load(&path).unwrap().status(Stamp::now().today);
        assert!(st.complete, "{st:?}");
        let f = &st.steps[5].facts;
        assert_eq!(f["via"], "portal");
        assert!(!f.contains_key("received_by"));
        assert!(
            p.transcript
                .iter()
                .all(|t| !t.starts_with("Who at DPG Service Center")),
            "{:?}",
            p.transcript
        );
        assert_eq!(f["p12_sha1_thumbprint"], facts.sha1_thumbprint);
        assert_ne!(f["p12_verdict"], "fail");
        assert!(
            !std::fs::read_to_string(&path)
                .unwrap()
                .contains(password.trim())
        );
    }

    /// The administration route's credential step asks for the method first; with a
    /// certificate it offers to export the PEM for "OAuth certifikat" from the .p12,
    /// and records what it wrote, under the operator given.
    #[test]
    fn walk_asks_the_method_and_exports_the_pem() {
        use crate::prompt::ScriptedPrompter;
        use cprlink_cert::testpki::{LeafSpec, TestPki};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onboarding.toml");
        let new = NewCase {
            authority: "Aarhus Kommune".into(),
            cvr: "29189846".into(),
            route: Route::Administration,
            environment: TargetEnvironment::Test,
            contact_name: None,
            contact_email: None,
        };
        drop(Case::init(&path, new, &Stamp::now()).unwrap());
        let pki = TestPki::generate("credential").unwrap();
        let leaf = pki
            .issue(&LeafSpec::oces3_system("DPG", "Aarhus Kommune", "29189846"))
            .unwrap();
        let p12 = dir.path().join("mitid.p12");
        let der = cprlink_cert::p12::build(
            &leaf.key,
            &leaf.cert,
            std::slice::from_ref(&pki.issuing.cert),
            None,
            "pw",
            cprlink_cert::Profile::Compat,
        )
        .unwrap();
        std::fs::write(&p12, der).unwrap();
        let ca = dir.path().join("test-ca.pem");
        std::fs::write(&ca, pki.ca_bundle_pem().unwrap()).unwrap();
        let pem = dir.path().join("mitid.pem");

        let mut case = Case::open(&path).unwrap();
        let p12_s = p12.display().to_string();
        let mut p = ScriptedPrompter::new([
            "DPG CPR",     // IT-system
            "aarhus-dpg",  // client id
            "y",           // mark done
            "y",           // go on
            "certificate", // the method
            "y",           // export the PEM now
            p12_s.as_str(),
            "pw", // the .p12's password (hidden prompt)
            "",   // write it to the default, beside the .p12
            "y",  // mark done
            "n",  // not on to the next step now
        ]);
        let code = walk(
            &mut case,
            "cprlink onboard",
            &[ca],
            "Ida Hansen",
            &Ui::plain(),
            &mut p,
        )
        .unwrap();
        assert_eq!(code, Code::Success, "{:?}", p.transcript);
        assert_eq!(p.remaining(), 0, "{:?}", p.transcript);
        let t = p.transcript.join("\n");
        assert!(
            t.contains("Export the PEM to upload from your .p12 (MitID Erhverv file) now? => y"),
            "{t}"
        );
        let text = std::fs::read_to_string(&pem).unwrap();
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{text}");
        assert!(!text.contains("PRIVATE KEY"));
        drop(case);
        let case = Case::load(&path).unwrap();
        let f = case.facts("credential").unwrap();
        assert_eq!(f["method"], "certificate");
        assert_eq!(f["certificate_file"], pem.display().to_string());
        assert_eq!(
            f["certificate_sha1_thumbprint"],
            cprlink_cert::facts::sha1_thumbprint(&leaf.cert).unwrap()
        );
        let st = case.status(Stamp::now().today);
        assert_eq!(st.steps[1].state, StepState::Done);
        assert_eq!(st.current_step.as_deref(), Some("ip-allowlist"));
        assert!(
            case.state()
                .history
                .iter()
                .skip(1)
                .all(|h| h.who == "Ida Hansen")
        );
    }
}
