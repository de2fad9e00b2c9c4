//! `cprlink cert verify FILE.p12`: the DPG handover checklist, one line per check and a
//! verdict, or the report as JSON; exit 0 pass/warn, 1 fail, 2 unreadable, 3 wrong password.

use cprlink_cert::verify::{self, Report, Verdict, VerifyOptions};
use cprlink_cert::{Environment, FileFormat};

use super::{read_trust, require_leaf, try_open};
use crate::args::{CertVerifyArgs, TargetEnvironment};
use crate::commands::Context;
use crate::exit::{CliError, Code};
use crate::output::{Ui, hanging};
use crate::secrets::OpenError;

pub(super) fn run(a: &CertVerifyArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let mut opts = VerifyOptions::new();
    if let Some(cvr) = &a.cvr {
        let cvr = cvr.trim();
        if cvr.len() != 8 || !cvr.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CliError::usage(format!(
                "--cvr {cvr:?} is not a CVR number (8 digits)"
            )));
        }
        opts.expected_cvr = Some(cvr.to_owned());
    }
    opts.environment = a.environment.map(|e| match e {
        TargetEnvironment::Production => Environment::Production,
        TargetEnvironment::Test => Environment::Test,
    });
    opts.warn_days = a.warn_days;
    opts.extra_trust = read_trust(&a.trust)?;
    opts.online = a.online;
    if let Some(cer) = &a.cer {
        let loaded = cprlink_cert::load(cer, None).map_err(|e| match e {
            cprlink_cert::Error::PasswordRequired { .. } => CliError::usage(format!(
                "--cer {} is password-protected; --cer takes the .cer uploaded to Datafordeler",
                cer.display()
            )),
            other => other.into(),
        })?;
        opts.uploaded_cer = Some(require_leaf(&loaded)?);
    }

    let loaded = match try_open(&a.file, &a.password, ctx) {
        Ok(l) => l,
        Err(OpenError::File(e)) => {
            if let Some(report) = Report::for_open_error(&e) {
                render_report(&report, &ctx.ui)?;
            }
            let about_format = matches!(
                e,
                cprlink_cert::Error::NotPkcs12 { .. }
                    | cprlink_cert::Error::UnrecognizedFormat { .. }
            );
            let mut err = CliError::from(e);
            if about_format {
                err.hints = vec![
                    "DPG needs the binary .p12/.pfx from MitID Erhverv (or one made by \
                     `cprlink cert pack`)"
                        .to_owned(),
                ];
            }
            return Err(err);
        }
        Err(OpenError::Password(e)) => return Err(e),
    };
    let report = verify::verify(&loaded, &opts);
    render_report(&report, &ctx.ui)?;
    if loaded.format != FileFormat::Pkcs12 {
        return Err(CliError::usage(format!(
            "{} is a {}, not a PKCS#12 file",
            a.file.display(),
            loaded.format.describe()
        ))
        .with_hint("DPG needs the .p12/.pfx with the certificate and its private key")
        .with_hint(
            "build one: `cprlink cert pack --cert CERT --key KEY --add-oces-chain --out FILE.p12`",
        ));
    }
    Ok(match report.verdict {
        Verdict::Fail => Code::No,
        Verdict::Warn | Verdict::Pass => Code::Success,
    })
}

fn render_report(report: &Report, ui: &Ui) -> Result<(), CliError> {
    if ui.json {
        ui.print_json(report)?;
        return Ok(());
    }
    const ID_W: usize = 20;
    let indent = 4 + 2 + ID_W;
    let mut out = Vec::new();
    for check in &report.checks {
        let head = format!(
            "{}  {:<ID_W$}",
            ui.verdict_word(check.status.as_str()),
            check.id
        );
        out.extend(hanging(&head, indent, &check.detail));
    }
    let failed: Vec<&str> = report.failures().map(|c| c.id.as_str()).collect();
    let warned: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == cprlink_cert::CheckStatus::Warn)
        .map(|c| c.id.as_str())
        .collect();
    let summary = match report.verdict {
        Verdict::Pass => "verdict: pass (every check passed)".to_owned(),
        Verdict::Warn => format!(
            "verdict: warn (no check failed; warnings: {})",
            warned.join(", ")
        ),
        Verdict::Fail => format!("verdict: fail (failed: {})", failed.join(", ")),
    };
    out.push(String::new());
    out.extend(hanging("", 0, &summary));
    ui.print(&out.join("\n"))?;
    Ok(())
}
