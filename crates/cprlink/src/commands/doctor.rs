//! `cprlink doctor`: the go-live checks, rendered.
//!
//! Thin: resolves the config (a config that cannot be read is the first failed check,
//! not a crash), the .p12 password and the probe number, runs the library's checks and
//! prints one line per check with what to fix. Exit 1 when a check fails.

use cprlink_lookup::Cpr;
use cprlink_lookup::doctor::{self, CheckId, CheckStatus, DoctorInput, Finding};
use serde::Serialize;

use crate::args::DoctorArgs;
use crate::commands::Context;
use crate::commands::connect;
use crate::exit::{CliError, Code};
use crate::output::hanging;

/// The report as shown and as `--json` prints it: `{"api", "ok", "checks": [{"id",
/// "status", "detail", "fix"}]}` (docs/operator.md).
#[derive(Debug, Serialize)]
struct Shown {
    api: &'static str,
    ok: bool,
    checks: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct Row {
    id: CheckId,
    status: CheckStatus,
    detail: String,
    /// What to do, naming the step of the config's onboarding route to revisit.
    fix: Option<String>,
}

pub(crate) fn run(args: &DoctorArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let probe = match &args.probe_cpr {
        Some(raw) => Some(Cpr::parse(raw).map_err(|e| {
            CliError::usage(format!(
                "--probe-cpr {} is not a CPR number ({e})",
                cprlink_lookup::cpr::mask_input(raw)
            ))
            .with_hint("give a CPR number that exists in the environment: 10 digits, DDMMYYSSSS or DDMMYY-SSSS")
        })?),
        None => None,
    };
    let unusable = ctx.config().ok().and_then(|c| c.defaults_cannot_work());
    let shown = match (ctx.config(), unusable) {
        (Err(e), _) | (Ok(_), Some(e)) => config_failure(&e),
        (Ok(cfg), None) => {
            let cfg = cfg.clone();
            let mut config = cfg.config.clone();
            if let Some(api) = args.api {
                config.datafordeler.api = Some(connect::api(api));
            }
            // A password that cannot be had is reported by the certificate check; with
            // a shared secret there is no certificate to ask one for.
            let password = match cfg.path(&config.certificate.p12) {
                Some(p12) if config.datafordeler.needs_certificate() && p12.is_file() => {
                    connect::p12_password(ctx.prompter.as_mut(), &cfg, &p12)
                        .ok()
                        .flatten()
                }
                _ => None,
            };
            let input = DoctorInput {
                config,
                base_dir: cfg.base_dir.clone(),
                config_source: cfg.describe(),
                password,
                probe,
            };
            let report = ctx.runtime()?.block_on(doctor::run(input));
            let route = cfg.route();
            Shown {
                api: report.api,
                ok: report.ok,
                checks: report
                    .checks
                    .into_iter()
                    .map(|c| Row {
                        fix: match &c.finding {
                            Some(Finding::TcpFailed) => cfg
                                .sandbox_not_running()
                                .or_else(|| crate::exit::doctor_fix(&Finding::TcpFailed, route)),
                            Some(f) => crate::exit::doctor_fix(f, route),
                            None => None,
                        },
                        id: c.id,
                        status: c.status,
                        detail: c.detail,
                    })
                    .collect(),
            }
        }
    };
    if ctx.ui.json {
        ctx.ui.print_json(&shown)?;
    } else {
        ctx.ui.print(&render(ctx, &shown))?;
    }
    Ok(if shown.ok { Code::Success } else { Code::No })
}

fn config_failure(e: &CliError) -> Shown {
    let mut checks = vec![Row {
        id: CheckId::Config,
        status: CheckStatus::Fail,
        detail: e.message.clone(),
        fix: e
            .hints
            .first()
            .cloned()
            .or_else(|| Some("see docs/operator.md for the config keys".to_owned())),
    }];
    for id in CheckId::ALL.into_iter().skip(1) {
        checks.push(Row {
            id,
            status: CheckStatus::Skip,
            detail: "not run: `config` failed, so this check would say nothing".to_owned(),
            fix: None,
        });
    }
    Shown {
        api: "unknown",
        ok: false,
        checks,
    }
}

fn render(ctx: &Context, report: &Shown) -> String {
    let mut out = String::new();
    // verdict word (4), two spaces, the check id (11), two spaces.
    let indent = 4 + 2 + 11 + 2;
    for c in &report.checks {
        let head = format!("{}  {:<11}  ", ctx.ui.verdict_word(c.status.as_str()), c.id);
        for line in hanging(&head, indent, &c.detail) {
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(fix) = &c.fix {
            for line in hanging(&" ".repeat(indent), indent, &format!("fix: {fix}")) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    let failed = report.checks.iter().find(|c| c.status == CheckStatus::Fail);
    match failed {
        None => out.push_str(&format!("\nall checks passed (api {})\n", report.api)),
        Some(c) => out.push_str(&format!(
            "\n`{}` failed; the checks after it were not run because they depend on it\n",
            c.id
        )),
    }
    out
}
